// Heartbeat (key 12), versions 0-4: a classic group member's liveness; REBALANCE_IN_PROGRESS
// tells it to rejoin. v3+ static members (group instance id).

import type { HeartbeatRequest, HeartbeatResponse } from "../../protocol/generated/heartbeat.js";
import { defineHandler } from "../../server/registry.js";

export const heartbeat = defineHandler<HeartbeatRequest, HeartbeatResponse>(
  12,
  { min: 0, max: 4 },
  (context, request) => ({
    throttleTimeMs: 0,
    errorCode: context.groups.heartbeat(request.groupId, request.memberId, context.apiVersion >= 3 ? request.groupInstanceId : null, request.generationId),
  }),
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode }),
);
