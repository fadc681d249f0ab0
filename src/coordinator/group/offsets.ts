// Committed offsets of the groups of one __consumer_offsets partition: group → topic → partition
// → the last commit, as Kafka's OffsetMetadataManager keeps them (its `offsets` map; pending
// transactional offsets come with the transaction coordinator). Filled by replaying OffsetCommit
// records, at load and after each write (shard.ts), so memory always equals what the log says.

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
}

export type TopicOffsets = Map<number, CommittedOffset>;
export type GroupOffsets = Map<string, TopicOffsets>;

export class OffsetStore {
  readonly #byGroup = new Map<string, GroupOffsets>();

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
