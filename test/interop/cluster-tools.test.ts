// A three-broker Sluice cluster on etcd managed by Kafka 4.4's own tools and used by its Java
// clients (issue 15): topics with replication factor 3 (kafka-topics describes leaders spread over
// the brokers and a full ISR), acks=all produce and a consumer group reading everything back, a
// leader SIGKILLed (a new leader from the ISR, produce and consume go on, the broker catches up and
// rejoins the ISR when restarted), preferred leader election (kafka-leader-election), partition
// reassignment with a throttle (kafka-reassign-partitions --execute / --verify), and
// transactions whose partitions and coordinator are on different brokers (commit and abort, read
// back under read_committed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrokerConnection } from "../../src/client/connection.js";
import { defaultFetchRequestFetchPartition, type FetchResponse } from "../../src/protocol/generated/fetch.js";
import { clusterMetadata, clusterSkipReason, describedPartitions, startCluster, type TestCluster, waitFor, waitForFullIsr } from "../helpers/cluster.js";
import { produceWithJava, runJavaTool } from "../helpers/kafka.js";
import { ToolSession } from "../helpers/tool-session.js";
import { readTopic, TxnClient, valuesOf } from "../helpers/transactions.js";

const skip = await clusterSkipReason({ netns: false });
if (skip !== null && process.env.CI) throw new Error(`the cluster tests cannot run under CI: ${skip}`);

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

