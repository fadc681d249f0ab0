// PartitionLog: one partition's log (`<log.dir>/<topic>-<partition>/`) in Kafka's on-disk format,
// a typed wrapper over the Rust log (crates/node/src/log.rs, crates/storage/src/log.rs), which
// does all the work.
//
// Threads: append, appendProduce, read, readCopy and offsetFor run on the JS thread (a `pwrite` into
// the page cache; index lookups and header reads, normally from the page cache). The operations
// that may touch the disk — truncation, retention, flush, roll, close, delete — run on the libuv
// pool and return promises. Both kinds take the native log's lock for a short critical section
// only (fsyncs and unlinks happen outside it), so they interleave freely: a retention pass, a roll,
// a flush or a DeleteRecords never makes an append or a read fail or wait for the disk.
//
// Offsets and timestamps read from the log are bigint; sizes and the clock (nowMs) are numbers.
// Every failure is a LogError with a stable code (src/native.ts lists them and their Kafka errors).
//
// Transactions (Kafka's UnifiedLog parts of them, crates/storage/src/log.rs): the log knows its
// open transactions, so `lastStableOffset` is a lock-free read; `appendTxnMarker` writes a
// coordinator's COMMIT or ABORT marker, an ABORT landing in the segment's `.txnindex`, which
// `abortedTransactions` reads for a read_committed fetch. On a single node the high watermark is
// the log end offset, so the LSO is the first offset of the oldest open transaction, else the LEO.

