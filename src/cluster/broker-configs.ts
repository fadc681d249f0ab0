// Dynamic broker configs: the few broker keys Kafka lets an operator change while the broker runs
// that Sluice acts on — the replication throttles kafka-reassign-partitions.sh --throttle sets
// (and --verify clears). They are stored in the cluster metadata (etcd in a cluster, the embedded
// metadata file on a single node), per broker ("1") or as the cluster-wide default (""), like
// Kafka's ConfigRecords for BROKER resources. Every other broker key stays static (INVALID_CONFIG).

import { ConfigError } from "../config/index.js";

/** Broker keys that can be changed at run time (AlterConfigs / IncrementalAlterConfigs on a BROKER resource). */
export const DYNAMIC_BROKER_KEYS: ReadonlySet<string> = new Set([
  "leader.replication.throttled.rate",
  "follower.replication.throttled.rate",
  "replica.alter.log.dirs.io.max.bytes.per.second",
]);

export interface BrokerConfigStore {
  /** The dynamic configs of a BROKER resource: a node id, or "" for the cluster-wide default. */
  brokerConfigs(resource: string): Readonly<Record<string, string>>;
  /** Replaces them (persisted, and seen by every broker, before it resolves). */
  setBrokerConfigs(resource: string, configs: Record<string, string>): Promise<void>;
}

/** Checks dynamic values: known keys, whole numbers of at least 0 (Kafka's LONG with atLeast(0)). */
export function validateDynamicBrokerConfigs(configs: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(configs)) {
    if (!DYNAMIC_BROKER_KEYS.has(name))
      throw new ConfigError(name, `Cannot update these configs dynamically: ["${name}"]; Sluice's other broker configs are static`);
    if (!/^\d+$/.test(value.trim())) throw new ConfigError(name, `Invalid value ${value} for configuration ${name}: Not a number of type LONG`);
  }
}

/** The value of a dynamic key for broker `nodeId`: its own, else the cluster default, else null. */
export function dynamicBrokerValue(store: BrokerConfigStore, nodeId: number, name: string): string | null {
  return store.brokerConfigs(String(nodeId))[name] ?? store.brokerConfigs("")[name] ?? null;
}
