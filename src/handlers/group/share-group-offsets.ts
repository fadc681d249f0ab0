// The share-group offset admin APIs (KIP-932), answered by the group coordinator with the share
// coordinator's state — what kafka-share-groups.sh --describe / --reset-offsets / --delete-offsets use:
//   DescribeShareGroupOffsets (key 90), versions 0-1: each partition's start offset, leader epoch
//     and (v1) lag; every initialized partition when no topics are named.
//   AlterShareGroupOffsets (key 91), version 0: new start offsets for an empty (or new) group.
//   DeleteShareGroupOffsets (key 92), version 0: forgets an empty group's state of whole topics.
// NON_EMPTY_GROUP ("The group is not empty.") while members are in the group, as Kafka answers.
// Authorization as Kafka's KafkaApis: DESCRIBE (describe), READ (alter) or DELETE (delete) on the
// group; DESCRIBE (describe) or READ on each topic.

import { ErrorCode } from "../../protocol/errors.js";
import type { AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse } from "../../protocol/generated/alter-share-group-offsets.js";
import type { DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse } from "../../protocol/generated/delete-share-group-offsets.js";
import type { DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse } from "../../protocol/generated/describe-share-group-offsets.js";
import { ZERO_UUID } from "../../protocol/runtime.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const describeShareGroupOffsets = defineHandler<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>(
  90,
  { min: 0, max: 1 },
  async (context, request) => {
    const groups = [];
    for (const group of request.groups) {
      if (!context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, group.groupId)) {
        groups.push({ groupId: group.groupId, topics: [], errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      const refused = (group.topics ?? []).filter((t) => !context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, t.topicName));
      const allowed = group.topics === null ? null : group.topics.filter((t) => !refused.includes(t));
      const described = await context.groups.describeShareGroupOffsets(group.groupId, allowed, context.apiVersion >= 1);
      const topics = [
        ...described.topics,
        ...refused.map((t) => ({
          topicName: t.topicName,
          topicId: ZERO_UUID,
          partitions: t.partitions.map((partitionIndex) => ({
            partitionIndex,
            startOffset: -1n,
            leaderEpoch: 0,
            lag: -1n,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            errorMessage: null,
          })),
        })),
      ].filter((t) => group.topics !== null || context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, t.topicName));
      groups.push({ groupId: group.groupId, topics, errorCode: described.errorCode, errorMessage: described.errorMessage });
    }
    return { throttleTimeMs: 0, groups };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode, errorMessage: null })),
  }),
);

export const alterShareGroupOffsets = defineHandler<AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse>(
  91,
  { min: 0, max: 0 },
  async (context, request) => {
    if (!context.authorized(AclOperation.READ, ResourceType.GROUP, request.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, responses: [] };
    }
    const refused = request.topics.filter((t) => !context.authorized(AclOperation.READ, ResourceType.TOPIC, t.topicName));
    const result = await context.groups.alterShareGroupOffsets(
      request.groupId,
      request.topics.filter((t) => !refused.includes(t)),
    );
    const denied = refused.map((t) => ({
      topicName: t.topicName,
      topicId: ZERO_UUID,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null })),
    }));
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      responses: result.errorCode === ErrorCode.NONE ? [...denied, ...result.responses] : [],
    };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, responses: [] }),
);

export const deleteShareGroupOffsets = defineHandler<DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse>(
  92,
  { min: 0, max: 0 },
  async (context, request) => {
    if (!context.authorized(AclOperation.DELETE, ResourceType.GROUP, request.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, responses: [] };
    }
    const names = request.topics.map((t) => t.topicName);
    const refused = names.filter((name) => !context.authorized(AclOperation.READ, ResourceType.TOPIC, name));
    const result = await context.groups.deleteShareGroupOffsets(
      request.groupId,
      names.filter((name) => !refused.includes(name)),
    );
    const denied = refused.map((topicName) => ({ topicName, topicId: ZERO_UUID, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null }));
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      responses: result.errorCode === ErrorCode.NONE ? [...result.responses, ...denied] : [],
    };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, responses: [] }),
);
