// KIP-848 consumer groups (src/coordinator/group/consumer-group*.ts) against the real broker
// services over a temp log directory — the real __consumer_offsets shards, their log and replay —
// through the handlers, as a client's requests reach them: joins and epochs, revoke-before-assign
// between members, leaving, static membership, the validation errors and their messages,
// regex subscriptions, topic growth, offsets with member epochs, the classic protocol meeting a
// consumer group, session timeouts, and a restart rebuilding every group from the log.
// The XXH3 metadata hash is checked against values from Kafka's hash4j (test/unit vectors below).

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import type { ConsumerGroup } from "../../src/coordinator/group/consumer-group.js";
import { xxh3, xxh3Hasher } from "../../src/coordinator/group/xxh3.js";
import { consumerGroupDescribe } from "../../src/handlers/group/consumer-group-describe.js";
import { consumerGroupHeartbeat } from "../../src/handlers/group/consumer-group-heartbeat.js";
import { deleteGroups } from "../../src/handlers/group/delete-groups.js";
import { findCoordinator } from "../../src/handlers/group/find-coordinator.js";
import { heartbeat as classicHeartbeat } from "../../src/handlers/group/heartbeat.js";
import { joinGroup } from "../../src/handlers/group/join-group.js";
import { leaveGroup } from "../../src/handlers/group/leave-group.js";
import { listGroups } from "../../src/handlers/group/list-groups.js";
import { offsetCommit } from "../../src/handlers/group/offset-commit.js";
import { offsetFetch } from "../../src/handlers/group/offset-fetch.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import type { ConsumerGroupDescribeResponse, ConsumerGroupDescribeResponseDescribedGroup } from "../../src/protocol/generated/consumer-group-describe.js";
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  defaultConsumerGroupHeartbeatRequest,
} from "../../src/protocol/generated/consumer-group-heartbeat.js";
import { defaultRequestHeader } from "../../src/protocol/generated/headers.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../../src/server/context.js";
import type { Handler } from "../../src/server/registry.js";
import { openServices } from "../../src/server/services.js";

const NODE_ID = 1;
const connection = new Connection(7, "PLAINTEXT", "127.0.0.1", 50_000);

interface Broker {
  services: BrokerServices;
  logs: LogManager;
}

async function open(directory: string, overrides: string[] = []): Promise<Broker> {
  const { config } = loadBrokerConfig({
    overrides: [
      `log.dirs=${directory}`,
      `node.id=${NODE_ID}`,
      "offsets.topic.num.partitions=3",
      "group.consumer.assignment.interval.ms=0",
      "group.consumer.min.session.timeout.ms=1000",
      "group.consumer.session.timeout.ms=45000",
      "group.consumer.max.size=3",
      "group.initial.rebalance.delay.ms=0",
      ...overrides,
    ],
  });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  const services: BrokerServices = { ...opened.services, connections: { close: () => {}, closeAfter: () => {} } };
  services.metadata.putBroker({ nodeId: NODE_ID, rack: null, endpoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }] });
  await services.groups.loaded();
  return { services, logs: opened.logs };
}

async function close(broker: Broker): Promise<void> {
  broker.services.groups.close();
  broker.services.partitions.close();
  await broker.logs.close();
}

async function call<Req, Res>(broker: Broker, handler: Handler<Req, Res>, version: number, request: Req): Promise<Res> {
  const header = { ...defaultRequestHeader(), requestApiKey: handler.api.apiKey, requestApiVersion: version, correlationId: 1, clientId: "test-client" };
  const context = new RequestContext(broker.services, connection, header, version, ANONYMOUS, Date.now());
  return (await handler.handle(context, request)) as Res;
}

let directory: string;
let broker: Broker;
let topicA: string;
let topicB: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "sluice-kip848-"));
  broker = await open(directory);
  topicA = (await broker.services.topics.create("orders", 4, {})).id;
  topicB = (await broker.services.topics.create("payments", 2, {})).id;
  await call(broker, findCoordinator, 4, { key: "", keyType: 0, coordinatorKeys: ["g"] });
});

afterAll(async () => {
  if (broker !== undefined) await close(broker);
  await rm(directory, { recursive: true, force: true });
});

