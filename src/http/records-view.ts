// Records of a partition as the console shows them: decoded from the log's batches (a copy, read
// below the high watermark, as a read_uncommitted consumer sees them), keys, values and header
// values as base64 so any bytes survive JSON; the page renders them as text, JSON or hex. Used by
// the message browser (GET /api/topics/:name/messages) and the live tail (/ws/tail).
//
// Everything is bounded: a read takes at most READ_BYTES_MAX of batches from the log, a
// compressed batch is inflated to at most DECOMPRESSED_BYTES_MAX, a key or value longer than
// FIELD_PREVIEW_BYTES_MAX is cut (its full size is reported), and a read stops after
// `recordsMax` records. Control records (transaction markers) are skipped.

import type { Partition } from "../log/partition.js";
import { recompressBatch } from "../native.js";
import { batches, CompressionType, decodeRecords, type RecordBatchView, recordBatchAt } from "../protocol/records.js";

/** Batch bytes one read takes from the log (at least the first whole batch is always read). */
export const READ_BYTES_MAX = 1024 * 1024;
/** Largest decompressed batch decoded. */
const DECOMPRESSED_BYTES_MAX = 16 * 1024 * 1024;
/** A key, value or header value is shown up to this many bytes. */
export const FIELD_PREVIEW_BYTES_MAX = 16 * 1024;

export interface RecordView {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: "CreateTime" | "LogAppendTime";
  /** base64, null for a null key; cut to FIELD_PREVIEW_BYTES_MAX. */
  readonly key: string | null;
  readonly keySize: number;
  readonly value: string | null;
  readonly valueSize: number;
  readonly headers: readonly { key: string; value: string | null }[];
  readonly compression: string;
  readonly transactional: boolean;
}

export interface RecordsRead {
  readonly records: RecordView[];
  /** Where the next read continues (past the last record returned, or past what was skipped). */
  readonly nextOffset: bigint;
}

function preview(bytes: Buffer | null): string | null {
  if (bytes === null) return null;
  return (bytes.length > FIELD_PREVIEW_BYTES_MAX ? bytes.subarray(0, FIELD_PREVIEW_BYTES_MAX) : bytes).toString("base64");
}

function uncompressed(batch: RecordBatchView): RecordBatchView {
  if (batch.compression === CompressionType.NONE) return batch;
  return recordBatchAt(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none", undefined, DECOMPRESSED_BYTES_MAX), 0);
}

/**
 * Up to `recordsMax` records of `partition` from `offset` (clamped to the log start), below the
 * high watermark, reading at most `bytesMax` of batches (more only when the first batch is larger).
 * An offset at or past the high watermark reads nothing.
 */
export function readRecords(partition: Partition, offset: bigint, recordsMax: number, bytesMax = READ_BYTES_MAX): RecordsRead {
  const highWatermark = partition.highWatermark;
  let next = offset < partition.logStartOffset ? partition.logStartOffset : offset;
  const records: RecordView[] = [];
  let budget = bytesMax;
  while (records.length < recordsMax && next < highWatermark && budget > 0) {
    let bytes: Buffer;
    try {
      bytes = partition.log.readCopy(next, budget, highWatermark).bytes;
    } catch {
      // Retention moved the log start past `next` between the check and the read: start over there.
      if (next < partition.logStartOffset) {
        next = partition.logStartOffset;
        continue;
      }
      break;
    }
    if (bytes.length === 0) break;
    budget -= bytes.length;
    const readFrom = next;
    for (const batch of batches(bytes)) {
      if (batch.nextOffset <= readFrom) continue;
      if (!batch.isControl) {
        const compression = batch.compressionName;
        for (const record of decodeRecords(uncompressed(batch))) {
          if (record.offset < readFrom) continue;
          records.push({
            partition: partition.index,
            offset: Number(record.offset),
            timestamp: Number(batch.timestampType === "LogAppendTime" ? batch.maxTimestamp : record.timestamp),
            timestampType: batch.timestampType,
            key: preview(record.key),
            keySize: record.key?.length ?? -1,
            value: preview(record.value),
            valueSize: record.value?.length ?? -1,
            headers: record.headers.map((header) => ({ key: header.key, value: preview(header.value) })),
            compression,
            transactional: batch.isTransactional,
          });
          next = record.offset + 1n;
          if (records.length >= recordsMax) return { records, nextOffset: next };
        }
      }
      if (batch.nextOffset > next) next = batch.nextOffset;
    }
  }
  return { records, nextOffset: next };
}
