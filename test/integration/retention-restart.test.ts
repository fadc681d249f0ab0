// Retention runs on its own in a running broker and what it (and DeleteRecords) decides survives
// restarts: the real broker (bin/sluice) with log.retention.check.interval.ms and the offset
// checkpoints made frequent, 1 MiB segments.
//   - by size: retention.bytes=2 MiB keeps the newest segments within it; the log start offset
//     moves to a segment base; the deleted segments' files disappear after file.delete.delay.ms;
//   - DeleteRecords moves the log start offset inside a segment; after the checkpoint interval it
//     survives SIGKILL (log-start-offset-checkpoint) and SIGTERM;
//   - by time: segments whose newest record is older than retention.ms go, newer ones stay, and
//     the surviving records read back unchanged across a restart.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { restartableSluice, type SluiceBroker } from "../helpers/sluice.js";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

const restartable = await restartableSluice("retention", {
  "log.retention.check.interval.ms": 200,
  "log.flush.offset.checkpoint.interval.ms": 200,
  "log.flush.start.offset.checkpoint.interval.ms": 200,
  "log.segment.delete.delay.ms": 100,
});
const { start, logDir } = restartable;

afterAll(() => restartable.remove());

async function withClient<T>(broker: SluiceBroker, use: (client: TestClient) => Promise<T>): Promise<T> {
  const client = await TestClient.connect(broker.port);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function createTopic(client: TestClient, name: string, configs: Record<string, string>): Promise<void> {
  const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(created.topics[0].errorCode).toBe(0);
}

/** Produces `count` batches of `perBatch` records of 1 KB, values "<prefix>-<n>", with `timestamp`. */
async function produce(client: TestClient, topic: string, prefix: string, count: number, perBatch: number, timestamp: number): Promise<void> {
  let n = 0;
  for (let b = 0; b < count; b++) {
    const records = Array.from({ length: perBatch }, () => ({ value: Buffer.from(`${prefix}-${n++}-`.padEnd(1000, "x")) }));
    const response = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch({ baseTimestamp: BigInt(timestamp), records }) }] }],
    });
    expect(response.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
}

/** ListOffsets earliest (-2) or latest (-1). */
async function offset(client: TestClient, topic: string, timestamp: -1n | -2n): Promise<bigint> {
  const answer = await client.request<{ topics: { partitions: { errorCode: number; offset: bigint }[] }[] }>(2, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
    timeoutMs: 10_000,
  });
  expect(answer.topics[0].partitions[0].errorCode).toBe(0);
  return answer.topics[0].partitions[0].offset;
}

/** The first record at or after `from`, or the Fetch error code. */
async function firstRecordFrom(client: TestClient, topic: string, from: bigint): Promise<{ errorCode: number; offset?: bigint; value?: string }> {
  const partition = await client.fetchPartition(topic, 0, from, MiB);
  if (partition.errorCode !== 0) return { errorCode: partition.errorCode };
  const record = recordsOf(partition.records).find((r) => r.offset >= from);
  return { errorCode: 0, offset: record?.offset, value: record?.value?.toString().replace(/-x+$/, "") };
}

