// Where requests go: connections by broker id (one each, reused), the topics' partition leaders
// from Metadata, group coordinators from FindCoordinator, and the one retry loop. A request that
// fails with a retriable error (NOT_LEADER_OR_FOLLOWER, COORDINATOR_LOAD_IN_PROGRESS,
// NOT_COORDINATOR, a dropped connection, …) is retried after a backoff that doubles from
// `retryBackoffMs` up to `retryBackoffMaxMs`, with metadata and coordinators looked up again, until
// `retryTimeoutMs` has passed; then the last error is thrown.

import type { FindCoordinatorResponse } from "../protocol/generated/find-coordinator.js";
import type { MetadataResponse } from "../protocol/generated/metadata.js";
import { ZERO_UUID } from "../protocol/runtime.js";
import { BrokerConnection } from "./connection.js";
import { ClientError, isRetriable, KafkaResponseError } from "./errors.js";

export interface ClusterOptions {
  /** host:port pairs to start from. */
  bootstrap: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  retryTimeoutMs: number;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  /** -1 while no leader is known. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  /** Kafka's printed uuid form; all zeros from brokers before topic ids (Metadata < v10). */
  topicId: string;
  isInternal: boolean;
  /** Sorted by partition. */
  partitions: PartitionInfo[];
  errorCode: number;
}

export interface ClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicInfo[];
}

const METADATA = 3;
const FIND_COORDINATOR = 10;
/** Retrying these would only wait for a topic the operator misspelled. */
const notRetried = new Set([3 /* UNKNOWN_TOPIC_OR_PARTITION */]);

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.trim());
  if (!match) throw new ClientError("INVALID_ARGUMENT", `'${address}' is not host:port`);
  return { host: match[1] as string, port: Number(match[2]) };
}

export class Cluster {
  readonly options: ClusterOptions;
  readonly #brokers = new Map<number, BrokerInfo>();
  readonly #connections = new Map<string, Promise<BrokerConnection>>();
  readonly #topics = new Map<string, TopicInfo>();
  readonly #coordinators = new Map<string, number>();
  #bootstrap: BrokerConnection | null = null;

  constructor(options: ClusterOptions) {
    this.options = options;
  }

