// Bounds-checked reader for the Kafka wire protocol.
//
// Every read checks the remaining bytes first, so a malformed or truncated frame raises one
// typed error (ProtocolDecodeError) and never a RangeError from deep inside Node. Lengths that
// announce more bytes (or array elements) than remain are rejected before anything is
// allocated, so a hostile length prefix cannot make us allocate more than the frame holds.
//
// Kafka 4.4's limits hold too, checked before allocating: no array of more than
// ARRAY_ELEMENTS_MAX elements and no tagged-field section of more than TAGGED_FIELDS_MAX
// fields. Beyond Kafka, all the arrays of one frame together may not declare more elements
// than the frame has bytes (every element takes at least one byte), so nested arrays cannot
// multiply, and a reader made with keepUnknownTaggedFields = false (the broker's request
// path) skips tagged fields it does not know instead of keeping a copy of each.
//
// And a decoded frame may not cost the heap more than a small multiple of its size: every
// array element, string and slice is charged an estimate of what it takes as a JavaScript
// value (an object, a string, a Buffer view), and a frame whose charges pass
// DECODED_HEAP_BYTES_PER_FRAME_BYTE times its size (or DECODED_HEAP_BYTES_FLOOR, whichever is
// larger) is refused while it is being decoded. Real requests stay far below: a Metadata
// request for 100,000 topics costs about 12 MB; 300,000 two-letter topic names in a 1.2 MB
// frame would cost about 27 MB and are refused.

/** The one error a decoder may raise for bad input. */
export class ProtocolDecodeError extends Error {
  readonly code = "SLUICE_PROTOCOL_DECODE";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolDecodeError";
  }
}

/** A tagged field the codec does not know, kept as raw bytes so it survives a round trip. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}

/** Kafka's limit on the byte length of any string (Java: 0x7fff). */
export const STRING_BYTES_MAX = 0x7fff;

/** Kafka 4.4's limit on the elements of one array ("Tried to read a collection of size ..."). */
export const ARRAY_ELEMENTS_MAX = 1_000_000;

/** Kafka 4.4's limit on the fields of one tagged-field section. */
export const TAGGED_FIELDS_MAX = 10_000;

/** Estimated heap bytes of one decoded struct element of an array (a small object with its fields). */
export const ELEMENT_HEAP_BYTES = 64;
/** Estimated heap bytes of a decoded string besides its characters. */
export const STRING_HEAP_BYTES = 24;
/** Estimated heap bytes of a Buffer view of the frame. */
export const SLICE_HEAP_BYTES = 96;
/** A frame may cost the heap this many times its own size once decoded... */
export const DECODED_HEAP_BYTES_PER_FRAME_BYTE = 8;
/** ...or this much, whichever is larger (small frames of many small elements stay decodable). */
export const DECODED_HEAP_BYTES_FLOOR = 16 * 1024 * 1024;

export interface ReaderOptions {
  /**
   * Keep tagged fields the codec does not know as copies (`unknownTaggedFields`), for a
   * byte-exact round trip. False skips them: nothing is allocated for them.
   */
  keepUnknownTaggedFields?: boolean;
}

