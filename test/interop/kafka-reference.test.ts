// Proves the Apache Kafka reference harness (test/helpers/kafka.ts) end to end: a real Kafka 4.4.0
// broker takes records from Kafka's Java producer in every compression codec, shuts down cleanly,
// and Kafka's DumpLogSegments reads back exactly what was produced. Later tests use the same pieces
// to check the logs Sluice writes.
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DumpedBatch,
  type DumpResult,
  dumpLogSegments,
  type JavaProducerRecord,
  type KafkaBroker,
  type KafkaCompression,
  type ProducedRecord,
  parseDumpLogSegments,
  produceWithJava,
  runJavaTool,
  startKafka,
} from "../helpers/kafka.js";

const codecs: KafkaCompression[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const recordsPerCodec = 200;
const topic = "reference";
// Each codec's records are stamped a minute after the previous codec's, so segment.ms=30000
// rolls a new segment for every codec (rolling compares record timestamps, not the wall clock).
const codecSpacingMs = 60_000;
const segmentMs = 30_000;

/** Keys, null keys and values, empty ones, headers (null values, repeated keys), non-ASCII and newlines. */
function recordsFor(codecIndex: number, baseTimestamp: number): JavaProducerRecord[] {
  const keys = (j: number) => [`key-${j}`, `ключ-${j}`, `キー${j}`, null, `🔑${j}`, "", `k ${j} payload: ]`][j % 7];
  const values = (j: number) =>
    [
      `value ${j} — Grüße, 你好, 🎉 ${"abc".repeat(j % 40)}`,
      null,
      "",
      `line one\nline two\u0000end ${j}`,
      `${codecs[codecIndex]} ${"x".repeat(j * 3)}`,
      `ελληνικά ${j}`,
    ][j % 6];
  const headers = (j: number): [string, string | null][] =>
    [
      [],
      [
        ["trace-id", `t-${j}`],
        ["ключ", null],
      ],
      [
        ["dup", "1"],
        ["dup", "2"],
        ["emoji-🎉", "✓"],
      ],
    ][j % 3] as [string, string | null][];
  return Array.from({ length: recordsPerCodec }, (_, j) => ({
    key: keys(j),
    value: values(j),
    headers: headers(j),
    // The last codec leaves every fifth timestamp (starting with the first) to the producer's clock.
    timestamp: codecIndex === codecs.length - 1 && j % 5 === 0 ? null : baseTimestamp + codecIndex * codecSpacingMs + j,
  }));
}

const utf8Length = (text: string | Uint8Array | null) => (text === null ? -1 : Buffer.byteLength(text));

function logFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(dir, name));
}

