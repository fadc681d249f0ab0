// SyncGroup (key 14), versions 0-5: members of a classic group get their assignment; the
// leader's request carries everyone's, written to __consumer_offsets before anyone is answered.
// v5+ protocol type and name (checked against the group's: INCONSISTENT_GROUP_PROTOCOL).

import type { SyncGroupRequest, SyncGroupResponse } from "../../protocol/generated/sync-group.js";
import { defineHandler } from "../../server/registry.js";

export const syncGroup = defineHandler<SyncGroupRequest, SyncGroupResponse>(
  14,
  { min: 0, max: 5 },
  (context, request) =>
    context.groups.syncGroup({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null,
      protocolType: context.apiVersion >= 5 ? request.protocolType : null,
      protocolName: context.apiVersion >= 5 ? request.protocolName : null,
      assignments: request.assignments,
    }),
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }),
);
