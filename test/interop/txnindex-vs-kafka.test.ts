// Transaction files Sluice writes, read by Apache Kafka 4.4.0's DumpLogSegments (no broker needed):
// the `.txnindex` of a segment with aborted transactions (Kafka's AbortedTxn entries), the marker
// batches in the `.log` (Kafka prints "endTxnMarker: ABORT coordinatorEpoch: N"), and a producer
// snapshot holding an open transaction and a coordinator epoch.

import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpFiles } from "../../src/log/dump.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { crc32c, LogResources } from "../../src/native.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { dumpLogSegments } from "../helpers/kafka.js";

const resources = new LogResources();
const nowMs = 1_700_000_000_000;

function transactional(producerId: bigint, baseSequence: number, count: number): Buffer {
  return buildRecordBatch({
    isTransactional: true,
    producerId,
    producerEpoch: 2,
    baseSequence,
    records: Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`${producerId}-${baseSequence + index}`),
      timestamp: BigInt(nowMs),
    })),
  });
}

describe("Kafka's DumpLogSegments reads Sluice's transaction files", () => {
  let workDir: string;
  let partitionDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-txnindex-vs-kafka-"));
    partitionDir = join(workDir, "txn-0");
    const log = await PartitionLog.open(partitionDir, { topic: "txn", partition: 0, resources, nowMs });
    log.append(transactional(11n, 0, 3), { nowMs, leaderEpoch: 0 }); // 0-2
    log.append(transactional(22n, 0, 2), { nowMs, leaderEpoch: 0 }); // 3-4
    log.appendTxnMarker(11n, 2, 4, false, nowMs, 0); // 5: LSO then 3 (22 open)
    log.append(transactional(33n, 0, 1), { nowMs, leaderEpoch: 0 }); // 6
    log.appendTxnMarker(22n, 2, 4, false, nowMs, 0); // 7: LSO then 6 (33 open)
    log.appendTxnMarker(33n, 2, 5, true, nowMs, 0); // 8
    log.append(transactional(22n, 2, 1), { nowMs, leaderEpoch: 0 }); // 9, left open
    await log.close();
  }, 60_000);

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it("prints the aborted transactions of the .txnindex, as sluice dump-log does", async () => {
    const path = join(partitionDir, "00000000000000000000.txnindex");
    const dumped = await dumpLogSegments([path]);
    expect(dumped.code).toBe(0);
    expect(dumped.errors).toEqual([]);
    expect(dumped.files[0].kind).toBe("txnindex");
    expect(dumped.files[0].entries).toEqual([
      { version: "0", producerId: "11", firstOffset: "0", lastOffset: "5", lastStableOffset: "3" },
      { version: "0", producerId: "22", firstOffset: "3", lastOffset: "7", lastStableOffset: "6" },
    ]);
    const sluice = dumpFiles([path], { deepIteration: false, printDataLog: false, verifyIndexOnly: false, crc32c });
    expect(sluice.err).toEqual([]);
    expect(`${sluice.out.join("\n")}\n`).toBe(dumped.stdout);
  }, 60_000);

  it("prints the markers of the .log and the open transaction of the snapshot", async () => {
    const snapshot = readdirSync(partitionDir).find((name) => name.endsWith(".snapshot"));
    expect(snapshot).toBe("00000000000000000010.snapshot");
    const dumped = await dumpLogSegments([join(partitionDir, "00000000000000000000.log"), join(partitionDir, snapshot as string)], { deepIteration: true });
    expect(dumped.code).toBe(0);
    expect(dumped.errors).toEqual([]);
    const [log, producers] = dumped.files;
    const markers = log.batches.flatMap((batch) =>
      batch.records.flatMap((record) => (typeof record.control === "string" ? [[record.offset, record.control]] : [])),
    );
    expect(markers).toEqual([
      [5, "endTxnMarker: ABORT coordinatorEpoch: 4"],
      [7, "endTxnMarker: ABORT coordinatorEpoch: 4"],
      [8, "endTxnMarker: COMMIT coordinatorEpoch: 5"],
    ]);
    expect(log.batches.filter((batch) => batch.isControl).map((batch) => [batch.baseOffset, batch.producerId, batch.isTransactional])).toEqual([
      [5, 11, true],
      [7, 22, true],
      [8, 33, true],
    ]);
    expect(producers.kind).toBe("producer-snapshot");
    const byId = new Map(producers.entries.map((entry) => [entry.producerId, entry]));
    expect(byId.get("22")).toMatchObject({ producerEpoch: "2", coordinatorEpoch: "4", currentTxnFirstOffset: "OptionalLong[9]" });
    expect(byId.get("33")).toMatchObject({ coordinatorEpoch: "5", currentTxnFirstOffset: "OptionalLong.empty" });
  }, 60_000);
});
