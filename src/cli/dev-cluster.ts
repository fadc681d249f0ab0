// A Sluice cluster on one machine, for development and for the chaos tests (test/chaos/): etcd
// (Debian's etcd-server) and N brokers, each a child process of this same Sluice
// (`process.execPath bin/sluice start --override ...`) with node id i, rack rack-i, its own log
// dir and log file under one data dir, and `metadata.store=etcd://...`. `sluice dev cluster`
// (commands/dev.ts) and test/helpers/cluster.ts are its two users.
//
// With `netns`, every broker runs in a network namespace of its own (`ip netns exec`), joined to
// the root namespace by a veth pair on a bridge that carries the gateway address (etcd and the
// clients live there), so a test can cut a broker off — from one peer (`partition`) or from
// everything, etcd and clients included (`isolate`) — with iptables DROP rules inside the broker's
// namespace. What this needs on the host, as found on Linux 6.x:
// - root, iproute2 and iptables (iptables-restore);
// - `ip link set lo up` inside each namespace (a new namespace's loopback is down);
// - an ACCEPT rule for the bridge in the root namespace's FORWARD chain: with br_netfilter loaded
//   and net.bridge.bridge-nf-call-iptables=1 (the usual case), bridged frames go through
//   iptables FORWARD, and a DROP policy (Docker sets one) would cut the brokers off each other.
// Names start with a prefix ("slc" by default: slc-br0, slc-b1, slc-v1, iptables comment
// "sluice-slc"), so the leftovers of a run that crashed are found and removed by the next one; a
// lock file names the process using the prefix, so two live runs do not tear down each other.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** bin/sluice: this file (src/cli/, dist/cli/, or the bundle in dist/cli/) is two levels below the repository. */
export const defaultSluiceBin = fileURLToPath(new URL("../../bin/sluice", import.meta.url));

export type ConfigValue = string | number | boolean;

export class DevClusterError extends Error {}

