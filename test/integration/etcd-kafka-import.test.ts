// EtcdMetadataStore's Kafka import (src/cluster/etcd-store.ts) against a real etcd: of two brokers
// claiming the import together one wins; the import writes topics with their partitions in
// transactions of at most 100 operations, can run again (same ids kept), refuses a topic of the
// same name with another id, keeps what the cluster has, and only raises the producer id counter.
//
//   npx vitest run test/integration/etcd-kafka-import.test.ts

import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../../src/cli/dev-cluster.js";
import { EtcdMetadataStore, type KafkaAdoptionRecord, type KafkaImport } from "../../src/cluster/etcd-store.js";
import { startEtcd } from "../helpers/cluster.js";

const logger = pino({ level: "silent" });
const skip = findOnPath("etcd") ? false : "etcd is not installed";

describe.skipIf(skip)("importing Kafka's metadata into etcd", () => {
  let etcd: Awaited<ReturnType<typeof startEtcd>>;
  let stores: EtcdMetadataStore[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    stores = await Promise.all([1, 2].map(() => EtcdMetadataStore.connect(`etcd://${etcd.endpoint}`, logger)));
    await stores[0].clusterId("kafka-cluster-id");
  }, 60_000);

  afterAll(async () => {
    for (const store of stores) await store.close();
    await etcd?.stop();
  });

  const record = (nodeId: number): KafkaAdoptionRecord => ({
    clusterId: "kafka-cluster-id",
    nodeId,
    metadataOffset: "42",
    state: "importing",
    at: new Date().toISOString(),
    topics: 1,
  });
  const data = (id: string, nextProducerId: bigint): KafkaImport => ({
    topics: [
      {
        topic: { name: "orders", id, partitions: 150, configs: { "retention.ms": "1000" } },
        partitions: Array.from({ length: 150 }, (_, i) => ({
          leaderId: (i % 3) + 1,
          leaderEpoch: 3,
          partitionEpoch: 5,
          replicas: [1, 2, 3],
          isr: [1, 2, 3],
        })),
      },
    ],
    brokerConfigs: { "": { "follower.replication.throttled.rate": "100" } },
    groupConfigs: { app: { "consumer.session.timeout.ms": "50000" } },
    scram: [{ user: "alice", mechanism: "SCRAM-SHA-256", credential: { salt: "c2FsdA==", storedKey: "a2V5", serverKey: "a2V5", iterations: 4096 } }],
    acls: [],
    clientQuotas: [],
    nextProducerId,
  });

  it("lets one of two brokers claiming together import, and the other wait for it", async () => {
    expect(await stores[0].kafkaAdoption()).toBeNull();
    const [a, b] = await Promise.all([stores[0].claimKafkaAdoption(record(1)), stores[1].claimKafkaAdoption(record(2))]);
    expect(a.nodeId).toBe(b.nodeId);
    const winner = a.nodeId === 1 ? stores[0] : stores[1];
    await winner.importKafka(data("topic-id-A", 5000n));
    // Again, as after a crash mid-import: nothing changes, nothing fails.
    await winner.importKafka(data("topic-id-A", 1000n));
    await winner.finishKafkaAdoption(a);
    expect((await stores[1].kafkaAdoption())?.state).toBe("done");
    const snapshot = await stores[1].snapshot();
    const partitions = snapshot.changes.filter((change) => change.kind === "partition");
    expect(partitions).toHaveLength(150);
    expect(partitions[0]).toMatchObject({ partition: { leaderEpoch: 3, partitionEpoch: 5, replicas: [1, 2, 3] } });
    expect(snapshot.changes.find((change) => change.kind === "topic")).toMatchObject({ topic: { id: "topic-id-A", partitions: 150 } });
    expect(snapshot.changes.filter((change) => change.kind === "scram")).toHaveLength(1);
    expect(snapshot.changes.find((change) => change.kind === "group-config")).toMatchObject({ configs: { "consumer.session.timeout.ms": "50000" } });
    // The producer id counter only went up (5000, not back to 1000).
    expect(await stores[1].allocateProducerIds(1)).toBe(5000n);
  }, 60_000);

  it("refuses a topic the cluster has under another id", async () => {
    await expect(stores[0].importKafka(data("topic-id-B", 0n))).rejects.toThrow(/topic orders has id topic-id-A in the cluster but topic-id-B/);
  });
});
