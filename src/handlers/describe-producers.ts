// DescribeProducers (key 61), version 0: the active producers of each partition asked for, from
// the partition's producer state (kafka-transactions.sh describe-producers / find-hanging): id,
// epoch, last sequence and timestamp, coordinator epoch, and the first offset of the producer's
// open transaction (-1 when none). Errors per partition as Kafka answers them (unknown topic or
// partition: UNKNOWN_TOPIC_OR_PARTITION). As KafkaApis: an invalid topic name is
// INVALID_TOPIC_EXCEPTION, then READ on the topic is needed (TOPIC_AUTHORIZATION_FAILED).

import { validateTopicName } from "../config/index.js";
import { ErrorCode } from "../protocol/errors.js";
import type { DescribeProducersRequest, DescribeProducersResponse } from "../protocol/generated/describe-producers.js";
import { AclOperation, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf } from "./common.js";

export const describeProducers = defineHandler<DescribeProducersRequest, DescribeProducersResponse>(
  61,
  { min: 0, max: 0 },
  (context, request) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => {
        const invalid = validateTopicName(topic.name);
        if (invalid !== null) return { partitionIndex, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: invalid, activeProducers: [] };
        if (!context.authorized(AclOperation.READ, ResourceType.TOPIC, topic.name))
          return { partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null, activeProducers: [] };
        const partition = context.partitions.lookup(topic.name, partitionIndex);
        if (typeof partition === "number") return { partitionIndex, errorCode: partition, errorMessage: null, activeProducers: [] };
        try {
          return {
            partitionIndex,
            errorCode: 0,
            errorMessage: null,
            activeProducers: partition.log.producerStates().map((state) => ({
              producerId: state.producerId,
              producerEpoch: state.producerEpoch,
              lastSequence: state.lastSequence,
              lastTimestamp: state.lastTimestamp,
              coordinatorEpoch: state.coordinatorEpoch,
              currentTxnStartOffset: state.currentTxnFirstOffset ?? -1n,
            })),
          };
        } catch (error) {
          return { partitionIndex, errorCode: errorCodeOf(error), errorMessage: null, activeProducers: [] };
        }
      }),
    })),
  }),
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode, errorMessage: null, activeProducers: [] })),
    })),
  }),
);
