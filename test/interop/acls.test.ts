// ACLs with Kafka's tools and clients against the real broker: StandardAuthorizer configured,
// super.users=User:admin, SASL/PLAIN users; kafka-acls.sh adds, lists and removes bindings
// (literal, prefixed, wildcard principal, DENY); the Java producer and consumer are allowed and
// refused operation by operation with Kafka's exceptions; unauthorized topics are left out of
// Metadata; without an authorizer the ACL APIs answer SECURITY_DISABLED.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { AclOperation } from "../../src/security/acl.js";
import { TestClient } from "../helpers/client.js";
import { freePort, produceWithJava, runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";
import { TxnClient } from "../helpers/transactions.js";

let broker: SluiceBroker;
let saslPort: number;
let tools: ToolSession;
let dir: string;
let adminConfig: string;

const plain = (user: string, password: string) => ({
  "security.protocol": "SASL_PLAINTEXT",
  "sasl.mechanism": "PLAIN",
  "sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}";`,
});

beforeAll(async () => {
  const plainPort = await freePort();
  saslPort = await freePort();
  dir = await mkdtemp(join(tmpdir(), "sluice-acls-"));
  adminConfig = join(dir, "admin.properties");
  await writeFile(
    adminConfig,
    Object.entries(plain("admin", "admin-secret"))
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  broker = await startSluice({
    port: plainPort,
    overrides: {
      listeners: `PLAINTEXT://127.0.0.1:${plainPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
      "sasl.enabled.mechanisms": "PLAIN",
      "listener.name.sasl_plaintext.plain.sasl.jaas.config":
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";',
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      "super.users": "User:admin",
      "num.partitions": 1,
    },
  });
  tools = await ToolSession.start();
}, 120_000);

