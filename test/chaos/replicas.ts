// Compares a partition's replicas byte for byte, from the segment files in each broker's log dir,
// up to the high watermark: a follower appends the leader's batches as they are (offsets, leader
// epochs, CRCs), so below the high watermark every replica's log must be the same bytes.
// Segment files (<base offset, 20 digits>.log) hold record batches back to back:
// baseOffset int64, batchLength int32 (the bytes after this field), partitionLeaderEpoch int32,
// magic int8, crc int32, attributes int16, lastOffsetDelta int32, ... (Kafka's DefaultRecordBatch).
// A segment may end in zeros (space reserved ahead) or a torn batch: reading stops there.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const batchHeaderBytes = 12;
const lastOffsetDeltaAt = 23;

export interface ReplicaLog {
  nodeId: number;
  /** First offset of the first batch, -1 when there is none. */
  startOffset: number;
  /** The batches whose last offset is below the high watermark, concatenated. */
  bytes: Buffer;
  batches: number;
  /** The end offset of the last batch read (below the high watermark or not). */
  endOffset: number;
  /** This replica's own checkpointed high watermark (replication-offset-checkpoint), if any. */
  checkpointedHighWatermark: number | null;
}

export interface PartitionComparison {
  partition: number;
  highWatermark: number;
  replicas: ReplicaLog[];
  /** Every replica's bytes equal to the first one's. */
  identical: boolean;
  /** What differs, in a sentence per replica that differs. */
  differences: string[];
}

/** `topic partition offset` lines of a Kafka offset checkpoint file (version 0). */
export function readOffsetCheckpoint(file: string): Map<string, number> {
  const offsets = new Map<string, number>();
  if (!existsSync(file)) return offsets;
  const lines = readFileSync(file, "utf8").split("\n");
  for (const line of lines.slice(2)) {
    const [topic, partition, offset] = line.trim().split(" ");
    if (topic && partition !== undefined && offset !== undefined) offsets.set(`${topic}-${partition}`, Number(offset));
  }
  return offsets;
}

/** The batches of one partition directory below `highWatermark`. */
export function readReplica(nodeId: number, logDir: string, topic: string, partition: number, highWatermark: number): ReplicaLog | null {
  const dir = join(logDir, `${topic}-${partition}`);
  if (!existsSync(dir)) return null;
  const segments = readdirSync(dir)
    .filter((name) => /^\d{20}\.log$/.test(name))
    .sort();
  const kept: Buffer[] = [];
  let startOffset = -1;
  let endOffset = -1;
  let batches = 0;
  for (const segment of segments) {
    const data = readFileSync(join(dir, segment));
    for (let at = 0; at + batchHeaderBytes <= data.length; ) {
      const baseOffset = Number(data.readBigInt64BE(at));
      const length = data.readInt32BE(at + 8);
      if (length <= 0 || at + batchHeaderBytes + length > data.length || at + lastOffsetDeltaAt + 4 > data.length) break;
      const lastOffset = baseOffset + data.readInt32BE(at + lastOffsetDeltaAt);
      if (startOffset < 0) startOffset = baseOffset;
      endOffset = lastOffset + 1;
      if (lastOffset < highWatermark) {
        kept.push(data.subarray(at, at + batchHeaderBytes + length));
        batches++;
      }
      at += batchHeaderBytes + length;
    }
  }
  const checkpoint = readOffsetCheckpoint(join(logDir, "replication-offset-checkpoint")).get(`${topic}-${partition}`);
  return { nodeId, startOffset, bytes: Buffer.concat(kept), batches, endOffset, checkpointedHighWatermark: checkpoint ?? null };
}

/** The first byte position where two buffers differ (the shorter one's length if one is a prefix). */
function firstDifference(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) return index;
  return length;
}

/** Compares one partition across brokers' log dirs, up to `highWatermark`. */
export function comparePartition(brokers: { nodeId: number; logDir: string }[], topic: string, partition: number, highWatermark: number): PartitionComparison {
  const replicas = brokers.map((broker) => readReplica(broker.nodeId, broker.logDir, topic, partition, highWatermark)).filter((r) => r !== null);
  const differences: string[] = [];
  const [reference] = replicas;
  for (const replica of replicas.slice(1)) {
    if (!reference || replica.bytes.equals(reference.bytes)) continue;
    const at = firstDifference(reference.bytes, replica.bytes);
    differences.push(
      `broker ${replica.nodeId} (${replica.batches} batches, ${replica.bytes.length} bytes, from offset ${replica.startOffset}) differs from broker ${reference.nodeId} (${reference.batches} batches, ${reference.bytes.length} bytes, from offset ${reference.startOffset}) at byte ${at}`,
    );
  }
  for (const replica of replicas) {
    if (highWatermark > 0 && replica.endOffset < highWatermark)
      differences.push(`broker ${replica.nodeId} ends at offset ${replica.endOffset}, below the high watermark ${highWatermark}`);
  }
  return { partition, highWatermark, replicas, identical: differences.length === 0, differences };
}
