// The __consumer_offsets records the group coordinator writes, built as Kafka 4.4's
// GroupCoordinatorRecordHelpers builds them (same record versions: GroupMetadataValue v3,
// OffsetCommitValue v4 with the topic id, or v1 when the commit has an expire timestamp;
// test/interop/consumer-offsets-vs-kafka.test.ts compares them with Kafka's).

import { ZERO_UUID } from "../../protocol/runtime.js";
import { GroupRecordType } from "../records.js";
import type { ClassicGroup } from "./classic-group.js";
import type { Assignment, ConsumerGroupMember, PartitionEpochs, ResolvedRegularExpression } from "./consumer-group.js";
import type { CommittedOffset } from "./offsets.js";
import type { RecordToWrite } from "./shard.js";

const GROUP_METADATA_VALUE_VERSION = 3;

/**
 * A classic group's GroupMetadata record: with `assignment`, its members (subscription in the
 * selected protocol, assignment); without, the record of an empty group (newEmptyGroupMetadataRecord
 * for a new group, newGroupMetadataRecord with no members for one that became empty).
 */
export function groupMetadataRecord(group: ClassicGroup, assignment?: ReadonlyMap<string, Buffer>): RecordToWrite {
  const members =
    assignment === undefined
      ? []
      : [...group.members.values()].map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          rebalanceTimeout: member.rebalanceTimeoutMs,
          sessionTimeout: member.sessionTimeoutMs,
          subscription: member.metadata(group.protocolName) ?? Buffer.alloc(0),
          assignment: assignment.get(member.memberId) ?? Buffer.alloc(0),
          unknownTaggedFields: undefined,
        }));
  const isNewEmpty = assignment === undefined && group.generationId === 0;
  return {
    recordType: GroupRecordType.GroupMetadata,
    key: { group: group.groupId, unknownTaggedFields: undefined },
    value: {
      protocolType: isNewEmpty ? "" : (group.protocolType ?? ""),
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.currentStateTimestamp ?? -1),
      members,
      unknownTaggedFields: undefined,
    },
    version: GROUP_METADATA_VALUE_VERSION,
  };
}

export function groupTombstone(groupId: string): RecordToWrite {
  return { recordType: GroupRecordType.GroupMetadata, key: { group: groupId, unknownTaggedFields: undefined }, value: null, version: -1 };
}

export function offsetCommitRecord(group: string, topic: string, partition: number, offset: CommittedOffset): RecordToWrite {
  const version = offset.expireTimestampMs !== null ? 1 : 4;
  return {
    recordType: GroupRecordType.OffsetCommit,
    key: { group, topic, partition, unknownTaggedFields: undefined },
    value: {
      offset: offset.offset,
      leaderEpoch: offset.leaderEpoch,
      metadata: offset.metadata,
      commitTimestamp: BigInt(offset.commitTimestampMs),
      expireTimestamp: BigInt(offset.expireTimestampMs ?? -1),
      topicId: offset.topicId ?? ZERO_UUID,
      unknownTaggedFields: undefined,
    },
    version,
  };
}

export function offsetTombstone(group: string, topic: string, partition: number): RecordToWrite {
  return { recordType: GroupRecordType.OffsetCommit, key: { group, topic, partition, unknownTaggedFields: undefined }, value: null, version: -1 };
}

// ------------------------------------------------------------------------------------------------
// Consumer groups (KIP-848): GroupCoordinatorRecordHelpers.newConsumerGroup*; every value is version 0.

const tombstone = (recordType: number, key: Record<string, unknown>): RecordToWrite => ({
  recordType,
  key: { ...key, unknownTaggedFields: undefined },
  value: null,
  version: -1,
});

const record = (recordType: number, key: Record<string, unknown>, value: Record<string, unknown>): RecordToWrite => ({
  recordType,
  key: { ...key, unknownTaggedFields: undefined },
  value: { ...value, unknownTaggedFields: undefined },
  version: 0,
});

