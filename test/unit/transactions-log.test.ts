// Transactions on the partition side, through the binding and the handlers: transactional batches
// and end-transaction markers moving the last stable offset, the `.txnindex` in Kafka's format,
// coordinator fencing, the aborted transactions of a read_committed fetch (Fetch handler), and
// ListOffsets bounded by the isolation level (Kafka's Partition.fetchOffsetForTimestamp).

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import { fetch } from "../../src/handlers/fetch.js";
import { listOffsets } from "../../src/handlers/list-offsets.js";
import type { LogManager } from "../../src/log/log-manager.js";
import type { Partition } from "../../src/log/partition.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { LogError, LogResources } from "../../src/native.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { defaultFetchRequest, type FetchRequest, type FetchResponse } from "../../src/protocol/generated/fetch.js";
import { defaultRequestHeader } from "../../src/protocol/generated/headers.js";
import { defaultListOffsetsRequest, type ListOffsetsResponse } from "../../src/protocol/generated/list-offsets.js";
import { batches, buildRecordBatch, decodeRecords } from "../../src/protocol/records.js";
import { ZERO_UUID } from "../../src/protocol/runtime.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../../src/server/context.js";
import type { Handler } from "../../src/server/registry.js";
import { openServices } from "../../src/server/services.js";

