// Idempotent producers through the binding (PartitionLog): duplicates answered with the original
// offsets, Kafka's refusals as LogError codes, the producer state as DescribeProducers sees it,
// snapshots at close, and the state surviving clean and unclean reopens. Transactions:
// transactions-log.test.ts.

import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { PartitionLog } from "../../src/log/partition-log.js";
import { type LogConfig, LogError, LogResources, logErrorCodes } from "../../src/native.js";
import { buildRecordBatch } from "../../src/protocol/records.js";

const root = mkdtempSync(join(tmpdir(), "sluice-producer-state-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const resources = new LogResources();
let directoryCount = 0;
let directory: string;
beforeEach(() => {
  directoryCount += 1;
  directory = join(root, `case-${directoryCount}`, "orders-0");
});

const nowMs = 1_700_000_000_000;
const producerId = 7_000n;

function openLog(config: LogConfig = {}, hadCleanShutdown = false): Promise<PartitionLog> {
  return PartitionLog.open(directory, { topic: "orders", partition: 0, resources, config, hadCleanShutdown, nowMs });
}

/** A batch of `count` records from an idempotent producer. */
function idempotent(baseSequence: number, count = 2, producerEpoch = 0, id = producerId): Buffer {
  return buildRecordBatch({
    producerId: id,
    producerEpoch,
    baseSequence,
    records: Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`record ${baseSequence + index}`),
      timestamp: BigInt(nowMs + baseSequence + index),
    })),
  });
}

function plain(count: number): Buffer {
  return buildRecordBatch({ records: Array.from({ length: count }, (_, index) => ({ value: Buffer.from(`plain ${index}`), timestamp: BigInt(nowMs) })) });
}

function codeOf(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(LogError);
    return (error as LogError).code;
  }
  throw new Error("expected a LogError");
}

