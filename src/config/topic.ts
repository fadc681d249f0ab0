// Topic configs: Kafka 4.4's topic config keys (LogConfig), their broker synonyms (retention.ms ←
// log.retention.ms, log.retention.minutes, log.retention.hours; ...), validation, the effective
// config of a topic, DescribeConfigs for a topic and IncrementalAlterConfigs' operations.
import { type CompressionCodec, type LogConfig, ProduceSettings, type ProduceValidationConfig } from "../native.js";
import { type BrokerConfig, brokerSynonyms, type DescribedConfig, type DescribeOptions, selectKeys } from "./broker.js";
import { ConfigError, type ConfigKey, ConfigSource, configTypeId, keysFromRows, type ParsedValue, parseDefault, parseType, parseValue } from "./defs.js";
import { kafkaTopicKeys } from "./kafka-defs.js";

/** The topic keys Sluice acts on today (name → a note on how, or null). */
const honouredTopicKeys = new Map<string, string | null>([
  ["segment.bytes", null],
  ["segment.ms", null],
  ["segment.jitter.ms", null],
  ["segment.index.bytes", null],
  ["index.interval.bytes", null],
  ["flush.messages", null],
  ["flush.ms", null],
  ["retention.ms", null],
  ["retention.bytes", null],
  ["max.message.bytes", null],
  ["message.timestamp.type", null],
  ["message.timestamp.before.max.ms", null],
  ["message.timestamp.after.max.ms", null],
  ["compression.type", "Batches in another codec are recompressed on produce, as Kafka does."],
  ["compression.gzip.level", null],
  ["compression.lz4.level", null],
  ["compression.zstd.level", null],
  [
    "cleanup.policy",
    "compact: keys are mandatory on produce and the log cleaner keeps the latest record per key; without delete, no retention by time or size.",
  ],
  ["min.cleanable.dirty.ratio", null],
  ["min.compaction.lag.ms", null],
  ["max.compaction.lag.ms", null],
  ["delete.retention.ms", "Tombstones and the markers of emptied transactions stay this long after the clean that first kept them (KIP-534's delete horizon)."],
  ["file.delete.delay.ms", "Deleted segments stay renamed .deleted this long; readers keep reading them meanwhile."],
  ["min.insync.replicas", "Sluice has one replica per partition: acks=all fails with NOT_ENOUGH_REPLICAS when this is above 1."],
]);

/** Every Kafka 4.4 topic config key, by name; `synonyms` are its broker synonyms in Kafka's order. */
export const topicConfigKeys: ReadonlyMap<string, ConfigKey> = keysFromRows(kafkaTopicKeys, honouredTopicKeys, false);

/** The topic config definitions (every key, in name order). */
export const topicConfigDefs: readonly ConfigKey[] = [...topicConfigKeys.values()];

/** Typed values of every config a topic uses (its overrides, else the broker's defaults, else Kafka's). */
export interface TopicConfig {
  readonly cleanupPolicy: readonly ("delete" | "compact")[];
  readonly compressionType: "uncompressed" | "zstd" | "lz4" | "snappy" | "gzip" | "producer";
  readonly compressionGzipLevel: number;
  readonly compressionLz4Level: number;
  readonly compressionZstdLevel: number;
  readonly deleteRetentionMs: number;
  readonly fileDeleteDelayMs: number;
  readonly flushMessages: number;
  readonly flushMs: number;
  readonly followerReplicationThrottledReplicas: readonly string[];
  readonly indexIntervalBytes: number;
  readonly leaderReplicationThrottledReplicas: readonly string[];
  readonly localRetentionBytes: number;
  readonly localRetentionMs: number;
  readonly maxCompactionLagMs: number;
  readonly maxMessageBytes: number;
  readonly messageTimestampAfterMaxMs: number;
  readonly messageTimestampBeforeMaxMs: number;
  readonly messageTimestampType: "CreateTime" | "LogAppendTime";
  readonly minCleanableDirtyRatio: number;
  readonly minCompactionLagMs: number;
  readonly minInsyncReplicas: number;
  readonly preallocate: boolean;
  readonly remoteLogCopyDisable: boolean;
  readonly remoteLogDeleteOnDisable: boolean;
  readonly remoteStorageEnable: boolean;
  readonly retentionBytes: number;
  /** -1: forever. */
  readonly retentionMs: number;
  readonly segmentBytes: number;
  readonly segmentIndexBytes: number;
  readonly segmentJitterMs: number;
  readonly segmentMs: number;
  readonly uncleanLeaderElectionEnable: boolean;
  /** Kafka's string form of every key's effective value (what DescribeConfigs shows). */
  readonly texts: ReadonlyMap<string, string | null>;
}

