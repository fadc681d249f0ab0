// Sluice against Apache Kafka 4.4.0 with Kafka's own perf tools, one broker at a time on the same
// machine: ProducerPerformance (max throughput and a fixed rate), ConsumerPerformance in a group and EndToEndLatency, 1 partition,
// 100 B and 1 KB records, acks=1 and acks=all; plus start-to-serving, RSS, broker CPU per record and
// shutdown time. How to run and what the figures mean: bench/README.md.
//
//   npm run bench:broker -- [--broker kafka|sluice|both] [--quick] [--records N] [--latency-records N]
//                           [--rate R] [--warmup-records N] [--baseline bench/results/<file>.json]
//                           [--sluice-override key=value]... [--sluice-from-source] [--tls] [--keep]
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { kafkaVersion } from "../test/helpers/kafka.js";
import {
  type Acks,
  type BrokerKind,
  consumerRun,
  endToEndProperties,
  endToEndRun,
  kafkaBrokerHeap,
  launch,
  log,
  makeTlsMaterial,
  producerRun,
  type RunningBroker,
  type ScenarioResult,
  sizeName,
  toolHeap,
} from "./harness.js";

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    broker: { type: "string", default: "both" },
    quick: { type: "boolean", default: false },
    records: { type: "string" },
    "latency-records": { type: "string" },
    rate: { type: "string" },
    "warmup-records": { type: "string" },
    baseline: { type: "string" },
    "sluice-override": { type: "string", multiple: true, default: [] },
    "sluice-from-source": { type: "boolean", default: false },
    tls: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    report: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  process.stdout.write(
    [
      "npm run bench:broker -- [options]",
      "  --broker kafka|sluice|both   which brokers, one at a time (default both: Kafka first)",
      "  --quick                      fewer records: 200k per throughput run, 2k latency round trips, 3 s at the fixed rate",
      "  --records N                  records per ProducerPerformance max-throughput run (default 1,000,000)",
      "  --latency-records N          EndToEndLatency round trips per run (default 10,000)",
      "  --rate R                     records/s of the fixed-rate ProducerPerformance runs (default 10,000; 10 s, or 3 s with --quick)",
      "  --warmup-records N           unreported 100 B acks=1 run first, for the JIT (default records/5, at most 200,000)",
      "  --baseline FILE              take the Kafka figures for the ratio table from an earlier results file",
      "  --sluice-override key=value  passed to `bin/sluice start --override` (repeatable)",
      "  --sluice-from-source         run src/cli/main.ts with tsx instead of bin/sluice (dist/); start-up then includes tsx",
      "  --tls                        an SSL listener on both brokers (one keystore, made per run); every tool connects over SSL",
      "  --keep                       keep the brokers' temp dirs (and the TLS dir)",
      "  --report FILE                run nothing: print the tables of an earlier results file (with --baseline: its Kafka figures)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

function count(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, not ${text}`);
  return value;
}

const brokers: BrokerKind[] =
  flags.broker === "both" ? ["kafka", "sluice"] : flags.broker === "kafka" || flags.broker === "sluice" ? [flags.broker] : usage(`--broker ${flags.broker}`);
const quick = flags.quick;
const records = count(flags.records, quick ? 200_000 : 1_000_000, "records");
const latencyRecords = count(flags["latency-records"], quick ? 2_000 : 10_000, "latency-records");
const fixedRate = count(flags.rate, 10_000, "rate");
const fixedRateRecords = fixedRate * (quick ? 3 : 10);
const warmupRecords = count(flags["warmup-records"], Math.min(200_000, Math.ceil(records / 5)), "warmup-records");
const sluiceOverrides = Object.fromEntries(
  flags["sluice-override"].map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) usage(`--sluice-override ${pair} (expected key=value)`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const tlsDir = flags.tls && !flags.report ? await mkdtemp(join(tmpdir(), "bench-tls-")) : undefined;
const tls = tlsDir ? await makeTlsMaterial(tlsDir) : undefined;
const recordSizes = [100, 1024];
const acksModes: Acks[] = ["1", "all"];

function usage(problem: string): never {
  process.stderr.write(`bench:broker: bad option ${problem}; see --help\n`);
  process.exit(2);
}

interface BrokerResult {
  broker: BrokerKind;
  version: string;
  pid: number;
  /** Spawn → first valid ApiVersions answer (probed every 5 ms). */
  startupMs: number;
  harnessStartupMs?: number;
  rssAfterStartKiB: number | null;
  /** Highest VmRSS sampled during the scenarios (warm-up excluded). */
  peakRssUnderLoadKiB: number;
  /** Highest RssAnon sampled during the measured runs. */
  peakAnonUnderLoadKiB: number;
  /** VmHWM just before shutdown: the peak over the broker's whole life. */
  hwmKiB: number | null;
  /** Broker CPU seconds from spawn to serving. */
  startupCpuSeconds: number | null;
  totalCpuSeconds: number | null;
  stopMs: number;
  /** Sluice's exit code (null: ended by a signal); not known for Kafka, whose harness checks the clean-shutdown marker instead. */
  exitCode?: number | null;
  cleanShutdown: boolean;
  stopError?: string;
  /** Unreported runs first, for the JIT and the consumer-offsets topic EndToEndLatency's final commit creates. */
  warmup: ScenarioResult[];
  /** Broker CPU over 2 s with no clients, after the warm-up, as a share of one core. */
  idleCpuShare: number | null;
  scenarios: ScenarioResult[];
  error?: string;
}

async function benchBroker(kind: BrokerKind): Promise<BrokerResult> {
  const workDir = await mkdtemp(join(tmpdir(), `bench-${kind}-`));
  log(`\n== ${kind}: starting (work dir ${workDir})`);
  let broker: RunningBroker;
  try {
    broker = await launch(kind, workDir, { sluiceOverrides, sluiceFromSource: flags["sluice-from-source"], tls });
  } catch (error) {
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const result: BrokerResult = {
    broker: kind,
    version: kind === "kafka" ? kafkaVersion : "",
    pid: broker.pid,
    startupMs: broker.startupMs,
    harnessStartupMs: broker.harnessStartupMs,
    rssAfterStartKiB: broker.memory()?.rss ?? null,
    peakRssUnderLoadKiB: 0,
    peakAnonUnderLoadKiB: 0,
    hwmKiB: null,
    startupCpuSeconds: broker.cpuSeconds(),
    totalCpuSeconds: null,
    stopMs: 0,
    cleanShutdown: false,
    warmup: [],
    idleCpuShare: null,
    scenarios: [],
  };
  log(
    `   serving after ${result.startupMs.toFixed(0)} ms, RSS ${mib(result.rssAfterStartKiB)} MiB${tls ? `; the tools connect to the SSL listener ${broker.bootstrap}` : ""}`,
  );
  try {
    if (warmupRecords > 0) {
      const roundTrips = Math.min(500, latencyRecords);
      log(`   warm-up: ProducerPerformance ${warmupRecords} × 100 B acks=1, EndToEndLatency ${roundTrips} × 100 B acks=1 (not reported)`);
      result.warmup.push(
        await producerRun(broker, { name: "warmup", kind: "throughput", recordSize: 100, acks: "1", records: warmupRecords, throughput: -1 }),
        await endToEndRun(broker, { name: "warmup", recordSize: 100, acks: "1", records: roundTrips }),
      );
      for (const run of result.warmup) if (run.error) log(`   warm-up ${describe(run)}`);
    }
    const idleFrom = broker.cpuSeconds();
    await new Promise((wake) => setTimeout(wake, 2_000));
    const idleTo = broker.cpuSeconds();
    result.idleCpuShare = idleFrom === null || idleTo === null ? null : (idleTo - idleFrom) / 2;
    log(`   idle: ${fixed((result.idleCpuShare ?? Number.NaN) * 100, 1)}% of a core`);
    const plan: (() => Promise<ScenarioResult>)[] = [];
    for (const recordSize of recordSizes) {
      for (const acks of acksModes) {
        plan.push(() => producerRun(broker, { name: `${sizeName(recordSize)}-acks${acks}`, kind: "throughput", recordSize, acks, records, throughput: -1 }));
      }
    }
    // Transactions: ProducerPerformance commits a transaction every 100 ms (acks=all, idempotent,
    // KIP-890 transaction version 2 on both brokers), so the coordinator's work is in the figures.
    plan.push(() =>
      producerRun(broker, {
        name: "100b-txn100ms",
        kind: "throughput",
        recordSize: 100,
        acks: "all",
        records,
        throughput: -1,
        args: ["--transactional-id", "perf-txn", "--transaction-duration-ms", "100"],
      }),
    );
    for (const recordSize of recordSizes) {
      // Reads back what the acks=1 max-throughput run of this size wrote, in a group.
      const name = `${sizeName(recordSize)}-acks1`;
      plan.push(() => consumerRun(broker, { name, topic: `perf-${name}`, recordSize, acks: "1", records }));
    }
    for (const acks of acksModes) {
      // linger.ms=0: at a fixed rate the client's 5 ms default linger would dominate the latency.
      plan.push(() =>
        producerRun(broker, {
          name: `rate${fixedRate}-100b-acks${acks}`,
          kind: "fixed-rate",
          recordSize: 100,
          acks,
          records: fixedRateRecords,
          throughput: fixedRate,
          props: ["linger.ms=0"],
        }),
      );
    }
    for (const recordSize of recordSizes) {
      for (const acks of acksModes) {
        plan.push(() => endToEndRun(broker, { name: `${sizeName(recordSize)}-acks${acks}`, recordSize, acks, records: latencyRecords }));
      }
    }
    for (const step of plan) {
      const scenario = await step();
      result.scenarios.push(scenario);
      if (broker.cpuSeconds() === null) {
        throw new Error(`the broker exited during ${scenario.kind} ${scenario.name}; its output ends with:\n${broker.output()}`);
      }
      result.peakRssUnderLoadKiB = Math.max(result.peakRssUnderLoadKiB, scenario.peakRssKiB);
      result.peakAnonUnderLoadKiB = Math.max(result.peakAnonUnderLoadKiB, scenario.peakAnonKiB);
      log(`   ${describe(scenario)}`);
    }
  } catch (error) {
    result.error = (error as Error).message;
    log(`   failed: ${result.error}`);
  } finally {
    result.hwmKiB = broker.memory()?.hwm ?? null;
    result.totalCpuSeconds = broker.cpuSeconds();
    const stopped = await broker.stop();
    Object.assign(result, { stopMs: stopped.stopMs, exitCode: stopped.exitCode, cleanShutdown: stopped.clean, stopError: stopped.error });
    log(`   stopped in ${stopped.stopMs.toFixed(0)} ms (${exitText(stopped.exitCode)}${stopped.clean ? "clean" : "NOT clean"})`);
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
  }
  return result;
}

function describe(s: ScenarioResult): string {
  const cpu = `broker CPU ${s.brokerCpuSeconds.toFixed(2)} s (${s.brokerCpuSecondsPerMillion.toFixed(2)} s/M), client ${s.clientCpuSeconds.toFixed(2)} s, others ${s.otherCpuSeconds.toFixed(2)} s, machine ${(s.machineBusy * 100).toFixed(0)}% busy`;
  if (s.error) return `${s.kind} ${s.name}: ERROR ${s.error}`;
  if (s.producer) return `${s.kind} ${s.name}: ${s.producer.recordsPerSec.toFixed(0)} rec/s, p99 ${s.producer.p99Ms} ms; ${cpu}`;
  if (s.consumer) return `${s.kind} ${s.name}: ${s.consumer.fetchRecordsPerSec.toFixed(0)} rec/s fetching (rebalance ${s.consumer.rebalanceMs} ms); ${cpu}`;
  if (s.latency) return `${s.kind} ${s.name}: avg ${s.latency.avgMs} ms, p99 ${s.latency.p99Ms} ms; ${cpu}`;
  return `${s.kind} ${s.name}`;
}

// ---------------------------------------------------------------------------------------------
// Report

const exitText = (code: number | null | undefined) => (code === undefined ? "" : `exit ${code}, `);
const rateOf = (s: ScenarioResult) => s.rate ?? Number(/^rate(\d+)/.exec(s.name)?.[1]);
const mib = (kib: number | null | undefined) => (kib === null || kib === undefined ? "–" : (kib / 1024).toFixed(0));
const fixed = (value: number | undefined, digits: number) => (value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits));
const thousands = (value: number | undefined) => (value === undefined ? "–" : Math.round(value).toLocaleString("en-US"));

function brokerTable(result: BrokerResult): string {
  const lines = [
    `### ${result.broker}${result.version ? ` ${result.version}` : ""}`,
    "",
    `Start to serving ${result.startupMs.toFixed(0)} ms${result.harnessStartupMs !== undefined ? ` (startKafka's Metadata probe: ${result.harnessStartupMs} ms)` : ""}, ` +
      `CPU to start ${fixed(result.startupCpuSeconds ?? undefined, 2)} s, idle CPU ${fixed((result.idleCpuShare ?? Number.NaN) * 100, 1)}% of a core; RSS after start ${mib(result.rssAfterStartKiB)} MiB, ` +
      `peak RSS under load ${mib(result.peakRssUnderLoadKiB)} MiB (anonymous ${mib(result.peakAnonUnderLoadKiB)} MiB, the rest mapped files), VmHWM ${mib(result.hwmKiB)} MiB; ` +
      `shutdown ${result.stopMs.toFixed(0)} ms (${exitText(result.exitCode)}${result.cleanShutdown ? "clean" : "not clean"}); broker CPU in all ${fixed(result.totalCpuSeconds ?? undefined, 1)} s.`,
    "",
    "| Producer (ProducerPerformance) | records | records/s | MB/s | avg ms | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU s | CPU s / M records | client CPU s | others CPU s | peak RSS MiB | machine busy |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of result.scenarios.filter((scenario) => scenario.kind === "throughput" || scenario.kind === "fixed-rate")) {
    const p = s.producer;
    lines.push(
      `| ${s.kind === "fixed-rate" ? `${thousands(rateOf(s))}/s` : "max"} ${s.recordSize} B acks=${s.acks}${s.name.includes("-txn") ? ", transactions of 100 ms" : ""}${s.error ? " (error)" : ""} | ${thousands(s.records)} | ${thousands(p?.recordsPerSec)} | ${fixed(p?.mbPerSec, 2)} | ${fixed(p?.avgLatencyMs, 2)} | ${p?.p50Ms ?? "–"} | ${p?.p99Ms ?? "–"} | ${p?.p999Ms ?? "–"} | ${fixed(p?.maxLatencyMs, 0)} | ${fixed(s.brokerCpuSeconds, 2)} | ${fixed(s.brokerCpuSecondsPerMillion, 2)} | ${fixed(s.clientCpuSeconds, 2)} | ${fixed(s.otherCpuSeconds, 2)} | ${mib(s.peakRssKiB)} | ${(s.machineBusy * 100).toFixed(0)}% |`,
    );
  }
  lines.push(
    "",
    "| Consumer (ConsumerPerformance in a group) | records | records/s | MB/s | fetch records/s | fetch MB/s | rebalance ms | broker CPU s | CPU s / M records | client CPU s | machine busy |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const s of result.scenarios.filter((scenario) => scenario.kind === "consume")) {
    const c = s.consumer;
    lines.push(
      `| ${s.recordSize} B${s.error ? " (error)" : ""} | ${thousands(s.records)} | ${thousands(c?.recordsPerSec)} | ${fixed(c?.mbPerSec, 2)} | ${thousands(c?.fetchRecordsPerSec)} | ${fixed(c?.fetchMbPerSec, 2)} | ${c?.rebalanceMs ?? "–"} | ${fixed(s.brokerCpuSeconds, 2)} | ${fixed(s.brokerCpuSecondsPerMillion, 2)} | ${fixed(s.clientCpuSeconds, 2)} | ${(s.machineBusy * 100).toFixed(0)}% |`,
    );
  }
  lines.push(
    "",
    "| End to end (EndToEndLatency, one record at a time) | round trips | avg ms | p50 ms | p99 ms | p99.9 ms | broker CPU s | client CPU s | others CPU s | machine busy |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const s of result.scenarios.filter((scenario) => scenario.kind === "end-to-end")) {
    const l = s.latency;
    lines.push(
      `| ${s.recordSize} B acks=${s.acks}${s.error ? " (error)" : ""} | ${thousands(s.records)} | ${fixed(l?.avgMs, 3)} | ${l?.p50Ms ?? "–"} | ${l?.p99Ms ?? "–"} | ${l?.p999Ms ?? "–"} | ${fixed(s.brokerCpuSeconds, 2)} | ${fixed(s.clientCpuSeconds, 2)} | ${fixed(s.otherCpuSeconds, 2)} | ${(s.machineBusy * 100).toFixed(0)}% |`,
    );
  }
  const errors = [...(result.warmup ?? []), ...result.scenarios].filter((s) => s.error || s.toolWarning || s.topicWarning);
  if (result.error || errors.length > 0) {
    lines.push("", "Problems:");
    if (result.error) lines.push(`- ${result.error}`);
    for (const s of errors) {
      const what = [s.error, s.toolWarning && `after its figures: ${s.toolWarning}`, s.topicWarning && `topic: ${s.topicWarning}`].filter(Boolean);
      lines.push(`- ${s.kind} ${s.name}${s.name === "warmup" ? " (warm-up)" : ""}: ${what.join("; ")}`);
    }
  }
  return lines.join("\n");
}

interface Ratio {
  figure: string;
  kafka: number | null;
  sluice: number | null;
  /** sluice / kafka */
  ratio: number | null;
  target: string;
  met: boolean | null;
}

function ratios(kafka: BrokerResult, sluice: BrokerResult): Ratio[] {
  const rows: Ratio[] = [];
  const add = (figure: string, k: number | null | undefined, s: number | null | undefined, target: string, ok?: (ratio: number, s: number) => boolean) => {
    const usable = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);
    const ratio = usable(k) && usable(s) && k !== 0 ? s / k : null;
    rows.push({
      figure,
      kafka: usable(k) ? k : null,
      sluice: usable(s) ? s : null,
      ratio,
      target,
      met: ok && ratio !== null && usable(s) ? ok(ratio, s) : null,
    });
  };
  add("start to serving (ms)", kafka.startupMs, sluice.startupMs, "≤ 250 ms", (_, s) => s <= 250);
  for (const k of kafka.scenarios) {
    const found = sluice.scenarios.find((candidate) => candidate.kind === k.kind && candidate.name === k.name);
    // A failed run's CPU and memory say nothing: compare only runs that both completed.
    const s = found?.error || k.error ? undefined : found;
    if (k.kind === "throughput") {
      const label = `max ${k.recordSize} B acks=${k.acks}${k.name.includes("-txn") ? ", transactions of 100 ms" : ""}`;
      add(`${label}: records/s`, k.producer?.recordsPerSec, s?.producer?.recordsPerSec, "≥ 1.5×", (r) => r >= 1.5);
      add(`${label}: broker CPU s / M records`, k.brokerCpuSecondsPerMillion, s?.brokerCpuSecondsPerMillion, "≤ 0.5×", (r) => r <= 0.5);
    } else if (k.kind === "fixed-rate") {
      const label = `${thousands(rateOf(k))}/s ${k.recordSize} B acks=${k.acks}`;
      add(`${label}: producer p99 (ms)`, k.producer?.p99Ms, s?.producer?.p99Ms, "≤ 0.5×", (r) => r <= 0.5);
      add(`${label}: producer avg (ms)`, k.producer?.avgLatencyMs, s?.producer?.avgLatencyMs, "");
      add(`${label}: broker CPU s / M records`, k.brokerCpuSecondsPerMillion, s?.brokerCpuSecondsPerMillion, "≤ 0.5×", (r) => r <= 0.5);
    } else if (k.kind === "consume") {
      const label = `consume ${k.recordSize} B`;
      add(`${label}: fetch records/s`, k.consumer?.fetchRecordsPerSec, s?.consumer?.fetchRecordsPerSec, "≥ 1.5×", (r) => r >= 1.5);
      add(`${label}: broker CPU s / M records`, k.brokerCpuSecondsPerMillion, s?.brokerCpuSecondsPerMillion, "≤ 0.5×", (r) => r <= 0.5);
    } else {
      const label = `end-to-end ${k.recordSize} B acks=${k.acks}`;
      add(`${label}: p99 (ms)`, k.latency?.p99Ms, s?.latency?.p99Ms, "≤ 0.5×", (r) => r <= 0.5);
      add(`${label}: avg (ms)`, k.latency?.avgMs, s?.latency?.avgMs, "");
    }
  }
  add("peak RSS under load (MiB)", kafka.peakRssUnderLoadKiB / 1024, sluice.peakRssUnderLoadKiB / 1024, "≤ 0.25×", (r) => r <= 0.25);
  add("peak anonymous RSS under load (MiB)", (kafka.peakAnonUnderLoadKiB ?? Number.NaN) / 1024, (sluice.peakAnonUnderLoadKiB ?? Number.NaN) / 1024, "");
  add("RSS after start (MiB)", (kafka.rssAfterStartKiB ?? Number.NaN) / 1024, (sluice.rssAfterStartKiB ?? Number.NaN) / 1024, "");
  add("shutdown (ms)", kafka.stopMs, sluice.stopMs, "");
  return rows;
}

function ratioTable(rows: Ratio[]): string {
  const value = (v: number | null) => (v === null ? "–" : Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2));
  const lines = ["### Sluice / Kafka", "", "| figure | Kafka | Sluice | Sluice/Kafka | target | met |", "| --- | ---: | ---: | ---: | --- | --- |"];
  for (const row of rows) {
    lines.push(
      `| ${row.figure} | ${value(row.kafka)} | ${value(row.sluice)} | ${row.ratio === null ? "–" : `${row.ratio.toFixed(2)}×`} | ${row.target} | ${row.met === null ? "" : row.met ? "yes" : "no"} |`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

const startedAt = new Date();
const environment = {
  startedAt: startedAt.toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "",
  memoryMiB: Math.round(totalmem() / 2 ** 20),
  loadAverageAtStart: loadavg(),
  settings: {
    quick,
    records,
    latencyRecords,
    fixedRate,
    fixedRateRecords,
    warmupRecords,
    kafkaBrokerHeap: `-Xms${kafkaBrokerHeap} -Xmx${kafkaBrokerHeap}`,
    toolHeap: `-Xmx${toolHeap}`,
    toolJvmFlags: "kafkaPerformanceJvmFlags (kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS)",
    sluiceOverrides,
    endToEndProperties,
    sluiceFromSource: flags["sluice-from-source"],
    /** SSL listeners (--tls): what both brokers and the tools were given. */
    tls: tls
      ? {
          brokers: "an SSL listener beside the PLAINTEXT one (start-up probe only); JKS keystore, RSA-2048 server key; ssl.client.auth none",
          clients: "security.protocol=SSL, JKS truststore; every tool (TopicCommand included) connects to the SSL listener",
        }
      : undefined,
  },
};
interface ResultsFile {
  environment?: typeof environment;
  results?: Partial<Record<BrokerKind, BrokerResult>>;
}
const reported = flags.report ? (JSON.parse(await readFile(flags.report, "utf8")) as ResultsFile) : undefined;
if (!reported) {
  log(
    `bench:broker ${brokers.join(" then ")}: ${records} records per throughput run, ${latencyRecords} end-to-end round trips, ` +
      `${fixedRateRecords} records at ${fixedRate}/s, warm-up ${warmupRecords}; load average ${loadavg()
        .map((v) => v.toFixed(2))
        .join(" ")}`,
  );

  if (loadavg()[0] > 1) log(`warning: the machine is busy already (load average ${loadavg()[0].toFixed(2)}); see the "others CPU s" columns`);
}
const results: Partial<Record<BrokerKind, BrokerResult>> = reported?.results ?? {};
for (const kind of reported ? [] : brokers) {
  try {
    results[kind] = await benchBroker(kind);
  } catch (error) {
    log(`\n${kind} could not be benchmarked: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
if (tlsDir) {
  if (flags.keep) log(`TLS material kept in ${tlsDir}`);
  else await rm(tlsDir, { recursive: true, force: true });
}

if (Object.keys(results).length === 0) process.exit(1);

let baselineKafka: BrokerResult | undefined;
if (flags.baseline) {
  const baseline = JSON.parse(await readFile(flags.baseline, "utf8")) as ResultsFile;
  baselineKafka = baseline.results?.kafka;
  if (!baselineKafka) log(`warning: ${flags.baseline} has no Kafka results`);
}
const kafkaForRatios = baselineKafka ?? results.kafka;
const ratioRows = kafkaForRatios && results.sluice ? ratios(kafkaForRatios, results.sluice) : undefined;

const shownStart = reported?.environment?.startedAt ?? startedAt.toISOString();
const shownQuick = reported?.environment?.settings.quick ?? quick;
const shownTls = reported ? Boolean(reported.environment?.settings.tls) : Boolean(tls);
const report: string[] = [
  `## Sluice vs Apache Kafka ${kafkaVersion} (${shownStart}${shownQuick ? ", quick" : ""}${shownTls ? ", over SSL listeners" : ""})`,
  "",
];
for (const kind of reported ? (["kafka", "sluice"] as const) : brokers) {
  const result = results[kind];
  if (result) report.push(brokerTable(result), "");
}
if (ratioRows) report.push(`${ratioTable(ratioRows)}${baselineKafka ? `\n\nKafka figures from ${flags.baseline}.` : ""}`, "");
process.stdout.write(`\n${report.join("\n")}\n`);
if (reported) process.exit(0);

const resultsDir = new URL("./results/", import.meta.url);
await mkdir(resultsDir, { recursive: true });
const file = new URL(
  `${startedAt
    .toISOString()
    .replaceAll(":", "-")
    .replace(/\.\d+Z$/, "Z")}${tls ? "-tls" : ""}.json`,
  resultsDir,
);
await writeFile(file, `${JSON.stringify({ environment, results, baseline: flags.baseline, ratios: ratioRows }, null, 2)}\n`);
log(`results written to ${file.pathname}`);
