// The broker: owns the configuration, the log directories, the cluster metadata, the
// partitions it leads and the network, and wires requests from the reactor to the handlers.
//
// Start:    meta.properties of every log dir → logs opened (recovered if unclean) → metadata
//           reconciled with the partition directories → network listening.
// Shutdown: stop accepting → answer parked requests → wait for in-flight ones → flush the
//           responses → close logs (checkpoints, clean-shutdown marker).

import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "pino";
import { ensureMetaProperties } from "../cluster/meta-properties.js";
import { MetadataStore, type MetadataStore as MetadataStoreType, type TopicState } from "../cluster/metadata.js";
import type { BrokerConfig, TopicConfig } from "../config/index.js";
import { effectiveTopicConfig, toLogConfig, toProduceSettings } from "../config/index.js";
import { allHandlers } from "../handlers/index.js";
import { LogManager } from "../log/log-manager.js";
import { Partition } from "../log/partition.js";
import type { LogConfig, ProduceSettings } from "../native.js";
import { KafkaError } from "../protocol/errors.js";
import { Dispatcher } from "./dispatch.js";
import { FetchSessionCache } from "./fetch-session.js";
import { Network } from "./network.js";
import { HandlerRegistry } from "./registry.js";

/** A topic as the handlers see it: its state, partitions and effective configuration. */
export interface Topic {
  readonly state: TopicState;
  readonly partitions: Partition[];
  config: TopicConfig;
  /** Native produce settings (validation, stored codec) derived from `config`. */
  produceSettings: ProduceSettings;
}

export interface Endpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Producer ids are reserved in blocks, persisted before any id of a block is handed out. */
const PRODUCER_ID_BLOCK = 1000;
/** How long shutdown waits for in-flight requests (parked fetches are answered at once). */
const SHUTDOWN_DRAIN_MS = 30_000;

/** The storage settings of a topic's partition logs. */
function logConfigFor(topic: TopicConfig, broker: BrokerConfig): LogConfig {
  return { ...toLogConfig(topic), producerIdExpirationMs: broker.producerIdExpirationMs };
}

export class Broker {
  readonly registry: HandlerRegistry;
  readonly fetchSessions: FetchSessionCache;
  /** Long polls waiting for data; each function answers its fetch now (used at shutdown). */
  readonly parkedFetches = new Set<() => void>();
  readonly #topics = new Map<string, Topic>();
  readonly #topicsById = new Map<string, Topic>();
  readonly #creating = new Map<string, Promise<Topic>>();
  readonly #logManager: LogManager;
  readonly #dispatcher: Dispatcher;
  #network: Network | null = null;
  #endpoints: Endpoint[] = [];
  #timers: NodeJS.Timeout[] = [];
  #nextProducerId = 0n;
  #producerIdsLeft = 0;
  #producerIdBlock: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  /** Date.now() when start() was called. */
  readonly startedAtMs: number;

  private constructor(
    readonly config: BrokerConfig,
    readonly logger: Logger,
    readonly metadata: MetadataStoreType,
    logManager: LogManager,
    readonly logDirs: readonly string[],
    startedAtMs: number,
  ) {
    this.#logManager = logManager;
    this.startedAtMs = startedAtMs;
    this.registry = new HandlerRegistry();
    for (const handler of allHandlers) this.registry.register(handler);
    this.fetchSessions = new FetchSessionCache(Number(config.get("max.incremental.fetch.session.cache.slots") ?? 1000));
    this.#dispatcher = new Dispatcher(this, logger);
  }

