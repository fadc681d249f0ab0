// Handlers run directly against the broker's real services — a real LogManager over a temp
// log directory, the real metadata store, partition manager and topic manager — with no
// network: produce → fetch → list-offsets → metadata, checking record contents and Kafka's
// error codes, the leader-epoch check (one place, used by every partition API) and long polls
// woken by appends.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TopicMetadata } from "../../src/cluster/metadata-cache.js";
import { loadBrokerConfig, toProduceSettings } from "../../src/config/index.js";
import { fetch } from "../../src/handlers/fetch.js";
import { listOffsets } from "../../src/handlers/list-offsets.js";
import { metadata } from "../../src/handlers/metadata.js";
import { offsetForLeaderEpoch } from "../../src/handlers/offset-for-leader-epoch.js";
import { produce } from "../../src/handlers/produce.js";
import { initProducerId } from "../../src/handlers/transaction/init-producer-id.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { defaultFetchRequest, type FetchRequest, type FetchResponse } from "../../src/protocol/generated/fetch.js";
import { defaultRequestHeader } from "../../src/protocol/generated/headers.js";
import { defaultInitProducerIdRequest } from "../../src/protocol/generated/init-producer-id.js";
import { defaultListOffsetsRequest, type ListOffsetsResponse } from "../../src/protocol/generated/list-offsets.js";
import { defaultMetadataRequest, type MetadataResponse } from "../../src/protocol/generated/metadata.js";
import { defaultOffsetForLeaderEpochRequest, type OffsetForLeaderEpochResponse } from "../../src/protocol/generated/offset-for-leader-epoch.js";
import { defaultProduceRequest, type ProduceResponse } from "../../src/protocol/generated/produce.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { ZERO_UUID } from "../../src/protocol/runtime.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../../src/server/context.js";
import type { Handler } from "../../src/server/registry.js";
import { type LocalServices, openServices } from "../../src/server/services.js";
import { recordsOf } from "../helpers/records.js";

const NODE_ID = 1;
let directory: string;
let services: BrokerServices;
let logs: LogManager;
/** Connections the handlers asked to close, with the reason. */
const closed: { connection: number; reason: string }[] = [];
const connection = new Connection(7, "PLAINTEXT", "127.0.0.1", 50_000);

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "sluice-handlers-"));
  const { config } = loadBrokerConfig({ overrides: [`log.dirs=${directory}`, `node.id=${NODE_ID}`] });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  logs = opened.logs;
  services = withConnections(opened.services);
  services.metadata.putBroker({ nodeId: NODE_ID, rack: null, endpoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }] });
  await services.topics.create("events", 2, {});
});

afterAll(async () => {
  services?.partitions.close();
  await logs?.close();
  await rm(directory, { recursive: true, force: true });
});

function withConnections(local: LocalServices): BrokerServices {
  return {
    ...local,
    connections: {
      close: (target, reason) => closed.push({ connection: target.id, reason }),
      closeAfter: (target, _delayMs, reason) => closed.push({ connection: target.id, reason }),
    },
  };
}

/** Runs `handler` on `request` as version `version` would reach it from the dispatcher. */
async function call<Req, Res>(handler: Handler<Req, Res>, version: number, request: Req): Promise<Res> {
  const header = { ...defaultRequestHeader(), requestApiKey: handler.api.apiKey, requestApiVersion: version, correlationId: 1, clientId: "test" };
  const context = new RequestContext(services, connection, header, version, ANONYMOUS, Date.now());
  return (await handler.handle(context, request)) as Res;
}

function batch(values: string[], baseTimestamp = 1_000n): Buffer {
  return buildRecordBatch({
    records: values.map((value, i) => ({ key: Buffer.from(`key-${value}`), value: Buffer.from(value), headers: [], timestamp: baseTimestamp + BigInt(i) })),
  });
}

function produceTo(topic: string, partition: number, records: Buffer, options: { version?: number; topicId?: string; acks?: number } = {}) {
  const version = options.version ?? 9;
  return call(produce, version, {
    ...defaultProduceRequest(),
    acks: options.acks ?? -1,
    timeoutMs: 30_000,
    topicData: [{ name: version >= 13 ? "" : topic, topicId: options.topicId ?? ZERO_UUID, partitionData: [{ index: partition, records }] }],
  }) as Promise<ProduceResponse>;
}

