// A Sluice cluster on one machine for bench/cluster-vs-kafka.ts: etcd (the metadata store) and N
// brokers, each `node bin/sluice start --override metadata.store=etcd://... --override node.id=<i> ...`
// through startSluice() from test/helpers/sluice.ts, each with its own log dir.
import { execFileSync, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { memoryKiB, type SluiceBroker, staleBuildWarning, startSluice } from "../test/helpers/sluice.js";
import { treeCpuSeconds } from "./harness.js";
import { type ClusterNode, freePorts, manageChild, type RunningCluster, type StopResult, sleep, waitForFullMetadata } from "./kafka-cluster.js";

export interface SluiceClusterOptions {
  /** Holds etcd/ (data, etcd.out) and broker-<id>/ (data/, broker.out). */
  workDir: string;
  brokers?: number;
  /** More `--override key=value` for every broker (after the cluster's own, so they win). */
  overrides?: Record<string, string | number | boolean>;
  /** The etcd binary: `etcd` from PATH by default. */
  etcd?: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

const etcdStopGraceMs = 10_000;

/** `etcd --version`'s first line, or null without etcd. */
export function etcdVersion(etcd = "etcd"): string | null {
  try {
    const version = /etcd Version: (\S+)/.exec(execFileSync(etcd, ["--version"], { encoding: "utf8" }))?.[1];
    return version === undefined ? null : `etcd ${version}`;
  } catch {
    return null;
  }
}

/** Polls etcd's /health every `intervalMs` until it answers {"health":"true"}; performance.now() then. */
async function waitForEtcd(url: string, timeoutMs: number, abort: () => string | null, intervalMs = 5): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  for (;;) {
    const aborted = abort();
    if (aborted) throw new Error(aborted);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { health?: string };
      if (body.health === "true") return performance.now();
      last = JSON.stringify(body);
    } catch (error) {
      last = (error as Error).message;
    }
    if (performance.now() > deadline) throw new Error(`etcd at ${url} was not healthy within ${timeoutMs} ms (last: ${last})`);
    await sleep(intervalMs);
  }
}

/**
 * Starts etcd, waits for its /health, then starts all brokers at once and resolves when every
 * broker's Metadata lists all of them. The clock of ClusterStartup starts at etcd's spawn.
 * The caller removes workDir.
 */
