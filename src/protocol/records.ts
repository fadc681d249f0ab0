/**
 * Record batch v2 (magic 2): the unit Kafka sends in Produce and Fetch and
 * stores in `.log` segments. A buffer of records is batches laid end to end.
 *
 * Batch, all integers big-endian:
 *
 *   offset  size  field
 *        0     8  baseOffset            int64   offset of the first record
 *        8     4  batchLength           int32   bytes that follow this field
 *       12     4  partitionLeaderEpoch  int32
 *       16     1  magic                 int8    2 (v0/v1 message sets have it here too)
 *       17     4  crc                   uint32  CRC-32C of bytes 21 to the batch end
 *       21     2  attributes            int16   bits 0-2 compression: 0 none, 1 gzip,
 *                                                 2 snappy, 3 lz4, 4 zstd
 *                                               bit 3 timestamp type: 0 CreateTime,
 *                                                 1 LogAppendTime
 *                                               bit 4 transactional
 *                                               bit 5 control batch
 *                                               bit 6 delete horizon set (KIP-534)
 *       23     4  lastOffsetDelta       int32
 *       27     8  baseTimestamp         int64   the delete horizon when bit 6 is set
 *       35     8  maxTimestamp          int64   the append time under LogAppendTime
 *       43     8  producerId            int64   -1 without idempotence
 *       51     2  producerEpoch         int16
 *       53     4  baseSequence          int32
 *       57     4  recordCount           int32
 *       61        records               compressed as one block unless compression is 0
 *
 * The whole batch is batchLength + 12 bytes.
 *
 * Record, where varint and varlong are zigzag-encoded, base-128, low group first
 * (as in protobuf), at most 5 and 10 bytes:
 *
 *   length          varint   bytes that follow this field
 *   attributes      int8     unused
 *   timestampDelta  varlong  timestamp - baseTimestamp
 *   offsetDelta     varint   offset - baseOffset
 *   keyLength       varint   -1 = null key
 *   key             bytes
 *   valueLength     varint   -1 = null value
 *   value           bytes
 *   headerCount     varint
 *   headers         headerCount times:
 *     keyLength     varint
 *     key           utf-8
 *     valueLength   varint   -1 = null value
 *     value         bytes
 *
 * Under LogAppendTime every record's timestamp is the batch's maxTimestamp; the
 * deltas keep the producer's create times, which Kafka no longer reports.
 *
 * A control batch (transaction markers) holds one record whose key is
 * version int16 + type int16 (0 abort, 1 commit) and whose value for those two is
 * version int16 + coordinatorEpoch int32.
 *
 * What is here: `RecordBatchView`, a header view that reads fields straight from
 * the buffer, for the data plane; `batches` / `recordBatchAt` to walk a buffer
 * with bounds checks; and, for tests and tools only, `decodeRecords` (one object
 * per record), `buildRecordBatch` and `crc32cSoftware`. The broker's hot path
 * checks CRCs and record contents in the native addon.
 */

export const RecordBatchLayout = {
  BASE_OFFSET: 0,
  BATCH_LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  BASE_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORD_COUNT: 57,
  RECORDS: 61,
} as const;

export const RECORD_BATCH_HEADER_SIZE_BYTES = 61;
/** baseOffset and batchLength: the bytes of a batch that batchLength does not count. */
export const LOG_OVERHEAD_BYTES = 12;
/** The smallest batchLength: a header and no records. */
export const RECORD_BATCH_LENGTH_MIN_BYTES = RECORD_BATCH_HEADER_SIZE_BYTES - LOG_OVERHEAD_BYTES;
export const RECORD_BATCH_MAGIC = 2;
/** The CRC covers the batch from the attributes to its end. */
export const CRC_START_OFFSET = RecordBatchLayout.ATTRIBUTES;

export const BatchAttribute = {
  COMPRESSION_MASK: 0x07,
  LOG_APPEND_TIME: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
  DELETE_HORIZON: 0x40,
} as const;

export const CompressionType = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;

/** Kafka's names (`CompressionType.name`), indexed by the attribute value. */
const compressionNames = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type CompressionName = (typeof compressionNames)[number];

