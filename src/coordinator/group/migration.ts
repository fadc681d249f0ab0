// Online migration between the classic protocol and the KIP-848 consumer protocol
// (group.consumer.migration.policy), the group conversions of Kafka 4.4: ConsumerGroup.fromClassicGroup
// and createConsumerGroupRecords (upgrade: a consumer-protocol member joins a classic group of the
// "consumer" protocol type), ClassicGroup.fromConsumerGroup and createClassicGroupRecords (downgrade:
// the last consumer-protocol member leaves a group whose other members are classic). The decisions
// (when to convert, the refusals and their messages, the writes) are in consumer-group-protocol.ts;
// this file builds the converted groups and their records.
//
// Upgrade: every classic member becomes a consumer-group member at the group's generation (member
// epoch = previous epoch = generation, STABLE), subscribed to the topics of its JoinGroup
// subscription (ConsumerProtocolSubscription, rack included), owning the partitions of its last
// SyncGroup assignment (ConsumerProtocolAssignment, topics unknown to the coordinator dropped), which
// is also its target assignment; its JoinGroup protocols and session timeout are kept as
// ClassicMemberMetadata. Group epoch = assignment epoch = generation.
//
// Downgrade: a Stable classic group at the consumer group's epoch, whose members are the classic
// members (a joining static member replacing the member of its instance id), each with its
// protocols and the serialized target assignment of its consumer-group member; the protocol is
// selected by the members' votes, the leader is the first member added.

import { assignmentFromRecord, javaHashMapOrder } from "./assignor/java-collections.js";
import { ClassicGroup, ClassicMember, CONSUMER_PROTOCOL_TYPE } from "./classic-group.js";
import { type Assignment, ConsumerGroup, type ConsumerGroupMember, javaHashSetOf, MemberState, withEpochs } from "./consumer-group.js";
import { type ConsumerProtocolAssignment, decodeAssignment, decodeSubscription, deserializeVersion, encodeAssignment } from "./consumer-protocol.js";
import {
  consumerGroupCurrentAssignmentRecord,
  consumerGroupEpochRecord,
  consumerGroupMemberSubscriptionRecord,
  consumerGroupTargetAssignmentMetadataRecord,
  consumerGroupTargetAssignmentRecord,
  groupMetadataRecord,
} from "./group-records.js";
import type { RecordToWrite } from "./shard.js";
import type { TopicImage } from "./topic-image.js";

/** Kafka's UnsupportedVersionException in fromClassicGroup: an assignment carries a custom assignor's user data. */
export class CustomAssignorUserData extends Error {
  override readonly name = "CustomAssignorUserData";
  constructor() {
    super("userData from a custom assignor would be lost");
  }
}

/** The topics and ids the conversions resolve through (the coordinator's metadata image). */
type Image = Pick<TopicImage, "topic" | "topicName" | "computeMetadataHash">;

/** Utils.toTopicPartitionMap: an assignment by topic name as partitions by topic id, unknown topics dropped. */
function toTopicPartitionMap(assignment: ConsumerProtocolAssignment, image: Image): Assignment {
  const entries: [string, readonly number[]][] = [];
  for (const { topic, partitions } of assignment.assignedPartitions) {
    const id = image.topic(topic)?.id;
    if (id !== undefined) entries.push([id, partitions]);
  }
  return assignmentFromRecord(entries);
}

/** Utils.toConsumerProtocolAssignment: partitions by topic id as a ConsumerProtocolAssignment, unknown topics dropped. */
export function toConsumerProtocolAssignment(assignment: Assignment, image: Pick<TopicImage, "topicName">): ConsumerProtocolAssignment {
  const assignedPartitions: { topic: string; partitions: number[] }[] = [];
  for (const [topicId, partitions] of assignment) {
    const topic = image.topicName(topicId);
    if (topic !== undefined) assignedPartitions.push({ topic, partitions: [...partitions] });
  }
  return { assignedPartitions, userData: null };
}

/**
 * ConsumerGroup.fromClassicGroup: the consumer group the classic group becomes. Throws SchemaError
 * when a member's subscription or assignment does not parse, CustomAssignorUserData when an
 * assignment has user data, and Error when the group has no selected protocol (Kafka's
 * Optional.get) or two members own one partition.
 */
