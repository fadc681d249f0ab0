// The share-group state persister (Kafka's DefaultStatePersister): how share-partition leaders and
// the group coordinator reach the share coordinator that holds a share partition's state. The key
// "groupId:topicId:partition" maps to a partition of __share_group_state (created on first use);
// when this broker leads it the local ShareCoordinator answers, otherwise the partition's leader
// is sent the Read/Write/Initialize/Delete/ReadSummary ShareGroupState request over the
// inter-broker connections. Retriable coordinator errors (loading, moved, not yet available) are
// retried a few times with a short back-off, as Kafka's PersisterStateManager does.

import type { MetadataCache } from "../cluster/metadata-cache.js";
import { SHARE_STATE_TOPIC, type ShareCoordinator, type ShareStateResult, type StateBatch } from "../coordinator/share/coordinator.js";
import { ErrorCode } from "../protocol/errors.js";
import type { InterBrokerClients } from "../replication/inter-broker.js";

const RETRIABLE = new Set<number>([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.REQUEST_TIMED_OUT,
]);
const ATTEMPTS = 8;
const BACKOFF_MS = 100;

export interface WriteInput {
  readonly leaderEpoch: number;
  readonly stateEpoch: number;
  readonly startOffset: bigint;
  readonly deliveryCompleteCount: number;
  readonly stateBatches: readonly StateBatch[];
}

interface PartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string | null;
  stateEpoch?: number;
  leaderEpoch?: number;
  startOffset?: bigint;
  deliveryCompleteCount?: number;
  stateBatches?: StateBatch[];
}

export class SharePersister {
  constructor(
    private readonly metadata: MetadataCache,
    private readonly coordinator: ShareCoordinator,
    private readonly clients: InterBrokerClients | null,
  ) {}

  async #route(
    groupId: string,
    topicId: string,
    partition: number,
    local: () => Promise<ShareStateResult> | ShareStateResult,
    remote: { apiKey: number; partitionFields: Record<string, unknown> },
  ): Promise<ShareStateResult> {
    let last: ShareStateResult = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null };
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((resume) => setTimeout(resume, BACKOFF_MS * attempt));
      try {
        await this.coordinator.ensureTopic();
      } catch (error) {
        last = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: (error as Error).message };
        continue;
      }
      const index = this.coordinator.partitionFor(groupId, topicId, partition);
      const leader = this.metadata.topic(SHARE_STATE_TOPIC)?.partitions[index]?.leaderId ?? -1;
      if (leader === this.metadata.nodeId || this.clients === null) {
        last = await local();
      } else if (leader < 0) {
        last = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null };
      } else {
        try {
          const response = await this.clients.request<{ results: { topicId: string; partitions: PartitionResult[] }[] }>(leader, remote.apiKey, {
            groupId,
            topics: [{ topicId, partitions: [{ partition, ...remote.partitionFields }] }],
          });
          const found = response.results[0]?.partitions[0];
          last =
            found === undefined
              ? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: "no result" }
              : {
                  errorCode: found.errorCode,
                  errorMessage: found.errorMessage,
                  state:
                    found.startOffset === undefined || (found.errorCode === ErrorCode.NONE && found.stateEpoch === -1)
                      ? null
                      : {
                          snapshotEpoch: 0,
                          stateEpoch: found.stateEpoch ?? 0,
                          leaderEpoch: found.leaderEpoch ?? -1,
                          startOffset: found.startOffset,
                          deliveryCompleteCount: found.deliveryCompleteCount ?? 0,
                          createTimestamp: 0n,
                          writeTimestamp: 0n,
                          stateBatches: found.stateBatches ?? [],
                        },
                };
        } catch (error) {
          last = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: (error as Error).message };
        }
      }
      if (!RETRIABLE.has(last.errorCode)) return last;
    }
    return last;
  }

  read(groupId: string, topicId: string, partition: number, leaderEpoch: number): Promise<ShareStateResult> {
    return this.#route(groupId, topicId, partition, () => this.coordinator.read(groupId, topicId, partition, leaderEpoch), {
      apiKey: 84,
      partitionFields: { leaderEpoch },
    });
  }

  write(groupId: string, topicId: string, partition: number, input: WriteInput): Promise<ShareStateResult> {
    return this.#route(groupId, topicId, partition, () => this.coordinator.write(groupId, topicId, partition, input), {
      apiKey: 85,
      partitionFields: { ...input, stateBatches: input.stateBatches.map((b) => ({ ...b })) },
    });
  }

  initialize(groupId: string, topicId: string, partition: number, stateEpoch: number, startOffset: bigint): Promise<ShareStateResult> {
    return this.#route(groupId, topicId, partition, () => this.coordinator.initialize(groupId, topicId, partition, stateEpoch, startOffset), {
      apiKey: 83,
      partitionFields: { stateEpoch, startOffset },
    });
  }

  delete(groupId: string, topicId: string, partition: number): Promise<ShareStateResult> {
    return this.#route(groupId, topicId, partition, () => this.coordinator.delete(groupId, topicId, partition), { apiKey: 86, partitionFields: {} });
  }

  readSummary(groupId: string, topicId: string, partition: number): Promise<ShareStateResult> {
    return this.#route(groupId, topicId, partition, () => this.coordinator.readSummary(groupId, topicId, partition), {
      apiKey: 87,
      partitionFields: { leaderEpoch: -1 },
    });
  }
}