// ---------------------------------------------------------------------------------------------
// Commands and processes

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects (a missing program is code 127). */
function run(argv: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((done) => {
    const child = execFile(argv[0] as string, argv.slice(1), { encoding: "utf8", timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
      done({ code, stdout, stderr: stderr || (error && code === 127 ? error.message : "") });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command and throws with its stderr unless it exits 0. */
async function must(argv: readonly string[], input?: string): Promise<string> {
  const result = await run(argv, input);
  if (result.code !== 0) throw new DevClusterError(`${argv.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** The first directory on PATH holding an executable `name`, or null. */
export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Whether a process with this pid exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a process exists and is not a zombie (a killed orphan may wait a while for its reaper). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-count).join("\n");
  } catch {
    return "";
  }
}

// Children run in their own process group (detached), so a Ctrl-C on the terminal reaches only
// the launcher, which then stops them in order. If this process exits anyway, they go with it.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const running of children) running.kill("SIGKILL");
  });
}

/** A child process writing stdout and stderr to a log file (appended to across restarts). */
class ManagedProcess {
  private child: ChildProcess | null = null;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    readonly name: string,
    readonly logFile: string,
  ) {}

  get pid(): number | null {
    return this.child && this.exitStatus === null ? (this.child.pid ?? null) : null;
  }

  get running(): boolean {
    return this.child !== null && this.exitStatus === null;
  }

  spawn(argv: readonly string[], cwd: string, onExit?: (code: number | null, signal: NodeJS.Signals | null) => void): number {
    if (this.running) throw new DevClusterError(`${this.name} is already running (pid ${this.pid})`);
    const fd = openSync(this.logFile, "a");
    writeSync(fd, `--- ${new Date().toISOString()} ${this.name}: ${argv.join(" ")}\n`);
    let child: ChildProcess;
    try {
      child = spawn(argv[0] as string, argv.slice(1), { cwd, stdio: ["ignore", fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.exitStatus = null;
    track(child);
    this.exit = new Promise((resolveExit) => {
      child.once("error", (error) => {
        this.exitStatus = { code: 127, signal: null };
        writeFileSync(this.logFile, `${this.name}: could not start ${argv[0]}: ${error.message}\n`, { flag: "a" });
        resolveExit(this.exitStatus);
      });
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        onExit?.(code, signal);
        resolveExit(this.exitStatus);
      });
    });
    if (child.pid === undefined) throw new DevClusterError(`could not start ${argv[0]} (see ${this.logFile})`);
    return child.pid;
  }

  /** Sends a signal; waits for the exit unless it is SIGSTOP or SIGCONT. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    if (signal !== "SIGSTOP" && signal !== "SIGCONT") await this.exit;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  async stop(graceMs: number): Promise<number | null> {
    if (this.running) {
      this.child!.kill("SIGCONT");
      this.child!.kill("SIGTERM");
      const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
      await this.exit;
      clearTimeout(timer);
    }
    return this.exitStatus?.code ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// Ports and readiness

/** Whether `host:port` can be bound right now. */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((answer) => {
    const server = createServer();
    server.unref();
    server.once("error", () => answer(false));
    server.listen(port, host, () => server.close(() => answer(true)));
  });
}

/** A port on `host` that was free a moment ago. */
export function freePortOn(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error("no port from listen(0)"))));
    });
  });
}

async function waitFor(what: string, timeoutMs: number, ready: () => Promise<boolean>, abort: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const aborted = abort();
    if (aborted) throw new DevClusterError(aborted);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new DevClusterError(`${what} not ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** One Kafka ApiVersions round trip to host:port (the broker serves). */
async function answersKafka(host: string, port: number): Promise<boolean> {
  const { KafkaClient } = await import("../client/index.js");
  const client = await KafkaClient.connect({ bootstrap: `${host}:${port}`, connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, clientId: "sluice-dev-cluster" });
  client.close();
  return true;
}

// ---------------------------------------------------------------------------------------------
// etcd

export interface EtcdOptions {
  /** Holds etcd's data (data/) and log (etcd.log). */
  dir: string;
  /** The address clients (brokers) use: 127.0.0.1, or the bridge address with netns. */
  host: string;
  /** A free port on `host` when absent. */
  clientPort?: number;
  peerPort?: number;
  /** --name; also what a later run recognises a leftover etcd by. */
  name?: string;
  startTimeoutMs?: number;
}

/** The `etcd` program: from PATH, or a clear error. */
export function findEtcd(): string {
  const etcd = findOnPath("etcd");
  if (!etcd) throw new DevClusterError("etcd is not on PATH: install etcd-server (Debian/Ubuntu: apt-get install etcd-server)");
  return etcd;
}

export class EtcdProcess {
  private readonly process: ManagedProcess;

  private constructor(
    readonly dir: string,
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly name: string,
  ) {
    this.process = new ManagedProcess("etcd", join(dir, "etcd.log"));
  }

  /** http://host:port, what `metadata.store=etcd://host:port` points at. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get pid(): number | null {
    return this.process.pid;
  }

  get logFile(): string {
    return this.process.logFile;
  }

  static async start(options: EtcdOptions): Promise<EtcdProcess> {
    const etcd = findEtcd();
    await mkdir(options.dir, { recursive: true });
    const clientPort =
      options.clientPort !== undefined && (await portIsFree(options.host, options.clientPort)) ? options.clientPort : await freePortOn(options.host);
    const peerPort = options.peerPort !== undefined && (await portIsFree("127.0.0.1", options.peerPort)) ? options.peerPort : await freePortOn("127.0.0.1");
    const process = new EtcdProcess(options.dir, options.host, clientPort, peerPort, options.name ?? "sluice-dev-etcd");
    const client = `http://${options.host}:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    process.process.spawn(
      [
        etcd,
        "--name",
        process.name,
        "--data-dir",
        join(options.dir, "data"),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `${process.name}=${peer}`,
        "--initial-cluster-state",
        "new",
        "--logger",
        "zap",
        "--log-outputs",
        "stderr",
      ],
      options.dir,
    );
    await waitFor(
      `etcd at ${client}`,
      options.startTimeoutMs ?? 30_000,
      async () => {
        const response = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1_000) });
        return ((await response.json()) as { health?: string }).health === "true";
      },
      () => (process.process.running ? null : `etcd exited during startup; ${process.logFile} ends with:\n${lastLines(process.logFile, 15)}`),
    );
    return process;
  }

  async stop(graceMs = 10_000): Promise<void> {
    await this.process.stop(graceMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

export interface NamespaceNetworkOptions {
  /** Prefix of every name made (namespaces, links, the iptables comment); "slc" by default. */
  prefix?: string;
  /** The /24 to use, as its first three numbers: "10.77.0" by default (gateway .1, broker i at .(10+i)). */
  subnet?: string;
  log?: (line: string) => void;
}

/** Why network namespaces cannot be used here, or null when they can. */
export async function namespaceSupport(): Promise<string | null> {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns, iptables)";
  for (const program of ["ip", "iptables", "iptables-restore"]) {
    if (!findOnPath(program)) return `${program} is not on PATH (Debian: apt-get install iproute2 iptables)`;
  }
  const probe = `slprobe${process.pid}`;
  const added = await run(["ip", "netns", "add", probe]);
  if (added.code !== 0) return `ip netns add fails here: ${added.stderr.trim()}`;
  const listed = await run(["ip", "netns", "exec", probe, "iptables", "-S"]);
  await run(["ip", "netns", "del", probe]);
  if (listed.code !== 0) return `iptables does not work inside a namespace: ${listed.stderr.trim()}`;
  return null;
}

/**
 * A bridge in the root namespace and one namespace per broker, plus the faults applied to them.
 * Faults are kept as a set (isolated brokers, partitioned pairs); each change rewrites the filter
 * table of the namespaces it touches in one iptables-restore, so a heal leaves nothing behind.
 */
export class NamespaceNetwork {
  readonly prefix: string;
  readonly subnet: string;
  readonly bridge: string;
  readonly gateway: string;
  private readonly comment: string;
  private readonly lockFile: string;
  private readonly log: (line: string) => void;
  private readonly isolated = new Set<number>();
  private readonly partitions = new Set<string>();
  private brokerIds: number[] = [];

  constructor(options: NamespaceNetworkOptions = {}) {
    this.prefix = options.prefix ?? "slc";
    if (!/^[a-z][a-z0-9]{0,5}$/.test(this.prefix)) throw new DevClusterError(`network prefix ${this.prefix}: 1-6 lowercase letters and digits`);
    this.subnet = options.subnet ?? "10.77.0";
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(this.subnet)) throw new DevClusterError(`subnet ${this.subnet}: three numbers, e.g. 10.77.0`);
    this.bridge = `${this.prefix}-br0`;
    this.gateway = `${this.subnet}.1`;
    this.comment = `sluice-${this.prefix}`;
    this.lockFile = join(tmpdir(), `sluice-netns-${this.prefix}.lock`);
    this.log = options.log ?? (() => {});
  }

  namespace(nodeId: number): string {
    return `${this.prefix}-b${nodeId}`;
  }

  address(nodeId: number): string {
    return `${this.subnet}.${10 + nodeId}`;
  }

  private hostVeth(nodeId: number): string {
    return `${this.prefix}-v${nodeId}`;
  }

  /** argv prefix that runs a program inside broker `nodeId`'s namespace. */
  exec(nodeId: number): string[] {
    return ["ip", "netns", "exec", this.namespace(nodeId)];
  }

  /** Takes the prefix (lock file), removes a crashed run's leftovers, then makes the bridge and namespaces. */
  async setUp(nodeIds: readonly number[]): Promise<void> {
    if (nodeIds.some((id) => id < 1 || id > 200)) throw new DevClusterError("node ids must be 1..200 with netns (the address is .10+id)");
    this.takeLock();
    try {
      await this.removeLeftovers();
      await this.checkSubnetIsFree();
      await must(["ip", "link", "add", this.bridge, "type", "bridge"]);
      await must(["ip", "addr", "add", `${this.gateway}/24`, "dev", this.bridge]);
      await must(["ip", "link", "set", this.bridge, "up"]);
      for (const chain of ["FORWARD", "INPUT"]) {
        const match = chain === "FORWARD" ? ["-i", this.bridge, "-o", this.bridge] : ["-i", this.bridge];
        await must(["iptables", "-w", "-I", chain, ...match, "-m", "comment", "--comment", this.comment, "-j", "ACCEPT"]);
      }
      for (const id of nodeIds) await this.addNamespace(id);
      this.brokerIds = [...nodeIds];
    } catch (error) {
      await this.tearDown();
      throw error;
    }
  }

  private async addNamespace(nodeId: number): Promise<void> {
    const namespace = this.namespace(nodeId);
    await must(["ip", "netns", "add", namespace]);
    await must(["ip", "link", "add", this.hostVeth(nodeId), "type", "veth", "peer", "name", "eth0", "netns", namespace]);
    await must(["ip", "link", "set", this.hostVeth(nodeId), "master", this.bridge, "up"]);
    await must(["ip", "-n", namespace, "link", "set", "lo", "up"]);
    await must(["ip", "-n", namespace, "addr", "add", `${this.address(nodeId)}/24`, "dev", "eth0"]);
    await must(["ip", "-n", namespace, "link", "set", "eth0", "up"]);
  }

  private takeLock(): void {
    if (existsSync(this.lockFile)) {
      const owner = Number(readFileSync(this.lockFile, "utf8").trim());
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new DevClusterError(
          `the network prefix ${this.prefix} is in use by process ${owner} (another chaos run or dev cluster; ${this.lockFile}): stop it or use another prefix`,
        );
      }
    }
    writeFileSync(this.lockFile, `${process.pid}\n`);
  }

  private async checkSubnetIsFree(): Promise<void> {
    const routes = await must(["ip", "-4", "route", "show"]);
    const taken = routes.split("\n").find((line) => line.startsWith(`${this.subnet}.`) && !line.includes(`dev ${this.bridge}`));
    if (taken) throw new DevClusterError(`the subnet ${this.subnet}.0/24 is already routed here (${taken.trim()}): choose another subnet`);
  }

  /** Removes namespaces, links and iptables rules with this prefix (and kills what runs in those namespaces). */
  removeLeftovers(): Promise<void> {
    return this.removeAll("leftover");
  }

  private async removeAll(kind: "leftover" | "this run's"): Promise<void> {
    const namespaces = (await run(["ip", "netns", "list"])).stdout
      .split("\n")
      .map((line) => line.split(" ")[0] as string)
      .filter((name) => name.startsWith(`${this.prefix}-b`));
    for (const namespace of namespaces) {
      const pids = (await run(["ip", "netns", "pids", namespace])).stdout.split(/\s+/).filter((pid) => /^\d+$/.test(pid));
      for (const pid of pids) {
        this.log(`killing process ${pid} left in namespace ${namespace} (${kind})`);
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
      await run(["ip", "netns", "del", namespace]);
    }
    if (namespaces.length > 0 && kind === "leftover") this.log(`removed leftover namespaces: ${namespaces.join(", ")}`);
    // An etcd of a crashed run listens on the gateway address (gone with the bridge): it is known by its name.
    for (const entry of (await run(["pgrep", "-f", "--", `--name ${this.prefix}-etcd `])).stdout.split(/\s+/).filter((pid) => /^\d+$/.test(pid))) {
      if (Number(entry) === process.pid || !commandLine(Number(entry)).startsWith(findOnPath("etcd") ?? "etcd")) continue;
      this.log(`killing etcd ${entry} left by an earlier run`);
      try {
        process.kill(Number(entry), "SIGKILL");
      } catch {}
    }
    await this.deleteLinks();
    for (const chain of ["FORWARD", "INPUT"]) {
      const rules = (await run(["iptables", "-w", "-S", chain])).stdout.split("\n").filter((rule) => rule.includes(`--comment ${this.comment}`));
      for (const rule of rules) await run(["iptables", "-w", ...rule.replace(/^-A /, "-D ").split(" ")]);
    }
  }

  private async links(): Promise<string[]> {
    return (await run(["ip", "-o", "link", "show"])).stdout
      .split("\n")
      .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "")
      .filter((name) => name.startsWith(`${this.prefix}-`));
  }

  /** Deletes this prefix's links; the root ends of veth pairs outlive their namespace for a moment. */
  private async deleteLinks(): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const links = await this.links();
      if (links.length === 0) return;
      for (const link of links) await run(["ip", "link", "del", link]);
      await sleep(100);
    }
    const links = await this.links();
    if (links.length > 0) throw new DevClusterError(`could not delete links ${links.join(", ")}`);
  }

  async tearDown(): Promise<void> {
    this.isolated.clear();
    this.partitions.clear();
    await this.removeAll("this run's");
    this.brokerIds = [];
    try {
      if (Number(readFileSync(this.lockFile, "utf8").trim()) === process.pid) unlinkSync(this.lockFile);
    } catch {}
  }

  // Faults

  /** Cuts a broker off from everything but its own loopback: peers, etcd and clients. */
  async isolate(nodeId: number): Promise<void> {
    this.isolated.add(nodeId);
    await this.apply([nodeId]);
  }

  /** Drops all traffic between two brokers, both directions (rules in both namespaces). */
  async partition(a: number, b: number): Promise<void> {
    if (a === b) throw new DevClusterError("a broker cannot be partitioned from itself");
    this.partitions.add(pairKey(a, b));
    await this.apply([a, b]);
  }

  /** Removes every fault that involves this broker. */
  async heal(nodeId: number): Promise<void> {
    const touched = new Set([nodeId]);
    this.isolated.delete(nodeId);
    for (const pair of [...this.partitions]) {
      const [a, b] = pair.split("-").map(Number) as [number, number];
      if (a !== nodeId && b !== nodeId) continue;
      this.partitions.delete(pair);
      touched.add(a).add(b);
    }
    await this.apply([...touched]);
  }

  async healAll(): Promise<void> {
    this.isolated.clear();
    this.partitions.clear();
    await this.apply(this.brokerIds);
  }

  /** Faults in force, for logs: e.g. ["isolated 2", "partition 1-3"]. */
  faults(): string[] {
    return [...[...this.isolated].map((id) => `isolated ${id}`), ...[...this.partitions].map((pair) => `partition ${pair}`)];
  }

  private rules(nodeId: number): string[] {
    const rules: string[] = [];
    if (this.isolated.has(nodeId)) rules.push("-A INPUT ! -i lo -j DROP", "-A OUTPUT ! -o lo -j DROP");
    for (const pair of this.partitions) {
      const [a, b] = pair.split("-").map(Number) as [number, number];
      const other = a === nodeId ? b : b === nodeId ? a : null;
      if (other !== null) rules.push(`-A INPUT -s ${this.address(other)}/32 -j DROP`, `-A OUTPUT -d ${this.address(other)}/32 -j DROP`);
    }
    return rules;
  }

  private async apply(nodeIds: readonly number[]): Promise<void> {
    for (const id of nodeIds) {
      const table = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...this.rules(id), "COMMIT", ""].join("\n");
      await must([...this.exec(id), "iptables-restore"], table);
    }
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

// ---------------------------------------------------------------------------------------------
// Brokers

export interface BrokerSpec {
  nodeId: number;
  /** The address the broker listens on (127.0.0.1, or its namespace's address). */
  host: string;
  /** The address it advertises (localhost in dev, the same address in namespaces). */
  advertisedHost: string;
  port: number;
  /** http.listeners, or null for none. */
  httpPort: number | null;
  /** Holds data/ (log.dirs) and broker.log. */
  dir: string;
  /** `--override` keys, all of them. */
  overrides: Record<string, ConfigValue>;
  /** argv prefix (`ip netns exec NS`), empty outside namespaces. */
  wrapper: string[];
  sluiceBin: string;
  nodeArgs: string[];
  /** The command instead of Sluice's (after `wrapper`): see DevClusterOptions.brokerCommand. */
  command: string[] | null;
}

export class BrokerProcess {
  private readonly process: ManagedProcess;
  /** Called when the broker exits on its own (not through stop or signal). */
  onUnexpectedExit: ((broker: BrokerProcess, code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
  private stopping = false;

  constructor(readonly spec: BrokerSpec) {
    this.process = new ManagedProcess(`broker ${spec.nodeId}`, join(spec.dir, "broker.log"));
  }

  get nodeId(): number {
    return this.spec.nodeId;
  }

  get host(): string {
    return this.spec.advertisedHost;
  }

  get port(): number {
    return this.spec.port;
  }

  get logFile(): string {
    return this.process.logFile;
  }

  /** log.dirs */
  get logDir(): string {
    return join(this.spec.dir, "data");
  }

  get pid(): number | null {
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.running;
  }

  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.process.exitStatus;
  }

  argv(): string[] {
    if (this.spec.command) return [...this.spec.wrapper, ...this.spec.command];
    const argv = [...this.spec.wrapper, process.execPath, ...this.spec.nodeArgs, this.spec.sluiceBin, "start"];
    for (const [key, value] of Object.entries(this.spec.overrides)) argv.push("--override", `${key}=${String(value)}`);
    return argv;
  }

  /** Starts the broker (again) and waits until it answers ApiVersions from this namespace. */
  async start(timeoutMs = 60_000): Promise<void> {
    await mkdir(this.logDir, { recursive: true });
    this.stopping = false;
    this.process.spawn(this.argv(), this.spec.dir, (code, signal) => {
      if (!this.stopping) this.onUnexpectedExit?.(this, code, signal);
    });
    await waitFor(
      `broker ${this.nodeId} at ${this.spec.host}:${this.port}`,
      timeoutMs,
      () => answersKafka(this.spec.host, this.port),
      () =>
        this.process.running
          ? null
          : `broker ${this.nodeId} exited during startup (${JSON.stringify(this.process.exitStatus)}); ${this.logFile} ends with:\n${lastLines(this.logFile, 15)}`,
    );
  }

  /** SIGTERM, SIGKILL after `graceMs`; the exit code (null if killed by a signal). */
  async stop(graceMs = 30_000): Promise<number | null> {
    this.stopping = true;
    return this.process.stop(graceMs);
  }

  /** Sends `signal` (SIGKILL by default: a crash) and waits for the exit (not for SIGSTOP/SIGCONT). */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (signal !== "SIGCONT" && signal !== "SIGSTOP") this.stopping = true;
    await this.process.signal(signal);
  }
}

// ---------------------------------------------------------------------------------------------
// The cluster

export interface DevClusterOptions {
  brokers: number;
  /** Broker i listens on basePort + i - 1; 9092 by default. */
  basePort?: number;
  /** Broker i's HTTP plane on httpBasePort + i - 1; null (the default) for none. */
  httpBasePort?: number | null;
  /** Everything goes here: etcd/, broker-<i>/ (data/ and broker.log), dev-cluster.json. */
  dataDir: string;
  /** Wipe dataDir first. */
  clean?: boolean;
  /** One network namespace per broker (root only); the faults need it. */
  netns?: boolean;
  network?: NamespaceNetworkOptions;
  /** false: no etcd and no metadata.store, i.e. N independent single-node brokers. */
  etcd?: boolean;
  /** More `--override` keys for every broker (after the ones set here, so they win). */
  overrides?: Record<string, ConfigValue>;
  /** Per-broker overrides, after `overrides`. */
  brokerOverrides?: (nodeId: number) => Record<string, ConfigValue>;
  sluiceBin?: string;
  nodeArgs?: string[];
  /**
   * Another broker's command line for node `spec.nodeId` (run in its namespace, cwd spec.dir, output
   * to broker.log), instead of Sluice's: test harnesses put a reference broker (Apache Kafka) under
   * the same faults. It gets `spec` with the addresses and dirs; the Sluice overrides are not used.
   */
  brokerCommand?: (spec: BrokerSpec) => string[];
  startTimeoutMs?: number;
  /** SIGTERM to SIGKILL, per broker: 30 s by default. */
  stopGraceMs?: number;
  log?: (line: string) => void;
}

interface StateFile {
  launcherPid: number;
  etcd: { pid: number | null; clientPort: number; peerPort: number } | null;
  brokers: { nodeId: number; pid: number | null }[];
}

const stateFileName = "dev-cluster.json";

export class DevCluster {
  private stopped = false;

  private constructor(
    readonly options: DevClusterOptions,
    readonly dataDir: string,
    readonly etcd: EtcdProcess | null,
    readonly brokers: BrokerProcess[],
    readonly network: NamespaceNetwork | null,
  ) {}

  /** host:port of every broker, comma-separated. */
  get bootstrap(): string {
    return this.brokers.map((broker) => `${broker.host}:${broker.port}`).join(",");
  }

  broker(nodeId: number): BrokerProcess {
    const broker = this.brokers.find((candidate) => candidate.nodeId === nodeId);
    if (!broker) throw new DevClusterError(`no broker ${nodeId}`);
    return broker;
  }

  private requireNetwork(): NamespaceNetwork {
    if (!this.network) throw new DevClusterError("network faults need the brokers in network namespaces (netns)");
    return this.network;
  }

  isolate(nodeId: number): Promise<void> {
    return this.requireNetwork().isolate(nodeId);
  }

  partition(a: number, b: number): Promise<void> {
    return this.requireNetwork().partition(a, b);
  }

  heal(nodeId: number): Promise<void> {
    return this.requireNetwork().heal(nodeId);
  }

  async healAll(): Promise<void> {
    await this.network?.healAll();
  }

  static async start(options: DevClusterOptions): Promise<DevCluster> {
    const log = options.log ?? (() => {});
    if (!Number.isInteger(options.brokers) || options.brokers < 1 || options.brokers > 64) throw new DevClusterError("--brokers must be 1..64");
    const dataDir = resolve(options.dataDir);
    await DevCluster.clearLeftovers(dataDir, log);
    if (options.clean) await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const previous = await DevCluster.readState(dataDir);
    const useEtcd = options.etcd ?? true;
    if (useEtcd) findEtcd();
    const nodeIds = Array.from({ length: options.brokers }, (_, index) => index + 1);
    const basePort = options.basePort ?? 9092;

    let network: NamespaceNetwork | null = null;
    if (options.netns) {
      const unsupported = await namespaceSupport();
      if (unsupported) throw new DevClusterError(unsupported);
      network = new NamespaceNetwork({ ...options.network, log });
      await network.setUp(nodeIds);
    } else {
      for (const id of nodeIds) {
        // A broker killed a moment ago (a leftover, above) may still hold its port.
        let free = await portIsFree("127.0.0.1", basePort + id - 1);
        for (let waited = 0; !free && waited < 5_000; waited += 200) {
          await sleep(200);
          free = await portIsFree("127.0.0.1", basePort + id - 1);
        }
        if (!free) {
          throw new DevClusterError(`port ${basePort + id - 1} is in use (another broker?): choose another --base-port`);
        }
      }
    }

    let etcd: EtcdProcess | null = null;
    const brokers: BrokerProcess[] = [];
    const cluster = () => new DevCluster(options, dataDir, etcd, brokers, network);
    try {
      if (useEtcd) {
        etcd = await EtcdProcess.start({
          dir: join(dataDir, "etcd"),
          host: network?.gateway ?? "127.0.0.1",
          clientPort: previous?.etcd?.clientPort,
          peerPort: previous?.etcd?.peerPort,
          name: network ? `${network.prefix}-etcd` : "sluice-dev-etcd",
          startTimeoutMs: options.startTimeoutMs,
        });
        log(`etcd: ${etcd.endpoint} (pid ${etcd.pid}, log ${etcd.logFile})`);
      }
      for (const nodeId of nodeIds) brokers.push(new BrokerProcess(DevCluster.brokerSpec(options, dataDir, nodeId, network, etcd)));
      await Promise.all(brokers.map((broker) => mkdir(broker.spec.dir, { recursive: true })));
      const started = await Promise.allSettled(brokers.map((broker) => broker.start(options.startTimeoutMs)));
      const failed = started.find((result) => result.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      const running = cluster();
      await running.writeState();
      return running;
    } catch (error) {
      await cluster().stop();
      throw error;
    }
  }

  private static brokerSpec(
    options: DevClusterOptions,
    dataDir: string,
    nodeId: number,
    network: NamespaceNetwork | null,
    etcd: EtcdProcess | null,
  ): BrokerSpec {
    const port = (options.basePort ?? 9092) + nodeId - 1;
    const host = network ? network.address(nodeId) : "127.0.0.1";
    const advertisedHost = network ? host : "localhost";
    const httpPort = options.httpBasePort === null || options.httpBasePort === undefined ? null : options.httpBasePort + nodeId - 1;
    const dir = join(dataDir, `broker-${nodeId}`);
    const overrides: Record<string, ConfigValue> = {
      "node.id": nodeId,
      listeners: `PLAINTEXT://${host}:${port}`,
      "advertised.listeners": `PLAINTEXT://${advertisedHost}:${port}`,
      "log.dirs": join(dir, "data"),
      "broker.rack": `rack-${nodeId}`,
      "http.listeners": httpPort === null ? "" : `http://${host}:${httpPort}`,
    };
    if (etcd) {
      overrides["metadata.store"] = `etcd://${etcd.endpoint}`;
      // Kafka's defaults want 3 brokers for the internal topics; a smaller dev cluster gets what it has.
      const internalReplicas = Math.min(3, options.brokers);
      overrides["offsets.topic.replication.factor"] = internalReplicas;
      overrides["transaction.state.log.replication.factor"] = internalReplicas;
      overrides["transaction.state.log.min.isr"] = Math.min(2, internalReplicas);
    }
    Object.assign(overrides, options.overrides, options.brokerOverrides?.(nodeId));
    const spec: BrokerSpec = {
      nodeId,
      host,
      advertisedHost,
      port,
      httpPort,
      dir,
      overrides,
      wrapper: network ? network.exec(nodeId) : [],
      sluiceBin: options.sluiceBin ?? defaultSluiceBin,
      nodeArgs: options.nodeArgs ?? [],
      command: null,
    };
    if (options.brokerCommand) spec.command = options.brokerCommand(spec);
    return spec;
  }

  /** Records the pids, so a later start finds what a launcher killed with SIGKILL left running. */
  async writeState(): Promise<void> {
    const state: StateFile = {
      launcherPid: process.pid,
      etcd: this.etcd ? { pid: this.etcd.pid, clientPort: this.etcd.clientPort, peerPort: this.etcd.peerPort } : null,
      brokers: this.brokers.map((broker) => ({ nodeId: broker.nodeId, pid: broker.pid })),
    };
    await writeFile(join(this.dataDir, stateFileName), `${JSON.stringify(state, null, 2)}\n`);
  }

  private static async readState(dataDir: string): Promise<StateFile | null> {
    try {
      return JSON.parse(await readFile(join(dataDir, stateFileName), "utf8")) as StateFile;
    } catch {
      return null;
    }
  }

  /** Refuses a data dir a live launcher uses; kills the processes a dead one left (known by the data dir in their command line). */
  private static async clearLeftovers(dataDir: string, log: (line: string) => void): Promise<void> {
    const state = await DevCluster.readState(dataDir);
    if (!state) return;
    if (state.launcherPid !== process.pid && isAlive(state.launcherPid) && commandLine(state.launcherPid).includes("sluice")) {
      throw new DevClusterError(`${dataDir} is in use by a running cluster launcher (pid ${state.launcherPid})`);
    }
    const pids = [state.etcd?.pid, ...state.brokers.map((broker) => broker.pid)].filter((pid): pid is number => typeof pid === "number");
    for (const pid of pids) {
      if (isAlive(pid) && commandLine(pid).includes(dataDir)) {
        log(`killing process ${pid} left running by an earlier launcher`);
        process.kill(pid, "SIGKILL");
        for (let waited = 0; waited < 5_000 && isRunning(pid); waited += 50) await sleep(50);
      }
    }
  }

  /** Stops the brokers (SIGTERM, SIGKILL after the grace period), then etcd, then removes the namespaces. */
  async stop(): Promise<(number | null)[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const grace = this.options.stopGraceMs ?? 30_000;
    // A broker cut off would spend its grace period failing to reach etcd.
    await this.network?.healAll().catch(() => {});
    const codes = await Promise.all(this.brokers.map((broker) => broker.stop(grace)));
    await this.etcd?.stop();
    await this.network?.tearDown();
    // The ports stay recorded (a restart reuses etcd's); the pids are gone.
    await this.writeState().catch(() => {});
    return codes;
  }
}
