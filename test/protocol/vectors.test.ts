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
import { compare } from "./kafka-json.js";

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
