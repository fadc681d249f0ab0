// CreateTopics (key 19), versions 2-7, with Kafka's validation and messages: topic names
// (INVALID_TOPIC_EXCEPTION), duplicates in one request (INVALID_REQUEST), existing topics
// (TOPIC_ALREADY_EXISTS), partition counts (INVALID_PARTITIONS), replication factors — above
// the number of live brokers is INVALID_REPLICATION_FACTOR (a single node holds one replica) —,
// manual assignments (INVALID_REPLICA_ASSIGNMENT) and topic configs (INVALID_CONFIG). Replicas
// are placed rack-aware over the live brokers (src/cluster/placement.ts) unless assigned. validateOnly
// checks everything and creates nothing. v5+ answers with the topic's resulting configs.
// More than PARTITIONS_PER_REQUEST_MAX partitions in all: POLICY_VIOLATION for every topic.

import { replicationFactorError } from "../cluster/placement.js";
import { ConfigError, describeTopicConfigs, validateTopicConfigs, validateTopicName } from "../config/index.js";
import { ErrorCode } from "../protocol/errors.js";
import type {
  CreateTopicsRequest,
  CreateTopicsRequestCreatableTopic,
  CreateTopicsResponse,
  CreateTopicsResponseCreatableTopicResult,
} from "../protocol/generated/create-topics.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, PARTITIONS_PER_REQUEST_MAX, ZERO_UUID } from "./common.js";

function failure(name: string, errorCode: number, errorMessage: string | null): CreateTopicsResponseCreatableTopicResult {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, topicConfigErrorCode: ErrorCode.NONE, numPartitions: -1, replicationFactor: -1, configs: null };
}

/** The topic's partitions, replication factor and config overrides, or why it cannot be created. */
function check(
  context: RequestContext,
  topic: CreatableTopicRequest,
): { partitions: number; replicationFactor: number; configs: Record<string, string>; assignments?: number[][] } | { errorCode: number; message: string } {
  const nameProblem = validateTopicName(topic.name);
  if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: nameProblem };
  if (context.topics.exists(topic.name)) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${topic.name}' already exists.` };
  let partitions = topic.numPartitions;
  let replicationFactor = topic.replicationFactor;
  let assignments: number[][] | undefined;
  if (topic.assignments.length > 0) {
    if (partitions !== -1 || replicationFactor !== -1) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        message: "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
      };
    }
    const sorted = [...topic.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex);
    for (const [i, assignment] of sorted.entries()) {
      if (assignment.partitionIndex !== i) {
        return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: "Partitions should be a consecutive 0-based integer sequence" };
      }
      if (assignment.brokerIds.length === 0) {
        return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `The manual partition assignment includes an empty replica list.` };
      }
      const unknown = assignment.brokerIds.find((id) => context.metadata.broker(id) === undefined);
      if (unknown !== undefined) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          message: `The manual partition assignment includes broker ${unknown}, but no such broker is registered.`,
        };
      }
      if (new Set(assignment.brokerIds).size !== assignment.brokerIds.length) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          message: `The manual partition assignment includes the broker ${assignment.brokerIds[0]} more than once.`,
        };
      }
    }
    partitions = sorted.length;
    replicationFactor = sorted[0].brokerIds.length;
    assignments = sorted.map((assignment) => [...assignment.brokerIds]);
  } else {
    if (partitions === -1) partitions = context.config.numPartitions;
    if (replicationFactor === -1) replicationFactor = context.config.defaultReplicationFactor;
    if (partitions <= 0) return { errorCode: ErrorCode.INVALID_PARTITIONS, message: "Number of partitions was set to an invalid non-positive value." };
    if (replicationFactor <= 0) {
      return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, message: "Replication factor must be larger than 0, or -1 to use the default value." };
    }
    const brokers = context.metadata.brokers().length;
    if (replicationFactor > brokers) {
      return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, message: replicationFactorError(replicationFactor, brokers) };
    }
  }
  const configs: Record<string, string> = {};
  for (const config of topic.configs) {
    if (config.value === null) return { errorCode: ErrorCode.INVALID_CONFIG, message: `Null value not supported for topic configs: ${config.name}` };
    configs[config.name] = config.value;
  }
  try {
    validateTopicConfigs(configs);
  } catch (error) {
    if (error instanceof ConfigError) return { errorCode: ErrorCode.INVALID_CONFIG, message: error.message };
    throw error;
  }
  return { partitions, replicationFactor, configs, assignments };
}

