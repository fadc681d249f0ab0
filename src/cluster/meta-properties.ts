// meta.properties: the identity of a log directory in a KRaft-era Kafka (version 1):
// cluster.id, node.id and directory.id. Written when a directory is first used, checked on
// every start so that a directory of another cluster or node is never served by mistake.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseProperties } from "../config/properties.js";
import { randomKafkaUuid, writeDurably } from "./metadata.js";

export const META_PROPERTIES = "meta.properties";

export interface MetaProperties {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId: string;
}

export async function readMetaProperties(directory: string): Promise<MetaProperties | null> {
  let text: string;
  try {
    text = await readFile(join(directory, META_PROPERTIES), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const properties = parseProperties(text);
  const version = properties.get("version");
  if (version !== "1" && version !== "0") throw new Error(`${join(directory, META_PROPERTIES)}: unsupported version ${version}`);
  const clusterId = properties.get("cluster.id");
  const nodeId = Number(properties.get("node.id") ?? properties.get("broker.id"));
  if (clusterId === undefined || !Number.isInteger(nodeId)) throw new Error(`${join(directory, META_PROPERTIES)}: cluster.id or node.id missing`);
  return { clusterId, nodeId, directoryId: properties.get("directory.id") ?? randomKafkaUuid() };
}

export async function writeMetaProperties(directory: string, meta: MetaProperties): Promise<void> {
  const text = [
    "#",
    `#${new Date().toString()}`,
    `cluster.id=${meta.clusterId}`,
    `directory.id=${meta.directoryId}`,
    `node.id=${meta.nodeId}`,
    "version=1",
    "",
  ].join("\n");
  await writeDurably(directory, join(directory, META_PROPERTIES), text);
}

/**
 * Makes sure every log directory belongs to this node and one cluster: an existing
 * meta.properties must agree with `nodeId` and with the others; missing ones are written
 * (with a new cluster id when no directory has one yet).
 */
export async function ensureMetaProperties(directories: readonly string[], nodeId: number): Promise<{ clusterId: string; directoryIds: string[] }> {
  const found = await Promise.all(directories.map((directory) => readMetaProperties(directory)));
  let clusterId: string | undefined;
  for (const [i, meta] of found.entries()) {
    if (meta === null) continue;
    if (meta.nodeId !== nodeId) {
      throw new Error(`Stored node id ${meta.nodeId} in ${directories[i]} doesn't match node.id ${nodeId}`);
    }
    if (clusterId !== undefined && meta.clusterId !== clusterId) {
      throw new Error(`Invalid cluster.id in ${directories[i]}: expected ${clusterId}, but read ${meta.clusterId}`);
    }
    clusterId = meta.clusterId;
  }
  const cluster = clusterId ?? randomKafkaUuid();
  const directoryIds: string[] = [];
  for (const [i, meta] of found.entries()) {
    if (meta === null) {
      const created = { clusterId: cluster, nodeId, directoryId: randomKafkaUuid() };
      await writeMetaProperties(directories[i], created);
      directoryIds.push(created.directoryId);
    } else {
      directoryIds.push(meta.directoryId);
    }
  }
  return { clusterId: cluster, directoryIds };
}
