// A Sluice cluster born on Sluice (3 brokers on etcd, never Kafka's) moved to Apache Kafka 4.4.0
// (issue 18, "Back to Kafka, a cluster born on Sluice" in docs/migration.md): a topic replicated to
// all three with configs, records produced with acks=all, a SCRAM user with an ACL and a group's
// committed offsets; the brokers stopped; `sluice migrate export-kraft --metadata-store` on each
// directory (one snapshot id, the same bytes: a new metadata log on each, a static quorum); then
// three combined Kafka nodes started on the directories with `controller.quorum.voters` (not
// formatted) serve the topic with its id and replica assignment, every partition led with all three
// replicas in the ISR, the same kafka-topics / kafka-configs / kafka-acls output as Sluice gave, the
// group's committed offsets and every record.
//
//   npm run build:ts && npx vitest run test/interop/migrate-cluster-to-kafka.test.ts

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEtcd, waitFor } from "../helpers/cluster.js";
import { type KafkaBroker, produceWithJava, startKafkaCluster } from "../helpers/kafka.js";
import {
  aclCommand,
  authorizer,
  committedRows,
  configCommand,
  consoleConsumer,
  describedPartitions,
  groupCommand,
  sluiceCli,
  topicCommand,
} from "../helpers/migrate.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

describe("a 3-broker cluster born on Sluice moved to Kafka 4.4.0 (export-kraft --metadata-store on each broker)", () => {
  let workDir: string;
  let tools: ToolSession;
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  const sluice = new Map<number, SluiceBroker>();
  let kafka: KafkaBroker[] = [];
  const records = Array.from({ length: 45 }, (_, i) => ({ key: `k${i % 7}`, value: `ledger-${i}` }));
  const onSluice: Record<string, string> = {};
  const logDir = (nodeId: number) => join(workDir, `sluice-${nodeId}`, "data");

  const tool = async (bootstrap: string, main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap, ...args]);
    expect(result.code, `${main} ${args.join(" ")}\n${result.stdout}${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const tabbed = (out: string) => out.split("\n").filter((line) => line.includes("\t"));
  const checks: Record<string, [string, string[]]> = {
    configs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "ledger"]],
    bob: [configCommand, ["--describe", "--entity-type", "users", "--entity-name", "bob"]],
    acls: [aclCommand, ["--list"]],
  };
  const fullIsr = async (bootstrap: string) => {
    let last = "";
    return waitFor(
      "ledger: every partition led with all three replicas in the ISR",
      async () => {
        last = await tool(bootstrap, topicCommand, ["--describe", "--topic", "ledger"]);
        const found = describedPartitions(last);
        return found.size === 3 && [...found.values()].every((p) => p.leader >= 0 && p.isr.length === 3) ? last : null;
      },
      120_000,
      1000,
      () => `: ${last}`,
    );
  };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-migrate-cluster-out-"));
    [etcd, tools] = await Promise.all([startEtcd({ dir: join(workDir, "etcd") }), ToolSession.start()]);
    const started = await Promise.all(
      [1, 2, 3].map((nodeId) =>
        startSluice({
          workDir: join(workDir, `sluice-${nodeId}`),
          logDir: logDir(nodeId),
          startTimeoutMs: 90_000,
          overrides: {
            "node.id": nodeId,
            "metadata.store": `etcd://${etcd?.endpoint}`,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            "transaction.state.log.min.isr": 2,
            ...authorizer,
          },
        }),
      ),
    );
    for (const [index, broker] of started.entries()) sluice.set(index + 1, broker);
  }, 300_000);

  afterAll(async () => {
    for (const broker of sluice.values()) await broker.kill().catch(() => undefined);
    for (const node of kafka) await node.kill().catch(() => undefined);
    await tools?.close?.();
    await etcd?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 120_000);

  it("the cluster's topic, configs, user, ACL, offsets and records: on Sluice, exported, then on Kafka", async () => {
    let bootstrap = [...sluice.values()].map((broker) => broker.bootstrap).join(",");
    const create = ["--create", "--topic", "ledger", "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2"];
    let refused = "";
    await waitFor(
      "ledger created with replication factor 3",
      async () => {
        const result = await tools.run(topicCommand, ["--bootstrap-server", bootstrap, ...create, "--config", "retention.ms=7200000"]);
        refused = result.stdout + result.stderr;
        return result.code === 0 ? true : null;
      },
      60_000,
      1000,
      () => `: ${refused}`,
    );
    await tool(bootstrap, configCommand, ["--alter", "--entity-type", "users", "--entity-name", "bob", "--add-config", "SCRAM-SHA-512=[password=bob-secret]"]);
    await tool(bootstrap, aclCommand, ["--add", "--allow-principal", "User:bob", "--operation", "Read", "--topic", "ledger"]);
    await produceWithJava({ bootstrap, topic: "ledger", records, compression: "zstd", idempotent: true, acks: "all" });
    const consumed = [
      "--topic",
      "ledger",
      "--group",
      "app",
      "--max-messages",
      "20",
      "--timeout-ms",
      "30000",
      "--consumer-property",
      "auto.offset.reset=earliest",
    ];
    expect(tabbed(await tool(bootstrap, consoleConsumer, [...consumed, "--property", "print.key=true"]))).toHaveLength(20);
    onSluice.topic = await fullIsr(bootstrap);
    for (const [name, [main, args]] of Object.entries(checks)) onSluice[name] = await tool(bootstrap, main, args);
    onSluice.group = await tool(bootstrap, groupCommand, ["--describe", "--group", "app"]);
    const committed = committedRows(onSluice.group).reduce((sum, row) => sum + Number(row.split(" ")[2]), 0);
    expect(committed).toBeGreaterThanOrEqual(20);

    for (const [nodeId, broker] of [...sluice]) {
      expect(await broker.stop()).toBe(0);
      sluice.delete(nodeId);
    }
    const ids = new Set<string>();
    for (const nodeId of [1, 2, 3]) {
      const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir(nodeId), "--metadata-store", `etcd://${etcd?.endpoint}`]);
      expect(exported.code, exported.stdout + exported.stderr).toBe(0);
      ids.add(/Snapshot id (\d+-\d+)/.exec(exported.stdout)?.[1] ?? "");
    }
    expect([...ids]).toEqual(["1-0"]);
    // Exported again before Kafka ran: broker 1's snapshot is replaced (the same bytes again).
    const again = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir(1), "--metadata-store", `etcd://${etcd?.endpoint}`]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const snapshots = [1, 2, 3].map((nodeId) => readFileSync(join(logDir(nodeId), "__cluster_metadata-0", "00000000000000000001-0000000000.checkpoint")));
    expect(
      snapshots.every((snapshot) => snapshot.equals(snapshots[0])),
      "every broker's snapshot is the same bytes",
    ).toBe(true);

    kafka = await startKafkaCluster({ workDir, properties: authorizer, existing: [1, 2, 3].map((nodeId) => ({ nodeId, logDir: logDir(nodeId) })) });
    for (const node of kafka) expect(node.formatMs, "the directory was not formatted").toBe(0);
    bootstrap = kafka.map((node) => node.bootstrap).join(",");
    const described = await fullIsr(bootstrap);
    expect(/TopicId: (\S+)\tPartitionCount: (\d+)/.exec(described)?.slice(1)).toEqual(/TopicId: (\S+)\tPartitionCount: (\d+)/.exec(onSluice.topic)?.slice(1));
    const replicas = (text: string) => [...describedPartitions(text)].map(([index, p]) => `${index}:${p.replicas.join(",")}`);
    expect(replicas(described)).toEqual(replicas(onSluice.topic));
    const lines = (out: string) =>
      out
        .split("\n")
        .map((line) => line.replace(/ synonyms=\{.*\}$/, ""))
        .sort();
    for (const [name, [main, args]] of Object.entries(checks)) expect(lines(await tool(bootstrap, main, args)), name).toEqual(lines(onSluice[name]));
    expect(committedRows(await tool(bootstrap, groupCommand, ["--describe", "--group", "app"]))).toEqual(committedRows(onSluice.group));
    const all = tabbed(
      await tool(bootstrap, consoleConsumer, [
        "--topic",
        "ledger",
        "--from-beginning",
        "--max-messages",
        String(records.length),
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
      ]),
    );
    expect(all.map((line) => line.split("\t")[1]).sort()).toEqual(records.map((r) => r.value).sort());
    // The group resumes on Kafka from the offsets it committed on Sluice.
    const rest = records.length - committed;
    const resumed = tabbed(
      await tool(bootstrap, consoleConsumer, [
        "--topic",
        "ledger",
        "--group",
        "app",
        "--max-messages",
        String(rest),
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
      ]),
    );
    expect(resumed).toHaveLength(rest);
  }, 600_000);
});