type CreatableTopicRequest = CreateTopicsRequestCreatableTopic;

export const createTopics = defineHandler<CreateTopicsRequest, CreateTopicsResponse>(
  19,
  { min: 2, max: 7 },
  async (context, request) => {
    const { topics, apiVersion } = context;
    const counts = new Map<string, number>();
    for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
    // Kafka's ReplicationControlManager.validateTotalNumberOfPartitions, before anything else.
    let partitionsRequested = 0;
    for (const topic of request.topics) {
      if ((counts.get(topic.name) ?? 0) > 1) continue;
      if (topic.assignments.length > 0) partitionsRequested += topic.assignments.length;
      else if (topic.numPartitions === -1) partitionsRequested += context.config.numPartitions;
      else if (topic.numPartitions > 0) partitionsRequested += topic.numPartitions;
    }
    if (partitionsRequested > PARTITIONS_PER_REQUEST_MAX) {
      const message = "Excessively large number of partitions per request.";
      return { throttleTimeMs: 0, topics: request.topics.map((topic) => failure(topic.name, ErrorCode.POLICY_VIOLATION, message)) };
    }
    // Authorization: CREATE on the cluster, else on each topic (TOPIC_AUTHORIZATION_FAILED).
    const clusterCreate = context.authorized(AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME);
    // controller_mutation_rate (KIP-599): strict from v6 (a topic over the quota is refused).
    const mutations = context.quotas.mutationEnabled ? context.quotas.controllerMutation(context, apiVersion >= 6, Date.now()) : null;
    const results = await Promise.all(
      request.topics.map(async (topic): Promise<CreateTopicsResponseCreatableTopicResult> => {
        if ((counts.get(topic.name) ?? 0) > 1) return failure(topic.name, ErrorCode.INVALID_REQUEST, "Duplicate topic name.");
        if (!clusterCreate && !context.authorized(AclOperation.CREATE, ResourceType.TOPIC, topic.name))
          return failure(topic.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
        const checked = check(context, topic);
        if ("errorCode" in checked) return failure(topic.name, checked.errorCode, checked.message);
        let topicId = ZERO_UUID;
        if (!request.validateOnly) {
          try {
            mutations?.record(checked.partitions);
            topicId = (
              await topics.create(topic.name, checked.partitions, checked.configs, {
                replicationFactor: checked.replicationFactor,
                assignments: checked.assignments,
              })
            ).id;
          } catch (error) {
            const code = errorCodeOf(error);
            if (code === ErrorCode.UNKNOWN_SERVER_ERROR) context.logger.error({ err: error, topic: topic.name }, "topic creation failed");
            return failure(topic.name, code, code === ErrorCode.UNKNOWN_SERVER_ERROR ? null : (error as Error).message);
          }
        }
        const configs =
          apiVersion >= 5
            ? describeTopicConfigs(checked.configs, context.config, null, { includeSynonyms: false, includeDocumentation: false }).map((config) => ({
                name: config.name,
                value: config.value,
                readOnly: config.readOnly,
                configSource: config.configSource,
                isSensitive: config.isSensitive,
              }))
            : null;
        return {
          name: topic.name,
          topicId,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          topicConfigErrorCode: ErrorCode.NONE,
          numPartitions: checked.partitions,
          replicationFactor: checked.replicationFactor,
          configs,
        };
      }),
    );
    if (mutations !== null) context.throttle(mutations.throttleTimeMs);
    return { throttleTimeMs: 0, topics: results };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, topics: request.topics.map((topic) => failure(topic.name, errorCode, null)) }),
);
