// The transaction coordinator and the transaction APIs over the real services (a real log
// directory, real __transaction_state and __consumer_offsets partitions), request by request as
// a producer sends them: InitProducerId (epoch bumps, fencing an ongoing transaction, timeout
// limits), AddPartitionsToTxn (client and verify-only forms), transactional Produce with KIP-890
// verification, EndTxn under transaction versions 0 and 2 (epoch bump, retries, Kafka's error
// table), AddOffsetsToTxn + TxnOffsetCommit (pending offsets, requireStable), the timeout abort,
// transactional id expiration, DescribeTransactions / ListTransactions / DescribeProducers, and a
// reopen of the directory (a restart) that finds every transaction as it was.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import { transactionRecords } from "../../src/coordinator/records.js";
import { transactionLogValue } from "../../src/coordinator/transaction/state-manager.js";
import { TxnState, tpKey } from "../../src/coordinator/transaction/transaction-metadata.js";
import { describeProducers } from "../../src/handlers/describe-producers.js";
import { fetch } from "../../src/handlers/fetch.js";
import { offsetFetch } from "../../src/handlers/group/offset-fetch.js";
import { produce } from "../../src/handlers/produce.js";
import { addOffsetsToTxn } from "../../src/handlers/transaction/add-offsets-to-txn.js";
import { addPartitionsToTxn } from "../../src/handlers/transaction/add-partitions-to-txn.js";
import { describeTransactions } from "../../src/handlers/transaction/describe-transactions.js";
import { endTxn } from "../../src/handlers/transaction/end-txn.js";
import { initProducerId } from "../../src/handlers/transaction/init-producer-id.js";
import { listTransactions } from "../../src/handlers/transaction/list-transactions.js";
import { txnOffsetCommit } from "../../src/handlers/transaction/txn-offset-commit.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { defaultFetchRequest, type FetchResponse } from "../../src/protocol/generated/fetch.js";
import { defaultRequestHeader } from "../../src/protocol/generated/headers.js";
import { defaultProduceRequest, type ProduceResponse } from "../../src/protocol/generated/produce.js";
import { batches, buildRecordBatch, ControlRecordType, decodeControlRecordKey, decodeRecords } from "../../src/protocol/records.js";
import { ZERO_UUID } from "../../src/protocol/runtime.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../../src/server/context.js";
import type { Handler } from "../../src/server/registry.js";
import { openServices } from "../../src/server/services.js";

let directory: string;
let services: BrokerServices;
let logs: LogManager;
const connection = new Connection(7, "PLAINTEXT", "127.0.0.1", 50_000);

async function open(extra: string[] = []): Promise<void> {
  const { config } = loadBrokerConfig({ overrides: [`log.dirs=${directory}`, "node.id=1", "transaction.max.timeout.ms=60000", ...extra] });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  logs = opened.logs;
  services = { ...opened.services, connections: { close: () => undefined, closeAfter: () => undefined } };
  services.metadata.putBroker({ nodeId: 1, rack: null, endpoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }] });
  await services.transactions.loaded();
  await services.groups.loaded();
}

async function close(): Promise<void> {
  services.transactions.close();
  services.groups.close();
  services.partitions.close();
  await logs.close();
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "sluice-txn-unit-"));
  await open();
  await services.topics.create("out", 2, {});
  await services.transactions.ensureTransactionTopic();
  await services.groups.ensureOffsetsTopic();
});

afterEach(async () => {
  await close();
  await rm(directory, { recursive: true, force: true });
});

async function call<Req, Res>(handler: Handler<Req, Res>, version: number, request: Req): Promise<Res> {
  const header = { ...defaultRequestHeader(), requestApiKey: handler.api.apiKey, requestApiVersion: version, correlationId: 1, clientId: "test" };
  const context = new RequestContext(services, connection, header, version, ANONYMOUS, Date.now());
  return (await handler.handle(context, request)) as Res;
}

