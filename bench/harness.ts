// What bench/broker-vs-kafka.ts (`npm run bench:broker`) and bench/compare.ts (`npm run bench:compare`)
// share: a broker (Kafka 4.4.0 or Sluice) behind one face, Kafka's perf tools run against it and
// their output parsed, and the broker's CPU and memory measured from /proc over each run.

import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, runJavaTool, startKafka } from "../test/helpers/kafka.js";
import {
  ChildCpuSampler,
  childPids,
  clockTicksPerSecond,
  type MemoryKiB,
  machineCpuSeconds,
  memoryKiB,
  RssSampler,
  staleBuildWarning,
  startSluice,
  waitUntilServing,
} from "../test/helpers/sluice.js";

export type BrokerKind = "kafka" | "sluice";
export type Acks = "1" | "all";

/** kafka-server-start.sh's default KAFKA_HEAP_OPTS: -Xmx1G -Xms1G. */
export const kafkaBrokerHeap = "1g";
/**
 * Given to EndToEndLatency's producer, consumer and (Kafka 4.4) admin client, on both brokers. The
 * admin client refuses a default.api.timeout.ms below its request.timeout.ms (30 s by default).
 */
export const endToEndProperties = { "default.api.timeout.ms": "5000", "request.timeout.ms": "5000" };
/** The tools' heap, as kafka-producer-perf-test.sh (-Xmx512M); set by runJavaTool. */
export const toolHeap = "512m";

export const log = (line: string) => process.stderr.write(`${line}\n`);
// ---------------------------------------------------------------------------------------------
// Brokers behind one face

export interface RunningBroker {
  kind: BrokerKind;
  /** What the tools connect to: the PLAINTEXT listener, or with `tls` the SSL one. */
  bootstrap: string;
  /** The PLAINTEXT listener (the start-up probe's; the same as `bootstrap` without `tls`). */
  plaintextBootstrap: string;
  /** Client configs every tool gets (security.protocol=SSL and the truststore with `tls`; none otherwise). */
  clientProperties: Record<string, string>;
  /** The same as a properties file, for the tools that take one (`--command-config`); undefined without `tls`. */
  clientConfigFile?: string;
  pid: number;
  startupMs: number;
  /** What the broker's own harness reports, for reference (Kafka: Metadata served, polled every 100 ms). */
  harnessStartupMs?: number;
  cpuSeconds(): number | null;
  memory(): MemoryKiB | null;
  /** SIGTERM and wait; the time it took and how it ended. */
  stop(): Promise<{ stopMs: number; exitCode?: number | null; clean: boolean; error?: string }>;
  kill(): Promise<void>;
  /** The end of what the broker wrote to stdout and stderr. */
  output(): string;
  workDir: string;
  logDir: string;
  port: number;
  /** Kafka's CONTROLLER listener (a restart must reuse it). */
  controllerPort?: number;
  /** The SSL listener's port, with `tls`. */
  sslPort?: number;
}

export interface LaunchOptions {
  /** Passed on as `bin/sluice start --override key=value`. */
  sluiceOverrides?: Record<string, string>;
  /** Run src/cli/main.ts through tsx instead of bin/sluice (dist/). */
  sluiceFromSource?: boolean;
  /** An existing log dir (a restart): Kafka is not formatted again. */
  logDir?: string;
  /** Ports of a restart: Kafka's KRaft quorum records its controller's endpoint at format time. */
  port?: number;
  controllerPort?: number;
  /** Fails if the broker does not answer within this long (default 60 s for Sluice, 180 s for Kafka). */
  startTimeoutMs?: number;
  /**
   * An SSL listener beside the PLAINTEXT one, with this keystore; the tools then connect to it only
   * (security.protocol=SSL). The PLAINTEXT listener stays for the start-up probe.
   */
  tls?: TlsMaterial;
  /** The SSL listener's port of a restart. */
  sslPort?: number;
}

// ---------------------------------------------------------------------------------------------
// TLS (--tls): one CA, the brokers' certificate, their keystore and the clients' truststore

