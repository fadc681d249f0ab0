// `npm run profile`: where the broker's time goes under Kafka's own ProducerPerformance.
//
// Starts bin/sluice (node with --perf-basic-prof-only-functions, so JIT-compiled JS functions have
// names in perf, and --cpu-prof, so V8 writes a .cpuprofile of the JS thread at exit), creates a
// topic, runs ProducerPerformance against it while `perf record -g` samples every thread of the
// broker (the JS thread, the network reactors, the storage thread, V8's GC helpers), then writes to
// bench/profiles/<date>-<scenario>/:
//   flame.svg       a flame graph of all the broker's samples (kernel, native, V8, JS), rendered here
//                   from `perf script` (stacks folded, widths by sample count; click-free, static);
//   top.txt         the hottest symbols (self time) and the share of each thread and DSO;
//   folded.txt      the folded stacks (for any other flame graph tool);
//   sluice.cpuprofile  the JS thread's V8 CPU profile (open in Chrome DevTools → Performance);
//   producer.txt    ProducerPerformance's summary line and the broker's CPU seconds.
// docs/performance.md says what the profiles showed and what changed because of them.
//
//   npm run profile -- [--partitions 16] [--record-size 1024] [--records 400000] [--acks 1]
//                      [--compression none] [--frequency 499] [--throughput -1]
//                      [--clinic doctor|flame]
//
// With --clinic, the broker runs under Clinic.js instead (no perf, no --cpu-prof: one profiler at a
// time): `clinic doctor` (event-loop delay, CPU, memory, handles over the run, with its diagnosis) or
// `clinic flame` (the JS thread's flame graph, 0x); its HTML report goes to the same directory as
// clinic-<tool>.html.
// Needs linux-perf (`apt-get install linux-perf`) and, for kernel stacks, kernel.perf_event_paranoid
// ≤ 1 (or root).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, runJavaTool } from "../test/helpers/kafka.js";

const repository = resolve(fileURLToPath(new URL("..", import.meta.url)));

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? (process.argv[index + 1] as string) : fallback;
}

