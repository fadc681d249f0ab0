// TxnOffsetCommit (key 28), versions 0-6: a transactional producer commits its consumer group's
// offsets inside its transaction (sendOffsetsToTransaction). As in KafkaApis and Kafka 4.4's group
// coordinator: unknown topics get UNKNOWN_TOPIC_OR_PARTITION (v6, by id: UNKNOWN_TOPIC_ID); the
// group's __consumer_offsets partition must be in the transaction — verified with the transaction
// coordinator (v0-4, added by AddOffsetsToTxn) or added to it here (v5+, transaction version 2);
// the group checks the member (with the transactional relaxations) and the records are written in a
// transactional batch of the producer, pending until the transaction's marker (UNSTABLE_OFFSET_COMMIT
// for a requireStable OffsetFetch meanwhile).
// Authorization (KafkaApis): WRITE on the transactional id, then READ on the group (both in
// src/handlers/index.ts), then READ on each topic: a topic without it answers
// TOPIC_AUTHORIZATION_FAILED on its partitions, before any check of its existence.

import type { OffsetToCommit } from "../../coordinator/group/coordinator.js";
import { ErrorCode } from "../../protocol/errors.js";
import type {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponse,
  TxnOffsetCommitResponseTxnOffsetCommitResponseTopic,
} from "../../protocol/generated/txn-offset-commit.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { ZERO_UUID } from "../common.js";

/** Verification errors a TxnOffsetCommit answers as COORDINATOR_NOT_AVAILABLE (GroupCoordinatorService.handleOperationException). */
const RETRIABLE_AS_COORDINATOR_NOT_AVAILABLE = new Set<number>([
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.REQUEST_TIMED_OUT,
]);

export const txnOffsetCommit = defineHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>(
  28,
  { min: 0, max: 6 },
  async (context, request) => {
    const byTopicId = context.apiVersion >= 6;
    const topics: TxnOffsetCommitResponseTxnOffsetCommitResponseTopic[] = [];
    const toCommit: OffsetToCommit[] = [];
    const slots: { errorCode: number }[] = [];
    for (const topic of request.topics) {
      const metadata = byTopicId ? context.metadata.topicById(topic.topicId) : context.metadata.topic(topic.name);
      // An unknown id has no name to authorize: UNKNOWN_TOPIC_ID.
      const name = byTopicId ? metadata?.name : topic.name;
      const readable = name === undefined || context.authorized(AclOperation.READ, ResourceType.TOPIC, name);
      const partitions = topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: ErrorCode.NONE as number }));
      topics.push({ name: byTopicId ? "" : topic.name, topicId: byTopicId ? topic.topicId : ZERO_UUID, partitions });
      topic.partitions.forEach((partition, index) => {
        const slot = partitions[index] as { errorCode: number };
        if (!readable) slot.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        else if (metadata === undefined) slot.errorCode = byTopicId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (partition.partitionIndex < 0 || partition.partitionIndex >= metadata.partitions.length) slot.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          toCommit.push({
            topic: metadata.name,
            partition: partition.partitionIndex,
            offset: partition.committedOffset,
            leaderEpoch: context.apiVersion >= 2 ? partition.committedLeaderEpoch : -1,
            metadata: partition.committedMetadata,
            topicId: metadata.id,
          });
          slots.push(slot);
        }
      });
    }
    if (toCommit.length === 0) return { throttleTimeMs: 0, topics };
    const fail = (errorCode: number) => {
      for (const slot of slots) slot.errorCode = errorCode;
      return { throttleTimeMs: 0, topics };
    };
    const offsetsPartition = context.groups.partitionFor(request.groupId);
    const operation = context.apiVersion >= 5 ? "addPartition" : context.apiVersion >= 4 ? "genericErrorSupported" : "defaultError";
    const [verified = ErrorCode.NONE] = await context.transactions.verifyOrAddForAppend(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      [{ topic: "__consumer_offsets", partition: offsetsPartition }],
      operation,
    );
    if (verified !== ErrorCode.NONE) return fail(RETRIABLE_AS_COORDINATOR_NOT_AVAILABLE.has(verified) ? ErrorCode.COORDINATOR_NOT_AVAILABLE : verified);
    const result = context.groups.commitTransactionalOffsets(
      {
        groupId: request.groupId,
        generationIdOrMemberEpoch: context.apiVersion >= 3 ? request.generationIdOrMemberEpoch : -1,
        memberId: context.apiVersion >= 3 ? request.memberId : "",
        groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null,
        apiVersion: context.apiVersion,
      },
      toCommit,
      request.producerId,
      request.producerEpoch,
      Date.now(),
    );
    if (typeof result === "number") return fail(result);
    result.forEach((errorCode, index) => {
      (slots[index] as { errorCode: number }).errorCode = errorCode;
    });
    // Answered once replicated to the offsets partition's ISR.
    const durable = await context.groups.whenDurable(request.groupId);
    if (durable !== ErrorCode.NONE) for (const slot of slots) if (slot.errorCode === ErrorCode.NONE) slot.errorCode = durable;
    return { throttleTimeMs: 0, topics };
  },
  (context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: context.apiVersion >= 6 ? "" : topic.name,
      topicId: context.apiVersion >= 6 ? topic.topicId : ZERO_UUID,
      partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode })),
    })),
  }),
);
