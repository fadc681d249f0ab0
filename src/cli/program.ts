// The `sluice` command tree. Only commands that work are listed.

import { createRequire } from "node:module";
import { Command } from "commander";
import { registerCluster } from "./commands/cluster.js";
import { registerConfig } from "./commands/config.js";
import { registerConsume } from "./commands/consume.js";
import { registerDev } from "./commands/dev.js";
import { registerGroup } from "./commands/group.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerProduce } from "./commands/produce.js";
import { registerTopic } from "./commands/topic.js";
import { registerTune } from "./commands/tune.js";

// src/cli/ and dist/cli/ are both two levels below the repository root.
const packageJson = createRequire(import.meta.url)("../../package.json") as {
  version: string;
};

export const packageVersion: string = packageJson.version;

export function createProgram(): Command {
  const program = new Command("sluice")
    .description("Sluice, a Kafka-compatible message broker")
    .version(packageVersion, "-V, --version", "print the Sluice version");

  program
    .command("version")
    .description("print the versions of Sluice, its native addon and Node.js")
    .action(async () => {
      // Loaded here, not at the top, so `--help` and `--version` work without the addon.
      const { nativeVersion } = await import("../native.js");
      process.stdout.write(`sluice ${packageVersion}\nnative addon ${nativeVersion()}\nnode ${process.version}\n`);
    });

  program
    .command("start")
    .description("run a broker (Kafka's server.properties keys; with no config: localhost:9092, data in ./data)")
    .option("-c, --config <file>", "a Kafka server.properties file")
    .option(
      "-o, --override <key=value>",
      "set a config key (repeatable), over the file",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--log-format <format>", "json (the default when stdout is not a terminal) or pretty (human-readable lines)")
    .action(async (flags: { config?: string; override: string[]; logFormat?: string }) => {
      const { start } = await import("./start.js");
      await start({ config: flags.config, override: flags.override, logFormat: flags.logFormat });
    });

  program
    .command("dump-log")
    .description("print the batches and records of log segments and their indexes, as Kafka's kafka-dump-log.sh does")
    .argument("<files...>", ".log, .index, .timeindex or .txnindex files")
    .option("--deep-iteration", "print every record, not only batches")
    .option("--print-data-log", "print keys and values (implies --deep-iteration)")
    .option("--verify-index-only", "check index entries against the log and print only mismatches")
    .action(async (files: string[], flags: { deepIteration?: boolean; printDataLog?: boolean; verifyIndexOnly?: boolean }) => {
      const { dumpFiles } = await import("../log/dump.js");
      const native = await import("../native.js");
      const { startProgress } = await import("./progress.js");
      // A bar over many files, on a terminal's stderr only (the dump itself goes to stdout at the end).
      const progress = await startProgress({ total: files.length, unit: "files", enabled: files.length > 1 });
      const output = dumpFiles(files, {
        deepIteration: flags.deepIteration === true || flags.printDataLog === true,
        printDataLog: flags.printDataLog === true,
        verifyIndexOnly: flags.verifyIndexOnly === true,
        crc32c: native.crc32c,
        decompressBatch: (batch) => native.recompressBatch(batch, "none"),
        onFileDone: () => progress.increment(),
      });
      progress.stop();
      if (output.out.length > 0) process.stdout.write(`${output.out.join("\n")}\n`);
      if (output.err.length > 0) process.stderr.write(`${output.err.join("\n")}\n`);
    });

  program
    .command("perf")
    .description("native load generator (Rust, target/release/sluice-perf): `perf produce|consume --topic T [options]`, `perf --help` for the options")
    .argument("[arguments...]", "produce or consume, then its options")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args: string[]) => {
      const { runPerf } = await import("./perf.js");
      process.exitCode = await runPerf(args.length === 0 ? ["--help"] : args);
    });

  // The operator CLI (DESIGN.md §8): Kafka protocol commands against any broker, src/cli/commands/.
  registerTopic(program);
  registerGroup(program);
  registerProduce(program);
  registerConsume(program);
  registerCluster(program);
  registerConfig(program);
  // Moving a Kafka broker's data directory to Sluice (src/cluster/kraft/).
  registerMigrate(program);
  // Host tuning (scripts/tune runs the same code).
  registerTune(program);
  // A local cluster: etcd and N brokers (src/cli/dev-cluster.ts).
  registerDev(program);

  return program;
}
