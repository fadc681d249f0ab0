// Moving a 3-broker Kafka 4.4.0 KRaft cluster to Sluice broker by broker (issue 18, "A cluster"
// in docs/migration.md): three combined broker+controller Kafka nodes get a topic replicated to all
// three with configs, a SCRAM user, an ACL, records produced with acks=all and a group's committed
// offsets, and stop. Then, on an etcd metadata store:
//   - `sluice migrate check` refuses a broker's directory for a single node (pointing to the cluster
//     procedure) and, with --cluster, lists what each broker is assigned and accepts it;
//   - Sluice broker 1 starts on Kafka broker 1's directory, imports the metadata into etcd and
//     serves the topic with Kafka's id;
//   - Sluice brokers 2 and 3 start on their own directories: Kafka's tools see Kafka's replica
//     assignment with all three in the ISR, the topic's configs, the user, the ACL, the group's
//     committed offsets (a consumer resumes from them) and every record;
//   - killing the broker that leads a partition keeps the topic available: leadership moves and
//     every record is still read.
//
//   npm run build:ts && npx vitest run test/interop/migrate-cluster-from-kafka.test.ts

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../helpers/cli.js";
import { startEtcd, waitFor } from "../helpers/cluster.js";
import { type KafkaBroker, produceWithJava, startKafkaCluster } from "../helpers/kafka.js";
import { type SluiceBroker, sluiceBin, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

const topicCommand = "org.apache.kafka.tools.TopicCommand";
const configCommand = "org.apache.kafka.tools.ConfigCommand";
const aclCommand = "org.apache.kafka.tools.AclCommand";
const groupCommand = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
const consoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const authorizer = { "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users": "User:ANONYMOUS" };

const sluiceCli = (args: string[]) => run(process.execPath, [sluiceBin, ...args]);

/** kafka-consumer-groups --describe rows as "topic partition current-offset", sorted. */
function committedRows(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 6 && /^\d+$/.test(cols[2] ?? "") && cols[0] !== "GROUP")
    .map((cols) => cols.slice(1, 4).join(" "))
    .sort();
}

/** kafka-topics --describe's partition lines: partition → { leader (-1 for none), replicas, isr }. */
function describedPartitions(stdout: string): Map<number, { leader: number; replicas: number[]; isr: number[] }> {
  const found = new Map<number, { leader: number; replicas: number[]; isr: number[] }>();
  for (const line of stdout.split("\n")) {
    const match = /Partition: (\d+)\s+Leader: (-?\d+|none)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)/.exec(line);
    if (match === null) continue;
    const ids = (text: string) => (text === "" ? [] : text.split(",").map(Number));
    found.set(Number(match[1]), { leader: match[2] === "none" ? -1 : Number(match[2]), replicas: ids(match[3]), isr: ids(match[4]) });
  }
  return found;
}

