// Writer for the Kafka wire protocol.
//
// Writes into one growing buffer. Large payloads (records) can be attached as separate parts
// instead of being copied, so an encoded response is a list of buffers that the network layer
// sends with writev; `finish()` joins them when one buffer is wanted.

import { STRING_BYTES_MAX } from "./reader.js";

/** Raised when a message cannot be encoded at the requested version (Kafka: UnsupportedVersionException / RuntimeException). */
export class ProtocolEncodeError extends Error {
  readonly code = "SLUICE_PROTOCOL_ENCODE";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolEncodeError";
  }
}

/** Payloads at least this large are attached as parts rather than copied. */
const ZERO_COPY_BYTES_MIN = 4096;

/**
 * A part whose bytes the writer never sees: a file slice the network layer sends with
 * sendfile (a LogSlice). Only its length is known here; it is passed through in order.
 */
export interface ExternalPart {
  readonly length: number;
}

/** An encoded message's parts: byte buffers and external parts, in order. */
export type Part = Buffer | ExternalPart;

export class Writer {
  private buf: Buffer;
  private position = 0;
  /** Start of the bytes in `buf` not yet handed to `parts`. */
  private chunkStart = 0;
  private parts: Part[] = [];
  private partsBytes = 0;
  private externalParts = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Total bytes written so far, parts included. */
  get length(): number {
    return this.partsBytes + this.position - this.chunkStart;
  }

  private ensure(bytes: number): number {
    const at = this.position;
    if (at + bytes > this.buf.length) {
      const pending = this.buf.subarray(this.chunkStart, at);
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending.length + bytes + 64));
      pending.copy(next, 0);
      this.buf = next;
      this.chunkStart = 0;
      this.position = pending.length;
      this.position += bytes;
      return pending.length;
    }
    this.position = at + bytes;
    return at;
  }

  /** Writes one byte. `ensure` runs before `this.buf` is read, since it may replace the buffer. */
  private byte(value: number): void {
    const at = this.ensure(1);
    this.buf[at] = value;
  }

  bool(value: boolean): void {
    this.byte(value ? 1 : 0);
  }

  int8(value: number): void {
    const at = this.ensure(1);
    this.buf.writeInt8(value, at);
  }

  int16(value: number): void {
    const at = this.ensure(2);
    this.buf.writeInt16BE(value, at);
  }

  uint16(value: number): void {
    const at = this.ensure(2);
    this.buf.writeUInt16BE(value, at);
  }

  int32(value: number): void {
    const at = this.ensure(4);
    this.buf.writeInt32BE(value, at);
  }

  uint32(value: number): void {
    const at = this.ensure(4);
    this.buf.writeUInt32BE(value, at);
  }

  int64(value: bigint): void {
    const at = this.ensure(8);
    this.buf.writeBigInt64BE(value, at);
  }

  float64(value: number): void {
    const at = this.ensure(8);
    this.buf.writeDoubleBE(value, at);
  }

  uuid(value: string): void {
    const at = this.ensure(16);
    const written = this.buf.write(value, at, 16, "base64url");
    if (written !== 16 || value.length !== 22) throw new ProtocolEncodeError(`invalid uuid ${JSON.stringify(value)}`);
  }

  unsignedVarint(value: number): void {
    let v = value >>> 0;
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.byte(v);
  }

  varint(value: number): void {
    this.unsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  varlong(value: bigint): void {
    let v = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  /** Copies bytes into the buffer. */
  raw(bytes: Uint8Array): void {
    const at = this.ensure(bytes.length);
    this.buf.set(bytes, at);
  }

  /**
   * Appends bytes without copying when they are large; the caller must not modify them
   * afterwards. An external part (a file slice) is always passed through as its own part.
   */
  attach(bytes: Buffer | ExternalPart): void {
    if (!Buffer.isBuffer(bytes)) {
      this.flushChunk();
      this.parts.push(bytes);
      this.partsBytes += bytes.length;
      this.externalParts++;
      return;
    }
    if (bytes.length < ZERO_COPY_BYTES_MIN) {
      this.raw(bytes);
      return;
    }
    this.flushChunk();
    this.parts.push(bytes);
    this.partsBytes += bytes.length;
  }

  /** Hands the bytes written since the last part to `parts`. */
  private flushChunk(): void {
    if (this.position > this.chunkStart) {
      this.parts.push(this.buf.subarray(this.chunkStart, this.position));
      this.partsBytes += this.position - this.chunkStart;
      this.chunkStart = this.position;
    }
  }

  private stringBytes(value: string, field: string): number {
    const length = Buffer.byteLength(value, "utf8");
    if (length > STRING_BYTES_MAX) throw new ProtocolEncodeError(`'${field}' field is too long to be serialized`);
    return length;
  }

  string(value: string, field = "string"): void {
    const length = this.stringBytes(value, field);
    this.int16(length);
    const at = this.ensure(length);
    this.buf.write(value, at, length, "utf8");
  }

  nullableString(value: string | null, field = "string"): void {
    if (value === null) this.int16(-1);
    else this.string(value, field);
  }

  compactString(value: string, field = "string"): void {
    const length = this.stringBytes(value, field);
    this.unsignedVarint(length + 1);
    const at = this.ensure(length);
    this.buf.write(value, at, length, "utf8");
  }

  compactNullableString(value: string | null, field = "string"): void {
    if (value === null) this.unsignedVarint(0);
    else this.compactString(value, field);
  }

  bytes(value: Uint8Array | null): void {
    if (value === null) {
      this.int32(-1);
      return;
    }
    this.int32(value.length);
    this.raw(value);
  }

  compactBytes(value: Uint8Array | null): void {
    if (value === null) {
      this.unsignedVarint(0);
      return;
    }
    this.unsignedVarint(value.length + 1);
    this.raw(value);
  }

  /**
   * Record sets: same framing as bytes, but attached without a copy. A Fetch response may
   * pass a file slice (an ExternalPart) where the generated types say Buffer.
   */
  records(value: Buffer | ExternalPart | null): void {
    if (value === null) {
      this.int32(-1);
      return;
    }
    this.int32(value.length);
    this.attach(value);
  }

  compactRecords(value: Buffer | ExternalPart | null): void {
    if (value === null) {
      this.unsignedVarint(0);
      return;
    }
    this.unsignedVarint(value.length + 1);
    this.attach(value);
  }

  /** The written bytes as a list of buffers, in order (no copy of attached parts). */
  finishParts(): Buffer[] {
    if (this.externalParts > 0) throw new ProtocolEncodeError("the message holds file slices: use finishOutput()");
    return this.finishOutput() as Buffer[];
  }

  /** The written parts in order, external parts (file slices) included. */
  finishOutput(): Part[] {
    const parts = this.parts.slice();
    if (this.position > this.chunkStart) parts.push(this.buf.subarray(this.chunkStart, this.position));
    return parts;
  }

  /** The written bytes as one buffer. */
  finish(): Buffer {
    if (this.parts.length === 0) return this.buf.subarray(this.chunkStart, this.position);
    return Buffer.concat(this.finishParts());
  }
}

/** Byte size of an unsigned varint. */
export function unsignedVarintSize(value: number): number {
  let v = value >>> 0;
  let size = 1;
  while (v >= 0x80) {
    v >>>= 7;
    size++;
  }
  return size;
}
