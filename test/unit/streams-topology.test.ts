// The configured topology of a streams group (src/coordinator/group/streams-topology.ts, Kafka 4.4's
// InternalTopicManager and friends) and the sticky task assignor
// (src/coordinator/group/assignor/streams-sticky.ts): partition counts decided for repartition and
// changelog topics, copartitioning, the statuses and errors Kafka reports, and the assignor's
// balance, stickiness and standby placement. The same code is checked against a Kafka 4.4 broker
// answer for answer by test/interop/streams-groups-protocol.test.ts.
import { describe, expect, it } from "vitest";
import type { StreamsGroupTopologyValueSubtopology } from "../../src/coordinator/generated/group/streams-group-topology.js";
import { stickyTaskAssign } from "../../src/coordinator/group/assignor/streams-sticky.js";
import { StreamsStatus, topologyFromRecord } from "../../src/coordinator/group/streams-group.js";
import { configureTopics } from "../../src/coordinator/group/streams-topology.js";

const info = (name: string, partitions = 0) => ({ name, partitions, replicationFactor: 0, topicConfigs: [] });

function subtopology(id: string, parts: Partial<StreamsGroupTopologyValueSubtopology>): StreamsGroupTopologyValueSubtopology {
  return {
    subtopologyId: id,
    sourceTopics: [],
    sourceTopicRegex: [],
    stateChangelogTopics: [],
    repartitionSinkTopics: [],
    repartitionSourceTopics: [],
    copartitionGroups: [],
    ...parts,
  };
}

const topology = (...subtopologies: StreamsGroupTopologyValueSubtopology[]) => topologyFromRecord({ epoch: 0, subtopologies });
const counts = (map: Record<string, number>) => (topic: string) => map[topic];

describe("configureTopics", () => {
  const wordCount = topology(
    subtopology("0", { sourceTopics: ["in"], repartitionSinkTopics: ["rep"] }),
    subtopology("1", { repartitionSourceTopics: [info("rep")], stateChangelogTopics: [info("store-changelog")] }),
  );

  it("decides repartition and changelog partition counts from the sources, and lists the internal topics to create", () => {
    const configured = configureTopics(wordCount, 1n, counts({ in: 6 }));
    expect(configured.problem).toEqual({ status: StreamsStatus.MISSING_INTERNAL_TOPICS, message: expect.stringMatching(/^Internal topics are missing: /) });
    expect([...configured.internalTopicsToCreate.values()].map((t) => [t.name, t.partitions]).sort()).toEqual([
      ["rep", 6],
      ["store-changelog", 6],
    ]);
    expect(configured.subtopologies?.get("0")?.numberOfTasks).toBe(6);
    expect(configured.subtopologies?.get("1")?.numberOfTasks).toBe(6);
  });

  it("is ready once the internal topics exist with the expected partitions", () => {
    const configured = configureTopics(wordCount, 1n, counts({ in: 6, rep: 6, "store-changelog": 6 }));
    expect(configured.problem).toBeNull();
    expect(configured.internalTopicsToCreate.size).toBe(0);
  });

  it("reports missing source topics, sorted", () => {
    const configured = configureTopics(topology(subtopology("0", { sourceTopics: ["zeta", "alpha"] })), 1n, counts({}));
    expect(configured.problem).toEqual({ status: StreamsStatus.MISSING_SOURCE_TOPICS, message: "Source topics alpha, zeta are missing." });
    expect(configured.subtopologies).toBeNull();
  });

  it("reports an internal topic with a different partition count", () => {
    const configured = configureTopics(wordCount, 1n, counts({ in: 6, rep: 3 }));
    expect(configured.problem).toEqual({
      status: StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
      message: "Existing topic rep has different number of partitions: expected 6, found 3",
    });
  });

  it("reports copartitioned source topics that disagree", () => {
    const join = topology(
      subtopology("0", { sourceTopics: ["left", "right"], copartitionGroups: [{ sourceTopics: [0, 1], sourceTopicRegex: [], repartitionSourceTopics: [] }] }),
    );
    expect(configureTopics(join, 1n, counts({ left: 2, right: 3 })).problem).toEqual({
      status: StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
      message: "Following topics do not have the same number of partitions: [{left=2, right=3}]",
    });
    expect(configureTopics(join, 1n, counts({ left: 3, right: 3 })).problem).toBeNull();
  });

  it("gives a repartition topic copartitioned with a source the source's partition count", () => {
    const join = topology(
      subtopology("0", { sourceTopics: ["orders"], repartitionSinkTopics: ["by-customer"] }),
      subtopology("1", {
        sourceTopics: ["customers"],
        repartitionSourceTopics: [info("by-customer")],
        copartitionGroups: [{ sourceTopics: [0], sourceTopicRegex: [], repartitionSourceTopics: [0] }],
      }),
    );
    const configured = configureTopics(join, 1n, counts({ orders: 8, customers: 3 }));
    expect(configured.internalTopicsToCreate.get("by-customer")?.partitions).toBe(3);
  });

  it("refuses a repartition topic that is never written (STREAMS_INVALID_TOPOLOGY)", () => {
    const broken = topology(subtopology("0", { sourceTopics: ["in"] }), subtopology("1", { repartitionSourceTopics: [info("orphan")] }));
    expect(() => configureTopics(broken, 1n, counts({ in: 2 }))).toThrow(
      "Failed to compute number of partitions for all repartition topics, because a repartition source topic is never used as a sink topic.",
    );
  });

  it("refuses a loop of repartition topics (STREAMS_INVALID_TOPOLOGY)", () => {
    const loop = topology(
      subtopology("0", { repartitionSourceTopics: [info("a")], repartitionSinkTopics: ["b"] }),
      subtopology("1", { repartitionSourceTopics: [info("b")], repartitionSinkTopics: ["a"] }),
    );
    expect(() => configureTopics(loop, 1n, counts({}))).toThrow("There may be loops in the topology that cannot be resolved.");
  });
});

