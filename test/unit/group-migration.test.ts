// Online migration between the classic protocol and KIP-848 consumer groups
// (group.consumer.migration.policy, src/coordinator/group/migration.ts and consumer-group-protocol.ts)
// against the real broker services over a temp log directory, through the handlers as clients'
// requests reach them: the embedded consumer protocol's codec, the upgrade of a classic group when a
// consumer-protocol member joins (and each refusal, with Kafka's messages), classic members living in
// a consumer group (JoinGroup / SyncGroup / Heartbeat / LeaveGroup / OffsetCommit, their timers), the
// downgrade when the last consumer-protocol member leaves, and restarts rebuilding every stage from
// __consumer_offsets.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import type { ClassicGroup } from "../../src/coordinator/group/classic-group.js";
import type { ConsumerGroup } from "../../src/coordinator/group/consumer-group.js";
import {
  type ConsumerProtocolTopicPartitions,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  SchemaError,
  subscribedTopics,
} from "../../src/coordinator/group/consumer-protocol.js";
import { consumerGroupDescribe } from "../../src/handlers/group/consumer-group-describe.js";
import { consumerGroupHeartbeat } from "../../src/handlers/group/consumer-group-heartbeat.js";
import { describeGroups } from "../../src/handlers/group/describe-groups.js";
import { findCoordinator } from "../../src/handlers/group/find-coordinator.js";
import { heartbeat as classicHeartbeat } from "../../src/handlers/group/heartbeat.js";
import { joinGroup } from "../../src/handlers/group/join-group.js";
import { leaveGroup } from "../../src/handlers/group/leave-group.js";
import { listGroups } from "../../src/handlers/group/list-groups.js";
import { offsetCommit } from "../../src/handlers/group/offset-commit.js";
import { syncGroup } from "../../src/handlers/group/sync-group.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import type { ConsumerGroupDescribeResponse, ConsumerGroupDescribeResponseDescribedGroup } from "../../src/protocol/generated/consumer-group-describe.js";
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  defaultConsumerGroupHeartbeatRequest,
} from "../../src/protocol/generated/consumer-group-heartbeat.js";
import type { DescribeGroupsResponse } from "../../src/protocol/generated/describe-groups.js";
import { defaultRequestHeader } from "../../src/protocol/generated/headers.js";
import type { JoinGroupResponse } from "../../src/protocol/generated/join-group.js";
import type { SyncGroupResponse } from "../../src/protocol/generated/sync-group.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../../src/server/context.js";
import type { Handler } from "../../src/server/registry.js";
import { openServices } from "../../src/server/services.js";

const NODE_ID = 1;
const connection = new Connection(7, "PLAINTEXT", "127.0.0.1", 50_000);

interface Broker {
  services: BrokerServices;
  logs: LogManager;
  directory: string;
}

async function open(directory: string, overrides: string[] = []): Promise<Broker> {
  const { config } = loadBrokerConfig({
    overrides: [
      `log.dirs=${directory}`,
      `node.id=${NODE_ID}`,
      "offsets.topic.num.partitions=3",
      "group.consumer.assignment.interval.ms=0",
      "group.consumer.session.timeout.ms=45000",
      "group.consumer.max.size=3",
      "group.initial.rebalance.delay.ms=0",
      "group.min.session.timeout.ms=100",
      ...overrides,
    ],
  });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  const services: BrokerServices = { ...opened.services, connections: { close: () => {}, closeAfter: () => {} } };
  services.metadata.putBroker({ nodeId: NODE_ID, rack: null, endpoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }] });
  await services.groups.loaded();
  return { services, logs: opened.logs, directory };
}

async function close(broker: Broker): Promise<void> {
  broker.services.groups.close();
  broker.services.partitions.close();
  await broker.logs.close();
}

/** A broker over a fresh directory with topic "orders" (4 partitions) and __consumer_offsets. */
async function fresh(overrides: string[] = []): Promise<Broker> {
  const directory = await mkdtemp(join(tmpdir(), "sluice-migration-"));
  const opened = await open(directory, overrides);
  await opened.services.topics.create("orders", 4, {});
  await call(opened, findCoordinator, 4, { key: "", keyType: 0, coordinatorKeys: ["g"] });
  return opened;
}

async function dispose(opened: Broker): Promise<void> {
  await close(opened);
  await rm(opened.directory, { recursive: true, force: true });
}

async function call<Req, Res>(broker: Broker, handler: Handler<Req, Res>, version: number, request: Req, clientId = "test-client"): Promise<Res> {
  const header = { ...defaultRequestHeader(), requestApiKey: handler.api.apiKey, requestApiVersion: version, correlationId: 1, clientId };
  const context = new RequestContext(broker.services, connection, header, version, ANONYMOUS, Date.now());
  return (await handler.handle(context, request)) as Res;
}

