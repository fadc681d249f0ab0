// `sluice dev cluster`: etcd and N brokers on this machine (src/cli/dev-cluster.ts), in the
// foreground until Ctrl-C, which stops the brokers (SIGTERM, then SIGKILL after the grace period)
// and then etcd. The data dir is kept, so starting again resumes; --clean wipes it first.

import type { Command } from "commander";
import type { DevCluster } from "../dev-cluster.js";

interface DevClusterFlags {
  brokers: string;
  basePort: string;
  httpBasePort: string;
  http: boolean;
  dataDir: string;
  clean?: boolean;
  netns?: boolean;
  etcd: boolean;
  override: string[];
  graceMs: string;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) throw new Error(`${name} must be a whole number from 1 to 65535, not ${text}`);
  return value;
}

function parseOverrides(entries: string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals < 1) throw new Error(`--override needs key=value, not ${entry}`);
    overrides[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return overrides;
}

export function registerDev(program: Command): void {
  const dev = program.command("dev").description("development tools: a local cluster");
  dev
    .command("cluster")
    .description("run etcd and N brokers on this machine until Ctrl-C (node ids 1..N, racks rack-1..N, ports base..base+N-1)")
    .option("--brokers <n>", "how many brokers", "3")
    .option("--base-port <port>", "broker i listens on base-port + i - 1", "9092")
    .option("--http-base-port <port>", "broker i's HTTP plane (console, metrics) on http-base-port + i - 1", "9644")
    .option("--no-http", "no HTTP plane")
    .option("--data-dir <dir>", "etcd's and the brokers' data and logs; kept unless --clean", "data/dev-cluster")
    .option("--clean", "wipe the data dir first")
    .option("--netns", "each broker in a network namespace of its own (root; addresses 10.77.0.11...)")
    .option("--no-etcd", "no etcd and no metadata.store: N independent single-node brokers")
    .option(
      "-o, --override <key=value>",
      "a config key for every broker (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--grace-ms <ms>", "how long a broker gets after SIGTERM before SIGKILL", "30000")
    .action(async (flags: DevClusterFlags) => {
      process.exitCode = await runDevCluster(flags);
    });
}

async function runDevCluster(flags: DevClusterFlags): Promise<number> {
  const { DevCluster: Cluster, DevClusterError } = await import("../dev-cluster.js");
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // Installed before starting, so a Ctrl-C during startup stops what has started (once it has).
  let signalled: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      say(`${signal}: already stopping (each broker gets SIGKILL after --grace-ms)`);
      return;
    }
    signalled = signal;
    if (wake) wake();
    else say(`${signal}: stopping once startup ends ...`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let cluster: DevCluster;
  try {
    const brokers = positiveInteger("--brokers", flags.brokers);
    cluster = await Cluster.start({
      brokers,
      basePort: positiveInteger("--base-port", flags.basePort),
      httpBasePort: flags.http ? positiveInteger("--http-base-port", flags.httpBasePort) : null,
      dataDir: flags.dataDir,
      clean: flags.clean === true,
      netns: flags.netns === true,
      etcd: flags.etcd,
      overrides: parseOverrides(flags.override),
      stopGraceMs: positiveInteger("--grace-ms", flags.graceMs),
      log: say,
    });
    for (const broker of cluster.brokers) {
      say(`broker ${broker.nodeId}: ${broker.host}:${broker.port} rack-${broker.nodeId} (pid ${broker.pid}, log ${broker.logFile})`);
      broker.onUnexpectedExit = (exited, code, signal) =>
        say(`broker ${exited.nodeId} exited (${signal ?? `code ${code}`}): see ${exited.logFile}; the others keep running`);
    }
    if (!flags.etcd && brokers > 1) say(`note: without etcd these are ${brokers} separate single-node clusters`);
    say(`bootstrap: ${cluster.bootstrap}`);
    say(`data: ${cluster.dataDir} (kept; --clean wipes it). Ctrl-C stops the cluster.`);
  } catch (error) {
    const known = error instanceof DevClusterError || (error instanceof Error && /must be|needs key=value/.test(error.message));
    process.stderr.write(`sluice dev cluster: ${known ? (error as Error).message : (error as Error).stack}\n`);
    return 2;
  }
  if (!signalled) {
    const keepAlive = setInterval(() => {}, 60_000);
    await new Promise<void>((done) => {
      wake = done;
    });
    clearInterval(keepAlive);
  }
  say(`${signalled}: stopping the brokers, then etcd ...`);
  const codes = await cluster.stop();
  say(`stopped (broker exit codes: ${codes.map((code) => code ?? "killed").join(", ")})`);
  return 0;
}
