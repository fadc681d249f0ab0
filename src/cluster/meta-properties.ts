// meta.properties: the identity of a log directory in a KRaft-era Kafka (version 1):
// cluster.id, node.id and directory.id. Written when a directory is first used, checked on
// every start so that a directory of another cluster or node is never served by mistake.
// The file itself is read and written by the storage engine (crates/storage log_dir.rs).

import { join } from "node:path";
import { readMetaProperties, writeMetaProperties } from "../native.js";
import { randomKafkaUuid } from "./metadata.js";

export const META_PROPERTIES = "meta.properties";

/** The cluster id already in one of `directories`' meta.properties, if any. */
export function storedClusterId(directories: readonly string[]): string | undefined {
  for (const directory of directories) {
    const meta = readMetaProperties(directory);
    if (meta !== null) return meta.clusterId;
  }
  return undefined;
}

/**
 * Makes sure every log directory belongs to this node and one cluster: an existing
 * meta.properties must agree with `nodeId` and with the others; missing ones are written
 * (with a new cluster id when no directory has one yet). Runs once at start-up.
 */
export function ensureMetaProperties(
  directories: readonly string[],
  nodeId: number,
  /** A cluster's id (from its metadata store): every directory must belong to it. */
  required?: string,
): { clusterId: string; directoryIds: string[] } {
  const found = directories.map((directory) => readMetaProperties(directory));
  let clusterId: string | undefined;
  for (const [i, meta] of found.entries()) {
    if (meta === null) continue;
    const where = join(directories[i], META_PROPERTIES);
    if (meta.version !== 0 && meta.version !== 1) throw new Error(`${where}: unsupported version ${meta.version}`);
    if (meta.nodeId !== nodeId) throw new Error(`Stored node id ${meta.nodeId} in ${directories[i]} doesn't match node.id ${nodeId}`);
    if (clusterId !== undefined && meta.clusterId !== clusterId) {
      throw new Error(`Invalid cluster.id in ${directories[i]}: expected ${clusterId}, but read ${meta.clusterId}`);
    }
    clusterId = meta.clusterId;
  }
  if (required !== undefined && clusterId !== undefined && clusterId !== required) {
    throw new Error(`The cluster id in ${directories[0]} is ${clusterId}, but the metadata store's cluster is ${required}: a log directory of another cluster`);
  }
  const cluster = required ?? clusterId ?? randomKafkaUuid();
  const directoryIds = found.map((meta, i) => {
    if (meta !== null) return meta.directoryId ?? randomKafkaUuid();
    const created = { version: 1, clusterId: cluster, nodeId, directoryId: randomKafkaUuid() };
    writeMetaProperties(directories[i], created);
    return created.directoryId;
  });
  return { clusterId: cluster, directoryIds };
}
