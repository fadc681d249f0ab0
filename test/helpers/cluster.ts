// A Sluice cluster for tests: etcd and N brokers started by src/cli/dev-cluster.ts (what
// `sluice dev cluster` runs), optionally one network namespace per broker so a test can kill,
// partition and isolate brokers (test/chaos/). Without etcd (`etcd: false`) the brokers are
// independent single-node brokers (no metadata.store), which work today.
//
//   const cluster = await startCluster({ brokers: 3, netns: true });
//   await cluster.brokers[1].kill();            // SIGKILL, as a crash
//   await cluster.brokers[1].start();           // the same node id, ports and log dir
//   await cluster.brokers[0].partitionFrom(3);  // broker 1 <-/-> broker 3, both directions
//   await cluster.brokers[2].isolate();         // broker 3 reaches nothing, nothing reaches it
//   await cluster.healAll();
//   await cluster.stop();                       // and removes the namespaces, even after a failure
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BrokerProcess,
  type BrokerSpec,
  type ConfigValue,
  DevCluster,
  EtcdProcess,
  findOnPath,
  NamespaceNetwork,
  namespaceSupport,
  portIsFree,
} from "../../src/cli/dev-cluster.js";
import { type ClusterMetadata, KafkaClient } from "../../src/client/index.js";
import { freePort, kafkaClasspath, quickStartJvmFlags, randomClusterId } from "./kafka.js";
import { sluiceBin, staleBuildWarning } from "./sluice.js";

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

export interface StartClusterOptions {
  /** 3 by default. */
  brokers?: number;
  /**
   * "sluice" (the default), or "kafka": Apache Kafka 4.4.0 in KRaft mode, every node broker and
   * controller (a static quorum of all nodes), no etcd — the reference the chaos harness is
   * checked against. `overrides` are Kafka keys either way.
   */
  kind?: "sluice" | "kafka";
  /** `--override` keys for every broker, after the cluster's own (node.id, listeners, log.dirs, ...). */
  overrides?: Record<string, ConfigValue>;
  /** Per-broker `--override` keys after `overrides` (Sluice only): `port` is the broker's own (its PLAINTEXT listener's). */
  brokerOverrides?: (nodeId: number, port: number) => Record<string, ConfigValue>;
  /** One network namespace per broker (root only): needed by isolate() and partitionFrom(). Default false. */
  netns?: boolean;
  /** false: no etcd, no metadata.store (single-node brokers). Default true. */
  etcd?: boolean;
  /** Where etcd and the brokers keep their data and logs: a new temp dir by default. */
  workDir?: string;
  /** Keep workDir after stop() (it is always kept when given). */
  keep?: boolean;
  startTimeoutMs?: number;
  /** SIGTERM to SIGKILL on stop(): 30 s by default. */
  stopGraceMs?: number;
  /** Startup notes (leftovers removed, etcd's address). */
  log?: (line: string) => void;
}

export interface ClusterBroker {
  nodeId: number;
  /** The address clients connect to (the namespace's address, or localhost). */
  host: string;
  port: number;
  /** Its network namespace (for `ip netns exec`), null without netns. */
  namespace: string | null;
  /** null while it is not running. */
  readonly pid: number | null;
  readonly running: boolean;
  /** Its stdout and stderr, across restarts. */
  logFile: string;
  /** log.dirs */
  logDir: string;
  /** Its `--override` keys: a change applies from its next start(). */
  overrides: Record<string, ConfigValue>;
  /** SIGKILL by default (a crash); waits for the exit (not for SIGSTOP / SIGCONT). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (same node id, address, log dir) and waits until it answers ApiVersions. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period; the exit code. */
  stop(): Promise<number | null>;
  /** Drops everything in and out of its namespace but loopback: peers, etcd, clients. Needs netns. */
  isolate(): Promise<void>;
  /** Removes every fault involving this broker. */
  heal(): Promise<void>;
  /** Drops traffic between this broker and another, both directions. Needs netns. */
  partitionFrom(otherNodeId: number): Promise<void>;
}

export interface TestCluster {
  /** host:port of every broker, comma-separated. */
  bootstrap: string;
  /** host:port of etcd, null without it. */
  etcdEndpoint: string | null;
  /** etcd's process id (to freeze it: quorum loss), null without it. */
  readonly etcdPid: number | null;
  workDir: string;
  brokers: ClusterBroker[];
  broker(nodeId: number): ClusterBroker;
  /** Faults in force, e.g. ["isolated 2", "partition 1-3"]. */
  faults(): string[];
  healAll(): Promise<void>;
  /** Stops the brokers and etcd and removes the namespaces; the brokers' exit codes. */
  stop(): Promise<(number | null)[]>;
}

/**
 * Why a cluster with these options cannot run here (a sentence for a skip message), or null.
 * Checks the build, etcd and, with netns, root / ip netns / iptables.
 */
