// The KRaft metadata log reader (src/cluster/kraft/metadata-log.ts): record values Kafka 4.4.0
// wrote (bytes from a real broker's __cluster_metadata-0) decode and re-encode byte for byte, and
// hand-built logs pin the replay rules — snapshot then log, null config values delete, removed
// topics take their configs along, metadata transactions apply whole or not at all — and the
// answers to bad input: a CRC mismatch or an unknown record type is an error naming file and
// position, a torn last batch is reported and not applied.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { planAdoption } from "../../src/cluster/kraft/adoption.js";
import { metadataRecordTypeByNumber } from "../../src/cluster/kraft/generated/index.js";
import { decodeMetadataRecord, encodeMetadataRecord, MetadataLogError, readKraftImage, topicConfigs } from "../../src/cluster/kraft/metadata-log.js";
import { recompressBatch, writeMetaProperties } from "../../src/native.js";
import { buildRecordBatch, encodeControlRecordKey } from "../../src/protocol/records.js";

// Record values from a Kafka 4.4.0 broker's metadata log (DumpLogSegments --cluster-metadata-decoder
// printed them as the JSON next to each).
const fromKafka: [string, string, unknown][] = [
  ["010200076576656e74731432221d1d374e14a1d0ddc322b1aed200", "TopicRecord", { name: "events", topicId: "FDIiHR03ThSh0N3DIrGu0g" }],
  [
    "01040002076576656e747311636f6d7072657373696f6e2e74797065057a73746400",
    "ConfigRecord",
    { resourceType: 2, resourceName: "events", name: "compression.type", value: "zstd" },
  ],
  [
    "010302000000001432221d1d374e14a1d0ddc322b1aed2020000000102000000010101000000010000000000000000028c4e77e6529445fea02eac788ce15ffc00",
    "PartitionRecord",
    {
      partitionId: 0,
      topicId: "FDIiHR03ThSh0N3DIrGu0g",
      replicas: [1],
      isr: [1],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
      directories: ["jE535lKURf6gLqx4jOFf_A"],
    },
  ],
  [
    "010400020a636f6d70616374656410726574656e74696f6e2e62797465730000",
    "ConfigRecord",
    { resourceType: 2, resourceName: "compacted", name: "retention.bytes", value: null },
  ],
  ["010f0000000001000000000000000d00000000000003e800", "ProducerIdsRecord", { brokerId: 1, brokerEpoch: 13n, nextProducerId: 1000n }],
];

describe("metadata record values as Kafka 4.4.0 writes them", () => {
  for (const [hex, name, fields] of fromKafka) {
    it(`${name} ${JSON.stringify(fields, (_, v) => (typeof v === "bigint" ? v.toString() : v))} decodes and re-encodes byte for byte`, () => {
      const decoded = decodeMetadataRecord(Buffer.from(hex, "hex"), "vector");
      expect(metadataRecordTypeByNumber[decoded.type]?.name).toBe(name);
      expect(decoded.record).toMatchObject(fields as object);
      expect(encodeMetadataRecord(decoded.type, decoded.version, decoded.record).toString("hex")).toBe(hex);
    });
  }
});

const TYPE = Object.fromEntries((metadataRecordTypeByNumber.filter(Boolean) as { name: string; recordType: number }[]).map((t) => [t.name, t.recordType]));

/** A metadata record value from a record type name and its fields (the rest at Kafka's defaults). */
function value(name: string, fields: Record<string, unknown> = {}, version = 0): Buffer {
  const type = TYPE[name] as number;
  const codec = metadataRecordTypeByNumber[type];
  return encodeMetadataRecord(type, version, { ...(codec?.create() as object), ...fields });
}

function batch(baseOffset: bigint, values: Buffer[]): Buffer {
  return buildRecordBatch({ baseOffset, partitionLeaderEpoch: 1, records: values.map((v) => ({ key: null, value: v })) });
}

