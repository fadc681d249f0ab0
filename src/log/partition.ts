// A partition this broker leads: its log, leader epoch and high watermark, and the long polls
// (Fetch requests waiting for data) parked on it.
//
// On a single node the replica set and the ISR are this broker alone, so an append is
// committed as soon as it is in the log: the high watermark is the log end offset, and
// acks=-1 waits for nothing more than acks=1 (min.insync.replicas above 1 fails instead).

import type { PartitionLog } from "./partition-log.js";

/** A parked Fetch, told how many bytes each append adds to a partition it waits on. */
export interface AppendWaiter {
  onAppend(partition: Partition, bytes: number): void;
}

export class Partition {
  /** Kafka starts a new partition's leader epoch at 0; a single node never changes leader. */
  leaderEpoch = 0;
  readonly #waiters = new Set<AppendWaiter>();

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly index: number,
    readonly log: PartitionLog,
  ) {}

  /** Offsets below it are committed (replicated to the whole ISR: here, written to the log). */
  get highWatermark(): bigint {
    return this.log.logEndOffset;
  }

  /** No transactions yet, so everything below the high watermark is stable. */
  get lastStableOffset(): bigint {
    return this.log.logEndOffset;
  }

  get logStartOffset(): bigint {
    return this.log.logStartOffset;
  }

  addWaiter(waiter: AppendWaiter): void {
    this.#waiters.add(waiter);
  }

  removeWaiter(waiter: AppendWaiter): void {
    this.#waiters.delete(waiter);
  }

  /** Called after every append: wakes the long polls parked on this partition. */
  appended(bytes: number): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter.onAppend(this, bytes);
  }

  toString(): string {
    return `${this.topic}-${this.index}`;
  }
}
