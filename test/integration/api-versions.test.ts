// Every API the broker advertises, at every version it advertises, with a request that makes
// the handler do real work (an existing topic, records, configs): the answer must decode
// with the codec at that version and the connection must stay open. This is what catches a
// response field set at a version that does not have it.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { apiByKey } from "../../src/protocol/generated/index.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

let broker: SluiceBroker;
let client: TestClient;
let topicId = "";
const TOPIC = "versions";
const ZERO = "AAAAAAAAAAAAAAAAAAAAAA";

beforeAll(async () => {
  broker = await startSluice({ overrides: { "group.initial.rebalance.delay.ms": 0 } });
  client = await TestClient.connect(broker.port);
  const created = await client.request<{ topics: { topicId: string; errorCode: number }[] }>(19, 7, {
    topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: "retention.ms", value: "86400000" }] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(created.topics[0].errorCode).toBe(0);
  topicId = created.topics[0].topicId;
}, 60_000);

afterAll(async () => {
  client?.close();
  expect(await broker?.stop()).toBe(0);
  await rm(broker.workDir, { recursive: true, force: true });
});

const batch = () => buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: Buffer.from("k"), value: Buffer.from("v") }] });

/** A request body for `apiKey` at `version` that touches the test topic. */
function requestFor(apiKey: number, version: number): Record<string, unknown> {
  const fetchPartition = {
    partition: 0,
    currentLeaderEpoch: -1,
    fetchOffset: 0n,
    lastFetchedEpoch: -1,
    logStartOffset: -1n,
    partitionMaxBytes: 65536,
    replicaDirectoryId: ZERO,
    highWatermark: -1n,
  };
  switch (apiKey) {
    case 0:
      return {
        acks: version === 0 ? 1 : -1,
        timeoutMs: 1000,
        topicData: [{ name: version >= 13 ? "" : TOPIC, topicId: version >= 13 ? topicId : ZERO, partitionData: [{ index: 0, records: batch() }] }],
      };
    case 1:
      return {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: version >= 4 ? 1 : 0,
        sessionId: 0,
        sessionEpoch: version >= 7 ? 0 : -1,
        topics: [
          { topic: version >= 13 ? "" : TOPIC, topicId: version >= 13 ? topicId : ZERO, partitions: [fetchPartition, { ...fetchPartition, partition: 9 }] },
        ],
      };
    case 2:
      return {
        replicaId: -1,
        topics: [
          {
            name: TOPIC,
            partitions: [-1n, -2n, 0n, ...(version >= 7 ? [-3n] : []), ...(version >= 11 ? [-6n] : [])].map((timestamp) => ({
              partitionIndex: 0,
              currentLeaderEpoch: -1,
              timestamp,
              maxNumOffsets: 1,
            })),
          },
        ],
      };
    case 3:
      return {
        topics:
          version === 0
            ? []
            : [
                { topicId: ZERO, name: TOPIC },
                { topicId: ZERO, name: "versions-missing" },
              ],
        allowAutoTopicCreation: version < 4,
        includeTopicAuthorizedOperations: version >= 8 && version <= 10,
      };
    case 8:
      return {
        groupId: "committer",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        retentionTimeMs: -1n,
        topics: [
          {
            name: TOPIC,
            topicId,
            partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: `v${version}` }],
          },
        ],
      };
    case 9:
      return version >= 8
        ? { groups: [{ groupId: "committer", memberId: null, memberEpoch: -1, topics: [{ name: TOPIC, topicId, partitionIndexes: [0, 1] }] }] }
        : { groupId: "committer", topics: [{ name: TOPIC, partitionIndexes: [0, 1] }] };
    case 11:
      // v4+: MEMBER_ID_REQUIRED at once; v0-3 join (group.initial.rebalance.delay.ms=0 here) and lead.
      return {
        groupId: `joiner-v${version}`,
        sessionTimeoutMs: 10000,
        rebalanceTimeoutMs: 10000,
        memberId: "",
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.from([0, 0, 0, 0, 0, 0]) }],
      };
    case 12:
      return { groupId: "committer", generationId: 1, memberId: "nobody" };
    case 13:
      return version >= 3
        ? { groupId: "committer", members: [{ memberId: "nobody", groupInstanceId: null, reason: null }] }
        : { groupId: "committer", memberId: "nobody" };
    case 14:
      return { groupId: "committer", generationId: 1, memberId: "nobody", assignments: [] };
    case 15:
      return { groups: ["committer", "joiner-v0", "never-was"], includeAuthorizedOperations: version >= 3 };
    case 16:
      return version >= 4 ? { statesFilter: ["Empty", "Stable"], typesFilter: version >= 5 ? ["classic"] : [] } : {};
    case 42:
      return { groupsNames: ["never-was"] };
    case 47:
      return { groupId: "committer", topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1 }] }] };
    case 10:
      return version >= 4 ? { keyType: 0, coordinatorKeys: ["group-a"] } : { key: "group-a", keyType: 0 };
    case 19:
      return {
        topics: [
          { name: `created-v${version}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: "cleanup.policy", value: "compact" }] },
        ],
        timeoutMs: 1000,
        validateOnly: version >= 1,
      };
    case 20:
      return version >= 6 ? { topics: [{ name: "never-was", topicId: ZERO }], timeoutMs: 1000 } : { topicNames: ["never-was"], timeoutMs: 1000 };
    case 21:
      return { topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, offset: 0n }] }], timeoutMs: 1000 };
    case 22:
      return { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 };
    case 23:
      return { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] };
    case 32:
      return {
        resources: [
          { resourceType: 2, resourceName: TOPIC, configurationKeys: null },
          { resourceType: 4, resourceName: "1", configurationKeys: ["log.retention.hours", "num.network.threads"] },
        ],
        includeSynonyms: version >= 1,
        includeDocumentation: version >= 3,
      };
    case 33:
      return { resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: "retention.ms", value: "86400000" }] }], validateOnly: true };
    case 35:
      return { topics: null };
    case 37:
      return { topics: [{ name: TOPIC, count: 1, assignments: null }], timeoutMs: 1000, validateOnly: true };
    case 44:
      return {
        resources: [{ resourceType: 2, resourceName: TOPIC, configs: [{ name: "retention.ms", configOperation: 0, value: "86400000" }] }],
        validateOnly: true,
      };
    case 60:
      return { includeClusterAuthorizedOperations: true, endpointType: 1 };
    case 75:
      return { topics: [{ name: TOPIC }], responsePartitionLimit: 1, cursor: null };
    default:
      return {};
  }
}

describe("every advertised API version", () => {
  it("is answered with a response that decodes at that version", async () => {
    const advertised = await client.request<{ errorCode: number; apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[] }>(18, 3, {
      clientSoftwareName: "sluice-test",
      clientSoftwareVersion: "1.0",
    });
    expect(advertised.errorCode).toBe(0);
    expect(advertised.apiKeys.length).toBeGreaterThanOrEqual(18);
    const failures: string[] = [];
    let answered = 0;
    for (const { apiKey, minVersion, maxVersion } of advertised.apiKeys) {
      const api = apiByKey[apiKey];
      if (api === undefined) throw new Error(`advertised API ${apiKey} is not in the codec`);
      expect(minVersion).toBeGreaterThanOrEqual(api.minVersion);
      expect(maxVersion).toBeLessThanOrEqual(api.maxVersion);
      for (let version = minVersion; version <= maxVersion; version++) {
        try {
          const body = await client.request<Record<string, unknown>>(apiKey, version, requestFor(apiKey, version));
          expect(body).toBeTypeOf("object");
          answered++;
        } catch (error) {
          failures.push(`${api.name} v${version}: ${(error as Error).message}`);
          if (client.closedAt !== null) client = await TestClient.connect(broker.port);
        }
      }
    }
    expect(failures).toEqual([]);
    const advertisedVersions = advertised.apiKeys.reduce((sum, api) => sum + api.maxVersion - api.minVersion + 1, 0);
    expect(answered).toBe(advertisedVersions);
  });

  it("answers an ApiVersions version it does not know with v0 and UNSUPPORTED_VERSION (KIP-511)", async () => {
    const frame = Buffer.alloc(4 + 14);
    frame.writeInt32BE(14, 0);
    frame.writeInt16BE(18, 4); // ApiVersions
    frame.writeInt16BE(99, 6); // version 99
    frame.writeInt32BE(4242, 8); // correlation id
    frame.writeInt16BE(4, 12); // client id "test"
    frame.write("test", 14);
    const raw = await TestClient.connect(broker.port);
    raw.writeRaw(frame);
    await expect.poll(() => raw.unmatched.length).toBe(1);
    const response = raw.unmatched[0];
    expect(response.readInt32BE(0)).toBe(4242);
    expect(response.readInt16BE(4)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    // api_keys: exactly ApiVersions with its served range.
    expect(response.readInt32BE(6)).toBe(1);
    expect([response.readInt16BE(10), response.readInt16BE(12), response.readInt16BE(14)]).toEqual([18, 0, 5]);
    raw.close();
  });
});

describe("what Kafka 4.4's new versions add", () => {
  interface ApiVersionsAnswer {
    errorCode: number;
    apiKeys: { apiKey: number }[];
    supportedFeatures: { name: string; minVersion: number; maxVersion: number }[];
    finalizedFeatures: { name: string; minVersionLevel: number; maxVersionLevel: number }[];
  }

  async function identity(): Promise<{ clusterId: string; nodeId: number }> {
    const metadata = await client.request<{ clusterId: string; brokers: { nodeId: number }[] }>(3, 12, {
      topics: [],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return { clusterId: metadata.clusterId, nodeId: metadata.brokers[0].nodeId };
  }

  const apiVersionsV5 = (clusterId: string | null, nodeId: number) =>
    client.request<ApiVersionsAnswer>(18, 5, { clientSoftwareName: "sluice-test", clientSoftwareVersion: "1.0", clusterId, nodeId });

  it("ApiVersions v5 (KIP-1242): the cluster and node the client means, or no cluster id at all, get the usual answer", async () => {
    const { clusterId, nodeId } = await identity();
    for (const answer of [await apiVersionsV5(clusterId, nodeId), await apiVersionsV5(null, -1)]) {
      expect(answer.errorCode).toBe(ErrorCode.NONE);
      expect(answer.apiKeys.map((api) => api.apiKey)).toContain(18);
    }
  });

  it("ApiVersions v5 (KIP-1242): another cluster id, or this cluster with another node id, get REBOOTSTRAP_REQUIRED and nothing else", async () => {
    const { clusterId, nodeId } = await identity();
    for (const answer of [
      await apiVersionsV5("AAAAAAAAAAAAAAAAAAAAAA", nodeId),
      await apiVersionsV5(clusterId, nodeId + 1),
      await apiVersionsV5(clusterId, -1),
    ]) {
      expect(answer.errorCode).toBe(ErrorCode.REBOOTSTRAP_REQUIRED);
      expect(answer.apiKeys).toEqual([]);
      expect(answer.supportedFeatures).toEqual([]);
    }
    // The connection stays open and usable: it is an answer, not a refusal.
    expect((await apiVersionsV5(clusterId, nodeId)).errorCode).toBe(ErrorCode.NONE);
  });

  it("ApiVersions advertises Kafka 4.4.0's metadata.version range (3.3-IV3 = 7 to 4.4-IV2 = 33, finalized at 33), transaction.version 0-2 finalized at 2 (KIP-890), group.version 0-1 finalized at 1 (KIP-848), share.version 0-2 finalized at 2 (KIP-932) and streams.version 0-1 finalized at 1 (KIP-1071)", async () => {
    const answer = await client.request<ApiVersionsAnswer>(18, 4, { clientSoftwareName: "sluice-test", clientSoftwareVersion: "1.0" });
    expect(answer.supportedFeatures).toContainEqual(expect.objectContaining({ name: "metadata.version", minVersion: 7, maxVersion: 33 }));
    expect(answer.supportedFeatures).toContainEqual(expect.objectContaining({ name: "transaction.version", minVersion: 0, maxVersion: 2 }));
    expect(answer.supportedFeatures).toContainEqual(expect.objectContaining({ name: "group.version", minVersion: 0, maxVersion: 1 }));
    expect(answer.supportedFeatures).toContainEqual(expect.objectContaining({ name: "share.version", minVersion: 0, maxVersion: 2 }));
    expect(answer.supportedFeatures).toContainEqual(expect.objectContaining({ name: "streams.version", minVersion: 0, maxVersion: 1 }));
    expect(answer.finalizedFeatures).toEqual([
      expect.objectContaining({ name: "group.version", minVersionLevel: 1, maxVersionLevel: 1 }),
      expect.objectContaining({ name: "share.version", minVersionLevel: 2, maxVersionLevel: 2 }),
      expect.objectContaining({ name: "streams.version", minVersionLevel: 1, maxVersionLevel: 1 }),
      expect.objectContaining({ name: "metadata.version", minVersionLevel: 33, maxVersionLevel: 33 }),
      expect.objectContaining({ name: "transaction.version", minVersionLevel: 2, maxVersionLevel: 2 }),
    ]);
  });

  it("ListOffsets v11: earliest pending upload (-6) finds nothing without tiered storage, as Kafka 4.4 answers", async () => {
    const response = await client.request<{ topics: { partitions: { errorCode: number; offset: bigint; timestamp: bigint; leaderEpoch: number }[] }[] }>(
      2,
      11,
      {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -6n, maxNumOffsets: 1 }] }],
        timeoutMs: 1000,
      },
    );
    expect(response.topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, offset: -1n, timestamp: -1n, leaderEpoch: -1 });
  });

  it("DescribeLogDirs v5: the log directory is not cordoned", async () => {
    const response = await client.request<{ errorCode: number; results: { logDir: string; isCordoned: boolean; topics: { name: string }[] }[] }>(35, 5, {
      topics: null,
    });
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.results).toHaveLength(1);
    expect(response.results[0]).toMatchObject({ logDir: broker.logDir, isCordoned: false });
    expect(response.results[0].topics.map((topic) => topic.name)).toContain(TOPIC);
  });
});