/** Kafka's names (`TimestampType.name`). */
export type TimestampTypeName = "CreateTime" | "LogAppendTime";

/** Types of control records, the second int16 of a control record's key. */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;

/** Bytes that are not a well-formed record batch v2. */
export class RecordBatchDecodeError extends Error {
  override readonly name = "RecordBatchDecodeError";
  readonly code = "SLUICE_RECORD_BATCH_DECODE";
  /** Where in the buffer the problem was found, when known. */
  readonly position: number | undefined;

  constructor(message: string, position?: number) {
    super(position === undefined ? message : `${message} (at byte ${position})`);
    this.position = position;
  }
}

/**
 * The header of the batch at `position`, read lazily from the buffer: nothing
 * is copied or decoded until a getter asks. The constructor checks only that
 * the 61-byte header is there; `recordBatchAt` also checks the magic and that
 * the whole batch is in the buffer.
 */
export class RecordBatchView {
  readonly buffer: Buffer;
  readonly position: number;

  constructor(buffer: Buffer, position = 0) {
    if (!Number.isInteger(position) || position < 0 || buffer.length - position < RECORD_BATCH_HEADER_SIZE_BYTES) {
      throw new RecordBatchDecodeError(
        `record batch header needs ${RECORD_BATCH_HEADER_SIZE_BYTES} bytes, ${Math.max(0, buffer.length - position)} left`,
        position,
      );
    }
    this.buffer = buffer;
    this.position = position;
  }

  get baseOffset(): bigint {
    return this.buffer.readBigInt64BE(this.position);
  }
  get batchLength(): number {
    return this.buffer.readInt32BE(this.position + RecordBatchLayout.BATCH_LENGTH);
  }
  get partitionLeaderEpoch(): number {
    return this.buffer.readInt32BE(this.position + RecordBatchLayout.PARTITION_LEADER_EPOCH);
  }
  get magic(): number {
    return this.buffer.readInt8(this.position + RecordBatchLayout.MAGIC);
  }
  get crc(): number {
    return this.buffer.readUInt32BE(this.position + RecordBatchLayout.CRC);
  }
  get attributes(): number {
    return this.buffer.readInt16BE(this.position + RecordBatchLayout.ATTRIBUTES);
  }
  /** The compression type as stored: 0 to 4 are defined, 5 to 7 are invalid. */
  get compression(): number {
    return this.attributes & BatchAttribute.COMPRESSION_MASK;
  }
  /** Kafka's name for the compression type; throws for an undefined type. */
  get compressionName(): CompressionName {
    const name = compressionNames[this.compression];
    if (name === undefined) {
      throw new RecordBatchDecodeError(`unknown compression type ${this.compression}`, this.position + RecordBatchLayout.ATTRIBUTES);
    }
    return name;
  }
  get timestampType(): TimestampTypeName {
    return this.attributes & BatchAttribute.LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime";
  }
  get isTransactional(): boolean {
    return (this.attributes & BatchAttribute.TRANSACTIONAL) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & BatchAttribute.CONTROL) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & BatchAttribute.DELETE_HORIZON) !== 0;
  }
  /** When the cleaner may drop this batch's tombstones and markers, if set. */
  get deleteHorizon(): bigint | null {
    return this.hasDeleteHorizon ? this.baseTimestamp : null;
  }
  get lastOffsetDelta(): number {
    return this.buffer.readInt32BE(this.position + RecordBatchLayout.LAST_OFFSET_DELTA);
  }
  get baseTimestamp(): bigint {
    return this.buffer.readBigInt64BE(this.position + RecordBatchLayout.BASE_TIMESTAMP);
  }
  get maxTimestamp(): bigint {
    return this.buffer.readBigInt64BE(this.position + RecordBatchLayout.MAX_TIMESTAMP);
  }
  get producerId(): bigint {
    return this.buffer.readBigInt64BE(this.position + RecordBatchLayout.PRODUCER_ID);
  }
  get producerEpoch(): number {
    return this.buffer.readInt16BE(this.position + RecordBatchLayout.PRODUCER_EPOCH);
  }
  get baseSequence(): number {
    return this.buffer.readInt32BE(this.position + RecordBatchLayout.BASE_SEQUENCE);
  }
  get recordCount(): number {
    return this.buffer.readInt32BE(this.position + RecordBatchLayout.RECORD_COUNT);
  }
  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }
  get nextOffset(): bigint {
    return this.lastOffset + 1n;
  }
  get sizeInBytes(): number {
    return this.batchLength + LOG_OVERHEAD_BYTES;
  }
  /** The position just past this batch. */
  get end(): number {
    return this.position + this.sizeInBytes;
  }

  /** The bytes the CRC covers, without copying. */
  crcCoveredBytes(): Buffer {
    checkWholeBatch(this);
    return this.buffer.subarray(this.position + CRC_START_OFFSET, this.end);
  }

  /** Pass the CRC-32C to use: the native one on the broker, `crc32cSoftware` in tests. */
  isCrcValid(crc32c: (bytes: Uint8Array) => number): boolean {
    return crc32c(this.crcCoveredBytes()) === this.crc;
  }
}

