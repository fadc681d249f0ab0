// StreamsGroupHeartbeat (key 88), versions 0-1: a Kafka Streams member of a KIP-1071 streams group
// joins (epoch 0, with its topology), heartbeats with its epoch and the tasks it owns, or leaves
// (-1; a static member -2 to leave temporarily). The answer carries its epoch, its tasks when they
// changed, statuses (missing or wrongly partitioned topics, delayed assignment, shutdown) and the
// partitions behind every member's Interactive Queries endpoint
// (src/coordinator/group/streams-group-protocol.ts). As Kafka's KafkaApis: READ on the group
// (GROUP_AUTHORIZATION_FAILED); a topology naming Kafka's internal topics or invalid topic names is
// STREAMS_INVALID_TOPOLOGY; DESCRIBE on every topic the topology names (TOPIC_AUTHORIZATION_FAILED);
// missing internal topics are created only with CREATE on the cluster or on those topics, else the
// MISSING_INTERNAL_TOPICS status says which ones could not be.

import { isInternalTopic, validateTopicName } from "../../config/topic-name.js";
import { streamsHeartbeatError } from "../../coordinator/group/streams-group-protocol.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { StreamsGroupHeartbeatRequest, StreamsGroupHeartbeatResponse } from "../../protocol/generated/streams-group-heartbeat.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const streamsGroupHeartbeat = defineHandler<StreamsGroupHeartbeatRequest, StreamsGroupHeartbeatResponse>(
  88,
  { min: 0, max: 1 },
  (context, request) => {
    if (!context.groups.config.rebalanceProtocols.includes("streams")) return streamsHeartbeatError(ErrorCode.UNSUPPORTED_VERSION);
    if (!context.authorized(AclOperation.READ, ResourceType.GROUP, request.groupId)) return streamsHeartbeatError(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    let canCreate = true;
    if (request.topology !== null) {
      const required = [
        ...new Set(
          request.topology.subtopologies.flatMap((s) => [
            ...s.sourceTopics,
            ...s.repartitionSinkTopics,
            ...s.repartitionSourceTopics.map((t) => t.name),
            ...s.stateChangelogTopics.map((t) => t.name),
          ]),
        ),
      ];
      const prohibited = required.filter(isInternalTopic);
      if (prohibited.length > 0) {
        return streamsHeartbeatError(
          ErrorCode.STREAMS_INVALID_TOPOLOGY,
          `Use of Kafka internal topics ${prohibited.join(",")} in a Kafka Streams topology is prohibited.`,
        );
      }
      const invalid = required.filter((topic) => validateTopicName(topic) !== null);
      if (invalid.length > 0) return streamsHeartbeatError(ErrorCode.STREAMS_INVALID_TOPOLOGY, `Topic names ${invalid.join(",")} are not valid topic names.`);
      if (required.some((topic) => !context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, topic))) {
        return streamsHeartbeatError(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      }
    }
    canCreate = context.authorized(AclOperation.CREATE, ResourceType.CLUSTER, "kafka-cluster");
    return context.groups.streamsGroupHeartbeat({
      groupId: request.groupId,
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      endpointInformationEpoch: request.endpointInformationEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      topology: request.topology,
      activeTasks: request.activeTasks,
      standbyTasks: request.standbyTasks,
      warmupTasks: request.warmupTasks,
      processId: request.processId,
      userEndpoint: request.userEndpoint,
      clientTags: request.clientTags,
      taskOffsets: request.taskOffsets,
      taskEndOffsets: request.taskEndOffsets,
      shutdownApplication: request.shutdownApplication,
      clientId: context.header.clientId ?? "",
      clientHost: `/${context.connection.peerHost}`,
      apiVersion: context.apiVersion,
      mayCreateTopic: canCreate ? () => true : (topic) => context.authorized(AclOperation.CREATE, ResourceType.TOPIC, topic),
    });
  },
  (_context, _request, errorCode) => streamsHeartbeatError(errorCode),
);
