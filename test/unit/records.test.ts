import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BatchAttribute,
  batches,
  buildRecordBatch,
  CompressionType,
  ControlRecordType,
  crc32cSoftware,
  decodeControlRecordKey,
  decodeRecords,
  encodeControlRecordKey,
  type KafkaRecord,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_SIZE_BYTES,
  RecordBatchDecodeError,
  RecordBatchLayout,
  RecordBatchView,
  recordBatchAt,
} from "../../src/protocol/records.js";

const kafkaBatchesPath = fileURLToPath(new URL("../vectors/out/record-batches.jsonl", import.meta.url));

const bytes = (text: string) => Buffer.from(text, "utf8");

function decodeAll(buffer: Buffer): KafkaRecord[][] {
  return [...batches(buffer)].map((batch) => [...decodeRecords(batch)]);
}

/** Runs `action` and requires it to throw a RecordBatchDecodeError, nothing else. */
function decodeErrorOf(action: () => unknown): RecordBatchDecodeError {
  try {
    action();
  } catch (error) {
    if (error instanceof RecordBatchDecodeError) return error;
    throw new Error(`expected a RecordBatchDecodeError, got ${error}`, {
      cause: error,
    });
  }
  throw new Error("expected a RecordBatchDecodeError, nothing was thrown");
}

/** A copy of `batch` changed by `change`, with the CRC made right again. */
function patched(batch: Buffer, change: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(batch);
  change(copy);
  copy.writeUInt32BE(crc32cSoftware(copy.subarray(RecordBatchLayout.ATTRIBUTES)), RecordBatchLayout.CRC);
  return copy;
}

/** A batch whose records are all different in shape, for damage tests. */
const sampleBatch = buildRecordBatch({
  baseOffset: 1000n,
  baseTimestamp: 1_700_000_000_000n,
  records: [
    { key: bytes("k1"), value: bytes("v1"), timestamp: 1_700_000_000_000n },
    {
      key: null,
      value: Buffer.alloc(300, 7),
      headers: [{ key: "h", value: bytes("x") }],
      timestamp: 1_699_999_999_000n,
    },
    { key: Buffer.alloc(0), value: null, timestamp: 1_700_000_000_500n },
  ],
});

