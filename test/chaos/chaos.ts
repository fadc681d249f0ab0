// The chaos test (docs/chaos.md): etcd and a cluster of brokers (test/helpers/cluster.ts), a topic
// with RF=3 and min.insync.replicas=2, Kafka's Java producers and a read_committed consumer
// (sluice.kafka.ChaosChecker) running throughout, and a seeded schedule of faults, one at a time,
// each held a few seconds and then healed:
//   kill       SIGKILL a broker, restart it (same node id, log dir and address)
//   partition  drop all traffic between two brokers (both directions)
//   isolate    drop all traffic of one broker: peers, etcd and clients
// Then: heal everything, wait for a full ISR, stop producing, and take the checker's verdict
// (every acknowledged record read once, in order, nothing aborted read, ...); stop the cluster
// cleanly and compare every partition's replicas byte for byte up to the high watermark.
// Used by chaos.test.ts (short, CI) and run.ts (long, CHAOS_DURATION_S / CHAOS_SEED).
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { type ConfigValue, findOnPath } from "../../src/cli/dev-cluster.js";
import { KafkaClient } from "../../src/client/index.js";
import { type ClusterBroker, clusterSkipReason, startCluster, type TestCluster, waitForBrokers, waitForFullIsr } from "../helpers/cluster.js";
import { type CheckerVerdict, spawnChecker } from "./checker.js";
import { comparePartition, type PartitionComparison } from "./replicas.js";

export type FaultKind = "kill" | "partition" | "isolate";

export interface ChaosOptions {
  durationS: number;
  seed: number;
  /** 3 by default. */
  brokers?: number;
  /** 6 by default. */
  partitions?: number;
  /** Brokers in network namespaces (root): needed by partition and isolate. Default true. */
  netns?: boolean;
  /** false: single-node brokers without etcd (the harness checking itself). Default true. */
  etcd?: boolean;
  /** "kafka": Apache Kafka 4.4.0 brokers instead (KRaft, no etcd), the harness checked against a reference. */
  kind?: "sluice" | "kafka";
  /** The kinds to draw from; default: every kind the setup allows. */
  faults?: FaultKind[];
  /** How long a fault is held, seconds: [3, 8] by default. */
  holdS?: [number, number];
  /** Quiet time before each fault, seconds: [2, 6] by default. */
  quietS?: [number, number];
  /** Producing goes on this long after everything healed, before the final check: 10 s by default. */
  settleS?: number;
  /** More broker config, over the chaos defaults. */
  overrides?: Record<string, ConfigValue>;
  /** ChaosChecker's load: records a second per producer (200), idempotent producers (2), transactional ones (1). */
  rate?: number;
  producers?: number;
  transactionalProducers?: number;
  /** Keep the work dir (cluster data, logs, checker output) even when everything passed. */
  keepWorkDir?: boolean;
  log?: (line: string) => void;
}

export interface ChaosResult {
  ok: boolean;
  /** One sentence per failed check; empty when ok. */
  problems: string[];
  /** "t=12.3s kill broker 2", ... */
  timeline: string[];
  faults: Record<FaultKind, number>;
  verdict: CheckerVerdict | null;
  replicas: PartitionComparison[];
  /** From the last heal to a full ISR, ms. */
  isrRestoredMs: number | null;
  workDir: string;
  /** Whether workDir was kept (failures and keepWorkDir keep it). */
  kept: boolean;
}

export type { CheckerVerdict };

export const chaosTopic = "chaos";
const recoveryMsMax = 30_000;

/** Why the chaos test cannot run here (for a skip message), or null. */
export async function chaosSkipReason(options: { netns?: boolean; etcd?: boolean } = {}): Promise<string | null> {
  for (const program of ["java", "mvn"]) {
    if (!findOnPath(program)) return `${program} is not installed (the checker is Kafka's Java client; apt-get install openjdk-17-jdk-headless maven)`;
  }
  return clusterSkipReason({ netns: options.netns ?? true, etcd: options.etcd ?? true });
}

