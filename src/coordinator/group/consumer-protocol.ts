// The consumer's embedded protocol (Kafka's ConsumerProtocol in kafka-clients): what classic
// members of the "consumer" protocol type put in JoinGroup metadata (ConsumerProtocolSubscription)
// and what the leader hands out in SyncGroup (ConsumerProtocolAssignment). Both are version-prefixed
// (int16) and not flexible:
//
//   ConsumerProtocolSubscription v0-3: Topics [string], UserData nullable bytes,
//     v1+ OwnedPartitions [Topic string, Partitions [int32]], v2+ GenerationId int32 (-1),
//     v3+ RackId nullable string
//   ConsumerProtocolAssignment v0-3:   AssignedPartitions [Topic string, Partitions [int32]],
//     UserData nullable bytes
//
// A version above 3 is read as 3 (forward compatibility), a negative one refused, as Kafka's
// checkSubscriptionVersion / checkAssignmentVersion do. Decoding failures are SchemaErrors, the
// SchemaException Kafka's coordinator turns into its errors (online upgrade, classic members of
// consumer groups). The coordinator also reads the subscribed topic names, as Kafka's
// ClassicGroup.computeSubscribedTopics does (offset expiry, OffsetDelete).

import { type ClassicGroup, CONSUMER_PROTOCOL_TYPE } from "./classic-group.js";

/** Kafka's SchemaException: an embedded consumer protocol that does not parse. */
export class SchemaError extends Error {
  override readonly name = "SchemaError";
}

export interface ConsumerProtocolTopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface ConsumerProtocolSubscription {
  readonly topics: readonly string[];
  readonly userData: Buffer | null;
  readonly ownedPartitions: readonly ConsumerProtocolTopicPartitions[];
  readonly generationId: number;
  readonly rackId: string | null;
}

export interface ConsumerProtocolAssignment {
  readonly assignedPartitions: readonly ConsumerProtocolTopicPartitions[];
  readonly userData: Buffer | null;
}

/** The highest version of both messages (ConsumerProtocolSubscription/Assignment). */
export const CONSUMER_PROTOCOL_VERSION = 3;
/** MessageUtil's bound on a collection's size. */
const MAX_COLLECTION_SIZE = 1_000_000;

/** A ByteBufferAccessor over the message: Java's checks, RangeError on underflow. */
class Readable {
  #offset = 0;
  constructor(private readonly buffer: Buffer) {}

  remaining(): number {
    return this.buffer.length - this.#offset;
  }

