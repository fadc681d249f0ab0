// `sluice migrate check --log-dirs <dirs>`: what Sluice would take over from a stopped Kafka
// broker's log directories (the KRaft metadata log's topics, configs, SCRAM users, ACLs, quotas,
// producer-id block, feature levels) and what it cannot carry. Reads only: no file is changed.
// Exit code 0 when the directory can be adopted, 1 on a blocker or a metadata log that cannot be read.
// A multi-broker image is listed per broker; `--cluster` checks the directory as one broker's of a
// cluster adopted into Sluice's etcd metadata store (docs/migration.md, "A cluster").

import type { Command } from "commander";
import { action, printJson } from "./common.js";

export function registerMigrate(program: Command): void {
  const migrate = program.command("migrate").description("move a Kafka broker's data directory to Sluice in place (and back)");
  migrate
    .command("check")
    .description("print what Sluice would adopt from a stopped Kafka broker's log.dirs, and what it cannot carry; changes no file")
    .requiredOption("--log-dirs <dirs>", "the Kafka broker's log.dirs (comma-separated); the one holding __cluster_metadata-0 is read")
    .option("--json", "print JSON for scripts instead of text")
    .option(
      "--cluster",
      "the directory is one broker's of a multi-broker Kafka, to be adopted into a Sluice cluster (etcd metadata store): only its own replicas must be present",
    )
    .action(
      action(async (flags: { logDirs: string; json?: boolean; cluster?: boolean }) => {
        const { planAdoption } = await import("../../cluster/kraft/adoption.js");
        const { metadataLogDirectory } = await import("../../cluster/kraft/metadata-log.js");
        const { formatPlan, planSummary } = await import("../migrate-report.js");
        const dirs = flags.logDirs
          .split(",")
          .map((dir) => dir.trim())
          .filter((dir) => dir !== "");
        const withMetadata = dirs.filter((dir) => metadataLogDirectory(dir) !== null);
        if (withMetadata.length === 0) throw new Error(`no __cluster_metadata-0 directory in ${dirs.join(", ")}: not a KRaft Kafka broker's log.dirs`);
        if (dirs.length > 1) throw new Error(`Sluice serves one log directory; ${dirs.length} given (moving several log.dirs is not supported yet)`);
        const plan = planAdoption(withMetadata[0], undefined, { summariseCoordinators: true, cluster: flags.cluster === true });
        if (flags.json) printJson(planSummary(plan));
        else process.stdout.write(formatPlan(plan));
        if (plan.blockers.length > 0) process.exitCode = 1;
      }),
    );
  migrate
    .command("export-kraft")
    .description(
      "write what a stopped Sluice holds (topics, configs, SCRAM users, ACLs, quotas, producer ids) as a KRaft metadata snapshot in its log dir, so Apache Kafka 4.4 can be started on it",
    )
    .requiredOption("--log-dirs <dir>", "Sluice's log directory (the one holding sluice-metadata.json)")
    .option(
      "--controller-listener <NAME://host:port>",
      "Kafka's controller listener, the quorum's one voter (needed only for a directory born on Sluice, without Kafka's metadata log)",
    )
    .option(
      "--metadata-store <etcd://host:port,...>",
      "a broker of a cluster (metadata.store in its server.properties): the cluster's metadata comes from etcd; run on every stopped broker (and each dedicated Kafka controller's directory, for a cluster adopted from Kafka)",
    )
    .option("--dry-run", "print what would be written; write nothing")
    .option("--json", "print JSON for scripts instead of text")
    .action(
      action(async (flags: { logDirs: string; controllerListener?: string; metadataStore?: string; dryRun?: boolean; json?: boolean }) => {
        const { exportKraftSnapshot, formatExport } = await import("../../cluster/kraft/export.js");
        const dirs = flags.logDirs
          .split(",")
          .map((dir) => dir.trim())
          .filter((dir) => dir !== "");
        if (dirs.length !== 1) throw new Error(`Sluice serves one log directory; ${dirs.length} given`);
        if (flags.metadataStore !== undefined) {
          if (!flags.metadataStore.startsWith("etcd://")) throw new Error(`--metadata-store ${flags.metadataStore}: expected etcd://host:port,...`);
          const { pino } = await import("pino");
          const { EtcdMetadataStore } = await import("../../cluster/etcd-store.js");
          const { exportClusterKraftSnapshot } = await import("../../cluster/kraft/cluster-export.js");
          const etcd = await EtcdMetadataStore.connect(flags.metadataStore, pino({ level: "silent" }));
          try {
            const result = await exportClusterKraftSnapshot(etcd, { logDir: dirs[0], controllerListener: flags.controllerListener, dryRun: flags.dryRun });
            if (flags.json) printJson(result);
            else {
              process.stdout.write(formatExport(result, flags.dryRun === true, true));
              process.stdout.write(
                `Snapshot id ${result.exportRecord.offset}-${result.exportRecord.epoch} ${result.choseSnapshotId ? "chosen by this export" : `chosen by broker ${result.exportRecord.nodeId}'s export`}; written on broker(s) ${result.exportRecord.brokers.join(", ") || "none yet"}\n`,
              );
            }
          } finally {
            await etcd.close();
          }
          return;
        }
        const result = exportKraftSnapshot({ logDir: dirs[0], controllerListener: flags.controllerListener, dryRun: flags.dryRun });
        if (flags.json) printJson(result);
        else process.stdout.write(formatExport(result, flags.dryRun === true));
      }),
    );
}
