// Client quota arithmetic and entity rules (src/security/quota-manager.ts): KIP-55's precedence, rates shared by the
// clients of one matched entity, Kafka's Rate window and throttle time, KIP-599's token bucket,
// DescribeClientQuotas filters and AlterClientQuotas validation. The broker-level behaviour (real
// clients slowed to their rate) is in test/interop/quotas.test.ts.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { type ClientQuotaRecord, changeErrors, matchingQuotas } from "../../src/security/client-quotas.js";
import { QuotaManager } from "../../src/security/quota-manager.js";
import { Rate, TokenBucket } from "../../src/security/quota-rate.js";

const window = { samples: 11, windowMs: 1000 };

function managerOf(records: ClientQuotaRecord[]): QuotaManager {
  const store = { clientQuotas: () => records, alterClientQuotas: async () => {}, onClientQuotasChanged: () => {} };
  return new QuotaManager({ store, window, controllerWindow: window, logger: pino({ level: "silent" }) });
}

const user = (name: string | null) => ({ entityType: "user", entityName: name });
const client = (name: string | null) => ({ entityType: "client-id", entityName: name });

describe("QuotaManager", () => {
  it("applies KIP-55's precedence: user + client-id first, the default client id last", () => {
    const levels: [ClientQuotaRecord["entity"], number][] = [
      [[user("alice"), client("app")], 1],
      [[user("alice"), client(null)], 2],
      [[user("alice")], 3],
      [[user(null), client("app")], 4],
      [[user(null), client(null)], 5],
      [[user(null)], 6],
      [[client("app")], 7],
      [[client(null)], 8],
    ];
    // fetchBytesMax = bound × (samples - 1) × window: 10 × the bound here.
    for (let first = 0; first < levels.length; first++) {
      const manager = managerOf(levels.slice(first).map(([entity, bound]) => ({ entity, values: { consumer_byte_rate: bound } })));
      expect(manager.fetchBytesMax({ principal: "User:alice", clientId: "app" }), `level ${first + 1}`).toBe(levels[first][1] * 10);
    }
    const none = managerOf([{ entity: [user("bob")], values: { consumer_byte_rate: 1 } }]);
    expect(none.fetchBytesMax({ principal: "User:alice", clientId: "app" })).toBe(Number.POSITIVE_INFINITY);
  });

  it("resolves each quota key on its own", () => {
    const manager = managerOf([
      { entity: [user("alice")], values: { producer_byte_rate: 100 } },
      { entity: [client(null)], values: { consumer_byte_rate: 200 } },
    ]);
    expect(manager.produceEnabled && manager.fetchEnabled).toBe(true);
    expect(manager.requestEnabled || manager.mutationEnabled).toBe(false);
    expect(manager.fetchBytesMax({ principal: "User:alice", clientId: "x" })).toBe(2000);
  });

  it("shares one rate among the client ids of a user-level quota, and keeps rates apart per client id under a user + client-id quota", () => {
    const now = 1_000_000;
    const shared = managerOf([{ entity: [user("alice")], values: { producer_byte_rate: 1000 } }]);
    // 10 s minimum window × 1000 B/s: 10,000 B before any throttle, whoever sends them.
    expect(shared.recordProduce({ principal: "User:alice", clientId: "a" }, 6000, now)).toBe(0);
    expect(shared.recordProduce({ principal: "User:alice", clientId: "b" }, 6000, now)).toBeGreaterThan(0);
    const apart = managerOf([{ entity: [user("alice"), client(null)], values: { producer_byte_rate: 1000 } }]);
    expect(apart.recordProduce({ principal: "User:alice", clientId: "a" }, 6000, now)).toBe(0);
    expect(apart.recordProduce({ principal: "User:alice", clientId: "b" }, 6000, now)).toBe(0);
  });

  it("takes back a throttled fetch's bytes", () => {
    const now = 1_000_000;
    const manager = managerOf([{ entity: [client("c")], values: { consumer_byte_rate: 1000 } }]);
    const who = { principal: "User:ANONYMOUS", clientId: "c" };
    expect(manager.recordFetch(who, 10_000, now)).toBe(0);
    // 15,000 B over 10 s against 1000 B/s: (1.5 - 1) / 1 × 10 s.
    expect(manager.recordFetch(who, 5_000, now)).toBe(5000);
    // Not recorded: the same fetch throttles the same way again.
    expect(manager.recordFetch(who, 5_000, now)).toBe(5000);
    expect(manager.recordFetch(who, 0, now)).toBe(0);
  });

  it("bounds a request_percentage throttle by one window", () => {
    const manager = managerOf([{ entity: [user(null)], values: { request_percentage: 1 } }]);
    // 5 s of handler time in a 10 s window is 50 % of a thread against 1 %.
    expect(manager.recordRequestTime({ principal: "User:u", clientId: null }, 5e9, 1_000_000)).toBe(1000);
  });

  it("controller mutations: a strict quota refuses once the bucket is empty, a permissive one serves and throttles", () => {
    const manager = managerOf([{ entity: [client("m")], values: { controller_mutation_rate: 1 } }]);
    const who = { principal: "User:u", clientId: "m" };
    const now = Date.now();
    const strict = manager.controllerMutation(who, true, now);
    strict.record(20); // the burst is 11 tokens: the bucket goes to -9
    expect(() => strict.record(1)).toThrow("The throttling quota has been exceeded.");
    expect(strict.throttleTimeMs).toBeGreaterThan(8000);
    const permissive = manager.controllerMutation(who, false, now);
    permissive.record(1);
    expect(permissive.throttleTimeMs).toBeGreaterThan(9000);
  });
});

