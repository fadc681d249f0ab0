// The log cleaner (Kafka's LogCleaner + LogCleanerManager): compacts the logs whose topic's
// cleanup.policy has `compact`, the dirtiest first, on log.cleaner.threads piscina workers
// (cleaner-worker.ts), never on the JS thread.
//
// A pass (every log.cleaner.backoff.ms, and at once after a clean): one worker task asks every
// compacted log how dirty it is (crates/storage's `cleanable`: a read of segment metadata under
// the log's lock); the logs that need cleaning (Kafka's `grabFilthiestCompactedLog`: something
// to clean and a dirty ratio above min.cleanable.dirty.ratio, or max.compaction.lag.ms passed)
// are cleaned dirtiest first, as many at once as there are threads, never one log twice at a
// time. Each clean reads and writes its segments without the log's lock; appends and fetches go
// on (docs/storage.md). A clean that fails is logged and the log is left alone until the next
// start (Kafka marks it uncleanable); a clean abandoned because the log changed under it
// (retention, DeleteRecords) is retried on a later pass.

import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { Piscina } from "piscina";
import type { CleanResult, CompactionSettings } from "../native.js";
import type { CleanableAnswer, CleanerLogInput, CleanerTask } from "./cleaner-worker.js";
import type { PartitionLog } from "./partition-log.js";

export interface LogCleanerOptions {
  /** log.cleaner.threads; 0 disables cleaning. */
  readonly threads: number;
  /** log.cleaner.backoff.ms: the pause between passes that found nothing to clean. */
  readonly backoffMs: number;
  /** log.cleaner.dedupe.buffer.size, shared by the threads. */
  readonly dedupeBufferBytes: number;
  /** log.cleaner.io.max.bytes.per.second, shared by the threads. */
  readonly ioMaxBytesPerSecond: number;
  /** The logs to consider, at each pass. */
  readonly logs: () => readonly PartitionLog[];
  /** A log's compaction settings, null when its topic's cleanup.policy has no `compact` (or it is unknown). */
  readonly compactionOf: (log: PartitionLog) => (CompactionSettings & { readonly maxMessageBytes: number }) | null;
  /** A log's high watermark (cleaning stops below the last stable offset), null when unknown. */
  readonly highWatermarkOf: (log: PartitionLog) => bigint | null;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** What the cleaner has done (Kafka's cleaner metrics). */
export interface LogCleanerStats {
  cleans: number;
  abandoned: number;
  failures: number;
  bytesRead: number;
  bytesWritten: number;
  lastCleanMs: number;
  maxCleanDurationMs: number;
  lastRecopyRatio: number;
  lastBufferUtilization: number;
  lastPassAtMs: number;
  maxDirtyRatio: number;
  uncleanable: number;
}

/** The worker script next to this module (dist/log/), also from the bundle in dist/cli/. */
const workerPath = fileURLToPath(new URL("../log/cleaner-worker.js", import.meta.url));

export class LogCleaner {
  readonly #options: LogCleanerOptions;
  readonly #pool: Piscina<CleanerTask, CleanableAnswer[] | CleanResult | null>;
  readonly #now: () => number;
  /** Registry ids of the logs being cleaned now. */
  readonly #inProgress = new Set<number>();
  /** Registry ids of logs whose clean failed: left alone (Kafka's uncleanable partitions). */
  readonly #uncleanable = new Set<number>();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #passing: Promise<void> | null = null;
  #stopped = false;
  readonly stats: LogCleanerStats = {
    cleans: 0,
    abandoned: 0,
    failures: 0,
    bytesRead: 0,
    bytesWritten: 0,
    lastCleanMs: 0,
    maxCleanDurationMs: 0,
    lastRecopyRatio: 0,
    lastBufferUtilization: 0,
    lastPassAtMs: 0,
    maxDirtyRatio: 0,
    uncleanable: 0,
  };

  constructor(options: LogCleanerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const threads = Math.max(1, options.threads);
    // No worker thread until there is a compacted log to look at (a broker without one pays
    // nothing); an idle worker ends after a minute.
    this.#pool = new Piscina({ filename: workerPath, minThreads: 0, maxThreads: threads, idleTimeout: 60_000 });
  }

  start(): void {
    if (this.#options.threads <= 0 || this.#timer !== null || this.#stopped) return;
    this.#timer = setInterval(() => this.wake(), this.#options.backoffMs).unref();
    this.wake();
  }

  /** Runs a pass now (unless one is running); resolves when its cleans have been started. */
  wake(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#passing ??= this.#pass().finally(() => {
      this.#passing = null;
    });
    return this.#passing;
  }

  /** Drops a deleted topic's partitions from `logDir`'s cleaner-offset-checkpoint (on a worker: it rewrites the file). */
  forget(logDir: string, topic: string, partitions: number): void {
    if (this.#stopped || this.#options.threads <= 0) return;
    this.#pool.run({ kind: "forget", logDir, topic, partitions }).catch((error: unknown) => {
      this.#options.logger.error({ err: error, topic }, "log cleaner: could not update cleaner-offset-checkpoint for a deleted topic");
    });
  }

