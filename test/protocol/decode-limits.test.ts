// Kafka 4.4's decoder limits — arrays of at most 1,000,000 elements, tagged-field sections of at
// most 10,000 fields — refused before anything is allocated, at the boundary and one past it; and
// Sluice's own guards: all arrays of a frame together declare at most one element per byte, and
// the broker's request path keeps no copy of tagged fields it does not know.

import { describe, expect, it } from "vitest";
import { decodeRequest } from "../../src/protocol/frame.js";
import { readDescribeLogDirsRequest } from "../../src/protocol/generated/describe-log-dirs.js";
import { readMetadataRequest } from "../../src/protocol/generated/metadata.js";
import {
  ARRAY_ELEMENTS_MAX,
  DECODED_HEAP_BYTES_FLOOR,
  DECODED_HEAP_BYTES_PER_FRAME_BYTE,
  ProtocolDecodeError,
  Reader,
  TAGGED_FIELDS_MAX,
} from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";

/** A DescribeLogDirs v4 body (flexible): one topic "t" whose partition list declares `declared` int32s, `present` of them there. */
function describeLogDirsBody(declared: number, present: number): Buffer {
  const head = new Writer();
  head.unsignedVarint(2); // one topic
  head.compactString("t", "topic");
  head.unsignedVarint(declared + 1);
  const tail = new Writer();
  tail.unsignedVarint(0); // the topic's tagged fields
  tail.unsignedVarint(0); // the request's tagged fields
  // The partitions are int32 0, 1, 2, ... big-endian, written straight into one buffer.
  const partitions = Buffer.alloc(present * 4);
  for (let i = 0; i < present; i++) partitions.writeInt32BE(i, i * 4);
  return Buffer.concat([head.finish(), partitions, tail.finish()]);
}

/** An ApiVersions v3 request frame whose request header (v2) carries `count` empty unknown tagged fields. */
function apiVersionsWithHeaderTags(count: number): Buffer {
  const w = new Writer();
  w.int16(18);
  w.int16(3);
  w.int32(42);
  w.nullableString("tags", "clientId");
  w.unsignedVarint(count);
  for (let i = 0; i < count; i++) {
    w.unsignedVarint(i); // tag
    w.unsignedVarint(0); // size
  }
  w.compactString("client", "clientSoftwareName");
  w.compactString("1.0", "clientSoftwareVersion");
  w.unsignedVarint(0);
  return w.finish();
}

describe("array limit (Kafka 4.4: 1,000,000 elements)", () => {
  it("is 1,000,000", () => {
    expect(ARRAY_ELEMENTS_MAX).toBe(1_000_000);
  });

  it("decodes an array of exactly 1,000,000 elements", () => {
    const request = readDescribeLogDirsRequest(new Reader(describeLogDirsBody(1_000_000, 1_000_000)), 4);
    const partitions = request.topics?.[0].partitions ?? [];
    expect(partitions).toHaveLength(1_000_000);
    expect(partitions[999_999]).toBe(999_999);
  });

  it("refuses 1,000,001 elements from the count alone, although the bytes for them are there", () => {
    const body = describeLogDirsBody(1_000_001, 1_000_001);
    expect(() => readDescribeLogDirsRequest(new Reader(body), 4)).toThrow(ProtocolDecodeError);
    expect(() => readDescribeLogDirsRequest(new Reader(body), 4)).toThrow("array of 1000001 elements exceeds the maximum of 1000000");
  });

  it("checks classic (int32) and compact counts alike, before reading any element", () => {
    const classic = Buffer.alloc(4 + 1_000_001);
    classic.writeInt32BE(1_000_001, 0);
    expect(() => new Reader(classic).arrayLength(false)).toThrow("exceeds the maximum of 1000000");
    classic.writeInt32BE(1_000_000, 0);
    // (int32 elements: a struct per byte would pass the heap budget below first)
    expect(new Reader(classic).arrayLength(false, 8)).toBe(1_000_000);
    const compact = new Writer();
    compact.unsignedVarint(1_000_002);
    const bytes = Buffer.concat([compact.finish(), Buffer.alloc(1_000_001)]);
    expect(() => new Reader(bytes).compactArrayLength(false)).toThrow("exceeds the maximum of 1000000");
  });

  it("refuses a count larger than the bytes left, whatever the limit", () => {
    expect(() => readDescribeLogDirsRequest(new Reader(describeLogDirsBody(500, 10)), 4)).toThrow("array of 500 elements exceeds the 42 bytes left");
  });

  it("refuses arrays that together declare more elements than the frame has bytes", () => {
    // 30 topics, the first of which declares as many partitions as there are bytes left: each
    // count fits the bytes left, but together they declare more elements than the frame's 44
    // bytes could hold. Refused at the second count, before reading any partition.
    const w = new Writer();
    w.unsignedVarint(30 + 1);
    w.compactString("t", "topic");
    w.unsignedVarint(40 + 1);
    const bytes = Buffer.concat([w.finish(), Buffer.alloc(40)]);
    const reader = new Reader(bytes);
    expect(reader.compactArrayLength(false)).toBe(30);
    reader.compactString();
    expect(() => reader.compactArrayLength(false)).toThrow("past one element per byte");
  });
});

