// The `sluice` command tree. Only commands that work are listed; the operator verbs of
// DESIGN.md §8 (start, topics, groups, …) join as their subsystems land.

import { createRequire } from "node:module";
import { Command } from "commander";

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

  return program;
}
