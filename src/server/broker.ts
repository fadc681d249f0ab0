// The broker: the composition root. It builds the services (services.ts; context.ts lists
// them), starts the network and stops everything in order; it holds no broker state of its
// own and handlers never see it.
//
// Start:    the HTTP plane listening (/health; /ready says "starting") → the services over the first log dir (services.ts: metadata store, logs, topics
//           hosted, log scheduler) → network listening → this broker registered in the
//           metadata cache with its advertised endpoints → the HTTP plane's routes (/metrics, admin,
//           console); /ready turns 200 once the coordinators have loaded.
// In a cluster, the broker registers in etcd (under its broker.session.timeout.ms lease) once it
// listens, re-registers if the lease is ever lost, and campaigns for controller. Its shutdown
// starts with Kafka's controlled shutdown: its leaderships move to other in-sync replicas and it
// leaves the ISRs (ClusterManager.relinquish), then the replica fetchers and the controller stop
// and the registration is withdrawn.
//
// Shutdown: /ready 503 → stop accepting and the log scheduler → answer parked long polls → wait for
//           in-flight requests → flush the responses → close logs (checkpoints, clean-shutdown
//           marker) → HTTP listeners closed.

import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Endpoint } from "../cluster/metadata-cache.js";
import { type BrokerConfig, ConfigError } from "../config/index.js";
import { HttpPlane } from "../http/plane.js";
import { LogCleaner } from "../log/log-cleaner.js";
import type { LogManager } from "../log/log-manager.js";
import type { LogOpenProgress } from "../native.js";
import { tlsSettingsOf, watchTlsFiles } from "../security/ssl.js";
import type { BrokerServices } from "./context.js";
import { Dispatcher } from "./dispatch.js";
import { Network } from "./network.js";
import { type ClusterServices, openServices } from "./services.js";

/** What the broker found and bound at start (the start summary). */
export interface BrokerStartInfo {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly listeners: readonly Endpoint[];
  readonly http: readonly string[];
  readonly logDir: string;
  readonly partitions: number;
  readonly cleanShutdown: boolean;
  readonly recoveredSegments: number;
  readonly startupMs: number;
}

export interface BrokerStartOptions {
  /** Called after each partition log opens (recovery progress). */
  readonly onOpenProgress?: (progress: LogOpenProgress) => void;
  /** Log the "Sluice broker started" line with startInfo (default); false when the caller prints its own summary. */
  readonly logStarted?: boolean;
}

/** How long shutdown waits for in-flight requests (parked fetches are answered at once). */
const SHUTDOWN_DRAIN_MS = 30_000;
/** How long shutdown waits for the responses to be written. */
const SHUTDOWN_FLUSH_MS = 10_000;

export class Broker {
  readonly #logs: LogManager;
  readonly #dispatcher: Dispatcher;
  readonly #network: Network;
  readonly #http: HttpPlane | null;
  readonly #cleaner: LogCleaner;
  readonly #cluster: ClusterServices | null;
  #stopping: Promise<void> | null = null;

  private constructor(
    readonly services: BrokerServices,
    logs: LogManager,
    dispatcher: Dispatcher,
    network: Network,
    http: HttpPlane | null,
    cleaner: LogCleaner,
    cluster: ClusterServices | null,
    readonly startInfo: BrokerStartInfo,
  ) {
    this.#cluster = cluster;
    this.#cleaner = cleaner;
    this.#logs = logs;
    this.#dispatcher = dispatcher;
    this.#network = network;
    this.#http = http;
  }

  /** The HTTP plane's addresses (http://host:port), empty when http.listeners is empty. */
  get httpAddresses(): string[] {
    return this.#http?.addresses ?? [];
  }

