// Moving a Kafka broker's data directory to Sluice in place (issue 18): Apache Kafka 4.4.0 (single
// node, KRaft, StandardAuthorizer) gets topics with configs, a SCRAM user, ACLs, client quotas,
// dynamic default broker configs and records from an idempotent producer, and stops. Then:
//   - `sluice migrate check` lists what Sluice adopts and what it cannot carry, changing no file,
//     and names the file and position of a corrupt metadata log (exit code 1), as does a start on it;
//   - Sluice (the real binary) starts on the same log dir, and Kafka's own tools see the same topic
//     ids, topic configs, SCRAM credentials, ACLs and quotas as they saw on Kafka, every record, and
//     no __cluster_metadata; alice authenticates with her Kafka SCRAM password and her Kafka ACLs
//     hold; a new producer id is above Kafka's block; Kafka's metadata log is left byte for byte;
//     a classic and a KIP-848 group have Kafka's committed offsets and resume from them; of Kafka's
//     committed, aborted and open transactions read_committed sees the committed one, and the open
//     one is aborted when its timeout runs out, as Kafka does after a restart;
//   - changes made under Sluice (a topic with configs, a changed topic config, a SCRAM user, an ACL,
//     records, committed offsets) are written back by `sluice migrate export-kraft` as a snapshot at
//     the end of Kafka's metadata log (no file of Kafka's changed), and Kafka started on the
//     directory again shows the same in its tools, serves every record and offset, and lets the
//     new user log in;
//   - Sluice started on the directory a second time imports the metadata log afresh (the export moved
//     sluice-metadata.json aside): a topic and a config change made on Kafka in between are there.
//
//   npm run build:ts && npx vitest run test/interop/migrate-from-kafka.test.ts

import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpLogSegments, freePort, type KafkaBroker, produceWithJava, runJavaTool, startKafka } from "../helpers/kafka.js";
import { aclCommand, authorizer, configCommand, consoleConsumer, groupCommand, offsetRows, scramModule, sluiceCli, topicCommand } from "../helpers/migrate.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";
import { readTopic, TxnClient, valuesOf } from "../helpers/transactions.js";

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** sha256 of every file under `directory`, by relative path. */
async function hashTree(directory: string, prefix = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) Object.assign(out, await hashTree(path, `${prefix}${entry.name}/`));
    else
      out[`${prefix}${entry.name}`] = createHash("sha256")
        .update(await readFile(path))
        .digest("hex");
  }
  return out;
}

