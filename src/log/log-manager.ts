// LogManager: one log directory (a `log.dirs` entry) and its partition logs, over the Rust
// LogDirectory (crates/storage/src/log_dir.rs), which does the work.
//
// open():  opens every `<topic>-<partition>` directory in parallel on the libuv pool. After a
//          clean shutdown (`.kafka_cleanshutdown` present) the files are trusted; otherwise each
//          partition is recovered from its checkpointed recovery point. Any partition that fails
//          to open fails the whole directory (Kafka takes such a directory offline).
// create / delete partitions: a new partition's directory gets `partition.metadata` (topic id).
// setTopicConfig(): a topic's new configuration, for its open logs and the partitions created later.
// checkpoint(): the recovery-point and log-start-offset checkpoints while the broker runs.
// startScheduler(): the periodic work on the logs (retention, checkpoints, producer expiration:
//          log-scheduler.ts).
// close(): stops the scheduler, waits for each log's operations in flight, closes every log,
//          writes the recovery-point and log-start-offset checkpoints, then the clean-shutdown
//          marker.
//
// File formats and the crash story: docs/storage.md.

import { awaitLog, callLog, type LogConfig, LogError, type LogOpenProgress, LogResources, type NativeLogDirectory, openNativeLogDirectory } from "../native.js";
import { LogScheduler, type LogSchedulerOptions } from "./log-scheduler.js";
import { PartitionLog } from "./partition-log.js";

export interface LogManagerOptions {
  /** Shared by every log of the broker; a new one by default. */
  readonly resources?: LogResources;
  /** Configuration of partitions whose topic is not in `topicConfigs` (Kafka's defaults by default). */
  readonly defaultConfig?: LogConfig;
  readonly topicConfigs?: Readonly<Record<string, LogConfig>>;
  /** Partitions opened and closed in parallel (Kafka's num.recovery.threads.per.data.dir): 1 by default. */
  readonly threads?: number;
  /** Called after each partition opens (on the JS thread). */
  readonly onProgress?: (progress: LogOpenProgress) => void;
}

const key = (topic: string, partition: number) => `${topic}-${partition}`;

export class LogManager {
  readonly #directory: NativeLogDirectory;
  readonly #logs = new Map<string, PartitionLog>();
  readonly #defaultConfig: LogConfig;
  readonly #topicConfigs: Map<string, LogConfig>;
  readonly #threads: number;
  #scheduler: LogScheduler | null = null;
  readonly resources: LogResources;

  /** Opens the log directory `path` (created if missing) and every partition log in it. */
  static async open(path: string, options: LogManagerOptions = {}): Promise<LogManager> {
    const resources = options.resources ?? new LogResources();
    const topicConfigs = Object.entries(options.topicConfigs ?? {}).map(([topic, config]) => ({ topic, config }));
    const directory = await openNativeLogDirectory(
      path,
      resources,
      { defaultConfig: options.defaultConfig, topicConfigs, threads: options.threads },
      options.onProgress,
    );
    const failures = directory.failures;
    if (failures.length > 0) {
      const list = failures.map((failure) => `${failure.topic}-${failure.partition}: ${failure.message}`).join("; ");
      throw new LogError("STORAGE_ERROR", `STORAGE_ERROR: ${failures.length} partition(s) of ${path} failed to open: ${list}`);
    }
    return new LogManager(directory, resources, options);
  }

  private constructor(directory: NativeLogDirectory, resources: LogResources, options: LogManagerOptions) {
    this.#directory = directory;
    this.resources = resources;
    this.#defaultConfig = options.defaultConfig ?? {};
    this.#topicConfigs = new Map(Object.entries(options.topicConfigs ?? {}));
    this.#threads = options.threads ?? 1;
    for (const native of directory.logs()) this.#logs.set(key(native.topic, native.partition), new PartitionLog(native));
  }

  get path(): string {
    return this.#directory.path;
  }

  /** Whether the directory was cleanly shut down before this start (its files were trusted). */
  get hadCleanShutdown(): boolean {
    return this.#directory.hadCleanShutdown;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.#logs.get(key(topic, partition));
  }