function checkWholeBatch(batch: RecordBatchView): void {
  if (batch.batchLength < RECORD_BATCH_LENGTH_MIN_BYTES) {
    throw new RecordBatchDecodeError(
      `batch length ${batch.batchLength} is below the minimum ${RECORD_BATCH_LENGTH_MIN_BYTES}`,
      batch.position + RecordBatchLayout.BATCH_LENGTH,
    );
  }
  const available = batch.buffer.length - batch.position;
  if (batch.sizeInBytes > available) {
    throw new RecordBatchDecodeError(`truncated record batch: ${batch.sizeInBytes} bytes declared, ${available} present`, batch.position);
  }
}

/**
 * The batch at `position`, after checking that it is a v2 batch and lies
 * wholly within the buffer. The CRC and the records are not checked.
 */
export function recordBatchAt(buffer: Buffer, position: number): RecordBatchView {
  const available = buffer.length - position;
  // The magic sits at the same place in every message format, so read it
  // before trusting anything else about the layout.
  if (available <= RecordBatchLayout.MAGIC) {
    throw new RecordBatchDecodeError(`truncated record batch: ${available} bytes, too few to hold a length and magic`, position);
  }
  const magic = buffer.readInt8(position + RecordBatchLayout.MAGIC);
  if (magic !== RECORD_BATCH_MAGIC) {
    throw new RecordBatchDecodeError(`unsupported magic ${magic}: only record batch v2 (magic 2) is supported`, position + RecordBatchLayout.MAGIC);
  }
  const batchLength = buffer.readInt32BE(position + RecordBatchLayout.BATCH_LENGTH);
  if (batchLength < RECORD_BATCH_LENGTH_MIN_BYTES) {
    throw new RecordBatchDecodeError(
      `batch length ${batchLength} is below the minimum ${RECORD_BATCH_LENGTH_MIN_BYTES}`,
      position + RecordBatchLayout.BATCH_LENGTH,
    );
  }
  if (batchLength + LOG_OVERHEAD_BYTES > available) {
    throw new RecordBatchDecodeError(`truncated record batch: ${batchLength + LOG_OVERHEAD_BYTES} bytes declared, ${available} present`, position);
  }
  return new RecordBatchView(buffer, position);
}

/**
 * Every batch in a buffer of batches laid end to end. A partial batch at the
 * end is an error here; a Fetch response may legally end in one, so a client
 * reading those must stop at the last whole batch itself.
 */
