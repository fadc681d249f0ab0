// Sluice's partition log against Apache Kafka 4.4.0, both ways:
// (a) Kafka reads Sluice's log: a log Sluice wrote (every codec, keys, nulls, headers, several
//     segments and index entries) passes Kafka's DumpLogSegments deep iteration and index
//     verification with the records Sluice was given, and `sluice dump-log` prints the same text.
// (b) Sluice reads Kafka's log: a partition a real Kafka broker wrote (Kafka's Java producer, every
//     codec) opens in Sluice, recovers without cutting a byte, and reads back every record at the
//     offset Kafka acknowledged; timestamp lookups agree with the produced timestamps.

import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpFiles } from "../../src/log/dump.js";
import { LogManager } from "../../src/log/log-manager.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { crc32c, LogResources, recompressBatch } from "../../src/native.js";
import { batches, buildRecordBatch, type KafkaRecord, type RecordInput } from "../../src/protocol/records.js";
import {
  type DumpResult,
  dumpLogSegments,
  type JavaProducerRecord,
  type KafkaBroker,
  type KafkaCompression,
  produceWithJava,
  runJavaTool,
  startKafka,
} from "../helpers/kafka.js";
import { recordsOf } from "../helpers/records.js";

const codecs: KafkaCompression[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const setupTimeoutMs = 300_000;

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(dir, name));
}

/** Keys and values as Kafka tools see them: unicode, empty, null, newlines, long. */
const keyText = (j: number) => [`key-${j}`, `ключ-${j}`, null, `キー${j}`, "", `🔑 ${j}`][j % 6] ?? null;
const valueText = (codec: string, j: number) =>
  [`value ${j} — Grüße, 你好 ${"abc".repeat(j % 30)}`, null, "", `line one\nline two ${j}`, `${codec} ${"x".repeat(j * 5)}`, `ελληνικά ${j}`][j % 6] ?? null;
const headerPairs = (j: number): [string, string | null][] =>
  (
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
    ] as [string, string | null][][]
  )[j % 3] ?? [];

/** Every batch from `from` to the log end, segment by segment. */
function readAll(log: PartitionLog, from = 0n): Buffer {
  const parts: Buffer[] = [];
  for (let offset = from; offset < log.logEndOffset; ) {
    const chunk = log.readCopy(offset, 1 << 20);
    parts.push(chunk.bytes);
    offset = chunk.nextOffset;
  }
  return Buffer.concat(parts);
}

function sluiceDump(paths: string[], flags: { deep: boolean; data: boolean; verify: boolean }): { stdout: string; stderr: string } {
  const { out, err } = dumpFiles(paths, {
    deepIteration: flags.deep,
    printDataLog: flags.data,
    verifyIndexOnly: flags.verify,
    crc32c,
    decompressBatch: (batch) => recompressBatch(batch, "none"),
  });
  return { stdout: out.length > 0 ? `${out.join("\n")}\n` : "", stderr: err.length > 0 ? `${err.join("\n")}\n` : "" };
}

function expectNoProblems(dump: DumpResult): void {
  expect(dump.code).toBe(0);
  expect(dump.errors).toEqual([]);
  expect(dump.indexMismatches).toEqual([]);
  expect(dump.timeIndexMismatches).toEqual([]);
  expect(dump.outOfOrderTimeIndexEntries).toEqual([]);
  expect(dump.indexedOffsetsNotFound).toEqual([]);
  expect(dump.nonConsecutiveOffsets).toEqual([]);
}

