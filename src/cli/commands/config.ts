// `sluice config get|set` (alias `configs`), after kafka-configs.sh: --entity-type topics|brokers
// and --entity-name (a broker id; for brokers without a name, the cluster-wide defaults).
// `get` shows the entity's own dynamic configs unless --all; `set` is IncrementalAlterConfigs.

import type { Command } from "commander";
import { action, type ConnectionFlags, collect, printJson, printTable, withClient, withConnectionOptions } from "./common.js";
import { alterConfigCommand } from "./topic.js";

type EntityType = "topics" | "brokers";

interface EntityFlags extends ConnectionFlags {
  entityType: string;
  entityName?: string;
}

function entity(flags: EntityFlags): { type: EntityType; name: string } {
  const type = flags.entityType === "topic" ? "topics" : flags.entityType === "broker" ? "brokers" : flags.entityType;
  if (type !== "topics" && type !== "brokers") throw new Error(`--entity-type must be topics or brokers, got '${flags.entityType}'`);
  if (type === "topics" && !flags.entityName) throw new Error("--entity-name is required for topics");
  return { type, name: flags.entityName ?? "" };
}

function entityOptions(command: Command): Command {
  return withConnectionOptions(command)
    .requiredOption("--entity-type <type>", "topics or brokers")
    .option("--entity-name <name>", "the topic, or the broker id (brokers without a name: the cluster-wide defaults)");
}

export function registerConfig(program: Command): void {
  const config = program.command("config").alias("configs").description("describe and alter topic and broker configs");

  entityOptions(config.command("get").description("describe the entity's dynamic configs (as kafka-configs.sh), or --all"))
    .option("--all", "every config, defaults included")
    .option("--synonyms", "with each config's synonyms (where its value comes from)")
    .action(
      action(async (flags: EntityFlags & { all?: boolean; synonyms?: boolean }) => {
        const { type, name } = entity(flags);
        const [result] = await withClient(flags, (client) => client.describeConfigs([{ type, name }], { synonyms: flags.synonyms }));
        if (result?.error) throw result.error;
        // As kafka-configs.sh --describe: the entity's own dynamic configs, unless --all.
        const own = type === "topics" ? "DYNAMIC_TOPIC_CONFIG" : name === "" ? "DYNAMIC_DEFAULT_BROKER_CONFIG" : "DYNAMIC_BROKER_CONFIG";
        const configs = (result?.configs ?? []).filter((c) => flags.all || c.source === own).sort((a, b) => (a.name < b.name ? -1 : 1));
        if (flags.json) {
          printJson({ entityType: type, entityName: name, configs });
          return;
        }
        printTable(
          ["NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE", ...(flags.synonyms ? ["SYNONYMS"] : [])],
          configs.map((c) => [
            c.name,
            c.sensitive ? "(sensitive)" : (c.value ?? "null"),
            c.source,
            c.readOnly,
            c.sensitive,
            ...(flags.synonyms ? [c.synonyms.map((s) => `${s.source}:${s.name}=${s.value ?? "null"}`).join(",")] : []),
          ]),
        );
      }),
    );

  entityOptions(config.command("set").description("set or delete configs (IncrementalAlterConfigs)"))
    .option("--set <key=value>", "set a config (repeatable)", collect, [] as string[])
    .option("--delete <key>", "remove an override, back to the default (repeatable)", collect, [] as string[])
    .action(
      action(async (flags: EntityFlags & { set: string[]; delete: string[] }) => {
        const { type, name } = entity(flags);
        await alterConfigCommand(flags, type, name, flags.set, flags.delete);
      }),
    );
}
