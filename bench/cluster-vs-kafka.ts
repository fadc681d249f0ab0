// A 3-broker Sluice cluster (etcd + 3 brokers) against a 3-broker Apache Kafka 4.4.0 cluster (KRaft:
// one dedicated controller + 3 brokers) on the same machine, one cluster at a time, with Kafka's own
// ProducerPerformance: 1 KB records, acks=all, a topic of 6 partitions with replication factor 3 and
// min.insync.replicas=2. Max throughput and latency percentiles, plus a fixed-rate run for latency
// at a moderate load; CPU per million records of the brokers and of the metadata process (etcd /
// the KRaft controller) apart, peak RSS per broker, spawn-to-serving of the whole cluster.
// How to run and what the figures mean: docs/performance.md ("Three brokers: bench:cluster").
//
//   npm run bench:cluster -- [--cluster kafka|sluice|both] [--quick] [--records N] [--warmup-records N]
//                            [--rate R] [--sluice-override key=value]... [--keep]
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { kafkaVersion, runJavaTool } from "../test/helpers/kafka.js";
import { ChildCpuSampler, machineCpuSeconds, RssSampler } from "../test/helpers/sluice.js";
import { kafkaBrokerHeap, log, type ProducerFigures, parseProducerPerformance, tail, toolHeap, toolTimeoutMs } from "./harness.js";
import { type ClusterStartup, killAllSpawned, type RunningCluster, sleep, startKafkaCluster } from "./kafka-cluster.js";
import { etcdVersion, startSluiceCluster } from "./sluice-cluster.js";

