// The chaos test's replica comparison (replicas.ts) on segment files made here: identical replicas
// pass, a changed byte or a replica short of the high watermark is reported, batches at or above
// the high watermark and the zeros reserved at a segment's end are left out. No broker needed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { comparePartition, readOffsetCheckpoint } from "./replicas.js";

/** A record-batch-shaped buffer: the header fields the comparison reads, then `payload`. */
function batch(baseOffset: number, records: number, payload: string, leaderEpoch = 0): Buffer {
  const body = Buffer.from(payload);
  const bytes = Buffer.alloc(61 + body.length);
  bytes.writeBigInt64BE(BigInt(baseOffset), 0);
  bytes.writeInt32BE(bytes.length - 12, 8);
  bytes.writeInt32BE(leaderEpoch, 12);
  bytes.writeInt8(2, 16);
  bytes.writeInt32BE(records - 1, 23);
  body.copy(bytes, 61);
  return bytes;
}

const root = mkdtempSync(join(tmpdir(), "sluice-replicas-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A log dir holding partition t-0 with these segments (base offset → contents) and an HW checkpoint. */
function logDir(name: string, segments: Record<number, Buffer>, highWatermark: number): { nodeId: number; logDir: string } {
  const dir = join(root, name);
  mkdirSync(join(dir, "t-0"), { recursive: true });
  for (const [base, contents] of Object.entries(segments)) writeFileSync(join(dir, "t-0", `${String(base).padStart(20, "0")}.log`), contents);
  writeFileSync(join(dir, "replication-offset-checkpoint"), `0\n1\nt 0 ${highWatermark}\n`);
  return { nodeId: Number(name.replace(/\D/g, "")), logDir: dir };
}

describe("replica comparison up to the high watermark", () => {
  const first = [batch(0, 3, "aaa"), batch(3, 2, "bb")];
  const second = [batch(5, 4, "cccc", 1), batch(9, 1, "d", 1)];

  it("finds replicas with the same batches below the high watermark identical, whatever lies above it", () => {
    const leader = logDir("leader1", { 0: Buffer.concat(first), 5: Buffer.concat([...second, Buffer.alloc(64)]) }, 10);
    // The follower has not fetched the last batch (offset 9, at the high watermark 9) yet.
    const follower = logDir("follower2", { 0: Buffer.concat(first), 5: second[0] as Buffer }, 9);
    const comparison = comparePartition([leader, follower], "t", 0, 9);
    expect(comparison.differences).toEqual([]);
    expect(comparison.identical).toBe(true);
    expect(comparison.replicas.map((replica) => [replica.nodeId, replica.batches, replica.checkpointedHighWatermark])).toEqual([
      [1, 3, 10],
      [2, 3, 9],
    ]);
  });

  it("reports a replica whose bytes differ below the high watermark, and where", () => {
    const leader = logDir("leader3", { 0: Buffer.concat([...first, ...second]) }, 10);
    const changed = Buffer.concat([...first, ...second]);
    changed[first[0]!.length + 20] ^= 0xff;
    const follower = logDir("follower4", { 0: changed }, 10);
    const comparison = comparePartition([leader, follower], "t", 0, 10);
    expect(comparison.identical).toBe(false);
    expect(comparison.differences).toEqual([expect.stringContaining(`at byte ${first[0]!.length + 20}`)]);
  });

  it("reports a replica that ends below the high watermark (a lost tail)", () => {
    const leader = logDir("leader5", { 0: Buffer.concat([...first, ...second]) }, 10);
    const follower = logDir("follower6", { 0: Buffer.concat(first) }, 5);
    const comparison = comparePartition([leader, follower], "t", 0, 10);
    expect(comparison.identical).toBe(false);
    expect(comparison.differences).toContain("broker 6 ends at offset 5, below the high watermark 10");
  });

  it("reads Kafka's offset checkpoint format", () => {
    const file = join(root, "checkpoint");
    writeFileSync(file, "0\n2\nchaos 0 41\nchaos 5 7\n");
    expect([...readOffsetCheckpoint(file)]).toEqual([
      ["chaos-0", 41],
      ["chaos-5", 7],
    ]);
  });
});
