// One share partition on its leader (Kafka's SharePartition, KIP-932): the records of one topic
// partition as one share group consumes them. It keeps the share-partition start offset (SPSO:
// below it every record is done), the end offset (SPEO: the first offset never acquired) and, for
// every offset in between, its state — as ranges of offsets in one state, never per record
// objects:
//
//   AVAILABLE     may be acquired (again); delivery count = deliveries so far
//   ACQUIRED      delivered to one member, locked until the acquisition lock times out
//   ACKNOWLEDGED  accepted: done
//   ARCHIVED      rejected, a gap, or delivered group.share.delivery.count.limit times: done
//
// ranges[] covers [startOffset, endOffset) exactly, sorted, without overlap. Acquiring takes the
// AVAILABLE offsets and the new ones (from endOffset up to the high watermark) in the window a
// fetch reads; a fetch returns whole on-disk batches plus the acquired offset ranges, and the
// client drops what it did not acquire, so batches are never split on disk or in memory.
// Acknowledging (accept, release, reject, renew) changes the member's ACQUIRED offsets; release and
// lock expiry make them AVAILABLE again unless the delivery count reached its limit. The SPSO moves
// past a leading run of ACKNOWLEDGED / ARCHIVED offsets. After each change the state is written
// to the share coordinator (the persister), and an acknowledgement is answered once it is durable.

import type { Logger } from "pino";
import type { Partition } from "../log/partition.js";
import type { LogSlice } from "../native.js";
import { ErrorCode } from "../protocol/errors.js";
import { batches } from "../protocol/records.js";
import { DLQ_DELIVERY_LIMIT, DLQ_REJECTED } from "./dlq.js";
import type { SharePersister } from "./persister.js";

export const RecordState = { AVAILABLE: 0, ACQUIRED: 1, ACKNOWLEDGED: 2, ARCHIVED: 4 } as const;
export const AcknowledgeType = { GAP: 0, ACCEPT: 1, RELEASE: 2, REJECT: 3, RENEW: 4 } as const;

interface Range {
  first: bigint;
  last: bigint;
  state: number;
  deliveryCount: number;
  memberId: string | null;
  lockUntil: number;
}

/** Offsets archived by a REJECT or the delivery count limit, for the dead-letter queue. */
export interface DeadLetterRange {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly deliveryCount: number;
  readonly message: string;
}

export interface AcquiredRange {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly deliveryCount: number;
}

export interface SharePartitionSettings {
  readonly lockDurationMs: number;
  readonly deliveryCountLimit: number;
  readonly maxRecordLocks: number;
  /** share.auto.offset.reset: where a share partition without state starts. */
  readonly autoOffsetReset: { type: "earliest" | "latest" } | { type: "by_duration"; durationMs: number };
  /** share.isolation.level is read_committed. */
  readonly readCommitted: boolean;
}

export interface Acquisition {
  readonly records: LogSlice | null;
  readonly acquired: readonly AcquiredRange[];
  readonly count: number;
}

const NOTHING: Acquisition = { records: null, acquired: [], count: 0 };

export class SharePartition {
  #ranges: Range[] = [];
  startOffset = -1n;
  endOffset = -1n;
  #stateEpoch = 0;
  #initializing: Promise<number> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #persisting: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Called when offsets became available again (a parked fetch may acquire them). */
  onAvailable: (() => void) | null = null;
  /** Called with what was archived by a REJECT or the delivery count limit, once that is durable (the DLQ). */
  onDeadLetters: ((letters: readonly DeadLetterRange[]) => void) | null = null;
  /** Archived ranges waiting for the next write before they go to the DLQ. */
  #dead: DeadLetterRange[] = [];

  constructor(
    readonly groupId: string,
    readonly partition: Partition,
    private readonly persister: SharePersister,
    private readonly settingsOf: () => SharePartitionSettings,
    private readonly logger: Logger,
  ) {}