type ClusterKind = "kafka" | "sluice";

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    cluster: { type: "string", default: "both" },
    quick: { type: "boolean", default: false },
    records: { type: "string" },
    "warmup-records": { type: "string" },
    rate: { type: "string" },
    "sluice-override": { type: "string", multiple: true, default: [] },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  process.stdout.write(
    [
      "npm run bench:cluster -- [options]",
      "  --cluster kafka|sluice|both  which clusters, one at a time (default both: Kafka first)",
      "  --quick                      a smoke run: 50,000 records, 10,000 warm-up, 3 s at the fixed rate",
      "  --records N                  records of the max-throughput ProducerPerformance run (default 300,000: ~40 s on Kafka, ~15 s on Sluice on 2 cores)",
      "  --warmup-records N           unreported ProducerPerformance run first, same settings (default records/5, at most 200,000; 0: none)",
      "  --rate R                     records/s of the fixed-rate run, linger.ms=0 (default 2,000; 10 s, 3 s with --quick; 0: no such run)",
      "  --sluice-override key=value  passed to every Sluice broker as `bin/sluice start --override key=value` (repeatable)",
      "  --keep                       keep the clusters' temp dirs (data, kafka.out, broker.out, etcd.out)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

function usage(problem: string): never {
  process.stderr.write(`bench:cluster: bad option ${problem}; see --help\n`);
  process.exit(2);
}

function count(text: string | undefined, fallback: number, name: string, zeroAllowed = false): number {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < 0 || (value === 0 && !zeroAllowed))
    usage(`--${name} ${text} (expected a ${zeroAllowed ? "non-negative" : "positive"} integer)`);
  return value;
}

const clusters: ClusterKind[] =
  flags.cluster === "both"
    ? ["kafka", "sluice"]
    : flags.cluster === "kafka" || flags.cluster === "sluice"
      ? [flags.cluster]
      : usage(`--cluster ${flags.cluster}`);
const quick = flags.quick;
// 300k: on the 2-core dev VM the Kafka cluster produces ~5-8k records/s of 1 KB with RF 3 (~40 s), Sluice's ~17-20k (~15 s).
const records = count(flags.records, quick ? 50_000 : 300_000, "records");
const warmupRecords = count(flags["warmup-records"], Math.min(200_000, Math.ceil(records / 5)), "warmup-records", true);
// Well below either cluster's maximum on 2 cores, so the latency is the replication's, not a queue's.
const fixedRate = count(flags.rate, 2_000, "rate", true);
const fixedRateRecords = fixedRate * (quick ? 3 : 10);
const sluiceOverrides = Object.fromEntries(
  flags["sluice-override"].map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) usage(`--sluice-override ${pair} (expected key=value)`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);

const brokerCount = 3;
const partitions = 6;
const replicationFactor = 3;
const minInsyncReplicas = 2;
const recordSize = 1024;
const acks = "all";
const topicConfig = { "min.insync.replicas": String(minInsyncReplicas) };

// ---------------------------------------------------------------------------------------------
// Topics

interface PartitionState {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

async function topicCommand(bootstrap: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runJavaTool("org.apache.kafka.tools.TopicCommand", ["--bootstrap-server", bootstrap, ...args], { quickStart: true, heap: "256m", timeoutMs: 120_000 });
}

/** TopicCommand --describe: each partition's leader, replicas and ISR, and the topic's Configs. */
async function describeTopic(bootstrap: string, topic: string): Promise<{ partitions: PartitionState[]; configs: string; problem?: string }> {
  const result = await topicCommand(bootstrap, ["--describe", "--topic", topic]);
  const ids = (text: string) => (text.trim() === "" ? [] : text.split(",").map(Number));
  const states = [...result.stdout.matchAll(/Partition: (\d+)\s+Leader: (-?\d+|none)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)/g)].map((m) => ({
    partition: Number(m[1]),
    leader: m[2] === "none" ? -1 : Number(m[2]),
    replicas: ids(m[3]),
    isr: ids(m[4]),
  }));
  const configs = /Configs: ?(\S*)/.exec(result.stdout)?.[1] ?? "";
  return {
    partitions: states,
    configs,
    problem: result.code === 0 ? undefined : `TopicCommand --describe exited with ${result.code}: ${tail(result.stderr || result.stdout)}`,
  };
}

/** Creates the topic (6 partitions, RF 3, min.insync.replicas=2) and waits until every partition has a leader and a full ISR. */
async function createTopic(cluster: RunningCluster, topic: string): Promise<{ partitions: PartitionState[]; configs: string; waitedMs: number }> {
  const result = await topicCommand(cluster.bootstrap, [
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
    "--replication-factor",
    String(replicationFactor),
    ...Object.entries(topicConfig).flatMap(([key, value]) => ["--config", `${key}=${value}`]),
  ]);
  if (result.code !== 0) throw new Error(`TopicCommand --create ${topic} exited with ${result.code}: ${tail(result.stderr || result.stdout)}`);
  const started = performance.now();
  let last = "";
  for (;;) {
    const described = await describeTopic(cluster.bootstrap, topic);
    const full = described.partitions.length === partitions && described.partitions.every((p) => p.leader >= 0 && p.isr.length === replicationFactor);
    if (full) return { ...described, waitedMs: performance.now() - started };
    last = described.problem ?? JSON.stringify(described.partitions);
    if (performance.now() - started > 60_000)
      throw new Error(`topic ${topic}: no leader or ISR of ${replicationFactor} on every partition after 60 s (last: ${last})`);
    await sleep(500);
  }
}

/** Bytes of the topic's .log segments in each broker's log dir (what each replica holds). */
async function replicaBytes(cluster: RunningCluster, topic: string): Promise<Record<string, number>> {
  const bytes: Record<string, number> = {};
  for (const [id, dir] of cluster.logDirs) {
    let total = 0;
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      if (!new RegExp(`^${topic.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d+$`).test(entry)) continue;
      for (const file of await readdir(join(dir, entry)).catch(() => [] as string[])) {
        if (file.endsWith(".log")) total += (await stat(join(dir, entry, file))).size;
      }
    }
    bytes[`broker-${id}`] = total;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Measuring a run

interface NodeFigures {
  name: string;
  cpuSeconds: number;
  peakRssKiB: number;
  peakAnonKiB: number;
}

interface ClusterMeasure {
  wallSeconds: number;
  /** Busy share of the whole machine over the run, 0–1. */
  machineBusy: number;
  /** The brokers' CPU seconds, summed. */
  brokerCpuSeconds: number;
  brokerCpuSecondsPerMillion: number;
  /** etcd (Sluice) or the KRaft controller (Kafka). */
  metadataCpuSeconds: number;
  metadataCpuSecondsPerMillion: number;
  /** The ProducerPerformance JVM. */
  clientCpuSeconds: number;
  /** Machine busy − brokers − metadata − client: other work on the machine and this script. */
  otherCpuSeconds: number;
  brokers: NodeFigures[];
  metadata: NodeFigures;
}

async function measure(cluster: RunningCluster, recordCount: number, run: () => Promise<void>): Promise<ClusterMeasure> {
  const nodes = [...cluster.brokers, cluster.metadata];
  const samplers = nodes.map((node) => new RssSampler(node.pid, 100));
  const clients = new ChildCpuSampler(process.pid, 100);
  const before = nodes.map((node) => node.cpuSeconds() ?? Number.NaN);
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  try {
    await run();
  } finally {
    for (const sampler of samplers) sampler.stop();
  }
  const clientCpuSeconds = clients.stop(nodes.map((node) => node.pid));
  const wallSeconds = (performance.now() - started) / 1000;
  const after = nodes.map((node) => node.cpuSeconds() ?? Number.NaN);
  const machineAfter = machineCpuSeconds();
  const figures = nodes.map((node, i) => ({
    name: node.name,
    cpuSeconds: after[i] - before[i],
    peakRssKiB: samplers[i].peakKiB,
    peakAnonKiB: samplers[i].peakAnonKiB,
  }));
  const brokers = figures.slice(0, cluster.brokers.length);
  const metadata = figures[figures.length - 1];
  const brokerCpuSeconds = brokers.reduce((sum, b) => sum + b.cpuSeconds, 0);
  const busy = machineAfter.busy - machineBefore.busy;
  return {
    wallSeconds,
    machineBusy: busy / Math.max(1e-9, machineAfter.total - machineBefore.total),
    brokerCpuSeconds,
    brokerCpuSecondsPerMillion: (brokerCpuSeconds / recordCount) * 1e6,
    metadataCpuSeconds: metadata.cpuSeconds,
    metadataCpuSecondsPerMillion: (metadata.cpuSeconds / recordCount) * 1e6,
    clientCpuSeconds,
    otherCpuSeconds: busy - brokerCpuSeconds - metadata.cpuSeconds - clientCpuSeconds,
    brokers,
    metadata,
  };
}

interface RunResult {
  name: string;
  kind: "warmup" | "throughput" | "fixed-rate";
  topic: string;
  records: number;
  recordSize: number;
  acks: string;
  /** Records/s asked of a fixed-rate run; -1: as fast as it goes. */
  throughput: number;
  /** Producer properties besides bootstrap.servers and acks. */
  props: string[];
  producer?: ProducerFigures;
  /** ProducerPerformance's stdout: a line every 5 s, then the summary (the last 40 lines). */
  output?: string[];
  /** Send failures ProducerPerformance printed (the first line of each stack trace), with counts. */
  sendErrors?: Record<string, number>;
  error?: string;
  toolWarning?: string;
  topicWaitMs?: number;
  leadersPerBroker?: Record<string, number>;
  /** After the run: partitions whose ISR is not all replicas. */
  shrunkIsr?: PartitionState[];
  /** Bytes of the topic's .log files per broker, after the cluster stopped (every replica should hold the same). */
  replicaLogBytes?: Record<string, number>;
  measure?: ClusterMeasure;
}

async function producerRun(
  cluster: RunningCluster,
  spec: { name: string; kind: RunResult["kind"]; records: number; throughput: number; props?: string[] },
): Promise<RunResult> {
  const topic = `perf-${spec.name}`;
  const result: RunResult = {
    name: spec.name,
    kind: spec.kind,
    topic,
    records: spec.records,
    recordSize,
    acks,
    throughput: spec.throughput,
    props: spec.props ?? [],
  };
  try {
    const created = await createTopic(cluster, topic);
    result.topicWaitMs = created.waitedMs;
    if (!created.configs.includes(`min.insync.replicas=${minInsyncReplicas}`)) {
      result.toolWarning = `TopicCommand --describe shows Configs "${created.configs}", without min.insync.replicas=${minInsyncReplicas}`;
    }
    result.leadersPerBroker = {};
    for (const p of created.partitions) result.leadersPerBroker[`broker-${p.leader}`] = (result.leadersPerBroker[`broker-${p.leader}`] ?? 0) + 1;
  } catch (error) {
    result.error = (error as Error).message;
    return result;
  }
  const args = [
    "--topic",
    topic,
    "--num-records",
    String(spec.records),
    "--record-size",
    String(recordSize),
    "--throughput",
    String(spec.throughput),
    "--command-property",
    `bootstrap.servers=${cluster.bootstrap}`,
    `acks=${acks}`,
    ...result.props,
  ];
  result.measure = await measure(cluster, spec.records, async () => {
    const run = await runJavaTool("org.apache.kafka.tools.ProducerPerformance", args, { heap: toolHeap, timeoutMs: toolTimeoutMs(spec.records, 5) }).catch(
      (failure: Error) => ({ code: -1, stdout: "", stderr: failure.message }),
    );
    const producer = parseProducerPerformance(run.stdout);
    result.output = run.stdout.trim().split("\n").slice(-40);
    const errors: Record<string, number> = {};
    for (const m of run.stderr.matchAll(/^(org\.apache\.kafka\.\S+(?:Exception|Error)):? ?(.*)$/gm)) {
      const key = `${m[1]}: ${m[2]}`.slice(0, 300);
      errors[key] = (errors[key] ?? 0) + 1;
    }
    if (Object.keys(errors).length > 0) result.sendErrors = errors;
    if (!producer) result.error = `ProducerPerformance exited with ${run.code}: ${tail(run.stderr || run.stdout)}`;
    else {
      result.producer = producer;
      if (producer.records < spec.records) result.error = `only ${producer.records} of ${spec.records} records were acknowledged`;
      else if (run.code !== 0) result.toolWarning = `ProducerPerformance exited with ${run.code}: ${tail(run.stderr)}`;
    }
  });
  if (spec.kind !== "warmup") {
    const after = await describeTopic(cluster.bootstrap, topic);
    result.shrunkIsr = after.partitions.filter((p) => p.isr.length !== p.replicas.length);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// One cluster

interface ProcessResult {
  name: string;
  pid: number;
  startupMs: number;
  /** CPU seconds from spawn to the cluster serving (read when every broker lists all brokers). */
  startupCpuSeconds: number | null;
  rssAfterStartKiB: number | null;
  /** VmHWM just before shutdown: the process's peak over its whole life. */
  hwmKiB: number | null;
  totalCpuSeconds: number | null;
  stopMs?: number;
  exitCode?: number | null;
  cleanShutdown?: boolean;
}

interface ClusterResult {
  cluster: ClusterKind;
  version: string;
  description: string;
  startup: ClusterStartup;
  brokers: ProcessResult[];
  metadata: ProcessResult;
  /** Brokers + metadata process CPU over 2 s with no clients, after the warm-up, as a share of one core. */
  idleCpuShare: number | null;
  warmup: RunResult[];
  runs: RunResult[];
  error?: string;
}

let currentWorkDir: string | undefined;

/** The commit bin/sluice was built from (its dist/ is not checked). */
const sluiceCommit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: new URL("..", import.meta.url), encoding: "utf8" }).trim();
  } catch {
    return "unknown commit";
  }
})();

