// AlterPartitionReassignments (key 45), versions 0-1: kafka-reassign-partitions.sh --execute /
// --cancel and Admin.alterPartitionReassignments. Per partition: a target replica list starts a
// reassignment (KIP-455; src/cluster/reassignments.ts), null cancels the ongoing one
// (NO_REASSIGNMENT_IN_PROGRESS when there is none); unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION, bad targets INVALID_REPLICA_ASSIGNMENT with Kafka's messages. v1's
// allowReplicationFactorChange false refuses a target of another size.

import { ErrorCode } from "../protocol/errors.js";
import type { AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse } from "../protocol/generated/alter-partition-reassignments.js";
import { defineHandler } from "../server/registry.js";

export const alterPartitionReassignments = defineHandler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>(
  45,
  { min: 0, max: 1 },
  async (context, request) => {
    const allowChange = context.apiVersion >= 1 ? request.allowReplicationFactorChange : true;
    const responses = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (partition) => {
            const result = await context.reassignments.alter(topic.name, partition.partitionIndex, partition.replicas, allowChange);
            return { partitionIndex: partition.partitionIndex, errorCode: result.errorCode, errorMessage: result.message };
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, allowReplicationFactorChange: allowChange, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
  (context, request, errorCode) => ({
    throttleTimeMs: 0,
    allowReplicationFactorChange: context.apiVersion >= 1 ? request.allowReplicationFactorChange : true,
    errorCode,
    errorMessage: null,
    responses: [],
  }),
);
