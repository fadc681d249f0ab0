// `sluice group list|describe|reset-offsets|delete` (alias `groups`), after kafka-consumer-groups.sh:
// describe prints its offsets table (CURRENT-OFFSET, LOG-END-OFFSET, LAG per partition, with the
// member that owns it) and, with --members / --state, its other two; reset-offsets prints the plan
// and commits it only with --execute, and refuses a group with members as Kafka does.

import type { Command } from "commander";
import type { CommittedOffset, GroupDescription, KafkaClient, TopicPartition } from "../../client/index.js";
import { action, type ConnectionFlags, collect, parseTime, printJson, printTable, withClient, withConnectionOptions } from "./common.js";

interface OffsetRow {
  group: string;
  topic: string;
  partition: number;
  currentOffset: bigint | null;
  logEndOffset: bigint;
  lag: bigint | null;
  consumerId: string | null;
  host: string | null;
  clientId: string | null;
}

interface ResetFlags extends ConnectionFlags {
  topic: string[];
  allTopics?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: string;
  toDatetime?: string;
  shiftBy?: string;
  execute?: boolean;
  dryRun?: boolean;
}

export function registerGroup(program: Command): void {
  const group = program.command("group").alias("groups").description("list, describe, reset offsets of and delete consumer groups");

  withConnectionOptions(group.command("list").description("list the groups of every broker")).action(
    action(async (flags: ConnectionFlags) => {
      const groups = await withClient(flags, (client) => client.listGroups());
      if (flags.json) printJson(groups);
      else
        printTable(
          ["GROUP", "STATE", "TYPE", "PROTOCOL-TYPE"],
          groups.map((g) => [g.groupId, g.state || "-", g.type || "-", g.protocolType || "-"]),
        );
    }),
  );

  withConnectionOptions(group.command("describe").description("offsets, lag and members of groups").argument("<groups...>"))
    .option("--members", "the members table instead of the offsets")
    .option("--state", "the state table instead of the offsets")
    .action(
      action(async (groupIds: string[], flags: ConnectionFlags & { members?: boolean; state?: boolean }) => {
        const described = await withClient(flags, (client) => Promise.all(groupIds.map((id) => describeWithOffsets(client, id))));
        if (flags.json) {
          printJson(described.map(({ description, rows }) => ({ ...description, offsets: rows })));
          return;
        }
        for (const [index, { description, rows }] of described.entries()) {
          if (index > 0) process.stdout.write("\n");
          printDescription(description, rows, flags);
        }
      }),
    );

  withConnectionOptions(group.command("reset-offsets").description("move a group's committed offsets (a dry run unless --execute)").argument("<group>"))
    .option("--topic <topic[:partitions]>", "a topic, or topic:0,1,2 (repeatable)", collect, [] as string[])
    .option("--all-topics", "every topic the group has offsets for")
    .option("--to-earliest", "to the log start")
    .option("--to-latest", "to the log end")
    .option("--to-offset <offset>", "to this offset (kept within the log)")
    .option("--to-datetime <time>", "to the first record at or after this time (ISO 8601 or epoch ms)")
    .option("--shift-by <n>", "move the current offset by n (negative: back)")
    .option("--dry-run", "print the new offsets only (the default)")
    .option("--execute", "commit the new offsets")
    .action(
      action(async (groupId: string, flags: ResetFlags) => {
        const plan = await withClient(flags, (client) => resetOffsets(client, groupId, flags));
        if (flags.json) printJson({ group: groupId, executed: flags.execute === true, offsets: plan });
        else
          printTable(
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
            plan.map((p) => [groupId, p.topic, p.partition, p.offset]),
          );
      }),
    );

  withConnectionOptions(group.command("delete").description("delete groups (they must have no members)").argument("<groups...>")).action(
    action(async (groupIds: string[], flags: ConnectionFlags) => {
      const results = await withClient(flags, (client) => client.deleteGroups(groupIds));
      const deleted = results.filter((r) => !r.error).map((r) => `'${r.groupId}'`);
      if (flags.json) printJson(results.map((r) => ({ group: r.groupId, error: r.error?.errorName ?? null, message: r.error?.detail ?? null })));
      else if (deleted.length > 0) process.stdout.write(`Deletion of requested consumer groups (${deleted.join(", ")}) was successful.\n`);
      const failed = results.find((r) => r.error);
      if (failed?.error) throw new Error(`Group '${failed.groupId}' could not be deleted: ${failed.error.message}`);
    }),
  );
}

/** DescribeGroups, the committed offsets and the log end offsets: kafka-consumer-groups.sh's rows. */
async function describeWithOffsets(client: KafkaClient, groupId: string): Promise<{ description: GroupDescription; rows: OffsetRow[] }> {
  const description = await client.describeGroup(groupId);
  if (description.error?.errorName === "GROUP_ID_NOT_FOUND" || description.state === "Dead") throw new Error(`Consumer group '${groupId}' does not exist.`);
  if (description.error) throw description.error;
  const committed = await client.fetchOffsets(groupId);
  const owners = new Map<string, GroupDescription["members"][number]>();
  for (const member of description.members) {
    for (const { topic, partitions } of member.assignment?.assignedPartitions ?? [])
      for (const partition of partitions) owners.set(key({ topic, partition }), member);
  }
  const partitions = new Map<string, TopicPartition>();
  for (const offset of committed) partitions.set(key(offset), { topic: offset.topic, partition: offset.partition });
  for (const owned of owners.keys()) {
    const [topic, partition] = owned.split("\u0000") as [string, string];
    partitions.set(owned, { topic, partition: Number(partition) });
  }
  const ends = partitions.size === 0 ? [] : await client.listOffsets([...partitions.values()], "latest");
  const rows = [...partitions.values()]
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
    .map((tp) => {
      const current = committed.find((c) => c.topic === tp.topic && c.partition === tp.partition)?.offset ?? -1n;
      const end = ends.find((e) => e.topic === tp.topic && e.partition === tp.partition)?.offset ?? -1n;
      const owner = owners.get(key(tp));
      return {
        group: groupId,
        topic: tp.topic,
        partition: tp.partition,
        currentOffset: current < 0n ? null : current,
        logEndOffset: end,
        lag: current < 0n || end < 0n ? null : end - current,
        consumerId: owner?.memberId ?? null,
        host: owner?.clientHost ?? null,
        clientId: owner?.clientId ?? null,
      };
    });
  return { description, rows };
}

