// `sluice topic list|create|describe|delete|alter-config` (alias `topics`), after kafka-topics.sh:
// create takes the broker's defaults for what is not given (-1 partitions / replication factor,
// KIP-464); describe prints kafka-topics.sh --describe's lines with each partition's log start and
// end offsets added; alter-config is IncrementalAlterConfigs, as kafka-configs.sh --alter.

import type { Command } from "commander";
import type { KafkaClient, TopicInfo } from "../../client/index.js";
import { action, type ConnectionFlags, collect, parseAssignments, parseCount, printJson, printTable, withClient, withConnectionOptions } from "./common.js";

interface TopicDetails {
  topic: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Record<string, string | null>;
  partitions: { partition: number; leader: number; replicas: number[]; isr: number[]; logStartOffset: bigint; logEndOffset: bigint }[];
}

export function registerTopic(program: Command): void {
  const topic = program.command("topic").alias("topics").description("list, create, describe, delete topics and alter their configs");

  withConnectionOptions(topic.command("list").description("list the topics"))
    .option("--exclude-internal", "leave out internal topics (__consumer_offsets, …)")
    .action(
      action(async (flags: ConnectionFlags & { excludeInternal?: boolean }) => {
        const metadata = await withClient(flags, (client) => client.metadata(null));
        const topics = metadata.topics.filter((t) => t.errorCode === 0 && !(flags.excludeInternal && t.isInternal)).sort((a, b) => compare(a.name, b.name));
        const rows = topics.map((t) => ({
          topic: t.name,
          partitions: t.partitions.length,
          replicationFactor: t.partitions[0]?.replicas.length ?? 0,
          internal: t.isInternal,
        }));
        if (flags.json) printJson(rows);
        else
          printTable(
            ["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"],
            rows.map((r) => [r.topic, r.partitions, r.replicationFactor]),
          );
      }),
    );

  withConnectionOptions(topic.command("create").description("create a topic").argument("<topic>"))
    .option("-p, --partitions <n>", "number of partitions (default: the broker's num.partitions)")
    .option("-r, --replication-factor <n>", "replication factor (default: the broker's default.replication.factor)")
    .option("-c, --config <key=value>", "a topic config (repeatable)", collect, [] as string[])
    .option("--if-not-exists", "succeed if the topic already exists")
    .action(
      action(async (name: string, flags: ConnectionFlags & { partitions?: string; replicationFactor?: string; config: string[]; ifNotExists?: boolean }) => {
        const configs = parseAssignments(flags.config, "--config");
        const [created] = await withClient(flags, (client) =>
          client.createTopics([
            {
              name,
              partitions: flags.partitions === undefined ? -1 : parseCount(flags.partitions, "--partitions"),
              replicationFactor: flags.replicationFactor === undefined ? -1 : parseCount(flags.replicationFactor, "--replication-factor"),
              configs,
            },
          ]),
        );
        if (created?.error && !(flags.ifNotExists && created.error.errorName === "TOPIC_ALREADY_EXISTS")) throw created.error;
        if (flags.json)
          printJson({
            topic: name,
            topicId: created?.topicId,
            partitions: created?.partitions,
            replicationFactor: created?.replicationFactor,
            created: !created?.error,
          });
        else if (!created?.error) process.stdout.write(`Created topic ${name}.\n`);
      }),
    );

  withConnectionOptions(
    topic.command("describe").description("partitions, leaders, replicas, configs and offsets of topics (default: all)").argument("[topics...]"),
  )
    .option("--exclude-internal", "leave out internal topics when describing all")
    .action(
      action(async (names: string[], flags: ConnectionFlags & { excludeInternal?: boolean }) => {
        const details = await withClient(flags, async (client) => {
          const metadata = await client.metadata(names.length > 0 ? names : null);
          for (const t of metadata.topics) if (t.errorCode === 3) throw new Error(`UNKNOWN_TOPIC_OR_PARTITION: Topic '${t.name}' does not exist.`);
          const topics = metadata.topics.filter((t) => t.errorCode === 0 && !(names.length === 0 && flags.excludeInternal && t.isInternal));
          return Promise.all(topics.sort((a, b) => compare(a.name, b.name)).map((t) => describeTopic(client, t)));
        });
        if (flags.json) printJson(details);
        else for (const detail of details) process.stdout.write(formatDescription(detail));
      }),
    );

  withConnectionOptions(topic.command("delete").description("delete topics").argument("<topics...>")).action(
    action(async (names: string[], flags: ConnectionFlags) => {
      const results = await withClient(flags, (client) => client.deleteTopics(names));
      if (flags.json) printJson(results.map((r) => ({ topic: r.name, error: r.error?.errorName ?? null, message: r.error?.detail ?? null })));
      else for (const r of results) if (!r.error) process.stdout.write(`Deleted topic ${r.name}.\n`);
      const failed = results.find((r) => r.error);
      if (failed?.error) throw failed.error;
    }),
  );

  withConnectionOptions(topic.command("alter-config").description("set or delete topic configs (IncrementalAlterConfigs)").argument("<topic>"))
    .option("--set <key=value>", "set a config (repeatable)", collect, [] as string[])
    .option("--delete <key>", "remove an override, back to the default (repeatable)", collect, [] as string[])
    .action(
      action(async (name: string, flags: ConnectionFlags & { set: string[]; delete: string[] }) => {
        await alterConfigCommand(flags, "topics", name, flags.set, flags.delete);
      }),
    );
}