export function* batches(buffer: Buffer): Generator<RecordBatchView, void> {
  let position = 0;
  while (position < buffer.length) {
    const batch = recordBatchAt(buffer, position);
    yield batch;
    position = batch.end;
  }
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One record with absolute offset and timestamp; key and value share the batch's memory. */
export interface KafkaRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * The records of an uncompressed batch, for tests and tools. Checks each
 * record's length against the bytes its fields take, and, once the last record
 * has been read, that the header's record count was right and no bytes are left.
 */
export function* decodeRecords(batch: RecordBatchView): Generator<KafkaRecord, void> {
  checkWholeBatch(batch);
  if (batch.magic !== RECORD_BATCH_MAGIC) {
    throw new RecordBatchDecodeError(`unsupported magic ${batch.magic}: only record batch v2 (magic 2) is supported`, batch.position + RecordBatchLayout.MAGIC);
  }
  if (batch.compression !== CompressionType.NONE) {
    throw new RecordBatchDecodeError(
      `cannot read the records of a ${batch.compressionName}-compressed batch here: decompression is done by the native addon`,
      batch.position + RecordBatchLayout.ATTRIBUTES,
    );
  }
  const count = batch.recordCount;
  if (count < 0) {
    throw new RecordBatchDecodeError(`negative record count ${count}`, batch.position + RecordBatchLayout.RECORD_COUNT);
  }
  const base: RecordBase = {
    offset: batch.baseOffset,
    timestamp: batch.baseTimestamp,
    logAppendTime: batch.timestampType === "LogAppendTime" ? batch.maxTimestamp : null,
  };
  const cursor = new Cursor(batch.buffer, batch.position + RECORD_BATCH_HEADER_SIZE_BYTES, batch.end);
  for (let index = 0; index < count; index++) {
    if (cursor.position === cursor.limit) {
      throw new RecordBatchDecodeError(`the header declares ${count} records but the batch holds only ${index}`, cursor.position);
    }
    yield readRecord(cursor, base);
  }
  if (cursor.position !== cursor.limit) {
    throw new RecordBatchDecodeError(`${cursor.limit - cursor.position} bytes left over after the ${count} records the header declares`, cursor.position);
  }
}

interface RecordBase {
  offset: bigint;
  timestamp: bigint;
  logAppendTime: bigint | null;
}

function readRecord(cursor: Cursor, base: RecordBase): KafkaRecord {
  const length = cursor.readVarint();
  const bodyStart = cursor.position;
  if (length < 0 || length > cursor.limit - bodyStart) {
    throw new RecordBatchDecodeError(`record length ${length} does not fit the ${cursor.limit - bodyStart} bytes left in the batch`, bodyStart);
  }
  const batchLimit = cursor.limit;
  cursor.limit = bodyStart + length;
  cursor.readInt8(); // attributes: no bits are defined for records
  const timestampDelta = cursor.readVarlong();
  const offsetDelta = cursor.readVarint();
  const key = cursor.readNullableBytes("key");
  const value = cursor.readNullableBytes("value");
  const headers = readHeaders(cursor);
  if (cursor.position !== cursor.limit) {
    throw new RecordBatchDecodeError(`record length ${length} but its fields take ${cursor.position - bodyStart} bytes`, cursor.position);
  }
  cursor.limit = batchLimit;
  return {
    offset: base.offset + BigInt(offsetDelta),
    timestamp: base.logAppendTime ?? base.timestamp + timestampDelta,
    key,
    value,
    headers,
  };
}

function readHeaders(cursor: Cursor): RecordHeader[] {
  const count = cursor.readVarint();
  if (count < 0) {
    throw new RecordBatchDecodeError(`negative header count ${count}`, cursor.position);
  }
  const headers: RecordHeader[] = [];
  for (let index = 0; index < count; index++) {
    const keyLength = cursor.readVarint();
    if (keyLength < 0) {
      throw new RecordBatchDecodeError(`negative header key length ${keyLength}`, cursor.position);
    }
    const key = cursor.readBytes(keyLength, "header key").toString("utf8");
    headers.push({ key, value: cursor.readNullableBytes("header value") });
  }
  return headers;
}

/** Reads forward through `buffer` up to `limit`, never past it. */
class Cursor {
  readonly buffer: Buffer;
  position: number;
  limit: number;

  constructor(buffer: Buffer, position: number, limit: number) {
    this.buffer = buffer;
    this.position = position;
    this.limit = limit;
  }

  readInt8(): number {
    this.need(1, "record attributes");
    const value = this.buffer.readInt8(this.position);
    this.position += 1;
    return value;
  }

  /** A zigzag varint, at most 5 bytes, as Kafka's `ByteUtils.readVarint`. */
  readVarint(): number {
    const start = this.position;
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1, "varint");
      const byte = this.buffer[this.position++] as number;
      // Bits past 32 in a fifth byte fall off, as in Kafka.
      raw |= (byte & 0x7f) << shift;
      if (byte < 0x80) return (raw >>> 1) ^ -(raw & 1);
    }
    throw new RecordBatchDecodeError("varint longer than 5 bytes", start);
  }

  /** A zigzag varlong, at most 10 bytes, as Kafka's `ByteUtils.readVarlong`. */
  readVarlong(): bigint {
    const start = this.position;
    let raw = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      this.need(1, "varlong");
      const byte = this.buffer[this.position++] as number;
      raw |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        raw = BigInt.asUintN(64, raw);
        return (raw >> 1n) ^ -(raw & 1n);
      }
    }
    throw new RecordBatchDecodeError("varlong longer than 10 bytes", start);
  }

  readBytes(length: number, what: string): Buffer {
    this.need(length, what);
    const bytes = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return bytes;
  }

  /**
   * Length -1 is null. Kafka reads any negative length as null, but writers
   * only ever write -1, so anything else means the bytes are corrupt.
   */
  readNullableBytes(what: string): Buffer | null {
    const length = this.readVarint();
    if (length === -1) return null;
    if (length < 0) {
      throw new RecordBatchDecodeError(`invalid ${what} length ${length}`, this.position);
    }
    return this.readBytes(length, what);
  }

  private need(bytes: number, what: string): void {
    if (this.limit - this.position < bytes) {
      throw new RecordBatchDecodeError(`${what} needs ${bytes} bytes, ${this.limit - this.position} left in the record`, this.position);
    }
  }
}

