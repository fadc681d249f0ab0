// kafka-python and confluent-kafka (librdkafka) against a running Sluice broker, through
// test/interop/python/clients.py: producers in every codec the clients support (acks=all,
// idempotent), consumers with assign() and no group, reading back every record's partition,
// offset, key, value, headers and timestamp; admin clients creating, describing, altering and
// deleting topics and configs, deleting records, listing offsets for timestamps; and each client
// reading what the other wrote. The clients run in test/interop/python/.venv, which
// scripts/python-venv.mjs makes (here, before the tests are collected) from the pinned
// test/interop/python/requirements.txt with the system's python3 ($PYTHON to use another): the
// system Python's packages are never used or changed. Skipped when that cannot be done (no python3,
// no venv module, offline), except under CI (process.env.CI), where that fails.
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Run, run } from "../helpers/cli.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const ci = Boolean(process.env.CI);
const script = fileURLToPath(new URL("./python/clients.py", import.meta.url));

interface PythonVenvModule {
  /** Creates or updates test/interop/python/.venv if needed; returns its python; throws why it cannot. */
  ensurePythonVenv(options?: { log?: (line: string) => void }): string;
}
const venvModuleUrl = new URL("../../scripts/python-venv.mjs", import.meta.url).href;
const { ensurePythonVenv } = (await import(venvModuleUrl)) as PythonVenvModule;
let python = "";
let venvProblem: string | null = null;
try {
  python = ensurePythonVenv({ log: (line) => console.warn(line) });
} catch (error) {
  venvProblem = `no Python test environment: ${(error as Error).message}`;
}

function pythonCheck(code: string): boolean {
  return venvProblem === null && spawnSync(python, ["-c", code], { encoding: "utf8" }).status === 0;
}

// kafka-python 3's admin API (list_partition_offsets, delete_records, dict results) is used.
const kafkaPythonMissing =
  venvProblem ??
  (pythonCheck("import kafka; assert int(kafka.__version__.split('.')[0]) >= 3")
    ? null
    : `kafka-python 3 is not installed in ${python} (test/interop/python/requirements.txt; node scripts/python-venv.mjs --force)`);
const confluentMissing =
  venvProblem ??
  (pythonCheck("import confluent_kafka.admin; assert confluent_kafka.admin.OffsetSpec")
    ? null
    : `confluent-kafka is not installed in ${python} (test/interop/python/requirements.txt; node scripts/python-venv.mjs --force)`);
/** kafka-python's codecs with the libraries installed: gzip always, snappy/lz4/zstd need python-snappy, lz4, zstandard. */
const kafkaPythonCodecs = ["gzip", "snappy", "lz4", "zstd"].filter(
  (codec) => kafkaPythonMissing === null && pythonCheck(`import kafka.codec as c; assert c.has_${codec}()`),
);
for (const missing of new Set([kafkaPythonMissing, confluentMissing])) if (missing && !ci) console.warn(`test/interop/python-clients.test.ts: ${missing}`);
const skipKafkaPython = kafkaPythonMissing !== null && !ci;
const skipConfluent = confluentMissing !== null && !ci;

type Data = string | { base64: string } | null;

interface PyRecord {
  key: Data;
  value: Data;
  headers: [string, Data][];
  partition: number;
  timestamp?: number;
}

interface Consumed {
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: number;
  key: Data;
  value: Data;
  headers: [string, Data][];
}

interface Ack {
  partition: number;
  offset: number;
  timestamp: number;
}

type Op = Record<string, unknown> & { op: string };
type Result = { result: unknown } | { error: string };

function runPython(input: string, timeoutMs = 90_000): Promise<Run> {
  return run(python, [script], input, timeoutMs);
}

const startedAt = Date.now();
/** Fixed CreateTimes for some records: a day before the run, one ms apart per index. */
const fixedBase = startedAt - 86_400_000;