export async function clusterSkipReason(options: { netns?: boolean; etcd?: boolean } = {}): Promise<string | null> {
  const stale = staleBuildWarning();
  if (stale?.includes("missing")) return stale;
  if ((options.etcd ?? true) && !findOnPath("etcd")) return "etcd is not installed (apt-get install etcd-server)";
  if (options.netns) return namespaceSupport();
  return null;
}

/** `base` such that base .. base+count-1 are all free on 127.0.0.1. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count > 65_535) continue;
    let free = true;
    for (let port = base + 1; port < base + count && free; port++) free = await portIsFree("127.0.0.1", port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1`);
}

function wrap(cluster: DevCluster, broker: BrokerProcess, startTimeoutMs: number | undefined, stopGraceMs: number | undefined): ClusterBroker {
  return {
    nodeId: broker.nodeId,
    host: broker.host,
    port: broker.port,
    namespace: cluster.network ? cluster.network.namespace(broker.nodeId) : null,
    get pid() {
      return broker.pid;
    },
    get running() {
      return broker.running;
    },
    logFile: broker.logFile,
    logDir: broker.logDir,
    overrides: broker.spec.overrides,
    kill: (signal) => broker.kill(signal),
    start: () => broker.start(startTimeoutMs),
    stop: () => broker.stop(stopGraceMs),
    isolate: () => cluster.isolate(broker.nodeId),
    heal: () => cluster.heal(broker.nodeId),
    partitionFrom: (other) => cluster.partition(broker.nodeId, other),
  };
}

export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const stale = staleBuildWarning();
  if (stale?.includes("missing")) throw new Error(`cannot start a cluster: ${stale}`);
  if (stale) options.log?.(`warning: ${stale}`);
  const count = options.brokers ?? 3;
  const kafka = options.kind === "kafka";
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), `${kafka ? "kafka" : "sluice"}-cluster-`)));
  // In namespaces every broker has an address of its own: the usual ports cannot clash.
  const basePort = options.netns ? 9092 : await freePortRange(kafka ? 2 * count : count);
  let cluster: DevCluster;
  try {
    cluster = await DevCluster.start({
      brokers: count,
      basePort,
      httpBasePort: null,
      dataDir: workDir,
      netns: options.netns ?? false,
      etcd: kafka ? false : (options.etcd ?? true),
      overrides: options.overrides,
      brokerOverrides: options.brokerOverrides ? (nodeId) => options.brokerOverrides?.(nodeId, basePort + nodeId - 1) ?? {} : undefined,
      brokerCommand: kafka ? await kafkaCommand(count, basePort, options.netns ?? false, options.overrides ?? {}) : undefined,
      sluiceBin,
      startTimeoutMs: options.startTimeoutMs,
      stopGraceMs: options.stopGraceMs,
      log: options.log,
    });
  } catch (error) {
    if (!options.workDir && !options.keep) await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const brokers = cluster.brokers.map((broker) => wrap(cluster, broker, options.startTimeoutMs, options.stopGraceMs));
  return {
    bootstrap: cluster.bootstrap,
    etcdEndpoint: cluster.etcd?.endpoint ?? null,
    get etcdPid() {
      return cluster.etcd?.pid ?? null;
    },
    workDir,
    brokers,
    broker(nodeId) {
      const broker = brokers.find((candidate) => candidate.nodeId === nodeId);
      if (!broker) throw new Error(`no broker ${nodeId}`);
      return broker;
    },
    faults: () => cluster.network?.faults() ?? [],
    healAll: () => cluster.healAll(),
    async stop() {
      const codes = await cluster.stop();
      if (!options.workDir && !options.keep) await rm(workDir, { recursive: true, force: true });
      return codes;
    },
  };
}

/**
 * Apache Kafka 4.4.0 as the brokers (see StartClusterOptions.kind): writes each node's
 * server.properties and returns the command that formats its log dir once (one cluster id for all,
 * the static quorum of every node) and then runs kafka.Kafka.
 */
