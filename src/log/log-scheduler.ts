// The log layer's periodic work, owned by the LogManager (Kafka's LogManager schedules the same
// tasks on its KafkaScheduler):
//
//   task                  every                                      does
//   retention             log.retention.check.interval.ms (5 min)    rolls segments older than segment.ms,
//                                                                    deletes segments past retention.ms /
//                                                                    retention.bytes / the log start offset
//   producer expiration   producer.id.expiration.check.interval.ms   forgets idempotent producers idle for
//                         (10 min)                                   longer than producer.id.expiration.ms
//
// Not here: flushing (flush.ms / flush.messages) is the storage background thread's, per log
// (crates/storage); the recovery-point and log-start-offset checkpoints are written when the
// directory closes (LogManager.close) — periodic checkpoints need a native call that does not
// exist yet. A task that fails for one partition is logged and the others go on.
//
// A pass never overlaps the previous one of the same task; stop() waits for a running pass.

import type { Logger } from "pino";
import type { PartitionLog } from "./partition-log.js";

export interface LogSchedulerOptions {
  readonly retentionCheckIntervalMs: number;
  readonly producerIdExpirationCheckIntervalMs: number;
  /**
   * The high watermark of a log (retention never deletes at or above it), null when this broker
   * does not know it (the log is not a partition it hosts yet): such a log is left alone.
   */
  readonly highWatermarkOf: (log: PartitionLog) => bigint | null;
  readonly logger: Logger;
  /** The clock, Date.now by default. */
  readonly now?: () => number;
}

export class LogScheduler {
  readonly #logs: () => readonly PartitionLog[];
  readonly #options: LogSchedulerOptions;
  readonly #now: () => number;
  readonly #timers: NodeJS.Timeout[] = [];
  #retention: Promise<void> | null = null;

  /** `logs` lists the open logs at the time of each pass. */
  constructor(logs: () => readonly PartitionLog[], options: LogSchedulerOptions) {
    this.#logs = logs;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timers.length > 0) return;
    this.#timers.push(setInterval(() => void this.enforceRetention(), this.#options.retentionCheckIntervalMs).unref());
    this.#timers.push(setInterval(() => this.expireProducers(), this.#options.producerIdExpirationCheckIntervalMs).unref());
  }

  /** Stops the timers; resolves once a running retention pass has finished. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
    await this.#retention;
  }

  /** One retention pass over every log (a second call while one runs joins it). */
  enforceRetention(): Promise<void> {
    this.#retention ??= this.#retentionPass().finally(() => {
      this.#retention = null;
    });
    return this.#retention;
  }

  async #retentionPass(): Promise<void> {
    const now = this.#now();
    for (const log of this.#logs()) {
      const highWatermark = this.#options.highWatermarkOf(log);
      if (highWatermark === null || !log.isOpen) continue;
      try {
        await log.rollIfOld(now);
        const deleted = await log.deleteOldSegments(now, highWatermark);
        if (deleted.length > 0) this.#options.logger.info({ partition: nameOf(log), segments: deleted.length }, "deleted segments past retention");
      } catch (error) {
        if (log.isOpen) this.#options.logger.error({ err: error, partition: nameOf(log) }, "retention check failed");
      }
    }
  }

  /** Forgets expired idempotent producers in every log (in memory, on the JS thread). */
  expireProducers(): void {
    const now = this.#now();
    for (const log of this.#logs()) {
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
