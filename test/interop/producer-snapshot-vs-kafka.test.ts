// Producer state snapshots (`<offset>.snapshot`) against Apache Kafka 4.4.0, both ways:
// (a) Kafka's DumpLogSegments reads a snapshot Sluice wrote and prints the producers Sluice holds
//     (epochs, sequences — wrapped past Int32.MAX too —, offsets, timestamps);
// (b) Sluice loads the snapshot a real Kafka broker wrote at shutdown for an idempotent Java
//     producer, agrees with Kafka's own dump of it, arrives at the same state by replaying the log
//     without it, and answers a retry of the producer's last batch as a duplicate.

import { cpSync, readdirSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PartitionLog } from "../../src/log/partition-log.js";
import { type LogProducerState, LogResources } from "../../src/native.js";
import { batches, buildRecordBatch } from "../../src/protocol/records.js";
import { type KafkaBroker, produceWithJava, runJavaTool, startKafka } from "../helpers/kafka.js";

const setupTimeoutMs = 300_000;
const resources = new LogResources();

/** DumpLogSegments' line for one producer of a snapshot (org.apache.kafka.tools.DumpLogSegments, dumping a producer snapshot). */
function kafkaLine(state: LogProducerState): string {
  const txn = state.currentTxnFirstOffset === undefined ? "OptionalLong.empty" : `OptionalLong[${state.currentTxnFirstOffset}]`;
  let line =
    `producerId: ${state.producerId} producerEpoch: ${state.producerEpoch} coordinatorEpoch: ${state.coordinatorEpoch} ` +
    `currentTxnFirstOffset: ${txn} lastTimestamp: ${state.lastTimestamp} `;
  const last = state.batches.at(-1);
  if (last !== undefined) {
    line +=
      `firstSequence: ${last.firstSequence} lastSequence: ${last.lastSequence} lastOffset: ${last.lastOffset} ` +
      `offsetDelta: ${last.lastOffset - last.firstOffset} timestamp: ${last.timestamp}`;
  }
  return line;
}

async function dumpSnapshot(path: string): Promise<string[]> {
  const run = await runJavaTool("org.apache.kafka.tools.DumpLogSegments", ["--files", path], { quickStart: true, heap: "256m" });
  expect(run.code).toBe(0);
  expect(run.stderr).not.toMatch(/corrupt|Exception/i);
  return run.stdout
    .split("\n")
    .filter((line) => line.startsWith("producerId: "))
    .map((line) => line.trimEnd());
}

function snapshots(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith(".snapshot"))
    .sort();
}

describe("Kafka's DumpLogSegments reads a producer snapshot Sluice wrote", () => {
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-snapshot-vs-kafka-a-"));
  });
  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("prints every producer's epoch, last batch and timestamps as Sluice holds them", async () => {
    const directory = join(workDir, "orders-0");
    const log = await PartitionLog.open(directory, { topic: "orders", partition: 0, resources });
    const batch = (producerId: bigint, producerEpoch: number, baseSequence: number, count: number, timestamp: bigint) =>
      buildRecordBatch({
        producerId,
        producerEpoch,
        baseSequence,
        records: Array.from({ length: count }, (_, index) => ({ value: Buffer.from(`v${index}`), timestamp: timestamp + BigInt(index) })),
      });
    const nowMs = 1_700_000_000_000;
    log.append(batch(5n, 0, 0, 3, 1_700_000_000_000n), { nowMs });
    log.append(buildRecordBatch({ records: [{ value: Buffer.from("plain"), timestamp: 1n }] }), { nowMs });
    log.append(batch(5n, 0, 3, 2, 1_700_000_000_100n), { nowMs });
    log.append(batch(9n, 2, 2_147_483_646, 4, 1_700_000_000_200n), { nowMs }); // sequences wrap past Int32.MAX
    log.append(batch(77n, 0, 0, 1, 1_700_000_000_300n), { nowMs });
    log.append(batch(77n, 1, 0, 1, 1_700_000_000_400n), { nowMs }); // epoch bump
    const states = log.producerStates();
    expect(states.map((state) => state.producerId)).toEqual([5n, 9n, 77n]);
    const end = log.logEndOffset;
    await log.close();
    expect(snapshots(directory)).toEqual([`${end.toString().padStart(20, "0")}.snapshot`]);
    const printed = await dumpSnapshot(join(directory, snapshots(directory)[0]!));
    expect(printed).toEqual(states.map(kafkaLine));
    expect(printed[1]).toContain("firstSequence: 2147483646 lastSequence: 1 ");
  });
});