describe("Rate and TokenBucket", () => {
  it("averages over at least samples - 1 windows and forgets samples older than the whole window", () => {
    const rate = new Rate(window, 0);
    rate.record(100, 0);
    expect(rate.measure(0)).toBe(10);
    expect(rate.windowSizeMs(0)).toBe(10_000);
    expect(rate.measure(11_000)).toBe(0);
    expect(rate.idle(11_000)).toBe(true);
  });

  it("refills the bucket at the rate up to the burst", () => {
    const bucket = new TokenBucket(window, 2, 0);
    expect(bucket.tokens(2, 0)).toBe(22);
    bucket.take(30, 2, 0);
    expect(bucket.throttleMs(2, 0)).toBe(4000);
    expect(bucket.throttleMs(2, 4000)).toBe(0);
    expect(bucket.tokens(2, 100_000)).toBe(22);
  });
});

describe("DescribeClientQuotas filters and AlterClientQuotas checks", () => {
  const records: ClientQuotaRecord[] = [
    { entity: [user("alice")], values: { producer_byte_rate: 1 } },
    { entity: [user("alice"), client("app")], values: { producer_byte_rate: 2 } },
    { entity: [user(null)], values: { producer_byte_rate: 3 } },
    { entity: [client(null)], values: { producer_byte_rate: 4 } },
    { entity: [{ entityType: "ip", entityName: "10.0.0.1" }], values: { connection_creation_rate: 5 } },
  ];
  const values = (matched: ClientQuotaRecord[]) => matched.map((record) => record.values.producer_byte_rate ?? record.values.connection_creation_rate);

  it("matches exact names, defaults and any name, strictly or not", () => {
    expect(values(matchingQuotas(records, [{ entityType: "user", matchType: 0, match: "alice" }], false))).toEqual([1, 2]);
    expect(values(matchingQuotas(records, [{ entityType: "user", matchType: 0, match: "alice" }], true))).toEqual([1]);
    expect(values(matchingQuotas(records, [{ entityType: "user", matchType: 1, match: null }], false))).toEqual([3]);
    expect(values(matchingQuotas(records, [{ entityType: "user", matchType: 2, match: null }], false))).toEqual([1, 2, 3]);
    expect(values(matchingQuotas(records, [{ entityType: "client-id", matchType: 2, match: null }], true))).toEqual([4]);
    expect(values(matchingQuotas(records, [], false))).toEqual([1, 2, 3, 4, 5]);
    expect(matchingQuotas(records, [], true)).toEqual([]);
  });

  it("refuses the filters Kafka refuses", () => {
    expect(() => matchingQuotas(records, [{ entityType: "user", matchType: 0, match: null }], false)).toThrow(
      "Request specified MATCH_TYPE_EXACT, but set match string to null.",
    );
    expect(() =>
      matchingQuotas(
        records,
        [
          { entityType: "ip", matchType: 2, match: null },
          { entityType: "user", matchType: 2, match: null },
        ],
        false,
      ),
    ).toThrow("IP filter component should not be used with user or clientId filter component.");
  });

  it("checks entities and values as ClientQuotaControlManager does", () => {
    const errors = changeErrors([
      { entity: [user("a")], values: { producer_byte_rate: 10.5 } },
      { entity: [user("b")], values: { nope: 1 } },
      { entity: [{ entityType: "ip", entityName: "not-an-ip" }], values: { connection_creation_rate: 1 } },
      { entity: [user("c"), { entityType: "ip", entityName: "10.0.0.1" }], values: { producer_byte_rate: 1 } },
      { entity: [user("")], values: { producer_byte_rate: 1 } },
      { entity: [user("d")], values: { producer_byte_rate: 1, request_percentage: 12.5 } },
    ]);
    expect([...errors.values()]).toEqual([
      "Configuration producer_byte_rate must be a Long value",
      "Invalid configuration key nope",
      "not-an-ip is not a valid IP or resolvable host.",
      "Invalid empty client quota entity",
      "Empty user not supported",
    ]);
  });
});
