// CreatePartitions (key 37), versions 0-3: grow a topic to `count` partitions (never shrink:
// INVALID_PARTITIONS with Kafka's messages), optionally with explicit assignments, which must name
// registered brokers, each once, as many as the topic's other partitions have replicas
// (INVALID_REPLICA_ASSIGNMENT otherwise); without them new replicas are placed like a new topic's. More
// than PARTITIONS_PER_REQUEST_MAX new partitions in all: POLICY_VIOLATION for every topic.

import { ErrorCode } from "../protocol/errors.js";
import type {
  CreatePartitionsRequest,
  CreatePartitionsRequestCreatePartitionsTopic,
  CreatePartitionsResponse,
} from "../protocol/generated/create-partitions.js";
import { AclOperation, ResourceType as AclResource } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, PARTITIONS_PER_REQUEST_MAX } from "./common.js";

function check(context: RequestContext, wanted: CreatePartitionsRequestCreatePartitionsTopic): { errorCode: number; errorMessage: string | null } | null {
  // Authorization: ALTER on the topic, before its existence.
  if (!context.authorized(AclOperation.ALTER, AclResource.TOPIC, wanted.name)) return { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null };
  const topic = context.metadata.topic(wanted.name);
  if (topic === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `The topic '${wanted.name}' does not exist.` };
  const current = topic.partitions.length;
  if (wanted.count < current) {
    return {
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: `The topic ${wanted.name} currently has ${current} partition(s); ${wanted.count} would not be an increase.`,
    };
  }
  if (wanted.count === current) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `Topic already has ${current} partition(s).` };
  if (wanted.assignments !== null) {
    if (wanted.assignments.length !== wanted.count - current) {
      return {
        errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        errorMessage: `Attempted to add ${wanted.count - current} additional partition(s), but only ${wanted.assignments.length} assignment(s) were specified.`,
      };
    }
    for (const assignment of wanted.assignments) {
      const unknown = assignment.brokerIds.find((id) => context.metadata.broker(id) === undefined);
      if (unknown !== undefined)
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `The manual partition assignment includes broker ${unknown}, but no such broker is registered.`,
        };
      const replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
      if (assignment.brokerIds.length !== replicationFactor) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `The manual partition assignment includes a partition with ${assignment.brokerIds.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`,
        };
      }
      if (new Set(assignment.brokerIds).size !== assignment.brokerIds.length) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `The manual partition assignment includes the broker ${assignment.brokerIds[0]} more than once.`,
        };
      }
    }
  }
  return null;
}

export const createPartitions = defineHandler<CreatePartitionsRequest, CreatePartitionsResponse>(
  37,
  { min: 0, max: 3 },
  async (context, request) => {
    const counts = new Map<string, number>();
    for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
    // Kafka's ReplicationControlManager.validateTotalNumberOfPartitions, before anything else.
    let partitionsAdded = 0;
    for (const wanted of request.topics) {
      const current = (counts.get(wanted.name) ?? 0) > 1 ? undefined : context.metadata.topic(wanted.name)?.partitions.length;
      if (current !== undefined && wanted.count > current) partitionsAdded += wanted.count - current;
    }
    if (partitionsAdded > PARTITIONS_PER_REQUEST_MAX) {
      const errorMessage = "Excessively large number of additional partitions per request.";
      return { throttleTimeMs: 0, results: request.topics.map((t) => ({ name: t.name, errorCode: ErrorCode.POLICY_VIOLATION, errorMessage })) };
    }
    const results = [];
    // controller_mutation_rate (KIP-599): strict from v3 (a topic over the quota is refused).
    const mutations = context.quotas.mutationEnabled ? context.quotas.controllerMutation(context, context.apiVersion >= 3, Date.now()) : null;
    for (const wanted of request.topics) {
      if ((counts.get(wanted.name) ?? 0) > 1) {
        results.push({ name: wanted.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Duplicate topic name." });
        continue;
      }
      const problem = check(context, wanted);
      if (problem !== null) {
        results.push({ name: wanted.name, ...problem });
        continue;
      }
      if (!request.validateOnly) {
        try {
          mutations?.record(wanted.count - (context.metadata.topic(wanted.name)?.partitions.length ?? wanted.count));
          await context.topics.createPartitions(
            wanted.name,
            wanted.count,
            wanted.assignments?.map((assignment) => assignment.brokerIds),
          );
        } catch (error) {
          const errorCode = errorCodeOf(error);
          if (errorCode === ErrorCode.THROTTLING_QUOTA_EXCEEDED) {
            results.push({ name: wanted.name, errorCode, errorMessage: (error as Error).message });
            continue;
          }
          context.logger.error({ err: error, topic: wanted.name }, "adding partitions failed");
          results.push({ name: wanted.name, errorCode, errorMessage: null });
          continue;
        }
      }
      results.push({ name: wanted.name, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    if (mutations !== null) context.throttle(mutations.throttleTimeMs);
    return { throttleTimeMs: 0, results };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, results: request.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })) }),
);
