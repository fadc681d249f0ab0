// The broker's services, built over one log directory and wired to each other: everything a
// request needs except the network. Broker.start adds the network; test/unit/handlers.test.ts
// runs handlers over the same wiring without one.
//
// Order: meta.properties → metadata store (a Kafka log dir's KRaft metadata imported once:
// cluster/kraft/adoption.ts — into etcd by the cluster's first broker on one) → logs opened (recovered if unclean) → metadata
// cache, partition manager, topic manager → topics reconciled with the partition directories
// and hosted → log scheduler started (retention, checkpoints, producer expiration) → group
// coordinator started (its __consumer_offsets partitions load in the background) → transaction
// coordinator started (its __transaction_state partitions load in the background; transactions
// found preparing are completed once loaded).
//
// In a cluster (metadata.store=etcd://...) the metadata store is etcd (the cluster id comes from
// it), the topic service is the ClusterManager (the etcd snapshot applied: this broker's
// partitions hosted as leaders or followers), the replica fetchers follow the partitions this
// broker does not lead, leaders check their followers' lag every replica.lag.time.max.ms / 2, and
// the coordinators load and unload their shards as leadership of their partitions moves. The
// broker registers and campaigns for controller once it listens (broker.ts).

import { mkdir } from "node:fs/promises";
import type { Logger } from "pino";
import { ClusterManager } from "../cluster/cluster-manager.js";
import { Controller } from "../cluster/controller.js";
import { SingleNodeElections } from "../cluster/elections.js";
import { EtcdMetadataStore } from "../cluster/etcd-store.js";
import { adoptKafkaMetadataAtStart, adoptKafkaMetadataIntoCluster } from "../cluster/kraft/adoption.js";
import { ensureMetaProperties, storedClusterId } from "../cluster/meta-properties.js";
import { MetadataStore, randomKafkaUuid } from "../cluster/metadata.js";
import { MetadataCache } from "../cluster/metadata-cache.js";
import { SingleNodeReassignments } from "../cluster/reassignments.js";
import { logConfigFor, TopicManager, type Topics } from "../cluster/topic-manager.js";
import type { BrokerConfig } from "../config/index.js";
import { ConfigError, effectiveTopicConfig } from "../config/index.js";
import { loadStreamsAssignors } from "../coordinator/group/assignor/streams-assignors.js";
import { GroupCoordinator } from "../coordinator/group/coordinator.js";
import { ShareCoordinator } from "../coordinator/share/coordinator.js";
import { TransactionCoordinator } from "../coordinator/transaction/coordinator.js";
import { ClusterMarkerWriter, LocalMarkerWriter } from "../coordinator/transaction/markers.js";
import { ProducerIdManager } from "../coordinator/transaction/producer-id-manager.js";
import { allHandlers } from "../handlers/index.js";
import { LogManager } from "../log/log-manager.js";
import { PartitionManager } from "../log/partition-manager.js";
import type { LogOpenProgress } from "../native.js";
import { InterBrokerClients } from "../replication/inter-broker.js";
import { ReplicaFetcherManager } from "../replication/replica-fetcher.js";
import { AuthorizerConfigError, authorizerOf } from "../security/acl.js";
import { type InterBrokerSecurity, interBrokerSecurity } from "../security/inter-broker.js";
import { QuotaManager } from "../security/quota-manager.js";
import { saslListeners } from "../security/sasl.js";
import { principalMapper } from "../security/ssl.js";
import { ShareDeadLetterQueue } from "../share/dlq.js";
import { SharePersister } from "../share/persister.js";
import { ShareManager } from "../share/share-manager.js";
import type { BrokerServices } from "./context.js";
import { FetchSessionCache } from "./fetch-session.js";
import { BrokerMetrics } from "./metrics.js";
import { HandlerRegistry } from "./registry.js";

/** The services without connection control (the network's dispatcher provides it). */
export type LocalServices = Omit<BrokerServices, "connections">;

/** What a broker in a cluster has beyond a single node's services. */
export interface ClusterServices {
  readonly store: EtcdMetadataStore;
  readonly manager: ClusterManager;
  readonly controller: Controller;
  readonly fetchers: ReplicaFetcherManager;
  /** Connections to the other brokers (transaction markers, AddPartitionsToTxn). */
  readonly clients: InterBrokerClients;
  /** Registration's broker epoch, set once registered. */
  brokerEpoch: bigint;
  /** Stops the ISR lag checks. */
  readonly stopTimers: () => void;
}

export interface OpenedServices {
  readonly services: LocalServices;
  /** Closed last at shutdown (checkpoints, clean-shutdown marker). */
  readonly logs: LogManager;
  /** Null on a single node. */
  readonly cluster: ClusterServices | null;
}

