// Committed offsets of the groups of one __consumer_offsets partition: group → topic → partition
// → the last commit, as Kafka's OffsetMetadataManager keeps them (its `offsets` map), and the
// pending transactional offsets (`pendingTransactionalOffsets` by producer id, `openTransactions`
// by partition): written by TxnOffsetCommit, visible only once the transaction's COMMIT marker is
// replayed (dropped at ABORT). Filled by replaying OffsetCommit records, at load and after each
// write (shard.ts), so memory always equals what the log says.

/** One committed offset (Kafka's OffsetAndMetadata). */
export interface CommittedOffset {
  readonly offset: bigint;
  /** The leader epoch of the last consumed record; -1 when not given. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  /** When the commit was written (ms). */
  readonly commitTimestampMs: number;
  /** Only from OffsetCommit v2-4 with a retention time (record version 1); null otherwise. */
  readonly expireTimestampMs: number | null;
  /** The topic id of the commit (OffsetCommit v10); null when committed by name. */
  readonly topicId: string | null;
  /** The log offset of the record that holds the commit (-1 when unknown). */
  readonly recordOffset?: bigint;
}

interface PendingOffset {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: CommittedOffset;
}

const openKey = (group: string, topic: string, partition: number): string => `${group}\u0000${topic}\u0000${partition}`;

export type TopicOffsets = Map<number, CommittedOffset>;
export type GroupOffsets = Map<string, TopicOffsets>;

export class OffsetStore {
  readonly #byGroup = new Map<string, GroupOffsets>();
  /** Transactional commits waiting for their transaction's marker, by producer id (last write per partition wins). */
  readonly #pending = new Map<bigint, Map<string, PendingOffset>>();
  /** The producers with a pending commit for each group/topic/partition. */
  readonly #open = new Map<string, Set<bigint>>();

  /** A transactional commit of `producerId`, pending until its transaction ends. */
  putPending(producerId: bigint, group: string, topic: string, partition: number, offset: CommittedOffset): void {
    const key = openKey(group, topic, partition);
    let pending = this.#pending.get(producerId);
    if (pending === undefined) {
      pending = new Map();
      this.#pending.set(producerId, pending);
    }
    pending.set(key, { group, topic, partition, offset });
    let producers = this.#open.get(key);
    if (producers === undefined) {
      producers = new Set();
      this.#open.set(key, producers);
    }
    producers.add(producerId);
  }

  /** replayEndTransactionMarker: a COMMIT applies the producer's pending commits (unless a later commit is in place), an ABORT drops them. */
  completeTransaction(producerId: bigint, commit: boolean): number {
    const pending = this.#pending.get(producerId);
    if (pending === undefined) return 0;
    this.#pending.delete(producerId);
    for (const [key] of pending) {
      const producers = this.#open.get(key);
      producers?.delete(producerId);
      if (producers?.size === 0) this.#open.delete(key);
    }
    if (!commit) return 0;
    let applied = 0;
    for (const { group, topic, partition, offset } of pending.values()) {
      const existing = this.get(group, topic, partition);
      if (existing === undefined || (offset.recordOffset ?? -1n) > (existing.recordOffset ?? -1n)) {
        this.put(group, topic, partition, offset);
        applied++;
      }
    }
    return applied;
  }

  hasPending(group: string, topic: string, partition: number): boolean {
    return this.#open.has(openKey(group, topic, partition));
  }

  /** The partitions of `group` with a pending transactional commit (Kafka's openTransactions.forEachTopicPartition). */
  pendingPartitions(group: string): { topic: string; partition: number }[] {
    const seen = new Map<string, { topic: string; partition: number }>();
    for (const pending of this.#pending.values()) {
      for (const [key, entry] of pending) if (entry.group === group) seen.set(key, { topic: entry.topic, partition: entry.partition });
    }
    return [...seen.values()];
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#byGroup.get(group)?.get(topic)?.get(partition);
  }

  /** The group's offsets by topic, or undefined when it has none. */
  ofGroup(group: string): GroupOffsets | undefined {
    return this.#byGroup.get(group);
  }

  hasOffsets(group: string): boolean {
    return this.#byGroup.has(group);
  }

  /** Groups that have committed offsets. */
  groups(): IterableIterator<string> {
    return this.#byGroup.keys();
  }

  put(group: string, topic: string, partition: number, offset: CommittedOffset): void {
    let topics = this.#byGroup.get(group);
    if (topics === undefined) {
      topics = new Map();
      this.#byGroup.set(group, topics);
    }
    let partitions = topics.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      topics.set(topic, partitions);
    }
    partitions.set(partition, offset);
  }

  delete(group: string, topic: string, partition: number): void {
    const topics = this.#byGroup.get(group);
    const partitions = topics?.get(topic);
    if (topics === undefined || partitions === undefined) return;
    partitions.delete(partition);
    if (partitions.size === 0) topics.delete(topic);
    if (topics.size === 0) this.#byGroup.delete(group);
  }

  /** Number of offsets the group has. */
  count(group: string): number {
    let count = 0;
    for (const partitions of this.#byGroup.get(group)?.values() ?? []) count += partitions.size;
    return count;
  }
}