async function kafkaCommand(count: number, basePort: number, netns: boolean, overrides: Record<string, ConfigValue>): Promise<(spec: BrokerSpec) => string[]> {
  const classpath = await kafkaClasspath();
  const { kafkaLog4jConfig } = (await import(new URL("../../scripts/kafka-classpath.mjs", import.meta.url).href)) as { kafkaLog4jConfig: string };
  const clusterId = randomClusterId();
  const network = new NamespaceNetwork();
  const address = (nodeId: number) => (netns ? network.address(nodeId) : "127.0.0.1");
  const controllerPort = (nodeId: number) => (netns ? 9190 : basePort + count + nodeId - 1);
  const voters = Array.from({ length: count }, (_, index) => `${index + 1}@${address(index + 1)}:${controllerPort(index + 1)}`).join(",");
  const java = (heap: string, mainClass: string, args: string[]) =>
    [
      "java",
      `-Xmx${heap}`,
      ...quickStartJvmFlags,
      `-Dlog4j2.configurationFile=${kafkaLog4jConfig}`,
      "-Dsluice.kafka.log.level=WARN",
      "-cp",
      classpath,
      mainClass,
      ...args,
    ]
      .map((word) => `'${word.replaceAll("'", "'\\''")}'`)
      .join(" ");
  return (spec) => {
    const properties: Record<string, ConfigValue> = {
      "process.roles": "broker,controller",
      "node.id": spec.nodeId,
      "controller.quorum.voters": voters,
      listeners: `PLAINTEXT://${spec.host}:${spec.port},CONTROLLER://${spec.host}:${controllerPort(spec.nodeId)}`,
      "advertised.listeners": `PLAINTEXT://${spec.advertisedHost}:${spec.port}`,
      "controller.listener.names": "CONTROLLER",
      "inter.broker.listener.name": "PLAINTEXT",
      "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      "log.dirs": join(spec.dir, "data"),
      "broker.rack": `rack-${spec.nodeId}`,
      "group.initial.rebalance.delay.ms": 0,
      ...overrides,
    };
    const file = join(spec.dir, "server.properties");
    mkdirSync(spec.dir, { recursive: true });
    writeFileSync(
      file,
      `${Object.entries(properties)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join("\n")}\n`,
    );
    const format = java("256m", "kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", file]);
    const run = java("512m", "kafka.Kafka", [file]);
    return ["/bin/sh", "-c", `[ -f '${join(spec.dir, "data", "meta.properties")}' ] || ${format} || exit 1; exec ${run}`];
  };
}

/** etcd alone on 127.0.0.1 (a free port), its data in a new temp dir removed by stop(). */
export async function startEtcd(options: { dir?: string; host?: string } = {}): Promise<{ endpoint: string; pid: number | null; stop(): Promise<void> }> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "sluice-etcd-")));
  const etcd = await EtcdProcess.start({ dir, host: options.host ?? "127.0.0.1" });
  return {
    endpoint: etcd.endpoint,
    pid: etcd.pid,
    async stop() {
      await etcd.stop();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Removes a crashed chaos run's namespaces, links and iptables rules (the default prefix). */
export async function removeNetworkLeftovers(): Promise<void> {
  await new NamespaceNetwork().removeLeftovers();
}

// ---------------------------------------------------------------------------------------------
// Metadata

/** Metadata from any broker that answers (a client over the whole bootstrap list), closed after. */
export async function clusterMetadata(bootstrap: string, topics: string[] | null = null): Promise<ClusterMetadata> {
  const client = await KafkaClient.connect({ bootstrap, connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, retryTimeoutMs: 5_000 });
  try {
    return await client.metadata(topics);
  } finally {
    client.close();
  }
}

/** Polls until Metadata lists `count` live brokers; resolves with how long that took (ms). */
export async function waitForBrokers(bootstrap: string, count: number, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  let last = "no answer";
  while (Date.now() - started < timeoutMs) {
    try {
      const metadata = await clusterMetadata(bootstrap);
      if (metadata.brokers.length >= count) return Date.now() - started;
      last = `brokers ${metadata.brokers.map((broker) => broker.nodeId).join(",")}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`Metadata did not list ${count} brokers within ${timeoutMs} ms (last: ${last})`);
}

/**
 * Polls until every partition of `topic` has a leader and an ISR as large as its replica set
 * (and at least `replicationFactor`); resolves with how long that took (ms).
 */
export async function waitForFullIsr(bootstrap: string, topic: string, replicationFactor: number, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  let last = "no answer";
  while (Date.now() - started < timeoutMs) {
    try {
      const [info] = (await clusterMetadata(bootstrap, [topic])).topics;
      const lagging = (info?.partitions ?? []).filter(
        (partition) => partition.leader < 0 || partition.replicas.length < replicationFactor || partition.isr.length < partition.replicas.length,
      );
      if (info && info.partitions.length > 0 && lagging.length === 0) return Date.now() - started;
      last = info
        ? lagging.map((p) => `${p.partition}: leader ${p.leader} replicas [${p.replicas}] isr [${p.isr}]`).join("; ")
        : `no topic ${topic} in Metadata`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`the ISR of ${topic} was not full within ${timeoutMs} ms (last: ${last})`);
}

/** Polls `probe` (every `intervalMs`) until it gives something other than null; throws naming `what` (and `detail()`) after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs = 60_000,
  intervalMs = 250,
  detail: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail()}`);
    await new Promise<void>((wake) => setTimeout(wake, intervalMs));
  }
}

/** kafka-topics --describe's partition lines: partition → { leader, replicas, isr }. */
export function describedPartitions(stdout: string): Map<number, { leader: number; replicas: number[]; isr: number[] }> {
  const found = new Map<number, { leader: number; replicas: number[]; isr: number[] }>();
  for (const line of stdout.split("\n")) {
    const match = /Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)/.exec(line);
    if (match === null) continue;
    const ids = (text: string) => (text === "" ? [] : text.split(",").map(Number));
    found.set(Number(match[1]), { leader: Number(match[2]), replicas: ids(match[3]), isr: ids(match[4]) });
  }
  return found;
}
