// The encoding rules Kafka's generated Java enforces, pinned on concrete messages, and the
// frame-level rules (header versions, unknown APIs and versions).

import { describe, expect, it } from "vitest";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  requestHeaderVersion,
  responseHeaderVersion,
  UnsupportedRequestError,
} from "../../src/protocol/frame.js";
import { defaultFetchRequest, readFetchRequest, writeFetchRequest } from "../../src/protocol/generated/fetch.js";
import { apiByKey, apis } from "../../src/protocol/generated/index.js";
import { defaultMetadataRequest, writeMetadataRequest } from "../../src/protocol/generated/metadata.js";
import { defaultProduceRequest, defaultProduceRequestTopicProduceData, readProduceRequest, writeProduceRequest } from "../../src/protocol/generated/produce.js";
import { ProtocolDecodeError, Reader } from "../../src/protocol/reader.js";
import { ProtocolEncodeError, Writer } from "../../src/protocol/writer.js";

function encoded(write: (w: Writer) => void): Buffer {
  const w = new Writer();
  write(w);
  return w.finish();
}

function api(key: number) {
  const found = apiByKey[key];
  if (found === undefined) throw new Error(`no API ${key}`);
  return found;
}

describe("Kafka's encode rules", () => {
  it("a non-default value in a field the version lacks is refused unless the field is ignorable", () => {
    const request = defaultProduceRequest();
    request.transactionalId = "tx-1"; // versions 3+, not ignorable
    expect(() => writeProduceRequest(new Writer(), request, 2)).toThrow(ProtocolEncodeError);
    expect(() => writeProduceRequest(new Writer(), request, 3)).not.toThrow();

    const byName = defaultProduceRequest();
    const topic = defaultProduceRequestTopicProduceData();
    topic.name = "orders"; // versions 0-12, ignorable: silently left out of v13
    byName.topicData = [topic];
    const v13 = encoded((w) => writeProduceRequest(w, byName, 13));
    expect(readProduceRequest(new Reader(v13), 13).topicData[0].name).toBe("");
  });

  it("null in a field that is not nullable at that version is refused", () => {
    const request = defaultMetadataRequest();
    request.topics = null; // nullable from v1 only
    expect(() => writeMetadataRequest(new Writer(), request, 0)).toThrow(ProtocolEncodeError);
    expect(() => writeMetadataRequest(new Writer(), request, 1)).not.toThrow();
  });

  it("a tagged field at its default is not written; a set one is, and decodes back", () => {
    const request = defaultFetchRequest();
    const without = encoded((w) => writeFetchRequest(w, request, 12));
    request.clusterId = "cluster-a";
    const withTag = encoded((w) => writeFetchRequest(w, request, 12));
    expect(withTag.length).toBeGreaterThan(without.length);
    expect(readFetchRequest(new Reader(withTag), 12).clusterId).toBe("cluster-a");
    expect(readFetchRequest(new Reader(without), 12).clusterId).toBeNull();
  });

  it("unknown tagged fields survive a decode and re-encode unchanged", () => {
    const request = defaultFetchRequest();
    request.unknownTaggedFields = [{ tag: 90, data: Buffer.from([1, 2, 3]) }];
    const bytes = encoded((w) => writeFetchRequest(w, request, 13));
    const decoded = readFetchRequest(new Reader(bytes), 13);
    expect(decoded.unknownTaggedFields).toEqual([{ tag: 90, data: Buffer.from([1, 2, 3]) }]);
    expect(encoded((w) => writeFetchRequest(w, decoded, 13)).equals(bytes)).toBe(true);
  });

  it("versions outside a message's range are refused both ways", () => {
    expect(() => writeProduceRequest(new Writer(), defaultProduceRequest(), 14)).toThrow(ProtocolEncodeError);
    expect(() => readProduceRequest(new Reader(Buffer.alloc(64)), -1)).toThrow(ProtocolDecodeError);
  });
});

describe("frames and header versions", () => {
  it("serves the 79 broker APIs, with the old versions Kafka 4 dropped", () => {
    expect(apis).toHaveLength(79);
    expect(api(0).minVersion).toBe(0); // Produce v0-2 come from 3.9.0
    expect(api(0).oldVersions).toEqual([0, 1, 2]);
    expect(api(1).minVersion).toBe(0); // Fetch v0-3 likewise
    expect(api(0).maxVersion).toBe(13);
  });

  it("flexible versions use request header v2 and response header v1; ApiVersions always answers with header v0", () => {
    expect(requestHeaderVersion(api(0), 8)).toBe(1);
    expect(requestHeaderVersion(api(0), 9)).toBe(2);
    expect(responseHeaderVersion(api(0), 8)).toBe(0);
    expect(responseHeaderVersion(api(0), 9)).toBe(1);
    expect(requestHeaderVersion(api(18), 3)).toBe(2);
    expect(responseHeaderVersion(api(18), 3)).toBe(0);
  });

  it("decodes a whole request frame, with records as a slice of the frame", () => {
    const produce = api(0);
    const body = defaultProduceRequest();
    const topic = defaultProduceRequestTopicProduceData();
    topic.name = "orders";
    topic.partitionData = [{ index: 0, records: Buffer.from("not parsed here"), unknownTaggedFields: undefined }];
    body.topicData = [topic];
    body.acks = -1;
    const frame = encodeRequest(produce, 9, { correlationId: 42, clientId: "test-client", unknownTaggedFields: undefined }, body);
    const decoded = decodeRequest(frame);
    expect(decoded.api.name).toBe("Produce");
    expect(decoded.header).toMatchObject({ requestApiKey: 0, requestApiVersion: 9, correlationId: 42, clientId: "test-client" });
    const records = (decoded.body as typeof body).topicData[0].partitionData[0].records;
    expect(records?.toString()).toBe("not parsed here");
    expect(records?.buffer).toBe(frame.buffer); // a view into the frame, not a copy
  });

  it("bytes after a request body are ignored, as Kafka's broker ignores them", () => {
    const body = defaultProduceRequest();
    body.acks = 1;
    const frame = encodeRequest(api(0), 9, { correlationId: 43, clientId: "trailing", unknownTaggedFields: undefined }, body);
    const decoded = decodeRequest(Buffer.concat([frame, Buffer.from([1, 2, 3])]));
    expect(decoded.header.correlationId).toBe(43);
    expect((decoded.body as typeof body).acks).toBe(1);
  });

  it("an unknown API key or an unsupported version is reported with the correlation id", () => {
    const unknown = Buffer.from([0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xff, 0xff]);
    expect(() => decodeRequest(unknown)).toThrow(UnsupportedRequestError);
    const tooNew = Buffer.from([0x00, 0x12, 0x00, 0x63, 0x00, 0x00, 0x00, 0x09, 0xff, 0xff]);
    try {
      decodeRequest(tooNew);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UnsupportedRequestError);
      expect((error as UnsupportedRequestError).correlationId).toBe(9);
      expect((error as UnsupportedRequestError).apiVersion).toBe(99);
    }
    expect(() => decodeRequest(Buffer.from([0, 0, 0]))).toThrow(ProtocolDecodeError);
  });

  it("a response encodes and decodes with its header", () => {
    const apiVersions = api(18);
    const response = apiVersions.response.create() as { errorCode: number; apiKeys: unknown[] };
    response.errorCode = 35;
    const parts = encodeResponse(apiVersions, 3, 1234, response);
    const decoded = decodeResponse(apiVersions, 3, Buffer.concat(parts));
    expect(decoded.header.correlationId).toBe(1234);
    expect((decoded.body as { errorCode: number }).errorCode).toBe(35);
  });
});