/** Shared with `sluice config set`. */
export async function alterConfigCommand(flags: ConnectionFlags, type: "topics" | "brokers", name: string, set: string[], remove: string[]): Promise<void> {
  const alterations = [
    ...Object.entries(parseAssignments(set, "--set")).map(([key, value]) => ({ name: key, operation: "set" as const, value })),
    ...remove.map((key) => ({ name: key, operation: "delete" as const })),
  ];
  if (alterations.length === 0) throw new Error("nothing to change: give --set key=value or --delete key");
  await withClient(flags, (client) => client.alterConfigs(type, name, alterations));
  const entity = type === "topics" ? "topic" : name === "" ? "default broker" : "broker";
  if (flags.json) printJson({ entityType: type, entityName: name, set: parseAssignments(set, "--set"), deleted: remove });
  else process.stdout.write(`Completed updating config for ${entity}${name === "" ? "" : ` ${name}`}.\n`);
}

async function describeTopic(client: KafkaClient, topic: TopicInfo): Promise<TopicDetails> {
  const partitions = topic.partitions.map((p) => ({ topic: topic.name, partition: p.partition }));
  const [starts, ends, configs] = await Promise.all([
    client.listOffsets(partitions, "earliest"),
    client.listOffsets(partitions, "latest"),
    client.describeConfigs([{ type: "topics", name: topic.name }]),
  ]);
  const overrides: Record<string, string | null> = {};
  // As kafka-topics.sh: every config not at its default.
  for (const entry of configs[0]?.configs ?? []) if (!entry.isDefault) overrides[entry.name] = entry.sensitive ? null : entry.value;
  const offset = (list: typeof starts, partition: number) => list.find((o) => o.partition === partition)?.offset ?? -1n;
  return {
    topic: topic.name,
    topicId: topic.topicId,
    partitionCount: topic.partitions.length,
    replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
    configs: overrides,
    partitions: topic.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      replicas: p.replicas,
      isr: p.isr,
      logStartOffset: offset(starts, p.partition),
      logEndOffset: offset(ends, p.partition),
    })),
  };
}

function formatDescription(detail: TopicDetails): string {
  const configs = Object.entries(detail.configs)
    .map(([key, value]) => `${key}=${value ?? "(sensitive)"}`)
    .join(",");
  const lines = [
    `Topic: ${detail.topic}\tTopicId: ${detail.topicId}\tPartitionCount: ${detail.partitionCount}\tReplicationFactor: ${detail.replicationFactor}\tConfigs: ${configs}`,
    ...detail.partitions.map(
      (p) =>
        `\tTopic: ${detail.topic}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? "none" : p.leader}\tReplicas: ${p.replicas.join(",")}\tIsr: ${p.isr.join(",")}` +
        `\tLogStartOffset: ${p.logStartOffset}\tLogEndOffset: ${p.logEndOffset}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
