// The contract between the group coordinator and its server-side partition assignors (KIP-848),
// mirroring Kafka 4.4's org.apache.kafka.coordinator.group.api.assignor package
// (ConsumerGroupPartitionAssignor, GroupSpec, MemberSubscription, MemberAssignment, GroupAssignment,
// SubscribedTopicDescriber, SubscriptionType, PartitionAssignorException) and the coordinator's
// implementations of it (modern.GroupSpecImpl, modern.SubscribedTopicDescriberImpl).
//
// Topic ids are Kafka Uuids in their string form (Uuid.toString(): 22 base64url characters).
//
// Iteration order is part of the contract, because Kafka's assignors depend on it: the order of
// GroupSpec.memberIds, of a member's subscribedTopicIds and of a member's assignment (its topics and
// each topic's partitions) must be the order Kafka's Java collections iterate in. createGroupSpec
// orders the members as Kafka's TargetAssignmentBuilder's HashMap does; assignmentFromRecord
// (java-collections.ts) builds an assignment as Kafka holds one replayed from a record. The
// assignors return maps and sets in the order Kafka's results iterate, so an assignment record
// written from them lists partitions as Kafka's would.

import { javaHashMapOrder } from "./java-collections.js";

/** A topic id: a Kafka Uuid in base64url form, as Uuid.toString() writes it. */
export type TopicId = string;

/** Kafka's SubscriptionType: whether every member subscribes to the same topics. */
export const SubscriptionType = { HOMOGENEOUS: "HOMOGENEOUS", HETEROGENEOUS: "HETEROGENEOUS" } as const;
export type SubscriptionType = (typeof SubscriptionType)[keyof typeof SubscriptionType];

/** Partitions by topic (a member's current or new assignment), in Java's iteration order. */
export type TopicPartitions = ReadonlyMap<TopicId, ReadonlySet<number>>;

/** Kafka's MemberSubscription. */
export interface MemberSubscription {
  readonly rackId: string | null;
  readonly instanceId: string | null;
  /** In the order Kafka's member subscription (TopicIds) iterates. */
  readonly subscribedTopicIds: ReadonlySet<TopicId>;
}

/** Kafka's MemberAssignment. */
export interface MemberAssignment {
  readonly partitions: TopicPartitions;
}

/** Kafka's MemberSubscriptionAndAssignmentImpl: one member as the GroupSpec carries it. */
export interface MemberSpec extends MemberSubscription {
  /** The member's current target assignment (empty for a new member). */
  readonly assignment: TopicPartitions;
}

/** Kafka's GroupSpec. */
export interface GroupSpec {
  /** The member ids in Kafka's iteration order (GroupSpec.memberIds()). */
  readonly memberIds: readonly string[];
  readonly subscriptionType: SubscriptionType;
  /** Whether the partition is in some member's current target assignment. */
  isPartitionAssigned(topicId: TopicId, partition: number): boolean;
  /** Throws for an unknown member, like Kafka (IllegalArgumentException). */
  memberSubscription(memberId: string): MemberSubscription;
  /** The member's current target assignment; empty for an unknown member. */
  memberAssignment(memberId: string): TopicPartitions;
}

/** Kafka's SubscribedTopicDescriber. */
export interface SubscribedTopicDescriber {
  /** The topic's partition count, -1 if the topic is unknown. */
  numPartitions(topicId: TopicId): number;
  /** The racks of the partition's replicas (empty if unknown). Kafka's uniform and range assignors do not use it. */
  racksForPartition(topicId: TopicId, partition: number): ReadonlySet<string>;
}

/**
 * Kafka's GroupAssignment: the new target assignment by member id. Like Kafka's, it may leave out
 * members (read them as empty: the uniform assignor returns nothing when no member subscribes to
 * anything), and a member whose assignment the assignor did not change gets back the very map it
 * came with. Treat both as read-only.
 */
export interface GroupAssignment {
  readonly members: ReadonlyMap<string, MemberAssignment>;
}

/** Kafka's ConsumerGroupPartitionAssignor. */
export interface ConsumerGroupPartitionAssignor {
  readonly name: string;
  /** Throws PartitionAssignorException when no assignment can be made (a subscribed topic is unknown). */
  assign(groupSpec: GroupSpec, subscribedTopicDescriber: SubscribedTopicDescriber): GroupAssignment;
}

/** Kafka's PartitionAssignorException. */
export class PartitionAssignorException extends Error {
  override readonly name = "PartitionAssignorException";
}

const EMPTY_PARTITIONS: TopicPartitions = new Map();

