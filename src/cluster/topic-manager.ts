// The topic manager: topic lifecycle — create (CreateTopics and Metadata's auto-create),
// delete, add partitions, change configs — and the reconciliation at start between the
// metadata store and the partition directories found on disk.
//
// Every change goes in this order: persisted in the metadata store → partitions hosted
// (partition manager: logs opened or created, or deleted) → published in the metadata cache.
// So a request sees a topic only once all of its partitions can be served, and a deleted
// topic disappears from requests before its files do. Callers (handlers) validate names,
// counts and configs first; this service only does.
//
// On a single node this broker leads every partition (replicas = ISR = this node) at the newest
// leader epoch its log holds: 0 unless the log came from Kafka (an adopted log dir). A cluster moves these decisions to the controller, behind the same calls.

import type { Logger } from "pino";
import type { BrokerConfig, TopicConfig } from "../config/index.js";
import { effectiveTopicConfig, isInternalTopic, toLogConfig, toProduceSettings } from "../config/index.js";
import type { LogManager } from "../log/log-manager.js";
import type { PartitionManager } from "../log/partition-manager.js";
import type { LogConfig } from "../native.js";
import { KafkaError } from "../protocol/errors.js";
import { METADATA_TOPIC } from "./kraft/metadata-log.js";
import type { MetadataStore, TopicState } from "./metadata.js";
import type { MetadataCache, PartitionMetadata, TopicMetadata } from "./metadata-cache.js";

/** Where a new topic's replicas go: explicit replica lists per partition, or a replication factor. */
export interface Placement {
  readonly replicationFactor?: number;
  readonly assignments?: readonly (readonly number[])[];
}

/**
 * The topic lifecycle service requests use (RequestContext.topics): the single node's
 * TopicManager, or a cluster's ClusterManager (cluster-manager.ts).
 */
export interface Topics {
  onTopicDeleted(listener: (topic: TopicMetadata) => void): void;
  onTopicChanged(listener: (topic: TopicMetadata, created: boolean) => void): void;
  exists(name: string): boolean;
  configFor(overrides: Readonly<Record<string, string>>): TopicConfig;
  load(): Promise<void>;
  create(name: string, partitions: number, configs: Record<string, string>, placement?: Placement): Promise<TopicMetadata>;
  autoCreate(name: string): Promise<TopicMetadata>;
  delete(name: string): Promise<void>;
  createPartitions(name: string, count: number, assignments?: readonly (readonly number[])[]): Promise<void>;
  setConfigs(name: string, configs: Record<string, string>): Promise<void>;
}

export interface TopicManagerServices {
  readonly config: BrokerConfig;
  readonly store: MetadataStore;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly logs: LogManager;
  readonly logger: Logger;
}

/** The storage settings of a topic's partition logs. */
export function logConfigFor(topic: TopicConfig, broker: BrokerConfig): LogConfig {
  return { ...toLogConfig(topic), producerIdExpirationMs: broker.producerIdExpirationMs };
}

export class TopicManager implements Topics {
  readonly #services: TopicManagerServices;
  /** Topics being created: concurrent auto-creations of one name share one creation. */
  readonly #creating = new Map<string, Promise<TopicMetadata>>();
  readonly #deletionListeners: ((topic: TopicMetadata) => void)[] = [];
  readonly #changeListeners: ((topic: TopicMetadata, created: boolean) => void)[] = [];

  constructor(services: TopicManagerServices) {
    this.#services = services;
  }

  /**
   * Calls `listener` when a topic is deleted, after it left the metadata cache and before its
   * partitions are deleted (fetch sessions forget it; group offsets will).
   */
  onTopicDeleted(listener: (topic: TopicMetadata) => void): void {
    this.#deletionListeners.push(listener);
  }

  /**
   * Calls `listener` when a topic is created (`created` true) or gains partitions, once it is
   * published in the metadata cache (KIP-848 groups rebalance on it).
   */
  onTopicChanged(listener: (topic: TopicMetadata, created: boolean) => void): void {
    this.#changeListeners.push(listener);
  }

  /** Whether a topic of this name exists or is being created. */
  exists(name: string): boolean {
    return this.#services.metadata.topic(name) !== undefined || this.#creating.has(name);
  }