  static async start(config: BrokerConfig, logger: Logger): Promise<Broker> {
    const startedAtMs = Date.now();
    const logDirs = config.logDirs.map((dir) => resolve(dir));
    if (logDirs.length > 1) logger.warn({ logDirs }, "only the first of log.dirs is used by this version");
    const logDir = logDirs[0];
    await mkdir(logDir, { recursive: true });
    const { clusterId } = ensureMetaProperties([logDir], config.nodeId);
    const metadata = await MetadataStore.open(logDir, clusterId);
    const topicConfigs = Object.fromEntries(metadata.topics().map((topic) => [topic.name, logConfigFor(effectiveTopicConfig(topic.configs, config), config)]));
    const logManager = await LogManager.open(logDir, {
      defaultConfig: logConfigFor(effectiveTopicConfig({}, config), config),
      topicConfigs,
      threads: config.numRecoveryThreadsPerDataDir,
    });
    logger.info({ logDir, clusterId, cleanShutdown: logManager.hadCleanShutdown, partitions: logManager.logs().length }, "log directory open");
    const broker = new Broker(config, logger, metadata, logManager, logDirs, startedAtMs);
    await broker.#loadTopics();
    broker.#startNetwork();
    broker.#startTimers();
    logger.info({ listeners: broker.#endpoints, startupMs: Date.now() - startedAtMs }, "Sluice broker started");
    return broker;
  }

  get clusterId(): string {
    return this.metadata.clusterId;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  /** The endpoints clients are told to use (advertised.listeners, with real ports for port 0). */
  get advertisedEndpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  get logManager(): LogManager {
    return this.#logManager;
  }

  get network(): Network {
    if (this.#network === null) throw new Error("the network is not started");
    return this.#network;
  }

  topic(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  topicById(id: string): Topic | undefined {
    return this.#topicsById.get(id);
  }

  topics(): IterableIterator<Topic> {
    return this.#topics.values();
  }

  /** Topic configuration as a topic would get it with `overrides`. */
  topicConfigFor(overrides: Record<string, string>): TopicConfig {
    return effectiveTopicConfig(overrides, this.config);
  }

  /**
   * Creates a topic whose name, partitions and configs the caller validated;
   * TOPIC_ALREADY_EXISTS if it exists or is being created.
   */
  createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<Topic> {
    if (this.hasTopic(name)) return Promise.reject(new KafkaError("TOPIC_ALREADY_EXISTS", `Topic '${name}' already exists.`));
    const creating = this.#create(name, partitions, configs).finally(() => this.#creating.delete(name));
    this.#creating.set(name, creating);
    return creating;
  }

  async #create(name: string, partitions: number, configs: Record<string, string>): Promise<Topic> {
    const state = await this.metadata.createTopic(name, partitions, configs);
    const topic = this.#makeTopic(state);
    await this.#ensurePartitions(topic);
    this.#publish(topic);
    this.logger.info({ topic: name, topicId: state.id, partitions, configs }, "created topic");
    return topic;
  }

  /**
   * Creates `name` with the broker's defaults (num.partitions) for a Metadata request that
   * allows it; concurrent requests for the same new topic share one creation.
   */
  autoCreateTopic(name: string): Promise<Topic> {
    const existing = this.#topics.get(name);
    if (existing !== undefined) return Promise.resolve(existing);
    return this.#creating.get(name) ?? this.createTopic(name, this.config.numPartitions, {});
  }

  /** Whether a topic of this name exists or is being created. */
  hasTopic(name: string): boolean {
    return this.#topics.has(name) || this.#creating.has(name);
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.#topics.get(name);
    if (topic === undefined) return;
    this.#topics.delete(name);
    this.#topicsById.delete(topic.state.id);
    await this.metadata.deleteTopic(name);
    this.fetchSessions.forgetTopic(name, topic.state.id);
    for (const partition of topic.partitions) {
      partition.appended(0);
      await this.#logManager.deletePartition(name, partition.index);
    }
    this.logger.info({ topic: name, topicId: topic.state.id }, "deleted topic");
  }

  async createPartitions(name: string, count: number): Promise<void> {
    const topic = this.#topics.get(name);
    if (topic === undefined) throw new Error(`no topic ${name}`);
    await this.metadata.setPartitionCount(name, count);
    await this.#ensurePartitions(topic);
    this.logger.info({ topic: name, partitions: count }, "added partitions");
  }

  /** Replaces a topic's config overrides (validated by the caller); persisted first. */
  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = this.#topics.get(name);
    if (topic === undefined) throw new Error(`no topic ${name}`);
    await this.metadata.setTopicConfigs(name, configs);
    topic.config = effectiveTopicConfig(configs, this.config);
    topic.produceSettings = toProduceSettings(topic.config);
    const logConfig = logConfigFor(topic.config, this.config);
    for (const partition of topic.partitions) partition.log.setConfig(logConfig);
    this.logger.info({ topic: name, configs }, "updated topic configs");
  }

  /** A new producer id (InitProducerId without a transactional id). */
  async allocateProducerId(): Promise<bigint> {
    while (this.#producerIdsLeft === 0) {
      if (this.#producerIdBlock === null) {
        this.#producerIdBlock = this.metadata.allocateProducerIds(PRODUCER_ID_BLOCK).then(
          (first) => {
            this.#nextProducerId = first;
            this.#producerIdsLeft = PRODUCER_ID_BLOCK;
            this.#producerIdBlock = null;
          },
          (error: unknown) => {
            this.#producerIdBlock = null;
            throw error;
          },
        );
      }
      await this.#producerIdBlock;
    }
    this.#producerIdsLeft--;
    return this.#nextProducerId++;
  }

  /** Stops the broker cleanly (idempotent): see the file comment. */
  shutdown(reason = "shutdown requested"): Promise<void> {
    this.#stopping ??= this.#shutdown(reason);
    return this.#stopping;
  }

  get stopping(): boolean {
    return this.#stopping !== null;
  }

  async #shutdown(reason: string): Promise<void> {
    const started = Date.now();
    this.logger.info({ reason }, "shutting down");
    for (const timer of this.#timers) clearInterval(timer);
    this.#network?.stopAccepting();
    for (const answerNow of [...this.parkedFetches]) answerNow();
    await this.#dispatcher.drain(SHUTDOWN_DRAIN_MS);
    await this.#network?.shutdown(10_000);
    await this.#logManager.close();
    this.logger.info({ shutdownMs: Date.now() - started }, "shut down cleanly");
  }

  async #loadTopics(): Promise<void> {
    // Topics the metadata knows.
    for (const state of this.metadata.topics()) this.#register(state);
    // Partition directories the metadata does not know (a Kafka log directory, or a topic
    // created before the metadata file was written): adopt them with their topic ids.
    const orphans = new Map<string, { id: string | null; partitions: number }>();
    for (const log of this.#logManager.logs()) {
      if (this.#topics.has(log.topic)) continue;
      const entry = orphans.get(log.topic) ?? { id: log.topicId, partitions: 0 };
      entry.partitions = Math.max(entry.partitions, log.partition + 1);
      orphans.set(log.topic, entry);
    }
    for (const [name, { id, partitions }] of orphans) {
      const state = await this.metadata.createTopic(name, partitions, {}, id ?? undefined);
      this.#register(state);
      this.logger.warn({ topic: name, topicId: state.id, partitions }, "adopted a topic found only in the log directory");
    }
    for (const topic of this.#topics.values()) await this.#ensurePartitions(topic);
  }

  #makeTopic(state: TopicState): Topic {
    const config = effectiveTopicConfig(state.configs, this.config);
    return { state, partitions: [], config, produceSettings: toProduceSettings(config) };
  }

  /** Makes a topic visible to requests (once its partitions exist). */
  #publish(topic: Topic): void {
    this.#topics.set(topic.state.name, topic);
    this.#topicsById.set(topic.state.id, topic);
  }

  #register(state: TopicState): Topic {
    const topic = this.#makeTopic(state);
    this.#publish(topic);
    return topic;
  }