describe("Sluice loads the producer snapshot a real Kafka broker wrote", () => {
  const topic = "idempotent";
  let workDir: string;
  let broker: KafkaBroker | undefined;
  let partitionDir: string;
  let kafkaPrinted: string[];

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-snapshot-vs-kafka-b-"));
    broker = await startKafka({ workDir, logDir: join(workDir, "kafka-logs") });
    partitionDir = join(broker.logDir, `${topic}-0`);
    const create = await runJavaTool(
      "org.apache.kafka.tools.TopicCommand",
      ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"],
      { quickStart: true, heap: "256m" },
    );
    expect(create.stdout).toContain(`Created topic ${topic}.`);
    // Two producer sessions (two producer ids), several batches each.
    for (let session = 0; session < 2; session++) {
      await produceWithJava({
        bootstrap: broker.bootstrap,
        topic,
        partition: 0,
        records: Array.from({ length: 200 }, (_, index) => ({ key: null, value: `session ${session} record ${index} ${"x".repeat(100)}` })),
        compression: "none",
        acks: "all",
        idempotent: true,
        lingerMs: 5,
        batchSize: 2048,
      });
    }
    await broker.stop(); // clean: Kafka writes a snapshot at the log end
    const written = snapshots(partitionDir);
    expect(written.length).toBeGreaterThan(0);
    kafkaPrinted = await dumpSnapshot(join(partitionDir, written.at(-1)!));
    expect(kafkaPrinted).toHaveLength(2);
  }, setupTimeoutMs);

  afterAll(async () => {
    await broker?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("reads Kafka's snapshot into the state Kafka's DumpLogSegments prints, with no log replay", async () => {
    const copy = join(workDir, "clean", `${topic}-0`);
    cpSync(partitionDir, copy, { recursive: true });
    const log = await PartitionLog.open(copy, { topic, partition: 0, resources, hadCleanShutdown: true });
    expect(log.openReport.corruptSnapshots).toBe(0);
    expect(log.openReport.producerStateBatchesScanned).toBe(0);
    expect(log.producerStates().map(kafkaLine)).toEqual(kafkaPrinted);
    await log.close();
  });

  it("replays Kafka's log into the same state without the snapshot, and dedupes a retry of the last batch", async () => {
    const copy = join(workDir, "replayed", `${topic}-0`);
    cpSync(partitionDir, copy, { recursive: true });
    for (const name of snapshots(copy)) rmSync(join(copy, name));
    // A clean open: no segment is recovered, so the producer state is rebuilt by scanning the log
    // from its start (an unclean open rebuilds it while recovering the segments instead).
    const log = await PartitionLog.open(copy, { topic, partition: 0, resources, hadCleanShutdown: true });
    expect(log.openReport.recoveredSegments).toBe(0);
    expect(log.openReport.producerStateBatchesScanned).toBeGreaterThan(2);
    const states = log.producerStates();
    expect(states.map(kafkaLine)).toEqual(kafkaPrinted);
    // A retry of the newest producer's last batch, as Kafka's producer would resend it.
    const newest = states.reduce((a, b) => (a.lastOffset > b.lastOffset ? a : b));
    const last = newest.batches.at(-1)!;
    const read = log.readCopy(last.firstOffset, 1 << 20);
    const original = batches(read.bytes).next().value!;
    expect(original.baseOffset).toBe(last.firstOffset);
    const retry = Buffer.from(read.bytes.subarray(original.position, original.end));
    const end = log.logEndOffset;
    const answer = log.append(retry, { nowMs: Date.now() });
    expect(answer).toMatchObject({ duplicate: true, baseOffset: last.firstOffset, lastOffset: last.lastOffset });
    expect(log.logEndOffset).toBe(end);
    await log.close();
  });
});
