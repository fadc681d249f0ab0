// The services under the handlers, one by one: ProducerIdManager's blocks and the log layer's
// scheduler (retention over real partition logs, bounded by the high watermark the partition
// manager reports).

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCER_ID_BLOCK_SIZE, ProducerIdManager } from "../../src/coordinator/transaction/producer-id-manager.js";
import { LogManager } from "../../src/log/log-manager.js";
import { LogScheduler } from "../../src/log/log-scheduler.js";
import { buildRecordBatch } from "../../src/protocol/records.js";

describe("ProducerIdManager", () => {
  /** A block source like the metadata store: each reservation continues where the last ended. */
  function blocks() {
    const source = {
      reservations: 0,
      next: 5_000n,
      failNext: false,
      async allocateProducerIds(count: number): Promise<bigint> {
        await new Promise((resolve) => setImmediate(resolve));
        if (source.failNext) {
          source.failNext = false;
          throw new Error("metadata store unavailable");
        }
        source.reservations++;
        const first = source.next;
        source.next += BigInt(count);
        return first;
      },
    };
    return source;
  }

  it("callers waiting for the first block share one reservation and get distinct ids", async () => {
    const source = blocks();
    const manager = new ProducerIdManager(source);
    const ids = await Promise.all(Array.from({ length: 10 }, () => manager.generateProducerId()));
    expect(source.reservations).toBe(1);
    expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => 5_000n + BigInt(i)));
  });

  it("reserves the next block when one is used up", async () => {
    const source = blocks();
    const manager = new ProducerIdManager(source);
    let last = -1n;
    for (let i = 0; i <= PRODUCER_ID_BLOCK_SIZE; i++) last = await manager.generateProducerId();
    expect(source.reservations).toBe(2);
    expect(last).toBe(5_000n + BigInt(PRODUCER_ID_BLOCK_SIZE));
  });

  it("a failed reservation fails its callers, and the next call reserves again", async () => {
    const source = blocks();
    source.failNext = true;
    const manager = new ProducerIdManager(source);
    await expect(manager.generateProducerId()).rejects.toThrow("metadata store unavailable");
    expect(await manager.generateProducerId()).toBe(5_000n);
  });
});

describe("LogScheduler", () => {
  let directory: string;
  let logs: LogManager;
  const logger = pino({ level: "silent" });
  const nowMs = 1_700_000_000_000;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "sluice-scheduler-"));
    logs = await LogManager.open(directory);
  });

  afterAll(async () => {
    await logs?.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function filledLog(topic: string) {
    const log = await logs.createPartition(topic, 0, { config: { segmentBytes: 1024, retentionBytes: 2048, retentionMs: -1 } });
    for (let index = 0; index < 40; index++) {
      const records = [0, 1].map((j) => ({ key: null, value: Buffer.from(`value ${index * 2 + j} ${"x".repeat(40)}`), headers: [], timestamp: 1_000n }));
      log.append(buildRecordBatch({ records }), { nowMs });
    }
    return log;
  }

  it("a retention pass deletes segments past retention.bytes, below the high watermark the partitions report", async () => {
    const hosted = await filledLog("retained");
    const unhosted = await filledLog("not-hosted");
    const segmentsBefore = unhosted.segmentBaseOffsets.length;
    const scheduler = new LogScheduler(logs, {
      retentionCheckIntervalMs: 300_000,
      checkpointIntervalMs: 0,
      producerIdExpirationCheckIntervalMs: 600_000,
      // Only "retained" is a partition this broker hosts; the other's high watermark is unknown.
      highWatermarkOf: (log) => (log.topic === "retained" ? log.logEndOffset : null),
      logger,
      now: () => nowMs,
    });
    await scheduler.enforceRetention();
    expect(hosted.logStartOffset).toBeGreaterThan(0n);
    expect(hosted.logStartOffset).toBe(hosted.segmentBaseOffsets[0]);
    expect(hosted.sizeBytes).toBeLessThanOrEqual(2048 + 1024);
    expect(unhosted.logStartOffset, "a log without a known high watermark is left alone").toBe(0n);
    expect(unhosted.segmentBaseOffsets.length).toBe(segmentsBefore);
    await scheduler.stop();
  });

  it("a checkpoint pass writes Kafka's offset checkpoints with the high watermarks the partitions report", async () => {
    const log = await logs.createPartition("checkpointed", 0);
    log.append(buildRecordBatch({ records: [{ key: null, value: Buffer.from("v"), headers: [], timestamp: 1_000n }] }), { nowMs });
    await log.flush();
    const scheduler = new LogScheduler(logs, {
      retentionCheckIntervalMs: 300_000,
      checkpointIntervalMs: 0,
      producerIdExpirationCheckIntervalMs: 600_000,
      highWatermarkOf: (each) => (each.topic === "checkpointed" ? each.logEndOffset : null),
      logger,
      now: () => nowMs,
    });
    await scheduler.checkpoint();
    const lines = async (file: string) => (await readFile(join(directory, file), "utf8")).split("\n");
    expect(await lines("recovery-point-offset-checkpoint")).toContain("checkpointed 0 1");
    expect(await lines("log-start-offset-checkpoint")).toContain("checkpointed 0 0");
    // Only the partition whose high watermark is known: "0" (version), "1" (entries), the entry.
    expect(await lines("replication-offset-checkpoint")).toEqual(["0", "1", "checkpointed 0 1", ""]);
    await scheduler.stop();
  });

  it("the high-watermark timer writes replication-offset-checkpoint on its own interval", async () => {
    const log = await logs.createPartition("hw-timed", 0);
    log.append(buildRecordBatch({ records: [{ key: null, value: Buffer.from("v"), headers: [], timestamp: 1_000n }] }), { nowMs });
    const scheduler = new LogScheduler(logs, {
      retentionCheckIntervalMs: 300_000,
      checkpointIntervalMs: 0,
      highWatermarkCheckpointIntervalMs: 20,
      producerIdExpirationCheckIntervalMs: 600_000,
      highWatermarkOf: (each) => (each.topic === "hw-timed" ? each.logEndOffset : null),
      logger,
      now: () => nowMs,
    });
    scheduler.start();
    const file = join(directory, "replication-offset-checkpoint");
    let content = "";
    for (let attempt = 0; attempt < 200 && !content.includes("hw-timed 0 1"); attempt++) {
      await new Promise((wake) => setTimeout(wake, 10));
      content = await readFile(file, "utf8").catch(() => "");
    }
    await scheduler.stop();
    expect(content.split("\n")).toEqual(["0", "1", "hw-timed 0 1", ""]);
  });

  it("a second retention pass asked for while one runs joins it", async () => {
    const scheduler = new LogScheduler(logs, {
      retentionCheckIntervalMs: 300_000,
      checkpointIntervalMs: 0,
      producerIdExpirationCheckIntervalMs: 600_000,
      highWatermarkOf: (log) => log.logEndOffset,
      logger,
      now: () => nowMs,
    });
    const first = scheduler.enforceRetention();
    expect(scheduler.enforceRetention()).toBe(first);
    await first;
    await scheduler.stop();
  });
});
