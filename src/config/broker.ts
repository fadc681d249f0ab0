// The broker's configuration: Kafka 4.4's server.properties keys (all of them, with Kafka's types,
// defaults and validators), loaded from a file and --override key=value, and described as Kafka's
// DescribeConfigs describes a broker.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { ConfigError, type ConfigKey, ConfigSource, type ConfigValue, configTypeId, keysFromRows, type ParsedValue, parseDefault, parseValue } from "./defs.js";
import { kafkaBrokerKeys } from "./kafka-defs.js";
import { parseProperties } from "./properties.js";

/**
 * The broker keys Sluice acts on today (name → a note on how, or null). Every other Kafka key is
 * accepted, validated and described with Kafka's default, but changes nothing.
 */
const honouredBrokerKeys = new Map<string, string | null>([
  ["node.id", null],
  ["broker.id", "A synonym of node.id, as in Kafka."],
  ["process.roles", "Accepted as Kafka requires it; Sluice always runs as a single combined node."],
  ["listeners", null],
  ["advertised.listeners", null],
  ["listener.security.protocol.map", "PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL; TLS terminates on the network threads (docs/tls.md)."],
  [
    "sasl.enabled.mechanisms",
    "PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (per listener: listener.name.<listener>.sasl.enabled.mechanisms); GSSAPI, Kafka's default, is refused at start.",
  ],
  [
    "connections.max.reauth.ms",
    "KIP-368: SASL clients are told their session lifetime and must re-authenticate before it ends; any other request after it closes the connection.",
  ],
  ["connection.failed.authentication.delay.ms", "A connection whose SASL authentication failed is closed this long after the error answer."],
  ["controller.listener.names", "Listeners named here are not served (Sluice has no controller quorum)."],
  ["log.dirs", "Only the first directory is used for now."],
  ["log.dir", null],
  ["broker.rack", null],
  ["broker.session.timeout.ms", "The TTL of the broker's registration lease in etcd (whole seconds, rounded up), and of its controller campaign."],
  ["replica.lag.time.max.ms", null],
  ["replica.fetch.max.bytes", null],
  ["replica.fetch.response.max.bytes", null],
  ["replica.fetch.wait.max.ms", null],
  ["replica.fetch.min.bytes", null],
  ["replica.fetch.backoff.ms", null],
  ["replica.socket.timeout.ms", "Connect and request timeout of the replica fetchers' connections."],
  ["num.replica.fetchers", null],
  [
    "replica.selector.class",
    "org.apache.kafka.common.replica.RackAwareReplicaSelector (KIP-392: consumers with client.rack read from an in-sync replica in their rack); unset: always the leader.",
  ],
  ["unclean.leader.election.enable", null],
  ["auto.leader.rebalance.enable", "Any partition whose preferred replica is alive and in sync but not leading gets it back (no imbalance percentage)."],
  ["leader.imbalance.check.interval.seconds", null],
  ["controlled.shutdown.enable", "The broker moves its leaderships to other in-sync replicas itself (compare-and-swap in etcd) before it stops."],
  [
    "inter.broker.listener.name",
    "The listener brokers reach each other at (replica fetchers, transaction markers); unset: the one named by security.inter.broker.protocol, else the first.",
  ],
  ["security.inter.broker.protocol", "Names the inter-broker listener when inter.broker.listener.name is unset (not both)."],
  [
    "sasl.mechanism.inter.broker.protocol",
    "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 on a SASL inter-broker listener, with the username and password of listener.name.<listener>.<mechanism>.sasl.jaas.config.",
  ],
  [
    "ssl.endpoint.identification.algorithm",
    "On an SSL inter-broker listener: https checks that the other broker's certificate names its host; empty checks the chain only.",
  ],
  ["num.network.threads", null],
  ["socket.request.max.bytes", null],
  ["socket.send.buffer.bytes", null],
  ["socket.receive.buffer.bytes", null],
  ["max.connections", null],
  ["max.connections.per.ip", null],
  [
    "max.connection.creation.rate",
    "Broker-wide, and per listener as listener.name.<listener>.max.connection.creation.rate: new connections over the rate wait to be accepted (at most one quota window).",
  ],
  ["quota.window.num", "Client quotas (producer/consumer byte rates, request_percentage) and connection creation rates."],
  ["quota.window.size.seconds", null],
  ["controller.quota.window.num", "controller_mutation_rate: the token bucket holds rate × this × controller.quota.window.size.seconds."],
  ["controller.quota.window.size.seconds", null],
  [
    "authorizer.class.name",
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer or empty (no authorization); any other class is refused at start. Its super.users and allow.everyone.if.no.acl.found are read too.",
  ],
  ["ssl.keystore.type", "JKS (read with jks-js), PKCS12 (read with node-forge) or PEM."],
  ["ssl.keystore.location", "Polled every 10 s: a changed file is reloaded for new connections."],
  ["ssl.keystore.password", null],
  ["ssl.key.password", null],
  ["ssl.keystore.certificate.chain", null],
  ["ssl.keystore.key", null],
  ["ssl.truststore.type", null],
  ["ssl.truststore.location", null],
  ["ssl.truststore.password", null],
  ["ssl.truststore.certificates", null],
  ["ssl.client.auth", null],
  ["ssl.enabled.protocols", "TLSv1.2 and TLSv1.3 (rustls serves nothing older)."],
  ["ssl.cipher.suites", "The TLS 1.2 / 1.3 suites rustls implements (ECDHE with AES-GCM or ChaCha20-Poly1305); others are ignored."],
  ["ssl.principal.mapping.rules", null],
  [
    "sasl.oauthbearer.jwks.endpoint.url",
    "Where the JWKS that verifies OAUTHBEARER tokens is (https or file:), with sasl.server.callback.handler.class set to Kafka's validator.",
  ],
  ["sasl.oauthbearer.jwks.endpoint.refresh.ms", null],
  ["sasl.oauthbearer.expected.audience", null],
  ["sasl.oauthbearer.expected.issuer", null],
  ["sasl.oauthbearer.sub.claim.name", null],
  ["sasl.oauthbearer.clock.skew.seconds", null],
  ["sasl.server.callback.handler.class", "Only Kafka's OAuthBearerValidatorCallbackHandler (the JWKS validator); other classes are refused at start."],
  ["connections.max.idle.ms", null],
  ["auto.create.topics.enable", null],
  ["delete.topic.enable", null],
  ["num.partitions", null],
  ["default.replication.factor", "At most the number of live brokers (1 on a single node)."],
  ["num.recovery.threads.per.data.dir", null],
  ["log.retention.check.interval.ms", null],
  [
    "log.flush.offset.checkpoint.interval.ms",
    "recovery-point-offset-checkpoint and log-start-offset-checkpoint are written together, every min(this, log.flush.start.offset.checkpoint.interval.ms).",
  ],
  ["log.flush.start.offset.checkpoint.interval.ms", "See log.flush.offset.checkpoint.interval.ms."],
  ["replica.high.watermark.checkpoint.interval.ms", "replication-offset-checkpoint alone, on its own timer (and with the others)."],
  ["producer.id.expiration.ms", null],
  ["producer.id.expiration.check.interval.ms", null],
  [
    "offsets.topic.replication.factor",
    "In a cluster, __consumer_offsets is created with it (group coordination waits for that many brokers, as in Kafka); a single node keeps one replica.",
  ],
  ["transaction.state.log.replication.factor", "In a cluster, __transaction_state is created with it; a single node keeps one replica."],
  ["transaction.state.log.num.partitions", null],
  ["transaction.state.log.segment.bytes", null],
  ["transaction.state.log.load.buffer.size", null],
  ["transaction.state.log.min.isr", "In a cluster, __transaction_state's min.insync.replicas; a single node creates it with 1."],
  ["transaction.max.timeout.ms", null],
  ["transactional.id.expiration.ms", null],
  ["transaction.abort.timed.out.transaction.cleanup.interval.ms", null],
  ["transaction.remove.expired.transaction.cleanup.interval.ms", null],
  ["transaction.partition.verification.enable", "Read at start-up (Kafka also changes it dynamically)."],
  [
    "transaction.two.phase.commit.enable",
    "With it, InitProducerId v6 with enable2Pc starts transactions without a timeout (KIP-939); keepPreparedTxn is UNSUPPORTED_VERSION, as in Kafka 4.4.",
  ],
  // The group coordinator (src/coordinator/group/config.ts).
  ["offsets.topic.num.partitions", null],
  ["offsets.topic.segment.bytes", null],
  ["offsets.topic.compression.codec", null],
  ["offset.metadata.max.bytes", null],
  ["offsets.retention.minutes", null],
  ["offsets.retention.check.interval.ms", null],
  ["offsets.load.buffer.size", null],
  ["group.min.session.timeout.ms", null],
  ["group.max.session.timeout.ms", null],
  ["group.initial.rebalance.delay.ms", null],
  ["group.max.size", null],
  ["group.consumer.session.timeout.ms", null],
  ["group.consumer.min.session.timeout.ms", null],
  ["group.consumer.max.session.timeout.ms", null],
  ["group.consumer.heartbeat.interval.ms", null],
  ["group.consumer.min.heartbeat.interval.ms", null],
  ["group.consumer.max.heartbeat.interval.ms", null],
  ["group.consumer.max.size", null],
  ["group.consumer.assignors", "Only the built-in names uniform and range; any other entry (such as a class name) is an error."],
  ["group.consumer.assignment.interval.ms", null],
  ["group.consumer.migration.policy", null],
  ["group.share.session.timeout.ms", null],
  ["group.streams.session.timeout.ms", null],
  ["group.streams.min.session.timeout.ms", null],
  ["group.streams.max.session.timeout.ms", null],
  ["group.streams.heartbeat.interval.ms", null],
  ["group.streams.min.heartbeat.interval.ms", null],
  ["group.streams.max.heartbeat.interval.ms", null],
  ["group.streams.max.size", null],
  ["group.streams.num.standby.replicas", null],
  ["group.streams.max.standby.replicas", null],
  ["group.streams.initial.rebalance.delay.ms", null],
  ["group.streams.assignment.interval.ms", null],
  ["group.streams.min.assignment.interval.ms", null],
  ["group.streams.max.assignment.interval.ms", null],
  ["group.streams.rack.aware.assignment.tags", null],
  ["group.streams.task.offset.interval.ms", null],
  ["group.streams.acceptable.recovery.lag", null],
  [
    "group.streams.assignors",
    "The built-in sticky, and custom task assignors as JavaScript modules given by path (docs/streams-groups.md); a Java class name is an error.",
  ],
  ["errors.deadletterqueue.auto.create.topics.enable", null],
  ["errors.deadletterqueue.topic.name.prefix", null],
  ["group.share.heartbeat.interval.ms", null],
  ["group.share.max.size", null],
  ["group.share.record.lock.duration.ms", null],
  ["group.share.delivery.count.limit", null],
  ["group.share.partition.max.record.locks", null],
  ["group.share.max.share.sessions", null],
  ["share.coordinator.state.topic.num.partitions", null],
  ["share.coordinator.state.topic.replication.factor", null],
  ["share.coordinator.state.topic.min.isr", null],
  ["share.coordinator.state.topic.segment.bytes", null],
  ["share.coordinator.snapshot.update.records.per.snapshot", null],
  ["share.coordinator.write.timeout.ms", null],
  ["share.coordinator.load.buffer.size", null],
  ["group.consumer.regex.refresh.interval.ms", null],
  [
    "group.coordinator.rebalance.protocols",
    "Only whether consumer is listed changes anything: classic groups are always served, share and streams groups never are.",
  ],
  // Broker defaults of topic configs (their topic-level twins are in topic.ts).
  ["log.segment.bytes", null],
  ["log.roll.ms", null],
  ["log.roll.hours", null],
  ["log.roll.jitter.ms", null],
  ["log.roll.jitter.hours", null],
  ["log.index.size.max.bytes", null],
  ["log.index.interval.bytes", null],
  ["log.flush.interval.messages", null],
  ["log.flush.interval.ms", null],
  ["log.flush.scheduler.interval.ms", "Only as the default of flush.ms, as in Kafka."],
  ["log.retention.ms", null],
  ["log.retention.minutes", null],
  ["log.retention.hours", null],
  ["log.retention.bytes", null],
  ["log.message.timestamp.type", null],
  ["log.segment.delete.delay.ms", null],
  ["log.message.timestamp.before.max.ms", null],
  ["log.message.timestamp.after.max.ms", null],
  ["log.cleanup.policy", "compact: the log cleaner keeps the latest record per key (src/log/log-cleaner.ts); without delete, no retention by time or size."],
  ["log.cleaner.enable", "Deprecated in Kafka; false turns the cleaner off (as log.cleaner.threads=0)."],
  ["log.cleaner.threads", "Piscina worker threads running the native cleaner."],
  ["log.cleaner.backoff.ms", null],
  ["log.cleaner.dedupe.buffer.size", "Shared by the cleaner threads: each gets size / threads for its offset map (24 bytes a key)."],
  ["log.cleaner.io.max.bytes.per.second", "Shared by the cleaner threads."],
  ["log.cleaner.delete.retention.ms", null],
  ["log.cleaner.min.cleanable.ratio", null],
  ["log.cleaner.min.compaction.lag.ms", null],
  ["log.cleaner.max.compaction.lag.ms", null],
  ["message.max.bytes", null],
  ["compression.type", null],
  ["compression.gzip.level", null],
  ["compression.lz4.level", null],
  ["compression.zstd.level", null],
  ["max.incremental.fetch.session.cache.slots", null],
  ["min.insync.replicas", null],
]);

