// A 3-broker Apache Kafka 4.4.0 cluster on one machine for bench/cluster-vs-kafka.ts: one dedicated
// KRaft controller (process.roles=controller) and N brokers (process.roles=broker), each its own JVM
// with Kafka's performance flags, as Kafka 4.4's config/controller.properties and
// config/broker.properties lay it out. Built from what test/helpers/kafka.ts exports (classpath,
// spawnJavaTool, runJavaTool, metadataBrokers); that file is not changed. Also the face both
// clusters share (ClusterNode, RunningCluster) and a few helpers bench/sluice-cluster.ts uses.
import type { ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, kafkaClasspath, metadataBrokers, randomClusterId, runJavaTool, spawnJavaTool } from "../test/helpers/kafka.js";
import { type MemoryKiB, memoryKiB, waitUntilServing } from "../test/helpers/sluice.js";
import { treeCpuSeconds } from "./harness.js";

// ---------------------------------------------------------------------------------------------
// What both clusters look like to the benchmark

export interface StopResult {
  stopMs: number;
  exitCode?: number | null;
  clean: boolean;
  error?: string;
}

export interface ClusterNode {
  /** "broker-1", "controller", "etcd". */
  name: string;
  role: "broker" | "metadata";
  pid: number;
  /** The port clients (brokers: Kafka clients; metadata: the brokers) connect to. */
  port: number;
  /** Spawn → serving (brokers: first valid ApiVersions answer; etcd: /health; controller: ApiVersions on its CONTROLLER listener). */
  startupMs: number;
  /** CPU seconds of the process (and any children) so far, null once it has exited. */
  cpuSeconds(): number | null;
  memory(): MemoryKiB | null;
  /** The end of what it wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM and wait (SIGKILL after a grace period). */
  stop(): Promise<StopResult>;
  kill(): Promise<void>;
}

export interface ClusterStartup {
  /** Spawning the metadata process (etcd / the KRaft controller) → it serves. */
  metadataReadyMs: number;
  /** Spawning the metadata process → every broker answers ApiVersions. */
  brokersServingMs: number;
  /** Spawning the metadata process → every broker's Metadata answer lists all the brokers. */
  clusterReadyMs: number;
  /** Spawning the brokers (all at once) → the same. */
  clusterReadyFromBrokerSpawnMs: number;
  /** Preparing data dirs before the clock starts (Kafka: StorageTool format of every node), not counted. */
  prepareMs: number;
}