export async function startSluiceCluster(options: SluiceClusterOptions): Promise<RunningCluster> {
  const log = options.log ?? (() => {});
  const brokerCount = options.brokers ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const stale = staleBuildWarning();
  if (stale) log(`warning: ${stale}`);
  const [clientPort, peerPort, ...brokerPorts] = await freePorts(2 + brokerCount);
  const etcdDir = join(options.workDir, "etcd");
  await mkdir(etcdDir, { recursive: true });
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const brokerIds = Array.from({ length: brokerCount }, (_, i) => i + 1);
  const brokerDirs = brokerIds.map((id) => join(options.workDir, `broker-${id}`));
  await Promise.all(brokerDirs.map((dir) => mkdir(join(dir, "data"), { recursive: true })));

  const t0 = performance.now();
  const etcd = manageChild(
    spawn(
      options.etcd ?? "etcd",
      [
        "--name",
        "bench-etcd",
        "--data-dir",
        join(etcdDir, "data"),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `bench-etcd=${peer}`,
        "--initial-cluster-state",
        "new",
        "--logger",
        "zap",
        "--log-outputs",
        "stderr",
      ],
      { cwd: etcdDir, stdio: ["ignore", "pipe", "pipe"] },
    ),
    join(etcdDir, "etcd.out"),
  );
  const sluices: (SluiceBroker | undefined)[] = [];
  try {
    const etcdReady = await waitForEtcd(client, startTimeoutMs, () =>
      etcd.hasExited() ? `etcd exited during startup; its output ends with:\n${etcd.output().slice(-3000)}` : null,
    );
    const brokersSpawned = performance.now();
    const started = await Promise.allSettled(
      brokerIds.map((id, i) =>
        startSluice({
          workDir: brokerDirs[i],
          logDir: join(brokerDirs[i], "data"),
          port: brokerPorts[i],
          startTimeoutMs,
          overrides: {
            "metadata.store": `etcd://127.0.0.1:${clientPort}`,
            "node.id": id,
            "http.listeners": "",
            "broker.rack": `rack-${id}`,
            "offsets.topic.replication.factor": 3,
            // As Kafka's config/server.properties (and bench/harness.ts's launch) has it.
            "group.initial.rebalance.delay.ms": 0,
            ...options.overrides,
          },
        }),
      ),
    );
    for (const outcome of started) sluices.push(outcome.status === "fulfilled" ? outcome.value : undefined);
    const failed = started.find((outcome) => outcome.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const brokers = sluices as SluiceBroker[];
    const ready = await waitForFullMetadata(brokerPorts, brokerCount, startTimeoutMs);

    const brokerNodes: ClusterNode[] = brokers.map((sluice, i) => ({
      name: `broker-${brokerIds[i]}`,
      role: "broker",
      pid: sluice.pid,
      port: sluice.port,
      startupMs: sluice.startupMs,
      cpuSeconds: () => (sluice.cpuSeconds() === null ? null : treeCpuSeconds(sluice.pid)),
      memory: () => sluice.memoryKiB(),
      output: () => `${sluice.stdout()}${sluice.stderr()}`.slice(-64 * 1024),
      async stop() {
        const started = performance.now();
        const exitCode = await sluice.stop();
        await saveOutput(sluice, brokerDirs[i]);
        return { stopMs: performance.now() - started, exitCode, clean: exitCode === 0 };
      },
      async kill() {
        await sluice.kill();
        await saveOutput(sluice, brokerDirs[i]);
      },
    }));
    const metadata: ClusterNode = {
      name: "etcd",
      role: "metadata",
      pid: etcd.pid,
      port: clientPort,
      startupMs: etcdReady - t0,
      cpuSeconds: () => treeCpuSeconds(etcd.pid),
      memory: () => memoryKiB(etcd.pid),
      output: () => etcd.output(),
      async stop() {
        const stopped = await etcd.stop(etcdStopGraceMs);
        // etcd handles SIGTERM (closes its WAL), then raises it again with the default action: it ends by SIGTERM.
        return { stopMs: stopped.stopMs, exitCode: stopped.code, clean: stopped.code === 0 || stopped.signal === "SIGTERM" };
      },
      kill: () => etcd.kill(),
    };
    return {
      kind: "sluice",
      description: `Sluice: ${etcdVersion(options.etcd) ?? "etcd"} (one member, the metadata store) + ${brokerCount} brokers (node bin/sluice start, metadata.store=etcd://…, one process each)`,
      bootstrap: brokerPorts.map((port) => `127.0.0.1:${port}`).join(","),
      brokers: brokerNodes,
      metadata,
      startup: {
        metadataReadyMs: etcdReady - t0,
        brokersServingMs: Math.max(...brokers.map((sluice) => brokersSpawned - t0 + sluice.startupMs)),
        clusterReadyMs: ready - t0,
        clusterReadyFromBrokerSpawnMs: ready - brokersSpawned,
        prepareMs: 0,
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
    await Promise.all(
      sluices.map(async (sluice, i) => {
        if (!sluice) return;
        await sluice.kill();
        await saveOutput(sluice, brokerDirs[i]);
      }),
    );
    await etcd.kill();
    throw error;
  }
}

/** The broker's kept stdout and stderr (its last MiB of each) to broker.out in its dir. */
async function saveOutput(sluice: SluiceBroker, dir: string): Promise<void> {
  await writeFile(join(dir, "broker.out"), `${sluice.stdout()}${sluice.stderr()}`);
}
