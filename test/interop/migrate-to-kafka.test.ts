// Moving a log dir born on Sluice to Apache Kafka 4.4.0 (issue 18, part 2): Sluice (the real binary,
// StandardAuthorizer, SCRAM) gets topics with configs, a SCRAM user, ACLs, a client quota, records,
// and committed offsets of a classic and a KIP-848 consumer group; stops. Then:
//   - `sluice migrate export-kraft` refuses a running Sluice, a directory that is not Sluice's, a
//     missing controller listener, and a second export over the first; otherwise writes a KRaft
//     snapshot into a new __cluster_metadata-0;
//   - Sluice started again before Kafka imports the snapshot (sluice-metadata.json was moved aside),
//     and a second export replaces the first;
//   - Kafka (never formatted on this directory: Sluice's meta.properties) starts on it, and Kafka's own
//     tools show the same topics (ids, partitions, configs), user, ACLs, quota and group offsets as
//     Sluice showed; every record is there, a classic group resumes from its committed offset, the
//     SCRAM user logs in with the password set on Sluice and the ACLs hold, and Kafka's new producer
//     ids are above those Sluice handed out;
//   - a directory kafka-storage formatted but never started, used by Sluice and exported: Kafka loads
//     the export over its bootstrap snapshot and serves the topic Sluice created.
//
//   npm run build:ts && npx vitest run test/interop/migrate-to-kafka.test.ts

import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpLogSegments, freePort, type KafkaBroker, produceWithJava, runJavaTool, startKafka } from "../helpers/kafka.js";
import { aclCommand, authorizer, configCommand, consoleConsumer, groupCommand, offsetRows, scramModule, sluiceCli, topicCommand } from "../helpers/migrate.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