describe("moving a Kafka 4.4.0 broker's log dir to Sluice in place", () => {
  let workDir: string;
  let kafka: KafkaBroker;
  let sluice: SluiceBroker | undefined;
  let tools: ToolSession;
  let saslPort: number;
  /** What Kafka's tools printed against Kafka, before it stopped. */
  const onKafka: Record<string, string> = {};
  /** What Kafka's tools printed against Sluice, before it stopped. */
  const onSluice: Record<string, string> = {};
  const records = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));

  const describeCommands: Record<string, [string, string[]]> = {
    topics: [topicCommand, ["--describe", "--topic", "events,compacted"]],
    eventsConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "events"]],
    compactedConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "compacted"]],
    alice: [configCommand, ["--describe", "--entity-type", "users", "--entity-name", "alice"]],
    clientQuotas: [configCommand, ["--describe", "--entity-type", "clients", "--entity-name", "app-client"]],
    acls: [aclCommand, ["--list"]],
    classicGroup: [groupCommand, ["--describe", "--group", "app-classic"]],
    consumerGroup: [groupCommand, ["--describe", "--group", "app-848"]],
  };
  const onSluiceCommands: Record<string, [string, string[]]> = {
    topics: [topicCommand, ["--describe", "--topic", "events,compacted,made-on-sluice,resume,txns"]],
    eventsConfigs: describeCommands.eventsConfigs,
    madeOnSluiceConfigs: [configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "made-on-sluice"]],
    carol: [configCommand, ["--describe", "--entity-type", "users", "--entity-name", "carol"]],
    clientQuotas: describeCommands.clientQuotas,
    acls: describeCommands.acls,
    classicGroup: describeCommands.classicGroup,
    consumerGroup: describeCommands.consumerGroup,
  };
  /** Read by both groups on Kafka and committed; `later` is produced after the commits. */
  const resume = Array.from({ length: 10 }, (_, i) => ({ key: `r${i % 3}`, value: `resume-${i}` }));
  const later = Array.from({ length: 5 }, (_, i) => ({ key: "late", value: `after-commit-${i}` }));
  const consumeGroup = (bootstrap: string, topic: string, group: string, count: number, properties: Record<string, string> = {}) => {
    const args = ["--topic", topic, "--group", group, "--max-messages", String(count), "--timeout-ms", "30000", "--property", "print.key=true"];
    for (const [key, value] of Object.entries(properties)) args.push("--consumer-property", `${key}=${value}`);
    return tool(bootstrap, consoleConsumer, args);
  };
  const tabbed = (out: string) => out.split("\n").filter((line) => line.includes("\t"));
  const keyValues = (out: string) =>
    tabbed(out)
      .map((line) => line.split("\t").join("="))
      .sort();
  const tool = async (bootstrap: string, main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap, ...args]);
    expect(result.code, `${main} ${args.join(" ")}\n${result.stdout}${result.stderr}`).toBe(0);
    return result.stdout;
  };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-migrate-"));
    [kafka, tools] = await Promise.all([startKafka({ workDir: join(workDir, "kafka"), properties: authorizer }), ToolSession.start()]);
    const on = (main: string, args: string[]) => tool(kafka.bootstrap, main, args);
    await on(topicCommand, ["--create", "--topic", "compacted", "--partitions", "2", "--config", "cleanup.policy=compact"]);
    await on(topicCommand, [
      "--create",
      "--topic",
      "events",
      "--partitions",
      "3",
      "--config",
      "retention.ms=3600000",
      "--config",
      "compression.type=zstd",
      "--config",
      "message.timestamp.type=LogAppendTime",
    ]);
    await on(topicCommand, ["--create", "--topic", "deleted-before-the-move", "--partitions", "1"]);
    // The delete can reach the broker before its metadata lists the new topic: retried until it does.
    for (let attempt = 1; ; attempt++) {
      const deleted = await tools.run(topicCommand, ["--bootstrap-server", kafka.bootstrap, "--delete", "--topic", "deleted-before-the-move"]);
      if (deleted.code === 0) break;
      if (attempt === 20 || !deleted.stdout.concat(deleted.stderr).includes("does not exist")) expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
      await sleep(250);
    }
    await on(configCommand, [
      "--alter",
      "--entity-type",
      "users",
      "--entity-name",
      "alice",
      "--add-config",
      "SCRAM-SHA-256=[iterations=8192,password=alice-secret]",
    ]);
    await on(configCommand, ["--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", "SCRAM-SHA-512=[password=alice-secret]"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe", "--topic", "events"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "app-", "--resource-pattern-type", "prefixed"]);
    await on(configCommand, [
      "--alter",
      "--entity-type",
      "clients",
      "--entity-name",
      "app-client",
      "--add-config",
      "producer_byte_rate=1048576,consumer_byte_rate=2097152",
    ]);
    await on(configCommand, ["--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", "request_percentage=50"]);
    await on(configCommand, [
      "--alter",
      "--entity-type",
      "brokers",
      "--entity-default",
      "--add-config",
      "follower.replication.throttled.rate=1048576,log.cleaner.threads=2",
    ]);
    const half = records.length / 2;
    await produceWithJava({
      bootstrap: kafka.bootstrap,
      topic: "compacted",
      records: records.slice(0, half),
      compression: "none",
      idempotent: true,
      acks: "all",
    });
    // A restart gives every partition a new leader epoch: the later batches carry it.
    await kafka.stop();
    kafka = await startKafka({ workDir: join(workDir, "kafka"), port: kafka.port, controllerPort: kafka.controllerPort, properties: authorizer });
    await produceWithJava({ bootstrap: kafka.bootstrap, topic: "compacted", records: records.slice(half), compression: "lz4", idempotent: true, acks: "all" });
    await produceWithJava({ bootstrap: kafka.bootstrap, topic: "events", records, compression: "zstd", idempotent: true, acks: "all" });

    // A classic group and a KIP-848 consumer group commit offsets; more records come after the commits.
    await on(topicCommand, ["--create", "--topic", "resume", "--partitions", "2"]);
    await produceWithJava({ bootstrap: kafka.bootstrap, topic: "resume", records: resume, compression: "gzip", idempotent: true, acks: "all" });
    expect(tabbed(await consumeGroup(kafka.bootstrap, "resume", "app-classic", resume.length, { "auto.offset.reset": "earliest" }))).toHaveLength(
      resume.length,
    );
    expect(
      tabbed(await consumeGroup(kafka.bootstrap, "resume", "app-848", resume.length, { "auto.offset.reset": "earliest", "group.protocol": "consumer" })),
    ).toHaveLength(resume.length);
    await produceWithJava({ bootstrap: kafka.bootstrap, topic: "resume", records: later, compression: "snappy", idempotent: true, acks: "all" });

    // A committed, an aborted, and an open transaction (its producer vanishes; Kafka stops with it open).
    await on(topicCommand, ["--create", "--topic", "txns", "--partitions", "1"]);
    const txn = await TxnClient.start(kafka.bootstrap);
    try {
      await txn.producer("committer", "mv-committed", { "max.block.ms": 30_000 });
      await txn.producer("aborter", "mv-aborted", { "max.block.ms": 30_000 });
      await txn.producer("open", "mv-open", { "transaction.timeout.ms": 15_000, "max.block.ms": 30_000 });
      // Markers are written after commit/abort return: each transaction waits for the one before to be complete.
      const complete = async (end: number) => {
        for (let waited = 0; waited < 30_000; waited += 200) {
          const offsets = await txn.endOffsets("txns");
          if (offsets.committed[0] === end && offsets.uncommitted[0] === end) return;
          await sleep(200);
        }
        throw new Error(`txns did not reach ${end} under both isolation levels`);
      };
      expect(await txn.transaction("committer", "txns", 0, ["c-1", "c-2"], "commit")).toEqual([0, 1]);
      await complete(3);
      expect(await txn.transaction("aborter", "txns", 0, ["x-1"], "abort")).toEqual([3]);
      await complete(5);
      expect(await txn.transaction("open", "txns", 0, ["o-1", "o-2"], "open")).toEqual([5, 6]);
      expect(await txn.endOffsets("txns")).toEqual({ committed: [5], uncommitted: [7] });
    } finally {
      await txn.halt();
    }
    for (const [name, [main, args]] of Object.entries(describeCommands)) onKafka[name] = await tool(kafka.bootstrap, main, args);
    await kafka.stop();
  }, 300_000);

  afterAll(async () => {
    tools?.close();
    await kafka?.kill();
    if (sluice) await sluice.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 60_000);

  it("sluice migrate check lists what is adopted and what is not carried, and changes no file", async () => {
    const before = await hashTree(kafka.logDir);
    const check = await sluiceCli(["migrate", "check", "--log-dirs", kafka.logDir]);
    expect(check.code, check.stderr).toBe(0);
    const out = check.stdout;
    expect(out).toContain(`Cluster ID: ${kafka.clusterId}`);
    const eventsId = /Topic: events\tTopicId: (\S+)/.exec(onKafka.topics)?.[1];
    expect(eventsId).toBeDefined();
    expect(out).toMatch(new RegExp(`^events +${eventsId} +3 +3 +\\d+ +compression.type=zstd,message.timestamp.type=LogAppendTime,retention.ms=3600000$`, "m"));
    expect(out).toMatch(/^compacted +\S+ +2 +2 +\d+ +cleanup.policy=compact$/m);
    expect(out).not.toContain("deleted-before-the-move");
    expect(out).toMatch(/^<default> +follower.replication.throttled.rate +1048576$/m);
    expect(out).toMatch(/^alice +SCRAM-SHA-256 +8192$/m);
    expect(out).toMatch(/^alice +SCRAM-SHA-512 +4096$/m);
    expect(out).toMatch(/^User:alice +\* +READ +ALLOW +GROUP +app- +PREFIXED$/m);
    expect(out).toMatch(/^User:alice +\* +DESCRIBE +ALLOW +TOPIC +events +LITERAL$/m);
    expect(out).toMatch(/^client-id=app-client +consumer_byte_rate=2097152,producer_byte_rate=1048576$/m);
    expect(out).toMatch(/^user=alice +request_percentage=50$/m);
    expect(out).toMatch(/Kafka handed out ids below \d+; Sluice continues from there/);
    expect(out).toMatch(/^metadata\.version +\d+$/m);
    expect(out).toContain("default broker config log.cleaner.threads=2: not dynamic in Sluice");
    expect(out).toMatch(/^Groups: 2 \(2 with committed offsets\)$/m);
    expect(out).toMatch(/^Transactional ids: 3 \(1 transaction\(s\) open at the stop: aborted at their timeout/m);
    expect(out).toContain("Sluice can adopt this directory");
    const json = await sluiceCli(["migrate", "check", "--log-dirs", kafka.logDir, "--json"]);
    const plan = JSON.parse(json.stdout) as { topics: { name: string; id: string }[]; scramUsers: Record<string, unknown>[] };
    expect(plan.topics.map((t) => [t.name, t.id])).toContainEqual(["events", eventsId]);
    // Credentials show as user, mechanism and iterations: no salt, no keys.
    expect(plan.scramUsers).toEqual([
      { user: "alice", mechanism: "SCRAM-SHA-256", iterations: 8192 },
      { user: "alice", mechanism: "SCRAM-SHA-512", iterations: 4096 },
    ]);
    expect(await hashTree(kafka.logDir)).toEqual(before);
  }, 60_000);

  it("a corrupt metadata log is refused with the file and position, by the check and by a start", async () => {
    const copy = join(workDir, "corrupt");
    await cp(kafka.logDir, copy, { recursive: true });
    const segment = join(copy, "__cluster_metadata-0", "00000000000000000000.log");
    const bytes = await readFile(segment);
    bytes[bytes.length - 10] ^= 0xff; // inside the last batch's records
    await writeFile(segment, bytes);
    const check = await sluiceCli(["migrate", "check", "--log-dirs", copy]);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/^Error: .*00000000000000000000\.log: the record batch at byte \d+ \(offsets \d+-\d+\) fails its CRC32C check\n$/);
    const before = await hashTree(copy);
    const start = startSluice({ logDir: copy, workDir: join(workDir, "corrupt-broker"), startTimeoutMs: 20_000 });
    await expect(start).rejects.toThrow(/fails its CRC32C check/);
    expect(await hashTree(join(copy, "__cluster_metadata-0"))).toEqual(
      Object.fromEntries(Object.entries(before).flatMap(([k, v]) => (k.startsWith("__cluster_metadata-0/") ? [[k.slice(21), v]] : []))),
    );
  }, 60_000);

  it("Sluice started on the log dir serves Kafka's topics, configs, users, ACLs, quotas and records", async () => {
    const metadataLogBefore = await hashTree(join(kafka.logDir, "__cluster_metadata-0"));
    const plainPort = await freePort();
    saslPort = await freePort();
    sluice = await startSluice({
      logDir: kafka.logDir,
      workDir: join(workDir, "sluice"),
      overrides: {
        ...authorizer,
        listeners: `PLAINTEXT://127.0.0.1:${plainPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
      },
      port: plainPort,
    });
    const on = (main: string, args: string[]) => tool(sluice!.bootstrap, main, args);

    const listed = (await on(topicCommand, ["--list"])).trim().split("\n");
    expect(listed).toEqual(expect.arrayContaining(["compacted", "events"]));
    expect(listed).not.toContain("__cluster_metadata");
    expect(listed).not.toContain("deleted-before-the-move");
    const describeMetadataTopic = await tools.run(topicCommand, ["--bootstrap-server", sluice.bootstrap, "--describe", "--topic", "__cluster_metadata"]);
    expect(describeMetadataTopic.stdout + describeMetadataTopic.stderr).toContain("Topic '__cluster_metadata' does not exist as expected");
    const offsets = await tools.run("org.apache.kafka.tools.GetOffsetShell", ["--bootstrap-server", sluice.bootstrap, "--topic", "__cluster_metadata"]);
    expect(offsets.stdout.trim(), offsets.stderr).toBe("");
    const described = await on(...describeCommands.topics);
    for (const topic of ["events", "compacted"]) {
      const id = (text: string) => new RegExp(`Topic: ${topic}\\tTopicId: (\\S+)\\tPartitionCount: (\\d+)`).exec(text)?.slice(1);
      expect(id(described), described).toEqual(id(onKafka.topics));
    }
    expect(await on(...describeCommands.eventsConfigs)).toBe(onKafka.eventsConfigs);
    expect(await on(...describeCommands.compactedConfigs)).toBe(onKafka.compactedConfigs);
    // Kafka lists a user's mechanisms in HashMap order (ScramImage.describe): compared as a set.
    const mechanismsSorted = (text: string) => text.replace(/are (SCRAM-.*)$/m, (_, list: string) => `are ${list.split(", ").sort().join(", ")}`);
    expect(mechanismsSorted(await on(...describeCommands.alice))).toBe(mechanismsSorted(onKafka.alice));
    expect(await on(...describeCommands.clientQuotas)).toBe(onKafka.clientQuotas);
    const sortedLines = (text: string) => text.split("\n").sort();
    expect(sortedLines(await on(...describeCommands.acls))).toEqual(sortedLines(onKafka.acls));
    const brokerDefaults = await on(configCommand, ["--describe", "--entity-type", "brokers", "--entity-default"]);
    expect(brokerDefaults).toMatch(/^ {2}follower\.replication\.throttled\.rate=1048576 sensitive=false/m);

    // Every record, as a console consumer reads it (events under LogAppendTime).
    for (const topic of ["compacted", "events"]) {
      const out = await on("org.apache.kafka.tools.consumer.ConsoleConsumer", [
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        String(records.length),
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
        "--property",
        "print.timestamp=true",
      ]);
      const lines = out.split("\n").filter((line) => line.includes("\t"));
      expect(lines.map((line) => line.split("\t").slice(1).join("=")).sort()).toEqual(records.map((r) => `${r.key}=${r.value}`).sort());
      if (topic === "events") for (const line of lines) expect(line).toMatch(/^LogAppendTime:\d+\t/);
    }

    // alice logs in with the password she had on Kafka; her Kafka ACLs let her read events, not compacted.
    const alice = {
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanism": "SCRAM-SHA-256",
      "sasl.jaas.config": `${scramModule} required username="alice" password="alice-secret";`,
    };
    const consume = (topic: string) => {
      const args = ["--bootstrap", `127.0.0.1:${saslPort}`, "--topic", topic, "--timeout-ms", "20000"];
      for (const [key, value] of Object.entries(alice)) args.push("--property", `${key}=${value}`);
      return runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
    };
    const allowed = await consume("events");
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(
      allowed.stdout
        .trim()
        .split("\n")
        .filter((line) => line.includes('"offset"')),
    ).toHaveLength(records.length);
    const denied = await consume("compacted");
    expect(denied.code).not.toBe(0);
    expect(denied.stdout + denied.stderr).toMatch(/TopicAuthorizationException|Not authorized to access topics: \[compacted\]/);

    // A new idempotent producer gets an id above the block Kafka handed out.
    const store = JSON.parse(await readFile(join(kafka.logDir, "sluice-metadata.json"), "utf8")) as {
      nextProducerId: string;
      adoptedFromKafka: { clusterId: string; metadataOffset: string };
    };
    expect(store.adoptedFromKafka.clusterId).toBe(kafka.clusterId);
    const kafkaBlockEnd = Number(/Kafka handed out ids below (\d+)/.exec((await sluiceCli(["migrate", "check", "--log-dirs", kafka.logDir])).stdout)?.[1]);
    expect(kafkaBlockEnd).toBeGreaterThan(0);
    await produceWithJava({
      bootstrap: sluice.bootstrap,
      topic: "compacted",
      partition: 0,
      records: [{ key: "after", value: "the-move" }],
      compression: "none",
      idempotent: true,
      acks: "all",
    });
    const dump = await dumpLogSegments([join(kafka.logDir, "compacted-0", "00000000000000000000.log")]);
    const batches = dump.files.flatMap((file) => file.batches);
    const producerIds = batches.map((batch) => Number(batch.producerId));
    expect(producerIds.filter((id) => id < kafkaBlockEnd)).not.toHaveLength(0); // Kafka's own batches
    expect(producerIds.at(-1)).toBeGreaterThanOrEqual(kafkaBlockEnd);
    // Sluice leads at the newest leader epoch Kafka left in the log, never an older one.
    const epochs = batches.map((batch) => batch.partitionLeaderEpoch);
    expect(Math.max(...epochs), epochs.join(",")).toBeGreaterThan(0);
    expect(epochs, "partition leader epochs in log order").toEqual([...epochs].sort((a, b) => a - b));

    // Kafka's groups: the same committed offsets, and both resume from them (only what came after the commits).
    for (const group of ["classicGroup", "consumerGroup"] as const) {
      const rows = offsetRows(await on(...describeCommands[group]));
      expect(rows.length, group).toBeGreaterThan(0);
      expect(rows, group).toEqual(offsetRows(onKafka[group]));
    }
    const laterPairs = later.map((r) => `${r.key}=${r.value}`).sort();
    expect(keyValues(await consumeGroup(sluice.bootstrap, "resume", "app-classic", later.length))).toEqual(laterPairs);
    expect(keyValues(await consumeGroup(sluice.bootstrap, "resume", "app-848", later.length, { "group.protocol": "consumer" }))).toEqual(laterPairs);

    // Kafka's transactions: the open one is aborted when its timeout runs out (as Kafka does after a
    // restart); read_committed sees the committed one only; the committed id goes on under Sluice.
    const txn = await TxnClient.start(sluice.bootstrap);
    try {
      let last: { committed: number[]; uncommitted: number[] } = { committed: [], uncommitted: [] };
      for (let waited = 0; waited < 60_000; waited += 1000) {
        last = await txn.endOffsets("txns");
        if (last.committed[0] === last.uncommitted[0]) break;
        await sleep(1000);
      }
      expect(last, "the open transaction is aborted: an ABORT marker after o-2").toEqual({ committed: [8], uncommitted: [8] });
      expect(valuesOf(await readTopic(sluice.bootstrap, "txns", "read_committed"), 0)).toEqual(["c-1", "c-2"]);
      expect(valuesOf(await readTopic(sluice.bootstrap, "txns", "read_uncommitted"), 0)).toEqual(["c-1", "c-2", "x-1", "o-1", "o-2"]);
      await txn.producer("committer", "mv-committed", { "max.block.ms": 30_000 });
      expect(await txn.transaction("committer", "txns", 0, ["s-1"], "commit")).toEqual([8]);
    } finally {
      await txn.close();
    }

    // Changes made under Sluice, for the way back (export-kraft): a topic with configs, a changed
    // config of Kafka's topic, a SCRAM user and her ACLs.
    await on(topicCommand, [
      "--create",
      "--topic",
      "made-on-sluice",
      "--partitions",
      "2",
      "--config",
      "cleanup.policy=compact",
      "--config",
      "max.message.bytes=200000",
    ]);
    await on(configCommand, ["--alter", "--entity-type", "topics", "--entity-name", "events", "--add-config", "retention.ms=7200000"]);
    await on(configCommand, ["--alter", "--entity-type", "users", "--entity-name", "carol", "--add-config", "SCRAM-SHA-512=[password=carol-secret]"]);
    await on(aclCommand, ["--add", "--allow-principal", "User:carol", "--operation", "Read", "--operation", "Describe", "--topic", "made-on-sluice"]);
    await produceWithJava({
      bootstrap: sluice.bootstrap,
      topic: "made-on-sluice",
      records: records.slice(0, 8),
      compression: "zstd",
      idempotent: true,
      acks: "all",
    });
    for (const [name, [main, args]] of Object.entries(onSluiceCommands)) onSluice[name] = await on(main, args);

    expect(await sluice.stop()).toBe(0);
    sluice = undefined;
    expect(await hashTree(join(kafka.logDir, "__cluster_metadata-0"))).toEqual(metadataLogBefore);
  }, 300_000);

  it("sluice migrate export-kraft writes Sluice's metadata as a snapshot past Kafka's metadata log, changing none of Kafka's files", async () => {
    const directory = join(kafka.logDir, "__cluster_metadata-0");
    const before = await hashTree(directory);
    const exported = await sluiceCli(["migrate", "export-kraft", "--log-dirs", kafka.logDir]);
    expect(exported.code, exported.stderr).toBe(0);
    const written = /^Wrote (\S+) /m.exec(exported.stdout)?.[1];
    expect(written, exported.stdout).toBeDefined();
    const end = /Kafka's metadata log ends at offset (\d+): the snapshot supersedes it there, nothing of it is truncated/.exec(exported.stdout)?.[1];
    expect(end, exported.stdout).toBeDefined();
    expect(written).toMatch(new RegExp(`/__cluster_metadata-0/${end?.padStart(20, "0")}-\\d{10}\\.checkpoint$`));
    expect(exported.stdout).toMatch(/^ {2}made-on-sluice +\S+ +partitions=2 +configs=2 /m);
    const after = await hashTree(directory);
    const added = Object.keys(after).filter((name) => !(name in before));
    expect(added).toEqual([written?.slice(directory.length + 1)]);
    for (const [name, hash] of Object.entries(before)) expect(after[name], name).toBe(hash);
    // Kafka's own reader agrees with the file.
    const dump = await runJavaTool("org.apache.kafka.tools.DumpLogSegments", ["--cluster-metadata-decoder", "--files", written as string], {
      quickStart: true,
    });
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toContain("SnapshotFooter");
    expect(dump.stdout).not.toContain("isvalid: false");
    // sluice-metadata.json is moved aside: the directory is Kafka's again.
    expect(exported.stdout).toMatch(/^Moved sluice-metadata\.json to \S+\/sluice-metadata\.json\.exported-\d{20}-\d{10}: start Kafka/m);
    const again = await sluiceCli(["migrate", "export-kraft", "--log-dirs", kafka.logDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("no sluice-metadata.json: not a Sluice log directory");
  }, 60_000);

  it("Kafka started on the log dir again serves everything, including what was written and changed on Sluice", async () => {
    const kafkaSaslPort = await freePort();
    const listeners = `PLAINTEXT://127.0.0.1:${kafka.port},CONTROLLER://127.0.0.1:${kafka.controllerPort},SASL_PLAINTEXT://127.0.0.1:${kafkaSaslPort}`;
    kafka = await startKafka({
      workDir: join(workDir, "kafka"),
      port: kafka.port,
      controllerPort: kafka.controllerPort,
      properties: {
        ...authorizer,
        listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": `${scramModule} required;`,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": `${scramModule} required;`,
      },
    });
    const on = (main: string, args: string[]) => tool(kafka.bootstrap, main, args);
    const described = await on(...onSluiceCommands.topics);
    for (const line of described.split("\n").filter((l) => l.includes("Partition: "))) expect(line, described).toMatch(/\tLeader: 1\t/);
    for (const topic of ["events", "compacted", "made-on-sluice", "resume", "txns"]) {
      const id = (text: string) => new RegExp(`Topic: ${topic}\\tTopicId: (\\S+)\\tPartitionCount: (\\d+)`).exec(text)?.slice(1);
      expect(id(described), described).toBeDefined();
      expect(id(described), topic).toEqual(id(onSluice.topics));
    }
    expect(await on(...onSluiceCommands.eventsConfigs)).toBe(onSluice.eventsConfigs);
    expect(onSluice.eventsConfigs).toContain("retention.ms=7200000");
    expect(await on(...onSluiceCommands.madeOnSluiceConfigs)).toBe(onSluice.madeOnSluiceConfigs);
    expect(await on(...onSluiceCommands.carol)).toBe(onSluice.carol);
    expect(await on(...onSluiceCommands.clientQuotas)).toBe(onSluice.clientQuotas);
    const sortedLines = (text: string) => text.split("\n").sort();
    expect(sortedLines(await on(...onSluiceCommands.acls))).toEqual(sortedLines(onSluice.acls));
    for (const group of ["classicGroup", "consumerGroup"] as const) {
      const rows = offsetRows(await on(...onSluiceCommands[group]));
      expect(rows.length, group).toBeGreaterThan(0);
      expect(rows, group).toEqual(offsetRows(onSluice[group]));
    }

    const expected = { compacted: records.length + 1, events: records.length, "made-on-sluice": 8 };
    for (const [topic, count] of Object.entries(expected)) {
      const out = await on(consoleConsumer, [
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        String(count),
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
      ]);
      const lines = tabbed(out);
      expect(lines, topic).toHaveLength(count);
      if (topic === "compacted") expect(lines).toContain("after\tthe-move");
    }
    expect(valuesOf(await readTopic(kafka.bootstrap, "txns", "read_committed"), 0)).toEqual(["c-1", "c-2", "s-1"]);

    // carol, created on Sluice, logs in to Kafka with her password; her ACL lets her read made-on-sluice.
    const carol = await runJavaTool(
      "sluice.kafka.Consume",
      [
        "--bootstrap",
        `127.0.0.1:${kafkaSaslPort}`,
        "--topic",
        "made-on-sluice",
        "--timeout-ms",
        "20000",
        "--property",
        "security.protocol=SASL_PLAINTEXT",
        "--property",
        "sasl.mechanism=SCRAM-SHA-512",
        "--property",
        `sasl.jaas.config=${scramModule} required username="carol" password="carol-secret";`,
      ],
      { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 },
    );
    expect(carol.code, carol.stderr).toBe(0);
    expect(carol.stdout.split("\n").filter((line) => line.includes('"offset"'))).toHaveLength(8);

    // Changes under Kafka, for a second move to Sluice.
    await on(topicCommand, ["--create", "--topic", "made-on-kafka-again", "--partitions", "1", "--config", "retention.ms=60000"]);
    await on(configCommand, ["--alter", "--entity-type", "topics", "--entity-name", "events", "--add-config", "retention.ms=10800000"]);
    onKafka.again = await on(topicCommand, ["--describe", "--topic", "made-on-kafka-again,made-on-sluice"]);
    onKafka.againConfigs = await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "made-on-kafka-again"]);
    onKafka.againEvents = await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "events"]);
    await kafka.stop();
  }, 240_000);

  it("Sluice started on the directory a second time imports Kafka's metadata afresh, with what Kafka changed", async () => {
    sluice = await startSluice({ logDir: kafka.logDir, workDir: join(workDir, "sluice-again"), overrides: authorizer });
    const on = (main: string, args: string[]) => tool(sluice!.bootstrap, main, args);
    const described = await on(topicCommand, ["--describe", "--topic", "made-on-kafka-again,made-on-sluice"]);
    for (const topic of ["made-on-kafka-again", "made-on-sluice"]) {
      const id = (text: string) => new RegExp(`Topic: ${topic}\\tTopicId: (\\S+)\\tPartitionCount: (\\d+)`).exec(text)?.slice(1);
      expect(id(described), topic).toBeDefined();
      expect(id(described), topic).toEqual(id(onKafka.again));
    }
    expect(await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "made-on-kafka-again"])).toBe(onKafka.againConfigs);
    expect(await on(configCommand, ["--describe", "--entity-type", "topics", "--entity-name", "events"])).toBe(onKafka.againEvents);
    expect(onKafka.againEvents).toContain("retention.ms=10800000");
    expect(await on(...onSluiceCommands.carol)).toBe(onSluice.carol);
    expect(valuesOf(await readTopic(sluice.bootstrap, "txns", "read_committed"), 0)).toEqual(["c-1", "c-2", "s-1"]);
    expect(await sluice.stop()).toBe(0);
    sluice = undefined;
  }, 120_000);
});