/** Every Kafka 4.4 broker config key, by name. */
export const brokerConfigKeys: ReadonlyMap<string, ConfigKey> = keysFromRows(kafkaBrokerKeys, honouredBrokerKeys, true);

/**
 * The built-in server.properties used when no --config file is given: a single node serving
 * PLAINTEXT on localhost:9092 with its data in ./data. (Kafka's own defaults are listeners
 * PLAINTEXT://:9092 — every interface — and log.dir /tmp/kafka-logs; node.id and process.roles
 * have none.)
 */
export const embeddedBrokerDefaults: Readonly<Record<string, string>> = {
  "process.roles": "broker,controller",
  "node.id": "1",
  listeners: "PLAINTEXT://localhost:9092",
  "log.dirs": "./data",
};

/**
 * Keys Kafka requires that Sluice does not: Kafka 4.4 made controller.listener.names required
 * (every KRaft node needs its controller listener); Sluice has no controller quorum, so a
 * server.properties written for Sluice before 4.4 keeps working without it.
 */
const requiredByKafkaOnly: ReadonlySet<string> = new Set(["controller.listener.names"]);

/** One listener: `NAME://host:port`. */
export interface Listener {
  /** Upper-cased, as Kafka's ListenerName.normalised. */
  readonly name: string;
  /** As written; "" (every interface) becomes "0.0.0.0" in `listeners`, the host name in `advertisedListeners`. */
  readonly host: string;
  readonly port: number;
  /** From listener.security.protocol.map. */
  readonly securityProtocol: string;
}

