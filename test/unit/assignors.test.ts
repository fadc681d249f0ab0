// The server-side consumer-group assignors (src/coordinator/group/assignor/): their properties
// (balance, stickiness, heterogeneous subscriptions, co-partitioning, edge cases, a large group),
// and identity with Kafka 4.4.0's own UniformAssignor and RangeAssignor on the scenarios in
// test/assignor-vectors/out/scenarios.jsonl (made by `node scripts/assignor-vectors.mjs`, the
// npm pretest step): same members, same partitions, same iteration order.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  assignmentFromRecord,
  type ConsumerGroupPartitionAssignor,
  consumerGroupAssignors,
  createAssignor,
  createGroupSpec,
  createTopicDescriber,
  DEFAULT_ASSIGNOR_NAME,
  DEFAULT_CONSUMER_GROUP_ASSIGNORS,
  type GroupAssignment,
  type JavaRuntime,
  javaCollectionStats,
  javaHashMapOrder,
  type MemberSpec,
  PartitionAssignorException,
  RangeAssignor,
  RangeSet,
  type SubscriptionType,
  type TopicPartitions,
  UniformAssignor,
} from "../../src/coordinator/group/assignor/index.js";
import {
  hashSetCopyCapacity,
  JavaHashTable,
  kafkaCapacityFor,
  tableSizeFor,
  uuidCompare,
  uuidHashCode,
  uuidWords,
} from "../../src/coordinator/group/assignor/java-collections.js";

const vectorsDir = fileURLToPath(new URL("../assignor-vectors/out/", import.meta.url));
const vectorsPath = join(vectorsDir, "scenarios.jsonl");

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deterministic topic id (a Kafka Uuid string) from a small number. */
function topicId(n: number): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32BE((n * 2654435761) >>> 0, 0);
  bytes.writeUInt32BE(n, 4);
  bytes.writeUInt32BE((n * 40503) >>> 0, 8);
  bytes.writeUInt32BE(~n >>> 0, 12);
  return bytes.toString("base64url");
}

interface MemberInput {
  topics: string[];
  assignment?: TopicPartitions;
  instanceId?: string | null;
}

function spec(topics: string[], assignment: TopicPartitions = new Map(), instanceId: string | null = null): MemberSpec {
  return { rackId: null, instanceId, subscribedTopicIds: new Set(topics), assignment };
}

function run(assignor: ConsumerGroupPartitionAssignor, members: Record<string, MemberInput>, topics: Record<string, number>): GroupAssignment {
  const groupSpec = createGroupSpec(Object.entries(members).map(([id, m]) => [id, spec(m.topics, m.assignment, m.instanceId ?? null)]));
  return assignor.assign(groupSpec, createTopicDescriber(new Map(Object.entries(topics))));
}

/** Feeds a result back as the next current assignments, as Kafka's coordinator replays the records. */
function replayed(result: GroupAssignment, memberId: string): TopicPartitions {
  const partitions = result.members.get(memberId)?.partitions ?? new Map();
  return assignmentFromRecord([...partitions].map(([t, ps]) => [t, [...ps]] as const));
}

function sizeOf(result: GroupAssignment, memberId: string, topic?: string): number {
  let n = 0;
  for (const [t, ps] of result.members.get(memberId)?.partitions ?? []) if (topic === undefined || t === topic) n += ps.size;
  return n;
}

/** Every partition of `topics` owned by exactly one member, and only by a subscriber. */
function expectComplete(result: GroupAssignment, members: Record<string, MemberInput>, topics: Record<string, number>): void {
  const owners = new Map<string, string>();
  for (const [memberId, { partitions }] of result.members) {
    for (const [t, ps] of partitions) {
      expect(members[memberId].topics).toContain(t);
      for (const p of ps) {
        const key = `${t}:${p}`;
        expect(owners.has(key), `${key} assigned twice`).toBe(false);
        owners.set(key, memberId);
      }
    }
  }
  for (const [t, n] of Object.entries(topics)) {
    if (!Object.values(members).some((m) => m.topics.includes(t))) continue;
    for (let p = 0; p < n; p++) expect(owners.has(`${t}:${p}`), `${t}:${p} unassigned`).toBe(true);
  }
}

function spread(result: GroupAssignment, ids: string[]): number {
  const sizes = ids.map((id) => sizeOf(result, id));
  return Math.max(...sizes) - Math.min(...sizes);
}

// ---------------------------------------------------------------------------------------------
// Java collection order