function hb(request: Partial<ConsumerGroupHeartbeatRequest>, version = 1): Promise<ConsumerGroupHeartbeatResponse> {
  return call(broker, consumerGroupHeartbeat, version, { ...defaultConsumerGroupHeartbeatRequest(), ...request });
}

/** A first heartbeat (epoch 0) subscribing to `topics`. */
function join_(groupId: string, memberId: string, topics: string[] | null, extra: Partial<ConsumerGroupHeartbeatRequest> = {}) {
  return hb({ groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics, topicPartitions: [], ...extra });
}

/** The assignment of a response as "topicId:partition" strings, sorted. */
function owned(response: ConsumerGroupHeartbeatResponse): string[] {
  return (response.assignment?.topicPartitions ?? []).flatMap((tp) => tp.partitions.map((p) => `${tp.topicId}:${p}`)).sort();
}

function ownedPartitions(response: ConsumerGroupHeartbeatResponse) {
  return (response.assignment?.topicPartitions ?? []).map((tp) => ({ topicId: tp.topicId, partitions: [...tp.partitions] }));
}

async function describe_(groupId: string): Promise<ConsumerGroupDescribeResponseDescribedGroup> {
  const response = await call<unknown, ConsumerGroupDescribeResponse>(broker, consumerGroupDescribe, 1, {
    groupIds: [groupId],
    includeAuthorizedOperations: false,
  });
  return response.groups[0] as ConsumerGroupDescribeResponseDescribedGroup;
}

function group(groupId: string): ConsumerGroup {
  const found = broker.services.groups.group(groupId);
  if (found?.type !== "consumer") throw new Error(`${groupId} is not a consumer group`);
  return found;
}

describe("joining and reconciling", () => {
  it("a first member gets every partition at epoch 2 (a new group starts at epoch 1)", async () => {
    const response = await join_("g1", "m1", ["orders"]);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.memberId).toBe("m1");
    expect(response.memberEpoch).toBe(2);
    expect(response.heartbeatIntervalMs).toBe(5000);
    expect(owned(response)).toEqual([0, 1, 2, 3].map((p) => `${topicA}:${p}`));
    const described = await describe_("g1");
    expect(described).toMatchObject({ errorCode: 0, groupState: "Stable", groupEpoch: 2, assignmentEpoch: 2, assignorName: "uniform" });
    expect(described.members[0]).toMatchObject({ memberId: "m1", memberEpoch: 2, clientId: "test-client", clientHost: "/127.0.0.1", memberType: 1 });
    // A heartbeat with nothing changed answers the epoch and no assignment.
    const again = await hb({ groupId: "g1", memberId: "m1", memberEpoch: 2 });
    expect(again).toMatchObject({ errorCode: 0, memberEpoch: 2, assignment: null });
  });

  it("a second member waits for the partitions the first must revoke; revoke before assign", async () => {
    const m2 = await join_("g1", "m2", ["orders"]);
    expect(m2.errorCode).toBe(0);
    // The target gives m2 half of the partitions, all still owned by m1: it is at epoch 3 with none.
    expect(m2.memberEpoch).toBe(3);
    expect(owned(m2)).toEqual([]);
    expect(group("g1").state).toBe("Reconciling");
    const target = group("g1").targetAssignmentOf("m2");
    const m2Target = [...(target.get(topicA) ?? [])].sort();
    expect(m2Target).toHaveLength(2);

    // m1 is told to revoke: still epoch 2, its assignment without m2's partitions.
    const m1 = await hb({ groupId: "g1", memberId: "m1", memberEpoch: 2, topicPartitions: [{ topicId: topicA, partitions: [0, 1, 2, 3] }] });
    expect(m1.memberEpoch).toBe(2);
    const kept = [0, 1, 2, 3].filter((p) => !m2Target.includes(p));
    expect(owned(m1)).toEqual(kept.map((p) => `${topicA}:${p}`));
    expect(group("g1").members.get("m1")?.state).toBe(1); // UNREVOKED_PARTITIONS

    // m2 still gets nothing while m1 holds them.
    expect(owned(await hb({ groupId: "g1", memberId: "m2", memberEpoch: 3, topicPartitions: [] }))).toEqual([]);

    // m1 revoked: epoch 3.
    const m1Done = await hb({ groupId: "g1", memberId: "m1", memberEpoch: 2, topicPartitions: [{ topicId: topicA, partitions: kept }] });
    expect(m1Done.memberEpoch).toBe(3);
    // m2 now gets its partitions.
    const m2Done = await hb({ groupId: "g1", memberId: "m2", memberEpoch: 3, topicPartitions: [] });
    expect(owned(m2Done)).toEqual(m2Target.map((p) => `${topicA}:${p}`));
    expect(group("g1").state).toBe("Stable");
  });

  it("a leaving member (-1) bumps the epoch and its partitions go to the other", async () => {
    const left = await hb({ groupId: "g1", memberId: "m2", memberEpoch: -1 });
    expect(left).toMatchObject({ errorCode: 0, memberId: "m2", memberEpoch: -1, heartbeatIntervalMs: 0 });
    expect(group("g1").groupEpoch).toBe(4);
    const m1 = await hb({ groupId: "g1", memberId: "m1", memberEpoch: 3, topicPartitions: [{ topicId: topicA, partitions: [0, 1] }] });
    expect(m1.memberEpoch).toBe(4);
    expect(owned(m1)).toHaveLength(4);
  });

  it("a member changing its subscription revokes the topics it left", async () => {
    const both = await hb({ groupId: "g1", memberId: "m1", memberEpoch: 4, subscribedTopicNames: ["orders", "payments"] });
    expect(both.memberEpoch).toBe(5);
    expect(owned(both)).toHaveLength(6);
    const onlyPayments = await hb({
      groupId: "g1",
      memberId: "m1",
      memberEpoch: 5,
      subscribedTopicNames: ["payments"],
      topicPartitions: ownedPartitions(both),
    });
    // The orders partitions must be revoked first.
    expect(onlyPayments.memberEpoch).toBe(5);
    expect(owned(onlyPayments)).toEqual([0, 1].map((p) => `${topicB}:${p}`));
  });
});

