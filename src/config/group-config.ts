// Group configs (Kafka 4.4's GroupConfig, KIP-848 / KIP-932 / KIP-1071 / KIP-1191): per-group
// overrides of the group coordinator's broker settings, set with IncrementalAlterConfigs (or
// AlterConfigs) on a GROUP resource — `kafka-configs.sh --entity-type groups --entity-name G` —
// and described with DescribeConfigs, with Kafka's names, types, documentation, synonyms (the
// broker key each one overrides), sources (GROUP_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG) and
// validation messages: first the key's own ConfigDef check ("Value must be at least 1000"), then
// the broker's bounds ("share.record.lock.duration.ms must be in the range 1000 to 60000
// inclusive."). Any group id may have configs, existing or not; the empty id is refused.
//
// The overrides live in the metadata store (GroupConfigStore: metadata.json on a single node, etcd
// `groupconfigs/<group>` in a cluster) and are read where they apply (share partitions: lock
// duration, delivery count limit, record locks, auto offset reset, isolation level, DLQ).

import { brokerSynonyms, type DescribedConfig } from "./broker.js";
import { ConfigError, ConfigSource, ConfigType } from "./defs.js";
import type { BrokerConfig } from "./index.js";

/** Where group configs are kept. */
export interface GroupConfigStore {
  /** The group's overrides (empty when none). */
  groupConfig(groupId: string): Readonly<Record<string, string>>;
  /** Replaces the group's overrides (an empty set deletes them); persisted before it resolves. */
  setGroupConfig(groupId: string, configs: Readonly<Record<string, string>>): Promise<void>;
  onGroupConfigChanged(listener: (groupId: string) => void): void;
  /** The groups that have configs. */
  groupsWithConfigs(): string[];
}

type GroupKeyType = "INT" | "STRING" | "BOOLEAN" | "LIST";

interface GroupKey {
  readonly name: string;
  readonly type: GroupKeyType;
  /** The broker key it overrides (its default comes from there), or null: a default of its own. */
  readonly brokerKey: string | null;
  /** The default when brokerKey is null. */
  readonly defaultValue?: string;
  readonly documentation: string;
  /** The ConfigDef check: at least this (INT). */
  readonly atLeast?: number;
  /** The ConfigDef check: one of these (STRING). */
  readonly oneOf?: readonly string[];
  /** The broker's bounds: [min key, max key]. */
  readonly bounds?: readonly [string, string];
}

const k = (key: GroupKey) => key;