export interface LoadBrokerConfigOptions {
  /** A server.properties file (UTF-8). */
  file?: string;
  /** "key=value" strings, applied after the file (later ones win). */
  overrides?: string[];
  /** The layer under the file; default: embeddedBrokerDefaults without a file, nothing with one. */
  defaults?: Record<string, string>;
}

const listenerPattern = /^(.*):\/\/\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$/;

function parseListeners(key: string, text: string | null, protocols: ReadonlyMap<string, string>, controllerNames: readonly string[]): Listener[] {
  if (text === null || text.trim() === "") return [];
  const listeners: Listener[] = [];
  for (const entry of text.split(",").map((item) => item.trim())) {
    const match = listenerPattern.exec(entry);
    const port = match ? Number(match[3]) : Number.NaN;
    if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(key, `Invalid value ${text} for configuration ${key}: Unable to parse ${entry} to a broker endpoint`);
    }
    const name = match[1].toUpperCase();
    // Kafka maps a controller listener without an entry to PLAINTEXT.
    const securityProtocol = protocols.get(name) ?? (controllerNames.includes(name) ? "PLAINTEXT" : undefined);
    if (securityProtocol === undefined) {
      throw new ConfigError(
        key,
        `Invalid value ${text} for configuration ${key}: No security protocol defined for listener ${name} (listener.security.protocol.map)`,
      );
    }
    listeners.push({ name, host: match[2], port, securityProtocol });
  }
  const names = listeners.map((listener) => listener.name);
  if (new Set(names).size !== names.length) throw new ConfigError(key, `Each listener must have a different name, ${key}: ${text}`);
  const ports = listeners.map((listener) => listener.port).filter((port) => port !== 0);
  if (new Set(ports).size !== ports.length) throw new ConfigError(key, `Each listener must have a different port, ${key}: ${text}`);
  return listeners;
}

