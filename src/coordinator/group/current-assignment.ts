// The reconciliation of one member towards its target assignment, as Kafka 4.4's
// modern.consumer.CurrentAssignmentBuilder does it. A member moves to a new epoch only once it has
// revoked what it must give up ("revoke before assign"): while it still owns partitions that are
// not in its target it is UNREVOKED_PARTITIONS (epoch unchanged, partitions pending revocation);
// then it gets the target's partitions no other member still owns, each with the epoch it was
// assigned at (KIP-1251), and is STABLE, or UNRELEASED_PARTITIONS while some of its target's
// partitions are still owned by others.

import { KafkaError } from "../../protocol/errors.js";
import type { ConsumerGroupHeartbeatRequestTopicPartitions } from "../../protocol/generated/consumer-group-heartbeat.js";
import { type Assignment, type ConsumerGroupMember, MemberState, type PartitionEpochs, type ResolvedRegularExpression } from "./consumer-group.js";

/** What the reconciliation needs to know about topics (the coordinator's metadata image). */
export interface TopicNameResolver {
  /** The name of the topic with this id, or undefined when unknown. */
  topicName(topicId: string): string | undefined;
}

export interface CurrentAssignmentInput {
  readonly member: ConsumerGroupMember;
  readonly targetAssignmentEpoch: number;
  readonly targetAssignment: Assignment;
  readonly hasSubscriptionChanged: boolean;
  readonly resolvedRegularExpressions: ReadonlyMap<string, ResolvedRegularExpression>;
  /** The epoch at which a partition is owned by some member, -1 when free. */
  readonly currentPartitionEpoch: (topicId: string, partition: number) => number;
  /** The partitions the member says it owns; null when not sent. */
  readonly ownedTopicPartitions: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null;
  readonly topics: TopicNameResolver;
}

/** CurrentAssignmentBuilder.build. */
export function computeCurrentAssignment(input: CurrentAssignmentInput): ConsumerGroupMember {
  const { member } = input;
  switch (member.state) {
    case MemberState.STABLE:
      if (member.memberEpoch !== input.targetAssignmentEpoch) return computeNextAssignment(input, member.memberEpoch, member.assignedPartitions);
      if (input.hasSubscriptionChanged) return updateCurrentAssignment(input, member.memberEpoch, member.assignedPartitions);
      return member;
    case MemberState.UNREVOKED_PARTITIONS:
      if (ownsRevokedPartitions(input, member.partitionsPendingRevocation)) {
        if (input.hasSubscriptionChanged) return updateCurrentAssignment(input, member.memberEpoch, member.assignedPartitions);
        return member;
      }
      return computeNextAssignment(input, member.memberEpoch, member.assignedPartitions);
    case MemberState.UNRELEASED_PARTITIONS:
      return computeNextAssignment(input, member.memberEpoch, member.assignedPartitions);
    default:
      if (input.ownedTopicPartitions === null || input.ownedTopicPartitions.length > 0) {
        throw new KafkaError("FENCED_MEMBER_EPOCH", "The consumer group member is in a unknown state. The member must abandon all its partitions and rejoin.");
      }
      return computeNextAssignment(input, input.targetAssignmentEpoch, member.assignedPartitions);
  }
}

/** Whether the member still owns one of `pending` (true when it did not say what it owns). */
function ownsRevokedPartitions(input: CurrentAssignmentInput, pending: PartitionEpochs): boolean {
  if (input.ownedTopicPartitions === null) return true;
  for (const owned of input.ownedTopicPartitions) {
    const revoked = pending.get(owned.topicId);
    if (revoked === undefined) continue;
    for (const partition of owned.partitions) if (revoked.has(partition)) return true;
  }
  return false;
}

/** The member's subscribed topics (names and resolved regex) as a membership test on topic ids. */
function subscribedTopicIds(input: CurrentAssignmentInput): (topicId: string) => boolean {
  const { member } = input;
  const names = new Set(member.subscribedTopicNames);
  const regex = member.regex;
  if (regex !== null) {
    const resolved = input.resolvedRegularExpressions.get(regex);
    if (resolved !== undefined) for (const topic of resolved.topics) names.add(topic);
  }
  return (topicId) => {
    const name = input.topics.topicName(topicId);
    return name !== undefined && names.has(name);
  };
}