  /** Any live connection: the bootstrap one, else the first broker that answers. */
  async any(): Promise<BrokerConnection> {
    if (this.#bootstrap && !this.#bootstrap.closed) return this.#bootstrap;
    const candidates = [...this.options.bootstrap.map(parseHostPort), ...this.#brokers.values()];
    let last: unknown;
    for (const { host, port } of candidates) {
      try {
        this.#bootstrap = await this.#connect(host, port);
        return this.#bootstrap;
      } catch (error) {
        last = error;
      }
    }
    throw last ?? new ClientError("CONNECTION_FAILED", "no bootstrap servers given");
  }

  /** The connection to one broker by id (from the last metadata). */
  async node(nodeId: number): Promise<BrokerConnection> {
    let broker = this.#brokers.get(nodeId);
    if (broker === undefined) {
      await this.metadata([]);
      broker = this.#brokers.get(nodeId);
    }
    if (broker === undefined) throw new ClientError("NO_ROUTE", `no broker ${nodeId} in the cluster's metadata`);
    return this.#connect(broker.host, broker.port);
  }

  brokers(): BrokerInfo[] {
    return [...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** Metadata for `topics` (null: every topic), remembered for routing. */
  async metadata(topics: readonly string[] | null, options: { autoCreate?: boolean } = {}): Promise<ClusterMetadata> {
    const connection = await this.any();
    const response = await connection.request<MetadataResponse>(METADATA, (version) => ({
      topics: topics === null ? (version === 0 ? [] : null) : topics.map((name) => ({ name, topicId: ZERO_UUID })),
      allowAutoTopicCreation: version >= 4 ? (options.autoCreate ?? false) : true,
    }));
    const brokers = response.brokers.map(({ nodeId, host, port, rack }) => ({ nodeId, host, port, rack }));
    if (brokers.length > 0) {
      this.#brokers.clear();
      for (const broker of brokers) this.#brokers.set(broker.nodeId, broker);
    }
    const described: TopicInfo[] = response.topics.map((topic) => ({
      name: topic.name ?? "",
      topicId: topic.topicId,
      isInternal: topic.isInternal,
      errorCode: topic.errorCode,
      partitions: topic.partitions
        .map((p) => ({
          partition: p.partitionIndex,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
          errorCode: p.errorCode,
        }))
        .sort((a, b) => a.partition - b.partition),
    }));
    for (const topic of described) {
      if (topic.errorCode === 0) this.#topics.set(topic.name, topic);
      else this.#topics.delete(topic.name);
    }
    return { clusterId: response.clusterId, controllerId: response.controllerId, brokers: this.brokers(), topics: described };
  }

  /** A topic's partitions, from the cache or Metadata; UNKNOWN_TOPIC_OR_PARTITION when it does not exist. */
  async topic(name: string): Promise<TopicInfo> {
    const cached = this.#topics.get(name);
    if (cached) return cached;
    const [topic] = (await this.metadata([name])).topics;
    if (topic === undefined || topic.errorCode === 3) throw new KafkaResponseError(3, `Topic '${name}' does not exist.`);
    if (topic.errorCode !== 0) throw new KafkaResponseError(topic.errorCode);
    return topic;
  }

  /** The leader of a partition; LEADER_NOT_AVAILABLE (retriable) while there is none. */
  async leader(topic: string, partition: number): Promise<number> {
    const info = await this.topic(topic);
    const found = info.partitions.find((p) => p.partition === partition);
    if (found === undefined) throw new KafkaResponseError(3, `Topic '${topic}' has no partition ${partition} (it has ${info.partitions.length}).`);
    if (found.leader < 0) throw new KafkaResponseError(5);
    return found.leader;
  }

  /** The coordinator of a group (keyType 0) or transactional id (1). */
  async coordinator(key: string, keyType = 0): Promise<BrokerConnection> {
    const cacheKey = `${keyType}:${key}`;
    const known = this.#coordinators.get(cacheKey);
    if (known !== undefined) return this.node(known);
    const connection = await this.any();
    const response = await connection.request<FindCoordinatorResponse>(FIND_COORDINATOR, (version) =>
      version >= 4 ? { keyType, coordinatorKeys: [key] } : { key, keyType },
    );
    const found = response.coordinators.length > 0 ? (response.coordinators[0] as FindCoordinatorResponse["coordinators"][number]) : response;
    if (found.errorCode !== 0) throw new KafkaResponseError(found.errorCode, found.errorMessage);
    this.#brokers.set(found.nodeId, { nodeId: found.nodeId, host: found.host, port: found.port, rack: this.#brokers.get(found.nodeId)?.rack ?? null });
    this.#coordinators.set(cacheKey, found.nodeId);
    return this.node(found.nodeId);
  }

  /** Forgets what routing learnt, so the next attempt asks again. */
  forgetRoutes(): void {
    this.#topics.clear();
    this.#coordinators.clear();
  }

  /** Runs `attempt` until it succeeds, fails with a non-retriable error, or retryTimeoutMs passes. */
  async retry<T>(attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.retryTimeoutMs;
    let backoff = this.options.retryBackoffMs;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const retriable = isRetriable(error) && !(error instanceof KafkaResponseError && notRetried.has(error.errorCode));
        if (!retriable || Date.now() + backoff > deadline) throw error;
        this.forgetRoutes();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.retryBackoffMaxMs);
      }
    }
  }

  close(): void {
    for (const connection of this.#connections.values()) connection.then((c) => c.close()).catch(() => {});
    this.#connections.clear();
    this.#bootstrap?.close();
  }

  #connect(host: string, port: number): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    const existing = this.#connections.get(address);
    if (existing) {
      return existing.then(
        (connection) => (connection.closed ? this.#reconnect(address, host, port) : connection),
        () => this.#reconnect(address, host, port),
      );
    }
    return this.#reconnect(address, host, port);
  }

  #reconnect(address: string, host: string, port: number): Promise<BrokerConnection> {
    const { clientId, connectTimeoutMs, requestTimeoutMs } = this.options;
    const connecting = BrokerConnection.connect({ host, port, clientId, connectTimeoutMs, requestTimeoutMs });
    this.#connections.set(address, connecting);
    // A failed attempt is not kept: the next caller tries again.
    connecting.catch(() => {
      if (this.#connections.get(address) === connecting) this.#connections.delete(address);
    });
    return connecting;
  }
}
