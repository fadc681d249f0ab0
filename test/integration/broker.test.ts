// The broker end to end: bin/sluice on a free port, driven by kafkajs (admin and producer)
// and by exact requests from the codec-based test client (fetch, sessions, long polls,
// idempotence). Every check looks at content: keys, values, headers, offsets.

import { rm } from "node:fs/promises";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

let broker: SluiceBroker;
let kafka: Kafka;
let client: TestClient;

beforeAll(async () => {
  broker = await startSluice();
  kafka = new Kafka({ brokers: [broker.bootstrap], clientId: "integration", logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  client = await TestClient.connect(broker.port);
}, 60_000);

afterAll(async () => {
  client?.close();
  const code = await broker?.stop();
  expect(code).toBe(0);
  await rm(broker.workDir, { recursive: true, force: true });
});

interface FetchedPartition {
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  records: Buffer | null;
}

async function fetchFrom(
  topic: string,
  partition: number,
  offset: bigint,
  options: { maxWaitMs?: number; minBytes?: number; version?: number } = {},
): Promise<FetchedPartition> {
  const response = await client.request<{ errorCode: number; responses: { topic: string; partitions: FetchedPartition[] }[] }>(1, options.version ?? 12, {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: 52428800,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: "AAAAAAAAAAAAAAAAAAAAAA",
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1048576,
            replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
            highWatermark: -1n,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  });
  expect(response.errorCode).toBe(0);
  return response.responses[0].partitions[0];
}

/** The Kafka error name kafkajs reports for a topic creation that fails. */
async function creationError(
  admin: ReturnType<Kafka["admin"]>,
  topic: Parameters<ReturnType<Kafka["admin"]>["createTopics"]>[0]["topics"][number],
): Promise<string> {
  try {
    await admin.createTopics({ topics: [topic] });
    return "NONE";
  } catch (error) {
    const errors = (error as { errors?: { type: string }[] }).errors;
    return errors?.[0]?.type ?? String(error);
  }
}

describe("admin through kafkajs", () => {
  it("creates, lists, describes, grows and deletes topics with Kafka's errors", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: "admin-a", numPartitions: 2, configEntries: [{ name: "retention.ms", value: "3600000" }] }] })).toBe(
        true,
      );
      expect(await admin.createTopics({ topics: [{ topic: "admin-a", numPartitions: 2 }] })).toBe(false);
      expect(await creationError(admin, { topic: "bad name!", numPartitions: 1 })).toBe("INVALID_TOPIC_EXCEPTION");
      expect(await creationError(admin, { topic: "admin-rf", numPartitions: 1, replicationFactor: 3 })).toBe("INVALID_REPLICATION_FACTOR");
      expect(await creationError(admin, { topic: "admin-cfg", configEntries: [{ name: "no.such.config", value: "1" }] })).toBe("INVALID_CONFIG");
      expect(await admin.listTopics()).toContain("admin-a");

      const metadata = await admin.fetchTopicMetadata({ topics: ["admin-a"] });
      expect(metadata.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
      expect(metadata.topics[0].partitions[0].leader).toBe(1);

      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: "admin-a", configNames: ["retention.ms", "cleanup.policy"] }],
      });
      const entries = Object.fromEntries(configs.resources[0].configEntries.map((entry) => [entry.configName, entry]));
      expect(entries["retention.ms"].configValue).toBe("3600000");
      expect(entries["cleanup.policy"].configValue).toBe("delete");
      expect(entries["cleanup.policy"].isDefault).toBe(true);

      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: "admin-a", configEntries: [{ name: "cleanup.policy", value: "compact" }] }],
      });
      const altered = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: "admin-a", configNames: ["cleanup.policy", "retention.ms"] }],
      });
      const after = Object.fromEntries(altered.resources[0].configEntries.map((entry) => [entry.configName, entry.configValue]));
      // AlterConfigs replaces the whole set of overrides: retention.ms is back to its default.
      expect(after).toEqual({ "cleanup.policy": "compact", "retention.ms": "604800000" });

      await admin.createPartitions({ topicPartitions: [{ topic: "admin-a", count: 4 }] });
      expect((await admin.fetchTopicMetadata({ topics: ["admin-a"] })).topics[0].partitions).toHaveLength(4);
      await expect(admin.createPartitions({ topicPartitions: [{ topic: "admin-a", count: 3 }] })).rejects.toThrow();

      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: broker.port }]);
      expect(cluster.controller).toBe(1);
      expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);

      await admin.deleteTopics({ topics: ["admin-a"] });
      expect(await admin.listTopics()).not.toContain("admin-a");
    } finally {
      await admin.disconnect();
    }
  });
});

