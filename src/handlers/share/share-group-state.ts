// The share coordinator's APIs (keys 83-87, KIP-932), sent by share-partition leaders and group
// coordinators on other brokers (src/share/persister.ts) to the leader of a __share_group_state
// partition: InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState,
// DeleteShareGroupState, ReadShareGroupStateSummary. Each partition is answered by the local
// ShareCoordinator (src/coordinator/share/coordinator.ts) with Kafka's codes (NOT_COORDINATOR
// when this broker does not lead its key's partition, FENCED_LEADER_EPOCH, FENCED_STATE_EPOCH).
// Authorization: CLUSTER_ACTION on the cluster (inter-broker APIs).

import type { ShareStateResult } from "../../coordinator/share/coordinator.js";
import type { DeleteShareGroupStateRequest, DeleteShareGroupStateResponse } from "../../protocol/generated/delete-share-group-state.js";
import type { InitializeShareGroupStateRequest, InitializeShareGroupStateResponse } from "../../protocol/generated/initialize-share-group-state.js";
import type { ReadShareGroupStateRequest, ReadShareGroupStateResponse } from "../../protocol/generated/read-share-group-state.js";
import type { ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse } from "../../protocol/generated/read-share-group-state-summary.js";
import type { WriteShareGroupStateRequest, WriteShareGroupStateResponse } from "../../protocol/generated/write-share-group-state.js";
import { defineHandler } from "../../server/registry.js";

type Topics<P> = readonly { topicId: string; partitions: readonly P[] }[];

async function perPartition<P extends { partition: number }, R>(
  topics: Topics<P>,
  run: (topicId: string, p: P) => Promise<ShareStateResult> | ShareStateResult,
  shape: (p: P, result: ShareStateResult) => R,
): Promise<{ topicId: string; partitions: R[] }[]> {
  const out: { topicId: string; partitions: R[] }[] = [];
  for (const topic of topics) {
    const partitions: R[] = [];
    for (const p of topic.partitions) partitions.push(shape(p, await run(topic.topicId, p)));
    out.push({ topicId: topic.topicId, partitions });
  }
  return out;
}

const failedTopics = <P extends { partition: number }>(topics: Topics<P>, errorCode: number) =>
  topics.map((t) => ({ topicId: t.topicId, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, errorMessage: null })) }));

export const initializeShareGroupState = defineHandler<InitializeShareGroupStateRequest, InitializeShareGroupStateResponse>(
  83,
  { min: 0, max: 0 },
  async (context, request) => ({
    results: await perPartition(
      request.topics,
      (topicId, p) => context.shareStates.initialize(request.groupId, topicId, p.partition, p.stateEpoch, p.startOffset),
      (p, r) => ({ partition: p.partition, errorCode: r.errorCode, errorMessage: r.errorMessage }),
    ),
  }),
  (_context, request, errorCode) => ({ results: failedTopics(request.topics, errorCode) }),
);

export const readShareGroupState = defineHandler<ReadShareGroupStateRequest, ReadShareGroupStateResponse>(
  84,
  { min: 0, max: 0 },
  async (context, request) => ({
    results: await perPartition(
      request.topics,
      (topicId, p) => context.shareStates.read(request.groupId, topicId, p.partition, p.leaderEpoch),
      (p, r) => ({
        partition: p.partition,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        stateEpoch: r.state?.stateEpoch ?? 0,
        startOffset: r.state?.startOffset ?? -1n,
        stateBatches: (r.state?.stateBatches ?? []).map((b) => ({ ...b })),
      }),
    ),
  }),
  (_context, request, errorCode) => ({
    results: request.topics.map((t) => ({
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, errorMessage: null, stateEpoch: 0, startOffset: -1n, stateBatches: [] })),
    })),
  }),
);

export const writeShareGroupState = defineHandler<WriteShareGroupStateRequest, WriteShareGroupStateResponse>(
  85,
  { min: 0, max: 1 },
  async (context, request) => ({
    results: await perPartition(
      request.topics,
      (topicId, p) =>
        context.shareStates.write(request.groupId, topicId, p.partition, {
          leaderEpoch: p.leaderEpoch,
          stateEpoch: p.stateEpoch,
          startOffset: p.startOffset,
          deliveryCompleteCount: p.deliveryCompleteCount,
          stateBatches: p.stateBatches,
        }),
      (p, r) => ({ partition: p.partition, errorCode: r.errorCode, errorMessage: r.errorMessage }),
    ),
  }),
  (_context, request, errorCode) => ({ results: failedTopics(request.topics, errorCode) }),
);

export const deleteShareGroupState = defineHandler<DeleteShareGroupStateRequest, DeleteShareGroupStateResponse>(
  86,
  { min: 0, max: 0 },
  async (context, request) => ({
    results: await perPartition(
      request.topics,
      (topicId, p) => context.shareStates.delete(request.groupId, topicId, p.partition),
      (p, r) => ({ partition: p.partition, errorCode: r.errorCode, errorMessage: r.errorMessage }),
    ),
  }),
  (_context, request, errorCode) => ({ results: failedTopics(request.topics, errorCode) }),
);

export const readShareGroupStateSummary = defineHandler<ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse>(
  87,
  { min: 0, max: 1 },
  async (context, request) => ({
    results: await perPartition(
      request.topics,
      (topicId, p) => context.shareStates.readSummary(request.groupId, topicId, p.partition),
      (p, r) => ({
        partition: p.partition,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        stateEpoch: r.state?.stateEpoch ?? 0,
        leaderEpoch: r.state?.leaderEpoch ?? -1,
        startOffset: r.state?.startOffset ?? -1n,
        deliveryCompleteCount: r.state?.deliveryCompleteCount ?? 0,
      }),
    ),
  }),
  (_context, request, errorCode) => ({
    results: request.topics.map((t) => ({
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        errorCode,
        errorMessage: null,
        stateEpoch: 0,
        leaderEpoch: -1,
        startOffset: -1n,
        deliveryCompleteCount: 0,
      })),
    })),
  }),
);
