// The log cleaner against Kafka 4.4's: the same input — keyed updates in batches of every codec,
// headers, tombstones, transactions committed and aborted (Kafka's Java producer), then a
// sentinel record after segment.ms so the rest leaves the active segment — goes to a compacted
// topic on Apache Kafka 4.4.0 and on Sluice, each with its cleaner made eager
// (min.cleanable.dirty.ratio 0.01, log.cleaner.backoff.ms 200). Once each broker's
// cleaner-offset-checkpoint shows the clean, the records each keeps (offset, key, value, headers,
// and the transaction markers) must be the same: the latest value of every key, the tombstones and
// markers within delete.retention.ms, no aborted record. Kafka's DumpLogSegments then reads and
// verifies Sluice's cleaned segments.
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recompressBatch } from "../../src/native.js";
import { batches, buildRecordBatch, ControlRecordType, decodeControlRecordKey } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { dumpLogSegments, type KafkaBroker, kafkaVersion, startKafka } from "../helpers/kafka.js";
import { recordsOf } from "../helpers/records.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { TxnClient } from "../helpers/transactions.js";

const topic = "compacted";
/** The same input on a topic with delete.retention.ms=1000, cleaned a second time past the delete horizon. */
const horizonTopic = "compacted-horizon";
// Long enough that nothing rolls while the input is written; the sentinel's timestamp, past it,
// rolls the segment (Kafka's roll test compares record timestamps, not the clock).
const segmentMs = 60_000;
const cleanerSettings = { "log.cleaner.backoff.ms": 200, "log.cleaner.min.cleanable.ratio": 0.01, "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024 };
const topicConfigs: Record<string, string> = {
  "cleanup.policy": "compact",
  "segment.ms": String(segmentMs),
  "min.cleanable.dirty.ratio": "0.01",
};
const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** The non-transactional batches: the same records for both brokers, stamped from `base` (the time of the run). */
function plainBatches(base: bigint): Buffer[] {
  const built: Buffer[] = [];
  for (let round = 0; round < 10; round++) {
    const records = Array.from({ length: 20 }, (_, i) => ({
      key: Buffer.from(`k${(round * 7 + i) % 30}`),
      value: Buffer.from(`v${round}-${i}`),
      headers: i % 4 === 0 ? [{ key: "round", value: Buffer.from(String(round)) }] : [],
      timestamp: base + BigInt(round * 20 + i),
    }));
    const batch = buildRecordBatch({ records });
    const codec = codecs[round % codecs.length];
    built.push(codec === "none" ? batch : recompressBatch(batch, codec));
  }
  return built;
}

function tombstones(base: bigint): Buffer {
  return buildRecordBatch({ records: ["k5", "k6", "k7"].map((key, i) => ({ key: Buffer.from(key), value: null, timestamp: base + 1_000n + BigInt(i) })) });
}

interface Kept {
  offset: number;
  key: string | null;
  value: string | null;
  headers: string[];
  marker?: "COMMIT" | "ABORT";
}

async function produceTo(client: TestClient, records: Buffer, to: string): Promise<void> {
  expect((await client.producePartition(to, 0, records)).errorCode).toBe(0);
}

/** Writes the input to `to` on `bootstrap` (port `port`); returns the sentinel's offset and the time base of the records. */
async function writeInput(bootstrap: string, port: number, to: string, extraConfigs: Record<string, string> = {}): Promise<{ sentinel: number; base: bigint }> {
  const produce = (client: TestClient, records: Buffer) => produceTo(client, records, to);
  const topic = to;
  const client = await TestClient.connect(port);
  const txn = await TxnClient.start(bootstrap);
  try {
    const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [
        {
          name: topic,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries({ ...topicConfigs, ...extraConfigs }).map(([name, value]) => ({ name, value })),
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(0);
    // The Java producer first (its start takes a while), then the input, written in well under segment.ms.
    await txn.producer("p", `txn-${to}`);
    const base = BigInt(Date.now());
    const plain = plainBatches(base);
    for (const batch of plain.slice(0, 5)) await produce(client, batch);
    // Transactions: keys equal their values (TxnClient sends value as key too). Kafka writes a
    // transaction's marker after EndTxn returns: wait for it (the last stable offset reaches the
    // high watermark) so that both brokers' logs have the same order.
    const settled = async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const ends = await txn.endOffsets(topic);
        if (ends.committed[0] === ends.uncommitted[0]) return;
        await sleep(50);
      }
      throw new Error(`the transaction markers of ${topic} were not written`);
    };
    await txn.transaction("p", topic, 0, ["k1", "k2"], "commit");
    await settled();
    await txn.transaction("p", topic, 0, ["k3", "k4", "t-aborted"], "abort");
    await settled();
    for (const batch of plain.slice(5)) await produce(client, batch);
    await txn.transaction("p", topic, 0, ["k3", "t-committed"], "commit");
    await settled();
    await produce(client, tombstones(base));
    // Kafka rolls only on an append: a record stamped past segment.ms moves everything above into closed segments.
    await produce(
      client,
      buildRecordBatch({ records: [{ key: Buffer.from("sentinel"), value: Buffer.from("end"), timestamp: base + BigInt(2 * segmentMs) }] }),
    );
    const end = await client.request<{ topics: { partitions: { offset: bigint }[] }[] }>(2, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
      timeoutMs: 10_000,
    });
    return { sentinel: Number(end.topics[0].partitions[0].offset) - 1, base };
  } finally {
    client.close();
    await txn.close();
  }
}

