// The group coordinator over the wire, against the real broker (bin/sluice) with a raw protocol
// client, checking Kafka's answers request by request: FindCoordinator creating __consumer_offsets,
// the classic protocol's rebalance (KIP-394 member ids, generations, leader assignment, heartbeats
// told to rejoin, leaving), static membership (KIP-345 fencing), session expiry, every error code
// of bad input the issue lists, offsets (commit, fetch, delete) and groups (describe, list,
// delete), and that committed offsets and group state survive SIGTERM and SIGKILL restarts.
// Real clients (kafkajs, librdkafka, the Java consumer, Kafka's tools) are in test/interop.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeSubscription } from "../../src/coordinator/group/consumer-protocol.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { freePort } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const TOPIC = "orders";
const workDir = await mkdtemp(joinPath(tmpdir(), "sluice-groups-"));
const logDir = joinPath(workDir, "data");
const port = await freePort();
let broker: SluiceBroker;
let client: TestClient;

const overrides = {
  "group.initial.rebalance.delay.ms": 0,
  "group.min.session.timeout.ms": 500,
  "group.max.size": 3,
};
const start = () => startSluice({ port, logDir, workDir, overrides });

beforeAll(async () => {
  broker = await start();
  client = await TestClient.connect(broker.port);
  const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
    topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(created.topics[0]?.errorCode).toBe(0);
}, 60_000);

