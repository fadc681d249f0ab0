#!/usr/bin/env node
// (Re)generates test/assignor-vectors/out/scenarios.jsonl (Kafka 4.4.0's UniformAssignor and
// RangeAssignor run on generated group scenarios, for test/unit/assignors.test.ts) by running the
// Maven module in test/assignor-vectors/, unless out/ is up to date.
//
//   node scripts/assignor-vectors.mjs            generate if out/ is missing or stale
//   node scripts/assignor-vectors.mjs --force    always generate
//
// Up to date = out/.stamp holds the hash of test/assignor-vectors/pom.xml, src/** and the other JDKs found.
// Maven runs offline when it already has every artifact, so a machine that made the vectors once
// makes them again without the network.
//
// JDK 19 and later size `new HashSet<>(collection)` differently from JDK 17, which changes the order
// Kafka's assignors see (UniformAssignor({ jdk }) follows either). Maven's `java` writes
// scenarios.jsonl; every other JDK of another major version found in /usr/lib/jvm (or listed, by
// home directory, in $SLUICE_ASSIGNOR_JDKS separated by ':') runs the same classes into
// scenarios-java<major>.jsonl, and the test checks those too.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const moduleDir = join(repo, "test", "assignor-vectors");
const outDir = join(moduleDir, "out");
const outFile = join(outDir, "scenarios.jsonl");
const stampFile = join(outDir, ".stamp");

function fail(message) {
  console.error(`assignor-vectors: ${message}`);
  process.exit(1);
}

function files(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(p));
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

/** The major version `java -version` reports, 0 if it does not run. */
function javaMajor(java) {
  const run = spawnSync(java, ["-version"], { encoding: "utf8" });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(run.stderr ?? "");
  if (run.status !== 0 || m === null) return 0;
  return m[1] === "1" ? Number(m[2]) : Number(m[1]);
}

/** Other JDKs: major version → java binary, one per major version that differs from `java`'s. */
function otherJdks() {
  const homes = (process.env.SLUICE_ASSIGNOR_JDKS ?? "").split(":").filter((h) => h.length > 0);
  if (existsSync("/usr/lib/jvm")) for (const d of readdirSync("/usr/lib/jvm").sort()) homes.push(join("/usr/lib/jvm", d));
  const defaultMajor = javaMajor("java");
  const found = new Map();
  for (const home of homes) {
    const java = join(home, "bin", "java");
    if (!existsSync(java)) continue;
    const major = javaMajor(java);
    if (major >= 17 && major !== defaultMajor && !found.has(major)) found.set(major, java);
  }
  return found;
}

const jdks = otherJdks();

function inputsHash() {
  const h = createHash("sha256");
  h.update(`jdks ${[...jdks.keys()].join(",")}\0`);
  for (const p of [join(moduleDir, "pom.xml"), ...files(join(moduleDir, "src"))]) {
    h.update(`${relative(moduleDir, p)}\0`);
    h.update(readFileSync(p));
    h.update("\0");
  }
  return h.digest("hex");
}

const hash = inputsHash();
const upToDate = existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === hash && existsSync(outFile);
if (upToDate && !process.argv.includes("--force")) {
  console.log("assignor-vectors: test/assignor-vectors/out/ is up to date");
  process.exit(0);
}

const mvnCmd = process.platform === "win32" ? "mvn.cmd" : "mvn";
const mvn = spawnSync(mvnCmd, ["-v"], { encoding: "utf8" });
if (mvn.error || mvn.status !== 0) {
  fail("Maven and Java 17+ are needed to generate test/assignor-vectors/out/ (Debian: apt-get install openjdk-17-jdk-headless maven)");
}

const strip = (chunk) => chunk.toString("utf8").replaceAll("\x1b[0m", "");
function runMaven(offline) {
  const args = ["-q", "-B", "-Dstyle.color=never", ...(offline ? ["-o"] : []), "-f", join(moduleDir, "pom.xml"), `-Dassignor.vectors.out=${outDir}`, "package"];
  return new Promise((done) => {
    const child = spawn(mvnCmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: moduleDir });
    let output = "";
    child.stdout.on("data", (c) => {
      output += strip(c);
    });
    child.stderr.on("data", (c) => {
      output += strip(c);
    });
    child.on("error", (e) => fail(`could not run Maven: ${e.message}`));
    child.on("close", (code, signal) => done({ status: code ?? signal, output }));
  });
}

console.log("assignor-vectors: generating test/assignor-vectors/out/ with kafka-group-coordinator 4.4.0 (Maven) ...");
const started = Date.now();
rmSync(outDir, { recursive: true, force: true });
// Offline first (no network when Maven has every artifact), then online for a fresh machine.
let run = await runMaven(true);
if (run.status !== 0 || !existsSync(outFile)) run = await runMaven(false);
process.stdout.write(run.output);
if (run.status !== 0 || !existsSync(outFile)) {
  rmSync(outDir, { recursive: true, force: true });
  fail(`generation failed (Maven exited with ${run.status}); see the output above`);
}
for (const [major, java] of jdks) {
  const dir = mkdtempSync(join(tmpdir(), "assignor-vectors-"));
  const cp = [join(moduleDir, "target", "classes"), join(moduleDir, "target", "lib", "*")].join(process.platform === "win32" ? ";" : ":");
  const other = spawnSync(java, ["-cp", cp, "sluice.assignorvectors.Main", dir], { encoding: "utf8" });
  process.stdout.write(other.stdout ?? "");
  if (other.status !== 0 || !existsSync(join(dir, "scenarios.jsonl"))) {
    process.stderr.write(other.stderr ?? "");
    rmSync(outDir, { recursive: true, force: true });
    fail(`generation with Java ${major} (${java}) failed`);
  }
  copyFileSync(join(dir, "scenarios.jsonl"), join(outDir, `scenarios-java${major}.jsonl`));
  rmSync(dir, { recursive: true, force: true });
  console.log(`assignor-vectors: also with Java ${major}: scenarios-java${major}.jsonl`);
}
writeFileSync(stampFile, `${hash}\n`);
console.log(`assignor-vectors: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