describe("validation, as GroupCoordinatorService and GroupMetadataManager check", () => {
  it("answers INVALID_REQUEST with Kafka's messages", async () => {
    expect(await hb({ groupId: "g2", memberId: "", memberEpoch: 0 })).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: "MemberId can't be empty.",
    });
    expect(await hb({ groupId: " ", memberId: "x", memberEpoch: 0 })).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: "GroupId can't be empty.",
    });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: 0, instanceId: "" })).toMatchObject({ errorMessage: "InstanceId can't be empty." });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: 0 })).toMatchObject({ errorMessage: "RebalanceTimeoutMs must be provided in first request." });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: 0, rebalanceTimeoutMs: 1 })).toMatchObject({
      errorMessage: "TopicPartitions must be empty when (re-)joining.",
    });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: 0, rebalanceTimeoutMs: 1, topicPartitions: [] })).toMatchObject({
      errorMessage: "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
    });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: -2 })).toMatchObject({ errorMessage: "InstanceId can't be null." });
    expect(await hb({ groupId: "g2", memberId: "x", memberEpoch: -3 })).toMatchObject({ errorMessage: "MemberEpoch is invalid." });
    expect(await join_("g2", "x", ["orders"], { serverAssignor: "sticky" })).toMatchObject({
      errorCode: ErrorCode.UNSUPPORTED_ASSIGNOR,
      errorMessage: "ServerAssignor sticky is not supported. Supported assignors: uniform, range.",
    });
    // v0: the coordinator generates the member id of a joining member.
    const v0 = await hb({ groupId: "g2", memberId: "", memberEpoch: 0, rebalanceTimeoutMs: 1000, topicPartitions: [], subscribedTopicNames: ["orders"] }, 0);
    expect(v0.errorCode).toBe(0);
    expect(v0.memberId).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });

  it("unknown groups and members, fenced epochs", async () => {
    expect(await hb({ groupId: "nope", memberId: "x", memberEpoch: 3 })).toMatchObject({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: "Consumer group nope not found.",
    });
    expect(await hb({ groupId: "g1", memberId: "ghost", memberEpoch: 3 })).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
      errorMessage: "Member ghost is not a member of group g1.",
    });
    const m1 = group("g1").members.get("m1");
    expect(m1).toBeDefined();
    expect(await hb({ groupId: "g1", memberId: "m1", memberEpoch: 99 })).toMatchObject({
      errorCode: ErrorCode.FENCED_MEMBER_EPOCH,
      errorMessage: `The consumer group member has a greater member epoch (99) than the one known by the group coordinator (${m1?.memberEpoch}). The member must abandon all its partitions and rejoin.`,
    });
    expect((await hb({ groupId: "g1", memberId: "m1", memberEpoch: 1 })).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect(await hb({ groupId: "g1", memberId: "ghost", memberEpoch: -1 })).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID });
  });

  it("group.consumer.max.size", async () => {
    for (const member of ["a", "b", "c"]) expect((await join_("full", member, ["orders"])).errorCode).toBe(0);
    expect(await join_("full", "d", ["orders"])).toMatchObject({
      errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED,
      errorMessage: "The consumer group has reached its maximum capacity of 3 members.",
    });
    // A member already in the group may rejoin.
    expect((await join_("full", "a", ["orders"])).errorCode).toBe(0);
  });

  it("an invalid regex is INVALID_REGULAR_EXPRESSION with RE2/J's description", async () => {
    expect(await join_("rx", "m", null, { subscribedTopicRegex: "(orders" })).toMatchObject({
      errorCode: ErrorCode.INVALID_REGULAR_EXPRESSION,
      errorMessage: "SubscribedTopicRegex `(orders` is not a valid regular expression: missing closing ).",
    });
  });
});

