// `sluice tune [check|apply|revert]` (scripts/tune runs the same): the OS settings of a broker
// host, from Kafka's "Hardware and OS" guidance and Redpanda's rpk tuners. The work is in
// src/ops/tune/; this file turns flags into options and results into text and exit codes:
// check 0 all ok, 1 something off; apply and revert 0 done; 2 for errors.

import type { Command } from "commander";
import { defaultBackupFile } from "../../ops/tune/backup.js";

interface TuneFlags {
  json?: boolean;
  dryRun?: boolean;
  config?: string;
  logDir: string[];
  only?: string;
  backupFile: string;
}

const actions = ["check", "apply", "revert"] as const;
type Action = (typeof actions)[number];

export function registerTune(program: Command): void {
  program
    .command("tune")
    .description("check the host's OS settings for a broker (exit 1 if any is off); apply fixes them, revert undoes apply")
    .argument("[action]", `${actions.join(", ")} (default: check; apply with --dry-run alone)`)
    .option("--json", "print JSON for machines (check: an array of settings)")
    .option("--dry-run", "print the commands apply (or revert) would run; change nothing")
    .option("-c, --config <file>", "a server.properties file: its log.dirs and socket.*.buffer.bytes")
    .option(
      "--log-dir <dir>",
      "a log directory (repeatable; instead of the config's log.dirs; default ./data)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--only <settings>", "comma-separated setting ids or groups: vm, limits, fs, mount, disk, thp, net, cpu, clocksource")
    .option("--backup-file <file>", "where apply records the previous values that revert restores", defaultBackupFile)
    .action(async (action: string | undefined, flags: TuneFlags) => {
      process.exitCode = await runTune(action ?? (flags.dryRun ? "apply" : "check"), flags);
    });
}

function fail(message: string): number {
  process.stderr.write(`sluice tune: ${message}\n`);
  return 2;
}

async function runTune(action: string, flags: TuneFlags): Promise<number> {
  if (!(actions as readonly string[]).includes(action)) return fail(`unknown action ${JSON.stringify(action)}: use ${actions.join(", ")}`);
  // `sluice tune | head` closes the pipe early: stop quietly instead of throwing EPIPE.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? 0);
  });
  // Imported here so `sluice --help` does not load the tuning code.
  const tune = await import("../../ops/tune/index.js");
  const { ConfigError } = await import("../../config/defs.js");
  try {
    return await run(action as Action, flags, tune);
  } catch (error) {
    if (error instanceof tune.TuneError || error instanceof ConfigError) return fail(error.message);
    return fail(`${(error as Error).message ?? String(error)}`);
  }
}

type Tune = typeof import("../../ops/tune/index.js");

async function run(action: Action, flags: TuneFlags, tune: Tune): Promise<number> {
  const print = (text: string) => process.stdout.write(`${text}\n`);
  if ((action === "apply" || action === "revert") && !flags.dryRun && process.getuid?.() !== 0) {
    return fail(`${action} changes sysctls, /sys and mounts: run it as root (or add --dry-run to see the commands)`);
  }
  if (action === "revert") {
    const result = tune.revert({ backupFile: flags.backupFile, dryRun: flags.dryRun });
    if (flags.json) print(JSON.stringify(result, null, 2));
    else {
      for (const done of result.restored) {
        print(flags.dryRun ? done.command : `${done.error ? "FAILED " : ""}${done.id}: ${done.command}${done.note ? ` (${done.note})` : ""}`);
        if (done.error) process.stderr.write(`sluice tune: ${done.error}\n`);
      }
      if (!flags.dryRun) {
        print(
          result.failed === 0
            ? `restored ${result.restored.length}; removed ${result.backupFile}`
            : `${result.failed} not restored: they stay in ${result.backupFile}`,
        );
      }
    }
    return result.failed === 0 ? 0 : 2;
  }

  const options = { ...(await logDirsAndBuffers(flags)), only: flags.only?.split(",").map((name) => name.trim()) };
  if (action === "check") {
    const rows = tune.check(options);
    const off = rows.filter((row) => row.status === "off");
    if (flags.json) print(JSON.stringify(tune.rowsAsJson(rows), null, 2));
    else {
      print(tune.formatTable(rows));
      print("");
      print(tune.summary(rows));
      const fixable = off.filter((row) => row.changes.length > 0).length;
      if (fixable > 0) print(`\`sluice tune apply\` changes ${fixable} of them (\`sluice tune apply --dry-run\` shows the commands)`);
      for (const row of off) if (row.manual) print(`${tune.rowLabel(row)}: ${row.manual}`);
    }
    return off.length === 0 ? 0 : 1;
  }

  const result = tune.apply({ ...options, backupFile: flags.backupFile, dryRun: flags.dryRun });
  if (flags.json) {
    const json = {
      changes: result.changes.map(({ id, command }) => ({ id, command })),
      skipped: result.skipped.map((row) => ({ id: row.id, target: row.target ?? null, reason: row.reason ?? null })),
      manual: result.manual.map((row) => ({ id: row.id, target: row.target ?? null, manual: row.manual })),
      backupFile: flags.dryRun ? null : result.backupFile,
    };
    print(JSON.stringify(json, null, 2));
    return 0;
  }
  if (flags.dryRun) {
    for (const done of result.changes) print(done.command);
  } else if (result.changes.length === 0) {
    print("nothing to change: every setting apply can set is ok");
  } else {
    for (const done of result.changes) print(`${done.id}: ${done.command}`);
    print(`previous values are in ${result.backupFile}; \`sluice tune revert\` restores them`);
    for (const note of tune.persistenceNotes(result.changes)) print(note);
  }
  const comment = flags.dryRun ? "# " : "";
  for (const row of result.skipped) print(`${comment}not changed: ${tune.rowLabel(row)}: ${row.reason}`);
  for (const row of result.manual) print(`${comment}${tune.rowLabel(row)}: ${row.manual}`);
  return 0;
}

/** log.dirs and the socket buffer sizes: from --config (Kafka's keys), or the defaults `sluice start` uses; --log-dir wins. */
async function logDirsAndBuffers(flags: TuneFlags): Promise<{ logDirs: string[]; socketBufferBytes: number }> {
  const { embeddedBrokerDefaults, loadBrokerConfig } = await import("../../config/broker.js");
  // Only log.dirs and the socket buffers matter here: a file need not name node.id and the other
  // keys a broker requires. The log dirs still default as `sluice start --config` has them.
  const { "log.dirs": _, ...required } = embeddedBrokerDefaults;
  const { config } = loadBrokerConfig({ file: flags.config, defaults: flags.config === undefined ? undefined : required });
  return {
    logDirs: flags.logDir.length > 0 ? flags.logDir : [...config.logDirs],
    socketBufferBytes: Math.max(config.socketSendBufferBytes, config.socketReceiveBufferBytes),
  };
}