async function benchCluster(kind: ClusterKind): Promise<ClusterResult> {
  const workDir = await mkdtemp(join(tmpdir(), `bench-cluster-${kind}-`));
  currentWorkDir = workDir;
  log(`\n== ${kind} cluster: starting (work dir ${workDir})`);
  let cluster: RunningCluster;
  try {
    cluster =
      kind === "kafka"
        ? await startKafkaCluster({ workDir, brokers: brokerCount, heap: kafkaBrokerHeap, log })
        : await startSluiceCluster({ workDir, brokers: brokerCount, overrides: sluiceOverrides, log });
  } catch (error) {
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
    else log(`   kept ${workDir}`);
    throw error;
  }
  const processResult = (node: RunningCluster["metadata"]): ProcessResult => ({
    name: node.name,
    pid: node.pid,
    startupMs: node.startupMs,
    startupCpuSeconds: node.cpuSeconds(),
    rssAfterStartKiB: node.memory()?.rss ?? null,
    hwmKiB: null,
    totalCpuSeconds: null,
  });
  const result: ClusterResult = {
    cluster: kind,
    version: kind === "kafka" ? kafkaVersion : `${sluiceCommit} with ${etcdVersion() ?? "etcd"}`,
    description: cluster.description,
    startup: cluster.startup,
    brokers: cluster.brokers.map(processResult),
    metadata: processResult(cluster.metadata),
    idleCpuShare: null,
    warmup: [],
    runs: [],
  };
  const s = cluster.startup;
  log(
    `   ${cluster.description}\n   ${cluster.metadata.name} serving after ${ms(s.metadataReadyMs)} ms; all brokers serving ${ms(s.brokersServingMs)} ms, ` +
      `Metadata lists all ${brokerCount} brokers ${ms(s.clusterReadyMs)} ms after the first spawn (${ms(s.clusterReadyFromBrokerSpawnMs)} ms after the brokers')`,
  );
  const nodes = [...cluster.brokers, cluster.metadata];
  const exited = () => nodes.find((node) => node.cpuSeconds() === null);
  try {
    if (warmupRecords > 0) {
      log(`   warm-up: ProducerPerformance ${warmupRecords} × ${recordSize} B acks=${acks} (not reported)`);
      const warmup = await producerRun(cluster, { name: "warmup", kind: "warmup", records: warmupRecords, throughput: -1 });
      result.warmup.push(warmup);
      log(`   ${describe(warmup)}`);
    }
    const idleFrom = nodes.map((node) => node.cpuSeconds() ?? Number.NaN);
    await sleep(2_000);
    const idle = nodes.reduce((sum, node, i) => sum + ((node.cpuSeconds() ?? Number.NaN) - idleFrom[i]), 0) / 2;
    result.idleCpuShare = Number.isFinite(idle) ? idle : null;
    log(`   idle: ${fixed((result.idleCpuShare ?? Number.NaN) * 100, 1)}% of a core (brokers + ${cluster.metadata.name})`);
    const plan = [() => producerRun(cluster, { name: "1kb-acksall", kind: "throughput", records, throughput: -1 })];
    // linger.ms=0: at a fixed rate the client's 5 ms default linger would dominate the latency.
    if (fixedRate > 0) {
      plan.push(() =>
        producerRun(cluster, {
          name: `rate${fixedRate}-1kb-acksall`,
          kind: "fixed-rate",
          records: fixedRateRecords,
          throughput: fixedRate,
          props: ["linger.ms=0"],
        }),
      );
    }
    for (const step of plan) {
      const run = await step();
      result.runs.push(run);
      log(`   ${describe(run)}`);
      const gone = exited();
      if (gone) throw new Error(`${gone.name} exited during ${run.kind} ${run.name}; its output ends with:\n${gone.output().slice(-4000)}`);
    }
  } catch (error) {
    result.error = (error as Error).message;
    log(`   failed: ${result.error}`);
  } finally {
    const all = [...result.brokers, result.metadata];
    nodes.forEach((node, i) => {
      all[i].hwmKiB = node.memory()?.hwm ?? null;
      all[i].totalCpuSeconds = node.cpuSeconds();
    });
    const stopped = await cluster.stop();
    [...stopped.brokers, stopped.metadata].forEach((stop, i) => {
      Object.assign(all[i], { stopMs: stop.stopMs, exitCode: stop.exitCode, cleanShutdown: stop.clean });
    });
    // After a clean shutdown: a running broker's active segment may be preallocated beyond its data.
    for (const run of result.runs) if (run.measure) run.replicaLogBytes = await replicaBytes(cluster, run.topic);
    log(
      `   stopped: ${all.map((node) => `${node.name} ${ms(node.stopMs ?? Number.NaN)} ms (exit ${node.exitCode}, ${node.cleanShutdown ? "clean" : "NOT clean"})`).join(", ")}`,
    );
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
    else log(`   kept ${workDir}`);
    currentWorkDir = undefined;
  }
  return result;
}

