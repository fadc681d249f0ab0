// The metadata cache: what this broker knows about the whole cluster — the brokers and their
// endpoints, the controller, every topic (name, id, configs) and every partition of it with its
// leader, leader epoch, replicas and ISR, whether this broker hosts it or not (Kafka's
// MetadataCache, Redpanda's metadata_cache). Requests read it; only the topic manager
// (topic-manager.ts) writes it, after the change is persisted in the metadata store.
//
// Topics are immutable snapshots, replaced whole on every change, so a handler that holds one
// across an await sees one consistent version of it.
//
// On a single node this broker is the only one: it is the controller, and the leader and the
// whole replica set and ISR of every partition. The shapes are a cluster's, so replication
// fills them from the controller without changing a reader.

import type { TopicConfig } from "../config/index.js";
import type { ProduceSettings } from "../native.js";

/** A listener's advertised address (advertised.listeners, with the real port for port 0). */
export interface Endpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface BrokerMetadata {
  readonly nodeId: number;
  readonly rack: string | null;
  readonly endpoints: readonly Endpoint[];
}

export interface PartitionMetadata {
  readonly topic: string;
  readonly topicId: string;
  readonly index: number;
  /** -1 while the partition has no leader. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly id: string;
  readonly isInternal: boolean;
  readonly partitions: readonly PartitionMetadata[];
  /** The topic's config overrides as stored (Kafka's names, string values). */
  readonly overrides: Readonly<Record<string, string>>;
  /** The effective configuration: overrides over the broker's defaults. */
  readonly config: TopicConfig;
  /** Native produce settings (validation, stored codec) derived from `config`. */
  readonly produceSettings: ProduceSettings;
}

export class MetadataCache {
  readonly #topics = new Map<string, TopicMetadata>();
  readonly #topicsById = new Map<string, TopicMetadata>();
  readonly #brokers = new Map<number, BrokerMetadata>();

  /** The active controller; this broker on a single node, -1 while a cluster has none. */
  #controllerId: number;

  constructor(
    readonly clusterId: string,
    /** This broker. */
    readonly nodeId: number,
    controllerId: number = nodeId,
  ) {
    this.#controllerId = controllerId;
  }

  get controllerId(): number {
    return this.#controllerId;
  }

  set controllerId(nodeId: number) {
    this.#controllerId = nodeId;
  }

  topic(name: string): TopicMetadata | undefined {
    return this.#topics.get(name);
  }

  topicById(id: string): TopicMetadata | undefined {
    return this.#topicsById.get(id);
  }

  /** Every topic, in creation order. */
  topics(): IterableIterator<TopicMetadata> {
    return this.#topics.values();
  }

  partition(topic: string, index: number): PartitionMetadata | undefined {
    return this.#topics.get(topic)?.partitions[index];
  }

  /** The live brokers, by node id. */
  brokers(): BrokerMetadata[] {
    return [...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  broker(nodeId: number): BrokerMetadata | undefined {
    return this.#brokers.get(nodeId);
  }

  /**
   * The endpoint of broker `nodeId` for the listener a request came in on (Kafka answers each
   * listener with its own addresses); the broker's first endpoint if it has no such listener.
   */
  endpointFor(nodeId: number, listener: string): Endpoint | undefined {
    const endpoints = this.#brokers.get(nodeId)?.endpoints ?? [];
    return endpoints.find((endpoint) => endpoint.name === listener) ?? endpoints[0];
  }

  // Writes: the topic manager (topics) and the broker's start (brokers) only.

  /** Adds or replaces a broker (registration). */
  putBroker(broker: BrokerMetadata): void {
    this.#brokers.set(broker.nodeId, broker);
  }

  /** Removes a broker that left the cluster (its registration expired or was withdrawn). */
  removeBroker(nodeId: number): void {
    this.#brokers.delete(nodeId);
  }

  /** Adds or replaces a topic's snapshot. */
  putTopic(topic: TopicMetadata): void {
    const previous = this.#topics.get(topic.name);
    if (previous !== undefined && previous.id !== topic.id) this.#topicsById.delete(previous.id);
    this.#topics.set(topic.name, topic);
    this.#topicsById.set(topic.id, topic);
  }

  removeTopic(name: string): TopicMetadata | undefined {
    const topic = this.#topics.get(name);
    if (topic === undefined) return undefined;
    this.#topics.delete(name);
    this.#topicsById.delete(topic.id);
    return topic;
  }
}
