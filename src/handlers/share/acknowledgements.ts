// Acknowledgements of ShareFetch and ShareAcknowledge (KIP-932), applied the same way by both: per
// partition, each batch (FirstOffset..LastOffset with one type, or one per offset) is applied to
// the share partition in order — the first failure is the partition's error — and the new state is
// written to the share coordinator before the partition's answer (its error, if the write fails).

import { ErrorCode } from "../../protocol/errors.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";

export interface PartitionAcks {
  readonly topicId: string;
  readonly partition: number;
  readonly batches: readonly { firstOffset: bigint; lastOffset: bigint; acknowledgeTypes: number[] }[];
}

/**
 * The checks both share APIs start with (KafkaApis): a group id (INVALID_GROUP_ID), READ on the
 * group (GROUP_AUTHORIZATION_FAILED), a member id (INVALID_REQUEST when empty). The member id is
 * the client's own string: Java clients send a Kafka Uuid, librdkafka standard base64 (with "/"
 * and "+"), and Kafka takes both.
 */
export function shareMember(
  context: RequestContext,
  request: { groupId: string | null; memberId: string | null },
): { groupId: string; memberId: string } | { errorCode: number; errorMessage: string | null } {
  const groupId = request.groupId ?? "";
  const memberId = request.memberId ?? "";
  if (groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: null };
  if (!context.authorized(AclOperation.READ, ResourceType.GROUP, groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null };
  if (memberId.trim() === "") return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Invalid member id" };
  return { groupId, memberId };
}

/** Applies `acks`; "topicId:partition" → the partition's acknowledge error code. */
export async function applyAcknowledgements(
  context: RequestContext,
  groupId: string,
  memberId: string,
  acks: readonly PartitionAcks[],
  authorization: (topicId: string) => number,
): Promise<Map<string, number>> {
  const results = new Map<string, number>();
  const writes: Promise<void>[] = [];
  for (const { topicId, partition, batches } of acks) {
    const key = `${topicId}:${partition}`;
    const authorized = authorization(topicId);
    if (authorized !== ErrorCode.NONE) {
      results.set(key, authorized);
      continue;
    }
    let code: number = ErrorCode.NONE;
    for (const batch of batches) {
      if (batch.lastOffset < batch.firstOffset || batch.acknowledgeTypes.length === 0) {
        code = ErrorCode.INVALID_REQUEST;
        break;
      }
      code = context.shares.acknowledge(groupId, memberId, topicId, partition, batch.firstOffset, batch.lastOffset, batch.acknowledgeTypes);
      if (code !== ErrorCode.NONE) break;
    }
    results.set(key, code);
    // Whatever was applied is written (a failed batch leaves the ones before it applied).
    const written = context.shares.persist(groupId, topicId, partition);
    if (typeof written !== "number") {
      writes.push(
        written.then((error) => {
          if (error !== ErrorCode.NONE && results.get(key) === ErrorCode.NONE) results.set(key, error);
        }),
      );
    }
  }
  await Promise.all(writes);
  return results;
}