function parseProtocolMap(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of text.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const [name, protocol, extra] = entry.split(":");
    const known = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
    if (protocol === undefined || extra !== undefined || !known.includes(protocol.trim().toUpperCase())) {
      throw new ConfigError(
        "listener.security.protocol.map",
        `Invalid value ${text} for configuration listener.security.protocol.map: Map entry '${entry}' is not a listener name and one of ${known.join(", ")}`,
      );
    }
    map.set(name.trim().toUpperCase(), protocol.trim().toUpperCase());
  }
  return map;
}

const millisPerHour = 3_600_000;
const millisPerMinute = 60_000;

/** A broker configuration: Kafka's keys with the values given (file, overrides) or Kafka's defaults. */
export class BrokerConfig {
  /** The raw strings given, by key (defaults layer, file, overrides; node.id/broker.id filled as Kafka does). */
  readonly originals: Readonly<Record<string, string>>;
  private readonly parsed = new Map<string, ParsedValue>();

  readonly nodeId: number;
  readonly processRoles: readonly string[];
  readonly brokerRack: string | null;
  /** Every listener, bound as given ("" host → "0.0.0.0"). */
  readonly listeners: readonly Listener[];
  /** Listeners minus controller.listener.names: what the broker serves. */
  readonly brokerListeners: readonly Listener[];
  readonly controllerListenerNames: readonly string[];
  /** advertised.listeners, else brokerListeners; an empty host is advertised as this machine's name. */
  readonly advertisedListeners: readonly Listener[];
  /** log.dirs, else log.dir. */
  readonly logDirs: readonly string[];
  readonly numNetworkThreads: number;
  readonly numIoThreads: number;
  readonly numRecoveryThreadsPerDataDir: number;
  readonly socketRequestMaxBytes: number;
  /** -1: the OS default. */
  readonly socketSendBufferBytes: number;
  /** -1: the OS default. */
  readonly socketReceiveBufferBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly connectionsMaxIdleMs: number;
  readonly autoCreateTopicsEnable: boolean;
  readonly deleteTopicEnable: boolean;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly minInsyncReplicas: number;
  readonly messageMaxBytes: number;
  readonly logRetentionCheckIntervalMs: number;
  /** log.flush.offset.checkpoint.interval.ms: how often the offset checkpoints are written (0: only at close). */
  readonly logFlushOffsetCheckpointIntervalMs: number;
  readonly logFlushStartOffsetCheckpointIntervalMs: number;
  readonly replicaHighWatermarkCheckpointIntervalMs: number;
  readonly logFlushIntervalMessages: number;
  /** log.flush.interval.ms, else log.flush.scheduler.interval.ms (Kafka's rule). */
  readonly logFlushIntervalMs: number;
  /** log.retention.ms, else .minutes, else .hours; negative: -1 (forever). */
  readonly logRetentionMs: number;
  readonly logRetentionBytes: number;
  readonly logSegmentBytes: number;
  /** log.roll.ms, else log.roll.hours. */
  readonly logRollMs: number;
  readonly producerIdExpirationMs: number;
  readonly producerIdExpirationCheckIntervalMs: number;
  readonly groupInitialRebalanceDelayMs: number;
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly offsetsTopicReplicationFactor: number;
  readonly offsetsTopicNumPartitions: number;
  readonly offsetsRetentionMinutes: number;
  readonly transactionStateLogReplicationFactor: number;
  readonly transactionStateLogNumPartitions: number;
  readonly transactionMaxTimeoutMs: number;
  readonly transactionalIdExpirationMs: number;
  readonly controlledShutdownEnable: boolean;
  readonly unstableApiVersionsEnable: boolean;
  readonly unstableFeatureVersionsEnable: boolean;
  readonly requestTimeoutMs: number;
  readonly fetchMaxBytes: number;
  readonly queuedMaxRequests: number;
  readonly logCleanerThreads: number;
  readonly logCleanerBackoffMs: number;
  readonly logCleanerDedupeBufferSize: number;
  readonly logCleanerIoMaxBytesPerSecond: number;
  /** http.listeners (Sluice's own key): where the HTTP plane listens; empty when it is off. */
  readonly httpListeners: readonly HttpListenerAddress[];
  /** metadata.store (Sluice's own key): null for the embedded single-node store, else the etcd URL (etcd://host:port,...). */
  readonly metadataStore: string | null;