describe("Java collection emulation", () => {
  it("sizes tables as HashMap and HashSet do", () => {
    expect([0, 1, 2, 3, 16, 17, 1000].map(tableSizeFor)).toEqual([1, 1, 2, 4, 16, 32, 1024]);
    expect(kafkaCapacityFor(0)).toBe(1);
    expect(kafkaCapacityFor(12)).toBe(17);
    expect(hashSetCopyCapacity(12, 17)).toBe(17);
    expect(hashSetCopyCapacity(12, 21)).toBe(16);
    expect(hashSetCopyCapacity(3, 17)).toBe(16);
  });

  it("iterates integers by bucket, then insertion order, growing like HashMap", () => {
    const t = new JavaHashTable<number>();
    for (const p of [17, 1, 33, 2, 0]) t.add(p, p);
    expect(t.keys()).toEqual([0, 17, 1, 33, 2]);
    // the 13th key passes the threshold (12): the table doubles to 32 and 17, 33 part ways
    for (let p = 3; p < 10; p++) t.add(p, p);
    expect(t.keys()).toEqual([0, 17, 1, 33, 2, 3, 4, 5, 6, 7, 8, 9]);
    t.add(10, 10);
    expect(t.keys()).toEqual([0, 1, 33, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17]);
  });

  it("puts computeIfAbsent's keys first in their bucket and resizes before adding", () => {
    const t = new JavaHashTable<number>(2); // capacity 2, threshold 1
    expect(t.computeIfAbsent(1, 1)).toBe(true);
    expect(t.computeIfAbsent(3, 3)).toBe(true); // size 1 is not over 1: stays at 2 buckets
    expect(t.keys()).toEqual([3, 1]);
    expect(t.computeIfAbsent(3, 3)).toBe(false); // size 2 > 1: doubles to 4 first, even for a present key
    t.add(5, 5);
    expect(t.keys()).toEqual([1, 5, 3]);
  });

  it("doubles a small table whose bucket reaches 9 keys instead of building a tree", () => {
    const treeBins = javaCollectionStats.treeBins;
    const t = new JavaHashTable<number>();
    for (let i = 8; i >= 0; i--) t.add(i * 64, i * 64); // all in bucket 0 of 16
    // the 9th key in one bucket: treeifyBin resizes to 32 (still one bucket)
    expect(t.keys()).toEqual([512, 448, 384, 320, 256, 192, 128, 64, 0]);
    t.add(1, 1);
    expect(t.keys()[0]).toBe(512);
    expect(javaCollectionStats.treeBins).toBe(treeBins);
  });

  it("reads Kafka Uuids", () => {
    const id = "AAAAAQAAAAIAAAADAAAABA"; // words 1, 2, 3, 4
    expect([...uuidWords(id)]).toEqual([1, 2, 3, 4]);
    expect(uuidHashCode(id)).toBe(1 ^ 2 ^ 3 ^ 4);
    // most significant long first, signed
    expect(uuidCompare(uuidWords("gAAAAAAAAAAAAAAAAAAAAA"), uuidWords("AAAAAAAAAAAAAAAAAAAAAA"))).toBe(-1);
    expect(uuidCompare(uuidWords("AAAAAP____8AAAAAAAAAAA"), uuidWords("AAAAAQAAAAAAAAAAAAAAAA"))).toBe(-1);
    expect(() => uuidWords("not-a-uuid")).toThrow(RangeError);
  });

  it("orders member ids as a HashMap<String, ...>", () => {
    expect(javaHashMapOrder(["c", "b", "a"])).toEqual(["a", "b", "c"]);
    expect(javaHashMapOrder(["b", "a", "b"])).toEqual(["a", "b"]);
  });
});

// ---------------------------------------------------------------------------------------------
// The assignor table

describe("assignors by name", () => {
  it("defaults to group.consumer.assignors = uniform,range, uniform first", () => {
    expect(DEFAULT_CONSUMER_GROUP_ASSIGNORS).toEqual(["uniform", "range"]);
    expect(DEFAULT_ASSIGNOR_NAME).toBe("uniform");
    const table = consumerGroupAssignors();
    expect([...table.keys()]).toEqual(["uniform", "range"]);
    expect(table.get("uniform")).toBeInstanceOf(UniformAssignor);
    expect(table.get("range")).toBeInstanceOf(RangeAssignor);
    expect(createAssignor("range")?.name).toBe("range");
    expect(createAssignor("sticky")).toBeUndefined();
  });

  it("rejects unknown, repeated or no assignors", () => {
    expect([...consumerGroupAssignors(["range"]).keys()]).toEqual(["range"]);
    expect(() => consumerGroupAssignors(["uniform", "simple"])).toThrow(/unknown/);
    expect(() => consumerGroupAssignors(["range", "range"])).toThrow(/twice/);
    expect(() => consumerGroupAssignors([])).toThrow(/at least one/);
  });
});

