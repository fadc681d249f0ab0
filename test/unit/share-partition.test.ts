// The share-partition state machine (src/share/share-partition.ts) and the share coordinator's
// state merge (src/coordinator/share/coordinator.ts) over the broker's real services (a real log,
// the real share coordinator on __share_group_state): acquisition by whole batches and by record
// limit, the record-lock limit, accept / release / reject / gap / renew, delivery-count archiving,
// lock expiry, acknowledgements refused for records not held, the start offset written then
// advanced, the state read back after the services restart, and state epoch fencing.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import { mergeStateBatches } from "../../src/coordinator/share/coordinator.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { type LocalServices, openServices } from "../../src/server/services.js";
import { AcknowledgeType, type SharePartition } from "../../src/share/share-partition.js";

let directory: string;
let services: LocalServices;
let logs: LogManager;

async function open(extra: string[] = []): Promise<void> {
  const { config } = loadBrokerConfig({
    overrides: [`log.dirs=${directory}`, "node.id=1", "group.share.min.record.lock.duration.ms=1000", "group.share.record.lock.duration.ms=1000", ...extra],
  });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  services = opened.services;
  logs = opened.logs;
  await services.shareStates.loaded();
}

async function close(): Promise<void> {
  services.shares.close();
  services.shareStates.close();
  services.groups.close();
  services.partitions.close();
  await logs.close();
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "sluice-share-unit-"));
  await open();
  await services.topics.create("t", 1, {});
});

afterEach(async () => {
  await close();
  await rm(directory, { recursive: true, force: true });
});

/** Appends batches of `sizes` records each; returns the partition. */
function append(...sizes: number[]) {
  const partition = services.partitions.get("t", 0);
  if (partition === undefined) throw new Error("no partition");
  for (const size of sizes) {
    const batch = buildRecordBatch({ records: Array.from({ length: size }, (_, i) => ({ value: Buffer.from(`v${i}`) })) });
    partition.appendAsCoordinator(batch, Date.now());
  }
  return partition;
}

async function sharePartition(group = "g"): Promise<SharePartition> {
  const partition = services.partitions.get("t", 0);
  const sp = services.shares.sharePartition(group, partition?.topicId ?? "", 0);
  if (typeof sp === "number") throw new Error(`share partition: ${sp}`);
  expect(await sp.initialize()).toBe(ErrorCode.NONE);
  return sp;
}

const ranges = (acquired: readonly { firstOffset: bigint; lastOffset: bigint; deliveryCount: number }[]) =>
  acquired.map((a) => [Number(a.firstOffset), Number(a.lastOffset), a.deliveryCount]);