describe("the Apache Kafka 4.4.0 reference harness", () => {
  let workDir: string;
  let broker: KafkaBroker | undefined;
  let partitionDir: string;
  const produced: { codec: KafkaCompression; record: JavaProducerRecord; sequence: number; acknowledged: ProducedRecord }[] = [];
  let dataDump: DumpResult;
  let indexVerify: DumpResult;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-kafka-reference-"));
    broker = await startKafka({ workDir, logDir: join(workDir, "kafka-logs") });
    const residentAfterStart = broker.residentKiB();
    partitionDir = join(broker.logDir, `${topic}-0`);

    const create = await runJavaTool(
      "org.apache.kafka.tools.TopicCommand",
      ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"].concat([
        "--config",
        `segment.ms=${segmentMs}`,
        "--config",
        "index.interval.bytes=1000",
      ]),
      { quickStart: true, heap: "256m" },
    );
    expect(create.stderr).toBe("");
    expect(create.stdout).toContain(`Created topic ${topic}.`);

    const baseTimestamp = Date.now() - 3_600_000;
    for (const [codecIndex, codec] of codecs.entries()) {
      const records = recordsFor(codecIndex, baseTimestamp);
      const { offsets } = await produceWithJava({
        bootstrap: broker.bootstrap,
        topic,
        partition: 0,
        records,
        compression: codec,
        acks: "all",
        lingerMs: 20,
        batchSize: 4096,
      });
      records.forEach((record, sequence) => {
        produced.push({ codec, record, sequence, acknowledged: offsets[sequence] });
      });
    }
    const residentAfterProduce = broker.residentKiB();
    await broker.stop();
    console.info(
      `kafka ${broker.bootstrap}: format ${broker.formatMs} ms, start to serving ${broker.startupMs} ms, ` +
        `VmRSS ${residentAfterStart} KiB after start, ${residentAfterProduce} KiB after producing`,
    );

    dataDump = await dumpLogSegments(logFiles(partitionDir, ".log"), { deepIteration: true, printDataLog: true });
    indexVerify = await dumpLogSegments([...logFiles(partitionDir, ".index"), ...logFiles(partitionDir, ".timeindex")], { verifyIndexOnly: true });
  });

  afterAll(async () => {
    await broker?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("the producer is given contiguous offsets from 0, in the order it sent the records", () => {
    expect(produced.map(({ acknowledged }) => acknowledged.partition)).toEqual(produced.map(() => 0));
    expect(produced.map(({ acknowledged }) => acknowledged.offset)).toEqual(produced.map((_, index) => index));
    for (const { record, acknowledged } of produced) {
      if (record.timestamp !== null && record.timestamp !== undefined) expect(acknowledged.timestamp).toBe(record.timestamp);
    }
  });

  it("a clean shutdown leaves the marker and one segment per codec", () => {
    expect(existsSync(join(broker!.logDir, ".kafka_cleanshutdown"))).toBe(true);
    expect(logFiles(partitionDir, ".log").map((path) => path.slice(-24))).toEqual(
      codecs.map((_, index) => `${String(index * recordsPerCodec).padStart(20, "0")}.log`),
    );
  });

  it("DumpLogSegments reads back every record as produced, at the offset the producer was given", () => {
    expect(dataDump.code).toBe(0);
    expect(dataDump.errors).toEqual([]);
    expect(dataDump.nonConsecutiveOffsets).toEqual([]);
    const dumped = dataDump.files.flatMap((file) => file.batches.flatMap((batch) => batch.records));
    const actual = dumped.map(({ offset, timestampType, timestamp, keySize, valueSize, sequence, headerKeys, key, payload, control }) => ({
      offset,
      timestampType,
      timestamp,
      keySize,
      valueSize,
      sequence,
      headerKeys,
      key,
      payload,
      control,
    }));
    const expected = produced.map(({ record, sequence, acknowledged }) => ({
      offset: acknowledged.offset,
      timestampType: "CreateTime",
      timestamp: acknowledged.timestamp,
      keySize: utf8Length(record.key),
      valueSize: utf8Length(record.value),
      sequence,
      headerKeys: (record.headers ?? []).map(([name]) => name),
      key: record.key,
      payload: record.value,
      control: null,
    }));
    expect(actual).toEqual(expected);
  });

  it("every batch is valid, idempotent and compressed with the codec it was produced with", () => {
    const codecOf = new Map(produced.map(({ codec, acknowledged }) => [acknowledged.offset, codec]));
    const batches: DumpedBatch[] = dataDump.files.flatMap((file) => file.batches);
    expect(batches.length).toBeGreaterThan(codecs.length);
    for (const batch of batches) {
      expect(batch).toMatchObject({ magic: 2, isValid: true, isControl: false, isTransactional: false, timestampType: "CreateTime" });
      expect(batch.compressCodec).toBe(codecOf.get(batch.baseOffset));
      expect(batch.count).toBe(batch.lastOffset - batch.baseOffset + 1);
      expect(batch.records.map((record) => record.offset)).toEqual(batch.records.map((_, index) => batch.baseOffset + index));
      expect(batch.maxTimestamp).toBe(Math.max(...batch.records.map((record) => record.timestamp)));
      expect(batch.producerId).toBeGreaterThanOrEqual(0);
      expect(batch.lastSequence - batch.baseSequence + 1).toBe(batch.count);
    }
    for (const file of dataDump.files) {
      expect(file.baseOffset).toBe(file.batches[0].baseOffset);
      expect(file.invalidTrailingBytes).toBe(0);
      // Positions are the running sum of batch sizes.
      expect(file.batches.map((batch) => batch.position)).toEqual(
        file.batches.map((_, index) => file.batches.slice(0, index).reduce((sum, b) => sum + b.size, 0)),
      );
    }
  });

  it("the offset and time indexes agree with the log (--verify-index-only)", async () => {
    expect(indexVerify.code).toBe(0);
    expect(indexVerify).toMatchObject({
      errors: [],
      indexMismatches: [],
      timeIndexMismatches: [],
      outOfOrderTimeIndexEntries: [],
      indexedOffsetsNotFound: [],
    });
    expect(indexVerify.files.map((file) => file.kind)).toEqual([...codecs.map(() => "index"), ...codecs.map(() => "timeindex")]);

    // The entries themselves: each offset index entry is the last offset of the batch at its position.
    const entries = await dumpLogSegments(logFiles(partitionDir, ".index"));
    expect(entries.errors).toEqual([]);
    const batchesByPosition = dataDump.files.map((file) => new Map(file.batches.map((batch) => [batch.position, batch])));
    const indexed = entries.files.flatMap((file, segment) =>
      file.indexEntries.map((entry) => ({ entry, batch: batchesByPosition[segment].get(entry.position) })),
    );
    expect(indexed.length).toBeGreaterThan(0);
    for (const { entry, batch } of indexed) expect(entry.offset).toBe(batch?.lastOffset);
  });

  it("Kafka's own string output parses to the same records", async () => {
    const plain = await dumpLogSegments(logFiles(partitionDir, ".log"), { printDataLog: true, decoder: "string" });
    expect(plain.errors).toEqual([]);
    const contents = (dump: DumpResult) =>
      dump.files.flatMap((file) =>
        file.batches.flatMap((batch) => batch.records.map(({ offset, key, payload, headerKeys }) => ({ offset, key, payload, headerKeys }))),
      );
    expect(contents(plain)).toEqual(contents(dataDump));
  });
});