export interface RunningCluster {
  kind: "kafka" | "sluice";
  /** One line on what runs (roles, processes, heaps). */
  description: string;
  /** All brokers, comma-separated: the clients' bootstrap.servers. */
  bootstrap: string;
  brokers: ClusterNode[];
  metadata: ClusterNode;
  startup: ClusterStartup;
  /** node id → the broker's log dir. */
  logDirs: Map<number, string>;
  /** Brokers one at a time, then the metadata process. */
  stop(): Promise<{ brokers: StopResult[]; metadata: StopResult }>;
  /** SIGKILL everything (an aborted run). */
  kill(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** `count` distinct free ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Polls every broker with a Metadata request until each lists all `brokerCount` brokers; resolves
 * with performance.now() at that moment.
 */
export async function waitForFullMetadata(ports: number[], brokerCount: number, timeoutMs: number, intervalMs = 5): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const pending = new Set(ports);
  let last = "";
  for (;;) {
    for (const port of [...pending]) {
      try {
        const listed = await metadataBrokers("127.0.0.1", port, 1_000);
        if (listed.length >= brokerCount) pending.delete(port);
        else last = `127.0.0.1:${port} lists ${listed.length} of ${brokerCount} brokers`;
      } catch (error) {
        last = `127.0.0.1:${port}: ${(error as Error).message}`;
      }
    }
    if (pending.size === 0) return performance.now();
    if (performance.now() > deadline) throw new Error(`the brokers' Metadata did not list all ${brokerCount} brokers within ${timeoutMs} ms (last: ${last})`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// A long-running child process: output to a file and a tail, SIGTERM/SIGKILL, killed on exit

const outputTailBytes_max = 64 * 1024;
const spawned = new Set<ChildProcess>();
let exitHookInstalled = false;

/** SIGKILL to every process this module (and bench/sluice-cluster.ts) spawned and that still runs. */
export function killAllSpawned(): void {
  for (const child of spawned) child.kill("SIGKILL");
}

export interface ManagedChild {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  output(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs: number): Promise<{ stopMs: number; code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

/** Takes over a just-spawned child: its stdout and stderr go to `outputFile` and a 64 KiB tail. */
export function manageChild(child: ChildProcess, outputFile: string): ManagedChild {
  if (child.pid === undefined) throw new Error(`could not spawn ${child.spawnfile}`);
  spawned.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", killAllSpawned);
  }
  const file = createWriteStream(outputFile);
  let tail = Buffer.alloc(0);
  const keep = (chunk: Buffer) => {
    file.write(chunk);
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > outputTailBytes_max) tail = tail.subarray(tail.length - outputTailBytes_max);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      done = true;
      spawned.delete(child);
      file.end();
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid,
    exited,
    hasExited: () => done,
    output: () => tail.toString("utf8"),
    async stop(graceMs) {
      const started = performance.now();
      if (!done) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      const { code, signal } = await exited;
      return { stopMs: performance.now() - started, code, signal };
    },
    async kill() {
      if (!done) child.kill("SIGKILL");
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The Kafka cluster

export interface KafkaClusterOptions {
  /** Holds controller/ and broker-<id>/ (server.properties, data/, kafka.out). */
  workDir: string;
  /** Brokers besides the controller: 3 by default. */
  brokers?: number;
  /** -Xms and -Xmx of every JVM (controller and brokers), e.g. "1g". */
  heap: string;
  /** Added to (and overriding) every broker's server.properties. */
  brokerProperties?: Record<string, string | number | boolean>;
  /** Root log level written to kafka.out: "WARN" by default. */
  logLevel?: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

const kafkaStopGraceMs = 60_000;

function propertiesText(properties: Record<string, string | number | boolean>): string {
  return `# written by bench/kafka-cluster.ts\n${Object.entries(properties)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join("\n")}\n`;
}

/**
 * Starts a KRaft cluster of Apache Kafka 4.4.0 on 127.0.0.1: StorageTool format of every node (a
 * dynamic quorum formatted --standalone on the controller, as startKafka does), then the controller,
 * then all brokers at once. Resolves when every broker's Metadata lists all brokers. The clock of
 * ClusterStartup starts at the controller's spawn, after formatting. The caller removes workDir.
 */
export async function startKafkaCluster(options: KafkaClusterOptions): Promise<RunningCluster> {
  const log = options.log ?? (() => {});
  const brokerCount = options.brokers ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 180_000;
  await kafkaClasspath(); // a Maven build, if due, before any clock
  const [controllerPort, ...brokerPorts] = await freePorts(1 + brokerCount);
  const controllerId = 0;
  const clusterId = randomClusterId();
  const securityMap = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT";

  const controllerDir = join(options.workDir, "controller");
  const controllerProperties = {
    "process.roles": "controller",
    "node.id": controllerId,
    "controller.quorum.bootstrap.servers": `127.0.0.1:${controllerPort}`,
    listeners: `CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `CONTROLLER://127.0.0.1:${controllerPort}`,
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": securityMap,
    "log.dirs": join(controllerDir, "data"),
  };
  const brokerIds = Array.from({ length: brokerCount }, (_, i) => i + 1);
  const brokerDirs = brokerIds.map((id) => join(options.workDir, `broker-${id}`));
  const brokerProperties = brokerIds.map((id, i) => ({
    "process.roles": "broker",
    "node.id": id,
    "controller.quorum.bootstrap.servers": `127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${brokerPorts[i]}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${brokerPorts[i]}`,
    "inter.broker.listener.name": "PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": securityMap,
    "log.dirs": join(brokerDirs[i], "data"),
    "broker.rack": `rack-${id}`,
    "num.partitions": 1,
    "auto.create.topics.enable": true,
    // offsets.topic.replication.factor, transaction.state.log.*: Kafka's defaults (3, min ISR 2).
    "group.initial.rebalance.delay.ms": 0,
    ...options.brokerProperties,
  }));

  const files: { dir: string; properties: Record<string, string | number | boolean>; format: string[] }[] = [
    { dir: controllerDir, properties: controllerProperties, format: ["--standalone"] },
    ...brokerDirs.map((dir, i) => ({ dir, properties: brokerProperties[i], format: [] })),
  ];
  const prepareStarted = performance.now();
  await Promise.all(
    files.map(async ({ dir, properties, format }) => {
      await mkdir(join(dir, "data"), { recursive: true });
      await writeFile(join(dir, "server.properties"), propertiesText(properties));
      const result = await runJavaTool("kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", join(dir, "server.properties"), ...format], {
        quickStart: true,
        heap: "256m",
      });
      if (result.code !== 0) throw new Error(`StorageTool format of ${dir} failed (${result.code}):\n${result.stdout}${result.stderr}`);
    }),
  );
  const prepareMs = performance.now() - prepareStarted;
  log(`   formatted ${files.length} KRaft log dirs in ${prepareMs.toFixed(0)} ms (not counted)`);

  const jvm = (name: string, dir: string) =>
    spawnJavaTool("kafka.Kafka", [join(dir, "server.properties")], {
      heap: options.heap,
      jvmArgs: [`-Xms${options.heap}`],
      logLevel: options.logLevel ?? "WARN",
      cwd: dir,
    }).then((child) => {
      child.stdin?.end();
      return { name, started: performance.now(), managed: manageChild(child, join(dir, "kafka.out")) };
    });
  const started: { name: string; started: number; managed: ManagedChild }[] = [];
  const abortIfExited = () => {
    const gone = started.find((node) => node.managed.hasExited());
    return gone ? `Kafka ${gone.name} exited during startup; its output ends with:\n${gone.managed.output().slice(-3000)}` : null;
  };
  try {
    const t0 = performance.now();
    const controller = await jvm("controller", controllerDir);
    started.push(controller);
    const controllerServing = await waitUntilServing(controllerPort, { intervalMs: 5, timeoutMs: startTimeoutMs, abort: abortIfExited });
    const brokersSpawned = performance.now();
    const brokers = await Promise.all(brokerIds.map((id, i) => jvm(`broker-${id}`, brokerDirs[i])));
    started.push(...brokers);
    const serving = await Promise.all(
      brokers.map((_, i) => waitUntilServing(brokerPorts[i], { intervalMs: 5, timeoutMs: startTimeoutMs, abort: abortIfExited })),
    );
    const ready = await waitForFullMetadata(brokerPorts, brokerCount, startTimeoutMs);
    const node = (
      entry: { name: string; started: number; managed: ManagedChild },
      role: ClusterNode["role"],
      port: number,
      servingAt: number,
      dataDir: string,
    ): ClusterNode => ({
      name: entry.name,
      role,
      pid: entry.managed.pid,
      port,
      startupMs: servingAt - entry.started,
      cpuSeconds: () => treeCpuSeconds(entry.managed.pid),
      memory: () => memoryKiB(entry.managed.pid),
      output: () => entry.managed.output(),
      async stop() {
        const stopped = await entry.managed.stop(kafkaStopGraceMs);
        // A broker leaves .kafka_cleanshutdown in its log dir after a controlled shutdown (as startKafka checks).
        const marker = role === "broker" ? existsSync(join(dataDir, ".kafka_cleanshutdown")) : stopped.signal === null;
        return { stopMs: stopped.stopMs, exitCode: stopped.code, clean: marker && stopped.signal !== "SIGKILL" };
      },
      kill: () => entry.managed.kill(),
    });
    const brokerNodes = brokers.map((entry, i) => node(entry, "broker", brokerPorts[i], serving[i], join(brokerDirs[i], "data")));
    const metadata = node(controller, "metadata", controllerPort, controllerServing, join(controllerDir, "data"));
    return {
      kind: "kafka",
      description: `Apache Kafka 4.4.0 KRaft: 1 dedicated controller (process.roles=controller) + ${brokerCount} brokers (process.roles=broker), each a JVM with -Xms${options.heap} -Xmx${options.heap} and kafkaPerformanceJvmFlags`,
      bootstrap: brokerPorts.map((port) => `127.0.0.1:${port}`).join(","),
      brokers: brokerNodes,
      metadata,
      startup: {
        metadataReadyMs: controllerServing - t0,
        brokersServingMs: Math.max(...serving) - t0,
        clusterReadyMs: ready - t0,
        clusterReadyFromBrokerSpawnMs: ready - brokersSpawned,
        prepareMs,
      },
      logDirs: new Map(brokerIds.map((id, i) => [id, join(brokerDirs[i], "data")])),
      async stop() {
        const stopped: StopResult[] = [];
        for (const broker of brokerNodes) stopped.push(await broker.stop());
        return { brokers: stopped, metadata: await metadata.stop() };
      },
      async kill() {
        await Promise.all([...brokerNodes, metadata].map((n) => n.kill()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((node) => node.managed.kill()));
    throw error;
  }
}
