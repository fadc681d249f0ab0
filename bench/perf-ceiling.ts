// The broker's ceiling with the native load generator (`sluice perf`, crates/perf), on Sluice and on
// Apache Kafka 4.4.0, one broker at a time, each fresh: issue 12 §2's scenarios, 100 B records:
// produce on 1 partition, consume it back, produce on 10 partitions, produce snappy on 1 partition.
// Short runs (PERF_SECONDS, 5 s by default). Prints a table and writes JSON to bench/results/.
//
//   npm run build:native && npm run build:ts && npx tsx bench/perf-ceiling.ts [sluice|kafka ...]
//
// The broker and the generator share the machine's cores: what this finds is the ceiling of the
// pair on this machine, the same for both brokers.

import { mkdirSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startKafka } from "../test/helpers/kafka.js";
import { cpuSeconds, startSluice } from "../test/helpers/sluice.js";
import { runSluicePerf } from "./harness.js";

const repository = fileURLToPath(new URL("../", import.meta.url));
const seconds = Number(process.env.PERF_SECONDS ?? 5);
const brokers = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["sluice", "kafka"];

interface Scenario {
  name: string;
  args: (bootstrap: string) => string[];
}

const scenarios: Scenario[] = [
  {
    name: "produce 1 partition, 100 B, acks=1",
    args: (b) => ["produce", "--bootstrap", b, "--topic", "p1", "--create", "--partitions", "1", "--duration", String(seconds)],
  },
  {
    name: "consume 1 partition, 100 B",
    // Everything the produce run left, up to the end offsets at the start (no idle long polls counted).
    args: (b) => ["consume", "--bootstrap", b, "--topic", "p1", "--partition-max-bytes", String(8 << 20)],
  },
  {
    name: "produce 10 partitions, 100 B, acks=1",
    args: (b) => ["produce", "--bootstrap", b, "--topic", "p10", "--create", "--partitions", "10", "--duration", String(seconds)],
  },
  {
    // The same with the partitions spread over 2 connections (two producers' worth of load).
    name: "produce 10 partitions, 100 B, acks=1, 2 connections",
    args: (b) => ["produce", "--bootstrap", b, "--topic", "p10", "--partitions", "10", "--connections", "2", "--duration", String(seconds)],
  },
  {
    name: "produce 1 partition, 100 B, snappy",
    args: (b) => ["produce", "--bootstrap", b, "--topic", "snappy", "--create", "--partitions", "1", "--compression", "snappy", "--duration", String(seconds)],
  },
];

async function perf(args: string[]): Promise<Record<string, number | string | null>> {
  const result = await runSluicePerf(args, (seconds + 120) * 1000);
  if (result.code !== 0 || result.figures === null) throw new Error(`sluice-perf ${args.join(" ")}: ${result.stderr || `exit ${result.code}`}`);
  return result.figures;
}

const results: { broker: string; scenario: string; brokerCpuSeconds: number | null; figures: Record<string, number | string | null> }[] = [];
for (const kind of brokers) {
  const broker = kind === "kafka" ? await startKafka({ heap: "1g" }) : kind === "sluice" ? await startSluice() : (undefined as never);
  if (!broker) throw new Error(`unknown broker ${kind}: sluice or kafka`);
  try {
    for (const scenario of scenarios) {
      const cpuBefore = cpuSeconds(broker.pid);
      const figures = await perf(scenario.args(broker.bootstrap));
      const cpuAfter = cpuSeconds(broker.pid);
      const brokerCpuSeconds = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
      results.push({ broker: kind, scenario: scenario.name, brokerCpuSeconds, figures });
      process.stderr.write(
        `${kind.padEnd(6)} ${scenario.name.padEnd(40)} ${String(figures.records_per_s).padStart(10)} records/s ${String(figures.mb_per_s).padStart(8)} MB/s` +
          `  p99 ${figures.latency_p99_ms ?? figures.fetch_latency_p99_ms} ms  broker CPU ${brokerCpuSeconds?.toFixed(1)} s\n`,
      );
    }
  } finally {
    if (kind === "kafka") await (broker as Awaited<ReturnType<typeof startKafka>>).stop();
    else await (broker as Awaited<ReturnType<typeof startSluice>>).stop();
    await rm(broker.workDir, { recursive: true, force: true });
  }
}

console.log("| scenario | broker | records/s | MB/s | p50 ms | p99 ms | p99.9 ms | broker CPU s | generator CPU s |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
for (const { broker, scenario, brokerCpuSeconds, figures } of results) {
  const latency = (name: string) => figures[`latency_${name}_ms`] ?? figures[`fetch_latency_${name}_ms`];
  console.log(
    `| ${scenario} | ${broker} | ${Number(figures.records_per_s).toLocaleString("en-US")} | ${figures.mb_per_s} | ${latency("p50")} | ${latency("p99")} | ${latency("p999")} | ${brokerCpuSeconds?.toFixed(1)} | ${figures.client_cpu_s} |`,
  );
}
mkdirSync(join(repository, "bench", "results"), { recursive: true });
const file = join(repository, "bench", "results", `perf-ceiling-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, memoryBytes: totalmem(), seconds, results }, null, 2)}\n`);
console.log(`\n${file}`);