describe("idempotent producers in the partition log", () => {
  it("answers a retry of each of the last 5 batches with its original offsets and appends nothing", async () => {
    const log = await openLog();
    log.append(plain(3), { nowMs });
    const originals = [0, 2, 4, 6, 8, 10].map((sequence) => log.append(idempotent(sequence), { nowMs }));
    expect(originals.every((result) => !result.duplicate)).toBe(true);
    expect(originals[0]).toMatchObject({ baseOffset: 3n, lastOffset: 4n });
    const end = log.logEndOffset;
    for (const [index, sequence] of [2, 4, 6, 8, 10].entries()) {
      const retry = log.append(idempotent(sequence), { nowMs: nowMs + 5 });
      const original = originals[index + 1]!;
      expect(retry).toEqual({
        baseOffset: original.baseOffset,
        lastOffset: original.lastOffset,
        // Kafka answers a duplicate with the original batch's max timestamp.
        logAppendTimeMs: BigInt(nowMs + sequence + 1),
        logStartOffset: 0n,
        duplicate: true,
      });
    }
    expect(log.logEndOffset).toBe(end);
    // The sixth-newest is out of the cache: out of order, not a duplicate.
    expect(codeOf(() => log.append(idempotent(0), { nowMs }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER");
    expect(log.lastSequenceFor(producerId)).toBe(11);
    expect(log.lastSequenceFor(1n)).toBe(-1);
    await log.close();
  });

  it("refuses gaps, a new epoch not starting at 0 and an older epoch with Kafka's error codes", async () => {
    const log = await openLog();
    log.append(idempotent(0), { nowMs });
    const end = log.logEndOffset;
    expect(codeOf(() => log.append(idempotent(5), { nowMs }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER");
    expect(codeOf(() => log.append(idempotent(3, 1, 1), { nowMs }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER");
    expect(log.append(idempotent(0, 1, 1), { nowMs }).duplicate).toBe(false);
    expect(codeOf(() => log.append(idempotent(2, 1, 0), { nowMs }))).toBe("INVALID_PRODUCER_EPOCH");
    expect(log.logEndOffset).toBe(end + 1n);
    // A multi-batch append with one bad batch lands nothing.
    const mixed = Buffer.concat([idempotent(1, 1, 1), idempotent(9, 1, 1)]);
    expect(codeOf(() => log.append(mixed, { nowMs }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER");
    expect(log.logEndOffset).toBe(end + 1n);
    // A producer the partition does not know may start anywhere (no UNKNOWN_PRODUCER_ID in Kafka 4.1).
    expect(log.append(idempotent(1_000, 1, 0, 99n), { nowMs }).duplicate).toBe(false);
    expect(logErrorCodes).not.toContain("UNKNOWN_PRODUCER_ID");
    await log.close();
  });

  it("lets replicas and coordinators through with fewer checks", async () => {
    const log = await openLog();
    log.append(idempotent(0, 1, 3), { nowMs });
    expect(log.append(idempotent(40, 1, 3), { nowMs, origin: "coordinator" }).duplicate).toBe(false);
    expect(codeOf(() => log.append(idempotent(41, 1, 2), { nowMs, origin: "coordinator" }))).toBe("INVALID_PRODUCER_EPOCH");
    const replica = buildRecordBatch({ ...batchFields(2n), producerId, producerEpoch: 1, baseSequence: 7 });
    expect(log.append(replica, { nowMs, origin: "replica" }).duplicate).toBe(false);
    expect(log.producerStates()[0]).toMatchObject({ producerId, producerEpoch: 1, lastSequence: 7 });
    await log.close();
  });

  it("describes its producers", async () => {
    const log = await openLog();
    log.append(idempotent(0, 3), { nowMs });
    log.append(idempotent(0, 1, 0, 5n), { nowMs });
    log.append(idempotent(3, 2), { nowMs });
    expect(log.producerStates()).toEqual([
      {
        producerId: 5n,
        producerEpoch: 0,
        lastSequence: 0,
        lastOffset: 3n,
        lastTimestamp: BigInt(nowMs),
        coordinatorEpoch: -1,
        currentTxnFirstOffset: undefined,
        currentTxnStartOffset: -1n,
        batches: [{ firstSequence: 0, lastSequence: 0, firstOffset: 3n, lastOffset: 3n, timestamp: BigInt(nowMs) }],
      },
      {
        producerId,
        producerEpoch: 0,
        lastSequence: 4,
        lastOffset: 5n,
        lastTimestamp: BigInt(nowMs + 4),
        coordinatorEpoch: -1,
        currentTxnFirstOffset: undefined,
        currentTxnStartOffset: -1n,
        batches: [
          { firstSequence: 0, lastSequence: 2, firstOffset: 0n, lastOffset: 2n, timestamp: BigInt(nowMs + 2) },
          { firstSequence: 3, lastSequence: 4, firstOffset: 4n, lastOffset: 5n, timestamp: BigInt(nowMs + 4) },
        ],
      },
    ]);
    expect(log.removeExpiredProducers(nowMs + 86_400_000 + 3)).toBe(1);
    expect(log.removeExpiredProducers(nowMs + 86_400_000 + 4)).toBe(1);
    expect(log.producerStates()).toEqual([]);
    await log.close();
  });

  it("keeps dedupe across a clean close (snapshot at the log end) and an unclean stop (replayed log)", async () => {
    const config: LogConfig = { segmentBytes: 4096, producerIdExpirationMs: Number.POSITIVE_INFINITY };
    let log = await openLog(config);
    for (let sequence = 0; sequence < 200; sequence += 2) log.append(idempotent(sequence), { nowMs });
    expect(log.segmentBaseOffsets.length).toBeGreaterThan(1);
    const end = log.logEndOffset;
    expect(log.producerSnapshotOffsets.length).toBeGreaterThan(0);
    await log.close();
    const snapshots = readdirSync(directory).filter((name) => name.endsWith(".snapshot"));
    expect(snapshots).toContain(`${end.toString().padStart(20, "0")}.snapshot`);

    log = await openLog(config, true);
    expect(log.openReport.producerStateBatchesScanned).toBe(0);
    expect(log.openReport.producers).toBe(1);
    expect(log.append(idempotent(198), { nowMs })).toMatchObject({ duplicate: true, baseOffset: end - 2n });
    log.append(idempotent(200), { nowMs });
    log.append(idempotent(202), { nowMs });
    await log.close();
    // As if the last close had not happened: without its snapshot and checkpoints, every segment
    // is recovered, and recovery replays the producers as it goes (Kafka's recoverSegment).
    const last = join(directory, `${(end + 4n).toString().padStart(20, "0")}.snapshot`);
    expect(existsSync(last)).toBe(true);
    rmSync(last);
    const reopened = await openLog(config, false);
    expect(reopened.openReport.recoveredSegments).toBe(reopened.openReport.segments);
    expect(reopened.openReport.producerStateBatchesScanned).toBe(0);
    expect(reopened.lastSequenceFor(producerId)).toBe(203);
    expect(reopened.append(idempotent(200), { nowMs })).toMatchObject({ duplicate: true, baseOffset: end });
    expect(reopened.append(idempotent(198), { nowMs })).toMatchObject({ duplicate: true, baseOffset: end - 2n });
    await reopened.close();
    expect(existsSync(last)).toBe(true);
  });
});

function batchFields(baseOffset: bigint) {
  return { baseOffset, records: [{ value: Buffer.from("replicated"), timestamp: BigInt(nowMs) }] };
}
