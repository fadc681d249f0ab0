// __consumer_offsets under a flood of commits stays small: the real broker with
// offsets.topic.segment.bytes at 1 MiB (so segments roll and become cleanable) takes
// OFFSETS_COMMITS (1,000,000 by default) offset commits — 100 partitions of one topic per
// OffsetCommit, from ten standalone groups — while its log cleaner compacts the offsets topic.
// Asserted: the partition's files end up a few MiB, not the tens of MiB written; after a
// kill -9 the coordinator reloads from the compacted log (a few hundred records, not a million)
// and every group's latest offsets are served.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { restartableSluice, type SluiceBroker } from "../helpers/sluice.js";

const commits = Number(process.env.OFFSETS_COMMITS ?? 1_000_000);
const partitions = 100;
const groups = 10;
const topic = "flood";
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

const restartable = await restartableSluice("offsets-compaction", {
  "offsets.topic.num.partitions": 1,
  "offsets.topic.segment.bytes": MiB,
  "log.cleaner.backoff.ms": 100,
  "group.initial.rebalance.delay.ms": 0,
});
const { start, logDir } = restartable;

afterAll(() => restartable.remove());

/** Bytes of the closed segments' .log files (the active one is reserved on disk ahead of its data). */
function closedLogBytes(directory: string): number {
  return readdirSync(directory)
    .filter((name) => name.endsWith(".log"))
    .sort()
    .slice(0, -1)
    .reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
}

async function commit(client: TestClient, group: string, offset: bigint): Promise<number[]> {
  const response = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(8, 9, {
    groupId: group,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          committedOffset: offset + BigInt(partitionIndex),
          committedLeaderEpoch: -1,
          commitTimestamp: -1n,
          committedMetadata: "",
        })),
      },
    ],
  });
  return response.topics[0].partitions.map((p) => p.errorCode);
}

async function fetchOffsets(client: TestClient, group: string): Promise<bigint[]> {
  const response = await client.request<{ groups: { errorCode: number; topics: { partitions: { partitionIndex: number; committedOffset: bigint }[] }[] }[] }>(
    9,
    9,
    {
      groups: [
        { groupId: group, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, i) => i) }] },
      ],
      requireStable: false,
    },
  );
  expect(response.groups[0].errorCode).toBe(0);
  return response.groups[0].topics[0].partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.committedOffset);
}

/** Records in __consumer_offsets-0 from its start (the coordinator replays exactly these at load). */
async function offsetsTopicRecords(client: TestClient): Promise<number> {
  let count = 0;
  let next = 0n;
  for (;;) {
    const response = await client.request<{
      responses: { partitions: { errorCode: number; highWatermark: bigint; logStartOffset: bigint; records: Buffer | null }[] }[];
    }>(1, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 8 * MiB,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "__consumer_offsets",
          partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: next, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 8 * MiB }],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    const partition = response.responses[0].partitions[0];
    expect(partition.errorCode).toBe(0);
    const records = recordsOf(partition.records).filter((record) => record.offset >= next);
    if (records.length === 0) return count;
    count += records.length;
    next = records[records.length - 1].offset + 1n;
    if (next >= partition.highWatermark) return count;
  }
}

describe(`__consumer_offsets under ${commits.toLocaleString("en")} offset commits`, () => {
  it("is compacted while commits arrive, and a restart reloads it small with every latest offset", async () => {
    let broker: SluiceBroker = await start();
    let client = await TestClient.connect(broker.port);
    const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(0);
    // The offsets topic is created by the first FindCoordinator; its shard loads, then commits land.
    await client.request(10, 4, { keyType: 0, coordinatorKeys: ["g0"] });
    for (let attempt = 0; ; attempt++) {
      const codes = await commit(client, "g0", 0n);
      if (codes.every((code) => code === 0)) break;
      if (attempt > 100) throw new Error(`commits refused: ${codes[0]}`);
      await sleep(100);
    }

    const requests = Math.ceil(commits / partitions);
    const inFlight = 16;
    let sent = 0;
    const worker = async () => {
      while (sent < requests) {
        const index = sent++;
        const codes = await commit(client, `g${index % groups}`, BigInt(index) * 1000n);
        expect(codes.every((code) => code === 0)).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const lastOffsetOf = (group: number) => {
      let last = -1;
      for (let index = 0; index < requests; index++) if (index % groups === group) last = index;
      return BigInt(last) * 1000n;
    };

    // Tens of MiB went through the log; the cleaner keeps its closed segments to about one
    // segment of dirty records (min.cleanable.dirty.ratio 0.5) plus the cleaned latest offsets.
    const directory = join(logDir, "__consumer_offsets-0");
    let size = closedLogBytes(directory);
    for (let waited = 0; size > 2 * MiB && waited < 60_000; waited += 200) {
      await sleep(200);
      size = closedLogBytes(directory);
    }
    expect(size).toBeLessThanOrEqual(2 * MiB);

    // A crash, then the coordinator loads from the compacted log.
    client.close();
    await broker.kill();
    broker = await start();
    client = await TestClient.connect(broker.port);
    for (let group = 0; group < groups; group++) {
      let offsets: bigint[] = [];
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          offsets = await fetchOffsets(client, `g${group}`);
          break;
        } catch {
          await sleep(100); // COORDINATOR_LOAD_IN_PROGRESS while the shard loads
        }
      }
      expect(offsets).toEqual(Array.from({ length: partitions }, (_, i) => lastOffsetOf(group) + BigInt(i)));
    }
    // What the load replayed: a few segments' worth, against the commits written.
    const records = await offsetsTopicRecords(client);
    expect(records).toBeLessThan(commits / 10);
    client.close();
    expect(await broker.stop()).toBe(0);
  }, 300_000);
});
