// The partition log through the native binding (PartitionLog, LogManager): offsets, reads of
// whole batches, compression, LogAppendTime, rolling, time lookups, truncation, retention, clean
// and unclean reopen, typed errors, and that slow operations leave the JS thread free.

import { existsSync, mkdtempSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { LogManager } from "../../src/log/log-manager.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { type CompressionCodec, crc32c, type LogConfig, LogError, LogResources, recompressBatch } from "../../src/native.js";
import { batches, buildRecordBatch, decodeRecords, type KafkaRecord, type RecordInput } from "../../src/protocol/records.js";

const root = mkdtempSync(join(tmpdir(), "sluice-log-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const resources = new LogResources();
let directoryCount = 0;
let directory: string;
beforeEach(() => {
  directoryCount += 1;
  directory = join(root, `case-${directoryCount}`, "events-0");
});

const nowMs = 1_700_000_000_000;

function openLog(config: LogConfig = {}, options: { hadCleanShutdown?: boolean; topicId?: string } = {}): Promise<PartitionLog> {
  return PartitionLog.open(directory, { topic: "events", partition: 0, resources, config, ...options });
}

function records(count: number, from: number, timestamp: (index: number) => bigint = (index) => 1_000n + BigInt(index)): RecordInput[] {
  return Array.from({ length: count }, (_, j) => {
    const index = from + j;
    return {
      key: index % 3 === 0 ? null : Buffer.from(`key-${index}`),
      value: index % 5 === 0 ? null : Buffer.from(`value ${index} ${"x".repeat(index % 40)}`),
      headers: index % 2 === 0 ? [{ key: "h", value: Buffer.from(`${index}`) }] : [],
      timestamp: timestamp(index),
    };
  });
}

/** Every record in a buffer of whole batches, compressed ones decompressed. */
function recordsOf(bytes: Buffer): KafkaRecord[] {
  const found: KafkaRecord[] = [];
  for (const batch of batches(bytes)) {
    expect(batch.isCrcValid(crc32c)).toBe(true);
    const plain = batch.compression === 0 ? batch : batches(recompressBatch(bytes.subarray(batch.position, batch.end), "none")).next().value!;
    found.push(...decodeRecords(plain));
  }
  return found;
}

/** Reads everything from `from` to the log end, segment by segment. */
function readAll(log: PartitionLog, from = log.logStartOffset): Buffer {
  const parts: Buffer[] = [];
  let offset = from;
  while (offset < log.logEndOffset) {
    const read = log.readCopy(offset, 1 << 20);
    expect(read.bytes.length).toBeGreaterThan(0);
    parts.push(read.bytes);
    offset = read.nextOffset;
  }
  return Buffer.concat(parts);
}

function expectSameRecords(actual: KafkaRecord[], expected: RecordInput[], firstOffset = 0n): void {
  expect(actual.map((record) => record.offset)).toEqual(expected.map((_, index) => firstOffset + BigInt(index)));
  expect(actual.map(({ key, value, headers, timestamp }) => ({ key, value, headers, timestamp }))).toEqual(
    expected.map(({ key, value, headers, timestamp }) => ({ key: key ?? null, value: value ?? null, headers: headers ?? [], timestamp })),
  );
}

describe("PartitionLog", () => {
  it("assigns consecutive offsets to appended batches and reads them back whole, CRC intact", async () => {
    const log = await openLog();
    const written = records(10, 0);
    const results = [
      log.append(buildRecordBatch({ records: written.slice(0, 3) }), { nowMs, leaderEpoch: 4 }),
      log.append(buildRecordBatch({ records: written.slice(3, 4) }), { nowMs, leaderEpoch: 4 }),
      log.append(buildRecordBatch({ records: written.slice(4) }), { nowMs, leaderEpoch: 4 }),
    ];
    expect(results.map((result) => [result.baseOffset, result.lastOffset, result.logAppendTimeMs, result.logStartOffset])).toEqual([
      [0n, 2n, -1n, 0n],
      [3n, 3n, -1n, 0n],
      [4n, 9n, -1n, 0n],
    ]);
    expect(log.logEndOffset).toBe(10n);
    const read = log.readCopy(0n, 1 << 20);
    expect([...batches(read.bytes)].map((batch) => [batch.baseOffset, batch.lastOffset, batch.partitionLeaderEpoch])).toEqual([
      [0n, 2n, 4],
      [3n, 3n, 4],
      [4n, 9n, 4],
    ]);
    expect(read.firstBatchOffset).toBe(0n);
    expect(read.nextOffset).toBe(10n);
    expectSameRecords(recordsOf(read.bytes), written);
    await log.close();
  });

  it("writes the assigned offsets into the appended buffer in place, as Kafka does", async () => {
    const log = await openLog();
    log.append(buildRecordBatch({ records: records(2, 0) }), { nowMs });
    const batch = buildRecordBatch({ records: records(3, 2) });
    log.append(batch, { nowMs, leaderEpoch: 9 });
    expect(batch.readBigInt64BE(0)).toBe(2n);
    expect(batch.equals(log.readCopy(2n, 1 << 20).bytes)).toBe(true);
    await log.close();
  });

  it("keeps compressed batches as they are and their records read back in every codec", async () => {
    const log = await openLog();
    const codecs: CompressionCodec[] = ["gzip", "snappy", "lz4", "zstd", "none"];
    const written = records(50, 0);
    codecs.forEach((codec, index) => {
      const batch = recompressBatch(buildRecordBatch({ records: written.slice(index * 10, index * 10 + 10) }), codec);
      const result = log.append(batch, { nowMs, leaderEpoch: 0 });
      expect(result.baseOffset).toBe(BigInt(index * 10));
    });
    const read = log.readCopy(0n, 1 << 20);
    expect([...batches(read.bytes)].map((batch) => batch.compressionName)).toEqual(codecs);
    expectSameRecords(recordsOf(read.bytes), written);
    await log.close();
  });

  it("returns the whole first batch even when it is larger than maxBytes, and only whole batches", async () => {
    const log = await openLog();
    for (let index = 0; index < 5; index++) log.append(buildRecordBatch({ records: records(4, index * 4) }), { nowMs });
    const first = log.readCopy(0n, 1);
    expect([...batches(first.bytes)].map((batch) => batch.baseOffset)).toEqual([0n]);
    expect(first.nextOffset).toBe(4n);
    const size = first.bytes.length;
    const twoAndABit = log.readCopy(0n, size * 2 + size / 2);
    expect([...batches(twoAndABit.bytes)].map((batch) => batch.baseOffset)).toEqual([0n, 4n]);
    await log.close();
  });

  it("a read from the middle of a batch returns that whole batch", async () => {
    const log = await openLog();
    for (let index = 0; index < 3; index++) log.append(buildRecordBatch({ records: records(5, index * 5) }), { nowMs });
    const read = log.readCopy(7n, 1 << 20);
    expect(read.firstBatchOffset).toBe(5n);
    expect([...batches(read.bytes)].map((batch) => batch.baseOffset)).toEqual([5n, 10n]);
    expect(recordsOf(read.bytes)[0]?.offset).toBe(5n);
    await log.close();
  });

  it("stops below the upper bound (the high watermark) and reads nothing at the log end", async () => {
    const log = await openLog();
    for (let index = 0; index < 4; index++) log.append(buildRecordBatch({ records: records(2, index * 2) }), { nowMs });
    const belowHighWatermark = log.readCopy(0n, 1 << 20, 5n);
    expect([...batches(belowHighWatermark.bytes)].map((batch) => batch.lastOffset)).toEqual([1n, 3n]);
    expect(belowHighWatermark.nextOffset).toBe(4n);
    const atEnd = log.readCopy(8n, 1 << 20);
    expect(atEnd.bytes.length).toBe(0);
    expect(atEnd.nextOffset).toBe(8n);
    await log.close();
  });

  it("a file slice reads the same bytes through its descriptor and survives the deletion of its segment", async () => {
    const log = await openLog({ segmentBytes: 1024, retentionMs: -1 });
    for (let index = 0; index < 20; index++) log.append(buildRecordBatch({ records: records(3, index * 3) }), { nowMs });
    expect(log.segmentBaseOffsets.length).toBeGreaterThan(2);
    const slice = log.read(0n, 1 << 20);
    const expected = log.readCopy(0n, 1 << 20).bytes;
    const secondSegment = log.segmentBaseOffsets[1]!;
    await log.incrementLogStartOffset(secondSegment, log.logEndOffset);
    expect(log.logStartOffset).toBe(secondSegment);
    expect(readdirSync(directory)).not.toContain("00000000000000000000.log");
    const bytes = Buffer.alloc(slice.length);
    expect(readSync(slice.fd, bytes, 0, slice.length, slice.position)).toBe(slice.length);
    expect(bytes.equals(expected)).toBe(true);
    expect(slice.toBuffer().equals(expected)).toBe(true);
    slice.release();
    expect(slice.fd).toBe(-1);
    expect(() => log.read(0n, 100)).toThrow(expect.objectContaining({ code: "OFFSET_OUT_OF_RANGE" }));
    await log.close();
  });

  it("stamps LogAppendTime into the batch (max timestamp, attribute, CRC) and reports it", async () => {
    const log = await openLog({ messageTimestampType: "LogAppendTime" });
    const result = log.append(buildRecordBatch({ records: records(3, 0) }), { nowMs, leaderEpoch: 1 });
    expect(result.logAppendTimeMs).toBe(BigInt(nowMs));
    const [batch] = [...batches(log.readCopy(0n, 1 << 20).bytes)];
    expect(batch?.timestampType).toBe("LogAppendTime");
    expect(batch?.maxTimestamp).toBe(BigInt(nowMs));
    expect(batch?.isCrcValid(crc32c)).toBe(true);
    expect(log.offsetFor({ timestamp: BigInt(nowMs) })?.offset).toBe(0n);
    await log.close();
  });

  it("rolls a new segment when the next append would pass segment.bytes, and reads across segments", async () => {
    const log = await openLog({ segmentBytes: 2048, indexIntervalBytes: 256 });
    const written = records(120, 0);
    for (let index = 0; index < 40; index++) log.append(buildRecordBatch({ records: written.slice(index * 3, index * 3 + 3) }), { nowMs });
    const bases = log.segmentBaseOffsets;
    expect(bases.length).toBeGreaterThan(3);
    const logs = readdirSync(directory).filter((name) => name.endsWith(".log"));
    expect(logs).toEqual(bases.map((base) => `${base.toString().padStart(20, "0")}.log`));
    const one = log.readCopy(0n, 1 << 20);
    expect(one.nextOffset).toBe(bases[1]);
    expectSameRecords(recordsOf(readAll(log)), written);
    await log.close();
    for (const base of bases.slice(0, -1)) {
      const name = base.toString().padStart(20, "0");
      expect(readFileSync(join(directory, `${name}.log`)).length).toBeLessThanOrEqual(2048);
    }
  });

  it("finds offsets by timestamp: the first record at or after it, the largest, the earliest and the latest", async () => {
    const log = await openLog({ segmentBytes: 1024, indexIntervalBytes: 128 });
    // Timestamps rise by 10 per record except in batch 4, whose records are older than batch 3's.
    const timestamp = (index: number) => (index >= 12 && index < 16 ? 5_000n + BigInt(index) : 10_000n + 10n * BigInt(index));
    const written = records(40, 0, timestamp);
    const codecs: CompressionCodec[] = ["none", "zstd", "gzip", "lz4"];
    for (let index = 0; index < 10; index++) {
      const batch = buildRecordBatch({ records: written.slice(index * 4, index * 4 + 4) });
      log.append(recompressBatch(batch, codecs[index % codecs.length]!), { nowMs, leaderEpoch: index < 5 ? 1 : 2 });
    }
    expect(log.segmentBaseOffsets.length).toBeGreaterThan(1);
    const expectedFor = (target: bigint) => written.findIndex((record) => (record.timestamp ?? 0n) >= target);
    for (const target of [0n, 5_013n, 10_000n, 10_005n, 10_110n, 10_111n, 10_200n, 10_205n, 10_390n]) {
      const found = log.offsetFor({ timestamp: target });
      const index = expectedFor(target);
      expect(found?.offset, `timestamp ${target}`).toBe(BigInt(index));
      expect(found?.timestamp).toBe(written[index]?.timestamp);
    }
    expect(log.offsetFor({ timestamp: 10_391n })).toBeNull();
    expect(log.offsetFor("max-timestamp")).toEqual({ timestamp: 10_390n, offset: 39n, leaderEpoch: 2 });
    expect(log.offsetFor("earliest")).toMatchObject({ offset: 0n, leaderEpoch: 1 });
    expect(log.offsetFor("latest")).toMatchObject({ offset: 40n, leaderEpoch: 2 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 20n });
    await log.close();
  });

  it("truncation removes records at and above the offset and later appends continue there", async () => {
    const log = await openLog({ segmentBytes: 1024 });
    for (let index = 0; index < 30; index++) log.append(buildRecordBatch({ records: records(2, index * 2) }), { nowMs });
    const segments = log.segmentBaseOffsets.length;
    expect(await log.truncateTo(10n)).toBe(true);
    expect(log.logEndOffset).toBe(10n);
    expect(log.segmentBaseOffsets.length).toBeLessThan(segments);
    expect(() => log.readCopy(11n, 100)).toThrow(expect.objectContaining({ code: "OFFSET_OUT_OF_RANGE" }));
    expect(await log.truncateTo(20n)).toBe(false);
    expect(log.append(buildRecordBatch({ records: records(3, 0) }), { nowMs }).baseOffset).toBe(10n);
    expect(recordsOf(readAll(log)).map((record) => record.offset)).toEqual(Array.from({ length: 13 }, (_, index) => BigInt(index)));
    await log.truncateFullyAndStartAt(100n);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([100n, 100n]);
    expect(log.append(buildRecordBatch({ records: records(1, 0) }), { nowMs }).baseOffset).toBe(100n);
    await log.close();
  });

  it("retention deletes the oldest segments below the high watermark and moves the log start offset", async () => {
    const log = await openLog({ segmentBytes: 1024, retentionBytes: 2048, retentionMs: -1 });
    for (let index = 0; index < 40; index++) log.append(buildRecordBatch({ records: records(2, index * 2) }), { nowMs });
    expect(await log.deleteOldSegments(nowMs, 0n)).toEqual([]);
    const deleted = await log.deleteOldSegments(nowMs, log.logEndOffset);
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted[0]?.baseOffset).toBe(0n);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect(log.sizeBytes).toBeLessThanOrEqual(2048 + 1024);
    await expect(log.incrementLogStartOffset(log.logEndOffset + 1n, log.logEndOffset)).rejects.toMatchObject({
      code: "LOG_START_OFFSET_ABOVE_HIGH_WATERMARK",
    });
    await log.close();
  });

  it("out-of-range offsets, closed logs and bad input fail with typed codes", async () => {
    const log = await openLog();
    log.append(buildRecordBatch({ records: records(3, 0) }), { nowMs });
    const outOfRange = (() => {
      try {
        log.read(4n, 100);
      } catch (error) {
        return error;
      }
    })();
    expect(outOfRange).toBeInstanceOf(LogError);
    expect(outOfRange).toMatchObject({ code: "OFFSET_OUT_OF_RANGE", message: "offset 4 is out of range [0, 3]" });
    expect(() => log.append(Buffer.from("not a batch at all, surely"), { nowMs })).toThrow(expect.objectContaining({ code: "CORRUPT_MESSAGE" }));
    expect(() => log.append(Buffer.alloc(0), { nowMs })).toThrow(expect.objectContaining({ code: "EMPTY_APPEND" }));
    expect(() => log.read(-1n, 100)).toThrow(expect.objectContaining({ code: "OFFSET_OUT_OF_RANGE" }));
    expect(() => log.read(1n << 64n, 100)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    await log.close();
    expect(log.isOpen).toBe(false);
    expect(() => log.read(0n, 100)).toThrow(expect.objectContaining({ code: "LOG_CLOSED" }));
    await expect(log.flush()).rejects.toMatchObject({ code: "LOG_CLOSED" });
  });

  it("appends and reads go on while flushes, rolls, retention and DeleteRecords are in flight", async () => {
    const log = await openLog({ segmentBytes: 4096, retentionBytes: 8192, segmentMs: 1 });
    const value = Buffer.alloc(200, 1);
    let appended = 0;
    const append = () => {
      log.append(buildRecordBatch({ records: [{ value, timestamp: BigInt(nowMs) }] }), { nowMs });
      appended++;
    };
    for (let index = 0; index < 40; index++) append();
    const background: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      background.push(log.flush(), log.rollIfOld(Date.now() + 10), log.deleteOldSegments(Date.now(), log.logEndOffset));
      // One past the log start, unless retention (queued above) has already moved it to the end.
      if (round % 5 === 0)
        background.push(log.incrementLogStartOffset(log.logStartOffset < log.logEndOffset ? log.logStartOffset + 1n : log.logStartOffset, log.logEndOffset));
      // Not one of these throws while the operations above are queued or running.
      append();
      const slice = log.read(log.logEndOffset - 1n, 1 << 20);
      expect(slice.length).toBeGreaterThan(0);
      slice.release();
    }
    const results = await Promise.allSettled(background);
    expect(results.filter((result) => result.status === "rejected")).toEqual([]);
    expect(log.logEndOffset).toBe(BigInt(appended));
    expect(log.logStartOffset).toBeGreaterThan(0n);
    // Whatever retention left is readable, in order, up to the end.
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const read = log.readCopy(offset, 1 << 20);
      expect(read.firstBatchOffset).toBeLessThanOrEqual(offset);
      offset = read.nextOffset;
    }
    await log.flush();
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    await log.close();
  });

  it("opening with recovery runs off the JS thread: the event loop turns while it works", async () => {
    const writer = await openLog({ segmentBytes: 8 << 20 });
    const value = Buffer.alloc(256 * 1024, 7);
    for (let index = 0; index < 96; index++) writer.append(buildRecordBatch({ records: [{ value, timestamp: 1n }] }), { nowMs });
    await writer.close();
    let turns = 0;
    let opened = false;
    const turn = () => {
      turns += 1;
      if (!opened) setImmediate(turn);
    };
    const opening = openLog(); // unclean: recovers (CRC-checks) every segment
    setImmediate(turn);
    const log = await opening;
    opened = true;
    expect(log.openReport.recoveredSegments).toBeGreaterThan(0);
    expect(turns).toBeGreaterThan(0);
    const closing = log.close();
    expect(closing).toBeInstanceOf(Promise);
    await closing;
  });

  it("a clean close and reopen keeps every batch byte for byte without recovery; an unclean reopen recovers the same", async () => {
    const logDir = join(root, `case-${directoryCount}`);
    const manager = await LogManager.open(logDir, { defaultConfig: { segmentBytes: 1500, indexIntervalBytes: 200 } });
    expect(manager.hadCleanShutdown).toBe(false);
    const topicId = "ZGlyZWN0b3J5LXRvcGljLQ";
    const log = await manager.createPartition("events", 0, { topicId });
    expect(readFileSync(join(directory, "partition.metadata"), "utf8")).toBe(`version: 0\ntopic_id: ${topicId}\n`);
    const written = records(60, 0);
    for (let index = 0; index < 20; index++) {
      const codec: CompressionCodec = index % 2 === 0 ? "none" : "snappy";
      log.append(recompressBatch(buildRecordBatch({ records: written.slice(index * 3, index * 3 + 3) }), codec), { nowMs, leaderEpoch: index < 10 ? 0 : 1 });
    }
    const before = readAll(log);
    const segments = log.segmentBaseOffsets;
    expect(segments.length).toBeGreaterThan(2);
    await manager.close(7n);
    expect(readFileSync(join(root, `case-${directoryCount}`, ".kafka_cleanshutdown"), "utf8")).toBe('{"version":0,"brokerEpoch":7}');
    expect(readFileSync(join(logDir, "recovery-point-offset-checkpoint"), "utf8")).toBe("0\n1\nevents 0 60\n");
    expect(readFileSync(join(directory, "leader-epoch-checkpoint"), "utf8")).toBe("0\n2\n0 0\n1 30\n");

    const progress: number[] = [];
    const reopened = await LogManager.open(logDir, { onProgress: (step) => progress.push(step.partitionsDone) });
    expect(reopened.hadCleanShutdown).toBe(true);
    expect(existsSync(join(logDir, ".kafka_cleanshutdown"))).toBe(false);
    const again = reopened.get("events", 0)!;
    expect(again.openReport.recoveredSegments).toBe(0);
    expect(again.topicId).toBe(topicId);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([0n, 60n]);
    expect(again.segmentBaseOffsets).toEqual(segments);
    expect(readAll(again).equals(before)).toBe(true);
    expectSameRecords(recordsOf(before), written);
    expect(again.append(buildRecordBatch({ records: records(1, 60) }), { nowMs, leaderEpoch: 1 }).baseOffset).toBe(60n);
    await again.close(); // no marker: the next open recovers

    const recovered = await PartitionLog.open(directory, { topic: "events", partition: 0, resources });
    expect(recovered.openReport.recoveredSegments).toBe(segments.length);
    expect(recovered.openReport.truncatedBytes).toBe(0);
    expect(recovered.logEndOffset).toBe(61n);
    expect(readAll(recovered).subarray(0, before.length).equals(before)).toBe(true);
    await recovered.close();
    expect(progress.at(-1)).toBe(1);
  });

  it("opening and closing logs and releasing slices leaks no file descriptors", async () => {
    const openDescriptors = () => readdirSync("/proc/self/fd").length;
    const warm = await openLog({ segmentBytes: 4096 });
    await warm.close();
    // The background thread may still be preparing a next segment for a closed log.
    await resources.waitForBackground();
    const before = openDescriptors();
    for (let round = 0; round < 20; round++) {
      const log = await openLog({ segmentBytes: 4096 });
      log.append(buildRecordBatch({ records: records(20, round * 20) }), { nowMs });
      const slices = Array.from({ length: 50 }, (_, index) => log.read(BigInt(index % 20), 1 << 20));
      for (const slice of slices) slice.release();
      await log.close();
    }
    const reopened = await openLog({ segmentBytes: 4096 });
    expect(reopened.segmentBaseOffsets.length).toBeGreaterThan(3);
    await reopened.close();
    await resources.waitForBackground();
    expect(openDescriptors()).toBe(before);
  });

  it("LogManager opens every partition directory, creates and deletes partitions", async () => {
    const logDir = join(root, `case-${directoryCount}`);
    const manager = await LogManager.open(logDir, { topicConfigs: { small: { segmentBytes: 1024 } }, threads: 2 });
    for (const [topic, partition] of [
      ["small", 0],
      ["small", 1],
      ["big-topic-name", 3],
    ] as const) {
      const log = await manager.createPartition(topic, partition);
      for (let index = 0; index < 10; index++) log.append(buildRecordBatch({ records: records(4, index * 4) }), { nowMs });
    }
    await expect(manager.createPartition("small", 0)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(manager.get("small", 0)?.segmentBaseOffsets.length).toBeGreaterThan(1);
    expect(manager.get("big-topic-name", 3)?.segmentBaseOffsets).toEqual([0n]);
    const held = manager.get("small", 1)!.read(0n, 1 << 20);
    const heldBytes = held.toBuffer();
    await manager.deletePartition("small", 1);
    expect(existsSync(join(logDir, "small-1"))).toBe(false);
    const afterDelete = Buffer.alloc(held.length);
    readSync(held.fd, afterDelete, 0, held.length, held.position);
    expect(afterDelete.equals(heldBytes)).toBe(true);
    held.release();
    await manager.close();

    const reopened = await LogManager.open(logDir, { topicConfigs: { small: { segmentBytes: 1024 } } });
    expect(reopened.logs().map((log) => [log.topic, log.partition, log.logEndOffset])).toEqual([
      ["big-topic-name", 3, 40n],
      ["small", 0, 40n],
    ]);
    const recreated = await reopened.createPartition("small", 1);
    expect(recreated.logEndOffset).toBe(0n);
    await reopened.close();
  });

  it("LogManager writes Kafka's offset checkpoints while running, and a crash recovers from them", async () => {
    const logDir = join(root, `case-${directoryCount++}-checkpoints`);
    const topicConfigs = { orders: { segmentBytes: 1024 } };
    const manager = await LogManager.open(logDir, { topicConfigs });
    const log = await manager.createPartition("orders", 2);
    for (let index = 0; index < 10; index++) log.append(buildRecordBatch({ records: records(4, index * 4) }), { nowMs });
    await log.flush();
    await log.incrementLogStartOffset(4n, 40n);
    expect(await manager.checkpoint([{ topic: "orders", partition: 2, highWatermark: 40n }])).toBe(1);
    // Kafka's format: version 0, the entry count, then "topic partition offset" lines.
    expect(readFileSync(join(logDir, "recovery-point-offset-checkpoint"), "utf8")).toBe("0\n1\norders 2 40\n");
    expect(readFileSync(join(logDir, "log-start-offset-checkpoint"), "utf8")).toBe("0\n1\norders 2 4\n");
    expect(readFileSync(join(logDir, "replication-offset-checkpoint"), "utf8")).toBe("0\n1\norders 2 40\n");
    // The high watermarks alone (Kafka's replica.high.watermark.checkpoint.interval.ms): the
    // other two files are left as they were.
    log.append(buildRecordBatch({ records: records(4, 40) }), { nowMs });
    await log.flush();
    expect(await manager.checkpoint([{ topic: "orders", partition: 2, highWatermark: 44n }], false)).toBe(1);
    expect(readFileSync(join(logDir, "replication-offset-checkpoint"), "utf8")).toBe("0\n1\norders 2 44\n");
    expect(readFileSync(join(logDir, "recovery-point-offset-checkpoint"), "utf8")).toBe("0\n1\norders 2 40\n");
    // No clean shutdown: a second LogManager opens the directory as after a crash, trusting the
    // checkpointed recovery point (only the segment holding it is scanned, as in Kafka) and log
    // start offset.
    const recovered = await LogManager.open(logDir, { topicConfigs });
    const reopened = recovered.get("orders", 2)!;
    expect(recovered.hadCleanShutdown).toBe(false);
    expect(reopened.logStartOffset).toBe(4n);
    expect(reopened.logEndOffset).toBe(44n);
    expect(reopened.openReport.segments).toBeGreaterThan(2);
    expect(reopened.openReport.recoveredSegments).toBe(1);
    await recovered.close();
    await manager.close();
  });
});