const millisPerHour = 3_600_000n;
const millisPerMinute = 60_000n;

/**
 * The broker's default for a topic key (KafkaConfig.extractLogConfigMap): the first of its broker
 * synonyms with a value, hours and minutes converted to ms (negative retention: -1), else the
 * topic key's own default.
 */
function brokerDefault(key: ConfigKey, broker: BrokerConfig): ParsedValue {
  for (const synonym of key.synonyms) {
    const text = broker.text(synonym);
    if (text === null) continue;
    let converted = text;
    if (synonym.endsWith(".hours") || synonym.endsWith(".minutes")) {
      const ms = BigInt(text) * (synonym.endsWith(".hours") ? millisPerHour : millisPerMinute);
      converted = (key.name === "retention.ms" && ms < 0n ? -1n : ms).toString();
    } else if (synonym === "log.retention.ms" && BigInt(text) < 0n) {
      converted = "-1";
    }
    return parseType(key.name, converted, key.type);
  }
  return parseDefault(key);
}

function effectiveValues(overrides: Readonly<Record<string, string>>, broker: BrokerConfig | undefined): Map<string, ParsedValue> {
  const values = new Map<string, ParsedValue>();
  for (const key of topicConfigKeys.values()) {
    const override = overrides[key.name];
    values.set(key.name, override !== undefined ? parseValue(key, override) : broker ? brokerDefault(key, broker) : parseDefault(key));
  }
  return values;
}

/**
 * Validates topic configs as given to CreateTopics, AlterConfigs or the result of
 * IncrementalAlterConfigs (LogConfig.validate): every name must be a topic config ("Unknown topic
 * config name: x"), every value valid for its key, and min.compaction.lag.ms no more than
 * max.compaction.lag.ms (with the broker's defaults, when given, for the one not set).
 * Throws ConfigError (INVALID_CONFIG).
 */
export function validateTopicConfigs(entries: Readonly<Record<string, string>>, broker?: BrokerConfig): void {
  for (const name of Object.keys(entries)) {
    if (!topicConfigKeys.has(name)) throw new ConfigError(name, `Unknown topic config name: ${name}`);
  }
  const values = effectiveValues(entries, broker);
  const minLag = values.get("min.compaction.lag.ms")!.text!;
  const maxLag = values.get("max.compaction.lag.ms")!.text!;
  if (BigInt(minLag) > BigInt(maxLag)) {
    throw new ConfigError("min.compaction.lag.ms", `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`);
  }
}

