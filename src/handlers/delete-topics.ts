// DeleteTopics (key 20), versions 1-6: by name (v0-5) or by name or topic id (v6+). Unknown
// topics are UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id); delete.topic.enable=false
// is TOPIC_DELETION_DISABLED. The topic disappears from metadata first, then its partition
// directories are deleted.

import { ErrorCode } from "../protocol/errors.js";
import type { DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopicsResponseDeletableTopicResult } from "../protocol/generated/delete-topics.js";
import { AclOperation, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, ZERO_UUID } from "./common.js";

export const deleteTopics = defineHandler<DeleteTopicsRequest, DeleteTopicsResponse>(
  20,
  { min: 1, max: 6 },
  async (context, request) => {
    const { metadata, apiVersion } = context;
    const wanted = apiVersion >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
    // controller_mutation_rate (KIP-599): strict from v5 (a topic over the quota is refused).
    const mutations = context.quotas.mutationEnabled ? context.quotas.controllerMutation(context, apiVersion >= 5, Date.now()) : null;
    for (const entry of wanted) {
      const byId = entry.name === null;
      if (entry.name !== null && entry.topicId !== ZERO_UUID) {
        responses.push({
          name: entry.name,
          topicId: entry.topicId,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: "Topic name and topic ID can not both be specified.",
        });
        continue;
      }
      const topic = byId ? metadata.topicById(entry.topicId) : metadata.topic(entry.name as string);
      // Authorization: DELETE on the topic, checked before existence for a name.
      const name = byId ? topic?.name : (entry.name as string);
      if (name !== undefined && !context.authorized(AclOperation.DELETE, ResourceType.TOPIC, name)) {
        responses.push({ name: entry.name, topicId: entry.topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      if (topic === undefined) {
        const errorCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        responses.push({ name: entry.name, topicId: entry.topicId, errorCode, errorMessage: null });
        continue;
      }
      const result = { name: topic.name, topicId: topic.id };
      if (!context.config.deleteTopicEnable) {
        responses.push({ ...result, errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: "Topic deletion is disabled." });
        continue;
      }
      try {
        mutations?.record(topic.partitions.length);
        await context.topics.delete(topic.name);
        responses.push({ ...result, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (error) {
        const errorCode = errorCodeOf(error);
        if (errorCode === ErrorCode.THROTTLING_QUOTA_EXCEEDED) {
          responses.push({ ...result, errorCode, errorMessage: (error as Error).message });
          continue;
        }
        context.logger.error({ err: error, topic: topic.name }, "topic deletion failed");
        responses.push({ ...result, errorCode, errorMessage: null });
      }
    }
    if (mutations !== null) context.throttle(mutations.throttleTimeMs);
    return { throttleTimeMs: 0, responses };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    responses: [
      ...request.topics.map((t) => ({ name: t.name, topicId: t.topicId, errorCode, errorMessage: null })),
      ...request.topicNames.map((name) => ({ name, topicId: ZERO_UUID, errorCode, errorMessage: null })),
    ],
  }),
);