export interface GroupSpecOptions {
  /**
   * The subscription type; by default HOMOGENEOUS when every member subscribes to the same topic
   * ids (as ModernGroup.subscriptionType decides from its subscription counts), else HETEROGENEOUS.
   */
  subscriptionType?: SubscriptionType;
  /**
   * How `members` is ordered: "insertion" (default) — the order the members would be put in Kafka's
   * TargetAssignmentBuilder's `new HashMap<>()`, which createGroupSpec turns into that HashMap's
   * iteration order; "iteration" — already in Kafka's iteration order, kept as is.
   */
  memberOrder?: "insertion" | "iteration";
  /**
   * The partitions some member owns in the current target assignment (Kafka's
   * invertedTargetAssignment), for isPartitionAssigned. By default: the union of the members'
   * assignments.
   */
  assignedPartitions?: ReadonlyMap<TopicId, ReadonlySet<number>>;
}

class GroupSpecImpl implements GroupSpec {
  constructor(
    readonly memberIds: readonly string[],
    readonly subscriptionType: SubscriptionType,
    private readonly members: ReadonlyMap<string, MemberSpec>,
    private readonly assigned: ReadonlyMap<TopicId, ReadonlySet<number>>,
  ) {}

  isPartitionAssigned(topicId: TopicId, partition: number): boolean {
    return this.assigned.get(topicId)?.has(partition) ?? false;
  }

  memberSubscription(memberId: string): MemberSubscription {
    const member = this.members.get(memberId);
    if (member === undefined) throw new RangeError(`Member Id ${memberId} not found.`);
    return member;
  }

  memberAssignment(memberId: string): TopicPartitions {
    return this.members.get(memberId)?.assignment ?? EMPTY_PARTITIONS;
  }
}

function sameTopics(a: ReadonlySet<TopicId>, b: ReadonlySet<TopicId>): boolean {
  if (a.size !== b.size) return false;
  for (const t of a) if (!b.has(t)) return false;
  return true;
}

/** The subscription type ModernGroup would report for these members. */
export function subscriptionTypeOf(members: Iterable<MemberSubscription>): SubscriptionType {
  let first: ReadonlySet<TopicId> | undefined;
  for (const m of members) {
    if (first === undefined) first = m.subscribedTopicIds;
    else if (!sameTopics(first, m.subscribedTopicIds)) return SubscriptionType.HETEROGENEOUS;
  }
  return SubscriptionType.HOMOGENEOUS;
}

/**
 * A GroupSpec over `members` (member id → spec; see GroupSpecOptions.memberOrder for what their
 * order means). A member id given twice keeps its first place and its last spec, like HashMap.put.
 */
export function createGroupSpec(members: Iterable<readonly [string, MemberSpec]>, options: GroupSpecOptions = {}): GroupSpec {
  const byId = new Map<string, MemberSpec>();
  for (const [memberId, spec] of members) byId.set(memberId, spec);
  const memberIds = options.memberOrder === "iteration" ? [...byId.keys()] : javaHashMapOrder(byId.keys());
  const subscriptionType = options.subscriptionType ?? subscriptionTypeOf(byId.values());
  let assigned = options.assignedPartitions;
  if (assigned === undefined) {
    const union = new Map<TopicId, Set<number>>();
    for (const spec of byId.values()) {
      for (const [topicId, partitions] of spec.assignment) {
        if (partitions.size === 0) continue;
        let set = union.get(topicId);
        if (set === undefined) {
          set = new Set();
          union.set(topicId, set);
        }
        for (const p of partitions) set.add(p);
      }
    }
    assigned = union;
  }
  return new GroupSpecImpl(memberIds, subscriptionType, byId, assigned);
}

/** Topic metadata for a SubscribedTopicDescriber: topic id → partition count (and optionally racks). */
export interface TopicDescription {
  readonly numPartitions: number;
  /** Per partition, the racks of its replicas. */
  readonly partitionRacks?: readonly (readonly string[])[];
}

const NO_RACKS: ReadonlySet<string> = new Set();

/** A SubscribedTopicDescriber over a map of topic id → partition count or description (unknown topics: -1). */
export function createTopicDescriber(topics: ReadonlyMap<TopicId, number | TopicDescription>): SubscribedTopicDescriber {
  return {
    numPartitions(topicId) {
      const t = topics.get(topicId);
      if (t === undefined) return -1;
      return typeof t === "number" ? t : t.numPartitions;
    },
    racksForPartition(topicId, partition) {
      const t = topics.get(topicId);
      if (t === undefined || typeof t === "number") return NO_RACKS;
      const racks = t.partitionRacks?.[partition];
      return racks === undefined ? NO_RACKS : new Set(racks);
    },
  };
}
