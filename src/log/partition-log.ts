// PartitionLog: one partition's log (`<log.dir>/<topic>-<partition>/`) in Kafka's on-disk format,
// a typed wrapper over the Rust log (crates/node/src/log.rs, crates/storage/src/log.rs), which
// does all the work.
//
// Threads and ordering: append, read, readCopy and offsetFor run on the JS thread (a memcpy into
// the mapped segment; index lookups and header reads, normally from the page cache). The slow
// operations — truncation, retention, flush, roll, close, delete — run on the libuv pool and
// return promises; they run one at a time per log, in call order. While one is pending, the
// synchronous calls throw LogError LOG_BUSY instead of making the JS thread wait for the disk:
// a caller that may overlap them awaits `idle()` first.
//
// Offsets and timestamps read from the log are bigint; sizes and the clock (nowMs) are numbers.
// Every failure is a LogError with a stable code (src/native.ts lists them and their Kafka errors).

import {
  awaitLog,
  callLog,
  type DeletedSegment,
  type LogAppendResult,
  type LogConfig,
  LogError,
  type LogOffsets,
  type LogOpenReport,
  type LogProducerState,
  type LogReadCopy,
  type LogResources,
  type LogSlice,
  type LogTimestampAndOffset,
  type NativeLog,
  type OpenLogOptions,
  openNativeLog,
} from "../native.js";

/** How an append is made. */
export interface LogAppendOptions {
  /** The broker's clock (Date.now()): LogAppendTime and time-based rolling. */
  readonly nowMs: number;
  /** Stamped into each batch's partitionLeaderEpoch on a leader append. */
  readonly leaderEpoch?: number;
  /**
   * "leader" (default): a client's produce — offsets assigned, idempotent batches checked
   * (duplicate, epoch, sequence); "coordinator": the broker's own write — offsets assigned,
   * producer epochs checked; "replica": the leader's offsets kept, nothing refused.
   */
  readonly origin?: "leader" | "coordinator" | "replica";
}

/** ListOffsets targets: Kafka's special timestamps by name, or a real timestamp. */
export type OffsetSpec = "earliest" | "latest" | "max-timestamp" | "earliest-local" | { readonly timestamp: bigint };

/** Kafka's ListOffsets timestamp for each named spec. */
const listOffsetsTimestamps = { latest: -1n, earliest: -2n, "max-timestamp": -3n, "earliest-local": -4n } as const;

export interface OpenPartitionLogOptions extends OpenLogOptions {
  readonly topic: string;
  readonly partition: number;
  readonly resources: LogResources;
  readonly config?: LogConfig;
}

export class PartitionLog {
  readonly #native: NativeLog;
  /** The last slow operation queued; the next one starts when it settles. */
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Opens (or creates) a partition log in `directory` (its `<topic>-<partition>` directory). */
  static async open(directory: string, options: OpenPartitionLogOptions): Promise<PartitionLog> {
    const { topic, partition, resources, config, ...openOptions } = options;
    return new PartitionLog(await openNativeLog(directory, topic, partition, resources, config, openOptions));
  }

  /** Wraps a log the binding opened (LogManager does this). */
  constructor(native: NativeLog) {
    this.#native = native;
  }

  get topic(): string {
    return this.#native.topic;
  }

  get partition(): number {
    return this.#native.partition;
  }

  /** The partition directory. */
  get directory(): string {
    return this.#native.directory;
  }

  /** The topic id in `partition.metadata` (Kafka's printed Uuid), null if none. */
  get topicId(): string | null {
    return this.#native.topicId;
  }

  /** What opening found: segments, recovered segments, rebuilt indexes, bytes cut off. */
  get openReport(): LogOpenReport {
    return this.#native.openReport;
  }

  /** False once closed or deleted. */
  get isOpen(): boolean {
    return this.#native.isOpen;
  }

  /** Whether a slow operation is pending (synchronous calls would throw LOG_BUSY). */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /** As of the last finished operation; readable while one is pending. */
  get logStartOffset(): bigint {
    return this.#native.logStartOffset;
  }

  /** The offset the next record gets, as of the last finished operation. */
  get logEndOffset(): bigint {
    return this.#native.logEndOffset;
  }

  /** Everything below this offset is fsynced. */
  get recoveryPoint(): bigint {
    return this.#sync(() => this.#native.recoveryPoint);
  }

  /** Bytes in all segments. */
  get sizeBytes(): number {
    return this.#sync(() => this.#native.sizeBytes);
  }

  get segmentBaseOffsets(): bigint[] {
    return this.#sync(() => this.#native.segmentBaseOffsets);
  }

  /**
   * Appends whole record batches v2 that produce validation accepted. A leader append writes
   * base offsets, the leader epoch and (LogAppendTime) the max timestamp and CRC into `batches`
   * in place, as Kafka does; all batches land in one segment or none does.
   *
   * Batches with a producer id are checked against the partition's producer state first, as
   * Kafka's log does: a retry of one of the producer's last 5 batches returns `duplicate: true`
   * with that batch's offsets (and its max timestamp as `logAppendTimeMs`) and writes nothing —
   * Kafka answers it with error NONE; an older epoch throws INVALID_PRODUCER_EPOCH, a sequence
   * gap or a new epoch not starting at 0 OUT_OF_ORDER_SEQUENCE_NUMBER, and nothing is written.
   */
  append(batches: Buffer, options: LogAppendOptions): LogAppendResult {
    return this.#sync(() => this.#native.append(batches, options));
  }

