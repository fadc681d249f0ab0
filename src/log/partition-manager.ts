// The partition manager: the partitions this broker hosts (Kafka's ReplicaManager, Redpanda's
// partition_manager) and the one place a request meets its partition.
//
// lookup / lookupById answer a request's (topic, partition, current leader epoch) with the
// hosted Partition or Kafka's error code, in Kafka's order (ReplicaManager.getPartitionOrError,
// then Partition.localLogWithEpochOrThrow):
//   topic unknown to the metadata cache        UNKNOWN_TOPIC_OR_PARTITION (by id: UNKNOWN_TOPIC_ID)
//   partition index past the topic's count     UNKNOWN_TOPIC_OR_PARTITION
//   partition known but not hosted here        NOT_LEADER_OR_FOLLOWER
//   current leader epoch older than ours       FENCED_LEADER_EPOCH
//   current leader epoch newer than ours       UNKNOWN_LEADER_EPOCH
//   hosted as a follower (leader required)     NOT_LEADER_OR_FOLLOWER
// (A negative current leader epoch — -1 from clients that do not know it — skips the epoch
// check, as Kafka's optionalEpoch does.)
//
// Appends wake the long polls themselves (Partition.appendRecordsToLeader); waitForAppends
// parks a Fetch on its partitions, and close() answers every parked one at shutdown.
//
// Roles: `host` makes a partition a leader or a follower with the state the cluster metadata
// gives it, and `applyState` applies the next one; listeners hear of every change of role or
// leader epoch (the replica fetchers start and stop fetching, the coordinators load and unload
// their shards). A single node hosts every partition as its sole leader (`becomeLeader`).

import type { MetadataCache, PartitionMetadata } from "../cluster/metadata-cache.js";
import type { LogConfig } from "../native.js";
import { ErrorCode } from "../protocol/errors.js";
import { ByteRateQuota } from "../replication/throttle.js";
import type { LogManager } from "./log-manager.js";
import { type AppendWaiter, type IsrChanges, Partition, type PartitionState, soleLeaderState } from "./partition.js";

/** A hosted partition a request may use, or the Kafka error code that says why it may not. */
export type PartitionOrError = Partition | number;

/** Kafka's RecordBatch.NO_PARTITION_LEADER_EPOCH: the request does not check the epoch (any negative value does not). */
export const NO_LEADER_EPOCH = -1;

export class PartitionManager {
  /** Hosted partitions by topic, indexed by partition (a lookup on the produce/fetch path builds no key). */
  readonly #partitions = new Map<string, Partition[]>();
  readonly #logs: LogManager;
  readonly #metadata: MetadataCache;
  /** Parked long polls; each function answers its wait now. */
  readonly #parked = new Set<() => void>();
  readonly #roleListeners: ((partition: Partition, role: "leader" | "follower" | "stopped") => void)[] = [];
  /** Checkpointed high watermarks read at start, used once by the partition they belong to. */
  #checkpointedHighWatermarks: Map<string, bigint> | null = null;
  #isrChanges: IsrChanges | null = null;
  #closed = false;
  /** leader.replication.throttled.rate over this broker's leader-throttled replicas (KIP-73). */
  readonly leaderThrottle = new ByteRateQuota();

  constructor(logs: LogManager, metadata: MetadataCache) {
    this.#logs = logs;
    this.#metadata = metadata;
  }

  /** The log directory the hosted partitions live in. */
  get logDirectory(): string {
    return this.#logs.path;
  }

  /** The hosted partition, without any check (background work, DescribeLogDirs). */
  get(topic: string, index: number): Partition | undefined {
    return this.#partitions.get(topic)?.[index];
  }

