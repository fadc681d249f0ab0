// The share coordinator (Kafka's ShareCoordinatorService and ShareCoordinatorShard, KIP-932): a
// broker service that owns the durable state of share partitions in __share_group_state. The key
// of a share partition is "groupId:topicId:partition"; its coordinator partition is Kafka's
// abs(key.hashCode()) % share.coordinator.state.topic.num.partitions, and the leader of that
// partition coordinates it. The state of a share partition: the state epoch (bumped when an admin
// resets it), the leader epoch of the share-partition leader that wrote last (an older leader is
// fenced), the share-partition start offset, and state batches (offset ranges with their delivery
// state — 0 available, 2 acknowledged, 4 archived — and delivery count).
//
// Writes are ShareUpdate records (the batches a share-partition leader changed, merged into the
// state as Kafka's StateBatchUtil merges them); every
// share.coordinator.snapshot.update.records.per.snapshot updates, and on initialization, a
// ShareSnapshot holds the whole state. Like the group coordinator, each change is appended as one
// batch and acknowledged once committed (replicated to the ISR); loading replays the partition from
// its start (a snapshot replaces the state, an update merges into it, a tombstone deletes it).
//
// The persister (src/share/persister.ts) reaches this service directly when this broker leads the
// key's partition, else through the other broker's Read/Write/Initialize/Delete/ReadSummary
// ShareGroupState APIs (src/handlers/share/), which end here.

import type { Logger } from "pino";
import type { MetadataCache } from "../../cluster/metadata-cache.js";
import type { Topics } from "../../cluster/topic-manager.js";
import type { BrokerConfig } from "../../config/index.js";
import type { Partition } from "../../log/partition.js";
import type { PartitionManager } from "../../log/partition-manager.js";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import { batches, buildRecordBatch, decodeRecords } from "../../protocol/records.js";
import { CoordinatorTopic, coordinatorLogUnavailable } from "../coordinator-topic.js";
import type { ShareSnapshotValue } from "../generated/share/share-snapshot.js";
import type { ShareUpdateValue } from "../generated/share/share-update.js";
import { coordinatorPartition } from "../partitioner.js";
import { ShareRecordType, shareRecords } from "../records.js";

export const SHARE_STATE_TOPIC = "__share_group_state";

export interface StateBatch {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** 0 available, 2 acknowledged, 4 archived. */
  readonly deliveryState: number;
  readonly deliveryCount: number;
}

export interface SharePartitionState {
  readonly snapshotEpoch: number;
  readonly stateEpoch: number;
  readonly leaderEpoch: number;
  readonly startOffset: bigint;
  readonly deliveryCompleteCount: number;
  readonly createTimestamp: bigint;
  readonly writeTimestamp: bigint;
  readonly stateBatches: readonly StateBatch[];
}

/** What an operation answers: Kafka's error code and message, and for a read the state (null: none). */
export interface ShareStateResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly state?: SharePartitionState | null;
}

const OK: ShareStateResult = { errorCode: ErrorCode.NONE, errorMessage: null };

export function shareStateKey(groupId: string, topicId: string, partition: number): string {
  return `${groupId}:${topicId}:${partition}`;
}

/**
 * StateBatchUtil.combineStateBatches: `updates` override the offsets they cover in `current`;
 * everything below `startOffset` goes; adjacent batches of the same state and count are joined.
 */
export function mergeStateBatches(current: readonly StateBatch[], updates: readonly StateBatch[], startOffset: bigint): StateBatch[] {
  let out: StateBatch[] = current.map((b) => ({ ...b }));
  for (const update of updates) {
    const next: StateBatch[] = [];
    for (const batch of out) {
      if (batch.lastOffset < update.firstOffset || batch.firstOffset > update.lastOffset) {
        next.push(batch);
        continue;
      }
      if (batch.firstOffset < update.firstOffset) next.push({ ...batch, lastOffset: update.firstOffset - 1n });
      if (batch.lastOffset > update.lastOffset) next.push({ ...batch, firstOffset: update.lastOffset + 1n });
    }
    next.push({ ...update });
    next.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
    out = next;
  }
  const pruned: StateBatch[] = [];
  for (const batch of out) {
    if (batch.lastOffset < startOffset) continue;
    const trimmed = batch.firstOffset < startOffset ? { ...batch, firstOffset: startOffset } : batch;
    const last = pruned.at(-1);
    if (
      last !== undefined &&
      last.lastOffset + 1n === trimmed.firstOffset &&
      last.deliveryState === trimmed.deliveryState &&
      last.deliveryCount === trimmed.deliveryCount
    ) {
      pruned[pruned.length - 1] = { ...last, lastOffset: trimmed.lastOffset };
    } else {
      pruned.push(trimmed);
    }
  }
  return pruned;
}