describe("static members", () => {
  it("UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID, a temporary leave (-2) and the replacement keeping the assignment", async () => {
    const s1 = await join_("st", "s1", ["payments"], { instanceId: "i1" });
    expect(s1.memberEpoch).toBe(2);
    expect(await join_("st", "s2", ["payments"], { instanceId: "i1" })).toMatchObject({
      errorCode: ErrorCode.UNRELEASED_INSTANCE_ID,
      errorMessage: "Static member s2 with instance id i1 cannot join the group because the instance id is owned by s1 member.",
    });
    expect(await hb({ groupId: "st", memberId: "s2", memberEpoch: 2, instanceId: "i1" })).toMatchObject({
      errorCode: ErrorCode.FENCED_INSTANCE_ID,
      errorMessage: "Static member s2 with instance id i1 was fenced by member s1.",
    });
    expect(await hb({ groupId: "st", memberId: "s2", memberEpoch: 2, instanceId: "i9" })).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
      errorMessage: "Instance id i9 is unknown.",
    });
    const left = await hb({ groupId: "st", memberId: "s1", memberEpoch: -2, instanceId: "i1" });
    expect(left).toMatchObject({ errorCode: 0, memberId: "s1", memberEpoch: -2 });
    expect(group("st").groupEpoch).toBe(2); // a temporary leave does not rebalance
    const s2 = await join_("st", "s2", ["payments"], { instanceId: "i1" });
    expect(s2.errorCode).toBe(0);
    expect(s2.memberEpoch).toBe(2);
    expect(owned(s2)).toEqual(owned(s1));
    expect([...group("st").members.keys()]).toEqual(["s2"]);
  });
});

describe("regular expressions (RE2/J via re2js)", () => {
  it("a regex is resolved after the heartbeat and the group rebalances onto the matching topics", async () => {
    const first = await join_("rg", "r1", null, { subscribedTopicRegex: "pay.*" });
    expect(first.errorCode).toBe(0);
    expect(owned(first)).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect([...(group("rg").resolvedRegularExpressions.get("pay.*")?.topics ?? [])]).toEqual(["payments"]);
    const next = await hb({ groupId: "rg", memberId: "r1", memberEpoch: first.memberEpoch });
    expect(next.memberEpoch).toBe(first.memberEpoch + 1);
    expect(owned(next)).toEqual([0, 1].map((p) => `${topicB}:${p}`));
    expect((await describe_("rg")).members[0]?.subscribedTopicRegex).toBe("pay.*");
  });
});

