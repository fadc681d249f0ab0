// ShareGroupDescribe (key 77), version 1: KIP-932 share groups with their epochs, assignor
// ("simple"), state and members (subscription and assignment, topics named). An unknown group, or
// one of another type, is GROUP_ID_NOT_FOUND with Kafka's message. Authorization: DESCRIBE on each
// group (the refused ones first, GROUP_AUTHORIZATION_FAILED); a group whose members' assignments
// name a topic the principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED, without members.

import { ErrorCode } from "../../protocol/errors.js";
import type {
  ShareGroupDescribeRequest,
  ShareGroupDescribeResponse,
  ShareGroupDescribeResponseDescribedGroup,
} from "../../protocol/generated/share-group-describe.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { authorizedOperations, OPERATIONS_NOT_REQUESTED } from "../common.js";

const failedGroup = (groupId: string, errorCode: number, errorMessage: string | null = null): ShareGroupDescribeResponseDescribedGroup => ({
  errorCode,
  errorMessage,
  groupId,
  groupState: "",
  groupEpoch: 0,
  assignmentEpoch: 0,
  assignorName: "",
  members: [],
  authorizedOperations: OPERATIONS_NOT_REQUESTED,
});

export const shareGroupDescribe = defineHandler<ShareGroupDescribeRequest, ShareGroupDescribeResponse>(
  77,
  { min: 1, max: 1 },
  (context, request) => {
    const refused = request.groupIds
      .filter((groupId) => !context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
      .map((groupId) => failedGroup(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED));
    const described = request.groupIds
      .filter((groupId) => context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
      .map((groupId) => {
        const group = context.groups.describeShareGroup(
          groupId,
          request.includeAuthorizedOperations ? authorizedOperations(context, ResourceType.GROUP, groupId) : OPERATIONS_NOT_REQUESTED,
        );
        const topics = new Set(group.members.flatMap((member) => member.assignment.topicPartitions.map((tp) => tp.topicName)));
        if ([...topics].every((topic) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, topic))) return group;
        return failedGroup(groupId, ErrorCode.TOPIC_AUTHORIZATION_FAILED, "The group has described topic(s) that the client is not authorized to describe.");
      });
    return { throttleTimeMs: 0, groups: [...refused, ...described] };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, groups: request.groupIds.map((groupId) => failedGroup(groupId, errorCode)) }),
);