  /** Parses and validates every given value. Throws ConfigError; unknown keys are kept (see loadBrokerConfig). */
  constructor(originals: Record<string, string>) {
    const given = { ...originals };
    // KafkaConfig.populateSynonyms: node.id and broker.id stand for each other.
    if (given["node.id"] !== undefined && given["broker.id"] === undefined) given["broker.id"] = given["node.id"];
    if (given["broker.id"] !== undefined && given["node.id"] === undefined) given["node.id"] = given["broker.id"];
    this.originals = Object.freeze(given);
    for (const [name, raw] of Object.entries(given)) {
      const key = brokerConfigKeys.get(name);
      if (key) this.parsed.set(name, parseValue(key, raw));
    }
    for (const key of brokerConfigKeys.values()) {
      if (key.defaultValue === undefined && !this.parsed.has(key.name) && !requiredByKafkaOnly.has(key.name)) {
        throw new ConfigError(key.name, `Missing required configuration "${key.name}" which has no default value.`);
      }
    }
    if (this.int("node.id") !== this.int("broker.id")) {
      throw new ConfigError(
        "node.id",
        `The values for broker.id (${this.int("broker.id")}) and node.id (${this.int("node.id")}) must be the same if both are specified`,
      );
    }

    this.nodeId = this.int("node.id");
    this.processRoles = this.list("process.roles");
    this.brokerRack = this.string("broker.rack");
    const protocols = parseProtocolMap(this.string("listener.security.protocol.map") ?? "");
    this.controllerListenerNames = (this.text("controller.listener.names") ?? "")
      .split(",")
      .map((name) => name.trim().toUpperCase())
      .filter((name) => name !== "");
    const listeners = parseListeners("listeners", this.text("listeners"), protocols, this.controllerListenerNames);
    this.listeners = listeners.map((listener) => (listener.host === "" ? { ...listener, host: "0.0.0.0" } : listener));
    this.brokerListeners = this.listeners.filter((listener) => !this.controllerListenerNames.includes(listener.name));
    const advertised = this.isSet("advertised.listeners")
      ? parseListeners("advertised.listeners", this.text("advertised.listeners"), protocols, this.controllerListenerNames)
      : listeners.filter((listener) => !this.controllerListenerNames.includes(listener.name));
    for (const listener of advertised) {
      if (!listeners.some((bound) => bound.name === listener.name)) {
        throw new ConfigError(
          "advertised.listeners",
          `advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found ${advertised.map((l) => l.name).join(",")}. The valid options based on the current configuration are ${listeners.map((l) => l.name).join(",")}`,
        );
      }
      if (this.isSet("advertised.listeners") && listener.host === "0.0.0.0") {
        throw new ConfigError("advertised.listeners", "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.");
      }
    }
    this.advertisedListeners = advertised.map((listener) => (listener.host === "" ? { ...listener, host: hostname() } : listener));
    const dirs = (this.text("log.dirs") ?? this.text("log.dir") ?? "")
      .split(",")
      .map((dir) => dir.trim())
      .filter((dir) => dir !== "");
    if (dirs.length === 0) throw new ConfigError("log.dirs", "At least one log directory must be defined via log.dirs or log.dir.");
    this.logDirs = dirs;

    this.numNetworkThreads = this.int("num.network.threads");
    this.numIoThreads = this.int("num.io.threads");
    this.numRecoveryThreadsPerDataDir = this.int("num.recovery.threads.per.data.dir");
    this.socketRequestMaxBytes = this.int("socket.request.max.bytes");
    this.socketSendBufferBytes = this.int("socket.send.buffer.bytes");
    this.socketReceiveBufferBytes = this.int("socket.receive.buffer.bytes");
    this.maxConnections = this.int("max.connections");
    this.maxConnectionsPerIp = this.int("max.connections.per.ip");
    this.connectionsMaxIdleMs = this.int("connections.max.idle.ms");
    this.autoCreateTopicsEnable = this.bool("auto.create.topics.enable");
    this.deleteTopicEnable = this.bool("delete.topic.enable");
    this.numPartitions = this.int("num.partitions");
    this.defaultReplicationFactor = this.int("default.replication.factor");
    this.minInsyncReplicas = this.int("min.insync.replicas");
    this.messageMaxBytes = this.int("message.max.bytes");
    this.logRetentionCheckIntervalMs = this.int("log.retention.check.interval.ms");
    this.logFlushOffsetCheckpointIntervalMs = this.int("log.flush.offset.checkpoint.interval.ms");
    this.logFlushStartOffsetCheckpointIntervalMs = this.int("log.flush.start.offset.checkpoint.interval.ms");
    this.replicaHighWatermarkCheckpointIntervalMs = this.int("replica.high.watermark.checkpoint.interval.ms");
    this.logFlushIntervalMessages = this.int("log.flush.interval.messages");
    this.logFlushIntervalMs = this.firstOf(["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]);
    const retention = this.firstOf(["log.retention.ms", "log.retention.minutes", "log.retention.hours"]);
    this.logRetentionMs = retention < 0 ? -1 : retention;
    this.logRetentionBytes = this.int("log.retention.bytes");
    this.logSegmentBytes = this.int("log.segment.bytes");
    this.logRollMs = this.firstOf(["log.roll.ms", "log.roll.hours"]);
    this.producerIdExpirationMs = this.int("producer.id.expiration.ms");
    this.producerIdExpirationCheckIntervalMs = this.int("producer.id.expiration.check.interval.ms");
    this.groupInitialRebalanceDelayMs = this.int("group.initial.rebalance.delay.ms");
    this.groupMinSessionTimeoutMs = this.int("group.min.session.timeout.ms");
    this.groupMaxSessionTimeoutMs = this.int("group.max.session.timeout.ms");
    this.offsetsTopicReplicationFactor = this.int("offsets.topic.replication.factor");
    this.offsetsTopicNumPartitions = this.int("offsets.topic.num.partitions");
    this.offsetsRetentionMinutes = this.int("offsets.retention.minutes");
    this.transactionStateLogReplicationFactor = this.int("transaction.state.log.replication.factor");
    this.transactionStateLogNumPartitions = this.int("transaction.state.log.num.partitions");
    this.transactionMaxTimeoutMs = this.int("transaction.max.timeout.ms");
    this.transactionalIdExpirationMs = this.int("transactional.id.expiration.ms");
    this.controlledShutdownEnable = this.bool("controlled.shutdown.enable");
    this.unstableApiVersionsEnable = this.bool("unstable.api.versions.enable");
    this.unstableFeatureVersionsEnable = this.bool("unstable.feature.versions.enable");
    this.requestTimeoutMs = this.int("request.timeout.ms");
    this.fetchMaxBytes = this.int("fetch.max.bytes");
    this.queuedMaxRequests = this.int("queued.max.requests");
    this.logCleanerThreads = this.bool("log.cleaner.enable") ? this.int("log.cleaner.threads") : 0;
    this.logCleanerBackoffMs = this.int("log.cleaner.backoff.ms");
    this.logCleanerDedupeBufferSize = this.int("log.cleaner.dedupe.buffer.size");
    this.logCleanerIoMaxBytesPerSecond = this.get("log.cleaner.io.max.bytes.per.second") as number;
    this.httpListeners = parseHttpListeners(given["http.listeners"] ?? (sluiceBrokerKeys.get("http.listeners")?.defaultValue as string));
    this.metadataStore = parseMetadataStore(given["metadata.store"] ?? "embedded");
  }

  /** The parsed value of a key (given, else Kafka's default); unknown keys: the raw string given, or undefined. */
  get(name: string): ConfigValue | undefined {
    return this.value(name)?.value ?? (brokerConfigKeys.has(name) ? null : this.originals[name]);
  }

  /** Kafka's string form of a key's value (given, else default); null when it has none. */
  text(name: string): string | null {
    const value = this.value(name);
    return value ? value.text : (this.originals[name] ?? null);
  }

  /** True when the key was given (defaults layer, file or override). */
  isSet(name: string): boolean {
    return Object.hasOwn(this.originals, name);
  }

  private value(name: string): ParsedValue | undefined {
    const given = this.parsed.get(name);
    if (given) return given;
    const key = brokerConfigKeys.get(name);
    return key ? parseDefault(key) : undefined;
  }

  private int(name: string): number {
    return this.get(name) as number;
  }

  private bool(name: string): boolean {
    return this.get(name) as boolean;
  }

  private string(name: string): string | null {
    return (this.get(name) as string | null) ?? null;
  }

  private list(name: string): readonly string[] {
    return (this.get(name) as readonly string[] | null) ?? [];
  }

  /** The first of Kafka's synonyms with a value (hours and minutes converted to ms). */
  private firstOf(names: readonly string[]): number {
    for (const name of names) {
      const value = this.get(name);
      if (value === null || value === undefined) continue;
      const n = value as number;
      return name.endsWith(".hours") ? n * millisPerHour : name.endsWith(".minutes") ? n * millisPerMinute : n;
    }
    throw new Error(`no value for any of ${names.join(", ")}`);
  }
}

function splitOverride(text: string): [string, string] {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new ConfigError(text, `Invalid --override ${JSON.stringify(text)}: expected key=value`);
  return [text.slice(0, equals).trim(), text.slice(equals + 1)];
}

/**
 * Keys of Sluice's own (no Kafka broker has them): parsed by BrokerConfig, never warned about as
 * unknown, and not part of what DescribeConfigs returns (Kafka's tools see Kafka's keys only).
 */
export const sluiceBrokerKeys: ReadonlyMap<string, { readonly defaultValue: string; readonly documentation: string }> = new Map([
  [
    "metadata.store",
    {
      defaultValue: "embedded",
      documentation:
        "Where the cluster metadata lives. `embedded`: a single node, the metadata in the first log directory, nothing else needed. `etcd://host:2379,host:2379`: a cluster — brokers register in etcd, elect the controller through it and keep topics, partition state (leader, leader epoch, ISR) and producer-id blocks there.",
    },
  ],
  [
    "http.listeners",
    {
      defaultValue: "http://localhost:9644",
      documentation:
        "Comma-separated http://host:port addresses of the HTTP plane: /metrics (Prometheus), /health, /ready, the admin API and the web console. Empty: no HTTP listener.",
    },
  ],
]);

/** Parses `metadata.store`: null for `embedded`, else an etcd:// URL with at least one host:port. */
export function parseMetadataStore(value: string): string | null {
  const text = value.trim();
  if (text === "" || text === "embedded") return null;
  if (!/^etcd:\/\/[^,\s]+(,[^,\s]+)*$/.test(text))
    throw new ConfigError("metadata.store", `Invalid value ${value} for configuration metadata.store: expected embedded or etcd://host:port[,host:port...]`);
  return text;
}

/** One `http.listeners` entry. */
export interface HttpListenerAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `http.listeners`: `http://host:port` entries, comma-separated; "" is none. */
export function parseHttpListeners(text: string): HttpListenerAddress[] {
  const listeners: HttpListenerAddress[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    if (entry === "") continue;
    const match = /^http:\/\/(\[[^\]]*\]|[^:/]*):(\d+)\/?$/.exec(entry);
    const port = match === null ? Number.NaN : Number(match[2]);
    if (match === null || port > 65535) {
      throw new ConfigError(
        "http.listeners",
        `Invalid value ${text} for configuration http.listeners: expected http://host:port entries, e.g. http://localhost:9644`,
      );
    }
    const host = match[1].replace(/^\[|\]$/g, "");
    listeners.push({ host: host === "" ? "0.0.0.0" : host, port });
  }
  return listeners;
}

/** Kafka's own prefixed forms (listener.name.<listener>.<key>, ...): accepted without a warning of "unknown". */
const prefixedKeys = /^(listener\.name\.[^.]+\.|rlmm\.config\.|rsm\.config\.)/;

/** StandardAuthorizer's own configs: not KafkaConfig keys, but read (src/security/acl.ts), as Kafka's authorizer reads them. */
const authorizerKeys = new Set(["super.users", "allow.everyone.if.no.acl.found"]);

/** Whether a listener.name.<listener>. key's rest is one Sluice reads per listener (ssl.*, SASL mechanisms and JAAS, connection creation rate). */
function honouredListenerKey(rest: string): boolean {
  if (rest === "max.connection.creation.rate" || rest === "sasl.enabled.mechanisms") return true;
  if (/^[a-z0-9-]+\.sasl\.(jaas\.config|server\.callback\.handler\.class)$/.test(rest)) return true;
  return rest.startsWith("ssl.") && (honouredBrokerKeys.has(rest) || rest === "ssl.endpoint.identification.algorithm");
}

/**
 * Loads the broker configuration: `defaults` (embeddedBrokerDefaults when there is no file), then
 * the file, then each override. Throws ConfigError for an invalid value or a missing required key;
 * unknown keys and keys Sluice accepts but does not act on come back as warnings.
 */
export function loadBrokerConfig(options: LoadBrokerConfigOptions = {}): { config: BrokerConfig; warnings: string[] } {
  const originals: Record<string, string> = { ...(options.defaults ?? (options.file === undefined ? embeddedBrokerDefaults : {})) };
  const given = new Set<string>();
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (error) {
      throw new ConfigError("--config", `Cannot read the config file ${options.file}: ${(error as Error).message}`);
    }
    for (const [key, value] of parseProperties(text)) {
      originals[key] = value;
      given.add(key);
    }
  }
  for (const override of options.overrides ?? []) {
    const [key, value] = splitOverride(override);
    originals[key] = value;
    given.add(key);
  }
  // log.dir given without log.dirs means log.dir, whatever the defaults layer says (log.dirs wins in Kafka).
  if (given.has("log.dir") && !given.has("log.dirs")) delete originals["log.dirs"];
  const warnings: string[] = [];
  const unused: string[] = [];
  for (const name of Object.keys(originals)) {
    const key = brokerConfigKeys.get(name);
    if (sluiceBrokerKeys.has(name) || authorizerKeys.has(name)) continue;
    if (!key && prefixedKeys.test(name) && honouredListenerKey(name.replace(prefixedKeys, ""))) continue;
    if (!key) {
      warnings.push(
        prefixedKeys.test(name)
          ? `The configuration '${name}' was supplied but is not used by Sluice.`
          : `Unknown configuration '${name}' (not a Kafka 4.4 broker config): ignored.`,
      );
    } else if (!key.honoured) {
      unused.push(name);
    }
  }
  if (unused.length > 0) warnings.push(`Accepted but not used by Sluice yet: ${unused.join(", ")}.`);
  return { config: new BrokerConfig(originals), warnings };
}

