// `sluice consume --topic t`: records of one partition or all, from an offset or a time, printed
// as values (optionally keys) in text or hex, or as JSON lines with exactly kcat -J's fields.
// Without --follow it stops once every partition is read to its end (kcat -e); with --group it
// joins the group as a classic "range" consumer (the CLI computes the assignment when it leads),
// starts from the group's committed offsets and commits what it printed.

import type { Command } from "commander";
import type { ClassicGroupMember, ConsumerRecord, KafkaClient, TopicPartition } from "../../client/index.js";
import { startProgress } from "../progress.js";
import { action, type ConnectionFlags, parseCount, parseTime, toJson, unescapeSeparator, withClient, withConnectionOptions } from "./common.js";

interface ConsumeFlags extends ConnectionFlags {
  topic: string;
  partition?: string;
  offset: string;
  fromTime?: string;
  group?: string;
  count?: string;
  format: string;
  keySeparator?: string;
  follow?: boolean;
  isolation: string;
  progress: boolean;
}

interface Position extends TopicPartition {
  offset: bigint;
  /** Read to the end (of the last fetch's high watermark). */
  done: boolean;
}

const commitIntervalMs = 5_000;
const tsTypes = { CreateTime: "create", LogAppendTime: "logappend" } as const;

export function registerConsume(program: Command): void {
  withConnectionOptions(program.command("consume").description("print records of a topic; exits at the end unless --follow"))
    .requiredOption("-t, --topic <topic>", "the topic")
    .option("-p, --partition <n>", "only this partition (default: all)")
    .option("-o, --offset <offset>", "earliest, latest, an offset, or -N for N before the end", "earliest")
    .option("--from-time <time>", "start at the first record at or after this time (ISO 8601 or epoch ms)")
    .option("-g, --group <group>", "consume as a member of this group, from its committed offsets, committing as it goes")
    .option("-c, --count <n>", "stop after this many records")
    .option("--format <format>", "text (values), hex, or json (kcat -J lines)", "text")
    .option("-K, --key-separator <sep>", "text and hex: print the key, this, then the value")
    .option("-f, --follow", "keep waiting for new records instead of exiting at the end")
    .option("--isolation <level>", "read_uncommitted or read_committed", "read_uncommitted")
    .option("--no-progress", "no progress bar (drawn only when stderr is a terminal and stdout is not)")
    .action(
      action(async (flags: ConsumeFlags) => {
        if (flags.json) flags.format = "json";
        if (flags.keySeparator !== undefined) flags.keySeparator = unescapeSeparator(flags.keySeparator);
        if (!["text", "hex", "json"].includes(flags.format)) throw new Error(`--format must be text, hex or json, got '${flags.format}'`);
        if (flags.group !== undefined && flags.partition !== undefined)
          throw new Error("--partition and --group cannot be combined: the group assigns partitions");
        if (!["read_uncommitted", "read_committed"].includes(flags.isolation))
          throw new Error(`--isolation must be read_uncommitted or read_committed, got '${flags.isolation}'`);
        await withClient(flags, (client) => consume(client, flags));
      }),
    );
}

async function consume(client: KafkaClient, flags: ConsumeFlags): Promise<void> {
  const topic = await client.topic(flags.topic);
  const limit = flags.count === undefined ? Number.POSITIVE_INFINITY : parseCount(flags.count, "--count");
  let member: ClassicGroupMember | undefined;
  let assigned: TopicPartition[];
  if (flags.group !== undefined) {
    const { ClassicGroupMember } = await import("../../client/index.js");
    member = new ClassicGroupMember(client, { groupId: flags.group, topics: [flags.topic] });
    assigned = await member.join();
  } else if (flags.partition !== undefined) {
    const partition = parseCount(flags.partition, "--partition");
    if (!topic.partitions.some((p) => p.partition === partition)) {
      throw new Error(`UNKNOWN_TOPIC_OR_PARTITION: Topic '${flags.topic}' has no partition ${partition} (it has ${topic.partitions.length}).`);
    }
    assigned = [{ topic: flags.topic, partition }];
  } else {
    assigned = topic.partitions.map((p) => ({ topic: flags.topic, partition: p.partition }));
  }
  let positions = await startPositions(client, flags, assigned);
  const progress = await startProgress({
    total: await remaining(client, positions),
    unit: "records",
    enabled: flags.progress && !flags.follow && process.stdout.isTTY !== true,
  });
  const isolationLevel = flags.isolation === "read_committed" ? 1 : 0;
  let printed = 0;
  let lastCommit = Date.now();
  const commit = async () => {
    if (member) await member.commit(positions.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
    lastCommit = Date.now();
  };
  // Ctrl-C or SIGTERM ends a --follow run cleanly: the loop stops after the current fetch, the
  // group's offsets are committed and the member leaves. A second signal exits at once.
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    while (!stopping && printed < limit && (flags.follow || positions.some((p) => !p.done))) {
      if (member?.rejoinNeeded) {
        await commit().catch(() => {});
        positions = await startPositions(client, flags, await member.join());
        continue;
      }
      const active = positions.filter((p) => flags.follow || !p.done);
      if (active.length === 0) {
        // A group member with no partitions (more members than partitions) waits in --follow.
        await new Promise((wake) => setTimeout(wake, 500));
        continue;
      }
      const fetched = await client.fetch(active, { maxWaitMs: flags.follow ? 1_000 : 200, isolationLevel });
      for (const partition of fetched) {
        const position = positions.find((p) => p.partition === partition.partition && p.topic === partition.topic);
        if (position === undefined) continue;
        if (partition.error) {
          if (partition.error.errorName !== "OFFSET_OUT_OF_RANGE") {
            if (partition.error.retriable) continue;
            throw partition.error;
          }
          // As auto.offset.reset=earliest: retention removed what was to be read next.
          process.stderr.write(
            `Warning: offset ${position.offset} of ${position.topic}-${position.partition} is out of range; starting again from the log start\n`,
          );
          position.offset = partition.logStartOffset;
          continue;
        }
        for (const record of partition.records) {
          if (printed >= limit) break;
          await writeOut(formatRecord(record, partition.leader, flags));
          printed++;
          progress.increment();
          position.offset = record.offset + 1n;
        }
        // Past control batches and filtered records too, unless --count stopped in the middle.
        if (printed < limit && partition.nextOffset > position.offset) position.offset = partition.nextOffset;
        const end = isolationLevel === 1 ? partition.lastStableOffset : partition.highWatermark;
        position.done = position.offset >= end;
      }
      if (member && Date.now() - lastCommit >= commitIntervalMs) await commit().catch(() => {});
    }
    await commit();
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    progress.stop();
    await member?.leave().catch(() => {});
  }
}