describe("a log dir born on Sluice, exported with migrate export-kraft, served by Kafka 4.4.0", () => {
  let workDir: string;
  let logDir: string;
  let sluice: SluiceBroker | undefined;
  let kafka: KafkaBroker | undefined;
  let tools: ToolSession;
  let controllerPort: number;
  const onSluice: Record<string, string> = {};
  const orders = Array.from({ length: 20 }, (_, i) => ({ key: `o${i % 5}`, value: `order-${i}` }));
  const later = Array.from({ length: 5 }, (_, i) => ({ key: "late", value: `after-commit-${i}` }));
  const ledger = Array.from({ length: 10 }, (_, i) => ({ key: `acct${i % 3}`, value: `entry-${i}` }));

  const describeCommands: Record<string, [string, string[]]> = {
    topics: [topicCommand, ["--describe", "--topic", "orders,ledger"]],
    ordersConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "orders"]],
    ledgerConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "ledger"]],
    bob: [configCommand, ["--describe", "--entity-type", "users", "--entity-name", "bob"]],
    clientQuotas: [configCommand, ["--describe", "--entity-type", "clients", "--entity-name", "app-client"]],
    acls: [aclCommand, ["--list"]],
    classicGroup: [groupCommand, ["--describe", "--group", "app-classic"]],
    consumerGroup: [groupCommand, ["--describe", "--group", "app-848"]],
  };
  const tool = async (bootstrap: string, main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap, ...args]);
    expect(result.code, `${main} ${args.join(" ")}\n${result.stdout}${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const consumeGroup = (bootstrap: string, topic: string, group: string, count: number, properties: Record<string, string> = {}) => {
    const args = ["--topic", topic, "--group", group, "--max-messages", String(count), "--timeout-ms", "30000", "--property", "print.key=true"];
    for (const [key, value] of Object.entries(properties)) args.push("--consumer-property", `${key}=${value}`);
    return tool(bootstrap, consoleConsumer, args);
  };
  const lines = (out: string) => out.split("\n").filter((line) => line.includes("\t"));

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-export-"));
    logDir = join(workDir, "data");
    controllerPort = await freePort();
    const saslPort = await freePort();
    const plainPort = await freePort();
    [sluice, tools] = await Promise.all([
      startSluice({
        logDir,
        workDir: join(workDir, "sluice"),
        port: plainPort,
        overrides: {
          ...authorizer,
          listeners: `PLAINTEXT://127.0.0.1:${plainPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
          "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
          "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        },
      }),
      ToolSession.start(),
    ]);
    const on = (main: string, args: string[]) => tool(sluice!.bootstrap, main, args);
    await on(topicCommand, [
      "--create",
      "--topic",
      "orders",
      "--partitions",
      "3",
      "--config",
      "retention.ms=7200000",
      "--config",
      "compression.type=lz4",
      "--config",
      "message.timestamp.type=LogAppendTime",
    ]);
    await on(topicCommand, ["--create", "--topic", "ledger", "--partitions", "2", "--config", "cleanup.policy=compact"]);
    await on(configCommand, ["--alter", "--entity-type", "users", "--entity-name", "bob", "--add-config", "SCRAM-SHA-512=[password=bob-secret]"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:bob", "--operation", "Read", "--operation", "Describe", "--topic", "orders"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:bob", "--operation", "Read", "--group", "bob-", "--resource-pattern-type", "prefixed"]);
    await on(configCommand, ["--alter", "--entity-type", "clients", "--entity-name", "app-client", "--add-config", "producer_byte_rate=1048576"]);
    await produceWithJava({ bootstrap: sluice.bootstrap, topic: "orders", records: orders, compression: "lz4", idempotent: true, acks: "all" });
    await produceWithJava({ bootstrap: sluice.bootstrap, topic: "ledger", records: ledger, compression: "snappy", idempotent: true, acks: "all" });
    // A classic group and a KIP-848 consumer group commit what they read (the console consumer commits on close).
    expect(lines(await consumeGroup(sluice.bootstrap, "orders", "app-classic", orders.length, { "auto.offset.reset": "earliest" }))).toHaveLength(
      orders.length,
    );
    expect(
      lines(await consumeGroup(sluice.bootstrap, "ledger", "app-848", ledger.length, { "auto.offset.reset": "earliest", "group.protocol": "consumer" })),
    ).toHaveLength(ledger.length);
    await produceWithJava({ bootstrap: sluice.bootstrap, topic: "orders", records: later, compression: "gzip", idempotent: true, acks: "all" });
    for (const [name, [main, args]] of Object.entries(describeCommands)) onSluice[name] = await on(main, args);
  }, 300_000);

  afterAll(async () => {
    tools?.close();
    if (sluice) await sluice.stop();
    await kafka?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  it("export-kraft refuses a running Sluice, a directory that is not Sluice's, and a missing controller listener", async () => {
    const running = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir, "--controller-listener", `CONTROLLER://127.0.0.1:${controllerPort}`]);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain("Sluice is running on it or did not stop cleanly");
    expect(await sluice!.stop()).toBe(0);
    sluice = undefined;
    const notSluice = await sluiceCli(["migrate", "export-kraft", "--log-dirs", join(workDir, "sluice")]);
    expect(notSluice.code).toBe(1);
    expect(notSluice.stderr).toContain("no sluice-metadata.json: not a Sluice log directory");
    const noListener = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir]);
    expect(noListener.code).toBe(1);
    expect(noListener.stderr).toContain("give --controller-listener NAME://host:port");
    const badListener = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir, "--controller-listener", "127.0.0.1:9093"]);
    expect(badListener.code).toBe(1);
    expect(badListener.stderr).toContain("expected NAME://host:port");
  }, 60_000);

  it("export-kraft writes a snapshot Kafka's DumpLogSegments reads and moves sluice-metadata.json aside", async () => {
    const dry = await sluiceCli([
      "migrate",
      "export-kraft",
      "--log-dirs",
      logDir,
      "--controller-listener",
      `CONTROLLER://127.0.0.1:${controllerPort}`,
      "--dry-run",
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Would write");
    const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir, "--controller-listener", `CONTROLLER://127.0.0.1:${controllerPort}`]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("New metadata log __cluster_metadata-0 (the directory was born on Sluice)");
    const snapshot = join(logDir, "__cluster_metadata-0", "00000000000000000001-0000000000.checkpoint");
    expect(exported.stdout).toContain(`Wrote ${snapshot}`);
    const dump = await runJavaTool("org.apache.kafka.tools.DumpLogSegments", ["--cluster-metadata-decoder", "--files", snapshot], { quickStart: true });
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toContain("SnapshotHeader");
    expect(dump.stdout).toMatch(/KRaftVoters \{"version":0,"voters":\[\{"voterId":1,.*"port":\d+/);
    expect(dump.stdout).toContain("SnapshotFooter");
    expect(dump.stdout).toMatch(/"type":"TOPIC_RECORD","version":0,"data":\{"name":"orders"/);
    expect(dump.stdout).toMatch(/"type":"USER_SCRAM_CREDENTIAL_RECORD"/);
    expect(dump.stdout).not.toContain("isvalid: false");
    // sluice-metadata.json is moved aside: the directory is Kafka's now, and a second export has nothing to read.
    const movedTo = join(logDir, "sluice-metadata.json.exported-00000000000000000001-0000000000");
    expect(exported.stdout).toContain(`Moved sluice-metadata.json to ${movedTo}`);
    expect(JSON.parse(await readFile(movedTo, "utf8")).topics.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(["orders", "ledger"]));
    const again = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir, "--controller-listener", `CONTROLLER://127.0.0.1:${controllerPort}`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("no sluice-metadata.json: not a Sluice log directory");
  }, 60_000);

  it("Sluice started again before Kafka imports the exported snapshot; a second export replaces the first", async () => {
    sluice = await startSluice({ logDir, workDir: join(workDir, "sluice-again"), overrides: authorizer });
    const on = (main: string, args: string[]) => tool(sluice!.bootstrap, main, args);
    const described = await on(...describeCommands.topics);
    const id = (text: string, topic: string) => new RegExp(`Topic: ${topic}\\tTopicId: (\\S+)\\tPartitionCount: (\\d+)`).exec(text)?.slice(1);
    for (const topic of ["orders", "ledger"]) expect(id(described, topic), topic).toEqual(id(onSluice.topics, topic));
    expect(await on(...describeCommands.ordersConfigs)).toBe(onSluice.ordersConfigs);
    expect(offsetRows(await on(...describeCommands.classicGroup))).toEqual(offsetRows(onSluice.classicGroup));
    await on(topicCommand, ["--create", "--topic", "second-visit", "--partitions", "1", "--config", "retention.bytes=1048576"]);
    await on(configCommand, ["--alter", "--entity-type", "groups", "--entity-name", "app-848", "--add-config", "consumer.session.timeout.ms=50000"]);
    onSluice.secondVisit = await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "second-visit"]);
    onSluice.groupConfig = await on(configCommand, ["--describe", "--entity-type", "groups", "--entity-name", "app-848"]);
    expect(onSluice.groupConfig).toContain("consumer.session.timeout.ms=50000");
    expect(await sluice!.stop()).toBe(0);
    sluice = undefined;
    const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("Replaced the snapshot of an earlier export (Kafka has not run on the directory since)");
    expect(exported.stdout).toContain("Wrote ");
    expect(exported.stdout).toContain("00000000000000000001-0000000000.checkpoint");
    expect(exported.stdout).toContain("sluice-metadata.json.exported-00000000000000000001-0000000000.2");
  }, 120_000);

  it("Kafka started on the directory serves Sluice's topics, configs, user, ACLs, quota, records and group offsets", async () => {
    const port = await freePort();
    const saslPort = await freePort();
    kafka = await startKafka({
      workDir: join(workDir, "kafka"),
      logDir,
      port,
      controllerPort,
      properties: {
        ...authorizer,
        listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
        "advertised.listeners": `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": `${scramModule} required;`,
      },
    });
    expect(kafka.formatMs, "the directory was not formatted again").toBe(0);
    const on = (main: string, args: string[]) => tool(kafka!.bootstrap, main, args);

    const described = await on(...describeCommands.topics);
    for (const topic of ["orders", "ledger"]) {
      const id = (text: string) => new RegExp(`Topic: ${topic}\\tTopicId: (\\S+)\\tPartitionCount: (\\d+)`).exec(text)?.slice(1);
      expect(id(described), described).toEqual(id(onSluice.topics));
      expect(id(described)).toBeDefined();
    }
    for (const line of described.split("\n").filter((l) => l.includes("Partition: "))) expect(line, described).toMatch(/\tLeader: 1\t/);
    expect(await on(...describeCommands.ordersConfigs)).toBe(onSluice.ordersConfigs);
    expect(await on(...describeCommands.ledgerConfigs)).toBe(onSluice.ledgerConfigs);
    expect(await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "second-visit"])).toBe(onSluice.secondVisit);
    expect(await on(configCommand, ["--describe", "--entity-type", "groups", "--entity-name", "app-848"])).toBe(onSluice.groupConfig);
    expect(await on(...describeCommands.bob)).toBe(onSluice.bob);
    expect(await on(...describeCommands.clientQuotas)).toBe(onSluice.clientQuotas);
    const sortedLines = (text: string) => text.split("\n").sort();
    expect(sortedLines(await on(...describeCommands.acls))).toEqual(sortedLines(onSluice.acls));
    for (const group of ["classicGroup", "consumerGroup"] as const) {
      const rows = offsetRows(await on(...describeCommands[group]));
      expect(rows, group).toEqual(offsetRows(onSluice[group]));
      expect(rows.length, group).toBeGreaterThan(0);
    }
    expect(offsetRows(onSluice.classicGroup).reduce((lag, row) => lag + Number(row.split(" ")[4]), 0)).toBe(later.length);

    // The classic group resumes from its committed offsets: only what was produced after the commit.
    const resumed = lines(await consumeGroup(kafka.bootstrap, "orders", "app-classic", later.length));
    expect(resumed.map((line) => line.split("\t").join("=")).sort()).toEqual(later.map((r) => `${r.key}=${r.value}`).sort());
    // Every record, with LogAppendTime on orders as on Sluice.
    const all = lines(
      await on(consoleConsumer, [
        "--topic",
        "orders",
        "--from-beginning",
        "--max-messages",
        String(orders.length + later.length),
        "--timeout-ms",
        "30000",
        "--property",
        "print.timestamp=true",
        "--property",
        "print.key=true",
      ]),
    );
    expect(all.map((line) => line.split("\t").slice(1).join("=")).sort()).toEqual([...orders, ...later].map((r) => `${r.key}=${r.value}`).sort());
    for (const line of all) expect(line).toMatch(/^LogAppendTime:\d+\t/);

    // bob logs in with the SCRAM-SHA-512 password set on Sluice; his ACLs let him read orders, not ledger.
    const bob = {
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.jaas.config": `${scramModule} required username="bob" password="bob-secret";`,
    };
    const consume = (topic: string) => {
      const args = ["--bootstrap", `127.0.0.1:${saslPort}`, "--topic", topic, "--timeout-ms", "20000"];
      for (const [key, value] of Object.entries(bob)) args.push("--property", `${key}=${value}`);
      return runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
    };
    const allowed = await consume("orders");
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout.split("\n").filter((line) => line.includes('"offset"'))).toHaveLength(orders.length + later.length);
    const denied = await consume("ledger");
    expect(denied.code).not.toBe(0);
    expect(denied.stdout + denied.stderr).toMatch(/TopicAuthorizationException|Not authorized to access topics: \[ledger\]/);

    // Kafka hands out producer ids above every id Sluice handed out.
    const store = JSON.parse(await readFile(join(logDir, "sluice-metadata.json.exported-00000000000000000001-0000000000.2"), "utf8")) as {
      nextProducerId: string;
    };
    await produceWithJava({
      bootstrap: kafka.bootstrap,
      topic: "ledger",
      partition: 0,
      records: [{ key: "k", value: "on-kafka" }],
      compression: "none",
      idempotent: true,
      acks: "all",
    });
    const dump = await dumpLogSegments([join(logDir, "ledger-0", "00000000000000000000.log")]);
    const producerIds = dump.files.flatMap((file) => file.batches).map((batch) => Number(batch.producerId));
    expect(producerIds.at(-1)).toBeGreaterThanOrEqual(Number(store.nextProducerId));
    expect(new Set(producerIds.slice(0, -1)).has(producerIds.at(-1) as number)).toBe(false);
    await kafka.stop();
    kafka = undefined;
  }, 300_000);
});

describe("a log dir kafka-storage formatted but never started, used by Sluice, exported, served by Kafka 4.4.0", () => {
  it("Kafka loads the export over its bootstrap snapshot and serves Sluice's topic and records", async () => {
    const workDir = await mkdtemp(join(tmpdir(), "sluice-export-formatted-"));
    let kafka: KafkaBroker | undefined;
    try {
      const logDir = join(workDir, "data");
      const port = await freePort();
      const controllerPort = await freePort();
      const properties = join(workDir, "format.properties");
      await writeFile(
        properties,
        [
          "process.roles=broker,controller",
          "node.id=1",
          `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
          `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
          "controller.listener.names=CONTROLLER",
          `log.dirs=${logDir}`,
          "",
        ].join("\n"),
      );
      const format = await runJavaTool("kafka.tools.StorageTool", ["format", "-t", "mXHONAw6HMxRjdc77CihIg", "-c", properties, "--standalone"], {
        quickStart: true,
      });
      expect(format.code, format.stderr).toBe(0);
      const sluice = await startSluice({ logDir, workDir: join(workDir, "sluice") });
      const create = await runJavaTool(
        topicCommand,
        ["--bootstrap-server", sluice.bootstrap, "--create", "--topic", "fresh", "--partitions", "2", "--config", "retention.ms=99999"],
        {
          quickStart: true,
        },
      );
      expect(create.code, create.stderr).toBe(0);
      const fresh = Array.from({ length: 6 }, (_, i) => ({ key: `f${i}`, value: `fresh-${i}` }));
      await produceWithJava({ bootstrap: sluice.bootstrap, topic: "fresh", records: fresh, compression: "zstd", idempotent: true, acks: "all" });
      expect(await sluice.stop()).toBe(0);
      const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", logDir]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toContain("Kafka's metadata log is empty (formatted, never started)");
      expect(exported.stdout).toContain("Note: Kafka never started on this directory: its bootstrap snapshot 00000000000000000000-0000000000.checkpoint");
      kafka = await startKafka({ workDir: join(workDir, "kafka"), logDir, port, controllerPort });
      const described = await runJavaTool(topicCommand, ["--bootstrap-server", kafka.bootstrap, "--describe", "--topic", "fresh"], { quickStart: true });
      expect(described.stdout).toMatch(/Topic: fresh\tTopicId: \S+\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: .*retention\.ms=99999/);
      const read = await runJavaTool(
        consoleConsumer,
        [
          "--bootstrap-server",
          kafka.bootstrap,
          "--topic",
          "fresh",
          "--from-beginning",
          "--max-messages",
          "6",
          "--timeout-ms",
          "30000",
          "--property",
          "print.key=true",
        ],
        { quickStart: true },
      );
      expect(
        read.stdout
          .split("\n")
          .filter((line) => line.includes("\t"))
          .sort(),
      ).toEqual(fresh.map((r) => `${r.key}\t${r.value}`).sort());
      await kafka.stop();
      kafka = undefined;
      // Kafka took the export as its state and dropped the bootstrap snapshot it superseded.
      expect(readdirSync(join(logDir, "__cluster_metadata-0"))).toContain("00000000000000000001-0000000000.checkpoint");
    } finally {
      await kafka?.kill();
      await rm(workDir, { recursive: true, force: true });
    }
  }, 240_000);
});