async function init(transactionalId: string, timeoutMs = 30_000, version = 5, current: [bigint, number] = [-1n, -1]) {
  return call(initProducerId, version, {
    transactionalId,
    transactionTimeoutMs: timeoutMs,
    producerId: current[0],
    producerEpoch: current[1],
    enable2Pc: false,
    keepPreparedTxn: false,
  });
}

async function addPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, partitions: [string, number][], version = 3) {
  const byTopic = new Map<string, number[]>();
  for (const [topic, partition] of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  const topics = [...byTopic].map(([name, list]) => ({ name, partitions: list }));
  const response = await call(addPartitionsToTxn, version, {
    transactions: version >= 4 ? [{ transactionalId, producerId, producerEpoch, verifyOnly: false, topics }] : [],
    v3AndBelowTransactionalId: transactionalId,
    v3AndBelowProducerId: producerId,
    v3AndBelowProducerEpoch: producerEpoch,
    v3AndBelowTopics: version < 4 ? topics : [],
  });
  const results = version >= 4 ? (response.resultsByTransaction[0]?.topicResults ?? []) : response.resultsByTopicV3AndBelow;
  return results.flatMap((topic) => topic.resultsByPartition.map((p) => p.partitionErrorCode));
}

/** A transactional batch of `values` as the producer sends it. */
function txnBatch(producerId: bigint, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  return buildRecordBatch({
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional: true,
    baseTimestamp: BigInt(Date.now()),
    records: values.map((value) => ({ key: null, value: Buffer.from(value) })),
  });
}

async function produceTxn(transactionalId: string, partition: number, batch: Buffer, version = 9) {
  const response = (await call(produce, version, {
    ...defaultProduceRequest(),
    transactionalId,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: "out", topicId: ZERO_UUID, partitionData: [{ index: partition, records: batch }] }],
  })) as ProduceResponse;
  return response.responses[0]?.partitionResponses[0];
}

async function end(transactionalId: string, producerId: bigint, producerEpoch: number, committed: boolean, version = 3) {
  return call(endTxn, version, { transactionalId, producerId, producerEpoch, committed });
}

async function describe1(transactionalId: string) {
  const response = await call(describeTransactions, 0, { transactionalIds: [transactionalId] });
  return response.transactionStates[0];
}

async function readCommitted(partition: number, isolationLevel = 1, maxWaitMs = 0) {
  const response = (await call(fetch, 12, {
    ...defaultFetchRequest(),
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel,
    topics: [
      {
        topic: "out",
        topicId: ZERO_UUID,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: -1n,
          },
        ],
      },
    ],
  })) as FetchResponse;
  const data = response.responses[0]?.partitions[0];
  return data;
}

/** Every batch of out-`partition`: control markers by type, data by value. */
function logOf(partition: number): string[] {
  const log = services.partitions.get("out", partition)?.log;
  if (log === undefined) throw new Error("no partition");
  const out: string[] = [];
  const read = log.readCopy(log.logStartOffset, 1 << 20);
  for (const batch of batches(read.bytes)) {
    for (const record of decodeRecords(batch)) {
      if (batch.isControl) out.push(decodeControlRecordKey(record.key).type === ControlRecordType.COMMIT ? "COMMIT" : "ABORT");
      else out.push(record.value?.toString() ?? "null");
    }
  }
  return out;
}

