// Coordinator records as Kafka stores them in __consumer_offsets, __transaction_state and
// __share_group_state (Kafka 4.4's CoordinatorRecordSerde, MessageUtil.toCoordinatorTypePrefixedBytes
// and toVersionPrefixedBytes):
//
//   record key   = int16 record type (the key spec's apiKey) + the key struct at version 0
//   record value = int16 value version + the value struct at that version
//   tombstone    = a null value (the record deletes the key)
//
// The structs are the generated codecs of src/coordinator/generated/<topic>/ (scripts/generate-protocol.ts);
// each topic's generated index.ts holds its record-type table. Test: test/protocol/coordinator-records.test.ts
// (byte-identical with Kafka's serdes).

import { ProtocolDecodeError, Reader } from "../protocol/reader.js";
import { ProtocolEncodeError, Writer } from "../protocol/writer.js";
import type { GroupMetadataKey, GroupMetadataValue } from "./generated/group/group-metadata.js";
import { recordTypeByNumber as groupRecordTypes, type RecordType } from "./generated/group/index.js";
import type { OffsetCommitKey, OffsetCommitValue } from "./generated/group/offset-commit.js";
import { recordTypeByNumber as shareRecordTypes } from "./generated/share/index.js";
import { recordTypeByNumber as transactionRecordTypes } from "./generated/transaction/index.js";

export type { RecordType };

/** A decoded coordinator record; `value` null (and `version` -1) is a tombstone. */
export interface CoordinatorRecord<K = unknown, V = unknown> {
  /** The record type (int16 in front of the key). */
  recordType: number;
  /** The record type's name, e.g. "OffsetCommit" (Kafka's spec names without Key/Value). */
  name: string;
  key: K;
  value: V | null;
  /** Version of the value struct; -1 for a tombstone. */
  version: number;
}

/** The encoded form: `value` null is a tombstone. */
export interface EncodedCoordinatorRecord {
  key: Buffer;
  value: Buffer | null;
}

/** Encodes and decodes the records of one coordinator topic. */
export class CoordinatorRecordSerde {
  constructor(
    /** The internal topic, for messages. */
    readonly topic: string,
    private readonly types: readonly (RecordType | undefined)[],
  ) {}

  /** The record type with this number, or throws (Kafka: UnknownRecordTypeException). */
  recordType(recordType: number): RecordType {
    const type = recordType >= 0 ? this.types[recordType] : undefined;
    if (type === undefined) throw new ProtocolDecodeError(`${this.topic}: unknown coordinator record type ${recordType}`);
    return type;
  }

  encodeKey(recordType: number, key: unknown): Buffer {
    const type = this.recordType(recordType);
    const w = new Writer(64);
    w.int16(recordType);
    type.key.write(w, key, 0);
    return w.finish();
  }

  /** The value, or null for a tombstone (`value` null). */
  encodeValue(recordType: number, value: unknown, version: number): Buffer | null {
    if (value === null) return null;
    const type = this.recordType(recordType);
    if (!type.value.versions.includes(version)) {
      throw new ProtocolEncodeError(`${this.topic}: ${type.value.name} has no version ${version} (versions ${type.value.versions.join(", ")})`);
    }
    const w = new Writer(128);
    w.int16(version);
    type.value.write(w, value, version);
    return w.finish();
  }

  encode(record: Omit<CoordinatorRecord, "name">): EncodedCoordinatorRecord {
    return { key: this.encodeKey(record.recordType, record.key), value: this.encodeValue(record.recordType, record.value, record.version) };
  }

  /** Decodes a record key: its record type and key struct. */
  decodeKey(bytes: Buffer): { recordType: number; type: RecordType; key: unknown } {
    const r = new Reader(bytes);
    if (r.remaining() < 2) throw new ProtocolDecodeError(`${this.topic}: a record key of ${bytes.length} bytes has no record type`);
    const recordType = r.int16();
    const type = this.recordType(recordType);
    return { recordType, type, key: type.key.read(r, 0) };
  }

  /** Decodes a whole record; a null value is a tombstone. */
  decode(key: Buffer, value: Buffer | null): CoordinatorRecord {
    const { recordType, type, key: k } = this.decodeKey(key);
    if (value === null) return { recordType, name: type.name, key: k, value: null, version: -1 };
    const r = new Reader(value);
    if (r.remaining() < 2) throw new ProtocolDecodeError(`${this.topic}: a ${type.value.name} of ${value.length} bytes has no version`);
    const version = r.int16();
    if (!type.value.versions.includes(version)) {
      // Kafka: UnknownRecordVersionException
      throw new ProtocolDecodeError(`${this.topic}: ${type.value.name} version ${version} is not supported (versions ${type.value.versions.join(", ")})`);
    }
    return { recordType, name: type.name, key: k, value: type.value.read(r, version), version };
  }
}

/** __consumer_offsets: offsets (OffsetCommit, LegacyOffsetCommit), classic groups (GroupMetadata), consumer/share/streams groups. */
export const groupRecords = new CoordinatorRecordSerde("__consumer_offsets", groupRecordTypes);
/** __transaction_state: TransactionLog. */
export const transactionRecords = new CoordinatorRecordSerde("__transaction_state", transactionRecordTypes);
/** __share_group_state: ShareSnapshot, ShareUpdate. */
export const shareRecords = new CoordinatorRecordSerde("__share_group_state", shareRecordTypes);

/** Record types of __consumer_offsets used by the offset, classic-group and consumer-group paths. */
export const GroupRecordType = {
  LegacyOffsetCommit: 0,
  OffsetCommit: 1,
  GroupMetadata: 2,
  ConsumerGroupMetadata: 3,
  ConsumerGroupPartitionMetadata: 4,
  ConsumerGroupMemberMetadata: 5,
  ConsumerGroupTargetAssignmentMetadata: 6,
  ConsumerGroupTargetAssignmentMember: 7,
  ConsumerGroupCurrentMemberAssignment: 8,
  ShareGroupMemberMetadata: 10,
  ShareGroupMetadata: 11,
  ShareGroupTargetAssignmentMetadata: 12,
  ShareGroupTargetAssignmentMember: 13,
  ShareGroupCurrentMemberAssignment: 14,
  ShareGroupStatePartitionMetadata: 15,
  ConsumerGroupRegularExpression: 16,
  StreamsGroupMetadata: 17,
  StreamsGroupMemberMetadata: 19,
  StreamsGroupTargetAssignmentMetadata: 20,
  StreamsGroupTargetAssignmentMember: 21,
  StreamsGroupCurrentMemberAssignment: 22,
  StreamsGroupTopology: 23,
} as const;

/** Record types of __share_group_state. */
export const ShareRecordType = {
  ShareSnapshot: 0,
  ShareUpdate: 1,
} as const;

/** An offset commit record (null value: the offset is deleted). */
export function encodeOffsetCommit(key: OffsetCommitKey, value: OffsetCommitValue | null, version: number): EncodedCoordinatorRecord {
  return groupRecords.encode({ recordType: GroupRecordType.OffsetCommit, key, value, version });
}

/** A classic group's metadata record (null value: the group is deleted). */
export function encodeGroupMetadata(key: GroupMetadataKey, value: GroupMetadataValue | null, version: number): EncodedCoordinatorRecord {
  return groupRecords.encode({ recordType: GroupRecordType.GroupMetadata, key, value, version });
}
