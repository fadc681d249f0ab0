// DescribeTopicPartitions (key 75, KIP-966): what Kafka 4's admin client (kafka-topics
// --describe) uses instead of Metadata. Topics sorted by name (all of them for an empty
// list), partitions paged by responsePartitionLimit with a cursor to continue from.
// Authorization (Kafka's DescribeTopicPartitionsRequestHandler): DESCRIBE on each topic. A topic
// without it is left out of an all-topics answer, and a named one is answered
// TOPIC_AUTHORIZATION_FAILED (zero id, no partitions) after the others, whether it exists or
// not; every other topic (unknown ones too) carries the principal's authorized operations.

import { ErrorCode } from "../protocol/errors.js";
import type {
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
  DescribeTopicPartitionsResponseCursor,
  DescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic,
} from "../protocol/generated/describe-topic-partitions.js";
import { AclOperation, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import { authorizedOperations, OPERATIONS_NOT_REQUESTED, ZERO_UUID } from "./common.js";

/** Kafka's max.request.partition.size.limit default. */
const PARTITION_LIMIT = 2000;

export const describeTopicPartitions = defineHandler<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse>(
  75,
  { min: 0, max: 0 },
  (context, request) => {
    const { metadata } = context;
    const all = request.topics.length === 0;
    const names = all ? [...metadata.topics()].map((topic) => topic.name) : [...new Set(request.topics.map((topic) => topic.name))];
    names.sort();
    const limit = Math.max(1, Math.min(request.responsePartitionLimit > 0 ? request.responsePartitionLimit : PARTITION_LIMIT, PARTITION_LIMIT));
    const cursor = request.cursor;
    let left = limit;
    let nextCursor: DescribeTopicPartitionsResponseCursor | null = null;
    const topics: DescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic[] = [];
    const unauthorized: DescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopic[] = [];
    for (const name of names) {
      if (cursor !== null && name < cursor.topicName) continue;
      if (!context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, name)) {
        if (!all)
          unauthorized.push({
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: [],
            topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
          });
        continue;
      }
      const topic = metadata.topic(name);
      if (topic === undefined) {
        topics.push({
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          name,
          topicId: ZERO_UUID,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: authorizedOperations(context, ResourceType.TOPIC, name),
        });
        continue;
      }
      if (left === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const start = cursor !== null && name === cursor.topicName ? cursor.partitionIndex : 0;
      const partitions = [];
      for (let index = start; index < topic.partitions.length; index++) {
        if (left === 0) {
          nextCursor = { topicName: name, partitionIndex: index };
          break;
        }
        const partition = topic.partitions[index];
        partitions.push({
          errorCode: ErrorCode.NONE,
          partitionIndex: index,
          leaderId: partition.leaderId,
          leaderEpoch: partition.leaderEpoch,
          replicaNodes: [...partition.replicas],
          isrNodes: [...partition.isr],
          eligibleLeaderReplicas: [],
          lastKnownElr: [],
          offlineReplicas: [...partition.offlineReplicas],
        });
        left--;
      }
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.id,
        isInternal: topic.isInternal,
        partitions,
        topicAuthorizedOperations: authorizedOperations(context, ResourceType.TOPIC, name),
      });
      if (nextCursor !== null) break;
    }
    return { throttleTimeMs: 0, topics: [...topics, ...unauthorized], nextCursor };
  },
);