const topicA = "AAAAAAAAAAAAAAAAAAAAAQ";
const topicB = "AAAAAAAAAAAAAAAAAAAAAg";
const config = (resourceName: string, name: string, v: string | null) => value("ConfigRecord", { resourceType: 2, resourceName, name, value: v });

let logDir: string | undefined;
afterEach(async () => {
  if (logDir) await rm(logDir, { recursive: true, force: true });
  logDir = undefined;
});

async function metadataLog(files: Record<string, Buffer>): Promise<string> {
  logDir = await mkdtemp(join(tmpdir(), "sluice-kraft-"));
  await mkdir(join(logDir, "__cluster_metadata-0"));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(logDir, "__cluster_metadata-0", name), bytes);
  return logDir;
}

describe("replaying a metadata log", () => {
  it("loads the newest snapshot, then only the log records from its end offset on", async () => {
    const snapshotBatches = Buffer.concat([
      buildRecordBatch({ baseOffset: 0n, isControl: true, records: [{ key: encodeControlRecordKey(3), value: Buffer.from("00000000000000000000", "hex") }] }),
      batch(1n, [
        value("TopicRecord", { name: "a", topicId: topicA }),
        value("PartitionRecord", { topicId: topicA, partitionId: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 4, partitionEpoch: 6 }),
      ]),
    ]);
    const dir = await metadataLog({
      "00000000000000000000-0000000000.checkpoint": batch(0n, [value("TopicRecord", { name: "stale", topicId: topicB })]),
      "00000000000000000003-0000000001.checkpoint": snapshotBatches,
      "00000000000000000000.log": Buffer.concat([
        // Offsets 0-2 are in the snapshot already: a TopicRecord here must not come back.
        batch(0n, [value("TopicRecord", { name: "before-the-snapshot", topicId: topicB }), value("NoOpRecord"), value("NoOpRecord")]),
        batch(3n, [config("a", "cleanup.policy", "compact"), config("a", "retention.ms", "1000"), config("a", "retention.ms", null)]),
        batch(6n, [
          value("PartitionChangeRecord", { topicId: topicA, partitionId: 0, isr: [] }, 0),
          value("PartitionChangeRecord", { topicId: topicA, partitionId: 0, leader: -1 }),
        ]),
      ]),
    });
    const image = readKraftImage(dir);
    expect(image.snapshot?.endOffset).toBe(3n);
    expect([...image.topics.values()].map((t) => t.name)).toEqual(["a"]);
    expect(Object.fromEntries(topicConfigs(image, "a"))).toEqual({ "cleanup.policy": "compact" });
    // Leader -2 (the default) keeps the leader; -1 is "no leader" and a new leader epoch.
    expect(image.topics.get(topicA)?.partitions.get(0)).toMatchObject({ isr: [], leader: -1, leaderEpoch: 5, partitionEpoch: 8 });
    expect(image.lastOffset).toBe(7n);
  });

  it("a removed topic takes its configs along; a metadata transaction applies whole or not at all", async () => {
    const dir = await metadataLog({
      "00000000000000000000.log": Buffer.concat([
        batch(0n, [value("TopicRecord", { name: "a", topicId: topicA }), config("a", "retention.ms", "5")]),
        batch(2n, [value("RemoveTopicRecord", { topicId: topicA })]),
        batch(3n, [
          value("BeginTransactionRecord", { name: "t1" }),
          value("TopicRecord", { name: "aborted", topicId: topicB }),
          value("AbortTransactionRecord"),
        ]),
        batch(6n, [
          value("BeginTransactionRecord", { name: "t2" }),
          value("FeatureLevelRecord", { name: "metadata.version", featureLevel: 27 }),
          value("EndTransactionRecord"),
        ]),
        batch(9n, [value("BeginTransactionRecord", { name: "t3" }), value("TopicRecord", { name: "unfinished", topicId: topicB })]),
      ]),
    });
    const image = readKraftImage(dir);
    expect(image.topics.size).toBe(0);
    expect(image.configs.size).toBe(0);
    expect(Object.fromEntries(image.features)).toEqual({ "metadata.version": 27 });
  });

  it("reads a zstd-compressed metadata batch", async () => {
    const compressed = recompressBatch(batch(0n, [value("TopicRecord", { name: "z", topicId: topicA })]), "zstd");
    const image = readKraftImage(await metadataLog({ "00000000000000000000.log": compressed }));
    expect([...image.topics.values()].map((t) => t.name)).toEqual(["z"]);
  });
});