interface Entry {
  state: SharePartitionState;
  updatesSinceSnapshot: number;
}

type ShardState = "loading" | "active" | "failed" | "closed";

class ShareStateShard {
  readonly states = new Map<string, Entry>();
  state: ShardState = "loading";
  loadedRecords = 0;

  constructor(
    readonly index: number,
    readonly partition: Partition,
  ) {}

  get availability(): number {
    if (this.state === "active") return ErrorCode.NONE;
    return this.state === "loading" ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR;
  }

  /** Appends one record and applies it. */
  write(
    recordType: number,
    key: { groupId: string; topicId: string; partition: number },
    value: ShareSnapshotValue | ShareUpdateValue | null,
    nowMs: number,
  ): void {
    const encoded = shareRecords.encode({ recordType, key: { ...key, unknownTaggedFields: undefined }, value, version: value === null ? -1 : 0 });
    const batch = buildRecordBatch({ baseTimestamp: BigInt(nowMs), records: [{ key: encoded.key, value: encoded.value, timestamp: BigInt(nowMs) }] });
    try {
      this.partition.appendAsCoordinator(batch, nowMs);
    } catch (error) {
      if (coordinatorLogUnavailable(error)) {
        throw new KafkaError("NOT_COORDINATOR", `the share coordinator log ${this.partition} failed: ${(error as Error).message}`, { cause: error });
      }
      throw new KafkaError("UNKNOWN_SERVER_ERROR", undefined, { cause: error });
    }
    this.replay(recordType, key, value);
  }

  replay(recordType: number, key: { groupId: string; topicId: string; partition: number }, value: ShareSnapshotValue | ShareUpdateValue | null): void {
    const id = shareStateKey(key.groupId, key.topicId, key.partition);
    if (value === null) {
      this.states.delete(id);
      return;
    }
    if (recordType === ShareRecordType.ShareSnapshot) {
      const snapshot = value as ShareSnapshotValue;
      this.states.set(id, {
        state: {
          snapshotEpoch: snapshot.snapshotEpoch,
          stateEpoch: snapshot.stateEpoch,
          leaderEpoch: snapshot.leaderEpoch,
          startOffset: snapshot.startOffset,
          deliveryCompleteCount: snapshot.deliveryCompleteCount,
          createTimestamp: snapshot.createTimestamp,
          writeTimestamp: snapshot.writeTimestamp,
          stateBatches: snapshot.stateBatches.map(({ firstOffset, lastOffset, deliveryState, deliveryCount }) => ({
            firstOffset,
            lastOffset,
            deliveryState,
            deliveryCount,
          })),
        },
        updatesSinceSnapshot: 0,
      });
      return;
    }
    const update = value as ShareUpdateValue;
    const entry = this.states.get(id);
    if (entry === undefined) return; // an update without a snapshot before it (Kafka ignores it too)
    const startOffset = update.startOffset === -1n ? entry.state.startOffset : update.startOffset;
    entry.state = {
      ...entry.state,
      leaderEpoch: update.leaderEpoch,
      startOffset,
      deliveryCompleteCount: update.deliveryCompleteCount,
      stateBatches: mergeStateBatches(entry.state.stateBatches, update.stateBatches, startOffset),
    };
    entry.updatesSinceSnapshot++;
  }

