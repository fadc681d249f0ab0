// Records in and out of the client: produce batches (src/protocol/records.ts builds them; the
// native addon compresses them) and the records of a fetch response (whole batches; a compressed
// one is decompressed by the addon, as `sluice dump-log` does). The addon is loaded on first use,
// so commands that never meet a compressed batch run without it.

import type { CompressionCodec } from "../native.js";
import {
  batches as batchesOf,
  buildRecordBatch,
  CompressionType,
  decodeRecords,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_SIZE_BYTES,
  type RecordBatchView,
  type RecordHeader,
  recordBatchAt,
} from "../protocol/records.js";

export type { CompressionCodec } from "../native.js";

type Native = typeof import("../native.js");
let native: Native | undefined;

/** Loads the native addon, once: compressing a batch and reading a compressed one need it. */
export async function loadCodecs(): Promise<void> {
  native ??= await import("../native.js");
}

function recompressBatch(batch: Buffer, codec: CompressionCodec): Buffer {
  if (native === undefined) throw new Error("compressed batches need the native addon: await loadCodecs() first");
  return native.recompressBatch(batch, codec);
}
export const compressionCodecs: readonly CompressionCodec[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** A record to produce. Timestamps are CreateTime, milliseconds since the epoch. */
export interface ProducerRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  timestamp?: number;
}

/** A fetched record with what kcat -J and Kafka's console consumer print about it. */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  timestampType: "CreateTime" | "LogAppendTime";
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** One v2 batch of `records` (offsets from 0, the broker assigns them), compressed with `codec` (after loadCodecs()). */
export function encodeBatch(records: readonly ProducerRecord[], codec: CompressionCodec = "none"): Buffer {
  const now = Date.now();
  const batch = buildRecordBatch({
    records: records.map((record) => ({
      key: record.key,
      value: record.value,
      headers: record.headers,
      timestamp: BigInt(record.timestamp ?? now),
    })),
  });
  return codec === "none" ? batch : recompressBatch(batch, codec);
}

/** Bytes a record adds to an uncompressed batch, roughly (for batching decisions, not framing). */
export function approximateRecordBytes(record: ProducerRecord): number {
  let bytes = 21 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const header of record.headers ?? []) bytes += 10 + header.key.length + (header.value?.length ?? 0);
  return bytes;
}

/** The batch header bytes, for sizing a request. */
export const batchOverheadBytes = RECORD_BATCH_HEADER_SIZE_BYTES;

/**
 * The whole batches of a fetched record set. A broker may end a response with part of a batch (the
 * partition's size limit cut it): that tail is dropped, the next fetch starts at its offset.
 */
export function* wholeBatches(records: Buffer): Generator<RecordBatchView> {
  let position = 0;
  while (records.length - position >= LOG_OVERHEAD_BYTES) {
    const size = records.readInt32BE(position + 8) + LOG_OVERHEAD_BYTES;
    if (records.length - position < size) return;
    yield recordBatchAt(records, position);
    position += size;
  }
}

/**
 * The data records of a fetched batch from `fromOffset` on (a fetch from the middle of a batch
 * returns all of it); control batches (transaction markers) yield nothing. A compressed batch
 * needs loadCodecs() first.
 */
export function* recordsOfBatch(batch: RecordBatchView, topic: string, partition: number, fromOffset: bigint): Generator<ConsumerRecord> {
  if (batch.isControl || batch.lastOffset < fromOffset) return;
  const timestampType = batch.timestampType;
  const plain =
    batch.compression === CompressionType.NONE
      ? batch
      : (batchesOf(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none")).next().value as RecordBatchView);
  for (const record of decodeRecords(plain)) {
    if (record.offset < fromOffset) continue;
    yield {
      topic,
      partition,
      offset: record.offset,
      timestamp: record.timestamp,
      timestampType,
      key: record.key,
      value: record.value,
      headers: record.headers,
    };
  }
}
