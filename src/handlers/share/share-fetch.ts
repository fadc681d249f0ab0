// ShareFetch (key 78), versions 1-2 (KIP-932): a share-group member fetches records it then holds
// under an acquisition lock, and acknowledges what it consumed in the same request. The share
// session (src/share/share-manager.ts): epoch 0 opens it (acknowledgements are INVALID_REQUEST
// then), later epochs add partitions and forget others (SHARE_SESSION_NOT_FOUND,
// INVALID_SHARE_SESSION_EPOCH), -1 closes it (no fetching then). The acknowledgements are applied
// first (each partition's AcknowledgeErrorCode once its state is durable), then every partition of
// the session is fetched: whole batches as file slices plus the acquired offset ranges
// (src/share/share-partition.ts); nothing acquired waits up to MaxWaitMs. MaxRecords bounds the
// records acquired, MaxBytes the bytes; v2's ShareAcquireMode 1 (KIP-1206) acquires exactly
// MaxRecords, and IsRenewAck (KIP-1222) renews locks without fetching.
// Authorization as Kafka: READ on the group (GROUP_AUTHORIZATION_FAILED for the request), READ on
// each topic (TOPIC_AUTHORIZATION_FAILED for its partitions).

import { ErrorCode } from "../../protocol/errors.js";
import type {
  ShareFetchRequest,
  ShareFetchResponse,
  ShareFetchResponseNodeEndpoint,
  ShareFetchResponsePartitionData,
  ShareFetchResponseShareFetchableTopicResponse,
} from "../../protocol/generated/share-fetch.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";
import type { PartitionFetch } from "../../share/share-manager.js";
import { FINAL_SHARE_EPOCH, INITIAL_SHARE_EPOCH } from "../../share/share-manager.js";
import { currentLeaderOf, isLeadershipError } from "../common.js";
import { applyAcknowledgements, type PartitionAcks, shareMember } from "./acknowledgements.js";

const EMPTY = Buffer.alloc(0);
const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

function errorResponse(errorCode: number, errorMessage: string | null = null): ShareFetchResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: 0, responses: [], nodeEndpoints: [] };
}

const partKey = (topicId: string, partition: number) => `${topicId}:${partition}`;

export const shareFetch = defineHandler<ShareFetchRequest, ShareFetchResponse>(
  78,
  { min: 1, max: 2 },
  async (context, request) => {
    const member = shareMember(context, request);
    if ("errorCode" in member) return errorResponse(member.errorCode, member.errorMessage);
    const { groupId, memberId } = member;
    const shares = context.shares;
    const epoch = request.shareSessionEpoch;
    const acks: PartitionAcks[] = [];
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        if (p.acknowledgementBatches.length > 0) acks.push({ topicId: topic.topicId, partition: p.partitionIndex, batches: p.acknowledgementBatches });
      }
    }
    if (epoch === INITIAL_SHARE_EPOCH && acks.length > 0) return errorResponse(ErrorCode.INVALID_REQUEST, "Acknowledge data present on initial fetch");
    if (epoch === FINAL_SHARE_EPOCH && request.topics.some((t) => t.partitions.some((p) => p.acknowledgementBatches.length === 0))) {
      return errorResponse(ErrorCode.INVALID_REQUEST, "Final share fetch request must not fetch");
    }

    // The session.
    let session = shares.session(groupId, memberId);
    if (epoch === INITIAL_SHARE_EPOCH) {
      session = shares.openSession(groupId, memberId, context.connection.id) ?? undefined;
      if (session === undefined) return errorResponse(ErrorCode.SHARE_SESSION_LIMIT_REACHED);
    } else if (epoch !== FINAL_SHARE_EPOCH) {
      if (session === undefined) return errorResponse(ErrorCode.SHARE_SESSION_NOT_FOUND);
      if (session.epoch !== epoch) return errorResponse(ErrorCode.INVALID_SHARE_SESSION_EPOCH);
      session.epoch = epoch === 0x7fffffff ? 1 : epoch + 1;
      shares.bind(session, context.connection.id);
    } else if (session === undefined) {
      return errorResponse(ErrorCode.SHARE_SESSION_NOT_FOUND);
    }
    if (epoch !== FINAL_SHARE_EPOCH) {
      for (const forgotten of request.forgottenTopicsData)
        for (const partition of forgotten.partitions) session.partitions.delete(partKey(forgotten.topicId, partition));
      for (const topic of request.topics) {
        for (const p of topic.partitions)
          session.partitions.set(partKey(topic.topicId, p.partitionIndex), { topicId: topic.topicId, partition: p.partitionIndex });
      }
    }

    // Topic authorization (once per topic id).
    const readable = new Map<string, number>();
    const authorization = (topicId: string): number => {
      let code = readable.get(topicId);
      if (code === undefined) {
        const name = context.metadata.topicById(topicId)?.name;
        code =
          name === undefined
            ? ErrorCode.UNKNOWN_TOPIC_ID
            : context.authorized(AclOperation.READ, ResourceType.TOPIC, name)
              ? ErrorCode.NONE
              : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        readable.set(topicId, code);
      }
      return code;
    };

    // Acknowledgements first.
    const ackResults = await applyAcknowledgements(context, groupId, memberId, acks, authorization);
    if (epoch === FINAL_SHARE_EPOCH) {
      await shares.closeSession(groupId, memberId);
      return respond(context, groupId, [], ackResults, true);
    }
    if (request.isRenewAck) return respond(context, groupId, [], ackResults, true);

    // Fetch every partition of the session.
    const targets = [...session.partitions.values()];
    const allowed = targets.filter((t) => authorization(t.topicId) === ErrorCode.NONE);
    const refused: PartitionFetch[] = targets
      .filter((t) => authorization(t.topicId) !== ErrorCode.NONE)
      .map((t) => ({ ...t, errorCode: authorization(t.topicId), errorMessage: null, records: null, acquired: [], count: 0 }));
    const maxRecords = request.maxRecords > 0 ? request.maxRecords : 500;
    const recordLimit = context.apiVersion >= 2 && request.shareAcquireMode === 1;
    let fetched = await shares.acquire(groupId, memberId, allowed, maxRecords, request.maxBytes, recordLimit);
    const nothing = fetched.every((f) => f.acquired.length === 0 && f.errorCode === ErrorCode.NONE);
    if (nothing && request.maxWaitMs > 0 && allowed.length > 0) {
      for (const f of fetched) f.records?.release();
      await shares.waitForAcquirable(groupId, allowed, request.maxWaitMs);
      fetched = await shares.acquire(groupId, memberId, allowed, maxRecords, request.maxBytes, recordLimit);
    }
    return respond(context, groupId, [...fetched, ...refused], ackResults, epoch === INITIAL_SHARE_EPOCH);
  },
  (_context, _request, errorCode) => errorResponse(errorCode),
);