  async load(bufferBytes: number): Promise<void> {
    const log = this.partition.log;
    const end = log.logEndOffset;
    let offset = log.logStartOffset;
    while (offset < end && this.state === "loading") {
      const read = log.readCopy(offset, bufferBytes, end);
      if (read.bytes.length === 0) break;
      for (const batch of batches(read.bytes)) {
        if (batch.nextOffset <= offset || batch.isControl) continue;
        for (const record of decodeRecords(batch)) {
          if (record.key === null) continue;
          try {
            const decoded = shareRecords.decode(record.key, record.value);
            this.replay(decoded.recordType, decoded.key as { groupId: string; topicId: string; partition: number }, decoded.value as ShareSnapshotValue | null);
            this.loadedRecords++;
          } catch {
            // Record types and versions this broker does not know are skipped (forward compatibility).
          }
        }
      }
      offset = read.nextOffset;
      await new Promise<void>((resume) => setImmediate(resume));
    }
    if (this.state === "loading") this.state = "active";
  }
}

export interface ShareCoordinatorServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly topics: Topics;
}

export class ShareCoordinator {
  readonly #services: ShareCoordinatorServices;
  readonly #logger: Logger;
  readonly #shards = new Map<number, ShareStateShard>();
  readonly #numPartitions: number;
  readonly #snapshotEvery: number;
  readonly #writeTimeoutMs: number;
  readonly #loadBufferSize: number;
  readonly #topic: CoordinatorTopic;
  readonly #loads: Promise<void>[] = [];
  #closed = false;

  constructor(services: ShareCoordinatorServices) {
    this.#services = services;
    this.#logger = services.logger.child({ component: "share-coordinator" });
    this.#topic = new CoordinatorTopic({ ...services, logger: this.#logger }, SHARE_STATE_TOPIC);
    const int = (name: string, fallback: number) => Number(services.config.get(name) ?? fallback);
    this.#numPartitions = int("share.coordinator.state.topic.num.partitions", 50);
    this.#snapshotEvery = int("share.coordinator.snapshot.update.records.per.snapshot", 500);
    this.#writeTimeoutMs = int("share.coordinator.write.timeout.ms", 5000);
    this.#loadBufferSize = int("share.coordinator.load.buffer.size", 5 * 1024 * 1024);
  }