/** The member's subscription changed: partitions of topics it left are revoked (updateCurrentAssignment). */
function updateCurrentAssignment(input: CurrentAssignmentInput, memberEpoch: number, assigned: PartitionEpochs): ConsumerGroupMember {
  const { member } = input;
  const subscribed = subscribedTopicIds(input);
  let newAssigned: Map<string, ReadonlyMap<number, number>> | PartitionEpochs;
  let newPending: Map<string, ReadonlyMap<number, number>> | PartitionEpochs;
  if (!hasAnySubscription(input) && member.partitionsPendingRevocation.size === 0) {
    newAssigned = new Map();
    newPending = assigned;
  } else {
    newAssigned = assigned;
    newPending = member.partitionsPendingRevocation;
    for (const [topicId, partitions] of assigned) {
      if (subscribed(topicId)) continue;
      if (newAssigned === assigned) {
        newAssigned = new Map(assigned);
        newPending = new Map(member.partitionsPendingRevocation);
      }
      (newAssigned as Map<string, ReadonlyMap<number, number>>).delete(topicId);
      const existing = newPending.get(topicId);
      (newPending as Map<string, ReadonlyMap<number, number>>).set(topicId, existing === undefined ? partitions : new Map([...existing, ...partitions]));
    }
  }
  if (newAssigned === assigned) return member;
  if (newPending.size > 0 && ownsRevokedPartitions(input, newPending)) {
    return member.withEpoch(memberEpoch, { state: MemberState.UNREVOKED_PARTITIONS, assignedPartitions: newAssigned, partitionsPendingRevocation: newPending });
  }
  return member.withEpoch(memberEpoch, { assignedPartitions: newAssigned });
}

/**
 * Kafka tests `subscribedTopicIds.isEmpty()`: the member's set of subscribed names (with the
 * resolved regex's topics) is empty, whether or not the names resolve to topics.
 */
function hasAnySubscription(input: CurrentAssignmentInput): boolean {
  const { member } = input;
  if (member.subscribedTopicNames.length > 0) return true;
  const regex = member.regex;
  if (regex === null) return false;
  return (input.resolvedRegularExpressions.get(regex)?.topics.size ?? 0) > 0;
}

/** computeNextAssignment: revoke first; then assign the target's free partitions at the target epoch. */
function computeNextAssignment(input: CurrentAssignmentInput, memberEpoch: number, assigned: PartitionEpochs): ConsumerGroupMember {
  const { member, targetAssignment, targetAssignmentEpoch } = input;
  const subscribed = subscribedTopicIds(input);
  let hasUnreleasedPartitions = false;
  const newAssigned = new Map<string, Map<number, number>>();
  const newPending = new Map<string, Map<number, number>>();
  const newPendingAssignment = new Map<string, Set<number>>();
  const topicIds = new Set([...targetAssignment.keys(), ...assigned.keys()]);
  for (const topicId of topicIds) {
    const target: ReadonlySet<number> = subscribed(topicId) ? (targetAssignment.get(topicId) ?? new Set()) : new Set();
    const current = assigned.get(topicId) ?? new Map<number, number>();
    const keep = new Map<number, number>();
    const revoke = new Map<number, number>();
    for (const [partition, epoch] of current) (target.has(partition) ? keep : revoke).set(partition, epoch);
    const pendingAssignment = new Set<number>();
    const previouslyPending = member.partitionsPendingRevocation.get(topicId);
    for (const partition of target) {
      if (keep.has(partition)) continue;
      // Owned by another member (not by this one pending revocation): unreleased.
      if (input.currentPartitionEpoch(topicId, partition) !== -1 && !previouslyPending?.has(partition)) {
        hasUnreleasedPartitions = true;
        continue;
      }
      pendingAssignment.add(partition);
    }
    if (keep.size > 0) newAssigned.set(topicId, keep);
    if (revoke.size > 0) newPending.set(topicId, revoke);
    if (pendingAssignment.size > 0) newPendingAssignment.set(topicId, pendingAssignment);
  }
  if (newPending.size > 0 && ownsRevokedPartitions(input, newPending)) {
    return member.withEpoch(memberEpoch, { state: MemberState.UNREVOKED_PARTITIONS, assignedPartitions: newAssigned, partitionsPendingRevocation: newPending });
  }
  for (const [topicId, partitions] of newPendingAssignment) {
    let epochs = newAssigned.get(topicId);
    if (epochs === undefined) {
      epochs = new Map();
      newAssigned.set(topicId, epochs);
    }
    for (const partition of partitions) epochs.set(partition, targetAssignmentEpoch);
  }
  const state = hasUnreleasedPartitions ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE;
  return member.withEpoch(targetAssignmentEpoch, { state, assignedPartitions: newAssigned, partitionsPendingRevocation: new Map() });
}