afterAll(async () => {
  tools?.close();
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

const saslBootstrap = () => `127.0.0.1:${saslPort}`;

async function acls(args: string[]): Promise<string> {
  const result = await tools.run("org.apache.kafka.tools.AclCommand", ["--bootstrap-server", saslBootstrap(), "--command-config", adminConfig, ...args]);
  if (result.code !== 0) throw new Error(`kafka-acls ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** A raw protocol client on the SASL listener, authenticated with PLAIN. */
async function saslClient(user: string, password: string): Promise<TestClient> {
  const client = await TestClient.connect(saslPort);
  await client.request(17, 1, { mechanism: "PLAIN" });
  const answer = await client.request<{ errorCode: number }>(36, 2, { authBytes: Buffer.from(`\u0000${user}\u0000${password}`) });
  if (answer.errorCode !== ErrorCode.NONE) throw new Error(`SASL/PLAIN as ${user}: error ${answer.errorCode}`);
  return client;
}

async function consume(user: string, password: string, topic: string, group: string) {
  const args = ["--bootstrap", saslBootstrap(), "--topic", topic, "--timeout-ms", "20000", "--property", `group.id=${group}`];
  for (const [key, value] of Object.entries(plain(user, password))) args.push("--property", `${key}=${value}`);
  return runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
}

describe("ACLs with kafka-acls.sh and the Java clients", () => {
  it("kafka-acls.sh adds and lists literal, prefixed, wildcard-principal and DENY bindings", async () => {
    await acls([
      "--add",
      "--allow-principal",
      "User:alice",
      "--operation",
      "Write",
      "--operation",
      "Create",
      "--topic",
      "alice-",
      "--resource-pattern-type",
      "prefixed",
    ]);
    await acls(["--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "alice-", "--resource-pattern-type", "prefixed"]);
    await acls(["--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "alice-group"]);
    await acls(["--add", "--allow-principal", "User:*", "--operation", "Read", "--topic", "public"]);
    await acls(["--add", "--deny-principal", "User:alice", "--operation", "Read", "--topic", "alice-secret"]);
    await acls(["--add", "--allow-principal", "User:alice", "--operation", "IdempotentWrite", "--cluster"]);
    const listed = await acls(["--list", "--topic", "alice-", "--resource-pattern-type", "prefixed"]);
    expect(listed).toContain("Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=alice-, patternType=PREFIXED)`:");
    expect(listed).toContain("(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)");
    expect(listed).toContain("(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)");
    const matching = await acls(["--list", "--topic", "alice-secret", "--resource-pattern-type", "match"]);
    expect(matching).toContain("permissionType=DENY");
    expect(matching).toContain("name=alice-, patternType=PREFIXED");
  }, 120_000);

  it("alice writes and reads her prefixed topics, is refused others with Kafka's exceptions, and a DENY wins", async () => {
    await produceWithJava({
      bootstrap: saslBootstrap(),
      topic: "alice-orders",
      records: [{ key: "k", value: "v1" }],
      compression: "none",
      properties: plain("alice", "alice-secret"),
    });
    const read = await consume("alice", "alice-secret", "alice-orders", "alice-group");
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toContain('"value":"v1"');

    const refusedWrite = produceWithJava({
      bootstrap: saslBootstrap(),
      topic: "bob-orders",
      records: [{ key: "k", value: "v" }],
      compression: "none",
      properties: { ...plain("alice", "alice-secret"), "max.block.ms": 10_000 },
    });
    await expect(refusedWrite).rejects.toThrow(/Not authorized to access topics: \[bob-orders\]|TopicAuthorizationException/);

    // A group she may not use: FindCoordinator and JoinGroup refuse it.
    const client = await TestClient.connect(saslPort);
    await client.request(17, 1, { mechanism: "PLAIN" });
    await client.request(36, 2, { authBytes: Buffer.from("\u0000alice\u0000alice-secret") });
    const found = await client.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType: 0, coordinatorKeys: ["other-group", "alice-group"] });
    expect(found.coordinators.map((c) => c.errorCode)).toEqual([ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.NONE]);
    const joined = await client.request<{ errorCode: number }>(11, 5, {
      groupId: "other-group",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
    });
    expect(joined.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    client.close();

    // The DENY on alice-secret wins over the prefixed ALLOW.
    await produceWithJava({
      bootstrap: saslBootstrap(),
      topic: "alice-secret",
      records: [{ key: "k", value: "s" }],
      compression: "none",
      properties: plain("alice", "alice-secret"),
    });
    const denied = await consume("alice", "alice-secret", "alice-secret", "alice-group");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/TopicAuthorizationException|Not authorized to access topics: \[alice-secret\]/);

    // bob has no ACL on alice's topics: refused; the super user is not.
    const bob = produceWithJava({
      bootstrap: saslBootstrap(),
      topic: "alice-orders",
      records: [{ key: "k", value: "v" }],
      compression: "none",
      properties: { ...plain("bob", "bob-secret"), "max.block.ms": 10_000 },
    });
    await expect(bob).rejects.toThrow(/ClusterAuthorizationException|TopicAuthorizationException|Not authorized/);
    await produceWithJava({
      bootstrap: saslBootstrap(),
      topic: "alice-orders",
      records: [{ key: "k", value: "admin" }],
      compression: "none",
      properties: plain("admin", "admin-secret"),
    });
  }, 180_000);

  it("Metadata lists only the topics a principal may describe; a named one it may not is TOPIC_AUTHORIZATION_FAILED", async () => {
    const client = await TestClient.connect(saslPort);
    await client.request(17, 1, { mechanism: "PLAIN" });
    await client.request(36, 2, { authBytes: Buffer.from("\u0000alice\u0000alice-secret") });
    const all = await client.request<{ topics: { name: string; errorCode: number }[] }>(3, 12, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const names = all.topics.map((t) => t.name).sort();
    expect(names).toContain("alice-orders");
    expect(names).not.toContain("bob-orders");
    const named = await client.request<{ topics: { name: string; errorCode: number }[] }>(3, 12, {
      topics: [{ name: "bob-orders", topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(named.topics[0].errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    // Her ACL APIs are refused: altering ACLs needs ALTER on the cluster.
    const create = await client.request<{ results: { errorCode: number }[] }>(30, 3, {
      creations: [{ resourceType: 2, resourceName: "x", resourcePatternType: 3, principal: "User:alice", host: "*", operation: 2, permissionType: 3 }],
    });
    expect(create.results[0].errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // The admin APIs that name topics, groups and transactional ids check them too.
    const producers = await client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(61, 0, {
      topics: [
        { name: "bob-orders", partitionIndexes: [0] },
        { name: "alice-orders", partitionIndexes: [0] },
      ],
    });
    expect(producers.topics.map((t) => t.partitions[0].errorCode)).toEqual([ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.NONE]);
    const epochs = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(23, 4, {
      replicaId: -2,
      topics: [{ topic: "bob-orders", partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    });
    expect(epochs.topics[0].partitions[0].errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const transactions = await client.request<{ transactionStates: { errorCode: number }[] }>(65, 0, { transactionalIds: ["someone-elses"] });
    expect(transactions.transactionStates[0].errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const described = await client.request<{ groups: { errorCode: number }[] }>(69, 0, { groupIds: ["other-group"], includeAuthorizedOperations: false });
    expect(described.groups[0].errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    client.close();
  });

  it("AddPartitionsToTxn, DescribeTopicPartitions and OffsetFetch check transactional ids and topics as KafkaApis does", async () => {
    await acls(["--add", "--allow-principal", "User:alice", "--operation", "Write", "--transactional-id", "alice-tx"]);
    await acls(["--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "alice-offsets"]);
    const admin = await saslClient("admin", "admin-secret");
    const created = await admin.request<{ topics: { name: string; errorCode: number }[] }>(19, 7, {
      topics: ["bob-orders", "public"].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    const commit = (client: TestClient, topics: string[]) =>
      client.request<{ topics: { name: string; partitions: { errorCode: number }[] }[] }>(8, 9, {
        groupId: "alice-offsets",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: topics.map((name) => ({
          name,
          partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: "" }],
        })),
      });
    const committed = await commit(admin, ["alice-orders", "bob-orders"]);
    expect(committed.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    admin.close();

    const alice = await saslClient("alice", "alice-secret");
    // AddPartitionsToTxn v3 (producers): WRITE on the transactional id, then on every topic; one
    // refused topic (an internal one always is) fails the request, the rest OPERATION_NOT_ATTEMPTED.
    type AddPartitionsAnswer = { errorCode: number; resultsByTopicV3AndBelow: { name: string; resultsByPartition: { partitionErrorCode: number }[] }[] };
    const addPartitions = (transactionalId: string, topics: string[]) =>
      alice.request<AddPartitionsAnswer>(24, 3, {
        v3AndBelowTransactionalId: transactionalId,
        v3AndBelowProducerId: 0n,
        v3AndBelowProducerEpoch: 0,
        v3AndBelowTopics: topics.map((name) => ({ name, partitions: [0] })),
      });
    const byTopic = (answer: AddPartitionsAnswer) =>
      Object.fromEntries(answer.resultsByTopicV3AndBelow.map((t) => [t.name, t.resultsByPartition.map((p) => p.partitionErrorCode)]));
    expect(byTopic(await addPartitions("bob-tx", ["alice-orders"]))).toEqual({ "alice-orders": [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED] });
    expect(byTopic(await addPartitions("alice-tx", ["alice-orders", "public", "__consumer_offsets"]))).toEqual({
      "alice-orders": [ErrorCode.OPERATION_NOT_ATTEMPTED],
      public: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      __consumer_offsets: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    });
    // v4+ batches come from brokers: CLUSTER_ACTION.
    const batch = await alice.request<AddPartitionsAnswer>(24, 4, {
      transactions: [{ transactionalId: "alice-tx", producerId: 0n, producerEpoch: 0, verifyOnly: true, topics: [{ name: "alice-orders", partitions: [0] }] }],
    });
    expect(batch.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);

    // DescribeTopicPartitions: all topics → only the describable ones; named → the refused ones last.
    type DescribedTopics = { topics: { name: string; errorCode: number; topicId: string; partitions: unknown[]; topicAuthorizedOperations: number }[] };
    const describeAll = await alice.request<DescribedTopics>(75, 0, { topics: [], responsePartitionLimit: 2000, cursor: null });
    expect(describeAll.topics.map((t) => t.name)).toContain("alice-orders");
    expect(describeAll.topics.map((t) => t.name)).not.toContain("bob-orders");
    const described = await alice.request<DescribedTopics>(75, 0, {
      topics: [{ name: "bob-orders" }, { name: "alice-orders" }, { name: "alice-missing" }],
      responsePartitionLimit: 2000,
      cursor: null,
    });
    const aliceOperations = (1 << AclOperation.READ) | (1 << AclOperation.WRITE) | (1 << AclOperation.CREATE) | (1 << AclOperation.DESCRIBE);
    expect(
      described.topics.map(({ name, errorCode, partitions, topicAuthorizedOperations }) => [name, errorCode, partitions.length, topicAuthorizedOperations]),
    ).toEqual([
      ["alice-missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0, aliceOperations],
      ["alice-orders", ErrorCode.NONE, 1, aliceOperations],
      ["bob-orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0, -2147483648],
    ]);
    expect(described.topics[2].topicId).toBe("AAAAAAAAAAAAAAAAAAAAAA");

    // OffsetFetch: named topics she may not describe are TOPIC_AUTHORIZATION_FAILED; all offsets
    // leave them out (v7 and the v8+ multi-group form).
    type Fetched = { topics: { name: string; partitions: { errorCode: number; committedOffset: bigint }[] }[] };
    const named = await alice.request<Fetched>(9, 7, {
      groupId: "alice-offsets",
      topics: [
        { name: "bob-orders", partitionIndexes: [0] },
        { name: "alice-orders", partitionIndexes: [0] },
      ],
      requireStable: false,
    });
    expect(named.topics.map((t) => [t.name, t.partitions[0].errorCode, t.partitions[0].committedOffset])).toEqual([
      ["alice-orders", ErrorCode.NONE, 1n],
      ["bob-orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1n],
    ]);
    const all = await alice.request<Fetched>(9, 7, { groupId: "alice-offsets", topics: null, requireStable: false });
    expect(all.topics.map((t) => t.name)).toEqual(["alice-orders"]);
    const groups = await alice.request<{ groups: { groupId: string; errorCode: number; topics: Fetched["topics"] }[] }>(9, 8, {
      groups: [
        { groupId: "alice-offsets", topics: null },
        { groupId: "bob-offsets", topics: null },
      ],
      requireStable: false,
    });
    expect(groups.groups.map((g) => [g.groupId, g.errorCode, g.topics.map((t) => t.name)])).toEqual([
      ["alice-offsets", ErrorCode.NONE, ["alice-orders"]],
      ["bob-offsets", ErrorCode.GROUP_AUTHORIZATION_FAILED, []],
    ]);
    alice.close();

    // kafka-consumer-groups.sh --describe (Admin.listConsumerGroupOffsets) as alice: her topic only.
    const aliceConfig = join(dir, "alice.properties");
    await writeFile(
      aliceConfig,
      Object.entries(plain("alice", "alice-secret"))
        .map(([k, v]) => `${k}=${v}`)
        .join("\n"),
    );
    const groupsTool = await tools.run("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", [
      "--bootstrap-server",
      saslBootstrap(),
      "--command-config",
      aliceConfig,
      "--describe",
      "--group",
      "alice-offsets",
    ]);
    expect(groupsTool.code, groupsTool.stderr).toBe(0);
    expect(groupsTool.stdout).toMatch(/alice-offsets\s+alice-orders\s+0\s+1\b/);
    expect(groupsTool.stdout).not.toContain("bob-orders");

    // The transactional producer: a transactional id she may not write is refused at
    // initTransactions; a topic she may only read is refused inside the transaction.
    const txn = await TxnClient.start(saslBootstrap());
    try {
      await txn.ok({ cmd: "producer", name: "bob", properties: { "transactional.id": "bob-tx", ...plain("alice", "alice-secret") } });
      const refused = await txn.call({ cmd: "init", name: "bob" });
      expect(refused.ok).toBe(false);
      expect(refused.error).toMatch(/TransactionalIdAuthorizationException/);
      await txn.producer("alice", "alice-tx", plain("alice", "alice-secret"));
      expect(await txn.transaction("alice", "alice-orders", 0, ["in-txn"], "commit")).toHaveLength(1);
      await txn.ok({ cmd: "begin", name: "alice" });
      const readOnly = await txn.call({ cmd: "send", name: "alice", topic: "public", partition: 0, values: ["nope"] });
      expect(readOnly.ok).toBe(false);
      expect(`${readOnly.error} ${readOnly.causes?.join(" ")}`).toMatch(/TopicAuthorizationException/);
    } finally {
      await txn.close();
    }
  }, 180_000);

  it("kafka-acls.sh --remove deletes bindings by filter, and the access goes with them", async () => {
    await acls(["--remove", "--force", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "alice-", "--resource-pattern-type", "prefixed"]);
    const listed = await acls(["--list", "--topic", "alice-", "--resource-pattern-type", "prefixed"]);
    expect(listed).not.toContain("operation=READ");
    const read = await consume("alice", "alice-secret", "alice-orders", "alice-group");
    expect(read.code).not.toBe(0);
  }, 120_000);
});

describe("with the consumer group protocol off", () => {
  it("ConsumerGroupHeartbeat answers UNSUPPORTED_VERSION before any authorization, as KafkaApis", async () => {
    const closed = await startSluice({
      overrides: {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "group.coordinator.rebalance.protocols": "classic",
      },
    });
    try {
      const client = await TestClient.connect(closed.port);
      const answer = await client.request<{ errorCode: number }>(68, 0, {
        groupId: "g",
        memberId: "",
        memberEpoch: 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: 30_000,
        subscribedTopicNames: ["t"],
        serverAssignor: null,
        topicPartitions: [],
      });
      expect(answer.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
      client.close();
    } finally {
      await closed.stop();
      await rm(closed.workDir, { recursive: true, force: true });
    }
  });
});

describe("without an authorizer", () => {
  it("the ACL APIs answer SECURITY_DISABLED", async () => {
    const open = await startSluice();
    try {
      const client = await TestClient.connect(open.port);
      const described = await client.request<{ errorCode: number; errorMessage: string }>(29, 3, {
        resourceTypeFilter: 1,
        resourceNameFilter: null,
        patternTypeFilter: 1,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      });
      expect(described).toMatchObject({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: "No Authorizer is configured." });
      client.close();
    } finally {
      await open.stop();
      await rm(open.workDir, { recursive: true, force: true });
    }
  });
});