/** Opens `logDir` and builds every service over it (see the file comment). */
export async function openServices(
  config: BrokerConfig,
  logger: Logger,
  logDir: string,
  onOpenProgress?: (progress: LogOpenProgress) => void,
): Promise<OpenedServices> {
  await mkdir(logDir, { recursive: true });
  // How to reach the other brokers; checked first, so a bad setting stops the broker before it joins.
  const security = config.metadataStore !== null ? interBrokerSecurity(config) : null;
  let etcd: EtcdMetadataStore | null = null;
  let clusterId: string;
  let knownTopics: { name: string; configs: Readonly<Record<string, string>> }[];
  let store: MetadataStore | null = null;
  if (config.metadataStore !== null) {
    etcd = await EtcdMetadataStore.connect(config.metadataStore, logger);
    clusterId = await etcd.clusterId(storedClusterId([logDir]) ?? randomKafkaUuid());
    ensureMetaProperties([logDir], config.nodeId, clusterId);
    // A stopped Kafka broker's log dir: the first broker imports its KRaft metadata into etcd; each checks its own directory.
    await adoptKafkaMetadataIntoCluster(etcd, logDir, config.nodeId, clusterId, logger);
    const snapshot = await etcd.snapshot();
    knownTopics = snapshot.changes.flatMap((change) => (change.kind === "topic" && change.topic !== null ? [change.topic] : []));
    logger.info({ metadataStore: config.metadataStore, clusterId, topics: knownTopics.length }, "joined the cluster's metadata store");
  } else {
    clusterId = ensureMetaProperties([logDir], config.nodeId).clusterId;
    store = await MetadataStore.open(logDir, clusterId);
    // A stopped Kafka broker's log dir: its KRaft metadata is imported once, before the logs open.
    await adoptKafkaMetadataAtStart(store, logDir, logger);
    knownTopics = [...store.topics()];
  }

  const topicLogConfigs = Object.fromEntries(knownTopics.map((topic) => [topic.name, logConfigFor(effectiveTopicConfig(topic.configs, config), config)]));
  const logs = await LogManager.open(logDir, {
    defaultConfig: logConfigFor(effectiveTopicConfig({}, config), config),
    topicConfigs: topicLogConfigs,
    threads: config.numRecoveryThreadsPerDataDir,
    onProgress: onOpenProgress,
  });
  logger.info({ logDir, clusterId, cleanShutdown: logs.hadCleanShutdown, partitions: logs.logs().length }, "log directory open");

  const metadata = new MetadataCache(clusterId, config.nodeId, etcd === null ? config.nodeId : -1);
  const partitions = new PartitionManager(logs, metadata);
  let topics: Topics;
  let cluster: ClusterServices | null = null;
  if (etcd !== null) {
    const manager = new ClusterManager({ config, store: etcd, metadata, partitions, logs, logger });
    partitions.isrChanges = manager;
    const clusterParts: ClusterServices = {
      store: etcd,
      manager,
      controller: new Controller({ config, cluster: manager, logger, nodeId: config.nodeId }),
      fetchers: new ReplicaFetcherManager({
        config,
        logger,
        metadata,
        brokerEpoch: () => clusterParts.brokerEpoch,
        brokerConfigs: manager,
        security: security as InterBrokerSecurity,
      }),
      clients: new InterBrokerClients(metadata, security as InterBrokerSecurity, Number(config.get("request.timeout.ms") ?? 30_000)),
      brokerEpoch: -1n,
      stopTimers: () => clearInterval(lagCheck),
    };
    const lagMs = Number(config.get("replica.lag.time.max.ms") ?? 30_000);
    const lagCheck = setInterval(
      () => {
        const now = Date.now();
        for (const partition of partitions.all()) partition.maybeShrinkIsr(now, lagMs);
      },
      Math.max(100, lagMs / 2),
    );
    lagCheck.unref();
    partitions.onRoleChange((partition, role) => {
      if (role === "follower" && partition.state.leaderId >= 0) clusterParts.fetchers.follow(partition, partition.state.leaderId);
      else clusterParts.fetchers.unfollow(partition);
    });
    await etcd.observeController((nodeId) => {
      metadata.controllerId = nodeId;
    });
    topics = manager;
    cluster = clusterParts;
  } else {
    topics = new TopicManager({ config, store: store as MetadataStore, metadata, partitions, logs, logger });
  }
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
  const producerIds = new ProducerIdManager(etcd ?? (store as MetadataStore));
  const streamsAssignors = await loadStreamsAssignors(
    ((config.get("group.streams.assignors") as readonly string[] | null) ?? []).map((name) => name.trim()).filter((name) => name !== ""),
  );
  const groups = new GroupCoordinator({
    config,
    logger,
    metadata,
    partitions,
    topics,
    groupConfigs: cluster?.manager ?? (store as MetadataStore),
    streamsAssignors,
  });
  topics.onTopicDeleted((topic) => {
    groups.onTopicChanged(topic.name, false);
    groups.onTopicDeleted(topic.name, Date.now());
  });
  topics.onTopicChanged((topic, created) => groups.onTopicChanged(topic.name, created));
  partitions.onRoleChange((partition, role) => groups.onPartitionRole(partition, role));
  groups.start();
  const localMarkers = new LocalMarkerWriter(partitions, groups, config.requestTimeoutMs);
  const transactions = new TransactionCoordinator({
    config,
    logger,
    metadata,
    partitions,
    topics,
    producerIds,
    markers: cluster === null ? localMarkers : new ClusterMarkerWriter(localMarkers, metadata, cluster.clients),
    localMarkers,
    clients: cluster?.clients,
  });
  partitions.onRoleChange((partition, role) => transactions.onPartitionRole(partition, role));
  transactions.start();
  await transactions.prepare();
  // KIP-932: the share coordinator (__share_group_state), the persister that reaches it from here,
  // and the share partitions this broker leads.
  const shareStates = new ShareCoordinator({ config, logger, metadata, partitions, topics });
  partitions.onRoleChange((partition, role) => shareStates.onPartitionRole(partition, role));
  shareStates.start();
  const persister = new SharePersister(metadata, shareStates, cluster?.clients ?? null);
  const shares = new ShareManager(logger, metadata, partitions, persister, config, cluster?.manager ?? (store as MetadataStore));
  partitions.onRoleChange((partition, role) => shares.onPartitionRole(partition, role));
  shares.dlq = new ShareDeadLetterQueue(config, logger, metadata, partitions, topics, cluster?.manager ?? (store as MetadataStore), cluster?.clients ?? null);
  groups.shareState = {
    initialize: async (groupId, topics) => {
      for (const { topicId, partitions: indexes } of topics) {
        for (const index of indexes) {
          const result = await persister.initialize(groupId, topicId, index, 0, -1n);
          if (result.errorCode !== 0 && result.errorCode !== 124) throw new Error(`InitializeShareGroupState failed with error ${result.errorCode}`);
        }
      }
    },
    delete: async (groupId, topics) => {
      for (const { topicId, partitions: indexes } of topics) for (const index of indexes) await persister.delete(groupId, topicId, index);
      shares.forgetGroup(groupId, new Set(topics.map((t) => t.topicId)));
    },
    summary: async (groupId, topicId, index) => {
      const result = await persister.readSummary(groupId, topicId, index);
      return { errorCode: result.errorCode, state: result.state ?? null };
    },
    reset: async (groupId, topicId, index, startOffset) => {
      const current = await persister.readSummary(groupId, topicId, index);
      if (current.errorCode !== 0) return current.errorCode;
      const result = await persister.initialize(groupId, topicId, index, (current.state?.stateEpoch ?? 0) + 1, startOffset);
      shares.forgetGroup(groupId, new Set([topicId]));
      return result.errorCode;
    },
    highWatermark: (topic, index) => {
      const local = partitions.get(topic, index);
      if (local?.isLeader) return local.highWatermark;
      const leader = metadata.topic(topic)?.partitions[index]?.leaderId ?? -1;
      if (cluster === null || leader < 0 || leader === config.nodeId) return local?.highWatermark ?? null;
      return latestOffsetOf(cluster.clients, leader, topic, index);
    },
  };
  const elections = cluster?.controller ?? new SingleNodeElections(metadata);
  const reassignments = cluster?.manager ?? new SingleNodeReassignments(metadata);
  const brokerConfigs = cluster?.manager ?? (store as MetadataStore);
  const credentials = cluster?.manager ?? (store as MetadataStore);
  const sasl = saslListeners(config);
  const acls = cluster?.manager ?? (store as MetadataStore);
  const clientQuotas = cluster?.manager ?? (store as MetadataStore);
  const groupConfigs = cluster?.manager ?? (store as MetadataStore);
  const window = (prefix: string) => ({
    samples: Number(config.get(`${prefix}quota.window.num`) ?? 11),
    windowMs: Number(config.get(`${prefix}quota.window.size.seconds`) ?? 1) * 1000,
  });
  const quotas = new QuotaManager({ store: clientQuotas, window: window(""), controllerWindow: window("controller."), logger });
  let authorizer: ReturnType<typeof authorizerOf>;
  try {
    authorizer = authorizerOf(config, acls);
  } catch (error) {
    if (error instanceof AuthorizerConfigError) throw new ConfigError("authorizer.class.name", error.message);
    throw error;
  }
  return {
    services: {
      config,
      logger,
      metadata,
      partitions,
      topics,
      fetchSessions,
      groups,
      transactions,
      shares,
      shareStates,
      groupConfigs,
      handlers,
      metrics,
      elections,
      reassignments,
      brokerConfigs,
      credentials,
      sasl,
      sslPrincipal: principalMapper(config.text("ssl.principal.mapping.rules")),
      acls,
      authorizer,
      quotas,
      clientQuotas,
    },
    logs,
    cluster,
  };
}

/** The shorter of two intervals where 0 or less means "never": the other one then. */
function shorterInterval(a: number, b: number): number {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return Math.min(a, b);
}

/** The latest offset (high watermark) of a partition led by another broker, by ListOffsets v9 (timestamp -1); null on failure. */
async function latestOffsetOf(clients: InterBrokerClients, leader: number, topic: string, partition: number): Promise<bigint | null> {
  try {
    const answer = await clients.request<{ topics: { partitions: { errorCode: number; offset: bigint }[] }[] }>(leader, 2, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n }] }],
      timeoutMs: 5_000,
    });
    const found = answer.topics[0]?.partitions[0];
    return found === undefined || found.errorCode !== 0 ? null : found.offset;
  } catch {
    return null;
  }
}
