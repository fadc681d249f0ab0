import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type CompressionCodec, compress, decompress, recompressBatch, validateProduceBatches } from "../../src/native.js";
import { batches, decodeRecords } from "../../src/protocol/records.js";

// Batches built by Kafka's MemoryRecordsBuilder (kafka-clients 4.4.0) in every codec, made by
// `node scripts/codec-vectors.mjs` (test/codec-vectors/); it does nothing when they are up to
// date, so running it here keeps this file independent of the pretest step.
const moduleDir = fileURLToPath(new URL("../codec-vectors/", import.meta.url));
const generation = spawnSync(process.execPath, [fileURLToPath(new URL("../../scripts/codec-vectors.mjs", import.meta.url))], {
  encoding: "utf8",
});
if (generation.status !== 0) throw new Error(`scripts/codec-vectors.mjs failed: ${generation.stderr}`);
const CODECS: readonly CompressionCodec[] = ["gzip", "snappy", "lz4", "zstd"];

interface JsonRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

interface KafkaBatch {
  name: string;
  codec: CompressionCodec;
  hex: string;
  records: JsonRecord[];
}

const kafkaBatches: KafkaBatch[] = readFileSync(join(moduleDir, "out", "kafka-batches.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line) as KafkaBatch);

/** The records of an uncompressed batch, in the JSON shape the Java side prints. */
function recordsOf(uncompressed: Buffer): JsonRecord[] {
  return [...batches(uncompressed)].flatMap((batch) =>
    [...decodeRecords(batch)].map((record) => ({
      offset: Number(record.offset),
      timestamp: Number(record.timestamp),
      key: record.key === null ? null : record.key.toString("hex"),
      value: record.value === null ? null : record.value.toString("hex"),
      headers: record.headers.map((header) => ({
        key: Buffer.from(header.key, "utf8").toString("hex"),
        value: header.value === null ? null : header.value.toString("hex"),
      })),
    })),
  );
}

/** Has Kafka's Java client decode `batchesToRead` (one batch each); returns what it printed, per batch. */
function kafkaReads(batchesToRead: Buffer[]): { batches?: { codec: string; records: JsonRecord[] }[]; error?: string }[] {
  const input = join(workDir, `sluice-batches-${Date.now()}.hex`);
  writeFileSync(input, batchesToRead.map((batch) => batch.toString("hex")).join("\n"));
  const classpath = [join(moduleDir, "target", "classes"), join(moduleDir, "target", "lib", "*")].join(delimiter);
  const java = spawnSync("java", ["-cp", classpath, "sluice.codecvectors.Main", "read", input], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  expect(java.status, java.stderr).toBe(0);
  return java.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

const workDir = mkdtempSync(join(tmpdir(), "sluice-codec-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("Kafka's compressed batches decoded by Sluice", () => {
  it("covers every codec and shape", () => {
    expect(new Set(kafkaBatches.map((batch) => batch.codec))).toEqual(new Set(["none", ...CODECS]));
    expect(kafkaBatches.length).toBe(15);
  });

  for (const kafka of kafkaBatches) {
    it(`${kafka.name}: decompresses to the records Kafka wrote`, () => {
      const uncompressed = recompressBatch(Buffer.from(kafka.hex, "hex"), "none");
      expect(recordsOf(uncompressed)).toEqual(kafka.records);
    });

    it(`${kafka.name}: passes produce validation with Kafka's count and max timestamp`, () => {
      const outcome = validateProduceBatches(Buffer.from(kafka.hex, "hex"), {}, 1_700_000_000_000);
      expect(outcome.error).toBeUndefined();
      expect(outcome.summary?.recordCount).toBe(kafka.records.length);
      expect(outcome.summary?.sourceCompression).toBe(kafka.codec);
      expect(outcome.summary?.maxTimestamp).toBe(Math.max(...kafka.records.map((record) => record.timestamp)));
    });
  }
});

describe("Sluice's compressed batches decoded by Kafka", () => {
  it("in every codec, Kafka reads back the records of each shape", () => {
    const sources = kafkaBatches.filter((batch) => batch.codec === "none");
    const written = CODECS.flatMap((codec) => sources.map((source) => ({ codec, source, batch: recompressBatch(Buffer.from(source.hex, "hex"), codec) })));
    const decoded = kafkaReads(written.map((entry) => entry.batch));
    expect(decoded).toHaveLength(written.length);
    written.forEach(({ codec, source }, index) => {
      const result = decoded[index];
      expect(result?.error, `${codec} ${source.name}`).toBeUndefined();
      expect(result?.batches?.map((batch) => batch.codec)).toEqual([codec]);
      expect(result?.batches?.[0]?.records).toEqual(source.records);
    });
  });

  it("Kafka rejects a Sluice batch whose bytes were damaged (the cross-check can fail)", () => {
    const source = kafkaBatches.find((batch) => batch.name === "none-mixed");
    const batch = recompressBatch(Buffer.from(source?.hex ?? "", "hex"), "zstd");
    batch[batch.length - 3] ^= 0xff;
    const [result] = kafkaReads([batch]);
    expect(result?.error).toMatch(/corrupt/i);
  });
});

describe("codecs through the native addon", () => {
  it("round-trip bytes in every codec", () => {
    const input = Buffer.from("a value that repeats, a value that repeats, ".repeat(2000));
    for (const codec of ["none", ...CODECS] as const) {
      expect(decompress(codec, compress(codec, input))).toEqual(input);
    }
  });

  it("throw on a decompression bomb past the limit instead of allocating it", () => {
    const zeros = Buffer.alloc(64 << 20);
    for (const codec of ["gzip", "zstd", "lz4"] as const) {
      const bomb = compress(codec, zeros);
      expect(bomb.length).toBeLessThan(1 << 20);
      expect(() => decompress(codec, bomb, 1 << 20)).toThrow(/exceed the limit of 1048576 bytes/);
    }
  });

  it("throw on garbage and on unknown codecs or levels", () => {
    expect(() => decompress("zstd", Buffer.from("not zstd"))).toThrow(/invalid zstd data/);
    expect(() => decompress("brotli" as CompressionCodec, Buffer.alloc(1))).toThrow(/unknown compression codec/);
    expect(() => compress("gzip", Buffer.alloc(1), 12)).toThrow(/does not support level 12/);
  });
});

describe("produce validation through the native addon", () => {
  it("returns Kafka's error code and per-record errors as a value", () => {
    const source = kafkaBatches.find((batch) => batch.name === "gzip-mixed");
    const outcome = validateProduceBatches(Buffer.from(source?.hex ?? "", "hex"), { compacted: true }, 1_700_000_000_000);
    expect(outcome.summary).toBeUndefined();
    expect(outcome.error?.errorCode).toBe(87);
    expect(outcome.error?.errorName).toBe("INVALID_RECORD");
    expect(outcome.error?.recordErrors).toEqual([
      { batchIndex: 0, recordIndex: 1, message: "Compacted topic cannot accept message without key in topic partition" },
    ]);
  });

  it("rejects a produce v6 zstd batch and a corrupt CRC with Kafka's codes", () => {
    const zstd = Buffer.from(kafkaBatches.find((batch) => batch.name === "zstd-mixed")?.hex ?? "", "hex");
    expect(validateProduceBatches(zstd, { produceVersion: 6 }, 0).error?.errorName).toBe("UNSUPPORTED_COMPRESSION_TYPE");
    zstd[zstd.length - 1] ^= 1;
    expect(validateProduceBatches(zstd, {}, 0).error?.errorCode).toBe(2);
  });

  it("throws for a config it cannot understand", () => {
    expect(() => validateProduceBatches(Buffer.alloc(0), { timestampType: "Now" as "CreateTime" }, 0)).toThrow(/unknown timestamp type/);
  });
});
