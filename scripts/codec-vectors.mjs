#!/usr/bin/env node
// (Re)generates test/codec-vectors/out/ (record batches Kafka's Java client compressed in every
// codec) by running the Maven module in test/codec-vectors/, unless out/ is up to date. The same
// run leaves target/classes and target/lib/ for the tests to run `Main read` (Kafka decoding
// batches Sluice compressed).
//
//   node scripts/codec-vectors.mjs            generate if out/ is missing or stale
//   node scripts/codec-vectors.mjs --force    always generate
//
// Up to date = out/.stamp holds the hash of test/codec-vectors/pom.xml and src/**, and target/lib exists.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const moduleDir = join(repo, "test", "codec-vectors");
const outDir = join(moduleDir, "out");
const stampFile = join(outDir, ".stamp");

function fail(message) {
  console.error(`codec-vectors: ${message}`);
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
  for (const p of [join(moduleDir, "pom.xml"), ...files(join(moduleDir, "src"))]) {
    h.update(`${relative(moduleDir, p)}\0`);
    h.update(readFileSync(p));
    h.update("\0");
  }
  return h.digest("hex");
}

const hash = inputsHash();
const upToDate =
  existsSync(stampFile) &&
  readFileSync(stampFile, "utf8").trim() === hash &&
  existsSync(join(outDir, "kafka-batches.jsonl")) &&
  existsSync(join(moduleDir, "target", "lib"));
if (upToDate && !process.argv.includes("--force")) {
  console.log("codec-vectors: test/codec-vectors/out/ is up to date");
  process.exit(0);
}

const mvnCmd = process.platform === "win32" ? "mvn.cmd" : "mvn";
const mvn = spawnSync(mvnCmd, ["-v"], { encoding: "utf8" });
if (mvn.error || mvn.status !== 0) {
  fail("Maven and Java 17+ are needed to generate test/codec-vectors/out/ (Debian: apt-get install openjdk-17-jdk-headless maven)");
}

console.log("codec-vectors: generating test/codec-vectors/out/ with kafka-clients 4.4.0 (Maven) ...");
rmSync(outDir, { recursive: true, force: true });
const strip = (chunk) => chunk.toString("utf8").replaceAll("\x1b[0m", "");
const status = await new Promise((done) => {
  const child = spawn(mvnCmd, ["-q", "-B", "-Dstyle.color=never", "-f", join(moduleDir, "pom.xml"), `-Dcodec.vectors.out=${outDir}`, "package"], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: moduleDir,
  });
  child.stdout.on("data", (c) => process.stdout.write(strip(c)));
  child.stderr.on("data", (c) => process.stderr.write(strip(c)));
  child.on("error", (e) => fail(`could not run Maven: ${e.message}`));
  child.on("close", (code, signal) => done(code ?? signal));
});
if (status !== 0 || !existsSync(join(outDir, "kafka-batches.jsonl"))) {
  rmSync(outDir, { recursive: true, force: true });
  fail(`generation failed (Maven exited with ${status}); see the output above`);
}
writeFileSync(stampFile, `${hash}\n`);
console.log("codec-vectors: done");