  /** Resolves once every clean started so far has finished. */
  async idle(): Promise<void> {
    await this.#passing;
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /**
   * Stops passes, waits for running cleans (up to `timeoutMs`), then ends the workers. A clean
   * still running then is given up safely: the log closes under it, its commit finds the log
   * closed, and its `.cleaned` files are deleted (or, if the process ends first, deleted when the
   * log next opens).
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.race([this.idle(), new Promise((wake) => setTimeout(wake, timeoutMs).unref())]);
    await this.#pool.destroy();
  }

  async #pass(): Promise<void> {
    const free = Math.max(1, this.#options.threads) - this.#inProgress.size;
    if (free <= 0) return;
    const candidates = new Map<number, { log: PartitionLog; input: CleanerLogInput; maxMessageBytes: number }>();
    for (const log of this.#options.logs()) {
      if (!log.isOpen) continue;
      const id = log.registryId;
      if (this.#inProgress.has(id) || this.#uncleanable.has(id)) continue;
      const compaction = this.#options.compactionOf(log);
      const highWatermark = this.#options.highWatermarkOf(log);
      if (compaction === null || highWatermark === null) continue;
      const { maxMessageBytes, ...settings } = compaction;
      candidates.set(id, { log, input: { id, highWatermark: Number(highWatermark), compaction: settings }, maxMessageBytes });
    }
    this.stats.lastPassAtMs = this.#now();
    if (candidates.size === 0) return;
    let answers: CleanableAnswer[];
    try {
      answers = (await this.#pool.run({ kind: "cleanable", nowMs: this.#now(), logs: [...candidates.values()].map((c) => c.input) })) as CleanableAnswer[];
    } catch (error) {
      this.#options.logger.error({ err: error }, "log cleaner: reading how dirty the logs are failed");
      return;
    }
    const dirty = answers.filter((answer) => answer.info?.needsCleaning === true);
    this.stats.maxDirtyRatio = answers.reduce((max, answer) => Math.max(max, answer.info?.cleanableRatio ?? 0), 0);
    // Kafka's order: the logs past max.compaction.lag.ms first, then by dirty ratio.
    dirty.sort(
      (a, b) => (b.info!.maxCompactionDelayMs > 0 ? 1 : 0) - (a.info!.maxCompactionDelayMs > 0 ? 1 : 0) || b.info!.cleanableRatio - a.info!.cleanableRatio,
    );
    for (const answer of dirty.slice(0, free)) {
      const candidate = candidates.get(answer.id);
      if (candidate !== undefined) this.#clean(candidate.log, candidate.input, candidate.maxMessageBytes);
    }
  }

  #clean(log: PartitionLog, input: CleanerLogInput, maxMessageBytes: number): void {
    const threads = Math.max(1, this.#options.threads);
    const settings = {
      dedupeBufferBytes: this.#options.dedupeBufferBytes / threads,
      ioMaxBytesPerSecond: this.#options.ioMaxBytesPerSecond / threads,
      // A batch is at most max.message.bytes compressed; let it decompress to 64 times that.
      decompressedBatchBytesMax: Math.max(64 * 1024 * 1024, maxMessageBytes * 64),
    };
    this.#inProgress.add(input.id);
    const partition = `${log.topic}-${log.partition}`;
    const running = this.#pool
      .run({ kind: "clean", nowMs: this.#now(), log: input, settings })
      .then(
        (result) => this.#cleaned(partition, result as CleanResult | null),
        (error: unknown) => {
          if (!log.isOpen) return; // closed or deleted while it was cleaned: nothing lost, nothing to report
          this.stats.failures++;
          this.#uncleanable.add(input.id);
          this.stats.uncleanable = this.#uncleanable.size;
          this.#options.logger.error({ err: error, partition }, "log cleaner: cleaning failed; the partition is not cleaned again until restart");
        },
      )
      .finally(() => {
        this.#inProgress.delete(input.id);
        this.#running.delete(running);
        // Something may still be dirty: look again now rather than after the backoff.
        if (!this.#stopped) void this.wake();
      });
    this.#running.add(running);
  }

  #cleaned(partition: string, result: CleanResult | null): void {
    if (result === null) return;
    if (!result.committed) {
      this.stats.abandoned++;
      this.#options.logger.info({ partition, reason: result.abandonedReason }, "log cleaner: clean abandoned, the log changed under it");
      return;
    }
    const stats = this.stats;
    stats.cleans++;
    stats.bytesRead += result.bytesRead;
    stats.bytesWritten += result.bytesWritten;
    stats.lastCleanMs = this.#now();
    stats.maxCleanDurationMs = Math.max(stats.maxCleanDurationMs, result.durationMs);
    stats.lastRecopyRatio = result.bytesRead > 0 ? result.bytesWritten / result.bytesRead : 0;
    stats.lastBufferUtilization = result.bufferUtilization;
    // Kafka's cleaner summary line: the dirty section, bytes, messages, time.
    this.#options.logger.info(
      {
        partition,
        dirtySection: [result.firstDirtyOffset, result.endOffset],
        bytesRead: result.bytesRead,
        bytesWritten: result.bytesWritten,
        messagesRead: result.messagesRead,
        messagesWritten: result.messagesWritten,
        segments: [result.segmentsRead, result.segmentsWritten],
        mapMs: Math.round(result.mapDurationMs),
        ms: Math.round(result.durationMs),
        mbPerSecond: result.durationMs > 0 ? Math.round((result.bytesRead / 1024 / 1024 / (result.durationMs / 1000)) * 10) / 10 : 0,
      },
      "log cleaner: cleaned",
    );
  }
}