describe.skipIf(skip !== null)("a 3-broker Sluice cluster with Kafka 4.4's tools and clients", () => {
  let cluster: TestCluster;
  let tools: ToolSession;
  const bootstrap = () => cluster.bootstrap;
  const tool = async (main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap(), ...args]);
    if (result.code !== 0) throw new Error(`${main} ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  /** A client connection to broker `id`. */
  const connectTo = (id: number, clientId: string) => {
    const broker = cluster.broker(id);
    return BrokerConnection.connect({ host: broker.host, port: broker.port, clientId, connectTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
  };
  const describeTopic = async (topic: string) => describedPartitions(await tool("org.apache.kafka.tools.TopicCommand", ["--describe", "--topic", topic]));

  beforeAll(async () => {
    cluster = await startCluster({
      brokers: 3,
      overrides: {
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 6000,
        "offsets.topic.replication.factor": 3,
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "transaction.state.log.num.partitions": 6,
        "replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
      },
    });
    tools = await ToolSession.start();
  }, 180_000);

  afterAll(async () => {
    tools?.close();
    await cluster?.stop();
  }, 120_000);

  it("creates a topic with replication factor 3: leaders spread, the ISR full, every broker listed", async () => {
    await tool("org.apache.kafka.tools.TopicCommand", [
      "--create",
      "--topic",
      "rf3",
      "--partitions",
      "6",
      "--replication-factor",
      "3",
      "--config",
      "min.insync.replicas=2",
    ]);
    const partitions = await waitFor("a full ISR", async () => {
      const described = await describeTopic("rf3");
      return [...described.values()].every((p) => p.isr.length === 3) ? described : null;
    });
    expect(partitions.size).toBe(6);
    for (const partition of partitions.values()) {
      expect(partition.replicas.sort()).toEqual([1, 2, 3]);
      expect(partition.replicas).toContain(partition.leader);
    }
    expect(new Set([...partitions.values()].map((p) => p.leader))).toEqual(new Set([1, 2, 3]));
    const metadata = await clusterMetadata(bootstrap());
    expect(metadata.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
    // A replication factor above the live brokers is Kafka's error.
    const tooMany = await tools.run("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      bootstrap(),
      "--create",
      "--topic",
      "rf4",
      "--replication-factor",
      "4",
    ]);
    expect(tooMany.stdout + tooMany.stderr).toContain(
      "Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered.",
    );
  }, 120_000);

  it("acks=all survives the SIGKILL of a leader: a new leader from the ISR, nothing acknowledged lost, the broker rejoins", async () => {
    const first = Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: `before-${i}` }));
    await produceWithJava({ bootstrap: bootstrap(), topic: "rf3", records: first, compression: "lz4", acks: "all" });
    const before = await describeTopic("rf3");
    const victim = before.get(0)?.leader ?? 1;
    await cluster.broker(victim).kill();
    const after = await waitFor("a new leader for rf3-0", async () => {
      const described = await describeTopic("rf3");
      const p0 = described.get(0);
      return p0 !== undefined && p0.leader !== victim && p0.leader >= 0 && !p0.isr.includes(victim) ? described : null;
    });
    expect(after.get(0)?.isr.length).toBe(2);
    const second = Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: `during-${i}` }));
    await produceWithJava({ bootstrap: bootstrap(), topic: "rf3", records: second, compression: "zstd", acks: "all" });
    await cluster.broker(victim).start();
    await waitForFullIsr(bootstrap(), "rf3", 3);
    const third = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `after-${i}` }));
    await produceWithJava({ bootstrap: bootstrap(), topic: "rf3", records: third, compression: "none", acks: "all" });
    const read = await readTopic(bootstrap(), "rf3", "read_committed");
    const values = read.map((r) => r.value).sort();
    const expected = [...first, ...second, ...third].map((r) => r.value).sort();
    expect(values).toEqual(expected);
  }, 240_000);

  it("a consumer group reads everything through coordinators on RF=3 __consumer_offsets", async () => {
    const out = await tool("org.apache.kafka.tools.consumer.ConsoleConsumer", [
      "--topic",
      "rf3",
      "--group",
      "cluster-group",
      "--from-beginning",
      "--max-messages",
      "1500",
      "--timeout-ms",
      "60000",
    ]);
    expect(out.trim().split("\n")).toHaveLength(1500);
    const lag = await tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", ["--describe", "--group", "cluster-group"]);
    const rows = lag.split("\n").filter((line) => line.startsWith("cluster-group"));
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row.split(/\s+/)[5]).toBe("0");
    const offsets = await describeTopic("__consumer_offsets");
    for (const partition of offsets.values()) expect(partition.replicas).toHaveLength(3);
  }, 180_000);

  it("kafka-leader-election gives partitions back to their preferred replicas", async () => {
    // Move leadership away from broker 1 by restarting it (controlled shutdown), then elect.
    await cluster.broker(1).stop();
    await cluster.broker(1).start();
    await waitForFullIsr(bootstrap(), "rf3", 3);
    const moved = await describeTopic("rf3");
    const notPreferred = [...moved].filter(([, p]) => p.leader !== p.replicas[0]);
    expect(notPreferred.length).toBeGreaterThan(0);
    const out = await tool("org.apache.kafka.tools.LeaderElectionCommand", ["--election-type", "PREFERRED", "--all-topic-partitions"]);
    expect(out).toContain("Successfully completed leader election (PREFERRED) for partitions");
    const elected = await describeTopic("rf3");
    for (const partition of elected.values()) expect(partition.leader).toBe(partition.replicas[0]);
  }, 180_000);

  it("kafka-reassign-partitions moves replicas with a throttle, and --verify completes and clears it", async () => {
    const plan = { version: 1, partitions: [{ topic: "rf3", partition: 0, replicas: [2, 3] }] };
    const { writeFileSync } = await import("node:fs");
    const file = `${cluster.workDir}/reassign.json`;
    writeFileSync(file, JSON.stringify(plan));
    const executed = await tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", [
      "--reassignment-json-file",
      file,
      "--execute",
      "--throttle",
      "50000000",
    ]);
    expect(executed).toContain("Successfully started partition reassignment for rf3-0");
    const verified = await waitFor("the reassignment to complete", async () => {
      const out = await tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", ["--reassignment-json-file", file, "--verify"]);
      return out.includes("Reassignment of partition rf3-0 is completed.") ? out : null;
    });
    expect(verified).toContain("Clearing broker-level throttles");
    const p0 = (await describeTopic("rf3")).get(0);
    expect(p0?.replicas).toEqual([2, 3]);
    expect(p0?.isr.sort()).toEqual([2, 3]);
    const list = await tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", ["--list"]);
    expect(list).toContain("No partition reassignments found.");
    // Broker 1 no longer holds rf3-0: its log directory went.
    const { existsSync } = await import("node:fs");
    await waitFor("broker 1 to delete rf3-0", async () => (existsSync(`${cluster.broker(1).logDir}/rf3-0`) ? null : true));
    const read = await readTopic(bootstrap(), "rf3", "read_uncommitted");
    expect(read).toHaveLength(1500);
  }, 180_000);

  it("KIP-392: a consumer with client.rack is sent to the in-sync replica of its rack and reads everything from it", async () => {
    const p1 = (await describeTopic("rf3")).get(1);
    if (p1 === undefined) throw new Error("no rf3-1");
    const follower = p1.isr.find((id) => id !== p1.leader) as number;
    const connection = await connectTo(p1.leader, "kip-392");
    try {
      const metadata = await clusterMetadata(bootstrap(), ["rf3"]);
      const topicId = metadata.topics.find((t) => t.name === "rf3")?.topicId;
      const fetch = (rackId: string) =>
        connection.request<FetchResponse>(1, (version: number) => ({
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            { topic: "rf3", topicId, partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
          ],
          forgottenTopicsData: [],
          rackId,
          ...(version >= 15 ? { replicaState: { replicaId: -1, replicaEpoch: -1n } } : {}),
        }));
      const redirected = (await fetch(`rack-${follower}`)).responses[0].partitions[0];
      expect(redirected.preferredReadReplica).toBe(follower);
      expect(redirected.records?.length ?? 0).toBe(0);
      const local = (await fetch(`rack-${p1.leader}`)).responses[0].partitions[0];
      expect(local.preferredReadReplica).toBe(-1);
      expect(local.records?.length ?? 0).toBeGreaterThan(0);
    } finally {
      connection.close();
    }
    const run = await runJavaTool(
      "sluice.kafka.Consume",
      ["--bootstrap", bootstrap(), "--topic", "rf3", "--property", `client.rack=rack-${follower}`, "--timeout-ms", "60000"],
      { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 90_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split("\n").filter((line) => line.startsWith('{"partition"'))).toHaveLength(1500);
  }, 180_000);

  it("etcd unavailable (quorum lost): leaders stay, acks=all goes on with the ISR it has; the cluster converges when etcd is back", async () => {
    const etcd = cluster.etcdPid;
    if (etcd === null) throw new Error("no etcd");
    const before = await describeTopic("rf3");
    process.kill(etcd, "SIGSTOP");
    let resumed = false;
    try {
      const during = Array.from({ length: 300 }, (_, i) => ({ key: `q${i}`, value: `frozen-${i}` }));
      await produceWithJava({ bootstrap: bootstrap(), topic: "rf3", records: during, compression: "none", acks: "all" });
      // Past the session timeout: registrations cannot be renewed, yet nothing may change leadership.
      await sleep(6_000);
      const frozen = await describeTopic("rf3");
      for (const [index, partition] of before) expect(frozen.get(index)?.leader, `rf3-${index}'s leader`).toBe(partition.leader);
      const later = Array.from({ length: 300 }, (_, i) => ({ key: `q${i}`, value: `frozen-late-${i}` }));
      await produceWithJava({ bootstrap: bootstrap(), topic: "rf3", records: later, compression: "none", acks: "all" });
      process.kill(etcd, "SIGCONT");
      resumed = true;
    } finally {
      if (!resumed) process.kill(etcd, "SIGCONT");
    }
    await waitFor("every broker registered again", async () => ((await clusterMetadata(bootstrap())).brokers.length === 3 ? true : null), 90_000);
    await waitForFullIsr(bootstrap(), "rf3", 2);
    const read = await readTopic(bootstrap(), "rf3", "read_uncommitted");
    expect(read.filter((r) => r.value?.startsWith("frozen-")).length).toBe(600);
  }, 240_000);

  it("transactions span brokers: markers reach every leader, read_committed sees commits only", async () => {
    await tool("org.apache.kafka.tools.TopicCommand", ["--create", "--topic", "txn3", "--partitions", "3", "--replication-factor", "3"]);
    await waitForFullIsr(bootstrap(), "txn3", 3);
    const txn = await TxnClient.start(bootstrap());
    try {
      await txn.producer("p", "cluster-txn");
      for (let round = 0; round < 3; round++) {
        await txn.ok({ cmd: "begin", name: "p" });
        for (let partition = 0; partition < 3; partition++) {
          await txn.ok({ cmd: "send", name: "p", topic: "txn3", partition, values: [`c${round}-${partition}`] });
        }
        await txn.ok({ cmd: "commit", name: "p" });
        await txn.ok({ cmd: "begin", name: "p" });
        for (let partition = 0; partition < 3; partition++) {
          await txn.ok({ cmd: "send", name: "p", topic: "txn3", partition, values: [`a${round}-${partition}`] });
        }
        await txn.ok({ cmd: "abort", name: "p" });
      }
    } finally {
      await txn.close();
    }
    const committed = await readTopic(bootstrap(), "txn3", "read_committed");
    for (let partition = 0; partition < 3; partition++) {
      expect(valuesOf(committed, partition)).toEqual([0, 1, 2].map((round) => `c${round}-${partition}`));
    }
    const leaders = new Set([...(await describeTopic("txn3")).values()].map((p) => p.leader));
    expect(leaders.size).toBeGreaterThan(1);
  }, 240_000);

  it("SCRAM credentials live in etcd: made through one broker with kafka-configs.sh, described by the others", async () => {
    const first = cluster.broker(1);
    const result = await tools.run("org.apache.kafka.tools.ConfigCommand", [
      "--bootstrap-server",
      `${first.host}:${first.port}`,
      "--alter",
      "--add-config",
      "SCRAM-SHA-256=[iterations=4096,password=pw]",
      "--entity-type",
      "users",
      "--entity-name",
      "cluster-user",
    ]);
    expect(result.code, result.stderr).toBe(0);
    for (const id of [2, 3]) {
      const connection = await connectTo(id, "scram");
      try {
        const described = await waitFor(`broker ${id} to know cluster-user`, async () => {
          const answer = await connection.request<{
            results: { user: string; errorCode: number; credentialInfos: { mechanism: number; iterations: number }[] }[];
          }>(50, {
            users: [{ name: "cluster-user" }],
          });
          return answer.results[0]?.errorCode === 0 ? answer.results[0] : null;
        });
        expect(described.credentialInfos).toEqual([{ mechanism: 1, iterations: 4096 }]);
      } finally {
        connection.close();
      }
    }
  }, 120_000);

  it("client quotas live in etcd: set through one broker with kafka-configs.sh, described and enforced by the others", async () => {
    const first = cluster.broker(1);
    const result = await tools.run("org.apache.kafka.tools.ConfigCommand", [
      "--bootstrap-server",
      `${first.host}:${first.port}`,
      "--alter",
      "--add-config",
      "producer_byte_rate=2048,controller_mutation_rate=0.05",
      "--entity-type",
      "clients",
      "--entity-name",
      "cluster-quota",
    ]);
    expect(result.code, result.stderr).toBe(0);
    for (const id of [2, 3]) {
      const connection = await connectTo(id, "cluster-quota");
      try {
        const values = await waitFor(`broker ${id} to know the quota`, async () => {
          const answer = await connection.request<{ entries: { values: { key: string; value: number }[] }[] | null }>(48, {
            components: [{ entityType: "client-id", matchType: 0, match: "cluster-quota" }],
            strict: false,
          });
          return answer.entries?.length === 1 ? answer.entries[0].values : null;
        });
        expect(Object.fromEntries(values.map((v) => [v.key, v.value]))).toEqual({ producer_byte_rate: 2048, controller_mutation_rate: 0.05 });
        // Enforced there too: a bucket of 0.55 partitions is empty after one topic (KIP-599, strict).
        const create = (name: string) =>
          connection.request<{ throttleTimeMs: number; topics: { errorCode: number }[] }>(19, {
            topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
            timeoutMs: 30_000,
            validateOnly: false,
          });
        expect((await create(`quota-${id}-a`)).topics[0].errorCode).toBe(0);
        const refused = await create(`quota-${id}-b`);
        expect(refused.topics[0].errorCode).toBe(89);
        expect(refused.throttleTimeMs).toBeGreaterThan(0);
      } finally {
        connection.close();
      }
    }
  }, 120_000);
});
