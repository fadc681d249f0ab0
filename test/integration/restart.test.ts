// Records survive a restart with the same offsets: after SIGTERM (clean shutdown: the marker
// is written and the next start trusts the files) and after SIGKILL (the next start recovers
// the logs). Idempotent producer state survives too, so a retried batch is still a duplicate.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { freePort } from "../helpers/kafka.js";
import { recordsOf } from "../helpers/records.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const workDir = await mkdtemp(join(tmpdir(), "sluice-restart-"));
const logDir = join(workDir, "data");
const port = await freePort();

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const start = () => startSluice({ port, logDir, workDir });

async function readAll(broker: SluiceBroker, topic: string): Promise<{ offsets: number[]; values: string[]; highWatermark: bigint }> {
  const client = await TestClient.connect(broker.port);
  const offsets: number[] = [];
  const values: string[] = [];
  let next = 0n;
  let highWatermark = -1n;
  for (;;) {
    const response = await client.request<{ responses: { partitions: { errorCode: number; highWatermark: bigint; records: Buffer | null }[] }[] }>(1, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: next, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    const partition = response.responses[0].partitions[0];
    expect(partition.errorCode).toBe(0);
    highWatermark = partition.highWatermark;
    const records = recordsOf(partition.records).filter((r) => r.offset >= next);
    if (records.length === 0) break;
    for (const record of records) {
      offsets.push(Number(record.offset));
      values.push(record.value?.toString() ?? "");
    }
    next = records[records.length - 1].offset + 1n;
  }
  client.close();
  return { offsets, values, highWatermark };
}

async function produce(client: TestClient, topic: string, records: Buffer): Promise<{ errorCode: number; baseOffset: bigint }> {
  const response = await client.request<{ responses: { partitionResponses: { errorCode: number; baseOffset: bigint }[] }[] }>(0, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return response.responses[0].partitionResponses[0];
}

describe("restart", () => {
  it("keeps every record and offset, and idempotent dedupe, across SIGTERM and SIGKILL", async () => {
    let broker = await start();
    let client = await TestClient.connect(broker.port);
    await client.request(19, 7, {
      topics: [{ name: "durable", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    const init = await client.request<{ producerId: bigint; producerEpoch: number }>(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: -1n,
      producerEpoch: -1,
    });
    const batch = (sequence: number, values: string[]) =>
      buildRecordBatch({
        producerId: init.producerId,
        producerEpoch: init.producerEpoch,
        baseSequence: sequence,
        baseTimestamp: BigInt(Date.now()),
        records: values.map((v) => ({ value: Buffer.from(v) })),
      });
    const expected: string[] = [];
    let sequence = 0;
    const send = async (values: string[]) => {
      const result = await produce(client, "durable", batch(sequence, values));
      expect(result.errorCode).toBe(0);
      expect(result.baseOffset).toBe(BigInt(expected.length));
      sequence += values.length;
      expected.push(...values);
      return result;
    };
    for (let i = 0; i < 50; i++) await send([`a${i}-0`, `a${i}-1`]);
    const lastBeforeStop = batch(sequence - 2, expected.slice(-2));
    client.close();

    // Clean stop: the marker is written; the restart trusts the files.
    expect(await broker.stop()).toBe(0);
    expect(existsSync(join(logDir, ".kafka_cleanshutdown"))).toBe(true);
    broker = await start();
    let read = await readAll(broker, "durable");
    expect(read.values).toEqual(expected);
    expect(read.offsets).toEqual(expected.map((_, i) => i));
    expect(read.highWatermark).toBe(BigInt(expected.length));

    // The last batch retried after the restart is still a duplicate, answered with its offset.
    client = await TestClient.connect(broker.port);
    expect(await produce(client, "durable", lastBeforeStop)).toMatchObject({ errorCode: 0, baseOffset: BigInt(expected.length - 2) });
    for (let i = 0; i < 30; i++) await send([`b${i}`]);
    const lastBeforeKill = batch(sequence - 1, expected.slice(-1));
    client.close();

    // Crash: nothing is flushed by the broker, but the page cache keeps what was written.
    await broker.kill();
    expect(existsSync(join(logDir, ".kafka_cleanshutdown"))).toBe(false);
    broker = await start();
    read = await readAll(broker, "durable");
    expect(read.values).toEqual(expected);
    expect(read.offsets).toEqual(expected.map((_, i) => i));
    client = await TestClient.connect(broker.port);
    expect(await produce(client, "durable", lastBeforeKill)).toMatchObject({ errorCode: 0, baseOffset: BigInt(expected.length - 1) });
    await send(["after-crash"]);
    client.close();
    expect(await broker.stop()).toBe(0);
  }, 120_000);
});