function fetchRequest(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  options: Partial<FetchRequest> & { currentLeaderEpoch?: number } = {},
): FetchRequest {
  const { currentLeaderEpoch, ...rest } = options;
  return {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    ...rest,
    topics: [
      {
        topic,
        topicId: ZERO_UUID,
        partitions: [
          {
            partition,
            currentLeaderEpoch: currentLeaderEpoch ?? -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: -1n,
          },
        ],
      },
    ],
  } as FetchRequest;
}

async function fetchOne(topic: string, partition: number, fetchOffset: bigint, options: Parameters<typeof fetchRequest>[3] = {}) {
  const response = (await call(fetch, 12, fetchRequest(topic, partition, fetchOffset, options))) as FetchResponse;
  expect(response.errorCode).toBe(ErrorCode.NONE);
  const data = response.responses[0].partitions[0];
  // Records leave the handler as a file slice (sent with sendfile); copy it to look inside.
  const slice = data.records as unknown as { length: number; toBuffer(): Buffer; release(): void };
  const bytes = slice.length > 0 ? slice.toBuffer() : Buffer.alloc(0);
  if (slice.length > 0) slice.release();
  return { ...data, records: bytes };
}

async function listOffset(topic: string, partition: number, timestamp: bigint, currentLeaderEpoch = -1) {
  const response = (await call(listOffsets, 9, {
    ...defaultListOffsetsRequest(),
    replicaId: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch, timestamp, maxNumOffsets: 1 }] }],
  } as ReturnType<typeof defaultListOffsetsRequest>)) as ListOffsetsResponse;
  return response.topics[0].partitions[0];
}