  /** Every open partition log, by topic and partition. */
  logs(): PartitionLog[] {
    return [...this.#logs.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  /**
   * Creates the log of a new partition (or opens an existing directory of it) with
   * `partition.metadata` holding `topicId` (Kafka's printed Uuid), with the topic's configuration.
   */
  async createPartition(topic: string, partition: number, options: { topicId?: string; config?: LogConfig } = {}): Promise<PartitionLog> {
    if (this.#logs.has(key(topic, partition))) {
      throw new LogError("INVALID_ARGUMENT", `INVALID_ARGUMENT: ${key(topic, partition)} is already open`);
    }
    const config = options.config ?? this.#topicConfigs.get(topic) ?? this.#defaultConfig;
    const native = await awaitLog(() => this.#directory.createLog(topic, partition, options.topicId, config));
    const log = new PartitionLog(native);
    this.#logs.set(key(topic, partition), log);
    return log;
  }

  /** Deletes a partition's log and directory (topic deletion or reassignment away). */
  async deletePartition(topic: string, partition: number): Promise<void> {
    const log = this.#logs.get(key(topic, partition));
    if (log === undefined) throw new LogError("LOG_CLOSED", `LOG_CLOSED: ${key(topic, partition)} is not open`);
    this.#logs.delete(key(topic, partition));
    await log.deleteDirectory();
  }

  /**
   * Replaces a topic's configuration: every open log of the topic takes it (segment settings
   * from the next roll), and so do partitions of it created later.
   */
  setTopicConfig(topic: string, config: LogConfig): void {
    this.#topicConfigs.set(topic, config);
    for (const log of this.#logs.values()) if (log.topic === topic) log.setConfig(config);
  }

  /** Failures of the storage background thread (fsync, disk reservation, next segment) since the last call. */
  takeBackgroundErrors(): string[] {
    return this.resources.takeBackgroundErrors();
  }

  /**
   * Writes the recovery-point and log-start-offset checkpoints of every open log (and the
   * high-watermark checkpoint from `highWatermarks` when given) off the JS thread, as Kafka does
   * every `log.flush.offset.checkpoint.interval.ms`: a crash then recovers each partition from its
   * last flushed offset instead of its first segment. Resolves to the partitions written.
   * `offsets: false` writes the high-watermark checkpoint alone (Kafka's shorter
   * `replica.high.watermark.checkpoint.interval.ms`).
   */
  checkpoint(highWatermarks?: readonly { topic: string; partition: number; highWatermark: bigint }[], offsets = true): Promise<number> {
    return awaitLog(() => this.#directory.writeCheckpoints(highWatermarks === undefined ? undefined : [...highWatermarks], offsets));
  }

  /** The high watermarks in `replication-offset-checkpoint` (a partition starts from its own). */
  readHighWatermarks(): { topic: string; partition: number; highWatermark: bigint }[] {
    return callLog(() => this.#directory.readHighWatermarks());
  }

  /** Starts the periodic retention, checkpoint and producer-expiration passes (log-scheduler.ts). */
  startScheduler(options: LogSchedulerOptions): LogScheduler {
    if (this.#scheduler !== null) throw new Error("the log scheduler is already started");
    this.#scheduler = new LogScheduler(this, options);
    this.#scheduler.start();
    return this.#scheduler;
  }

  /** Stops the periodic passes; resolves once a running one has finished. */
  async stopScheduler(): Promise<void> {
    await this.#scheduler?.stop();
  }

  /**
   * Clean shutdown: stops the scheduler, waits for operations in flight, closes every log,
   * writes the offset checkpoints, then `.kafka_cleanshutdown` (with `brokerEpoch`) so the next
   * start trusts the files.
   */
  async close(brokerEpoch = -1n): Promise<void> {
    await this.stopScheduler();
    const logs = [...this.#logs.values()];
    await Promise.all(logs.map((log) => log.settled()));
    this.#logs.clear();
    await awaitLog(() => this.#directory.closeAll(brokerEpoch, this.#threads));
  }
}