/** Writes to stdout, waiting when the pipe is full (a slow reader must not make the CLI buffer a topic). */
function writeOut(chunk: string | Buffer): Promise<void> | undefined {
  if (process.stdout.write(chunk)) return undefined;
  return new Promise((resolve) => process.stdout.once("drain", resolve));
}

/** Where each partition starts: the group's committed offset, else --from-time, else --offset. */
async function startPositions(client: KafkaClient, flags: ConsumeFlags, partitions: TopicPartition[]): Promise<Position[]> {
  if (partitions.length === 0) return [];
  const committed = flags.group === undefined ? [] : await client.fetchOffsets(flags.group, partitions);
  const [earliest, latest] = await Promise.all([client.listOffsets(partitions, "earliest"), client.listOffsets(partitions, "latest")]);
  const byTime = flags.fromTime === undefined ? [] : await client.listOffsets(partitions, { timestamp: parseTime(flags.fromTime, "--from-time") });
  const find = (list: { partition: number; offset: bigint }[], partition: number) => list.find((o) => o.partition === partition)?.offset ?? -1n;
  return partitions.map(({ topic, partition }) => {
    const low = find(earliest, partition);
    const high = find(latest, partition);
    let offset = find(committed, partition);
    if (offset < 0n) {
      if (flags.fromTime !== undefined) {
        offset = find(byTime, partition);
        if (offset < 0n) offset = high; // no record that recent
      } else offset = resolveOffset(flags.offset, low, high);
    }
    return { topic, partition, offset, done: offset >= high };
  });
}

function resolveOffset(text: string, low: bigint, high: bigint): bigint {
  if (text === "earliest" || text === "beginning") return low;
  if (text === "latest" || text === "end") return high;
  if (/^-\d+$/.test(text)) {
    const back = high + BigInt(text);
    return back < low ? low : back;
  }
  if (/^\d+$/.test(text)) return BigInt(text);
  throw new Error(`--offset takes earliest, latest, an offset or -N, got '${text}'`);
}

/** Records between the start positions and the partitions' ends: the progress bar's total. */
async function remaining(client: KafkaClient, positions: Position[]): Promise<number> {
  if (positions.length === 0) return 0;
  const ends = await client.listOffsets(positions, "latest");
  let total = 0n;
  for (const position of positions) {
    const end = ends.find((e) => e.partition === position.partition)?.offset ?? position.offset;
    if (end > position.offset) total += end - position.offset;
  }
  return Number(total);
}

function formatRecord(record: ConsumerRecord, broker: number, flags: ConsumeFlags): string | Buffer {
  if (flags.format === "json") {
    // kcat -J's fields, in its order; headers only when the record has some.
    const json: Record<string, unknown> = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      tstype: tsTypes[record.timestampType],
      ts: record.timestamp,
      broker,
    };
    if (record.headers.length > 0) json.headers = record.headers.flatMap((h) => [h.key, h.value === null ? null : h.value.toString("utf8")]);
    json.key = record.key === null ? null : record.key.toString("utf8");
    json.payload = record.value === null ? null : record.value.toString("utf8");
    return `${toJson(json)}\n`;
  }
  const show = (bytes: Buffer | null): Buffer => (bytes === null ? Buffer.from("null") : flags.format === "hex" ? Buffer.from(bytes.toString("hex")) : bytes);
  const parts = flags.keySeparator === undefined ? [show(record.value)] : [show(record.key), Buffer.from(flags.keySeparator), show(record.value)];
  return Buffer.concat([...parts, Buffer.from("\n")]);
}
