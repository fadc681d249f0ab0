// kill -9 while the log cleaner works: the real broker (bin/sluice) compacts a topic with its
// cleaner throttled (log.cleaner.io.max.bytes.per.second) so that a clean takes seconds; each
// round writes new values for every key, rolls the segment, waits a random moment and SIGKILLs
// the broker — before, during or after a clean, at whatever step it was. After each restart
// every key's latest value is there at the offset it was written at, no older value of a key is
// read after its latest, and no `.cleaned` or `.swap` file is left over. CLEANER_CRASH_ROUNDS
// (3 by default) sets the rounds; the long form runs many more.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { restartableSluice, type SluiceBroker } from "../helpers/sluice.js";

const rounds = Number(process.env.CLEANER_CRASH_ROUNDS ?? 3);
const topic = "crashy";
const keys = 2_000;
const valueBytes = 500;
// Each round's sentinel is stamped a segment.ms past the previous one (which began the active
// segment), staying within message.timestamp.after.max.ms (1 hour) for up to 55 rounds.
const segmentMs = 60_000;

const restartable = await restartableSluice("cleaner-crash", {
  "log.cleaner.backoff.ms": 50,
  // ~1 MB per round read and written at 2 MB/s: a clean lasts about a second.
  "log.cleaner.io.max.bytes.per.second": 2 * 1024 * 1024,
  "log.retention.check.interval.ms": 3_600_000,
});
const { start, logDir } = restartable;

afterAll(() => restartable.remove());

async function produce(client: TestClient, records: Buffer): Promise<bigint> {
  const answer = await client.producePartition(topic, 0, records);
  expect(answer.errorCode).toBe(0);
  return answer.baseOffset;
}

/** Every record from offset 0: key → [offset, value] of each occurrence, in log order. */
async function readAll(broker: SluiceBroker): Promise<Map<string, [bigint, string][]>> {
  const client = await TestClient.connect(broker.port);
  const seen = new Map<string, [bigint, string][]>();
  let next = 0n;
  try {
    for (;;) {
      const partition = await client.fetchPartition(topic, 0, next, 8 << 20);
      expect(partition.errorCode).toBe(0);
      const records = recordsOf(partition.records).filter((record) => record.offset >= next);
      if (records.length === 0) break;
      for (const record of records) {
        const key = record.key?.toString() ?? "";
        const list = seen.get(key) ?? [];
        list.push([record.offset, record.value?.toString().slice(0, 24) ?? ""]);
        seen.set(key, list);
      }
      next = records[records.length - 1].offset + 1n;
      if (next >= partition.highWatermark) break;
    }
  } finally {
    client.close();
  }
  return seen;
}

describe(`kill -9 during log cleaning (${rounds} rounds)`, () => {
  it("after every restart each key's latest value is at its offset, and no clean leaves files behind", async () => {
    let broker = await start();
    const setup = await TestClient.connect(broker.port);
    const created = await setup.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [
        {
          name: topic,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [
            { name: "cleanup.policy", value: "compact" },
            { name: "min.cleanable.dirty.ratio", value: "0.01" },
            { name: "segment.ms", value: String(segmentMs) },
          ],
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(0);
    setup.close();

    /** key → [offset, value] of its latest write. */
    const latest = new Map<string, [bigint, string]>();
    const base = Date.now();
    for (let round = 0; round < rounds; round++) {
      const client = await TestClient.connect(broker.port);
      try {
        for (let chunk = 0; chunk < keys; chunk += 500) {
          const records = Array.from({ length: 500 }, (_, i) => {
            const key = `k${chunk + i}`;
            return { key: Buffer.from(key), value: Buffer.from(`r${round}-${key}-`.padEnd(valueBytes, "x")), timestamp: BigInt(base + round) };
          });
          const baseOffset = await produce(client, buildRecordBatch({ records }));
          for (const [i, record] of records.entries()) latest.set(record.key.toString(), [baseOffset + BigInt(i), record.value.toString().slice(0, 24)]);
        }
        // A record stamped a segment.ms later rolls the segment: the round's writes become cleanable.
        const sentinelOffset = await produce(
          client,
          buildRecordBatch({
            records: [{ key: Buffer.from("sentinel"), value: Buffer.from(`r${round}`), timestamp: BigInt(base + (round + 1) * (segmentMs + 1_000)) }],
          }),
        );
        latest.set("sentinel", [sentinelOffset, `r${round}`]);
      } finally {
        client.close();
      }
      // Somewhere before, in or after the clean this roll started.
      await new Promise((wake) => setTimeout(wake, Math.floor(Math.random() * 1_500)));
      await broker.kill();
      broker = await start();
      const seen = await readAll(broker);
      for (const [key, [offset, value]] of latest) {
        const occurrences = seen.get(key) ?? [];
        expect(occurrences.at(-1), `round ${round}: the latest value of ${key}`).toEqual([offset, value]);
      }
      expect([...seen.keys()].filter((key) => !latest.has(key))).toEqual([]);
      const leftovers = readdirSync(join(logDir, `${topic}-0`)).filter((name) => name.endsWith(".cleaned") || name.endsWith(".swap"));
      expect(leftovers, `round ${round}`).toEqual([]);
    }
    // Left alone, the restarted cleaner finishes: the checkpoint reaches the last roll, and
    // fewer records remain than were written.
    const lastSentinel = latest.get("sentinel")![0];
    for (let waited = 0; ; waited += 200) {
      const checkpoint = (() => {
        try {
          return readFileSync(join(logDir, "cleaner-offset-checkpoint"), "utf8");
        } catch {
          return "";
        }
      })();
      const cleaned = Number(/^crashy 0 (\d+)$/m.exec(checkpoint)?.[1] ?? -1);
      if (cleaned >= Number(lastSentinel)) break;
      if (waited > 60_000) throw new Error(`the cleaner did not reach offset ${lastSentinel}: checkpoint ${checkpoint}`);
      await new Promise((wake) => setTimeout(wake, 200));
    }
    const final = await readAll(broker);
    for (const [key, [offset, value]] of latest) expect(final.get(key)?.at(-1)).toEqual([offset, value]);
    const total = [...final.values()].reduce((sum, list) => sum + list.length, 0);
    expect(total).toBeLessThan(rounds * keys + rounds);
    expect(await broker.stop()).toBe(0);
  }, 300_000);
});