describe("topic changes", () => {
  it("partitions added to a subscribed topic rebalance the group at the next heartbeat", async () => {
    const first = await join_("grow", "g", ["payments"]);
    expect(owned(first)).toHaveLength(2);
    await broker.services.topics.createPartitions("payments", 3);
    const next = await hb({ groupId: "grow", memberId: "g", memberEpoch: first.memberEpoch });
    expect(next.memberEpoch).toBe(first.memberEpoch + 1);
    expect(owned(next)).toEqual([0, 1, 2].map((p) => `${topicB}:${p}`));
  });

  it("a topic created after the subscription is assigned once it exists", async () => {
    const first = await join_("later", "l", ["shipments"]);
    expect(owned(first)).toEqual([]);
    const created = await broker.services.topics.create("shipments", 1, {});
    const next = await hb({ groupId: "later", memberId: "l", memberEpoch: first.memberEpoch });
    expect(next.memberEpoch).toBe(first.memberEpoch + 1);
    expect(owned(next)).toEqual([`${created.id}:0`]);
  });
});

describe("offsets of a consumer group", () => {
  const commit = (memberId: string, epoch: number, version = 9, partition = 0) =>
    call(broker, offsetCommit, version, {
      groupId: "later",
      generationIdOrMemberEpoch: epoch,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: "shipments",
          topicId: "AAAAAAAAAAAAAAAAAAAAAA",
          partitions: [{ partitionIndex: partition, committedOffset: 5n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }],
        },
      ],
    });

  it("OffsetCommit checks the member and its epoch (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID, v9+ only)", async () => {
    const epoch = group("later").members.get("l")?.memberEpoch as number;
    const code = (response: Awaited<ReturnType<typeof commit>>) => response.topics[0]?.partitions[0]?.errorCode;
    expect(code(await commit("l", epoch))).toBe(ErrorCode.NONE);
    expect(code(await commit("l", epoch + 1))).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(code(await commit("nobody", epoch))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(code(await commit("l", epoch, 8))).toBe(ErrorCode.UNSUPPORTED_VERSION);
    // An older epoch may commit a partition assigned at or before it (KIP-1251): assigned at `epoch` here.
    expect(code(await commit("l", epoch - 1))).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    const fetched = await call(broker, offsetFetch, 9, {
      groupId: "",
      topics: null,
      requireStable: false,
      groups: [{ groupId: "later", memberId: "l", memberEpoch: epoch + 1, topics: null }],
    });
    expect(fetched.groups[0]?.errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    const ok = await call(broker, offsetFetch, 9, {
      groupId: "",
      topics: null,
      requireStable: false,
      groups: [{ groupId: "later", memberId: "l", memberEpoch: epoch, topics: null }],
    });
    expect(ok.groups[0]?.topics[0]?.partitions[0]?.committedOffset).toBe(5n);
  });
});

