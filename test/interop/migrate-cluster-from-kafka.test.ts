// Moving a 3-broker Kafka 4.4.0 KRaft cluster to Sluice broker by broker (issue 18, "A cluster"
// in docs/migration.md), twice: three combined broker+controller Kafka nodes, and three brokers with
// a dedicated controller (process.roles=controller, the production layout: the brokers keep a copy
// of the metadata log as observers). The brokers get a topic replicated to all three with configs,
// a SCRAM user, an ACL, records produced with acks=all and a group's committed offsets, and stop.
// Then, on an etcd metadata store:
//   - `sluice migrate check` refuses a broker's directory for a single node (pointing to the cluster
//     procedure) and, with --cluster, lists what each broker is assigned and accepts it;
//   - Sluice broker 1 starts on Kafka broker 1's directory, imports the metadata into etcd and
//     serves the topic with Kafka's id;
//   - Sluice brokers 2 and 3 start on their own directories: Kafka's tools see Kafka's replica
//     assignment with all three in the ISR, the topic's configs, the user, the ACL, the group's
//     committed offsets (a consumer resumes from them) and every record;
//   - killing the broker that leads a partition keeps the topic available: leadership moves and
//     every record is still read;
//   - the way back: a topic created on the Sluice cluster (RF 3, a config) with records, a config
//     changed, the three Sluice brokers stopped, `sluice migrate export-kraft --metadata-store` run
//     on each directory, the dedicated controller's too (one snapshot id for all, the same bytes),
//     and the Kafka nodes started again on their directories serve both topics (ids, replicas, full ISR), the configs, the user (a SCRAM
//     login), the ACL, every record and the group's committed offsets.
//
//   npm run build:ts && npx vitest run test/interop/migrate-cluster-from-kafka.test.ts

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEtcd, waitFor } from "../helpers/cluster.js";
import { freePort, type KafkaBroker, produceWithJava, runJavaTool, startKafkaCluster } from "../helpers/kafka.js";
import {
  aclCommand,
  authorizer,
  committedRows,
  configCommand,
  consoleConsumer,
  describedPartitions,
  groupCommand,
  scramModule,
  sluiceCli,
  topicCommand,
} from "../helpers/migrate.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

/** The Kafka clusters moved: three combined broker+controller nodes, and three brokers with a dedicated controller. */
const topologies = [
  { name: "three combined broker+controller nodes", controllers: 0, killStep: true },
  // The leadership move on a SIGKILL is Sluice's own, the same for both layouts: checked once.
  { name: "three brokers and a dedicated controller", controllers: 1, killStep: false },
] as const;