  start(): void {
    if (this.#services.metadata.topic(SHARE_STATE_TOPIC) !== undefined) this.#hostShards(true);
  }

  async loaded(): Promise<void> {
    await Promise.all(this.#loads);
  }

  close(): void {
    this.#closed = true;
    for (const shard of this.#shards.values()) shard.state = "closed";
  }

  /** The __share_group_state partition of a share partition's key. */
  partitionFor(groupId: string, topicId: string, partition: number): number {
    const topic = this.#services.metadata.topic(SHARE_STATE_TOPIC);
    return coordinatorPartition(shareStateKey(groupId, topicId, partition), topic?.partitions.length ?? this.#numPartitions);
  }

  /** Creates __share_group_state with Kafka's settings on first use. */
  ensureTopic(): Promise<void> {
    const { config } = this.#services;
    const cluster = config.metadataStore !== null;
    return this.#topic.ensure(
      this.#numPartitions,
      {
        "cleanup.policy": "delete",
        "compression.type": "producer",
        "segment.bytes": String(config.get("share.coordinator.state.topic.segment.bytes") ?? 104857600),
        "retention.ms": "-1",
        "min.insync.replicas": cluster ? String(config.get("share.coordinator.state.topic.min.isr") ?? 2) : "1",
      },
      { replicationFactor: Number(config.get("share.coordinator.state.topic.replication.factor") ?? 3) },
      () => this.#hostShards(false),
    );
  }

  #hostShards(load: boolean): void {
    for (const partition of this.#topic.unhostedLeaders(this.#shards)) this.#hostShard(partition, load);
  }

  onPartitionRole(partition: Partition, role: "leader" | "follower" | "stopped"): void {
    if (partition.topic !== SHARE_STATE_TOPIC || this.#closed) return;
    const shard = this.#shards.get(partition.index);
    if (shard !== undefined) {
      this.#shards.delete(partition.index);
      shard.state = "closed";
    }
    if (role === "leader") this.#hostShard(partition, partition.log.logEndOffset > partition.logStartOffset);
  }

  #hostShard(partition: Partition, load: boolean): void {
    const shard = new ShareStateShard(partition.index, partition);
    this.#shards.set(partition.index, shard);
    if (!load) {
      shard.state = "active";
      return;
    }
    this.#loads.push(
      shard.load(this.#loadBufferSize).then(
        () => {
          if (shard.loadedRecords > 0)
            this.#logger.info({ partition: `${SHARE_STATE_TOPIC}-${shard.index}`, records: shard.loadedRecords }, "loaded share coordinator partition");
        },
        (error) => {
          shard.state = "failed";
          this.#logger.error({ err: error, partition: `${SHARE_STATE_TOPIC}-${shard.index}` }, "failed to load share coordinator partition");
        },
      ),
    );
  }

  /** The shard coordinating a key here, or the error a request for it gets. */
  #shardFor(groupId: string, topicId: string, partition: number): ShareStateShard | number {
    if (this.#closed) return ErrorCode.NOT_COORDINATOR;
    if (this.#services.metadata.topic(SHARE_STATE_TOPIC) === undefined) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const shard = this.#shards.get(this.partitionFor(groupId, topicId, partition));
    if (shard === undefined) return ErrorCode.NOT_COORDINATOR;
    return shard.state === "active" ? shard : shard.availability;
  }

  async #durable(shard: ShareStateShard): Promise<ShareStateResult> {
    const committed = await shard.partition.whenCommitted(this.#writeTimeoutMs);
    if (committed === ErrorCode.NONE) return OK;
    return { errorCode: committed === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : committed, errorMessage: null };
  }

  #failed(error: unknown): ShareStateResult {
    if (error instanceof KafkaError) return { errorCode: error.code, errorMessage: error.message };
    this.#logger.error({ err: error }, "share coordinator write failed");
    return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null };
  }

  /** InitializeShareGroupState: a new state (snapshot) unless one of this state epoch or newer exists. */
  async initialize(groupId: string, topicId: string, partition: number, stateEpoch: number, startOffset: bigint): Promise<ShareStateResult> {
    const shard = this.#shardFor(groupId, topicId, partition);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    const existing = shard.states.get(shareStateKey(groupId, topicId, partition));
    if (existing !== undefined && existing.state.stateEpoch >= stateEpoch && existing.state.startOffset !== -1n) {
      return {
        errorCode: ErrorCode.FENCED_STATE_EPOCH,
        errorMessage: `Initialize request state epoch ${stateEpoch} is not newer than ${existing.state.stateEpoch}.`,
      };
    }
    const now = BigInt(Date.now());
    try {
      shard.write(
        ShareRecordType.ShareSnapshot,
        { groupId, topicId, partition },
        {
          snapshotEpoch: (existing?.state.snapshotEpoch ?? -1) + 1,
          stateEpoch,
          leaderEpoch: -1,
          startOffset,
          deliveryCompleteCount: 0,
          createTimestamp: now,
          writeTimestamp: now,
          stateBatches: [],
        },
        Date.now(),
      );
    } catch (error) {
      return this.#failed(error);
    }
    return this.#durable(shard);
  }

  /** ReadShareGroupState: the state (null when none), fencing older leader epochs and recording newer ones. */
  async read(groupId: string, topicId: string, partition: number, leaderEpoch: number): Promise<ShareStateResult> {
    const shard = this.#shardFor(groupId, topicId, partition);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    const entry = shard.states.get(shareStateKey(groupId, topicId, partition));
    if (entry === undefined) return { ...OK, state: null };
    if (leaderEpoch !== -1 && leaderEpoch < entry.state.leaderEpoch) {
      return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, errorMessage: `Read request leader epoch ${leaderEpoch} is older than ${entry.state.leaderEpoch}.` };
    }
    if (leaderEpoch > entry.state.leaderEpoch) {
      const written = await this.write(groupId, topicId, partition, {
        leaderEpoch,
        stateEpoch: entry.state.stateEpoch,
        startOffset: -1n,
        deliveryCompleteCount: entry.state.deliveryCompleteCount,
        stateBatches: [],
      });
      if (written.errorCode !== ErrorCode.NONE) return written;
    }
    return { ...OK, state: shard.states.get(shareStateKey(groupId, topicId, partition))?.state ?? null };
  }

