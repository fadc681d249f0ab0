// JoinGroup (key 11), versions 0-9: a member joins a classic group (src/coordinator/group/
// classic-protocol.ts has the state machine). The response waits until the rebalance completes.
// v4+ new members get MEMBER_ID_REQUIRED first (KIP-394); v5+ static members (KIP-345);
// v8+ a reason; v9 skipAssignment for a static leader rejoining a stable group.

import type { JoinGroupRequest, JoinGroupResponse } from "../../protocol/generated/join-group.js";
import { defineHandler } from "../../server/registry.js";

/** Before v7 the protocol name is not nullable: Kafka sends "" for none. */
function forVersion(response: JoinGroupResponse, version: number): JoinGroupResponse {
  return version < 7 && response.protocolName === null ? { ...response, protocolName: "" } : response;
}

export const joinGroup = defineHandler<JoinGroupRequest, JoinGroupResponse>(
  11,
  { min: 0, max: 9 },
  async (context, request) => {
    const response = await context.groups.joinGroup({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: context.apiVersion >= 5 ? request.groupInstanceId : null,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: the session timeout is used (Kafka's JoinGroupRequest).
      rebalanceTimeoutMs: context.apiVersion === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((protocol) => ({ name: protocol.name, metadata: protocol.metadata })),
      reason: request.reason,
      clientId: context.header.clientId ?? "",
      clientHost: `/${context.connection.peerHost}`,
      apiVersion: context.apiVersion,
    });
    return forVersion(response, context.apiVersion);
  },
  (context, request, errorCode) =>
    forVersion(
      {
        throttleTimeMs: 0,
        errorCode,
        generationId: -1,
        protocolType: null,
        protocolName: null,
        leader: "",
        skipAssignment: false,
        memberId: request.memberId,
        members: [],
      },
      context.apiVersion,
    ),
);
