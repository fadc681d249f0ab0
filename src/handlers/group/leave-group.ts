// LeaveGroup (key 13), versions 0-5: members leave a classic group. v0-2 name one member (its
// error is the top-level error); v3+ a batch of members by member id or group instance id
// (KIP-345: administrative removal of static members), each with its own error; v5 a reason.

import { ErrorCode } from "../../protocol/errors.js";
import type { LeaveGroupRequest, LeaveGroupResponse } from "../../protocol/generated/leave-group.js";
import { defineHandler } from "../../server/registry.js";

export const leaveGroup = defineHandler<LeaveGroupRequest, LeaveGroupResponse>(
  13,
  { min: 0, max: 5 },
  (context, request) => {
    const members =
      context.apiVersion >= 3
        ? request.members.map((member) => ({
            memberId: member.memberId,
            groupInstanceId: member.groupInstanceId,
            reason: context.apiVersion >= 5 ? member.reason : null,
          }))
        : [{ memberId: request.memberId, groupInstanceId: null, reason: null }];
    const result = context.groups.leaveGroup(request.groupId, members);
    if (typeof result === "number") return { throttleTimeMs: 0, errorCode: result, members: [] };
    if (context.apiVersion < 3) return { throttleTimeMs: 0, errorCode: result[0]?.errorCode ?? ErrorCode.NONE, members: [] };
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members: result };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, members: [] }),
);
