// Kafka's server-side RangeAssignor ("range"), ported from Kafka 4.4.0's
// org.apache.kafka.coordinator.group.assignor.RangeAssignor (kafka-group-coordinator-4.4.0.jar,
// read against apache/kafka's source) and its RangeSet.
//
// Members are sorted (by group.instance.id where both have one, members with one first, then by
// member id) and each topic's partitions are cut into contiguous ranges in that order: the first
// `partitions % subscribers` subscribers get one more. When every member subscribes to the same
// co-partitioned topics, a member gets the same partition numbers of each (co-partitioning, for
// joins). The current assignment is not read: Kafka 4.x's range assignor is sticky only through
// that order, which static members (instance ids) keep across restarts.

import { JavaHashTable, kafkaCapacityFor, UuidHashes, uuidKeyOrder } from "./java-collections.js";
import {
  type ConsumerGroupPartitionAssignor,
  type GroupAssignment,
  type GroupSpec,
  type MemberAssignment,
  PartitionAssignorException,
  type SubscribedTopicDescriber,
  SubscriptionType,
  type TopicId,
} from "./types.js";

/** Kafka's RangeSet: the partitions [from, to) without storing them, iterated ascending. */
export class RangeSet implements ReadonlySet<number> {
  constructor(
    readonly from: number,
    readonly to: number,
  ) {}

  get size(): number {
    return Math.max(0, this.to - this.from);
  }

  has(value: number): boolean {
    return Number.isInteger(value) && value >= this.from && value < this.to;
  }

  forEach(callback: (value: number, key: number, set: ReadonlySet<number>) => void, thisArg?: unknown): void {
    for (let p = this.from; p < this.to; p++) callback.call(thisArg, p, p, this);
  }

  *values(): SetIterator<number> {
    for (let p = this.from; p < this.to; p++) yield p;
  }

  keys(): SetIterator<number> {
    return this.values();
  }

  *entries(): SetIterator<[number, number]> {
    for (let p = this.from; p < this.to; p++) yield [p, p];
  }

  [Symbol.iterator](): SetIterator<number> {
    return this.values();
  }

  toString(): string {
    return `RangeSet(from=${this.from} (inclusive), to=${this.to} (exclusive))`;
  }
}

/** RangeAssignor.TopicMetadata: a topic's ranges as they are handed out. */
class TopicMetadata {
  minQuota = -1;
  extraPartitions = -1;
  nextRange = 0;

  constructor(
    readonly topicId: TopicId,
    readonly numPartitions: number,
    public numMembers: number,
  ) {}

  maybeComputeQuota(): void {
    if (this.minQuota !== -1) return;
    this.minQuota = Math.trunc(this.numPartitions / this.numMembers);
    this.extraPartitions = this.numPartitions % this.numMembers;
  }
}

/** A member's new assignment: a HashMap<Uuid, Set<Integer>> of RangeSets, kept as Kafka orders it. */
class RangeAssignment {
  readonly topics: JavaHashTable<string>;
  readonly ranges = new Map<string, RangeSet>();

  constructor(
    private readonly hashes: UuidHashes,
    initialCapacity: number,
  ) {
    this.topics = new JavaHashTable<string>(initialCapacity, uuidKeyOrder);
  }

  put(topicId: string, range: RangeSet): void {
    this.topics.add(topicId, this.hashes.get(topicId));
    this.ranges.set(topicId, range);
  }

  toMemberAssignment(): MemberAssignment {
    const partitions = new Map<string, RangeSet>();
    for (const topicId of this.topics.keys()) partitions.set(topicId, this.ranges.get(topicId)!);
    return { partitions };
  }
}

function unknownTopic(): PartitionAssignorException {
  return new PartitionAssignorException("Member is subscribed to a non-existent topic");
}

/** Kafka's RangeAssignor. */
export class RangeAssignor implements ConsumerGroupPartitionAssignor {
  static readonly NAME = "range";
  readonly name = RangeAssignor.NAME;

