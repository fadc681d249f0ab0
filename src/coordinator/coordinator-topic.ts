// The internal topic a coordinator lives on (__consumer_offsets, __transaction_state,
// __share_group_state), as the three coordinators share it: created on first need (FindCoordinator)
// with its settings, once even when many ask at the same time, an existing one taken as it is; and
// the partitions of it this broker leads but hosts no shard for yet.

import type { Logger } from "pino";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import type { Placement, Topics } from "../cluster/topic-manager.js";
import type { Partition } from "../log/partition.js";
import type { PartitionManager } from "../log/partition-manager.js";
import { LogError } from "../native.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";

export interface CoordinatorTopicServices {
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly topics: Topics;
  readonly logger: Logger;
}

export class CoordinatorTopic {
  #creating: Promise<void> | null = null;

  constructor(
    private readonly services: CoordinatorTopicServices,
    readonly name: string,
  ) {}

  get exists(): boolean {
    return this.services.metadata.topic(this.name) !== undefined;
  }

  /**
   * Creates the topic unless it exists (one creation for concurrent callers; a topic created
   * meanwhile by another broker is fine), then runs `created`.
   */
  ensure(partitions: number, configs: Record<string, string>, placement: Placement, created: () => void): Promise<void> {
    if (this.exists) {
      created();
      return Promise.resolve();
    }
    this.#creating ??= (async () => {
      try {
        await this.services.topics.create(this.name, partitions, configs, placement);
        this.services.logger.info({ partitions }, `created ${this.name}`);
      } catch (error) {
        if (!(error instanceof KafkaError && error.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw error;
      } finally {
        this.#creating = null;
      }
      created();
    })();
    return this.#creating;
  }

  /** The partitions of the topic this broker leads and `hosted` does not hold a shard for. */
  *unhostedLeaders(hosted: ReadonlyMap<number, unknown>): Generator<Partition> {
    const topic = this.services.metadata.topic(this.name);
    // Every FindCoordinator comes here: nothing to do once every partition has its shard.
    if (topic === undefined || hosted.size === topic.partitions.length) return;
    for (const metadata of topic.partitions) {
      if (hosted.has(metadata.index)) continue;
      const partition = this.services.partitions.get(this.name, metadata.index);
      if (partition?.isLeader) yield partition;
    }
  }
}

/**
 * A coordinator's write failed because its partition is no longer here to write to: the log closed
 * or failed, or this broker stopped leading it. Kafka's coordinators answer NOT_COORDINATOR then
 * (CoordinatorRuntime), so the client looks the coordinator up again.
 */
export function coordinatorLogUnavailable(error: unknown): boolean {
  if (error instanceof LogError) return error.code === "LOG_CLOSED" || error.code === "STORAGE_ERROR";
  return error instanceof KafkaError && error.code === ErrorCode.NOT_LEADER_OR_FOLLOWER;
}
