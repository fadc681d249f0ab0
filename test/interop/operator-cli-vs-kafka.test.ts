// The operator CLI (`node bin/sluice …`) against a real Apache Kafka 4.4.0 broker, cross-checked
// with other clients: cluster info names Kafka's cluster id; topics are created, described, altered
// and deleted with Kafka's own error names; records produced by the CLI read the same through kcat
// -J as through `sluice consume --json`, and records kcat produces (every codec, keys, headers) read
// the same the other way; keys land on the partitions kafkajs's Java-compatible partitioner picks;
// a group that committed with kafkajs is described (offsets, lag), reset and consumed by the CLI,
// and kafkajs sees the offsets the CLI committed; broker configs are changed dynamically.
// kcat's checks are skipped when it is not installed, except under CI (process.env.CI).
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupMember, jsonLines, type KcatRecord, type Run, run, sluice, sluiceOk, tableRows, waitForGroupState } from "../helpers/cli.js";
import { type KafkaBroker, startKafka } from "../helpers/kafka.js";

const ci = Boolean(process.env.CI);
const kcatInstalled = spawnSync("kcat", ["-V"], { encoding: "utf8" }).status === 0;
const skipKcat = !kcatInstalled && !ci;
if (skipKcat) console.warn("test/interop/operator-cli-vs-kafka.test.ts: kcat checks skipped (apt-get install kcat)");

/** A record as `sluice consume --json` prints it: kcat -J's fields. */
type JsonRecord = KcatRecord;

let kafka: KafkaBroker;
let admin: Admin;
let kafkajs: Kafka;

const ok = (args: string[], input = "") => sluiceOk(kafka.bootstrap, args, input);
const cli = (args: string[], input = ""): Promise<Run> => sluice(kafka.bootstrap, args, input);
const byPosition = (a: JsonRecord, b: JsonRecord) => a.partition - b.partition || a.offset - b.offset;

