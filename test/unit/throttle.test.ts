// Replication throttles (src/replication/throttle.ts): which replicas a topic's
// *.replication.throttled.replicas value names, and the byte-rate bucket both sides use.
import { describe, expect, it } from "vitest";
import { ByteRateQuota, isThrottledReplica } from "../../src/replication/throttle.js";

describe("replication throttles", () => {
  it("reads Kafka's throttled-replicas lists: partition:broker pairs or *", () => {
    expect(isThrottledReplica("0:1,0:2,1:3", 0, 2)).toBe(true);
    expect(isThrottledReplica("0:1,0:2,1:3", 1, 2)).toBe(false);
    expect(isThrottledReplica(" 1:3 ", 1, 3)).toBe(true);
    expect(isThrottledReplica("*", 7, 9)).toBe(true);
    expect(isThrottledReplica("", 0, 1)).toBe(false);
    expect(isThrottledReplica(undefined, 0, 1)).toBe(false);
  });

  it("lets a second's worth through, then holds throttled bytes back until the rate refills it", () => {
    const quota = new ByteRateQuota();
    expect(quota.limited).toBe(false);
    expect(quota.allows(0)).toBe(true);
    quota.setRate(1000);
    expect(quota.limited).toBe(true);
    const t0 = Date.now() + 1000;
    expect(quota.allows(t0)).toBe(true);
    quota.record(1500, t0);
    expect(quota.allows(t0)).toBe(false);
    // 500 bytes owed at 1000 B/s: half a second.
    expect(quota.waitMs(t0)).toBeGreaterThanOrEqual(500);
    expect(quota.waitMs(t0)).toBeLessThanOrEqual(502);
    expect(quota.allows(t0 + 400)).toBe(false);
    expect(quota.allows(t0 + 600)).toBe(true);
    quota.setRate(0);
    expect(quota.allows(t0 + 600)).toBe(true);
    quota.record(1_000_000, t0 + 600);
    expect(quota.allows(t0 + 600)).toBe(true);
  });
});