/** GroupConfig's keys, in the order Kafka 4.4 describes them (its HashMap order). */
export const GROUP_CONFIG_KEYS: readonly GroupKey[] = [
  k({
    name: "consumer.session.timeout.ms",
    type: "INT",
    brokerKey: "group.consumer.session.timeout.ms",
    atLeast: 1,
    bounds: ["group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"],
    documentation: "The timeout to detect client failures when using the consumer group protocol.",
  }),
  k({
    name: "streams.assignor.name",
    type: "STRING",
    brokerKey: "group.streams.assignors",
    documentation:
      "The task assignor to use for this streams group, selected by short name from the assignors registered via the broker configuration group.streams.assignors. When unset, the group defaults to the first assignor configured in the broker's group.streams.assignors setting. Changing the assignor does not trigger a rebalance for the group; the new assignor takes effect on the next rebalance.",
  }),
  k({
    name: "consumer.assignment.interval.ms",
    type: "INT",
    brokerKey: "group.consumer.assignment.interval.ms",
    atLeast: 0,
    bounds: ["group.consumer.min.assignment.interval.ms", "group.consumer.max.assignment.interval.ms"],
    documentation: "The interval between assignment updates for a consumer group.",
  }),
  k({
    name: "errors.deadletterqueue.copy.record.enable",
    type: "BOOLEAN",
    brokerKey: null,
    defaultValue: "false",
    documentation:
      "When writing onto the dead-letter queue topic, whether to copy the original record onto the DLQ topic, or just write a record containing the context information headers.",
  }),
  k({
    name: "share.auto.offset.reset",
    type: "STRING",
    brokerKey: null,
    defaultValue: "latest",
    documentation:
      "The strategy to initialize the share-partition start offset. <ul><li>earliest: automatically reset the offset to the earliest offset</li><li>latest: automatically reset the offset to the latest offset</li><li>by_duration:&lt;duration&gt;: automatically reset the offset to a configured duration from the current timestamp. &lt;duration&gt; must be specified in ISO8601 format (PnDTnHnMn.nS). Negative duration is not allowed.</li><li>anything else: throw exception to the share consumer.</li></ul>",
  }),
  k({
    name: "streams.rack.aware.assignment.tags",
    type: "LIST",
    brokerKey: "group.streams.rack.aware.assignment.tags",
    documentation:
      "List of client tag keys used to distribute standby replicas across Kafka Streams instances. When configured, and the used broker-side assignor supports it, it will make a best-effort to distribute standby tasks over each client tag dimension.",
  }),
  k({
    name: "share.renew.acknowledge.enable",
    type: "BOOLEAN",
    brokerKey: null,
    defaultValue: "true",
    documentation: "Whether the renew acknowledge type is enabled for the share group.",
  }),
  k({
    name: "streams.initial.rebalance.delay.ms",
    type: "INT",
    brokerKey: "group.streams.initial.rebalance.delay.ms",
    atLeast: 0,
    documentation:
      "The amount of time the group coordinator will wait for more streams clients to join a new group before performing the first rebalance. A longer delay means potentially fewer rebalances.",
  }),
  k({
    name: "share.session.timeout.ms",
    type: "INT",
    brokerKey: "group.share.session.timeout.ms",
    atLeast: 1,
    bounds: ["group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"],
    documentation: "The timeout to detect client failures when using the share group protocol.",
  }),
  k({
    name: "streams.assignment.interval.ms",
    type: "INT",
    brokerKey: "group.streams.assignment.interval.ms",
    atLeast: 0,
    bounds: ["group.streams.min.assignment.interval.ms", "group.streams.max.assignment.interval.ms"],
    documentation: "The interval between assignment updates for a streams group.",
  }),
  k({
    name: "share.heartbeat.interval.ms",
    type: "INT",
    brokerKey: "group.share.heartbeat.interval.ms",
    atLeast: 1,
    bounds: ["group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"],
    documentation: "The heartbeat interval given to the members of a share group.",
  }),
  k({
    name: "streams.heartbeat.interval.ms",
    type: "INT",
    brokerKey: "group.streams.heartbeat.interval.ms",
    atLeast: 1,
    bounds: ["group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms"],
    documentation: "The heartbeat interval given to the members.",
  }),
  k({
    name: "share.delivery.count.limit",
    type: "INT",
    brokerKey: "group.share.delivery.count.limit",
    atLeast: 2,
    bounds: ["group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit"],
    documentation: "The maximum number of delivery attempts for a record delivered to a share group.",
  }),
  k({
    name: "errors.deadletterqueue.topic.name",
    type: "STRING",
    brokerKey: null,
    defaultValue: "",
    documentation:
      "The name of the topic to be used as the dead-letter queue (DLQ) topic for this share group. If blank (the default), the group does not have a DLQ topic.",
  }),
  k({
    name: "consumer.heartbeat.interval.ms",
    type: "INT",
    brokerKey: "group.consumer.heartbeat.interval.ms",
    atLeast: 1,
    bounds: ["group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"],
    documentation: "The heartbeat interval given to the members of a consumer group.",
  }),
  k({
    name: "share.record.lock.duration.ms",
    type: "INT",
    brokerKey: "group.share.record.lock.duration.ms",
    atLeast: 1000,
    bounds: ["group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"],
    documentation: "The record acquisition lock duration in milliseconds for share groups.",
  }),
  k({
    name: "share.assignment.interval.ms",
    type: "INT",
    brokerKey: "group.share.assignment.interval.ms",
    atLeast: 0,
    bounds: ["group.share.min.assignment.interval.ms", "group.share.max.assignment.interval.ms"],
    documentation: "The interval between assignment updates for a share group.",
  }),
  k({
    name: "share.isolation.level",
    type: "STRING",
    brokerKey: null,
    defaultValue: "read_uncommitted",
    oneOf: ["read_committed", "read_uncommitted"],
    documentation:
      'Controls how to read records written transactionally. If set to "read_committed", the share group will only deliver transactional records which have been committed. If set to "read_uncommitted", the share group will return all messages, even transactional messages which have been aborted. Non-transactional records will be returned unconditionally in either mode.',
  }),
  k({
    name: "streams.session.timeout.ms",
    type: "INT",
    brokerKey: "group.streams.session.timeout.ms",
    atLeast: 1,
    bounds: ["group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms"],
    documentation: "The timeout to detect client failures when using the streams group protocol.",
  }),
  k({
    name: "share.partition.max.record.locks",
    type: "INT",
    brokerKey: "group.share.partition.max.record.locks",
    atLeast: 100,
    bounds: ["group.share.min.partition.max.record.locks", "group.share.max.partition.max.record.locks"],
    documentation: "Share-group record lock limit per share-partition.",
  }),
  k({
    name: "streams.num.standby.replicas",
    type: "INT",
    brokerKey: "group.streams.num.standby.replicas",
    atLeast: 0,
    bounds: ["", "group.streams.max.standby.replicas"],
    documentation: "The number of standby replicas for each task.",
  }),
];