function describe(run: RunResult): string {
  const what = `${run.kind} ${run.name}`;
  const errors = run.sendErrors
    ? `; send errors: ${Object.entries(run.sendErrors)
        .map(([message, n]) => `${n} × ${message}`)
        .join("; ")
        .slice(0, 600)}`
    : "";
  if (!run.producer) return `${what}: ERROR ${run.error}${errors}`;
  const p = run.producer;
  const m = run.measure;
  const cpu = m
    ? `brokers ${m.brokerCpuSeconds.toFixed(2)} CPU s (${m.brokerCpuSecondsPerMillion.toFixed(2)} s/M), ${m.metadata.name} ${m.metadataCpuSeconds.toFixed(2)} s, client ${m.clientCpuSeconds.toFixed(2)} s, others ${m.otherCpuSeconds.toFixed(2)} s, machine ${(m.machineBusy * 100).toFixed(0)}% busy`
    : "";
  const isr =
    run.shrunkIsr && run.shrunkIsr.length > 0 ? `; ISR shrunk after the run on ${run.shrunkIsr.map((p) => `${p.partition}:[${p.isr}]`).join(" ")}` : "";
  return `${what}: ${p.recordsPerSec.toFixed(0)} rec/s, avg ${p.avgLatencyMs} ms, p99 ${p.p99Ms} ms; ${cpu}${isr}${run.error ? `; ERROR ${run.error}` : ""}${errors}`;
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : "–");
const mib = (kib: number | null | undefined) => (kib === null || kib === undefined || !Number.isFinite(kib) ? "–" : (kib / 1024).toFixed(0));
const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
const thousands = (value: number | undefined) => (value === undefined ? "–" : Math.round(value).toLocaleString("en-US"));

