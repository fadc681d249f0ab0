// The log layer's periodic work, owned by the LogManager (Kafka's LogManager schedules the same
// tasks on its KafkaScheduler):
//
//   task                  every                                      does
//   retention             log.retention.check.interval.ms (5 min)    rolls segments older than segment.ms,
//                                                                    deletes segments past retention.ms /
//                                                                    retention.bytes / the log start offset
//   checkpoint            log.flush.offset.checkpoint.interval.ms    writes recovery-point-offset-checkpoint,
//                         and log.flush.start.offset.checkpoint.     log-start-offset-checkpoint and
//                         interval.ms, the shorter (1 min; 0: only   replication-offset-checkpoint (high
//                         at close)                                  watermarks) off the JS thread, so a crash
//                                                                    recovers from the last flush
//   high watermarks       replica.high.watermark.checkpoint.         replication-offset-checkpoint alone
//                         interval.ms (5 s)
//   producer expiration   producer.id.expiration.check.interval.ms   forgets idempotent producers idle for
//                         (10 min)                                   longer than producer.id.expiration.ms
//
// Not here: flushing (flush.ms / flush.messages) is the storage background thread's, per log
// (crates/storage). A task that fails for one partition is logged and the others go on.
// A pass never overlaps the previous one of the same task; stop() waits for running passes.

import type { Logger } from "pino";
import type { PartitionLog } from "./partition-log.js";

/** What the scheduler works on: the LogManager. */
export interface ScheduledLogDirectory {
  /** The open logs, at the time of each pass. */
  logs(): readonly PartitionLog[];
  /** Writes the directory's offset checkpoints with these high watermarks; `offsets: false`: the high-watermark checkpoint alone. */
  checkpoint(highWatermarks: readonly { topic: string; partition: number; highWatermark: bigint }[], offsets?: boolean): Promise<number>;
  /** Failures of the storage background thread (fsync, disk reservation, next segment) since the last call. */
  takeBackgroundErrors(): string[];
}

export interface LogSchedulerOptions {
  readonly retentionCheckIntervalMs: number;
  /**
   * Recovery-point and log-start-offset checkpoints (with the high watermarks): Kafka's
   * log.flush.offset.checkpoint.interval.ms and log.flush.start.offset.checkpoint.interval.ms (the
   * two files are written together, at the shorter of the two). 0 or less: only when the
   * directory closes.
   */
  readonly checkpointIntervalMs: number;
  /** replication-offset-checkpoint alone (replica.high.watermark.checkpoint.interval.ms); 0 or less: with the others only. */
  readonly highWatermarkCheckpointIntervalMs?: number;
  readonly producerIdExpirationCheckIntervalMs: number;
  /**
   * The high watermark of a log (retention never deletes at or above it), null when this broker
   * does not know it (the log is not a partition it hosts yet): such a log is left alone.
   */
  readonly highWatermarkOf: (log: PartitionLog) => bigint | null;
  /**
   * Whether retention by time and size applies (cleanup.policy has `delete`); a compact-only log
   * loses only the segments below its log start offset, as in Kafka. True when not given.
   */
  readonly retentionApplies?: (log: PartitionLog) => boolean;
  readonly logger: Logger;
  /** The clock, Date.now by default. */
  readonly now?: () => number;
}

/** A periodic async task whose passes never overlap: a pass asked for while one runs joins it. */
class Task {
  #running: Promise<void> | null = null;

  constructor(readonly pass: () => Promise<void>) {}

  run(): Promise<void> {
    this.#running ??= this.pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Resolves once the running pass (if any) has finished. */
  async finished(): Promise<void> {
    await this.#running;
  }
}

export class LogScheduler {
  readonly #directory: ScheduledLogDirectory;
  readonly #options: LogSchedulerOptions;
  readonly #now: () => number;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #retention = new Task(() => this.#retentionPass());
  readonly #checkpoint = new Task(() => this.#checkpointPass(true));
  readonly #highWatermarks = new Task(() => this.#checkpointPass(false));

  constructor(directory: ScheduledLogDirectory, options: LogSchedulerOptions) {
    this.#directory = directory;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timers.length > 0) return;
    const { retentionCheckIntervalMs, checkpointIntervalMs, producerIdExpirationCheckIntervalMs } = this.#options;
    this.#timers.push(setInterval(() => void this.enforceRetention(), retentionCheckIntervalMs).unref());
    if (checkpointIntervalMs > 0) this.#timers.push(setInterval(() => void this.checkpoint(), checkpointIntervalMs).unref());
    const highWatermarkIntervalMs = this.#options.highWatermarkCheckpointIntervalMs ?? 0;
    if (highWatermarkIntervalMs > 0) this.#timers.push(setInterval(() => void this.#highWatermarks.run(), highWatermarkIntervalMs).unref());
    this.#timers.push(setInterval(() => this.expireProducers(), producerIdExpirationCheckIntervalMs).unref());
  }

  /** Stops the timers; resolves once running passes have finished. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
    await Promise.all([this.#retention.finished(), this.#checkpoint.finished(), this.#highWatermarks.finished()]);
  }

  /** One retention pass over every log (a second call while one runs joins it). */
  enforceRetention(): Promise<void> {
    return this.#retention.run();
  }

  /** Writes the offset checkpoints now (a second call while one runs joins it). */
  checkpoint(): Promise<void> {
    return this.#checkpoint.run();
  }

  async #retentionPass(): Promise<void> {
    const now = this.#now();
    for (const log of this.#directory.logs()) {
      const highWatermark = this.#options.highWatermarkOf(log);
      if (highWatermark === null || !log.isOpen) continue;
      try {
        await log.rollIfOld(now);
        const deleted = await log.deleteOldSegments(now, highWatermark, this.#options.retentionApplies?.(log) ?? true);
        if (deleted.length > 0) this.#options.logger.info({ partition: nameOf(log), segments: deleted.length }, "deleted segments past retention");
      } catch (error) {
        if (log.isOpen) this.#options.logger.error({ err: error, partition: nameOf(log) }, "retention check failed");
      }
    }
    // The background thread's failures reach no request; the operator sees them here.
    for (const failure of this.#directory.takeBackgroundErrors()) this.#options.logger.error({ failure }, "storage background job failed");
  }

  /** `offsets`: recovery points and log start offsets too; else the high watermarks alone. */
  async #checkpointPass(offsets: boolean): Promise<void> {
    const highWatermarks = [];
    for (const log of this.#directory.logs()) {
      const highWatermark = this.#options.highWatermarkOf(log);
      if (highWatermark !== null) highWatermarks.push({ topic: log.topic, partition: log.partition, highWatermark });
    }
    try {
      await this.#directory.checkpoint(highWatermarks, offsets);
    } catch (error) {
      this.#options.logger.error({ err: error }, "writing the offset checkpoints failed");
    }
  }

  /** Forgets expired idempotent producers in every log (in memory, on the JS thread). */
  expireProducers(): void {
    const now = this.#now();
    for (const log of this.#directory.logs()) {
      if (!log.isOpen) continue;
      try {
        log.removeExpiredProducers(now);
      } catch (error) {
        this.#options.logger.error({ err: error, partition: nameOf(log) }, "producer expiration failed");
      }
    }
  }
}

function nameOf(log: PartitionLog): string {
  return `${log.topic}-${log.partition}`;
}