/** mulberry32: a small seeded PRNG, so a seed replays the same schedule. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** The broker config of a chaos cluster with `replicationFactor` replicas. */
export function chaosOverrides(replicationFactor: number): Record<string, ConfigValue> {
  const minIsr = Math.min(2, replicationFactor);
  return {
    "default.replication.factor": replicationFactor,
    "min.insync.replicas": minIsr,
    "offsets.topic.replication.factor": replicationFactor,
    "transaction.state.log.replication.factor": replicationFactor,
    "transaction.state.log.min.isr": minIsr,
    "unclean.leader.election.enable": false,
    // Faults last seconds: notice a dead broker and a lagging follower within that time.
    "broker.session.timeout.ms": 6_000,
    "replica.lag.time.max.ms": 10_000,
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => {});
  const brokerCount = options.brokers ?? 3;
  const partitions = options.partitions ?? 6;
  const netns = options.netns ?? true;
  const replicationFactor = Math.min(3, brokerCount);
  const kinds = options.faults ?? (["kill", "partition", "isolate"] as FaultKind[]);
  const usable = kinds.filter((kind) => kind === "kill" || (netns && (kind === "isolate" || brokerCount >= 2)));
  if (usable.length === 0) throw new Error(`no usable fault among ${kinds.join(", ")} (partition and isolate need netns; partition 2 brokers)`);
  const random = seededRandom(options.seed);
  const between = ([low, high]: [number, number]) => low + random() * (high - low);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  const problems: string[] = [];
  const timeline: string[] = [];
  const faults: Record<FaultKind, number> = { kill: 0, partition: 0, isolate: 0 };
  let started = performance.now();
  const note = (event: string) => {
    const line = `t=${((performance.now() - started) / 1000).toFixed(1)}s ${event}`;
    timeline.push(line);
    log(line);
  };

  const cluster: TestCluster = await startCluster({
    brokers: brokerCount,
    kind: options.kind,
    netns,
    etcd: options.etcd ?? true,
    overrides: { ...chaosOverrides(replicationFactor), ...options.overrides },
    keep: true,
    log,
  });
  log(`cluster: ${cluster.bootstrap}${cluster.etcdEndpoint ? `, etcd ${cluster.etcdEndpoint}` : ""}; work dir ${cluster.workDir}`);
  let checker: ChildProcess | undefined;
  let verdict: CheckerVerdict | null = null;
  let replicas: PartitionComparison[] = [];
  let isrRestoredMs: number | null = null;
  try {
    await waitForBrokers(cluster.bootstrap, brokerCount);
    await createTopic(cluster.bootstrap, partitions, replicationFactor);
    await waitForFullIsr(cluster.bootstrap, chaosTopic, replicationFactor);

    const run = await spawnChecker({
      bootstrap: cluster.bootstrap,
      topic: chaosTopic,
      partitions,
      outDir: `${cluster.workDir}/checker`,
      seed: options.seed,
      rate: options.rate,
      producers: options.producers,
      transactionalProducers: options.transactionalProducers,
      onProgress: (event) => log(`  progress: produced ${event.produced}, acknowledged ${event.acked}, failed ${event.failed}, read ${event.read}`),
    });
    checker = run.process;
    await run.ready;
    started = performance.now();
    note(`checker producing (seed ${options.seed}, ${options.durationS} s of faults: ${usable.join(", ")})`);

    const deadline = started + options.durationS * 1000;
    while (performance.now() < deadline) {
      await sleep(between(options.quietS ?? [2, 6]) * 1000);
      if (performance.now() >= deadline) break;
      const kind = pick(usable);
      const hold = between(options.holdS ?? [3, 8]) * 1000;
      faults[kind]++;
      try {
        await injectFault(kind, cluster, pick, hold, note);
      } catch (error) {
        problems.push(`fault ${kind} failed: ${(error as Error).message}`);
        note(`fault ${kind} failed: ${(error as Error).message.split("\n")[0]}`);
        break;
      }
      run.send("healed");
    }

    await cluster.healAll();
    for (const broker of cluster.brokers.filter((b) => !b.running)) {
      note(`restart broker ${broker.nodeId} (was down at the end)`);
      await broker.start();
    }
    note("all healed; waiting for a full ISR");
    const healed = performance.now();
    try {
      await waitForFullIsr(cluster.bootstrap, chaosTopic, replicationFactor);
      isrRestoredMs = performance.now() - healed;
      note(`ISR full again after ${(isrRestoredMs / 1000).toFixed(1)} s`);
    } catch (error) {
      problems.push((error as Error).message);
    }

    // Producing goes on a while after the last heal, so the consumer's recovery from it is measured.
    await sleep((options.settleS ?? 10) * 1000);
    note("stop producing; the checker reads everything back");
    run.send("stop");
    verdict = await run.verdict;
    note(`verdict: ${verdict.ok ? "ok" : "NOT ok"}`);
    problems.push(...verdictProblems(verdict));

    const highWatermarks = await latestOffsets(cluster.bootstrap, partitions);
    const codes = await cluster.stop();
    // A JVM ends with 143 (128 + SIGTERM) after Kafka's own clean shutdown.
    const cleanExit = options.kind === "kafka" ? 143 : 0;
    codes.forEach((code, index) => {
      if (code !== cleanExit) problems.push(`broker ${index + 1} exited with ${code} on SIGTERM`);
    });
    replicas = highWatermarks.map((highWatermark, partition) => comparePartition(cluster.brokers, chaosTopic, partition, highWatermark));
    for (const comparison of replicas) {
      if (comparison.replicas.length < replicationFactor) {
        problems.push(`partition ${comparison.partition}: ${comparison.replicas.length} replicas on disk, expected ${replicationFactor}`);
      }
      for (const difference of comparison.differences) problems.push(`partition ${comparison.partition}: ${difference}`);
    }
  } catch (error) {
    problems.push(`the run stopped: ${(error as Error).stack ?? error}`);
  } finally {
    checker?.kill("SIGKILL");
    await cluster.stop().catch((error: Error) => problems.push(`stopping the cluster: ${error.message}`));
  }
  const ok = problems.length === 0;
  const kept = !ok || options.keepWorkDir === true;
  if (!kept) await rm(cluster.workDir, { recursive: true, force: true });
  return { ok, problems, timeline, faults, verdict, replicas, isrRestoredMs, workDir: cluster.workDir, kept };
}

