// DeleteGroups (key 42), versions 0-3: removes empty groups with their committed offsets
// (tombstones in __consumer_offsets). A group with members is NON_EMPTY_GROUP, an unknown one
// GROUP_ID_NOT_FOUND, as in Kafka.

import { ErrorCode } from "../../protocol/errors.js";
import type { DeleteGroupsRequest, DeleteGroupsResponse } from "../../protocol/generated/delete-groups.js";
import { AclOperation, ResourceType as AclResource } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const deleteGroups = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>(
  42,
  { min: 0, max: 3 },
  (context, request) => {
    const now = Date.now();
    return {
      throttleTimeMs: 0,
      // Authorization: DELETE on each group.
      results: request.groupsNames.map((groupId) => ({
        groupId,
        errorCode: context.authorized(AclOperation.DELETE, AclResource.GROUP, groupId)
          ? context.groups.deleteGroup(groupId, now)
          : ErrorCode.GROUP_AUTHORIZATION_FAILED,
        errorMessage: null,
      })),
    };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode, errorMessage: null })) }),
);