/** The effective config of a topic: its overrides (validated), else the broker's defaults, else Kafka's. */
export function effectiveTopicConfig(overrides: Readonly<Record<string, string>>, broker?: BrokerConfig): TopicConfig {
  validateTopicConfigs(overrides, broker);
  const values = effectiveValues(overrides, broker);
  const get = <T>(name: string) => values.get(name)!.value as T;
  return {
    cleanupPolicy: get("cleanup.policy"),
    compressionType: get("compression.type"),
    compressionGzipLevel: get("compression.gzip.level"),
    compressionLz4Level: get("compression.lz4.level"),
    compressionZstdLevel: get("compression.zstd.level"),
    deleteRetentionMs: get("delete.retention.ms"),
    fileDeleteDelayMs: get("file.delete.delay.ms"),
    flushMessages: get("flush.messages"),
    flushMs: get("flush.ms"),
    followerReplicationThrottledReplicas: get("follower.replication.throttled.replicas"),
    indexIntervalBytes: get("index.interval.bytes"),
    leaderReplicationThrottledReplicas: get("leader.replication.throttled.replicas"),
    localRetentionBytes: get("local.retention.bytes"),
    localRetentionMs: get("local.retention.ms"),
    maxCompactionLagMs: get("max.compaction.lag.ms"),
    maxMessageBytes: get("max.message.bytes"),
    messageTimestampAfterMaxMs: get("message.timestamp.after.max.ms"),
    messageTimestampBeforeMaxMs: get("message.timestamp.before.max.ms"),
    messageTimestampType: get("message.timestamp.type"),
    minCleanableDirtyRatio: get("min.cleanable.dirty.ratio"),
    minCompactionLagMs: get("min.compaction.lag.ms"),
    minInsyncReplicas: get("min.insync.replicas"),
    preallocate: get("preallocate"),
    remoteLogCopyDisable: get("remote.log.copy.disable"),
    remoteLogDeleteOnDisable: get("remote.log.delete.on.disable"),
    remoteStorageEnable: get("remote.storage.enable"),
    retentionBytes: get("retention.bytes"),
    retentionMs: get("retention.ms"),
    segmentBytes: get("segment.bytes"),
    segmentIndexBytes: get("segment.index.bytes"),
    segmentJitterMs: get("segment.jitter.ms"),
    segmentMs: get("segment.ms"),
    uncleanLeaderElectionEnable: get("unclean.leader.election.enable"),
    texts: new Map([...values].map(([name, value]) => [name, value.text])),
  };
}

/** The storage engine's LogConfig (src/native.ts) for a topic. Long.MAX_VALUE passes as a number ≥ 2^63, which the addon reads as "never". */
export function toLogConfig(topic: TopicConfig): LogConfig {
  return {
    segmentBytes: topic.segmentBytes,
    segmentMs: topic.segmentMs,
    segmentJitterMs: topic.segmentJitterMs,
    segmentIndexBytes: topic.segmentIndexBytes,
    indexIntervalBytes: topic.indexIntervalBytes,
    flushMessages: topic.flushMessages,
    flushMs: topic.flushMs,
    retentionMs: topic.retentionMs,
    retentionBytes: topic.retentionBytes,
    messageTimestampType: topic.messageTimestampType,
    fileDeleteDelayMs: topic.fileDeleteDelayMs,
  };
}

// The addon reads these as i64 through napi, which does not saturate: keep them exact.
const safeLong = (value: number) => Math.min(value, Number.MAX_SAFE_INTEGER);

/** The produce validator's config (src/native.ts) for a topic; the caller adds produceVersion. */
export function toProduceValidationConfig(topic: TopicConfig): ProduceValidationConfig {
  return {
    maxMessageBytes: topic.maxMessageBytes,
    segmentBytes: topic.segmentBytes,
    timestampType: topic.messageTimestampType,
    timestampBeforeMaxMs: safeLong(topic.messageTimestampBeforeMaxMs),
    timestampAfterMaxMs: safeLong(topic.messageTimestampAfterMaxMs),
    compacted: topic.cleanupPolicy.includes("compact"),
  };
}

/** The codec a topic's compression.type stores batches with, or undefined to keep the producer's. */
function storedCodec(topic: TopicConfig): CompressionCodec | undefined {
  const type = topic.compressionType;
  if (type === "producer") return undefined;
  return type === "uncompressed" ? "none" : (type as CompressionCodec);
}

function compressionLevel(topic: TopicConfig, codec: CompressionCodec | undefined): number | undefined {
  if (codec === "gzip") return topic.compressionGzipLevel;
  if (codec === "lz4") return topic.compressionLz4Level;
  if (codec === "zstd") return topic.compressionZstdLevel;
  return undefined;
}

/** A topic's native produce settings (validation and stored codec), made once per topic config. */
export function toProduceSettings(topic: TopicConfig): ProduceSettings {
  const codec = storedCodec(topic);
  return new ProduceSettings(toProduceValidationConfig(topic), codec, compressionLevel(topic, codec));
}