describe("Kafka's DumpLogSegments reads a log Sluice wrote", () => {
  const topic = "sluice-written";
  const recordsPerCodec = 150;
  let workDir: string;
  let partitionDir: string;
  const written: { codec: KafkaCompression; offset: number; record: RecordInput; epoch: number }[] = [];
  let dataDump: DumpResult;
  let indexList: DumpResult;
  let indexVerify: DumpResult;
  let indexSanity: DumpResult;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-log-vs-kafka-a-"));
    const logDir = join(workDir, "logs");
    const manager = await LogManager.open(logDir, { defaultConfig: { segmentBytes: 8 * 1024, indexIntervalBytes: 512 } });
    const log = await manager.createPartition(topic, 0, { topicId: randomBytes(16).toString("base64url") });
    partitionDir = log.directory;
    const baseTimestamp = BigInt(Date.now() - 3_600_000);
    for (const [codecIndex, codec] of codecs.entries()) {
      const records: RecordInput[] = Array.from({ length: recordsPerCodec }, (_, j) => {
        const key = keyText(j);
        const value = valueText(codec, j);
        return {
          key: key === null ? null : Buffer.from(key),
          value: value === null ? null : Buffer.from(value),
          headers: headerPairs(j).map(([name, headerValue]) => ({ key: name, value: headerValue === null ? null : Buffer.from(headerValue) })),
          timestamp: baseTimestamp + BigInt(codecIndex * 60_000 + ((j * 37) % recordsPerCodec)),
        };
      });
      // Batches of 1 to 9 records, stamped with the codec's index as leader epoch.
      for (let from = 0, size = 1; from < records.length; from += size, size = (size % 9) + 1) {
        const slice = records.slice(from, from + size);
        const batch = recompressBatch(buildRecordBatch({ records: slice }), codec);
        const result = log.append(batch, { nowMs: Date.now(), leaderEpoch: codecIndex });
        slice.forEach((record, index) => {
          written.push({ codec, offset: Number(result.baseOffset) + index, record, epoch: codecIndex });
        });
      }
    }
    await manager.close(1n);

    dataDump = await dumpLogSegments(files(partitionDir, ".log"), { deepIteration: true, printDataLog: true });
    const indexes = [...files(partitionDir, ".index"), ...files(partitionDir, ".timeindex")];
    indexList = await dumpLogSegments(indexes, {});
    indexVerify = await dumpLogSegments(indexes, { verifyIndexOnly: true });
    indexSanity = await dumpLogSegments(indexes, { indexSanityCheck: true });
  }, setupTimeoutMs);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("every record comes back at the offset Sluice assigned, with its timestamp, key, value and header keys, byte for byte", () => {
    expectNoProblems(dataDump);
    const dumped = dataDump.files.flatMap((file) => file.batches.flatMap((batch) => batch.records));
    expect(dumped.length).toBe(codecs.length * recordsPerCodec);
    expect(
      dumped.map(({ offset, timestampType, timestamp, keySize, valueSize, headerKeys, keyBytes, payloadBytes }) => ({
        offset,
        timestampType,
        timestamp,
        keySize,
        valueSize,
        headerKeys,
        keyBytes,
        payloadBytes,
      })),
    ).toEqual(
      written.map(({ offset, record }) => ({
        offset,
        timestampType: "CreateTime",
        timestamp: Number(record.timestamp),
        keySize: record.key?.length ?? -1,
        valueSize: record.value?.length ?? -1,
        headerKeys: (record.headers ?? []).map((header) => header.key),
        keyBytes: record.key ?? null,
        payloadBytes: record.value ?? null,
      })),
    );
  });

  it("every batch is valid, in its codec and leader epoch, across several segments that start where the previous ended", () => {
    const logs = dataDump.files;
    expect(logs.length).toBeGreaterThanOrEqual(6);
    const byOffset = new Map(written.map((entry) => [entry.offset, entry]));
    let next = 0;
    for (const file of logs) {
      expect(file.baseOffset).toBe(next);
      expect(file.invalidTrailingBytes).toBe(0);
      for (const batch of file.batches) {
        expect(batch).toMatchObject({ magic: 2, isValid: true, isControl: false, isTransactional: false, baseOffset: next });
        expect(batch.compressCodec).toBe(byOffset.get(batch.baseOffset)?.codec);
        expect(batch.partitionLeaderEpoch).toBe(byOffset.get(batch.baseOffset)?.epoch);
        expect(batch.maxTimestamp).toBe(Math.max(...batch.records.map((record) => record.timestamp)));
        next = batch.lastOffset + 1;
      }
    }
    expect(next).toBe(written.length);
  });

  it("the offset and time indexes verify against the logs and pass Kafka's sanity check, with several entries per full segment", () => {
    expectNoProblems(indexVerify);
    expect(indexVerify.stderr).toBe("");
    expectNoProblems(indexSanity);
    const indexFiles = indexSanity.files.filter((file) => file.kind === "index" || file.kind === "timeindex");
    expect(indexFiles.every((file) => file.passedSanityCheck)).toBe(true);
    const offsetIndexes = indexList.files.filter((file) => file.kind === "index");
    const timeIndexes = indexList.files.filter((file) => file.kind === "timeindex");
    expect(offsetIndexes.length).toBe(dataDump.files.length);
    // Every segment but the last is full (8 KiB at 512 bytes per offset index entry).
    for (const file of offsetIndexes.slice(0, -1)) expect(file.indexEntries.length).toBeGreaterThan(5);
    for (const file of timeIndexes.slice(0, -1)) expect(file.timeIndexEntries.length).toBeGreaterThan(0);
    console.info(
      `Sluice-written log: ${written.length} records in ${dataDump.files.reduce((sum, file) => sum + file.batches.length, 0)} batches, ` +
        `${dataDump.files.length} segments, ${offsetIndexes.reduce((sum, file) => sum + file.indexEntries.length, 0)} offset index entries, ` +
        `${timeIndexes.reduce((sum, file) => sum + file.timeIndexEntries.length, 0)} time index entries verified by Kafka`,
    );
  });

  it("sluice dump-log prints exactly what DumpLogSegments prints for these files", async () => {
    const logs = files(partitionDir, ".log");
    const kafka = await dumpLogSegments(logs, { deepIteration: true, printDataLog: true, decoder: "string" });
    const sluice = sluiceDump(logs, { deep: true, data: true, verify: false });
    expect(kafka.code).toBe(0);
    expect(sluice.stdout.split("\n")).toEqual(kafka.stdout.split("\n"));
    expect(sluice.stderr).toBe(kafka.stderr);
    const indexes = [...files(partitionDir, ".index"), ...files(partitionDir, ".timeindex")];
    expect(sluiceDump(indexes, { deep: false, data: false, verify: false }).stdout.split("\n")).toEqual(indexList.stdout.split("\n"));
    const verify = sluiceDump(indexes, { deep: false, data: false, verify: true });
    expect(verify.stdout).toBe(indexVerify.stdout);
    expect(verify.stderr).toBe(indexVerify.stderr);
  });
});