/** A Java consumer's subscription: ConsumerProtocolSubscription v3 (owned partitions, generation, rack). */
function subscription(topics: string[], owned: ConsumerProtocolTopicPartitions[] = [], generationId = -1, version = 3): Buffer {
  return encodeSubscription({ topics, userData: null, ownedPartitions: owned, generationId, rackId: null }, version);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A classic member's view of its group. */
interface ClassicClient {
  memberId: string;
  generation: number;
  instanceId: string | null;
  protocols: { name: string; metadata: Buffer }[];
}

interface JoinOptions {
  memberId?: string;
  instanceId?: string | null;
  protocols?: { name: string; metadata: Buffer }[];
  protocolType?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  version?: number;
  clientId?: string;
}

function join_(broker: Broker, groupId: string, options: JoinOptions = {}): Promise<JoinGroupResponse> {
  return call(
    broker,
    joinGroup,
    options.version ?? 9,
    {
      groupId,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 30_000,
      memberId: options.memberId ?? "",
      groupInstanceId: options.instanceId ?? null,
      protocolType: options.protocolType ?? "consumer",
      protocols: options.protocols ?? [{ name: "range", metadata: subscription(["orders"]) }],
      reason: null,
    },
    options.clientId,
  );
}

function sync_(
  broker: Broker,
  groupId: string,
  client: { memberId: string; generation: number; instanceId?: string | null },
  assignments: { memberId: string; assignment: Buffer }[] = [],
  protocolName: string | null = "range",
  protocolType = "consumer",
): Promise<SyncGroupResponse> {
  return call(broker, syncGroup, 5, {
    groupId,
    generationId: client.generation,
    memberId: client.memberId,
    groupInstanceId: client.instanceId ?? null,
    protocolType,
    protocolName,
    assignments,
  });
}

async function beat(broker: Broker, groupId: string, client: { memberId: string; generation: number; instanceId?: string | null }): Promise<number> {
  const response = await call(broker, classicHeartbeat, 4, {
    groupId,
    generationId: client.generation,
    memberId: client.memberId,
    groupInstanceId: client.instanceId ?? null,
  });
  return response.errorCode;
}

/** ConsumerProtocolAssignment of `orders` partitions. */
function ordersAssignment(partitions: number[]): Buffer {
  return encodeAssignment({ assignedPartitions: [{ topic: "orders", partitions }], userData: null }, 3);
}

/** The orders partitions of a SyncGroup assignment, sorted. */
function assigned(response: SyncGroupResponse): number[] {
  expect(response.errorCode).toBe(ErrorCode.NONE);
  return decodeAssignment(response.assignment)
    .assignedPartitions.flatMap((tp) => (tp.topic === "orders" ? [...tp.partitions] : []))
    .sort((a, b) => a - b);
}

/**
 * A Stable classic group of `count` members joined together (JoinGroup v9: MEMBER_ID_REQUIRED first),
 * the leader assigning the orders partitions round the members in join order.
 */
async function classicGroup(broker: Broker, groupId: string, count: number, options: JoinOptions = {}): Promise<ClassicClient[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const first = await join_(broker, groupId, options);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    ids.push(first.memberId);
  }
  const joined = await Promise.all(ids.map((memberId) => join_(broker, groupId, { ...options, memberId })));
  for (const response of joined) expect(response.errorCode).toBe(ErrorCode.NONE);
  const generation = joined[0]?.generationId as number;
  const leader = joined[0]?.leader as string;
  const plan = new Map<string, number[]>(ids.map((id) => [id, []]));
  for (let p = 0; p < 4; p++) plan.get(ids[p % count] as string)?.push(p);
  const clients = ids.map((memberId) => ({ memberId, generation, instanceId: null, protocols: options.protocols ?? [] }));
  const synced = await Promise.all(
    clients.map((client) =>
      sync_(
        broker,
        groupId,
        client,
        client.memberId === leader ? ids.map((id) => ({ memberId: id, assignment: ordersAssignment(plan.get(id) ?? []) })) : [],
        options.protocols?.[0]?.name ?? "range",
        options.protocolType ?? "consumer",
      ),
    ),
  );
  clients.forEach((client, index) => {
    expect(assigned(synced[index] as SyncGroupResponse)).toEqual(plan.get(client.memberId));
  });
  return clients;
}

function hb(broker: Broker, request: Partial<ConsumerGroupHeartbeatRequest>): Promise<ConsumerGroupHeartbeatResponse> {
  return call(broker, consumerGroupHeartbeat, 1, { ...defaultConsumerGroupHeartbeatRequest(), ...request });
}

/** A consumer-protocol member's first heartbeat (epoch 0) subscribing to orders. */
function consumerJoin(broker: Broker, groupId: string, memberId: string, extra: Partial<ConsumerGroupHeartbeatRequest> = {}) {
  return hb(broker, { groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: ["orders"], topicPartitions: [], ...extra });
}