  /** Opens or creates the log of every partition the topic should have. */
  async #ensurePartitions(topic: Topic): Promise<void> {
    const { name, id } = topic.state;
    for (let index = topic.partitions.length; index < topic.state.partitions; index++) {
      const log =
        this.#logManager.get(name, index) ??
        (await this.#logManager.createPartition(name, index, { topicId: id, config: logConfigFor(topic.config, this.config) }));
      topic.partitions.push(new Partition(name, id, index, log));
    }
  }

  #startNetwork(): void {
    const config = this.config;
    const network = new Network(
      {
        listeners: config.brokerListeners.map((listener) => ({ name: listener.name, host: listener.host, port: listener.port })),
        numNetworkThreads: config.numNetworkThreads,
        socketRequestMaxBytes: config.socketRequestMaxBytes,
        socketSendBufferBytes: config.socketSendBufferBytes,
        socketReceiveBufferBytes: config.socketReceiveBufferBytes,
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        connectionsMaxIdleMs: config.connectionsMaxIdleMs,
      },
      this.#dispatcher,
    );
    this.#network = network;
    const bound = network.boundListeners();
    const advertised = config.advertisedListeners.length > 0 ? config.advertisedListeners : config.brokerListeners;
    this.#endpoints = advertised.map((listener) => {
      const actual = bound.find((b) => b.name === listener.name);
      const port = listener.port === 0 && actual !== undefined ? actual.port : listener.port;
      const host = listener.host === "" || listener.host === "0.0.0.0" || listener.host === "::" ? "localhost" : listener.host;
      return { name: listener.name, host, port };
    });
  }

  #startTimers(): void {
    const retentionCheck = this.config.logRetentionCheckIntervalMs;
    this.#timers.push(setInterval(() => void this.#enforceRetention(), retentionCheck).unref());
    this.#timers.push(setInterval(() => this.#expireProducers(), this.config.producerIdExpirationCheckIntervalMs).unref());
  }

  /** Forgets idempotent producers idle for longer than producer.id.expiration.ms (Kafka: every 10 minutes). */
  #expireProducers(): void {
    const now = Date.now();
    for (const topic of this.#topics.values()) {
      for (const partition of topic.partitions) {
        try {
          partition.log.removeExpiredProducers(now);
        } catch (error) {
          this.logger.error({ err: error, partition: `${partition}` }, "producer expiration failed");
        }
      }
    }
  }

  /** Deletes segments past retention.ms / retention.bytes and rolls segments older than segment.ms. */
  async #enforceRetention(): Promise<void> {
    const now = Date.now();
    for (const topic of this.#topics.values()) {
      for (const partition of topic.partitions) {
        try {
          await partition.log.rollIfOld(now);
          const deleted = await partition.log.deleteOldSegments(now, partition.highWatermark);
          if (deleted.length > 0) this.logger.info({ partition: `${partition}`, segments: deleted.length }, "deleted segments past retention");
        } catch (error) {
          this.logger.error({ err: error, partition: `${partition}` }, "retention check failed");
        }
      }
    }
  }
}
