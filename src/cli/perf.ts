// `sluice perf produce|consume ...`: runs the native load generator (crates/perf, the
// `sluice-perf` binary that `npm run build:native` builds into target/release/) with the same
// arguments, passing its output through and exiting with its exit code. $SLUICE_PERF_BIN
// names another binary (e.g. a debug build).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** target/release/sluice-perf of the package (src/cli/ and dist/cli/ are both two levels below its root). */
export function perfBinary(): string {
  return process.env.SLUICE_PERF_BIN ?? fileURLToPath(new URL("../../target/release/sluice-perf", import.meta.url));
}

/** Runs sluice-perf with `args`; resolves with the exit code to exit with (128 + n after signal n). */
export function runPerf(args: readonly string[]): Promise<number> {
  const binary = perfBinary();
  if (!existsSync(binary)) {
    process.stderr.write(`sluice perf: ${binary} is missing; build it with \`npm run build:native\` (or \`cargo build --release -p sluice_perf\`)\n`);
    return Promise.resolve(2);
  }
  return new Promise((resolve) => {
    const child = spawn(binary, [...args], { stdio: "inherit" });
    // Ctrl-C reaches the whole process group; a signal sent to this process alone is passed on.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("error", (error) => {
      process.stderr.write(`sluice perf: cannot run ${binary}: ${error.message}\n`);
      resolve(2);
    });
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve(code ?? 128 + (signal ? (signals[signal] ?? 1) : 1));
    });
  });
}