// ---------------------------------------------------------------------------------------------
// Uniform

describe("UniformAssignor", () => {
  const uniform = new UniformAssignor();
  const [a, b, c] = [topicId(1), topicId(2), topicId(3)];

  it("balances a homogeneous group within one partition", () => {
    const members = { m1: { topics: [a, b] }, m2: { topics: [a, b] }, m3: { topics: [a, b] } };
    const topics = { [a]: 7, [b]: 4 };
    const result = run(uniform, members, topics);
    expectComplete(result, members, topics);
    expect(["m1", "m2", "m3"].map((m) => sizeOf(result, m)).sort()).toEqual([3, 4, 4]);
  });

  it("is sticky across members joining and leaving", () => {
    const topics = { [a]: 12, [b]: 9 };
    const members: Record<string, MemberInput> = { m1: { topics: [a, b] }, m2: { topics: [a, b] } };
    let result = run(uniform, members, topics);
    for (const next of ["m3", "m4"]) {
      const current: Record<string, MemberInput> = {};
      for (const id of Object.keys(members)) current[id] = { topics: [a, b], assignment: replayed(result, id) };
      current[next] = { topics: [a, b] };
      const before = result;
      result = run(uniform, current, topics);
      expectComplete(result, current, topics);
      expect(spread(result, Object.keys(current))).toBeLessThanOrEqual(1);
      // an existing member only loses partitions, never trades them
      for (const id of Object.keys(members)) {
        for (const [t, ps] of result.members.get(id)!.partitions) for (const p of ps) expect(before.members.get(id)!.partitions.get(t)?.has(p)).toBe(true);
      }
      Object.assign(members, current);
    }
    // m1 leaves: nobody else loses anything
    const current: Record<string, MemberInput> = {};
    for (const id of ["m2", "m3", "m4"]) current[id] = { topics: [a, b], assignment: replayed(result, id) };
    const after = run(uniform, current, topics);
    expectComplete(after, current, topics);
    for (const id of ["m2", "m3", "m4"]) {
      for (const [t, ps] of result.members.get(id)!.partitions) for (const p of ps) expect(after.members.get(id)!.partitions.get(t)?.has(p)).toBe(true);
    }
  });

  it("assigns heterogeneous subscriptions only to subscribers, balanced where subscriptions allow", () => {
    const members = { x: { topics: [a] }, y: { topics: [a, b] }, z: { topics: [b, c] }, w: { topics: [c] } };
    const topics = { [a]: 10, [b]: 10, [c]: 2 };
    const result = run(uniform, members, topics);
    expectComplete(result, members, topics);
    expect(spread(result, ["x", "y", "z"])).toBeLessThanOrEqual(1);
    // moving y from [a, b] to [c] revokes a and b from it
    const next = {
      x: { topics: [a], assignment: replayed(result, "x") },
      y: { topics: [c], assignment: replayed(result, "y") },
      z: { topics: [b, c], assignment: replayed(result, "z") },
      w: { topics: [c], assignment: replayed(result, "w") },
    };
    const after = run(uniform, next, topics);
    expectComplete(after, next, topics);
    expect([...after.members.get("y")!.partitions.keys()]).toEqual(after.members.get("y")!.partitions.size ? [c] : []);
    expect(sizeOf(after, "x", a)).toBe(10);
    expect(sizeOf(after, "z", b)).toBe(10);
  });

  it("returns nothing for an empty group or a group without subscriptions", () => {
    expect(run(uniform, {}, { [a]: 3 }).members.size).toBe(0);
    expect(run(uniform, { m: { topics: [] }, n: { topics: [] } }, { [a]: 3 }).members.size).toBe(0);
  });

  it("handles topics without partitions and rejects unknown topics", () => {
    const members = { m: { topics: [a, b] }, n: { topics: [a, b] } };
    const result = run(uniform, members, { [a]: 0, [b]: 3 });
    expectComplete(result, members, { [a]: 0, [b]: 3 });
    expect(() => run(uniform, members, { [b]: 3 })).toThrow(PartitionAssignorException);
    expect(() => run(uniform, { m: { topics: [a] }, n: { topics: [b] } }, { [b]: 3 })).toThrow(/doesn't exist in the topic metadata/);
  });

  it("handles a large group (1000 members × 5000 partitions)", () => {
    const topics: Record<string, number> = {};
    const ids = Array.from({ length: 10 }, (_, i) => topicId(100 + i));
    for (const t of ids) topics[t] = 500;
    const members: Record<string, MemberInput> = {};
    for (let i = 0; i < 1000; i++) members[`member-${i}`] = { topics: ids };
    let result = run(uniform, members, topics);
    expectComplete(result, members, topics);
    expect(spread(result, Object.keys(members))).toBe(0);
    // 50 leave, 30 join, homogeneous
    const next: Record<string, MemberInput> = {};
    for (let i = 50; i < 1030; i++) next[`member-${i}`] = { topics: ids, assignment: i < 1000 ? replayed(result, `member-${i}`) : undefined };
    result = run(uniform, next, topics);
    expectComplete(result, next, topics);
    expect(spread(result, Object.keys(next))).toBeLessThanOrEqual(1);
    // heterogeneous: every third member drops a topic
    const hetero: Record<string, MemberInput> = {};
    for (const id of Object.keys(next)) {
      const n = Number(id.slice(7));
      hetero[id] = { topics: n % 3 === 0 ? ids.slice(1) : ids, assignment: replayed(result, id) };
    }
    const after = run(uniform, hetero, topics);
    expectComplete(after, hetero, topics);
    expect(spread(after, Object.keys(hetero))).toBeLessThanOrEqual(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Range

describe("RangeAssignor", () => {
  const range = new RangeAssignor();
  const [a, b, c] = [topicId(11), topicId(12), topicId(13)];

  it("co-partitions a homogeneous group: ranges in member order, the same numbers on every topic", () => {
    const members = { m2: { topics: [a, b] }, m1: { topics: [b, a] }, m3: { topics: [a, b] } };
    const topics = { [a]: 8, [b]: 8 };
    const result = run(range, members, topics);
    expectComplete(result, members, topics);
    const ranges = (m: string, t: string) => [...(result.members.get(m)!.partitions.get(t) ?? [])];
    expect(ranges("m1", a)).toEqual([0, 1, 2]);
    expect(ranges("m2", a)).toEqual([3, 4, 5]);
    expect(ranges("m3", a)).toEqual([6, 7]);
    for (const m of ["m1", "m2", "m3"]) expect(ranges(m, b)).toEqual(ranges(m, a));
    expect(result.members.get("m1")!.partitions.get(a)).toBeInstanceOf(RangeSet);
  });

  it("keeps static members' ranges across a rolling restart (instance ids first, then member ids)", () => {
    const topics = { [a]: 6 };
    const before = run(range, { x: { topics: [a], instanceId: "i2" }, y: { topics: [a], instanceId: "i1" }, d: { topics: [a] } }, topics);
    const after = run(range, { new1: { topics: [a], instanceId: "i1" }, new2: { topics: [a], instanceId: "i2" }, d: { topics: [a] } }, topics);
    expect([...before.members.get("y")!.partitions.get(a)!]).toEqual([0, 1]);
    expect([...after.members.get("new1")!.partitions.get(a)!]).toEqual([0, 1]);
    expect([...after.members.get("new2")!.partitions.get(a)!]).toEqual([...before.members.get("x")!.partitions.get(a)!]);
    expect([...after.members.get("d")!.partitions.get(a)!]).toEqual([4, 5]);
  });

  it("gives heterogeneous subscribers ranges of their own topics", () => {
    const members = { m1: { topics: [a] }, m2: { topics: [a, b] }, m3: { topics: [b, c] } };
    const topics = { [a]: 5, [b]: 3, [c]: 0 };
    const result = run(range, members, topics);
    expectComplete(result, members, topics);
    expect([...result.members.get("m1")!.partitions.get(a)!]).toEqual([0, 1, 2]);
    expect([...result.members.get("m2")!.partitions.get(a)!]).toEqual([3, 4]);
    expect(result.members.get("m3")!.partitions.has(c)).toBe(false);
  });

  it("returns empty assignments for more members than partitions, and errors for unknown topics", () => {
    const members = { m1: { topics: [a] }, m2: { topics: [a] }, m3: { topics: [a] } };
    const result = run(range, members, { [a]: 2 });
    expect(result.members.get("m3")!.partitions.size).toBe(0);
    expect(run(range, {}, {}).members.size).toBe(0);
    expect(() => run(range, members, {})).toThrow("Member is subscribed to a non-existent topic");
  });
});

// ---------------------------------------------------------------------------------------------
// Kafka 4.4.0's own assignors, scenario by scenario

type Pairs = [string, number[]][];

interface VectorMember {
  id: string;
  instanceId: string | null;
  rackId: string | null;
  subscribed: string[];
  assignment: Pairs;
  record: Pairs | null;
}

interface VectorStep {
  topics: [string, number][];
  members: VectorMember[];
  subscriptionType: SubscriptionType;
  memberIds: string[];
  result?: [string, Pairs][];
  error?: string;
}

interface Scenario {
  name: string;
  assignor: string;
  java: string;
  steps: VectorStep[];
}

function toPairs(partitions: TopicPartitions): Pairs {
  return [...partitions].map(([t, ps]) => [t, [...ps]]);
}

/** scenarios.jsonl (Maven's Java) and scenarios-java<N>.jsonl (the same run on other JDKs found, see scripts/assignor-vectors.mjs). */
function loadScenarios(): Scenario[] {
  if (!existsSync(vectorsPath)) return [];
  const files = readdirSync(vectorsDir).filter((f) => /^scenarios(-java\d+)?\.jsonl$/.test(f));
  return files.sort().flatMap((f) =>
    readFileSync(join(vectorsDir, f), "utf8")
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Scenario),
  );
}

const scenarios = loadScenarios();

describe("the same assignments as Kafka 4.4.0 (test/assignor-vectors)", () => {
  it("has the vectors", () => {
    if (scenarios.length === 0) {
      expect.fail(`${vectorsPath} is missing: run \`node scripts/assignor-vectors.mjs\` to run Kafka's assignors (Java 17+, Maven)`);
    }
    expect(scenarios.length).toBeGreaterThan(100);
  });

  it("meets HashMap tree bins (reproduced node for node)", () => {
    const scenario = scenarios.find((s) => s.name === "tree-bins-64-uniform");
    expect(scenario).toBeDefined();
    const before = javaCollectionStats.treeBins;
    const step = scenario!.steps[0];
    const groupSpec = createGroupSpec(step.members.map((m) => [m.id, spec(m.subscribed, new Map(), m.instanceId)]));
    new UniformAssignor().assign(groupSpec, createTopicDescriber(new Map(step.topics)));
    expect(javaCollectionStats.treeBins - before).toBeGreaterThan(0);
  });

  it.each(scenarios.map((s) => [`${s.name} (Java ${s.java})`, s] as const))("%s", (_name, scenario) => {
    const jdk: JavaRuntime = Number(scenario.java) >= 19 ? 21 : 17;
    const assignor = scenario.assignor === "uniform" ? new UniformAssignor({ jdk }) : new RangeAssignor();
    let previous = new Map<string, Pairs>();
    scenario.steps.forEach((step, i) => {
      const where = `${scenario.name} step ${i}`;
      const members: [string, MemberSpec][] = step.members.map((m) => {
        const assignment = new Map(m.assignment.map(([t, ps]) => [t, new Set(ps)]));
        if (m.record !== null) {
          // the current assignment as Kafka's coordinator replayed it from a record
          expect(toPairs(assignmentFromRecord(m.record, jdk)), `${where}: ${m.id} replayed`).toEqual(m.assignment);
          const fed = previous.get(m.id);
          if (fed !== undefined) expect(m.record, `${where}: ${m.id} record`).toEqual(fed);
        }
        return [m.id, { rackId: m.rackId, instanceId: m.instanceId, subscribedTopicIds: new Set(m.subscribed), assignment }];
      });
      const groupSpec = createGroupSpec(members);
      expect(groupSpec.memberIds, `${where}: memberIds`).toEqual(step.memberIds);
      expect(groupSpec.subscriptionType, `${where}: subscription type`).toBe(step.subscriptionType);
      const describer = createTopicDescriber(new Map(step.topics));
      if (step.error !== undefined) {
        const [kind, ...message] = step.error.split(": ");
        let thrown: unknown;
        try {
          assignor.assign(groupSpec, describer);
        } catch (e) {
          thrown = e;
        }
        expect(thrown, where).toBeInstanceOf(PartitionAssignorException);
        expect((thrown as Error).name).toBe(kind);
        expect((thrown as Error).message).toBe(message.join(": "));
        return;
      }
      const result = assignor.assign(groupSpec, describer);
      const ours = groupSpec.memberIds.filter((id) => result.members.has(id)).map((id) => [id, toPairs(result.members.get(id)!.partitions)]);
      expect(result.members.size, `${where}: members in the result`).toBe(ours.length);
      expect(ours, `${where}: result`).toEqual(step.result);
      previous = new Map(step.result!);
    });
  });
});