  /** Every producer the partition keeps state for, by producer id (DescribeProducers). */
  producerStates(): LogProducerState[] {
    return this.#sync(() => this.#native.producerStates());
  }

  /** The last sequence `producerId` wrote here, -1 if none is known. */
  lastSequenceFor(producerId: bigint): number {
    return this.#sync(() => this.#native.lastSequenceFor(producerId));
  }

  /**
   * Forgets producers idle longer than `producerIdExpirationMs` (by their last batch's
   * timestamp) with no transaction open; returns how many. In memory: the broker calls it every
   * `producer.id.expiration.check.interval.ms` (Kafka: 10 minutes).
   */
  removeExpiredProducers(nowMs: number): number {
    return this.#sync(() => this.#native.removeExpiredProducers(nowMs));
  }

  /** Offsets of the producer state `.snapshot` files in the partition directory. */
  get producerSnapshotOffsets(): bigint[] {
    return this.#sync(() => this.#native.producerSnapshotOffsets);
  }

  /**
   * Whole batches from the one holding `offset` (it may start before it), at most `maxBytes` but
   * always the whole first batch, none at or past `upperBound` (default: the log end offset), from
   * one segment: a file slice to send with sendfile, to be released. Empty (length 0) when nothing
   * lies below the bound; an offset below the log start or past the log end is
   * OFFSET_OUT_OF_RANGE.
   */
  read(offset: bigint, maxBytes: number, upperBound?: bigint): LogSlice {
    return this.#sync(() => this.#native.read(offset, maxBytes, upperBound));
  }

  /** `read`, copied into a Buffer (no release needed). */
  readCopy(offset: bigint, maxBytes: number, upperBound?: bigint): LogReadCopy {
    return this.#sync(() => this.#native.readCopy(offset, maxBytes, upperBound));
  }

  /** Replaces the topic configuration (AlterConfigs); segment settings apply from the next roll. */
  setConfig(config: LogConfig): void {
    this.#sync(() => this.#native.setConfig(config));
  }

  /** ListOffsets: the offset (with timestamp and leader epoch) for `spec`, null when no record qualifies. */
  offsetFor(spec: OffsetSpec): LogTimestampAndOffset | null {
    if (typeof spec !== "string" && spec.timestamp < 0n) {
      throw new LogError("INVALID_ARGUMENT", `INVALID_ARGUMENT: a timestamp to look up must not be negative, got ${spec.timestamp}`);
    }
    const timestamp = typeof spec === "string" ? listOffsetsTimestamps[spec] : spec.timestamp;
    return this.#sync(() => this.#native.offsetFor(timestamp));
  }

  /** OffsetForLeaderEpoch: the largest epoch ≤ `epoch` and its end offset (-1, -1 when unknown). */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: bigint } {
    const [foundEpoch, endOffset] = this.#sync(() => this.#native.endOffsetForEpoch(epoch));
    return { epoch: Number(foundEpoch), endOffset };
  }

  /** Follower truncation: removes every record at or above `offset`; resolves to whether any was. */
  truncateTo(offset: bigint): Promise<boolean> {
    return this.#slow(() => this.#native.truncateTo(offset));
  }

  /** Deletes every segment and starts an empty log at `offset`. */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return this.#slow(() => this.#native.truncateFullyAndStartAt(offset));
  }

  /** DeleteRecords: moves the log start offset (not past the high watermark) and deletes the segments below it. */
  incrementLogStartOffset(offset: bigint, highWatermark: bigint): Promise<DeletedSegment[]> {
    return this.#slow(() => this.#native.incrementLogStartOffset(offset, highWatermark));
  }

  /** Retention by `retention.ms`, `retention.bytes` and the log start offset, below the high watermark. */
  deleteOldSegments(nowMs: number, highWatermark: bigint): Promise<DeletedSegment[]> {
    return this.#slow(() => this.#native.deleteOldSegments(nowMs, highWatermark));
  }

  /** Rolls the active segment if it is older than `segment.ms` (a timer's job for idle partitions). */
  rollIfOld(nowMs: number): Promise<boolean> {
    return this.#slow(() => this.#native.rollIfOld(nowMs));
  }

  /** fsyncs everything appended so far (routine flushing is the storage background thread's). */
  flush(): Promise<void> {
    return this.#slow(() => this.#native.flush());
  }

  /**
   * Closes the log cleanly (trimmed, fsynced, leader epochs written). No log-dir checkpoint or
   * clean-shutdown marker: LogManager.close writes those for a whole directory.
   */
  close(): Promise<LogOffsets> {
    return this.#slow(() => this.#native.close());
  }

  /** Deletes the partition directory; slices already handed out keep reading. */
  deleteDirectory(): Promise<void> {
    return this.#slow(() => this.#native.deleteDirectory());
  }

  /** Resolves once no slow operation is pending. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await this.#tail;
  }

  #sync<T>(call: () => T): T {
    if (this.#pending > 0) {
      throw new LogError("LOG_BUSY", `LOG_BUSY: ${this.topic}-${this.partition} has a slow operation pending; await idle() first`);
    }
    return callLog(call);
  }

  #slow<T>(start: () => Promise<T>): Promise<T> {
    this.#pending++;
    const run = this.#tail.then(() => awaitLog(start)).finally(() => this.#pending--);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