const byName = new Map(GROUP_CONFIG_KEYS.map((key) => [key.name, key]));

export function isGroupConfig(name: string): boolean {
  return byName.has(name);
}

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** share.auto.offset.reset's value: earliest, latest or by_duration:<ISO-8601 duration>; null if invalid. */
export function parseShareAutoOffsetReset(value: string): { type: "earliest" | "latest" } | { type: "by_duration"; durationMs: number } | null {
  const text = value.trim().toLowerCase();
  if (text === "earliest" || text === "latest") return { type: text };
  if (!text.startsWith("by_duration:")) return null;
  const iso = value.trim().slice("by_duration:".length).toUpperCase();
  const match = DURATION.exec(iso);
  if (match === null || iso === "P" || iso.endsWith("T")) return null;
  const [, days, hours, minutes, seconds] = match;
  const durationMs = ((Number(days ?? 0) * 24 + Number(hours ?? 0)) * 60 + Number(minutes ?? 0)) * 60_000 + Math.round(Number(seconds ?? 0) * 1000);
  return { type: "by_duration", durationMs };
}

/** The broker's default of a group key, as text. */
function brokerDefault(key: GroupKey, broker: BrokerConfig): string {
  if (key.brokerKey === null) return key.defaultValue ?? "";
  const value = broker.get(key.brokerKey);
  if (Array.isArray(value)) return key.name === "streams.assignor.name" ? String(value[0] ?? "") : value.join(",");
  return value === undefined || value === null ? "" : String(value);
}

/**
 * Kafka's GroupConfig.validate of the overrides a group would have: each key known, its value of
 * its type and within its ConfigDef range, then within the broker's bounds. Throws ConfigError
 * (INVALID_CONFIG) with Kafka's message.
 */
export function validateGroupConfigs(configs: Readonly<Record<string, string>>, broker: BrokerConfig): void {
  for (const [name, value] of Object.entries(configs)) {
    const key = byName.get(name);
    if (key === undefined) throw new ConfigError(name, `Unknown group config name: ${name}`);
    const invalid = (reason: string) => new ConfigError(name, `Invalid value ${value} for configuration ${name}: ${reason}`);
    if (key.type === "INT") {
      const number = Number(value.trim());
      if (value.trim() === "" || !Number.isInteger(number) || number < -2147483648 || number > 2147483647) throw invalid("Not a number of type INT");
      if (key.atLeast !== undefined && number < key.atLeast) throw invalid(`Value must be at least ${key.atLeast}`);
    } else if (key.type === "BOOLEAN") {
      const text = value.trim().toLowerCase();
      if (text !== "true" && text !== "false") throw invalid("Expected value to be either true or false");
    } else if (key.oneOf !== undefined && !key.oneOf.includes(value)) {
      throw invalid(`String must be one of: ${key.oneOf.join(", ")}`);
    } else if (name === "share.auto.offset.reset" && parseShareAutoOffsetReset(value) === null) {
      throw invalid(
        `Invalid value \`${value}\` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.`,
      );
    }
  }
  for (const [name, value] of Object.entries(configs)) {
    const key = byName.get(name) as GroupKey;
    if (key.bounds === undefined) continue;
    const [minKey, maxKey] = key.bounds;
    const min = minKey === "" ? (key.atLeast ?? 0) : Number(broker.get(minKey));
    const max = Number(broker.get(maxKey));
    const number = Number(value.trim());
    if (number < min || number > max) throw new ConfigError(name, `${name} must be in the range ${min} to ${max} inclusive.`);
  }
}

