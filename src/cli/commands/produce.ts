// `sluice produce --topic t [--file f]`: records from stdin or a file, one per line, as
// kafka-console-producer.sh reads them (--key-separator is its parse.key/key.separator,
// --parse-headers its parse.headers, --null-marker its null.marker), or `--format json` lines in
// kcat -J's shape ({"key","payload" or "value","headers","partition","ts"}). Keyed records go where
// Kafka's default partitioner puts them (murmur2), others stick to one partition per request
// (KIP-480). Input is streamed: at most `--request-bytes` of records are held before they are sent.

import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { CompressionCodec, KafkaClient, ProducerRecord } from "../../client/index.js";
import { type Progress, startProgress } from "../progress.js";
import { action, type ConnectionFlags, collect, parseCount, printJson, printTable, unescapeSeparator, withClient, withConnectionOptions } from "./common.js";

interface ProduceFlags extends ConnectionFlags {
  topic: string;
  file?: string;
  partition?: string;
  format: string;
  keySeparator?: string;
  parseHeaders?: boolean;
  headersDelimiter: string;
  headersSeparator: string;
  headersKeySeparator: string;
  header: string[];
  nullMarker?: string;
  compression: string;
  acks: string;
  batchBytes: string;
  requestBytes: string;
  progress: boolean;
}

/** A record with the partition it must go to, if the input says. */
interface InputRecord extends ProducerRecord {
  partition?: number;
}

interface PartitionSummary {
  partition: number;
  records: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

export function registerProduce(program: Command): void {
  withConnectionOptions(program.command("produce").description("write records from stdin or a file, one per line"))
    .requiredOption("-t, --topic <topic>", "the topic (created if the broker auto-creates topics)")
    .option("-f, --file <path>", "read this file instead of stdin")
    .option("-p, --partition <n>", "send every record to this partition")
    .option("--format <format>", "text: a value per line; json: kcat -J objects {key, payload|value, headers, partition, ts}", "text")
    .option("-K, --key-separator <sep>", "text lines are key<sep>value (kafka-console-producer's parse.key; \\t is a tab)")
    .option("--parse-headers", "text lines start with headers: h1:v1,h2:v2<TAB>… (kafka-console-producer's parse.headers)")
    .option("--headers-delimiter <sep>", "between the headers and the rest of the line", "\t")
    .option("--headers-separator <sep>", "between headers", ",")
    .option("--headers-key-separator <sep>", "between a header's key and value", ":")
    .option("-H, --header <key=value>", "a header on every record (repeatable)", collect, [] as string[])
    .option("--null-marker <text>", "a key or value equal to this is sent as null")
    .option("-z, --compression <codec>", "none, gzip, snappy, lz4 or zstd", "none")
    .option("--acks <acks>", "0, 1 or all (-1)", "all")
    .option("--batch-bytes <n>", "a partition's batch, in bytes, before it is sent (Kafka's batch.size is 16384)", "262144")
    .option("--request-bytes <n>", "records held (all partitions) before a produce request is sent", "1048576")
    .option("--no-progress", "no progress bar (it is drawn only when stderr is a terminal)")
    .action(
      action(async (flags: ProduceFlags) => {
        if (flags.keySeparator !== undefined) flags.keySeparator = unescapeSeparator(flags.keySeparator);
        flags.headersDelimiter = unescapeSeparator(flags.headersDelimiter);
        flags.headersSeparator = unescapeSeparator(flags.headersSeparator);
        flags.headersKeySeparator = unescapeSeparator(flags.headersKeySeparator);
        const settings = checkFlags(flags);
        const summary = await withClient(flags, async (client) => {
          const input = flags.file === undefined ? process.stdin : createReadStream(flags.file);
          const total = flags.file === undefined ? 0 : statSync(flags.file).size;
          const progress = await startProgress({ total, unit: total > 0 ? "bytes" : "records", enabled: flags.progress && !flags.json });
          try {
            return await produceLines(client, flags, settings, input, progress, total > 0);
          } finally {
            progress.stop();
          }
        });
        const records = summary.reduce((sum, s) => sum + s.records, 0);
        if (flags.json) {
          printJson({ topic: flags.topic, records, partitions: summary });
          return;
        }
        process.stderr.write(`Produced ${records} record${records === 1 ? "" : "s"} to ${flags.topic}.\n`);
        printTable(
          ["PARTITION", "RECORDS", "FIRST-OFFSET", "LAST-OFFSET"],
          summary.map((s) => [s.partition, s.records, s.firstOffset < 0n ? "-" : s.firstOffset, s.lastOffset < 0n ? "-" : s.lastOffset]),
        );
      }),
    );
}

interface Settings {
  codec: CompressionCodec;
  acks: number;
  partition: number | undefined;
  batchBytes: number;
  requestBytes: number;
  headers: { key: string; value: Buffer }[];
}

function checkFlags(flags: ProduceFlags): Settings {
  const codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
  if (!codecs.includes(flags.compression)) throw new Error(`--compression must be one of ${codecs.join(", ")}, got '${flags.compression}'`);
  const acks = flags.acks === "all" ? -1 : Number(flags.acks);
  if (![0, 1, -1].includes(acks)) throw new Error(`--acks must be 0, 1, all or -1, got '${flags.acks}'`);
  if (flags.format !== "text" && flags.format !== "json") throw new Error(`--format must be text or json, got '${flags.format}'`);
  const headers = flags.header.map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`--header takes key=value, got '${pair}'`);
    return { key: pair.slice(0, at), value: Buffer.from(pair.slice(at + 1)) };
  });
  return {
    codec: flags.compression as CompressionCodec,
    acks,
    partition: flags.partition === undefined ? undefined : parseCount(flags.partition, "--partition"),
    batchBytes: parseCount(flags.batchBytes, "--batch-bytes"),
    requestBytes: parseCount(flags.requestBytes, "--request-bytes"),
    headers,
  };
}