  /** The group's settings now (group configs over the broker's). */
  get settings(): SharePartitionSettings {
    return this.settingsOf();
  }

  get topicId(): string {
    return this.partition.topicId;
  }

  get index(): number {
    return this.partition.index;
  }

  /** NONE once the state is read from the share coordinator (or started afresh), else the error. */
  initialize(): number | Promise<number> {
    if (this.startOffset >= 0n) return ErrorCode.NONE;
    this.#initializing ??= this.#load().then(
      (code) => {
        if (code !== ErrorCode.NONE) this.#initializing = null;
        return code;
      },
      (error: unknown) => {
        this.#initializing = null;
        this.logger.warn({ err: error, group: this.groupId, partition: this.partition.toString() }, "could not initialize the share partition");
        return ErrorCode.UNKNOWN_SERVER_ERROR;
      },
    );
    return this.#initializing;
  }

  async #load(): Promise<number> {
    const result = await this.persister.read(this.groupId, this.topicId, this.index, this.partition.leaderEpoch);
    if (result.errorCode !== ErrorCode.NONE) return result.errorCode;
    const state = result.state ?? null;
    const logStart = this.partition.logStartOffset;
    if (state === null || state.startOffset < 0n) {
      // Uninitialized: share.auto.offset.reset decides where the group starts.
      this.#stateEpoch = state?.stateEpoch ?? 0;
      this.startOffset = this.#resetOffset();
      this.endOffset = this.startOffset;
      this.#ranges = [];
      // Not written yet: as in Kafka, the start offset is first written with the first acknowledgement.
      return ErrorCode.NONE;
    }
    this.#stateEpoch = state.stateEpoch;
    // Records deleted from the log (retention, DeleteRecords) are gone for the share group too.
    const start = state.startOffset < logStart ? logStart : state.startOffset;
    const ranges: Range[] = [];
    let next = start;
    for (const batch of state.stateBatches) {
      if (batch.lastOffset < start) continue;
      const first = batch.firstOffset < start ? start : batch.firstOffset;
      if (first > next) ranges.push({ first: next, last: first - 1n, state: RecordState.AVAILABLE, deliveryCount: 0, memberId: null, lockUntil: 0 });
      ranges.push({ first, last: batch.lastOffset, state: batch.deliveryState, deliveryCount: batch.deliveryCount, memberId: null, lockUntil: 0 });
      next = batch.lastOffset + 1n;
    }
    this.startOffset = start;
    this.endOffset = next;
    this.#ranges = ranges;
    this.#advanceStart();
    return ErrorCode.NONE;
  }

  /** share.auto.offset.reset: the log start, the high watermark, or the first offset at or after now minus the duration. */
  #resetOffset(): bigint {
    const reset = this.settings.autoOffsetReset;
    if (reset.type === "earliest") return this.partition.logStartOffset;
    if (reset.type === "latest") return this.partition.highWatermark;
    const found = this.partition.log.offsetFor({ timestamp: BigInt(Date.now() - (reset as { durationMs: number }).durationMs) });
    if (found === null) return this.partition.highWatermark;
    return found.offset < this.partition.highWatermark ? found.offset : this.partition.highWatermark;
  }

  /** The first offset a fetch should read from, or null when nothing is acquirable now. */
  #nextAcquirable(upperBound: bigint): bigint | null {
    for (const range of this.#ranges) if (range.state === RecordState.AVAILABLE) return range.first;
    if (this.endOffset < upperBound && this.endOffset - this.startOffset < BigInt(this.settings.maxRecordLocks)) return this.endOffset;
    return null;
  }

  /** Whether a fetch could acquire something now. */
  hasAcquirable(): boolean {
    return this.startOffset >= 0n && this.#nextAcquirable(this.partition.highWatermark) !== null;
  }

  /**
   * Acquires up to `maxRecords` offsets for `memberId` from the log (read up to `maxBytes`):
   * the whole batches holding them and the ranges acquired. `recordLimit` (KIP-1206) stops at
   * exactly `maxRecords`; otherwise the acquisition runs to the end of the batch that reaches it.
   */
  acquire(memberId: string, maxRecords: number, maxBytes: number, recordLimit: boolean, nowMs: number): Acquisition {
    if (this.startOffset < 0n || this.#closed || maxRecords <= 0) return NOTHING;
    const log = this.partition.log;
    // share.isolation.level=read_committed: up to the last stable offset; aborted records are archived.
    const readCommitted = this.settings.readCommitted;
    const upperBound = readCommitted ? this.partition.lastStableOffset : this.partition.highWatermark;
    if (this.startOffset < this.partition.logStartOffset) this.#moveStartTo(this.partition.logStartOffset);
    const fetchOffset = this.#nextAcquirable(upperBound);
    if (fetchOffset === null) return NOTHING;
    const probe = log.read(fetchOffset, Math.max(1, maxBytes), upperBound);
    let windowEnd = probe.nextOffset - 1n;
    probe.release();
    if (windowEnd >= upperBound) windowEnd = upperBound - 1n;
    if (windowEnd < fetchOffset) return NOTHING;
    // The budget: maxRecords offsets from the fetch offset (to a batch's end unless record-limit).
    const budgetEnd = fetchOffset + BigInt(maxRecords) - 1n;
    if (budgetEnd < windowEnd) {
      if (recordLimit) {
        windowEnd = budgetEnd;
      } else {
        const batchEnd = log.read(budgetEnd, 1, upperBound);
        const end = batchEnd.nextOffset - 1n;
        batchEnd.release();
        if (end < windowEnd) windowEnd = end;
      }
    }
    // New offsets stay within the record-lock limit.
    const lockLimitEnd = this.startOffset + BigInt(this.settings.maxRecordLocks) - 1n;
    const acquired: AcquiredRange[] = [];
    let count = 0;
    const lockUntil = nowMs + this.settings.lockDurationMs;
    const take = (range: Range) => {
      range.state = RecordState.ACQUIRED;
      range.deliveryCount += 1;
      range.memberId = memberId;
      range.lockUntil = lockUntil;
      const last = acquired.at(-1);
      if (last !== undefined && last.lastOffset + 1n === range.first && last.deliveryCount === range.deliveryCount) {
        acquired[acquired.length - 1] = { ...last, lastOffset: range.last };
      } else {
        acquired.push({ firstOffset: range.first, lastOffset: range.last, deliveryCount: range.deliveryCount });
      }
      count += Number(range.last - range.first + 1n);
    };
    // Redeliveries: AVAILABLE ranges inside the window.
    for (let i = 0; i < this.#ranges.length; i++) {
      const range = this.#ranges[i] as Range;
      if (range.first > windowEnd) break;
      if (range.state !== RecordState.AVAILABLE || range.last < fetchOffset) continue;
      this.#splitAt(i, fetchOffset > range.first ? fetchOffset : range.first, range.last < windowEnd ? range.last : windowEnd);
    }
    for (const range of this.#ranges) {
      if (range.first > windowEnd) break;
      if (range.state === RecordState.AVAILABLE && range.first >= fetchOffset) take(range);
    }
    // New records: from the end offset to the window's end.
    const newEnd = windowEnd < lockLimitEnd ? windowEnd : lockLimitEnd;
    if (this.endOffset <= newEnd) {
      const aborted = readCommitted ? this.#abortedRanges(this.endOffset, newEnd, maxBytes) : [];
      let next = this.endOffset;
      for (const [first, last] of [...aborted, [newEnd + 1n, newEnd] as const]) {
        if (first > next) {
          const range: Range = { first: next, last: first - 1n, state: RecordState.AVAILABLE, deliveryCount: 0, memberId: null, lockUntil: 0 };
          this.#ranges.push(range);
          take(range);
        }
        // Records of aborted transactions are never delivered: archived at once (Kafka's
        // SharePartition.filterAbortedTransactionalAcquiredRecords).
        if (first <= last) this.#ranges.push({ first, last, state: RecordState.ARCHIVED, deliveryCount: 0, memberId: null, lockUntil: 0 });
        next = last + 1n;
      }
      this.endOffset = newEnd + 1n;
    }
    if (acquired.length === 0) return NOTHING;
    this.#scheduleLockTimer(lockUntil);
    const lastAcquired = (acquired.at(-1) as AcquiredRange).lastOffset;
    const records = log.read((acquired[0] as AcquiredRange).firstOffset, Math.max(1, maxBytes), lastAcquired + 1n);
    return { records, acquired, count };
  }

  /**
   * The offset ranges in [from, to] written by transactions that aborted, as a read_committed
   * consumer finds them: a producer's batches from the aborted transaction's first offset until its
   * ABORT marker. Only read (a copy of the batches) when the log lists an aborted transaction there.
   */
  #abortedRanges(from: bigint, to: bigint, maxBytes: number): [bigint, bigint][] {
    const log = this.partition.log;
    const aborted = [...log.abortedTransactions(from, to + 1n)].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
    if (aborted.length === 0) return [];
    const out: [bigint, bigint][] = [];
    const open = new Set<bigint>();
    let next = 0;
    let offset = from;
    while (offset <= to) {
      const read = log.readCopy(offset, Math.max(1, maxBytes), to + 1n);
      if (read.bytes.length === 0) break;
      for (const batch of batches(read.bytes)) {
        if (batch.lastOffset < from) continue;
        while (next < aborted.length && (aborted[next] as { firstOffset: bigint }).firstOffset <= batch.lastOffset) {
          open.add((aborted[next] as { producerId: bigint }).producerId);
          next++;
        }
        if (batch.isControl) {
          open.delete(batch.producerId);
          continue;
        }
        if (!batch.isTransactional || !open.has(batch.producerId)) continue;
        const first = batch.baseOffset < from ? from : batch.baseOffset;
        const last = batch.lastOffset > to ? to : batch.lastOffset;
        const previous = out.at(-1);
        if (previous !== undefined && previous[1] + 1n === first) previous[1] = last;
        else out.push([first, last]);
      }
      if (read.nextOffset <= offset) break;
      offset = read.nextOffset;
    }
    return out;
  }

  /** Splits so that [first, last] is exactly some ranges (index i holds `first`). */
  #splitAt(i: number, first: bigint, last: bigint): void {
    const range = this.#ranges[i] as Range;
    const parts: Range[] = [];
    if (range.first < first) parts.push({ ...range, last: first - 1n });
    parts.push({ ...range, first, last });
    if (range.last > last) parts.push({ ...range, first: last + 1n });
    this.#ranges.splice(i, 1, ...parts);
  }

  /** Isolates [first, last] into whole ranges; false if part of it is outside [startOffset, endOffset). */
  #isolate(first: bigint, last: bigint): boolean {
    if (first < this.startOffset || last >= this.endOffset || first > last) return false;
    for (let i = 0; i < this.#ranges.length; i++) {
      const range = this.#ranges[i] as Range;
      if (range.last < first) continue;
      if (range.first > last) break;
      const from = range.first < first ? first : range.first;
      const to = range.last > last ? last : range.last;
      if (from !== range.first || to !== range.last) {
        this.#splitAt(i, from, to);
        if (from !== range.first) i++;
      }
    }
    return true;
  }

  /**
   * Acknowledges [first, last] for `memberId` with `types` (one for the whole range, or one per
   * offset): INVALID_RECORD_STATE unless every offset is ACQUIRED by the member. Resolves once the
   * new state is durable.
   */
  acknowledge(memberId: string, first: bigint, last: bigint, types: readonly number[], nowMs: number): number {
    if (this.startOffset < 0n) return ErrorCode.INVALID_RECORD_STATE;
    if (types.length !== 1 && BigInt(types.length) !== last - first + 1n) return ErrorCode.INVALID_REQUEST;
    if (types.some((type) => type < 0 || type > 4)) return ErrorCode.INVALID_REQUEST;
    // Offsets below the start are done already (a lock expired and another member finished them).
    if (!this.#isolate(first, last)) return ErrorCode.INVALID_RECORD_STATE;
    const covered = this.#ranges.filter((r) => r.first >= first && r.last <= last);
    if (covered.some((r) => r.state !== RecordState.ACQUIRED || r.memberId !== memberId)) return ErrorCode.INVALID_RECORD_STATE;
    if (types.length === 1) {
      for (const range of covered) this.#applyAck(range, types[0] as number, nowMs);
    } else {
      // Per offset: each run of offsets with one type is isolated and acknowledged together.
      let runStart = 0;
      for (let i = 1; i <= types.length; i++) {
        if (i < types.length && types[i] === types[runStart]) continue;
        const from = first + BigInt(runStart);
        const to = first + BigInt(i - 1);
        this.#isolate(from, to);
        for (const range of this.#ranges) {
          if (range.first > to) break;
          if (range.first >= from && range.last <= to) this.#applyAck(range, types[runStart] as number, nowMs);
        }
        runStart = i;
      }
    }
    // The start offset moves once the new state is written (persist()), as in Kafka.
    return ErrorCode.NONE;
  }

  #applyAck(range: Range, type: number, nowMs: number): void {
    switch (type) {
      case AcknowledgeType.ACCEPT:
        range.state = RecordState.ACKNOWLEDGED;
        break;
      case AcknowledgeType.GAP:
        range.state = RecordState.ARCHIVED;
        break;
      case AcknowledgeType.REJECT:
        range.state = RecordState.ARCHIVED;
        this.#dead.push({ firstOffset: range.first, lastOffset: range.last, deliveryCount: range.deliveryCount, message: DLQ_REJECTED });
        break;
      case AcknowledgeType.RELEASE:
        this.#release(range);
        return;
      case AcknowledgeType.RENEW:
        range.lockUntil = nowMs + this.settings.lockDurationMs;
        this.#scheduleLockTimer(range.lockUntil);
        return;
    }
    range.memberId = null;
  }

  #release(range: Range): void {
    range.state = range.deliveryCount >= this.settings.deliveryCountLimit ? RecordState.ARCHIVED : RecordState.AVAILABLE;
    if (range.state === RecordState.ARCHIVED) {
      this.#dead.push({ firstOffset: range.first, lastOffset: range.last, deliveryCount: range.deliveryCount, message: DLQ_DELIVERY_LIMIT });
    }
    range.memberId = null;
    range.lockUntil = 0;
    if (range.state === RecordState.AVAILABLE) this.onAvailable?.();
  }

  /** A member's session closed: what it holds becomes available again (or archived at the limit). */
  releaseMember(memberId: string): Promise<number> | number {
    let changed = false;
    for (const range of this.#ranges) {
      if (range.state === RecordState.ACQUIRED && range.memberId === memberId) {
        this.#release(range);
        changed = true;
      }
    }
    if (!changed) return ErrorCode.NONE;
    return this.persist();
  }

  #moveStartTo(offset: bigint): void {
    this.#ranges = this.#ranges.filter((r) => r.last >= offset);
    const head = this.#ranges[0];
    if (head !== undefined && head.first < offset) head.first = offset;
    this.startOffset = offset;
    if (this.endOffset < offset) this.endOffset = offset;
  }

  #advanceStart(): void {
    let drop = 0;
    for (const range of this.#ranges) {
      if (range.state !== RecordState.ACKNOWLEDGED && range.state !== RecordState.ARCHIVED) break;
      drop++;
      this.startOffset = range.last + 1n;
    }
    if (drop > 0) this.#ranges.splice(0, drop);
    // Join neighbours in the same state (fewer ranges to walk and persist).
    const joined: Range[] = [];
    for (const range of this.#ranges) {
      const last = joined.at(-1);
      if (
        last !== undefined &&
        last.state === range.state &&
        last.state !== RecordState.ACQUIRED &&
        last.deliveryCount === range.deliveryCount &&
        last.last + 1n === range.first
      ) {
        last.last = range.last;
      } else {
        joined.push(range);
      }
    }
    this.#ranges = joined;
  }

  #scheduleLockTimer(at: number): void {
    if (this.#closed || at >= this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expireLocks(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  #expireLocks(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#closed) return;
    const now = Date.now();
    let changed = false;
    let next = Number.POSITIVE_INFINITY;
    for (const range of this.#ranges) {
      if (range.state !== RecordState.ACQUIRED) continue;
      if (range.lockUntil <= now) {
        this.#release(range);
        changed = true;
      } else if (range.lockUntil < next) {
        next = range.lockUntil;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#scheduleLockTimer(next);
    if (changed) this.#persist();
  }

  /** The state as the share coordinator stores it (ACQUIRED is stored as AVAILABLE with its count). */
  #stateBatches(): { firstOffset: bigint; lastOffset: bigint; deliveryState: number; deliveryCount: number }[] {
    const out: { firstOffset: bigint; lastOffset: bigint; deliveryState: number; deliveryCount: number }[] = [];
    for (const range of this.#ranges) {
      const deliveryState = range.state === RecordState.ACQUIRED ? RecordState.AVAILABLE : range.state;
      const last = out.at(-1);
      if (last !== undefined && last.lastOffset + 1n === range.first && last.deliveryState === deliveryState && last.deliveryCount === range.deliveryCount) {
        last.lastOffset = range.last;
      } else {
        out.push({ firstOffset: range.first, lastOffset: range.last, deliveryState, deliveryCount: range.deliveryCount });
      }
    }
    return out;
  }

  #persist(): void {
    this.persist().then(
      (code) => {
        if (code !== ErrorCode.NONE)
          this.logger.warn({ group: this.groupId, partition: this.partition.toString(), errorCode: code }, "could not write share partition state");
      },
      () => undefined,
    );
  }

  /**
   * Writes the state now (after the writes before it); resolves with the persister's error code.
   * Once written, the start offset moves past what is done (so the state written carries the start
   * offset from before, as Kafka's SharePartition writes it). A FENCED_STATE_EPOCH answer means an
   * admin reset the state (AlterShareGroupOffsets): it is read again at the next fetch.
   */
  persist(): Promise<number> {
    const input = {
      leaderEpoch: this.partition.leaderEpoch,
      stateEpoch: this.#stateEpoch,
      startOffset: this.startOffset,
      deliveryCompleteCount: this.#ranges.reduce(
        (n, r) => n + (r.state === RecordState.ACKNOWLEDGED || r.state === RecordState.ARCHIVED ? Number(r.last - r.first + 1n) : 0),
        0,
      ),
      stateBatches: this.#stateBatches(),
    };
    const dead = this.#dead.splice(0);
    const write = this.#persisting.then(() => this.persister.write(this.groupId, this.topicId, this.index, input));
    this.#persisting = write.catch(() => undefined);
    return write.then(
      (result) => {
        if (result.errorCode === ErrorCode.NONE) {
          this.#advanceStart();
          if (dead.length > 0) this.onDeadLetters?.(dead);
        } else if (result.errorCode === ErrorCode.FENCED_STATE_EPOCH) this.reset();
        return result.errorCode;
      },
      () => ErrorCode.UNKNOWN_SERVER_ERROR,
    );
  }

  /** Forgets the in-memory state: the next fetch reads it from the share coordinator again. */
  reset(): void {
    this.startOffset = -1n;
    this.endOffset = -1n;
    this.#ranges = [];
    this.#initializing = null;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