async function describeConsumer(broker: Broker, groupId: string): Promise<ConsumerGroupDescribeResponseDescribedGroup> {
  const response = await call<unknown, ConsumerGroupDescribeResponse>(broker, consumerGroupDescribe, 1, {
    groupIds: [groupId],
    includeAuthorizedOperations: false,
  });
  return response.groups[0] as ConsumerGroupDescribeResponseDescribedGroup;
}

async function describeClassic(broker: Broker, groupId: string) {
  const response = await call<unknown, DescribeGroupsResponse>(broker, describeGroups, 6, { groups: [groupId], includeAuthorizedOperations: false });
  return response.groups[0];
}

async function listed(broker: Broker, groupId: string) {
  const response = await call(broker, listGroups, 5, { statesFilter: [], typesFilter: [] });
  return response.groups.find((g) => g.groupId === groupId);
}

function consumerGroupOf(broker: Broker, groupId: string): ConsumerGroup {
  const group = broker.services.groups.group(groupId);
  if (group?.type !== "consumer") throw new Error(`${groupId} is not a consumer group`);
  return group;
}

function classicGroupOf(broker: Broker, groupId: string): ClassicGroup {
  const group = broker.services.groups.group(groupId);
  if (group?.type !== "classic") throw new Error(`${groupId} is not a classic group`);
  return group;
}

/** The orders partitions each member of a consumer group owns now, by member id. */
function ownership(broker: Broker, groupId: string, topicId: string): Map<string, number[]> {
  const group = consumerGroupOf(broker, groupId);
  return new Map([...group.members.values()].map((m) => [m.memberId, [...(m.assignedPartitions.get(topicId)?.keys() ?? [])].sort((a, b) => a - b)]));
}

/**
 * A classic member of a consumer group rejoins and syncs as a Java consumer does (JoinGroup with its
 * subscription listing what it owns, then SyncGroup); returns the generation and the partitions got.
 */
async function rejoin(broker: Broker, groupId: string, client: ClassicClient, owned: number[]): Promise<number[]> {
  const metadata = subscription(["orders"], owned.length > 0 ? [{ topic: "orders", partitions: owned }] : [], client.generation);
  client.protocols = [{ name: "range", metadata }];
  const joined = await join_(broker, groupId, { memberId: client.memberId, protocols: client.protocols, instanceId: client.instanceId });
  expect(joined).toMatchObject({
    errorCode: ErrorCode.NONE,
    protocolType: "consumer",
    protocolName: "range",
    leader: "",
    members: [],
    memberId: client.memberId,
  });
  client.generation = joined.generationId;
  return assigned(await sync_(broker, groupId, client));
}

describe("the embedded consumer protocol (ConsumerProtocol)", () => {
  it("subscriptions round-trip in every version; newer versions read as v3", () => {
    const full = { topics: ["b", "a"], userData: Buffer.from([1, 2]), ownedPartitions: [{ topic: "a", partitions: [3, 1] }], generationId: 7, rackId: "r1" };
    expect(decodeSubscription(encodeSubscription(full, 3))).toEqual(full);
    expect(decodeSubscription(encodeSubscription(full, 2))).toEqual({ ...full, rackId: null });
    expect(decodeSubscription(encodeSubscription(full, 1))).toEqual({ ...full, generationId: -1, rackId: null });
    expect(decodeSubscription(encodeSubscription(full, 0))).toEqual({ ...full, ownedPartitions: [], generationId: -1, rackId: null });
    const v5 = encodeSubscription(full, 3);
    v5.writeInt16BE(5, 0);
    expect(decodeSubscription(Buffer.concat([v5, Buffer.from([9, 9])]))).toEqual(full);
    expect(subscribedTopics(encodeSubscription(full, 1))).toEqual(["b", "a"]);
  });

  it("an assignment is Kafka's bytes: version, [topic, [partition]], user data", () => {
    const bytes = encodeAssignment({ assignedPartitions: [{ topic: "t", partitions: [0, 2] }], userData: null }, 1);
    expect(bytes.toString("hex")).toBe(["0001", "00000001", "0001", "74", "00000002", "00000000", "00000002", "ffffffff"].join(""));
    expect(decodeAssignment(bytes)).toEqual({ assignedPartitions: [{ topic: "t", partitions: [0, 2] }], userData: null });
    expect(encodeAssignment({ assignedPartitions: [], userData: Buffer.from("x") }, 9).readInt16BE(0)).toBe(3);
  });

  it("malformed messages are SchemaErrors with Kafka's messages", () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (caught) {
        return caught;
      }
      return undefined;
    };
    expect(error(() => decodeSubscription(Buffer.from([0])))).toMatchObject({
      name: "SchemaError",
      message: "Buffer underflow while parsing consumer protocol's header",
    });
    expect(error(() => decodeSubscription(Buffer.from([0xff, 0xff])))).toMatchObject({ message: "Unsupported subscription version: -1" });
    expect(error(() => decodeSubscription(Buffer.from([0, 1, 0, 0, 0, 1])))).toMatchObject({ message: "Malformed consumer protocol subscription" });
    expect(error(() => decodeAssignment(Buffer.from([0, 0, 0, 0])))).toBeInstanceOf(SchemaError);
    expect(subscribedTopics(Buffer.from([0, 0, 0, 0, 0, 0]))).toBeNull();
  });
});