// Output shapes the run above does not produce, as Kafka 4.4.0 prints them.
describe("parsing DumpLogSegments output", () => {
  const batchLine = (isControl: boolean) =>
    `baseOffset: 5 lastOffset: 5 count: 1 baseSequence: -1 lastSequence: -1 producerId: 7 producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: true isControl: ${isControl} deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1700000000000 size: 78 magic: 2 compresscodec: none crc: 12345 isvalid: true`;

  it("a control record keeps what Kafka printed about it", () => {
    const stdout = [
      "Dumping /x/00000000000000000005.log",
      "Log starting offset: 5",
      batchLine(true),
      "| offset: 5 CreateTime: 1700000000000 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 0",
      "",
    ].join("\n");
    const [file] = parseDumpLogSegments(stdout, "", { decoder: "base64", printDataLog: true }).files;
    expect(file.batches[0]).toMatchObject({ isControl: true, isTransactional: true, producerId: 7 });
    expect(file.batches[0].records[0]).toMatchObject({ offset: 5, control: "endTxnMarker: COMMIT coordinatorEpoch: 0", key: undefined });
  });

  it("a string-decoded value with newlines spans lines, measured by its size", () => {
    const stdout = [
      "Dumping /x/00000000000000000005.log",
      batchLine(false),
      "| offset: 5 CreateTime: 1700000000000 keySize: 10 valueSize: 18 sequence: 0 headerKeys: [a,b] key: k payload: payload: z payload: a",
      "b",
      "",
      "c]",
      "Found 3 invalid bytes at the end of 00000000000000000005.log",
    ].join("\n");
    const [file] = parseDumpLogSegments(stdout, "", { decoder: "string", printDataLog: true }).files;
    expect(file.batches[0].records[0]).toMatchObject({ headerKeys: ["a", "b"], key: "k payload:", payload: "z payload: a\nb\n\nc]" });
    expect(file.invalidTrailingBytes).toBe(3);
  });

  it("index problems on stderr are attributed to their files", () => {
    const stderr = [
      "Mismatches in :/x/00000000000000000000.index",
      "  Index offset: 9, log offset: 8",
      "Found timestamp mismatch in :/x/00000000000000000000.timeindex",
      "  Index timestamp: 20, log timestamp: 19",
      "The following indexed offsets are not found in the log.",
      "Indexed offset: 12, found log offset: 11",
      "Non-consecutive offsets in /x/00000000000000000000.log",
      "  3 is followed by 5",
      // Kafka 4.4 reports the first record of every segment not based at 0 this way: not a gap.
      "Non-consecutive offsets in /x/00000000000000000200.log",
      "  -1 is followed by 200",
      "Exception in thread main java.lang.RuntimeException: boom",
    ].join("\n");
    expect(parseDumpLogSegments("", stderr, { decoder: "base64", printDataLog: false })).toMatchObject({
      indexMismatches: [{ file: "/x/00000000000000000000.index", indexOffset: 9, logOffset: 8 }],
      timeIndexMismatches: [{ file: "/x/00000000000000000000.timeindex", indexTimestamp: 20, logTimestamp: 19 }],
      indexedOffsetsNotFound: [{ indexOffset: 12, logOffset: 11 }],
      nonConsecutiveOffsets: [{ file: "/x/00000000000000000000.log", offset: 3, next: 5 }],
      errors: ["Exception in thread main java.lang.RuntimeException: boom"],
    });
  });
});