describe("crc32cSoftware", () => {
  it('gives 0xE3069283 for "123456789", the CRC-32C check value', () => {
    expect(crc32cSoftware(bytes("123456789"))).toBe(0xe3069283);
  });

  it("gives 0 for no bytes and an unsigned value for all-ones input", () => {
    expect(crc32cSoftware(Buffer.alloc(0))).toBe(0);
    expect(crc32cSoftware(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });
});

describe("header layout", () => {
  it("places each field right after the previous one, 61 bytes in all", () => {
    const sizes: [keyof typeof RecordBatchLayout, number][] = [
      ["BASE_OFFSET", 8],
      ["BATCH_LENGTH", 4],
      ["PARTITION_LEADER_EPOCH", 4],
      ["MAGIC", 1],
      ["CRC", 4],
      ["ATTRIBUTES", 2],
      ["LAST_OFFSET_DELTA", 4],
      ["BASE_TIMESTAMP", 8],
      ["MAX_TIMESTAMP", 8],
      ["PRODUCER_ID", 8],
      ["PRODUCER_EPOCH", 2],
      ["BASE_SEQUENCE", 4],
      ["RECORD_COUNT", 4],
    ];
    let offset = 0;
    for (const [field, size] of sizes) {
      expect(RecordBatchLayout[field], field).toBe(offset);
      offset += size;
    }
    expect(offset).toBe(RECORD_BATCH_HEADER_SIZE_BYTES);
    expect(RecordBatchLayout.RECORDS).toBe(RECORD_BATCH_HEADER_SIZE_BYTES);
    expect(LOG_OVERHEAD_BYTES).toBe(12);
  });
});

describe("builder, view and record iterator", () => {
  it("round-trip keys, null and empty keys and values, and headers", () => {
    const records = [
      { key: bytes("key-0"), value: bytes("value-0") },
      { key: null, value: bytes("no key") },
      { key: bytes("no value"), value: null },
      { key: Buffer.alloc(0), value: Buffer.alloc(0) },
      {
        key: bytes("with headers"),
        value: bytes("v"),
        headers: [
          { key: "trace-id", value: bytes("abc") },
          { key: "null-value", value: null },
          { key: "", value: Buffer.alloc(0) },
          { key: "ключ-é-🙂", value: bytes("ü") },
        ],
      },
    ];
    const buffer = buildRecordBatch({
      baseOffset: 42n,
      baseTimestamp: 1_700_000_000_000n,
      records,
    });
    const [batch] = [...batches(buffer)] as [RecordBatchView];
    expect(batch.baseOffset).toBe(42n);
    expect(batch.recordCount).toBe(5);
    expect(batch.lastOffsetDelta).toBe(4);
    expect(batch.lastOffset).toBe(46n);
    expect(batch.nextOffset).toBe(47n);
    expect(batch.sizeInBytes).toBe(buffer.length);
    expect(batch.batchLength).toBe(buffer.length - 12);
    expect(batch.magic).toBe(2);
    expect(batch.isCrcValid(crc32cSoftware)).toBe(true);
    const decoded = [...decodeRecords(batch)];
    expect(decoded).toEqual(
      records.map((record, index) => ({
        offset: 42n + BigInt(index),
        timestamp: 1_700_000_000_000n,
        key: record.key,
        value: record.value,
        headers: record.headers ?? [],
      })),
    );
  });

  it("returns keys and values as slices of the batch, not copies", () => {
    const buffer = buildRecordBatch({
      records: [{ key: bytes("k"), value: bytes("v") }],
    });
    const [record] = [...decodeRecords(new RecordBatchView(buffer))] as [KafkaRecord];
    expect(record.key?.buffer).toBe(buffer.buffer);
    expect(record.value?.buffer).toBe(buffer.buffer);
  });

  it("keeps timestamps earlier than the base (negative deltas) and far from it", () => {
    const timestamps = [1_700_000_000_000n, 1_600_000_000_000n, -1n, 1_800_000_000_000n, 1_700_000_000_001n];
    const buffer = buildRecordBatch({
      records: timestamps.map((timestamp) => ({ timestamp })),
    });
    const batch = new RecordBatchView(buffer);
    expect(batch.baseTimestamp).toBe(1_700_000_000_000n);
    expect(batch.maxTimestamp).toBe(1_800_000_000_000n);
    expect([...decodeRecords(batch)].map((record) => record.timestamp)).toEqual(timestamps);
  });

  it("keeps large offset deltas and base offsets", () => {
    const offsetDeltas = [0, 1, 127, 128, 16_384, 2_147_483_647];
    const baseOffset = 2n ** 62n;
    const buffer = buildRecordBatch({
      baseOffset,
      records: offsetDeltas.map((offsetDelta) => ({ offsetDelta })),
    });
    const batch = new RecordBatchView(buffer);
    expect(batch.lastOffsetDelta).toBe(2_147_483_647);
    expect(batch.lastOffset).toBe(baseOffset + 2_147_483_647n);
    expect([...decodeRecords(batch)].map((record) => record.offset)).toEqual(offsetDeltas.map((delta) => baseOffset + BigInt(delta)));
  });

  it("reads values whose lengths take multi-byte varints", () => {
    const values = [127, 128, 300, 16_383, 16_384, 70_000].map((size) => Buffer.alloc(size, size & 0xff));
    const buffer = buildRecordBatch({
      records: values.map((value) => ({ value })),
    });
    expect([...decodeRecords(new RecordBatchView(buffer))].map((record) => record.value)).toEqual(values);
  });

  it("reads the producer fields and the partition leader epoch", () => {
    const batch = new RecordBatchView(
      buildRecordBatch({
        partitionLeaderEpoch: 17,
        producerId: 123_456_789_012_345n,
        producerEpoch: 32_767,
        baseSequence: 2_147_483_000,
        records: [{}],
      }),
    );
    expect(batch.partitionLeaderEpoch).toBe(17);
    expect(batch.producerId).toBe(123_456_789_012_345n);
    expect(batch.producerEpoch).toBe(32_767);
    expect(batch.baseSequence).toBe(2_147_483_000);
  });

  it("gives an empty batch Kafka's no-timestamp values and no records", () => {
    const batch = new RecordBatchView(buildRecordBatch({ baseOffset: 5n, records: [] }));
    expect(batch.recordCount).toBe(0);
    expect(batch.baseTimestamp).toBe(-1n);
    expect(batch.maxTimestamp).toBe(-1n);
    expect(batch.sizeInBytes).toBe(RECORD_BATCH_HEADER_SIZE_BYTES);
    expect([...decodeRecords(batch)]).toEqual([]);
  });

  it("reads a view at an offset into a larger buffer", () => {
    const first = buildRecordBatch({ baseOffset: 0n, records: [{}, {}] });
    const second = buildRecordBatch({ baseOffset: 2n, records: [{}] });
    const buffer = Buffer.concat([first, second]);
    const batch = recordBatchAt(buffer, first.length);
    expect(batch.position).toBe(first.length);
    expect(batch.baseOffset).toBe(2n);
    expect(batch.end).toBe(buffer.length);
    expect(batch.isCrcValid(crc32cSoftware)).toBe(true);
  });
});

describe("attribute bits", () => {
  const records = [{ key: bytes("k"), value: bytes("v"), timestamp: 5n }];

  it("a plain batch has every bit clear", () => {
    const batch = new RecordBatchView(buildRecordBatch({ records }));
    expect(batch.attributes).toBe(0);
    expect(batch.compression).toBe(CompressionType.NONE);
    expect(batch.compressionName).toBe("none");
    expect(batch.timestampType).toBe("CreateTime");
    expect(batch.isTransactional).toBe(false);
    expect(batch.isControl).toBe(false);
    expect(batch.hasDeleteHorizon).toBe(false);
    expect(batch.deleteHorizon).toBeNull();
  });

  it("bit 3: under LogAppendTime every record takes the batch's max timestamp", () => {
    const batch = new RecordBatchView(
      buildRecordBatch({
        timestampType: "LogAppendTime",
        maxTimestamp: 1_700_000_009_999n,
        records: [{ timestamp: 1n }, { timestamp: 2n }],
      }),
    );
    expect(batch.attributes).toBe(BatchAttribute.LOG_APPEND_TIME);
    expect(batch.timestampType).toBe("LogAppendTime");
    expect([...decodeRecords(batch)].map((record) => record.timestamp)).toEqual([1_700_000_009_999n, 1_700_000_009_999n]);
  });

  it("bit 4: transactional", () => {
    const batch = new RecordBatchView(buildRecordBatch({ isTransactional: true, records }));
    expect(batch.attributes).toBe(BatchAttribute.TRANSACTIONAL);
    expect(batch.isTransactional).toBe(true);
    expect(batch.isControl).toBe(false);
  });

  it("bit 5: control batch, whose record key decodes to the marker type", () => {
    const marker = Buffer.alloc(6);
    marker.writeInt32BE(17, 2); // version 0, coordinator epoch 17
    const batch = new RecordBatchView(
      buildRecordBatch({
        isTransactional: true,
        isControl: true,
        records: [
          {
            key: encodeControlRecordKey(ControlRecordType.COMMIT),
            value: marker,
          },
        ],
      }),
    );
    expect(batch.attributes).toBe(BatchAttribute.TRANSACTIONAL | BatchAttribute.CONTROL);
    expect(batch.isControl).toBe(true);
    const [record] = [...decodeRecords(batch)] as [KafkaRecord];
    expect(decodeControlRecordKey(record.key)).toEqual({
      version: 0,
      type: ControlRecordType.COMMIT,
    });
  });

  it("bit 6: the delete horizon replaces the base timestamp, record timestamps stay", () => {
    const batch = new RecordBatchView(
      buildRecordBatch({
        deleteHorizon: 1_800_000_000_000n,
        records: [{ timestamp: 1_700_000_000_000n }, { timestamp: 1_700_000_000_100n }],
      }),
    );
    expect(batch.attributes).toBe(BatchAttribute.DELETE_HORIZON);
    expect(batch.hasDeleteHorizon).toBe(true);
    expect(batch.deleteHorizon).toBe(1_800_000_000_000n);
    expect(batch.baseTimestamp).toBe(1_800_000_000_000n);
    expect(batch.maxTimestamp).toBe(1_700_000_000_100n);
    expect([...decodeRecords(batch)].map((record) => record.timestamp)).toEqual([1_700_000_000_000n, 1_700_000_000_100n]);
  });

  it("bits 0-2: each compression type by number and Kafka's name", () => {
    const names = ["none", "gzip", "snappy", "lz4", "zstd"];
    names.forEach((name, type) => {
      const batch = new RecordBatchView(patched(sampleBatch, (copy) => copy.writeInt16BE(type, RecordBatchLayout.ATTRIBUTES)));
      expect(batch.compression).toBe(type);
      expect(batch.compressionName).toBe(name);
      expect(batch.timestampType).toBe("CreateTime");
    });
  });

  it("bits 0-2: types 5 to 7 are not compression types", () => {
    for (const type of [5, 6, 7]) {
      const batch = new RecordBatchView(patched(sampleBatch, (copy) => copy.writeInt16BE(type, RecordBatchLayout.ATTRIBUTES)));
      expect(batch.compression).toBe(type);
      expect(decodeErrorOf(() => batch.compressionName).message).toMatch(`unknown compression type ${type}`);
      decodeErrorOf(() => [...decodeRecords(batch)]);
    }
  });

  it("records of a compressed batch are refused with a clear error", () => {
    const batch = new RecordBatchView(patched(sampleBatch, (copy) => copy.writeInt16BE(CompressionType.ZSTD, RecordBatchLayout.ATTRIBUTES)));
    expect(decodeErrorOf(() => [...decodeRecords(batch)]).message).toMatch(/zstd-compressed batch .* native addon/);
  });

  it("all bits at once are read independently", () => {
    const batch = new RecordBatchView(patched(sampleBatch, (copy) => copy.writeInt16BE(0x7b, RecordBatchLayout.ATTRIBUTES)));
    expect(batch.compressionName).toBe("lz4");
    expect(batch.timestampType).toBe("LogAppendTime");
    expect(batch.isTransactional).toBe(true);
    expect(batch.isControl).toBe(true);
    expect(batch.hasDeleteHorizon).toBe(true);
  });
});

describe("walking batches", () => {
  it("yields each batch of a concatenated buffer in order", () => {
    const parts = [
      buildRecordBatch({ baseOffset: 0n, records: [{}, {}, {}] }),
      buildRecordBatch({ baseOffset: 3n, records: [] }),
      buildRecordBatch({ baseOffset: 3n, records: [{ value: bytes("x") }] }),
    ];
    const buffer = Buffer.concat(parts);
    const found = [...batches(buffer)];
    expect(found.map((batch) => batch.baseOffset)).toEqual([0n, 3n, 3n]);
    expect(found.map((batch) => batch.position)).toEqual([0, parts[0]?.length, (parts[0]?.length ?? 0) + (parts[1]?.length ?? 0)]);
    expect(decodeAll(buffer).map((records) => records.length)).toEqual([3, 0, 1]);
  });

  it("yields nothing for an empty buffer", () => {
    expect([...batches(Buffer.alloc(0))]).toEqual([]);
  });

  it.each([0, 1, 3, -1])("refuses magic %i", (magic) => {
    const buffer = Buffer.from(sampleBatch);
    buffer.writeInt8(magic, RecordBatchLayout.MAGIC);
    expect(decodeErrorOf(() => [...batches(buffer)]).message).toMatch(`unsupported magic ${magic}`);
  });

  it.each([-1, 0, 48])("refuses batch length %i, below a header's 49", (length) => {
    const buffer = Buffer.from(sampleBatch);
    buffer.writeInt32BE(length, RecordBatchLayout.BATCH_LENGTH);
    expect(decodeErrorOf(() => [...batches(buffer)]).message).toMatch("below the minimum 49");
  });

  it("a view needs the whole 61-byte header", () => {
    decodeErrorOf(() => new RecordBatchView(sampleBatch, sampleBatch.length - 60));
    decodeErrorOf(() => new RecordBatchView(sampleBatch, -1));
    expect(new RecordBatchView(sampleBatch.subarray(0, 61)).baseOffset).toBe(1000n);
  });

  it("a CRC check fails when any covered byte changes, and not for the offset or length", () => {
    const damaged = Buffer.from(sampleBatch);
    damaged[damaged.length - 1] ^= 0x01;
    expect(new RecordBatchView(damaged).isCrcValid(crc32cSoftware)).toBe(false);
    const moved = Buffer.from(sampleBatch);
    moved.writeBigInt64BE(5n, RecordBatchLayout.BASE_OFFSET);
    moved.writeInt32BE(99, RecordBatchLayout.PARTITION_LEADER_EPOCH);
    expect(new RecordBatchView(moved).isCrcValid(crc32cSoftware)).toBe(true);
  });
});

describe("damaged batches throw RecordBatchDecodeError and nothing else", () => {
  const two = Buffer.concat([
    sampleBatch,
    buildRecordBatch({
      baseOffset: 1003n,
      records: [{ value: bytes("last") }],
    }),
  ]);

  it("a buffer cut at any byte", () => {
    for (let length = 1; length < two.length; length++) {
      const cut = two.subarray(0, length);
      if (length === sampleBatch.length) {
        expect(decodeAll(cut)).toHaveLength(1);
        continue;
      }
      decodeErrorOf(() => decodeAll(cut));
    }
  });

  it("a batch whose declared length is cut at any byte", () => {
    for (let length = 0; length < sampleBatch.length - 12; length++) {
      // The CRC is left stale: decoding does not check it.
      const cut = Buffer.from(sampleBatch.subarray(0, 12 + length));
      cut.writeInt32BE(length, RecordBatchLayout.BATCH_LENGTH);
      decodeErrorOf(() => decodeAll(cut));
    }
  });

  it("a record count above or below the records present", () => {
    for (const count of [2, 4, -1]) {
      const buffer = patched(sampleBatch, (copy) => copy.writeInt32BE(count, RecordBatchLayout.RECORD_COUNT));
      const error = decodeErrorOf(() => decodeAll(buffer));
      expect(error.message).toMatch(
        count === 2 ? "bytes left over after the 2 records" : count === 4 ? "declares 4 records but the batch holds only 3" : "negative record count",
      );
    }
  });

  it("a record length that disagrees with its fields", () => {
    // The first record's length is a one-byte varint at byte 61.
    const length = sampleBatch.readInt8(RECORD_BATCH_HEADER_SIZE_BYTES) >> 1;
    for (const wrong of [length - 1, length + 1]) {
      const buffer = patched(sampleBatch, (copy) => copy.writeUInt8(wrong << 1, RECORD_BATCH_HEADER_SIZE_BYTES));
      decodeErrorOf(() => decodeAll(buffer));
    }
  });

  it("a varint longer than 5 bytes", () => {
    // The record's length varint becomes six continuation bytes.
    const buffer = Buffer.concat([sampleBatch.subarray(0, RECORD_BATCH_HEADER_SIZE_BYTES), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])]);
    buffer.writeInt32BE(buffer.length - 12, RecordBatchLayout.BATCH_LENGTH);
    expect(decodeErrorOf(() => decodeAll(buffer)).message).toMatch("varint longer than 5 bytes");
  });

  it("a key length below -1 and a negative header count", () => {
    const record = (body: number[]) => Buffer.concat([sampleBatch.subarray(0, RECORD_BATCH_HEADER_SIZE_BYTES), Buffer.from([body.length << 1, ...body])]);
    // attributes, timestampDelta 0, offsetDelta 0, then the damaged field
    const badKey = record([0, 0, 0, 3]); // zigzag 3 = -2
    const badHeaders = record([0, 0, 0, 1, 1, 1]); // null key, null value, -1 headers
    for (const [buffer, message] of [
      [badKey, "invalid key length -2"],
      [badHeaders, "negative header count -1"],
    ] as const) {
      const batch = Buffer.from(buffer);
      batch.writeInt32BE(batch.length - 12, RecordBatchLayout.BATCH_LENGTH);
      batch.writeInt32BE(1, RecordBatchLayout.RECORD_COUNT);
      expect(decodeErrorOf(() => decodeAll(batch)).message).toMatch(message);
    }
  });

  it("random byte changes anywhere in a batch", () => {
    let seed = 0x5eed;
    const random = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 3000; round++) {
      const damaged = Buffer.from(two);
      const changes = 1 + Math.floor(random() * 3);
      for (let change = 0; change < changes; change++) {
        damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
      }
      try {
        decodeAll(damaged);
      } catch (error) {
        expect(error, `round ${round}`).toBeInstanceOf(RecordBatchDecodeError);
      }
    }
  });
});