/**
 * Describes a topic as Kafka's DescribeConfigs does (ConfigHelper.createTopicConfigEntry): every
 * non-internal topic key (and internal ones the topic sets) with its effective value; source
 * TOPIC_CONFIG for the topic's overrides, else that of the first broker synonym (STATIC_BROKER_CONFIG
 * when the broker's config sets it, DEFAULT_CONFIG otherwise); synonyms: the override, then the
 * broker synonym's static and default values (Kafka lists none for retention.ms when only
 * log.retention.hours is set, and so does this). Never read-only, never sensitive.
 */
export function describeTopicConfigs(
  overrides: Readonly<Record<string, string>>,
  broker: BrokerConfig,
  keys: readonly string[] | null,
  opts: DescribeOptions,
): DescribedConfig[] {
  const values = effectiveValues(overrides, broker);
  const names = topicConfigDefs.filter((key) => !key.internal || overrides[key.name] !== undefined).map((key) => key.name);
  return selectKeys(names, keys).map((name) => {
    const key = topicConfigKeys.get(name)!;
    const value = values.get(name)!.text;
    const synonyms = key.synonyms.length > 0 ? brokerSynonyms(broker, key.synonyms[0], false) : [];
    if (overrides[name] !== undefined) synonyms.unshift({ name, value, source: ConfigSource.TOPIC_CONFIG });
    const configSource = synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
    return {
      name,
      value,
      readOnly: false,
      isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
      configSource,
      isSensitive: false,
      synonyms: opts.includeSynonyms ? synonyms : [],
      configType: configTypeId(key.type),
      documentation: opts.includeDocumentation ? key.documentation : null,
    };
  });
}

/** IncrementalAlterConfigs' operations (AlterConfigOp.OpType). */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const opNames = ["SET", "DELETE", "APPEND", "SUBTRACT"];

export interface IncrementalAlterOp {
  name: string;
  /** 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT */
  op: number;
  value: string | null;
}

/**
 * Applies IncrementalAlterConfigs operations to a topic's overrides as Kafka's controller does
 * (ConfigurationControlManager): SET replaces, DELETE removes (back to the default), APPEND adds
 * the comma-separated values not yet present and SUBTRACT removes them — from the current value,
 * or Kafka's default when unset — for LIST configs only. The result is validated
 * (validateTopicConfigs). Throws ConfigError: INVALID_REQUEST for a key given twice or an unknown
 * operation, INVALID_CONFIG otherwise.
 */
export function applyIncrementalAlter(
  current: Readonly<Record<string, string>>,
  ops: readonly IncrementalAlterOp[],
  broker?: BrokerConfig,
): Record<string, string> {
  const seen = new Set<string>();
  for (const { name } of ops) {
    if (seen.has(name)) throw new ConfigError(name, "Error due to duplicate config keys", "INVALID_REQUEST");
    seen.add(name);
  }
  const result: Record<string, string> = { ...current };
  for (const { name, op, value } of ops) {
    switch (op) {
      case AlterConfigOp.SET:
        if (value === null) throw new ConfigError(name, `Null value not supported for topic configs: ${name}`, "INVALID_REQUEST");
        result[name] = value;
        break;
      case AlterConfigOp.DELETE:
        delete result[name];
        break;
      case AlterConfigOp.APPEND:
      case AlterConfigOp.SUBTRACT: {
        const key = topicConfigKeys.get(name);
        if (key?.type !== "LIST") throw new ConfigError(name, `Can't ${opNames[op]} to key ${name} because its type is not LIST.`);
        const base = result[name] ?? key.defaultValue ?? "";
        const parts = base.split(",").filter((part) => part !== "");
        for (const item of (value ?? "").split(",")) {
          if (op === AlterConfigOp.APPEND) {
            if (!parts.includes(item)) parts.push(item);
          } else {
            const index = parts.indexOf(item);
            if (index >= 0) parts.splice(index, 1);
          }
        }
        result[name] = parts.join(",");
        break;
      }
      default:
        throw new ConfigError(name, `Unknown alter config operation ${op} for ${name}`, "INVALID_REQUEST");
    }
  }
  validateTopicConfigs(result, broker);
  return result;
}
