// ListGroups (key 16), versions 0-5: every group this broker coordinates, with protocol type;
// v4+ its state and a filter by states, v5+ its type (classic, consumer) and a filter by types
// (both case-insensitive). COORDINATOR_LOAD_IN_PROGRESS while a coordinator partition loads,
// with the groups of the loaded ones, as Kafka answers.

import type { ListGroupsRequest, ListGroupsResponse } from "../../protocol/generated/list-groups.js";
import { AclOperation, ResourceType as AclResource, CLUSTER_NAME } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const listGroups = defineHandler<ListGroupsRequest, ListGroupsResponse>(
  16,
  { min: 0, max: 5 },
  (context, request) => {
    const { errorCode, groups } = context.groups.listGroups(
      context.apiVersion >= 4 ? request.statesFilter : [],
      context.apiVersion >= 5 ? request.typesFilter : [],
    );
    // Authorization: DESCRIBE on the cluster lists every group, else those the principal may DESCRIBE.
    if (context.authorized(AclOperation.DESCRIBE, AclResource.CLUSTER, CLUSTER_NAME)) return { throttleTimeMs: 0, errorCode, groups };
    return { throttleTimeMs: 0, errorCode, groups: groups.filter((group) => context.authorized(AclOperation.DESCRIBE, AclResource.GROUP, group.groupId)) };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, groups: [] }),
);