describe("share partition", () => {
  it("acquires whole batches up to the one reaching MaxRecords, or exactly MaxRecords in record-limit mode", async () => {
    await setEarliest();
    append(4, 4, 4);
    const sp = await sharePartition();
    const first = sp.acquire("m1", 5, 1 << 20, false, Date.now());
    expect(ranges(first.acquired)).toEqual([[0, 7, 1]]);
    expect(first.records?.length).toBeGreaterThan(0);
    first.records?.release();
    const second = sp.acquire("m2", 1, 1 << 20, true, Date.now());
    expect(ranges(second.acquired)).toEqual([[8, 8, 1]]);
    second.records?.release();
    // Nothing more than what is left.
    const third = sp.acquire("m2", 100, 1 << 20, false, Date.now());
    expect(ranges(third.acquired)).toEqual([[9, 11, 1]]);
    third.records?.release();
    expect(sp.acquire("m3", 100, 1 << 20, false, Date.now()).acquired).toEqual([]);
  });

  it("accept, release, reject and gap by offset; only the holder may acknowledge; the start offset moves once written", async () => {
    await setEarliest();
    append(6);
    const sp = await sharePartition();
    sp.acquire("m1", 100, 1 << 20, false, Date.now()).records?.release();
    expect(sp.acknowledge("m2", 0n, 0n, [AcknowledgeType.ACCEPT], Date.now())).toBe(ErrorCode.INVALID_RECORD_STATE);
    expect(sp.acknowledge("m1", 0n, 6n, [AcknowledgeType.ACCEPT], Date.now())).toBe(ErrorCode.INVALID_RECORD_STATE);
    expect(sp.acknowledge("m1", 0n, 3n, [1, 1, 0, 3], Date.now())).toBe(ErrorCode.NONE);
    expect(sp.acknowledge("m1", 4n, 5n, [AcknowledgeType.RELEASE], Date.now())).toBe(ErrorCode.NONE);
    // Acknowledged twice: refused.
    expect(sp.acknowledge("m1", 0n, 0n, [AcknowledgeType.ACCEPT], Date.now())).toBe(ErrorCode.INVALID_RECORD_STATE);
    expect(sp.startOffset).toBe(0n);
    expect(await sp.persist()).toBe(ErrorCode.NONE);
    expect(sp.startOffset).toBe(4n);
    // The released ones come back with delivery count 2.
    const again = sp.acquire("m2", 100, 1 << 20, false, Date.now());
    expect(ranges(again.acquired)).toEqual([[4, 5, 2]]);
    again.records?.release();
  });

  it("archives a record once its delivery count reaches the limit; RENEW keeps the lock; expired locks release", async () => {
    await setEarliest();
    append(1);
    const sp = await sharePartition();
    for (let delivery = 1; delivery <= 5; delivery++) {
      const got = sp.acquire("m", 10, 1 << 20, false, Date.now());
      expect(ranges(got.acquired)).toEqual([[0, 0, delivery]]);
      got.records?.release();
      expect(sp.acknowledge("m", 0n, 0n, [AcknowledgeType.RELEASE], Date.now())).toBe(ErrorCode.NONE);
    }
    expect(sp.acquire("m", 10, 1 << 20, false, Date.now()).acquired).toEqual([]);
    expect(await sp.persist()).toBe(ErrorCode.NONE);
    expect(sp.startOffset).toBe(1n);

    append(1);
    const held = sp.acquire("m", 10, 1 << 20, false, Date.now());
    expect(ranges(held.acquired)).toEqual([[1, 1, 1]]);
    held.records?.release();
    expect(sp.acknowledge("m", 1n, 1n, [AcknowledgeType.RENEW], Date.now())).toBe(ErrorCode.NONE);
    // The lock (1 s) expires: the record is available again, to anyone.
    await new Promise((resume) => setTimeout(resume, 1500));
    const taken = sp.acquire("other", 10, 1 << 20, false, Date.now());
    expect(ranges(taken.acquired)).toEqual([[1, 1, 2]]);
    taken.records?.release();
  });

  it("keeps its state across a restart of the services (the share coordinator reloads __share_group_state)", async () => {
    await setEarliest();
    append(5);
    const sp = await sharePartition();
    sp.acquire("m", 100, 1 << 20, false, Date.now()).records?.release();
    expect(sp.acknowledge("m", 0n, 1n, [AcknowledgeType.ACCEPT], Date.now())).toBe(ErrorCode.NONE);
    expect(sp.acknowledge("m", 3n, 3n, [AcknowledgeType.REJECT], Date.now())).toBe(ErrorCode.NONE);
    expect(sp.acknowledge("m", 2n, 2n, [AcknowledgeType.RELEASE], Date.now())).toBe(ErrorCode.NONE);
    expect(await sp.persist()).toBe(ErrorCode.NONE);
    await close();
    await open();
    const reloaded = await sharePartition();
    expect(reloaded.startOffset).toBe(2n);
    // 2 was released (count 1), 3 rejected, 4 never acknowledged (stored as available, count 1).
    const got = reloaded.acquire("m", 100, 1 << 20, false, Date.now());
    expect(ranges(got.acquired)).toEqual([
      [2, 2, 2],
      [4, 4, 2],
    ]);
    got.records?.release();
  });

  it("a new state epoch (an admin reset) fences the writes of the state before it", async () => {
    await setEarliest();
    append(3);
    const sp = await sharePartition();
    sp.acquire("m", 100, 1 << 20, false, Date.now()).records?.release();
    const topicId = services.partitions.get("t", 0)?.topicId ?? "";
    expect((await services.shareStates.initialize("g", topicId, 0, 5, 2n)).errorCode).toBe(ErrorCode.NONE);
    expect(sp.acknowledge("m", 0n, 0n, [AcknowledgeType.ACCEPT], Date.now())).toBe(ErrorCode.NONE);
    expect(await sp.persist()).toBe(ErrorCode.FENCED_STATE_EPOCH);
    // Read again: the reset start offset.
    const fresh = await sharePartition();
    expect(fresh.startOffset).toBe(2n);
  });
});

describe("share state merge (StateBatchUtil)", () => {
  it("later batches override the offsets they cover; below the start offset is dropped; neighbours of one state join", () => {
    const b = (first: number, last: number, deliveryState: number, deliveryCount: number) => ({
      firstOffset: BigInt(first),
      lastOffset: BigInt(last),
      deliveryState,
      deliveryCount,
    });
    expect(mergeStateBatches([b(0, 9, 0, 1)], [b(3, 4, 2, 1)], 0n)).toEqual([b(0, 2, 0, 1), b(3, 4, 2, 1), b(5, 9, 0, 1)]);
    expect(mergeStateBatches([b(0, 9, 0, 1)], [b(3, 4, 2, 1)], 4n)).toEqual([b(4, 4, 2, 1), b(5, 9, 0, 1)]);
    expect(mergeStateBatches([b(0, 4, 2, 1)], [b(5, 9, 2, 1)], 0n)).toEqual([b(0, 9, 2, 1)]);
    expect(mergeStateBatches([b(0, 4, 2, 1), b(5, 9, 4, 3)], [b(2, 7, 0, 2)], 1n)).toEqual([b(1, 1, 2, 1), b(2, 7, 0, 2), b(8, 9, 4, 3)]);
  });
});

/** share.auto.offset.reset=earliest for group g (a group config). */
async function setEarliest(): Promise<void> {
  await services.groupConfigs.setGroupConfig("g", { "share.auto.offset.reset": "earliest" });
}