async function produceLines(
  client: KafkaClient,
  flags: ProduceFlags,
  settings: Settings,
  input: NodeJS.ReadableStream,
  progress: Progress,
  progressInBytes: boolean,
): Promise<PartitionSummary[]> {
  const { approximateRecordBytes, encodeBatch, loadCodecs, partitionForKey } = await import("../../client/index.js");
  if (settings.codec !== "none") await loadCodecs();
  // Metadata with auto-creation first, as the console producer's first send does.
  await client.metadata([flags.topic], { autoCreate: true });
  const partitions = (await client.topic(flags.topic)).partitions.length;
  if (settings.partition !== undefined && settings.partition >= partitions) {
    throw new Error(`UNKNOWN_TOPIC_OR_PARTITION: Topic '${flags.topic}' has no partition ${settings.partition} (it has ${partitions}).`);
  }
  const summary = new Map<number, PartitionSummary>();
  let pending = new Map<number, ProducerRecord[]>();
  let pendingBytes = 0;
  let partitionBytes = new Map<number, number>();
  let pendingCount = 0;
  let sticky = Math.floor(Math.random() * partitions);

  const flush = async () => {
    if (pendingBytes === 0 && pendingCount === 0) return;
    const sending = pending;
    pending = new Map();
    pendingBytes = 0;
    partitionBytes = new Map();
    pendingCount = 0;
    // Kafka takes exactly one batch per partition in a Produce request (v3+).
    const batches = [...sending].map(([partition, records]) => ({ topic: flags.topic, partition, records: encodeBatch(records, settings.codec) }));
    const results = await client.produce(batches, { acks: settings.acks });
    for (const result of results) {
      if (result.error) throw result.error;
      const count = sending.get(result.partition)?.length ?? 0;
      const entry = summary.get(result.partition) ?? { partition: result.partition, records: 0, firstOffset: -1n, lastOffset: -1n };
      entry.records += count;
      if (result.baseOffset >= 0n) {
        if (entry.firstOffset < 0n) entry.firstOffset = result.baseOffset;
        entry.lastOffset = result.baseOffset + BigInt(count) - 1n;
      }
      summary.set(result.partition, entry);
    }
    if (!progressInBytes) progress.increment(results.reduce((sum, r) => sum + (sending.get(r.partition)?.length ?? 0), 0));
    if (partitions > 1) sticky = (sticky + 1 + Math.floor(Math.random() * (partitions - 1))) % partitions;
  };

  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (progressInBytes) progress.increment(Buffer.byteLength(line) + 1);
    if (line === "" && flags.format === "json") continue;
    const record = flags.format === "json" ? parseJsonLine(line, lineNumber) : parseTextLine(line, lineNumber, flags);
    if (settings.headers.length > 0) record.headers = [...(record.headers ?? []), ...settings.headers];
    const partition = settings.partition ?? record.partition ?? (record.key === null ? sticky : partitionForKey(record.key, partitions));
    if (partition < 0 || partition >= partitions)
      throw new Error(`line ${lineNumber}: partition ${partition} does not exist (${flags.topic} has ${partitions})`);
    const size = approximateRecordBytes(record);
    // A partition's batch is full: send everything held, so its next records start a new batch.
    if ((partitionBytes.get(partition) ?? 0) > 0 && (partitionBytes.get(partition) ?? 0) + size > settings.batchBytes) await flush();
    const list = pending.get(partition) ?? [];
    pending.set(partition, list);
    list.push({ key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp });
    partitionBytes.set(partition, (partitionBytes.get(partition) ?? 0) + size);
    pendingBytes += size;
    pendingCount++;
    if (pendingBytes >= settings.requestBytes) await flush();
  }
  await flush();
  return [...summary.values()].sort((a, b) => a.partition - b.partition);
}

