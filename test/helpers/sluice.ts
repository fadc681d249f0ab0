// Sluice's broker as a child process (`node bin/sluice start`), plus the measuring tools the broker
// benchmark (bench/broker-vs-kafka.ts) uses on either broker: an ApiVersions probe for "serving",
// CPU seconds from /proc/<pid>/stat and resident memory from /proc/<pid>/status. Node builtins only,
// so vitest tests and tsx bench scripts can both use it; Linux only (/proc).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./kafka.js";

const repository = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI the broker is started with; it loads dist/cli/main.js, so `npm run build:ts` first. */
export const sluiceBin = join(repository, "bin", "sluice");
const builtCli = join(repository, "dist", "cli", "main.js");

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

// ---------------------------------------------------------------------------------------------
// /proc

let clockTicks: number | undefined;

/** USER_HZ, the unit of the times in /proc/<pid>/stat (`getconf CLK_TCK`; 100 if that fails). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      clockTicks = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** The fields of /proc/<pid>/stat after the command name (field 3, state, is index 0). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may itself hold spaces and ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/**
 * CPU seconds the process has used so far, all threads, user + system (utime + stime of
 * /proc/<pid>/stat; children are not counted). Null once the process is gone. Resolution 1/CLK_TCK.
 */
export function cpuSeconds(pid: number): number | null {
  const fields = statFields(pid);
  if (!fields) return null;
  // utime and stime are fields 14 and 15 of stat(5), i.e. indexes 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
}

export interface MemoryKiB {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the peak resident size over the process's life so far. */
  hwm: number;
  /** RssAnon: heap, stacks, anonymous mappings. */
  anon: number;
  /** RssFile: resident pages of mapped files (e.g. mmap'd segments and indexes, shared libraries). */
  file: number;
}

/** VmRSS, VmHWM, RssAnon and RssFile of a process in KiB (/proc/<pid>/status), or null if it is gone. */
export function memoryKiB(pid: number): MemoryKiB | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? Number.NaN);
    const memory = { rss: field("VmRSS"), hwm: field("VmHWM"), anon: field("RssAnon"), file: field("RssFile") };
    return Number.isNaN(memory.rss) ? null : memory;
  } catch {
    return null;
  }
}

/** Whole-machine CPU time so far (all cores, /proc/stat): busy and total seconds. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const ticks = clockTicksPerSecond();
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / ticks, total: (busy + idle + iowait) / ticks };
}

/**
 * Samples VmRSS of a process every `intervalMs` (100 by default) until stopped; the peak of the
 * samples is "RSS under load" (VmHWM covers the whole life, startup included).
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peakKiB = 0;
  /** Peak RssAnon (memory the process itself allocated, without mapped files). */
  peakAnonKiB = 0;
  samples = 0;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const memory = memoryKiB(this.pid);
    if (!memory) return;
    this.samples++;
    if (memory.rss > this.peakKiB) this.peakKiB = memory.rss;
    if (memory.anon > this.peakAnonKiB) this.peakAnonKiB = memory.anon;
  }

  /** Takes a last sample and stops; returns the peak VmRSS seen, in KiB. */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    return this.peakKiB;
  }
}

/** The pids whose parent is `parentPid` (from /proc/<pid>/stat). */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields && Number(fields[1]) === parentPid) children.push(Number(name));
  }
  return children;
}

/**
 * CPU seconds used by the child processes of `parentPid` (by default this process: e.g. the JVMs
 * runJavaTool starts) while sampling, polled every `intervalMs`. A child's CPU after the last poll
 * before it exits is missed (at most one interval's worth).
 */
export class ChildCpuSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();

  constructor(
    private readonly parentPid = process.pid,
    intervalMs = 100,
  ) {
    // Children already running count from now, not from their start.
    for (const pid of childPids(parentPid)) {
      const cpu = cpuSeconds(pid);
      if (cpu !== null) this.first.set(pid, cpu);
    }
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    for (const pid of childPids(this.parentPid)) {
      const cpu = cpuSeconds(pid);
      if (cpu !== null) this.last.set(pid, cpu);
    }
  }

  /** Stops; the CPU seconds the children used meanwhile, excluding `exclude` (e.g. a broker that is a child too). */
  stop(exclude: number[] = []): number {
    this.sample();
    clearInterval(this.timer);
    let total = 0;
    for (const [pid, cpu] of this.last) if (!exclude.includes(pid)) total += cpu - (this.first.get(pid) ?? 0);
    return total;
  }
}

