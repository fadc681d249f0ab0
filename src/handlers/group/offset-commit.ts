// OffsetCommit (key 8), versions 2-10: a group's consumed positions, written to
// __consumer_offsets before the response (the commit is as durable as an acks=all produce).
// Topics are checked first, as Kafka's KafkaApis does: an unknown topic gets
// UNKNOWN_TOPIC_OR_PARTITION for its partitions (v10, by topic id: UNKNOWN_TOPIC_ID), a
// partition past the topic's count UNKNOWN_TOPIC_OR_PARTITION; the rest go to the group
// coordinator, which checks the group (generation, member, instance id) and each metadata's size.
// v2-4 retention time (record version 1 with an expire timestamp); v7+ group instance id;
// v9+ GROUP_ID_NOT_FOUND for a missing group with a generation (ILLEGAL_GENERATION before).

import type { OffsetToCommit } from "../../coordinator/group/coordinator.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponseOffsetCommitResponseTopic } from "../../protocol/generated/offset-commit.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { ZERO_UUID } from "../common.js";

export const offsetCommit = defineHandler<OffsetCommitRequest, OffsetCommitResponse>(
  8,
  { min: 2, max: 10 },
  async (context, request) => {
    const byTopicId = context.apiVersion >= 10;
    const topics: OffsetCommitResponseOffsetCommitResponseTopic[] = [];
    const toCommit: OffsetToCommit[] = [];
    /** Where each committed offset's error goes. */
    const slots: { errorCode: number }[] = [];
    for (const topic of request.topics) {
      const metadata = byTopicId ? context.metadata.topicById(topic.topicId) : context.metadata.topic(topic.name);
      const partitions = topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: ErrorCode.NONE as number }));
      topics.push({ name: byTopicId ? "" : topic.name, topicId: byTopicId ? topic.topicId : ZERO_UUID, partitions });
      // Authorization: READ on the topic, before its existence for a name.
      const name = byTopicId ? metadata?.name : topic.name;
      const readable = name === undefined || context.authorized(AclOperation.READ, ResourceType.TOPIC, name);
      topic.partitions.forEach((partition, index) => {
        const slot = partitions[index] as { errorCode: number };
        if (!readable) {
          slot.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        } else if (metadata === undefined) {
          slot.errorCode = byTopicId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } else if (partition.partitionIndex < 0 || partition.partitionIndex >= metadata.partitions.length) {
          slot.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } else {
          toCommit.push({
            topic: metadata.name,
            partition: partition.partitionIndex,
            offset: partition.committedOffset,
            leaderEpoch: context.apiVersion >= 6 ? partition.committedLeaderEpoch : -1,
            metadata: partition.committedMetadata,
            topicId: metadata.id,
          });
          slots.push(slot);
        }
      });
    }
    if (toCommit.length > 0) {
      const result = context.groups.commitOffsets(
        {
          groupId: request.groupId,
          generationIdOrMemberEpoch: request.generationIdOrMemberEpoch,
          memberId: request.memberId,
          groupInstanceId: context.apiVersion >= 7 ? request.groupInstanceId : null,
          retentionTimeMs: context.apiVersion <= 4 ? request.retentionTimeMs : -1n,
          apiVersion: context.apiVersion,
        },
        toCommit,
        Date.now(),
      );
      slots.forEach((slot, index) => {
        slot.errorCode = typeof result === "number" ? result : (result[index] as number);
      });
      // Answered once the commit is replicated to the offsets partition's ISR (Kafka acks it with acks=all).
      if (typeof result !== "number") {
        const durable = context.groups.whenDurable(request.groupId);
        const error = typeof durable === "number" ? durable : await durable;
        if (error !== ErrorCode.NONE) for (const slot of slots) if (slot.errorCode === ErrorCode.NONE) slot.errorCode = error;
      }
    }
    return { throttleTimeMs: 0, topics };
  },
  (context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      topicId: context.apiVersion >= 10 ? topic.topicId : ZERO_UUID,
      partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode })),
    })),
  }),
);
