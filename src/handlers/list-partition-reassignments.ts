// ListPartitionReassignments (key 46), version 0: kafka-reassign-partitions.sh --verify / --list
// and Admin.listPartitionReassignments — the partitions with replicas being added or removed
// (all of them for a null topic list), with their replicas, adding and removing replicas.

import { ErrorCode } from "../protocol/errors.js";
import type {
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponse,
  ListPartitionReassignmentsResponseOngoingTopicReassignment,
} from "../protocol/generated/list-partition-reassignments.js";
import { defineHandler } from "../server/registry.js";

export const listPartitionReassignments = defineHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse>(
  46,
  { min: 0, max: 0 },
  (context, request) => {
    const wanted = request.topics?.flatMap((topic) => topic.partitionIndexes.map((index) => ({ topic: topic.name, index }))) ?? null;
    const topics = new Map<string, ListPartitionReassignmentsResponseOngoingTopicReassignment>();
    for (const ongoing of context.reassignments.ongoing(wanted)) {
      let topic = topics.get(ongoing.topic);
      if (topic === undefined) {
        topic = { name: ongoing.topic, partitions: [] };
        topics.set(ongoing.topic, topic);
      }
      topic.partitions.push({
        partitionIndex: ongoing.index,
        replicas: [...ongoing.replicas],
        addingReplicas: [...ongoing.addingReplicas],
        removingReplicas: [...ongoing.removingReplicas],
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [...topics.values()] };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, topics: [] }),
);