  /** Every hosted partition (metrics, the console). */
  *all(): Generator<Partition> {
    for (const partitions of this.#partitions.values()) for (const partition of partitions) if (partition !== undefined) yield partition;
  }

  /**
   * The partition of the topic named `topic` for a request, or Kafka's error (see the file
   * comment). `requireLeader` false: a follower's partition will do too (fetches from followers).
   */
  lookup(topic: string, index: number, currentLeaderEpoch = NO_LEADER_EPOCH, requireLeader = true): PartitionOrError {
    if (this.#metadata.topic(topic) === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return this.#hosted(topic, index, currentLeaderEpoch, requireLeader);
  }

  /** The partition of the topic with id `topicId` (requests v13+ of Fetch and Produce), or Kafka's error. */
  lookupById(topicId: string, index: number, currentLeaderEpoch = NO_LEADER_EPOCH, requireLeader = true): PartitionOrError {
    const topic = this.#metadata.topicById(topicId);
    if (topic === undefined) return ErrorCode.UNKNOWN_TOPIC_ID;
    return this.#hosted(topic.name, index, currentLeaderEpoch, requireLeader);
  }

  #hosted(topic: string, index: number, currentLeaderEpoch: number, requireLeader: boolean): PartitionOrError {
    const partition = this.#partitions.get(topic)?.[index];
    if (partition === undefined) {
      return this.#metadata.partition(topic, index) === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER;
    }
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== partition.leaderEpoch) {
      return currentLeaderEpoch < partition.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    if (requireLeader && !partition.isLeader) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return partition;
  }

  /** Calls `listener` when a hosted partition changes role or leader epoch, or stops being hosted. */
  onRoleChange(listener: (partition: Partition, role: "leader" | "follower" | "stopped") => void): void {
    this.#roleListeners.push(listener);
  }

  /** Where leaders propose ISR changes (a cluster's metadata store); partitions hosted later get it too. */
  set isrChanges(changes: IsrChanges) {
    this.#isrChanges = changes;
    for (const partition of this.all()) partition.isrChanges = changes;
  }

  /**
   * Hosts `metadata`'s partition with the cluster's `state` (leader or follower), opening its log
   * or creating it with `config`; a partition already hosted gets the state instead (applyState).
   */
  async host(metadata: { topic: string; topicId: string; index: number }, state: PartitionState, config: LogConfig): Promise<Partition> {
    const existing = this.get(metadata.topic, metadata.index);
    if (existing !== undefined) {
      this.applyState(existing, state);
      return existing;
    }
    const log =
      this.#logs.get(metadata.topic, metadata.index) ??
      (await this.#logs.createPartition(metadata.topic, metadata.index, { topicId: metadata.topicId, config }));
    const checkpointed = await this.#checkpointedHighWatermark(metadata.topic, metadata.index);
    const partition = new Partition(metadata.topic, metadata.topicId, metadata.index, log, this.#metadata.nodeId, state, checkpointed);
    partition.isrChanges = this.#isrChanges;
    this.#put(partition);
    this.#announce(partition, partition.isLeader ? "leader" : "follower");
    return partition;
  }

  /** Applies a newer state to a hosted partition (role, leader epoch, ISR), telling the listeners of a role or epoch change. */
  applyState(partition: Partition, state: PartitionState): void {
    if (state.partitionEpoch < partition.state.partitionEpoch) return;
    if (state.partitionEpoch === partition.state.partitionEpoch && state.leaderEpoch === partition.state.leaderEpoch) return;
    const change = partition.applyState(state, Date.now());
    if (change !== null) this.#announce(partition, change);
  }

  /** Stops hosting one partition (moved to other brokers); deletes its log when `deleteLog`. */
  async stopPartition(topic: string, index: number, deleteLog: boolean): Promise<void> {
    const partition = this.get(topic, index);
    if (partition === undefined) return;
    const hosted = this.#partitions.get(topic);
    if (hosted !== undefined) delete hosted[index];
    partition.releaseWaiters();
    this.#announce(partition, "stopped");
    if (deleteLog) await this.#logs.deletePartition(topic, index);
  }

  #announce(partition: Partition, role: "leader" | "follower" | "stopped"): void {
    for (const listener of this.#roleListeners) listener(partition, role);
  }

  async #checkpointedHighWatermark(topic: string, index: number): Promise<bigint | null> {
    this.#checkpointedHighWatermarks ??= new Map(
      this.#logs.readHighWatermarks().map((entry) => [`${entry.topic}-${entry.partition}`, entry.highWatermark] as const),
    );
    // Used once: a partition hosted again later (moved away and back) must not start from a stale value.
    const key = `${topic}-${index}`;
    const checkpointed = this.#checkpointedHighWatermarks.get(key) ?? null;
    this.#checkpointedHighWatermarks.delete(key);
    return checkpointed;
  }

  #put(partition: Partition): void {
    let hosted = this.#partitions.get(partition.topic);
    if (hosted === undefined) {
      hosted = [];
      this.#partitions.set(partition.topic, hosted);
    }
    hosted[partition.index] = partition;
  }