function nullable(text: string, flags: ProduceFlags): Buffer | null {
  return flags.nullMarker !== undefined && text === flags.nullMarker ? null : Buffer.from(text);
}

/** kafka-console-producer's LineMessageReader: [headers<delimiter>][key<separator>]value. */
function parseTextLine(line: string, lineNumber: number, flags: ProduceFlags): InputRecord {
  let rest = line;
  let headers: { key: string; value: Buffer | null }[] | undefined;
  if (flags.parseHeaders) {
    const at = rest.indexOf(flags.headersDelimiter);
    if (at < 0) throw new Error(`No headers delimiter found on line number ${lineNumber}: '${line}'`);
    headers = rest
      .slice(0, at)
      .split(flags.headersSeparator)
      .filter((header) => header !== "")
      .map((header) => {
        const split = header.indexOf(flags.headersKeySeparator);
        if (split < 0) throw new Error(`No header key separator found in pair '${header}' on line number ${lineNumber}`);
        return { key: header.slice(0, split), value: nullable(header.slice(split + flags.headersKeySeparator.length), flags) };
      });
    rest = rest.slice(at + flags.headersDelimiter.length);
  }
  if (flags.keySeparator === undefined) return { key: null, value: nullable(rest, flags), headers };
  const at = rest.indexOf(flags.keySeparator);
  if (at < 0) throw new Error(`No key separator found on line number ${lineNumber}: '${line}'`);
  return { key: nullable(rest.slice(0, at), flags), value: nullable(rest.slice(at + flags.keySeparator.length), flags), headers };
}

/** A kcat -J object (or {key, value, headers: {k: v}}); missing fields are null. */
function parseJsonLine(line: string, lineNumber: number): InputRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new Error(`line ${lineNumber} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`line ${lineNumber} is not a JSON object`);
  const object = parsed as Record<string, unknown>;
  const text = (value: unknown, field: string): Buffer | null => {
    if (value === null || value === undefined) return null;
    if (typeof value === "string") return Buffer.from(value);
    throw new Error(`line ${lineNumber}: "${field}" must be a string or null`);
  };
  const headers: { key: string; value: Buffer | null }[] = [];
  if (Array.isArray(object.headers)) {
    // kcat -J: ["k1", "v1", "k2", "v2"]
    for (let index = 0; index + 1 < object.headers.length; index += 2) {
      headers.push({ key: String(object.headers[index]), value: text(object.headers[index + 1], "headers") });
    }
  } else if (typeof object.headers === "object" && object.headers !== null) {
    for (const [key, value] of Object.entries(object.headers)) headers.push({ key, value: text(value, "headers") });
  }
  const partition = typeof object.partition === "number" && object.partition >= 0 ? object.partition : undefined;
  const ts = object.ts ?? object.timestamp;
  return {
    key: text(object.key, "key"),
    value: text("payload" in object ? object.payload : object.value, "payload"),
    headers,
    partition,
    timestamp: typeof ts === "number" && ts >= 0 ? ts : undefined,
  };
}