describe("stickyTaskAssign", () => {
  const describer = (subtopologies: Record<string, { tasks: number; stateful: boolean }>) => ({
    subtopologies: Object.keys(subtopologies).sort(),
    numberOfTasks: (id: string) => subtopologies[id]?.tasks ?? 0,
    isStateful: (id: string) => subtopologies[id]?.stateful ?? false,
  });
  const member = (memberId: string, processId: string, active: Record<string, number[]> = {}) => ({
    memberId,
    processId,
    activeTasks: new Map(Object.entries(active).map(([id, ps]) => [id, new Set(ps)] as const)),
    standbyTasks: new Map<string, Set<number>>(),
    taskOffsets: new Map<string, Map<number, bigint>>(),
  });
  const count = (tasks: Map<string, Set<number>>) => [...tasks.values()].reduce((n, s) => n + s.size, 0);

  it("spreads every task once, balanced, and keeps a member's tasks when it can", () => {
    const topology = describer({ "0": { tasks: 6, stateful: false }, "1": { tasks: 6, stateful: true } });
    const first = stickyTaskAssign([member("a", "p1"), member("b", "p2"), member("c", "p3")], topology, 0);
    const all = [...first.values()].flatMap((a) => [...a.active].flatMap(([id, ps]) => [...ps].map((p) => `${id}_${p}`)));
    expect(all.sort()).toEqual([...Array(6).keys()].flatMap((p) => [`0_${p}`, `1_${p}`]).sort());
    for (const assignment of first.values()) expect(count(assignment.active)).toBe(4);
    // A fourth member joins: the three keep 3 of their 4 tasks each, the newcomer gets the rest.
    const owned = (id: string) => Object.fromEntries([...(first.get(id)?.active ?? [])].map(([s, ps]) => [s, [...ps]]));
    const second = stickyTaskAssign(
      [member("a", "p1", owned("a")), member("b", "p2", owned("b")), member("c", "p3", owned("c")), member("d", "p4")],
      topology,
      0,
    );
    for (const id of ["a", "b", "c"]) {
      const kept = [...(second.get(id)?.active ?? [])].flatMap(([s, ps]) => [...ps].filter((p) => first.get(id)?.active.get(s)?.has(p)));
      expect(kept.length, id).toBe(3);
    }
    expect(count(second.get("d")?.active ?? new Map())).toBe(3);
  });

  it("places one standby of each stateful task on another process than its active task", () => {
    const topology = describer({ "0": { tasks: 4, stateful: false }, "1": { tasks: 4, stateful: true } });
    const result = stickyTaskAssign([member("a", "p1"), member("b", "p2")], topology, 1);
    for (const [id, assignment] of result) {
      for (const [subtopologyId, partitions] of assignment.standby) {
        expect(subtopologyId, id).toBe("1");
        for (const p of partitions) expect(assignment.active.get("1")?.has(p) ?? false, `${id} 1_${p}`).toBe(false);
      }
    }
    expect(result.get("a")?.standby.get("1")?.size ?? 0).toBeGreaterThan(0);
    expect([...result.values()].reduce((n, a) => n + count(a.standby), 0)).toBe(4);
  });

  it("puts no standby on the process of the active task, even with two members there", () => {
    const topology = describer({ "0": { tasks: 2, stateful: true } });
    const result = stickyTaskAssign([member("a1", "p"), member("a2", "p")], topology, 1);
    expect([...result.values()].reduce((n, a) => n + count(a.standby), 0)).toBe(0);
  });
});
