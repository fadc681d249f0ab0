// Share groups (KIP-932) on Sluice against Apache Kafka 4.4.0 with Kafka's own
// ShareConsumerPerformance (kafka-share-consumer-perf-test.sh), one broker at a time on the same
// machine: a topic is filled with ProducerPerformance, a share group set to start at the earliest
// offset (kafka-configs.sh --entity-type groups), then ShareConsumerPerformance reads every record
// with 1 and with 2 share consumers (implicit acknowledgement: each poll acknowledges the previous
// one). Reported per broker: records/s and MB/s as the tool prints them, broker CPU seconds per
// million records, peak RSS; then the Sluice/Kafka ratios of the same run.
//
//   npx tsx bench/share-vs-kafka.ts [--records N] [--record-size B] [--partitions P] [--broker both|sluice|kafka]

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runJavaTool } from "../test/helpers/kafka.js";
import { type BrokerKind, launch, log, measured, producerRun, type RunningBroker, tail, toolHeap, toolTimeoutMs } from "./harness.js";

const { values: flags } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    "record-size": { type: "string", default: "100" },
    partitions: { type: "string", default: "6" },
    broker: { type: "string", default: "both" },
  },
});
const records = Number(flags.records);
const recordSize = Number(flags["record-size"]);
const partitions = Number(flags.partitions);
const kinds: BrokerKind[] = flags.broker === "both" ? ["kafka", "sluice"] : [flags.broker as BrokerKind];

interface ShareRun {
  readonly threads: number;
  readonly recordsPerSecond: number;
  readonly mbPerSecond: number;
  readonly brokerCpuSecondsPerMillion: number;
  readonly peakRssMiB: number;
  readonly wallSeconds: number;
  readonly error?: string;
}

/** ShareConsumerPerformance's summary: its header line and the values line after it, by name. */
function parseSummary(stdout: string): Record<string, string> | null {
  const lines = stdout.split("\n").map((line) => line.trim());
  const header = lines.findIndex((line) => line.startsWith("start.time"));
  if (header < 0) return null;
  const names = (lines[header] as string).split(",").map((s) => s.trim());
  const values = (lines[header + 1] ?? "").split(",").map((s) => s.trim());
  if (values.length < names.length) return null;
  return Object.fromEntries(names.map((name, i) => [name, values[i] as string]));
}

async function shareConsume(broker: RunningBroker, topic: string, group: string, threads: number): Promise<ShareRun> {
  const set = await runJavaTool(
    "org.apache.kafka.tools.ConfigCommand",
    ["--bootstrap-server", broker.bootstrap, "--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", "share.auto.offset.reset=earliest"],
    { quickStart: true },
  );
  if (set.code !== 0) throw new Error(`ConfigCommand failed: ${tail(set.stderr)}`);
  let summary: Record<string, string> | null = null;
  let error: string | undefined;
  const figures = await measured(broker, records, async () => {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ShareConsumerPerformance",
      [
        "--bootstrap-server",
        broker.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--num-records",
        String(records),
        "--threads",
        String(threads),
        "--timeout",
        "30000",
      ],
      { heap: toolHeap, timeoutMs: toolTimeoutMs(records, 2) },
    );
    summary = parseSummary(run.stdout);
    if (summary === null) error = `ShareConsumerPerformance exited with ${run.code}: ${tail(run.stderr || run.stdout)}`;
  });
  const found = summary as Record<string, string> | null;
  return {
    threads,
    recordsPerSecond: Number(found?.["nMsg.sec"] ?? Number.NaN),
    mbPerSecond: Number(found?.["MB.sec"] ?? Number.NaN),
    brokerCpuSecondsPerMillion: figures.brokerCpuSecondsPerMillion,
    peakRssMiB: figures.peakRssKiB / 1024,
    wallSeconds: figures.wallSeconds,
    ...(error === undefined ? {} : { error }),
  };
}

async function bench(kind: BrokerKind): Promise<ShareRun[]> {
  const workDir = await mkdtemp(join(tmpdir(), `share-bench-${kind}-`));
  // Both brokers with their defaults (a share partition is assigned after its state is initialized and a heartbeat).
  const broker = await launch(kind, workDir);
  try {
    const topic = "share-bench";
    log(`${kind}: filling ${topic} with ${records} records of ${recordSize} B`);
    const filled = await producerRun(broker, { name: "fill", kind: "throughput", recordSize, acks: "1", records, throughput: -1, topic, partitions });
    if (filled.error) throw new Error(filled.error);
    const runs: ShareRun[] = [];
    for (const threads of [1, 2]) {
      log(`${kind}: ShareConsumerPerformance with ${threads} consumer(s)`);
      runs.push(await shareConsume(broker, topic, `share-bench-${threads}`, threads));
    }
    return runs;
  } finally {
    await broker.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

const results = new Map<BrokerKind, ShareRun[]>();
for (const kind of kinds) results.set(kind, await bench(kind));
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "—");
console.log(`\nShareConsumerPerformance, ${records} records of ${recordSize} B, ${partitions} partitions\n`);
console.log("| broker | consumers | records/s | MB/s | broker CPU s / M records | peak RSS MiB | error |");
console.log("|---|---|---|---|---|---|---|");
for (const [kind, runs] of results) {
  for (const run of runs) {
    console.log(
      `| ${kind} | ${run.threads} | ${fmt(run.recordsPerSecond)} | ${fmt(run.mbPerSecond, 1)} | ${fmt(run.brokerCpuSecondsPerMillion, 2)} | ${fmt(run.peakRssMiB)} | ${run.error ?? ""} |`,
    );
  }
}
const kafka = results.get("kafka");
const sluice = results.get("sluice");
if (kafka && sluice) {
  console.log("\n| consumers | records/s Sluice/Kafka | broker CPU per record Sluice/Kafka | peak RSS Sluice/Kafka |");
  console.log("|---|---|---|---|");
  for (const [index, run] of sluice.entries()) {
    const other = kafka[index] as ShareRun;
    console.log(
      `| ${run.threads} | ${fmt(run.recordsPerSecond / other.recordsPerSecond, 2)}× | ${fmt(run.brokerCpuSecondsPerMillion / other.brokerCpuSecondsPerMillion, 2)}× | ${fmt(run.peakRssMiB / other.peakRssMiB, 2)}× |`,
    );
  }
}