describe("consumer groups in the classic APIs", () => {
  it("ListGroups lists them as type consumer with Kafka's state names", async () => {
    const listed = await call(broker, listGroups, 5, { statesFilter: [], typesFilter: ["consumer"] });
    const g1 = listed.groups.find((g) => g.groupId === "g1");
    // m1 still has to revoke the orders partitions it left (UNREVOKED_PARTITIONS).
    expect(g1).toEqual({ groupId: "g1", protocolType: "consumer", groupState: "Reconciling", groupType: "consumer" });
    expect(listed.groups.every((g) => g.groupType === "consumer")).toBe(true);
  });

  it("JoinGroup to a non-empty consumer group makes a classic member (MEMBER_ID_REQUIRED first); Heartbeat from a consumer-protocol member UNKNOWN_MEMBER_ID", async () => {
    const joined = await call(broker, joinGroup, 9, {
      groupId: "g1",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
      reason: null,
    });
    // Online migration (group.consumer.migration.policy=bidirectional): test/unit/group-migration.test.ts.
    expect(joined.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const beat = await call(broker, classicHeartbeat, 4, { groupId: "g1", generationId: 1, memberId: "m1", groupInstanceId: null });
    expect(beat.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("LeaveGroup removes a static member of a consumer group by instance id (admin removal)", async () => {
    const response = await call(broker, leaveGroup, 5, { groupId: "st", memberId: "", members: [{ memberId: "", groupInstanceId: "i1", reason: null }] });
    expect(response.errorCode).toBe(0);
    expect(response.members).toEqual([{ memberId: "", groupInstanceId: "i1", errorCode: 0 }]);
    expect(group("st").state).toBe("Empty");
  });

  it("DeleteGroups refuses a non-empty consumer group and deletes an empty one", async () => {
    const refused = await call(broker, deleteGroups, 2, { groupsNames: ["g1", "st"] });
    expect(refused.results.map((r) => [r.groupId, r.errorCode])).toEqual([
      ["g1", ErrorCode.NON_EMPTY_GROUP],
      ["st", ErrorCode.NONE],
    ]);
    expect(broker.services.groups.group("st")).toBeUndefined();
    expect((await describe_("st")).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it("a ConsumerGroupHeartbeat to an empty classic group replaces it; a non-empty one whose protocol does not parse is not upgraded", async () => {
    const joined = await call(broker, joinGroup, 3, {
      groupId: "classic",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
      reason: null,
    });
    expect(joined.errorCode).toBe(ErrorCode.NONE);
    expect(await join_("classic", "c", ["orders"])).toMatchObject({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: "Cannot upgrade classic group classic to consumer group because the embedded consumer protocol is malformed.",
    });
    expect((await describe_("classic")).errorMessage).toBe("Group classic is not a consumer group.");
  });
});

describe("timers", () => {
  it("a member that stops heartbeating is fenced after group.consumer.session.timeout.ms", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-kip848-timer-"));
    const quick = await open(dir, ["group.consumer.session.timeout.ms=1000"]);
    try {
      await quick.services.topics.create("t", 1, {});
      await call(quick, findCoordinator, 4, { key: "", keyType: 0, coordinatorKeys: ["q"] });
      const joinQuick = (memberId: string) =>
        call(quick, consumerGroupHeartbeat, 1, {
          ...defaultConsumerGroupHeartbeatRequest(),
          groupId: "q",
          memberId,
          memberEpoch: 0,
          rebalanceTimeoutMs: 1000,
          subscribedTopicNames: ["t"],
          topicPartitions: [],
        });
      expect((await joinQuick("a")).memberEpoch).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      const q = quick.services.groups.group("q") as ConsumerGroup;
      expect(q.members.size).toBe(0);
      expect(q.state).toBe("Empty");
      expect(q.groupEpoch).toBe(3);
    } finally {
      await close(quick);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("restart", () => {
  it("every consumer group is rebuilt from __consumer_offsets as it was", async () => {
    const before = new Map<string, ConsumerGroupDescribeResponseDescribedGroup>();
    for (const id of ["g1", "full", "rg", "grow", "later"]) before.set(id, await describe_(id));
    const epochs = [...group("g1").members.values()].map((m) => [m.memberId, m.memberEpoch, m.previousMemberEpoch, m.state]);
    await close(broker);
    broker = await open(directory);
    for (const [id, described] of before) expect(await describe_(id)).toEqual(described);
    expect([...group("g1").members.values()].map((m) => [m.memberId, m.memberEpoch, m.previousMemberEpoch, m.state])).toEqual(epochs);
    // The members carry on with their epochs.
    const m1 = group("g1").members.get("m1");
    expect((await hb({ groupId: "g1", memberId: "m1", memberEpoch: m1?.memberEpoch as number })).errorCode).toBe(0);
  });
});

describe("XXH3-64 as Kafka's hash4j computes it (KIP-1101 metadata hash)", () => {
  it("matches hash4j 0.22.0 for every length class and a hash stream", () => {
    // Hashing.xxh3_64().hashBytesToLong(b) with b[i] = (byte) (i * 31 + 7), printed unsigned.
    const expected: [number, string][] = [
      [0, "3244421341483603138"],
      [3, "1582743943441612892"],
      [8, "16052704444545341486"],
      [16, "9099606716676871632"],
      [17, "2345212530088924167"],
      [128, "17954568492486910600"],
      [129, "17939920976028066042"],
      [240, "14755823527060053763"],
      [241, "809349449570470400"],
      [1025, "13880058576091512194"],
      [3000, "7977200675703330694"],
    ];
    for (const [n, hash] of expected) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 31 + 7) & 0xff;
      expect(`${n} ${xxh3(bytes)}`).toBe(`${n} ${hash}`);
    }
    const stream = xxh3Hasher().putByte(0).putLong(123456789n).putLong(-5n).putString("topic-é").putInt(3).putInt(0).putInt(1).putInt(2);
    expect(stream.getAsLong()).toBe(-1789335348319030252n);
  });
});