for (const topology of topologies)
  describe(`moving a 3-broker Kafka 4.4.0 cluster (${topology.name}) to Sluice broker by broker`, () => {
    let workDir: string;
    /** Kafka's brokers (node ids 1-3), and its dedicated controllers (none for combined nodes). */
    let kafka: KafkaBroker[] = [];
    let controllers: KafkaBroker[] = [];
    const startKafka = async (options: Omit<Parameters<typeof startKafkaCluster>[0], "workDir" | "controllers">) => {
      const nodes = await startKafkaCluster({ workDir, controllers: topology.controllers, ...options });
      kafka = nodes.filter((node) => node.role !== "controller");
      controllers = nodes.filter((node) => node.role === "controller");
    };
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
    const consume = (bootstrap: string, count: number, group: string | null, topic = "orders") => {
      const args = ["--topic", topic, "--max-messages", String(count), "--timeout-ms", "30000", "--property", "print.key=true"];
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
      [, tools] = await Promise.all([startKafka({ properties: authorizer }), ToolSession.start()]);
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
      // The brokers stop while the quorum is up (their controlled shutdown needs it), then the controllers.
      await Promise.all(kafka.map((broker) => broker.stop()));
      await Promise.all(controllers.map((controller) => controller.stop()));
      etcd = await startEtcd({ dir: join(workDir, "etcd") });
    }, 600_000);

    afterAll(async () => {
      for (const broker of sluice.values()) await broker.kill().catch(() => undefined);
      for (const node of [...kafka, ...controllers]) await node.kill().catch(() => undefined);
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
      // What tells which broker to start first: the newest metadata log (epoch, then offset).
      expect(cluster.stdout).toMatch(/Metadata offset: \d+ \(epoch [1-9]\d*\)/);
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

    it.skipIf(!topology.killStep)(
      "killing a Sluice broker moves leadership: the topic stays available",
      async () => {
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
      },
      180_000,
    );

    it("the way back: export-kraft on each stopped Sluice broker, and the three Kafka brokers serve what the cluster holds", async () => {
      for (const nodeId of [1, 2, 3]) if (!sluice.has(nodeId)) await startSluiceBroker(nodeId);
      let bootstrap = liveBootstrap();
      const payments = Array.from({ length: 30 }, (_, i) => ({ key: `p${i % 5}`, value: `pay-${i}` }));
      const on = (main: string, args: string[]) => tool(bootstrap, main, args);
      // The restarted broker registers with the cluster's controller a moment after it serves.
      const create = [
        "--bootstrap-server",
        bootstrap,
        "--create",
        "--topic",
        "payments",
        "--partitions",
        "2",
        "--replication-factor",
        "3",
        "--config",
        "retention.ms=3600000",
      ];
      let refused = "";
      await waitFor(
        "payments created with replication factor 3",
        async () => {
          const result = await tools.run(topicCommand, create);
          refused = result.stdout + result.stderr;
          return result.code === 0 ? true : null;
        },
        60_000,
        1000,
        () => `: ${refused}`,
      );
      await on(configCommand, ["--alter", "--entity-type", "topics", "--entity-name", "orders", "--add-config", "max.message.bytes=2000000"]);
      await produceWithJava({ bootstrap, topic: "payments", records: payments, compression: "none", idempotent: true, acks: "all" });
      const fullIsr = async (at: string, topic: string) => {
        let last = "";
        return waitFor(
          `${topic}: every partition led with all three replicas in the ISR`,
          async () => {
            last = await tool(at, topicCommand, ["--describe", "--topic", topic]);
            const found = describedPartitions(last);
            return found.size > 0 && [...found.values()].every((p) => p.leader >= 0 && p.isr.length === 3) ? last : null;
          },
          120_000,
          1000,
          () =>
            `: ${last}\n${kafka
              .map((broker) =>
                broker
                  .output()
                  .split("\n")
                  .filter((line) => /unclean|incarnation|elr|fence|previous|truncat|snapshot/i.test(line))
                  .slice(-15)
                  .join("\n"),
              )
              .join("\n---\n")}`,
        );
      };
      const onSluice: Record<string, string> = {};
      for (const topic of ["orders", "payments"]) onSluice[topic] = await fullIsr(bootstrap, topic);
      const checks: Record<string, [string, string[]]> = {
        ...describeCommands,
        paymentsConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "payments"]],
      };
      for (const [name, [main, args]] of Object.entries(checks)) onSluice[name] = await on(main, args);
      expect(onSluice.configs).toContain("max.message.bytes=2000000");
      onSluice.group = await on(groupCommand, ["--describe", "--group", "app"]);

      for (const [nodeId, broker] of [...sluice]) {
        expect(await broker.stop()).toBe(0);
        sluice.delete(nodeId);
      }
      // Every node's directory gets the snapshot: the brokers' and the dedicated controllers' (the quorum).
      const nodes = [...kafka, ...controllers];
      const ids = new Set<string>();
      for (const node of nodes) {
        const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", node.logDir, "--metadata-store", `etcd://${etcd?.endpoint}`]);
        expect(exported.code, exported.stdout + exported.stderr).toBe(0);
        const id = /Snapshot id (\d+-\d+)/.exec(exported.stdout)?.[1];
        expect(id, exported.stdout).toBeDefined();
        ids.add(id ?? "");
      }
      expect(ids.size, "one snapshot id on every node").toBe(1);
      // The controllers must start from the same state, and the brokers follow it: Kafka's
      // DumpLogSegments reads the same records in every node's snapshot, and they are the same bytes.
      const [offset, epoch] = [...ids][0].split("-");
      const snapshotName = `${offset.padStart(20, "0")}-${epoch.padStart(10, "0")}.checkpoint`;
      const dumps: string[] = [];
      for (const node of nodes) {
        const file = join(node.logDir, "__cluster_metadata-0", snapshotName);
        const dump = await runJavaTool("org.apache.kafka.tools.DumpLogSegments", ["--cluster-metadata-decoder", "--files", file], { quickStart: true });
        expect(dump.code, dump.stderr).toBe(0);
        expect(dump.stdout).toContain("SnapshotFooter");
        expect(dump.stdout).not.toContain("isvalid: false");
        dumps.push(
          dump.stdout
            .split("\n")
            .filter((line) => !line.startsWith("Dumping"))
            .map((line) => line.replace(/CreateTime: \d+/g, "").replace(/crc: \d+/g, ""))
            .join("\n"),
        );
      }
      for (const dump of dumps.slice(1)) expect(dump).toEqual(dumps[0]);
      const bytes = nodes.map((node) => readFileSync(join(node.logDir, "__cluster_metadata-0", snapshotName)));
      expect(
        bytes.every((snapshot) => snapshot.equals(bytes[0])),
        "every node's snapshot is the same bytes",
      ).toBe(true);

      const saslPorts = new Map<number, number>();
      for (const nodeId of [1, 2, 3]) saslPorts.set(nodeId, await freePort());
      await startKafka({
        properties: authorizer,
        reuse: nodes,
        nodeProperties: ({ nodeId, role, port, controllerPort }) => {
          const controller = role === "combined" ? `,CONTROLLER://127.0.0.1:${controllerPort}` : "";
          const listeners = `PLAINTEXT://127.0.0.1:${port}${controller},SASL_PLAINTEXT://127.0.0.1:${saslPorts.get(nodeId)}`;
          return {
            listeners,
            "advertised.listeners": listeners,
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256",
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": `${scramModule} required;`,
          };
        },
      });
      for (const node of [...kafka, ...controllers]) expect(node.formatMs, "the directory was not formatted again").toBe(0);
      bootstrap = kafka.map((broker) => broker.bootstrap).join(",");
      for (const topic of ["orders", "payments"]) {
        const described = await fullIsr(bootstrap, topic);
        const id = (text: string) => /TopicId: (\S+)\tPartitionCount: (\d+)/.exec(text)?.slice(1);
        expect(id(described), described).toEqual(id(onSluice[topic]));
        const replicas = (text: string) => [...describedPartitions(text)].map(([index, p]) => `${index}:${p.replicas.join(",")}`);
        expect(replicas(described)).toEqual(replicas(onSluice[topic]));
      }
      expect(/TopicId: (\S+)/.exec(onSluice.orders)?.[1]).toBe(topicId);
      const lines = (out: string) =>
        out
          .split("\n")
          .map((line) => line.replace(/ synonyms=\{.*\}$/, ""))
          .sort();
      for (const [name, [main, args]] of Object.entries(checks)) expect(lines(await on(main, args)), name).toEqual(lines(onSluice[name]));
      expect(committedRows(await on(groupCommand, ["--describe", "--group", "app"]))).toEqual(committedRows(onSluice.group));
      // Every record of orders: Kafka's, and the one produced after the SIGKILL step.
      const orders = [...records, ...later, ...(topology.killStep ? [{ value: "kill" }] : [])];
      const all = tabbed(await consume(bootstrap, orders.length, null)).map((line) => line.split("\t")[1]);
      expect(all.sort()).toEqual(orders.map((r) => r.value).sort());
      const paid = tabbed(await consume(bootstrap, payments.length, null, "payments")).map((line) => line.split("\t")[1]);
      expect(paid.sort()).toEqual(payments.map((r) => r.value).sort());

      // alice logs in with her SCRAM-SHA-256 password (set on Kafka, kept by Sluice); her ACL lets her read orders.
      const args = ["--bootstrap", `127.0.0.1:${saslPorts.get(1)}`, "--topic", "orders", "--timeout-ms", "20000"];
      for (const [key, value] of Object.entries({
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": `${scramModule} required username="alice" password="alice-secret";`,
      }))
        args.push("--property", `${key}=${value}`);
      const alice = await runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
      expect(alice.code, alice.stdout + alice.stderr).toBe(0);
      expect(alice.stdout.split("\n").filter((line) => line.includes('"offset"'))).toHaveLength(orders.length);
    }, 600_000);
  });
