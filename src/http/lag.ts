// Consumer lag, computed in the broker for every group and partition it coordinates — what
// operators run Burrow or kafka-lag-exporter for. Lag in offsets is the partition's high
// watermark (what a consumer can reach, what kafka-consumer-groups.sh calls LOG-END-OFFSET)
// minus the committed offset; lag in seconds is the age of the next record the group would
// consume (the record at the committed offset), 0 when the group is caught up.
//
// Reading that record's timestamp costs one batch read from the log, so it is done only for
// partitions that lag, at most LAG_TIMESTAMP_READS_MAX per call, with the batch's timestamps
// cached by (partition, offset): a group that does not move is not read again.

import type { GroupCoordinator } from "../coordinator/group/coordinator.js";
import type { PartitionManager } from "../log/partition-manager.js";
import { recompressBatch } from "../native.js";
import { CompressionType, decodeRecords, recordBatchAt } from "../protocol/records.js";

/** Batch reads for lag seconds per call; partitions past it report lag seconds of -1 (unknown). */
const LAG_TIMESTAMP_READS_MAX = 2_000;
/** Largest decompressed batch read for a timestamp. */
const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;

export interface LagRow {
  readonly group: string;
  readonly groupState: string;
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: bigint;
  /** The high watermark; -1 when the partition is not hosted here. */
  readonly endOffset: bigint;
  /** endOffset − committedOffset, never negative; -1 when the partition is not hosted here. */
  readonly lag: number;
  /** Age of the record at the committed offset in seconds; 0 caught up; -1 unknown. */
  readonly lagSeconds: number;
  readonly commitTimestampMs: number;
}

export class ConsumerLag {
  /** "topic\0partition\0offset" → the record's timestamp (ms), for the offsets seen last call. */
  #timestamps = new Map<string, number>();

  constructor(
    private readonly groups: GroupCoordinator,
    private readonly partitions: PartitionManager,
  ) {}

  /** One row per group and committed partition; `groupFilter` limits it to one group. */
  rows(nowMs: number, groupFilter?: string): LagRow[] {
    const rows: LagRow[] = [];
    const seen = new Map<string, number>();
    let reads = 0;
    for (const group of this.groups.overview()) {
      if (groupFilter !== undefined && group.groupId !== groupFilter) continue;
      for (const [topic, partitions] of group.offsets ?? []) {
        for (const [index, committed] of partitions) {
          const partition = this.partitions.get(topic, index);
          let endOffset = -1n;
          let lag = -1;
          let lagSeconds = -1;
          if (partition !== undefined) {
            endOffset = partition.highWatermark;
            lag = committed.offset >= endOffset ? 0 : Number(endOffset - committed.offset);
            if (lag === 0) {
              lagSeconds = 0;
            } else {
              const key = `${topic}\0${index}\0${committed.offset}`;
              let timestamp = this.#timestamps.get(key) ?? seen.get(key);
              if (timestamp === undefined && reads < LAG_TIMESTAMP_READS_MAX) {
                reads++;
                timestamp = recordTimestamp(partition.log, committed.offset) ?? undefined;
              }
              if (timestamp !== undefined) {
                seen.set(key, timestamp);
                lagSeconds = Math.max(0, (nowMs - timestamp) / 1000);
              }
            }
          }
          rows.push({
            group: group.groupId,
            groupState: group.state,
            topic,
            partition: index,
            committedOffset: committed.offset,
            endOffset,
            lag,
            lagSeconds,
            commitTimestampMs: committed.commitTimestampMs,
          });
        }
      }
    }
    // Only the offsets still committed are kept: the cache never outgrows the groups' partitions.
    if (groupFilter === undefined) this.#timestamps = seen;
    else for (const [key, value] of seen) this.#timestamps.set(key, value);
    return rows;
  }
}

/** The timestamp of the first record at or after `offset` (ms), or null when there is none. */
export function recordTimestamp(log: { readCopy(offset: bigint, maxBytes: number): { bytes: Buffer } }, offset: bigint): number | null {
  let bytes: Buffer;
  try {
    bytes = log.readCopy(offset, 1).bytes;
  } catch {
    return null; // below the log start (retention moved it) or past the end
  }
  if (bytes.length === 0) return null;
  let batch = recordBatchAt(bytes, 0);
  if (batch.timestampType === "LogAppendTime" || batch.isControl) return Number(batch.maxTimestamp);
  if (batch.compression !== CompressionType.NONE) {
    batch = recordBatchAt(recompressBatch(bytes.subarray(batch.position, batch.end), "none", undefined, DECOMPRESSED_BYTES_MAX), 0);
  }
  for (const record of decodeRecords(batch)) if (record.offset >= offset) return Number(record.timestamp);
  return Number(batch.maxTimestamp);
}
