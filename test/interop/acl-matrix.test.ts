// A differential ACL matrix against Apache Kafka 4.4.0: the real broker and Sluice, configured the
// same way (StandardAuthorizer, SASL_PLAINTEXT with PLAIN users, super.users=User:admin,
// allow.everyone.if.no.acl.found=false), get the same topics, groups and ACL bindings (literal,
// prefixed, the "*" topic, DENY over ALLOW, a User:* principal, host-restricted bindings), then
// every user runs the same raw protocol requests (produce, fetch, metadata, topic admin, configs,
// groups and offsets, idempotent and transactional produce, ACL and cluster APIs) against both,
// from 127.0.0.1 and one of them from 127.0.0.2 too. What each answers (error codes, which
// topics and groups are listed, authorized operations) must be the same. Then Kafka's own Java
// transactional producer and group consumer, as three of the users, must succeed and fail alike.
// Run with ACL_MATRIX_PRINT=1 to see every outcome.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { AclOperation as Op, PatternType, Permission, ResourceType, STANDARD_AUTHORIZER } from "../../src/security/acl.js";
import { TestClient } from "../helpers/client.js";
import { MemberProcess } from "../helpers/groups.js";
import { freePort, type KafkaBroker, spawnJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { type TxnAnswer, TxnClient } from "../helpers/transactions.js";

const PASSWORDS: Record<string, string> = { admin: "admin-secret", alice: "alice-secret", bob: "bob-secret", carol: "carol-secret", dave: "dave-secret" };
const JAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(PASSWORDS)
  .map(([user, password]) => `user_${user}="${password}"`)
  .join(" ")};`;
const SECURITY = {
  "sasl.enabled.mechanisms": "PLAIN",
  "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
  "authorizer.class.name": STANDARD_AUTHORIZER,
  // The PLAINTEXT listener (Kafka's inter-broker and controller traffic) is ANONYMOUS.
  "super.users": "User:admin;User:ANONYMOUS",
  "auto.create.topics.enable": true,
  "num.partitions": 1,
  "group.initial.rebalance.delay.ms": 0,
};

const TOPICS = [
  "orders",
  "orders-eu",
  "orders-secret",
  "public",
  "shared",
  "bob-data",
  "orders-del-alice",
  "orders-del-bob",
  "orders-del-carol",
  "orders-del-dave",
];

type Binding = [resourceType: number, name: string, pattern: number, principal: string, host: string, operation: number, permission: number];
const { TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID } = ResourceType;
const { LITERAL, PREFIXED } = PatternType;
const { ALLOW, DENY } = Permission;
const ACLS: Binding[] = [
  // alice: her prefixed topics, except that she may not read orders-secret (DENY wins).
  [TOPIC, "orders", PREFIXED, "User:alice", "*", Op.WRITE, ALLOW],
  [TOPIC, "orders", PREFIXED, "User:alice", "*", Op.READ, ALLOW],
  [TOPIC, "orders", PREFIXED, "User:alice", "*", Op.CREATE, ALLOW],
  [TOPIC, "orders", PREFIXED, "User:alice", "*", Op.DELETE, ALLOW],
  [TOPIC, "orders-secret", LITERAL, "User:alice", "*", Op.READ, DENY],
  [GROUP, "alice-", PREFIXED, "User:alice", "*", Op.READ, ALLOW],
  // READ implies DESCRIBE, but a DENY of DESCRIBE wins: she joins alice-g2 but does not see it listed.
  [GROUP, "alice-g2", LITERAL, "User:alice", "*", Op.DESCRIBE, DENY],
  [TRANSACTIONAL_ID, "alice-tx", LITERAL, "User:alice", "*", Op.WRITE, ALLOW],
  [TRANSACTIONAL_ID, "alice-tx2", LITERAL, "User:alice", "*", Op.DESCRIBE, ALLOW],
  // she describes open-tx (its topics but those she may describe).
  [TRANSACTIONAL_ID, "open-tx", LITERAL, "User:alice", "*", Op.DESCRIBE, ALLOW],
  // idempotent writes without describing the cluster: its authorized operations stay 0.
  [CLUSTER, "kafka-cluster", LITERAL, "User:alice", "*", Op.IDEMPOTENT_WRITE, ALLOW],
  // everyone may read public; nobody writes orders-eu (a prefixed DENY for User:*); anyone may
  // describe bob-data from 127.0.0.2.
  [TOPIC, "public", LITERAL, "User:*", "*", Op.READ, ALLOW],
  [TOPIC, "orders-eu", PREFIXED, "User:*", "*", Op.WRITE, DENY],
  [TOPIC, "bob-data", LITERAL, "User:*", "127.0.0.2", Op.DESCRIBE, ALLOW],
  // bob: everything on every topic ("*"), but never writing public; describing one of alice's groups.
  [TOPIC, "*", LITERAL, "User:bob", "*", Op.ALL, ALLOW],
  [TOPIC, "public", LITERAL, "User:bob", "*", Op.WRITE, DENY],
  [GROUP, "alice-g1", LITERAL, "User:bob", "*", Op.DESCRIBE, ALLOW],
  [TRANSACTIONAL_ID, "*", LITERAL, "User:bob", "*", Op.ALL, ALLOW],
  // carol: configs, cluster create/describe, idempotent writes; writes shared only from 127.0.0.1.
  [TOPIC, "shared", LITERAL, "User:carol", "*", Op.DESCRIBE_CONFIGS, ALLOW],
  [TOPIC, "orders", LITERAL, "User:carol", "*", Op.ALTER_CONFIGS, ALLOW],
  [TOPIC, "shared", LITERAL, "User:carol", "127.0.0.1", Op.WRITE, ALLOW],
  [TOPIC, "shared", LITERAL, "User:carol", "127.0.0.2", Op.READ, ALLOW],
  [TOPIC, "public", LITERAL, "User:carol", "127.0.0.2", Op.READ, DENY],
  [CLUSTER, "kafka-cluster", LITERAL, "User:carol", "*", Op.CREATE, ALLOW],
  [CLUSTER, "kafka-cluster", LITERAL, "User:carol", "*", Op.DESCRIBE, ALLOW],
  [CLUSTER, "kafka-cluster", LITERAL, "User:carol", "*", Op.IDEMPOTENT_WRITE, ALLOW],
  [GROUP, "*", LITERAL, "User:carol", "127.0.0.2", Op.READ, ALLOW],
  [GROUP, "alice-g1", LITERAL, "User:carol", "127.0.0.2", Op.DELETE, ALLOW],
  // dave has none: allow.everyone.if.no.acl.found=false refuses him everything.
];

/**
 * With allow.everyone.if.no.acl.found=true: a resource without bindings is everyone's; one with any
 * binding (an ALLOW for someone else, a DENY) is not.
 */
const ACLS_OPEN: Binding[] = [
  ACLS[0] as Binding,
  [TOPIC, "orders", PREFIXED, "User:alice", "*", Op.READ, ALLOW],
  [TOPIC, "public", LITERAL, "User:bob", "*", Op.WRITE, DENY],
  [TOPIC, "shared", LITERAL, "User:carol", "127.0.0.2", Op.READ, DENY],
  [GROUP, "alice-", PREFIXED, "User:alice", "*", Op.READ, ALLOW],
  [TRANSACTIONAL_ID, "alice-tx", LITERAL, "User:alice", "*", Op.WRITE, ALLOW],
  [CLUSTER, "kafka-cluster", LITERAL, "User:carol", "*", Op.DESCRIBE, ALLOW],
];

/** Who runs the matrix: a user, from an address. */
const ACTORS: { user: string; from: string }[] = [
  { user: "alice", from: "127.0.0.1" },
  { user: "bob", from: "127.0.0.1" },
  { user: "carol", from: "127.0.0.1" },
  { user: "carol", from: "127.0.0.2" },
  { user: "dave", from: "127.0.0.1" },
  { user: "admin", from: "127.0.0.1" },
];

interface Target {
  name: string;
  saslPort: number;
  /** The matrix's topics' ids on this broker (prepare() fills it in). */
  topicIds: Record<string, string>;
}

interface Pair {
  kafka?: KafkaBroker;
  sluice?: SluiceBroker;
  targets: Target[];
}

/** Kafka and Sluice, configured alike (`settings` on top of SECURITY), with the world prepared. */
async function startPair(settings: Record<string, string | number | boolean>, acls: Binding[]): Promise<Pair> {
  const [kafkaPlain, kafkaController, kafkaSasl, sluicePlain, sluiceSasl] = await distinctPorts(5);
  const pair: Pair = { targets: [] };
  const startingKafka = startKafka({
    port: kafkaPlain,
    controllerPort: kafkaController,
    properties: {
      ...SECURITY,
      ...settings,
      listeners: `PLAINTEXT://127.0.0.1:${kafkaPlain},CONTROLLER://127.0.0.1:${kafkaController},SASL_PLAINTEXT://127.0.0.1:${kafkaSasl}`,
      "advertised.listeners": `PLAINTEXT://127.0.0.1:${kafkaPlain},CONTROLLER://127.0.0.1:${kafkaController},SASL_PLAINTEXT://127.0.0.1:${kafkaSasl}`,
      "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
    },
  }).then((broker) => {
    pair.kafka = broker;
  });
  const startingSluice = startSluice({
    port: sluicePlain,
    overrides: {
      ...SECURITY,
      ...settings,
      listeners: `PLAINTEXT://127.0.0.1:${sluicePlain},SASL_PLAINTEXT://127.0.0.1:${sluiceSasl}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
    },
  }).then((broker) => {
    pair.sluice = broker;
  });
  try {
    await Promise.all([startingKafka, startingSluice]);
    pair.targets.push({ name: "kafka", saslPort: kafkaSasl, topicIds: {} }, { name: "sluice", saslPort: sluiceSasl, topicIds: {} });
    await Promise.all(pair.targets.map((target) => prepare(target, acls)));
  } catch (error) {
    await stopPair(pair);
    throw error;
  }
  return pair;
}

async function stopPair(pair: Pair): Promise<void> {
  await Promise.all([pair.kafka?.kill(), pair.sluice?.kill()]);
  for (const workDir of [pair.kafka?.workDir, pair.sluice?.workDir]) if (workDir) await rm(workDir, { recursive: true, force: true });
}

async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

async function login(target: Target, user: string, from = "127.0.0.1"): Promise<TestClient> {
  const client = await TestClient.connect(target.saslPort, "127.0.0.1", from);
  await client.request(17, 1, { mechanism: "PLAIN" });
  const answer = await client.request<{ errorCode: number }>(36, 2, { authBytes: Buffer.from(`\u0000${user}\u0000${PASSWORDS[user]}`) });
  if (answer.errorCode !== ErrorCode.NONE) throw new Error(`${target.name}: SASL/PLAIN as ${user} failed (${answer.errorCode})`);
  return client;
}

const RETRIABLE = new Set<number>([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR]);

/** Topics, ACLs, coordinators loaded, committed offsets for two groups: the same on both brokers. */
async function prepare(target: Target, bindings: Binding[]): Promise<void> {
  const admin = await login(target, "admin");
  try {
    const created = await admin.request<{ topics: { name: string; topicId: string; errorCode: number }[] }>(19, 7, {
      topics: TOPICS.map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 30_000,
      validateOnly: false,
    });
    expect(created.topics.filter((t) => t.errorCode !== ErrorCode.NONE)).toEqual([]);
    for (const topic of created.topics) target.topicIds[topic.name] = topic.topicId;
    const acls = await admin.request<{ results: { errorCode: number; errorMessage: string | null }[] }>(30, 3, {
      creations: bindings.map(([resourceType, resourceName, resourcePatternType, principal, host, operation, permissionType]) => ({
        resourceType,
        resourceName,
        resourcePatternType,
        principal,
        host,
        operation,
        permissionType,
      })),
    });
    expect(acls.results.filter((r) => r.errorCode !== ErrorCode.NONE)).toEqual([]);
    // Kafka's bindings reach its authorizer through the metadata log: wait until it lists them all.
    for (let attempt = 0; ; attempt++) {
      const described = await admin.request<{ errorCode: number; resources: { acls: unknown[] }[] }>(29, 3, {
        resourceTypeFilter: ResourceType.ANY,
        resourceNameFilter: null,
        patternTypeFilter: PatternType.ANY,
        principalFilter: null,
        hostFilter: null,
        operation: Op.ANY,
        permissionType: Permission.ANY,
      });
      if (described.resources.reduce((sum, r) => sum + r.acls.length, 0) === bindings.length) break;
      if (attempt > 300) throw new Error(`${target.name}: the ACLs did not show up`);
      await sleep(100);
    }
    // Load the coordinators (Kafka creates __consumer_offsets and __transaction_state on demand).
    for (const [keyType, key] of [
      [0, "alice-g1"],
      [1, "alice-tx"],
    ] as const) {
      for (let attempt = 0; ; attempt++) {
        const found = await admin.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType, coordinatorKeys: [key] });
        const errorCode = found.coordinators[0]?.errorCode ?? -1;
        if (errorCode === ErrorCode.NONE) break;
        if (!RETRIABLE.has(errorCode) || attempt > 300) throw new Error(`${target.name}: FindCoordinator ${key}: ${errorCode}`);
        await sleep(100);
      }
    }
    // Kafka's producer id manager gets its first block from the controller: wait for it.
    for (let attempt = 0; ; attempt++) {
      const init = await admin.request<{ errorCode: number }>(22, 4, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      if (init.errorCode === ErrorCode.NONE) break;
      if (!RETRIABLE.has(init.errorCode) || attempt > 300) throw new Error(`${target.name}: InitProducerId: ${init.errorCode}`);
      await sleep(100);
    }
    // The transaction coordinator answers NOT_COORDINATOR until its partition is loaded: make the
    // matrix's transactional ids once (the same on both brokers) until it answers.
    for (const transactionalId of ["alice-tx", "alice-tx2", "other-tx", "bob-tx-1"]) {
      for (let attempt = 0; ; attempt++) {
        const init = await admin.request<{ errorCode: number }>(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
        if (init.errorCode === ErrorCode.NONE) break;
        if (!RETRIABLE.has(init.errorCode) || attempt > 300) throw new Error(`${target.name}: InitProducerId ${transactionalId}: ${init.errorCode}`);
        await sleep(100);
      }
    }
    // open-tx: a transaction left open on orders and bob-data (its timeout outlasts the matrix).
    for (let attempt = 0; ; attempt++) {
      const init = await admin.request<{ errorCode: number; producerId: bigint; producerEpoch: number }>(22, 4, {
        transactionalId: "open-tx",
        transactionTimeoutMs: 300_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      if (init.errorCode === ErrorCode.NONE) {
        const added = await admin.request<{ resultsByTopicV3AndBelow: { resultsByPartition: { partitionErrorCode: number }[] }[] }>(24, 3, {
          v3AndBelowTransactionalId: "open-tx",
          v3AndBelowProducerId: init.producerId,
          v3AndBelowProducerEpoch: init.producerEpoch,
          v3AndBelowTopics: ["orders", "bob-data"].map((name) => ({ name, partitions: [0] })),
        });
        const errors = added.resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((p) => p.partitionErrorCode));
        if (errors.some((e) => e !== ErrorCode.NONE)) throw new Error(`${target.name}: AddPartitionsToTxn open-tx: ${errors}`);
        break;
      }
      if (!RETRIABLE.has(init.errorCode) || attempt > 300) throw new Error(`${target.name}: InitProducerId open-tx: ${init.errorCode}`);
      await sleep(100);
    }
    // A KIP-848 member of alice-g3 (alive for the session timeout, 45 s) with bob-data assigned:
    // describing the group needs DESCRIBE on bob-data too.
    for (let attempt = 0; ; attempt++) {
      const joined = await admin.request<{ errorCode: number }>(68, 0, {
        groupId: "alice-g3",
        memberId: "",
        memberEpoch: 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: 30_000,
        subscribedTopicNames: ["bob-data"],
        serverAssignor: null,
        topicPartitions: [],
      });
      if (joined.errorCode === ErrorCode.NONE) break;
      if (!RETRIABLE.has(joined.errorCode) || attempt > 300) throw new Error(`${target.name}: ConsumerGroupHeartbeat: ${joined.errorCode}`);
      await sleep(100);
    }
    for (let attempt = 0; ; attempt++) {
      const described = await admin.request<{ groups: { members: { targetAssignment: { topicPartitions: { topicName: string }[] } }[] }[] }>(69, 0, {
        groupIds: ["alice-g3"],
        includeAuthorizedOperations: false,
      });
      if (described.groups[0]?.members.some((m) => m.targetAssignment.topicPartitions.some((tp) => tp.topicName === "bob-data"))) break;
      if (attempt > 300) throw new Error(`${target.name}: alice-g3 got no assignment`);
      await sleep(100);
    }
    for (const [groupId, topics] of [
      ["alice-g1", ["orders", "public", "bob-data"]],
      ["bob-g", ["orders"]],
    ] as const) {
      for (let attempt = 0; ; attempt++) {
        const committed = await admin.request<{ topics: { partitions: { errorCode: number }[] }[] }>(8, 8, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: "",
          groupInstanceId: null,
          retentionTimeMs: -1n,
          topics: topics.map((name) => ({
            name,
            partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: "" }],
          })),
        });
        const errors = committed.topics.flatMap((t) => t.partitions.map((p) => p.errorCode));
        if (errors.every((e) => e === ErrorCode.NONE)) break;
        if (!errors.some((e) => RETRIABLE.has(e)) || attempt > 300) throw new Error(`${target.name}: OffsetCommit ${groupId}: ${errors}`);
        await sleep(100);
      }
    }
  } finally {
    admin.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The operations: each returns what is compared (error codes, names), nothing broker-specific.

type Outcome = unknown;
type Operation = (client: TestClient, actor: { user: string; from: string }, target: Target) => Promise<Outcome>;

/** A topic id no broker has. */
const UNKNOWN_ID = Buffer.from("unknown-topic-id").toString("base64url");
/** The topics asked for by id: two of the matrix's and an unknown one. */
const BY_ID = ["orders", "bob-data", "unknown"];
const idOf = (target: Target, name: string) => (name === "unknown" ? UNKNOWN_ID : (target.topicIds[name] as string));
const nameOfId = (target: Target, id: string) =>
  id === UNKNOWN_ID ? "unknown" : (Object.entries(target.topicIds).find(([, topicId]) => topicId === id)?.[0] ?? `id ${id}`);

const errorsByTopic = (topics: { name: string; partitions: { errorCode?: number; partitionErrorCode?: number }[] }[]) =>
  Object.fromEntries(topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode ?? p.partitionErrorCode)]));
// Internal topics, and the topics the matrix creates and deletes on its way (Kafka's metadata
// cache follows its controller a moment later), are left out of listings.
/** JSON with object keys sorted (brokers list topics of a response in their own order). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
const visible = (names: string[]) => names.filter((name) => !/^(__|orders-del-|orders-auto-|orders-real-)/.test(name)).sort();
const PROBED = ["orders", "orders-eu", "orders-secret", "public", "shared", "bob-data"];
const record = (value: string) => buildRecordBatch({ records: [{ key: null, value: Buffer.from(value), timestamp: BigInt(Date.now()) }] });

const OPERATIONS: Record<string, Operation> = {
  async "Metadata (all topics)"(client) {
    const answer = await client.request<{ topics: { name: string }[] }>(3, 12, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return visible(answer.topics.map((t) => t.name));
  },
  async "Metadata (named, authorized operations)"(client) {
    const answer = await client.request<{ topics: { name: string; errorCode: number; topicAuthorizedOperations: number }[] }>(3, 12, {
      topics: [...PROBED, "no-such-topic"].map((name) => ({ name, topicId: "AAAAAAAAAAAAAAAAAAAAAA" })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: true,
    });
    return Object.fromEntries(answer.topics.map((t) => [t.name, [t.errorCode, t.topicAuthorizedOperations]]));
  },
  async "Metadata (auto-creation)"(client, { user, from }) {
    const name = `orders-auto-${user}-${from.at(-1)}`;
    const metadata = (allowAutoTopicCreation: boolean) =>
      client.request<{ topics: { errorCode: number }[] }>(3, 12, {
        topics: [{ name, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
        allowAutoTopicCreation,
        includeTopicAuthorizedOperations: false,
      });
    const first = (await metadata(true)).topics[0]?.errorCode;
    // Kafka 4.4 answers UNKNOWN_TOPIC_OR_PARTITION while its controller creates the topic, Sluice
    // creates it before answering: what is compared is whether the topic then exists.
    if (first !== ErrorCode.NONE && first !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && first !== ErrorCode.LEADER_NOT_AVAILABLE) return first;
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await metadata(false)).topics[0]?.errorCode === ErrorCode.NONE) return "created";
      await sleep(100);
    }
    return "not created";
  },
  async "Metadata v10 (cluster authorized operations)"(client) {
    const answer = await client.request<{ clusterAuthorizedOperations: number }>(3, 10, {
      topics: [],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: true,
      includeTopicAuthorizedOperations: false,
    });
    return answer.clusterAuthorizedOperations;
  },
  async "DescribeCluster (endpoint types)"(client) {
    const out: number[] = [];
    for (const endpointType of [2, 3]) {
      const answer = await client.request<{ errorCode: number }>(60, 1, { includeClusterAuthorizedOperations: false, endpointType });
      out.push(answer.errorCode);
    }
    return out;
  },
  async "Metadata (by topic id)"(client, _actor, target) {
    const answer = await client.request<{ topics: { name: string | null; topicId: string; errorCode: number }[] }>(3, 12, {
      topics: BY_ID.map((name) => ({ name: null, topicId: idOf(target, name) })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return Object.fromEntries(answer.topics.map((t) => [nameOfId(target, t.topicId), [t.errorCode, t.name === null ? "no name" : "named"]]));
  },
  async "Produce v13 (by topic id)"(client, { user }, target) {
    const answer = await client.request<{ responses: { topicId: string; partitionResponses: { errorCode: number }[] }[] }>(0, 13, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: BY_ID.map((name) => ({ name: "", topicId: idOf(target, name), partitionData: [{ index: 0, records: record(`from ${user}`) }] })),
    });
    return Object.fromEntries(answer.responses.map((t) => [nameOfId(target, t.topicId), t.partitionResponses.map((p) => p.errorCode)]));
  },
  async "Fetch v13 (by topic id)"(client, _actor, target) {
    const answer = await client.request<{ errorCode: number; responses: { topicId: string; partitions: { errorCode: number }[] }[] }>(1, 13, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: BY_ID.map((name) => ({
        topic: "",
        topicId: idOf(target, name),
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }],
      })),
      forgottenTopicsData: [],
      rackId: "",
    });
    return [answer.errorCode, Object.fromEntries(answer.responses.map((t) => [nameOfId(target, t.topicId), t.partitions.map((p) => p.errorCode)]))];
  },
  async "OffsetCommit v10 (by topic id)"(client, _actor, target) {
    const answer = await client.request<{ topics: { topicId: string; partitions: { errorCode: number }[] }[] }>(8, 10, {
      groupId: "alice-g1",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: BY_ID.map((name) => ({
        name: "",
        topicId: idOf(target, name),
        partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: "" }],
      })),
    });
    return Object.fromEntries(answer.topics.map((t) => [nameOfId(target, t.topicId), t.partitions.map((p) => p.errorCode)]));
  },
  async "OffsetFetch v10 (by topic id)"(client, _actor, target) {
    const answer = await client.request<{
      groups: { groupId: string; errorCode: number; topics: { topicId: string; partitions: { errorCode: number }[] }[] }[];
    }>(9, 10, {
      groups: [
        {
          groupId: "alice-g1",
          memberId: null,
          memberEpoch: -1,
          topics: BY_ID.map((name) => ({ name: "", topicId: idOf(target, name), partitionIndexes: [0] })),
        },
        { groupId: "bob-g", memberId: null, memberEpoch: -1, topics: null },
      ],
      requireStable: false,
    });
    return Object.fromEntries(
      answer.groups.map((g) => [
        g.groupId,
        [g.errorCode, Object.fromEntries(g.topics.map((t) => [nameOfId(target, t.topicId), t.partitions.map((p) => p.errorCode)]))],
      ]),
    );
  },
  async "DescribeCluster (authorized operations)"(client) {
    const answer = await client.request<{ errorCode: number; clusterAuthorizedOperations: number }>(60, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    return [answer.errorCode, answer.clusterAuthorizedOperations];
  },
  async Produce(client, { user }) {
    const answer = await client.request<{ responses: { name: string; partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: PROBED.map((name) => ({ name, partitionData: [{ index: 0, records: record(`from ${user}`) }] })),
    });
    return Object.fromEntries(answer.responses.map((t) => [t.name, t.partitionResponses.map((p) => p.errorCode)]));
  },
  async Fetch(client) {
    const out: Record<string, number> = {};
    for (const name of PROBED) out[name] = (await client.fetchPartition(name, 0, 0n)).errorCode;
    return out;
  },
  async ListOffsets(client) {
    const answer = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(2, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: PROBED.map((name) => ({ name, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] })),
    });
    return errorsByTopic(answer.topics);
  },
  async OffsetForLeaderEpoch(client) {
    const answer = await client.request<{ topics: { topic: string; partitions: { errorCode: number }[] }[] }>(23, 4, {
      replicaId: -1,
      topics: PROBED.map((topic) => ({ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] })),
    });
    return Object.fromEntries(answer.topics.map((t) => [t.topic, t.partitions.map((p) => p.errorCode)]));
  },
  async "CreateTopics (validate only)"(client) {
    const answer = await client.request<{ topics: { name: string; errorCode: number }[] }>(19, 7, {
      topics: ["orders-new", "other-new", "orders"].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 10_000,
      validateOnly: true,
    });
    return Object.fromEntries(answer.topics.map((t) => [t.name, t.errorCode]));
  },
  async DeleteTopics(client, { user }) {
    const answer = await client.request<{ responses: { name: string; errorCode: number }[] }>(20, 6, {
      topics: [`orders-del-${user}`, "no-such-topic"].map((name) => ({ name, topicId: "AAAAAAAAAAAAAAAAAAAAAA" })),
      timeoutMs: 10_000,
    });
    return Object.fromEntries(answer.responses.map((t) => [t.name, t.errorCode]));
  },
  async "CreatePartitions (validate only)"(client) {
    const answer = await client.request<{ results: { name: string; errorCode: number }[] }>(37, 3, {
      topics: ["orders", "public"].map((name) => ({ name, count: 2, assignments: null })),
      timeoutMs: 10_000,
      validateOnly: true,
    });
    return Object.fromEntries(answer.results.map((t) => [t.name, t.errorCode]));
  },
  async DeleteRecords(client) {
    const answer = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(21, 2, {
      topics: ["orders", "public"].map((name) => ({ name, partitions: [{ partitionIndex: 0, offset: 0n }] })),
      timeoutMs: 10_000,
    });
    return errorsByTopic(answer.topics);
  },
  async DescribeConfigs(client) {
    const answer = await client.request<{ results: { resourceType: number; resourceName: string; errorCode: number }[] }>(32, 4, {
      resources: [
        { resourceType: 2, resourceName: "orders", configurationKeys: ["retention.ms"] },
        { resourceType: 2, resourceName: "shared", configurationKeys: ["retention.ms"] },
        { resourceType: 2, resourceName: "public", configurationKeys: ["retention.ms"] },
        { resourceType: 4, resourceName: "1", configurationKeys: ["log.retention.hours"] },
        { resourceType: 8, resourceName: "1", configurationKeys: ["root"] },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    return Object.fromEntries(answer.results.map((r) => [`${r.resourceType}:${r.resourceName}`, r.errorCode]));
  },
  async "IncrementalAlterConfigs (validate only)"(client) {
    const answer = await client.request<{ responses: { resourceType: number; resourceName: string; errorCode: number }[] }>(44, 1, {
      resources: [
        { resourceType: 2, resourceName: "orders", configs: [{ name: "retention.ms", configOperation: 0, value: "3600000" }] },
        { resourceType: 2, resourceName: "shared", configs: [{ name: "retention.ms", configOperation: 0, value: "3600000" }] },
        { resourceType: 4, resourceName: "1", configs: [{ name: "leader.replication.throttled.rate", configOperation: 0, value: "1048576" }] },
      ],
      validateOnly: true,
    });
    return Object.fromEntries(answer.responses.map((r) => [`${r.resourceType}:${r.resourceName}`, r.errorCode]));
  },
  async FindCoordinator(client) {
    const groups = await client.request<{ coordinators: { key: string; errorCode: number }[] }>(10, 4, {
      keyType: 0,
      coordinatorKeys: ["alice-g1", "bob-g", "other-g"],
    });
    const txns = await client.request<{ coordinators: { key: string; errorCode: number }[] }>(10, 4, {
      keyType: 1,
      coordinatorKeys: ["alice-tx", "alice-tx2", "other-tx"],
    });
    return Object.fromEntries([...groups.coordinators, ...txns.coordinators].map((c) => [c.key, c.errorCode]));
  },
  async "JoinGroup (first join)"(client) {
    const out: Record<string, number> = {};
    for (const groupId of ["alice-g2", "other-g"]) {
      const answer = await client.request<{ errorCode: number }>(11, 9, {
        groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
        reason: null,
      });
      out[groupId] = answer.errorCode;
    }
    return out;
  },
  async OffsetCommit(client) {
    const out: Record<string, unknown> = {};
    for (const groupId of ["alice-g1", "other-g"]) {
      const answer = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(8, 8, {
        groupId,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: ["orders", "public", "bob-data", "orders-secret"].map((name) => ({
          name,
          partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: "" }],
        })),
      });
      out[groupId] = errorsByTopic(answer.topics);
    }
    return out;
  },
  async "OffsetFetch (named, v7)"(client) {
    const answer = await client.request<{ errorCode: number; topics: { name: string; partitions: { errorCode: number }[] }[] }>(9, 7, {
      groupId: "alice-g1",
      topics: ["orders", "public", "bob-data"].map((name) => ({ name, partitionIndexes: [0] })),
      requireStable: false,
    });
    return [answer.errorCode, errorsByTopic(answer.topics)];
  },
  async "OffsetFetch (all, v8 groups)"(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number; topics: { name: string }[] }[] }>(9, 8, {
      groups: ["alice-g1", "bob-g", "other-g"].map((groupId) => ({ groupId, memberId: null, memberEpoch: -1, topics: null })),
      requireStable: false,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, [g.errorCode, visible(g.topics.map((t) => t.name))]]));
  },
  async ListGroups(client) {
    const answer = await client.request<{ errorCode: number; groups: { groupId: string }[] }>(16, 4, { statesFilter: [] });
    return [answer.errorCode, answer.groups.map((g) => g.groupId).sort()];
  },
  async "DescribeGroups (authorized operations)"(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number; authorizedOperations: number }[] }>(15, 5, {
      groups: ["alice-g1", "bob-g", "other-g"],
      includeAuthorizedOperations: true,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, [g.errorCode, g.authorizedOperations]]));
  },
  async ConsumerGroupDescribe(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number }[] }>(69, 0, {
      groupIds: ["alice-g1", "other-g"],
      includeAuthorizedOperations: false,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, g.errorCode]));
  },
  async OffsetDelete(client) {
    const answer = await client.request<{ errorCode: number; topics: { name: string; partitions: { errorCode: number }[] }[] }>(47, 0, {
      groupId: "alice-g1",
      topics: ["orders", "public", "shared", "no-such-topic"].map((name) => ({ name, partitions: [{ partitionIndex: 0 }] })),
    });
    return [answer.errorCode, errorsByTopic(answer.topics)];
  },
  async DeleteGroups(client) {
    const answer = await client.request<{ results: { groupId: string; errorCode: number }[] }>(42, 2, { groupsNames: ["alice-none", "other-none"] });
    return Object.fromEntries(answer.results.map((g) => [g.groupId, g.errorCode]));
  },
  async "InitProducerId (idempotent)"(client) {
    const answer = await client.request<{ errorCode: number }>(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1n,
      producerEpoch: -1,
    });
    return answer.errorCode;
  },
  async "Transactional produce"(client, { user, from }, target) {
    const out: Record<string, unknown> = {};
    const transactionalId = user === "bob" ? `bob-tx-${from.at(-1)}` : "alice-tx";
    for (const id of [transactionalId, "alice-tx2"]) {
      const init = await client.request<{ errorCode: number; producerId: bigint; producerEpoch: number }>(22, 4, {
        transactionalId: id,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      out[`InitProducerId ${id === transactionalId ? "own" : "alice-tx2"}`] = init.errorCode;
    }
    const init = await client.request<{ errorCode: number; producerId: bigint; producerEpoch: number }>(22, 4, {
      transactionalId,
      transactionTimeoutMs: 60_000,
      producerId: -1n,
      producerEpoch: -1,
    });
    const producer = { transactionalId, producerId: init.producerId, producerEpoch: init.producerEpoch };
    const added = await client.request<{ resultsByTopicV3AndBelow: { name: string; resultsByPartition: { partitionErrorCode: number }[] }[] }>(24, 3, {
      v3AndBelowTransactionalId: transactionalId,
      v3AndBelowProducerId: producer.producerId,
      v3AndBelowProducerEpoch: producer.producerEpoch,
      v3AndBelowTopics: ["orders", "public"].map((name) => ({ name, partitions: [0] })),
    });
    out["AddPartitionsToTxn orders+public"] = errorsByTopic(added.resultsByTopicV3AndBelow.map((t) => ({ name: t.name, partitions: t.resultsByPartition })));
    const addedOrders = await client.request<{ resultsByTopicV3AndBelow: { name: string; resultsByPartition: { partitionErrorCode: number }[] }[] }>(24, 3, {
      v3AndBelowTransactionalId: transactionalId,
      v3AndBelowProducerId: producer.producerId,
      v3AndBelowProducerEpoch: producer.producerEpoch,
      v3AndBelowTopics: [{ name: "orders", partitions: [0] }],
    });
    out["AddPartitionsToTxn orders"] = errorsByTopic(addedOrders.resultsByTopicV3AndBelow.map((t) => ({ name: t.name, partitions: t.resultsByPartition })));
    const produced = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [
        {
          name: "orders",
          partitionData: [
            {
              index: 0,
              records: buildRecordBatch({
                isTransactional: true,
                producerId: producer.producerId,
                producerEpoch: producer.producerEpoch,
                baseSequence: 0,
                records: [{ value: Buffer.from("txn"), timestamp: BigInt(Date.now()) }],
              }),
            },
          ],
        },
      ],
    });
    out.Produce = produced.responses[0]?.partitionResponses[0]?.errorCode;
    for (const groupId of ["alice-g1", "other-g"]) {
      const offsets = await client.request<{ errorCode: number }>(25, 3, { ...producer, groupId });
      out[`AddOffsetsToTxn ${groupId}`] = offsets.errorCode;
    }
    const committed = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(28, 3, {
      ...producer,
      groupId: "alice-g1",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: ["orders", "bob-data"].map((name) => ({
        name,
        partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: "" }],
      })),
    });
    out["TxnOffsetCommit alice-g1"] = errorsByTopic(committed.topics);
    const other = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(28, 3, {
      transactionalId: "other-tx",
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      groupId: "other-g",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: "" }] }],
    });
    out["TxnOffsetCommit other-tx/other-g"] = errorsByTopic(other.topics);
    const byId = await client.request<{ topics: { topicId: string; partitions: { errorCode: number }[] }[] }>(28, 6, {
      ...producer,
      groupId: "alice-g1",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: BY_ID.map((name) => ({
        name: "",
        topicId: idOf(target, name),
        partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: "" }],
      })),
    });
    out["TxnOffsetCommit v6 (by topic id)"] = Object.fromEntries(byId.topics.map((t) => [nameOfId(target, t.topicId), t.partitions.map((p) => p.errorCode)]));
    const ended = await client.request<{ errorCode: number }>(26, 3, { ...producer, committed: false });
    out["EndTxn abort"] = ended.errorCode;
    const otherOffsets = await client.request<{ errorCode: number }>(25, 3, {
      transactionalId: "other-tx",
      producerId: 0n,
      producerEpoch: 0,
      groupId: "other-g",
    });
    out["AddOffsetsToTxn other-tx/other-g"] = otherOffsets.errorCode;
    return out;
  },
  async DescribeTransactions(client) {
    const answer = await client.request<{ transactionStates: { transactionalId: string; errorCode: number; topics: { topic: string }[] }[] }>(65, 0, {
      transactionalIds: ["alice-tx", "alice-tx2", "other-tx", "open-tx"],
    });
    // Only open-tx's topics: the others were just aborted, and how long their partitions stay
    // listed (PrepareAbort) is timing.
    return Object.fromEntries(
      answer.transactionStates.map((t) => [
        t.transactionalId,
        t.transactionalId === "open-tx" ? [t.errorCode, t.topics.map((topic) => topic.topic).sort()] : t.errorCode,
      ]),
    );
  },
  async ListTransactions(client) {
    const answer = await client.request<{ errorCode: number; transactionStates: { transactionalId: string }[] }>(66, 0, {
      stateFilters: [],
      producerIdFilters: [],
    });
    return [answer.errorCode, answer.transactionStates.map((t) => t.transactionalId).sort()];
  },
  async DescribeProducers(client) {
    const answer = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(61, 0, {
      topics: ["orders", "bob-data", "public", "in valid"].map((name) => ({ name, partitionIndexes: [0] })),
    });
    return errorsByTopic(answer.topics);
  },
  async "DescribeTopicPartitions (all)"(client) {
    const answer = await client.request<{ topics: { name: string; errorCode: number }[] }>(75, 0, { topics: [], responsePartitionLimit: 2000, cursor: null });
    return visible(answer.topics.map((t) => t.name));
  },
  async "DescribeTopicPartitions (named)"(client) {
    const answer = await client.request<{ topics: { name: string; errorCode: number; topicAuthorizedOperations: number }[] }>(75, 0, {
      topics: ["orders", "bob-data", "no-such-topic"].map((name) => ({ name })),
      responsePartitionLimit: 2000,
      cursor: null,
    });
    return Object.fromEntries(answer.topics.map((t) => [t.name, [t.errorCode, t.topicAuthorizedOperations]]));
  },
  async DescribeAcls(client) {
    const answer = await client.request<{ errorCode: number; resources: { acls: unknown[] }[] }>(29, 3, {
      resourceTypeFilter: ResourceType.TOPIC,
      resourceNameFilter: "public",
      patternTypeFilter: PatternType.LITERAL,
      principalFilter: null,
      hostFilter: null,
      operation: Op.ANY,
      permissionType: Permission.ANY,
    });
    return [answer.errorCode, answer.resources.reduce((sum, r) => sum + r.acls.length, 0)];
  },
  async "CreateAcls (an existing binding)"(client) {
    const [resourceType, resourceName, resourcePatternType, principal, host, operation, permissionType] = ACLS[0] as Binding; // the same binding in both worlds
    const answer = await client.request<{ results: { errorCode: number }[] }>(30, 3, {
      creations: [{ resourceType, resourceName, resourcePatternType, principal, host, operation, permissionType }],
    });
    return answer.results.map((r) => r.errorCode);
  },
  async DescribeLogDirs(client) {
    const answer = await client.request<{ errorCode: number }>(35, 4, { topics: [] });
    return answer.errorCode;
  },
  async ListPartitionReassignments(client) {
    const answer = await client.request<{ errorCode: number }>(46, 0, { timeoutMs: 10_000, topics: null });
    return answer.errorCode;
  },
  async ElectLeaders(client) {
    const answer = await client.request<{ errorCode: number }>(43, 2, {
      electionType: 0,
      topicPartitions: [{ topic: "orders", partitions: [0] }],
      timeoutMs: 10_000,
    });
    return answer.errorCode;
  },
  async "CreateTopics (real)"(client, { user, from }) {
    const answer = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [{ name: `orders-real-${user}-${from.at(-1)}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    return answer.topics[0]?.errorCode;
  },
  async "AlterConfigs (validate only)"(client) {
    const answer = await client.request<{ responses: { resourceType: number; resourceName: string; errorCode: number }[] }>(33, 1, {
      resources: [
        { resourceType: 2, resourceName: "orders", configs: [{ name: "retention.ms", value: "3600000" }] },
        { resourceType: 2, resourceName: "public", configs: [{ name: "retention.ms", value: "3600000" }] },
      ],
      validateOnly: true,
    });
    return Object.fromEntries(answer.responses.map((r) => [`${r.resourceType}:${r.resourceName}`, r.errorCode]));
  },
  async "Heartbeat, SyncGroup, LeaveGroup (no such member)"(client) {
    const out: Record<string, number> = {};
    for (const groupId of ["alice-g1", "other-g"]) {
      const member = { groupId, generationId: 1, memberId: "nobody", groupInstanceId: null };
      out[`Heartbeat ${groupId}`] = (await client.request<{ errorCode: number }>(12, 4, member)).errorCode;
      out[`SyncGroup ${groupId}`] = (
        await client.request<{ errorCode: number }>(14, 5, { ...member, protocolType: "consumer", protocolName: "range", assignments: [] })
      ).errorCode;
      const left = await client.request<{ errorCode: number; members: { errorCode: number }[] }>(13, 5, {
        groupId,
        members: [{ memberId: "nobody", groupInstanceId: null, reason: null }],
      });
      out[`LeaveGroup ${groupId}`] = left.errorCode;
    }
    return out;
  },
  async ConsumerGroupHeartbeat(client) {
    const out: Record<string, unknown> = {};
    const join = (groupId: string, subscribedTopicNames: string[]) =>
      client.request<{ errorCode: number; memberId: string | null }>(68, 0, {
        groupId,
        memberId: "",
        memberEpoch: 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: 30_000,
        subscribedTopicNames,
        serverAssignor: null,
        topicPartitions: [],
      });
    for (const [groupId, topics] of [
      ["alice-cg", ["public"]],
      ["alice-cg", ["public", "bob-data"]],
      ["other-cg", ["public"]],
    ] as const) {
      const joined = await join(groupId, [...topics]);
      out[`${groupId} ${topics.join("+")}`] = joined.errorCode;
      if (joined.errorCode === ErrorCode.NONE && joined.memberId !== null) {
        const left = await client.request<{ errorCode: number }>(68, 0, {
          groupId,
          memberId: joined.memberId,
          memberEpoch: -1,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: -1,
          subscribedTopicNames: null,
          serverAssignor: null,
          topicPartitions: null,
        });
        out[`${groupId} leave`] = left.errorCode;
      }
    }
    return out;
  },
  async "StreamsGroupHeartbeat (group READ, topology topics DESCRIBE)"(client, actor) {
    const out: Record<string, unknown> = {};
    const topology = (source: string) => ({
      epoch: 0,
      subtopologies: [
        {
          subtopologyId: "0",
          sourceTopics: [source],
          sourceTopicRegex: [],
          stateChangelogTopics: [],
          repartitionSinkTopics: [],
          repartitionSourceTopics: [],
          copartitionGroups: [],
        },
      ],
    });
    const heartbeat = (groupId: string, memberEpoch: number, source: string | null) =>
      client.request<{ errorCode: number; memberEpoch: number }>(88, 1, {
        groupId,
        memberId: `${actor.user}-${actor.from}-streams`,
        memberEpoch,
        endpointInformationEpoch: 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
        topology: source === null ? null : topology(source),
        activeTasks: memberEpoch === 0 ? [] : null,
        standbyTasks: memberEpoch === 0 ? [] : null,
        warmupTasks: memberEpoch === 0 ? [] : null,
        processId: memberEpoch === 0 ? "p" : null,
        userEndpoint: null,
        clientTags: memberEpoch === 0 ? [] : null,
        taskOffsets: null,
        taskEndOffsets: null,
        shutdownApplication: false,
      });
    for (const [groupId, source] of [
      ["alice-sg", "public"],
      ["alice-sg", "bob-data"],
      ["other-sg", "public"],
    ] as const) {
      const joined = await heartbeat(groupId, 0, source);
      out[`${groupId} ${source}`] = joined.errorCode;
      if (joined.errorCode === ErrorCode.NONE) out[`${groupId} leave`] = (await heartbeat(groupId, -1, null)).errorCode;
    }
    return out;
  },
  async "StreamsGroupDescribe (authorized operations)"(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number; authorizedOperations: number; members: unknown[] }[] }>(89, 1, {
      groupIds: ["alice-sg", "other-g"],
      includeAuthorizedOperations: true,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, [g.errorCode, g.authorizedOperations, g.members.length]]));
  },
  async "ShareGroupHeartbeat (group READ, topics DESCRIBE)"(client, actor) {
    const out: Record<string, unknown> = {};
    for (const [groupId, topics] of [
      ["alice-shg", ["public"]],
      ["alice-shg", ["public", "bob-data"]],
      ["other-shg", ["public"]],
    ] as const) {
      const memberId = `${actor.user}-${actor.from}-share`;
      const joined = await client.request<{ errorCode: number }>(76, 1, { groupId, memberId, memberEpoch: 0, rackId: null, subscribedTopicNames: [...topics] });
      out[`${groupId} ${topics.join("+")}`] = joined.errorCode;
      if (joined.errorCode === ErrorCode.NONE) {
        out[`${groupId} leave`] = (
          await client.request<{ errorCode: number }>(76, 1, { groupId, memberId, memberEpoch: -1, rackId: null, subscribedTopicNames: null })
        ).errorCode;
      }
    }
    return out;
  },
  async "ShareGroupDescribe (authorized operations)"(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number; authorizedOperations: number; members: unknown[] }[] }>(77, 1, {
      groupIds: ["alice-shg", "other-g"],
      includeAuthorizedOperations: true,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, [g.errorCode, g.authorizedOperations, g.members.length]]));
  },
  async "Describe/Alter/DeleteShareGroupOffsets"(client) {
    // Kafka lists the topics in the share coordinator's order (by topic id, which differs between the brokers): compared sorted.
    const sorted = <T extends [string, ...unknown[]]>(list: T[]) => [...list].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const out: Record<string, unknown> = {};
    for (const groupId of ["alice-shg", "other-g"]) {
      const described = await client.request<{ groups: { errorCode: number; topics: { topicName: string; partitions: { errorCode: number }[] }[] }[] }>(90, 1, {
        groups: [
          {
            groupId,
            topics: [
              { topicName: "public", partitions: [0] },
              { topicName: "bob-data", partitions: [0] },
            ],
          },
        ],
      });
      out[`describe ${groupId}`] = described.groups.map((g) => [g.errorCode, sorted(g.topics.map((t) => [t.topicName, t.partitions.map((p) => p.errorCode)]))]);
      const altered = await client.request<{ errorCode: number; responses: { topicName: string; partitions: { errorCode: number }[] }[] }>(91, 0, {
        groupId,
        topics: [
          { topicName: "public", partitions: [{ partitionIndex: 0, startOffset: 0n }] },
          { topicName: "bob-data", partitions: [{ partitionIndex: 0, startOffset: 0n }] },
        ],
      });
      out[`alter ${groupId}`] = [altered.errorCode, sorted(altered.responses.map((t) => [t.topicName, t.partitions.map((p) => p.errorCode)]))];
      const deleted = await client.request<{ errorCode: number; responses: { topicName: string; errorCode: number }[] }>(92, 0, {
        groupId,
        topics: [{ topicName: "public" }, { topicName: "bob-data" }],
      });
      out[`delete ${groupId}`] = [deleted.errorCode, sorted(deleted.responses.map((t) => [t.topicName, t.errorCode]))];
    }
    return out;
  },
  async "ConsumerGroupDescribe (assigned topics, authorized operations)"(client) {
    const answer = await client.request<{ groups: { groupId: string; errorCode: number; authorizedOperations: number; members: unknown[] }[] }>(69, 0, {
      groupIds: ["alice-g3", "other-g"],
      includeAuthorizedOperations: true,
    });
    return Object.fromEntries(answer.groups.map((g) => [g.groupId, [g.errorCode, g.authorizedOperations, g.members.length]]));
  },
  async "AddPartitionsToTxn v4 (brokers)"(client) {
    const answer = await client.request<{ errorCode: number }>(24, 4, {
      transactions: [{ transactionalId: "alice-tx", producerId: 0n, producerEpoch: 0, verifyOnly: true, topics: [{ name: "orders", partitions: [0] }] }],
    });
    return answer.errorCode;
  },
  async "Fetch (as a follower)"(client) {
    const answer = await client.request<{ errorCode: number; responses: { partitions: { errorCode: number }[] }[] }>(1, 12, {
      replicaId: 2,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "orders",
          partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    return [answer.errorCode, answer.responses.flatMap((t) => t.partitions.map((p) => p.errorCode))];
  },
  async "WriteTxnMarkers (brokers)"(client, { user }) {
    // (Not as the super user: it would write a marker for a producer that does not exist.)
    if (user === "admin") return "not asked";
    const answer = await client.request<{ markers: { producerId: bigint; topics: { name: string; partitions: { errorCode: number }[] }[] }[] }>(27, 1, {
      markers: [{ producerId: 4242n, producerEpoch: 0, transactionResult: false, topics: [{ name: "orders", partitionIndexes: [0] }], coordinatorEpoch: 0 }],
    });
    return answer.markers.map((m) => errorsByTopic(m.topics));
  },
  async AlterPartitionReassignments(client) {
    const answer = await client.request<{ errorCode: number }>(45, 0, { timeoutMs: 10_000, topics: [] });
    return answer.errorCode;
  },
  async "DeleteAcls (a filter matching nothing)"(client) {
    const answer = await client.request<{ filterResults: { errorCode: number; matchingAcls: unknown[] }[] }>(31, 3, {
      filters: [
        {
          resourceTypeFilter: ResourceType.TOPIC,
          resourceNameFilter: "nothing-here",
          patternTypeFilter: PatternType.LITERAL,
          principalFilter: null,
          hostFilter: null,
          operation: Op.ANY,
          permissionType: Permission.ANY,
        },
      ],
    });
    return answer.filterResults.map((r) => [r.errorCode, r.matchingAcls.length]);
  },
  async DescribeUserScramCredentials(client) {
    // (users: null, "all users", is left out: Kafka 4.4 answers nothing to a principal refused it.)
    const answer = await client.request<{ errorCode: number; results: { user: string; errorCode: number }[] }>(50, 0, { users: [{ name: "alice" }] });
    return [answer.errorCode, answer.results.map((r) => r.errorCode)];
  },
};

// ---------------------------------------------------------------------------------------------
// Kafka 4.4.0's own clients (test/kafka's TxnClient and GroupConsume), as alice, bob and dave.

const saslProperties = (user: string) => ({
  "security.protocol": "SASL_PLAINTEXT",
  "sasl.mechanism": "PLAIN",
  "sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${PASSWORDS[user]}";`,
});

/** "ok", or the authorization exception (else the exception) a Java client answered with. */
function javaOutcome(answer: TxnAnswer): string {
  if (answer.ok) return "ok";
  const text = `${answer.error ?? ""} ${(answer.causes ?? []).join(" ")}`;
  return /\b(\w+AuthorizationException)\b/.exec(text)?.[1] ?? /\b(\w+(Exception|Error))\b/.exec(text)?.[1] ?? text;
}

async function javaScenario(target: Target): Promise<Record<string, Outcome>> {
  const bootstrap = `127.0.0.1:${target.saslPort}`;
  const out: Record<string, Outcome> = {};
  const txn = await TxnClient.start(bootstrap);
  try {
    const step = async (name: string, command: Record<string, unknown>) => {
      out[name] = javaOutcome(await txn.call(command, 60_000));
    };
    const producer = async (name: string, user: string, transactionalId: string) => {
      await txn.ok({ cmd: "producer", name, properties: { "transactional.id": transactionalId, "max.block.ms": 10_000, ...saslProperties(user) } });
      await step(`${name} initTransactions`, { cmd: "init", name });
    };
    // alice: her transaction commits, with her group's offsets; public (read only) and other-g are refused.
    await producer("alice", "alice", "alice-tx");
    await step("alice begin", { cmd: "begin", name: "alice" });
    await step("alice send orders", { cmd: "send", name: "alice", topic: "orders", partition: 0, values: ["java"] });
    await step("alice sendOffsets alice-g1", { cmd: "sendOffsets", name: "alice", group: "alice-g1", offsets: [["orders", 0, 1]] });
    await step("alice commit", { cmd: "commit", name: "alice" });
    await step("alice begin again", { cmd: "begin", name: "alice" });
    await step("alice sendOffsets other-g", { cmd: "sendOffsets", name: "alice", group: "other-g", offsets: [["orders", 0, 1]] });
    await step("alice abort", { cmd: "abort", name: "alice" });
    await producer("alice2", "alice", "alice-tx");
    await step("alice2 begin", { cmd: "begin", name: "alice2" });
    await step("alice2 send public", { cmd: "send", name: "alice2", topic: "public", partition: 0, values: ["nope"] });
    await step("alice2 abort", { cmd: "abort", name: "alice2" });
    // bob: any transactional id, but orders-eu is denied to everyone's writes.
    await producer("bob", "bob", "bob-java-tx");
    await step("bob begin", { cmd: "begin", name: "bob" });
    await step("bob send orders-eu", { cmd: "send", name: "bob", topic: "orders-eu", partition: 0, values: ["nope"] });
    await step("bob abort", { cmd: "abort", name: "bob" });
    // dave: no transactional id at all.
    await producer("dave", "dave", "dave-tx");
  } finally {
    await txn.close();
  }
  // Group consumers (the consumer protocol, KIP-848): alice reads orders in her group; bob may read
  // any topic but has no group; alice may not read orders-secret.
  for (const [user, group, topic] of [
    ["alice", "alice-java-g", "orders"],
    ["bob", "bob-java-g", "orders"],
    ["alice", "alice-java-g2", "orders-secret"],
  ] as const) {
    const args = [
      "--bootstrap",
      bootstrap,
      "--group",
      group,
      "--topics",
      topic,
      "--property",
      "group.protocol=consumer",
      "--property",
      "auto.offset.reset=earliest",
    ];
    for (const [key, value] of Object.entries(saslProperties(user))) args.push("--property", `${key}=${value}`);
    const member = new MemberProcess(
      `${user}/${group}`,
      await spawnJavaTool("sluice.kafka.GroupConsume", args, { quickStart: true, heap: "128m", logLevel: "ERROR" }),
    );
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && member.errors().length === 0 && member.records(topic).length === 0 && member.exit === null) await sleep(100);
      const errors = member.errors().map((error) => /\b(\w+Exception)\b/.exec(error)?.[1] ?? error);
      out[`${user} consumes ${topic} in ${group}`] = errors.length > 0 ? errors[0] : member.records(topic).length > 0 ? "records" : "nothing";
    } finally {
      await member.kill();
    }
  }
  return out;
}

/** Every actor runs every operation on both brokers; the outcomes must be the same. */
function matrix(title: string, settings: Record<string, string | number | boolean>, acls: Binding[], javaClients = false): void {
  describe(title, () => {
    let pair: Pair | undefined;
    beforeAll(async () => {
      pair = await startPair(settings, acls);
    }, 120_000);
    afterAll(async () => {
      if (pair) await stopPair(pair);
    });

    it("every user, every operation, the same outcome on both brokers", async () => {
      const outcomes: Record<string, Record<string, Outcome>> = {};
      for (const target of pair?.targets ?? []) {
        const table: Record<string, Outcome> = {};
        for (const actor of ACTORS) {
          let client = await login(target, actor.user, actor.from);
          try {
            for (const [name, operation] of Object.entries(OPERATIONS)) {
              const key = `${actor.user}@${actor.from} ${name}`;
              let timer: NodeJS.Timeout | undefined;
              const started = performance.now();
              try {
                const timeout = new Promise<never>((_, reject) => {
                  timer = setTimeout(() => reject(new Error("no answer within 10 s")), 10_000);
                });
                table[key] = await Promise.race([operation(client, actor, target), timeout]);
              } catch (error) {
                table[key] = `threw ${(error as Error).message}`;
                // A connection the broker closed, or one left waiting, is not used again.
                client.close();
                client = await login(target, actor.user, actor.from);
              } finally {
                clearTimeout(timer);
              }
              if (process.env.ACL_MATRIX_PRINT) console.log(`${target.name} ${key} (${Math.round(performance.now() - started)} ms): ${canonical(table[key])}`);
            }
          } finally {
            client.close();
          }
        }
        outcomes[target.name] = table;
      }
      const kafkaTable = outcomes.kafka ?? {};
      const sluiceTable = outcomes.sluice ?? {};
      const differences = Object.keys(kafkaTable)
        .filter((key) => canonical(kafkaTable[key]) !== canonical(sluiceTable[key]))
        .map((key) => `${key}\n    kafka:  ${canonical(kafkaTable[key])}\n    sluice: ${canonical(sluiceTable[key])}`);
      if (differences.length > 0) console.error(`${differences.length} differences:\n${differences.join("\n")}`);
      expect(differences.join("\n")).toBe("");
    }, 120_000);

    if (javaClients) {
      it("the Java transactional producer and group consumer succeed and fail alike", async () => {
        const outcomes: Record<string, Outcome> = {};
        for (const target of pair?.targets ?? []) outcomes[target.name] = await javaScenario(target);
        if (process.env.ACL_MATRIX_PRINT) console.log(canonical(outcomes));
        expect(canonical(outcomes.sluice)).toBe(canonical(outcomes.kafka));
      }, 120_000);
    }
  });
}

matrix("ACLs: Sluice answers as Apache Kafka 4.4.0 does (allow.everyone.if.no.acl.found=false)", { "allow.everyone.if.no.acl.found": false }, ACLS, true);
matrix("ACLs: Sluice answers as Apache Kafka 4.4.0 does (allow.everyone.if.no.acl.found=true)", { "allow.everyone.if.no.acl.found": true }, ACLS_OPEN);