/** DescribeConfigs of a GROUP resource. */
export function describeGroupConfigs(
  overrides: Readonly<Record<string, string>>,
  broker: BrokerConfig,
  keys: readonly string[] | null,
  opts: { includeSynonyms: boolean; includeDocumentation: boolean },
): DescribedConfig[] {
  const wanted = keys === null || keys.length === 0 ? null : new Set(keys);
  return GROUP_CONFIG_KEYS.filter((key) => wanted === null || wanted.has(key.name)).map((key) => {
    const override = overrides[key.name];
    const brokerSide = key.brokerKey === null ? [] : brokerSynonyms(broker, key.brokerKey, false);
    const synonyms =
      key.brokerKey === null
        ? [{ name: key.name, value: key.defaultValue ?? "", source: ConfigSource.DEFAULT_CONFIG }]
        : brokerSide.length > 0
          ? brokerSide.map((s) => (key.name === "streams.assignor.name" && s.value !== null ? { ...s, value: s.value.split(",")[0] ?? "" } : s))
          : [{ name: key.brokerKey, value: brokerDefault(key, broker), source: ConfigSource.DEFAULT_CONFIG }];
    if (override !== undefined) synonyms.unshift({ name: key.name, value: override, source: ConfigSource.GROUP_CONFIG });
    const configSource = synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
    return {
      name: key.name,
      value: override ?? brokerDefault(key, broker),
      readOnly: false,
      isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
      configSource,
      isSensitive: false,
      synonyms: opts.includeSynonyms ? synonyms : [],
      configType: ConfigType[key.type],
      documentation: opts.includeDocumentation ? key.documentation : null,
    };
  });
}

/** IncrementalAlterConfigs ops on a group's configs: SET, DELETE, and APPEND / SUBTRACT on LIST keys. */
export function applyGroupIncrementalAlter(
  current: Readonly<Record<string, string>>,
  ops: readonly { name: string; op: number; value: string | null }[],
): Record<string, string> {
  const seen = new Set<string>();
  for (const { name } of ops) {
    if (seen.has(name)) throw new ConfigError(name, "Error due to duplicate config keys", "INVALID_REQUEST");
    seen.add(name);
  }
  const result: Record<string, string> = { ...current };
  const names = ["SET", "DELETE", "APPEND", "SUBTRACT"];
  for (const { name, op, value } of ops) {
    if (op === 0) {
      if (value === null) throw new ConfigError(name, `Null value not supported for : ${name}`, "INVALID_REQUEST");
      result[name] = value;
    } else if (op === 1) {
      delete result[name];
    } else if (op === 2 || op === 3) {
      const key = byName.get(name);
      if (key?.type !== "LIST") throw new ConfigError(name, `Can't ${names[op]} to key ${name} because its type is not LIST.`);
      const parts = (result[name] ?? "").split(",").filter((part) => part !== "");
      for (const item of (value ?? "").split(",")) {
        if (op === 2 && !parts.includes(item)) parts.push(item);
        if (op === 3 && parts.includes(item)) parts.splice(parts.indexOf(item), 1);
      }
      result[name] = parts.join(",");
    } else {
      throw new ConfigError(name, `Unknown alter config operation ${op}`, "INVALID_REQUEST");
    }
  }
  return result;
}

/** A group's effective value of a key: its override, else the broker's. */
export function groupConfigValue(overrides: Readonly<Record<string, string>>, broker: BrokerConfig, name: string): string {
  const key = byName.get(name);
  if (key === undefined) throw new Error(`unknown group config ${name}`);
  return overrides[name] ?? brokerDefault(key, broker);
}
