// ElectLeaders (key 43), versions 0-2: kafka-leader-election.sh and Admin.electLeaders. A preferred
// election (type 0, the only one before v1) makes each partition's first replica its leader when
// that replica is alive and in the ISR; an unclean one (type 1) gives a partition without a live
// leader its first live replica, in sync or not. Per partition: NONE (elected),
// ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE, or
// UNKNOWN_TOPIC_OR_PARTITION. Null partitions means all of them, and then only the partitions
// that needed an election are listed (Kafka's ReplicationControlManager.electLeaders). The
// elections themselves are the LeaderElections service's (src/cluster/elections.ts).

import { ErrorCode } from "../protocol/errors.js";
import type { ElectLeadersRequest, ElectLeadersResponse, ElectLeadersResponseReplicaElectionResult } from "../protocol/generated/elect-leaders.js";
import { defineHandler } from "../server/registry.js";

const UNCLEAN = 1;

export const electLeaders = defineHandler<ElectLeadersRequest, ElectLeadersResponse>(
  43,
  { min: 0, max: 2 },
  async (context, request) => {
    const unclean = context.apiVersion >= 1 && request.electionType === UNCLEAN;
    if (context.apiVersion >= 1 && request.electionType !== 0 && request.electionType !== UNCLEAN) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, replicaElectionResults: [] };
    }
    const wanted = request.topicPartitions?.flatMap((topic) => topic.partitions.map((index) => ({ topic: topic.topic, index }))) ?? null;
    const outcomes = await context.elections.electLeaders(unclean, wanted);
    const byTopic = new Map<string, ElectLeadersResponseReplicaElectionResult>();
    for (const [key, outcome] of outcomes) {
      const dash = key.lastIndexOf("-");
      const topic = key.slice(0, dash);
      const partitionId = Number(key.slice(dash + 1));
      const errorCode =
        outcome === "elected"
          ? ErrorCode.NONE
          : outcome === "not-needed"
            ? ErrorCode.ELECTION_NOT_NEEDED
            : outcome === "unknown"
              ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
              : unclean
                ? ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE
                : ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE;
      let result = byTopic.get(topic);
      if (result === undefined) {
        result = { topic, partitionResult: [] };
        byTopic.set(topic, result);
      }
      result.partitionResult.push({ partitionId, errorCode, errorMessage: errorCode === ErrorCode.NONE ? null : errorMessageOf(errorCode) });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: [...byTopic.values()] };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    replicaElectionResults: (request.topicPartitions ?? []).map((topic) => ({
      topic: topic.topic,
      partitionResult: topic.partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage: null })),
    })),
  }),
);

function errorMessageOf(errorCode: number): string | null {
  switch (errorCode) {
    case ErrorCode.ELECTION_NOT_NEEDED:
      return "Leader election not needed for topic partition.";
    case ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE:
      return "The preferred leader was not available.";
    case ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE:
      return "Eligible topic partition leaders are not available.";
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return "This server does not host this topic-partition.";
    default:
      return null;
  }
}