describe("online upgrade: a consumer-protocol member joins a classic group", () => {
  let broker: Broker;
  let ordersId: string;
  beforeAll(async () => {
    broker = await fresh();
    ordersId = broker.services.metadata.topic("orders")?.id as string;
  });
  afterAll(() => dispose(broker));

  it("converts the group: classic members keep their assignment at the generation, the new member waits for partitions they release", async () => {
    const [c1] = (await classicGroup(broker, "up", 1)) as [ClassicClient];
    expect(c1.generation).toBe(1);
    const m = await consumerJoin(broker, "up", "m");
    // Group epoch = generation 1, bumped to 2 by the new member; everything is still owned at epoch 1.
    expect(m).toMatchObject({ errorCode: ErrorCode.NONE, memberId: "m", memberEpoch: 2 });
    expect(m.assignment?.topicPartitions).toEqual([]);
    expect(await listed(broker, "up")).toEqual({ groupId: "up", protocolType: "consumer", groupState: "Reconciling", groupType: "consumer" });
    expect(await describeClassic(broker, "up")).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: "Group up is not a classic group." });
    const described = await describeConsumer(broker, "up");
    expect(described).toMatchObject({ errorCode: 0, groupState: "Reconciling", groupEpoch: 2, assignmentEpoch: 2 });
    const byId = new Map(described.members.map((member) => [member.memberId, member]));
    expect(byId.get(c1.memberId)).toMatchObject({
      memberEpoch: 1,
      memberType: 0,
      clientId: "test-client",
      clientHost: "/127.0.0.1",
      subscribedTopicNames: ["orders"],
    });
    expect(byId.get(c1.memberId)?.assignment.topicPartitions).toEqual([{ topicId: ordersId, topicName: "orders", partitions: [0, 1, 2, 3] }]);
    expect(byId.get("m")).toMatchObject({ memberEpoch: 2, memberType: 1 });
    const group = consumerGroupOf(broker, "up");
    expect(group.members.get(c1.memberId)?.classicMemberMetadata?.sessionTimeoutMs).toBe(30_000);
    expect(group.numClassicProtocolMembers).toBe(1);

    // The classic member is behind the assignment epoch: it rejoins owning everything, so it must
    // revoke first (same generation, what it keeps), then rejoin for the new generation.
    expect(await beat(broker, "up", c1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const kept = await rejoin(broker, "up", c1, [0, 1, 2, 3]);
    expect(kept).toHaveLength(2);
    expect(c1.generation).toBe(1);
    expect(ownership(broker, "up", ordersId).get(c1.memberId)).toEqual(kept);
    expect(await beat(broker, "up", c1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(await rejoin(broker, "up", c1, kept)).toEqual(kept);
    expect(c1.generation).toBe(2);
    expect(await beat(broker, "up", c1)).toBe(ErrorCode.NONE);
    // The consumer-protocol member gets the partitions the classic member released.
    const next = await hb(broker, { groupId: "up", memberId: "m", memberEpoch: 2 });
    const mine = [...(next.assignment?.topicPartitions[0]?.partitions ?? [])].sort((a, b) => a - b);
    expect([...kept, ...mine].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(consumerGroupOf(broker, "up").state).toBe("Stable");
  });

  it("requests parked in the classic group are answered REBALANCE_IN_PROGRESS by the conversion", async () => {
    const [c1] = (await classicGroup(broker, "parked", 1)) as [ClassicClient];
    // A second member makes the group rebalance; its JoinGroup waits for c1 to rejoin.
    const first = await join_(broker, "parked");
    const parked = join_(broker, "parked", { memberId: first.memberId });
    await sleep(20);
    expect(classicGroupOf(broker, "parked").state).toBe("PreparingRebalance");
    expect((await consumerJoin(broker, "parked", "m")).errorCode).toBe(ErrorCode.NONE);
    expect(await parked).toMatchObject({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, memberId: first.memberId });
    // The member never completed a join: it is in the consumer group with what it had (nothing).
    const group = consumerGroupOf(broker, "parked");
    expect([...group.members.keys()].sort()).toEqual([c1.memberId, first.memberId, "m"].sort());
    expect(group.members.get(first.memberId)?.assignedPartitions.size).toBe(0);
  });

  it("refuses a group that does not use the consumer protocol, a malformed protocol, a custom assignor's user data, too many members", async () => {
    const refused = async (groupId: string, message: string) => {
      expect(await consumerJoin(broker, groupId, "m")).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: message });
      expect(broker.services.groups.group(groupId)?.type).toBe("classic");
    };
    const connect = [{ name: "default", metadata: Buffer.from("x") }];
    await classicGroup(broker, "connect", 1, { protocolType: "connect", protocols: connect });
    await refused("connect", "Cannot upgrade classic group connect to consumer group because the group does not use the consumer embedded protocol.");

    await classicGroup(broker, "malformed", 1, { protocols: [{ name: "range", metadata: Buffer.from([0, 0, 0]) }] });
    await refused("malformed", "Cannot upgrade classic group malformed to consumer group because the embedded consumer protocol is malformed.");

    const [leader] = (await classicGroup(broker, "custom", 1)) as [ClassicClient];
    // The leader rejoins (a new generation) and hands out an assignment with user data.
    const rejoined = await join_(broker, "custom", { memberId: leader.memberId });
    const withUserData = encodeAssignment({ assignedPartitions: [{ topic: "orders", partitions: [0] }], userData: Buffer.from("sticky") });
    await sync_(broker, "custom", { memberId: leader.memberId, generation: rejoined.generationId }, [{ memberId: leader.memberId, assignment: withUserData }]);
    await refused(
      "custom",
      "Cannot upgrade classic group custom to consumer group because an unsupported custom assignor is in use. Please refer to the documentation or switch to a default assignor before re-attempting the upgrade.",
    );

    await classicGroup(broker, "big", 4);
    await refused("big", "Cannot upgrade classic group big to consumer group because the group size exceeds the consumer group maximum size.");
  });
});

describe("classic members in a consumer group", () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await fresh();
  });
  afterAll(() => dispose(broker));

  it("JoinGroup: MEMBER_ID_REQUIRED with a Kafka Uuid, then the member epoch as generation, no leader", async () => {
    expect((await consumerJoin(broker, "mixed", "m")).memberEpoch).toBe(2);
    const first = await join_(broker, "mixed", { protocols: [{ name: "range", metadata: subscription(["orders"], [], -1, 1) }] });
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const protocols = [
      { name: "range", metadata: subscription(["orders"], [], -1, 1) },
      { name: "cooperative-sticky", metadata: subscription(["orders"], [], -1, 1) },
    ];
    const joined = await join_(broker, "mixed", { memberId: first.memberId, protocols });
    // The new member's partitions are still owned by m: it gets none yet at the new epoch.
    expect(joined).toMatchObject({
      errorCode: 0,
      generationId: 3,
      protocolType: "consumer",
      protocolName: "range",
      leader: "",
      memberId: first.memberId,
      members: [],
    });
    const client = { memberId: first.memberId, generation: 3 };
    const synced = await sync_(broker, "mixed", client);
    expect(synced).toMatchObject({ errorCode: 0, protocolType: "consumer", protocolName: "range" });
    // The assignment is in the subscription's version (v1).
    expect(synced.assignment.readInt16BE(0)).toBe(1);
    expect(assigned(synced)).toEqual([]);
    expect(await beat(broker, "mixed", client)).toBe(ErrorCode.NONE);
    // m revokes; then the classic member is told to rejoin and gets its half.
    const m = await hb(broker, { groupId: "mixed", memberId: "m", memberEpoch: 2 });
    const kept = m.assignment?.topicPartitions[0]?.partitions ?? [];
    expect(kept).toHaveLength(2);
    await hb(broker, { groupId: "mixed", memberId: "m", memberEpoch: m.memberEpoch, topicPartitions: m.assignment?.topicPartitions ?? [] });
    expect(await beat(broker, "mixed", client)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await join_(broker, "mixed", { memberId: client.memberId, protocols });
    client.generation = rejoined.generationId;
    expect(assigned(await sync_(broker, "mixed", client))).toHaveLength(2);
    expect(await beat(broker, "mixed", client)).toBe(ErrorCode.NONE);
    expect(consumerGroupOf(broker, "mixed").state).toBe("Stable");
    expect((await describeConsumer(broker, "mixed")).members.map((member) => member.memberType).sort()).toEqual([0, 1]);
  });

  it("JoinGroup refusals: protocols no classic member supports, another protocol type, a malformed subscription", async () => {
    const code = async (options: JoinOptions) => (await join_(broker, "mixed", { version: 3, ...options })).errorCode;
    expect(await code({ protocols: [{ name: "roundrobin", metadata: subscription(["orders"]) }] })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await code({ protocolType: "connect" })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await code({ protocols: [{ name: "range", metadata: Buffer.from([0, 0, 0]) }] })).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(consumerGroupOf(broker, "mixed").members.size).toBe(2);
  });

  it("SyncGroup and Heartbeat check the member, its generation and protocol", async () => {
    const group = consumerGroupOf(broker, "mixed");
    const classic = [...group.members.values()].find((member) => member.useClassicProtocol);
    const client = { memberId: classic?.memberId as string, generation: classic?.memberEpoch as number };
    expect((await sync_(broker, "mixed", { ...client, generation: client.generation + 1 })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await sync_(broker, "mixed", client, [], "roundrobin")).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await sync_(broker, "mixed", { memberId: "m", generation: group.members.get("m")?.memberEpoch as number })).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect((await sync_(broker, "mixed", { memberId: "nobody", generation: 1 })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await beat(broker, "mixed", { ...client, generation: 1 })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await beat(broker, "mixed", { memberId: "m", generation: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await beat(broker, "mixed", client)).toBe(ErrorCode.NONE);
  });

  it("OffsetCommit takes the member epoch as generation (ILLEGAL_GENERATION when newer), from any version", async () => {
    const classic = [...consumerGroupOf(broker, "mixed").members.values()].find((member) => member.useClassicProtocol);
    const commit = (generation: number, version: number) =>
      call(broker, offsetCommit, version, {
        groupId: "mixed",
        generationIdOrMemberEpoch: generation,
        memberId: classic?.memberId as string,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: "orders",
            topicId: "AAAAAAAAAAAAAAAAAAAAAA",
            partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }],
          },
        ],
      });
    const code = async (generation: number, version: number) => (await commit(generation, version)).topics[0]?.partitions[0]?.errorCode;
    expect(await code(classic?.memberEpoch as number, 8)).toBe(ErrorCode.NONE);
    expect(await code((classic?.memberEpoch as number) + 1, 8)).toBe(ErrorCode.ILLEGAL_GENERATION);
  });

  it("LeaveGroup fences the classic member; the consumer-protocol member gets everything", async () => {
    const classic = [...consumerGroupOf(broker, "mixed").members.values()].find((member) => member.useClassicProtocol);
    const epoch = consumerGroupOf(broker, "mixed").groupEpoch;
    const left = await call(broker, leaveGroup, 5, {
      groupId: "mixed",
      memberId: "",
      members: [
        { memberId: classic?.memberId as string, groupInstanceId: null, reason: "bye" },
        { memberId: "nobody", groupInstanceId: null, reason: null },
      ],
    });
    expect(left.members.map((member) => member.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    const group = consumerGroupOf(broker, "mixed");
    expect([...group.members.keys()]).toEqual(["m"]);
    expect(group.groupEpoch).toBe(epoch + 1);
    expect(group.numClassicProtocolMembers).toBe(0);
  });

  it("a classic member's session is its JoinGroup session timeout; one that never syncs is fenced after its rebalance timeout", async () => {
    expect((await consumerJoin(broker, "timers", "m")).errorCode).toBe(0);
    const silent = await join_(broker, "timers", { version: 3, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 300 });
    const lazy = await join_(broker, "timers", { version: 3, sessionTimeoutMs: 300, rebalanceTimeoutMs: 30_000 });
    expect([...consumerGroupOf(broker, "timers").members.keys()].sort()).toEqual(["m", lazy.memberId, silent.memberId].sort());
    await sleep(150);
    // lazy syncs (its session goes on), then stops heartbeating; silent never syncs.
    expect((await sync_(broker, "timers", { memberId: lazy.memberId, generation: lazy.generationId })).errorCode).toBe(0);
    await sleep(600);
    expect([...consumerGroupOf(broker, "timers").members.keys()]).toEqual(["m"]);
  });

  it("a classic member told to rejoin is fenced when it does not within its rebalance timeout", async () => {
    const joined = await join_(broker, "rejoin", { version: 3, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 400 });
    await sync_(broker, "rejoin", { memberId: joined.memberId, generation: joined.generationId });
    // A consumer-protocol member joins: the classic member is behind the new assignment epoch.
    await consumerJoin(broker, "rejoin", "m");
    expect(await beat(broker, "rejoin", { memberId: joined.memberId, generation: joined.generationId })).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await sleep(200);
    // Heartbeats do not postpone the rejoin deadline.
    expect(await beat(broker, "rejoin", { memberId: joined.memberId, generation: joined.generationId })).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await sleep(400);
    expect([...consumerGroupOf(broker, "rejoin").members.keys()]).toEqual(["m"]);
  });
});

