// StreamsGroupDescribe (key 89), versions 0-1: KIP-1071 streams groups with their state, epochs,
// assignor ("sticky"), topology (as configured once its topics are validated: partition counts of
// internal topics decided) and members (process, endpoint, client tags, reported task offsets,
// current and target tasks). An unknown group, or one of another type, is GROUP_ID_NOT_FOUND.
// Authorization as Kafka's KafkaApis: DESCRIBE on each group (GROUP_AUTHORIZATION_FAILED); a group
// whose topology names a topic the principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED,
// without members or topology. No topology description plugin is configured, as in a default
// Kafka 4.4 broker, so the description itself is never returned.

import { ErrorCode } from "../../protocol/errors.js";
import type {
  StreamsGroupDescribeRequest,
  StreamsGroupDescribeResponse,
  StreamsGroupDescribeResponseDescribedGroup,
} from "../../protocol/generated/streams-group-describe.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { authorizedOperations, OPERATIONS_NOT_REQUESTED } from "../common.js";

const failedGroup = (groupId: string, errorCode: number, errorMessage: string | null = null): StreamsGroupDescribeResponseDescribedGroup => ({
  errorCode,
  errorMessage,
  groupId,
  groupState: "",
  groupEpoch: 0,
  assignmentEpoch: 0,
  topology: null,
  members: [],
  authorizedOperations: OPERATIONS_NOT_REQUESTED,
  topologyDescription: null,
  topologyDescriptionStatus: 0,
  assignorName: null,
});

export const streamsGroupDescribe = defineHandler<StreamsGroupDescribeRequest, StreamsGroupDescribeResponse>(
  89,
  { min: 0, max: 1 },
  (context, request) => {
    if (!context.groups.config.rebalanceProtocols.includes("streams")) {
      return { throttleTimeMs: 0, groups: request.groupIds.map((groupId) => failedGroup(groupId, ErrorCode.UNSUPPORTED_VERSION)) };
    }
    const refused = request.groupIds
      .filter((groupId) => !context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
      .map((groupId) => failedGroup(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED));
    const described = request.groupIds
      .filter((groupId) => context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
      .map((groupId) => {
        const group = context.groups.describeStreamsGroup(
          groupId,
          request.includeAuthorizedOperations ? authorizedOperations(context, ResourceType.GROUP, groupId) : OPERATIONS_NOT_REQUESTED,
        );
        const topics = (group.topology?.subtopologies ?? []).flatMap((s) => [
          ...s.sourceTopics,
          ...s.repartitionSinkTopics,
          ...s.repartitionSourceTopics.map((t) => t.name),
          ...s.stateChangelogTopics.map((t) => t.name),
        ]);
        if (topics.every((topic) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, topic))) return group;
        return failedGroup(groupId, ErrorCode.TOPIC_AUTHORIZATION_FAILED, "The described group uses topics that the client is not authorized to describe.");
      });
    return { throttleTimeMs: 0, groups: [...refused, ...described] };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, groups: request.groupIds.map((groupId) => failedGroup(groupId, errorCode)) }),
);
