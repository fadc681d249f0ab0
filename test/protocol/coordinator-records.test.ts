// Coordinator records byte-exact with Apache Kafka 4.4.0's own classes.
//
// test/vectors/ (CoordinatorVectors.java, on kafka-group-coordinator, kafka-transaction-coordinator
// and kafka-share-coordinator 4.4.0) writes to test/vectors/out/coordinator/:
//   records/<Spec>.jsonl  randomized messages of every *Key / *Value spec and version (Kafka's
//                         generated classes, write(ObjectSerializationCache, version));
//   serde.jsonl           whole records as Kafka's *CoordinatorRecordSerde writes them (tombstones too);
//   partitions.jsonl      Utils.abs(groupId.hashCode()) % partitions for random group ids.
// `node scripts/vectors.mjs` (npm's pretest step) makes the files.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GroupMetadataKey, GroupMetadataValue } from "../../src/coordinator/generated/group/group-metadata.js";
import { recordTypes as groupTypes, type RecordCodec } from "../../src/coordinator/generated/group/index.js";
import type { OffsetCommitKey, OffsetCommitValue } from "../../src/coordinator/generated/group/offset-commit.js";
import { recordTypes as shareTypes } from "../../src/coordinator/generated/share/index.js";
import { recordTypes as transactionTypes } from "../../src/coordinator/generated/transaction/index.js";
import { coordinatorPartition, javaStringHashCode } from "../../src/coordinator/partitioner.js";
import {
  type CoordinatorRecordSerde,
  encodeGroupMetadata,
  encodeOffsetCommit,
  GroupRecordType,
  groupRecords,
  shareRecords,
  transactionRecords,
} from "../../src/coordinator/records.js";
import { Reader } from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";
import { compare } from "./kafka-json.js";

const outDir = join(import.meta.dirname, "../vectors/out/coordinator");
const MESSAGES_PER_VERSION_MIN = 20;

interface VectorLine {
  version: number;
  json: unknown;
  hex: string;
  unknownTags?: number[];
}

interface SerdeLine {
  topic: string;
  name: string;
  key: string;
  value: string | null;
  valueVersion: number;
}

interface PartitionLine {
  units: number[];
  hashCode: number;
  partitions: Record<string, number>;
}

function jsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

const topics: { topic: string; types: typeof groupTypes; serde: CoordinatorRecordSerde }[] = [
  { topic: "__consumer_offsets", types: groupTypes, serde: groupRecords },
  { topic: "__transaction_state", types: transactionTypes, serde: transactionRecords },
  { topic: "__share_group_state", types: shareTypes, serde: shareRecords },
];

const covered = { specs: 0, versions: 0, lines: 0, unknownTags: 0, serde: 0, tombstones: 0, partitions: 0 };
const missing: string[] = [];

function checkCodec(codec: RecordCodec): string[] {
  const problems: string[] = [];
  const perVersion = new Map<number, number>();
  for (const line of jsonl<VectorLine>(join(outDir, "records", `${codec.name}.jsonl`))) {
    perVersion.set(line.version, (perVersion.get(line.version) ?? 0) + 1);
    const bytes = Buffer.from(line.hex, "hex");
    const where = `${codec.name} v${line.version}`;
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
      if (!again.equals(bytes)) problems.push(`${where}: re-encoded ${again.length} bytes differ from Kafka's ${bytes.length}`);
    } catch (error) {
      problems.push(`${where}: encode failed: ${(error as Error).message}`);
    }
    covered.lines++;
    covered.unknownTags += line.unknownTags?.length ?? 0;
  }
  for (const version of codec.versions) {
    const count = perVersion.get(version) ?? 0;
    if (count < MESSAGES_PER_VERSION_MIN) missing.push(`${codec.name} v${version}: ${count} vectors`);
    else covered.versions++;
  }
  covered.specs++;
  return problems;
}