describe("control record keys", () => {
  it.each([
    ["abort", ControlRecordType.ABORT],
    ["commit", ControlRecordType.COMMIT],
  ])("%s round-trips", (_, type) => {
    expect(decodeControlRecordKey(encodeControlRecordKey(type))).toEqual({
      version: 0,
      type,
    });
  });

  it("accepts newer versions with extra bytes", () => {
    const key = Buffer.concat([encodeControlRecordKey(1, 3), Buffer.of(9, 9)]);
    expect(decodeControlRecordKey(key)).toEqual({ version: 3, type: 1 });
  });

  it("refuses a null key, a short key and a negative version", () => {
    decodeErrorOf(() => decodeControlRecordKey(null));
    decodeErrorOf(() => decodeControlRecordKey(Buffer.of(0, 0, 0)));
    decodeErrorOf(() => decodeControlRecordKey(encodeControlRecordKey(0, -1)));
  });
});

interface KafkaBatch {
  baseOffset: string;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: string;
  timestampType: string;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  records: {
    offset: string;
    timestamp: string;
    key: string | null;
    value: string | null;
    headers: { key: string; value: string | null }[];
  }[];
}

interface KafkaBuffer {
  hex: string;
  batches: KafkaBatch[];
}

function kafkaBuffers(): KafkaBuffer[] {
  return readFileSync(kafkaBatchesPath, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as KafkaBuffer);
}