describe("produce → fetch → list-offsets → metadata, without a network", () => {
  it("produce appends at the log end and answers the base offset", async () => {
    const first = await produceTo("events", 0, batch(["a", "b", "c"]));
    expect(first.responses[0].partitionResponses[0]).toMatchObject({ index: 0, errorCode: ErrorCode.NONE, baseOffset: 0n, logStartOffset: 0n });
    const second = await produceTo("events", 0, batch(["d", "e"], 2_000n));
    expect(second.responses[0].partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 3n });
  });

  it("fetch returns the records produced, in order, up to the high watermark", async () => {
    const data = await fetchOne("events", 0, 0n);
    expect(data.errorCode).toBe(ErrorCode.NONE);
    expect(data.highWatermark).toBe(5n);
    expect(data.logStartOffset).toBe(0n);
    const records = recordsOf(data.records);
    expect(records.map((record) => record.value?.toString())).toEqual(["a", "b", "c", "d", "e"]);
    expect(records.map((record) => record.key?.toString())).toEqual(["key-a", "key-b", "key-c", "key-d", "key-e"]);
  });

  it("fetch past the log end is OFFSET_OUT_OF_RANGE; at the log end returns no records", async () => {
    expect((await fetchOne("events", 0, 6n)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const atEnd = await fetchOne("events", 0, 5n);
    expect(atEnd.errorCode).toBe(ErrorCode.NONE);
    expect(atEnd.records.length).toBe(0);
  });

  it("a follower whose last fetched epoch ends before its fetch offset learns the diverging epoch, even past the log end (not OFFSET_OUT_OF_RANGE)", async () => {
    await services.topics.create("diverge", 1, {});
    expect((await produceTo("diverge", 0, batch(["a", "b", "c"]))).responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
    const partition = services.partitions.get("diverge", 0);
    expect(partition).toBeDefined();
    // This broker leads epoch 1 from offset 3, broker 2 following.
    partition?.applyState({ leaderId: NODE_ID, leaderEpoch: 1, partitionEpoch: 1, replicas: [NODE_ID, 2], isr: [NODE_ID] }, Date.now());
    expect((await produceTo("diverge", 0, batch(["d", "e"]))).responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
    // A follower (replica 2) with epoch-0 batches up to 7 and up to 4: both diverged at 3.
    for (const fetchOffset of [7n, 4n]) {
      const request = fetchRequest("diverge", 0, fetchOffset, { replicaId: 2 });
      request.topics[0].partitions[0].lastFetchedEpoch = 0;
      const response = (await call(fetch, 12, request)) as FetchResponse;
      const answer = response.responses[0].partitions[0];
      expect(answer.errorCode, `fetch offset ${fetchOffset}`).toBe(ErrorCode.NONE);
      expect(answer.divergingEpoch).toEqual({ epoch: 0, endOffset: 3n });
      expect(recordsOf(answer.records)).toEqual([]);
    }
    // Its last fetched epoch 1 at the log end: no divergence.
    const request = fetchRequest("diverge", 0, 5n, { replicaId: 2 });
    request.topics[0].partitions[0].lastFetchedEpoch = 1;
    const answer = ((await call(fetch, 12, request)) as FetchResponse).responses[0].partitions[0];
    expect(answer.errorCode).toBe(ErrorCode.NONE);
    expect(answer.divergingEpoch).toEqual({ epoch: -1, endOffset: -1n });
  });

  it("list-offsets answers latest, earliest and a timestamp lookup", async () => {
    expect(await listOffset("events", 0, -1n)).toMatchObject({ errorCode: ErrorCode.NONE, offset: 5n, leaderEpoch: 0 });
    expect(await listOffset("events", 0, -2n)).toMatchObject({ errorCode: ErrorCode.NONE, offset: 0n });
    // The first record at or after 2000 ms is "d", offset 3.
    expect(await listOffset("events", 0, 2_000n)).toMatchObject({ errorCode: ErrorCode.NONE, offset: 3n, timestamp: 2_000n });
    expect(await listOffset("events", 1, -1n)).toMatchObject({ errorCode: ErrorCode.NONE, offset: 0n });
  });

  it("metadata lists the topic with this node as leader and ISR of every partition, and this broker's endpoint", async () => {
    const response = (await call(metadata, 12, { ...defaultMetadataRequest(), topics: null })) as MetadataResponse;
    expect(response.brokers).toEqual([expect.objectContaining({ nodeId: NODE_ID, host: "localhost", port: 9092 })]);
    expect(response.controllerId).toBe(NODE_ID);
    expect(response.clusterId).toBe(services.metadata.clusterId);
    const events = response.topics.find((topic) => topic.name === "events");
    expect(events?.errorCode).toBe(ErrorCode.NONE);
    expect(events?.topicId).toBe(services.metadata.topic("events")?.id);
    expect(events?.partitions.map((p) => [p.partitionIndex, p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes])).toEqual([
      [0, NODE_ID, 0, [NODE_ID], [NODE_ID]],
      [1, NODE_ID, 0, [NODE_ID], [NODE_ID]],
    ]);
  });

  it("metadata auto-creates a topic it is asked for by name, through the topic manager", async () => {
    const response = (await call(metadata, 12, {
      ...defaultMetadataRequest(),
      topics: [{ topicId: ZERO_UUID, name: "auto-created" }],
      allowAutoTopicCreation: true,
    })) as MetadataResponse;
    expect(response.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, name: "auto-created" });
    expect(response.topics[0].partitions.length).toBe(services.config.numPartitions);
    expect(services.partitions.get("auto-created", 0)).toBeDefined();
  });

  it("produce by topic id (v13) reaches the same partition", async () => {
    const topicId = services.metadata.topic("events")!.id;
    const response = await produceTo("events", 1, batch(["by-id"]), { version: 13, topicId });
    expect(response.responses[0]).toMatchObject({ name: "", topicId });
    expect(response.responses[0].partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    expect(recordsOf((await fetchOne("events", 1, 0n)).records).map((r) => r.value?.toString())).toEqual(["by-id"]);
  });

  it("init-producer-id hands out distinct producer ids", async () => {
    const request = { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 };
    const first = await call(initProducerId, 4, request);
    const second = await call(initProducerId, 4, request);
    expect(first).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(second.producerId).toBe(first.producerId + 1n);
  });
});

describe("partition errors, from the partition manager", () => {
  it("an unknown topic is UNKNOWN_TOPIC_OR_PARTITION by name and UNKNOWN_TOPIC_ID by id", async () => {
    expect((await produceTo("missing", 0, batch(["x"]))).responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const byId = await produceTo("", 0, batch(["x"]), { version: 13, topicId: "AAAAAAAAAAAAAAAAAAAAAQ" });
    expect(byId.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
    expect((await fetchOne("missing", 0, 0n)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await listOffset("missing", 0, -1n)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it("a partition past the topic's count is UNKNOWN_TOPIC_OR_PARTITION", async () => {
    expect((await produceTo("events", 2, batch(["x"]))).responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await fetchOne("events", 2, 0n)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it("a partition the cluster has but this broker does not host is NOT_LEADER_OR_FOLLOWER", async () => {
    // Another broker's topic, as the controller would publish it: the cache knows it, nothing is hosted.
    services.metadata.putTopic(foreignTopic("elsewhere", "AAAAAAAAAAAAAAAAAAAAAg", 2));
    expect((await produceTo("elsewhere", 0, batch(["x"]))).responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await fetchOne("elsewhere", 0, 0n)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await listOffset("elsewhere", 0, -1n)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it("the current leader epoch is checked once for fetch, list-offsets and offset-for-leader-epoch: older is FENCED, newer UNKNOWN", async () => {
    // A partition this broker leads at epoch 3 (as after two leader changes).
    const topic = { ...foreignTopic("epochs", "AAAAAAAAAAAAAAAAAAAAAw", NODE_ID), partitions: [] as TopicMetadata["partitions"] };
    const partition = {
      topic: "epochs",
      topicId: topic.id,
      index: 0,
      leaderId: NODE_ID,
      leaderEpoch: 3,
      replicas: [NODE_ID],
      isr: [NODE_ID],
      offlineReplicas: [],
    };
    await services.partitions.becomeLeader(partition, {});
    services.metadata.putTopic({ ...topic, partitions: [partition] });

    const offsetForEpoch = async (currentLeaderEpoch: number) => {
      const response = (await call(offsetForLeaderEpoch, 4, {
        ...defaultOffsetForLeaderEpochRequest(),
        topics: [{ topic: "epochs", partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch: 3 }] }],
      } as ReturnType<typeof defaultOffsetForLeaderEpochRequest>)) as OffsetForLeaderEpochResponse;
      return response.topics[0].partitions[0].errorCode;
    };
    for (const [epoch, expected] of [
      [2, ErrorCode.FENCED_LEADER_EPOCH],
      [4, ErrorCode.UNKNOWN_LEADER_EPOCH],
      [3, ErrorCode.NONE],
      [-1, ErrorCode.NONE],
    ] as const) {
      expect((await fetchOne("epochs", 0, 0n, { currentLeaderEpoch: epoch })).errorCode, `fetch at epoch ${epoch}`).toBe(expected);
      expect((await listOffset("epochs", 0, -1n, epoch)).errorCode, `list-offsets at epoch ${epoch}`).toBe(expected);
      expect(await offsetForEpoch(epoch), `offset-for-leader-epoch at epoch ${epoch}`).toBe(expected);
    }
  });

  it("an acks=0 produce that fails closes the connection instead of answering", async () => {
    const before = closed.length;
    const response = await produceTo("missing", 0, batch(["x"]), { acks: 0 });
    expect(typeof response).toBe("symbol");
    expect(closed.slice(before)).toEqual([{ connection: connection.id, reason: expect.stringContaining("acks=0") }]);
  });
});

describe("long polls", () => {
  it("a parked fetch is answered by the append that brings its records", async () => {
    const parked = call(fetch, 12, fetchRequest("events", 1, 1n, { maxWaitMs: 30_000, minBytes: 1 })) as Promise<FetchResponse>;
    let answered = false;
    void parked.then(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered, "the fetch waits while there is nothing to read").toBe(false);
    await produceTo("events", 1, batch(["woken"]));
    const response = await within(parked, "the append did not wake the parked fetch");
    const data = response.responses[0].partitions[0];
    const slice = data.records as unknown as { toBuffer(): Buffer; release(): void };
    const records = recordsOf(slice.toBuffer());
    slice.release();
    expect(records.map((record) => record.value?.toString())).toEqual(["woken"]);
  });

  it("deleting a topic answers the fetches parked on it", async () => {
    await services.topics.create("short-lived", 1, {});
    const parked = call(fetch, 12, fetchRequest("short-lived", 0, 0n, { maxWaitMs: 30_000, minBytes: 1 })) as Promise<FetchResponse>;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await services.topics.delete("short-lived");
    const response = await within(parked, "deleting the topic did not answer the parked fetch");
    expect(response.responses[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

/** `promise`, or a failure naming what did not happen within 10 s (long polls here wait 30 s). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within 10 s`)), 10_000).unref())]);
}

/** A topic whose partitions all live on broker `leaderId`. */
function foreignTopic(name: string, id: string, leaderId: number): TopicMetadata {
  const config = services.topics.configFor({});
  return {
    name,
    id,
    isInternal: false,
    overrides: {},
    config,
    produceSettings: toProduceSettings(config),
    partitions: [0, 1].map((index) => ({
      topic: name,
      topicId: id,
      index,
      leaderId,
      leaderEpoch: 0,
      replicas: [leaderId],
      isr: [leaderId],
      offlineReplicas: [],
    })),
  };
}
