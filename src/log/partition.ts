// A partition this broker hosts, as the leader or a follower (Kafka's Partition): its log, the
// partition state the metadata gives it (leader, leader epoch, replicas, ISR, partition epoch),
// its high watermark, and — as the leader — what each follower has fetched, the long polls parked
// on it and the acks=all produces waiting for the ISR. Requests reach it through the partition
// manager (partition-manager.ts), which checks the leader epoch and the role first.
//
// High watermark. The leader's HW is the smallest log end offset over the ISR (its own included;
// during an ISR expansion the follower being added counts, Kafka's "maximal ISR"); it advances on
// each follower fetch and each append, never backwards. A follower's HW is the leader's last one
// bounded by its own log end. When the ISR is this broker alone (a single node, or a partition
// whose followers all fell out) the HW is the log end offset itself: an append is committed as
// soon as it is in the log, and the hot path pays one boolean test for replication.
//
// The last stable offset is the first offset of the oldest open transaction, else the HW (never
// past the HW). Read_committed consumers read below it, read_uncommitted ones below the HW.
//
// ISR changes (Kafka's AlterPartition) go through `IsrChanges` (the cluster's metadata store, by
// compare-and-swap on the partition epoch): a follower that caught up to the HW is added; one that
// has not caught up for replica.lag.time.max.ms is removed. The change applies when the metadata
// brings it back (applyState); until then the leader waits, as Kafka does with a pending ISR.
//
// Long polls: consumer fetches wait for the HW to move (the bytes committed), replica fetches for
// the log end to move (the bytes appended); on a single node both move together.

import type { LogAppendResult, ProduceAppendResult, ProduceSettings } from "../native.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import type { PartitionLog } from "./partition-log.js";

/** Size of an end-transaction marker batch (Kafka's: one control record). */
const END_TXN_MARKER_BYTES = 78;
/** Uncommitted appends remembered for waking consumers with the bytes the HW passes (older ones merge). */
const PENDING_APPENDS_MAX = 1024;

/** A parked Fetch, told how many bytes each append adds to a partition it waits on (0: stop waiting). */
export interface AppendWaiter {
  onAppend(partition: Partition, bytes: number): void;
}

