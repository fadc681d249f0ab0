// A partition this broker leads: its log, leader epoch and high watermark, and the long polls
// (Fetch requests waiting for data) parked on it. Requests reach it through the partition
// manager (partition-manager.ts), which checks the leader epoch first.
//
// On a single node the replica set and the ISR are this broker alone, so an append is
// committed as soon as it is in the log: the high watermark is the log end offset, and
// acks=-1 waits for nothing more than acks=1 (min.insync.replicas above 1 fails instead).
// The last stable offset is the first offset of the oldest open transaction, else the high
// watermark; transaction coordinators close transactions with appendTxnMarker.

import type { LogAppendResult, ProduceAppendResult, ProduceSettings } from "../native.js";
import type { PartitionLog } from "./partition-log.js";

/** Size of an end-transaction marker batch (Kafka's: one control record). */
const END_TXN_MARKER_BYTES = 78;

/** A parked Fetch, told how many bytes each append adds to a partition it waits on (0: stop waiting). */
export interface AppendWaiter {
  onAppend(partition: Partition, bytes: number): void;
}

export class Partition {
  readonly #waiters = new Set<AppendWaiter>();

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly index: number,
    readonly log: PartitionLog,
    /** Kafka starts a new partition's leader epoch at 0; a single node never changes leader. */
    readonly leaderEpoch = 0,
  ) {}

  /** Offsets below it are committed (replicated to the whole ISR: here, written to the log). */
  get highWatermark(): bigint {
    return this.log.logEndOffset;
  }

  /**
   * Read_committed consumers read below it: the first offset of the oldest open transaction, else
   * the high watermark (Kafka's UnifiedLog.lastStableOffset). A lock-free read.
   */
  get lastStableOffset(): bigint {
    return this.log.lastStableOffset;
  }

  get logStartOffset(): bigint {
    return this.log.logStartOffset;
  }

  /**
   * A client's produce to this leader, in one native call (PartitionLog.appendProduce):
   * validates `records` with the topic's `settings`, recompresses, assigns offsets and the
   * leader epoch, appends, and wakes the long polls parked here when bytes were appended.
   * Records that fail validation come back as Kafka's error code; a refused append (producer
   * state, I/O) throws a LogError.
   */
  appendRecordsToLeader(records: Buffer, settings: ProduceSettings, produceVersion: number, nowMs: number): ProduceAppendResult {
    const result = this.log.appendProduce(records, settings, produceVersion, nowMs, this.leaderEpoch);
    if (result.appendedBytes > 0) this.#wake(result.appendedBytes);
    return result;
  }

  /**
   * The broker's own write to this partition (a coordinator's records, built and validated by the
   * coordinator): offsets and the leader epoch assigned, producer epochs checked, long polls woken.
   * Throws a LogError when the log refuses it.
   */
  appendAsCoordinator(batches: Buffer, nowMs: number): LogAppendResult {
    const result = this.log.append(batches, { nowMs, leaderEpoch: this.leaderEpoch, origin: "coordinator" });
    this.#wake(batches.length);
    return result;
  }

  /**
   * Writes a transaction coordinator's end-transaction marker for `producerId` (COMMIT when
   * `commit`, else ABORT) with this leader's epoch, closing the producer's open transaction here,
   * and wakes the long polls parked here (the last stable offset may have moved). `transactionVersion`
   * (default 0) picks Kafka's marker epoch rule (PartitionLog.appendTxnMarker). Throws a LogError
   * (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED, STORAGE_ERROR) when refused.
   */
  appendTxnMarker(
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    nowMs: number,
    transactionVersion = 0,
  ): LogAppendResult {
    const result = this.log.appendTxnMarker(producerId, producerEpoch, coordinatorEpoch, commit, nowMs, this.leaderEpoch, transactionVersion);
    this.#wake(END_TXN_MARKER_BYTES);
    return result;
  }

  addWaiter(waiter: AppendWaiter): void {
    this.#waiters.add(waiter);
  }

  removeWaiter(waiter: AppendWaiter): void {
    this.#waiters.delete(waiter);
  }

  /** Answers every long poll parked here now (the partition is going away). */
  releaseWaiters(): void {
    this.#wake(0);
  }

  #wake(bytes: number): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter.onAppend(this, bytes);
  }

  toString(): string {
    return `${this.topic}-${this.index}`;
  }
}