  /** ReadShareGroupStateSummary: the start offset and state epoch without batches. */
  readSummary(groupId: string, topicId: string, partition: number): ShareStateResult {
    const shard = this.#shardFor(groupId, topicId, partition);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    return { ...OK, state: shard.states.get(shareStateKey(groupId, topicId, partition))?.state ?? null };
  }

  /** WriteShareGroupState: batches merged into the state (an update, or a snapshot every N updates). */
  async write(
    groupId: string,
    topicId: string,
    partition: number,
    input: { leaderEpoch: number; stateEpoch: number; startOffset: bigint; deliveryCompleteCount: number; stateBatches: readonly StateBatch[] },
  ): Promise<ShareStateResult> {
    const shard = this.#shardFor(groupId, topicId, partition);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    const key = { groupId, topicId, partition };
    const entry = shard.states.get(shareStateKey(groupId, topicId, partition));
    const now = BigInt(Date.now());
    try {
      if (entry === undefined) {
        // A write without an initialized state makes one (Kafka writes a snapshot then).
        shard.write(
          ShareRecordType.ShareSnapshot,
          key,
          {
            snapshotEpoch: 0,
            stateEpoch: input.stateEpoch,
            leaderEpoch: input.leaderEpoch,
            startOffset: input.startOffset,
            deliveryCompleteCount: input.deliveryCompleteCount,
            createTimestamp: now,
            writeTimestamp: now,
            stateBatches: mergeStateBatches([], input.stateBatches, input.startOffset),
          },
          Date.now(),
        );
        return this.#durable(shard);
      }
      if (input.leaderEpoch !== -1 && input.leaderEpoch < entry.state.leaderEpoch) {
        return {
          errorCode: ErrorCode.FENCED_LEADER_EPOCH,
          errorMessage: `Write request leader epoch ${input.leaderEpoch} is older than ${entry.state.leaderEpoch}.`,
        };
      }
      if (input.stateEpoch < entry.state.stateEpoch) {
        return {
          errorCode: ErrorCode.FENCED_STATE_EPOCH,
          errorMessage: `Write request state epoch ${input.stateEpoch} is older than ${entry.state.stateEpoch}.`,
        };
      }
      const leaderEpoch = input.leaderEpoch === -1 ? entry.state.leaderEpoch : input.leaderEpoch;
      if (entry.updatesSinceSnapshot >= this.#snapshotEvery || input.stateEpoch > entry.state.stateEpoch) {
        const startOffset = input.startOffset === -1n ? entry.state.startOffset : input.startOffset;
        shard.write(
          ShareRecordType.ShareSnapshot,
          key,
          {
            snapshotEpoch: entry.state.snapshotEpoch + 1,
            stateEpoch: input.stateEpoch,
            leaderEpoch,
            startOffset,
            deliveryCompleteCount: input.deliveryCompleteCount,
            createTimestamp: entry.state.createTimestamp,
            writeTimestamp: now,
            stateBatches: mergeStateBatches(input.stateEpoch > entry.state.stateEpoch ? [] : entry.state.stateBatches, input.stateBatches, startOffset),
          },
          Date.now(),
        );
      } else {
        shard.write(
          ShareRecordType.ShareUpdate,
          key,
          {
            snapshotEpoch: entry.state.snapshotEpoch,
            leaderEpoch,
            startOffset: input.startOffset,
            deliveryCompleteCount: input.deliveryCompleteCount,
            stateBatches: input.stateBatches.map((b) => ({ ...b })),
          },
          Date.now(),
        );
      }
    } catch (error) {
      return this.#failed(error);
    }
    return this.#durable(shard);
  }

  /** DeleteShareGroupState: the state is tombstoned. */
  async delete(groupId: string, topicId: string, partition: number): Promise<ShareStateResult> {
    const shard = this.#shardFor(groupId, topicId, partition);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    if (!shard.states.has(shareStateKey(groupId, topicId, partition))) return OK;
    try {
      shard.write(ShareRecordType.ShareSnapshot, { groupId, topicId, partition }, null, Date.now());
      shard.write(ShareRecordType.ShareUpdate, { groupId, topicId, partition }, null, Date.now());
    } catch (error) {
      return this.#failed(error);
    }
    return this.#durable(shard);
  }
}
