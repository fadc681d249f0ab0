#!/usr/bin/env node
// The Java classpath of the Apache Kafka 4.4.0 reference harness (test/kafka/): Kafka's broker,
// tools and client from Maven Central plus the helpers in test/kafka/src/main/java.
//
//   node scripts/kafka-classpath.mjs            print the classpath, building it first if needed
//   node scripts/kafka-classpath.mjs --force    rebuild even if up to date
//   node scripts/kafka-classpath.mjs --check    exit 1 unless up to date, build nothing
//
// Shell use: java -cp "$(node scripts/kafka-classpath.mjs)" org.apache.kafka.tools.DumpLogSegments --files ...
// From TypeScript: kafkaClasspath() in test/helpers/kafka.ts (which imports this module).
//
// Building = `mvn compile` in test/kafka/: Maven resolves the jars into ~/.m2, compiles the helpers
// into target/classes and writes the jars' classpath to target/classpath.txt. It is skipped while
// target/.stamp holds the hash of pom.xml and src/** and every jar listed still exists.
// Concurrent callers (parallel vitest workers) wait on a lock directory instead of building twice.
// No dependencies: plain Node 20.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repository = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const kafkaProjectDir = join(repository, "test", "kafka");
const targetDir = join(kafkaProjectDir, "target");
const classesDir = join(targetDir, "classes");
const jarsFile = join(targetDir, "classpath.txt");
const stampFile = join(targetDir, ".stamp");
const lockDir = join(targetDir, ".lock");
/** The log4j 2 configuration every JVM started by the harness gets (-Dlog4j2.configurationFile). */
export const kafkaLog4jConfig = join(classesDir, "log4j2.xml");

const lockWaitMs_max = 10 * 60 * 1000;
const lockPollMs = 200;

function files(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

function inputsHash() {
  const hash = createHash("sha256");
  for (const path of [join(kafkaProjectDir, "pom.xml"), ...files(join(kafkaProjectDir, "src"))]) {
    hash.update(`${relative(kafkaProjectDir, path)}\0`);
    hash.update(readFileSync(path));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function builtClasspath(hash) {
  if (!existsSync(stampFile) || !existsSync(jarsFile)) return null;
  if (readFileSync(stampFile, "utf8").trim() !== hash) return null;
  const jars = readFileSync(jarsFile, "utf8").trim().split(delimiter).filter(Boolean);
  // A cleaned ~/.m2 leaves a stamp that looks fresh: the jars themselves must still be there.
  if (jars.length === 0 || !jars.every((jar) => existsSync(jar))) return null;
  return [classesDir, ...jars].join(delimiter);
}

function requireJavaAndMaven() {
  const java = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (java.error || java.status !== 0) {
    throw new Error("kafka-classpath: Java 17+ is needed (Debian: apt-get install openjdk-17-jdk-headless maven)");
  }
  const version = /version "(\d+)(?:\.(\d+))?/.exec(java.stderr);
  const major = version ? (version[1] === "1" ? Number(version[2]) : Number(version[1])) : 0;
  if (major < 17) throw new Error(`kafka-classpath: Java 17 or newer is needed, found: ${java.stderr.split("\n")[0]}`);
  const mvn = spawnSync("mvn", ["-v"], { encoding: "utf8" });
  if (mvn.error || mvn.status !== 0) throw new Error("kafka-classpath: Maven is needed (Debian: apt-get install maven)");
}

async function runMaven() {
  // Debian's Maven prints bare ANSI resets (ESC[0m) even with -B and no TTY.
  const output = [];
  const code = await new Promise((done, fail) => {
    const child = spawn("mvn", ["-q", "-B", "-Dstyle.color=never", "-f", join(kafkaProjectDir, "pom.xml"), "compile"], {
      cwd: kafkaProjectDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk) => output.push(chunk));
    child.stderr.on("data", (chunk) => output.push(chunk));
    child.on("error", fail);
    child.on("close", (status, signal) => done(status ?? signal));
  });
  if (code !== 0) {
    const text = Buffer.concat(output).toString("utf8").replaceAll("\x1b[0m", "");
    throw new Error(`kafka-classpath: mvn compile in test/kafka failed (${code}):\n${text}`);
  }
}

const sleep = (ms) => new Promise((wake) => setTimeout(wake, ms));

async function withLock(work) {
  mkdirSync(targetDir, { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      // A lock older than the longest build is left over from a killed process.
      const age = Date.now() - statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs;
      if (age > lockWaitMs_max) rmSync(lockDir, { recursive: true, force: true });
      else if (Date.now() - started > lockWaitMs_max) throw new Error(`kafka-classpath: gave up waiting for ${lockDir}`);
      else await sleep(lockPollMs);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Returns the harness classpath (test/kafka/target/classes, then every jar), running Maven first
 * when the build is missing or stale. `force` rebuilds regardless.
 * @param {{ force?: boolean, log?: (line: string) => void }} [options]
 * @returns {Promise<string>}
 */
export async function kafkaClasspath(options = {}) {
  const hash = inputsHash();
  if (!options.force) {
    const classpath = builtClasspath(hash);
    if (classpath) return classpath;
  }
  return withLock(async () => {
    // Another process may have built it while this one waited for the lock.
    const classpath = options.force ? null : builtClasspath(hash);
    if (classpath) return classpath;
    requireJavaAndMaven();
    options.log?.("kafka-classpath: building test/kafka (Maven; the first run downloads about 80 MB) ...");
    const started = Date.now();
    rmSync(stampFile, { force: true });
    // Maven's compile does not remove what a deleted source or resource left in target/classes
    // (a stale META-INF/services entry names a class that is gone): start from nothing.
    rmSync(classesDir, { recursive: true, force: true });
    await runMaven();
    writeFileSync(stampFile, `${hash}\n`);
    const built = builtClasspath(hash);
    if (!built) throw new Error(`kafka-classpath: Maven finished but ${jarsFile} lists missing jars`);
    options.log?.(`kafka-classpath: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return built;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  try {
    if (args.has("--check")) {
      const upToDate = builtClasspath(inputsHash()) !== null;
      console.error(upToDate ? "kafka-classpath: up to date" : "kafka-classpath: missing or stale");
      process.exit(upToDate ? 0 : 1);
    }
    const classpath = await kafkaClasspath({ force: args.has("--force"), log: (line) => console.error(line) });
    process.stdout.write(`${classpath}\n`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