function runLabel(run: RunResult): string {
  return `${run.kind === "fixed-rate" ? `${thousands(run.throughput)}/s` : "max"} ${run.recordSize} B acks=${run.acks}${run.props.length ? ` (${run.props.join(" ")})` : ""}`;
}

function clusterTable(result: ClusterResult): string {
  const s = result.startup;
  const metadataName = result.metadata.name;
  const lines = [
    `### ${result.cluster === "kafka" ? "Kafka" : "Sluice"} cluster`,
    "",
    `${result.description}.`,
    "",
    `Start: ${metadataName} serving ${ms(s.metadataReadyMs)} ms after its spawn; then the ${result.brokers.length} brokers spawned at once: all answer ApiVersions ` +
      `${ms(s.brokersServingMs)} ms and all list every broker in Metadata ${ms(s.clusterReadyMs)} ms after the first spawn ` +
      `(${ms(s.clusterReadyFromBrokerSpawnMs)} ms after the brokers' spawn; per broker spawn → ApiVersions ${result.brokers.map((b) => ms(b.startupMs)).join(" / ")} ms)` +
      `${s.prepareMs > 0 ? `; StorageTool format beforehand ${ms(s.prepareMs)} ms, not counted` : ""}. ` +
      `Idle after the warm-up: ${fixed((result.idleCpuShare ?? Number.NaN) * 100, 1)}% of a core.`,
    "",
    `| Producer (ProducerPerformance) | records | records/s | MB/s | avg ms | p50 ms | p99 ms | p99.9 ms | max ms | brokers CPU s | brokers CPU s / M | ${metadataName} CPU s | ${metadataName} CPU s / M | client CPU s | others CPU s | machine busy |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const run of result.runs) {
    const p = run.producer;
    const m = run.measure;
    lines.push(
      `| ${runLabel(run)}${run.error ? " (error)" : ""} | ${thousands(run.records)} | ${thousands(p?.recordsPerSec)} | ${fixed(p?.mbPerSec, 2)} | ${fixed(p?.avgLatencyMs, 2)} | ${p?.p50Ms ?? "–"} | ${p?.p99Ms ?? "–"} | ${p?.p999Ms ?? "–"} | ${fixed(p?.maxLatencyMs, 0)} | ${fixed(m?.brokerCpuSeconds, 2)} | ${fixed(m?.brokerCpuSecondsPerMillion, 2)} | ${fixed(m?.metadataCpuSeconds, 2)} | ${fixed(m?.metadataCpuSecondsPerMillion, 3)} | ${fixed(m?.clientCpuSeconds, 2)} | ${fixed(m?.otherCpuSeconds, 2)} | ${m ? `${(m.machineBusy * 100).toFixed(0)}%` : "–"} |`,
    );
  }
  const max = result.runs.find((run) => run.kind === "throughput");
  lines.push(
    "",
    `| Process | spawn → serving ms | CPU s to start | RSS after start MiB | peak RSS in the max run MiB | peak anon MiB | VmHWM MiB | CPU s in the max run | CPU s in all | leaders (max-run topic) | topic .log bytes (after stop) | shutdown ms |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const node of [...result.brokers, result.metadata]) {
    const figures = node === result.metadata ? max?.measure?.metadata : max?.measure?.brokers.find((b) => b.name === node.name);
    lines.push(
      `| ${node.name} (pid ${node.pid}) | ${ms(node.startupMs)} | ${fixed(node.startupCpuSeconds, 2)} | ${mib(node.rssAfterStartKiB)} | ${mib(figures?.peakRssKiB)} | ${mib(figures?.peakAnonKiB)} | ${mib(node.hwmKiB)} | ${fixed(figures?.cpuSeconds, 2)} | ${fixed(node.totalCpuSeconds, 1)} | ${node === result.metadata ? "" : (max?.leadersPerBroker?.[node.name] ?? 0)} | ${node === result.metadata ? "" : thousands(max?.replicaLogBytes?.[node.name])} | ${ms(node.stopMs ?? Number.NaN)}${node.cleanShutdown ? "" : " (not clean)"} |`,
    );
  }
  const unevenReplicas = (run: RunResult) => new Set(Object.values(run.replicaLogBytes ?? {})).size > 1;
  const problems = [...result.warmup, ...result.runs].filter(
    (run) => run.error || run.toolWarning || run.sendErrors || (run.shrunkIsr?.length ?? 0) > 0 || unevenReplicas(run),
  );
  if (result.error || problems.length > 0) {
    lines.push("", "Problems:");
    if (result.error) lines.push(`- ${result.error.split("\n")[0]}`);
    for (const run of problems) {
      const what = [
        run.error,
        run.toolWarning,
        run.sendErrors &&
          `send errors: ${Object.entries(run.sendErrors)
            .map(([message, n]) => `${n} × ${message}`)
            .join("; ")
            .slice(0, 600)}`,
        run.shrunkIsr?.length && `ISR not full after the run: ${run.shrunkIsr.map((p) => `partition ${p.partition} [${p.isr}] of [${p.replicas}]`).join(", ")}`,
        unevenReplicas(run) && `the brokers hold different amounts of the topic after stopping: ${JSON.stringify(run.replicaLogBytes)} bytes of .log`,
      ].filter(Boolean);
      lines.push(`- ${run.kind} ${run.name}: ${what.join("; ")}`);
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
}

function ratios(kafka: ClusterResult, sluice: ClusterResult): Ratio[] {
  const rows: Ratio[] = [];
  const usable = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);
  const add = (figure: string, k: number | null | undefined, s: number | null | undefined) => {
    rows.push({ figure, kafka: usable(k) ? k : null, sluice: usable(s) ? s : null, ratio: usable(k) && usable(s) && k !== 0 ? s / k : null });
  };
  add("start: metadata process serving (ms; Kafka controller / etcd)", kafka.startup.metadataReadyMs, sluice.startup.metadataReadyMs);
  add("start: first spawn → all brokers answer ApiVersions (ms)", kafka.startup.brokersServingMs, sluice.startup.brokersServingMs);
  add("start: first spawn → all brokers list all brokers (ms)", kafka.startup.clusterReadyMs, sluice.startup.clusterReadyMs);
  add("start: brokers' spawn → all brokers list all brokers (ms)", kafka.startup.clusterReadyFromBrokerSpawnMs, sluice.startup.clusterReadyFromBrokerSpawnMs);
  const startCpu = (r: ClusterResult) => r.brokers.reduce((sum, b) => sum + (b.startupCpuSeconds ?? Number.NaN), 0);
  add(`start: CPU s of the ${brokerCount} brokers to serving`, startCpu(kafka), startCpu(sluice));
  for (const k of kafka.runs) {
    const found = sluice.runs.find((run) => run.name === k.name);
    // A failed run's CPU and memory say nothing: compare only runs that both completed.
    const s = found?.error || k.error ? undefined : found;
    const kk = k.error ? undefined : k;
    const label = runLabel(k);
    add(`${label}: records/s`, kk?.producer?.recordsPerSec, s?.producer?.recordsPerSec);
    add(`${label}: avg latency (ms)`, kk?.producer?.avgLatencyMs, s?.producer?.avgLatencyMs);
    add(`${label}: p50 (ms)`, kk?.producer?.p50Ms, s?.producer?.p50Ms);
    add(`${label}: p99 (ms)`, kk?.producer?.p99Ms, s?.producer?.p99Ms);
    add(`${label}: p99.9 (ms)`, kk?.producer?.p999Ms, s?.producer?.p999Ms);
    add(`${label}: brokers' CPU s / M records`, kk?.measure?.brokerCpuSecondsPerMillion, s?.measure?.brokerCpuSecondsPerMillion);
    add(`${label}: metadata process CPU s / M records`, kk?.measure?.metadataCpuSecondsPerMillion, s?.measure?.metadataCpuSecondsPerMillion);
    if (k.kind === "throughput") {
      const peak = (r: RunResult | undefined) => (r?.measure ? Math.max(...r.measure.brokers.map((b) => b.peakRssKiB)) / 1024 : undefined);
      const sum = (r: RunResult | undefined) => (r?.measure ? r.measure.brokers.reduce((total, b) => total + b.peakRssKiB, 0) / 1024 : undefined);
      add(`${label}: peak RSS of the largest broker (MiB)`, peak(kk), peak(s));
      add(`${label}: peak RSS of the ${brokerCount} brokers, summed (MiB)`, sum(kk), sum(s));
      add(
        `${label}: peak RSS of the metadata process (MiB)`,
        (kk?.measure?.metadata.peakRssKiB ?? Number.NaN) / 1024,
        (s?.measure?.metadata.peakRssKiB ?? Number.NaN) / 1024,
      );
    }
  }
  add("idle CPU after the warm-up (share of a core)", kafka.idleCpuShare, sluice.idleCpuShare);
  return rows;
}

function ratioTable(rows: Ratio[]): string {
  const value = (v: number | null) => (v === null ? "–" : Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2));
  const lines = ["### Sluice / Kafka (this run)", "", "| figure | Kafka | Sluice | Sluice/Kafka |", "| --- | ---: | ---: | ---: |"];
  for (const row of rows)
    lines.push(`| ${row.figure} | ${value(row.kafka)} | ${value(row.sluice)} | ${row.ratio === null ? "–" : `${row.ratio.toFixed(2)}×`} |`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`\n${signal}: killing the cluster's processes`);
    killAllSpawned(); // etcd and Kafka's JVMs; startSluice's own exit hook kills the Sluice brokers
    if (currentWorkDir && !flags.keep) rmSync(currentWorkDir, { recursive: true, force: true });
    process.exit(130);
  });
}

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
    warmupRecords,
    fixedRate,
    fixedRateRecords,
    brokers: brokerCount,
    partitions,
    replicationFactor,
    minInsyncReplicas,
    recordSize,
    acks,
    producer: "ProducerPerformance 4.4.0, one process, Kafka 4.4 client defaults besides acks (linger.ms=5, batch.size=16384, idempotent with acks=all)",
    kafkaHeap: `-Xms${kafkaBrokerHeap} -Xmx${kafkaBrokerHeap} (controller and each broker)`,
    toolHeap: `-Xmx${toolHeap}`,
    jvmFlags: "kafkaPerformanceJvmFlags (kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS)",
    sluiceOverrides,
    sluiceCommit,
  },
};