export interface ControlRecordKey {
  version: number;
  /** One of `ControlRecordType`; other values come from newer Kafka versions. */
  type: number;
}

/** The key of a control record, as Kafka's `ControlRecordType.parse` reads it. */
export function decodeControlRecordKey(key: Buffer | null): ControlRecordKey {
  if (key === null || key.length < 4) {
    throw new RecordBatchDecodeError(`control record key needs 4 bytes, has ${key?.length ?? "null"}`);
  }
  const version = key.readInt16BE(0);
  // Newer versions may append fields, so only a negative version is wrong.
  if (version < 0) {
    throw new RecordBatchDecodeError(`negative control record key version ${version}`);
  }
  return { version, type: key.readInt16BE(2) };
}

export function encodeControlRecordKey(type: number, version = 0): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(version, 0);
  key.writeInt16BE(type, 2);
  return key;
}

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, one table lookup per
// byte. Slow next to the native addon's hardware CRC; here for tests and tools.
const crc32cTable = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let crc = index;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    table[index] = crc;
  }
  return table;
})();

/** CRC-32C of `bytes`, unsigned. For tests and tools; the broker uses the native one. */
export function crc32cSoftware(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let index = 0; index < bytes.length; index++) {
    crc = (crc32cTable[(crc ^ (bytes[index] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export interface RecordInput {
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: readonly RecordHeader[];
  /** Default: the batch's `baseTimestamp` option, or 0. */
  timestamp?: bigint;
  /** Default: the record's index in the list. */
  offsetDelta?: number;
}

export interface RecordBatchInput {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  timestampType?: TimestampTypeName;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Sets the delete horizon bit; the horizon takes baseTimestamp's place. */
  deleteHorizon?: bigint;
  /** Default: the first record's timestamp. */
  baseTimestamp?: bigint;
  /** Default: the largest record timestamp. Under LogAppendTime, the append time. */
  maxTimestamp?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  records: readonly RecordInput[];
}

/**
 * An uncompressed v2 batch with a correct CRC, for tests and tools. Defaults
 * follow Kafka's `MemoryRecordsBuilder`, so the bytes equal what Kafka writes
 * for the same input; an empty record list gives Kafka's empty-batch timestamps (-1).
 */
export function buildRecordBatch(input: RecordBatchInput): Buffer {
  const timestamps = input.records.map((record) => record.timestamp ?? input.baseTimestamp ?? 0n);
  const baseTimestamp = input.deleteHorizon ?? input.baseTimestamp ?? timestamps[0] ?? -1n;
  const maxTimestamp = input.maxTimestamp ?? largest(timestamps, -1n);
  const offsetDeltas = input.records.map((record, index) => record.offsetDelta ?? index);
  const records = input.records.map((record, index) => encodeRecord(record, (timestamps[index] as bigint) - baseTimestamp, offsetDeltas[index] as number));
  const header = Buffer.alloc(RECORD_BATCH_HEADER_SIZE_BYTES);
  const batchLength = RECORD_BATCH_LENGTH_MIN_BYTES + records.reduce((sum, record) => sum + record.length, 0);
  const layout = RecordBatchLayout;
  header.writeBigInt64BE(input.baseOffset ?? 0n, layout.BASE_OFFSET);
  header.writeInt32BE(batchLength, layout.BATCH_LENGTH);
  header.writeInt32BE(input.partitionLeaderEpoch ?? -1, layout.PARTITION_LEADER_EPOCH);
  header.writeInt8(RECORD_BATCH_MAGIC, layout.MAGIC);
  header.writeInt16BE(attributesOf(input), layout.ATTRIBUTES);
  header.writeInt32BE(offsetDeltas.at(-1) ?? 0, layout.LAST_OFFSET_DELTA);
  header.writeBigInt64BE(baseTimestamp, layout.BASE_TIMESTAMP);
  header.writeBigInt64BE(maxTimestamp, layout.MAX_TIMESTAMP);
  header.writeBigInt64BE(input.producerId ?? -1n, layout.PRODUCER_ID);
  header.writeInt16BE(input.producerEpoch ?? -1, layout.PRODUCER_EPOCH);
  header.writeInt32BE(input.baseSequence ?? -1, layout.BASE_SEQUENCE);
  header.writeInt32BE(records.length, layout.RECORD_COUNT);
  const batch = Buffer.concat([header, ...records]);
  batch.writeUInt32BE(crc32cSoftware(batch.subarray(CRC_START_OFFSET)), layout.CRC);
  return batch;
}

// Math.max does not take bigints.
function largest(values: readonly bigint[], floor: bigint): bigint {
  let result = floor;
  for (const value of values) if (value > result) result = value;
  return result;
}

function attributesOf(input: RecordBatchInput): number {
  let attributes: number = CompressionType.NONE;
  if (input.timestampType === "LogAppendTime") {
    attributes |= BatchAttribute.LOG_APPEND_TIME;
  }
  if (input.isTransactional) attributes |= BatchAttribute.TRANSACTIONAL;
  if (input.isControl) attributes |= BatchAttribute.CONTROL;
  if (input.deleteHorizon !== undefined) {
    attributes |= BatchAttribute.DELETE_HORIZON;
  }
  return attributes;
}

function encodeRecord(record: RecordInput, timestampDelta: bigint, offsetDelta: number): Buffer {
  const parts: Buffer[] = [
    Buffer.of(0), // attributes
    varlong(timestampDelta),
    varint(offsetDelta),
    ...nullableBytes(record.key ?? null),
    ...nullableBytes(record.value ?? null),
  ];
  const headers = record.headers ?? [];
  parts.push(varint(headers.length));
  for (const header of headers) {
    const key = Buffer.from(header.key, "utf8");
    parts.push(varint(key.length), key, ...nullableBytes(header.value));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

function nullableBytes(bytes: Buffer | null): Buffer[] {
  return bytes === null ? [varint(-1)] : [varint(bytes.length), bytes];
}

function varint(value: number): Buffer {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  const bytes: number[] = [];
  while (raw >= 0x80) {
    bytes.push((raw & 0x7f) | 0x80);
    raw >>>= 7;
  }
  bytes.push(raw);
  return Buffer.from(bytes);
}

function varlong(value: bigint): Buffer {
  let raw = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (raw >= 0x80n) {
    bytes.push(Number(raw & 0x7fn) | 0x80);
    raw >>= 7n;
  }
  bytes.push(Number(raw));
  return Buffer.from(bytes);
}
