// Byte-exactness against Apache Kafka's own serializers.
//
// test/vectors/ (a Java program on kafka-clients 4.4.0 and 3.9.1) writes, for every message and
// version Sluice generates, randomized messages as (version, Kafka's JSON, Kafka's bytes). Here
// every one is decoded, compared field by field with Kafka's JSON, re-encoded, and required to
// come out byte-identical. `node scripts/vectors.mjs` (npm's pretest step) makes the files.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { messagesByName } from "../../src/protocol/generated/index.js";
import { Reader } from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";

const outDir = join(import.meta.dirname, "../vectors/out");
const messagesDir = join(outDir, "messages");
const MESSAGES_PER_VERSION_MIN = 20;

interface VectorLine {
  version: number;
  kafka: string;
  json: unknown;
  hex: string;
  unknownTags?: number[];
}

function loadVectors(name: string): VectorLine[] {
  const path = join(messagesDir, `${name}.jsonl`);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as VectorLine);
}

/** Compares a decoded value with Kafka's JSON for it; pushes a description of each difference. */
function compare(decoded: unknown, kafka: unknown, path: string, problems: string[]): void {
  if (problems.length > 20) return;
  if (kafka === null || decoded === null) {
    if (kafka !== decoded) problems.push(`${path}: decoded ${show(decoded)}, Kafka has ${show(kafka)}`);
    return;
  }
  if (Array.isArray(kafka)) {
    if (!Array.isArray(decoded) || decoded.length !== kafka.length) {
      problems.push(`${path}: decoded array of ${Array.isArray(decoded) ? decoded.length : "?"}, Kafka has ${kafka.length}`);
      return;
    }
    for (let i = 0; i < kafka.length; i++) compare(decoded[i], kafka[i], `${path}[${i}]`, problems);
    return;
  }
  if (typeof kafka === "object") {
    if (typeof decoded !== "object" || Buffer.isBuffer(decoded)) {
      problems.push(`${path}: decoded ${show(decoded)}, Kafka has an object`);
      return;
    }
    const record = decoded as Record<string, unknown>;
    for (const [key, value] of Object.entries(kafka as Record<string, unknown>)) {
      if (!(key in record)) {
        problems.push(`${path}.${key}: Kafka has this field, the codec does not`);
        continue;
      }
      compare(record[key], value, `${path}.${key}`, problems);
    }
    return;
  }
  let mine: unknown = decoded;
  if (typeof decoded === "bigint") mine = decoded.toString();
  else if (Buffer.isBuffer(decoded)) mine = decoded.toString("base64");
  else if (typeof decoded === "number" && typeof kafka === "string") mine = String(decoded);
  if (mine !== kafka) problems.push(`${path}: decoded ${show(mine)}, Kafka has ${show(kafka)}`);
}

function show(value: unknown): string {
  const text = typeof value === "bigint" ? `${value}n` : Buffer.isBuffer(value) ? `<${value.length} bytes>` : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const covered = { messages: 0, versions: 0, lines: 0, unknownTags: 0 };
const missing: string[] = [];

describe("generated codec is byte-exact with Kafka's Java serializers", () => {
  it("has the vectors (run `node scripts/vectors.mjs` if this fails)", () => {
    expect(existsSync(join(outDir, "manifest.json")), `no vectors in ${outDir}: run node scripts/vectors.mjs`).toBe(true);
  });

  for (const [name, codec] of messagesByName) {
    it(`${name} round-trips every version byte-identically`, () => {
      const lines = loadVectors(name);
      const problems: string[] = [];
      const perVersion = new Map<number, number>();
      for (const line of lines) {
        perVersion.set(line.version, (perVersion.get(line.version) ?? 0) + 1);
        const bytes = Buffer.from(line.hex, "hex");
        const where = `${name} v${line.version} (Kafka ${line.kafka})`;
        let decoded: unknown;
        try {
          const reader = new Reader(bytes);
          decoded = codec.read(reader, line.version);
          if (reader.remaining() !== 0) problems.push(`${where}: ${reader.remaining()} bytes left after decoding`);
        } catch (error) {
          problems.push(`${where}: decode failed: ${(error as Error).message}`);
          continue;
        }
        compare(decoded, line.json, where, problems);
        try {
          const writer = new Writer();
          codec.write(writer, decoded, line.version);
          const again = writer.finish();
          if (!again.equals(bytes)) {
            let at = 0;
            while (at < bytes.length && at < again.length && bytes[at] === again[at]) at++;
            problems.push(`${where}: re-encoded ${again.length} bytes differ from Kafka's ${bytes.length} at byte ${at}`);
          }
        } catch (error) {
          problems.push(`${where}: encode failed: ${(error as Error).message}`);
        }
        covered.lines++;
        covered.unknownTags += line.unknownTags?.length ?? 0;
      }
      for (const version of codec.versions) {
        const count = perVersion.get(version) ?? 0;
        if (count < MESSAGES_PER_VERSION_MIN) missing.push(`${name} v${version}: ${count} vectors`);
        else covered.versions++;
      }
      covered.messages++;
      expect(problems.slice(0, 20)).toEqual([]);
      expect(missing.filter((m) => m.startsWith(`${name} `))).toEqual([]);
    });
  }

  afterAll(() => {
    console.log(
      `protocol vectors: ${covered.messages} messages (${messagesByName.size - 2} API requests/responses + 2 headers), ` +
        `${covered.versions} message versions with >= ${MESSAGES_PER_VERSION_MIN} vectors each, ${covered.lines} messages byte-identical with Kafka, ` +
        `${covered.unknownTags} unknown tagged fields preserved; ${missing.length} versions not covered`,
    );
  });
});