async function injectFault(
  kind: FaultKind,
  cluster: TestCluster,
  pick: <T>(items: readonly T[]) => T,
  holdMs: number,
  note: (event: string) => void,
): Promise<void> {
  const victim: ClusterBroker = pick(cluster.brokers);
  if (kind === "kill") {
    await victim.kill("SIGKILL");
    note(`kill broker ${victim.nodeId} (SIGKILL)`);
    await sleep(holdMs);
    const restarting = performance.now();
    await victim.start();
    note(`restart broker ${victim.nodeId} (serving after ${((performance.now() - restarting) / 1000).toFixed(1)} s)`);
  } else if (kind === "partition") {
    const other = pick(cluster.brokers.filter((broker) => broker !== victim));
    await victim.partitionFrom(other.nodeId);
    note(`partition broker ${victim.nodeId} <-/-> broker ${other.nodeId}`);
    await sleep(holdMs);
    await victim.heal();
    note(`heal partition ${victim.nodeId}-${other.nodeId}`);
  } else {
    await victim.isolate();
    note(`isolate broker ${victim.nodeId} (from peers, etcd and clients)`);
    await sleep(holdMs);
    await victim.heal();
    note(`heal broker ${victim.nodeId}`);
  }
}

async function createTopic(bootstrap: string, partitions: number, replicationFactor: number): Promise<void> {
  const client = await KafkaClient.connect({ bootstrap });
  try {
    const [created] = await client.createTopics([
      { name: chaosTopic, partitions, replicationFactor, configs: { "min.insync.replicas": String(Math.min(2, replicationFactor)) } },
    ]);
    if (created?.error) throw new Error(`CreateTopics ${chaosTopic}: ${created.error.message}`);
  } finally {
    client.close();
  }
}

