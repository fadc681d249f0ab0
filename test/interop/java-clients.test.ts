// Kafka 4.4.0's Java clients against a running Sluice broker: KafkaProducer with Kafka 4's defaults
// (enable.idempotence=true, acks=all, linger.ms=5) in every codec, keys and headers across
// partitions, checked by the offsets the producer was given and by Kafka's DumpLogSegments over the
// broker's files (producer ids, sequences, codecs); KafkaConsumer with assign() and no group.id
// reading every record back; Admin describeCluster / describeTopics / describeConfigs /
// incrementalAlterConfigs / deleteRecords / listOffsets (earliest, latest, max timestamp, for a
// timestamp) / createPartitions / deleteTopics. The Java side is test/kafka's sluice.kafka.Produce,
// Consume and AdminOps.
import { readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dumpLogSegments,
  type JavaProducerRecord,
  type KafkaCompression,
  kafkaClasspath,
  type ProducedRecord,
  produceWithJava,
  runJavaTool,
} from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const topic = "java-clients";
const partitions = 3;
const codecs: KafkaCompression[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const recordsPerCodec = 120;
const startedAt = Date.now();
/** Explicit CreateTimes: an hour before the run, one ms apart per record. */
const fixedBase = startedAt - 3_600_000;

type Data = string | { base64: string } | null;

interface Consumed {
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  leaderEpoch: number | null;
  key: Data;
  value: Data;
  headers: [string, Data][];
}

interface Produced {
  record: JavaProducerRecord;
  ack: ProducedRecord;
  codec: KafkaCompression;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** How sluice.kafka.Consume prints bytes: UTF-8 text, or base64 when they are not valid UTF-8. */
function printed(data: string | Uint8Array | null | undefined): Data {
  if (data === null || data === undefined) return null;
  if (typeof data === "string") return data;
  try {
    return strictUtf8.decode(data);
  } catch {
    return { base64: Buffer.from(data).toString("base64") };
  }
}

/**
 * Keyed records (Kafka's partitioner hashes the key), records with an explicit partition, null keys
 * (sticky partitioner), null and binary values, repeated and null-valued headers, explicit
 * timestamps on every other record.
 */
function recordsFor(codec: KafkaCompression, codecIndex: number): JavaProducerRecord[] {
  return Array.from({ length: recordsPerCodec }, (_, i) => {
    const record: JavaProducerRecord = {
      key: [`key-${i % 17}`, null, `ключ-${i % 5}`, new Uint8Array([0xff, 0xfe, i & 0xff]), ""][i % 5],
      value: [`${codec} value ${i} ${"lorem ipsum ".repeat(i % 30)}`, null, `🎉 ${i}`, new Uint8Array([0x00, 0xc3, 0x28, i & 0xff]), ""][i % 5],
      headers: [
        [],
        [["trace-id", `${codec}-${i}`]],
        [
          ["dup", "1"],
          ["dup", "2"],
          ["no-value", null],
        ],
        [["bin", new Uint8Array([0x80, 0x81])]],
      ][i % 4] as [string, string | Uint8Array | null][],
    };
    if (i % 3 === 0) record.partition = i % partitions;
    if (i % 2 === 0) record.timestamp = fixedBase + codecIndex * 1_000 + i;
    return record;
  });
}

describe("Kafka 4.4.0 Java clients against Sluice", () => {
  let broker: SluiceBroker;
  let stopped = false;
  const produced: Produced[] = [];
  /** Records deleted by deleteRecords, per partition: offsets below this are gone. */
  const lowWatermarks = new Map<number, number>();

  const admin = async (...ops: Record<string, unknown>[]): Promise<unknown[]> => {
    const run = await runJavaTool("sluice.kafka.AdminOps", ["--bootstrap", broker.bootstrap], {
      input: ops.map((op) => JSON.stringify(op)).join("\n"),
      quickStart: true,
      heap: "256m",
      logLevel: "ERROR",
    });
    const lines = run.stdout.split("\n").filter((line) => line.startsWith("{"));
    if (run.code !== 0 || lines.length !== ops.length) throw new Error(`AdminOps failed (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    return lines.map((line, i) => {
      const answer = JSON.parse(line) as { op: string; result?: unknown; error?: string };
      if (answer.error !== undefined) throw new Error(`${ops[i].op} failed: ${answer.error}`);
      return answer.result;
    });
  };

  const consume = async (
    args: string[] = [],
    topicName = topic,
  ): Promise<{ records: Consumed[]; end: Record<string, number>; beginning: Record<string, number> }> => {
    const run = await runJavaTool("sluice.kafka.Consume", ["--bootstrap", broker.bootstrap, "--topic", topicName, ...args], {
      quickStart: true,
      heap: "256m",
    });
    if (run.code !== 0) throw new Error(`Consume failed (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
    const lines = run.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
    const last = lines.pop() as { end: Record<string, number>; beginning: Record<string, number> };
    return { records: lines as Consumed[], end: last.end, beginning: last.beginning };
  };

  const expectedRecords = (partitionList: number[], from = 0) =>
    produced
      .filter(({ ack }) => partitionList.includes(ack.partition) && ack.offset >= Math.max(from, lowWatermarks.get(ack.partition) ?? 0))
      .sort((a, b) => a.ack.partition - b.ack.partition || a.ack.offset - b.ack.offset)
      .map(({ record, ack }) => ({
        partition: ack.partition,
        offset: ack.offset,
        timestamp: ack.timestamp,
        timestampType: "CreateTime",
        leaderEpoch: 0,
        key: printed(record.key),
        value: printed(record.value),
        headers: (record.headers ?? []).map(([name, value]) => [name, printed(value)]),
      }));

  const sorted = (records: Consumed[]) => [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);

  beforeAll(async () => {
    // Builds test/kafka first if its sources changed (Maven).
    await kafkaClasspath();
    broker = await startSluice();
  }, 300_000);

  afterAll(async () => {
    if (!broker) return;
    const code = stopped ? 0 : await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it("Admin creates the topic with a config and refuses a duplicate and an invalid name", async () => {
    const [created] = await admin({
      op: "createTopics",
      topics: [
        { name: topic, partitions, configs: { "retention.ms": "86400000" } },
        { name: "bad/name", partitions: 1 },
      ],
    });
    expect(created).toEqual({ [topic]: null, "bad/name": expect.stringMatching(/^InvalidTopicException: /) });
    const [again] = await admin({ op: "createTopics", topics: [{ name: topic, partitions }] });
    expect(again).toEqual({ [topic]: expect.stringMatching(/^TopicExistsException: /) });
  });

  it("KafkaProducer with Kafka 4 defaults (idempotent, acks=all, linger.ms=5) in every codec: acknowledged offsets are contiguous per partition in send order", async () => {
    for (const [codecIndex, codec] of codecs.entries()) {
      const records = recordsFor(codec, codecIndex);
      // No acks / enable.idempotence / linger.ms: the client's defaults (Kafka 4: all, true, 5).
      const { offsets } = await produceWithJava({ bootstrap: broker.bootstrap, topic, records, compression: codec });
      const ends = new Map<number, number>();
      for (const { ack } of produced) ends.set(ack.partition, Math.max(ends.get(ack.partition) ?? 0, ack.offset + 1));
      const partitionOfKey = new Map<string, number>();
      for (const [i, record] of records.entries()) {
        const ack = offsets[i];
        expect(ack.partition).toBeGreaterThanOrEqual(0);
        expect(ack.partition).toBeLessThan(partitions);
        if (record.partition !== undefined) expect(ack.partition).toBe(record.partition);
        else if (typeof record.key === "string") {
          // Kafka's partitioner: one key, one partition.
          const seen = partitionOfKey.get(record.key);
          if (seen !== undefined) expect(ack.partition).toBe(seen);
          partitionOfKey.set(record.key, ack.partition);
        }
        const next = ends.get(ack.partition) ?? 0;
        expect({ i, offset: ack.offset }).toEqual({ i, offset: next });
        ends.set(ack.partition, next + 1);
        if (record.timestamp !== undefined && record.timestamp !== null) expect(ack.timestamp).toBe(record.timestamp);
        else {
          expect(ack.timestamp).toBeGreaterThanOrEqual(startedAt);
          expect(ack.timestamp).toBeLessThanOrEqual(Date.now());
        }
        produced.push({ record, ack, codec });
      }
    }
    expect(produced.length).toBe(codecs.length * recordsPerCodec);
  });

  it("KafkaConsumer with assign() + seekToBeginning and no group.id reads every record: partition, offset, key, value, headers, timestamp, leader epoch", async () => {
    const { records, end, beginning } = await consume();
    expect(sorted(records)).toEqual(expectedRecords([0, 1, 2]));
    const counts = [0, 1, 2].map((p) => produced.filter(({ ack }) => ack.partition === p).length);
    expect(end).toEqual({ 0: counts[0], 1: counts[1], 2: counts[2] });
    expect(beginning).toEqual({ 0: 0, 1: 0, 2: 0 });
  });

  it("reads the same with isolation.level=read_committed and with fetch sizes smaller than a batch", async () => {
    const committed = await consume(["--property", "isolation.level=read_committed"]);
    expect(sorted(committed.records)).toEqual(expectedRecords([0, 1, 2]));
    // Kafka returns the first batch of a partition even when it is larger than the limits.
    const small = await consume(["--property", "max.partition.fetch.bytes=256", "--property", "fetch.max.bytes=512"]);
    expect(sorted(small.records)).toEqual(expectedRecords([0, 1, 2]));
  });

  it("producers with acks=0 and acks=1 (not idempotent): acks=1 gets offsets, acks=0 gets -1, the consumer reads both", async () => {
    const acksTopic = "java-acks";
    await admin({ op: "createTopics", topics: [{ name: acksTopic, partitions: 1 }] });
    const records = (label: string): JavaProducerRecord[] =>
      Array.from({ length: 50 }, (_, i) => ({ key: `${label}-${i}`, value: `${label} value ${i}`, headers: [["acks", label]], timestamp: fixedBase + i }));
    const one = await produceWithJava({
      bootstrap: broker.bootstrap,
      topic: acksTopic,
      records: records("one"),
      compression: "gzip",
      acks: 1,
      idempotent: false,
    });
    expect(one.offsets).toEqual(Array.from({ length: 50 }, (_, i) => ({ partition: 0, offset: i, timestamp: fixedBase + i })));
    const zero = await produceWithJava({
      bootstrap: broker.bootstrap,
      topic: acksTopic,
      records: records("zero"),
      compression: "lz4",
      acks: 0,
      idempotent: false,
    });
    // acks=0: the producer never hears the offset.
    expect(zero.offsets.map((ack) => ack.offset)).toEqual(Array.from({ length: 50 }, () => -1));
    const { records: read } = await consume([], acksTopic);
    expect(read.map(({ offset, key, value, headers, timestamp }) => ({ offset, key, value, headers, timestamp }))).toEqual(
      [...records("one"), ...records("zero")].map((record, offset) => ({
        offset,
        key: record.key,
        value: record.value,
        headers: record.headers,
        timestamp: record.timestamp,
      })),
    );
  });

  it("a message.timestamp.type=LogAppendTime topic: the broker's clock replaces CreateTime, in plain and compressed batches", async () => {
    const appendTopic = "java-log-append-time";
    const [created] = await admin({
      op: "createTopics",
      topics: [{ name: appendTopic, partitions: 1, configs: { "message.timestamp.type": "LogAppendTime" } }],
    });
    expect(created).toEqual({ [appendTopic]: null });
    const acked: ProducedRecord[] = [];
    for (const codec of ["none", "zstd"] as const) {
      const records = Array.from({ length: 20 }, (_, i) => ({ key: `${codec}-${i}`, value: `${codec} ${i}`, timestamp: fixedBase + i }));
      const before = Date.now();
      const { offsets } = await produceWithJava({ bootstrap: broker.bootstrap, topic: appendTopic, records, compression: codec });
      for (const ack of offsets) {
        expect(ack.timestamp).toBeGreaterThanOrEqual(before);
        expect(ack.timestamp).toBeLessThanOrEqual(Date.now());
      }
      acked.push(...offsets);
    }
    const { records: read } = await consume([], appendTopic);
    expect(read.map(({ offset, timestamp, timestampType }) => ({ offset, timestamp, timestampType }))).toEqual(
      acked.map(({ offset, timestamp }) => ({ offset, timestamp, timestampType: "LogAppendTime" })),
    );
  });

  it("seeks to an offset in one assigned partition", async () => {
    const { records } = await consume(["--partitions", "1", "--from", "37"]);
    expect(records[0]?.offset).toBe(37);
    expect(sorted(records)).toEqual(expectedRecords([1], 37));
  });

  it("Admin describeCluster and describeTopics", async () => {
    const [cluster, topics] = (await admin({ op: "describeCluster" }, { op: "describeTopics", topics: [topic, "no-such-topic"] })) as [
      { clusterId: string; controller: number; nodes: unknown[] },
      Record<string, { topicId?: string; internal?: boolean; partitions?: unknown[]; error?: string }>,
    ];
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(cluster.controller).toBe(1);
    expect(cluster.nodes).toEqual([{ id: 1, host: "127.0.0.1", port: broker.port, rack: null }]);
    expect(topics[topic].topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(topics[topic].internal).toBe(false);
    expect(topics[topic].partitions).toEqual(Array.from({ length: partitions }, (_, partition) => ({ partition, leader: 1, replicas: [1], isr: [1] })));
    expect(topics["no-such-topic"].error).toMatch(/^UnknownTopicOrPartitionException: /);
  });

  it("Admin describeConfigs and incrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT; an invalid value refused)", async () => {
    const keys = ["retention.ms", "cleanup.policy", "max.message.bytes", "segment.bytes"];
    const describe = { op: "describeConfigs", resources: [{ type: "topic", name: topic, keys }], synonyms: true };
    const [before, altered, after, subtracted, afterSubtract, invalid, broker1] = (await admin(
      describe,
      {
        op: "incrementalAlterConfigs",
        resources: [
          {
            type: "topic",
            name: topic,
            ops: [
              ["DELETE", "retention.ms", null],
              ["APPEND", "cleanup.policy", "compact"],
              ["SET", "max.message.bytes", "2000000"],
            ],
          },
        ],
      },
      describe,
      { op: "incrementalAlterConfigs", resources: [{ type: "topic", name: topic, ops: [["SUBTRACT", "cleanup.policy", "compact"]] }] },
      describe,
      { op: "incrementalAlterConfigs", resources: [{ type: "topic", name: topic, ops: [["SET", "segment.bytes", "12"]] }] },
      { op: "describeConfigs", resources: [{ type: "broker", name: "1", keys: ["num.partitions", "log.dirs", "log.retention.hours", "broker.id"] }] },
    )) as Record<string, Record<string, { value: string; source: string; synonyms: string[][] }>>[];
    const topicKey = `topic:${topic}`;
    expect(before[topicKey]["retention.ms"]).toMatchObject({
      value: "86400000",
      source: "DYNAMIC_TOPIC_CONFIG",
      synonyms: [["retention.ms", "86400000", "DYNAMIC_TOPIC_CONFIG"]],
    });
    expect(before[topicKey]["cleanup.policy"]).toMatchObject({ value: "delete", source: "DEFAULT_CONFIG" });
    expect(before[topicKey]["max.message.bytes"]).toMatchObject({ value: "1048588", source: "DEFAULT_CONFIG" });
    expect(altered).toEqual({ [topicKey]: null });
    expect(after[topicKey]["retention.ms"]).toMatchObject({ value: "604800000", source: "DEFAULT_CONFIG" });
    expect(after[topicKey]["cleanup.policy"]).toMatchObject({ value: "delete,compact", source: "DYNAMIC_TOPIC_CONFIG" });
    expect(after[topicKey]["max.message.bytes"]).toMatchObject({
      value: "2000000",
      source: "DYNAMIC_TOPIC_CONFIG",
      synonyms: [
        ["max.message.bytes", "2000000", "DYNAMIC_TOPIC_CONFIG"],
        ["message.max.bytes", "1048588", "DEFAULT_CONFIG"],
      ],
    });
    expect(subtracted).toEqual({ [topicKey]: null });
    expect(afterSubtract[topicKey]["cleanup.policy"]).toMatchObject({ value: "delete", source: "DYNAMIC_TOPIC_CONFIG" });
    expect(invalid[topicKey]).toMatch(/^InvalidConfigurationException: /);
    expect(broker1["broker:1"]).toMatchObject({
      "broker.id": { value: "1", source: "STATIC_BROKER_CONFIG" },
      "log.dirs": { value: broker.logDir, source: "STATIC_BROKER_CONFIG" },
      "log.retention.hours": { value: "168", source: "DEFAULT_CONFIG" },
      "num.partitions": { value: "1", source: "DEFAULT_CONFIG" },
    });
  });

  it("Admin listOffsets: earliest, latest, max timestamp and for timestamps agree with the produced records", async () => {
    const partition = 2;
    const mine = produced.filter(({ ack }) => ack.partition === partition).map(({ ack }) => ack);
    const maxTimestamp = Math.max(...mine.map((ack) => ack.timestamp));
    const withMax = mine.filter((ack) => ack.timestamp === maxTimestamp).sort((a, b) => a.offset - b.offset)[0];
    const probes = [fixedBase - 1, fixedBase + 1_000, fixedBase + 2_050, fixedBase + 4_118, startedAt - 1, maxTimestamp, maxTimestamp + 1];
    const [answers] = (await admin({
      op: "listOffsets",
      partitions: [
        { topic, partition, spec: "earliest" },
        { topic, partition, spec: "latest" },
        { topic, partition, spec: "maxTimestamp" },
        ...probes.map((timestamp) => ({ topic, partition, spec: "timestamp", timestamp })),
      ],
    })) as [{ offset: number; timestamp: number; leaderEpoch: number | null; error?: string }[]];
    expect(answers[0]).toMatchObject({ offset: 0, timestamp: -1, leaderEpoch: 0 });
    expect(answers[1]).toMatchObject({ offset: mine.length, timestamp: -1, leaderEpoch: 0 });
    expect(answers[2]).toMatchObject({ offset: withMax.offset, timestamp: maxTimestamp, leaderEpoch: 0 });
    for (const [i, probe] of probes.entries()) {
      const first = [...mine].sort((a, b) => a.offset - b.offset).find((ack) => ack.timestamp >= probe);
      const want = first ? { offset: first.offset, timestamp: first.timestamp, leaderEpoch: 0 } : { offset: -1, timestamp: -1, leaderEpoch: null };
      expect({ probe, ...answers[3 + i] }).toEqual({ probe, topic, partition, spec: "timestamp", ...want });
    }
  });

  it("Admin deleteRecords moves the low watermark; earliest and a consumer from the beginning follow; past the end is refused", async () => {
    const [deleted] = (await admin({
      op: "deleteRecords",
      partitions: [
        { topic, partition: 0, offset: 25 },
        { topic, partition: 1, offset: 1_000_000 },
      ],
    })) as [{ partition: number; lowWatermark?: number; error?: string }[]];
    expect(deleted[0]).toEqual({ topic, partition: 0, lowWatermark: 25 });
    expect(deleted[1].error).toMatch(/^OffsetOutOfRangeException: /);
    lowWatermarks.set(0, 25);
    const [offsets] = (await admin({ op: "listOffsets", partitions: [{ topic, partition: 0, spec: "earliest" }] })) as [{ offset: number }[]];
    expect(offsets[0].offset).toBe(25);
    const { records, beginning } = await consume(["--partitions", "0,1"]);
    expect(beginning).toEqual({ 0: 25, 1: 0 });
    expect(sorted(records)).toEqual(expectedRecords([0, 1]));
    expect(sorted(records)[0].offset).toBe(25);
  });

  it("Admin createPartitions grows the topic and the new partition takes records; deleteTopics removes a topic", async () => {
    const [grown, described] = (await admin({ op: "createPartitions", topics: { [topic]: 5 } }, { op: "describeTopics", topics: [topic] })) as [
      Record<string, string | null>,
      Record<string, { partitions: unknown[] }>,
    ];
    expect(grown).toEqual({ [topic]: null });
    expect(described[topic].partitions.length).toBe(5);
    const records: JavaProducerRecord[] = [{ key: "new", value: "in partition 4", headers: [["h", "v"]], partition: 4, timestamp: fixedBase }];
    const { offsets } = await produceWithJava({ bootstrap: broker.bootstrap, topic, records, compression: "zstd" });
    expect(offsets).toEqual([{ partition: 4, offset: 0, timestamp: fixedBase }]);
    const { records: read } = await consume(["--partitions", "4"]);
    expect(read).toEqual([
      {
        partition: 4,
        offset: 0,
        timestamp: fixedBase,
        timestampType: "CreateTime",
        leaderEpoch: 0,
        key: "new",
        value: "in partition 4",
        headers: [["h", "v"]],
      },
    ]);
    const [created, deleted, topics] = await admin(
      { op: "createTopics", topics: [{ name: "doomed", partitions: 2 }] },
      { op: "deleteTopics", topics: ["doomed", "never-existed"] },
      { op: "listTopics" },
    );
    expect(created).toEqual({ doomed: null });
    expect(deleted).toEqual({ doomed: null, "never-existed": expect.stringMatching(/^UnknownTopicOrPartitionException: /) });
    expect(topics).toEqual(["java-acks", topic, "java-log-append-time"]);
  });

  // Last: the active segment is reserved ahead on disk while the broker runs (docs/storage.md), so
  // Kafka's tool reads the files after a clean shutdown has trimmed them.
  it("after a clean shutdown, Kafka's DumpLogSegments finds idempotent batches: a producer id per run, sequences from 0 without gaps, the producer's codec", async () => {
    stopped = true;
    expect(await broker.stop()).toBe(0);
    for (let partition = 0; partition < partitions; partition++) {
      const dir = join(broker.logDir, `${topic}-${partition}`);
      const logs = readdirSync(dir)
        .filter((name) => name.endsWith(".log"))
        .sort()
        .map((name) => join(dir, name));
      const dump = await dumpLogSegments(logs, { deepIteration: true });
      expect(dump.code).toBe(0);
      expect(dump.errors).toEqual([]);
      const batches = dump.files.flatMap((file) => file.batches);
      const mine = produced.filter(({ ack }) => ack.partition === partition);
      expect(batches.reduce((sum, batch) => sum + (batch.count ?? 0), 0)).toBe(mine.length);
      const nextSequence = new Map<number, number>();
      for (const batch of batches) {
        expect(batch.isValid).toBe(true);
        expect(batch.producerId).toBeGreaterThanOrEqual(0);
        expect(batch.producerEpoch).toBe(0);
        expect(batch.isTransactional).toBe(false);
        expect(batch.baseSequence).toBe(nextSequence.get(batch.producerId) ?? 0);
        expect(batch.lastSequence - batch.baseSequence).toBe(batch.lastOffset - batch.baseOffset);
        nextSequence.set(batch.producerId, batch.lastSequence + 1);
        const codecs = new Set(mine.filter(({ ack }) => ack.offset >= batch.baseOffset && ack.offset <= batch.lastOffset).map(({ codec }) => codec));
        expect([...codecs]).toEqual([batch.compressCodec]);
        // The records' offsets and timestamps as acknowledged.
        for (const record of batch.records) {
          const ack = mine.find(({ ack }) => ack.offset === record.offset)?.ack;
          expect(record.timestamp).toBe(ack?.timestamp);
        }
      }
      // One producer (one JVM) per codec, each with its own id.
      expect(nextSequence.size).toBe(codecs.length);
    }
  });
});