afterAll(async () => {
  client?.close();
  await broker?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** A ConsumerProtocolSubscription v0 for `topics` (what a Java consumer sends). */
const subscription = (topics: string[]): Buffer => encodeSubscription({ topics }, 0);

interface JoinResponse {
  errorCode: number;
  generationId: number;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

function joinGroup(
  c: TestClient,
  groupId: string,
  memberId = "",
  options: { groupInstanceId?: string | null; sessionTimeoutMs?: number; protocolType?: string; protocols?: string[] } = {},
) {
  return c.request<JoinResponse>(11, 9, {
    groupId,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    rebalanceTimeoutMs: 5_000,
    memberId,
    groupInstanceId: options.groupInstanceId ?? null,
    protocolType: options.protocolType ?? "consumer",
    protocols: (options.protocols ?? ["range"]).map((name) => ({ name, metadata: subscription([TOPIC]) })),
    reason: null,
  });
}

/** JoinGroup v9 as a new dynamic member does it: MEMBER_ID_REQUIRED, then again with the id. */
async function joinNew(c: TestClient, groupId: string, options: Parameters<typeof joinGroup>[3] = {}): Promise<JoinResponse> {
  const first = await joinGroup(c, groupId, "", options);
  if (options.groupInstanceId) return first;
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  expect(first.memberId).toMatch(/^sluice-test-[0-9a-f-]{36}$/);
  return joinGroup(c, groupId, first.memberId, options);
}

function sync(
  c: TestClient,
  groupId: string,
  generationId: number,
  memberId: string,
  assignments: { memberId: string; assignment: Buffer }[] = [],
  groupInstanceId: string | null = null,
) {
  return c.request<{ errorCode: number; protocolType: string | null; protocolName: string | null; assignment: Buffer }>(14, 5, {
    groupId,
    generationId,
    memberId,
    groupInstanceId,
    protocolType: "consumer",
    protocolName: "range",
    assignments,
  });
}

const heartbeat = (c: TestClient, groupId: string, generationId: number, memberId: string, groupInstanceId: string | null = null) =>
  c.request<{ errorCode: number }>(12, 4, { groupId, generationId, memberId, groupInstanceId });

function commit(
  c: TestClient,
  groupId: string,
  offsets: [string, number, bigint, string?][],
  member: { generation?: number; memberId?: string; version?: number } = {},
) {
  return c.request<{ topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] }>(8, member.version ?? 9, {
    groupId,
    generationIdOrMemberEpoch: member.generation ?? -1,
    memberId: member.memberId ?? "",
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [...new Set(offsets.map(([topic]) => topic))].map((name) => ({
      name,
      partitions: offsets
        .filter(([topic]) => topic === name)
        .map(([, partitionIndex, committedOffset, committedMetadata]) => ({
          partitionIndex,
          committedOffset,
          committedLeaderEpoch: -1,
          commitTimestamp: -1n,
          committedMetadata: committedMetadata ?? "",
        })),
    })),
  });
}

async function fetchOffsets(c: TestClient, groupId: string): Promise<Record<string, bigint>> {
  const response = await c.request<{
    groups: { errorCode: number; topics: { name: string; partitions: { partitionIndex: number; committedOffset: bigint; metadata: string | null }[] }[] }[];
  }>(9, 9, { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  expect(response.groups[0]?.errorCode).toBe(0);
  const offsets: Record<string, bigint> = {};
  for (const topic of response.groups[0]?.topics ?? []) for (const p of topic.partitions) offsets[`${topic.name}-${p.partitionIndex}`] = p.committedOffset;
  return offsets;
}

function describeGroup(c: TestClient, groupId: string) {
  return c
    .request<{
      groups: {
        errorCode: number;
        groupState: string;
        protocolType: string;
        protocolData: string;
        members: { memberId: string; groupInstanceId: string | null; memberAssignment: Buffer }[];
      }[];
    }>(15, 5, { groups: [groupId], includeAuthorizedOperations: false })
    .then((response) => response.groups[0] as NonNullable<(typeof response.groups)[0]>);
}

describe("FindCoordinator", () => {
  it("creates __consumer_offsets (50 partitions, compacted, internal) and names this broker for groups, in every version", async () => {
    for (let version = 0; version <= 3; version++) {
      const found = await client.request<{ errorCode: number; nodeId: number; host: string; port: number }>(10, version, { key: "g", keyType: 0 });
      expect(found).toMatchObject({ errorCode: 0, nodeId: 1, port: broker.port });
    }
    const batched = await client.request<{ coordinators: { key: string; errorCode: number; nodeId: number; port: number }[] }>(10, 6, {
      keyType: 0,
      coordinatorKeys: ["a", "b"],
    });
    expect(batched.coordinators).toMatchObject([
      { key: "a", errorCode: 0, nodeId: 1, port: broker.port },
      { key: "b", errorCode: 0, nodeId: 1, port: broker.port },
    ]);
    const invalidType = await client.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType: 7, coordinatorKeys: ["a"] });
    expect(invalidType.coordinators[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const metadata = await client.request<{ topics: { name: string; isInternal: boolean; partitions: unknown[] }[] }>(3, 12, {
      topics: [{ name: "__consumer_offsets", topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
      allowAutoTopicCreation: false,
    });
    expect(metadata.topics[0]).toMatchObject({ name: "__consumer_offsets", isInternal: true });
    expect(metadata.topics[0]?.partitions).toHaveLength(50);
    const configs = await client.request<{ results: { configs: { name: string; value: string }[] }[] }>(32, 4, {
      resources: [{ resourceType: 2, resourceName: "__consumer_offsets", configurationKeys: ["cleanup.policy", "segment.bytes"] }],
    });
    expect(Object.fromEntries(configs.results[0]?.configs.map((c) => [c.name, c.value]) ?? [])).toEqual({
      "cleanup.policy": "compact",
      "segment.bytes": "104857600",
    });
    // Clients may not write to it (Kafka: INVALID_TOPIC_EXCEPTION unless the client id is "__admin_client").
    const produced = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [
        {
          name: "__consumer_offsets",
          partitionData: [{ index: 0, records: buildRecordBatch({ records: [{ key: Buffer.from("k"), value: Buffer.from("v") }] }) }],
        },
      ],
    });
    expect(produced.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });
});

describe("classic rebalance", () => {
  it("elects a leader, hands out the leader's assignment, tells members to rejoin when one joins, and ends Empty when all leave", async () => {
    const other = await TestClient.connect(broker.port);
    try {
      const a = await joinNew(client, "rebalance");
      expect(a).toMatchObject({ errorCode: 0, generationId: 1, protocolName: "range" });
      expect(a.leader).toBe(a.memberId);
      expect(a.members.map((m) => m.memberId)).toEqual([a.memberId]);
      expect(subscription([TOPIC]).equals(a.members[0]?.metadata as Buffer)).toBe(true);
      const synced = await sync(client, "rebalance", 1, a.memberId, [{ memberId: a.memberId, assignment: Buffer.from("all-of-it") }]);
      expect(synced).toMatchObject({ errorCode: 0, protocolType: "consumer", protocolName: "range" });
      expect(synced.assignment.toString()).toBe("all-of-it");
      expect((await heartbeat(client, "rebalance", 1, a.memberId)).errorCode).toBe(0);
      expect((await describeGroup(client, "rebalance")).groupState).toBe("Stable");

      // A second member: its join parks until the first rejoins (told by its heartbeat).
      const firstJoin = await joinGroup(other, "rebalance");
      expect(firstJoin.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
      const bJoining = joinGroup(other, "rebalance", firstJoin.memberId);
      await new Promise((resume) => setTimeout(resume, 50));
      expect((await heartbeat(client, "rebalance", 1, a.memberId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      expect((await describeGroup(client, "rebalance")).groupState).toBe("PreparingRebalance");
      const [aAgain, b] = await Promise.all([joinGroup(client, "rebalance", a.memberId), bJoining]);
      expect(aAgain).toMatchObject({ errorCode: 0, generationId: 2, leader: a.memberId });
      expect(aAgain.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b.memberId].sort());
      expect(b).toMatchObject({ errorCode: 0, generationId: 2, leader: a.memberId, members: [] });
      // The follower's SyncGroup waits for the leader's.
      const bSync = sync(other, "rebalance", 2, b.memberId);
      const aSync = await sync(client, "rebalance", 2, a.memberId, [
        { memberId: a.memberId, assignment: Buffer.from("p0") },
        { memberId: b.memberId, assignment: Buffer.from("p1,p2") },
      ]);
      expect(aSync.assignment.toString()).toBe("p0");
      expect((await bSync).assignment.toString()).toBe("p1,p2");
      const described = await describeGroup(client, "rebalance");
      expect(described).toMatchObject({ errorCode: 0, groupState: "Stable", protocolType: "consumer", protocolData: "range" });
      expect(described.members.map((m) => m.memberAssignment.toString()).sort()).toEqual(["p0", "p1,p2"]);

      // Stale generation, unknown member.
      expect((await heartbeat(client, "rebalance", 1, a.memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
      expect((await heartbeat(client, "rebalance", 2, "ghost")).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
      expect((await sync(client, "rebalance", 1, a.memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

      // Both leave in one LeaveGroup (v3+ batch); a third identity is unknown.
      const left = await client.request<{ errorCode: number; members: { memberId: string; errorCode: number }[] }>(13, 5, {
        groupId: "rebalance",
        members: [
          { memberId: a.memberId, groupInstanceId: null, reason: "test" },
          { memberId: b.memberId, groupInstanceId: null, reason: null },
          { memberId: "ghost", groupInstanceId: null, reason: null },
        ],
      });
      expect(left.errorCode).toBe(0);
      expect(left.members.map((m) => m.errorCode)).toEqual([0, 0, ErrorCode.UNKNOWN_MEMBER_ID]);
      expect(await describeGroup(client, "rebalance")).toMatchObject({ groupState: "Empty", members: [] });
    } finally {
      other.close();
    }
  });

  it("removes a member that stops heartbeating after its session timeout, and the others rebalance without it", async () => {
    const a = await joinNew(client, "expiry", { sessionTimeoutMs: 600 });
    expect((await sync(client, "expiry", a.generationId, a.memberId, [{ memberId: a.memberId, assignment: Buffer.from("x") }])).errorCode).toBe(0);
    for (let waited = 0; (await describeGroup(client, "expiry")).groupState !== "Empty"; waited += 100) {
      expect(waited).toBeLessThan(20_000);
      await new Promise((resume) => setTimeout(resume, 100));
    }
    expect((await heartbeat(client, "expiry", a.generationId, a.memberId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("static members (KIP-345): a restarted instance takes its place without a rebalance and the old member id is fenced", async () => {
    const first = await joinNew(client, "static", { groupInstanceId: "instance-1" });
    expect(first.errorCode).toBe(0);
    expect(
      (await sync(client, "static", first.generationId, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from("mine") }], "instance-1"))
        .errorCode,
    ).toBe(0);
    // The same instance comes back with no member id (a restart): new id, same generation, no rebalance.
    const again = await joinGroup(client, "static", "", { groupInstanceId: "instance-1" });
    expect(again.errorCode).toBe(0);
    expect(again.memberId).not.toBe(first.memberId);
    expect(again.generationId).toBe(first.generationId);
    expect((await describeGroup(client, "static")).groupState).toBe("Stable");
    const synced = await sync(client, "static", again.generationId, again.memberId, [], "instance-1");
    expect(synced.assignment.toString()).toBe("mine");
    expect((await heartbeat(client, "static", first.generationId, first.memberId, "instance-1")).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(
      (await commit(client, "static", [[TOPIC, 0, 1n]], { generation: first.generationId, memberId: first.memberId })).topics[0]?.partitions[0]?.errorCode,
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // Administrative removal by instance id (LeaveGroup v3+ with an unknown member id).
    const removed = await client.request<{ members: { errorCode: number }[] }>(13, 4, {
      groupId: "static",
      members: [{ memberId: "", groupInstanceId: "instance-1" }],
    });
    expect(removed.members[0]?.errorCode).toBe(0);
    expect((await describeGroup(client, "static")).groupState).toBe("Empty");
  });
});

describe("bad input gets Kafka's error codes", () => {
  it("empty group id, session timeout out of range, unknown member, inconsistent protocol, group full", async () => {
    expect((await joinGroup(client, "")).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await heartbeat(client, "", 1, "m")).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await sync(client, "", 1, "m")).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await joinGroup(client, "bad", "", { sessionTimeoutMs: 100 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await joinGroup(client, "bad", "", { sessionTimeoutMs: 1_800_001 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await joinGroup(client, "no-such-group", "some-member")).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await joinGroup(client, "bad", "", { protocols: [] })).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const member = await joinNew(client, "typed");
    expect(member.errorCode).toBe(0);
    const other = await joinGroup(client, "typed", "", { protocolType: "connect" });
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // group.max.size=3 here: once three members are in, a fourth is refused.
    const full = await joinNew(client, "full");
    const parked: Promise<JoinResponse>[] = [];
    for (let index = 0; index < 2; index++) {
      const c = await TestClient.connect(broker.port);
      const id = (await joinGroup(c, "full")).memberId;
      parked.push(joinGroup(c, "full", id));
    }
    await new Promise((resume) => setTimeout(resume, 50));
    const rejoined = await joinGroup(client, "full", full.memberId);
    expect(rejoined.members).toHaveLength(3);
    expect((await Promise.all(parked)).map((r) => r.errorCode)).toEqual([0, 0]);
    const fourth = await joinGroup(client, "full");
    expect(fourth).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: "" });
  });

  it("offset commits: metadata too large, unknown topic or partition, missing group with a generation, a non-member to a live group", async () => {
    const big = "x".repeat(4097);
    const response = await commit(client, "committing", [
      [TOPIC, 0, 5n, "ok"],
      [TOPIC, 1, 6n, big],
      [TOPIC, 7, 1n],
      ["no-such-topic", 0, 1n],
    ]);
    const errors = Object.fromEntries(response.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partitionIndex}`, p.errorCode])));
    expect(errors).toEqual({
      [`${TOPIC}-0`]: 0,
      [`${TOPIC}-1`]: ErrorCode.OFFSET_METADATA_TOO_LARGE,
      [`${TOPIC}-7`]: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      "no-such-topic-0": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    });
    expect(await fetchOffsets(client, "committing")).toEqual({ [`${TOPIC}-0`]: 5n });
    const v9 = await commit(client, "never-joined", [[TOPIC, 0, 1n]], { generation: 3, memberId: "m", version: 9 });
    expect(v9.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const v8 = await commit(client, "never-joined", [[TOPIC, 0, 1n]], { generation: 3, memberId: "m", version: 8 });
    expect(v8.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    const live = await joinNew(client, "live");
    const outsider = await commit(client, "live", [[TOPIC, 0, 1n]]);
    expect(outsider.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A member between JoinGroup and SyncGroup: REBALANCE_IN_PROGRESS.
    const mid = await commit(client, "live", [[TOPIC, 0, 1n]], { generation: live.generationId, memberId: live.memberId });
    expect(mid.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await sync(client, "live", live.generationId, live.memberId, []);
    const member = await commit(client, "live", [[TOPIC, 2, 9n]], { generation: live.generationId, memberId: live.memberId });
    expect(member.topics[0]?.partitions[0]?.errorCode).toBe(0);
    expect(await fetchOffsets(client, "live")).toEqual({ [`${TOPIC}-2`]: 9n });
  });

  it("DeleteGroups and OffsetDelete: non-empty group, unknown group, deleted offsets", async () => {
    const member = await joinNew(client, "busy");
    await sync(client, "busy", member.generationId, member.memberId, []);
    const deleted = await client.request<{ results: { groupId: string; errorCode: number }[] }>(42, 2, { groupsNames: ["busy", "never-was", "committing"] });
    expect(deleted.results.map((r) => r.errorCode)).toEqual([ErrorCode.NON_EMPTY_GROUP, ErrorCode.GROUP_ID_NOT_FOUND, 0]);
    expect(await fetchOffsets(client, "committing")).toEqual({});
    expect((await describeGroup(client, "committing")).groupState).toBe("Dead");

    await commit(client, "simple", [
      [TOPIC, 0, 1n],
      [TOPIC, 1, 2n],
    ]);
    const offsetDelete = await client.request<{ errorCode: number; topics: { partitions: { partitionIndex: number; errorCode: number }[] }[] }>(47, 0, {
      groupId: "simple",
      topics: [
        { name: TOPIC, partitions: [{ partitionIndex: 0 }] },
        { name: "no-such-topic", partitions: [{ partitionIndex: 0 }] },
      ],
    });
    expect(offsetDelete.errorCode).toBe(0);
    expect(offsetDelete.topics.map((t) => t.partitions[0]?.errorCode)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(await fetchOffsets(client, "simple")).toEqual({ [`${TOPIC}-1`]: 2n });
    // The busy group uses the consumer protocol and subscribes to the topic.
    const subscribed = await client.request<{ errorCode: number; topics: { partitions: { errorCode: number }[] }[] }>(47, 0, {
      groupId: "busy",
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }],
    });
    expect(subscribed.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
    const unknownGroup = await client.request<{ errorCode: number }>(47, 0, { groupId: "never-was", topics: [] });
    expect(unknownGroup.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe("restarts", () => {
  for (const how of ["SIGTERM", "SIGKILL"] as const) {
    it(`committed offsets and a stable group's members survive a ${how} restart`, async () => {
      const groupId = `durable-${how}`;
      const member = await joinNew(client, groupId, { sessionTimeoutMs: 30_000 });
      await sync(client, groupId, member.generationId, member.memberId, [{ memberId: member.memberId, assignment: Buffer.from("a1") }]);
      const committed = await commit(
        client,
        groupId,
        [
          [TOPIC, 0, 11n, "m0"],
          [TOPIC, 2, 22n],
        ],
        { generation: member.generationId, memberId: member.memberId },
      );
      expect(committed.topics[0]?.partitions.map((p) => p.errorCode)).toEqual([0, 0]);
      const listedBefore = await client.request<{ groups: { groupId: string }[] }>(16, 5, { statesFilter: [], typesFilter: [] });
      client.close();
      if (how === "SIGTERM") expect(await broker.stop()).toBe(0);
      else await broker.kill();
      broker = await start();
      client = await TestClient.connect(broker.port);
      let offsets: Record<string, bigint> | null = null;
      for (let waited = 0; offsets === null; waited += 50) {
        const response = await client.request<{ groups: { errorCode: number }[] }>(9, 9, {
          groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }],
          requireStable: false,
        });
        if (response.groups[0]?.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
          expect(waited).toBeLessThan(10_000);
          await new Promise((resume) => setTimeout(resume, 50));
          continue;
        }
        offsets = await fetchOffsets(client, groupId);
      }
      expect(offsets).toEqual({ [`${TOPIC}-0`]: 11n, [`${TOPIC}-2`]: 22n });
      const described = await describeGroup(client, groupId);
      expect(described).toMatchObject({ groupState: "Stable", protocolType: "consumer", protocolData: "range" });
      expect(described.members.map((m) => [m.memberId, m.memberAssignment.toString()])).toEqual([[member.memberId, "a1"]]);
      expect((await heartbeat(client, groupId, member.generationId, member.memberId)).errorCode).toBe(0);
      const listedAfter = await client.request<{ groups: { groupId: string }[] }>(16, 5, { statesFilter: [], typesFilter: [] });
      expect(listedAfter.groups.map((g) => g.groupId).sort()).toEqual(listedBefore.groups.map((g) => g.groupId).sort());
    }, 60_000);
  }
});
