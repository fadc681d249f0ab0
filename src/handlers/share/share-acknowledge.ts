// ShareAcknowledge (key 79), versions 1-2 (KIP-932): a share-group member acknowledges records it
// holds (accept, release, reject; v2 renew, KIP-1222) without fetching — what a consumer does on
// commitSync / commitAsync and when it closes. It needs the member's share session (epoch 0 is
// INVALID_SHARE_SESSION_EPOCH: a session is opened by ShareFetch); epoch -1 closes the session
// after the acknowledgements, releasing what the member still holds. Each partition answers once
// its new state is durable (src/handlers/share/acknowledgements.ts).
// Authorization: READ on the group, READ on each topic.

import { ErrorCode } from "../../protocol/errors.js";
import type {
  ShareAcknowledgeRequest,
  ShareAcknowledgeResponse,
  ShareAcknowledgeResponseShareAcknowledgeTopicResponse,
} from "../../protocol/generated/share-acknowledge.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";
import { FINAL_SHARE_EPOCH, INITIAL_SHARE_EPOCH } from "../../share/share-manager.js";
import { applyAcknowledgements, shareMember } from "./acknowledgements.js";

function errorResponse(errorCode: number, errorMessage: string | null = null): ShareAcknowledgeResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: 0, responses: [], nodeEndpoints: [] };
}

export const shareAcknowledge = defineHandler<ShareAcknowledgeRequest, ShareAcknowledgeResponse>(
  79,
  { min: 1, max: 2 },
  async (context, request) => {
    const member = shareMember(context, request);
    if ("errorCode" in member) return errorResponse(member.errorCode, member.errorMessage);
    const { groupId, memberId } = member;
    const shares = context.shares;
    const epoch = request.shareSessionEpoch;
    if (epoch === INITIAL_SHARE_EPOCH) return errorResponse(ErrorCode.INVALID_SHARE_SESSION_EPOCH);
    const session = shares.session(groupId, memberId);
    if (session === undefined) return errorResponse(ErrorCode.SHARE_SESSION_NOT_FOUND);
    if (epoch !== FINAL_SHARE_EPOCH) {
      if (session.epoch !== epoch) return errorResponse(ErrorCode.INVALID_SHARE_SESSION_EPOCH);
      session.epoch = epoch === 0x7fffffff ? 1 : epoch + 1;
    }
    const authorization = (topicId: string): number => {
      const name = context.metadata.topicById(topicId)?.name;
      if (name === undefined) return ErrorCode.UNKNOWN_TOPIC_ID;
      return context.authorized(AclOperation.READ, ResourceType.TOPIC, name) ? ErrorCode.NONE : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    };
    const acks = request.topics.flatMap((topic) =>
      topic.partitions.map((p) => ({ topicId: topic.topicId, partition: p.partitionIndex, batches: p.acknowledgementBatches })),
    );
    const results = await applyAcknowledgements(context, groupId, memberId, acks, authorization);
    if (epoch === FINAL_SHARE_EPOCH) await shares.closeSession(groupId, memberId);
    const topics = new Map<string, ShareAcknowledgeResponseShareAcknowledgeTopicResponse>();
    for (const [key, errorCode] of results) {
      const [topicId, partition] = key.split(":") as [string, string];
      let topic = topics.get(topicId);
      if (topic === undefined) {
        topic = { topicId, partitions: [] };
        topics.set(topicId, topic);
      }
      topic.partitions.push({ partitionIndex: Number(partition), errorCode, errorMessage: null, currentLeader: { leaderId: -1, leaderEpoch: -1 } });
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      acquisitionLockTimeoutMs: shares.settings(groupId).lockDurationMs,
      responses: [...topics.values()],
      nodeEndpoints: [],
    };
  },
  (_context, _request, errorCode) => errorResponse(errorCode),
);