describe("moving a 3-broker Kafka 4.4.0 cluster to Sluice broker by broker", () => {
  let workDir: string;
  let kafka: KafkaBroker[] = [];
  let tools: ToolSession;
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  const sluice = new Map<number, SluiceBroker>();
  const onKafka: Record<string, string> = {};
  const records = Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 9}`, value: `v${i}` }));
  const later = Array.from({ length: 15 }, (_, i) => ({ key: "late", value: `after-commit-${i}` }));
  let topicId = "";

  const tool = async (bootstrap: string, main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap, ...args]);
    expect(result.code, `${main} ${args.join(" ")}\n${result.stdout}${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const tabbed = (out: string) => out.split("\n").filter((line) => line.includes("\t"));
  const consume = (bootstrap: string, count: number, group: string | null) => {
    const args = ["--topic", "orders", "--max-messages", String(count), "--timeout-ms", "30000", "--property", "print.key=true"];
    if (group === null) args.push("--from-beginning");
    else args.push("--group", group, "--consumer-property", "auto.offset.reset=earliest");
    return tool(bootstrap, consoleConsumer, args);
  };
  const describeCommands: Record<string, [string, string[]]> = {
    configs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "orders"]],
    alice: [configCommand, ["--describe", "--entity-type", "users", "--entity-name", "alice"]],
    acls: [aclCommand, ["--list"]],
  };
  const startSluiceBroker = async (nodeId: number) => {
    const broker = await startSluice({
      workDir: join(workDir, `sluice-${nodeId}`),
      logDir: kafka[nodeId - 1].logDir,
      startTimeoutMs: 90_000,
      overrides: {
        "node.id": nodeId,
        "metadata.store": `etcd://${etcd?.endpoint}`,
        "offsets.topic.replication.factor": 3,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "replica.lag.time.max.ms": 5000,
        "broker.session.timeout.ms": 6000,
        ...authorizer,
      },
    });
    sluice.set(nodeId, broker);
    return broker;
  };
  const liveBootstrap = () => [...sluice.values()].map((broker) => broker.bootstrap).join(",");
  const describeTopic = async (bootstrap: string) => describedPartitions(await tool(bootstrap, topicCommand, ["--describe", "--topic", "orders"]));

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-migrate-cluster-"));
    [kafka, tools] = await Promise.all([startKafkaCluster({ workDir, properties: authorizer }), ToolSession.start()]);
    const bootstrap = kafka.map((broker) => broker.bootstrap).join(",");
    const on = (main: string, args: string[]) => tool(bootstrap, main, args);
    await on(topicCommand, [
      "--create",
      "--topic",
      "orders",
      "--partitions",
      "3",
      "--replication-factor",
      "3",
      "--config",
      "min.insync.replicas=2",
      "--config",
      "retention.ms=86400000",
    ]);
    await on(configCommand, ["--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", "SCRAM-SHA-256=[password=alice-secret]"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe", "--topic", "orders"]);
    await produceWithJava({ bootstrap, topic: "orders", records, compression: "lz4", idempotent: true, acks: "all" });
    expect(tabbed(await consume(bootstrap, 40, "app"))).toHaveLength(40);
    await produceWithJava({ bootstrap, topic: "orders", records: later, compression: "none", idempotent: true, acks: "all" });
    for (const [name, [main, args]] of Object.entries(describeCommands)) onKafka[name] = await on(main, args);
    onKafka.group = await on(groupCommand, ["--describe", "--group", "app"]);
    onKafka.topic = await on(topicCommand, ["--describe", "--topic", "orders"]);
    topicId = /TopicId: (\S+)/.exec(onKafka.topic)?.[1] ?? "";
    expect(topicId).not.toBe("");
    await Promise.all(kafka.map((broker) => broker.stop()));
    etcd = await startEtcd({ dir: join(workDir, "etcd") });
  }, 600_000);

  afterAll(async () => {
    for (const broker of sluice.values()) await broker.kill().catch(() => undefined);
    for (const broker of kafka) await broker.kill().catch(() => undefined);
    await tools?.close?.();
    await etcd?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 120_000);

  it("migrate check refuses one broker's directory for a single node and lists the brokers with --cluster", async () => {
    const single = await sluiceCli(["migrate", "check", "--log-dirs", kafka[0].logDir]);
    expect(single.code).toBe(1);
    expect(single.stdout).toContain("A cluster");
    const cluster = await sluiceCli(["migrate", "check", "--cluster", "--log-dirs", kafka[0].logDir]);
    expect(cluster.code, cluster.stdout + cluster.stderr).toBe(0);
    expect(cluster.stdout).toContain("1 (this directory)");
    expect(cluster.stdout).toContain("as broker 1 of a cluster");
  }, 120_000);

  it("Sluice broker 1 imports Kafka's metadata into etcd and serves the topic", async () => {
    const first = await startSluiceBroker(1);
    const described = await tool(first.bootstrap, topicCommand, ["--describe", "--topic", "orders"]);
    expect(described).toContain(`TopicId: ${topicId}`);
    expect(
      [...describedPartitions(described).values()].map((p) => p.replicas.length),
      `${described}\n${first.stdout().slice(-6000)}`,
    ).toEqual([3, 3, 3]);
  }, 180_000);

  it("Sluice brokers 2 and 3 join on their own directories: Kafka's assignment, ISR, configs, user, ACL, offsets and records", async () => {
    await Promise.all([startSluiceBroker(2), startSluiceBroker(3)]);
    const bootstrap = liveBootstrap();
    const kafkaPartitions = describedPartitions(onKafka.topic);
    let last = "";
    const partitions = await waitFor(
      "every partition led with all three replicas in the ISR",
      async () => {
        last = await tool(bootstrap, topicCommand, ["--describe", "--topic", "orders"]);
        const found = describedPartitions(last);
        return [...found.values()].every((p) => p.leader >= 0 && p.isr.length === 3) && found.size === 3 ? found : null;
      },
      120_000,
      1000,
      () => `: ${last}\n${[...sluice.values()].map((b) => b.stdout().slice(-3000)).join("\n")}`,
    );
    for (const [index, partition] of partitions) expect(partition.replicas, `partition ${index}`).toEqual(kafkaPartitions.get(index)?.replicas);
    for (const [name, [main, args]] of Object.entries(describeCommands)) {
      // Synonyms left out: Kafka's dynamic default broker config min.insync.replicas=1 is not carried (static in Sluice).
      const lines = (out: string) =>
        out
          .split("\n")
          .map((line) => line.replace(/ synonyms=\{.*\}$/, ""))
          .sort();
      expect(lines(await tool(bootstrap, main, args)), name).toEqual(lines(onKafka[name]));
    }
    expect(committedRows(await tool(bootstrap, groupCommand, ["--describe", "--group", "app"]))).toEqual(committedRows(onKafka.group));
    const resumed = tabbed(await consume(bootstrap, records.length + later.length - 40, "app"));
    expect(resumed).toHaveLength(records.length + later.length - 40);
    expect(resumed.filter((line) => line.startsWith("late\t"))).toHaveLength(later.length);
    const all = tabbed(await consume(bootstrap, records.length + later.length, null)).map((line) => line.split("\t")[1]);
    expect(all.sort()).toEqual([...records, ...later].map((r) => r.value).sort());
  }, 300_000);

  it("killing a Sluice broker moves leadership: the topic stays available", async () => {
    const before = await describeTopic(liveBootstrap());
    const victim = before.get(0)?.leader ?? 1;
    await sluice.get(victim)?.kill();
    sluice.delete(victim);
    const bootstrap = liveBootstrap();
    await waitFor(
      `leadership to leave broker ${victim}`,
      async () => {
        const found = await describeTopic(bootstrap).catch(() => null);
        return found !== null && [...found.values()].every((p) => p.leader >= 0 && p.leader !== victim) ? found : null;
      },
      60_000,
      1000,
    );
    const all = tabbed(await consume(bootstrap, records.length + later.length, null)).map((line) => line.split("\t")[1]);
    expect(all.sort()).toEqual([...records, ...later].map((r) => r.value).sort());
    await produceWithJava({ bootstrap, topic: "orders", records: [{ key: "after", value: "kill" }], compression: "none", idempotent: true, acks: "all" });
  }, 180_000);
});
