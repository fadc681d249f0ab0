// The run from issue 9's bug report: Kafka's own ProducerPerformance (the class behind
// kafka-producer-perf-test.sh, at test/helpers/kafka.ts's kafkaVersion) sending 300,000 records of
// 100 B at full speed (--throughput -1, the producer's defaults: acks=all, idempotent) to a Sluice
// broker whose retention check runs every 200 ms, with 1 MiB segments (rolls by size) and a short
// segment.ms (rolls by time), so background work on the partition logs overlaps the appends all
// the time. Before the storage engine kept background work off the request path, some batches were
// answered UNKNOWN_SERVER_ERROR (2,220 records failed in the report). Asserted: the tool exits 0,
// its producer's record-error-total metric is 0, it prints no failed send, it reports every
// record sent, and the partitions' log end offsets add up to 300,000.
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { kafkaVersion, runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const records = 300_000;
const recordSize = 100;
const topic = "perf-under-retention";
const partitions = 3;

describe(`Kafka ${kafkaVersion}'s ProducerPerformance while the retention check runs every 200 ms`, () => {
  let broker: SluiceBroker;

  beforeAll(async () => {
    broker = await startSluice({
      overrides: { "log.retention.check.interval.ms": 200, "log.segment.bytes": 1_048_576, "log.roll.ms": 500 },
    });
    const client = await TestClient.connect(broker.port);
    try {
      const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
        topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 30_000,
        validateOnly: false,
      });
      expect(created.topics[0].errorCode).toBe(0);
    } finally {
      client.close();
    }
  });

  afterAll(async () => {
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it(`sends ${records.toLocaleString("en")} records of ${recordSize} B with none failed, and the log end offsets add up to ${records.toLocaleString("en")}`, async () => {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ProducerPerformance",
      [
        "--topic",
        topic,
        "--num-records",
        String(records),
        "--record-size",
        String(recordSize),
        "--throughput",
        "-1",
        "--print-metrics",
        "--producer-props",
        `bootstrap.servers=${broker.bootstrap}`,
      ],
      { heap: "512m", timeoutMs: 600_000 },
    );
    const output = `${run.stdout}\n${run.stderr}`;
    const context = `ProducerPerformance exited with ${run.code}; output ends with:\n${output.slice(-3000)}`;
    expect(run.code, context).toBe(0);
    // --print-metrics: "producer-metrics:record-error-total:{client-id=...} : 0.000"
    const errorTotal = /producer-metrics:record-error-total:\{[^}]*\}\s*:\s*([\d.]+)/.exec(run.stdout);
    expect(errorTotal, context).not.toBeNull();
    expect(Number(errorTotal?.[1]), context).toBe(0);
    // A failed send's callback prints its exception (e.g. UnknownServerException).
    expect(output.match(/[A-Za-z]+Exception[^\n]*/g) ?? [], context).toEqual([]);
    // The final summary line: "300000 records sent, ... records/sec ..., ... 99.9th."
    const summary = [...run.stdout.matchAll(/(\d+) records sent, [\d.]+ records\/sec .* 99\.9th\./g)].at(-1);
    expect(summary?.[1], context).toBe(String(records));

    const client = await TestClient.connect(broker.port);
    try {
      const answer = await client.request<{ topics: { partitions: { errorCode: number; offset: bigint }[] }[] }>(2, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: topic,
            partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
              partitionIndex,
              currentLeaderEpoch: -1,
              timestamp: -1n,
              maxNumOffsets: 1,
            })),
          },
        ],
        timeoutMs: 30_000,
      });
      const ends = answer.topics[0].partitions;
      expect(ends.map((p) => p.errorCode)).toEqual(Array(partitions).fill(0));
      expect(ends.reduce((sum, p) => sum + p.offset, 0n)).toBe(BigInt(records));
    } finally {
      client.close();
    }
  }, 660_000);
});
