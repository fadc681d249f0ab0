// ListOffsets (key 2), versions 0-11: the offset for a timestamp. Kafka's special timestamps:
// -1 latest (the high watermark, or the last stable offset for read_committed), -2 earliest
// (log start), -3 the record with the largest timestamp (v7+), -4 earliest local (v8+; no
// tiered storage, so the log start), -5 latest tiered (v9+) and -6 earliest pending upload
// (v11+, KIP-1023; without tiered storage Kafka 4.4 answers both with offset -1). v11 adds no
// field. A real timestamp gives the first offset whose record timestamp is at or after it, or
// -1 when there is none. v0 answers with a list of old-style offsets.
//
// Isolation level, as Kafka's Partition.fetchOffsetForTimestamp: a consumer's request (replica id
// -1) can fetch up to the last stable offset (read_committed) or the high watermark
// (read_uncommitted), anyone else's up to the log end offset. Latest answers that bound; the
// record found for -3 or a timestamp is answered only below it (else offset -1, as Kafka's
// ReplicaManager does); earliest is never bounded.

import type { Partition } from "../log/partition.js";
import { ErrorCode } from "../protocol/errors.js";
import type {
  ListOffsetsRequest,
  ListOffsetsRequestListOffsetsPartition,
  ListOffsetsResponse,
  ListOffsetsResponseListOffsetsPartitionResponse,
} from "../protocol/generated/list-offsets.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, reportUnexpected } from "./common.js";

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const READ_COMMITTED = 1;
const CONSUMER_REPLICA_ID = -1;

/** A partition's answer with only the fields `version` has: old-style offsets in v0, the leader epoch from v4. */
function answer(
  index: number,
  errorCode: number,
  timestamp = -1n,
  offset = -1n,
  leaderEpoch = -1,
  version = 1,
): ListOffsetsResponseListOffsetsPartitionResponse {
  if (version === 0) return { partitionIndex: index, errorCode, oldStyleOffsets: offset >= 0n ? [offset] : [], timestamp: -1n, offset: -1n, leaderEpoch: -1 };
  return { partitionIndex: index, errorCode, oldStyleOffsets: [], timestamp, offset, leaderEpoch: version >= 4 ? leaderEpoch : -1 };
}

function lookUp(
  context: RequestContext,
  partition: Partition,
  request: ListOffsetsRequest,
  wanted: ListOffsetsRequestListOffsetsPartition,
): ListOffsetsResponseListOffsetsPartitionResponse {
  const version = context.apiVersion;
  const index = wanted.partitionIndex;
  const timestamp = wanted.timestamp;
  const epoch = partition.leaderEpoch;
  const lastFetchableOffset =
    request.replicaId !== CONSUMER_REPLICA_ID
      ? partition.log.logEndOffset
      : request.isolationLevel === READ_COMMITTED
        ? partition.lastStableOffset
        : partition.highWatermark;
  if (timestamp === LATEST) {
    return answer(index, ErrorCode.NONE, -1n, lastFetchableOffset, epoch, version);
  }
  if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) {
    const found = partition.log.offsetFor("earliest");
    return answer(index, ErrorCode.NONE, -1n, partition.logStartOffset, found?.leaderEpoch ?? epoch, version);
  }
  if (timestamp === MAX_TIMESTAMP) {
    const found = partition.log.offsetFor("max-timestamp");
    if (found === null || found.offset >= lastFetchableOffset) return answer(index, ErrorCode.NONE, -1n, -1n, -1, version);
    return answer(index, ErrorCode.NONE, found.timestamp, found.offset, found.leaderEpoch ?? -1, version);
  }
  if (timestamp < 0n) return answer(index, ErrorCode.NONE, -1n, -1n, -1, version);
  const found = partition.log.offsetFor({ timestamp });
  if (found === null || found.offset >= lastFetchableOffset) return answer(index, ErrorCode.NONE, -1n, -1n, -1, version);
  return answer(index, ErrorCode.NONE, found.timestamp, found.offset, found.leaderEpoch ?? -1, version);
}

export const listOffsets = defineHandler<ListOffsetsRequest, ListOffsetsResponse>(
  2,
  { min: 0, max: 11 },
  (context, request) => {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((wantedTopic) => {
        // Authorization: DESCRIBE on the topic (a follower's request: CLUSTER_ACTION on the cluster).
        const authorized =
          request.replicaId >= 0
            ? context.authorized(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
            : context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, wantedTopic.name);
        return {
          name: wantedTopic.name,
          partitions: wantedTopic.partitions.map((wanted) => {
            if (!authorized) return answer(wanted.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1n, -1n, -1, context.apiVersion);
            const partition = context.partitions.lookup(wantedTopic.name, wanted.partitionIndex, wanted.currentLeaderEpoch);
            if (typeof partition === "number") return answer(wanted.partitionIndex, partition, -1n, -1n, -1, context.apiVersion);
            try {
              return lookUp(context, partition, request, wanted);
            } catch (error) {
              reportUnexpected(context, error, `list offsets of ${partition}`);
              return answer(wanted.partitionIndex, errorCodeOf(error));
            }
          }),
        };
      }),
    };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => answer(p.partitionIndex, errorCode)) })),
  }),
);
