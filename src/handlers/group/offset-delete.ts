// OffsetDelete (key 47), version 0: removes a group's committed offsets for some partitions
// (kafka-consumer-groups --delete-offsets). The group must be empty, or use the consumer protocol
// and not be subscribed to the topic (GROUP_SUBSCRIBED_TO_TOPIC); an unknown topic's partitions
// get UNKNOWN_TOPIC_OR_PARTITION, as Kafka's KafkaApis answers. Authorization: DELETE on the group
// (src/handlers/index.ts), then READ on each topic (TOPIC_AUTHORIZATION_FAILED, before existence).

import { ErrorCode } from "../../protocol/errors.js";
import type { OffsetDeleteRequest, OffsetDeleteResponse } from "../../protocol/generated/offset-delete.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const offsetDelete = defineHandler<OffsetDeleteRequest, OffsetDeleteResponse>(
  47,
  { min: 0, max: 0 },
  (context, request) => {
    const readable = new Set(
      request.topics.filter((topic) => context.authorized(AclOperation.READ, ResourceType.TOPIC, topic.name)).map((topic) => topic.name),
    );
    const known = request.topics.filter((topic) => readable.has(topic.name) && context.metadata.topic(topic.name) !== undefined);
    const result = context.groups.deleteOffsets(
      request.groupId,
      known.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => partition.partitionIndex) })),
      Date.now(),
    );
    if (typeof result === "number") return { errorCode: result, throttleTimeMs: 0, topics: [] };
    return {
      errorCode: ErrorCode.NONE,
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          errorCode: readable.has(topic.name)
            ? (result.get(`${topic.name}:${partition.partitionIndex}`) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
            : ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        })),
      })),
    };
  },
  (_context, _request, errorCode) => ({ errorCode, throttleTimeMs: 0, topics: [] }),
);