describe("online downgrade: the last consumer-protocol member leaves", () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await fresh();
  });
  afterAll(() => dispose(broker));

  /** A consumer group of one consumer-protocol member "m" and `count` reconciled classic members. */
  async function mixedGroup(groupId: string, count: number): Promise<ClassicClient[]> {
    await consumerJoin(broker, groupId, "m");
    const clients: ClassicClient[] = [];
    for (let i = 0; i < count; i++) {
      const joined = await join_(broker, groupId, { version: 3 });
      clients.push({ memberId: joined.memberId, generation: joined.generationId, instanceId: null, protocols: [] });
    }
    // Reconcile as clients do: m acknowledges what it owns, the classic members rejoin when told to.
    const assignedToM = consumerGroupOf(broker, groupId).members.get("m")?.assignedPartitions ?? new Map();
    let mOwned = [...assignedToM].map(([topicId, partitions]) => ({ topicId, partitions: [...partitions.keys()] }));
    for (let round = 0; round < 5; round++) {
      const m = consumerGroupOf(broker, groupId).members.get("m");
      const response = await hb(broker, { groupId, memberId: "m", memberEpoch: m?.memberEpoch as number, topicPartitions: mOwned });
      if (response.assignment !== null) mOwned = response.assignment.topicPartitions;
      for (const client of clients) {
        if ((await beat(broker, groupId, client)) === ErrorCode.REBALANCE_IN_PROGRESS) await rejoin(broker, groupId, client, []);
      }
    }
    expect(consumerGroupOf(broker, groupId).state).toBe("Stable");
    return clients;
  }

  it("converts the group to a classic group that rebalances; the members rejoin it as a classic group", async () => {
    const [c1, c2] = (await mixedGroup("down", 2)) as [ClassicClient, ClassicClient];
    const before = consumerGroupOf(broker, "down");
    const epoch = before.groupEpoch;
    const targets = new Map([c1, c2].map((c) => [c.memberId, [...(before.targetAssignmentOf(c.memberId).values().next().value ?? [])].sort()]));
    const left = await hb(broker, { groupId: "down", memberId: "m", memberEpoch: -1 });
    expect(left).toMatchObject({ errorCode: 0, memberId: "m", memberEpoch: -1 });
    expect(before.state).toBe("Dead");
    const classic = classicGroupOf(broker, "down");
    expect(classic).toMatchObject({ state: "PreparingRebalance", generationId: epoch, protocolType: "consumer", protocolName: "range" });
    // Each classic member's assignment is its target assignment, serialized for it.
    for (const client of [c1, c2]) {
      const member = classic.members.get(client.memberId);
      expect(
        decodeAssignment(member?.assignment as Buffer)
          .assignedPartitions[0]?.partitions.slice()
          .sort() ?? [],
      ).toEqual(targets.get(client.memberId));
    }
    expect(await listed(broker, "down")).toEqual({ groupId: "down", protocolType: "consumer", groupState: "PreparingRebalance", groupType: "classic" });
    expect((await describeConsumer(broker, "down")).errorMessage).toBe("Group down is not a consumer group.");
    expect(await describeClassic(broker, "down")).toMatchObject({ errorCode: 0, groupState: "PreparingRebalance", protocolType: "consumer" });
    // The members heartbeat at their generation (the group epoch): rebalance, rejoin, sync.
    expect(await beat(broker, "down", c1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const joins = await Promise.all([c1, c2].map((c) => join_(broker, "down", { memberId: c.memberId, version: 5 })));
    for (const joined of joins) expect(joined).toMatchObject({ errorCode: 0, generationId: epoch + 1, protocolName: "range" });
    const leader = joins[0]?.leader as string;
    expect(joins.find((j) => j.memberId === leader)?.members).toHaveLength(2);
    const synced = await Promise.all(
      [c1, c2].map((c) =>
        sync_(
          broker,
          "down",
          { memberId: c.memberId, generation: epoch + 1 },
          c.memberId === leader
            ? [
                { memberId: c1.memberId, assignment: ordersAssignment([0, 1]) },
                { memberId: c2.memberId, assignment: ordersAssignment([2, 3]) },
              ]
            : [],
        ),
      ),
    );
    expect(synced.map(assigned)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(classicGroupOf(broker, "down").state).toBe("Stable");
    // And the group goes back up when a consumer-protocol member joins again.
    expect((await consumerJoin(broker, "down", "m2")).errorCode).toBe(0);
    expect(consumerGroupOf(broker, "down").members.size).toBe(3);
  });

  it("a session timeout of the consumer-protocol member downgrades too; a restart loads the classic group", async () => {
    const quick = await fresh(["group.consumer.session.timeout.ms=300", "group.consumer.min.session.timeout.ms=100"]);
    try {
      await consumerJoin(quick, "expired", "m");
      const joined = await join_(quick, "expired", { version: 3 });
      await sync_(quick, "expired", { memberId: joined.memberId, generation: joined.generationId });
      // Only the classic member heartbeats.
      for (let i = 0; i < 6; i++) {
        await sleep(100);
        await beat(quick, "expired", { memberId: joined.memberId, generation: joined.generationId });
      }
      const classic = classicGroupOf(quick, "expired");
      expect([...classic.members.keys()]).toEqual([joined.memberId]);
      const generation = classic.generationId;
      await close(quick);
      const reopened = await open(quick.directory, ["group.consumer.session.timeout.ms=300", "group.consumer.min.session.timeout.ms=100"]);
      quick.services = reopened.services;
      quick.logs = reopened.logs;
      expect(classicGroupOf(quick, "expired")).toMatchObject({ state: "Stable", generationId: generation, protocolName: "range" });
      expect([...classicGroupOf(quick, "expired").members.keys()]).toEqual([joined.memberId]);
    } finally {
      await dispose(quick);
    }
  });

  it("a classic static member replacing the only consumer-protocol static member downgrades at its JoinGroup", async () => {
    await consumerJoin(broker, "static", "m", { instanceId: "i1" });
    const classicMember = await join_(broker, "static", { version: 3 });
    await sync_(broker, "static", { memberId: classicMember.memberId, generation: classicMember.generationId });
    // m's instance comes back with the classic protocol under a new member id.
    const replaced = await join_(broker, "static", { version: 5, instanceId: "i1" });
    expect(replaced.errorCode).toBe(ErrorCode.NONE);
    const classic = classicGroupOf(broker, "static");
    expect(classic.staticMemberId("i1")).toBe(replaced.memberId);
    expect([...classic.members.keys()].sort()).toEqual([classicMember.memberId, replaced.memberId].sort());
    expect(classic.members.has("m")).toBe(false);
  });

  it("no downgrade while the policy does not allow it or the classic group would be too big", async () => {
    const upgradeOnly = await fresh(["group.consumer.migration.policy=upgrade"]);
    const small = await fresh(["group.max.size=1"]);
    try {
      for (const b of [upgradeOnly, small]) {
        await consumerJoin(b, "stay", "m");
        await join_(b, "stay", { version: 3 });
        await join_(b, "stay", { version: 3 });
        await hb(b, { groupId: "stay", memberId: "m", memberEpoch: -1 });
        expect(consumerGroupOf(b, "stay").members.size).toBe(2);
        expect(consumerGroupOf(b, "stay").numClassicProtocolMembers).toBe(2);
      }
    } finally {
      await dispose(upgradeOnly);
      await dispose(small);
    }
  });
});

describe("group.consumer.migration.policy", () => {
  it("disabled: no upgrade, and classic members may not join a consumer group", async () => {
    const disabled = await fresh(["group.consumer.migration.policy=disabled"]);
    try {
      await classicGroup(disabled, "c", 1);
      expect(await consumerJoin(disabled, "c", "m")).toMatchObject({
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: "Cannot upgrade classic group c to consumer group because online upgrade is disabled.",
      });
      await consumerJoin(disabled, "k", "m");
      expect((await join_(disabled, "k")).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    } finally {
      await dispose(disabled);
    }
  });

  it("downgrade: no upgrade, but classic members may join a consumer group", async () => {
    const downgradeOnly = await fresh(["group.consumer.migration.policy=downgrade"]);
    try {
      await classicGroup(downgradeOnly, "c", 1);
      expect((await consumerJoin(downgradeOnly, "c", "m")).errorMessage).toBe(
        "Cannot upgrade classic group c to consumer group because online upgrade is disabled.",
      );
      await consumerJoin(downgradeOnly, "k", "m");
      expect((await join_(downgradeOnly, "k", { version: 3 })).errorCode).toBe(ErrorCode.NONE);
    } finally {
      await dispose(downgradeOnly);
    }
  });
});

describe("restart", () => {
  it("a consumer group with classic members is rebuilt from __consumer_offsets, the classic members with their protocols", async () => {
    const broker = await fresh();
    try {
      const [c1] = (await classicGroup(broker, "r", 2)) as [ClassicClient, ClassicClient];
      await consumerJoin(broker, "r", "m");
      const before = await describeConsumer(broker, "r");
      const protocols = consumerGroupOf(broker, "r").members.get(c1.memberId)?.classicMemberMetadata;
      await close(broker);
      const reopened = await open(broker.directory);
      broker.services = reopened.services;
      broker.logs = reopened.logs;
      expect(await describeConsumer(broker, "r")).toEqual(before);
      expect(consumerGroupOf(broker, "r").members.get(c1.memberId)?.classicMemberMetadata).toEqual(protocols);
      expect(consumerGroupOf(broker, "r").numClassicProtocolMembers).toBe(2);
      // The classic member carries on in the reloaded group.
      expect(await beat(broker, "r", c1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    } finally {
      await dispose(broker);
    }
  });
});