describe("InitProducerId", () => {
  it("hands a transactional id a producer id and bumps its epoch each time; checks the timeout and the id", async () => {
    const first = await init("tx-a");
    expect(first).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    const second = await init("tx-a");
    expect(second).toMatchObject({ errorCode: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 });
    expect((await init("tx-a", 60_001)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await init("tx-a", 0)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await init("")).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    // KIP-360: the current epoch passed back bumps it; a stale one is fenced.
    expect(await init("tx-a", 30_000, 5, [first.producerId, 1])).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 2 });
    expect((await init("tx-a", 30_000, 5, [first.producerId, 0])).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    expect((await init("tx-a", 30_000, 3, [first.producerId, 0])).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const idempotent = await init(null as unknown as string);
    expect(idempotent).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(idempotent.producerId).not.toBe(first.producerId);
  });
});

describe("a transaction under transaction version 0/1 (AddPartitionsToTxn, EndTxn v3)", () => {
  it("commits: markers in every partition, the LSO follows, read_committed sees the records only after the commit", async () => {
    const { producerId, producerEpoch } = await init("tx-c");
    expect(
      await addPartitions("tx-c", producerId, producerEpoch, [
        ["out", 0],
        ["out", 1],
      ]),
    ).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect((await produceTxn("tx-c", 0, txnBatch(producerId, producerEpoch, 0, ["a", "b"])))?.errorCode).toBe(ErrorCode.NONE);
    expect((await produceTxn("tx-c", 1, txnBatch(producerId, producerEpoch, 0, ["c"])))?.errorCode).toBe(ErrorCode.NONE);
    const ongoing = await describe1("tx-c");
    expect(ongoing).toMatchObject({ errorCode: ErrorCode.NONE, transactionState: "Ongoing", producerId, producerEpoch, transactionTimeoutMs: 30_000 });
    expect(ongoing?.topics).toEqual([{ topic: "out", partitions: [0, 1] }]);
    const before = await readCommitted(0);
    expect(before?.lastStableOffset).toBe(0n);
    expect(before?.records?.length ?? 0).toBe(0);

    const ended = await end("tx-c", producerId, producerEpoch, true);
    expect(ended).toMatchObject({ errorCode: ErrorCode.NONE, producerId: -1n, producerEpoch: -1 });
    expect(logOf(0)).toEqual(["a", "b", "COMMIT"]);
    expect(logOf(1)).toEqual(["c", "COMMIT"]);
    expect(await describe1("tx-c")).toMatchObject({ transactionState: "CompleteCommit", producerEpoch, topics: [] });
    const after = await readCommitted(0);
    expect(after?.lastStableOffset).toBe(3n);
    expect(after?.abortedTransactions).toEqual([]);
    // A retry of the commit is answered NONE; an abort now is INVALID_TXN_STATE.
    expect((await end("tx-c", producerId, producerEpoch, true)).errorCode).toBe(ErrorCode.NONE);
    expect((await end("tx-c", producerId, producerEpoch, false)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it("answers a read_committed long poll when the transaction commits, not when its records arrive", async () => {
    const { producerId, producerEpoch } = await init("tx-lp");
    await addPartitions("tx-lp", producerId, producerEpoch, [["out", 1]]);
    let answered = false;
    const polled = readCommitted(1, 1, 30_000).then((data) => {
      answered = true;
      return data;
    });
    await produceTxn("tx-lp", 1, txnBatch(producerId, producerEpoch, 0, ["lp"]));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    await end("tx-lp", producerId, producerEpoch, true);
    const data = await polled;
    expect(data?.lastStableOffset).toBe(2n);
    expect(data?.records?.length ?? 0).toBeGreaterThan(0);
  });

  it("aborts: ABORT markers, the aborted range reported to read_committed fetches", async () => {
    const { producerId, producerEpoch } = await init("tx-ab");
    await addPartitions("tx-ab", producerId, producerEpoch, [["out", 0]]);
    await produceTxn("tx-ab", 0, txnBatch(producerId, producerEpoch, 0, ["x", "y"]));
    expect((await end("tx-ab", producerId, producerEpoch, false)).errorCode).toBe(ErrorCode.NONE);
    expect(logOf(0)).toEqual(["x", "y", "ABORT"]);
    const fetched = await readCommitted(0);
    expect(fetched?.lastStableOffset).toBe(3n);
    expect(fetched?.abortedTransactions).toEqual([{ producerId, firstOffset: 0n }]);
    expect(await describe1("tx-ab")).toMatchObject({ transactionState: "CompleteAbort" });
  });

  it("refuses a transactional write to a partition not added (KIP-890 part 1 verification), and EndTxn from Empty", async () => {
    const { producerId, producerEpoch } = await init("tx-v");
    expect((await produceTxn("tx-v", 0, txnBatch(producerId, producerEpoch, 0, ["z"])))?.errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect((await produceTxn("tx-v", 0, txnBatch(producerId, producerEpoch, 0, ["z"]), 11))?.errorCode).toBe(ErrorCode.TRANSACTION_ABORTABLE);
    expect(logOf(0)).toEqual([]);
    expect((await end("tx-v", producerId, producerEpoch, true)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    // Unknown partitions fail the whole request; the known ones are not attempted.
    expect(
      await addPartitions("tx-v", producerId, producerEpoch, [
        ["out", 0],
        ["out", 9],
      ]),
    ).toEqual([ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(await addPartitions("tx-v", producerId + 1n, producerEpoch, [["out", 0]])).toEqual([ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
    expect(await addPartitions("tx-v", producerId, producerEpoch + 1, [["out", 0]])).toEqual([ErrorCode.PRODUCER_FENCED]);
    expect(await addPartitions("tx-v", producerId, producerEpoch + 1, [["out", 0]], 1)).toEqual([ErrorCode.INVALID_PRODUCER_EPOCH]);
  });

  it("fences a zombie: a new InitProducerId aborts its ongoing transaction with a bumped epoch", async () => {
    const zombie = await init("tx-z");
    await addPartitions("tx-z", zombie.producerId, zombie.producerEpoch, [["out", 1]]);
    await produceTxn("tx-z", 1, txnBatch(zombie.producerId, zombie.producerEpoch, 0, ["old"]));
    expect((await init("tx-z")).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(logOf(1)).toEqual(["old", "ABORT"]);
    const fresh = await init("tx-z");
    // The abort bumps once (Kafka 4.4 under transaction version 2), the new producer once more.
    expect(fresh).toMatchObject({ errorCode: ErrorCode.NONE, producerId: zombie.producerId, producerEpoch: zombie.producerEpoch + 2 });
    // The zombie is fenced everywhere.
    expect(await addPartitions("tx-z", zombie.producerId, zombie.producerEpoch, [["out", 1]])).toEqual([ErrorCode.PRODUCER_FENCED]);
    expect((await end("tx-z", zombie.producerId, zombie.producerEpoch, true)).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    expect((await produceTxn("tx-z", 1, txnBatch(zombie.producerId, zombie.producerEpoch, 1, ["late"])))?.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });
});

describe("transaction version 2 (KIP-890 part 2)", () => {
  it("adds partitions on produce v12, bumps the epoch at EndTxn v5 and answers retries by Kafka's table", async () => {
    const { producerId, producerEpoch } = await init("tx-2");
    expect((await produceTxn("tx-2", 0, txnBatch(producerId, producerEpoch, 0, ["p"]), 12))?.errorCode).toBe(ErrorCode.NONE);
    expect(await describe1("tx-2")).toMatchObject({ transactionState: "Ongoing", topics: [{ topic: "out", partitions: [0] }] });
    const committed = await end("tx-2", producerId, producerEpoch, true, 5);
    expect(committed).toMatchObject({ errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 });
    expect(logOf(0)).toEqual(["p", "COMMIT"]);
    // Retry with the old epoch: NONE with the new epoch; abort with the old epoch: INVALID_TXN_STATE.
    expect(await end("tx-2", producerId, producerEpoch, true, 5)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: producerEpoch + 1 });
    expect((await end("tx-2", producerId, producerEpoch, false, 5)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    // Commit with the current epoch from CompleteCommit: INVALID_TXN_STATE; abort: an empty abort with a bump.
    expect((await end("tx-2", producerId, producerEpoch + 1, true, 5)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await end("tx-2", producerId, producerEpoch + 1, false, 5)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: producerEpoch + 2 });
    // The next transaction writes with the bumped epoch, sequence from 0.
    expect((await produceTxn("tx-2", 0, txnBatch(producerId, producerEpoch + 2, 0, ["q"]), 12))?.errorCode).toBe(ErrorCode.NONE);
    expect((await end("tx-2", producerId, producerEpoch + 2, false, 5)).errorCode).toBe(ErrorCode.NONE);
    expect(logOf(0)).toEqual(["p", "COMMIT", "q", "ABORT"]);
    expect((await readCommitted(0))?.abortedTransactions).toEqual([{ producerId, firstOffset: 2n }]);
  });
});

describe("offsets in a transaction", () => {
  it("keeps TxnOffsetCommit pending (UNSTABLE_OFFSET_COMMIT for requireStable) until the COMMIT marker; drops them at ABORT", async () => {
    const fetchOffset = async (requireStable: boolean) => {
      const response = await call(offsetFetch, 8, {
        groupId: "",
        topics: [],
        requireStable,
        groups: [{ groupId: "g", memberId: null, memberEpoch: -1, topics: [{ name: "out", topicId: ZERO_UUID, partitionIndexes: [0] }] }],
      });
      const partition = response.groups[0]?.topics[0]?.partitions[0];
      return [partition?.errorCode, partition?.committedOffset];
    };
    const commitOffsets = async (producerId: bigint, producerEpoch: number, offset: bigint) => {
      const response = await call(txnOffsetCommit, 3, {
        transactionalId: "tx-o",
        groupId: "g",
        producerId,
        producerEpoch,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [
          { name: "out", topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: "m" }] },
        ],
      });
      return response.topics[0]?.partitions[0]?.errorCode;
    };
    // An anonymous TxnOffsetCommit makes a simple group.
    const first = await init("tx-o");
    expect(
      (await call(addOffsetsToTxn, 3, { transactionalId: "tx-o", producerId: first.producerId, producerEpoch: first.producerEpoch, groupId: "g" })).errorCode,
    ).toBe(ErrorCode.NONE);
    expect(await commitOffsets(first.producerId, first.producerEpoch, 5n)).toBe(ErrorCode.NONE);
    expect(await fetchOffset(true)).toEqual([ErrorCode.UNSTABLE_OFFSET_COMMIT, -1n]);
    expect(await fetchOffset(false)).toEqual([ErrorCode.NONE, -1n]);
    expect((await end("tx-o", first.producerId, first.producerEpoch, true)).errorCode).toBe(ErrorCode.NONE);
    expect(await fetchOffset(true)).toEqual([ErrorCode.NONE, 5n]);

    await call(addOffsetsToTxn, 3, { transactionalId: "tx-o", producerId: first.producerId, producerEpoch: first.producerEpoch, groupId: "g" });
    expect(await commitOffsets(first.producerId, first.producerEpoch, 9n)).toBe(ErrorCode.NONE);
    expect((await end("tx-o", first.producerId, first.producerEpoch, false)).errorCode).toBe(ErrorCode.NONE);
    expect(await fetchOffset(true)).toEqual([ErrorCode.NONE, 5n]);

    // Without AddOffsetsToTxn the __consumer_offsets partition is not in the transaction.
    expect(await commitOffsets(first.producerId, first.producerEpoch, 11n)).toBe(ErrorCode.INVALID_TXN_STATE);
  });
});

describe("offsets in a transaction across a restart", () => {
  it("reloads pending transactional offsets and commits them at the marker written after the restart", async () => {
    const { producerId, producerEpoch } = await init("tx-or");
    await call(addOffsetsToTxn, 3, { transactionalId: "tx-or", producerId, producerEpoch, groupId: "g2" });
    const committed = await call(txnOffsetCommit, 3, {
      transactionalId: "tx-or",
      groupId: "g2",
      producerId,
      producerEpoch,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [{ name: "out", topicId: ZERO_UUID, partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: "" }] }],
    });
    expect(committed.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    await close();
    await open();
    const fetchOffset = async () => {
      const response = await call(offsetFetch, 8, {
        groupId: "",
        topics: [],
        requireStable: true,
        groups: [{ groupId: "g2", memberId: null, memberEpoch: -1, topics: [{ name: "out", topicId: ZERO_UUID, partitionIndexes: [1] }] }],
      });
      const partition = response.groups[0]?.topics[0]?.partitions[0];
      return [partition?.errorCode, partition?.committedOffset];
    };
    expect(await fetchOffset()).toEqual([ErrorCode.UNSTABLE_OFFSET_COMMIT, -1n]);
    // Offset expiry leaves a partition with a pending commit alone.
    expect(services.groups.cleanupGroupMetadata(Date.now() + 30 * 24 * 3600 * 1000)).toBe(0);
    expect((await end("tx-or", producerId, producerEpoch, true)).errorCode).toBe(ErrorCode.NONE);
    expect(await fetchOffset()).toEqual([ErrorCode.NONE, 42n]);
  });
});

describe("background rules and admin", () => {
  it("aborts a transaction past its timeout and expires idle transactional ids", async () => {
    const { producerId, producerEpoch } = await init("tx-t", 1000);
    await addPartitions("tx-t", producerId, producerEpoch, [["out", 0]]);
    await produceTxn("tx-t", 0, txnBatch(producerId, producerEpoch, 0, ["t"]));
    services.transactions.abortTimedOutTransactions(Date.now());
    expect(await describe1("tx-t")).toMatchObject({ transactionState: "Ongoing" });
    services.transactions.abortTimedOutTransactions(Date.now() + 2000);
    expect(await describe1("tx-t")).toMatchObject({ transactionState: "CompleteAbort", producerEpoch: producerEpoch + 1 });
    expect(logOf(0)).toEqual(["t", "ABORT"]);
    expect((await readCommitted(0))?.lastStableOffset).toBe(2n);
    // The abandoned producer's late commit: its epoch is one behind (a retry), so Kafka's table says INVALID_TXN_STATE.
    expect((await end("tx-t", producerId, producerEpoch, true, 5)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect((await end("tx-t", producerId, producerEpoch, true, 3)).errorCode).toBe(ErrorCode.PRODUCER_FENCED);

    expect(services.transactions.removeExpiredTransactionalIds(Date.now())).toBe(0);
    expect(services.transactions.removeExpiredTransactionalIds(Date.now() + 7 * 24 * 3600 * 1000 + 1000)).toBe(1);
    expect((await describe1("tx-t"))?.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  });

  it("lists with Kafka's filters and describes producers of a partition", async () => {
    const a = await init("list-a");
    const b = await init("list-b");
    await addPartitions("list-a", a.producerId, a.producerEpoch, [["out", 1]]);
    await produceTxn("list-a", 1, txnBatch(a.producerId, a.producerEpoch, 0, ["l"]));
    const all = await call(listTransactions, 2, { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: null });
    expect(all.transactionStates.map((t) => `${t.transactionalId}:${t.transactionState}`).sort()).toEqual(["list-a:Ongoing", "list-b:Empty"]);
    const ongoing = await call(listTransactions, 0, {
      stateFilters: ["Ongoing", "Bogus"],
      producerIdFilters: [],
      durationFilter: -1n,
      transactionalIdPattern: null,
    });
    expect(ongoing.transactionStates.map((t) => t.transactionalId)).toEqual(["list-a"]);
    expect(ongoing.unknownStateFilters).toEqual(["Bogus"]);
    const byId = await call(listTransactions, 1, { stateFilters: [], producerIdFilters: [b.producerId], durationFilter: -1n, transactionalIdPattern: null });
    expect(byId.transactionStates.map((t) => t.transactionalId)).toEqual(["list-b"]);
    const byPattern = await call(listTransactions, 2, { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: "list-[a]" });
    expect(byPattern.transactionStates.map((t) => t.transactionalId)).toEqual(["list-a"]);
    const bad = await call(listTransactions, 2, { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: "(" });
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REGULAR_EXPRESSION);

    const producers = await call(describeProducers, 0, { topics: [{ name: "out", partitionIndexes: [1, 7] }] });
    const [one, missing] = producers.topics[0]?.partitions ?? [];
    expect(missing?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(one?.activeProducers).toEqual([
      expect.objectContaining({ producerId: a.producerId, producerEpoch: a.producerEpoch, lastSequence: 0, currentTxnStartOffset: 0n }),
    ]);
  });

  it("completes at load a transaction the broker stopped in PrepareCommit (markers written, then CompleteCommit)", async () => {
    const { producerId, producerEpoch } = await init("tx-pc");
    await addPartitions("tx-pc", producerId, producerEpoch, [["out", 1]]);
    await produceTxn("tx-pc", 1, txnBatch(producerId, producerEpoch, 0, ["pc"]));
    // What a crash right after the PrepareCommit write leaves: the record, no markers.
    const partition = services.transactions.partitionFor("tx-pc");
    const now = Date.now();
    const value = transactionLogValue({
      producerId,
      prevProducerId: producerId,
      nextProducerId: -1n,
      producerEpoch: producerEpoch + 1,
      lastProducerEpoch: producerEpoch,
      txnTimeoutMs: 30_000,
      state: TxnState.PrepareCommit,
      topicPartitions: new Set([tpKey("out", 1)]),
      txnStartTimestamp: now - 10,
      txnLastUpdateTimestamp: now,
      clientTransactionVersion: 2,
    });
    const record = transactionRecords.encode({ recordType: 0, key: { transactionalId: "tx-pc" }, value, version: 1 });
    services.partitions.get("__transaction_state", partition)?.appendAsCoordinator(buildRecordBatch({ baseTimestamp: BigInt(now), records: [record] }), now);
    expect(logOf(1)).toEqual(["pc"]);
    await close();
    await open();
    expect(logOf(1)).toEqual(["pc", "COMMIT"]);
    expect(await describe1("tx-pc")).toMatchObject({ transactionState: "CompleteCommit", producerEpoch: producerEpoch + 1, topics: [] });
    expect((await readCommitted(1))?.lastStableOffset).toBe(2n);
  });

  it("aborts after a restart a transaction whose timeout passed while the broker was down (Kafka 4.4 leaves its marker unwritten)", async () => {
    const { producerId, producerEpoch } = await init("tx-down", 1000);
    await addPartitions("tx-down", producerId, producerEpoch, [["out", 0]]);
    await produceTxn("tx-down", 0, txnBatch(producerId, producerEpoch, 0, ["d"]));
    await close();
    await open();
    services.transactions.abortTimedOutTransactions(Date.now() + 2000);
    expect(logOf(0)).toEqual(["d", "ABORT"]);
    expect(await describe1("tx-down")).toMatchObject({ transactionState: "CompleteAbort" });
    const fetched = await readCommitted(0);
    expect(fetched?.lastStableOffset).toBe(2n);
    expect(fetched?.abortedTransactions).toEqual([{ producerId, firstOffset: 0n }]);
  });

  it("finds every transaction as it was after a restart, and completes the ongoing one there", async () => {
    const { producerId, producerEpoch } = await init("tx-r");
    await addPartitions("tx-r", producerId, producerEpoch, [["out", 0]]);
    await produceTxn("tx-r", 0, txnBatch(producerId, producerEpoch, 0, ["r1"]));
    await close();
    await open();
    expect(await describe1("tx-r")).toMatchObject({ transactionState: "Ongoing", producerId, producerEpoch, topics: [{ topic: "out", partitions: [0] }] });
    expect((await readCommitted(0))?.lastStableOffset).toBe(0n);
    expect((await end("tx-r", producerId, producerEpoch, true)).errorCode).toBe(ErrorCode.NONE);
    expect(logOf(0)).toEqual(["r1", "COMMIT"]);
    expect((await readCommitted(0))?.lastStableOffset).toBe(2n);
  });
});
