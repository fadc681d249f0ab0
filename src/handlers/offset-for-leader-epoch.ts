// OffsetForLeaderEpoch (key 23), versions 0-4: the end offset of the largest leader epoch at
// or below the one asked for — how a consumer (KIP-320) or follower detects log divergence
// after a leader change. Unknown epochs answer epoch -1 / offset -1 (UNDEFINED).

import { ErrorCode } from "../protocol/errors.js";
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  OffsetForLeaderEpochResponseEpochEndOffset,
} from "../protocol/generated/offset-for-leader-epoch.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, reportUnexpected } from "./common.js";

function answer(partition: number, errorCode: number, leaderEpoch = -1, endOffset = -1n): OffsetForLeaderEpochResponseEpochEndOffset {
  return { errorCode, partition, leaderEpoch, endOffset };
}

export const offsetForLeaderEpoch = defineHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>(
  23,
  { min: 0, max: 4 },
  (context, request) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((wantedTopic) => ({
      topic: wantedTopic.topic,
      partitions: wantedTopic.partitions.map((wanted) => {
        // Authorization: a follower CLUSTER_ACTION on the cluster, a client DESCRIBE on the topic.
        const authorized =
          context.apiVersion >= 3 && request.replicaId >= 0
            ? context.authorized(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
            : context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, wantedTopic.topic);
        if (!authorized) return answer(wanted.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
        const partition = context.partitions.lookup(wantedTopic.topic, wanted.partition, wanted.currentLeaderEpoch);
        if (typeof partition === "number") return answer(wanted.partition, partition);
        try {
          const { epoch, endOffset } = partition.log.endOffsetForEpoch(wanted.leaderEpoch);
          return answer(wanted.partition, ErrorCode.NONE, epoch, endOffset);
        } catch (error) {
          reportUnexpected(context, error, `end offset for epoch of ${partition}`);
          return answer(wanted.partition, errorCodeOf(error));
        }
      }),
    })),
  }),
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => answer(p.partition, errorCode)) })),
  }),
);