export function consumerGroupFromClassicGroup(classic: ClassicGroup, image: Image): ConsumerGroup {
  const generationId = classic.generationId;
  const group = new ConsumerGroup(classic.groupId);
  group.setGroupEpoch(generationId);
  group.setTargetAssignmentMetadata(generationId, 0n);
  for (const memberId of javaHashMapOrder(classic.members.keys())) {
    const classicMember = classic.members.get(memberId) as ClassicMember;
    let assigned: Assignment = new Map();
    if (classicMember.assignment.length > 0) {
      const assignment = decodeAssignment(classicMember.assignment);
      if (assignment.userData !== null && assignment.userData.length > 0) throw new CustomAssignorUserData();
      assigned = toTopicPartitionMap(assignment, image);
    }
    if (classic.protocolName === null) throw new Error("No value present");
    const subscription = decodeSubscription(classicMember.metadata(classic.protocolName) ?? Buffer.alloc(0));
    const member = group.memberOrNew(memberId).with({
      memberEpoch: generationId,
      state: MemberState.STABLE,
      previousMemberEpoch: generationId,
      instanceId: classicMember.groupInstanceId,
      rackId: subscription.rackId === null || subscription.rackId === "" ? null : subscription.rackId,
      rebalanceTimeoutMs: classicMember.rebalanceTimeoutMs,
      clientId: classicMember.clientId,
      clientHost: classicMember.clientHost,
      subscribedTopicNames: javaHashSetOf(subscription.topics),
      assignedPartitions: withEpochs(assigned, generationId),
      classicMemberMetadata: {
        sessionTimeoutMs: classicMember.sessionTimeoutMs,
        supportedProtocols: classicMember.protocols.map((protocol) => ({ name: protocol.name, metadata: protocol.metadata })),
      },
    });
    group.updateTargetAssignment(memberId, assigned);
    group.updateMember(member);
  }
  group.metadataHash = image.computeMetadataHash(group.subscribedTopicNames);
  return group;
}

/** ConsumerGroup.createConsumerGroupRecords: subscriptions, epoch, target assignment, current assignments. */
export function consumerGroupRecords(group: ConsumerGroup): RecordToWrite[] {
  const groupId = group.groupId;
  const members = javaHashMapOrder(group.members.keys()).map((memberId) => group.members.get(memberId) as ConsumerGroupMember);
  const records: RecordToWrite[] = [];
  for (const member of members) records.push(consumerGroupMemberSubscriptionRecord(groupId, member));
  records.push(consumerGroupEpochRecord(groupId, group.groupEpoch, group.metadataHash));
  for (const member of members) records.push(consumerGroupTargetAssignmentRecord(groupId, member.memberId, group.targetAssignmentOf(member.memberId)));
  records.push(consumerGroupTargetAssignmentMetadataRecord(groupId, group.assignmentEpoch, group.assignmentTimestamp));
  for (const member of members) records.push(consumerGroupCurrentAssignmentRecord(groupId, member));
  return records;
}

/** A ClassicMember for a classic member of a consumer group (its JoinGroup protocols and session timeout). */
function classicMemberOf(member: ConsumerGroupMember, memberId = member.memberId): ClassicMember {
  return new ClassicMember(
    memberId,
    member.instanceId,
    member.clientId,
    member.clientHost,
    member.rebalanceTimeoutMs,
    member.classicProtocolSessionTimeout as number,
    CONSUMER_PROTOCOL_TYPE,
    member.supportedClassicProtocols.map((protocol) => ({ name: protocol.name, metadata: protocol.metadata })),
  );
}

/**
 * ClassicGroup.fromConsumerGroup: the classic group the consumer group becomes, without the
 * `leaving` members; a `joining` static member replaces the member of its instance id and takes its
 * target assignment. Throws SchemaError when a member's metadata has no version header.
 */
export function classicGroupFromConsumerGroup(
  group: ConsumerGroup,
  leaving: readonly ConsumerGroupMember[],
  joining: ConsumerGroupMember | null,
  image: Pick<TopicImage, "topicName">,
  nowMs: number,
): ClassicGroup {
  const classic = new ClassicGroup(group.groupId, nowMs);
  classic.state = "Stable";
  classic.generationId = group.groupEpoch;
  classic.protocolType = CONSUMER_PROTOCOL_TYPE;
  const leavingIds = new Set(leaving.map((member) => member.memberId));
  for (const memberId of javaHashMapOrder(group.members.keys())) {
    const member = group.members.get(memberId) as ConsumerGroupMember;
    if (leavingIds.has(memberId)) continue;
    if (joining !== null && joining.instanceId !== null && joining.instanceId === member.instanceId) continue;
    classic.add(classicMemberOf(member), nowMs);
  }
  if (joining !== null) classic.add(classicMemberOf(joining), nowMs);
  classic.protocolName = classic.selectProtocol();
  for (const classicMember of classic.members.values()) {
    let memberId = classicMember.memberId;
    if (joining !== null && memberId === joining.memberId) {
      const replaced = joining.instanceId === null ? undefined : group.staticMember(joining.instanceId);
      if (replaced === undefined) throw new Error("joiningMember must be a static member when not null.");
      memberId = replaced.memberId;
    }
    const version = deserializeVersion(classicMember.metadata(classic.protocolName) ?? Buffer.alloc(0));
    classicMember.assignment = encodeAssignment(toConsumerProtocolAssignment(group.targetAssignmentOf(memberId), image), version);
  }
  return classic;
}

/** ClassicGroup.createClassicGroupRecords: the group's GroupMetadata record with every member's assignment. */
export function classicGroupRecords(classic: ClassicGroup): RecordToWrite[] {
  const assignments = new Map([...classic.members.values()].map((member) => [member.memberId, member.assignment]));
  return [groupMetadataRecord(classic, assignments)];
}
