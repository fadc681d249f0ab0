// ConsumerGroupDescribe (key 69), versions 0-1: KIP-848 consumer groups with their epochs,
// assignor, state and members (subscription, current assignment — assigned and pending
// revocation — and target assignment, topics named). An unknown group, or one of another type,
// is GROUP_ID_NOT_FOUND with Kafka's message. v1: each member's type (0 classic, 1 consumer).
// As Kafka's KafkaApis: UNSUPPORTED_VERSION when group.coordinator.rebalance.protocols lacks "consumer".
// Authorization: DESCRIBE on each group (the refused ones first, GROUP_AUTHORIZATION_FAILED); a
// described group whose members' assignments name a topic the principal may not DESCRIBE is
// TOPIC_AUTHORIZATION_FAILED, without members; authorized operations are the principal's.

import { ErrorCode } from "../../protocol/errors.js";
import type {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponse,
  ConsumerGroupDescribeResponseDescribedGroup,
} from "../../protocol/generated/consumer-group-describe.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { authorizedOperations, OPERATIONS_NOT_REQUESTED } from "../common.js";

const failed = (request: ConsumerGroupDescribeRequest, errorCode: number): ConsumerGroupDescribeResponse => ({
  throttleTimeMs: 0,
  groups: request.groupIds.map((groupId) => ({
    errorCode,
    errorMessage: null,
    groupId,
    groupState: "",
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignorName: "",
    members: [],
    authorizedOperations: OPERATIONS_NOT_REQUESTED,
  })),
});

export const consumerGroupDescribe = defineHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>(
  69,
  { min: 0, max: 1 },
  (context, request) => {
    if (!context.groups.consumerProtocolEnabled) return failed(request, ErrorCode.UNSUPPORTED_VERSION);
    const refused = failed(request, ErrorCode.GROUP_AUTHORIZATION_FAILED).groups.filter(
      (group) => !context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, group.groupId),
    );
    const described = request.groupIds
      .filter((groupId) => context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
      .map((groupId) => {
        const group = context.groups.describeConsumerGroup(
          groupId,
          request.includeAuthorizedOperations ? authorizedOperations(context, ResourceType.GROUP, groupId) : OPERATIONS_NOT_REQUESTED,
        );
        const topics = new Set(
          group.members.flatMap((member) => [member.assignment, member.targetAssignment].flatMap((a) => a.topicPartitions.map((tp) => tp.topicName))),
        );
        if ([...topics].every((topic) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, topic))) return group;
        return {
          ...(failed(request, ErrorCode.TOPIC_AUTHORIZATION_FAILED).groups[0] as ConsumerGroupDescribeResponseDescribedGroup),
          groupId,
          errorMessage: "The group has described topic(s) that the client is not authorized to describe.",
        };
      });
    return { throttleTimeMs: 0, groups: [...refused, ...described] };
  },
  (_context, request, errorCode) => failed(request, errorCode),
);