  /** The effective configuration a topic would have with `overrides`. */
  configFor(overrides: Readonly<Record<string, string>>): TopicConfig {
    return effectiveTopicConfig(overrides, this.#services.config);
  }

  /**
   * Start-up: publishes every topic of the metadata store, adopting partition directories it
   * does not know (a Kafka log directory, or a topic created before the metadata file was
   * written) as topics with their topic ids, and hosts every partition.
   */
  async load(): Promise<void> {
    const { store, logs, logger } = this.#services;
    // A Sluice from before Kafka log dirs were adopted took Kafka's metadata log for a topic: forgotten
    // here (the files stay), or hosting it would open the metadata log as a partition.
    if (store.topic(METADATA_TOPIC) !== undefined) {
      await store.deleteTopic(METADATA_TOPIC);
      logger.warn({ topic: METADATA_TOPIC }, "forgot Kafka's metadata log, which an older Sluice had adopted as a topic (its files are left in place)");
    }
    const known = new Set(store.topics().map((topic) => topic.name));
    const orphans = new Map<string, { id: string | null; partitions: number }>();
    for (const log of logs.logs()) {
      if (known.has(log.topic)) continue;
      const entry = orphans.get(log.topic) ?? { id: log.topicId, partitions: 0 };
      entry.partitions = Math.max(entry.partitions, log.partition + 1);
      orphans.set(log.topic, entry);
    }
    for (const [name, { id, partitions }] of orphans) {
      const state = await store.createTopic(name, partitions, {}, id ?? undefined);
      logger.warn({ topic: name, topicId: state.id, partitions }, "adopted a topic found only in the log directory");
    }
    for (const state of store.topics()) await this.#host(state);
  }

  /**
   * Creates a topic whose name, partitions and configs the caller validated;
   * TOPIC_ALREADY_EXISTS if it exists or is being created.
   */
  create(name: string, partitions: number, configs: Record<string, string>, _placement?: Placement): Promise<TopicMetadata> {
    if (this.exists(name)) return Promise.reject(new KafkaError("TOPIC_ALREADY_EXISTS", `Topic '${name}' already exists.`));
    // Its directory may hold an adopted Kafka broker's metadata log, which must stay untouched.
    if (name === METADATA_TOPIC) return Promise.reject(new KafkaError("INVALID_REQUEST", `Creation of internal topic ${METADATA_TOPIC} is prohibited.`));
    const creating = this.#create(name, partitions, configs).finally(() => this.#creating.delete(name));
    this.#creating.set(name, creating);
    return creating;
  }

  /** Creates `name` with the broker's defaults (num.partitions) for a Metadata request that allows it. */
  autoCreate(name: string): Promise<TopicMetadata> {
    const existing = this.#services.metadata.topic(name);
    if (existing !== undefined) return Promise.resolve(existing);
    return this.#creating.get(name) ?? this.create(name, this.#services.config.numPartitions, {});
  }

  async #create(name: string, partitions: number, configs: Record<string, string>): Promise<TopicMetadata> {
    const state = await this.#services.store.createTopic(name, partitions, configs);
    const topic = await this.#host(state);
    this.#services.logger.info({ topic: name, topicId: state.id, partitions, configs }, "created topic");
    for (const listener of this.#changeListeners) listener(topic, true);
    return topic;
  }

  /** Deletes a topic (nothing if it does not exist): gone from requests first, then from disk. */
  async delete(name: string): Promise<void> {
    const { store, metadata, partitions, logger } = this.#services;
    const topic = metadata.removeTopic(name);
    if (topic === undefined) return;
    await store.deleteTopic(name);
    for (const listener of this.#deletionListeners) listener(topic);
    await partitions.deletePartitions(name);
    logger.info({ topic: name, topicId: topic.id }, "deleted topic");
  }

  /** Grows a topic to `count` partitions (the caller checked it is more). */
  async createPartitions(name: string, count: number): Promise<void> {
    const { store, logger } = this.#services;
    const state = store.topic(name);
    if (state === undefined) throw new Error(`no topic ${name}`);
    await store.setPartitionCount(name, count);
    const topic = await this.#host(state);
    logger.info({ topic: name, partitions: count }, "added partitions");
    for (const listener of this.#changeListeners) listener(topic, false);
  }

  /** Replaces a topic's config overrides (validated by the caller); persisted first. */
  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const { store, metadata, logs, logger, config: brokerConfig } = this.#services;
    const state = store.topic(name);
    if (state === undefined) throw new Error(`no topic ${name}`);
    await store.setTopicConfigs(name, configs);
    const topic = this.#snapshot(state);
    logs.setTopicConfig(name, logConfigFor(topic.config, brokerConfig));
    metadata.putTopic(topic);
    logger.info({ topic: name, configs }, "updated topic configs");
  }

  /** Hosts every partition of the stored topic, then publishes it. */
  async #host(state: TopicState): Promise<TopicMetadata> {
    const topic = this.#snapshot(state);
    const logConfig = logConfigFor(topic.config, this.#services.config);
    for (const partition of topic.partitions) await this.#services.partitions.becomeLeader(partition, logConfig);
    this.#services.metadata.putTopic(topic);
    return topic;
  }

  /** The metadata cache's view of a stored topic: this node leads every partition. */
  #snapshot(state: TopicState): TopicMetadata {
    const nodeId = this.#services.metadata.nodeId;
    const config = this.configFor(state.configs);
    const partitions: PartitionMetadata[] = [];
    for (let index = 0; index < state.partitions; index++) {
      partitions.push({
        topic: state.name,
        topicId: state.id,
        index,
        leaderId: nodeId,
        // The newest epoch in the log: 0 for Sluice's own, Kafka's last for an adopted Kafka log
        // (an older epoch would stamp new batches below Kafka's and confuse clients' epoch checks).
        leaderEpoch: Math.max(0, this.#services.logs.get(state.name, index)?.latestEpoch ?? 0),
        replicas: [nodeId],
        isr: [nodeId],
        offlineReplicas: [],
      });
    }
    return {
      name: state.name,
      id: state.id,
      isInternal: isInternalTopic(state.name),
      partitions,
      overrides: { ...state.configs },
      config,
      produceSettings: toProduceSettings(config),
    };
  }
}
