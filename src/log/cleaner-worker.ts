// A log cleaner thread (Kafka's CleanerThread), one of log.cleaner.threads piscina workers: it
// loads the native addon in its own thread and runs the addon's cleaner synchronously there,
// reaching each log by the id the main thread sends (crates/node/src/cleaner.rs). Nothing here
// touches the JS main thread's event loop; the work that takes time (reading and rewriting
// segments) holds no log lock.

import { cleanableLog, cleanLog, forgetCleanerCheckpoints } from "../native.js";

export type CleanerTask =
  | { readonly kind: "cleanable"; readonly nowMs: number; readonly logs: readonly CleanerLogInput[] }
  | { readonly kind: "clean"; readonly nowMs: number; readonly log: CleanerLogInput; readonly settings: Parameters<typeof cleanLog>[4] }
  | { readonly kind: "forget"; readonly logDir: string; readonly topic: string; readonly partitions: number };

export interface CleanerLogInput {
  readonly id: number;
  /** A number: offsets stay below 2^53. */
  readonly highWatermark: number;
  readonly compaction: Parameters<typeof cleanLog>[3];
}

export type CleanableAnswer = { readonly id: number; readonly info: ReturnType<typeof cleanableLog> | null; readonly error?: string };

/** piscina's entry point: answers one task. */
export default function run(task: CleanerTask): CleanableAnswer[] | ReturnType<typeof cleanLog> {
  if (task.kind === "forget") {
    forgetCleanerCheckpoints(task.logDir, task.topic, task.partitions);
    return null;
  }
  if (task.kind === "cleanable") {
    return task.logs.map((log) => {
      try {
        return { id: log.id, info: cleanableLog(log.id, task.nowMs, log.highWatermark, log.compaction) };
      } catch (error) {
        // A log closed or deleted since the main thread listed it: nothing to clean.
        return { id: log.id, info: null, error: error instanceof Error ? error.message : String(error) };
      }
    });
  }
  return cleanLog(task.log.id, task.nowMs, task.log.highWatermark, task.log.compaction, task.settings);
}
