// Apache Kafka 4.4.0 as a reference: a real broker, Kafka's own tools and its Java producer, run from
// the jars test/kafka/pom.xml resolves from Maven Central. Used by tests (test/interop/) to check
// Sluice's logs and behaviour against Kafka's, and by bench/ scripts to run Kafka's perf tools
// against either broker. Node builtins only. How-to, tool class names and measurements:
// docs/kafka-reference.md.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const kafkaVersion = "4.4.0";

// ---------------------------------------------------------------------------------------------
// Classpath and JVMs

interface ClasspathModule {
  kafkaClasspath(options?: { force?: boolean; log?: (line: string) => void }): Promise<string>;
  kafkaLog4jConfig: string;
}

// scripts/kafka-classpath.mjs is both the CLI (for shell scripts) and the implementation.
const classpathModuleUrl = new URL("../../scripts/kafka-classpath.mjs", import.meta.url).href;
let classpathModule: Promise<ClasspathModule> | undefined;
let classpath: Promise<string> | undefined;

function loadClasspathModule(): Promise<ClasspathModule> {
  classpathModule ??= import(classpathModuleUrl) as Promise<ClasspathModule>;
  return classpathModule;
}

/**
 * The classpath of Kafka 4.4.0's broker, tools and client plus the helpers in test/kafka. Runs Maven
 * (test/kafka/pom.xml) first when the build is missing or stale; the first run downloads ~80 MB.
 */
export function kafkaClasspath(): Promise<string> {
  classpath ??= loadClasspathModule()
    .then((module) => module.kafkaClasspath({ log: (line) => process.stderr.write(`${line}\n`) }))
    .catch((error: unknown) => {
      classpath = undefined;
      throw error;
    });
  return classpath;
}

/**
 * Kafka's own JVM flags (kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS). Tools and the broker get
 * these by default, so perf tools run as `kafka-*-perf-test.sh` would run them.
 */
export const kafkaPerformanceJvmFlags = [
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-Djava.awt.headless=true",
];

/**
 * For short-lived, correctness-only runs (DumpLogSegments, StorageTool, the test producer): the C1
 * compiler only and the serial GC start a JVM faster and use less CPU. Never for benchmarks.
 */
export const quickStartJvmFlags = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"];

export interface JavaRunOptions {
  /** Maximum heap, e.g. "512m" (the default: what kafka-producer-perf-test.sh uses). */
  heap?: string;
  /** Use quickStartJvmFlags instead of kafkaPerformanceJvmFlags. */
  quickStart?: boolean;
  /** More JVM flags, after the defaults (so they win). */
  jvmArgs?: string[];
  /** Root log level of Kafka's log4j (stderr): "WARN" by default. */
  logLevel?: string;
  /** Written to the process's stdin, which is then closed. */
  input?: string | Uint8Array;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) and rejected after this long; 120 s by default. */
  timeoutMs?: number;
}

export interface JavaRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const javaRunTimeoutMs_default = 120_000;

function javaExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java";
}

async function javaCommand(mainClass: string, args: string[], options: JavaRunOptions): Promise<string[]> {
  const [cp, module] = await Promise.all([kafkaClasspath(), loadClasspathModule()]);
  return [
    ...(options.quickStart ? quickStartJvmFlags : kafkaPerformanceJvmFlags),
    `-Xmx${options.heap ?? "512m"}`,
    // Java 17 prints System.out in the platform encoding (ASCII under LANG=C) unless told otherwise.
    "-Dfile.encoding=UTF-8",
    "-Dsun.stdout.encoding=UTF-8",
    "-Dsun.stderr.encoding=UTF-8",
    `-Dlog4j2.configurationFile=${module.kafkaLog4jConfig}`,
    `-Dsluice.kafka.log.level=${options.logLevel ?? "WARN"}`,
    ...(options.jvmArgs ?? []),
    "-cp",
    cp,
    mainClass,
    ...args,
  ];
}

/**
 * Runs a main class from the harness classpath (a Kafka tool, or a helper in test/kafka) to completion.
 * Class names of Kafka's tools are listed in docs/kafka-reference.md, e.g.
 * `runJavaTool("org.apache.kafka.tools.TopicCommand", ["--bootstrap-server", b, "--list"])`.
 */