  #need(bytes: number): number {
    if (this.remaining() < bytes) throw new RangeError("buffer underflow");
    const at = this.#offset;
    this.#offset += bytes;
    return at;
  }

  short(): number {
    return this.buffer.readInt16BE(this.#need(2));
  }

  int(): number {
    return this.buffer.readInt32BE(this.#need(4));
  }

  stringOfLength(length: number): string {
    const at = this.#need(length);
    return this.buffer.toString("utf8", at, at + length);
  }

  string(field: string): string {
    const length = this.short();
    if (length < 0) throw new RangeError(`non-nullable field ${field} was serialized as null`);
    return this.stringOfLength(length);
  }

  nullableString(): string | null {
    const length = this.short();
    return length < 0 ? null : this.stringOfLength(length);
  }

  nullableBytes(): Buffer | null {
    const length = this.int();
    if (length < 0) return null;
    const at = this.#need(length);
    return Buffer.from(this.buffer.subarray(at, at + length));
  }

  arrayLength(field: string): number {
    const length = this.int();
    if (length < 0) throw new RangeError(`non-nullable field ${field} was serialized as null`);
    if (length > this.remaining())
      throw new RangeError(`Tried to allocate a collection of size ${length}, but there are only ${this.remaining()} bytes remaining.`);
    if (length > MAX_COLLECTION_SIZE)
      throw new RangeError(`Tried to read a collection of size ${length}, which exceeds the maximum allowed size of ${MAX_COLLECTION_SIZE}.`);
    return length;
  }

  /** A TopicPartitionCollection: keyed by topic, a repeated topic is not added again. */
  topicPartitions(field: string): ConsumerProtocolTopicPartitions[] {
    const count = this.arrayLength(field);
    const out: ConsumerProtocolTopicPartitions[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const topic = this.string("topic");
      const partitionCount = this.arrayLength("partitions");
      const partitions: number[] = [];
      for (let p = 0; p < partitionCount; p++) partitions.push(this.int());
      if (seen.has(topic)) continue;
      seen.add(topic);
      out.push({ topic, partitions });
    }
    return out;
  }
}

/** ConsumerProtocol.deserializeVersion: the int16 header. */
export function deserializeVersion(buffer: Buffer): number {
  if (buffer.length < 2) throw new SchemaError("Buffer underflow while parsing consumer protocol's header");
  return buffer.readInt16BE(0);
}

function checkVersion(version: number, what: "subscription" | "assignment"): number {
  if (version < 0) throw new SchemaError(`Unsupported ${what} version: ${version}`);
  return Math.min(version, CONSUMER_PROTOCOL_VERSION);
}

function readSubscription(readable: Readable, version: number): ConsumerProtocolSubscription {
  const topicCount = readable.arrayLength("topics");
  const topics: string[] = [];
  for (let i = 0; i < topicCount; i++) topics.push(readable.string("topics element"));
  const userData = readable.nullableBytes();
  const ownedPartitions = version >= 1 ? readable.topicPartitions("ownedPartitions") : [];
  const generationId = version >= 2 ? readable.int() : -1;
  const rackId = version >= 3 ? readable.nullableString() : null;
  return { topics, userData, ownedPartitions, generationId, rackId };
}

/** ConsumerProtocol.deserializeConsumerProtocolSubscription (version header included). */
export function decodeSubscription(buffer: Buffer): ConsumerProtocolSubscription {
  const version = checkVersion(deserializeVersion(buffer), "subscription");
  try {
    return readSubscription(new Readable(buffer.subarray(2)), version);
  } catch (error) {
    throw new SchemaError("Malformed consumer protocol subscription", { cause: error });
  }
}

/** ConsumerProtocol.deserializeConsumerProtocolAssignment (version header included). */
export function decodeAssignment(buffer: Buffer): ConsumerProtocolAssignment {
  checkVersion(deserializeVersion(buffer), "assignment");
  try {
    const readable = new Readable(buffer.subarray(2));
    const assignedPartitions = readable.topicPartitions("assignedPartitions");
    const userData = readable.nullableBytes();
    return { assignedPartitions, userData };
  } catch (error) {
    throw new SchemaError("Malformed consumer protocol assignment", { cause: error });
  }
}

/** A growable big-endian writer for the two messages. */
class Writable {
  readonly #parts: Buffer[] = [];

  short(value: number): void {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.#parts.push(b);
  }

  int(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.#parts.push(b);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.short(bytes.length);
    this.#parts.push(bytes);
  }

  nullableString(value: string | null): void {
    if (value === null) this.short(-1);
    else this.string(value);
  }

  nullableBytes(value: Buffer | null): void {
    if (value === null) {
      this.int(-1);
      return;
    }
    this.int(value.length);
    this.#parts.push(value);
  }

  topicPartitions(list: readonly ConsumerProtocolTopicPartitions[]): void {
    this.int(list.length);
    for (const { topic, partitions } of list) {
      this.string(topic);
      this.int(partitions.length);
      for (const partition of partitions) this.int(partition);
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** ConsumerProtocol.serializeAssignment(ConsumerProtocolAssignment, version): the version clamped to 0-3. */
export function encodeAssignment(assignment: ConsumerProtocolAssignment, version: number = CONSUMER_PROTOCOL_VERSION): Buffer {
  const writable = new Writable();
  writable.short(checkVersion(version, "assignment"));
  writable.topicPartitions(assignment.assignedPartitions);
  writable.nullableBytes(assignment.userData);
  return writable.toBuffer();
}

/** ConsumerProtocol.serializeSubscription's message (the fields as given; version clamped to 0-3). */
export function encodeSubscription(subscription: Partial<ConsumerProtocolSubscription>, version: number = CONSUMER_PROTOCOL_VERSION): Buffer {
  const v = checkVersion(version, "subscription");
  const writable = new Writable();
  writable.short(v);
  const topics = subscription.topics ?? [];
  writable.int(topics.length);
  for (const topic of topics) writable.string(topic);
  writable.nullableBytes(subscription.userData ?? null);
  if (v >= 1) writable.topicPartitions(subscription.ownedPartitions ?? []);
  if (v >= 2) writable.int(subscription.generationId ?? -1);
  if (v >= 3) writable.nullableString(subscription.rackId ?? null);
  return writable.toBuffer();
}

/**
 * The topics of a ConsumerProtocolSubscription, or null when it does not parse. As Kafka's
 * ClassicGroup.computeSubscribedTopics, the body is read as version 0 whatever the header says.
 */
export function subscribedTopics(metadata: Buffer): string[] | null {
  if (metadata.length < 2) return null;
  try {
    return [...readSubscription(new Readable(metadata.subarray(2)), 0).topics];
  } catch {
    return null;
  }
}

/**
 * The topics a classic group's members subscribe to; null when unknown (not the consumer protocol,
 * no protocol selected yet, or a subscription that does not parse).
 */
export function classicGroupSubscribedTopics(group: ClassicGroup): Set<string> | null {
  if (group.members.size === 0) return new Set();
  if (group.protocolType !== CONSUMER_PROTOCOL_TYPE || group.protocolName === null) return null;
  const topics = new Set<string>();
  for (const member of group.members.values()) {
    const metadata = member.metadata(group.protocolName);
    const parsed = metadata === undefined ? null : subscribedTopics(metadata);
    if (parsed === null) return null;
    for (const topic of parsed) topics.add(topic);
  }
  return topics;
}
