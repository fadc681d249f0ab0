// The follower's native link (src/replication/leader-link.ts, crates/node/src/replica.rs) against
// the real broker: a Fetch whose answer is parsed on the link's thread and appended to local logs
// (the records never reach JS), matched to its partitions by topic and partition whatever their
// order, byte-identical to the leader's log; fenced appends (a moved fence or log end) write
// nothing; an answer above the size bound closes the link.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaClient } from "../../src/client/client.js";
import { encodeBatch, loadCodecs } from "../../src/client/records.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { LogResources } from "../../src/native.js";
import { defaultFetchRequestFetchPartition } from "../../src/protocol/generated/fetch.js";
import { type FetchedReplica, LeaderLink } from "../../src/replication/leader-link.js";
import { TestClient } from "../helpers/client.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

let broker: SluiceBroker;
let client: KafkaClient;
let raw: TestClient;
let directory: string;
const resources = new LogResources();
const topicIds = new Map<string, string>();

beforeAll(async () => {
  await loadCodecs();
  broker = await startSluice();
  client = await KafkaClient.connect({ bootstrap: broker.bootstrap });
  raw = await TestClient.connect(broker.port);
  directory = await mkdtemp(join(tmpdir(), "sluice-link-"));
  await client.createTopics([
    { name: "alpha", partitions: 2 },
    { name: "beta", partitions: 1 },
  ]);
  // Several batches per partition, one of them compressed.
  for (let round = 0; round < 3; round++) {
    for (const [topic, partition] of [
      ["alpha", 0],
      ["alpha", 1],
      ["beta", 0],
    ] as const) {
      const records = Array.from({ length: 5 + round }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`${topic}-${partition}-${round}-${i}`) }));
      await client.produce([{ topic, partition, records: encodeBatch(records, round === 1 ? "lz4" : "none") }]);
    }
  }
  const metadata = await client.metadata(["alpha", "beta"]);
  for (const topic of metadata.topics) topicIds.set(topic.name, topic.topicId);
}, 60_000);

afterAll(async () => {
  client?.close();
  raw?.close();
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** A consumer Fetch (replica id -1) of `replicas`, topics in the order given by `topicOrder`. */
function fetchBody(replicas: readonly FetchedReplica[], topicOrder: readonly string[]) {
  return (_version: number) => ({
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: topicOrder.map((topic) => ({
      topic,
      topicId: topicIds.get(topic),
      partitions: replicas
        .filter((r) => r.topic === topic)
        .map((r) => ({ ...defaultFetchRequestFetchPartition(), partition: r.index, fetchOffset: r.log.logEndOffset, partitionMaxBytes: 1 << 20 })),
    })),
    forgottenTopicsData: [],
    rackId: "",
  });
}

async function openFollower(topic: string, index: number): Promise<FetchedReplica & { log: PartitionLog }> {
  const log = await PartitionLog.open(join(directory, `${topic}-${index}-${Math.random().toString(36).slice(2)}`), { topic, partition: index, resources });
  return { topic, topicId: topicIds.get(topic) as string, index, log };
}

function connect(maxResponseBytes = 16 << 20): Promise<LeaderLink> {
  return LeaderLink.connect({
    name: "test",
    host: "127.0.0.1",
    port: broker.port,
    clientId: "leader-link-test",
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    maxResponseBytes,
  });
}

describe("the native leader link", () => {
  it("appends each partition's records to its log, byte-identical to the leader, whatever the order of the partitions", async () => {
    const link = await connect();
    // The partitions interleave topics; the request groups them by topic in another order.
    const replicas = [await openFollower("alpha", 0), await openFollower("beta", 0), await openFollower("alpha", 1)];
    const result = await link.fetch(fetchBody(replicas, ["beta", "alpha"]), replicas, 0);
    expect(result.errorCode).toBe(0);
    expect(result.partitions.map((p) => p.target).sort()).toEqual([0, 1, 2]);
    for (const outcome of result.partitions) {
      const replica = replicas[outcome.target];
      const leader = await raw.fetchPartition(replica.topic, replica.index, 0n);
      expect(outcome.errorCode).toBe(0);
      expect(outcome.fenced).toBe(false);
      expect(outcome.appendError ?? null).toBeNull();
      expect(outcome.highWatermark).toBe(leader.highWatermark);
      expect(outcome.appendedBytes).toBe(leader.records?.length);
      expect(replica.log.logEndOffset).toBe(leader.highWatermark);
      const local = replica.log.readCopy(0n, 1 << 20);
      expect(Buffer.compare(local.bytes, leader.records ?? Buffer.alloc(0))).toBe(0);
    }
    // Caught up: nothing more comes, and the high watermark is still reported.
    const again = await link.fetch(fetchBody(replicas, ["alpha", "beta"]), replicas, 0);
    expect(again.partitions.every((p) => p.appendedBytes === 0 && p.highWatermark > 0n)).toBe(true);
    link.close();
    for (const replica of replicas) await replica.log.close();
  });

  it("appends nothing when the fence or the log end moved after the fetch was sent", async () => {
    const link = await connect();
    const fenced = await openFollower("alpha", 0);
    const moved = await openFollower("beta", 0);
    const fence = fenced.log.replicaFence;
    fenced.log.fenceReplicaAppends();
    expect(fenced.log.replicaFence).not.toBe(fence);
    const staleFence: FetchedReplica = { ...fenced, log: { registryId: fenced.log.registryId, logEndOffset: 0n, replicaFence: fence } };
    const staleEnd: FetchedReplica = { ...moved, log: { registryId: moved.log.registryId, logEndOffset: 3n, replicaFence: moved.log.replicaFence } };
    const result = await link.fetch(fetchBody([staleFence, staleEnd], ["alpha", "beta"]), [staleFence, staleEnd], 0);
    expect(result.partitions).toHaveLength(2);
    for (const outcome of result.partitions) {
      expect(outcome.fenced).toBe(true);
      expect(outcome.appendedBytes).toBe(0);
    }
    expect(fenced.log.logEndOffset).toBe(0n);
    expect(moved.log.logEndOffset).toBe(0n);
    link.close();
    await fenced.log.close();
    await moved.log.close();
  });

  it("closes the link on an answer above its bound, and refuses calls once closed", async () => {
    await client.createTopics([{ name: "gamma", partitions: 1 }]);
    await client.produce([{ topic: "gamma", partition: 0, records: encodeBatch([{ key: null, value: Buffer.alloc(16 * 1024, 7) }]) }]);
    topicIds.set("gamma", (await client.metadata(["gamma"])).topics[0].topicId);
    // Room for ApiVersions, not for the 16 KiB record.
    const link = await connect(8 * 1024);
    const replica = await openFollower("gamma", 0);
    await expect(link.fetch(fetchBody([replica], ["gamma"]), [replica], 0)).rejects.toThrow(/an answer of \d+ bytes/);
    await expect(link.fetch(fetchBody([replica], ["gamma"]), [replica], 0)).rejects.toThrow(/an answer of \d+ bytes/);
    expect(replica.log.logEndOffset).toBe(0n);
    const healthy = await connect();
    healthy.close();
    await expect(healthy.fetch(fetchBody([replica], ["gamma"]), [replica], 0)).rejects.toThrow(/closed/);
    link.close();
    await replica.log.close();
  });
});