/** The state the cluster metadata gives a partition (Kafka's PartitionRegistration). */
export interface PartitionState {
  /** -1 while the partition has no leader. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** A reassignment in progress (KIP-455): replicas being added and removed. */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

/** Where a leader proposes ISR changes (Kafka's AlterPartition to the controller). */
export interface IsrChanges {
  /** Proposes `isr` for `partition` at its current partition epoch; resolves false when refused (stale epoch). */
  alterIsr(partition: Partition, isr: readonly number[]): Promise<boolean>;
}

/** What the leader knows of one follower (Kafka's Replica / ReplicaState). */
export interface FollowerState {
  readonly replicaId: number;
  /** The offset the follower asked for last (its log end offset); -1 before its first fetch. */
  logEndOffset: bigint;
  /** The follower's log start offset as it last reported it. */
  logStartOffset: bigint;
  lastFetchTimeMs: number;
  /** The last time the follower had fetched up to the leader's log end. */
  lastCaughtUpTimeMs: number;
  /** The leader's log end offset when the follower last fetched. */
  lastFetchLeaderLogEndOffset: bigint;
}

/** An acks=all produce waiting for the HW to reach its last offset + 1. */
interface AcksWaiter {
  readonly requiredOffset: bigint;
  readonly resolve: (errorCode: number) => void;
}

/** The state a partition starts with when it is not given one (a single node: this broker leads alone, epoch 0). */
export function soleLeaderState(nodeId: number, leaderEpoch = 0): PartitionState {
  return { leaderId: nodeId, leaderEpoch, partitionEpoch: 0, replicas: [nodeId], isr: [nodeId] };
}

export class Partition {
  readonly #waiters = new Set<AppendWaiter>();
  readonly #replicaWaiters = new Set<AppendWaiter>();
  #state: PartitionState;
  /** This broker leads the partition and its ISR is this broker alone: HW = log end. */
  #sole: boolean;
  #leader: boolean;
  /** The HW when not #sole. */
  #highWatermark: bigint;
  readonly #followers = new Map<number, FollowerState>();
  /** An ISR proposed and not yet seen in the metadata (Kafka's PendingShrinkIsr/PendingExpandIsr). */
  #pendingIsr: readonly number[] | null = null;
  /** The log end offset when this broker became leader (Kafka's leaderEpochStartOffset). */
  #leaderEpochStartOffset = 0n;
  #acksWaiters: AcksWaiter[] = [];
  /** Appends not yet committed, for consumer wake-ups: [end offset, cumulative bytes]. */
  #pendingAppends: [bigint, number][] = [];
  #appendedBytes = 0;
  #committedBytes = 0;
  #isrChanges: IsrChanges | null = null;

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly index: number,
    readonly log: PartitionLog,
    /** This broker's node id. */
    readonly localId: number,
    state: PartitionState = soleLeaderState(localId),
    /** The checkpointed HW to start from (bounded by the log); when unknown, the log end for a sole leader, else the log start. */
    initialHighWatermark: bigint | null = null,
  ) {
    this.#state = state;
    this.#leader = state.leaderId === localId;
    this.#sole = this.#leader && state.isr.length === 1 && state.isr[0] === localId;
    const end = log.logEndOffset;
    // Without a checkpointed HW, only a sole leader knows everything is committed; anyone else starts
    // at the log start and learns the HW from the ISR (never exposing what was not committed).
    this.#highWatermark = initialHighWatermark !== null ? clamp(initialHighWatermark, log.logStartOffset, end) : this.#sole ? end : log.logStartOffset;
    if (this.#leader) this.#becameLeader(Date.now());
  }

  /** Where ISR changes are proposed (the cluster); none on a single node. */
  set isrChanges(changes: IsrChanges | null) {
    this.#isrChanges = changes;
  }

  get state(): PartitionState {
    return this.#state;
  }

  get leaderEpoch(): number {
    return this.#state.leaderEpoch;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** The ISR the leader counts for the HW and min.insync.replicas: the ISR, plus a follower being added. */
  get maximalIsr(): readonly number[] {
    const pending = this.#pendingIsr;
    if (pending === null || pending.length <= this.#state.isr.length) return this.#state.isr;
    return pending;
  }

  /** Offsets below it are committed (replicated to the whole ISR). */
  get highWatermark(): bigint {
    return this.#sole ? this.log.logEndOffset : this.#highWatermark;
  }

  /**
   * Read_committed consumers read below it: the first offset of the oldest open transaction, else
   * the high watermark (Kafka's UnifiedLog.lastStableOffset). A lock-free read.
   */
  get lastStableOffset(): bigint {
    const stable = this.log.lastStableOffset;
    if (this.#sole) return stable;
    const hw = this.#highWatermark;
    return stable < hw ? stable : hw;
  }

  get logStartOffset(): bigint {
    return this.log.logStartOffset;
  }

  /** The followers the leader tracks (DescribeQuorum-like views, metrics). */
  followers(): IterableIterator<FollowerState> {
    return this.#followers.values();
  }

  // ------------------------------------------------------------------------------------------
  // State changes (the partition manager, from the cluster metadata)

  /**
   * Applies a newer partition state: leadership gained or lost, a new leader epoch, an ISR or
   * replica set change. Returns "leader" / "follower" when the role or the leader epoch changed
   * (the caller starts or stops fetching), null otherwise.
   */
  applyState(state: PartitionState, nowMs: number): "leader" | "follower" | null {
    const previous = this.#state;
    this.#state = state;
    this.#pendingIsr = null;
    const leader = state.leaderId === this.localId;
    const epochChanged = state.leaderEpoch !== previous.leaderEpoch;
    const roleChanged = leader !== this.#leader;
    this.#leader = leader;
    if (leader) {
      const wasSole = this.#sole;
      this.#sole = state.isr.length === 1 && state.isr[0] === this.localId;
      // Leaving the sole state, the HW is where the log end was (everything appended was committed).
      if (wasSole && !this.#sole) this.#highWatermark = this.log.logEndOffset;
      if (roleChanged || epochChanged) this.#becameLeader(nowMs);
      for (const id of state.replicas) {
        if (id !== this.localId && !this.#followers.has(id)) this.#followers.set(id, newFollower(id, nowMs));
      }
      for (const id of [...this.#followers.keys()]) if (!state.replicas.includes(id)) this.#followers.delete(id);
      this.#maybeIncrementHighWatermark();
      this.#completeAcks();
      return roleChanged || epochChanged ? "leader" : null;
    }
    if (this.#sole) this.#highWatermark = this.log.logEndOffset;
    this.#sole = false;
    if (roleChanged) {
      this.#followers.clear();
      this.#failAcks(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // Consumers parked here look again (and are told to go to the new leader).
      this.#wakeConsumers(0);
    }
    return roleChanged || epochChanged ? "follower" : null;
  }

  #becameLeader(nowMs: number): void {
    this.log.assignLeaderEpoch(this.#state.leaderEpoch);
    this.#leaderEpochStartOffset = this.log.logEndOffset;
    // Kafka resets each follower as caught up at the election: a follower gets the full lag time.
    this.#followers.clear();
    for (const id of this.#state.replicas) if (id !== this.localId) this.#followers.set(id, newFollower(id, nowMs));
  }

  // ------------------------------------------------------------------------------------------
  // Leader: appends

  /**
   * A client's produce to this leader, in one native call (PartitionLog.appendProduce):
   * validates `records` with the topic's `settings`, recompresses, assigns offsets and the
   * leader epoch, appends, and wakes the long polls parked here when bytes were appended.
   * Records that fail validation come back as Kafka's error code; a refused append (producer
   * state, I/O) throws a LogError.
   */
  appendRecordsToLeader(records: Buffer, settings: ProduceSettings, produceVersion: number, nowMs: number): ProduceAppendResult {
    this.#requireLeader();
    const result = this.log.appendProduce(records, settings, produceVersion, nowMs, this.#state.leaderEpoch);
    if (result.appendedBytes > 0) this.#appended(result.appendedBytes);
    return result;
  }

  /**
   * The broker's own write to this partition (a coordinator's records, built and validated by the
   * coordinator): offsets and the leader epoch assigned, producer epochs checked, long polls woken.
   * Throws a LogError when the log refuses it.
   */
  appendAsCoordinator(batches: Buffer, nowMs: number): LogAppendResult {
    this.#requireLeader();
    const result = this.log.append(batches, { nowMs, leaderEpoch: this.#state.leaderEpoch, origin: "coordinator" });
    this.#appended(batches.length);
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
    this.#requireLeader();
    const result = this.log.appendTxnMarker(producerId, producerEpoch, coordinatorEpoch, commit, nowMs, this.#state.leaderEpoch, transactionVersion);
    this.#appended(END_TXN_MARKER_BYTES);
    return result;
  }

  /**
   * Kafka's appendRecordsToLeader refuses a partition this broker does not lead (leaderLogIfLocal):
   * leadership can move while a request waits (a transactional produce's verification by a remote
   * coordinator, a coordinator's write). Appended here, the batch would carry the new leader's epoch
   * in a follower's log, where no divergence check finds it.
   */
  #requireLeader(): void {
    if (!this.#leader) throw new KafkaError("NOT_LEADER_OR_FOLLOWER", `Leader not local for partition ${this} on broker ${this.localId}`);
  }

  #appended(bytes: number): void {
    if (this.#replicaWaiters.size > 0) this.#wakeReplicas(bytes);
    if (this.#sole) {
      this.#wakeConsumers(bytes);
      return;
    }
    this.#appendedBytes += bytes;
    const end = this.log.logEndOffset;
    const pending = this.#pendingAppends;
    if (pending.length < PENDING_APPENDS_MAX) pending.push([end, this.#appendedBytes]);
    else pending[pending.length - 1] = [end, this.#appendedBytes];
    this.#maybeIncrementHighWatermark();
  }

  /**
   * acks=all: resolves with NONE once the HW reaches `requiredOffset` (the appended records' last
   * offset + 1) and the ISR still has `minInsyncReplicas` members, NOT_ENOUGH_REPLICAS_AFTER_APPEND
   * when it has fewer, NOT_LEADER_OR_FOLLOWER when leadership moves first. The caller bounds the
   * wait (the request's timeout) with `cancel`.
   */
  waitForCommit(requiredOffset: bigint, minInsyncReplicas: number): { done: Promise<number>; cancel: () => void } {
    let waiter: AcksWaiter | undefined;
    const done = new Promise<number>((resolve) => {
      const settle = (errorCode: number) =>
        resolve(errorCode === ErrorCode.NONE && this.maximalIsr.length < minInsyncReplicas ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : errorCode);
      if (!this.#leader) return resolve(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      if (this.highWatermark >= requiredOffset) return settle(ErrorCode.NONE);
      waiter = { requiredOffset, resolve: settle };
      this.#acksWaiters.push(waiter);
    });
    return {
      done,
      cancel: () => {
        if (waiter !== undefined) this.#acksWaiters = this.#acksWaiters.filter((w) => w !== waiter);
      },
    };
  }

  /**
   * Once everything appended so far is committed (a coordinator's writes are acknowledged like
   * acks=all): NONE at once when it already is (always on a single node), else when the HW gets
   * there; REQUEST_TIMED_OUT after `timeoutMs`; NOT_LEADER_OR_FOLLOWER if leadership moves first.
   */
  whenCommitted(timeoutMs: number): number | Promise<number> {
    const required = this.log.logEndOffset;
    if (this.highWatermark >= required) return ErrorCode.NONE;
    const wait = this.waitForCommit(required, 1);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(ErrorCode.REQUEST_TIMED_OUT), timeoutMs);
    });
    return Promise.race([wait.done, timeout]).then((error) => {
      clearTimeout(timer);
      wait.cancel();
      return error;
    });
  }

  #completeAcks(): void {
    if (this.#acksWaiters.length === 0) return;
    const hw = this.highWatermark;
    const still: AcksWaiter[] = [];
    for (const waiter of this.#acksWaiters) {
      if (waiter.requiredOffset <= hw) waiter.resolve(ErrorCode.NONE);
      else still.push(waiter);
    }
    this.#acksWaiters = still;
  }

  #failAcks(errorCode: number): void {
    const waiters = this.#acksWaiters;
    this.#acksWaiters = [];
    for (const waiter of waiters) waiter.resolve(errorCode);
  }

  // ------------------------------------------------------------------------------------------
  // Leader: followers

  /**
   * A follower's fetch at `fetchOffset` (its log end offset) reached this leader, whose log end
   * was `leaderEndOffset` when it was read (Kafka's Partition.updateFollowerFetchState): the
   * follower's progress is recorded, it may join the ISR, and the HW may advance. False when
   * `replicaId` is not a replica of this partition (Kafka answers NOT_LEADER_OR_FOLLOWER... its
   * fetch is ignored).
   */
  updateFollowerFetchState(replicaId: number, fetchOffset: bigint, followerLogStartOffset: bigint, leaderEndOffset: bigint, nowMs: number): boolean {
    const follower = this.#followers.get(replicaId);
    if (follower === undefined) return false;
    if (fetchOffset >= leaderEndOffset) follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, nowMs);
    else if (fetchOffset >= follower.lastFetchLeaderLogEndOffset) follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, follower.lastFetchTimeMs);
    follower.logEndOffset = fetchOffset;
    follower.logStartOffset = followerLogStartOffset;
    follower.lastFetchLeaderLogEndOffset = leaderEndOffset;
    follower.lastFetchTimeMs = nowMs;
    this.#maybeExpandIsr(follower);
    this.#maybeIncrementHighWatermark();
    return true;
  }

  /** Kafka's maybeExpandIsr: a follower out of the ISR that reached the HW (in this leader's epoch) joins it. */
  #maybeExpandIsr(follower: FollowerState): void {
    if (this.#pendingIsr !== null || this.#isrChanges === null) return;
    const isr = this.#state.isr;
    if (isr.includes(follower.replicaId)) return;
    const hw = this.highWatermark;
    if (follower.logEndOffset < hw || follower.logEndOffset < this.#leaderEpochStartOffset) return;
    this.#proposeIsr([...isr, follower.replicaId]);
  }

  /**
   * Kafka's maybeShrinkIsr, run periodically: followers of the ISR that have not caught up with
   * the leader's log end within `lagTimeMaxMs` leave it.
   */
  maybeShrinkIsr(nowMs: number, lagTimeMaxMs: number): void {
    if (!this.#leader || this.#pendingIsr !== null || this.#isrChanges === null) return;
    const isr = this.#state.isr;
    const end = this.log.logEndOffset;
    const outOfSync = isr.filter((id) => {
      if (id === this.localId) return false;
      const follower = this.#followers.get(id);
      if (follower === undefined) return true;
      return follower.logEndOffset !== end && nowMs - follower.lastCaughtUpTimeMs > lagTimeMaxMs;
    });
    if (outOfSync.length === 0) return;
    this.#proposeIsr(isr.filter((id) => !outOfSync.includes(id)));
  }

  #proposeIsr(isr: readonly number[]): void {
    const changes = this.#isrChanges;
    if (changes === null) return;
    this.#pendingIsr = isr;
    const epoch = this.#state.partitionEpoch;
    changes.alterIsr(this, isr).then(
      (accepted) => {
        // Refused (a newer state exists): the metadata brings it; propose again from there.
        if (!accepted && this.#state.partitionEpoch === epoch) this.#pendingIsr = null;
      },
      () => {
        if (this.#state.partitionEpoch === epoch) this.#pendingIsr = null;
      },
    );
  }

  #maybeIncrementHighWatermark(): void {
    if (!this.#leader || this.#sole) return;
    let hw = this.log.logEndOffset;
    for (const id of this.maximalIsr) {
      if (id === this.localId) continue;
      const offset = this.#followers.get(id)?.logEndOffset ?? -1n;
      if (offset < hw) hw = offset;
    }
    if (hw <= this.#highWatermark) return;
    this.#highWatermark = hw;
    this.#committed(hw);
  }

  /** The HW moved to `hw`: consumers parked here wake with the bytes it passed, acks=all produces complete. */
  #committed(hw: bigint): void {
    const pending = this.#pendingAppends;
    let taken = 0;
    let bytes = this.#committedBytes;
    while (taken < pending.length && pending[taken][0] <= hw) bytes = pending[taken++][1];
    if (taken > 0) pending.splice(0, taken);
    const woken = Math.max(bytes - this.#committedBytes, 1);
    this.#committedBytes = bytes;
    this.#wakeConsumers(woken);
    this.#completeAcks();
  }

  // ------------------------------------------------------------------------------------------
  // Follower

  /**
   * A follower's HW after a fetch from the leader: the leader's, bounded by this log's end
   * (Kafka's maybeUpdateHighWatermark on the follower). May go back only on truncation.
   */
  updateFollowerHighWatermark(leaderHighWatermark: bigint): void {
    const end = this.log.logEndOffset;
    const hw = leaderHighWatermark < end ? leaderHighWatermark : end;
    if (hw !== this.#highWatermark) {
      const moved = hw > this.#highWatermark;
      this.#highWatermark = hw;
      if (moved) this.#wakeConsumers(1);
    }
  }

  /** After a truncation: the HW is not past the log end. */
  truncated(): void {
    const end = this.log.logEndOffset;
    if (this.#highWatermark > end) this.#highWatermark = end;
  }

  /** Follower appends wake parked consumers (KIP-392 fetches from followers) once the HW passes them. */
  appendedAsFollower(bytes: number): void {
    if (this.#replicaWaiters.size > 0) this.#wakeReplicas(bytes);
  }

  // ------------------------------------------------------------------------------------------
  // Long polls

  addWaiter(waiter: AppendWaiter, replica = false): void {
    (replica ? this.#replicaWaiters : this.#waiters).add(waiter);
  }

  removeWaiter(waiter: AppendWaiter): void {
    this.#waiters.delete(waiter);
    this.#replicaWaiters.delete(waiter);
  }

  /** Answers every long poll parked here now, and every acks=all produce (the partition is going away). */
  releaseWaiters(): void {
    this.#wakeConsumers(0);
    this.#wakeReplicas(0);
    this.#failAcks(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  #wakeConsumers(bytes: number): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter.onAppend(this, bytes);
  }

  #wakeReplicas(bytes: number): void {
    if (this.#replicaWaiters.size === 0) return;
    for (const waiter of [...this.#replicaWaiters]) waiter.onAppend(this, bytes);
  }

  toString(): string {
    return `${this.topic}-${this.index}`;
  }
}

function newFollower(replicaId: number, nowMs: number): FollowerState {
  return { replicaId, logEndOffset: -1n, logStartOffset: -1n, lastFetchTimeMs: nowMs, lastCaughtUpTimeMs: nowMs, lastFetchLeaderLogEndOffset: -1n };
}

function clamp(value: bigint, low: bigint, high: bigint): bigint {
  if (value < low) return low;
  return value > high ? high : value;
}
