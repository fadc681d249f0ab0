import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32c, nativeVersion, validateRecordBatchCrc } from "../../src/native.js";

const HEADER_BYTES = 61;
const CRC_OFFSET = 17;
const CRC_START_OFFSET = 21;

/** One record batch v2 holding one uncompressed record (no key, value "hello"). */
function buildBatch(): Buffer {
  const record = Buffer.from([
    0x16, // record length 11, zigzag varint
    0x00, // attributes
    0x00, // timestamp delta
    0x00, // offset delta
    0x01, // key length -1 (null)
    0x0a, // value length 5
    ...Buffer.from("hello"),
    0x00, // header count
  ]);
  const batch = Buffer.alloc(HEADER_BYTES + record.length);
  batch.writeBigInt64BE(42n, 0); // baseOffset
  batch.writeInt32BE(batch.length - 12, 8); // batchLength
  batch.writeInt32BE(7, 12); // partitionLeaderEpoch
  batch.writeInt8(2, 16); // magic
  batch.writeInt16BE(0, 21); // attributes
  batch.writeInt32BE(0, 23); // lastOffsetDelta
  batch.writeBigInt64BE(1_700_000_000_000n, 27); // baseTimestamp
  batch.writeBigInt64BE(1_700_000_000_000n, 35); // maxTimestamp
  batch.writeBigInt64BE(-1n, 43); // producerId
  batch.writeInt16BE(-1, 51); // producerEpoch
  batch.writeInt32BE(-1, 53); // baseSequence
  batch.writeInt32BE(1, 57); // recordsCount
  record.copy(batch, HEADER_BYTES);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
  return batch;
}

describe("crc32c through the native addon", () => {
  it("gives the catalogue check value for the digits one to nine", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("gives 0 for no bytes", () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("matches the RFC 3720 iSCSI vectors, as an unsigned number", () => {
    const ascending = Uint8Array.from({ length: 32 }, (_, index) => index);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(ascending)).toBe(0x46dd794e);
    expect(crc32c(ascending.slice().reverse())).toBe(0x113fdb5c);
  });

  it("reads only the bytes of a view that starts inside a larger buffer", () => {
    const backing = Buffer.from("xx123456789yy");
    expect(crc32c(backing.subarray(2, 11))).toBe(0xe3069283);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 9);
    expect(crc32c(view)).toBe(0xe3069283);
  });

  it("rejects a typed array that is not bytes", () => {
    expect(() => crc32c(new Uint16Array(4) as unknown as Uint8Array)).toThrow();
  });
});

describe("validateRecordBatchCrc", () => {
  it("accepts a well-formed batch", () => {
    expect(validateRecordBatchCrc(buildBatch())).toBeNull();
  });

  it("reports CRC_MISMATCH for a flipped byte in the records", () => {
    const batch = buildBatch();
    batch[batch.length - 3] ^= 0x01;
    const problem = validateRecordBatchCrc(batch);
    expect(problem?.code).toBe("CRC_MISMATCH");
    expect(problem?.message).toMatch(/CRC mismatch/);
  });

  it("ignores rewrites of baseOffset and partitionLeaderEpoch, which the CRC does not cover", () => {
    const batch = buildBatch();
    batch.writeBigInt64BE(1000n, 0);
    batch.writeInt32BE(99, 12);
    expect(validateRecordBatchCrc(batch)).toBeNull();
  });

  it("reports LENGTH_MISMATCH for a batch cut short after its header", () => {
    const batch = buildBatch();
    expect(validateRecordBatchCrc(batch.subarray(0, batch.length - 1))?.code).toBe("LENGTH_MISMATCH");
  });

  it("reports TOO_SHORT for fewer bytes than a header", () => {
    expect(validateRecordBatchCrc(buildBatch().subarray(0, HEADER_BYTES - 1))?.code).toBe("TOO_SHORT");
  });

  it("reports BAD_MAGIC for a v1 message set", () => {
    const batch = buildBatch();
    batch.writeInt8(1, 16);
    expect(validateRecordBatchCrc(batch)?.code).toBe("BAD_MAGIC");
  });
});

describe("nativeVersion", () => {
  it("is the Cargo workspace version", () => {
    const cargoToml = readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8");
    const workspaceVersion = /\[workspace\.package\][^[]*?version = "([^"]+)"/.exec(cargoToml)?.[1];
    expect(workspaceVersion).toBeDefined();
    expect(nativeVersion()).toBe(workspaceVersion);
  });
});