// ---------------------------------------------------------------------------------------------
// DescribeConfigs

/** One entry of a DescribeConfigs result (DescribeConfigsResponse's DescribeConfigsResourceResult). */
export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  /** The v0 field: true when the value is Kafka's default. */
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: DescribedSynonym[];
  configType: number;
  documentation: string | null;
}

export interface DescribedSynonym {
  name: string;
  value: string | null;
  source: number;
}

export interface DescribeOptions {
  includeSynonyms: boolean;
  includeDocumentation: boolean;
}

/**
 * ConfigHelper.configSynonyms: each synonym with a static value, then each with a default, in the
 * synonyms' order, dropping those before `name` itself (so log.retention.ms does not list
 * log.retention.hours).
 */
export function brokerSynonyms(config: BrokerConfig, name: string, sensitive: boolean): DescribedSynonym[] {
  const names = brokerConfigKeys.get(name)?.synonyms ?? [name];
  const all: DescribedSynonym[] = [];
  for (const synonym of names) {
    if (config.isSet(synonym)) all.push({ name: synonym, value: sensitive ? null : config.originals[synonym], source: ConfigSource.STATIC_BROKER_CONFIG });
  }
  for (const synonym of names) {
    const key = brokerConfigKeys.get(synonym);
    const text = key ? parseDefault(key).text : null;
    if (text !== null) all.push({ name: synonym, value: sensitive ? null : text, source: ConfigSource.DEFAULT_CONFIG });
  }
  const first = all.findIndex((synonym) => synonym.name === name);
  return first < 0 ? [] : all.slice(first);
}

