// `sluice dump-log`: prints segments and indexes the way Kafka's DumpLogSegments does, line for
// line, so operators can diff the two tools' output and scripts written for kafka-dump-log.sh
// keep working.
//
// .log        a batch line per batch; with deep iteration a `| offset: …` line per record
// .index      `offset: O position: P` per entry (entry = last offset of the batch at P)
// .timeindex  `timestamp: T offset: O` per entry (entry = max timestamp up to the batch ending at O)
// .txnindex   `version: 0 producerId: P firstOffset: F lastOffset: L lastStableOffset: S` per
//             aborted transaction (34-byte entries; a torn tail is ignored, as Kafka does)
// With --verify-index-only the index entries are checked against the log and only
// mismatches are reported (on stderr, in Kafka's wording).

import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import {
  CompressionType,
  ControlRecordType,
  decodeControlRecordKey,
  decodeRecords,
  RecordBatchDecodeError,
  type RecordBatchView,
  recordBatchAt,
} from "../protocol/records.js";

export interface DumpOptions {
  deepIteration: boolean;
  printDataLog: boolean;
  verifyIndexOnly: boolean;
  /** Checks a batch's CRC32C. */
  crc32c: (bytes: Uint8Array) => number;
  /** Turns a compressed batch into the same batch uncompressed (for deep iteration), if available. */
  decompressBatch?: (batch: Buffer) => Buffer;
  /** Called after each file (the CLI's progress bar). */
  onFileDone?: (file: string) => void;
}

export interface DumpOutput {
  out: string[];
  err: string[];
}

const OFFSET_INDEX_ENTRY_BYTES = 8;
const TIME_INDEX_ENTRY_BYTES = 12;
const ABORTED_TXN_BYTES = 34;
const NO_TIMESTAMP = -1n;

const compressionNames = ["none", "gzip", "snappy", "lz4", "zstd"];
const controlTypeNames: Record<number, string> = Object.fromEntries(Object.entries(ControlRecordType).map(([name, id]) => [id, name]));

export function dumpFiles(files: string[], options: DumpOptions): DumpOutput {
  const output: DumpOutput = { out: [], err: [] };
  const nonConsecutive: [string, [bigint, bigint][]][] = [];
  for (const file of files) {
    output.out.push(`Dumping ${file}`);
    const suffix = file.slice(file.lastIndexOf("."));
    if (suffix === ".log") dumpLog(file, options, output, nonConsecutive);
    else if (suffix === ".index") dumpOffsetIndex(file, options, output);
    else if (suffix === ".timeindex") dumpTimeIndex(file, options, output);
    else if (suffix === ".txnindex") dumpTxnIndex(file, output);
    else output.err.push(`Ignoring unknown file ${file}`);
    options.onFileDone?.(file);
  }
  // Kafka 4.4 prints these after every file, from a HashMap by file and a TreeMap by offset.
  for (const [file, pairs] of javaHashMapOrder(nonConsecutive)) {
    output.err.push(`Non-consecutive offsets in ${file}`);
    for (const [first, second] of pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) output.err.push(`  ${first} is followed by ${second}`);
  }
  return output;
}

/** Java's String.hashCode (over UTF-16 code units, wrapping at 32 bits). */
function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The order in which a java.util.HashMap filled by computeIfAbsent with these string keys, in this
 * order, iterates them: by bucket (the spread String.hashCode masked to the table size), and within
 * a bucket newest first (computeIfAbsent puts a new node at the head of its bin; resizing keeps the
 * order). The table starts at 16 and doubles when an insert finds it over 3/4 full. Checked against
 * Java for 1 to 200 keys; buckets of 8 or more (treeified) are not modelled.
 */
function javaHashMapOrder<T>(entries: readonly [string, T][]): [string, T][] {
  let capacity = 16;
  while (entries.length > capacity * 0.75 + 1) capacity *= 2;
  const bucket = (key: string) => {
    const hash = javaStringHash(key);
    return (hash ^ (hash >>> 16)) & (capacity - 1);
  };
  return entries
    .map((entry, index) => ({ entry, index, bucket: bucket(entry[0]) }))
    .sort((a, b) => a.bucket - b.bucket || b.index - a.index)
    .map(({ entry }) => entry);
}

function baseOffsetOf(file: string): bigint {
  return BigInt(basename(file).split(".")[0]);
}

function siblingLog(file: string): string {
  return join(dirname(file), `${basename(file).split(".")[0]}.log`);
}