  static async start(config: BrokerConfig, logger: Logger, options: BrokerStartOptions = {}): Promise<Broker> {
    const startedAtMs = Date.now();
    const logDirs = config.logDirs.map((dir) => resolve(dir));
    if (logDirs.length > 1) logger.warn({ logDirs }, "only the first of log.dirs is used by this version");
    const http = config.httpListeners.length > 0 ? await HttpPlane.start(config.httpListeners, logger) : null;
    let opened: Awaited<ReturnType<typeof openServices>>;
    try {
      opened = await openServices(config, logger, logDirs[0], options.onOpenProgress);
    } catch (error) {
      await http?.close();
      throw error;
    }
    const { services, logs, cluster } = opened;
    const dispatcher = new Dispatcher(services);
    // The network's first events arrive on a later turn of the event loop, so this broker is
    // in the metadata cache (below) before any request reaches the dispatcher.
    const network = startNetwork(config, dispatcher, logger);
    dispatcher.attach(network);
    services.quotas.onIpConnectionRates((rates) => network.setIpConnectionRates(rates.defaultRate, rates.overrides));
    const endpoints = advertisedEndpoints(config, network);
    services.metadata.putBroker({ nodeId: config.nodeId, rack: config.brokerRack, endpoints });
    if (cluster !== null) await joinCluster(config, logger, cluster, endpoints);

    const ready = Promise.all([services.groups.loaded(), services.transactions.loaded()]).then(() => undefined);
    const cleaner = startLogCleaner(config, logs, dispatcher.services);
    http?.serve(dispatcher.services, network, ready, cleaner.stats);
    const startInfo: BrokerStartInfo = {
      nodeId: config.nodeId,
      clusterId: services.metadata.clusterId,
      listeners: endpoints,
      http: http?.addresses ?? [],
      logDir: logDirs[0],
      partitions: logs.logs().length,
      cleanShutdown: logs.hadCleanShutdown,
      recoveredSegments: logs.logs().reduce((sum, log) => sum + log.openReport.recoveredSegments, 0),
      startupMs: Date.now() - startedAtMs,
    };
    const broker = new Broker(dispatcher.services, logs, dispatcher, network, http, cleaner, cluster, startInfo);
    if (options.logStarted !== false) logger.info(startInfo, "Sluice broker started");
    else logger.debug(startInfo, "Sluice broker started");
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
    this.#http?.stopping();
    const cluster = this.#cluster;
    if (cluster !== null) {
      cluster.controller.close();
      if (this.services.config.controlledShutdownEnable) {
        const moved = await cluster.manager.relinquish(10_000).catch((error) => {
          logger.warn({ err: error }, "controlled shutdown: moving leaderships failed");
          return 0;
        });
        logger.info({ leaderships: moved }, "controlled shutdown: leaderships moved to other in-sync replicas");
      }
      cluster.stopTimers();
      await cluster.fetchers.close();
      cluster.clients.close();
    }
    this.#network.stopAccepting();
    // No new retention or expiration pass starts; one running finishes before the logs close.
    const backgroundStopped = Promise.all([this.#logs.stopScheduler(), this.#cleaner.stop()]);
    partitions.close();
    // Parked JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR: the members look again).
    this.services.transactions.close();
    this.services.groups.close();
    this.services.shares.close();
    this.services.shareStates.close();
    await this.#dispatcher.drain(SHUTDOWN_DRAIN_MS);
    await this.#network.shutdown(SHUTDOWN_FLUSH_MS);
    await backgroundStopped;
    await this.#logs.close();
    await cluster?.store.close();
    await this.#http?.close();
    logger.info({ shutdownMs: Date.now() - started }, "shut down cleanly");
  }
}

/**
 * Registers this broker in the cluster's metadata store (again whenever its lease is lost) and
 * starts campaigning for controller.
 */
async function joinCluster(config: BrokerConfig, logger: Logger, cluster: ClusterServices, endpoints: Endpoint[]): Promise<void> {
  const sessionTimeoutMs = Number(config.get("broker.session.timeout.ms") ?? 9000);
  const registration = { nodeId: config.nodeId, rack: config.brokerRack, endpoints };
  const register = async (): Promise<void> => {
    cluster.brokerEpoch = await cluster.store.register(registration, sessionTimeoutMs, (error) => {
      logger.error({ err: error }, "lost the broker registration's lease: registering again");
      const retry = (): void => {
        register().catch((failure) => {
          logger.warn({ err: failure }, "registering again failed; retrying");
          setTimeout(retry, 1000).unref();
        });
      };
      retry();
    });
    logger.info({ nodeId: config.nodeId, brokerEpoch: String(cluster.brokerEpoch) }, "registered in the cluster");
  };
  await register();
  cluster.controller.start();
}

function startNetwork(config: BrokerConfig, dispatcher: Dispatcher, logger: Logger): Network {
  const secured = (protocol: string) => protocol === "SSL" || protocol === "SASL_SSL";
  const network = new Network(
    {
      listeners: config.brokerListeners.map((listener) => ({
        name: listener.name,
        host: listener.host,
        port: listener.port,
        tls: secured(listener.securityProtocol) ? tlsSettingsOf(config, listener.name) : null,
        maxConnectionCreationRate: creationRate(config.get(`listener.name.${listener.name.toLowerCase()}.max.connection.creation.rate`)),
      })),
      numNetworkThreads: config.numNetworkThreads,
      socketRequestMaxBytes: config.socketRequestMaxBytes,
      socketSendBufferBytes: config.socketSendBufferBytes,
      socketReceiveBufferBytes: config.socketReceiveBufferBytes,
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      connectionsMaxIdleMs: config.connectionsMaxIdleMs,
      maxConnectionCreationRate: creationRate(config.get("max.connection.creation.rate")) ?? undefined,
      quotaWindowNum: Number(config.get("quota.window.num") ?? 11),
      quotaWindowSizeSeconds: Number(config.get("quota.window.size.seconds") ?? 1),
    },
    dispatcher,
  );
  // Renewed certificates: new connections get them once the store files change.
  for (const listener of config.brokerListeners) {
    if (!secured(listener.securityProtocol)) continue;
    watchTlsFiles(
      config,
      listener.name,
      (settings) => {
        network.reloadTls(listener.name, settings);
        logger.info({ listener: listener.name }, "reloaded the listener's TLS certificates");
      },
      (error) => logger.error({ err: error, listener: listener.name }, "the listener's new TLS certificates were refused; keeping the old ones"),
    );
  }
  return network;
}

/** A max.connection.creation.rate value: null for Kafka's default (Integer.MAX_VALUE, unlimited) or none. */
function creationRate(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const rate = Number(value);
  if (!Number.isInteger(rate) || rate < 0)
    throw new ConfigError(
      "max.connection.creation.rate",
      `Invalid value ${value} for max.connection.creation.rate: a whole number of connections per second is needed`,
    );
  return rate >= 2147483647 ? null : rate;
}

/** The log cleaner over the broker's logs, on log.cleaner.threads worker threads (0: none). */
function startLogCleaner(config: BrokerConfig, logs: LogManager, services: BrokerServices): LogCleaner {
  const cleaner = new LogCleaner({
    threads: config.logCleanerThreads,
    backoffMs: config.logCleanerBackoffMs,
    dedupeBufferBytes: config.logCleanerDedupeBufferSize,
    ioMaxBytesPerSecond: config.logCleanerIoMaxBytesPerSecond,
    logs: () => logs.logs(),
    compactionOf: (log) => {
      const topic = services.metadata.topic(log.topic);
      if (topic === undefined || !topic.config.cleanupPolicy.includes("compact")) return null;
      return {
        minCleanableDirtyRatio: topic.config.minCleanableDirtyRatio,
        minCompactionLagMs: topic.config.minCompactionLagMs,
        maxCompactionLagMs: topic.config.maxCompactionLagMs,
        deleteRetentionMs: topic.config.deleteRetentionMs,
        maxMessageBytes: topic.config.maxMessageBytes,
      };
    },
    highWatermarkOf: (log) => services.partitions.get(log.topic, log.partition)?.highWatermark ?? null,
    logger: services.logger,
  });
  cleaner.start();
  services.topics.onTopicDeleted((topic) => cleaner.forget(logs.path, topic.name, topic.partitions.length));
  return cleaner;
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
