// The broker's produce path for one partition, before and after the single native call (issue 9):
//   before: validateProduceBatches → (recompressBatch per batch + Buffer.concat) → PartitionLog.append,
//           three crossings into the addon and a summary object per batch;
//   after:  PartitionLog.appendProduce, one crossing that validates, recompresses and appends.
// Each case appends to its own log in a temp directory; batches are 16 KiB of 100-byte records
// (what ProducerPerformance sends with batch.size=16384). Figures are time on the JS thread per
// batch, so the ratio is the produce path's broker CPU per record, before/after.
//
// Run: npx tsx bench/produce-path.bench.ts (after `npm run build`).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import { PartitionLog } from "../src/log/partition-log.js";
import { type CompressionCodec, LogResources, ProduceSettings, recompressBatch, validateProduceBatches } from "../src/native.js";
import { buildRecordBatch } from "../src/protocol/records.js";

const RECORD_BYTES = 100;
const RECORDS_PER_BATCH = 150;
const PRODUCE_VERSION = 13;

const root = mkdtempSync(join(tmpdir(), "sluice-produce-bench-"));
const resources = new LogResources();
// Large segments and no retention: the bench measures appends, not rolls.
const logConfig = { segmentBytes: 512 * 1024 * 1024 };
let logCount = 0;
const openLog = () => PartitionLog.open(join(root, `bench-${logCount++}`), { topic: "bench", partition: logCount, resources, config: logConfig });

const value = Buffer.alloc(RECORD_BYTES, "x");
const uncompressed = buildRecordBatch({
  baseTimestamp: BigInt(Date.now()),
  records: Array.from({ length: RECORDS_PER_BATCH }, () => ({ value })),
});
const lz4 = recompressBatch(uncompressed, "lz4");

const validation = { produceVersion: PRODUCE_VERSION };

/** An append stamps offsets into the request's bytes; a producer's batch has base offset 0 (not under the CRC). */
function fresh(records: Buffer): void {
  records.writeBigInt64BE(0n, 0);
}

/** The handler's body before issue 9: validate, recompress what the topic asks for, append. */
function before(log: PartitionLog, records: Buffer, codec: CompressionCodec | null): void {
  fresh(records);
  const result = validateProduceBatches(records, validation, Date.now());
  if (result.error != null) throw new Error(result.error.message);
  const summary = result.summary!;
  let batches = summary.converted ?? records;
  if (codec !== null && summary.batches.some((batch) => batch.compression !== codec)) {
    batches = Buffer.concat(
      summary.batches.map((batch) => {
        const bytes = batches.subarray(batch.position, batch.position + batch.sizeBytes);
        return batch.compression === codec ? bytes : recompressBatch(bytes, codec);
      }),
    );
  }
  log.append(batches, { nowMs: Date.now(), leaderEpoch: 0 });
}

function after(log: PartitionLog, records: Buffer, settings: ProduceSettings): void {
  fresh(records);
  const result = log.appendProduce(records, settings, PRODUCE_VERSION, Date.now(), 0);
  if (result.errorCode !== 0) throw new Error(result.errorMessage ?? `error ${result.errorCode}`);
}

const producerCodec = new ProduceSettings({});
const topicLz4 = new ProduceSettings({}, "lz4");
const cases: [string, (log: PartitionLog) => void][] = [
  ["uncompressed, compression.type=producer: before", (log) => before(log, uncompressed, null)],
  ["uncompressed, compression.type=producer: after", (log) => after(log, uncompressed, producerCodec)],
  ["lz4 from the producer, compression.type=producer: before", (log) => before(log, lz4, null)],
  ["lz4 from the producer, compression.type=producer: after", (log) => after(log, lz4, producerCodec)],
  ["uncompressed, compression.type=lz4 (recompressed): before", (log) => before(log, uncompressed, "lz4")],
  ["uncompressed, compression.type=lz4 (recompressed): after", (log) => after(log, uncompressed, topicLz4)],
];

const bench = new Bench({ time: 1_000, warmupTime: 200 });
const logs: PartitionLog[] = [];
for (const [name, run] of cases) {
  const log = await openLog();
  logs.push(log);
  bench.add(name, () => run(log));
}
await bench.run();

const microseconds = new Map<string, number>();
for (const task of bench.tasks) {
  if (task.result.state !== "completed") throw new Error(`${task.name}: ${task.result.state}`, { cause: (task.result as { error?: unknown }).error });
  microseconds.set(task.name, 1e6 / task.result.throughput.mean);
}
console.log(`produce path, ${RECORDS_PER_BATCH} records of ${RECORD_BYTES} B per batch (JS-thread time per batch):`);
for (const [name, us] of microseconds)
  console.log(`  ${name.padEnd(62)} ${us.toFixed(2).padStart(8)} µs  ${((us * 1000) / RECORDS_PER_BATCH).toFixed(1).padStart(7)} ns/record`);
for (let index = 0; index < cases.length; index += 2) {
  const [beforeName] = cases[index];
  const [afterName] = cases[index + 1];
  const ratio = (microseconds.get(afterName) ?? Number.NaN) / (microseconds.get(beforeName) ?? Number.NaN);
  console.log(`  after/before, ${beforeName.replace(": before", "")}: ${ratio.toFixed(2)}×`);
}
await Promise.all(logs.map((log) => log.close()));
rmSync(root, { recursive: true, force: true });
