// Metadata (key 3), every version: brokers (every live broker, on the requesting listener's
// advertised endpoints), cluster id, controller id, and topics — all of them (null list; an empty list
// at v0), by name, or by topic id (v12+). An unknown topic is created when
// auto.create.topics.enable is on and the request allows it (always before v4) with
// num.partitions partitions; otherwise UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id).

import type { TopicMetadata } from "../cluster/metadata-cache.js";
import { validateTopicName } from "../config/index.js";
import { ErrorCode } from "../protocol/errors.js";
import type { MetadataRequest, MetadataResponse, MetadataResponseMetadataResponseTopic } from "../protocol/generated/metadata.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import {
  authorizedOperations,
  brokersFor,
  clusterAuthorizedOperations,
  OPERATIONS_NOT_REQUESTED,
  reportUnexpected,
  TOPIC_OPERATIONS,
  ZERO_UUID,
} from "./common.js";

export function describeTopic(topic: TopicMetadata, includeOperations: boolean, operations = TOPIC_OPERATIONS): MetadataResponseMetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: topic.isInternal,
    partitions: topic.partitions.map((partition) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: partition.index,
      leaderId: partition.leaderId,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: [...partition.replicas],
      isrNodes: [...partition.isr],
      offlineReplicas: [...partition.offlineReplicas],
    })),
    topicAuthorizedOperations: includeOperations ? operations : OPERATIONS_NOT_REQUESTED,
  };
}

function missing(name: string | null, topicId: string, errorCode: number): MetadataResponseMetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED };
}

export const metadata = defineHandler<MetadataRequest, MetadataResponse>(3, { min: 0, max: 13 }, async (context, request) => {
  const { metadata, apiVersion } = context;
  const includeTopicOps = apiVersion >= 8 && request.includeTopicAuthorizedOperations;
  const allowAutoCreate = (apiVersion < 4 || request.allowAutoTopicCreation) && context.config.autoCreateTopicsEnable;
  const topics: MetadataResponseMetadataResponseTopic[] = [];
  const all = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
  // Authorization (Kafka's handleTopicMetadataRequest): a topic needs DESCRIBE — left out of an
  // all-topics answer, TOPIC_AUTHORIZATION_FAILED when named (existing or not); auto-creation
  // needs CREATE on the cluster or the topic.
  const describable = (name: string) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, name);
  // A described topic that does not exist (or could not be made) still carries its authorized
  // operations, as in Kafka; the refused ones do not.
  const absent = (name: string, errorCode: number) => ({
    ...missing(name, ZERO_UUID, errorCode),
    topicAuthorizedOperations: includeTopicOps ? authorizedOperations(context, ResourceType.TOPIC, name) : OPERATIONS_NOT_REQUESTED,
  });
  const describe = (topic: TopicMetadata) =>
    describeTopic(topic, includeTopicOps, includeTopicOps ? authorizedOperations(context, ResourceType.TOPIC, topic.name) : TOPIC_OPERATIONS);
  if (all) {
    for (const topic of metadata.topics()) if (describable(topic.name)) topics.push(describe(topic));
  } else {
    for (const wanted of request.topics ?? []) {
      if (wanted.name === null || wanted.name === "") {
        const topic = wanted.topicId === ZERO_UUID ? undefined : metadata.topicById(wanted.topicId);
        if (topic !== undefined && !describable(topic.name)) topics.push(missing(null, wanted.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        else topics.push(topic === undefined ? missing(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID) : describe(topic));
        continue;
      }
      const name = wanted.name;
      if (!describable(name)) {
        topics.push(missing(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      let topic = metadata.topic(name);
      if (topic === undefined) {
        if (validateTopicName(name) !== null) {
          topics.push(absent(name, ErrorCode.INVALID_TOPIC_EXCEPTION));
          continue;
        }
        if (
          allowAutoCreate &&
          !context.authorized(AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME) &&
          !context.authorized(AclOperation.CREATE, ResourceType.TOPIC, name)
        ) {
          topics.push(missing(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        if (allowAutoCreate) {
          try {
            topic = await context.topics.autoCreate(name);
          } catch (error) {
            reportUnexpected(context, error, `auto-creating ${name}`);
            topics.push(absent(name, ErrorCode.LEADER_NOT_AVAILABLE));
            continue;
          }
        }
      }
      topics.push(topic === undefined ? absent(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) : describe(topic));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: brokersFor(context).map(({ nodeId, endpoint, rack }) => ({ nodeId, host: endpoint.host, port: endpoint.port, rack })),
    clusterId: metadata.clusterId,
    controllerId: metadata.controllerId,
    topics,
    clusterAuthorizedOperations:
      apiVersion >= 8 && apiVersion <= 10 && request.includeClusterAuthorizedOperations ? clusterAuthorizedOperations(context) : OPERATIONS_NOT_REQUESTED,
    errorCode: ErrorCode.NONE,
  };
});