export class Reader {
  offset: number;
  readonly end: number;
  readonly keepUnknownTaggedFields: boolean;
  /** Array elements the rest of the frame may still declare: at most one per byte of the window. */
  #elementsLeft: number;
  /** Estimated heap bytes the rest of the decoding may still cost. */
  #heapBytesLeft: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    end = buf.length,
    options: ReaderOptions = {},
  ) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new ProtocolDecodeError(`invalid reader window ${offset}..${end} of ${buf.length}`);
    }
    this.offset = offset;
    this.end = end;
    this.keepUnknownTaggedFields = options.keepUnknownTaggedFields ?? true;
    this.#elementsLeft = end - offset;
    this.#heapBytesLeft = Math.max(DECODED_HEAP_BYTES_FLOOR, DECODED_HEAP_BYTES_PER_FRAME_BYTE * (end - offset));
  }

  /** Charges `bytes` of estimated heap to this frame; refuses the frame once past its budget. */
  private charge(bytes: number): void {
    this.#heapBytesLeft -= bytes;
    if (this.#heapBytesLeft < 0) {
      throw new ProtocolDecodeError(
        `decoding this ${this.end} byte frame would take more than ${Math.max(DECODED_HEAP_BYTES_FLOOR, DECODED_HEAP_BYTES_PER_FRAME_BYTE * this.end)} bytes of memory`,
      );
    }
  }

  remaining(): number {
    return this.end - this.offset;
  }

  private need(bytes: number): number {
    const at = this.offset;
    if (bytes > this.end - at) {
      throw new ProtocolDecodeError(`truncated: need ${bytes} bytes at offset ${at}, have ${this.end - at}`);
    }
    this.offset = at + bytes;
    return at;
  }

  bool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }

  /** A UUID as Kafka prints it: URL-safe base64 of the 16 bytes, no padding. */
  uuid(): string {
    const at = this.need(16);
    this.charge(STRING_HEAP_BYTES + 22);
    return this.buf.toString("base64url", at, at + 16);
  }

  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buf[this.need(1)];
      if (shift === 28 && byte > 0x0f) throw new ProtocolDecodeError("unsigned varint is longer than 32 bits");
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new ProtocolDecodeError("unsigned varint is longer than 5 bytes");
  }

  /** Zigzag-encoded signed 32-bit varint (record fields). */
  varint(): number {
    const raw = this.unsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zigzag-encoded signed 64-bit varint (record timestamps). */
  varlong(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.buf[this.need(1)];
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
    }
    throw new ProtocolDecodeError("varlong is longer than 10 bytes");
  }

  /**
   * A slice of the frame, not a copy. The network reuses a frame's memory once the handler's
   * synchronous part returns (src/server/network.ts): only for bytes consumed before then.
   */
  slice(length: number): Buffer {
    const at = this.need(length);
    this.charge(SLICE_HEAP_BYTES);
    return this.buf.subarray(at, at + length);
  }

  /** A copy, for values that outlive the frame. */
  copy(length: number): Buffer {
    this.charge(length);
    return Buffer.from(this.slice(length));
  }

  skip(length: number): void {
    this.need(length);
  }

  private utf8(length: number): string {
    if (length > STRING_BYTES_MAX) throw new ProtocolDecodeError(`string of ${length} bytes is longer than ${STRING_BYTES_MAX}`);
    const at = this.need(length);
    this.charge(STRING_HEAP_BYTES + length);
    return this.buf.toString("utf8", at, at + length);
  }

  // Classic (non-flexible) encodings: int16 length for strings, int32 for bytes and arrays, -1 = null.

  string(): string {
    const length = this.int16();
    if (length < 0) throw new ProtocolDecodeError("non-nullable string is null");
    return this.utf8(length);
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    return this.utf8(length);
  }

  bytesLength(nullable: boolean): number {
    const length = this.int32();
    if (length < -1 || (length === -1 && !nullable)) throw new ProtocolDecodeError(`invalid bytes length ${length}`);
    if (length > this.remaining()) throw new ProtocolDecodeError(`bytes length ${length} exceeds the ${this.remaining()} bytes left`);
    return length;
  }

  /**
   * Array element count; -1 means null. Checked against the remaining bytes and the limits before
   * allocating; `elementHeapBytes` is what one decoded element costs the heap (an object by default).
   */
  arrayLength(nullable: boolean, elementHeapBytes = ELEMENT_HEAP_BYTES): number {
    const count = this.int32();
    return this.checkCount(count, nullable, elementHeapBytes);
  }

  // Compact (flexible) encodings: unsigned varint of length + 1, 0 = null.

  compactString(): string {
    const length = this.unsignedVarint() - 1;
    if (length < 0) throw new ProtocolDecodeError("non-nullable compact string is null");
    return this.utf8(length);
  }

  compactNullableString(): string | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    return this.utf8(length);
  }

  compactBytesLength(nullable: boolean): number {
    const length = this.unsignedVarint() - 1;
    if (length === -1 && !nullable) throw new ProtocolDecodeError("non-nullable compact bytes are null");
    if (length > this.remaining()) throw new ProtocolDecodeError(`bytes length ${length} exceeds the ${this.remaining()} bytes left`);
    return length;
  }

  compactArrayLength(nullable: boolean, elementHeapBytes = ELEMENT_HEAP_BYTES): number {
    return this.checkCount(this.unsignedVarint() - 1, nullable, elementHeapBytes);
  }

  private checkCount(count: number, nullable: boolean, elementHeapBytes: number): number {
    if (count < -1 || (count === -1 && !nullable)) throw new ProtocolDecodeError(`invalid array length ${count}`);
    // Kafka's rules: never allocate a collection larger than the bytes that could fill it, nor
    // one of more than ARRAY_ELEMENTS_MAX elements.
    if (count > this.remaining()) throw new ProtocolDecodeError(`array of ${count} elements exceeds the ${this.remaining()} bytes left`);
    if (count > ARRAY_ELEMENTS_MAX) throw new ProtocolDecodeError(`array of ${count} elements exceeds the maximum of ${ARRAY_ELEMENTS_MAX}`);
    if (count > this.#elementsLeft) {
      throw new ProtocolDecodeError(`array of ${count} elements takes the frame's arrays past one element per byte (${this.end} bytes)`);
    }
    if (count > 0) {
      this.#elementsLeft -= count;
      this.charge(count * elementHeapBytes);
    }
    return count;
  }

  /** The field count of a tagged-field section, checked against the bytes left and Kafka's limit. */
  taggedFieldCount(): number {
    const count = this.unsignedVarint();
    // Each tagged field takes at least two bytes (its tag and its size).
    if (count > this.remaining()) throw new ProtocolDecodeError(`${count} tagged fields exceed the ${this.remaining()} bytes left`);
    if (count > TAGGED_FIELDS_MAX) throw new ProtocolDecodeError(`${count} tagged fields exceed the maximum of ${TAGGED_FIELDS_MAX}`);
    return count;
  }

  /** Reads one raw tagged field body (after its tag) as an unknown field. */
  taggedFieldSize(): number {
    const size = this.unsignedVarint();
    if (size > this.remaining()) throw new ProtocolDecodeError(`tagged field of ${size} bytes exceeds the ${this.remaining()} bytes left`);
    return size;
  }

  /**
   * The body of a tagged field the codec does not know: added to `fields` as a copy, or
   * skipped when this reader does not keep unknown tagged fields. Returns the list.
   */
  unknownTaggedField(fields: TaggedField[] | undefined, tag: number, size: number): TaggedField[] | undefined {
    if (!this.keepUnknownTaggedFields) {
      this.skip(size);
      return fields;
    }
    const data = this.copy(size);
    if (fields === undefined) return [{ tag, data }];
    fields.push({ tag, data });
    return fields;
  }

  /** After decoding a known tagged field, check it consumed exactly its declared size. */
  endTaggedField(expectedEnd: number, tag: number): void {
    if (this.offset !== expectedEnd) {
      throw new ProtocolDecodeError(`tagged field ${tag} declared ${expectedEnd} as its end but its value ended at ${this.offset}`);
    }
  }
}
