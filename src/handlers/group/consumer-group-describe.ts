// ConsumerGroupDescribe (key 69), versions 0-1: KIP-848 consumer groups with their epochs,
// assignor, state and members (subscription, current assignment — assigned and pending
// revocation — and target assignment, topics named). An unknown group, or one of another type,
// is GROUP_ID_NOT_FOUND with Kafka's message. v1: each member's type (0 classic, 1 consumer).
// As Kafka's KafkaApis: UNSUPPORTED_VERSION when group.coordinator.rebalance.protocols lacks "consumer".

import { ErrorCode } from "../../protocol/errors.js";
import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from "../../protocol/generated/consumer-group-describe.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED } from "../common.js";

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
    const operations = request.includeAuthorizedOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED;
    // Authorization: DESCRIBE on each group.
    const refused = failed(request, ErrorCode.GROUP_AUTHORIZATION_FAILED).groups;
    return {
      throttleTimeMs: 0,
      groups: request.groupIds.map((groupId, i) =>
        context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId) ? context.groups.describeConsumerGroup(groupId, operations) : refused[i],
      ),
    };
  },
  (_context, request, errorCode) => failed(request, errorCode),
);