log(
  `bench:cluster ${clusters.join(" then ")}: ${brokerCount} brokers, topic ${partitions} partitions RF ${replicationFactor} min.insync.replicas ${minInsyncReplicas}; ` +
    `${records} × ${recordSize} B acks=${acks}, warm-up ${warmupRecords}, ${fixedRate > 0 ? `${fixedRateRecords} at ${fixedRate}/s` : "no fixed-rate run"}; ` +
    `load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(" ")}`,
);
if (loadavg()[0] > 1) log(`warning: the machine is busy already (load average ${loadavg()[0].toFixed(2)}); see the "others CPU s" columns`);

const results: Partial<Record<ClusterKind, ClusterResult>> = {};
for (const kind of clusters) {
  try {
    results[kind] = await benchCluster(kind);
    if (results[kind]?.error) process.exitCode = 1;
  } catch (error) {
    log(`\n${kind} cluster could not be benchmarked: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
if (Object.keys(results).length === 0) process.exit(1);

const ratioRows = results.kafka && results.sluice ? ratios(results.kafka, results.sluice) : undefined;
const report: string[] = [
  `## ${brokerCount}-broker Sluice vs ${brokerCount}-broker Apache Kafka ${kafkaVersion} (${startedAt.toISOString()}${quick ? ", quick" : ""})`,
  "",
  `ProducerPerformance: ${thousands(records)} × ${recordSize} B, acks=${acks}, --throughput -1, client defaults otherwise (linger.ms=5, batch.size=16384)` +
    `${fixedRate > 0 ? `; then ${thousands(fixedRateRecords)} at ${thousands(fixedRate)}/s with linger.ms=0` : ""}; each on a new topic of ${partitions} partitions, ` +
    `replication factor ${replicationFactor}, min.insync.replicas=${minInsyncReplicas}; warm-up ${thousands(warmupRecords)} records first (not reported). ` +
    `Load average at the start ${environment.loadAverageAtStart.map((v) => v.toFixed(2)).join(" ")} on ${cpus().length} cores.`,
  "",
];
for (const kind of clusters) {
  const result = results[kind];
  if (result) report.push(clusterTable(result), "");
}
if (ratioRows) report.push(ratioTable(ratioRows), "");
process.stdout.write(`\n${report.join("\n")}\n`);

const resultsDir = new URL("./results/", import.meta.url);
await mkdir(resultsDir, { recursive: true });
const file = new URL(
  `cluster-${startedAt
    .toISOString()
    .replaceAll(":", "-")
    .replace(/\.\d+Z$/, "Z")}.json`,
  resultsDir,
);
await writeFile(file, `${JSON.stringify({ environment, results, ratios: ratioRows }, null, 2)}\n`);
log(`results written to ${file.pathname}`);
