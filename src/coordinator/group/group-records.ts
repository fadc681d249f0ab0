// The __consumer_offsets records the group coordinator writes, built as Kafka 4.4's
// GroupCoordinatorRecordHelpers builds them (same record versions: GroupMetadataValue v3,
// OffsetCommitValue v4 with the topic id, or v1 when the commit has an expire timestamp;
// test/interop/consumer-offsets-vs-kafka.test.ts compares them with Kafka's).

import { ZERO_UUID } from "../../protocol/runtime.js";
import { GroupRecordType } from "../records.js";
import type { ClassicGroup } from "./classic-group.js";
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
