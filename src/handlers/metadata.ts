// Metadata (key 3), every version: brokers (this node, on the requesting listener's advertised
// endpoint), cluster id, controller id, and topics — all of them (null list; an empty list
// at v0), by name, or by topic id (v12+). An unknown topic is created when
// auto.create.topics.enable is on and the request allows it (always before v4) with
// num.partitions partitions; otherwise UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id).

import { validateTopicName } from "../config/index.js";
import { ErrorCode } from "../protocol/errors.js";
import type { MetadataRequest, MetadataResponse, MetadataResponseMetadataResponseTopic } from "../protocol/generated/metadata.js";
import type { Broker, Topic } from "../server/broker.js";
import { defineHandler } from "../server/registry.js";
import { CLUSTER_OPERATIONS, endpointFor, OPERATIONS_NOT_REQUESTED, reportUnexpected, TOPIC_OPERATIONS, ZERO_UUID } from "./common.js";

export function describeTopic(broker: Broker, topic: Topic, includeOperations: boolean): MetadataResponseMetadataResponseTopic {
  const nodeId = broker.nodeId;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.state.name,
    topicId: topic.state.id,
    isInternal: false,
    partitions: topic.partitions.map((partition) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: partition.index,
      leaderId: nodeId,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: includeOperations ? TOPIC_OPERATIONS : OPERATIONS_NOT_REQUESTED,
  };
}

function missing(name: string | null, topicId: string, errorCode: number): MetadataResponseMetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED };
}

export const metadata = defineHandler<MetadataRequest, MetadataResponse>(3, { min: 0, max: 13 }, async (context, request) => {
  const { broker, apiVersion } = context;
  const endpoint = endpointFor(broker, context.connection.listener);
  const includeTopicOps = apiVersion >= 8 && request.includeTopicAuthorizedOperations;
  const allowAutoCreate = (apiVersion < 4 || request.allowAutoTopicCreation) && broker.config.autoCreateTopicsEnable;
  const topics: MetadataResponseMetadataResponseTopic[] = [];
  const all = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
  if (all) {
    for (const topic of broker.topics()) topics.push(describeTopic(broker, topic, includeTopicOps));
  } else {
    for (const wanted of request.topics ?? []) {
      if (wanted.name === null || wanted.name === "") {
        const topic = wanted.topicId === ZERO_UUID ? undefined : broker.topicById(wanted.topicId);
        topics.push(topic === undefined ? missing(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID) : describeTopic(broker, topic, includeTopicOps));
        continue;
      }
      const name = wanted.name;
      let topic = broker.topic(name);
      if (topic === undefined) {
        if (validateTopicName(name) !== null) {
          topics.push(missing(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION));
          continue;
        }
        if (allowAutoCreate) {
          try {
            topic = await broker.autoCreateTopic(name);
          } catch (error) {
            reportUnexpected(context, error, `auto-creating ${name}`);
            topics.push(missing(name, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE));
            continue;
          }
        }
      }
      topics.push(topic === undefined ? missing(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) : describeTopic(broker, topic, includeTopicOps));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port, rack: broker.config.brokerRack }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
    clusterAuthorizedOperations: apiVersion >= 8 && request.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS : OPERATIONS_NOT_REQUESTED,
    errorCode: ErrorCode.NONE,
  };
});