const partitions = Number(option("partitions", "16"));
const recordSize = Number(option("record-size", "1024"));
const records = Number(option("records", "400000"));
const acks = option("acks", "1");
const compression = option("compression", "none");
const frequency = Number(option("frequency", "499"));
/** Records/s (ProducerPerformance --throughput, with linger.ms=0); -1: as fast as it goes. */
const throughput = Number(option("throughput", "-1"));
const clinic = option("clinic", "");
if (clinic !== "" && clinic !== "doctor" && clinic !== "flame") throw new Error(`--clinic ${clinic}: doctor or flame`);
const scenario = `${clinic === "" ? "" : `clinic-${clinic}-`}${partitions}p-${recordSize}b-acks${acks}${compression === "none" ? "" : `-${compression}`}${throughput > 0 ? `-${throughput}rps` : ""}`;

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitForListening(broker: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (output().includes("Sluice broker started")) return;
    if (broker.exitCode !== null) throw new Error(`the broker exited:\n${output()}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
  throw new Error(`the broker did not start:\n${output()}`);
}

// ---------------------------------------------------------------------------------------------
// Flame graph: perf script → folded stacks → SVG

function foldStacks(perfScript: string): Map<string, number> {
  const folded = new Map<string, number>();
  for (const block of perfScript.split("\n\n")) {
    const lines = block.split("\n").filter((line) => line.trim() !== "");
    if (lines.length < 2) continue;
    const thread = (lines[0] as string).trim().split(/\s+/)[0] ?? "?";
    const frames = lines.slice(1).map((line) => {
      const match = /^\s*[0-9a-f]+\s+(.+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)$/.exec(line);
      if (match === null) return line.trim();
      const symbol = match[1] === "[unknown]" ? `[${(match[2] ?? "").split("/").pop()}]` : (match[1] as string);
      return symbol.replaceAll(";", ":");
    });
    const stack = [thread, ...frames.reverse()].join(";");
    folded.set(stack, (folded.get(stack) ?? 0) + 1);
  }
  return folded;
}

interface Node {
  name: string;
  value: number;
  children: Map<string, Node>;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function colorOf(name: string): string {
  if (name.startsWith("JS:")) return "rgb(80,160,90)";
  if (/^(v8::|Builtins_|node::)/.test(name)) return "rgb(90,140,210)";
  if (/sluice|napi|crc32c|lz4|zstd|snap|flate/.test(name)) return "rgb(230,140,40)";
  if (/^[a-z_0-9.]+$/.test(name) && !name.includes("::")) return "rgb(210,90,80)"; // kernel / libc
  return "rgb(200,170,60)";
}

function flameSvg(folded: Map<string, number>, title: string): string {
  const root: Node = { name: "all", value: 0, children: new Map() };
  for (const [stack, count] of folded) {
    root.value += count;
    let node = root;
    for (const frame of stack.split(";")) {
      let child = node.children.get(frame);
      if (child === undefined) {
        child = { name: frame, value: 0, children: new Map() };
        node.children.set(frame, child);
      }
      child.value += count;
      node = child;
    }
  }
  const width = 1600;
  const rowHeight = 16;
  let depthMax = 0;
  const rects: string[] = [];
  const draw = (node: Node, x: number, depth: number) => {
    const w = (node.value / root.value) * (width - 20);
    if (w < 0.3) return;
    depthMax = Math.max(depthMax, depth);
    const y = depth * rowHeight;
    const share = ((node.value / root.value) * 100).toFixed(2);
    const label = w > 40 ? escapeXml(node.name.slice(0, Math.floor(w / 7))) : "";
    rects.push(
      `<g><title>${escapeXml(node.name)} (${node.value} samples, ${share}%)</title><rect x="${(10 + x).toFixed(1)}" y="{Y${y}}" width="${w.toFixed(1)}" height="${rowHeight - 1}" fill="${colorOf(node.name)}" rx="2"/>` +
        (label === "" ? "" : `<text x="${(13 + x).toFixed(1)}" y="{T${y}}" font-size="11" font-family="monospace">${label}</text>`) +
        "</g>",
    );
    let offset = x;
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      draw(child, offset, depth + 1);
      offset += (child.value / root.value) * (width - 20);
    }
  };
  draw(root, 0, 0);
  const height = (depthMax + 1) * rowHeight + 40;
  // Root at the bottom, as flame graphs are drawn.
  const body = rects
    .join("\n")
    .replace(/\{Y(\d+)\}/g, (_, y: string) => String(height - 10 - Number(y) - rowHeight))
    .replace(/\{T(\d+)\}/g, (_, y: string) => String(height - 10 - Number(y) - 4));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">
<title>${escapeXml(title)}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="16" font-size="13" font-family="sans-serif">${escapeXml(title)} — ${root.value} samples; green JS, blue V8/Node, orange Sluice native and codecs, red kernel/libc</text>
${body}
</svg>
`;
}

function topTable(folded: Map<string, number>): string {
  const self = new Map<string, number>();
  const threads = new Map<string, number>();
  let total = 0;
  for (const [stack, count] of folded) {
    const frames = stack.split(";");
    total += count;
    const leaf = frames.at(-1) as string;
    self.set(leaf, (self.get(leaf) ?? 0) + count);
    const thread = frames[0] as string;
    threads.set(thread, (threads.get(thread) ?? 0) + count);
  }
  const pct = (n: number) => `${((n / total) * 100).toFixed(2).padStart(6)}%`;
  const lines = [`${total} samples`, "", "by thread:"];
  for (const [name, count] of [...threads].sort((a, b) => b[1] - a[1])) lines.push(`${pct(count)}  ${name}`);
  lines.push("", "hottest symbols (self):");
  for (const [name, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) lines.push(`${pct(count)}  ${name}`);
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------

/** The node process clinic started (its child), found through /proc. */
function childOf(pid: number): number | null {
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (children !== "") return Number(children.split(" ")[0]);
    }
  } catch {
    // gone
  }
  return null;
}

async function main(): Promise<void> {
  if (clinic === "" && spawnSync("perf", ["--version"]).status !== 0) throw new Error("linux-perf is needed: apt-get install linux-perf");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outDir = join(repository, "bench", "profiles", `${stamp}-${scenario}`);
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "sluice-profile-"));
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  let output = "";
  const clinicDir = join(work, "clinic");
  const profiler =
    clinic === ""
      ? [process.execPath, "--perf-basic-prof-only-functions", "--cpu-prof", `--cpu-prof-dir=${work}`]
      : [join(repository, "node_modules", ".bin", "clinic"), clinic, "--open=false", "--dest", clinicDir, "--", process.execPath];
  const broker = spawn(
    profiler[0] as string,
    [
      ...profiler.slice(1),
      join(repository, "dist", "cli", "main.js"),
      "start",
      "--override",
      `log.dirs=${join(work, "data")}`,
      "--override",
      `listeners=PLAINTEXT://${bootstrap}`,
      "--override",
      `advertised.listeners=PLAINTEXT://${bootstrap}`,
      "--override",
      "node.id=1",
    ],
    // CI / NO_INSIGHT: clinic otherwise asks on a terminal whether it may send usage metrics,
    // and without a terminal exits at once, silently.
    { stdio: ["ignore", "pipe", "pipe"], env: clinic === "" ? process.env : { ...process.env, CI: "true", NO_INSIGHT: "true" } },
  );
  broker.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  broker.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  try {
    await waitForListening(broker, () => output);
    const pid = clinic === "" ? (broker.pid as number) : (childOf(broker.pid as number) ?? (broker.pid as number));
    const created = await runJavaTool("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      bootstrap,
      "--create",
      "--topic",
      "profile",
      "--partitions",
      String(partitions),
    ]);
    if (created.code !== 0) throw new Error(`creating the topic failed: ${created.stderr}`);
    const perfData = join(work, "perf.data");
    const perf = clinic === "" ? spawn("perf", ["record", "-F", String(frequency), "-g", "-p", String(pid), "-o", perfData], { stdio: "ignore" }) : null;
    const before = cpuSeconds(pid);
    process.stderr.write(`profiling ${scenario}: ProducerPerformance ${records} records against ${bootstrap} (broker pid ${pid})\n`);
    const run = await runJavaTool(
      "org.apache.kafka.tools.ProducerPerformance",
      [
        "--topic",
        "profile",
        "--num-records",
        String(records),
        "--record-size",
        String(recordSize),
        "--throughput",
        String(throughput),
        "--command-property",
        `bootstrap.servers=${bootstrap}`,
        `acks=${acks}`,
        `compression.type=${compression}`,
        ...(throughput > 0 ? ["linger.ms=0"] : []),
      ],
      { heap: "512m", timeoutMs: 600_000 },
    );
    const brokerCpu = cpuSeconds(pid) - before;
    if (perf !== null) {
      perf.kill("SIGINT");
      await new Promise((done) => perf.once("exit", done));
    }
    const summary = run.stdout.trim().split("\n").at(-1) ?? "";
    writeFileSync(
      join(outDir, "producer.txt"),
      `${summary}\nbroker CPU ${brokerCpu.toFixed(2)} s for ${records} records (${((brokerCpu / records) * 1e6).toFixed(2)} s per million)\n`,
    );
    process.stderr.write(`${summary}\nbroker CPU ${brokerCpu.toFixed(2)} s\n`);
    if (clinic !== "") {
      // Clinic writes its report once the profiled process exits (a clean shutdown on SIGINT).
      process.kill(pid, "SIGINT");
      process.stderr.write(`clinic ${clinic}: analysing (this takes a while)\n`);
      await new Promise((done) => {
        if (broker.exitCode !== null) done(undefined);
        else broker.once("exit", done);
      });
      const html = readdirSync(clinicDir).find((name) => name.endsWith(".html"));
      if (html === undefined) throw new Error(`clinic ${clinic} wrote no report:\n${output}`);
      renameSync(join(clinicDir, html), join(outDir, `clinic-${clinic}.html`));
      return;
    }
    const script = spawnSync("perf", ["script", "-i", perfData], { maxBuffer: 1 << 30, encoding: "utf8" });
    const folded = foldStacks(script.stdout);
    writeFileSync(join(outDir, "folded.txt"), [...folded].map(([stack, count]) => `${stack} ${count}`).join("\n"));
    writeFileSync(join(outDir, "flame.svg"), flameSvg(folded, `Sluice under ProducerPerformance ${scenario}, ${new Date().toISOString().slice(0, 10)}`));
    writeFileSync(join(outDir, "top.txt"), topTable(folded));
  } finally {
    broker.kill("SIGTERM");
    await new Promise((done) => {
      if (broker.exitCode !== null) done(undefined);
      else broker.once("exit", done);
    });
    const profile = readdirSync(work).find((name) => name.endsWith(".cpuprofile"));
    if (profile !== undefined) renameSync(join(work, profile), join(outDir, "sluice.cpuprofile"));
    rmSync(work, { recursive: true, force: true });
  }
  process.stderr.write(`profile written to ${outDir}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
