// DescribeGroups (key 15), versions 0-6: classic groups' state, protocol and members. A stable
// group's members come with their subscription (in the selected protocol) and assignment; in any
// other state without them, as Kafka does. An unknown group (or one that is not classic) is
// state "Dead": v6+ with GROUP_ID_NOT_FOUND and a message, before with no error. v3+ authorized
// operations when asked.

import { ErrorCode } from "../../protocol/errors.js";
import type { DescribeGroupsRequest, DescribeGroupsResponse, DescribeGroupsResponseDescribedGroup } from "../../protocol/generated/describe-groups.js";
import { AclOperation, ResourceType as AclResource } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED, authorizedOperations as operationsOf } from "../common.js";

const EMPTY = Buffer.alloc(0);

export const describeGroups = defineHandler<DescribeGroupsRequest, DescribeGroupsResponse>(
  15,
  { min: 0, max: 6 },
  (context, request) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId): DescribeGroupsResponseDescribedGroup => {
      const authorizedOperations =
        context.apiVersion >= 3 && request.includeAuthorizedOperations
          ? context.authorizer === null
            ? GROUP_OPERATIONS
            : operationsOf(context, AclResource.GROUP, groupId)
          : OPERATIONS_NOT_REQUESTED;
      const base = { groupId, errorMessage: null, protocolType: "", protocolData: "", members: [], authorizedOperations };
      // Authorization: DESCRIBE on the group.
      if (!context.authorized(AclOperation.DESCRIBE, AclResource.GROUP, groupId))
        return { ...base, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupState: "", authorizedOperations: OPERATIONS_NOT_REQUESTED };
      const described = context.groups.describeGroup(groupId);
      if (described.group === null) {
        if (described.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) {
          return context.apiVersion >= 6
            ? { ...base, errorCode: described.errorCode, errorMessage: described.errorMessage, groupState: "Dead" }
            : { ...base, errorCode: ErrorCode.NONE, groupState: "Dead" };
        }
        return { ...base, errorCode: described.errorCode, groupState: "" };
      }
      const group = described.group;
      const stable = group.is("Stable");
      return {
        ...base,
        errorCode: ErrorCode.NONE,
        groupState: group.state,
        protocolType: group.protocolType ?? "",
        protocolData: stable ? (group.protocolName ?? "") : "",
        members: [...group.members.values()].map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          memberMetadata: stable ? (member.metadata(group.protocolName) ?? EMPTY) : EMPTY,
          memberAssignment: stable ? member.assignment : EMPTY,
        })),
      };
    }),
  }),
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => ({
      errorCode,
      errorMessage: null,
      groupId,
      groupState: "",
      protocolType: "",
      protocolData: "",
      members: [],
      authorizedOperations: OPERATIONS_NOT_REQUESTED,
    })),
  }),
);