import {
  type AbortedTransaction,
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
  type ProduceAppendResult,
  type ProduceSettings,
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

/** What `abortedTransactions` answers when there are none: shared, never to be modified. */
const NO_ABORTED_TRANSACTIONS: AbortedTransaction[] = [];

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
  /** Operations on the libuv pool not yet settled (close() waits for them). */
  readonly #inFlight = new Set<Promise<unknown>>();

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

  /** The offset of the first record kept. */
  get logStartOffset(): bigint {
    return this.#native.logStartOffset;
  }

  /** The offset the next record gets. */
  get logEndOffset(): bigint {
    return this.#native.logEndOffset;
  }

  /**
   * Kafka's last stable offset with the high watermark at the log end offset (one node): the first
   * offset of the oldest open transaction, else the log end offset. Read_committed fetches stop
   * here. Lock-free: published by the last operation on the log.
   */
  get lastStableOffset(): bigint {
    return this.#native.lastStableOffset;
  }

  /** The first offset of the oldest open transaction (not below the log start), null when none. */
  get firstUnstableOffset(): bigint | null {
    const offset = this.#native.firstUnstableOffset;
    return offset < 0n ? null : offset;
  }

  /** Everything below this offset is fsynced. */
  get recoveryPoint(): bigint {
    return callLog(() => this.#native.recoveryPoint);
  }

  /** Bytes in all segments. */
  get sizeBytes(): number {
    return callLog(() => this.#native.sizeBytes);
  }

  get segmentBaseOffsets(): bigint[] {
    return callLog(() => this.#native.segmentBaseOffsets);
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
    return callLog(() => this.#native.append(batches, options));
  }

  /**
   * A leader's produce append in one native call, as Kafka's LogValidator and log append do it:
   * validates one partition's records of a ProduceRequest of `produceVersion` with the topic's
   * `settings`, up-converts magic 0/1, recompresses to the topic's `compression.type`, assigns
   * offsets (stamping the leader epoch and LogAppendTime in place) and appends. Records that fail
   * validation come back as Kafka's error code with its message and record errors; a refused append
   * (producer state, I/O) throws a LogError. Idempotent retries come back `duplicate` with the
   * original offsets, as with `append`.
   */
  appendProduce(records: Buffer, settings: ProduceSettings, produceVersion: number, nowMs: number, leaderEpoch: number): ProduceAppendResult {
    return callLog(() => this.#native.appendProduce(records, settings, produceVersion, nowMs, leaderEpoch));
  }

  /**
   * Every producer the partition keeps state for, by producer id (DescribeProducers: producerId,
   * producerEpoch, lastSequence, lastTimestamp, coordinatorEpoch, currentTxnStartOffset).
   */
  producerStates(): LogProducerState[] {
    return callLog(() => this.#native.producerStates());
  }

  /**
   * A transaction coordinator's end-transaction marker for `producerId` (Kafka's control batch,
   * COMMIT when `commit`, else ABORT, carrying `coordinatorEpoch`), appended with coordinator
   * origin and stamped `nowMs` and `leaderEpoch`; it closes the producer's open transaction (an
   * aborted one is written to the segment's `.txnindex`). `transactionVersion` (default 0) is
   * Kafka's marker epoch rule: from 2 the marker must carry a newer producer epoch than the
   * transaction's, except the retry of a marker whose transaction is already closed. Throws
   * INVALID_PRODUCER_EPOCH for an older epoch, TRANSACTION_COORDINATOR_FENCED for a coordinator
   * epoch older than the producer's last marker's; nothing is written then.
   */
  appendTxnMarker(
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    nowMs: number,
    leaderEpoch: number,
    transactionVersion = 0,
  ): LogAppendResult {
    return callLog(() => this.#native.appendTxnMarker(producerId, producerEpoch, coordinatorEpoch, commit, nowMs, leaderEpoch, transactionVersion));
  }

  /**
   * The aborted transactions a read_committed fetch from `fetchOffset` that returned records below
   * `upperBound` reports, in log order (Kafka's collectAbortedTransactions: the `.txnindex` of the
   * segment holding `fetchOffset` and later ones, entries whose transaction overlaps
   * [fetchOffset, upperBound), until one's last stable offset reaches `upperBound`). When there
   * are none the answer is a shared empty array (nothing allocated): do not modify it.
   */
  abortedTransactions(fetchOffset: bigint, upperBound: bigint): AbortedTransaction[] {
    return callLog(() => this.#native.abortedTransactions(fetchOffset, upperBound)) ?? NO_ABORTED_TRANSACTIONS;
  }

  /** Kafka's hasOngoingTransaction: `producerId` has a transaction open here at `producerEpoch`. */
  hasOngoingTransaction(producerId: bigint, producerEpoch: number): boolean {
    return callLog(() => this.#native.hasOngoingTransaction(producerId, producerEpoch));
  }

  /** The last sequence `producerId` wrote here, -1 if none is known. */
  lastSequenceFor(producerId: bigint): number {
    return callLog(() => this.#native.lastSequenceFor(producerId));
  }

  /**
   * Forgets producers idle longer than `producerIdExpirationMs` (by their last batch's
   * timestamp) with no transaction open; returns how many. In memory: the log scheduler (log-scheduler.ts) calls it every
   * `producer.id.expiration.check.interval.ms` (Kafka: 10 minutes).
   */
  removeExpiredProducers(nowMs: number): number {
    return callLog(() => this.#native.removeExpiredProducers(nowMs));
  }

  /** Offsets of the producer state `.snapshot` files in the partition directory. */
  get producerSnapshotOffsets(): bigint[] {
    return callLog(() => this.#native.producerSnapshotOffsets);
  }

  /**
   * Whole batches from the one holding `offset` (it may start before it), at most `maxBytes` but
   * always the whole first batch, none at or past `upperBound` (default: the log end offset), from
   * one segment: a file slice to send with sendfile, to be released. Empty (length 0) when nothing
   * lies below the bound; an offset below the log start or past the log end is
   * OFFSET_OUT_OF_RANGE.
   */
  read(offset: bigint, maxBytes: number, upperBound?: bigint): LogSlice {
    return callLog(() => this.#native.read(offset, maxBytes, upperBound));
  }

  /** `read`, copied into a Buffer (no release needed). */
  readCopy(offset: bigint, maxBytes: number, upperBound?: bigint): LogReadCopy {
    return callLog(() => this.#native.readCopy(offset, maxBytes, upperBound));
  }

  /** Replaces the topic configuration (AlterConfigs); segment settings apply from the next roll. */
  setConfig(config: LogConfig): void {
    callLog(() => this.#native.setConfig(config));
  }

  /** ListOffsets: the offset (with timestamp and leader epoch) for `spec`, null when no record qualifies. */
  offsetFor(spec: OffsetSpec): LogTimestampAndOffset | null {
    if (typeof spec !== "string" && spec.timestamp < 0n) {
      throw new LogError("INVALID_ARGUMENT", `INVALID_ARGUMENT: a timestamp to look up must not be negative, got ${spec.timestamp}`);
    }
    const timestamp = typeof spec === "string" ? listOffsetsTimestamps[spec] : spec.timestamp;
    return callLog(() => this.#native.offsetFor(timestamp));
  }

  /** OffsetForLeaderEpoch: the largest epoch ≤ `epoch` and its end offset (-1, -1 when unknown). */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: bigint } {
    const [foundEpoch, endOffset] = callLog(() => this.#native.endOffsetForEpoch(epoch));
    return { epoch: Number(foundEpoch), endOffset };
  }

  /**
   * A new leader's epoch starts at the log end offset (Kafka's maybeAssignEpochStartOffset), so a
   * follower asking for the end of an older epoch learns where this log diverged; nothing changes
   * for an epoch not newer than the latest. Returns whether it was assigned.
   */
  assignLeaderEpoch(epoch: number): boolean {
    return callLog(() => this.#native.assignLeaderEpoch(epoch));
  }

  /**
   * The fence a replica fetch carries (src/replication/leader-link.ts): its records are appended
   * only if the fence is unchanged when they arrive. `assignLeaderEpoch` moves it too.
   */
  get replicaFence(): number {
    return callLog(() => this.#native.replicaFence);
  }

  /** Replica fetches already sent append nothing any more (the partition stopped being fetched from that leader). */
  fenceReplicaAppends(): void {
    callLog(() => this.#native.fenceReplicaAppends());
  }

  /** The latest leader epoch in the log, -1 when none (a follower's lastFetchedEpoch). */
  get latestEpoch(): number {
    return callLog(() => this.#native.latestEpoch);
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

  /**
   * Retention by `retention.ms`, `retention.bytes` and the log start offset, below the high
   * watermark; `retention: false` (cleanup.policy without `delete`): the log start offset only.
   */
  deleteOldSegments(nowMs: number, highWatermark: bigint, retention = true): Promise<DeletedSegment[]> {
    return this.#slow(() => this.#native.deleteOldSegments(nowMs, highWatermark, retention));
  }

  /** This log's id for other threads (the log cleaner's workers, the replica links), see crates/node/src/cleaner.rs. */
  get registryId(): number {
    return this.#native.registryId;
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

  /** Resolves once every operation started on the libuv pool so far has settled. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #slow<T>(start: () => Promise<T>): Promise<T> {
    const run = awaitLog(start);
    const tracked = run.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    tracked.catch(() => undefined);
    return run;
  }
}
