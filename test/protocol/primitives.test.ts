// The reader and writer primitives: every encoding Kafka defines, its edges, and its errors.

import { describe, expect, it } from "vitest";
import { ProtocolDecodeError, Reader } from "../../src/protocol/reader.js";
import { ProtocolEncodeError, unsignedVarintSize, Writer } from "../../src/protocol/writer.js";

function bytes(...values: number[]): Buffer {
  return Buffer.from(values);
}

describe("varints", () => {
  it("unsigned varints encode as Kafka's ByteUtils does, at every length", () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [1, [0x01]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [300, [0xac, 0x02]],
      [16383, [0xff, 0x7f]],
      [16384, [0x80, 0x80, 0x01]],
      [2 ** 32 - 1, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [value, encoded] of cases) {
      const w = new Writer();
      w.unsignedVarint(value);
      expect([...w.finish()]).toEqual(encoded);
      expect(unsignedVarintSize(value)).toBe(encoded.length);
      expect(new Reader(Buffer.from(encoded)).unsignedVarint()).toBe(value);
    }
  });

  it("zigzag varints and varlongs round-trip at the edges of their ranges", () => {
    for (const value of [0, -1, 1, -64, 63, 64, -(2 ** 31), 2 ** 31 - 1]) {
      const w = new Writer();
      w.varint(value);
      expect(new Reader(w.finish()).varint()).toBe(value);
    }
    for (const value of [0n, -1n, 1n, -(2n ** 63n), 2n ** 63n - 1n, 1234567890123n]) {
      const w = new Writer();
      w.varlong(value);
      expect(new Reader(w.finish()).varlong()).toBe(value);
    }
    const w = new Writer();
    w.varint(-1);
    expect([...w.finish()]).toEqual([0x01]);
  });

  it("refuses a varint longer than 5 bytes or wider than 32 bits", () => {
    expect(() => new Reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).unsignedVarint()).toThrow(ProtocolDecodeError);
    expect(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0x1f)).unsignedVarint()).toThrow(ProtocolDecodeError);
    expect(() => new Reader(bytes(0x80)).unsignedVarint()).toThrow(ProtocolDecodeError);
  });
});

describe("strings, bytes and arrays", () => {
  it("classic and compact strings round-trip non-ASCII text and null", () => {
    const text = "héllo wörld 🚀 日本";
    const w = new Writer();
    w.string(text);
    w.nullableString(null);
    w.compactString(text);
    w.compactNullableString(null);
    const r = new Reader(w.finish());
    expect(r.string()).toBe(text);
    expect(r.nullableString()).toBeNull();
    expect(r.compactString()).toBe(text);
    expect(r.compactNullableString()).toBeNull();
    expect(r.remaining()).toBe(0);
  });

  it("a null where the field is not nullable is a decode error", () => {
    expect(() => new Reader(bytes(0xff, 0xff)).string()).toThrow(ProtocolDecodeError);
    expect(() => new Reader(bytes(0x00)).compactString()).toThrow(ProtocolDecodeError);
    expect(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff)).arrayLength(false)).toThrow(ProtocolDecodeError);
    expect(new Reader(bytes(0xff, 0xff, 0xff, 0xff)).arrayLength(true)).toBe(-1);
  });

  it("a string longer than Kafka's 32767-byte limit is refused both ways", () => {
    expect(() => new Writer().string("x".repeat(0x8000))).toThrow(ProtocolEncodeError);
    const w = new Writer();
    w.unsignedVarint(0x8000 + 1);
    w.raw(Buffer.alloc(0x8000, 0x61));
    expect(() => new Reader(w.finish()).compactString()).toThrow(ProtocolDecodeError);
  });

  it("array and bytes lengths beyond the remaining bytes are refused before allocating", () => {
    expect(() => new Reader(bytes(0x7f, 0xff, 0xff, 0xff, 0x00)).arrayLength(false)).toThrow(/exceeds/);
    expect(() => new Reader(bytes(0x00, 0x00, 0x00, 0x05, 0x01)).bytesLength(false)).toThrow(/exceeds/);
    expect(() => new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0x07)).compactArrayLength(false)).toThrow(/exceeds/);
  });

  it("every fixed-width read past the end is a decode error, not a RangeError", () => {
    const r = new Reader(bytes(0x01, 0x02, 0x03));
    for (const read of [() => r.int32(), () => r.int64(), () => r.uuid(), () => r.float64(), () => r.uint32()]) {
      expect(read).toThrow(ProtocolDecodeError);
    }
    expect(r.int16()).toBe(0x0102);
  });

  it("uuids use Kafka's URL-safe base64 form", () => {
    const raw = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const text = new Reader(raw).uuid();
    expect(text).toBe(raw.toString("base64url"));
    const w = new Writer();
    w.uuid(text);
    expect(w.finish().equals(raw)).toBe(true);
    expect(() => new Writer().uuid("not-a-uuid")).toThrow(ProtocolEncodeError);
  });
});

describe("writer parts", () => {
  it("large record sets are attached without a copy and joined in order", () => {
    const records = Buffer.alloc(16384, 7);
    const w = new Writer(16);
    w.int32(1);
    w.records(records);
    w.int16(2);
    const parts = w.finishParts();
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(records);
    const joined = w.finish();
    expect(joined.length).toBe(4 + 4 + 16384 + 2);
    expect(w.length).toBe(joined.length);
    const r = new Reader(joined);
    expect(r.int32()).toBe(1);
    expect(r.slice(r.bytesLength(true)).equals(records)).toBe(true);
    expect(r.int16()).toBe(2);
  });

  it("grows past its initial size without losing bytes", () => {
    const w = new Writer(4);
    for (let i = 0; i < 1000; i++) w.int32(i);
    const r = new Reader(w.finish());
    for (let i = 0; i < 1000; i++) expect(r.int32()).toBe(i);
  });
});