function respond(
  context: RequestContext,
  groupId: string,
  fetched: readonly PartitionFetch[],
  ackResults: Map<string, number>,
  full: boolean,
): ShareFetchResponse {
  const topics = new Map<string, ShareFetchResponseShareFetchableTopicResponse>();
  const endpoints = new Map<number, ShareFetchResponseNodeEndpoint>();
  const entry = (topicId: string) => {
    let topic = topics.get(topicId);
    if (topic === undefined) {
      topic = { topicId, partitions: [] };
      topics.set(topicId, topic);
    }
    return topic;
  };
  const seen = new Set<string>();
  for (const f of fetched) {
    const key = partKey(f.topicId, f.partition);
    seen.add(key);
    const ackCode = ackResults.get(key);
    const length = f.records?.length ?? 0;
    if (!full && f.acquired.length === 0 && f.errorCode === ErrorCode.NONE && ackCode === undefined) {
      f.records?.release();
      continue;
    }
    const name = context.metadata.topicById(f.topicId)?.name;
    const data: ShareFetchResponsePartitionData = {
      partitionIndex: f.partition,
      errorCode: f.errorCode,
      errorMessage: f.errorMessage,
      acknowledgeErrorCode: ackCode ?? ErrorCode.NONE,
      acknowledgeErrorMessage: null,
      currentLeader: name !== undefined && isLeadershipError(f.errorCode) ? currentLeaderOf(context, name, f.partition, endpoints) : NO_LEADER,
      // A file slice goes out with sendfile; the writer passes it through as its own part.
      records: length > 0 && f.acquired.length > 0 ? (f.records as unknown as Buffer) : EMPTY,
      acquiredRecords: f.acquired.map((a) => ({ firstOffset: a.firstOffset, lastOffset: a.lastOffset, deliveryCount: a.deliveryCount })),
    };
    if (length === 0 || f.acquired.length === 0) f.records?.release();
    entry(f.topicId).partitions.push(data);
  }
  for (const [key, code] of ackResults) {
    if (seen.has(key)) continue;
    const [topicId, partition] = key.split(":") as [string, string];
    entry(topicId).partitions.push({
      partitionIndex: Number(partition),
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      acknowledgeErrorCode: code,
      acknowledgeErrorMessage: null,
      currentLeader: NO_LEADER,
      records: EMPTY,
      acquiredRecords: [],
    });
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    acquisitionLockTimeoutMs: context.shares.settings(groupId).lockDurationMs,
    responses: [...topics.values()],
    nodeEndpoints: [...endpoints.values()],
  };
}
