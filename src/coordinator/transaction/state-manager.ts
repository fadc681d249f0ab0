// The transaction coordinator's state (Kafka's TransactionStateManager): one shard per
// __transaction_state partition, each holding the TransactionMetadata of the transactional ids that
// hash to it (Kafka's `Utils.abs(transactionalId.hashCode) % transaction.state.log.num.partitions`).
//
// The log is the truth: a transition is written as one TransactionLog record (key: the
// transactional id; value: TransactionLogValue, version 1 under transaction.version ≥ 1 as in
// Kafka 4.4) and applied only once the append succeeded. Appends are synchronous memcpys into the
// mapped segment on the JS thread, so the write and the change of memory happen in one turn.
// Expired transactional ids are deleted with tombstones. Loading replays the partition from its
// log start (the last record of each id wins, a tombstone removes it) in
// transaction.state.log.load.buffer.size steps; meanwhile requests for its ids get
// COORDINATOR_LOAD_IN_PROGRESS.

import type { Logger } from "pino";
import type { Partition } from "../../log/partition.js";
import { recompressBatch } from "../../native.js";
import { ErrorCode } from "../../protocol/errors.js";
import { batches, buildRecordBatch, decodeRecords, RecordBatchView } from "../../protocol/records.js";
import { coordinatorLogUnavailable } from "../coordinator-topic.js";
import type { TransactionLogKey, TransactionLogValue, TransactionLogValuePartitionsSchema } from "../generated/transaction/transaction-log.js";
import { transactionRecords } from "../records.js";
import {
  NO_PRODUCER_EPOCH,
  parseTpKey,
  type TransactionMetadata,
  TransactionMetadata as TxnMetadata,
  TxnState,
  type TxnTransit,
  tpKey,
  txnStateFromId,
} from "./transaction-metadata.js";

export const TRANSACTION_STATE_TOPIC = "__transaction_state";
const TRANSACTION_LOG_RECORD_TYPE = 0;

export type TxnShardState = "loading" | "active" | "failed" | "closed";

/** TransactionLog.valueToBytes: the value of a transit at `logValueVersion`. */
export function transactionLogValue(transit: TxnTransit): TransactionLogValue {
  if (transit.state === TxnState.Empty && transit.topicPartitions.size > 0) {
    throw new Error(`Transaction is not expected to have any partitions since its state is Empty`);
  }
  let partitions: TransactionLogValuePartitionsSchema[] | null = null;
  if (transit.state !== TxnState.Empty) {
    const byTopic = new Map<string, number[]>();
    for (const key of transit.topicPartitions) {
      const { topic, partition } = parseTpKey(key);
      const list = byTopic.get(topic) ?? [];
      list.push(partition);
      byTopic.set(topic, list);
    }
    partitions = [...byTopic].map(([topic, partitionIds]) => ({ topic, partitionIds }));
  }
  return {
    producerId: transit.producerId,
    previousProducerId: transit.prevProducerId,
    nextProducerId: transit.nextProducerId,
    producerEpoch: transit.producerEpoch,
    nextProducerEpoch: -1,
    transactionTimeoutMs: transit.txnTimeoutMs,
    transactionStatus: transit.state.id,
    transactionPartitions: partitions,
    transactionLastUpdateTimestampMs: BigInt(transit.txnLastUpdateTimestamp),
    transactionStartTimestampMs: BigInt(transit.txnStartTimestamp),
    clientTransactionVersion: transit.clientTransactionVersion,
  };
}

/** TransactionLog.readTxnRecordValue: the metadata a record holds (the last epoch is not stored). */
export function metadataFromLogValue(transactionalId: string, value: TransactionLogValue, version: number): TransactionMetadata {
  const topicPartitions: string[] = [];
  for (const topic of value.transactionPartitions ?? []) for (const partition of topic.partitionIds) topicPartitions.push(tpKey(topic.topic, partition));
  return new TxnMetadata(transactionalId, {
    producerId: value.producerId,
    prevProducerId: version >= 1 ? value.previousProducerId : -1n,
    nextProducerId: version >= 1 ? value.nextProducerId : -1n,
    producerEpoch: value.producerEpoch,
    lastProducerEpoch: NO_PRODUCER_EPOCH,
    txnTimeoutMs: value.transactionTimeoutMs,
    state: txnStateFromId(value.transactionStatus),
    topicPartitions,
    txnStartTimestamp: Number(value.transactionStartTimestampMs),
    txnLastUpdateTimestamp: Number(value.transactionLastUpdateTimestampMs),
    clientTransactionVersion: version >= 1 ? value.clientTransactionVersion : 0,
  });
}

