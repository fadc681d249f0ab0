// Sluice against Apache Kafka 4.4.0, every scenario of issue 12 §1, each broker fresh and alone on
// the machine, with Kafka's own perf tools (ProducerPerformance, ConsumerPerformance,
// EndToEndLatency from kafka-tools 4.4.0), --reps repetitions (3), medians and sluice/kafka ratios
// against the targets of issue 12 §4. Writes bench/results/compare-<start>.{md,json,svg}.
// How to run it and what the figures mean: bench/README.md.
//
//   npm run bench:compare -- [--scale S] [--reps N] [--only a,b] [--broker kafka|sluice|both]
//                            [--restart-log-gb G] [--rate R] [--sluice-override key=value]... [--keep]
//   npm run bench:compare -- --report bench/results/compare-<start>.json    (the table and chart again)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { kafkaVersion } from "../test/helpers/kafka.js";
import {
  type Acks,
  type BrokerKind,
  consumerRun,
  createTopic,
  endToEndRun,
  kafkaBrokerHeap,
  launch,
  log,
  nativeProducerRun,
  type ProducerSpec,
  producerRun,
  type RunningBroker,
  roundTripRun,
  type ScenarioResult,
  toolHeap,
} from "./harness.js";

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    scale: { type: "string", default: "1" },
    reps: { type: "string", default: "3" },
    only: { type: "string" },
    broker: { type: "string", default: "both" },
    "restart-log-gb": { type: "string" },
    rate: { type: "string", default: "10000" },
    "sluice-override": { type: "string", multiple: true, default: [] },
    keep: { type: "boolean", default: false },
    report: { type: "string" },
    undisturbed: { type: "boolean", default: false },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  process.stdout.write(
    [
      "npm run bench:compare -- [options]",
      "  --scale S                multiplies every record count (default 1; 0.05 for a quick look)",
      "  --reps N                 repetitions, each broker fresh in each (default 3); medians are reported",
      "  --only a,b               only the scenarios whose name contains one of these (see --list)",
      "  --broker kafka|sluice|both",
      "  --restart-log-gb G       log written before the kill -9 / restart scenario (default 10 × scale GB)",
      "  --rate R                 records/s of the fixed-rate runs (default 10,000)",
      "  --sluice-override k=v    passed to `bin/sluice start --override` (repeatable)",
      "  --keep                   keep the brokers' temp dirs",
      "  --list                   print the scenarios and exit",
      "  --report FILE            run nothing: write the .md and .svg of an earlier compare-*.json again",
      "  --undisturbed            with --report: medians only over the runs where other work used ≤ 10% of a core (-undisturbed.md/.svg)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

function usage(problem: string): never {
  process.stderr.write(`bench:compare: bad option ${problem}; see --help\n`);
  process.exit(2);
}

const scale = Number(flags.scale);
if (!(scale > 0)) usage(`--scale ${flags.scale}`);
const reps = Number(flags.reps);
if (!Number.isInteger(reps) || reps < 1) usage(`--reps ${flags.reps}`);
const fixedRate = Number(flags.rate);
if (!Number.isInteger(fixedRate) || fixedRate <= 0) usage(`--rate ${flags.rate}`);
const brokers: BrokerKind[] =
  flags.broker === "both" ? ["kafka", "sluice"] : flags.broker === "kafka" || flags.broker === "sluice" ? [flags.broker] : usage(`--broker ${flags.broker}`);
const restartLogGb = flags["restart-log-gb"] === undefined ? 10 * scale : Number(flags["restart-log-gb"]);
if (!(restartLogGb > 0)) usage(`--restart-log-gb ${flags["restart-log-gb"]}`);
const only = flags.only
  ?.split(",")
  .map((part) => part.trim())
  .filter(Boolean);
const sluiceOverrides = Object.fromEntries(
  flags["sluice-override"].map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) usage(`--sluice-override ${pair} (expected key=value)`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const scaled = (n: number, minimum = 1) => Math.max(minimum, Math.round(n * scale));

// ---------------------------------------------------------------------------------------------
// Scenarios

type Group = "produce" | "fixed-rate" | "consume" | "end-to-end" | "partitions-1000" | "native";

interface Scenario {
  name: string;
  group: Group;
  label: string;
  /** Runs it on a broker that has run the scenarios before it in this repetition. */
  run(broker: RunningBroker, ctx: RepContext): Promise<ScenarioResult>;
  /** Topic and partitions a produce scenario needs, created before the repetition's runs start. */
  topic?: { name: string; partitions: number };
}

interface RepContext {
  /** The topics produce scenarios wrote in this repetition, with how many records, if they succeeded. */
  written: Map<string, { records: number; recordSize: number }>;
}

const produceRecords = { 100: 1_000_000, 1024: 500_000, 102400: 10_000 } as const;

function produceScenario(
  name: string,
  label: string,
  spec: Omit<ProducerSpec, "name" | "kind" | "throughput" | "topic" | "topicExists"> & { partitions: number },
): Scenario {
  const topic = `cmp-${name}`;
  return {
    name,
    group: "produce",
    label,
    topic: { name: topic, partitions: spec.partitions },
    async run(broker, ctx) {
      const result = await producerRun(broker, { ...spec, name, kind: "throughput", throughput: -1, topic, topicExists: true });
      if (!result.error) ctx.written.set(topic, { records: result.records, recordSize: spec.recordSize });
      return result;
    },
  };
}

const scenarios: Scenario[] = [];
for (const partitions of [1, 16]) {
  const p = `p${partitions}`;
  const on = `${partitions} partition${partitions > 1 ? "s" : ""}`;
  scenarios.push(
    produceScenario(`100b-acks1-${p}`, `produce 100 B acks=1, ${on}`, { recordSize: 100, acks: "1", records: scaled(produceRecords[100]), partitions }),
    produceScenario(`1kb-acksall-${p}`, `produce 1 KB acks=all (idempotent), ${on}`, {
      recordSize: 1024,
      acks: "all",
      records: scaled(produceRecords[1024]),
      partitions,
    }),
  );
  for (const codec of ["lz4", "zstd", "snappy"]) {
    scenarios.push(
      produceScenario(`1kb-${codec}-${p}`, `produce 1 KB ${codec} acks=1, ${on}`, {
        recordSize: 1024,
        acks: "1",
        records: scaled(produceRecords[1024]),
        partitions,
        props: [`compression.type=${codec}`],
      }),
    );
  }
  scenarios.push(
    produceScenario(`100kb-acks1-${p}`, `produce 100 KB acks=1, ${on}`, {
      recordSize: 102_400,
      acks: "1",
      records: scaled(produceRecords[102_400], 200),
      partitions,
    }),
  );
}
// Transactions (kept from bench:broker): a commit every 100 ms, acks=all, idempotent.
scenarios.push(
  produceScenario("100b-txn100ms", "produce 100 B, transactions of 100 ms, 1 partition", {
    recordSize: 100,
    acks: "all",
    records: scaled(produceRecords[100]),
    partitions: 1,
    args: ["--transactional-id", "perf-txn", "--transaction-duration-ms", "100"],
  }),
);
/** Warm-up records of a fixed-rate run: 10 s of the rate, not scaled (the client's JIT needs time, not records). */
const fixedRateWarmup = fixedRate * 10;
const fixedRateMeasured = Math.max(fixedRate * 5, Math.round(fixedRate * 30 * scale));
for (const acks of ["1", "all"] as Acks[]) {
  const name = `rate-100b-acks${acks}`;
  scenarios.push({
    name,
    group: "fixed-rate",
    label: `produce ${fixedRate.toLocaleString("en-US")}/s 100 B acks=${acks}, linger.ms=0`,
    topic: { name: `cmp-${name}`, partitions: 1 },
    run: (broker) =>
      producerRun(broker, {
        name,
        kind: "fixed-rate",
        recordSize: 100,
        acks,
        records: fixedRateWarmup + fixedRateMeasured,
        throughput: fixedRate,
        warmupRecords: fixedRateWarmup,
        props: ["linger.ms=0"],
        topic: `cmp-${name}`,
        topicExists: true,
      }),
  });
}
scenarios.push({
  name: "consume-1kb",
  group: "consume",
  label: "consume 1 KB, 1 partition (ConsumerPerformance in a group)",
  topic: { name: "cmp-consume-1kb", partitions: 1 },
  async run(broker, ctx) {
    // Reads what "1kb-acksall-p1" wrote in this repetition; if that did not run, writes its own first (not measured).
    let topic = "cmp-1kb-acksall-p1";
    let written = ctx.written.get(topic);
    if (!written) {
      topic = "cmp-consume-1kb";
      const fill = await producerRun(broker, {
        name: "consume-1kb-fill",
        kind: "throughput",
        recordSize: 1024,
        acks: "1",
        records: scaled(produceRecords[1024]),
        throughput: -1,
        topic,
        topicExists: true,
      });
      if (fill.error) return { ...fill, name: "consume-1kb", kind: "consume", error: `writing the records to consume failed: ${fill.error}` };
      written = { records: fill.records, recordSize: 1024 };
    }
    return { ...(await consumerRun(broker, { name: "consume-1kb", topic, recordSize: 1024, acks: "1", records: written.records })), name: "consume-1kb" };
  },
});
for (const acks of ["1", "all"] as Acks[]) {
  const name = `e2e-1kb-acks${acks}`;
  scenarios.push({
    name,
    group: "end-to-end",
    label: `end to end 1 KB acks=${acks} (EndToEndLatency)`,
    run: async (broker) => ({ ...(await endToEndRun(broker, { name, recordSize: 1024, acks, records: scaled(10_000, 500) })), name }),
  });
}
/** Processes of the 1,000-partition scenario; each is a producer with the default (sticky) partitioner. */
const manyPartitionProcesses = 4;
scenarios.push({
  name: "1000p-100b-acks1",
  group: "partitions-1000",
  label: `produce 100 B acks=1, 1,000 partitions, ${manyPartitionProcesses} producers at once`,
  // Created in the run (1,000 partitions are not left around for the other scenarios).
  run: (broker) =>
    producerRun(broker, {
      name: "1000p-100b-acks1",
      kind: "throughput",
      recordSize: 100,
      acks: "1",
      records: scaled(produceRecords[100]),
      throughput: -1,
      topic: "cmp-1000p",
      partitions: 1000,
      processes: manyPartitionProcesses,
    }),
});

scenarios.push({
  name: "rtt-apiversions",
  group: "end-to-end",
  label: "request round trip (ApiVersions, one at a time on one connection)",
  run: (broker) => roundTripRun(broker, { name: "rtt-apiversions", count: scaled(40_000, 2_000) }),
});
// The same 100 B acks=1 load from sluice perf (crates/perf, no JVM) on 1 and on 1,000 partitions:
// the broker's own ceiling, where the Java tool's CPU caps both brokers (the ceiling rows).
for (const partitions of [1, 1000]) {
  const name = `native-100b-p${partitions}`;
  scenarios.push({
    name,
    group: "native",
    label: `sluice perf produce 100 B acks=1, ${partitions.toLocaleString("en-US")} partition${partitions > 1 ? "s" : ""}`,
    run: (broker) => nativeProducerRun(broker, { name, recordSize: 100, records: scaled(20_000_000), partitions, topic: `cmp-native-p${partitions}` }),
  });
}

const restartName = "restart-kill9";
const selected = (name: string) => !only || only.some((part) => name.includes(part));
const chosen = scenarios.filter((s) => selected(s.name));
const chosenScenarios = chosen;
const runRestart = selected(restartName);

if (flags.list) {
  for (const s of scenarios) process.stdout.write(`${s.name.padEnd(20)} ${s.label}\n`);
  process.stdout.write(`${restartName.padEnd(20)} restart after kill -9 with ${restartLogGb} GB of log (once per broker, after the repetitions)\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The machine

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  let java = "";
  try {
    java = execFileSync("sh", ["-c", "java -version 2>&1"], { encoding: "utf8" }).split("\n")[0].trim();
  } catch {
    java = "java: unknown";
  }
  return {
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "",
    memoryGiB: Math.round((Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 2 ** 20) * 10) / 10,
    kernel: readFileSync("/proc/version", "utf8").trim(),
    node: process.version,
    java,
  };
}

// ---------------------------------------------------------------------------------------------
// ListOffsets by hand: "serving the data" after a restart

/**
 * Sends ListOffsets v1 (latest) for partitions 0..n-1 of a topic; resolves with the sum of the end
 * offsets if every partition answers without error, otherwise with null.
 */
function listEndOffsets(port: number, topic: string, partitions: number, timeoutMs = 2_000): Promise<number | null> {
  const name = Buffer.from(topic);
  const clientId = Buffer.from("bench-compare");
  const body = Buffer.alloc(4 + 4 + 2 + name.length + 4 + partitions * 12);
  let at = body.writeInt32BE(-1, 0);
  at = body.writeInt32BE(1, at);
  at = body.writeInt16BE(name.length, at);
  at += name.copy(body, at);
  at = body.writeInt32BE(partitions, at);
  for (let p = 0; p < partitions; p++) {
    at = body.writeInt32BE(p, at);
    at = body.writeBigInt64BE(-1n, at);
  }
  const header = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  let h = header.writeInt32BE(header.length - 4 + body.length, 0);
  h = header.writeInt16BE(2, h); // ListOffsets
  h = header.writeInt16BE(1, h);
  h = header.writeInt32BE(0x1157, h);
  h = header.writeInt16BE(clientId.length, h);
  clientId.copy(header, h);
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    const finish = (value: number | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(null));
    socket.on("error", () => finish(null));
    socket.on("close", () => finish(null));
    socket.on("connect", () => socket.write(Buffer.concat([header, body])));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      try {
        const r = received.subarray(4);
        let at = 4; // correlation id
        const topics = r.readInt32BE(at);
        at += 4;
        let total = 0;
        let seen = 0;
        for (let t = 0; t < topics; t++) {
          at += 2 + r.readInt16BE(at);
          const count = r.readInt32BE(at);
          at += 4;
          for (let p = 0; p < count; p++) {
            const error = r.readInt16BE(at + 4);
            const offset = Number(r.readBigInt64BE(at + 14));
            at += 22;
            if (error !== 0) return finish(null);
            total += offset;
            seen++;
          }
        }
        finish(seen === partitions ? total : null);
      } catch {
        finish(null);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Running

interface RepResult {
  broker: BrokerKind;
  rep: number;
  startupMs: number | null;
  rssAfterStartKiB: number | null;
  /** VmHWM at the end of the repetition: the peak over the broker's whole life. */
  hwmKiB: number | null;
  stopMs: number | null;
  error?: string;
  scenarios: ScenarioResult[];
}

interface RestartResult {
  broker: BrokerKind;
  logBytes: number;
  records: number;
  fillRecordsPerSec: number | null;
  /** Each restart: spawn → ApiVersions; launch → every partition's end offset served by ListOffsets. */
  restarts: { apiVersionsMs: number; dataMs: number | null; endOffsets: number | null; error?: string }[];
  error?: string;
}

const plannedSteps = (chosen.length > 0 ? reps : 0) * brokers.length * (chosen.length + 1) + (runRestart ? brokers.length : 0);
let stepsDone = 0;
const runStarted = performance.now();
const clock = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
};
function progress(what: string): void {
  const elapsed = performance.now() - runStarted;
  const eta = stepsDone > 0 ? ` (about ${clock((elapsed / stepsDone) * (plannedSteps - stepsDone))} left)` : "";
  log(`[${String(stepsDone + 1).padStart(3)}/${plannedSteps}] ${clock(elapsed)}${eta}  ${what}`);
}

const failedScenario = (s: Scenario, error: string): ScenarioResult => ({
  name: s.name,
  kind: s.group === "consume" ? "consume" : s.group === "end-to-end" ? "end-to-end" : s.group === "fixed-rate" ? "fixed-rate" : "throughput",
  recordSize: 0,
  acks: "1",
  records: 0,
  topic: s.topic?.name ?? "",
  error,
  brokerCpuSeconds: Number.NaN,
  brokerCpuSecondsPerMillion: Number.NaN,
  wallSeconds: 0,
  machineBusy: Number.NaN,
  clientCpuSeconds: Number.NaN,
  otherCpuSeconds: Number.NaN,
  peakRssKiB: 0,
  peakAnonKiB: 0,
});

async function runRep(kind: BrokerKind, rep: number): Promise<RepResult> {
  const workDir = await mkdtemp(join(tmpdir(), `bench-compare-${kind}-`));
  const result: RepResult = { broker: kind, rep, startupMs: null, rssAfterStartKiB: null, hwmKiB: null, stopMs: null, scenarios: [] };
  progress(`rep ${rep}/${reps} ${kind}: start (fresh log dir), warm-up, topics`);
  let broker: RunningBroker | undefined;
  try {
    broker = await launch(kind, workDir, { sluiceOverrides });
    result.startupMs = broker.startupMs;
    result.rssAfterStartKiB = broker.memory()?.rss ?? null;
    // Warm-up, not reported: the broker's JIT, and the consumer-offsets topic EndToEndLatency's final commit creates.
    await producerRun(broker, { name: "warmup", kind: "throughput", recordSize: 100, acks: "1", records: scaled(200_000, 20_000), throughput: -1 });
    await endToEndRun(broker, { name: "warmup", recordSize: 100, acks: "1", records: 500 });
    // Topics first, three TopicCommand JVMs at a time (TopicCommand is a JVM start each).
    const topics = chosen.flatMap((s) => (s.topic ? [s.topic] : []));
    const b = broker;
    const topicProblems = new Map<string, string>();
    for (let i = 0; i < topics.length; i += 3) {
      await Promise.all(
        topics.slice(i, i + 3).map(async (t) => {
          const problem = await createTopic(b, t.name, t.partitions).catch((error: Error) => error.message);
          if (problem) topicProblems.set(t.name, problem);
        }),
      );
    }
    stepsDone++;
    log(
      `      serving after ${broker.startupMs.toFixed(0)} ms; ${topics.length} topics created${topicProblems.size ? `, ${topicProblems.size} with problems` : ""}`,
    );
    const ctx: RepContext = { written: new Map() };
    for (const s of chosen) {
      progress(`rep ${rep}/${reps} ${kind}: ${s.name}`);
      let r: ScenarioResult;
      if (broker.cpuSeconds() === null) {
        r = failedScenario(s, `the broker had exited before this scenario; its output ends with:\n${broker.output()}`);
      } else {
        try {
          r = await s.run(broker, ctx);
        } catch (error) {
          r = failedScenario(s, (error as Error).message);
        }
        const problem = s.topic && topicProblems.get(s.topic.name);
        if (problem) r.topicWarning = problem;
        if (broker.cpuSeconds() === null && !r.error) r.error = `the broker exited during the run; its output ends with:\n${broker.output()}`;
      }
      result.scenarios.push(r);
      stepsDone++;
      log(`      ${summary(r)}`);
    }
  } catch (error) {
    result.error = (error as Error).message;
    log(`      failed: ${result.error.slice(0, 2000)}`);
    for (const s of chosen)
      if (!result.scenarios.some((r) => r.name === s.name)) result.scenarios.push(failedScenario(s, `not run: ${result.error.slice(0, 300)}`));
    stepsDone = Math.min(plannedSteps, stepsDone + chosen.length + 1 - result.scenarios.length);
  } finally {
    if (broker) {
      result.hwmKiB = broker.memory()?.hwm ?? null;
      const stopped = await broker.stop();
      result.stopMs = stopped.stopMs;
    }
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
  }
  return result;
}

function summary(r: ScenarioResult): string {
  if (r.error) return `${r.name}: FAILED ${r.error.split("\n")[0].slice(0, 300)}`;
  const cpu = `broker CPU ${r.brokerCpuSecondsPerMillion.toFixed(2)} s/M records, client ${r.clientCpuSeconds.toFixed(1)} s, others ${r.otherCpuSeconds.toFixed(1)} s`;
  if (r.producer) return `${r.name}: ${Math.round(r.producer.recordsPerSec)} rec/s, ${r.producer.mbPerSec.toFixed(2)} MB/s, p99 ${r.producer.p99Ms} ms; ${cpu}`;
  if (r.consumer) return `${r.name}: ${Math.round(r.consumer.fetchRecordsPerSec)} rec/s, ${r.consumer.fetchMbPerSec.toFixed(2)} MB/s fetching; ${cpu}`;
  if (r.latency) return `${r.name}: avg ${r.latency.avgMs} ms, p99 ${r.latency.p99Ms} ms`;
  return r.name;
}

/** Writes `gb` GB (16 partitions, 100 KB records, acks=1), kills the broker with SIGKILL, restarts it three times. */
async function runRestartScenario(kind: BrokerKind): Promise<RestartResult> {
  const workDir = await mkdtemp(join(tmpdir(), `bench-restart-${kind}-`));
  const recordSize = 102_400;
  const partitions = 16;
  const records = Math.max(100, Math.ceil((restartLogGb * 1e9) / recordSize));
  const result: RestartResult = { broker: kind, logBytes: records * recordSize, records, fillRecordsPerSec: null, restarts: [] };
  progress(`${kind}: ${restartName}: writing ${restartLogGb} GB (${records} × 100 KB on ${partitions} partitions), then kill -9 and restart × 3`);
  let broker: RunningBroker | undefined;
  try {
    broker = await launch(kind, workDir, { sluiceOverrides });
    const fill = await producerRun(broker, {
      name: "restart-fill",
      kind: "throughput",
      recordSize,
      acks: "1",
      records,
      throughput: -1,
      topic: "cmp-restart",
      partitions,
    });
    if (fill.error) throw new Error(`writing the log failed: ${fill.error}`);
    result.fillRecordsPerSec = fill.producer?.recordsPerSec ?? null;
    const expected = await listEndOffsets(broker.port, "cmp-restart", partitions);
    const { port, controllerPort, logDir } = broker;
    for (let i = 0; i < 3; i++) {
      await broker.kill();
      const started = performance.now();
      broker = await launch(kind, workDir, { sluiceOverrides, port, controllerPort, logDir, startTimeoutMs: 900_000 });
      const apiVersionsMs = broker.startupMs;
      let endOffsets: number | null = null;
      const deadline = performance.now() + 900_000;
      while (endOffsets === null && performance.now() < deadline && broker.cpuSeconds() !== null) {
        endOffsets = await listEndOffsets(port, "cmp-restart", partitions);
        if (endOffsets === null) await new Promise((wake) => setTimeout(wake, 10));
      }
      const dataMs = endOffsets === null ? null : performance.now() - started;
      const restart: RestartResult["restarts"][number] = { apiVersionsMs, dataMs, endOffsets };
      if (endOffsets === null) restart.error = "ListOffsets never answered for every partition";
      else if (expected !== null && endOffsets !== expected) restart.error = `end offsets sum to ${endOffsets} after the restart, ${expected} before the kill`;
      result.restarts.push(restart);
      log(
        `      restart ${i + 1}: ApiVersions after ${apiVersionsMs.toFixed(0)} ms, every partition's end offset after ${dataMs?.toFixed(0) ?? "–"} ms${restart.error ? `; ${restart.error}` : ""}`,
      );
    }
  } catch (error) {
    result.error = (error as Error).message;
    log(`      failed: ${result.error.slice(0, 2000)}`);
  } finally {
    if (broker) await broker.stop();
    if (!flags.keep) await rm(workDir, { recursive: true, force: true });
    stepsDone++;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Medians, ratios, targets

const median = (values: number[]): number | null => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

interface Row {
  group: string;
  figure: string;
  unit: string;
  kafka: number | null;
  sluice: number | null;
  kafkaRuns: number[];
  sluiceRuns: number[];
  /** Runs that completed of those attempted, per broker. */
  kafkaOk: string;
  sluiceOk: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
  /** Higher is better (records/s) or lower (latency, CPU, memory, time). */
  higherBetter: boolean;
  /** Said after "met" / "not met", e.g. the ceiling the client leaves. */
  note?: string;
}

interface ResultsFile {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  machine: ReturnType<typeof machine>;
  loadAverageAtStart: number[];
  settings: Record<string, unknown>;
  reps: RepResult[];
  restart: RestartResult[];
  rows: Row[];
  /** The rows count only undisturbed runs (--report --undisturbed). */
  undisturbed?: boolean;
}

/** A run during which other work on the machine used more than 10% of a core ("others CPU s"). */
const disturbedRun = (r: ScenarioResult) => r.otherCpuSeconds / Math.max(1e-9, r.wallSeconds) > 0.1;

function buildRows(repResults: RepResult[], restarts: RestartResult[], options: { names?: Set<string>; undisturbed?: boolean } = {}): Row[] {
  const rows: Row[] = [];
  const chosen = options.names ? scenarios.filter((s) => options.names?.has(s.name)) : chosenScenarios;
  const of = (kind: BrokerKind) => repResults.filter((r) => r.broker === kind);
  const runsOf = (kind: BrokerKind, name: string) => of(kind).flatMap((r) => r.scenarios.filter((s) => s.name === name));
  const add = (
    group: string,
    figure: string,
    unit: string,
    pick: (kind: BrokerKind) => { values: number[]; attempted: number },
    target: { text: string; higherBetter: boolean; ok?: (ratio: number) => boolean },
  ) => {
    const k = pick("kafka");
    const s = pick("sluice");
    const kafka = median(k.values);
    const sluice = median(s.values);
    const ratio = kafka !== null && sluice !== null && kafka !== 0 ? sluice / kafka : null;
    rows.push({
      group,
      figure,
      unit,
      kafka,
      sluice,
      kafkaRuns: k.values,
      sluiceRuns: s.values,
      kafkaOk: `${k.values.length}/${k.attempted}`,
      sluiceOk: `${s.values.length}/${s.attempted}`,
      ratio,
      target: target.text,
      met: target.ok && ratio !== null ? target.ok(ratio) : null,
      higherBetter: target.higherBetter,
    });
  };
  const scenarioFigure = (name: string, value: (r: ScenarioResult) => number | undefined) => (kind: BrokerKind) => {
    const runs = runsOf(kind, name);
    const values = runs.filter((r) => !r.error && !(options.undisturbed && disturbedRun(r))).map((r) => value(r) ?? Number.NaN);
    return { values: values.filter((v) => Number.isFinite(v)), attempted: runs.length };
  };
  const atLeast = (x: number) => ({ text: `≥ ${x}×`, higherBetter: true, ok: (r: number) => r >= x });
  const atMost = (x: number) => ({ text: `≤ ${x}×`, higherBetter: false, ok: (r: number) => r <= x });
  const info = (higherBetter: boolean) => ({ text: "", higherBetter });

  const startups = (kind: BrokerKind) => ({ values: of(kind).flatMap((r) => (r.startupMs === null ? [] : [r.startupMs])), attempted: of(kind).length });
  add("broker", "start to serving", "ms", startups, atMost(0.1));
  add(
    "broker",
    "peak RSS (VmHWM over a repetition)",
    "MiB",
    (kind) => ({ values: of(kind).flatMap((r) => (r.hwmKiB === null ? [] : [r.hwmKiB / 1024])), attempted: of(kind).length }),
    atMost(0.25),
  );
  add(
    "broker",
    "RSS after start",
    "MiB",
    (kind) => ({ values: of(kind).flatMap((r) => (r.rssAfterStartKiB === null ? [] : [r.rssAfterStartKiB / 1024])), attempted: of(kind).length }),
    info(false),
  );
  // The tool's JVM shares the machine with the broker. Kafka's run used (client + broker) CPU
  // seconds per record; with the same CPU, a broker that cost nothing would let Sluice's run reach
  // at most that ÷ Sluice's client CPU per record: the highest throughput ratio this tool can show
  // on this machine. When the machine is saturated in both runs (machineBusy near 1), a target above
  // it cannot be met by any broker.
  const perMillion = (r: ScenarioResult, cpu: number) => (cpu / Math.max(1, r.records)) * 1e6;
  const ceilingRows = (s: (typeof scenarios)[number], what: string) => {
    const clientPerM = scenarioFigure(s.name, (r) => perMillion(r, r.clientCpuSeconds));
    add(s.group, `${s.label}: client (tool JVM) CPU s / M records`, "s/M", clientPerM, info(false));
    add(
      s.group,
      `${s.label}: machine busy (share of both cores over the run)`,
      "%",
      scenarioFigure(s.name, (r) => r.machineBusy * 100),
      info(false),
    );
    const clientK = median(clientPerM("kafka").values);
    const brokerK = median(scenarioFigure(s.name, (r) => r.brokerCpuSecondsPerMillion)("kafka").values);
    const clientS = median(clientPerM("sluice").values);
    const ceiling = clientK !== null && brokerK !== null && clientS ? (clientK + brokerK) / clientS : null;
    const rateRow = rows.findLast((row) => row.figure === `${s.label}: ${what}`);
    if (rateRow && ceiling !== null) rateRow.note = `ceiling ${ceiling.toFixed(2)}×`;
    rows.push({
      group: s.group,
      figure: `${s.label}: ${what} ceiling with a broker that costs no CPU ((Kafka's client + broker CPU) ÷ Sluice's client CPU, per record)`,
      unit: "×",
      kafka: null,
      sluice: null,
      kafkaRuns: [],
      sluiceRuns: [],
      kafkaOk: "–",
      sluiceOk: "–",
      ratio: ceiling,
      target: "",
      met: null,
      higherBetter: true,
    });
  };
  for (const s of chosen) {
    if (s.group === "produce" || s.group === "partitions-1000") {
      add(
        s.group,
        `${s.label}: records/s`,
        "rec/s",
        scenarioFigure(s.name, (r) => r.producer?.recordsPerSec),
        atLeast(1.5),
      );
      add(
        s.group,
        `${s.label}: broker CPU s / M records`,
        "s/M",
        scenarioFigure(s.name, (r) => r.brokerCpuSecondsPerMillion),
        atMost(0.5),
      );
      add(
        s.group,
        `${s.label}: producer p99`,
        "ms",
        scenarioFigure(s.name, (r) => r.producer?.p99Ms),
        info(false),
      );
      ceilingRows(s, "records/s");
    } else if (s.group === "fixed-rate") {
      add(
        s.group,
        `${s.label}: p50 (steady state)`,
        "ms",
        scenarioFigure(s.name, (r) => r.producer?.p50Ms),
        info(false),
      );
      add(
        s.group,
        `${s.label}: p99 (steady state)`,
        "ms",
        scenarioFigure(s.name, (r) => r.producer?.p99Ms),
        atMost(0.5),
      );
      add(
        s.group,
        `${s.label}: p99.9 (steady state)`,
        "ms",
        scenarioFigure(s.name, (r) => r.producer?.p999Ms),
        info(false),
      );
      add(
        s.group,
        `${s.label}: broker CPU s / M records`,
        "s/M",
        scenarioFigure(s.name, (r) => r.brokerCpuSecondsPerMillion),
        atMost(0.5),
      );
    } else if (s.group === "consume") {
      add(
        s.group,
        `${s.label}: MB/s (fetching)`,
        "MB/s",
        scenarioFigure(s.name, (r) => r.consumer?.fetchMbPerSec),
        atLeast(1.5),
      );
      add(
        s.group,
        `${s.label}: records/s (fetching)`,
        "rec/s",
        scenarioFigure(s.name, (r) => r.consumer?.fetchRecordsPerSec),
        info(true),
      );
      add(
        s.group,
        `${s.label}: broker CPU s / M records`,
        "s/M",
        scenarioFigure(s.name, (r) => r.brokerCpuSecondsPerMillion),
        atMost(0.5),
      );
      ceilingRows(s, "MB/s (fetching)");
    } else if (s.group === "end-to-end") {
      add(
        s.group,
        `${s.label}: avg`,
        "ms",
        scenarioFigure(s.name, (r) => r.latency?.avgMs),
        // The round trip is evidence for the end-to-end rows, not a target of its own.
        s.name.startsWith("rtt-") ? info(false) : atMost(0.5),
      );
      add(
        s.group,
        `${s.label}: p99`,
        "ms",
        scenarioFigure(s.name, (r) => r.latency?.p99Ms),
        info(false),
      );
    }
  }
  /** `many`'s records/s over `one`'s, per repetition, each broker against itself; Sluice's target ≥ 0.8. */
  const selfRatioRow = (group: string, many: string, one: string, figure: string) => {
    const ratios = (kind: BrokerKind) => {
      const values = of(kind).flatMap((rep) => {
        const rate = (name: string) =>
          rep.scenarios.find((x) => x.name === name && !x.error && !(options.undisturbed && disturbedRun(x)))?.producer?.recordsPerSec;
        const numerator = rate(many);
        const denominator = rate(one);
        return numerator !== undefined && denominator ? [numerator / denominator] : [];
      });
      return { values, attempted: of(kind).length };
    };
    const k = ratios("kafka");
    const s = ratios("sluice");
    const sluice = median(s.values);
    rows.push({
      group,
      figure,
      unit: "×",
      kafka: median(k.values),
      sluice,
      kafkaRuns: k.values,
      sluiceRuns: s.values,
      kafkaOk: `${k.values.length}/${k.attempted}`,
      sluiceOk: `${s.values.length}/${s.attempted}`,
      ratio: null,
      target: "Sluice ≥ 0.8",
      met: sluice === null ? null : sluice >= 0.8,
      higherBetter: true,
    });
  };
  for (const s of chosen.filter((x) => x.group === "native")) {
    add(
      s.group,
      `${s.label}: records/s`,
      "rec/s",
      scenarioFigure(s.name, (r) => r.producer?.recordsPerSec),
      info(true),
    );
    add(
      s.group,
      `${s.label}: broker CPU s / M records`,
      "s/M",
      scenarioFigure(s.name, (r) => r.brokerCpuSecondsPerMillion),
      info(false),
    );
    add(
      s.group,
      `${s.label}: p99`,
      "ms",
      scenarioFigure(s.name, (r) => r.producer?.p99Ms),
      info(false),
    );
  }
  if (chosen.some((s) => s.name === "native-100b-p1") && chosen.some((s) => s.name === "native-100b-p1000")) {
    selfRatioRow(
      "native",
      "native-100b-p1000",
      "native-100b-p1",
      "1,000 partitions records/s ÷ 1 partition records/s with sluice perf (the broker's own ceiling), each broker against itself",
    );
  }
  const many = chosen.find((s) => s.group === "partitions-1000");
  if (many) {
    add(
      "partitions-1000",
      `${many.label}: peak RSS during the run`,
      "MiB",
      scenarioFigure(many.name, (r) => r.peakRssKiB / 1024),
      atMost(0.25),
    );
    // Each broker against itself: 1,000 partitions over 1 partition (same record size and acks), per repetition.
    selfRatioRow(
      "partitions-1000",
      many.name,
      "100b-acks1-p1",
      "1,000 partitions records/s ÷ 1 partition (100 B acks=1) records/s, each broker against itself",
    );
  }
  if (restarts.length > 0) {
    const restartFigure = (pick: (r: RestartResult["restarts"][number]) => number | null, first: boolean) => (kind: BrokerKind) => {
      const r = restarts.find((x) => x.broker === kind);
      const list = (r?.restarts ?? []).slice(0, first ? 1 : undefined);
      return { values: list.flatMap((x) => (pick(x) === null || x.error ? [] : [pick(x) as number])), attempted: first ? 1 : 3 };
    };
    const gb = restarts[0].logBytes / 1e9;
    add(
      "restart",
      `restart after kill -9 with ${gb.toFixed(1)} GB of log: first, to every partition's end offset (ListOffsets)`,
      "ms",
      restartFigure((x) => x.dataMs, true),
      info(false),
    );
    add(
      "restart",
      `restart after kill -9 with ${gb.toFixed(1)} GB of log: median of 3, to every partition's end offset`,
      "ms",
      restartFigure((x) => x.dataMs, false),
      info(false),
    );
    add(
      "restart",
      `restart after kill -9 with ${gb.toFixed(1)} GB of log: median of 3, to ApiVersions`,
      "ms",
      restartFigure((x) => x.apiVersionsMs, false),
      info(false),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Markdown and SVG

const num = (v: number | null, unit = "") => {
  if (v === null || !Number.isFinite(v)) return "–";
  if (unit === "×") return v.toFixed(2);
  const a = Math.abs(v);
  return a >= 1000 ? Math.round(v).toLocaleString("en-US") : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
};
const spread = (values: number[], unit: string) => (values.length > 1 ? ` (${num(Math.min(...values), unit)}–${num(Math.max(...values), unit)})` : "");

function markdown(file: ResultsFile): string {
  const m = file.machine;
  const lines = [
    `## Sluice vs Apache Kafka ${kafkaVersion}: \`npm run bench:compare\`, ${file.startedAt.slice(0, 10)}`,
    "",
    `- Run: \`${file.command}\`, ${file.startedAt} → ${file.finishedAt} (${clock(file.durationSeconds * 1000)}); load average at the start ${file.loadAverageAtStart.map((v) => v.toFixed(2)).join(" ")}.`,
    `- Machine: ${m.cores} cores (${m.model}), ${m.memoryGiB} GiB, ${m.kernel.split(" (")[0]}; Node ${m.node}; ${m.java}.`,
    `- Settings: ${Object.entries(file.settings)
      .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join("; ")}.`,
    `- Each figure is the median of the repetitions that completed${file.undisturbed ? ", **counting only the runs where other work on the machine used at most 10% of a core**" : ""} (their range in brackets); ratios are Sluice/Kafka of the medians. Targets from issue 12 §4.`,
    "",
    "| figure | Kafka | Sluice | Sluice/Kafka | target | met | runs K / S |",
    "| --- | ---: | ---: | ---: | --- | --- | --- |",
  ];
  for (const row of file.rows) {
    const u = row.unit === "×" ? "" : ` ${row.unit}`;
    lines.push(
      `| ${row.figure} | ${num(row.kafka, row.unit)}${row.kafka === null ? "" : u}${spread(row.kafkaRuns, row.unit)} | ${num(row.sluice, row.unit)}${row.sluice === null ? "" : u}${spread(row.sluiceRuns, row.unit)} | ${row.ratio === null ? "–" : `${row.ratio.toFixed(2)}×`} | ${row.target} | ${row.met === null ? (row.target ? "–" : "") : row.met ? "met" : "**not met**"}${row.note ? ` (${row.note})` : ""} | ${row.kafkaOk} / ${row.sluiceOk} |`,
    );
  }
  const targets = file.rows.filter((r) => r.met !== null);
  lines.push("", `Targets met: ${targets.filter((r) => r.met).length} of ${targets.length} with figures on both sides.`);
  const runs = file.reps.flatMap((rep) => rep.scenarios.filter((s) => !s.error));
  const disturbed = runs.filter(disturbedRun);
  lines.push(
    `Runs where other work on the machine used more than 10% of a core ("others CPU s" in the JSON): ${disturbed.length} of ${runs.length}` +
      (disturbed.length
        ? ` (${disturbed.map((s) => s.name).filter((name, i, all) => all.indexOf(name) === i).length} scenarios; highest ${Math.max(...disturbed.map((s) => (s.otherCpuSeconds / s.wallSeconds) * 100)).toFixed(0)}% of a core).`
        : "."),
  );
  const problems: string[] = [];
  for (const rep of file.reps) {
    if (rep.error) problems.push(`- rep ${rep.rep} ${rep.broker}: ${rep.error.split("\n")[0].slice(0, 400)}`);
    for (const s of rep.scenarios) {
      const what = [
        s.error && `failed: ${s.error.replace(/\s+/g, " ").slice(0, 400)}`,
        s.toolWarning && `after its figures: ${s.toolWarning.slice(0, 300)}`,
        s.topicWarning && `topic: ${s.topicWarning.slice(0, 300)}`,
      ].filter(Boolean);
      if (what.length) problems.push(`- rep ${rep.rep} ${rep.broker} ${s.name}: ${what.join("; ")}`);
    }
  }
  for (const r of file.restart) {
    if (r.error) problems.push(`- ${restartName} ${r.broker}: ${r.error.split("\n")[0].slice(0, 400)}`);
    for (const [i, x] of r.restarts.entries()) if (x.error) problems.push(`- ${restartName} ${r.broker} restart ${i + 1}: ${x.error}`);
  }
  if (problems.length) lines.push("", "Problems:", ...problems);
  return lines.join("\n");
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A horizontal bar per figure with a ratio: Sluice/Kafka on a log scale, 1× in the middle. Bars go
 * right when Sluice is better (for lower-is-better figures the bar shows Kafka/Sluice), green when
 * the target is met, red when not, grey without a target.
 */
function svgChart(file: ResultsFile): string {
  const rows = file.rows.filter((r) => r.ratio !== null);
  const width = 1100;
  const labelWidth = 600;
  const barArea = width - labelWidth - 120;
  const rowHeight = 18;
  const top = 56;
  const height = top + rows.length * rowHeight + 40;
  const span = 3; // log2 range each side: 1/8× … 8×
  const x0 = labelWidth + barArea / 2;
  const xOf = (advantage: number) => x0 + (Math.max(-span, Math.min(span, Math.log2(advantage))) / span) * (barArea / 2);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${escapeXml(`Sluice vs Apache Kafka ${kafkaVersion}: Sluice's advantage (log scale; right = Sluice better)`)}</text>`,
    `<text x="10" y="36">${escapeXml(`${file.startedAt.slice(0, 10)}, ${file.machine.cores} cores ${file.machine.model}, ${file.machine.memoryGiB} GiB; ${file.command}; medians of ${file.settings.reps} repetitions. Green: target met, red: not met, grey: no target.`)}</text>`,
  ];
  for (const tick of [-3, -2, -1, 0, 1, 2, 3]) {
    const x = x0 + (tick / span) * (barArea / 2);
    const label = tick >= 0 ? `${2 ** tick}×` : `1/${2 ** -tick}×`;
    parts.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${height - 30}" stroke="${tick === 0 ? "#333" : "#ddd"}"/>`);
    parts.push(`<text x="${x}" y="${height - 16}" text-anchor="middle">${label}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const advantage = row.higherBetter ? (row.ratio as number) : 1 / (row.ratio as number);
    const x = xOf(advantage);
    const color = row.met === null ? "#999" : row.met ? "#2a9d4b" : "#d1495b";
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 12}" text-anchor="end">${escapeXml(row.figure.length > 95 ? `${row.figure.slice(0, 94)}…` : row.figure)}</text>`,
    );
    parts.push(`<rect x="${Math.min(x, x0)}" y="${y + 3}" width="${Math.max(1, Math.abs(x - x0))}" height="${rowHeight - 6}" fill="${color}"/>`);
    parts.push(`<text x="${width - 110}" y="${y + 12}">${escapeXml(`${(row.ratio as number).toFixed(2)}× ${row.target}`)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

async function writeOutputs(file: ResultsFile, base: string): Promise<void> {
  const dir = new URL("./results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL(`${base}.json`, dir), `${JSON.stringify(file, null, 2)}\n`);
  await writeFile(new URL(`${base}.md`, dir), `${markdown(file)}\n`);
  await writeFile(new URL(`${base}.svg`, dir), svgChart(file));
  log(`results: bench/results/${base}.md, .json, .svg`);
}

// ---------------------------------------------------------------------------------------------
// Main

if (flags.report) {
  const file = JSON.parse(await readFile(flags.report, "utf8")) as ResultsFile;
  let base = flags.report.replace(/^.*\//, "").replace(/\.json$/, "");
  // Rows are built again, so a report of an earlier run shows the figures this version derives.
  const names = new Set(file.reps.flatMap((rep) => rep.scenarios.map((s) => s.name)));
  file.rows = buildRows(file.reps, file.restart, { names, undisturbed: flags.undisturbed });
  if (flags.undisturbed) {
    file.undisturbed = true;
    base += "-undisturbed";
  }
  await writeOutputs(file, base);
  process.stdout.write(`${markdown(file)}\n`);
  process.exit(0);
}

const startedAt = new Date();
const load = loadavg();
log(
  `bench:compare: ${brokers.join(" and ")}, ${reps} repetitions × ${chosen.length} scenarios${runRestart ? ` + ${restartName} (${restartLogGb} GB)` : ""}, scale ${scale}; load average ${load.map((v) => v.toFixed(2)).join(" ")}`,
);
if (load[0] > 1) log(`warning: the machine is busy already (load average ${load[0].toFixed(2)}): figures will be noisy`);
const repResults: RepResult[] = [];
for (let rep = 1; rep <= (chosen.length > 0 ? reps : 0); rep++) {
  // Alternate which broker goes first, so a drift in the machine's load does not favour one.
  const order = rep % 2 === 1 ? brokers : [...brokers].reverse();
  for (const kind of order) repResults.push(await runRep(kind, rep));
}
const restartResults: RestartResult[] = [];
if (runRestart) for (const kind of brokers) restartResults.push(await runRestartScenario(kind));

const finishedAt = new Date();
const file: ResultsFile = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
  command: `npm run bench:compare${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
  machine: machine(),
  loadAverageAtStart: load,
  settings: {
    scale,
    reps,
    only: only ?? "all",
    fixedRate,
    fixedRateWarmupRecords: fixedRateWarmup,
    fixedRateMeasuredRecords: fixedRateMeasured,
    restartLogGb: runRestart ? restartLogGb : "not run",
    manyPartitionProcesses,
    kafkaBrokerHeap: `-Xms${kafkaBrokerHeap} -Xmx${kafkaBrokerHeap}`,
    toolHeap: `-Xmx${toolHeap}`,
    sluiceOverrides,
  },
  reps: repResults,
  restart: restartResults,
  rows: [],
};
file.rows = buildRows(repResults, restartResults);
const base = `compare-${startedAt
  .toISOString()
  .replaceAll(":", "-")
  .replace(/\.\d+Z$/, "Z")}`;
await writeOutputs(file, base);
process.stdout.write(`\n${markdown(file)}\n`);
log(`bench:compare took ${clock(file.durationSeconds * 1000)}`);