/** DescribeConfigs keys: null or empty means all. */
export function selectKeys(all: readonly string[], keys: readonly string[] | null): string[] {
  if (keys === null || keys.length === 0) return [...all];
  const wanted = new Set(keys);
  return all.filter((name) => wanted.has(name));
}

/**
 * Describes a broker as Kafka does for DescribeConfigs on BROKER `<node.id>`: every non-internal
 * key plus every key given, values as parsed (null for passwords and unknown keys, which Kafka
 * treats as sensitive), sources STATIC_BROKER_CONFIG or DEFAULT_CONFIG, readOnly unless Kafka can
 * update the key dynamically. (For the cluster-default resource, name "", Kafka lists its dynamic
 * defaults: none in Sluice, so that answer is an empty list.)
 */
export function describeBrokerConfigs(config: BrokerConfig, keys: readonly string[] | null, opts: DescribeOptions): DescribedConfig[] {
  const names = [...brokerConfigKeys.values()].filter((key) => !key.internal).map((key) => key.name);
  for (const name of Object.keys(config.originals)) if (!names.includes(name)) names.push(name);
  return selectKeys(names, keys).map((name) => {
    const key = brokerConfigKeys.get(name);
    const sensitive = key === undefined || key.type === "PASSWORD";
    const synonyms = brokerSynonyms(config, name, sensitive);
    const configSource = synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
    return {
      name,
      value: sensitive ? null : config.text(name),
      readOnly: !key?.dynamic,
      isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
      configSource,
      isSensitive: sensitive,
      synonyms: opts.includeSynonyms ? synonyms : [],
      configType: configTypeId(key?.type),
      documentation: opts.includeDocumentation ? (key?.documentation ?? null) : null,
    };
  });
}