/** Waits until the log dir's cleaner-offset-checkpoint says `topic`-0 was cleaned up to `offset` or beyond. */
async function waitForClean(logDir: string, topic: string, offset: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const line = readFileSync(join(logDir, "cleaner-offset-checkpoint"), "utf8")
        .split("\n")
        .find((entry) => entry.startsWith(`${topic} 0 `));
      const cleaned = line === undefined ? -1 : Number(line.split(" ")[2]);
      if (cleaned >= offset) return cleaned;
    } catch {}
    if (Date.now() > deadline) throw new Error(`no clean of ${topic}-0 up to ${offset} in ${logDir} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Every record and transaction marker the broker keeps in `topic`-0, from offset 0 (read_uncommitted). */
async function readKept(port: number, topic: string): Promise<Kept[]> {
  const client = await TestClient.connect(port);
  const kept: Kept[] = [];
  let next = 0n;
  try {
    for (;;) {
      const partition = await client.fetchPartition(topic, 0, next, 4 << 20);
      expect(partition.errorCode).toBe(0);
      const bytes = partition.records;
      if (bytes === null || bytes.length === 0) break;
      let last = next - 1n;
      for (const batch of batches(bytes)) {
        last = batch.lastOffset;
        const records = recordsOf(bytes.subarray(batch.position, batch.end)).filter((record) => record.offset >= next);
        for (const record of records) {
          if (batch.isControl) {
            const type = decodeControlRecordKey(record.key).type;
            kept.push({ offset: Number(record.offset), key: null, value: null, headers: [], marker: type === ControlRecordType.COMMIT ? "COMMIT" : "ABORT" });
          } else {
            kept.push({
              offset: Number(record.offset),
              key: record.key?.toString() ?? null,
              value: record.value?.toString() ?? null,
              headers: record.headers.map((header) => `${header.key}=${header.value?.toString() ?? "null"}`),
            });
          }
        }
      }
      if (last < next || last + 1n >= partition.highWatermark) break;
      next = last + 1n;
    }
  } finally {
    client.close();
  }
  return kept;
}

describe(`the log cleaner keeps what Kafka ${kafkaVersion}'s keeps`, () => {
  let kafka: KafkaBroker;
  let sluice: SluiceBroker;
  let kafkaKept: Kept[];
  let sluiceKept: Kept[];
  let kafkaHorizonKept: Kept[];
  let sluiceHorizonKept: Kept[];

  /** Both topics' input, their first clean, and the horizon topic's second clean past its delete horizon. */
  async function run(bootstrap: string, port: number, logDir: string): Promise<{ kept: Kept[]; horizonKept: Kept[]; sentinels: number[] }> {
    const first = await writeInput(bootstrap, port, topic);
    const horizon = await writeInput(bootstrap, port, horizonTopic, { "delete.retention.ms": "1000" });
    await waitForClean(logDir, topic, first.sentinel);
    await waitForClean(logDir, horizonTopic, horizon.sentinel);
    const kept = await readKept(port, topic);
    // Past the delete horizon the first clean stamped (delete.retention.ms after it), new
    // records and another roll start a second clean, which drops the expired tombstones and
    // the markers of transactions with nothing left.
    await sleep(1_500);
    const client = await TestClient.connect(port);
    try {
      await produceTo(
        client,
        buildRecordBatch({
          records: ["k0", "k5", "k8"].map((key, i) => ({
            key: Buffer.from(key),
            value: Buffer.from(`later-${key}`),
            timestamp: horizon.base + BigInt(3_000 + i),
          })),
        }),
        horizonTopic,
      );
      await produceTo(
        client,
        buildRecordBatch({ records: [{ key: Buffer.from("sentinel"), value: Buffer.from("again"), timestamp: horizon.base + BigInt(4 * segmentMs) }] }),
        horizonTopic,
      );
    } finally {
      client.close();
    }
    await waitForClean(logDir, horizonTopic, horizon.sentinel + 4);
    return { kept, horizonKept: await readKept(port, horizonTopic), sentinels: [first.sentinel, horizon.sentinel] };
  }

  beforeAll(async () => {
    kafka = await startKafka({ properties: cleanerSettings });
    const onKafka = await run(kafka.bootstrap, kafka.port, kafka.logDir);
    kafkaKept = onKafka.kept;
    kafkaHorizonKept = onKafka.horizonKept;
    await kafka.stop();

    sluice = await startSluice({ overrides: cleanerSettings });
    const onSluice = await run(sluice.bootstrap, sluice.port, sluice.logDir);
    expect(onSluice.sentinels).toEqual(onKafka.sentinels);
    sluiceKept = onSluice.kept;
    sluiceHorizonKept = onSluice.horizonKept;
  }, 300_000);

  afterAll(async () => {
    if (sluice) {
      await sluice.stop();
      await rm(sluice.workDir, { recursive: true, force: true });
    }
    if (kafka) await rm(kafka.workDir, { recursive: true, force: true });
  });

  it("Kafka's cleaner kept one value per key, the tombstones and markers, and dropped the aborted records", () => {
    const keyed = kafkaKept.filter((record) => record.marker === undefined);
    const keys = keyed.map((record) => record.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).not.toContain("t-aborted");
    expect(keyed.filter((record) => record.value === null).map((record) => record.key)).toEqual(["k5", "k6", "k7"]);
    expect(kafkaKept.filter((record) => record.marker !== undefined).length).toBeGreaterThan(0);
  });

  it("Sluice keeps exactly the same records, offsets, headers and markers", () => {
    expect(sluiceKept).toEqual(kafkaKept);
  });

  it("past the delete horizon, a second clean drops the same tombstones and markers as Kafka's", () => {
    // Kafka dropped what its second clean could: fewer tombstones or markers than after the first.
    const tombstonesAndMarkers = (kept: Kept[]) => kept.filter((record) => record.value === null).length;
    expect(tombstonesAndMarkers(kafkaHorizonKept)).toBeLessThan(tombstonesAndMarkers(kafkaKept));
    expect(sluiceHorizonKept).toEqual(kafkaHorizonKept);
  });

  it("the clean shows in /metrics under Kafka's LogCleaner names", async () => {
    const text = await (await fetch(`${await sluice.httpUrl()}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    expect(value("sluice_log_cleaner_cleans_total")).toBeGreaterThanOrEqual(1);
    expect(value("kafka_log_logcleaner_max_buffer_utilization_percent")).toBeGreaterThan(0);
    expect(value("kafka_log_logcleaner_cleaner_recopy_percent")).toBeGreaterThan(0);
    expect(value("kafka_log_logcleaner_cleaner_recopy_percent")).toBeLessThan(100);
    expect(value("kafka_log_logcleanermanager_uncleanable_partitions_count")).toBe(0);
  });

  it("Kafka's DumpLogSegments reads and verifies Sluice's cleaned segments", async () => {
    const dir = join(sluice.logDir, `${topic}-0`);
    // The cleaned (closed) segments: the active one has its reserved tail while the broker runs.
    const files = readdirSync(dir)
      .filter((name) => name.endsWith(".log"))
      .sort()
      .slice(0, -1)
      .map((name) => join(dir, name));
    expect(files.length).toBeGreaterThan(0);
    const dump = await dumpLogSegments(files, { deepIteration: true });
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stderr).not.toMatch(/corrupt|mismatch|Exception/i);
    // Every record Sluice keeps below the active segment is in the dump, at its offset.
    const dumped = dump.files.flatMap((file) => file.batches.flatMap((batch) => batch.records.map((record) => record.offset)));
    expect(dumped).toEqual(sluiceKept.filter((record) => record.offset < sluiceKept[sluiceKept.length - 1].offset).map((record) => record.offset));
  });
  it("deleting the topic drops it from cleaner-offset-checkpoint", async () => {
    const checkpointed = () => readFileSync(join(sluice.logDir, "cleaner-offset-checkpoint"), "utf8");
    expect(checkpointed()).toMatch(new RegExp(`^${topic} 0 \\d+$`, "m"));
    const client = await TestClient.connect(sluice.port);
    try {
      const deleted = await client.request<{ responses: { errorCode: number }[] }>(20, 6, {
        topics: [{ name: topic, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
        timeoutMs: 10_000,
      });
      expect(deleted.responses[0].errorCode).toBe(0);
    } finally {
      client.close();
    }
    for (let attempt = 0; attempt < 100 && new RegExp(`^${topic} 0 `, "m").test(checkpointed()); attempt++) await sleep(50);
    expect(checkpointed()).not.toMatch(new RegExp(`^${topic} 0 `, "m"));
    expect(checkpointed()).toMatch(new RegExp(`^${horizonTopic} 0 \\d+$`, "m"));
  });
});