const fromBase64 = (text: string | null) => (text === null ? null : Buffer.from(text, "base64"));

function headerOf(batch: RecordBatchView) {
  return {
    baseOffset: String(batch.baseOffset),
    batchLength: batch.batchLength,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    magic: batch.magic,
    crc: batch.crc,
    attributes: batch.attributes,
    compression: batch.compressionName,
    timestampType: batch.timestampType,
    isTransactional: batch.isTransactional,
    isControl: batch.isControl,
    hasDeleteHorizon: batch.hasDeleteHorizon,
    lastOffsetDelta: batch.lastOffsetDelta,
    baseTimestamp: String(batch.baseTimestamp),
    maxTimestamp: String(batch.maxTimestamp),
    producerId: String(batch.producerId),
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    recordCount: batch.recordCount,
  };
}

describe("Kafka's record batches (test/vectors/out/record-batches.jsonl)", () => {
  if (!existsSync(kafkaBatchesPath)) {
    it("are present", () => {
      expect.fail(`${kafkaBatchesPath} is missing: run \`node scripts/vectors.mjs\` to write record batches with kafka-clients`);
    });
    return;
  }
  const buffers = kafkaBuffers();

  it("are there to check against", () => {
    expect(buffers.length).toBeGreaterThan(0);
  });

  it.each(buffers.map((buffer, index) => [index + 1, buffer] as const))("line %i reads as Kafka reads it", (_, kafka) => {
    const buffer = Buffer.from(kafka.hex, "hex");
    const found = [...batches(buffer)];
    expect(found).toHaveLength(kafka.batches.length);
    found.forEach((batch, index) => {
      const { records: expected, ...header } = kafka.batches[index] as KafkaBatch;
      expect(headerOf(batch)).toEqual(header);
      expect(batch.isCrcValid(crc32cSoftware)).toBe(true);
      expect(crc32cSoftware(buffer.subarray(batch.position + 21, batch.end))).toBe(header.crc);
      if (batch.compression !== CompressionType.NONE) {
        decodeErrorOf(() => [...decodeRecords(batch)]);
        return;
      }
      const records = [...decodeRecords(batch)].map((record) => ({
        offset: String(record.offset),
        timestamp: String(record.timestamp),
        key: record.key,
        value: record.value,
        headers: record.headers,
      }));
      expect(records).toEqual(
        expected.map((record) => ({
          ...record,
          key: fromBase64(record.key),
          value: fromBase64(record.value),
          headers: record.headers.map((h) => ({
            key: h.key,
            value: fromBase64(h.value),
          })),
        })),
      );
    });
  });

  it.each(buffers.map((buffer, index) => [index + 1, buffer] as const))(
    "line %i: the builder writes Kafka's bytes for its uncompressed CreateTime batches",
    (_, kafka) => {
      const buffer = Buffer.from(kafka.hex, "hex");
      for (const batch of batches(buffer)) {
        if (batch.compression !== 0 || batch.timestampType !== "CreateTime") {
          continue; // the builder writes neither; LogAppendTime loses the create times
        }
        const records = [...decodeRecords(batch)];
        const rebuilt = buildRecordBatch({
          baseOffset: batch.baseOffset,
          partitionLeaderEpoch: batch.partitionLeaderEpoch,
          isTransactional: batch.isTransactional,
          isControl: batch.isControl,
          ...(batch.deleteHorizon === null ? { baseTimestamp: batch.baseTimestamp } : { deleteHorizon: batch.deleteHorizon }),
          maxTimestamp: batch.maxTimestamp,
          producerId: batch.producerId,
          producerEpoch: batch.producerEpoch,
          baseSequence: batch.baseSequence,
          records: records.map((record) => ({
            ...record,
            offsetDelta: Number(record.offset - batch.baseOffset),
          })),
        });
        expect(rebuilt.toString("hex")).toBe(buffer.subarray(batch.position, batch.end).toString("hex"));
      }
    },
  );
});