async function kcat(args: string[], input = ""): Promise<string> {
  const result = await run("kcat", ["-b", kafka.bootstrap, ...args], input);
  if (result.code !== 0) throw new Error(`kcat ${args.join(" ")} exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  kafka = await startKafka({ properties: { "num.partitions": 2 } });
  kafkajs = new Kafka({
    brokers: [kafka.bootstrap],
    clientId: "operator-cli-test",
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  admin = kafkajs.admin();
  await admin.connect();
}, 300_000);

afterAll(async () => {
  await admin?.disconnect().catch(() => {});
  await kafka?.stop();
  if (kafka) await rm(kafka.workDir, { recursive: true, force: true });
});

describe("sluice CLI against Apache Kafka 4.4.0", () => {
  it("cluster info gives Kafka's cluster id and broker", async () => {
    const info = JSON.parse(await ok(["cluster", "info", "--json"]));
    expect(info).toEqual({ clusterId: kafka.clusterId, controllerId: 1, brokers: [{ nodeId: 1, host: "127.0.0.1", port: kafka.port, rack: null }] });
  });

  it("topics: create, refuse a duplicate, list, describe, alter configs, delete", async () => {
    expect(await ok(["topic", "create", "orders", "-p", "3", "-c", "retention.ms=86400000"])).toBe("Created topic orders.\n");
    const duplicate = await cli(["topic", "create", "orders"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe("Error: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.\n");
    const invalid = await cli(["topic", "create", "bad", "-c", "retention.ms=soon"]);
    expect(invalid.stderr).toMatch(/^Error: INVALID_CONFIG: /);
    expect(JSON.parse(await ok(["topic", "create", "spare", "--json"]))).toMatchObject({ partitions: 2, replicationFactor: 1, created: true });
    expect(tableRows(await ok(["topic", "list", "--exclude-internal"]))).toEqual([
      ["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"],
      ["orders", "3", "1"],
      ["spare", "2", "1"],
    ]);
    await ok(["topic", "alter-config", "spare", "--set", "retention.ms=5000000"]);
    const [described] = JSON.parse(await ok(["topic", "describe", "spare", "--json"]));
    expect(described).toMatchObject({ topic: "spare", partitionCount: 2, replicationFactor: 1, configs: { "retention.ms": "5000000" } });
    expect(described.partitions).toEqual([0, 1].map((partition) => ({ partition, leader: 1, replicas: [1], isr: [1], logStartOffset: 0, logEndOffset: 0 })));
    expect(await ok(["topic", "delete", "spare"])).toBe("Deleted topic spare.\n");
    const gone = await cli(["topic", "describe", "spare"]);
    expect(gone.stderr).toBe("Error: UNKNOWN_TOPIC_OR_PARTITION: Topic 'spare' does not exist.\n");
  });

  it("keys land where kafkajs's Java-compatible partitioner puts them", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `customer-${i}`);
    await ok(["topic", "create", "by-cli", "-p", "5"]);
    await ok(["topic", "create", "by-kafkajs", "-p", "5"]);
    await ok(["produce", "-t", "by-cli", "-K", ":"], keys.map((key) => `${key}:x`).join("\n"));
    const producer = kafkajs.producer();
    await producer.connect();
    await producer.send({ topic: "by-kafkajs", messages: keys.map((key) => ({ key, value: "x" })) });
    await producer.disconnect();
    const placement = async (topic: string) =>
      Object.fromEntries(jsonLines<JsonRecord>(await ok(["consume", "-t", topic, "--json"])).map((r) => [r.key as string, r.partition]));
    const cliPlacement = await placement("by-cli");
    expect(Object.keys(cliPlacement)).toHaveLength(40);
    expect(cliPlacement).toEqual(await placement("by-kafkajs"));
  });

  it.skipIf(skipKcat)("records the CLI produces read the same through kcat -J", async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `h:${i},src:cli\tk${i}\tvalue ${i}`);
    await ok(["produce", "-t", "orders", "--parse-headers", "-K", "\\t", "-z", "gzip"], lines.join("\n"));
    const ours = jsonLines<JsonRecord>(await ok(["consume", "-t", "orders", "--json"])).sort(byPosition);
    const theirs = jsonLines<JsonRecord>(await kcat(["-C", "-t", "orders", "-J", "-e", "-q"])).sort(byPosition);
    expect(ours).toHaveLength(12);
    expect(ours).toEqual(theirs);
  });

  it.skipIf(skipKcat)("records kcat produces (every codec, keys, headers) read the same through the CLI", async () => {
    await ok(["topic", "create", "from-kcat", "-p", "2"]);
    for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
      const input = [0, 1, 2].map((i) => `${codec}-${i}:${codec} value ${i}`).join("\n");
      await kcat(["-P", "-t", "from-kcat", "-K", ":", "-z", codec, "-H", `codec=${codec}`, "-p", String(codec.length % 2)], `${input}\n`);
    }
    const ours = jsonLines<JsonRecord>(await ok(["consume", "-t", "from-kcat", "--json"])).sort(byPosition);
    const theirs = jsonLines<JsonRecord>(await kcat(["-C", "-t", "from-kcat", "-J", "-e", "-q"])).sort(byPosition);
    expect(ours).toHaveLength(15);
    expect(ours).toEqual(theirs);
  });

  it("a group that committed with kafkajs: described with lag, reset by the CLI, consumed by the CLI, seen by kafkajs", async () => {
    await ok(["topic", "create", "events", "-p", "2"]);
    await ok(["produce", "-t", "events", "-p", "0"], "a\nb\nc\n");
    await ok(["produce", "-t", "events", "-p", "1"], "d\ne\n");
    // kafkajs commits 2 of partition 0 and 1 of partition 1, as a consumer would.
    await admin.setOffsets({
      groupId: "kjs",
      topic: "events",
      partitions: [
        { partition: 0, offset: "2" },
        { partition: 1, offset: "1" },
      ],
    });
    const rows = tableRows(await ok(["group", "describe", "kjs"])).filter((row) => row[0] === "kjs");
    expect(rows).toEqual([
      ["kjs", "events", "0", "2", "3", "1", "-", "-", "-"],
      ["kjs", "events", "1", "1", "2", "1", "-", "-", "-"],
    ]);
    expect(tableRows(await ok(["group", "reset-offsets", "kjs", "--topic", "events", "--shift-by", "-1", "--execute"]))).toEqual([
      ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
      ["kjs", "events", "0", "1"],
      ["kjs", "events", "1", "0"],
    ]);
    const committed = async () =>
      (await admin.fetchOffsets({ groupId: "kjs", topics: ["events"] }))[0]?.partitions
        .map((p) => [p.partition, p.offset])
        .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(await committed()).toEqual([
      [0, "1"],
      [1, "0"],
    ]);
    expect((await ok(["consume", "-t", "events", "-g", "kjs"])).split("\n").filter(Boolean).sort()).toEqual(["b", "c", "d", "e"]);
    expect(await committed()).toEqual([
      [0, "3"],
      [1, "2"],
    ]);
    expect(JSON.parse(await ok(["group", "list", "--json"]))).toContainEqual({ groupId: "kjs", protocolType: "consumer", state: "Empty", type: "classic" });
  });

  it("Kafka refuses reset-offsets on an active group with the same message; delete after the member leaves", async () => {
    const { child: member, exited } = groupMember("events", "live", kafka.bootstrap);
    try {
      const state = await waitForGroupState(cli, "live", "Stable");
      expect(state, "the CLI's member joined Kafka's group").toBe("Stable");
      const groups = await admin.describeGroups(["live"]);
      expect(groups.groups[0]?.members).toHaveLength(1);
      const refused = await cli(["group", "reset-offsets", "live", "--topic", "events", "--to-earliest", "--execute"]);
      expect(refused.stderr).toBe("Error: Assignments can only be reset if the group 'live' is inactive, but the current state is Stable.\n");
      const notEmpty = await cli(["group", "delete", "live"]);
      expect(notEmpty.stderr).toBe("Error: Group 'live' could not be deleted: NON_EMPTY_GROUP: The group is not empty.\n");
      member.kill("SIGTERM");
      expect(await exited, "the member exits cleanly on SIGTERM").toBe(0);
      expect(await ok(["group", "delete", "live"])).toBe("Deletion of requested consumer groups ('live') was successful.\n");
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain("live");
    } finally {
      member.kill("SIGKILL");
    }
  });

  it("config get and set: a topic's overrides and a dynamic broker config", async () => {
    await ok(["config", "set", "--entity-type", "brokers", "--entity-name", "1", "--set", "log.retention.ms=604800001"]);
    const broker = JSON.parse(await ok(["config", "get", "--entity-type", "brokers", "--entity-name", "1", "--json"]));
    expect(broker.configs.find((c: { name: string }) => c.name === "log.retention.ms")).toMatchObject({ value: "604800001", source: "DYNAMIC_BROKER_CONFIG" });
    await ok(["config", "set", "--entity-type", "brokers", "--entity-name", "1", "--delete", "log.retention.ms"]);
    const after = JSON.parse(await ok(["config", "get", "--entity-type", "brokers", "--entity-name", "1", "--json"]));
    expect(after.configs.find((c: { name: string }) => c.name === "log.retention.ms")).toBeUndefined();
    const topic = tableRows(await ok(["configs", "get", "--entity-type", "topics", "--entity-name", "orders"]));
    expect(topic).toEqual([
      ["NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE"],
      ["retention.ms", "86400000", "DYNAMIC_TOPIC_CONFIG", "false", "false"],
    ]);
  });
});