// ---------------------------------------------------------------------------------------------
// "Serving" = a Kafka ApiVersions request gets a valid answer over TCP

// ApiVersions v0 by hand (request header v1, empty body; response header v0): the probe must not
// depend on Sluice's own codec, and every Kafka broker answers v0.
const apiVersionsKey = 18;

function apiVersionsRequest(correlationId: number): Buffer {
  const clientId = Buffer.from("sluice-probe");
  const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  let at = frame.writeInt32BE(frame.length - 4, 0);
  at = frame.writeInt16BE(apiVersionsKey, at);
  at = frame.writeInt16BE(0, at);
  at = frame.writeInt32BE(correlationId, at);
  at = frame.writeInt16BE(clientId.length, at);
  clientId.copy(frame, at);
  return frame;
}

export interface ApiVersionsAnswer {
  errorCode: number;
  /** The API keys the broker lists, with their version ranges. */
  apis: { apiKey: number; minVersion: number; maxVersion: number }[];
}

/**
 * Sends one ApiVersions v0 request and resolves with the parsed answer; rejects on a refused or
 * closed connection, a timeout, or an answer that is not a well-formed ApiVersions v0 response.
 */
export function probeApiVersions(host: string, port: number, timeoutMs = 1_000): Promise<ApiVersionsAnswer> {
  return new Promise((resolve, reject) => {
    const correlationId = 0x51c3;
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | null, answer?: ApiVersionsAnswer) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => finish(new Error(`no ApiVersions answer from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error(`${host}:${port} closed the connection before answering ApiVersions`)));
    socket.on("connect", () => socket.write(apiVersionsRequest(correlationId)));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (size < 10 || size > 1 << 20) return finish(new Error(`ApiVersions answer of implausible size ${size}`));
      if (received.length < 4 + size) return;
      try {
        const body = received.subarray(4, 4 + size);
        if (body.readInt32BE(0) !== correlationId) throw new Error("ApiVersions answer with the wrong correlation id");
        const errorCode = body.readInt16BE(4);
        const count = body.readInt32BE(6);
        if (count < 0 || 10 + count * 6 > body.length) throw new Error(`ApiVersions answer with a bad api_keys count ${count}`);
        const apis = [];
        for (let i = 0, at = 10; i < count; i++, at += 6) {
          apis.push({ apiKey: body.readInt16BE(at), minVersion: body.readInt16BE(at + 2), maxVersion: body.readInt16BE(at + 4) });
        }
        finish(null, { errorCode, apis });
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

export interface WaitServingOptions {
  /** Poll interval, 5 ms by default. */
  intervalMs?: number;
  /** Gives up (rejects) after this long; 60 s by default. */
  timeoutMs?: number;
  /** Checked before each attempt: a message (e.g. "the broker exited") stops the wait with that error. */
  abort?: () => string | null;
}

/**
 * Polls 127.0.0.1:<port> (or `host`) with ApiVersions until a valid answer with error code 0 and at
 * least one API arrives; resolves with performance.now() at that moment.
 */
export async function waitUntilServing(port: number, options: WaitServingOptions & { host?: string } = {}): Promise<number> {
  const host = options.host ?? "127.0.0.1";
  const interval = options.intervalMs ?? 5;
  const deadline = performance.now() + (options.timeoutMs ?? 60_000);
  let lastError = "";
  for (;;) {
    const aborted = options.abort?.();
    if (aborted) throw new Error(aborted);
    const attempt = performance.now();
    try {
      const answer = await probeApiVersions(host, port, 1_000);
      if (answer.errorCode === 0 && answer.apis.length > 0) return performance.now();
      lastError = `ApiVersions answered with error ${answer.errorCode} and ${answer.apis.length} APIs`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (performance.now() > deadline)
      throw new Error(`${host}:${port} did not answer ApiVersions within ${options.timeoutMs ?? 60_000} ms (last: ${lastError})`);
    await sleep(Math.max(0, interval - (performance.now() - attempt)));
  }
}

// ---------------------------------------------------------------------------------------------
// The broker

export interface StartSluiceOptions {
  /** PLAINTEXT port on 127.0.0.1; a free one by default. */
  port?: number;
  /** log.dirs (one directory). Default: `<workDir>/data`. */
  logDir?: string;
  /** Holds nothing yet but is the broker's cwd; a new temp dir by default. The caller removes it. */
  workDir?: string;
  /** More `--override key=value` (Kafka key names), after listeners and log.dirs (so they win). */
  overrides?: Record<string, string | number | boolean>;
  /** `--config FILE`, before the overrides. */
  configFile?: string;
  /** Added to process.env for the broker. */
  env?: NodeJS.ProcessEnv;
  /** More arguments for node itself (before bin/sluice), e.g. ["--max-old-space-size=256"]. */
  nodeArgs?: string[];
  /**
   * The script node runs instead of bin/sluice, e.g. src/cli/main.ts with nodeArgs ["--import", import.meta.resolve("tsx")] (resolved here: the broker runs in workDir)
   * to run the sources without a build (tsx then adds its compile time to startupMs).
   */
  script?: string;
  /** Fails if it does not answer ApiVersions within this long: 30 s by default. */
  startTimeoutMs?: number;
  /** Readiness poll interval: 5 ms by default. */
  probeIntervalMs?: number;
}

export interface SluiceBroker {
  /** "127.0.0.1:<port>" */
  bootstrap: string;
  port: number;
  logDir: string;
  workDir: string;
  pid: number;
  /** Milliseconds from spawning `node bin/sluice start` to the first valid ApiVersions answer. */
  startupMs: number;
  /** VmRSS in KiB, null once it has exited. */
  residentKiB(): number | null;
  /** VmRSS and VmHWM in KiB, null once it has exited. */
  memoryKiB(): MemoryKiB | null;
  /**
   * The HTTP plane's base URL (http://127.0.0.1:<port>), from the broker's start log line; rejects
   * when the broker runs without one (http.listeners empty).
   */
  httpUrl(): Promise<string>;
  /** utime + stime in seconds so far, null once it has exited. */
  cpuSeconds(): number | null;
  /** Everything the broker wrote to stdout / stderr so far (the last 1 MiB of each). */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, waits for the exit (SIGKILL after `timeoutMs`, 30 s by default); resolves with the exit code (null if killed by a signal). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, as a crash would; waits for the exit. */
  kill(): Promise<void>;
}

const outputKeptBytes_max = 1024 * 1024;
const stopTimeoutMs_default = 30_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Why bin/sluice may not run the current sources: null when dist/ is at least as new as src/,
 * otherwise a sentence to show. bin/sluice runs dist/, which `npm run build:ts` writes.
 */
export function staleBuildWarning(): string | null {
  if (!existsSync(builtCli)) return "dist/cli/main.js is missing: run `npm run build` (or `npm run build:ts`) first";
  const built = statSync(builtCli).mtimeMs;
  const sources = newestMtimeMs(join(repository, "src"));
  return sources > built ? "src/ has .ts files newer than dist/cli/main.js: bin/sluice runs the older build (`npm run build:ts`)" : null;
}

/**
 * Starts `node bin/sluice start --override listeners=PLAINTEXT://127.0.0.1:<port> --override
 * log.dirs=<logDir> [--override k=v]...` and resolves once it answers ApiVersions. Rejects with the
 * broker's output if it exits first (e.g. a CLI without a `start` command yet) or does not answer in time.
 */
export async function startSluice(options: StartSluiceOptions = {}): Promise<SluiceBroker> {
  const port = options.port ?? (await freePort());
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), "sluice-broker-")));
  await mkdir(workDir, { recursive: true });
  const logDir = options.logDir ?? join(workDir, "data");
  await mkdir(logDir, { recursive: true });
  const script = options.script ?? sluiceBin;
  if (!options.script && !existsSync(builtCli)) throw new Error(`cannot start Sluice: ${staleBuildWarning()}`);

  const args = [...(options.nodeArgs ?? []), script, "start"];
  if (options.configFile) args.push("--config", options.configFile);
  const overrides: Record<string, string | number | boolean> = {
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    "log.dirs": logDir,
    // A free port: brokers of tests running side by side must not fight over 9644.
    "http.listeners": "http://127.0.0.1:0",
    ...options.overrides,
  };
  for (const [key, value] of Object.entries(overrides)) args.push("--override", `${key}=${String(value)}`);

  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: workDir, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  installExitHook();
  let stdout = "";
  let stderr = "";
  const keep = (text: string, chunk: Buffer) => {
    text += chunk.toString("utf8");
    return text.length > outputKeptBytes_max ? text.slice(text.length - outputKeptBytes_max) : text;
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout = keep(stdout, chunk);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = keep(stderr, chunk);
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      resolve(exit);
    });
  });
  child.on("error", (error) => {
    spawnError = error;
  });
  const output = () => `${stdout}${stderr}`.slice(-4000);

  try {
    const servingAt = await waitUntilServing(port, {
      intervalMs: options.probeIntervalMs ?? 5,
      timeoutMs: options.startTimeoutMs ?? 30_000,
      abort: () => {
        if (spawnError) return `could not spawn ${process.execPath} ${script}: ${spawnError.message}`;
        if (!exit) return null;
        const noStart = /unknown command '?start'?/i.test(stderr) ? " (this bin/sluice has no `start` command yet)" : "";
        return `Sluice exited during startup${noStart} (${JSON.stringify(exit)}); output ends with:\n${output()}`;
      },
    });
    const startupMs = servingAt - started;
    const pid = child.pid!;
    return {
      bootstrap: `127.0.0.1:${port}`,
      port,
      logDir,
      workDir,
      pid,
      startupMs,
      residentKiB: () => (exit ? null : (memoryKiB(pid)?.rss ?? null)),
      memoryKiB: () => (exit ? null : memoryKiB(pid)),
      cpuSeconds: () => (exit ? null : cpuSeconds(pid)),
      httpUrl: async () => {
        // The start line comes just after the listener answers ApiVersions.
        for (let waited = 0; waited < 10_000; waited += 20) {
          const line = stdout.split("\n").find((text) => text.includes('"Sluice broker started"'));
          if (line !== undefined) {
            const address = (JSON.parse(line) as { http?: string[] }).http?.[0];
            if (address === undefined) throw new Error("the broker runs without an HTTP listener");
            return address;
          }
          await sleep(20);
        }
        throw new Error(`no start line in the broker's output:\n${output()}`);
      },
      stdout: () => stdout,
      stderr: () => stderr,
      async stop(timeoutMs = stopTimeoutMs_default) {
        if (!exit) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
          await exited;
          clearTimeout(timer);
        }
        return (await exited).code;
      },
      async kill() {
        if (!exit) child.kill("SIGKILL");
        await exited;
      },
    };
  } catch (error) {
    if (!exit) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`${(error as Error).message}; Sluice output ends with:\n${output()}`);
    }
    throw error;
  }
}

/**
 * A broker to restart on the same port, work dir and log dir (kill or stop, then `start()` again):
 * for tests of what survives a restart. `remove()` deletes the work dir.
 */
export async function restartableSluice(
  name: string,
  overrides: Record<string, string | number | boolean> = {},
): Promise<{ start: () => Promise<SluiceBroker>; logDir: string; remove: () => Promise<void> }> {
  const workDir = await mkdtemp(join(tmpdir(), `sluice-${name}-`));
  const logDir = join(workDir, "data");
  const port = await freePort();
  return {
    start: () => startSluice({ port, logDir, workDir, overrides }),
    logDir,
    remove: () => rm(workDir, { recursive: true, force: true }),
  };
}
