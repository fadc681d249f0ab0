import { crc32, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { recompressBatch, validateProduceBatches } from "../../src/native.js";
import { batches, buildRecordBatch, decodeRecords } from "../../src/protocol/records.js";

const NOW = 1_700_000_000_000;

/** One magic 1 message-set entry: offset, size, CRC-32, magic, attributes, timestamp, key, value. */
function legacyEntry(offset: number, attributes: number, timestamp: number, key: Buffer | null, value: Buffer | null): Buffer {
  const field = (bytes: Buffer | null) => {
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes === null ? -1 : bytes.length);
    return bytes === null ? length : Buffer.concat([length, bytes]);
  };
  const head = Buffer.alloc(10);
  head.writeInt8(1, 0); // magic
  head.writeInt8(attributes, 1);
  head.writeBigInt64BE(BigInt(timestamp), 2);
  const message = Buffer.concat([head, field(key), field(value)]);
  const entry = Buffer.alloc(16);
  entry.writeBigInt64BE(BigInt(offset), 0);
  entry.writeInt32BE(message.length + 4, 8);
  entry.writeUInt32BE(crc32(message), 12);
  return Buffer.concat([entry, message]);
}

function decoded(batch: Buffer) {
  return [...batches(recompressBatch(batch, "none"))].flatMap((view) =>
    [...decodeRecords(view)].map((record) => ({
      offset: record.offset,
      timestamp: record.timestamp,
      key: record.key?.toString() ?? null,
      value: record.value?.toString() ?? null,
    })),
  );
}

describe("validateProduceBatches", () => {
  it("summarizes a valid batch for the log and the producer state", () => {
    const batch = buildRecordBatch({
      producerId: 9n,
      producerEpoch: 2,
      baseSequence: 40,
      records: [
        { key: Buffer.from("a"), value: Buffer.from("1"), timestamp: BigInt(NOW - 10) },
        { key: Buffer.from("b"), value: Buffer.from("2"), timestamp: BigInt(NOW - 5) },
      ],
    });
    const { summary, error } = validateProduceBatches(batch, {}, NOW);
    expect(error).toBeUndefined();
    expect(summary).toMatchObject({ recordCount: 2, validBytes: batch.length, maxTimestamp: NOW - 5, maxTimestampOffsetDelta: 1 });
    expect(summary?.batches[0]).toMatchObject({ producerId: 9, producerEpoch: 2, baseSequence: 40, lastSequence: 41, isTransactional: false });
  });

  it("reports timestamps out of range per record, as Kafka's RecordErrors", () => {
    const batch = buildRecordBatch({
      records: [0, 20_000, 0].map((age) => ({ key: null, value: Buffer.from("v"), timestamp: BigInt(NOW - age) })),
    });
    const { error } = validateProduceBatches(batch, { timestampBeforeMaxMs: 10_000 }, NOW);
    expect(error?.errorName).toBe("INVALID_TIMESTAMP");
    expect(error?.errorCode).toBe(32);
    expect(error?.recordErrors.map((record) => record.recordIndex)).toEqual([1]);
  });

  it("up-converts a Produce v2 message set of magic 1 into one batch v2", () => {
    const set = Buffer.concat([legacyEntry(0, 0, NOW - 2, Buffer.from("k1"), Buffer.from("v1")), legacyEntry(1, 0, NOW - 1, null, Buffer.from("v2"))]);
    const { summary, error } = validateProduceBatches(set, { produceVersion: 2 }, NOW);
    expect(error).toBeUndefined();
    expect(summary?.converted).toBeDefined();
    expect(decoded(summary?.converted ?? Buffer.alloc(0))).toEqual([
      { offset: 0n, timestamp: BigInt(NOW - 2), key: "k1", value: "v1" },
      { offset: 1n, timestamp: BigInt(NOW - 1), key: null, value: "v2" },
    ]);
  });

  it("up-converts a gzip-compressed magic 1 wrapper keeping gzip", () => {
    const inner = Buffer.concat([legacyEntry(0, 0, NOW, Buffer.from("k"), Buffer.from("a")), legacyEntry(1, 0, NOW, Buffer.from("k"), Buffer.from("b"))]);
    const wrapper = legacyEntry(1, 1, NOW, null, gzipSync(inner));
    const { summary } = validateProduceBatches(wrapper, { produceVersion: 1 }, NOW);
    expect(summary?.sourceCompression).toBe("gzip");
    expect(summary?.batches[0]?.compression).toBe("gzip");
    expect(decoded(summary?.converted ?? Buffer.alloc(0)).map((record) => record.value)).toEqual(["a", "b"]);
  });

  it("turns away magic 1 in Produce v3 and later", () => {
    const set = legacyEntry(0, 0, NOW, Buffer.from("k"), Buffer.from("v"));
    expect(validateProduceBatches(set, { produceVersion: 3 }, NOW).error?.errorName).toBe("INVALID_RECORD");
  });
});