describe("produce and fetch", () => {
  it("kafkajs records (plain and gzip, keys, headers) come back exactly, with offsets", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "pf", numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const sent: { key: string; value: string; headers: Record<string, string> }[] = [];
    for (let i = 0; i < 20; i++) sent.push({ key: `k${i}`, value: `value-${i}-${"x".repeat(i * 10)}`, headers: { n: String(i) } });
    const first = await producer.send({ topic: "pf", messages: sent.slice(0, 10), acks: -1 });
    const second = await producer.send({ topic: "pf", messages: sent.slice(10), acks: -1, compression: 1 /* gzip */ });
    await producer.disconnect();
    expect(first[0].baseOffset).toBe("0");
    expect(second[0].baseOffset).toBe("10");

    const fetched = await fetchFrom("pf", 0, 0n);
    expect(fetched.highWatermark).toBe(20n);
    const records = recordsOf(fetched.records);
    expect(records.map((r) => Number(r.offset))).toEqual([...Array(20).keys()]);
    expect(records.map((r) => r.key?.toString())).toEqual(sent.map((m) => m.key));
    expect(records.map((r) => r.value?.toString())).toEqual(sent.map((m) => m.value));
    expect(records.map((r) => r.headers.map((h) => `${h.key}=${h.value?.toString()}`).join())).toEqual(sent.map((_, i) => `n=${i}`));

    // From the middle: the whole batch holding offset 13 comes back (it starts at 10).
    const middle = recordsOf((await fetchFrom("pf", 0, 13n)).records);
    expect(Number(middle[0].offset)).toBe(10);
    // Past the end: OFFSET_OUT_OF_RANGE; at the end: nothing.
    expect((await fetchFrom("pf", 0, 21n)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(recordsOf((await fetchFrom("pf", 0, 20n)).records)).toEqual([]);
    // kafkajs's offsets API agrees.
    const admin2 = kafka.admin();
    await admin2.connect();
    expect(await admin2.fetchTopicOffsets("pf")).toEqual([{ partition: 0, offset: "20", high: "20", low: "0" }]);
    await admin2.deleteTopicRecords({ topic: "pf", partitions: [{ partition: 0, offset: "5" }] });
    expect(await admin2.fetchTopicOffsets("pf")).toEqual([{ partition: 0, offset: "20", high: "20", low: "5" }]);
    await admin2.disconnect();
  });

  it("a long poll waits for an append and returns it", async () => {
    await client.request(19, 7, {
      topics: [{ name: "lp", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const waiting = fetchFrom("lp", 0, 0n, { maxWaitMs: 20_000, minBytes: 1 });
    let answered = false;
    void waiting.then(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answered).toBe(false);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "lp", messages: [{ key: "wake", value: "up" }] });
    await producer.disconnect();
    const fetched = await waiting;
    expect(recordsOf(fetched.records).map((r) => r.value?.toString())).toEqual(["up"]);
  });

  it("incremental fetch sessions answer only partitions with news", async () => {
    await client.request(19, 7, {
      topics: [{ name: "sess", numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const partitionEntry = (partition: number, offset: bigint) => ({
      partition,
      currentLeaderEpoch: -1,
      fetchOffset: offset,
      lastFetchedEpoch: -1,
      logStartOffset: -1n,
      partitionMaxBytes: 1048576,
      replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
      highWatermark: -1n,
    });
    const request = (sessionId: number, sessionEpoch: number, topics: unknown[]) =>
      client.request<{ errorCode: number; sessionId: number; responses: { partitions: { partitionIndex: number; records: Buffer | null }[] }[] }>(1, 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1048576,
        isolationLevel: 0,
        sessionId,
        sessionEpoch,
        topics,
        forgottenTopicsData: [],
        rackId: "",
      });
    const full = await request(0, 0, [{ topic: "sess", partitions: [partitionEntry(0, 0n), partitionEntry(1, 0n)] }]);
    expect(full.sessionId).toBeGreaterThan(0);
    expect(full.responses[0].partitions.map((p) => p.partitionIndex)).toEqual([0, 1]);
    const quiet = await request(full.sessionId, 1, []);
    expect(quiet.errorCode).toBe(0);
    expect(quiet.responses).toEqual([]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "sess", messages: [{ partition: 1, value: "news" }] });
    await producer.disconnect();
    const news = await request(full.sessionId, 2, []);
    expect(news.responses[0].partitions.map((p) => p.partitionIndex)).toEqual([1]);
    expect(recordsOf(news.responses[0].partitions[0].records).map((r) => r.value?.toString())).toEqual(["news"]);
    expect((await request(full.sessionId, 2, [])).errorCode).toBe(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    expect((await request(12345, 1, [])).errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  it("ListOffsets finds offsets by timestamp, earliest, latest and max timestamp", async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "ts", messages: [1000, 2000, 3000].map((t) => ({ value: `at-${t}`, timestamp: String(1_700_000_000_000 + t) })) });
    await producer.disconnect();
    const ask = async (timestamp: bigint) => {
      const response = await client.request<{ topics: { partitions: { errorCode: number; offset: bigint; timestamp: bigint }[] }[] }>(2, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: "ts", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
      });
      return response.topics[0].partitions[0];
    };
    expect((await ask(1_700_000_001_500n)).offset).toBe(1n);
    expect((await ask(1_700_000_000_000n)).offset).toBe(0n);
    expect((await ask(1_700_000_009_000n)).offset).toBe(-1n);
    expect((await ask(-2n)).offset).toBe(0n);
    expect((await ask(-1n)).offset).toBe(3n);
    expect(await ask(-3n)).toMatchObject({ offset: 2n, timestamp: 1_700_000_003_000n });
  });
});

describe("idempotent produce", () => {
  it("dedupes a retried batch with its original offsets and refuses gaps", async () => {
    await client.request(19, 7, {
      topics: [{ name: "idem", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const init = await client.request<{ errorCode: number; producerId: bigint; producerEpoch: number }>(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: -1n,
      producerEpoch: -1,
    });
    expect(init.errorCode).toBe(0);
    const batch = (sequence: number, values: string[]) =>
      buildRecordBatch({
        producerId: init.producerId,
        producerEpoch: init.producerEpoch,
        baseSequence: sequence,
        baseTimestamp: BigInt(Date.now()),
        records: values.map((v) => ({ value: Buffer.from(v) })),
      });
    const produce = async (records: Buffer) => {
      const response = await client.request<{ responses: { partitionResponses: { errorCode: number; baseOffset: bigint }[] }[] }>(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: "idem", partitionData: [{ index: 0, records }] }],
      });
      return response.responses[0].partitionResponses[0];
    };
    expect(await produce(batch(0, ["a", "b"]))).toMatchObject({ errorCode: 0, baseOffset: 0n });
    expect(await produce(batch(2, ["c"]))).toMatchObject({ errorCode: 0, baseOffset: 2n });
    // The retry of the first batch: no second copy, the original offset.
    expect(await produce(batch(0, ["a", "b"]))).toMatchObject({ errorCode: 0, baseOffset: 0n });
    expect((await produce(batch(5, ["gap"]))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const fetched = await fetchFrom("idem", 0, 0n);
    expect(recordsOf(fetched.records).map((r) => r.value?.toString())).toEqual(["a", "b", "c"]);
  });
});