  assign(groupSpec: GroupSpec, subscribedTopicDescriber: SubscribedTopicDescriber): GroupAssignment {
    if (groupSpec.memberIds.length === 0) return { members: new Map() };
    if (groupSpec.subscriptionType === SubscriptionType.HOMOGENEOUS) return this.assignHomogeneousGroup(groupSpec, subscribedTopicDescriber);
    return this.assignHeterogeneousGroup(groupSpec, subscribedTopicDescriber);
  }

  private assignHomogeneousGroup(groupSpec: GroupSpec, describer: SubscribedTopicDescriber): GroupAssignment {
    const hashes = new UuidHashes();
    const memberIds = sortMemberIds(groupSpec);
    const numMembers = groupSpec.memberIds.length;
    const topics: TopicMetadata[] = [];
    for (const topicId of groupSpec.memberSubscription(memberIds[0]).subscribedTopicIds) {
      const numPartitions = describer.numPartitions(topicId);
      if (numPartitions === -1) throw unknownTopic();
      topics.push(new TopicMetadata(topicId, numPartitions, numMembers));
    }
    const capacity = kafkaCapacityFor(topics.length);
    const members = new Map<string, MemberAssignment>();
    for (const memberId of memberIds) {
      const assignment = new RangeAssignment(hashes, capacity);
      for (const topic of topics) {
        topic.maybeComputeQuota();
        addPartitionsToAssignment(topic, assignment);
      }
      members.set(memberId, assignment.toMemberAssignment());
    }
    return { members };
  }

  private assignHeterogeneousGroup(groupSpec: GroupSpec, describer: SubscribedTopicDescriber): GroupAssignment {
    const hashes = new UuidHashes();
    const memberIds = sortMemberIds(groupSpec);
    const topics = new Map<TopicId, TopicMetadata>();
    for (const memberId of memberIds) {
      for (const topicId of groupSpec.memberSubscription(memberId).subscribedTopicIds) {
        let topic = topics.get(topicId);
        if (topic === undefined) {
          const numPartitions = describer.numPartitions(topicId);
          if (numPartitions === -1) throw unknownTopic();
          topic = new TopicMetadata(topicId, numPartitions, 0);
          topics.set(topicId, topic);
        }
        topic.numMembers++;
      }
    }
    const members = new Map<string, MemberAssignment>();
    for (const memberId of memberIds) {
      const subscribed = groupSpec.memberSubscription(memberId).subscribedTopicIds;
      const assignment = new RangeAssignment(hashes, kafkaCapacityFor(subscribed.size));
      for (const topicId of subscribed) {
        const topic = topics.get(topicId)!;
        topic.maybeComputeQuota();
        addPartitionsToAssignment(topic, assignment);
      }
      members.set(memberId, assignment.toMemberAssignment());
    }
    return { members };
  }
}

/** String.compareTo: by UTF-16 code unit, as JS compares strings. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The members by instance id (members with one first), then by member id. Java's List.sort is
 * stable, like Array.prototype.sort: members with equal instance ids keep GroupSpec order.
 */
function sortMemberIds(groupSpec: GroupSpec): string[] {
  const instanceIds = new Map<string, string | null>();
  for (const memberId of groupSpec.memberIds) instanceIds.set(memberId, groupSpec.memberSubscription(memberId).instanceId);
  return [...groupSpec.memberIds].sort((a, b) => {
    const ia = instanceIds.get(a) ?? null;
    const ib = instanceIds.get(b) ?? null;
    if (ia !== null && ib !== null) return compareStrings(ia, ib);
    if (ia !== null) return -1;
    if (ib !== null) return 1;
    return compareStrings(a, b);
  });
}

/** The topic's next range for one member: the minimum quota, plus one while extra partitions remain. */
function addPartitionsToAssignment(topic: TopicMetadata, assignment: RangeAssignment): void {
  const start = topic.nextRange;
  let quota = topic.minQuota;
  if (topic.extraPartitions > 0) {
    quota++;
    topic.extraPartitions--;
  }
  const end = Math.min(start + quota, topic.numPartitions);
  topic.nextRange = end;
  if (start < end) assignment.put(topic.topicId, new RangeSet(start, end));
}