describe("coordinator records are byte-exact with Kafka 4.4.0's classes", () => {
  it("has the vectors (run `node scripts/vectors.mjs` if this fails)", () => {
    expect(existsSync(join(outDir, "manifest.json")), `no coordinator vectors in ${outDir}: run node scripts/vectors.mjs`).toBe(true);
  });

  it("has the record types Kafka has, with the same value versions", () => {
    const manifest = JSON.parse(readFileSync(join(outDir, "manifest.json"), "utf8")) as Record<
      string,
      Record<string, { recordType: number; valueVersions: number[] }>
    >;
    for (const { topic, types } of topics) {
      const mine = Object.fromEntries(types.map((t) => [t.name, { recordType: t.recordType, valueVersions: [...t.value.versions] }]));
      expect(mine, topic).toEqual(manifest[topic]);
    }
  });

  for (const { topic, types } of topics) {
    for (const type of types) {
      it(`${topic} ${type.name} (record type ${type.recordType}): key and every value version round-trip byte-identically`, () => {
        const problems = [...checkCodec(type.key), ...checkCodec(type.value)];
        expect(problems.slice(0, 20)).toEqual([]);
        expect(missing.filter((m) => m.startsWith(`${type.key.name} `) || m.startsWith(`${type.value.name} `))).toEqual([]);
      });
    }
  }

  it("whole records (type/version prefixes, tombstones) decode and encode exactly as Kafka's CoordinatorRecordSerde", () => {
    const lines = jsonl<SerdeLine>(join(outDir, "serde.jsonl"));
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const line of lines) {
      const { serde } = topics.find((t) => t.topic === line.topic) ?? { serde: undefined };
      if (serde === undefined) throw new Error(`unknown topic ${line.topic}`);
      const key = Buffer.from(line.key, "hex");
      const value = line.value === null ? null : Buffer.from(line.value, "hex");
      const where = `${line.topic} ${line.name} v${line.valueVersion}`;
      const record = serde.decode(key, value);
      if (record.name !== line.name) problems.push(`${where}: decoded as ${record.name}`);
      if (record.version !== line.valueVersion) problems.push(`${where}: decoded version ${record.version}`);
      const again = serde.encode(record);
      if (!again.key.equals(key)) problems.push(`${where}: key ${again.key.toString("hex")} != Kafka's ${line.key}`);
      if (value === null ? again.value !== null : again.value === null || !again.value.equals(value)) {
        problems.push(`${where}: value ${again.value?.toString("hex")} != Kafka's ${line.value}`);
      }
      seen.add(`${line.topic}/${line.name}/${line.valueVersion}`);
      covered.serde++;
      if (value === null) covered.tombstones++;
    }
    expect(problems.slice(0, 20)).toEqual([]);
    // every record type, every value version, and a tombstone of each
    for (const { topic, types } of topics) {
      for (const t of types) {
        for (const v of [-1, ...t.value.versions]) expect(seen.has(`${topic}/${t.name}/${v}`), `${topic} ${t.name} v${v}`).toBe(true);
      }
    }
  });

  it("__consumer_offsets: OffsetCommit and GroupMetadata records and a tombstone as Kafka writes them", () => {
    const lines = jsonl<SerdeLine>(join(outDir, "serde.jsonl")).filter((l) => l.topic === "__consumer_offsets");
    const pick = (name: string, version: number) => {
      const line = lines.find((l) => l.name === name && l.valueVersion === version);
      if (line === undefined) throw new Error(`no ${name} v${version} serde vector`);
      return line;
    };
    // OffsetCommit: typed helpers over values decoded from Kafka's bytes, re-encoded to Kafka's bytes
    for (const version of [0, 1, 2, 3, 4]) {
      const line = pick("OffsetCommit", version);
      const decoded = groupRecords.decode(Buffer.from(line.key, "hex"), Buffer.from(line.value ?? "", "hex"));
      expect(decoded.recordType).toBe(GroupRecordType.OffsetCommit);
      expect(Buffer.from(line.key, "hex").readInt16BE(0)).toBe(1);
      const out = encodeOffsetCommit(decoded.key as OffsetCommitKey, decoded.value as OffsetCommitValue, version);
      expect(out.key.toString("hex")).toBe(line.key);
      expect(out.value?.toString("hex")).toBe(line.value);
    }
    for (const version of [0, 1, 2, 3, 4]) {
      const line = pick("GroupMetadata", version);
      const decoded = groupRecords.decode(Buffer.from(line.key, "hex"), Buffer.from(line.value ?? "", "hex"));
      expect(Buffer.from(line.key, "hex").readInt16BE(0)).toBe(2);
      const out = encodeGroupMetadata(decoded.key as GroupMetadataKey, decoded.value as GroupMetadataValue, version);
      expect(out.key.toString("hex")).toBe(line.key);
      expect(out.value?.toString("hex")).toBe(line.value);
    }
    for (const name of ["OffsetCommit", "GroupMetadata"]) {
      const line = pick(name, -1);
      expect(line.value).toBeNull();
      const decoded = groupRecords.decode(Buffer.from(line.key, "hex"), null);
      expect(decoded.value).toBeNull();
      const out = groupRecords.encode(decoded);
      expect(out.value).toBeNull();
      expect(out.key.toString("hex")).toBe(line.key);
    }
    // a hand-made record, byte by byte: int16 type 1, group/topic as int16-length strings, int32 partition
    const key = encodeOffsetCommit({ group: "g", topic: "t", partition: 3 }, null, 0).key;
    expect(key.toString("hex")).toBe("0001" + "000167" + "000174" + "00000003");
  });

  it("refuses unknown record types and value versions, as Kafka's serde does", () => {
    expect(() => groupRecords.decode(Buffer.from("7fff", "hex"), null)).toThrow(/unknown coordinator record type/);
    const key = groupRecords.encodeKey(GroupRecordType.OffsetCommit, { group: "g", topic: "t", partition: 0 });
    expect(() => groupRecords.decode(key, Buffer.from("0063", "hex"))).toThrow(/version 99 is not supported/);
  });

  it("coordinator partitions match Kafka's Utils.abs(hashCode) % partitions", () => {
    const lines = jsonl<PartitionLine>(join(outDir, "partitions.jsonl"));
    expect(lines.length).toBeGreaterThan(1000);
    const problems: string[] = [];
    let surrogates = 0;
    let minValue = 0;
    for (const line of lines) {
      const id = String.fromCharCode(...line.units);
      if (/[\ud800-\udfff]/.test(id)) surrogates++;
      if (line.hashCode === -2147483648) minValue++;
      if (javaStringHashCode(id) !== line.hashCode) problems.push(`${JSON.stringify(id)}: hashCode ${javaStringHashCode(id)} != ${line.hashCode}`);
      for (const [n, p] of Object.entries(line.partitions)) {
        const mine = coordinatorPartition(id, Number(n));
        if (mine !== p) problems.push(`${JSON.stringify(id)} % ${n}: ${mine} != ${p}`);
      }
      covered.partitions++;
    }
    expect(problems.slice(0, 20)).toEqual([]);
    expect(surrogates).toBeGreaterThan(100);
    expect(minValue).toBeGreaterThan(0);
  });

  afterAll(() => {
    console.log(
      `coordinator record vectors: ${covered.specs} key/value specs, ${covered.versions} spec versions with >= ${MESSAGES_PER_VERSION_MIN} vectors each, ` +
        `${covered.lines} messages byte-identical with Kafka, ${covered.unknownTags} unknown tagged fields preserved; ` +
        `${covered.serde} whole records (${covered.tombstones} tombstones) identical with Kafka's serdes; ` +
        `${covered.partitions} group ids partitioned as Kafka; ${missing.length} versions not covered`,
    );
  });
});