function printDescription(description: GroupDescription, rows: OffsetRow[], flags: { members?: boolean; state?: boolean }): void {
  if (flags.state) {
    printTable(
      ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"],
      [[description.groupId, description.coordinator, description.protocol || "", description.state, description.members.length]],
    );
    return;
  }
  if (description.members.length === 0 && description.state !== "Stable") {
    process.stdout.write(`Consumer group '${description.groupId}' has no active members.\n\n`);
  }
  if (flags.members) {
    printTable(
      ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"],
      description.members.map((m) => {
        const assigned = m.assignment?.assignedPartitions ?? [];
        return [
          description.groupId,
          m.memberId,
          m.clientHost,
          m.clientId,
          assigned.reduce((sum, t) => sum + t.partitions.length, 0),
          assigned.map((t) => `${t.topic}(${t.partitions.join(",")})`).join(", ") || "-",
        ];
      }),
    );
    return;
  }
  printTable(
    ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"],
    rows.map((r) => [r.group, r.topic, r.partition, r.currentOffset, r.logEndOffset, r.lag, r.consumerId, r.host, r.clientId]),
  );
}

/** The new offsets, committed when --execute; Kafka's bounds: never outside [log start, log end]. */
async function resetOffsets(client: KafkaClient, groupId: string, flags: ResetFlags): Promise<(TopicPartition & { offset: bigint })[]> {
  const specs = [flags.toEarliest, flags.toLatest, flags.toOffset, flags.toDatetime, flags.shiftBy].filter((s) => s !== undefined);
  if (specs.length !== 1) throw new Error("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
  if (flags.execute && flags.dryRun) throw new Error("--execute and --dry-run cannot be combined");
  if (flags.topic.length > 0 === (flags.allTopics === true)) throw new Error("give --topic (repeatable) or --all-topics");
  const description = await client.describeGroup(groupId);
  const inactive = description.state === "Empty" || description.state === "Dead" || description.error?.errorName === "GROUP_ID_NOT_FOUND";
  if (!inactive) throw new Error(`Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${description.state}.`);
  const committed = description.state === "Dead" ? [] : await client.fetchOffsets(groupId).catch(() => [] as CommittedOffset[]);
  const partitions = flags.allTopics ? committed.map(({ topic, partition }) => ({ topic, partition })) : await topicPartitions(client, flags.topic);
  if (partitions.length === 0) return [];
  const [earliest, latest] = await Promise.all([client.listOffsets(partitions, "earliest"), client.listOffsets(partitions, "latest")]);
  const byTime = flags.toDatetime === undefined ? [] : await client.listOffsets(partitions, { timestamp: parseTime(flags.toDatetime, "--to-datetime") });
  const find = (list: { topic: string; partition: number; offset: bigint }[], tp: TopicPartition) =>
    list.find((o) => o.topic === tp.topic && o.partition === tp.partition)?.offset ?? -1n;
  const plan = partitions.map((tp) => {
    const low = find(earliest, tp);
    const high = find(latest, tp);
    let target: bigint;
    if (flags.toEarliest) target = low;
    else if (flags.toLatest) target = high;
    else if (flags.toOffset !== undefined) target = parseOffset(flags.toOffset, "--to-offset");
    else if (flags.toDatetime !== undefined) target = find(byTime, tp) < 0n ? high : find(byTime, tp);
    else {
      const current = find(committed, tp);
      target = (current < 0n ? low : current) + parseOffset(flags.shiftBy as string, "--shift-by");
    }
    if (target < low) target = low;
    if (target > high) target = high;
    return { ...tp, offset: target };
  });
  if (flags.execute) await client.commitOffsets(groupId, plan);
  return plan;
}

/** --topic t (all its partitions) or t:0,1,2. */
async function topicPartitions(client: KafkaClient, specs: string[]): Promise<TopicPartition[]> {
  const result: TopicPartition[] = [];
  for (const spec of specs) {
    const at = spec.lastIndexOf(":");
    const topic = at < 0 ? spec : spec.slice(0, at);
    const info = await client.topic(topic);
    if (at < 0) {
      for (const p of info.partitions) result.push({ topic, partition: p.partition });
      continue;
    }
    for (const part of spec.slice(at + 1).split(",")) {
      const partition = Number(part);
      if (!Number.isInteger(partition) || !info.partitions.some((p) => p.partition === partition)) throw new Error(`${topic} has no partition '${part}'`);
      result.push({ topic, partition });
    }
  }
  return result;
}

function parseOffset(text: string, option: string): bigint {
  if (!/^-?\d+$/.test(text)) throw new Error(`${option} takes an integer, got '${text}'`);
  return BigInt(text);
}

function key(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}