/** Segment files of a partition directory: .log sizes and whether any .deleted file is left. */
function segmentFiles(topic: string): { logs: number[]; deleted: number } {
  const dir = join(logDir, `${topic}-0`);
  const names = readdirSync(dir);
  return {
    logs: names.filter((name) => name.endsWith(".log")).map((name) => statSync(join(dir, name)).size),
    deleted: names.filter((name) => name.endsWith(".deleted")).length,
  };
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${String(value)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe("retention and DeleteRecords in a running broker, across restarts", () => {
  it("retention.bytes keeps the newest segments; DeleteRecords' start offset survives SIGKILL and SIGTERM", async () => {
    let broker = await start();
    // 60 batches of 100 records of ~1 KB: ~6 MB in 1 MiB segments.
    await withClient(broker, async (client) => {
      await createTopic(client, "sized", { "segment.bytes": String(MiB), "retention.bytes": String(2 * MiB) });
      await produce(client, "sized", "s", 60, 100, Date.now());
    });
    const end = await withClient(broker, (client) => offset(client, "sized", -1n));
    expect(end).toBe(6000n);
    // Retention may run while the records arrive: wait for the pass after the last one, when the
    // closed segments left are within retention.bytes (the active one is never counted) and the
    // deleted ones' files are gone; then the log start offset is where it stays.
    const closedBytes = (files: { logs: number[] }) => files.logs.slice(0, -1).reduce((sum, size) => sum + size, 0);
    const files = await waitFor(
      "retention within retention.bytes",
      async () => segmentFiles("sized"),
      (value) => value.deleted === 0 && closedBytes(value) <= 2 * MiB,
    );
    expect(closedBytes(files)).toBeLessThanOrEqual(2 * MiB);
    const earliest = await withClient(broker, (client) => offset(client, "sized", -2n));
    expect(earliest).toBeGreaterThan(0n);
    await withClient(broker, async (client) => {
      expect(await firstRecordFrom(client, "sized", earliest)).toMatchObject({ errorCode: 0, offset: earliest, value: `s-${earliest}` });
      expect((await firstRecordFrom(client, "sized", earliest - 1n)).errorCode).toBe(1); // OFFSET_OUT_OF_RANGE
    });

    // DeleteRecords inside a segment: the log start offset moves there, no segment is deleted for it.
    const target = earliest + 150n;
    await withClient(broker, async (client) => {
      const deleted = await client.request<{ topics: { partitions: { errorCode: number; lowWatermark: bigint }[] }[] }>(21, 2, {
        topics: [{ name: "sized", partitions: [{ partitionIndex: 0, offset: target }] }],
        timeoutMs: 10_000,
      });
      expect(deleted.topics[0].partitions[0]).toMatchObject({ errorCode: 0, lowWatermark: target });
      expect(await offset(client, "sized", -2n)).toBe(target);
    });
    // After the log-start checkpoint interval (200 ms here), a crash keeps it.
    await sleep(1_000);
    await broker.kill();
    broker = await start();
    await withClient(broker, async (client) => {
      expect(await offset(client, "sized", -2n)).toBe(target);
      expect(await offset(client, "sized", -1n)).toBe(6000n);
      expect(await firstRecordFrom(client, "sized", target)).toMatchObject({ errorCode: 0, offset: target, value: `s-${target}` });
      expect((await firstRecordFrom(client, "sized", target - 1n)).errorCode).toBe(1);
    });
    expect(await broker.stop()).toBe(0);
    broker = await start();
    await withClient(broker, async (client) => {
      expect(await offset(client, "sized", -2n)).toBe(target);
    });
    expect(await broker.stop()).toBe(0);
  }, 120_000);

  it("retention.ms deletes the segments whose records are all older, keeps the rest across a restart", async () => {
    let broker = await start();
    const hourAgo = Date.now() - 3_600_000;
    await withClient(broker, async (client) => {
      await createTopic(client, "timed", { "segment.bytes": String(MiB), "retention.ms": "600000" });
      // ~2.5 MB stamped an hour ago (two closed segments and part of a third), then ~2.5 MB stamped now.
      await produce(client, "timed", "old", 25, 100, hourAgo);
      await produce(client, "timed", "new", 25, 100, Date.now());
    });
    const earliest = await withClient(broker, (client) =>
      waitFor(
        "the log start offset after time retention",
        () => offset(client, "timed", -2n),
        (value) => value > 0n,
      ),
    );
    // Only segments holding nothing but old records went: the first record left is an old one of
    // the segment that also holds new ones, or the first new record.
    expect(earliest).toBeLessThanOrEqual(2500n);
    await withClient(broker, async (client) => {
      const first = await firstRecordFrom(client, "timed", earliest);
      expect(first.value).toBe(earliest < 2500n ? `old-${earliest}` : "new-0");
      // Every new record is still there.
      expect(await firstRecordFrom(client, "timed", 2500n)).toMatchObject({ offset: 2500n, value: "new-0" });
    });
    expect(await broker.stop()).toBe(0);
    broker = await start();
    await withClient(broker, async (client) => {
      expect(await offset(client, "timed", -2n)).toBe(earliest);
      expect(await offset(client, "timed", -1n)).toBe(5000n);
      expect(await firstRecordFrom(client, "timed", 4999n)).toMatchObject({ offset: 4999n, value: "new-2499" });
    });
    expect(await broker.stop()).toBe(0);
  }, 120_000);
});