/**
 * Records for partitions 0..partitions-1: UTF-8 and binary keys and values, null keys and values,
 * repeated and empty headers, fixed timestamps on every third record (the producer's clock on the
 * others). `nullHeaderValues`: kafka-python cannot send a header without a value.
 */
function makeRecords(label: string, count: number, partitions: number, nullHeaderValues: boolean): PyRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const headers: [string, Data][] = [
      [],
      [["trace", `${label}-${i}`]],
      [
        ["dup", "1"],
        ["dup", "2"],
        ["emoji-🎉", "✓"],
      ],
      [
        ["bin", { base64: Buffer.from([0xff, 0x00, i & 0xff]).toString("base64") }],
        ["empty", nullHeaderValues ? null : ""],
      ],
    ][i % 4] as [string, Data][];
    const key: Data = [`${label}-key-${i}`, null, `ключ-${i}`, { base64: Buffer.from([0x80, i & 0xff, 0xfe]).toString("base64") }, ""][i % 5];
    const value: Data = [
      `${label} value ${i} ${"abc".repeat(i % 50)}`,
      null,
      `значение 🎉 ${i}`,
      { base64: Buffer.from([0xc3, 0x28, i & 0xff]).toString("base64") },
      "",
      `${label} ${"x".repeat(2_000)}`,
    ][i % 6];
    const record: PyRecord = {
      key,
      // kafka-python refuses a record with neither key nor value.
      value: key === null && value === null ? `${label} value for a null key ${i}` : value,
      headers,
      partition: i % partitions,
    };
    if (i % 3 === 0) record.timestamp = fixedBase + i;
    return record;
  });
}

