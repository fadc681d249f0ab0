// The broker: the composition root. It builds the services (src/server/context.ts lists them),
// starts the network and stops everything in order; it holds no broker state of its own and
// handlers never see it.
//
// Start:    meta.properties of every log dir → metadata store → logs opened (recovered if
//           unclean) → topics reconciled with the partition directories and hosted → log
//           scheduler → network listening → this broker registered with its endpoints.
// Shutdown: stop accepting → answer parked long polls → wait for in-flight requests → flush
//           the responses → close logs (scheduler stopped, checkpoints, clean-shutdown marker).

import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "pino";
import { ensureMetaProperties } from "../cluster/meta-properties.js";
import { MetadataStore } from "../cluster/metadata.js";
import { type Endpoint, MetadataCache } from "../cluster/metadata-cache.js";
import { logConfigFor, TopicManager } from "../cluster/topic-manager.js";
import type { BrokerConfig } from "../config/index.js";
import { effectiveTopicConfig } from "../config/index.js";
import { ProducerIdManager } from "../coordinator/transaction/producer-id-manager.js";
import { allHandlers } from "../handlers/index.js";
import { LogManager } from "../log/log-manager.js";
import { PartitionManager } from "../log/partition-manager.js";
import type { BrokerServices } from "./context.js";
import { Dispatcher } from "./dispatch.js";
import { FetchSessionCache } from "./fetch-session.js";
import { Network } from "./network.js";
import { HandlerRegistry } from "./registry.js";

/** How long shutdown waits for in-flight requests (parked fetches are answered at once). */
const SHUTDOWN_DRAIN_MS = 30_000;
/** How long shutdown waits for the responses to be written. */
const SHUTDOWN_FLUSH_MS = 10_000;

export class Broker {
  readonly #logs: LogManager;
  readonly #dispatcher: Dispatcher;
  readonly #network: Network;
  #stopping: Promise<void> | null = null;

  private constructor(
    readonly services: BrokerServices,
    logs: LogManager,
    dispatcher: Dispatcher,
    network: Network,
  ) {
    this.#logs = logs;
    this.#dispatcher = dispatcher;
    this.#network = network;
  }

  static async start(config: BrokerConfig, logger: Logger): Promise<Broker> {
    const startedAtMs = Date.now();
    const logDirs = config.logDirs.map((dir) => resolve(dir));
    if (logDirs.length > 1) logger.warn({ logDirs }, "only the first of log.dirs is used by this version");
    const logDir = logDirs[0];
    await mkdir(logDir, { recursive: true });
    const { clusterId } = ensureMetaProperties([logDir], config.nodeId);
    const store = await MetadataStore.open(logDir, clusterId);

    const topicLogConfigs = Object.fromEntries(store.topics().map((topic) => [topic.name, logConfigFor(effectiveTopicConfig(topic.configs, config), config)]));
    const logs = await LogManager.open(logDir, {
      defaultConfig: logConfigFor(effectiveTopicConfig({}, config), config),
      topicConfigs: topicLogConfigs,
      threads: config.numRecoveryThreadsPerDataDir,
    });
    logger.info({ logDir, clusterId, cleanShutdown: logs.hadCleanShutdown, partitions: logs.logs().length }, "log directory open");

    const metadata = new MetadataCache(clusterId, config.nodeId);
    const partitions = new PartitionManager(logs, metadata);
    const topics = new TopicManager({ config, store, metadata, partitions, logs, logger });
    const fetchSessions = new FetchSessionCache(Number(config.get("max.incremental.fetch.session.cache.slots") ?? 1000));
    topics.onTopicDeleted((topic) => fetchSessions.forgetTopic(topic.name, topic.id));
    await topics.load();
    logs.startScheduler({
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      producerIdExpirationCheckIntervalMs: config.producerIdExpirationCheckIntervalMs,
      highWatermarkOf: (log) => partitions.get(log.topic, log.partition)?.highWatermark ?? null,
      logger,
    });

    const handlers = new HandlerRegistry();
    for (const handler of allHandlers) handlers.register(handler);
    const dispatcher = new Dispatcher({
      config,
      logger,
      metadata,
      partitions,
      topics,
      fetchSessions,
      producerIds: new ProducerIdManager(store),
      handlers,
    });
    const network = startNetwork(config, dispatcher);
    dispatcher.attach(network);
    metadata.putBroker({ nodeId: config.nodeId, rack: config.brokerRack, endpoints: advertisedEndpoints(config, network) });

    const broker = new Broker(dispatcher.services, logs, dispatcher, network);
    logger.info({ listeners: metadata.broker(config.nodeId)?.endpoints, startupMs: Date.now() - startedAtMs }, "Sluice broker started");
    return broker;
  }

  /** Stops the broker cleanly (idempotent): see the file comment. */
  shutdown(reason = "shutdown requested"): Promise<void> {
    this.#stopping ??= this.#shutdown(reason);
    return this.#stopping;
  }

  async #shutdown(reason: string): Promise<void> {
    const { logger, partitions } = this.services;
    const started = Date.now();
    logger.info({ reason }, "shutting down");
    this.#network.stopAccepting();
    partitions.close();
    await this.#dispatcher.drain(SHUTDOWN_DRAIN_MS);
    await this.#network.shutdown(SHUTDOWN_FLUSH_MS);
    await this.#logs.close();
    logger.info({ shutdownMs: Date.now() - started }, "shut down cleanly");
  }
}

function startNetwork(config: BrokerConfig, dispatcher: Dispatcher): Network {
  return new Network(
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
    dispatcher,
  );
}

/** The endpoints clients are told to use: advertised.listeners (else listeners), with real ports for port 0. */
function advertisedEndpoints(config: BrokerConfig, network: Network): Endpoint[] {
  const bound = network.boundListeners();
  const advertised = config.advertisedListeners.length > 0 ? config.advertisedListeners : config.brokerListeners;
  return advertised.map((listener) => {
    const actual = bound.find((b) => b.name === listener.name);
    const port = listener.port === 0 && actual !== undefined ? actual.port : listener.port;
    const host = listener.host === "" || listener.host === "0.0.0.0" || listener.host === "::" ? "localhost" : listener.host;
    return { name: listener.name, host, port };
  });
}