describe("bad metadata logs", () => {
  const good = () =>
    Buffer.concat([batch(0n, [value("TopicRecord", { name: "a", topicId: topicA })]), batch(1n, [value("TopicRecord", { name: "b", topicId: topicB })])]);

  it("a CRC mismatch is an error naming the file, the byte and the offsets", async () => {
    const bytes = good();
    bytes[bytes.length - 3] ^= 0x01;
    const dir = await metadataLog({ "00000000000000000000.log": bytes });
    expect(() => readKraftImage(dir)).toThrow(MetadataLogError);
    expect(() => readKraftImage(dir)).toThrow(/00000000000000000000\.log: the record batch at byte \d+ \(offsets 1-1\) fails its CRC32C check/);
  });

  it("an unknown record type is an error, not a skipped record", async () => {
    const unknown = Buffer.from([1, 99, 0, 0]);
    const dir = await metadataLog({ "00000000000000000000.log": batch(0n, [unknown]) });
    expect(() => readKraftImage(dir)).toThrow(/offset 0: unknown metadata record type 99/);
  });

  it("a batch cut short at the end of the last segment is reported and not applied", async () => {
    const bytes = good();
    const dir = await metadataLog({ "00000000000000000000.log": bytes.subarray(0, bytes.length - 5) });
    const image = readKraftImage(dir);
    expect([...image.topics.values()].map((t) => t.name)).toEqual(["a"]);
    expect(image.truncatedTail?.position).toBeGreaterThan(0);
  });

  it("a directory without __cluster_metadata-0 is not a KRaft log dir", async () => {
    logDir = await mkdtemp(join(tmpdir(), "sluice-kraft-"));
    expect(() => readKraftImage(logDir as string)).toThrow(/has no __cluster_metadata-0 directory/);
  });
});

describe("the adoption plan of a broker with several log directories (JBOD)", () => {
  it("is blocked, naming the directories Kafka registered; one registered directory is not", async () => {
    const registration = (logDirs: string[]) =>
      value("RegisterBrokerRecord", { brokerId: 1, brokerEpoch: 5n, incarnationId: topicB, logDirs, endPoints: [], features: [] }, 3);
    for (const [logDirs, blocked] of [
      [["robOf4WISD2o3j6KHRJejQ", "wcYSkHp9CZYkkUtcuUxc-Q"], true],
      [["robOf4WISD2o3j6KHRJejQ"], false],
    ] as const) {
      const dir = await metadataLog({
        "00000000000000000000.log": batch(0n, [
          registration([...logDirs]),
          value("TopicRecord", { name: "a", topicId: topicA }),
          value("PartitionRecord", { topicId: topicA, partitionId: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 1, partitionEpoch: 1 }),
        ]),
      });
      writeMetaProperties(dir, { version: 1, clusterId: "KDxlmjWlQyGJ2mTvRgBxYw", nodeId: 1, directoryId: logDirs[0] });
      await mkdir(join(dir, "a-0"));
      await writeFile(join(dir, "a-0", "partition.metadata"), `version: 0\ntopic_id: ${topicA}\n`);
      const plan = planAdoption(dir);
      expect(plan.metadataEpoch, "the latest epoch of the metadata log's batches").toBe(1);
      const jbod = plan.blockers.filter((blocker) => blocker.includes("log directories"));
      expect(jbod, plan.blockers.join("\n")).toEqual(
        blocked
          ? [
              'Kafka broker 1 registered 2 log directories (log.dirs with several entries): Sluice serves one. Move every partition into this directory first (kafka-reassign-partitions.sh with "log_dirs"), then adopt it',
            ]
          : [],
      );
      await rm(dir, { recursive: true, force: true });
    }
  });
});