export interface TlsMaterial {
  dir: string;
  /** JKS keystore: the server's RSA-2048 key and its certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1) signed by the CA. */
  keystore: string;
  /** JKS truststore holding the CA. */
  truststore: string;
  password: string;
  /** What the tools are given: security.protocol=SSL and the truststore (hostname verification on, as by default). */
  clientProperties: Record<string, string>;
  /** clientProperties as a properties file. */
  clientConfigFile: string;
}

/**
 * Makes the certificates with openssl and keytool in `dir`, as test/interop/tls.test.ts does: a
 * self-signed CA, a server certificate for localhost and 127.0.0.1, a PKCS12 file turned into a
 * JKS keystore, and a JKS truststore with the CA. A few seconds; once per run, both brokers use it.
 */
export async function makeTlsMaterial(dir: string): Promise<TlsMaterial> {
  const password = "bench-secret";
  const sh = (command: string, args: string[]) => execFileSync(command, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sluice Bench CA"]);
  await writeFile(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  sh("openssl", [
    ...["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
  ]);
  sh("openssl", [
    ...["pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem", "-name", "server", "-out", "server.p12"],
    ...["-passout", `pass:${password}`, "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"],
  ]);
  sh("keytool", [
    ...["-importkeystore", "-noprompt", "-srckeystore", "server.p12", "-srcstoretype", "PKCS12", "-srcstorepass", password],
    ...["-destkeystore", "server.jks", "-deststoretype", "JKS", "-deststorepass", password],
  ]);
  sh("keytool", ["-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.jks", "-storetype", "JKS", "-storepass", password]);
  const truststore = join(dir, "trust.jks");
  const clientProperties = {
    "security.protocol": "SSL",
    "ssl.truststore.location": truststore,
    "ssl.truststore.password": password,
    "ssl.truststore.type": "JKS",
  };
  const clientConfigFile = join(dir, "client-ssl.properties");
  await writeFile(clientConfigFile, propertiesText(clientProperties));
  await readFile(join(dir, "server.jks")); // made, or keytool threw above
  return { dir, keystore: join(dir, "server.jks"), truststore, password, clientProperties, clientConfigFile };
}

/** The same SSL settings for both brokers (Kafka's keys; Sluice reads them alike): no client authentication. */
function brokerSslSettings(tls: TlsMaterial): Record<string, string> {
  return {
    "ssl.keystore.type": "JKS",
    "ssl.keystore.location": tls.keystore,
    "ssl.keystore.password": tls.password,
    "ssl.key.password": tls.password,
    "ssl.truststore.type": "JKS",
    "ssl.truststore.location": tls.truststore,
    "ssl.truststore.password": tls.password,
  };
}

const propertiesText = (properties: Record<string, string>) =>
  Object.entries(properties)
    .map(([key, value]) => `${key}=${value}\n`)
    .join("");

async function distinctFreePort(taken: (number | undefined)[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.includes(port)) return port;
  }
}

export async function launch(kind: BrokerKind, workDir: string, options: LaunchOptions = {}): Promise<RunningBroker> {
  const sluiceOverrides = options.sluiceOverrides ?? {};
  const tls = options.tls;
  const port = options.port ?? (await freePort());
  const sslPort = tls ? (options.sslPort ?? (await distinctFreePort([port]))) : undefined;
  const clients = {
    bootstrap: `127.0.0.1:${sslPort ?? port}`,
    plaintextBootstrap: `127.0.0.1:${port}`,
    clientProperties: tls?.clientProperties ?? {},
    clientConfigFile: tls?.clientConfigFile,
    sslPort,
  };
  if (kind === "sluice") {
    const fromSource = options.sluiceFromSource ?? false;
    const stale = fromSource ? null : staleBuildWarning();
    if (stale) log(`warning: ${stale}`);
    const tlsOverrides: Record<string, string> = tls
      ? {
          listeners: `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort}`,
          "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL",
          ...brokerSslSettings(tls),
        }
      : {};
    const sluice = await startSluice({
      workDir,
      port,
      ...(options.logDir ? { logDir: options.logDir } : {}),
      // startKafka gives Kafka group.initial.rebalance.delay.ms=0 (as Kafka's own config/server.properties does): the same here.
      overrides: { "group.initial.rebalance.delay.ms": 0, ...tlsOverrides, ...sluiceOverrides },
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      ...(fromSource ? { script: fileURLToPath(new URL("../src/cli/main.ts", import.meta.url)), nodeArgs: ["--import", import.meta.resolve("tsx")] } : {}),
    });
    return {
      kind,
      ...clients,
      pid: sluice.pid,
      startupMs: sluice.startupMs,
      cpuSeconds: () => (sluice.cpuSeconds() === null ? null : treeCpuSeconds(sluice.pid)),
      memory: () => sluice.memoryKiB(),
      async stop() {
        const started = performance.now();
        const exitCode = await sluice.stop();
        return { stopMs: performance.now() - started, exitCode, clean: exitCode === 0 };
      },
      kill: () => sluice.kill(),
      output: () => `${sluice.stdout()}${sluice.stderr()}`.slice(-6000),
      workDir,
      logDir: sluice.logDir,
      port: sluice.port,
    };
  }
  // startKafka formats the log dir (a JVM of its own) before spawning the broker and polls Metadata
  // every 100 ms. For the same measure as Sluice's, probe ApiVersions every 5 ms alongside it and
  // count from the broker's spawn, which is startKafka's resolution minus its startupMs.
  // With TLS the listeners are given in full (startKafka's own list has PLAINTEXT and CONTROLLER only),
  // so the controller's port is chosen here. The inter-broker listener stays PLAINTEXT (one node: unused).
  const controllerPort = options.controllerPort ?? (tls ? await distinctFreePort([port, sslPort]) : undefined);
  const tlsProperties: Record<string, string> = tls
    ? {
        listeners: `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort},CONTROLLER://127.0.0.1:${controllerPort}`,
        "advertised.listeners": `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort},CONTROLLER://127.0.0.1:${controllerPort}`,
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        ...brokerSslSettings(tls),
      }
    : {};
  const startTimeoutMs = options.startTimeoutMs ?? 180_000;
  let giveUp = false;
  const probe = waitUntilServing(port, { intervalMs: 5, timeoutMs: startTimeoutMs, abort: () => (giveUp ? "startKafka failed" : null) });
  probe.catch(() => {});
  let kafka: Awaited<ReturnType<typeof startKafka>>;
  try {
    kafka = await startKafka({
      port,
      workDir,
      heap: kafkaBrokerHeap,
      startTimeoutMs,
      ...(options.logDir ? { logDir: options.logDir } : {}),
      ...(controllerPort ? { controllerPort } : {}),
      ...(tls ? { properties: tlsProperties } : {}),
    });
  } catch (error) {
    giveUp = true;
    throw error;
  }
  const spawnedAt = performance.now() - kafka.startupMs;
  const servingAt = await probe;
  return {
    kind,
    ...clients,
    pid: kafka.pid,
    startupMs: servingAt - spawnedAt,
    harnessStartupMs: kafka.startupMs,
    cpuSeconds: () => treeCpuSeconds(kafka.pid),
    memory: () => memoryKiB(kafka.pid),
    async stop() {
      const started = performance.now();
      try {
        await kafka.stop();
        return { stopMs: performance.now() - started, clean: true };
      } catch (error) {
        return { stopMs: performance.now() - started, clean: false, error: (error as Error).message.slice(0, 500) };
      }
    },
    kill: () => kafka.kill(),
    output: () => kafka.output().slice(-6000),
    workDir,
    logDir: kafka.logDir,
    port: kafka.port,
    controllerPort: kafka.controllerPort,
  };
}

/**
 * CPU seconds of a process tree so far: utime + stime of `pid` (all its threads) and of each live
 * descendant, plus cutime + cstime (what the children it has waited for used). Null once `pid` has
 * exited. Sluice and Kafka each run as one process today; this also counts any they spawn.
 */
export function treeCpuSeconds(pid: number): number | null {
  const own = procTimes(pid);
  if (own === null) return null;
  let total = own;
  for (const child of childPids(pid)) total += treeCpuSeconds(child) ?? 0;
  return total;
}

/** utime + stime + cutime + cstime of /proc/<pid>/stat in seconds, or null. */
function procTimes(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // stat(5) fields 14-17 (utime, stime, cutime, cstime) are indexes 11-14 here.
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / clockTicksPerSecond();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Tools and their output

export interface ProducerFigures {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export const producerSummary =
  /(\d+)( steady state)? records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\./g;

/**
 * The final summary line of ProducerPerformance (it also prints one like it every 5 s, without the
 * percentiles). With `steadyState` (a run with --warmup-records), the line Kafka 4.4 prints after it
 * for the records after the warm-up ("N steady state records sent, ...").
 */
export function parseProducerPerformance(stdout: string, steadyState = false): ProducerFigures | null {
  const last = [...stdout.matchAll(producerSummary)].filter((match) => (match[2] !== undefined) === steadyState).at(-1);
  if (!last) return null;
  const n = [last[1], ...last.slice(3)].map(Number);
  return { records: n[0], recordsPerSec: n[1], mbPerSec: n[2], avgLatencyMs: n[3], maxLatencyMs: n[4], p50Ms: n[5], p95Ms: n[6], p99Ms: n[7], p999Ms: n[8] };
}

/**
 * Several ProducerPerformance processes that ran at once, as one: records and records/s (MB/s)
 * summed, latencies the worst of them (the average weighted by records).
 */
export function combineProducerFigures(all: ProducerFigures[]): ProducerFigures {
  const records = all.reduce((sum, f) => sum + f.records, 0);
  const max = (pick: (f: ProducerFigures) => number) => Math.max(...all.map(pick));
  return {
    records,
    recordsPerSec: all.reduce((sum, f) => sum + f.recordsPerSec, 0),
    mbPerSec: all.reduce((sum, f) => sum + f.mbPerSec, 0),
    avgLatencyMs: all.reduce((sum, f) => sum + f.avgLatencyMs * f.records, 0) / Math.max(1, records),
    maxLatencyMs: max((f) => f.maxLatencyMs),
    p50Ms: max((f) => f.p50Ms),
    p95Ms: max((f) => f.p95Ms),
    p99Ms: max((f) => f.p99Ms),
    p999Ms: max((f) => f.p999Ms),
  };
}

export interface ConsumerFigures {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Joining the group (both brokers run with group.initial.rebalance.delay.ms=0, as Kafka's config/server.properties). */
  rebalanceMs: number;
  /** Fetching only (the run less the rebalance). */
  fetchMs: number;
  fetchRecordsPerSec: number;
  fetchMbPerSec: number;
}

/**
 * ConsumerPerformance's CSV line: start.time, end.time, data.consumed.in.MB, MB.sec,
 * data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec.
 */
export function parseConsumerPerformance(stdout: string): ConsumerFigures | null {
  const line = stdout
    .trim()
    .split("\n")
    .reverse()
    .find((candidate) => /^\d{4}-\d\d-\d\d /.test(candidate));
  if (line === undefined) return null;
  const fields = line.split(",").map((field) => field.trim());
  if (fields.length < 10) return null;
  const number = (index: number) => Number(fields[index]);
  return {
    mbPerSec: number(3),
    records: number(4),
    recordsPerSec: number(5),
    rebalanceMs: number(6),
    fetchMs: number(7),
    fetchMbPerSec: number(8),
    fetchRecordsPerSec: number(9),
  };
}

export interface LatencyFigures {
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/** EndToEndLatency: "Avg latency: X ms" (from nanoseconds) and "Percentiles: 50th = a, 99th = b, 99.9th = c" (whole ms, truncated). */
export function parseEndToEndLatency(stdout: string): LatencyFigures | null {
  const avg = /Avg latency: ([\d.]+) ms/.exec(stdout);
  const percentiles = /Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)/.exec(stdout);
  if (!avg || !percentiles) return null;
  return { avgMs: Number(avg[1]), p50Ms: Number(percentiles[1]), p99Ms: Number(percentiles[2]), p999Ms: Number(percentiles[3]) };
}

export function toolTimeoutMs(n: number, perRecordMs: number): number {
  return 180_000 + Math.ceil(n * perRecordMs);
}

export async function createTopic(broker: RunningBroker, topic: string, partitions = 1): Promise<string | null> {
  const result = await runJavaTool(
    "org.apache.kafka.tools.TopicCommand",
    [
      ...[
        "--bootstrap-server",
        broker.bootstrap,
        "--create",
        "--if-not-exists",
        "--topic",
        topic,
        "--partitions",
        String(partitions),
        "--replication-factor",
        "1",
      ],
      ...(broker.clientConfigFile ? ["--command-config", broker.clientConfigFile] : []),
    ],
    { quickStart: true, heap: "256m", timeoutMs: 120_000 },
  );
  if (result.code === 0) return null;
  const problem = `TopicCommand --create ${topic} exited with ${result.code}: ${(result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ")}`;
  if (broker.kind === "kafka") throw new Error(problem);
  return problem; // Sluice: the tools' own metadata requests may auto-create it
}

// ---------------------------------------------------------------------------------------------
// Scenarios

export interface Measured {
  /** Broker CPU seconds (utime + stime) over the run. */
  brokerCpuSeconds: number;
  /** brokerCpuSeconds per million records. */
  brokerCpuSecondsPerMillion: number;
  wallSeconds: number;
  /** Busy share of the whole machine (all cores, everything running) over the run, 0–1. */
  machineBusy: number;
  /** CPU seconds of the tool's JVM (the client) over the run. */
  clientCpuSeconds: number;
  /** CPU seconds of everything else on the machine (other work, this script): busy − broker − client. */
  otherCpuSeconds: number;
  /** Peak VmRSS of the broker sampled every 100 ms during the run. */
  peakRssKiB: number;
  /** Peak RssAnon: the same without resident pages of mapped files (mmap'd logs and indexes). */
  peakAnonKiB: number;
}

export interface ScenarioResult extends Measured {
  name: string;
  kind: "throughput" | "fixed-rate" | "end-to-end" | "consume";
  recordSize: number;
  acks: Acks;
  records: number;
  /** Records/s asked of a fixed-rate run. */
  rate?: number;
  topic: string;
  producer?: ProducerFigures;
  latency?: LatencyFigures;
  consumer?: ConsumerFigures;
  error?: string;
  /** The tool printed its figures but then exited non-zero (e.g. EndToEndLatency's final offset commit failed). */
  toolWarning?: string;
  topicWarning?: string;
}

export async function measured(broker: RunningBroker, recordCount: number, run: () => Promise<void>): Promise<Measured> {
  const sampler = new RssSampler(broker.pid, 100);
  const clients = new ChildCpuSampler(process.pid, 100);
  const cpuBefore = broker.cpuSeconds() ?? Number.NaN;
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  try {
    await run();
  } finally {
    sampler.stop();
  }
  const clientCpuSeconds = clients.stop([broker.pid]);
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuAfter = broker.cpuSeconds() ?? Number.NaN;
  const machineAfter = machineCpuSeconds();
  const brokerCpuSeconds = cpuAfter - cpuBefore;
  return {
    brokerCpuSeconds,
    brokerCpuSecondsPerMillion: (brokerCpuSeconds / recordCount) * 1e6,
    wallSeconds,
    machineBusy: (machineAfter.busy - machineBefore.busy) / Math.max(1e-9, machineAfter.total - machineBefore.total),
    clientCpuSeconds,
    otherCpuSeconds: machineAfter.busy - machineBefore.busy - brokerCpuSeconds - clientCpuSeconds,
    peakRssKiB: sampler.peakKiB,
    peakAnonKiB: sampler.peakAnonKiB,
  };
}

export interface ProducerSpec {
  name: string;
  kind: "throughput" | "fixed-rate";
  recordSize: number;
  acks: Acks;
  /** Records in all, warm-up included; split evenly over `processes`. */
  records: number;
  throughput: number;
  props?: string[];
  args?: string[];
  /** Default `perf-<name>`. */
  topic?: string;
  /** Partitions of the topic it creates (default 1). */
  partitions?: number;
  /** The topic exists already: do not run TopicCommand. */
  topicExists?: boolean;
  /** ProducerPerformance --warmup-records: report the steady-state line of the records after them. */
  warmupRecords?: number;
  /** ProducerPerformance processes at once (default 1), each with records / processes (and throughput / processes). */
  processes?: number;
}

export async function producerRun(broker: RunningBroker, spec: ProducerSpec): Promise<ScenarioResult> {
  const topic = spec.topic ?? `perf-${spec.name}`;
  const topicWarning = spec.topicExists ? undefined : ((await createTopic(broker, topic, spec.partitions ?? 1)) ?? undefined);
  let producer: ProducerFigures | undefined;
  let error: string | undefined;
  let toolWarning: string | undefined;
  const processes = spec.processes ?? 1;
  const perProcess = Math.ceil(spec.records / processes);
  const args = [
    "--topic",
    topic,
    "--num-records",
    String(perProcess),
    "--record-size",
    String(spec.recordSize),
    "--throughput",
    String(spec.throughput > 0 ? spec.throughput / processes : spec.throughput),
    ...(spec.warmupRecords ? ["--warmup-records", String(Math.ceil(spec.warmupRecords / processes))] : []),
    // Kafka 4.4's name for --producer-props (deprecated).
    "--command-property",
    `bootstrap.servers=${broker.bootstrap}`,
    ...Object.entries(broker.clientProperties).map(([key, value]) => `${key}=${value}`),
    `acks=${spec.acks}`,
    ...(spec.props ?? []),
    ...(spec.args ?? []),
  ];
  const figures = await measured(broker, perProcess * processes, async () => {
    const results = await Promise.all(
      Array.from({ length: processes }, () =>
        runJavaTool("org.apache.kafka.tools.ProducerPerformance", args, { heap: toolHeap, timeoutMs: toolTimeoutMs(perProcess, 2) }).catch(
          (failure: Error) => ({ code: -1, stdout: "", stderr: failure.message }),
        ),
      ),
    );
    const parsed = results.map((result) => parseProducerPerformance(result.stdout, Boolean(spec.warmupRecords)));
    const failed = results.findIndex((_, i) => !parsed[i]);
    const nonZero = results.find((result) => result.code !== 0);
    if (failed >= 0) error = `ProducerPerformance exited with ${results[failed].code}: ${tail(results[failed].stderr || results[failed].stdout)}`;
    else producer = combineProducerFigures(parsed as ProducerFigures[]);
    if (!error && nonZero) toolWarning = `ProducerPerformance exited with ${nonZero.code}: ${tail(nonZero.stderr || nonZero.stdout)}`;
  });
  return {
    name: spec.name,
    kind: spec.kind,
    recordSize: spec.recordSize,
    acks: spec.acks,
    records: perProcess * processes,
    rate: spec.throughput > 0 ? spec.throughput : undefined,
    topic,
    producer,
    error,
    toolWarning,
    topicWarning,
    ...figures,
  };
}

export async function endToEndRun(broker: RunningBroker, spec: { name: string; recordSize: number; acks: Acks; records: number }): Promise<ScenarioResult> {
  const topic = `e2e-${spec.name}`;
  const topicWarning = (await createTopic(broker, topic)) ?? undefined;
  let latency: LatencyFigures | undefined;
  let error: string | undefined;
  let toolWarning: string | undefined;
  // EndToEndLatency commits the consumer's offsets once at the end (after printing its figures); a
  // broker without OffsetCommit would hold it for the default 60 s. Its optional properties file
  // goes to both its producer and its consumer.
  const properties = join(broker.workDir, "end-to-end-latency.properties");
  await writeFile(properties, propertiesText({ ...endToEndProperties, ...broker.clientProperties }));
  // Named arguments: Kafka 4.4 warns that the positional ones will go in 5.0.
  const args = [
    "--bootstrap-server",
    broker.bootstrap,
    "--topic",
    topic,
    "--num-records",
    String(spec.records),
    "--producer-acks",
    spec.acks,
    "--record-size",
    String(spec.recordSize),
    "--command-config",
    properties,
  ];
  const figures = await measured(broker, spec.records, async () => {
    const result = await runJavaTool("org.apache.kafka.tools.EndToEndLatency", args, { heap: toolHeap, timeoutMs: toolTimeoutMs(spec.records, 50) }).catch(
      (failure: Error) => ({ code: -1, stdout: "", stderr: failure.message }),
    );
    latency = parseEndToEndLatency(result.stdout) ?? undefined;
    const problem = `EndToEndLatency exited with ${result.code}: ${tail(result.stderr || result.stdout)}`;
    if (!latency) error = problem;
    else if (result.code !== 0) toolWarning = problem;
  });
  return {
    name: spec.name,
    kind: "end-to-end",
    recordSize: spec.recordSize,
    acks: spec.acks,
    records: spec.records,
    topic,
    latency,
    error,
    toolWarning,
    topicWarning,
    ...figures,
  };
}

/**
 * ConsumerPerformance in a consumer group (--group, so the broker's group coordinator serves the
 * join, the assignment and the offset commits), reading the `records` a max-throughput run wrote.
 */
export async function consumerRun(
  broker: RunningBroker,
  spec: { name: string; topic: string; recordSize: number; acks: Acks; records: number },
): Promise<ScenarioResult> {
  let consumer: ConsumerFigures | undefined;
  let error: string | undefined;
  let toolWarning: string | undefined;
  const args = [
    "--bootstrap-server",
    broker.bootstrap,
    "--topic",
    spec.topic,
    "--num-records",
    String(spec.records),
    "--group",
    `bench-consume-${spec.name}`,
    "--timeout",
    "60000",
    ...(broker.clientConfigFile ? ["--command-config", broker.clientConfigFile] : []),
  ];
  const figures = await measured(broker, spec.records, async () => {
    const result = await runJavaTool("org.apache.kafka.tools.ConsumerPerformance", args, { heap: toolHeap, timeoutMs: toolTimeoutMs(spec.records, 2) }).catch(
      (failure: Error) => ({ code: -1, stdout: "", stderr: failure.message }),
    );
    consumer = parseConsumerPerformance(result.stdout) ?? undefined;
    const problem = `ConsumerPerformance exited with ${result.code}: ${tail(result.stderr || result.stdout)}`;
    if (!consumer || consumer.records < spec.records) error = consumer ? `consumed ${consumer.records} of ${spec.records} records; ${problem}` : problem;
    else if (result.code !== 0) toolWarning = problem;
  });
  return {
    name: spec.name,
    kind: "consume",
    recordSize: spec.recordSize,
    acks: spec.acks,
    records: spec.records,
    topic: spec.topic,
    consumer,
    error,
    toolWarning,
    ...figures,
  };
}

export function tail(text: string): string {
  return text.trim().split("\n").slice(-4).join(" | ").slice(-800);
}

export const sizeName = (size: number) => (size >= 1024 ? `${size / 1024}kb` : `${size}b`);

// ---------------------------------------------------------------------------------------------
// sluice perf: the native load generator (crates/perf), for the broker's own ceiling

/** `target/release/sluice-perf` (built by `npm run build:native`), or $SLUICE_PERF_BIN, as `sluice perf` finds it. */
const sluicePerfBinary = process.env.SLUICE_PERF_BIN ?? fileURLToPath(new URL("../target/release/sluice-perf", import.meta.url));

/** Runs `sluice-perf <args> --quiet`; `figures` is its final JSON line, null when it printed none. */
export function runSluicePerf(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; figures: Record<string, number | string | null> | null; stderr: string }> {
  return new Promise((resolve) =>
    execFile(sluicePerfBinary, [...args, "--quiet"], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (failure, stdout, stderr) => {
      let figures: Record<string, number | string | null> | null = null;
      try {
        figures = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Record<string, number | string | null>;
      } catch {
        // no figures: the caller reports stderr
      }
      resolve({ code: failure ? ((failure as { code?: number }).code ?? -1) : 0, figures, stderr });
    }),
  );
}

export interface NativeProducerSpec {
  name: string;
  recordSize: number;
  records: number;
  partitions: number;
  connections?: number;
  topic: string;
}

/**
 * `sluice-perf produce` against either broker: many batches in flight, no JVM, so what it reaches is
 * the broker's ceiling rather than the client's. The topic is created first (not measured).
 */
export async function nativeProducerRun(broker: RunningBroker, spec: NativeProducerSpec): Promise<ScenarioResult> {
  const topicWarning = (await createTopic(broker, spec.topic, spec.partitions)) ?? undefined;
  let producer: ProducerFigures | undefined;
  let error: string | undefined;
  const args = [
    "produce",
    "--bootstrap",
    broker.plaintextBootstrap,
    "--topic",
    spec.topic,
    "--records",
    String(spec.records),
    "--record-size",
    String(spec.recordSize),
    "--connections",
    String(spec.connections ?? 1),
  ];
  const figures = await measured(broker, spec.records, async () => {
    const result = await runSluicePerf(args, toolTimeoutMs(spec.records / 20, 1));
    const out = result.figures as Record<string, number> | null;
    if (out === null) {
      error = `sluice-perf exited with ${result.code}: ${tail(result.stderr)}`;
      return;
    }
    producer = {
      records: out.records,
      recordsPerSec: out.records_per_s,
      mbPerSec: out.payload_mb_per_s,
      avgLatencyMs: out.latency_mean_ms,
      maxLatencyMs: out.latency_max_ms,
      p50Ms: out.latency_p50_ms,
      p95Ms: Number.NaN,
      p99Ms: out.latency_p99_ms,
      p999Ms: out.latency_p999_ms,
    };
    if (result.code !== 0) error = `sluice-perf exited with ${result.code}: ${tail(result.stderr)}`;
  });
  return {
    name: spec.name,
    kind: "throughput",
    recordSize: spec.recordSize,
    acks: "1",
    records: spec.records,
    topic: spec.topic,
    producer,
    error,
    topicWarning,
    ...figures,
  };
}

// ---------------------------------------------------------------------------------------------
// Request round trip: one connection, one ApiVersions v3 request at a time

/** ApiVersions v3 (flexible header v2: client id "rtt", no tagged fields), correlation id `id`. */
function apiVersionsRequest(id: number): Buffer {
  const clientId = Buffer.from("rtt");
  const software = Buffer.from("rtt");
  const header = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 1);
  let at = header.writeInt16BE(18, 0);
  at = header.writeInt16BE(3, at);
  at = header.writeInt32BE(id, at);
  at = header.writeInt16BE(clientId.length, at);
  at += clientId.copy(header, at);
  header[at] = 0;
  const body = Buffer.concat([Buffer.from([software.length + 1]), software, Buffer.from([2]), Buffer.from("1"), Buffer.from([0])]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

/**
 * `count` ApiVersions round trips on one new connection to host:port, one at a time; each one's
 * microseconds are pushed to `micros` (so a failure keeps what was measured). Also `bench/rtt.ts`.
 */
export async function roundTrips(host: string, port: number, count: number, micros: number[]): Promise<void> {
  const { connect } = await import("node:net");
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    let pending: Buffer = Buffer.alloc(0);
    let answered: (() => void) | null = null;
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        pending = pending.subarray(4 + pending.readInt32BE(0));
        const done = answered;
        answered = null;
        done?.();
      }
    });
    const failed = new Promise<never>((_, reject) => socket.once("error", reject).once("close", () => reject(new Error("connection closed"))));
    failed.catch(() => {});
    for (let i = 0; i < count; i++) {
      const request = apiVersionsRequest(i);
      const started = process.hrtime.bigint();
      await Promise.race([
        new Promise<void>((resolve) => {
          answered = resolve;
          socket.write(request);
        }),
        failed,
      ]);
      micros.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  } finally {
    socket.destroy();
  }
}

/**
 * The broker's minimal request latency: `count` ApiVersions requests, each sent when the answer to
 * the one before arrived, from this process (Node, TCP_NODELAY). What it measures is the broker's
 * hand-offs between threads per request, which EndToEndLatency (fetch.max.wait.ms=0: a produce and
 * one or more fetches per record) pays several times per record.
 */
export async function roundTripRun(broker: RunningBroker, spec: { name: string; count: number }): Promise<ScenarioResult> {
  const [host, port] = broker.plaintextBootstrap.split(":");
  const micros: number[] = [];
  let error: string | undefined;
  const figures = await measured(broker, spec.count, async () => {
    try {
      await roundTrips(host as string, Number(port), spec.count, micros);
    } catch (failure) {
      error = `round trip failed after ${micros.length} requests: ${(failure as Error).message}`;
    }
  });
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN) / 1000;
  return {
    name: spec.name,
    kind: "end-to-end",
    recordSize: 0,
    acks: "1",
    records: spec.count,
    topic: "",
    latency: error
      ? undefined
      : { avgMs: sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length) / 1000, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999) },
    error,
    ...figures,
  };
}
