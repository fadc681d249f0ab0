#!/usr/bin/env node
// (Re)generates the Kafka protocol test vectors in test/vectors/out/ by running the Java
// generator in test/vectors/ (Maven, kafka-clients 4.4.0 + 3.9.1), unless out/ is up to date.
//
//   node scripts/vectors.mjs            generate if out/ is missing or stale
//   node scripts/vectors.mjs --force    always generate
//   node scripts/vectors.mjs --check    exit 1 if out/ is missing or stale, generate nothing
//
// Up to date = out/.stamp holds the hash of test/vectors/pom.xml, the generator's sources and the
// Kafka spec files it reads. Specs: ../shared/kafka-protocol beside the repo, or $SLUICE_KAFKA_PROTOCOL.
// No dependencies: plain Node 20.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const vectorsDir = join(repo, "test", "vectors");
const outDir = join(vectorsDir, "out");
const stampFile = join(outDir, ".stamp");
const specsDir = resolve(process.env.SLUICE_KAFKA_PROTOCOL ?? join(repo, "..", "shared", "kafka-protocol"));
const args = new Set(process.argv.slice(2));

function fail(message) {
  console.error(`vectors: ${message}`);
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

function inputsHash() {
  const h = createHash("sha256");
  const add = (base, p) => {
    h.update(`${relative(base, p)}\0`);
    h.update(readFileSync(p));
    h.update("\0");
  };
  add(vectorsDir, join(vectorsDir, "pom.xml"));
  for (const p of files(join(vectorsDir, "src"))) add(vectorsDir, p);
  for (const v of ["4.4.0", "3.9.0"]) {
    for (const p of files(join(specsDir, v, "message"))) if (p.endsWith(".json")) add(specsDir, p);
  }
  for (const d of ["group-coordinator", "transaction-coordinator", "share-coordinator"]) {
    for (const p of files(join(specsDir, "4.4.0", d))) if (p.endsWith(".json")) add(specsDir, p);
  }
  return h.digest("hex");
}

if (!existsSync(join(specsDir, "4.4.0", "message")) || !existsSync(join(specsDir, "3.9.0", "message"))) {
  fail(`Kafka specs not found at ${specsDir} (expected 4.4.0/message/ and 3.9.0/message/; set SLUICE_KAFKA_PROTOCOL)`);
}

const hash = inputsHash();
const upToDate = existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === hash && existsSync(join(outDir, "manifest.json"));

if (args.has("--check")) {
  if (upToDate) {
    console.log("vectors: up to date");
    process.exit(0);
  }
  fail("test/vectors/out/ is missing or stale: run node scripts/vectors.mjs");
}
if (upToDate && !args.has("--force")) {
  console.log("vectors: test/vectors/out/ is up to date");
  process.exit(0);
}

// Java 17+ and Maven
const java = spawnSync("java", ["-version"], { encoding: "utf8" });
if (java.error || java.status !== 0) {
  fail("Java (17 or newer) is needed to generate test/vectors/out/ but `java` was not found or failed (Debian: apt-get install openjdk-17-jdk-headless maven)");
}
const javaVersion = /version "(\d+)(?:\.(\d+))?/.exec(java.stderr);
const javaMajor = javaVersion ? (javaVersion[1] === "1" ? Number(javaVersion[2]) : Number(javaVersion[1])) : 0;
if (javaMajor < 17) fail(`Java 17 or newer is needed, found: ${java.stderr.split("\n")[0]}`);
const mvnCmd = process.platform === "win32" ? "mvn.cmd" : "mvn";
const mvn = spawnSync(mvnCmd, ["-v"], { encoding: "utf8" });
if (mvn.error || mvn.status !== 0) {
  fail("Maven is needed to generate test/vectors/out/ but `mvn` was not found or failed (Debian: apt-get install maven)");
}

console.log("vectors: generating test/vectors/out/ with Kafka 4.4.0 + 3.9.1 (Maven) ...");
const started = Date.now();
rmSync(outDir, { recursive: true, force: true });
// Debian's Maven prints bare ANSI resets (ESC[0m) even with -B and no TTY: strip them.
const strip = (chunk) => chunk.toString("utf8").replaceAll("\x1b[0m", "");
const status = await new Promise((done) => {
  const child = spawn(
    mvnCmd,
    ["-q", "-B", "-Dstyle.color=never", "-f", join(vectorsDir, "pom.xml"), `-Dvectors.specs=${specsDir}`, `-Dvectors.out=${outDir}`, "package"],
    { stdio: ["ignore", "pipe", "pipe"], cwd: vectorsDir },
  );
  child.stdout.on("data", (c) => process.stdout.write(strip(c)));
  child.stderr.on("data", (c) => process.stderr.write(strip(c)));
  child.on("error", (e) => fail(`could not run Maven: ${e.message}`));
  child.on("close", (code, signal) => done(code ?? signal));
});
if (status !== 0) {
  rmSync(outDir, { recursive: true, force: true });
  fail(`generation failed (Maven exited with ${status}); see the output above`);
}
if (!existsSync(join(outDir, "manifest.json"))) fail("generation produced no manifest.json");
writeFileSync(stampFile, `${hash}\n`);
let bytes = 0;
for (const p of files(outDir)) bytes += statSync(p).size;
console.log(`vectors: done in ${((Date.now() - started) / 1000).toFixed(1)}s, ${(bytes / 1048576).toFixed(1)} MiB in test/vectors/out/`);