/** ConsumerGroupMemberMetadata: the member's subscription (topic names sorted, as Kafka writes them). */
export function consumerGroupMemberSubscriptionRecord(groupId: string, member: ConsumerGroupMember): RecordToWrite {
  const classic = member.classicMemberMetadata;
  return record(
    GroupRecordType.ConsumerGroupMemberMetadata,
    { groupId, memberId: member.memberId },
    {
      instanceId: member.instanceId,
      rackId: member.rackId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      subscribedTopicNames: [...member.subscribedTopicNames].sort(javaStringCompare),
      subscribedTopicRegex: member.subscribedTopicRegex,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      serverAssignor: member.serverAssignorName,
      classicMemberMetadata:
        classic === null
          ? null
          : {
              sessionTimeoutMs: classic.sessionTimeoutMs,
              supportedProtocols: classic.supportedProtocols.map((p) => ({ name: p.name, metadata: p.metadata, unknownTaggedFields: undefined })),
              unknownTaggedFields: undefined,
            },
    },
  );
}

export function consumerGroupMemberSubscriptionTombstone(groupId: string, memberId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupMemberMetadata, { groupId, memberId });
}

/** The deprecated ConsumerGroupPartitionMetadata record's tombstone (Kafka 4.x writes it to remove an old one). */
export function consumerGroupSubscriptionMetadataTombstone(groupId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupPartitionMetadata, { groupId });
}

export function consumerGroupEpochRecord(groupId: string, epoch: number, metadataHash: bigint): RecordToWrite {
  return record(GroupRecordType.ConsumerGroupMetadata, { groupId }, { epoch, metadataHash });
}

export function consumerGroupEpochTombstone(groupId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupMetadata, { groupId });
}

export function consumerGroupTargetAssignmentRecord(groupId: string, memberId: string, partitions: Assignment): RecordToWrite {
  return record(
    GroupRecordType.ConsumerGroupTargetAssignmentMember,
    { groupId, memberId },
    { topicPartitions: [...partitions].map(([topicId, set]) => ({ topicId, partitions: [...set], unknownTaggedFields: undefined })) },
  );
}

export function consumerGroupTargetAssignmentTombstone(groupId: string, memberId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupTargetAssignmentMember, { groupId, memberId });
}

export function consumerGroupTargetAssignmentMetadataRecord(groupId: string, assignmentEpoch: number, assignmentTimestamp: bigint): RecordToWrite {
  return record(GroupRecordType.ConsumerGroupTargetAssignmentMetadata, { groupId }, { assignmentEpoch, assignmentTimestamp });
}

export function consumerGroupTargetAssignmentMetadataTombstone(groupId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupTargetAssignmentMetadata, { groupId });
}

function partitionEpochsToRecord(epochs: PartitionEpochs) {
  return [...epochs].map(([topicId, partitions]) => {
    const list = [...partitions.keys()];
    return { topicId, partitions: list, assignmentEpochs: list.map((p) => partitions.get(p) as number), unknownTaggedFields: undefined };
  });
}

export function consumerGroupCurrentAssignmentRecord(groupId: string, member: ConsumerGroupMember): RecordToWrite {
  return record(
    GroupRecordType.ConsumerGroupCurrentMemberAssignment,
    { groupId, memberId: member.memberId },
    {
      memberEpoch: member.memberEpoch,
      previousMemberEpoch: member.previousMemberEpoch,
      state: member.state,
      assignedPartitions: partitionEpochsToRecord(member.assignedPartitions),
      partitionsPendingRevocation: partitionEpochsToRecord(member.partitionsPendingRevocation),
    },
  );
}

export function consumerGroupCurrentAssignmentTombstone(groupId: string, memberId: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupCurrentMemberAssignment, { groupId, memberId });
}

export function consumerGroupRegularExpressionRecord(groupId: string, regex: string, resolved: ResolvedRegularExpression): RecordToWrite {
  return record(
    GroupRecordType.ConsumerGroupRegularExpression,
    { groupId, regularExpression: regex },
    { topics: [...resolved.topics].sort(javaStringCompare), version: resolved.version, timestamp: resolved.timestamp },
  );
}

export function consumerGroupRegularExpressionTombstone(groupId: string, regex: string): RecordToWrite {
  return tombstone(GroupRecordType.ConsumerGroupRegularExpression, { groupId, regularExpression: regex });
}

/** Java's String.compareTo (UTF-16 code units), the order Collections.sort gives names. */
export function javaStringCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