const root = mkdtempSync(join(tmpdir(), "sluice-transactions-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const resources = new LogResources();
let directoryCount = 0;
let directory: string;
beforeEach(() => {
  directoryCount += 1;
  directory = join(root, `case-${directoryCount}`, "orders-0");
});

const nowMs = 1_700_000_000_000;
const A = 1_000n;
const B = 2_000n;

/** A transactional batch of `values` from `producerId`. */
function transactional(producerId: bigint, baseSequence: number, values: string[], producerEpoch = 0, timestamp = BigInt(nowMs)): Buffer {
  return buildRecordBatch({
    isTransactional: true,
    producerId,
    producerEpoch,
    baseSequence,
    records: values.map((value) => ({ key: null, value: Buffer.from(value), timestamp })),
  });
}

function plain(values: string[], timestamp: bigint): Buffer {
  return buildRecordBatch({ records: values.map((value) => ({ key: null, value: Buffer.from(value), timestamp })) });
}

function codeOf(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(LogError);
    return (error as LogError).code;
  }
  throw new Error("expected a LogError");
}

/** `.txnindex` entries as Kafka's AbortedTxn fields (34 bytes each, version 0). */
function txnIndexEntries(path: string): { producerId: bigint; firstOffset: bigint; lastOffset: bigint; lastStableOffset: bigint }[] {
  const bytes = readFileSync(path);
  expect(bytes.length % 34).toBe(0);
  const entries = [];
  for (let at = 0; at < bytes.length; at += 34) {
    expect(bytes.readInt16BE(at)).toBe(0);
    entries.push({
      producerId: bytes.readBigInt64BE(at + 2),
      firstOffset: bytes.readBigInt64BE(at + 10),
      lastOffset: bytes.readBigInt64BE(at + 18),
      lastStableOffset: bytes.readBigInt64BE(at + 26),
    });
  }
  return entries;
}

describe("transactions in the partition log", () => {
  it("moves the last stable offset with markers and indexes aborted transactions in Kafka's format", async () => {
    const log = await PartitionLog.open(directory, { topic: "orders", partition: 0, resources, nowMs });
    expect(log.lastStableOffset).toBe(0n);
    expect(log.firstUnstableOffset).toBeNull();
    log.append(transactional(A, 0, ["a0", "a1"]), { nowMs }); // 0-1
    log.append(transactional(B, 0, ["b0", "b1"]), { nowMs }); // 2-3
    log.append(plain(["p"], BigInt(nowMs)), { nowMs }); // 4
    expect(log.lastStableOffset).toBe(0n);
    expect(log.firstUnstableOffset).toBe(0n);
    expect(log.hasOngoingTransaction(A, 0)).toBe(true);
    expect(log.hasOngoingTransaction(A, 1)).toBe(false);

    const abort = log.appendTxnMarker(A, 0, 3, false, nowMs, 0);
    expect(abort).toMatchObject({ baseOffset: 5n, lastOffset: 5n, duplicate: false });
    // B's transaction (from 2) is still open.
    expect(log.lastStableOffset).toBe(2n);
    expect(log.hasOngoingTransaction(A, 0)).toBe(false);
    expect(log.abortedTransactions(0n, 6n)).toEqual([{ producerId: A, firstOffset: 0n }]);
    expect(log.abortedTransactions(0n, 0n)).toEqual([]);
    expect(txnIndexEntries(join(directory, "00000000000000000000.txnindex"))).toEqual([
      { producerId: A, firstOffset: 0n, lastOffset: 5n, lastStableOffset: 2n },
    ]);

    // A coordinator older than the one that aborted A's transaction is fenced; nothing is written.
    log.append(transactional(A, 2, ["a2"]), { nowMs }); // 6
    expect(codeOf(() => log.appendTxnMarker(A, 0, 2, true, nowMs, 0))).toBe("TRANSACTION_COORDINATOR_FENCED");
    // Transaction version 2: the marker must carry a bumped epoch while the transaction is open.
    expect(codeOf(() => log.appendTxnMarker(B, 0, 3, true, nowMs, 0, 2))).toBe("INVALID_PRODUCER_EPOCH");
    expect(log.logEndOffset).toBe(7n);
    log.appendTxnMarker(B, 0, 3, true, nowMs, 0); // 7
    expect(log.lastStableOffset).toBe(6n);
    log.appendTxnMarker(A, 0, 3, true, nowMs, 0); // 8
    expect(log.lastStableOffset).toBe(9n);
    expect(log.firstUnstableOffset).toBeNull();

    const states = log.producerStates();
    expect(
      states.map(({ producerId, producerEpoch, coordinatorEpoch, currentTxnStartOffset }) => ({
        producerId,
        producerEpoch,
        coordinatorEpoch,
        currentTxnStartOffset,
      })),
    ).toEqual([
      { producerId: A, producerEpoch: 0, coordinatorEpoch: 3, currentTxnStartOffset: -1n },
      { producerId: B, producerEpoch: 0, coordinatorEpoch: 3, currentTxnStartOffset: -1n },
    ]);
    await log.close();
  });

  it("keeps open transactions and the index across an unclean reopen", async () => {
    const log = await PartitionLog.open(directory, { topic: "orders", partition: 0, resources, nowMs });
    log.append(transactional(A, 0, ["a0"]), { nowMs }); // 0
    log.appendTxnMarker(A, 0, 0, false, nowMs, 0); // 1
    log.append(transactional(B, 0, ["b0", "b1"]), { nowMs }); // 2-3
    expect(log.producerStates().find((state) => state.producerId === B)?.currentTxnStartOffset).toBe(2n);
    await log.flush();
    // Reopened as after a crash: every segment recovered, the `.txnindex` rebuilt from the markers.
    const reopened = await PartitionLog.open(directory, { topic: "orders", partition: 0, resources, nowMs, hadCleanShutdown: false });
    expect(reopened.openReport.recoveredSegments).toBe(1);
    expect(reopened.lastStableOffset).toBe(2n);
    expect(reopened.hasOngoingTransaction(B, 0)).toBe(true);
    expect(reopened.abortedTransactions(0n, 4n)).toEqual([{ producerId: A, firstOffset: 0n }]);
    expect(txnIndexEntries(join(directory, "00000000000000000000.txnindex"))).toEqual([
      { producerId: A, firstOffset: 0n, lastOffset: 1n, lastStableOffset: 2n },
    ]);
    await reopened.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Through the handlers (the services of handlers.test.ts: real log manager, no network).

let services: BrokerServices;
let logs: LogManager;
let brokerDirectory: string;
const connection = new Connection(7, "PLAINTEXT", "127.0.0.1", 50_000);

beforeAll(async () => {
  brokerDirectory = join(root, "broker");
  const { config } = loadBrokerConfig({ overrides: [`log.dirs=${brokerDirectory}`, "node.id=1"] });
  const opened = await openServices(config, pino({ level: "silent" }), brokerDirectory);
  logs = opened.logs;
  services = { ...opened.services, connections: { close: () => undefined, closeAfter: () => undefined } };
  services.metadata.putBroker({ nodeId: 1, rack: null, endpoints: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }] });
  await services.topics.create("txn", 1, {});
});

afterAll(async () => {
  services?.partitions.close();
  await logs?.close();
});

async function call<Req, Res>(handler: Handler<Req, Res>, version: number, request: Req): Promise<Res> {
  const header = { ...defaultRequestHeader(), requestApiKey: handler.api.apiKey, requestApiVersion: version, correlationId: 1, clientId: "test" };
  const context = new RequestContext(services, connection, header, version, ANONYMOUS, Date.now());
  return (await handler.handle(context, request)) as Res;
}

async function fetchFrom(fetchOffset: bigint, isolationLevel: number) {
  const request = {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel,
    topics: [
      {
        topic: "txn",
        topicId: ZERO_UUID,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
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
  const response = (await call(fetch, 12, request)) as FetchResponse;
  const data = response.responses[0].partitions[0];
  // Records leave as a file slice (sent with sendfile): copied out and released here.
  const slice = data.records as unknown as { length: number; toBuffer(): Buffer; release(): void };
  const bytes = slice.length > 0 ? slice.toBuffer() : Buffer.alloc(0);
  if (slice.length > 0) slice.release();
  const values: string[] = [];
  for (const batch of batches(bytes)) {
    for (const record of decodeRecords(batch)) values.push(`${record.offset}:${batch.isControl ? "<marker>" : record.value?.toString()}`);
  }
  return { ...data, values };
}

async function listOffset(timestamp: bigint, isolationLevel: number, replicaId = -1) {
  const response = (await call(listOffsets, 9, {
    ...defaultListOffsetsRequest(),
    replicaId,
    isolationLevel,
    topics: [{ name: "txn", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
  } as ReturnType<typeof defaultListOffsetsRequest>)) as ListOffsetsResponse;
  return response.topics[0].partitions[0];
}

describe("read_committed through Fetch and ListOffsets", () => {
  it("reads up to the LSO, reports the aborted transactions of the records returned, and bounds ListOffsets", async () => {
    const partition = services.partitions.get("txn", 0) as Partition;
    const late = BigInt(nowMs + 60_000);
    partition.log.append(transactional(A, 0, ["a0", "a1"]), { nowMs, leaderEpoch: 0 }); // 0-1
    partition.log.append(transactional(B, 0, ["b0", "b1"]), { nowMs, leaderEpoch: 0 }); // 2-3
    partition.appendTxnMarker(A, 0, 0, false, nowMs); // 4
    partition.log.append(plain(["p"], late), { nowMs, leaderEpoch: 0 }); // 5
    expect(partition.lastStableOffset).toBe(2n);

    const committed = await fetchFrom(0n, 1);
    expect(committed).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 6n, lastStableOffset: 2n });
    expect(committed.values).toEqual(["0:a0", "1:a1"]);
    expect(committed.abortedTransactions).toEqual([{ producerId: A, firstOffset: 0n }]);

    const uncommitted = await fetchFrom(0n, 0);
    expect(uncommitted.values).toEqual(["0:a0", "1:a1", "2:b0", "3:b1", "4:<marker>", "5:p"]);
    expect(uncommitted.abortedTransactions).toBeNull();

    // At the LSO: nothing to read yet, no aborted transactions.
    const waiting = await fetchFrom(2n, 1);
    expect(waiting.values).toEqual([]);
    expect(waiting.abortedTransactions).toEqual([]);

    expect((await listOffset(-1n, 1)).offset).toBe(2n);
    expect((await listOffset(-1n, 0)).offset).toBe(6n);
    // The record at 5 (timestamp `late`) is above the LSO: read_committed finds none.
    expect(await listOffset(late, 1)).toMatchObject({ offset: -1n, timestamp: -1n });
    expect(await listOffset(late, 0)).toMatchObject({ offset: 5n, timestamp: late });
    expect((await listOffset(-3n, 1)).offset).toBe(-1n);
    expect((await listOffset(-3n, 0)).offset).toBe(5n);
    // A follower's request (replica id ≥ 0) is bounded by the log end offset alone.
    expect((await listOffset(-1n, 1, 1)).offset).toBe(6n);

    partition.appendTxnMarker(B, 0, 0, true, nowMs); // 6
    expect(partition.lastStableOffset).toBe(7n);
    const all = await fetchFrom(0n, 1);
    expect(all.lastStableOffset).toBe(7n);
    expect(all.values).toEqual(["0:a0", "1:a1", "2:b0", "3:b1", "4:<marker>", "5:p", "6:<marker>"]);
    expect(all.abortedTransactions).toEqual([{ producerId: A, firstOffset: 0n }]);
    // From past A's marker, A's transaction is over: none to report.
    const after = await fetchFrom(5n, 1);
    expect(after.values).toEqual(["5:p", "6:<marker>"]);
    expect(after.abortedTransactions).toEqual([]);
    expect(await listOffset(late, 1)).toMatchObject({ offset: 5n, timestamp: late });
  });
});