/** The valid batches at the start of a segment, and where the valid bytes end (a torn write or preallocated space follows). */
function validBatches(log: Buffer): { batches: RecordBatchView[]; validBytes: number } {
  const batches: RecordBatchView[] = [];
  let position = 0;
  while (position < log.length) {
    let batch: RecordBatchView;
    try {
      batch = recordBatchAt(log, position);
    } catch (error) {
      if (error instanceof RecordBatchDecodeError) break;
      throw error;
    }
    batches.push(batch);
    position = batch.end;
  }
  return { batches, validBytes: position };
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from Integer.MAX_VALUE to 0; -1 means none. */
function incrementSequence(sequence: number, increment: number): number {
  if (sequence < 0) return -1;
  return (sequence + increment) % 2 ** 31;
}

function batchLine(batch: RecordBatchView, options: DumpOptions): string {
  const lastSequence = incrementSequence(batch.baseSequence, batch.lastOffsetDelta);
  const deleteHorizon = batch.hasDeleteHorizon ? `OptionalLong[${batch.baseTimestamp}]` : "OptionalLong.empty";
  const compression = compressionNames[batch.compression] ?? `unknown(${batch.compression})`;
  return (
    `baseOffset: ${batch.baseOffset} lastOffset: ${batch.lastOffset} count: ${batch.recordCount}` +
    ` baseSequence: ${batch.baseSequence} lastSequence: ${lastSequence}` +
    ` producerId: ${batch.producerId} producerEpoch: ${batch.producerEpoch}` +
    ` partitionLeaderEpoch: ${batch.partitionLeaderEpoch} isTransactional: ${batch.isTransactional}` +
    ` isControl: ${batch.isControl} deleteHorizonMs: ${deleteHorizon}` +
    ` position: ${batch.position} ${batch.timestampType}: ${batch.maxTimestamp}` +
    ` size: ${batch.sizeInBytes} magic: ${batch.magic} compresscodec: ${compression}` +
    ` crc: ${batch.crc} isvalid: ${batch.isCrcValid(options.crc32c)}`
  );
}

function dumpLog(file: string, options: DumpOptions, output: DumpOutput, nonConsecutiveByFile: [string, [bigint, bigint][]][]): void {
  output.out.push(`Log starting offset: ${baseOffsetOf(file)}`);
  const log = readFileSync(file);
  const { batches, validBytes } = validBatches(log);
  // As Kafka 4.4: the previous offset starts at -1 and the first record is checked too, so a
  // segment whose first record is not offset 0 reports "-1 is followed by <its first offset>".
  let lastOffset = -1n;
  const nonConsecutive: [bigint, bigint][] = [];
  for (const batch of batches) {
    output.out.push(batchLine(batch, options));
    if (!options.deepIteration) continue;
    let view = batch;
    if (batch.compression !== CompressionType.NONE) {
      if (options.decompressBatch === undefined) {
        output.err.push(`cannot iterate the records of the ${compressionNames[batch.compression]} batch at position ${batch.position}: no decompressor`);
        continue;
      }
      view = recordBatchAt(options.decompressBatch(log.subarray(batch.position, batch.end)), 0);
    }
    for (const record of decodeRecords(view)) {
      if (record.offset !== lastOffset + 1n) nonConsecutive.push([lastOffset, record.offset]);
      lastOffset = record.offset;
      let line =
        `| offset: ${record.offset} ${batch.timestampType}: ${record.timestamp}` +
        ` keySize: ${record.key === null ? -1 : record.key.length} valueSize: ${record.value === null ? -1 : record.value.length}` +
        ` sequence: ${incrementSequence(batch.baseSequence, Number(record.offset - batch.baseOffset))}` +
        ` headerKeys: [${record.headers.map((h) => h.key).join(",")}]`;
      if (batch.isControl) {
        const key = decodeControlRecordKey(record.key);
        const name = controlTypeNames[key.type] ?? "UNKNOWN";
        if (key.type === ControlRecordType.ABORT || key.type === ControlRecordType.COMMIT) {
          const coordinatorEpoch = record.value !== null && record.value.length >= 6 ? record.value.readInt32BE(2) : -1;
          line += ` endTxnMarker: ${name} coordinatorEpoch: ${coordinatorEpoch}`;
        } else {
          line += ` controlType: ${name}(${key.type})`;
        }
      } else if (options.printDataLog) {
        if (record.key !== null) line += ` key: ${record.key.toString("utf8")}`;
        if (record.value !== null) line += ` payload: ${record.value.toString("utf8")}`;
      }
      output.out.push(line);
    }
  }
  const trailing = log.length - validBytes;
  if (trailing > 0) output.out.push(`Found ${trailing} invalid bytes at the end of ${basename(file)}`);
  // Kafka keys (and prints) these by File.getAbsolutePath(): resolved, not normalized.
  if (nonConsecutive.length > 0) nonConsecutiveByFile.push([isAbsolute(file) ? file : `${process.cwd()}/${file}`, nonConsecutive]);
}

interface IndexEntry {
  offset: bigint;
  /** Position (offset index) or timestamp (time index). */
  value: bigint;
}

/** Index entries up to the first zero entry after the first (a preallocated, never-written tail). */
function readIndex(file: string, entryBytes: number): IndexEntry[] {
  const bytes = readFileSync(file);
  const base = baseOffsetOf(file);
  const entries: IndexEntry[] = [];
  for (let at = 0; at + entryBytes <= bytes.length; at += entryBytes) {
    const entry =
      entryBytes === OFFSET_INDEX_ENTRY_BYTES
        ? { offset: base + BigInt(bytes.readUInt32BE(at)), value: BigInt(bytes.readUInt32BE(at + 4)) }
        : { offset: base + BigInt(bytes.readUInt32BE(at + 8)), value: bytes.readBigInt64BE(at) };
    if (entries.length > 0 && entry.offset === base) break;
    entries.push(entry);
  }
  return entries;
}

function dumpOffsetIndex(file: string, options: DumpOptions, output: DumpOutput): void {
  const entries = readIndex(file, OFFSET_INDEX_ENTRY_BYTES);
  if (entries.length === 0) {
    output.out.push(`${file} is empty.`);
    return;
  }
  const { batches } = validBatches(readFileSync(siblingLog(file)));
  const mismatches: [bigint, bigint][] = [];
  for (const entry of entries) {
    const batch = batches.find((b) => BigInt(b.position) === entry.value);
    const found = batch === undefined ? -1n : batch.lastOffset;
    if (found !== entry.offset) mismatches.push([entry.offset, found]);
    if (!options.verifyIndexOnly) output.out.push(`offset: ${entry.offset} position: ${entry.value}`);
  }
  if (mismatches.length > 0) {
    output.err.push(`Mismatches in :${file}`);
    for (const [indexOffset, logOffset] of mismatches.reverse()) output.err.push(`  Index offset: ${indexOffset}, log offset: ${logOffset}`);
  }
}

/** Kafka's dumpTxnIndex: every AbortedTxn entry (version 0 only; another version is corrupt). */
function dumpTxnIndex(file: string, output: DumpOutput): void {
  const bytes = readFileSync(file);
  for (let at = 0; at + ABORTED_TXN_BYTES <= bytes.length; at += ABORTED_TXN_BYTES) {
    const version = bytes.readInt16BE(at);
    if (version !== 0) {
      output.err.push(`Unexpected aborted transaction version ${version} in transaction index ${file}, supported version range is 0 to 0`);
      return;
    }
    output.out.push(
      `version: 0 producerId: ${bytes.readBigInt64BE(at + 2)} firstOffset: ${bytes.readBigInt64BE(at + 10)} ` +
        `lastOffset: ${bytes.readBigInt64BE(at + 18)} lastStableOffset: ${bytes.readBigInt64BE(at + 26)}`,
    );
  }
}

function dumpTimeIndex(file: string, options: DumpOptions, output: DumpOutput): void {
  const entries = readIndex(file, TIME_INDEX_ENTRY_BYTES);
  const { batches } = validBatches(readFileSync(siblingLog(file)));
  const mismatches: [bigint, bigint][] = [];
  const outOfOrder: [bigint, bigint][] = [];
  const notFound: [bigint, bigint][] = [];
  let previous = NO_TIMESTAMP;
  for (const entry of entries) {
    const batch = batches.find((b) => b.lastOffset >= entry.offset);
    if (batch === undefined) notFound.push([entry.offset, -1n]);
    else if (batch.lastOffset !== entry.offset) notFound.push([entry.offset, batch.lastOffset]);
    else {
      if (batch.maxTimestamp !== entry.value) mismatches.push([entry.value, batch.maxTimestamp]);
      if (previous >= entry.value) outOfOrder.push([entry.value, previous]);
    }
    if (!options.verifyIndexOnly) output.out.push(`timestamp: ${entry.value} offset: ${entry.offset}`);
    previous = entry.value;
  }
  if (mismatches.length > 0) {
    output.err.push(`Found timestamp mismatch in :${file}`);
    for (const [index, log] of mismatches) output.err.push(`  Index timestamp: ${index}, log timestamp: ${log}`);
  }
  if (outOfOrder.length > 0) {
    output.err.push(`Found out of order timestamp in :${file}`);
    for (const [index, prev] of outOfOrder) output.err.push(`  Index timestamp: ${index}, Previously indexed timestamp: ${prev}`);
  }
  if (notFound.length > 0) {
    output.err.push("The following indexed offsets are not found in the log.");
    for (const [indexed, found] of notFound) output.err.push(`Indexed offset: ${indexed}, found log offset: ${found}`);
  }
}