describe("tagged-field limit (Kafka 4.4: 10,000 fields per section)", () => {
  it("is 10,000", () => {
    expect(TAGGED_FIELDS_MAX).toBe(10_000);
  });

  it("decodes a request header with exactly 10,000 tagged fields", () => {
    const decoded = decodeRequest(apiVersionsWithHeaderTags(10_000), { keepUnknownTaggedFields: true });
    expect(decoded.header.correlationId).toBe(42);
    expect(decoded.header.unknownTaggedFields).toHaveLength(10_000);
    expect(decoded.body).toMatchObject({ clientSoftwareName: "client", clientSoftwareVersion: "1.0" });
  });

  it("refuses 10,001 tagged fields from the count alone", () => {
    const frame = apiVersionsWithHeaderTags(10_001);
    expect(() => decodeRequest(frame)).toThrow(ProtocolDecodeError);
    expect(() => decodeRequest(frame)).toThrow("10001 tagged fields exceed the maximum of 10000");
  });

  it("refuses a tagged-field count larger than the bytes left", () => {
    const w = new Writer();
    w.unsignedVarint(5_000_000);
    w.unsignedVarint(0);
    expect(() => new Reader(w.finish()).taggedFieldCount()).toThrow("5000000 tagged fields exceed the 1 bytes left");
  });

  it("on the broker's request path, skips unknown tagged fields instead of keeping copies", () => {
    const frame = apiVersionsWithHeaderTags(10_000);
    const decoded = decodeRequest(frame);
    expect(decoded.header.unknownTaggedFields).toBeUndefined();
    expect(decoded.body).toMatchObject({ clientSoftwareName: "client", clientSoftwareVersion: "1.0" });
  });
});

/** A Metadata v4 request body (classic encoding) for `count` topics named `prefix` + index, padded to `nameBytes`. */
function metadataV4Body(count: number, nameBytes: number): Buffer {
  const body = Buffer.alloc(4 + count * (2 + nameBytes) + 1);
  body.writeInt32BE(count, 0);
  let at = 4;
  for (let index = 0; index < count; index++) {
    body.writeInt16BE(nameBytes, at);
    body.write(index.toString(36).padStart(nameBytes, "t"), at + 2, "latin1");
    at += 2 + nameBytes;
  }
  body.writeInt8(0, at); // allowAutoTopicCreation
  return body;
}

describe("decoded heap budget (Sluice: a frame may cost at most a small multiple of its size)", () => {
  it("is 8 times the frame, and never less than 16 MiB", () => {
    expect(DECODED_HEAP_BYTES_PER_FRAME_BYTE).toBe(8);
    expect(DECODED_HEAP_BYTES_FLOOR).toBe(16 * 1024 * 1024);
  });

  it("decodes a Metadata request for 100,000 topics of 30 characters", () => {
    const request = readMetadataRequest(new Reader(metadataV4Body(100_000, 30)), 4);
    expect(request.topics).toHaveLength(100_000);
    expect(request.topics?.[99_999].name).toHaveLength(30);
  });

  it("refuses 300,000 two-letter topic names (1.2 MB of frame, about 27 MB of objects) while decoding", () => {
    const body = metadataV4Body(300_000, 2);
    expect(body.length).toBeLessThan(1_300_000);
    expect(() => readMetadataRequest(new Reader(body), 4)).toThrow(ProtocolDecodeError);
    expect(() => readMetadataRequest(new Reader(body), 4)).toThrow(/would take more than 16777216 bytes of memory/);
  });

  it("charges a struct element more than a primitive one", () => {
    const frame = Buffer.alloc(4 + 300_000);
    frame.writeInt32BE(300_000, 0);
    // 300,000 int32s cost 2.4 MB: fine; 300,000 objects 19.2 MB: past the 16 MiB floor of this small frame.
    expect(new Reader(frame).arrayLength(false, 8)).toBe(300_000);
    expect(() => new Reader(frame).arrayLength(false)).toThrow(/bytes of memory/);
  });
});
