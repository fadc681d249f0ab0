// Drives sluice.kafka.ChaosChecker (test/kafka/src/main/java/sluice/kafka/ChaosChecker.java):
// starts it, waits for its first acknowledgement, passes "healed" and "stop" on its stdin and
// resolves with the verdict it prints last. Its stderr (the Java client's warnings) goes to
// <outDir>/checker.stderr.log; it writes produced.jsonl, consumed.jsonl and final-read.jsonl there.
import type { ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { spawnJavaTool } from "../helpers/kafka.js";

export interface CheckerVerdict {
  ok: boolean;
  counts: Record<string, number>;
  endOffsets: Record<string, number>;
  recoveriesAfterHealMs: number[];
  maxRecoveryAfterHealMs: number;
  longestConsumerGapMs: number;
  consumerCaughtUp: boolean;
  finalReadComplete: boolean;
  problems: Record<string, { count: number; examples: string[] }>;
}

export interface CheckerProgress {
  produced: number;
  acked: number;
  failed: number;
  read: number;
}

export interface CheckerOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  outDir: string;
  seed: number;
  /** Records a second per producer: 200 by default. */
  rate?: number;
  /** Idempotent producers: 2 by default. */
  producers?: number;
  /** Transactional producers: 1 by default. */
  transactionalProducers?: number;
  /** After "stop": how long the final reads may take, 120 s by default. */
  finalTimeoutS?: number;
  /** Wait for the first acknowledgement at most this long: 60 s by default. */
  readyTimeoutMs?: number;
  onProgress?: (progress: CheckerProgress) => void;
}

export interface RunningChecker {
  process: ChildProcess;
  /** Resolves at the first acknowledged record. */
  ready: Promise<void>;
  /** Resolves with the verdict (after send("stop")); rejects if the checker dies without one. */
  verdict: Promise<CheckerVerdict>;
  send(command: "healed" | "stop"): void;
}

export async function spawnChecker(options: CheckerOptions): Promise<RunningChecker> {
  await mkdir(options.outDir, { recursive: true });
  const finalTimeoutS = options.finalTimeoutS ?? 120;
  const args = [
    "--bootstrap",
    options.bootstrap,
    "--topic",
    options.topic,
    "--partitions",
    String(options.partitions),
    "--out",
    options.outDir,
    "--seed",
    String(options.seed),
    "--rate",
    String(options.rate ?? 200),
    "--producers",
    String(options.producers ?? 2),
    "--txn-producers",
    String(options.transactionalProducers ?? 1),
    "--final-timeout-s",
    String(finalTimeoutS),
  ];
  const child = await spawnJavaTool("sluice.kafka.ChaosChecker", args, { quickStart: true, heap: "768m" });
  child.stderr!.pipe(createWriteStream(join(options.outDir, "checker.stderr.log")));
  child.stdin!.on("error", () => {});
  let onReady: () => void = () => {};
  let onVerdict: (verdict: CheckerVerdict) => void = () => {};
  let gotVerdict = false;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    const timer = setTimeout(
      () => reject(new Error(`the checker acknowledged nothing within ${options.readyTimeoutMs ?? 60_000} ms`)),
      options.readyTimeoutMs ?? 60_000,
    );
    timer.unref();
    child.once("exit", (code) => reject(new Error(`the checker exited (${code}) before its first acknowledgement; see ${options.outDir}`)));
  });
  const verdict = new Promise<CheckerVerdict>((resolve, reject) => {
    onVerdict = resolve;
    child.once("exit", (code, signal) => {
      if (!gotVerdict) reject(new Error(`the checker exited (${signal ?? code}) without a verdict; see ${options.outDir}/checker.stderr.log`));
    });
  });
  // Handled by whoever awaits them; a run that fails early must not leave an unhandled rejection.
  ready.catch(() => {});
  verdict.catch(() => {});
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    const event = JSON.parse(line) as { event: string } & Record<string, unknown>;
    if (event.event === "ready") onReady();
    else if (event.event === "progress") options.onProgress?.(event as unknown as CheckerProgress);
    else if (event.event === "verdict") {
      gotVerdict = true;
      onVerdict(event as unknown as CheckerVerdict);
    }
  });
  return {
    process: child,
    ready,
    verdict,
    send: (command) => {
      if (child.exitCode !== null) return;
      child.stdin!.write(`${command}\n`);
      if (command === "stop") {
        // Producers close within half the final timeout, the reads within the final timeout.
        const timer = setTimeout(() => child.kill("SIGKILL"), (finalTimeoutS * 2 + 60) * 1000);
        timer.unref();
        child.once("exit", () => clearTimeout(timer));
      }
    },
  };
}
