// `sluice dump-log` against Kafka's own DumpLogSegments on the same files: segments written by a
// real Apache Kafka 4.4.0 broker (every codec, keys, nulls, headers, idempotent sequences,
// several index entries) must print exactly the same text through both tools.

import { readdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpFiles } from "../../src/log/dump.js";
import { crc32c, recompressBatch } from "../../src/native.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { dumpLogSegments, type KafkaBroker, type KafkaCompression, produceWithJava, runJavaTool, startKafka } from "../helpers/kafka.js";

const codecs: KafkaCompression[] = ["none", "gzip", "snappy", "lz4", "zstd"];
const topic = "dump-compare";

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(dir, name));
}

function sluiceDump(paths: string[], flags: { deep: boolean; data: boolean; verify: boolean }): { stdout: string; stderr: string } {
  const { out, err } = dumpFiles(paths, {
    deepIteration: flags.deep,
    printDataLog: flags.data,
    verifyIndexOnly: flags.verify,
    crc32c,
    decompressBatch: (batch) => recompressBatch(batch, "none"),
  });
  return { stdout: out.length > 0 ? `${out.join("\n")}\n` : "", stderr: err.length > 0 ? `${err.join("\n")}\n` : "" };
}

describe("sluice dump-log prints what Kafka's DumpLogSegments prints", () => {
  let workDir: string;
  let broker: KafkaBroker | undefined;
  let partitionDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "sluice-dump-compare-"));
    broker = await startKafka({ workDir, logDir: join(workDir, "kafka-logs") });
    partitionDir = join(broker.logDir, `${topic}-0`);
    const create = await runJavaTool(
      "org.apache.kafka.tools.TopicCommand",
      ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"].concat([
        "--config",
        "index.interval.bytes=512",
        "--config",
        "segment.ms=30000",
      ]),
      { quickStart: true, heap: "256m" },
    );
    expect(create.stdout).toContain(`Created topic ${topic}.`);
    const base = Date.now() - 3_600_000;
    for (const [index, codec] of codecs.entries()) {
      const records = Array.from({ length: 150 }, (_, j) => ({
        key: j % 4 === 0 ? null : `key-${codec}-${j}`,
        value: j % 9 === 0 ? null : `${codec} value ${j} — Grüße ${"z".repeat(j % 50)}`,
        headers: j % 3 === 0 ? ([["h", `${j}`]] as [string, string | null][]) : [],
        timestamp: base + index * 60_000 + j,
      }));
      await produceWithJava({ bootstrap: broker.bootstrap, topic, partition: 0, records, compression: codec, acks: "all", lingerMs: 10, batchSize: 2048 });
    }
    await broker.stop();
  });

  afterAll(async () => {
    await broker?.kill();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("segments: batch lines and every record with keys and values", async () => {
    const logs = files(partitionDir, ".log");
    expect(logs.length).toBeGreaterThan(1);
    const kafka = await dumpLogSegments(logs, { deepIteration: true, printDataLog: true, decoder: "string" });
    const sluice = sluiceDump(logs, { deep: true, data: true, verify: false });
    expect(kafka.code).toBe(0);
    expect(sluice.stdout.split("\n")).toEqual(kafka.stdout.split("\n"));
    expect(sluice.stderr).toBe(kafka.stderr);
  });

  it("offset and time indexes, listed and verified", async () => {
    const indexes = [...files(partitionDir, ".index"), ...files(partitionDir, ".timeindex")];
    const kafkaList = await dumpLogSegments(indexes, {});
    const sluiceList = sluiceDump(indexes, { deep: false, data: false, verify: false });
    expect(sluiceList.stdout.split("\n")).toEqual(kafkaList.stdout.split("\n"));
    expect(sluiceList.stdout).toMatch(/offset: \d+ position: [1-9]/);
    const kafkaVerify = await dumpLogSegments(indexes, { verifyIndexOnly: true });
    const sluiceVerify = sluiceDump(indexes, { deep: false, data: false, verify: true });
    expect(sluiceVerify.stdout).toBe(kafkaVerify.stdout);
    expect(sluiceVerify.stderr).toBe(kafkaVerify.stderr);
  });
});

describe("sluice dump-log reports non-consecutive offsets as Kafka 4.4's DumpLogSegments does", () => {
  it("one section per segment not based at 0, in the order of Kafka's HashMap by path, for 60 segments", async () => {
    // 60 one-record segments with gaps between them: the paths fill Kafka's HashMap past two
    // resizes and share buckets, so the order of the sections is its iteration order, not ours.
    const dir = await mkdtemp(join(tmpdir(), "sluice-dump-gaps-"));
    try {
      const bases = Array.from({ length: 60 }, (_, i) => 7 + i * 13);
      const logs = bases.map((base) => join(dir, `${String(base).padStart(20, "0")}.log`));
      for (const [i, path] of logs.entries()) {
        const records = [{ value: Buffer.from("a") }, { value: Buffer.from("b"), offsetDelta: 2 }];
        writeFileSync(path, buildRecordBatch({ baseOffset: BigInt(bases[i]), baseTimestamp: 1_700_000_000_000n, records }));
      }
      const kafka = await dumpLogSegments(logs, { deepIteration: true });
      const sluice = sluiceDump(logs, { deep: true, data: false, verify: false });
      expect(kafka.code).toBe(0);
      expect(sluice.stdout.split("\n")).toEqual(kafka.stdout.split("\n"));
      expect(sluice.stderr).toBe(kafka.stderr);
      expect(kafka.stderr.split("\n").filter((line) => line.startsWith("Non-consecutive offsets in "))).toHaveLength(60);
      expect(kafka.stderr).toContain(`  ${bases[0]} is followed by ${bases[0] + 2}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