describe.skipIf(skipKafkaPython && skipConfluent)("Python clients against Sluice", () => {
  let broker: SluiceBroker;
  /** The next offset of each "topic/partition", as the records were acknowledged. */
  const nextOffset = new Map<string, number>();
  /** Every record produced to each topic, with the acknowledged partition, offset and timestamp. */
  const produced = new Map<string, (PyRecord & Ack & { clockBefore: number; clockAfter: number })[]>();

  const run = async (ops: Op[]): Promise<Result[]> => {
    const { code, stdout, stderr } = await runPython(JSON.stringify({ bootstrap: broker.bootstrap, ops }));
    if (code !== 0) throw new Error(`clients.py exited with ${code}:\n${stderr}`);
    return JSON.parse(stdout) as Result[];
  };

  /** Runs the ops and returns their results, failing on any op's error. */
  const ok = async (...ops: Op[]): Promise<unknown[]> => {
    const results = await run(ops);
    return results.map((result, i) => {
      if ("error" in result) throw new Error(`${ops[i].op} failed: ${result.error}`);
      return result.result;
    });
  };

  /** Produces and checks every acknowledgement: partitions as asked, offsets contiguous per partition, timestamps. */
  const produce = async (client: "kp" | "ck", topic: string, records: PyRecord[], config: Record<string, unknown>) => {
    const clockBefore = Date.now();
    const [acks] = (await ok({ op: `${client}.produce`, topic, config, records })) as [Ack[]];
    const clockAfter = Date.now();
    expect(acks.length).toBe(records.length);
    const list = produced.get(topic) ?? [];
    // Offsets: each partition's records in order (kafka-python and librdkafka keep a partition's order).
    for (const [i, record] of records.entries()) {
      const ack = acks[i];
      const key = `${topic}/${record.partition}`;
      const offset = nextOffset.get(key) ?? 0;
      expect({ i, partition: ack.partition, offset: ack.offset }).toEqual({ i, partition: record.partition, offset });
      nextOffset.set(key, offset + 1);
      if (record.timestamp !== undefined) expect(ack.timestamp).toBe(record.timestamp);
      else {
        expect(ack.timestamp).toBeGreaterThanOrEqual(clockBefore - 1);
        expect(ack.timestamp).toBeLessThanOrEqual(clockAfter + 1);
      }
      list.push({ ...record, ...ack, clockBefore, clockAfter });
    }
    produced.set(topic, list);
  };

  const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) => a.partition - b.partition || a.offset - b.offset;

  /** Reads `partitions` from `from` with assign() and compares every record with what was produced. */
  const expectConsumed = async (
    client: "kp" | "ck",
    topic: string,
    partitions: number[],
    from: "beginning" | number = "beginning",
    config: Record<string, unknown> = {},
  ) => {
    const want = (produced.get(topic) ?? [])
      .filter((record) => partitions.includes(record.partition) && (from === "beginning" || record.offset >= from))
      .sort(byPosition);
    const [records] = (await ok({ op: `${client}.consume`, topic, partitions, count: want.length, from, config })) as [Consumed[]];
    records.sort(byPosition);
    // CreateTime: 0 in kafka-python, 1 (TIMESTAMP_CREATE_TIME) in confluent-kafka.
    const createTime = client === "kp" ? 0 : 1;
    expect(
      records.map(({ partition, offset, key, value, headers, timestamp, timestampType }) => ({
        partition,
        offset,
        key,
        value,
        headers,
        timestamp,
        timestampType,
      })),
    ).toEqual(
      want.map(({ partition, offset, key, value, headers, timestamp }) => ({ partition, offset, key, value, headers, timestamp, timestampType: createTime })),
    );
    return records;
  };

  beforeAll(async () => {
    broker = await startSluice();
  });

  afterAll(async () => {
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  describe.skipIf(skipKafkaPython)(skipKafkaPython ? `kafka-python (skipped: ${kafkaPythonMissing})` : "kafka-python", () => {
    const topic = "kafka-python";

    beforeAll(() => {
      if (kafkaPythonMissing) throw new Error(`${kafkaPythonMissing}: CI must have it (scripts/python-venv.mjs)`);
      // The venv has every codec's library (requirements.txt): all four, on every machine.
      expect(kafkaPythonCodecs).toEqual(["gzip", "snappy", "lz4", "zstd"]);
    });

    it("creates a topic with configs, refuses a duplicate, describes its configs and adds partitions (KafkaAdminClient)", async () => {
      const [created, duplicate, configs, grown, topics] = await ok(
        { op: "kp.createTopics", topics: [{ name: topic, partitions: 3, configs: { "retention.ms": "3600000", "max.message.bytes": "2000000" } }] },
        { op: "kp.createTopics", topics: [{ name: topic, partitions: 3 }] },
        { op: "kp.describeConfigs", topic, keys: ["retention.ms", "max.message.bytes", "cleanup.policy", "segment.bytes"] },
        { op: "kp.createPartitions", topic, count: 4 },
        { op: "kp.listTopics" },
      );
      expect(created).toEqual({ [topic]: 0 });
      expect(duplicate).toEqual({ [topic]: 36 }); // TOPIC_ALREADY_EXISTS
      expect(configs).toEqual({
        "cleanup.policy": { value: "delete", source: "DEFAULT_CONFIG" },
        "max.message.bytes": { value: "2000000", source: "DYNAMIC_TOPIC_CONFIG" },
        "retention.ms": { value: "3600000", source: "DYNAMIC_TOPIC_CONFIG" },
        "segment.bytes": { value: "1073741824", source: "DEFAULT_CONFIG" },
      });
      expect(grown).toEqual({ [topic]: 0 });
      expect(topics).toContain(topic);
    });

    it("produces with acks=all in every codec it supports and an idempotent producer, and reads every record back with assign() + seek_to_beginning", async () => {
      for (const codec of [...kafkaPythonCodecs, null]) {
        await produce("kp", topic, makeRecords(`kp-${codec ?? "none"}`, 60, 4, false), {
          acks: "all",
          compression_type: codec,
          linger_ms: 5,
        });
      }
      await produce("kp", topic, makeRecords("kp-idempotent", 200, 4, false), {
        enable_idempotence: true,
        acks: "all",
        compression_type: kafkaPythonCodecs.includes("lz4") ? "lz4" : "gzip",
      });
      const records = await expectConsumed("kp", topic, [0, 1, 2, 3]);
      expect(records.length).toBe(60 * (kafkaPythonCodecs.length + 1) + 200);
      await expectConsumed("kp", topic, [0, 1, 2, 3], "beginning", { check_crcs: true, fetch_max_bytes: 1024, max_partition_fetch_bytes: 512 });
    });

    it("seeks to an offset in one partition", async () => {
      const records = await expectConsumed("kp", topic, [2], 17);
      expect(records[0].offset).toBe(17);
    });

    it("lists offsets: earliest, latest, max timestamp and the first offset at or after a timestamp", async () => {
      const partition = 1;
      const mine = (produced.get(topic) ?? []).filter((record) => record.partition === partition).sort(byPosition);
      const maxTimestamp = Math.max(...mine.map((record) => record.timestamp));
      const fixed = mine.filter((record) => record.timestamp < startedAt);
      const probe = fixed[3].timestamp;
      const ops: Op[] = [
        { op: "kp.listOffsets", topic, partition, spec: "earliest" },
        { op: "kp.listOffsets", topic, partition, spec: "latest" },
        { op: "kp.listOffsets", topic, partition, spec: "maxTimestamp" },
        { op: "kp.listOffsets", topic, partition, spec: "timestamp", timestamp: probe },
        { op: "kp.listOffsets", topic, partition, spec: "timestamp", timestamp: maxTimestamp + 1 },
      ];
      const [earliest, latest, max, atProbe, pastEnd] = await ok(...ops);
      expect(earliest).toEqual({ offset: 0, timestamp: -1 });
      expect(latest).toEqual({ offset: mine.length, timestamp: -1 });
      const maxOffset = mine.find((record) => record.timestamp === maxTimestamp)?.offset;
      expect(max).toEqual({ offset: maxOffset, timestamp: maxTimestamp });
      const first = mine.find((record) => record.timestamp >= probe)!;
      expect(atProbe).toEqual({ offset: first.offset, timestamp: first.timestamp });
      expect(pastEnd).toEqual({ offset: -1, timestamp: -1 });
    });

    it("deletes records: the low watermark moves, earliest follows, and reading from the beginning starts there", async () => {
      const [lowWatermark, earliest] = await ok(
        { op: "kp.deleteRecords", topic, partition: 3, offset: 25 },
        { op: "kp.listOffsets", topic, partition: 3, spec: "earliest" },
      );
      expect(lowWatermark).toBe(25);
      expect(earliest).toEqual({ offset: 25, timestamp: -1 });
      produced.set(
        topic,
        (produced.get(topic) ?? []).filter((record) => record.partition !== 3 || record.offset >= 25),
      );
      const records = await expectConsumed("kp", topic, [3]);
      expect(records[0].offset).toBe(25);
    });

    it("deletes topics (and reports an unknown one)", async () => {
      const [created] = await ok({ op: "kp.createTopics", topics: [{ name: "kafka-python-doomed", partitions: 1 }] });
      expect(created).toEqual({ "kafka-python-doomed": 0 });
      const [deleted, topics] = await ok({ op: "kp.deleteTopics", topics: ["kafka-python-doomed", "never-existed"] }, { op: "kp.listTopics" });
      expect(deleted).toEqual({ "kafka-python-doomed": 0, "never-existed": 3 }); // UNKNOWN_TOPIC_OR_PARTITION
      expect(topics).not.toContain("kafka-python-doomed");
    });
  });

  describe.skipIf(skipConfluent)(skipConfluent ? `confluent-kafka (skipped: ${confluentMissing})` : "confluent-kafka", () => {
    const topic = "confluent-kafka";

    beforeAll(() => {
      if (confluentMissing) throw new Error(`${confluentMissing}: CI must have it (scripts/python-venv.mjs)`);
    });

    it("creates a topic, describes it and its configs, and alters configs incrementally (AdminClient)", async () => {
      const [created, described, before, altered, after] = await ok(
        { op: "ck.createTopics", topics: [{ name: topic, partitions: 3, configs: { "retention.ms": "7200000", "cleanup.policy": "delete" } }] },
        { op: "ck.describeTopics", topics: [topic] },
        { op: "ck.describeConfigs", topic, keys: ["retention.ms", "cleanup.policy", "segment.ms", "max.message.bytes"] },
        {
          op: "ck.incrementalAlterConfigs",
          topic,
          ops: [
            ["SET", "max.message.bytes", "3000000"],
            ["DELETE", "retention.ms", null],
            ["SET", "segment.ms", "3600000"],
          ],
        },
        { op: "ck.describeConfigs", topic, keys: ["retention.ms", "cleanup.policy", "segment.ms", "max.message.bytes"] },
      );
      expect(created).toEqual({ [topic]: null });
      expect(described).toEqual({
        [topic]: { partitions: [0, 1, 2].map((id) => ({ id, leader: 1, replicas: [1], isr: [1] })) },
      });
      expect(before).toEqual({
        "cleanup.policy": { value: "delete", source: "DYNAMIC_TOPIC_CONFIG" },
        "max.message.bytes": { value: "1048588", source: "DEFAULT_CONFIG" },
        "retention.ms": { value: "7200000", source: "DYNAMIC_TOPIC_CONFIG" },
        "segment.ms": { value: "604800000", source: "DEFAULT_CONFIG" },
      });
      expect(altered).toBeNull();
      expect(after).toEqual({
        "cleanup.policy": { value: "delete", source: "DYNAMIC_TOPIC_CONFIG" },
        "max.message.bytes": { value: "3000000", source: "DYNAMIC_TOPIC_CONFIG" },
        "retention.ms": { value: "604800000", source: "DEFAULT_CONFIG" },
        "segment.ms": { value: "3600000", source: "DYNAMIC_TOPIC_CONFIG" },
      });
    });

    it("refuses a duplicate topic and an invalid config value", async () => {
      const results = await run([
        { op: "ck.createTopics", topics: [{ name: topic, partitions: 3 }] },
        { op: "ck.incrementalAlterConfigs", topic, ops: [["SET", "retention.ms", "not-a-number"]] },
      ]);
      expect(results[0]).toEqual({ result: { [topic]: expect.stringContaining("TOPIC_ALREADY_EXISTS") } });
      expect(results[1]).toEqual({ error: expect.stringContaining("INVALID_CONFIG") });
    });

    it("produces idempotently (enable.idempotence=true, linger.ms=5) with lz4, zstd, gzip, snappy and none; delivery reports carry the offsets; assign() reads every record back", async () => {
      for (const codec of ["lz4", "zstd", "gzip", "snappy", "none"]) {
        await produce("ck", topic, makeRecords(`ck-${codec}`, 80, 3, true), {
          "enable.idempotence": true,
          "compression.type": codec,
          "linger.ms": 5,
        });
      }
      const records = await expectConsumed("ck", topic, [0, 1, 2]);
      expect(records.length).toBe(400);
      const fromOffset = await expectConsumed("ck", topic, [1], 100);
      expect(fromOffset[0].offset).toBe(100);
      // CRCs checked by the client, and fetch limits smaller than a batch (the first batch still comes).
      await expectConsumed("ck", topic, [0, 1, 2], "beginning", {
        "check.crcs": true,
        "message.max.bytes": 1000,
        "fetch.max.bytes": 1024,
        "max.partition.fetch.bytes": 512,
      });
    });

    it("describes the cluster (AdminClient.describe_cluster)", async () => {
      const [cluster] = await ok({ op: "ck.describeCluster" });
      expect(cluster).toEqual({
        clusterId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        controller: 1,
        nodes: [{ id: 1, host: "127.0.0.1", port: broker.port }],
      });
    });

    it("lists offsets: earliest, latest, max timestamp, and for timestamps", async () => {
      const partition = 2;
      const mine = (produced.get(topic) ?? []).filter((record) => record.partition === partition).sort(byPosition);
      const maxTimestamp = Math.max(...mine.map((record) => record.timestamp));
      const probes = mine.filter((record) => record.timestamp < startedAt).map((record) => record.timestamp - 1);
      const results = await ok(
        { op: "ck.listOffsets", topic, partition, spec: "earliest" },
        { op: "ck.listOffsets", topic, partition, spec: "latest" },
        { op: "ck.listOffsets", topic, partition, spec: "maxTimestamp" },
        ...probes.slice(0, 5).map((timestamp) => ({ op: "ck.listOffsets", topic, partition, spec: "timestamp", timestamp })),
        { op: "ck.listOffsets", topic, partition, spec: "timestamp", timestamp: maxTimestamp + 1 },
      );
      expect(results[0]).toEqual({ offset: 0, timestamp: -1 });
      expect(results[1]).toEqual({ offset: mine.length, timestamp: -1 });
      const maxRecord = mine.find((record) => record.timestamp === maxTimestamp)!;
      expect(results[2]).toEqual({ offset: maxRecord.offset, timestamp: maxTimestamp });
      for (const [i, probe] of probes.slice(0, 5).entries()) {
        const first = mine.find((record) => record.timestamp >= probe)!;
        expect(results[3 + i]).toEqual({ offset: first.offset, timestamp: first.timestamp });
      }
      expect(results.at(-1)).toEqual({ offset: -1, timestamp: -1 });
    });

    // librdkafka 2.16's all-topics Metadata v13 request carries 3 bytes after its tagged fields,
    // which Kafka ignores (Sluice closed the connection before 294b688).
    it("lists topics (AdminClient.list_topics: all-topics Metadata)", async () => {
      const [topics] = await ok({ op: "ck.listTopics" });
      expect(topics).toContain(topic);
    });

    it("deletes topics (and reports an unknown one)", async () => {
      const [created, deleted] = await ok(
        { op: "ck.createTopics", topics: [{ name: "confluent-doomed", partitions: 2 }] },
        { op: "ck.deleteTopics", topics: ["confluent-doomed", "never-existed"] },
      );
      expect(created).toEqual({ "confluent-doomed": null });
      expect(deleted).toEqual({ "confluent-doomed": null, "never-existed": expect.stringContaining("UNKNOWN_TOPIC_OR_PART") });
      const [described] = await ok({ op: "ck.describeTopics", topics: ["confluent-doomed"] });
      expect(described).toEqual({ "confluent-doomed": { error: expect.stringContaining("UNKNOWN_TOPIC_OR_PART") } });
    });
  });

  describe.skipIf(skipKafkaPython || skipConfluent)("each client reads what the other wrote", () => {
    beforeAll(() => {
      if (kafkaPythonMissing || confluentMissing) throw new Error(`${kafkaPythonMissing ?? confluentMissing}: CI must have it`);
    });

    it("kafka-python → confluent-kafka and confluent-kafka → kafka-python", async () => {
      await ok({ op: "ck.createTopics", topics: [{ name: "cross", partitions: 2 }] });
      await produce("kp", "cross", makeRecords("from-kp", 50, 2, false), { acks: "all", compression_type: "gzip" });
      await produce("ck", "cross", makeRecords("from-ck", 50, 2, false), { "enable.idempotence": true, "compression.type": "zstd" });
      await expectConsumed("ck", "cross", [0, 1]);
      await expectConsumed("kp", "cross", [0, 1]);
    });
  });
});
