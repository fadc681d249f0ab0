// The broker's services, built over one log directory and wired to each other: everything a
// request needs except the network. Broker.start adds the network; test/unit/handlers.test.ts
// runs handlers over the same wiring without one.
//
// Order: meta.properties → metadata store → logs opened (recovered if unclean) → metadata
// cache, partition manager, topic manager → topics reconciled with the partition directories
// and hosted → log scheduler started (retention, checkpoints, producer expiration) → group
// coordinator started (its __consumer_offsets partitions load in the background) → transaction
// coordinator started (its __transaction_state partitions load in the background; transactions
// found preparing are completed once loaded).

import { mkdir } from "node:fs/promises";
import type { Logger } from "pino";
import { ensureMetaProperties } from "../cluster/meta-properties.js";
import { MetadataStore } from "../cluster/metadata.js";
import { MetadataCache } from "../cluster/metadata-cache.js";
import { logConfigFor, TopicManager } from "../cluster/topic-manager.js";
import type { BrokerConfig } from "../config/index.js";
import { effectiveTopicConfig } from "../config/index.js";
import { GroupCoordinator } from "../coordinator/group/coordinator.js";
import { TransactionCoordinator } from "../coordinator/transaction/coordinator.js";
import { LocalMarkerWriter } from "../coordinator/transaction/markers.js";
import { ProducerIdManager } from "../coordinator/transaction/producer-id-manager.js";
import { allHandlers } from "../handlers/index.js";
import { LogManager } from "../log/log-manager.js";
import { PartitionManager } from "../log/partition-manager.js";
import type { LogOpenProgress } from "../native.js";
import type { BrokerServices } from "./context.js";
import { FetchSessionCache } from "./fetch-session.js";
import { BrokerMetrics } from "./metrics.js";
import { HandlerRegistry } from "./registry.js";

/** The services without connection control (the network's dispatcher provides it). */
export type LocalServices = Omit<BrokerServices, "connections">;

export interface OpenedServices {
  readonly services: LocalServices;
  /** Closed last at shutdown (checkpoints, clean-shutdown marker). */
  readonly logs: LogManager;
}

/** Opens `logDir` and builds every service over it (see the file comment). */
export async function openServices(
  config: BrokerConfig,
  logger: Logger,
  logDir: string,
  onOpenProgress?: (progress: LogOpenProgress) => void,
): Promise<OpenedServices> {
  await mkdir(logDir, { recursive: true });
  const { clusterId } = ensureMetaProperties([logDir], config.nodeId);
  const store = await MetadataStore.open(logDir, clusterId);

  const topicLogConfigs = Object.fromEntries(store.topics().map((topic) => [topic.name, logConfigFor(effectiveTopicConfig(topic.configs, config), config)]));
  const logs = await LogManager.open(logDir, {
    defaultConfig: logConfigFor(effectiveTopicConfig({}, config), config),
    topicConfigs: topicLogConfigs,
    threads: config.numRecoveryThreadsPerDataDir,
    onProgress: onOpenProgress,
  });
  logger.info({ logDir, clusterId, cleanShutdown: logs.hadCleanShutdown, partitions: logs.logs().length }, "log directory open");

  const metadata = new MetadataCache(clusterId, config.nodeId);
  const partitions = new PartitionManager(logs, metadata);
  const topics = new TopicManager({ config, store, metadata, partitions, logs, logger });
  const fetchSessions = new FetchSessionCache(Number(config.get("max.incremental.fetch.session.cache.slots") ?? 1000));
  topics.onTopicDeleted((topic) => fetchSessions.forgetTopic(topic.name, topic.id));
  const metrics = new BrokerMetrics();
  topics.onTopicDeleted((topic) => metrics.forgetTopic(topic.name));
  await topics.load();
  logs.startScheduler({
    retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
    checkpointIntervalMs: shorterInterval(config.logFlushOffsetCheckpointIntervalMs, config.logFlushStartOffsetCheckpointIntervalMs),
    highWatermarkCheckpointIntervalMs: config.replicaHighWatermarkCheckpointIntervalMs,
    producerIdExpirationCheckIntervalMs: config.producerIdExpirationCheckIntervalMs,
    highWatermarkOf: (log) => partitions.get(log.topic, log.partition)?.highWatermark ?? null,
    retentionApplies: (log) => metadata.topic(log.topic)?.config.cleanupPolicy.includes("delete") ?? true,
    logger,
  });

  const handlers = new HandlerRegistry();
  for (const handler of allHandlers) handlers.register(handler);
  const producerIds = new ProducerIdManager(store);
  const groups = new GroupCoordinator({ config, logger, metadata, partitions, topics });
  topics.onTopicDeleted((topic) => {
    groups.onTopicChanged(topic.name, false);
    groups.onTopicDeleted(topic.name, Date.now());
  });
  topics.onTopicChanged((topic, created) => groups.onTopicChanged(topic.name, created));
  groups.start();
  const transactions = new TransactionCoordinator({
    config,
    logger,
    metadata,
    partitions,
    topics,
    producerIds,
    markers: new LocalMarkerWriter(partitions, groups),
  });
  transactions.start();
  await transactions.prepare();
  return { services: { config, logger, metadata, partitions, topics, fetchSessions, groups, transactions, handlers, metrics }, logs };
}

/** The shorter of two intervals where 0 or less means "never": the other one then. */
function shorterInterval(a: number, b: number): number {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return Math.min(a, b);
}