describe("Sluice reads a log a real Kafka broker wrote", () => {
  const topic = "kafka-written";
  const recordsPerCodec = 150;
  let workDir: string;
  let broker: KafkaBroker | undefined;
  let partitionDir: string;
  const resources = new LogResources();
  const produced: { offset: number; record: JavaProducerRecord; timestamp: number }[] = [];
  let log: PartitionLog;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-log-vs-kafka-b-"));
    broker = await startKafka({ workDir, logDir: join(workDir, "kafka-logs") });
    partitionDir = join(broker.logDir, `${topic}-0`);
    const create = await runJavaTool(
      "org.apache.kafka.tools.TopicCommand",
      ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"].concat([
        "--config",
        "index.interval.bytes=512",
        "--config",
        "segment.ms=30000",
      ]),
      { quickStart: true, heap: "256m" },
    );
    expect(create.stdout).toContain(`Created topic ${topic}.`);
    const base = Date.now() - 3_600_000;
    for (const [codecIndex, codec] of codecs.entries()) {
      // Timestamps are unique but not in offset order within a codec; each codec a minute later,
      // so segment.ms rolls a segment per codec.
      const records: JavaProducerRecord[] = Array.from({ length: recordsPerCodec }, (_, j) => ({
        key: keyText(j),
        value: valueText(codec, j),
        headers: headerPairs(j),
        timestamp: base + codecIndex * 60_000 + ((j * 37) % recordsPerCodec),
      }));
      const { offsets } = await produceWithJava({
        bootstrap: broker.bootstrap,
        topic,
        partition: 0,
        records,
        compression: codec,
        acks: "all",
        lingerMs: 10,
        batchSize: 2048,
      });
      records.forEach((record, index) => {
        const acknowledged = offsets[index]!;
        produced.push({ offset: acknowledged.offset, record, timestamp: acknowledged.timestamp });
      });
    }
    await broker.stop();
    // Unclean open: every segment is scanned and CRC-checked, its indexes rebuilt.
    log = await PartitionLog.open(partitionDir, { topic, partition: 0, resources });
  }, setupTimeoutMs);

  afterAll(async () => {
    if (log?.isOpen) await log.close();
    await broker?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("recovers every segment Kafka wrote without cutting a byte, and ends where Kafka's log ended", () => {
    const segments = files(partitionDir, ".log");
    expect(segments.length).toBeGreaterThanOrEqual(codecs.length);
    expect(log.openReport).toMatchObject({ segments: segments.length, recoveredSegments: segments.length, truncatedBytes: 0, deletedSegments: 0 });
    expect(log.segmentBaseOffsets.map((base) => `${base.toString().padStart(20, "0")}.log`)).toEqual(segments.map((path) => path.slice(-24)));
    const lastAcknowledged = Math.max(...produced.map((entry) => entry.offset));
    expect(log.logStartOffset).toBe(0n);
    expect(log.logEndOffset).toBe(BigInt(lastAcknowledged + 1));
    const metadata = readFileSync(join(partitionDir, "partition.metadata"), "utf8");
    expect(metadata.trim().split("\n")).toEqual(["version: 0", `topic_id: ${log.topicId}`]);
  });

  it("reads every record from offset 0 to the end at the offset Kafka acknowledged, as produced", () => {
    const read: KafkaRecord[] = [];
    let offset = 0n;
    let reads = 0;
    while (offset < log.logEndOffset) {
      const chunk = log.readCopy(offset, 4096);
      expect(chunk.firstBatchOffset).toBe(offset);
      read.push(...recordsOf(chunk.bytes));
      offset = chunk.nextOffset;
      reads += 1;
    }
    expect(reads).toBeGreaterThan(log.segmentBaseOffsets.length);
    console.info(`Kafka-written log: ${read.length} records in ${log.segmentBaseOffsets.length} segments read back by Sluice in ${reads} reads`);
    const text = (bytes: Buffer | null) => (bytes === null ? null : bytes.toString("utf8"));
    expect(
      read.map((record) => ({
        offset: Number(record.offset),
        timestamp: Number(record.timestamp),
        key: text(record.key),
        value: text(record.value),
        headers: record.headers.map((header) => [header.key, text(header.value)]),
      })),
    ).toEqual(
      produced.map(({ offset: producedOffset, record, timestamp }) => ({
        offset: producedOffset,
        timestamp,
        key: record.key,
        value: record.value,
        headers: record.headers ?? [],
      })),
    );
  });

  it("a read from any offset returns the whole batch holding it", () => {
    for (let offset = 0n; offset < log.logEndOffset; offset++) {
      const slice = log.read(offset, 1);
      const [first] = [...batches(slice.toBuffer())];
      slice.release();
      expect(first!.baseOffset <= offset && offset <= first!.lastOffset).toBe(true);
      expect(slice.firstBatchOffset).toBe(first!.baseOffset);
    }
  });

  it("timestamp lookups give the first record at or after each timestamp, as produced", () => {
    const firstAtOrAfter = (target: number) => produced.find((entry) => entry.timestamp >= target);
    const targets = produced.flatMap((entry) => [entry.timestamp, entry.timestamp + 1]);
    targets.push(0, produced[0]!.timestamp - 1);
    for (const target of targets) {
      const expected = firstAtOrAfter(target);
      const found = log.offsetFor({ timestamp: BigInt(target) });
      if (expected === undefined) expect(found, `timestamp ${target}`).toBeNull();
      else expect([found?.offset, found?.timestamp], `timestamp ${target}`).toEqual([BigInt(expected.offset), BigInt(expected.timestamp)]);
    }
    const newest = produced.reduce((best, entry) => (entry.timestamp > best.timestamp ? entry : best));
    expect(log.offsetFor("max-timestamp")).toMatchObject({ offset: BigInt(newest.offset), timestamp: BigInt(newest.timestamp) });
    expect(log.offsetFor("earliest")?.offset).toBe(0n);
    expect(log.offsetFor("latest")?.offset).toBe(log.logEndOffset);
    console.info(`Kafka-written log: ${targets.length} timestamp lookups agree with the produced timestamps`);
  });

  it("after Sluice closes it, a clean reopen trusts the files and Kafka still verifies every index", async () => {
    const before = readAll(log);
    const segments = log.segmentBaseOffsets;
    const end = log.logEndOffset;
    await log.close();
    log = await PartitionLog.open(partitionDir, { topic, partition: 0, resources, hadCleanShutdown: true, recoveryPoint: end });
    expect(log.openReport.recoveredSegments).toBe(0);
    expect(log.segmentBaseOffsets).toEqual(segments);
    expect(log.logEndOffset).toBe(end);
    expect(readAll(log).equals(before)).toBe(true);
    await log.close();
    const verify = await dumpLogSegments([...files(partitionDir, ".index"), ...files(partitionDir, ".timeindex")], { verifyIndexOnly: true });
    expectNoProblems(verify);
    expect(verify.stderr).toBe("");
  });
});