export async function runJavaTool(mainClass: string, args: string[], options: JavaRunOptions = {}): Promise<JavaRunResult> {
  const command = await javaCommand(mainClass, args, options);
  const timeoutMs = options.timeoutMs ?? javaRunTimeoutMs_default;
  return new Promise((resolve, reject) => {
    const child = spawn(javaExecutable(options.env), command, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    // A tool that exits without reading its stdin must not crash this process with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      const output = Buffer.concat(stderr).toString("utf8").slice(-4000);
      reject(new Error(`${mainClass} did not finish within ${timeoutMs} ms; stderr ends with:\n${output}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
    });
  });
}

/**
 * Starts a main class from the harness classpath (as runJavaTool) and returns the running process,
 * its stdin, stdout and stderr piped: for long-running helpers the caller drives and stops, such as
 * test/kafka's sluice.kafka.GroupConsume group members. `timeoutMs` and `input` do not apply.
 */
export async function spawnJavaTool(mainClass: string, args: string[], options: JavaRunOptions = {}): Promise<ChildProcess> {
  const command = await javaCommand(mainClass, args, options);
  return spawn(javaExecutable(options.env), command, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
}

// ---------------------------------------------------------------------------------------------
// The broker

/** A port that was free a moment ago (bound to 0 on 127.0.0.1, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port from listen(0)"))));
    });
  });
}

/** Resident memory of a process in KiB (VmRSS in /proc/<pid>/status), or null if it is gone. */
export function residentKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export interface StartKafkaOptions {
  /** PLAINTEXT port on 127.0.0.1; a free one by default. */
  port?: number;
  /**
   * CONTROLLER port on 127.0.0.1; a free one by default. A restart on an existing log dir should pass
   * the first start's: the KRaft quorum formatted with --standalone records the controller's endpoint.
   */
  controllerPort?: number;
  /** Kafka's log.dirs (one directory). Default: `<workDir>/data`. Formatted unless it already is. */
  logDir?: string;
  /** Holds server.properties and kafka.out (the broker's stdout and stderr). Default: a new temp dir. */
  workDir?: string;
  /** Added to (and overriding) the generated server.properties. */
  properties?: Record<string, string | number | boolean>;
  /**
   * `combined` (default): broker and controller in one JVM. `broker`: a broker only (process.roles=broker,
   * no CONTROLLER listener; the quorum is in `properties`). `controller`: a controller only (no PLAINTEXT
   * listener; ready once its CONTROLLER port accepts connections; no `.kafka_cleanshutdown`, which
   * only a broker's log manager writes).
   */
  role?: KafkaRole;
  /** Heap for -Xms and -Xmx: "512m" by default. */
  heap?: string;
  jvmArgs?: string[];
  /** Root log level written to kafka.out: "WARN" by default ("INFO" shows what Kafka does). */
  logLevel?: string;
  /** Fails if the broker does not serve Metadata within this long: 60 s by default. */
  startTimeoutMs?: number;
}

export type KafkaRole = "combined" | "broker" | "controller";

export interface KafkaBroker {
  /** "127.0.0.1:<port>" */
  bootstrap: string;
  role: KafkaRole;
  port: number;
  controllerPort: number;
  logDir: string;
  workDir: string;
  pid: number;
  clusterId: string;
  /** Milliseconds from spawning the JVM to serving Metadata (formatting not included). */
  startupMs: number;
  /** Milliseconds StorageTool format took (0 if the log dir was already formatted). */
  formatMs: number;
  /** VmRSS of the broker in KiB, null once it has exited. */
  residentKiB(): number | null;
  /** The last 64 KiB of the broker's stdout and stderr. */
  output(): string;
  /**
   * SIGTERM, then waits for Kafka's controlled shutdown (60 s at most, then SIGKILL) and throws
   * unless it left `.kafka_cleanshutdown` in the log dir (logs flushed, indexes trimmed).
   */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; no clean-shutdown marker. */
  kill(): Promise<void>;
}

const outputTailBytes_max = 64 * 1024;
const startTimeoutMs_default = 60_000;
const stopTimeoutMs_max = 60_000;
const probeIntervalMs = 100;
const probeTimeoutMs_max = 2_000;
const runningBrokers = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A Kafka cluster id: 16 random bytes as unpadded base64url, not starting with "-" (as Uuid.randomUuid()). */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

function serverProperties(options: { port: number; controllerPort: number; logDir: string; extra: StartKafkaOptions["properties"]; role?: KafkaRole }): string {
  const role = options.role ?? "combined";
  const plaintext = `PLAINTEXT://127.0.0.1:${options.port}`;
  const controller = `CONTROLLER://127.0.0.1:${options.controllerPort}`;
  const listeners = role === "broker" ? plaintext : role === "controller" ? controller : `${plaintext},${controller}`;
  const properties: Record<string, string | number | boolean> = {
    "process.roles": role === "combined" ? "broker,controller" : role,
    "node.id": 1,
    // KIP-853 dynamic quorum, as Kafka 4.4's config/server.properties; formatted with --standalone.
    "controller.quorum.bootstrap.servers": `127.0.0.1:${options.controllerPort}`,
    listeners,
    "advertised.listeners": listeners,
    "controller.listener.names": "CONTROLLER",
    ...(role === "controller" ? {} : { "inter.broker.listener.name": "PLAINTEXT" }),
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": options.logDir,
    "num.partitions": 1,
    "auto.create.topics.enable": true,
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "share.coordinator.state.topic.replication.factor": 1,
    "share.coordinator.state.topic.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    ...options.extra,
  };
  const lines = Object.entries(properties).map(([key, value]) => `${key}=${String(value)}`);
  return `# written by test/helpers/kafka.ts (startKafka)\n${lines.join("\n")}\n`;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that fails before stop() must not leave a JVM holding ports behind.
  process.once("exit", () => {
    for (const child of runningBrokers) child.kill("SIGKILL");
  });
}

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/**
 * Starts a single-node KRaft Apache Kafka 4.4.0 (broker and controller in one JVM) on 127.0.0.1 and
 * resolves once it answers a Metadata request listing itself. Formats the log dir first if needed.
 * The caller owns (and removes) workDir and logDir.
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  await kafkaClasspath(); // a Maven build, if one is due, is not part of formatMs
  const port = options.port ?? (await freePort());
  let controllerPort = options.controllerPort ?? (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), "sluice-kafka-")));
  await mkdir(workDir, { recursive: true });
  const logDir = options.logDir ?? join(workDir, "data");
  await mkdir(logDir, { recursive: true });
  const propertiesFile = join(workDir, "server.properties");
  const role = options.role ?? "combined";
  await writeFile(propertiesFile, serverProperties({ port, controllerPort, logDir, extra: options.properties, role }));

  let clusterId: string;
  let formatMs = 0;
  const metaProperties = join(logDir, "meta.properties");
  if (existsSync(metaProperties)) {
    clusterId = /^cluster\.id=(.+)$/m.exec(readFileSync(metaProperties, "utf8"))?.[1] ?? "";
  } else {
    clusterId = randomClusterId();
    const started = performance.now();
    const format = await runJavaTool("kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", propertiesFile, "--standalone"], {
      quickStart: true,
      heap: "256m",
    });
    formatMs = Math.round(performance.now() - started);
    if (format.code !== 0) throw new Error(`kafka.tools.StorageTool format failed (${format.code}):\n${format.stdout}${format.stderr}`);
  }

  const command = await javaCommand("kafka.Kafka", [propertiesFile], {
    heap: options.heap ?? "512m",
    jvmArgs: [`-Xms${options.heap ?? "512m"}`, ...(options.jvmArgs ?? [])],
    logLevel: options.logLevel,
  });
  const started = performance.now();
  const child = spawn(javaExecutable(), command, { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
  runningBrokers.add(child);
  installExitHook();
  const outputFile = createWriteStream(join(workDir, "kafka.out"));
  let tail = Buffer.alloc(0);
  const keep = (chunk: Buffer) => {
    outputFile.write(chunk);
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > outputTailBytes_max) tail = tail.subarray(tail.length - outputTailBytes_max);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      runningBrokers.delete(child);
      outputFile.end();
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const spawnError = new Promise<never>((_, reject) => child.on("error", reject));
  const output = () => tail.toString("utf8");

  const deadline = started + (options.startTimeoutMs ?? startTimeoutMs_default);
  for (;;) {
    if (hasExited) throw new Error(`Kafka exited during startup (${JSON.stringify(await exited)}); output ends with:\n${output()}`);
    try {
      if (role === "controller") {
        if (await Promise.race([accepts("127.0.0.1", controllerPort, probeTimeoutMs_max), spawnError])) break;
      } else {
        const brokers = await Promise.race([metadataBrokers("127.0.0.1", port, probeTimeoutMs_max), spawnError]);
        if (brokers.some((broker) => broker.port === port)) break;
      }
    } catch (error) {
      if (child.pid === undefined) throw error;
    }
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `Kafka did not serve ${role === "controller" ? `its controller port ${controllerPort}` : `Metadata on 127.0.0.1:${port}`} within ${options.startTimeoutMs ?? startTimeoutMs_default} ms; output ends with:\n${output()}`,
      );
    }
    await sleep(probeIntervalMs);
  }
  const startupMs = Math.round(performance.now() - started);
  const pid = child.pid!;

  const logDirs = String(options.properties?.["log.dirs"] ?? logDir).split(",");
  return {
    bootstrap: `127.0.0.1:${port}`,
    role,
    port,
    controllerPort,
    logDir,
    workDir,
    pid,
    clusterId,
    startupMs,
    formatMs,
    residentKiB: () => (hasExited ? null : residentKiB(pid)),
    output,
    async stop() {
      if (!hasExited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs_max);
        await exited;
        clearTimeout(timer);
      }
      const unclean = role === "controller" ? [] : logDirs.filter((dir) => !existsSync(join(dir, ".kafka_cleanshutdown")));
      if (unclean.length > 0) {
        throw new Error(
          `Kafka did not shut down cleanly (${JSON.stringify(await exited)}; no .kafka_cleanshutdown in ${unclean.join(", ")}); output ends with:\n${output()}`,
        );
      }
    },
    async kill() {
      if (!hasExited) child.kill("SIGKILL");
      await exited;
    },
  };
}

// Metadata v12 (flexible, topics = null) by hand: the probe must not depend on Sluice's own codec.
const metadataApiKey = 3;
const metadataVersion = 12;

function metadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from("sluice-kafka-probe");
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 1 + 1 + 1 + 1 + 1);
  let at = body.writeInt16BE(metadataApiKey, 0);
  at = body.writeInt16BE(metadataVersion, at);
  at = body.writeInt32BE(correlationId, at);
  at = body.writeInt16BE(clientId.length, at);
  at += clientId.copy(body, at);
  body[at++] = 0; // header tagged fields
  body[at++] = 0; // topics: null (compact array length 0) = all topics
  body[at++] = 0; // allow_auto_topic_creation
  body[at++] = 0; // include_topic_authorized_operations
  body[at++] = 0; // tagged fields
  const frame = Buffer.alloc(4 + body.length);
  frame.writeInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

class ResponseReader {
  at = 0;
  constructor(private readonly bytes: Buffer) {}
  int32(): number {
    const value = this.bytes.readInt32BE(this.at);
    this.at += 4;
    return value;
  }
  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.bytes[this.at++];
      if (byte === undefined || shift > 28) throw new Error("bad varint in Metadata response");
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
  }
  compactString(): string | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    const value = this.bytes.toString("utf8", this.at, this.at + length);
    this.at += length;
    return value;
  }
  skipTaggedFields(): void {
    for (let count = this.unsignedVarint(); count > 0; count--) {
      this.unsignedVarint();
      this.at += this.unsignedVarint();
    }
  }
}

/** Sends one Metadata v12 request and returns the brokers the response lists. */
/** Whether `host:port` accepts a TCP connection within `timeoutMs` (a controller-only node's readiness). */
function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function metadataBrokers(host: string, port: number, timeoutMs: number): Promise<{ nodeId: number; host: string; port: number }[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const correlationId = 7;
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no Metadata response from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on("error", fail);
    socket.on("connect", () => socket.write(metadataRequest(correlationId)));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.destroy();
      try {
        const reader = new ResponseReader(received.subarray(4, 4 + received.readInt32BE(0)));
        if (reader.int32() !== correlationId) throw new Error("Metadata response with the wrong correlation id");
        reader.skipTaggedFields();
        reader.int32(); // throttle_time_ms
        const brokers = [];
        for (let count = reader.unsignedVarint() - 1; count > 0; count--) {
          const nodeId = reader.int32();
          const brokerHost = reader.compactString() ?? "";
          const brokerPort = reader.int32();
          reader.compactString(); // rack
          reader.skipTaggedFields();
          brokers.push({ nodeId, host: brokerHost, port: brokerPort });
        }
        resolve(brokers);
      } catch (error) {
        reject(error);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Producing with Kafka's Java client

export type KafkaCompression = "none" | "gzip" | "snappy" | "lz4" | "zstd";

export interface JavaProducerRecord {
  /** Strings are sent as UTF-8; bytes as they are. */
  key: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: [string, string | Uint8Array | null][];
  /** CreateTime in ms; the producer's clock when absent or null. */
  timestamp?: number | null;
  partition?: number;
}

export interface ProduceWithJavaOptions {
  bootstrap: string;
  topic: string;
  /** For every record without its own; otherwise Kafka's partitioner decides. */
  partition?: number;
  records: JavaProducerRecord[];
  compression: KafkaCompression;
  acks?: "all" | "-1" | "0" | "1" | -1 | 0 | 1;
  /** enable.idempotence; Kafka's default (true with acks=all) when absent. */
  idempotent?: boolean;
  lingerMs?: number;
  batchSize?: number;
  /** Any other producer configs. */
  properties?: Record<string, string | number | boolean>;
  timeoutMs?: number;
  /** More JVM flags (system properties such as org.apache.kafka.sasl.oauthbearer.allowed.urls). */
  jvmArgs?: string[];
}

export interface ProducedRecord {
  partition: number;
  offset: number;
  timestamp: number;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function recordLine(record: JavaProducerRecord): string {
  const json: Record<string, unknown> = {};
  for (const field of ["key", "value"] as const) {
    const data = record[field];
    if (data instanceof Uint8Array) json[`${field}Base64`] = base64(data);
    else json[field] = data;
  }
  if (record.headers) json.headers = record.headers.map(([name, value]) => [name, value instanceof Uint8Array ? { base64: base64(value) } : value]);
  if (record.timestamp !== undefined && record.timestamp !== null) json.timestamp = record.timestamp;
  if (record.partition !== undefined) json.partition = record.partition;
  return JSON.stringify(json);
}

/**
 * Produces the records with Kafka 4.4.0's KafkaProducer (sluice.kafka.Produce in test/kafka): all
 * are sent, then awaited, so they batch as an application's would. Resolves with each record's
 * partition, offset and timestamp as the broker acknowledged them, in input order.
 */
export async function produceWithJava(options: ProduceWithJavaOptions): Promise<{ offsets: ProducedRecord[] }> {
  const properties: Record<string, string | number | boolean> = { "compression.type": options.compression };
  if (options.acks !== undefined) properties.acks = options.acks;
  if (options.idempotent !== undefined) properties["enable.idempotence"] = options.idempotent;
  if (options.lingerMs !== undefined) properties["linger.ms"] = options.lingerMs;
  if (options.batchSize !== undefined) properties["batch.size"] = options.batchSize;
  Object.assign(properties, options.properties);
  const args = ["--bootstrap", options.bootstrap, "--topic", options.topic];
  if (options.partition !== undefined) args.push("--partition", String(options.partition));
  for (const [key, value] of Object.entries(properties)) args.push("--property", `${key}=${String(value)}`);
  const input = options.records.map(recordLine).join("\n");
  const run = await runJavaTool("sluice.kafka.Produce", args, {
    input,
    quickStart: true,
    heap: "256m",
    timeoutMs: options.timeoutMs,
    jvmArgs: options.jvmArgs,
  });
  const lines = run.stdout.split("\n").filter((line) => line.trim().startsWith("{"));
  let results: (ProducedRecord & { error?: string })[];
  try {
    results = lines.map((line) => JSON.parse(line));
  } catch {
    throw new Error(`sluice.kafka.Produce printed something that is not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  const failed = results.filter((result) => result.error !== undefined);
  if (run.code !== 0 || failed.length > 0 || results.length !== options.records.length) {
    throw new Error(
      `sluice.kafka.Produce failed (exit ${run.code}, ${results.length - failed.length}/${options.records.length} acknowledged): ${failed[0]?.error ?? ""}\n${run.stderr}`,
    );
  }
  return { offsets: results.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp })) };
}

// ---------------------------------------------------------------------------------------------
// DumpLogSegments

/** Kafka's own decoders for its internal topics, by the --<name>-decoder flag that selects them. */
const internalTopicDecoders = ["offsets", "transaction-log", "cluster-metadata", "share-group-state", "remote-log-metadata"] as const;

export type DumpDecoder = "base64" | "string" | (typeof internalTopicDecoders)[number];

export interface DumpLogSegmentsOptions {
  /** --deep-iteration: list every record, not only batches. */
  deepIteration?: boolean;
  /** --print-data-log: keys and values too (implies deep iteration). */
  printDataLog?: boolean;
  /** --verify-index-only: check .index/.timeindex entries against the .log, print only problems. */
  verifyIndexOnly?: boolean;
  /** --index-sanity-check: the check Kafka runs at startup to decide whether to rebuild an index. */
  indexSanityCheck?: boolean;
  /**
   * How keys and values are printed (with printDataLog): "base64" (default) uses
   * sluice.kafka.Base64Decoder, so the parsed bytes are exact; "string" is Kafka's default
   * StringDecoder (what a person sees), parsed by the printed sizes, exact for valid UTF-8 only.
   * The others are Kafka's decoders for internal topics (--offsets-decoder, ...; they imply
   * printDataLog) and print JSON: key and payload are that text, keyBytes/payloadBytes undefined.
   */
  decoder?: DumpDecoder;
  /** Appended to the tool's arguments (--max-message-size, --max-bytes, ...; not --skip-record-metadata). */
  extraArgs?: string[];
}

export interface DumpedRecord {
  offset: number;
  /** "CreateTime" | "LogAppendTime" | "NoTimestampType" (the batch's). */
  timestampType: string;
  timestamp: number;
  /** -1 for a null key. */
  keySize: number;
  /** -1 for a null value. */
  valueSize: number;
  /** null for magic < 2, which prints no sequence or headers. */
  sequence: number | null;
  /** DumpLogSegments prints header keys only, joined with "," (so a key holding "," splits). */
  headerKeys: string[];
  /** UTF-8 text of the key: null for a null key, undefined if not printed (no printDataLog, control batch). */
  key: string | null | undefined;
  payload: string | null | undefined;
  keyBytes: Buffer | null | undefined;
  payloadBytes: Buffer | null | undefined;
  /** For control records: what Kafka printed about them, e.g. "endTxnMarker: COMMIT coordinatorEpoch: 0". */
  control: string | null;
  line: string;
}

export interface DumpedBatch {
  baseOffset: number;
  lastOffset: number;
  /** null when Kafka prints "null" (magic < 2). */
  count: number | null;
  baseSequence: number;
  lastSequence: number;
  producerId: number;
  producerEpoch: number;
  partitionLeaderEpoch: number;
  isTransactional: boolean;
  isControl: boolean;
  deleteHorizonMs: number | null;
  position: number;
  /** "CreateTime" | "LogAppendTime" | "NoTimestampType" */
  timestampType: string;
  maxTimestamp: number;
  size: number;
  magic: number;
  /** "none" | "gzip" | "snappy" | "lz4" | "zstd" */
  compressCodec: string;
  crc: number;
  isValid: boolean;
  records: DumpedRecord[];
  line: string;
}

export interface DumpedFile {
  path: string;
  kind: "log" | "index" | "timeindex" | "txnindex" | "producer-snapshot" | "metadata-snapshot" | "other";
  /** From "Log starting offset: N" (.log files). */
  baseOffset: number | null;
  batches: DumpedBatch[];
  indexEntries: { offset: number; position: number }[];
  timeIndexEntries: { timestamp: number; offset: number }[];
  /** "<file> is empty." (an index with no entries). */
  empty: boolean;
  /** "<file> passed sanity check." */
  passedSanityCheck: boolean;
  /** "Found N invalid bytes at the end of <file>". */
  invalidTrailingBytes: number;
  /** .snapshot producer entries and .txnindex aborted transactions, as Kafka's name: value pairs. */
  entries: Record<string, string>[];
  /** Lines this parser does not know. */
  otherLines: string[];
}

export interface DumpResult {
  code: number | null;
  stdout: string;
  stderr: string;
  files: DumpedFile[];
  /** Offset index entries whose offset is not the last offset of the batch at their position. */
  indexMismatches: { file: string; indexOffset: number; logOffset: number }[];
  /** Time index entries whose timestamp is not the max timestamp of their batch. */
  timeIndexMismatches: { file: string; indexTimestamp: number; logTimestamp: number }[];
  outOfOrderTimeIndexEntries: { file: string; indexTimestamp: number; previousTimestamp: number }[];
  /** Kafka does not say which file these are in. */
  indexedOffsetsNotFound: { indexOffset: number; logOffset: number }[];
  nonConsecutiveOffsets: { file: string; offset: number; next: number }[];
  /** Every stderr line that is not part of the lists above (exceptions, "Ignoring unknown file"). */
  errors: string[];
}

/** Runs org.apache.kafka.tools.DumpLogSegments over the files and parses what it prints. */
export async function dumpLogSegments(files: string[], options: DumpLogSegmentsOptions = {}): Promise<DumpResult> {
  const withComma = files.find((file) => file.includes(","));
  if (withComma) throw new Error(`DumpLogSegments takes a comma-separated --files list; cannot pass ${withComma}`);
  const decoder = options.decoder ?? "base64";
  const args = ["--files", files.join(",")];
  if (options.deepIteration) args.push("--deep-iteration");
  // Naming any decoder turns on --print-data-log, so the base64 one only when that is asked for.
  const printDataLog = options.printDataLog === true || (decoder !== "base64" && decoder !== "string");
  if (printDataLog) args.push("--print-data-log");
  if (options.printDataLog && decoder === "base64") {
    args.push("--key-decoder-class", "sluice.kafka.Base64Decoder", "--value-decoder-class", "sluice.kafka.Base64Decoder");
  } else if (decoder !== "base64" && decoder !== "string") {
    args.push(`--${decoder}-decoder`);
  }
  if (options.verifyIndexOnly) args.push("--verify-index-only");
  if (options.indexSanityCheck) args.push("--index-sanity-check");
  args.push(...(options.extraArgs ?? []));
  const run = await runJavaTool("org.apache.kafka.tools.DumpLogSegments", args, { quickStart: true, heap: "512m" });
  return {
    code: run.code,
    stdout: run.stdout,
    stderr: run.stderr,
    ...parseDumpLogSegments(run.stdout, run.stderr, { decoder, printDataLog }),
  };
}

const fieldPattern = /(\w+): (\S+)/g;

function fields(text: string): Map<string, string> {
  return new Map([...text.matchAll(fieldPattern)].map((match) => [match[1], match[2]]));
}

function integer(value: string | undefined, what: string): number {
  const number = Number(value);
  if (value === undefined || !Number.isSafeInteger(number)) throw new Error(`DumpLogSegments: expected an integer for ${what}, got ${value}`);
  return number;
}

const timestampTypes = ["CreateTime", "LogAppendTime", "NoTimestampType"];

function parseBatch(line: string): DumpedBatch {
  const values = fields(line);
  const timestampType = timestampTypes.find((type) => values.has(type)) ?? "NoTimestampType";
  const v2 = values.has("baseOffset");
  const horizon = /OptionalLong\[(-?\d+)\]/.exec(values.get("deleteHorizonMs") ?? "");
  const lastOffset = integer(values.get(v2 ? "lastOffset" : "offset"), "lastOffset");
  return {
    baseOffset: v2 ? integer(values.get("baseOffset"), "baseOffset") : lastOffset,
    lastOffset,
    count: values.get("count") === undefined || values.get("count") === "null" ? null : integer(values.get("count"), "count"),
    baseSequence: v2 ? integer(values.get("baseSequence"), "baseSequence") : -1,
    lastSequence: v2 ? integer(values.get("lastSequence"), "lastSequence") : -1,
    producerId: v2 ? integer(values.get("producerId"), "producerId") : -1,
    producerEpoch: v2 ? integer(values.get("producerEpoch"), "producerEpoch") : -1,
    partitionLeaderEpoch: v2 ? integer(values.get("partitionLeaderEpoch"), "partitionLeaderEpoch") : -1,
    isTransactional: values.get("isTransactional") === "true",
    isControl: values.get("isControl") === "true",
    deleteHorizonMs: horizon ? integer(horizon[1], "deleteHorizonMs") : null,
    position: integer(values.get("position"), "position"),
    timestampType,
    maxTimestamp: integer(values.get(timestampType), timestampType),
    size: integer(values.get("size"), "size"),
    magic: integer(values.get("magic"), "magic"),
    compressCodec: values.get("compresscodec") ?? "",
    crc: integer(values.get("crc"), "crc"),
    isValid: values.get("isvalid") === "true",
    records: [],
    line,
  };
}

const recordHead = /^\| offset: (-?\d+) (\w+): (-?\d+) keySize: (-?\d+) valueSize: (-?\d+)(?: sequence: (-?\d+) headerKeys: \[)?/;
const base64Data = /^(?: key: ([A-Za-z0-9+/=]*))?(?: payload: ([A-Za-z0-9+/=]*))?$/;

/** Takes characters from the front of text until they make up `bytes` bytes of UTF-8. */
function takeUtf8(text: string, bytes: number): [string, string] | null {
  let used = 0;
  let index = 0;
  while (used < bytes && index < text.length) {
    const codePoint = text.codePointAt(index)!;
    used += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    index += codePoint > 0xffff ? 2 : 1;
  }
  return used === bytes ? [text.slice(0, index), text.slice(index)] : null;
}

/** The header keys are raw text: the first "]" after which the rest of the line fits is theirs. */
function splitHeaderKeys(rest: string, fits: (after: string) => boolean): [string[], string] {
  let close = rest.indexOf("]");
  while (close >= 0 && !fits(rest.slice(close + 1))) close = rest.indexOf("]", close + 1);
  if (close < 0) close = rest.lastIndexOf("]");
  const keys = rest.slice(0, close);
  return [keys === "" ? [] : keys.split(","), rest.slice(close + 1)];
}

/**
 * Reads " key: K payload: V" as Kafka's StringDecoder prints it: K and V are exactly keySize and
 * valueSize bytes of UTF-8 and may hold newlines, so they can spill onto the next lines (`more()`).
 */
function takeSizedText(record: DumpedRecord, rest: string, more: () => string | null): void {
  const take = (label: string, bytes: number): Buffer => {
    if (!rest.startsWith(label)) throw new Error(`DumpLogSegments: expected "${label.trim()}" in record line: ${record.line}`);
    rest = rest.slice(label.length);
    for (;;) {
      const taken = takeUtf8(rest, bytes);
      if (taken) {
        rest = taken[1];
        return Buffer.from(taken[0], "utf8");
      }
      const next = more();
      if (next === null) throw new Error(`DumpLogSegments: record at offset ${record.offset} ends early`);
      rest = `${rest}\n${next}`;
    }
  };
  if (record.keySize >= 0) record.keyBytes = take(" key: ", record.keySize);
  if (record.valueSize >= 0) record.payloadBytes = take(" payload: ", record.valueSize);
  if (rest !== "") throw new Error(`DumpLogSegments: unexpected text after the payload of record ${record.offset}: ${rest}`);
}

function fitsAfterHeaderKeys(after: string, record: DumpedRecord, printed: DumpFormat): boolean {
  if (!printed.printDataLog) return after === "";
  if (printed.decoder === "base64") return base64Data.test(after);
  if (printed.decoder !== "string") return after === "" || after.startsWith(" key: ") || after.startsWith(" payload: ");
  if (record.keySize >= 0) return after.startsWith(" key: ");
  if (record.valueSize >= 0) return after.startsWith(" payload: ");
  return after === "";
}

/**
 * Parses one record line (and, for "string" output whose key or value holds newlines, the lines it
 * spills onto: `more()` returns the next line or null).
 */
function parseRecord(line: string, batch: DumpedBatch, printed: DumpFormat, more: () => string | null): DumpedRecord {
  const head = recordHead.exec(line);
  if (!head) throw new Error(`DumpLogSegments: cannot parse record line: ${line}`);
  const record: DumpedRecord = {
    offset: integer(head[1], "offset"),
    timestampType: head[2],
    timestamp: integer(head[3], "timestamp"),
    keySize: integer(head[4], "keySize"),
    valueSize: integer(head[5], "valueSize"),
    sequence: head[6] === undefined ? null : integer(head[6], "sequence"),
    headerKeys: [],
    key: undefined,
    payload: undefined,
    keyBytes: undefined,
    payloadBytes: undefined,
    control: null,
    line,
  };
  let rest = line.slice(head[0].length);
  if (head[6] !== undefined) {
    [record.headerKeys, rest] = splitHeaderKeys(rest, (after) => batch.isControl || fitsAfterHeaderKeys(after, record, printed));
  }
  if (batch.isControl) {
    record.control = rest.trim() || null;
    return record;
  }
  if (!printed.printDataLog) return record;
  // With --print-data-log a null key or value is left out, not printed as "null".
  if (record.keySize < 0) [record.key, record.keyBytes] = [null, null];
  if (record.valueSize < 0) [record.payload, record.payloadBytes] = [null, null];
  if (printed.decoder === "string") {
    takeSizedText(record, rest, more);
  } else if (printed.decoder === "base64") {
    const data = base64Data.exec(rest);
    if (!data) throw new Error(`DumpLogSegments: cannot parse key/payload of record line: ${line}`);
    if (data[1] !== undefined) record.keyBytes = Buffer.from(data[1], "base64");
    if (data[2] !== undefined) record.payloadBytes = Buffer.from(data[2], "base64");
  } else {
    // Kafka's internal-topic decoders print JSON (or an error) unrelated to the sizes: text only.
    const text = /^(?: key: (.*?))?(?: payload: (.*))?$/.exec(rest);
    if (text?.[1] !== undefined) record.key = text[1];
    if (text?.[2] !== undefined) record.payload = text[2];
  }
  if (record.keyBytes) record.key = record.keyBytes.toString("utf8");
  if (record.payloadBytes) record.payload = record.payloadBytes.toString("utf8");
  return record;
}

function fileKind(path: string): DumpedFile["kind"] {
  if (path.endsWith(".log")) return "log";
  if (path.endsWith(".index")) return "index";
  if (path.endsWith(".timeindex")) return "timeindex";
  if (path.endsWith(".txnindex")) return "txnindex";
  if (path.endsWith(".snapshot")) return "producer-snapshot";
  if (path.endsWith(".checkpoint")) return "metadata-snapshot";
  return "other";
}

// Lines of a file's section other than batches and records: pattern, then what it sets.
const fileLines: [RegExp, (file: DumpedFile, match: RegExpExecArray, line: string) => void][] = [
  [/^Log starting offset: (-?\d+)$/, (file, match) => (file.baseOffset = integer(match[1], "Log starting offset"))],
  [
    /^offset: (-?\d+) position: (\d+)$/,
    (file, match) => file.indexEntries.push({ offset: integer(match[1], "offset"), position: integer(match[2], "position") }),
  ],
  [
    /^timestamp: (-?\d+) offset: (-?\d+)$/,
    (file, match) => file.timeIndexEntries.push({ timestamp: integer(match[1], "timestamp"), offset: integer(match[2], "offset") }),
  ],
  [/^Found (\d+) invalid bytes at the end of /, (file, match) => (file.invalidTrailingBytes = integer(match[1], "invalid bytes"))],
  [/ is empty\.$/, (file) => (file.empty = true)],
  [/ passed sanity check\.$/, (file) => (file.passedSanityCheck = true)],
  [/^(producerId|version): /, (file, _, line) => file.entries.push(Object.fromEntries(fields(line)))],
];

function parseStdout(stdout: string, printed: DumpFormat): DumpedFile[] {
  const files: DumpedFile[] = [];
  const lines = stdout.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let index = 0;
  const more = () => (index < lines.length ? lines[index++] : null);
  while (index < lines.length) {
    const line = lines[index++];
    const dumping = /^Dumping (.*)$/.exec(line);
    if (dumping) {
      files.push({
        path: dumping[1],
        kind: fileKind(dumping[1]),
        baseOffset: null,
        batches: [],
        indexEntries: [],
        timeIndexEntries: [],
        empty: false,
        passedSanityCheck: false,
        invalidTrailingBytes: 0,
        entries: [],
        otherLines: [],
      });
      continue;
    }
    const file = files.at(-1);
    if (!file) throw new Error(`DumpLogSegments: output before any "Dumping": ${line}`);
    if (line.startsWith("baseOffset: ") || /^offset: -?\d+ position: \d+ \w+: /.test(line)) {
      file.batches.push(parseBatch(line));
    } else if (line.startsWith("| ")) {
      const batch = file.batches.at(-1);
      if (!batch) throw new Error(`DumpLogSegments: record before any batch: ${line}`);
      batch.records.push(parseRecord(line, batch, printed, more));
    } else {
      const known = fileLines.find(([pattern]) => pattern.test(line));
      if (known) known[1](file, known[0].exec(line)!, line);
      else file.otherLines.push(line);
    }
  }
  return files;
}

type DumpProblems = Omit<DumpResult, "code" | "stdout" | "stderr" | "files" | "errors">;

// DumpLogSegments reports problems on stderr after all files: a heading (naming the file, except
// for "not found"), then one indented line per problem.
const problemSections: { heading: RegExp; entry: RegExp; add: (problems: DumpProblems, file: string, a: number, b: number) => void }[] = [
  {
    heading: /^Mismatches in :(.*)$/,
    entry: /^ {2}Index offset: (-?\d+), log offset: (-?\d+)$/,
    add: (problems, file, indexOffset, logOffset) => problems.indexMismatches.push({ file, indexOffset, logOffset }),
  },
  {
    heading: /^Found timestamp mismatch in :(.*)$/,
    entry: /^ {2}Index timestamp: (-?\d+), log timestamp: (-?\d+)$/,
    add: (problems, file, indexTimestamp, logTimestamp) => problems.timeIndexMismatches.push({ file, indexTimestamp, logTimestamp }),
  },
  {
    heading: /^Found out of order timestamp in :(.*)$/,
    entry: /^ {2}Index timestamp: (-?\d+), Previously indexed timestamp: (-?\d+)$/,
    add: (problems, file, indexTimestamp, previousTimestamp) => problems.outOfOrderTimeIndexEntries.push({ file, indexTimestamp, previousTimestamp }),
  },
  {
    heading: /^The following indexed offsets are not found in the log\.()$/,
    entry: /^Indexed offset: (-?\d+), found log offset: (-?\d+)$/,
    add: (problems, _, indexOffset, logOffset) => problems.indexedOffsetsNotFound.push({ indexOffset, logOffset }),
  },
  {
    heading: /^Non-consecutive offsets in (.*)$/,
    entry: /^ {2}(-?\d+) is followed by (-?\d+)$/,
    // Kafka 4.4's DumpLogSegments (ported to Java) starts each file's "previous offset" at -1 and
    // no longer skips the first record, so every segment whose first offset is not 0 is reported
    // as "-1 is followed by <its first offset>". That is the tool's starting value, not a gap.
    add: (problems, file, offset, next) => {
      if (offset !== -1) problems.nonConsecutiveOffsets.push({ file, offset, next });
    },
  },
];

/** How the output was printed: the options given to the tool. */
export interface DumpFormat {
  decoder: DumpDecoder;
  printDataLog: boolean;
}

/** Parses DumpLogSegments' stdout and stderr (exported for tests of the parser itself). */
export function parseDumpLogSegments(stdout: string, stderr: string, printed: DumpFormat): Omit<DumpResult, "code" | "stdout" | "stderr"> {
  const result: Omit<DumpResult, "code" | "stdout" | "stderr"> = {
    files: parseStdout(stdout, printed),
    indexMismatches: [],
    timeIndexMismatches: [],
    outOfOrderTimeIndexEntries: [],
    indexedOffsetsNotFound: [],
    nonConsecutiveOffsets: [],
    errors: [],
  };
  let section: (typeof problemSections)[number] | undefined;
  let file = "";
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    const heading = problemSections.find((candidate) => candidate.heading.test(line));
    if (heading) {
      section = heading;
      file = heading.heading.exec(line)![1];
      continue;
    }
    const entry = section?.entry.exec(line);
    if (section && entry) {
      section.add(result, file, Number(entry[1]), Number(entry[2]));
    } else {
      section = undefined;
      result.errors.push(line);
    }
  }
  return result;
}

export interface StartKafkaClusterOptions {
  /** One sub-directory per node (`kafka-<node id>`: server.properties, kafka.out, data/). */
  workDir: string;
  /** Brokers (each `process.roles=broker,controller`, a voter of the static quorum, unless `controllers`): 3 by default. */
  count?: number;
  /**
   * Dedicated controllers (`process.roles=controller`, node ids 101, 102, …), the static quorum's
   * voters; the `count` brokers are then `process.roles=broker`. Returned after the brokers. 0 by default.
   */
  controllers?: number;
  /** Added to every node's server.properties (the controllers' too: an authorizer, for example). */
  properties?: Record<string, string | number | boolean>;
  heap?: string;
  /** Added to one broker's server.properties (after `properties`): per-node listeners, for example. */
  nodeProperties?: (node: { nodeId: number; role: KafkaRole; port: number; controllerPort: number }) => Record<string, string | number | boolean>;
  /** Starts these (stopped) nodes again on their formatted directories and ports, without formatting. */
  reuse?: readonly KafkaBroker[];
  /**
   * Starts combined nodes on these directories, which hold meta.properties (cluster.id, node.id,
   * directory.id) and a metadata log already (`sluice migrate export-kraft` wrote them), without formatting.
   */
  existing?: readonly { nodeId: number; logDir: string }[];
}

/** A node's id in a cluster started by startKafkaCluster: `kafka-<id>` is its work dir. */
export function kafkaNodeId(node: KafkaBroker): number {
  return Number(/kafka-(\d+)$/.exec(node.workDir)?.[1] ?? Number.NaN);
}

/**
 * Starts a KRaft Apache Kafka 4.4.0 cluster of `count` combined broker+controller nodes (node ids
 * 1..count), or of `count` brokers and `controllers` dedicated controllers (node ids 101, …), on
 * 127.0.0.1 with a static quorum (`controller.quorum.voters`), each formatted with the same cluster
 * id on its own log dir; resolves once every broker serves Metadata listing itself (and every
 * controller accepts connections). Internal topics are replicated to min(3, count) brokers.
 */
export async function startKafkaCluster(options: StartKafkaClusterOptions): Promise<KafkaBroker[]> {
  await kafkaClasspath();
  const count = options.existing?.length ?? options.reuse?.filter((node) => node.role !== "controller").length ?? options.count ?? 3;
  const controllers = options.reuse?.filter((node) => node.role === "controller").length ?? options.controllers ?? 0;
  const used = new Set<number>();
  const newPort = async () => {
    for (;;) {
      const port = await freePort();
      if (!used.has(port)) {
        used.add(port);
        return port;
      }
    }
  };
  type Node = { nodeId: number; role: KafkaRole; port: number; controllerPort: number; workDir: string; logDir: string };
  const nodes: Node[] = [];
  for (const node of options.reuse ?? []) {
    const { role, port, controllerPort, workDir, logDir } = node;
    nodes.push({ nodeId: kafkaNodeId(node), role, port, controllerPort, workDir, logDir });
  }
  for (const { nodeId, logDir } of options.existing ?? []) {
    nodes.push({ nodeId, role: "combined", port: await newPort(), controllerPort: await newPort(), workDir: join(options.workDir, `kafka-${nodeId}`), logDir });
  }
  if (options.reuse === undefined && options.existing === undefined) {
    const ids = [...Array.from({ length: count }, (_, i) => i + 1), ...Array.from({ length: controllers }, (_, i) => 101 + i)];
    for (const nodeId of ids) {
      const workDir = join(options.workDir, `kafka-${nodeId}`);
      const role: KafkaRole = controllers === 0 ? "combined" : nodeId > 100 ? "controller" : "broker";
      nodes.push({ nodeId, role, port: await newPort(), controllerPort: await newPort(), workDir, logDir: join(workDir, "data") });
    }
  }
  const voters = nodes.filter((node) => node.role !== "broker");
  const replicas = Math.min(3, count);
  const properties = (node: Node): Record<string, string | number | boolean> => ({
    "node.id": node.nodeId,
    "controller.quorum.bootstrap.servers": "",
    "controller.quorum.voters": voters.map((voter) => `${voter.nodeId}@127.0.0.1:${voter.controllerPort}`).join(","),
    "offsets.topic.replication.factor": replicas,
    "transaction.state.log.replication.factor": replicas,
    "transaction.state.log.min.isr": Math.min(2, replicas),
    "share.coordinator.state.topic.replication.factor": replicas,
    "share.coordinator.state.topic.min.isr": Math.min(2, replicas),
    ...options.properties,
    ...(node.role === "controller" ? {} : (options.nodeProperties?.(node) ?? {})),
  });
  const clusterId = randomClusterId();
  await Promise.all(
    (options.reuse === undefined && options.existing === undefined ? nodes : []).map(async (node) => {
      await mkdir(node.logDir, { recursive: true });
      const file = join(node.workDir, "format.properties");
      await writeFile(
        file,
        serverProperties({ port: node.port, controllerPort: node.controllerPort, logDir: node.logDir, extra: properties(node), role: node.role }),
      );
      const format = await runJavaTool("kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", file], { quickStart: true, heap: "256m" });
      if (format.code !== 0)
        throw new Error(`kafka.tools.StorageTool format of node ${node.nodeId} failed (${format.code}):\n${format.stdout}${format.stderr}`);
    }),
  );
  // Started together: none serves before a majority of the quorum is up.
  return Promise.all(
    nodes.map((node) =>
      startKafka({
        port: node.port,
        controllerPort: node.controllerPort,
        workDir: node.workDir,
        logDir: node.logDir,
        properties: properties(node),
        role: node.role,
        heap: options.heap ?? (node.role === "controller" ? "256m" : "384m"),
        startTimeoutMs: 120_000,
      }),
    ),
  );
}