/** ListOffsets latest (the high watermark) of every partition, from its leader. */
async function latestOffsets(bootstrap: string, partitions: number): Promise<number[]> {
  const client = await KafkaClient.connect({ bootstrap });
  try {
    const listed = await client.listOffsets(
      Array.from({ length: partitions }, (_, partition) => ({ topic: chaosTopic, partition })),
      "latest",
    );
    return Array.from({ length: partitions }, (_, partition) => Number(listed.find((entry) => entry.partition === partition)?.offset ?? -1));
  } finally {
    client.close();
  }
}

/** The checker's verdict as sentences, one per failed check. */
export function verdictProblems(verdict: CheckerVerdict): string[] {
  const problems: string[] = [];
  for (const [name, { count, examples }] of Object.entries(verdict.problems)) {
    if (count > 0) problems.push(`${name}: ${count} (e.g. ${examples.slice(0, 3).join("; ")})`);
  }
  if (!verdict.consumerCaughtUp) problems.push("the running consumer did not reach the end offsets");
  if (!verdict.finalReadComplete) problems.push("the final read did not reach the end offsets");
  if (verdict.maxRecoveryAfterHealMs >= recoveryMsMax) {
    problems.push(`the consumer took ${verdict.maxRecoveryAfterHealMs} ms to progress after a heal (limit ${recoveryMsMax} ms)`);
  }
  if ((verdict.counts.acknowledged ?? 0) === 0) problems.push("no record was acknowledged");
  return problems;
}

/** A report to print: the timeline, the counts, the checks. */
export function formatChaosResult(result: ChaosResult): string {
  const lines = ["timeline:", ...result.timeline.map((line) => `  ${line}`)];
  const { kill, partition, isolate } = result.faults;
  lines.push(`faults injected: ${kill + partition + isolate} (kill ${kill}, partition ${partition}, isolate ${isolate})`);
  if (result.verdict) {
    const c = result.verdict.counts;
    lines.push(
      `records: produced ${c.produced}, acknowledged ${c.acknowledged}, failed ${c.failed}, read back ${c.read} (while producing ${c.readWhileProducing}); ` +
        `transactions committed ${c.transactionsCommitted}, aborted ${c.transactionsAborted}, unknown ${c.transactionsUnknown}`,
    );
    const recoveries = result.verdict.recoveriesAfterHealMs.join(", ");
    lines.push(
      `consumer: longest recovery after a heal ${result.verdict.maxRecoveryAfterHealMs} ms (each: ${recoveries}), longest gap ${result.verdict.longestConsumerGapMs} ms`,
    );
  }
  const identical = result.replicas.filter((comparison) => comparison.identical).length;
  const bytes = result.replicas.reduce((sum, comparison) => sum + (comparison.replicas[0]?.bytes.length ?? 0), 0);
  lines.push(`replicas: ${identical}/${result.replicas.length} partitions identical up to the high watermark (${bytes} bytes a replica)`);
  if (result.isrRestoredMs !== null) lines.push(`ISR full ${(result.isrRestoredMs / 1000).toFixed(1)} s after the last heal`);
  lines.push(result.ok ? "OK" : `FAILED:\n${result.problems.map((problem) => `  - ${problem}`).join("\n")}`);
  if (result.kept) lines.push(`work dir kept: ${result.workDir} (broker-N/broker.log, etcd/etcd.log, checker/)`);
  return lines.join("\n");
}