/** One __transaction_state partition and the transactional ids it owns. */
export class TxnShard {
  readonly transactions = new Map<string, TransactionMetadata>();
  state: TxnShardState = "loading";
  loadedRecords = 0;

  constructor(
    readonly partitionIndex: number,
    readonly partition: Partition,
    private readonly logger: Logger,
  ) {}

  /** The coordinator epoch: the partition's leader epoch (a marker carries it). */
  get coordinatorEpoch(): number {
    return this.partition.leaderEpoch;
  }

  get availability(): number {
    switch (this.state) {
      case "active":
        return ErrorCode.NONE;
      case "loading":
        return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
      default:
        return ErrorCode.NOT_COORDINATOR;
    }
  }

  /**
   * Writes records (value null: a tombstone) as one batch. Returns NONE or the error Kafka's
   * appendTransactionToLog answers a failed append with: NOT_COORDINATOR when the log is gone or
   * failed, UNKNOWN_SERVER_ERROR when the batch is refused.
   */
  write(records: readonly { transactionalId: string; value: TransactionLogValue | null; version: number }[], nowMs: number): number {
    if (this.state !== "active") return this.availability;
    const encoded = records.map(({ transactionalId, value, version }) =>
      transactionRecords.encode({
        recordType: TRANSACTION_LOG_RECORD_TYPE,
        key: { transactionalId } satisfies TransactionLogKey,
        value,
        version: value === null ? -1 : version,
      }),
    );
    const batch = buildRecordBatch({ baseTimestamp: BigInt(nowMs), records: encoded.map(({ key, value }) => ({ key, value, timestamp: BigInt(nowMs) })) });
    try {
      this.partition.appendAsCoordinator(batch, nowMs);
      return ErrorCode.NONE;
    } catch (error) {
      if (coordinatorLogUnavailable(error)) return ErrorCode.NOT_COORDINATOR;
      this.logger.error({ err: error, partition: this.partition.toString() }, "transaction log write refused");
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
  }

  /** Replays the partition from its log start to its end (see the file comment). */
  async load(bufferBytes: number): Promise<void> {
    const log = this.partition.log;
    const end = log.logEndOffset;
    let offset = log.logStartOffset;
    while (offset < end && this.state === "loading") {
      const read = log.readCopy(offset, bufferBytes, end);
      if (read.bytes.length === 0) break;
      for (const batch of batches(read.bytes)) {
        if (batch.nextOffset <= offset || batch.isControl) continue;
        this.#loadBatch(batch);
      }
      offset = read.nextOffset;
      await new Promise<void>((resume) => setImmediate(resume));
    }
    if (this.state === "loading") this.state = "active";
  }

  #loadBatch(batch: RecordBatchView): void {
    const view = batch.compression === 0 ? batch : new RecordBatchView(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none"));
    for (const record of decodeRecords(view)) {
      if (record.key === null) continue;
      let transactionalId: string;
      let value: TransactionLogValue | null;
      let version: number;
      try {
        const decoded = transactionRecords.decode(record.key, record.value);
        transactionalId = (decoded.key as TransactionLogKey).transactionalId;
        value = decoded.value as TransactionLogValue | null;
        version = decoded.version;
      } catch (error) {
        // Kafka: "Unknown message key/value version … Ignoring it."
        this.logger.warn(
          { partition: this.partition.toString(), offset: record.offset.toString(), err: (error as Error).message },
          "skipped a transaction log record",
        );
        continue;
      }
      this.loadedRecords++;
      if (value === null) this.transactions.delete(transactionalId);
      else this.transactions.set(transactionalId, metadataFromLogValue(transactionalId, value, version));
    }
  }
}