  /**
   * Hosts `metadata`'s partition as its leader: opens its log (or creates it with the topic's
   * `config`) and serves it from now on. Called by the topic manager before the partition is
   * published in the metadata cache, so no request sees it half made.
   */
  async becomeLeader(metadata: PartitionMetadata, config: LogConfig): Promise<Partition> {
    const existing = this.get(metadata.topic, metadata.index);
    if (existing !== undefined) return existing;
    const log =
      this.#logs.get(metadata.topic, metadata.index) ??
      (await this.#logs.createPartition(metadata.topic, metadata.index, { topicId: metadata.topicId, config }));
    const partition = new Partition(
      metadata.topic,
      metadata.topicId,
      metadata.index,
      log,
      this.#metadata.nodeId,
      soleLeaderState(this.#metadata.nodeId, metadata.leaderEpoch),
    );
    this.#put(partition);
    this.#announce(partition, "leader");
    return partition;
  }

  /** Stops hosting every partition of `topic` and deletes their logs (topic deletion). */
  async deletePartitions(topic: string): Promise<void> {
    const partitions = this.#partitions.get(topic) ?? [];
    this.#partitions.delete(topic);
    for (const partition of partitions) {
      if (partition === undefined) continue;
      partition.releaseWaiters();
      this.#announce(partition, "stopped");
      await this.#logs.deletePartition(topic, partition.index);
    }
  }

  /**
   * Waits until appends to `partitions` add up to `minBytes` (counting `bytesAlready`), one of
   * them goes away, `maxWaitMs` passes or the manager closes; then resolves (never rejects).
   * Resolves in a later macrotask, so the append that woke it answers its producer first.
   * `readCommitted`: a read_committed fetch sees nothing past the last stable offset, so an append
   * counts only when it moved that partition's LSO (an open transaction's records do not; its
   * marker does) — Kafka's DelayedFetch bounds by the LSO the same way. `replica`: a follower's
   * fetch, woken by appends to the log end rather than by the high watermark moving.
   */
  waitForAppends(
    partitions: Iterable<Partition>,
    minBytes: number,
    maxWaitMs: number,
    bytesAlready = 0,
    readCommitted = false,
    replica = false,
  ): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waitedOn = new Set(partitions);
      const stableOffsets = readCommitted ? new Map([...waitedOn].map((partition) => [partition, partition.lastStableOffset])) : null;
      let bytes = bytesAlready;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const partition of waitedOn) partition.removeWaiter(waiter);
        this.#parked.delete(finish);
        setImmediate(resolve);
      };
      const waiter: AppendWaiter = {
        onAppend(partition, appended) {
          if (stableOffsets !== null && appended > 0) {
            const stable = partition.lastStableOffset;
            if (stable === stableOffsets.get(partition)) return;
            stableOffsets.set(partition, stable);
          }
          bytes += appended;
          if (bytes >= minBytes || appended === 0) finish();
        },
      };
      const timer = setTimeout(finish, maxWaitMs);
      for (const partition of waitedOn) partition.addWaiter(waiter, replica);
      this.#parked.add(finish);
    });
  }

  /** Shutdown: answers every parked long poll now; later waits resolve at once. */
  close(): void {
    this.#closed = true;
    for (const answerNow of [...this.#parked]) answerNow();
  }
}
