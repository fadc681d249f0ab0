// `sluice dump-log` prints segments and indexes in Kafka's DumpLogSegments format and finds
// index entries that do not match the log.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dumpFiles } from "../../src/log/dump.js";
import { buildRecordBatch, crc32cSoftware } from "../../src/protocol/records.js";

const options = { deepIteration: true, printDataLog: true, verifyIndexOnly: false, crc32c: crc32cSoftware };

function offsetIndexEntry(relativeOffset: number, position: number): Buffer {
  const entry = Buffer.alloc(8);
  entry.writeUInt32BE(relativeOffset, 0);
  entry.writeUInt32BE(position, 4);
  return entry;
}

function timeIndexEntry(timestamp: bigint, relativeOffset: number): Buffer {
  const entry = Buffer.alloc(12);
  entry.writeBigInt64BE(timestamp, 0);
  entry.writeUInt32BE(relativeOffset, 8);
  return entry;
}

/** A segment with base offset 100: two batches (3 records, then 2), plus preallocated zeros. */
function writeSegment(): { dir: string; first: Buffer; second: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "sluice-dump-"));
  const first = buildRecordBatch({
    baseOffset: 100n,
    baseTimestamp: 1_700_000_000_000n,
    producerId: 7n,
    producerEpoch: 0,
    baseSequence: 0,
    records: [
      { key: Buffer.from("k1"), value: Buffer.from("héllo"), headers: [{ key: "trace", value: Buffer.from("x") }] },
      { key: null, value: Buffer.from("two"), timestamp: 1_700_000_000_005n },
      { key: Buffer.from("k3"), value: null },
    ],
  });
  const second = buildRecordBatch({
    baseOffset: 103n,
    baseTimestamp: 1_700_000_000_010n,
    records: [{ value: Buffer.from("four") }, { value: Buffer.from("five"), timestamp: 1_700_000_000_020n }],
  });
  writeFileSync(join(dir, "00000000000000000100.log"), Buffer.concat([first, second, Buffer.alloc(64)]));
  return { dir, first, second };
}

describe("sluice dump-log", () => {
  it("prints batches and records in Kafka's format, and the invalid bytes at the end", () => {
    const { dir, first } = writeSegment();
    const { out, err } = dumpFiles([join(dir, "00000000000000000100.log")], options);
    // Kafka 4.4's DumpLogSegments starts each file's previous offset at -1 and checks the first record too.
    expect(err).toEqual([`Non-consecutive offsets in ${join(dir, "00000000000000000100.log")}`, "  -1 is followed by 100"]);
    expect(out[1]).toBe("Log starting offset: 100");
    expect(out[2]).toBe(
      "baseOffset: 100 lastOffset: 102 count: 3 baseSequence: 0 lastSequence: 2 producerId: 7 producerEpoch: 0 " +
        "partitionLeaderEpoch: -1 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 0 " +
        `CreateTime: 1700000000005 size: ${first.length} magic: 2 compresscodec: none crc: ${first.readUInt32BE(17)} isvalid: true`,
    );
    expect(out[3]).toBe("| offset: 100 CreateTime: 1700000000000 keySize: 2 valueSize: 6 sequence: 0 headerKeys: [trace] key: k1 payload: héllo");
    expect(out[4]).toBe("| offset: 101 CreateTime: 1700000000005 keySize: -1 valueSize: 3 sequence: 1 headerKeys: [] payload: two");
    expect(out[5]).toBe("| offset: 102 CreateTime: 1700000000000 keySize: 2 valueSize: -1 sequence: 2 headerKeys: [] key: k3");
    expect(out[6]).toContain("baseOffset: 103 lastOffset: 104 count: 2 baseSequence: -1 lastSequence: -1");
    expect(out.at(-1)).toBe("Found 64 invalid bytes at the end of 00000000000000000100.log");
  });

  it("reports a corrupted batch as invalid", () => {
    const { dir, first } = writeSegment();
    const corrupted = Buffer.concat([first]);
    corrupted[corrupted.length - 1] ^= 0xff;
    writeFileSync(join(dir, "00000000000000000100.log"), corrupted);
    const { out } = dumpFiles([join(dir, "00000000000000000100.log")], { ...options, deepIteration: false });
    expect(out[2]).toMatch(/isvalid: false$/);
  });

  it("prints index entries and verifies them against the log", () => {
    const { dir, first } = writeSegment();
    // Kafka's offset index maps a batch's last offset to the batch's position.
    writeFileSync(join(dir, "00000000000000000100.index"), Buffer.concat([offsetIndexEntry(2, 0), offsetIndexEntry(4, first.length), Buffer.alloc(16)]));
    writeFileSync(join(dir, "00000000000000000100.timeindex"), Buffer.concat([timeIndexEntry(1_700_000_000_005n, 2), timeIndexEntry(1_700_000_000_020n, 4)]));
    const index = dumpFiles([join(dir, "00000000000000000100.index"), join(dir, "00000000000000000100.timeindex")], options);
    expect(index.out).toEqual([
      `Dumping ${join(dir, "00000000000000000100.index")}`,
      "offset: 102 position: 0",
      `offset: 104 position: ${first.length}`,
      `Dumping ${join(dir, "00000000000000000100.timeindex")}`,
      "timestamp: 1700000000005 offset: 102",
      "timestamp: 1700000000020 offset: 104",
    ]);
    expect(index.err).toEqual([]);

    writeFileSync(join(dir, "00000000000000000100.index"), Buffer.concat([offsetIndexEntry(0, 0)]));
    const verified = dumpFiles([join(dir, "00000000000000000100.index")], { ...options, verifyIndexOnly: true });
    expect(verified.out).toEqual([`Dumping ${join(dir, "00000000000000000100.index")}`]);
    expect(verified.err).toEqual([`Mismatches in :${join(dir, "00000000000000000100.index")}`, "  Index offset: 100, log offset: 102"]);
  });
});

describe("sluice dump-log on compressed batches", () => {
  it("iterates the records of every codec through the native decompressor", async () => {
    const { recompressBatch, crc32c } = await import("../../src/native.js");
    const dir = mkdtempSync(join(tmpdir(), "sluice-dump-"));
    const plain = buildRecordBatch({
      baseOffset: 0n,
      baseTimestamp: 5n,
      records: [{ key: Buffer.from("k"), value: Buffer.from("v".repeat(100)) }, { value: Buffer.from("w") }],
    });
    for (const codec of ["gzip", "snappy", "lz4", "zstd"] as const) {
      const file = join(dir, "00000000000000000000.log");
      writeFileSync(file, recompressBatch(plain, codec));
      const { out, err } = dumpFiles([file], { ...options, crc32c, decompressBatch: (batch) => recompressBatch(batch, "none") });
      expect(err).toEqual([]);
      expect(out[2]).toContain(`compresscodec: ${codec} `);
      expect(out[2]).toMatch(/isvalid: true$/);
      expect(out[3]).toBe(`| offset: 0 CreateTime: 5 keySize: 1 valueSize: 100 sequence: -1 headerKeys: [] key: k payload: ${"v".repeat(100)}`);
      expect(out[4]).toBe("| offset: 1 CreateTime: 5 keySize: -1 valueSize: 1 sequence: -1 headerKeys: [] payload: w");
    }
  });
});
