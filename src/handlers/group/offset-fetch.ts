// OffsetFetch (key 9), versions 1-10: a group's committed offsets, for the partitions asked for
// or (v2+, topics null) all of them. A partition without a commit answers offset -1, leader
// epoch -1, metadata "" and no error, as Kafka does; so does an unknown group. v2-7 carry the
// group's error at the top level (v1 on every partition); v8+ ask for many groups at once, each
// with its own error; v10 names topics by id (an unknown id: UNKNOWN_TOPIC_ID). v7+ requireStable
// (KIP-447): a partition with a transactional commit still pending answers UNSTABLE_OFFSET_COMMIT
// (offset -1), which the consumer retries until the transaction ends.
// Authorization (KafkaApis.handleOffsetFetchRequest): DESCRIBE on the group (else
// GROUP_AUTHORIZATION_FAILED for the group), DESCRIBE on each topic: a named topic without it
// answers TOPIC_AUTHORIZATION_FAILED on its partitions (after the fetched topics, with the unknown
// ids, in the request's order), and an all-offsets fetch leaves such topics out.

import type { FetchedOffsets } from "../../coordinator/group/coordinator.js";
import { ErrorCode } from "../../protocol/errors.js";
import type {
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetFetchResponseOffsetFetchResponseGroup,
  OffsetFetchResponseOffsetFetchResponsePartitions,
} from "../../protocol/generated/offset-fetch.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";
import { ZERO_UUID } from "../common.js";

const NO_OFFSET = { committedOffset: -1n, committedLeaderEpoch: -1, metadata: "" };

interface AskedTopic {
  name: string;
  topicId: string;
  partitionIndexes: number[];
}

/** One group's answer in the v8+ shape. */
function fetchGroup(
  context: RequestContext,
  groupId: string,
  asked: AskedTopic[] | null,
  member: { memberId: string | null; memberEpoch: number } | undefined,
  requireStable: boolean,
): OffsetFetchResponseOffsetFetchResponseGroup {
  const byTopicId = context.apiVersion >= 10;
  // Authorization: DESCRIBE on the group.
  if (!context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) return { groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] };
  const describable = (name: string) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, name);
  const failed: OffsetFetchResponseOffsetFetchResponseGroup["topics"] = [];
  const fail = (name: string, topicId: string, partitionIndexes: number[], errorCode: number) =>
    failed.push({ name, topicId, partitions: partitionIndexes.map((partitionIndex) => ({ partitionIndex, ...NO_OFFSET, errorCode })) });
  let topics: { name: string; partitions: number[] }[] | null = null;
  if (asked !== null) {
    topics = [];
    for (const topic of asked) {
      const name = byTopicId ? context.metadata.topicById(topic.topicId)?.name : topic.name;
      if (name === undefined) fail("", topic.topicId, topic.partitionIndexes, ErrorCode.UNKNOWN_TOPIC_ID);
      else if (!describable(name)) fail(byTopicId ? "" : name, topic.topicId, topic.partitionIndexes, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      else topics.push({ name, partitions: topic.partitionIndexes });
    }
  }
  const fetched: FetchedOffsets = context.groups.fetchOffsets(groupId, topics, member, requireStable);
  const answered = fetched.topics.flatMap((topic) => {
    if (asked === null && !describable(topic.name)) return [];
    const topicId = context.metadata.topic(topic.name)?.id;
    if (byTopicId && topicId === undefined) return [];
    return [
      {
        name: byTopicId ? "" : topic.name,
        topicId: byTopicId ? (topicId as string) : ZERO_UUID,
        partitions: topic.partitions.map(
          ({ partition, offset, unstable }): OffsetFetchResponseOffsetFetchResponsePartitions =>
            unstable === true
              ? { partitionIndex: partition, ...NO_OFFSET, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
              : {
                  partitionIndex: partition,
                  committedOffset: offset?.offset ?? -1n,
                  committedLeaderEpoch: offset?.leaderEpoch ?? -1,
                  metadata: offset?.metadata ?? "",
                  errorCode: ErrorCode.NONE,
                },
        ),
      },
    ];
  });
  return { groupId, errorCode: fetched.errorCode, topics: fetched.errorCode === ErrorCode.NONE ? [...answered, ...failed] : answered };
}

export const offsetFetch = defineHandler<OffsetFetchRequest, OffsetFetchResponse>(
  9,
  { min: 1, max: 10 },
  (context, request) => {
    if (context.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        topics: [],
        // v9+: a member of a consumer group fetches with its member id and epoch (KIP-848).
        groups: request.groups.map((group) =>
          fetchGroup(
            context,
            group.groupId,
            group.topics,
            context.apiVersion >= 9 ? { memberId: group.memberId, memberEpoch: group.memberEpoch } : undefined,
            request.requireStable,
          ),
        ),
      };
    }
    const asked = request.topics?.map((topic) => ({ name: topic.name, topicId: ZERO_UUID, partitionIndexes: topic.partitionIndexes })) ?? null;
    const group = fetchGroup(context, request.groupId, asked, undefined, context.apiVersion >= 7 && request.requireStable);
    if (group.errorCode !== ErrorCode.NONE) {
      // v1: the group's error on every partition asked for; v2-7: at the top level only.
      const topics =
        context.apiVersion < 2
          ? (asked ?? []).map((topic) => ({
              name: topic.name,
              partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, ...NO_OFFSET, errorCode: group.errorCode })),
            }))
          : [];
      return { throttleTimeMs: 0, errorCode: group.errorCode, topics, groups: [] };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      topics: group.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions })),
      groups: [],
    };
  },
  (context, request, errorCode) => {
    if (context.apiVersion >= 8)
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        topics: [],
        groups: request.groups.map((group) => ({ groupId: group.groupId, errorCode, topics: [] })),
      };
    return { throttleTimeMs: 0, errorCode, topics: [], groups: [] };
  },
);
