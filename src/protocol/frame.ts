// Whole request and response frames: header version rules, then the generated body codecs.
//
// A frame here is the bytes after the 4-byte size prefix (the network layer strips it).
// Header versions follow Kafka: request header v2 and response header v1 for flexible API
// versions, v1 / v0 otherwise; ApiVersions responses always use response header v0 so a client
// can parse the answer even when it asked with a version the broker does not know (KIP-511).

import type { RequestHeader, ResponseHeader } from "./generated/headers.js";
import { type ApiDescriptor, apiByKey, headers } from "./generated/index.js";
import { ProtocolDecodeError, Reader, type ReaderOptions } from "./reader.js";
import { type Part, Writer } from "./writer.js";

export const API_VERSIONS_KEY = 18;

export function isFlexible(api: ApiDescriptor, version: number): boolean {
  return api.flexibleMinVersion >= 0 && version >= api.flexibleMinVersion;
}

export function requestHeaderVersion(api: ApiDescriptor, version: number): number {
  return isFlexible(api, version) ? 2 : 1;
}

export function responseHeaderVersion(api: ApiDescriptor, version: number): number {
  if (api.apiKey === API_VERSIONS_KEY) return 0;
  return isFlexible(api, version) ? 1 : 0;
}

/** Why a frame could not be turned into a request; the server answers or closes accordingly. */
export class UnsupportedRequestError extends Error {
  readonly code = "SLUICE_UNSUPPORTED_REQUEST";
  constructor(
    message: string,
    readonly apiKey: number,
    readonly apiVersion: number,
    readonly correlationId: number,
  ) {
    super(message);
    this.name = "UnsupportedRequestError";
  }
}

export interface DecodedRequest {
  api: ApiDescriptor;
  header: RequestHeader;
  body: unknown;
}

/** Reads the fixed start of any request header (api key, version, correlation id) without decoding the rest. */
export function peekRequestHeader(frame: Buffer): { apiKey: number; apiVersion: number; correlationId: number } {
  if (frame.length < 8) throw new ProtocolDecodeError(`request frame of ${frame.length} bytes is shorter than a request header`);
  return { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2), correlationId: frame.readInt32BE(4) };
}

/**
 * Decodes a request frame. Throws UnsupportedRequestError for an unknown API key or version
 * (the caller decides between Kafka's error answer and closing), ProtocolDecodeError for
 * malformed bytes; trailing bytes after the body are ignored, as Kafka does. Record sets in
 * the body are slices of `frame`, not copies. Unknown tagged fields are skipped unless
 * `keepUnknownTaggedFields` is set (tests that round-trip a request).
 */
export function decodeRequest(frame: Buffer, options: ReaderOptions = {}): DecodedRequest {
  const { apiKey, apiVersion, correlationId } = peekRequestHeader(frame);
  const api = apiKey >= 0 ? apiByKey[apiKey] : undefined;
  if (api === undefined) throw new UnsupportedRequestError(`unknown API key ${apiKey}`, apiKey, apiVersion, correlationId);
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    throw new UnsupportedRequestError(`${api.name} version ${apiVersion} is not supported`, apiKey, apiVersion, correlationId);
  }
  // A broker has no use for tagged fields it does not know: skipping them means a request full
  // of them costs no memory beyond its own bytes.
  const reader = new Reader(frame, 0, frame.length, { keepUnknownTaggedFields: options.keepUnknownTaggedFields ?? false });
  const header = headers.readRequestHeader(reader, requestHeaderVersion(api, apiVersion));
  const body = api.request.read(reader, apiVersion);
  // Bytes after the body are ignored, as Kafka's broker does (RequestContext.parseRequest
  // reads the message and never checks what is left): librdkafka 2.x sends some.
  return { api, header, body };
}

/** Encodes a request (for the inter-broker client and tests). */
export function encodeRequest(api: ApiDescriptor, version: number, header: Omit<RequestHeader, "requestApiKey" | "requestApiVersion">, body: unknown): Buffer {
  const writer = new Writer();
  const full: RequestHeader = { ...header, requestApiKey: api.apiKey, requestApiVersion: version };
  headers.writeRequestHeader(writer, full, requestHeaderVersion(api, version));
  api.request.write(writer, body, version);
  return writer.finish();
}

/** Encodes a response as parts (header and body bytes, large record sets attached without a copy). */
export function encodeResponse(api: ApiDescriptor, version: number, correlationId: number, body: unknown): Buffer[] {
  const writer = new Writer();
  const header: ResponseHeader = { correlationId, unknownTaggedFields: undefined };
  headers.writeResponseHeader(writer, header, responseHeaderVersion(api, version));
  api.response.write(writer, body, version);
  return writer.finishParts();
}

/**
 * Encodes a whole response frame for the network layer: the 4-byte size prefix, then the
 * header and body as parts, file slices (records of a Fetch response) passed through.
 */
export function encodeResponseFrame(api: ApiDescriptor, version: number, correlationId: number, body: unknown): Part[] {
  const writer = new Writer(512);
  writer.int32(0);
  const header: ResponseHeader = { correlationId, unknownTaggedFields: undefined };
  headers.writeResponseHeader(writer, header, responseHeaderVersion(api, version));
  api.response.write(writer, body, version);
  const size = writer.length - 4;
  const parts = writer.finishOutput();
  (parts[0] as Buffer).writeInt32BE(size, 0);
  return parts;
}

/** Decodes a response frame (for the inter-broker client and tests). */
export function decodeResponse(api: ApiDescriptor, version: number, frame: Buffer): { header: ResponseHeader; body: unknown } {
  const reader = new Reader(frame);
  const header = headers.readResponseHeader(reader, responseHeaderVersion(api, version));
  const body = api.response.read(reader, version);
  if (reader.remaining() !== 0) throw new ProtocolDecodeError(`${reader.remaining()} bytes left after ${api.name} v${version} response`);
  return { header, body };
}
