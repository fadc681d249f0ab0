// Adopting a stopped Kafka broker's log directory in place: what Sluice takes over from Kafka's
// KRaft metadata (metadata-log.ts reads it), what it cannot carry, and the import into the
// single-node metadata store (MetadataStore.adoptKafka, at broker start: server/services.ts).
//
// `sluice migrate check` prints the plan and changes no file. The import keeps Kafka's files where
// they are (the metadata log is never opened as a partition: crates/storage log_dir.rs), so the
// directory can go back to Kafka as long as Sluice has not changed what Kafka's metadata says
// (a topic created or deleted under Sluice is not written back: that is `migrate export-kraft`).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { isGroupConfig } from "../../config/group-config.js";
import { topicConfigKeys } from "../../config/topic.js";
import { groupRecords, transactionRecords } from "../../coordinator/records.js";
import { recompressBatch } from "../../native.js";
import { CompressionType, decodeRecords, recordBatchAt } from "../../protocol/records.js";
import type { AclBinding } from "../../security/acl.js";
import { type ClientQuotaRecord, sortedEntity } from "../../security/client-quotas.js";
import { type ScramMechanism, scramMechanismOfCode } from "../../security/scram.js";
import { DYNAMIC_BROKER_KEYS } from "../broker-configs.js";
import type { MetadataStore } from "../metadata.js";
import { ConfigResourceType, type KraftImage, METADATA_PARTITION_DIRECTORY, metadataLogDirectory, readKraftImage, topicConfigs } from "./metadata-log.js";

export interface AdoptedTopic {
  readonly name: string;
  readonly id: string;
  readonly partitions: number;
  /** Partitions with a directory in this log dir. */
  readonly partitionsOnDisk: number;
  readonly bytesOnDisk: number;
  readonly configs: Record<string, string>;
}

export interface AdoptedScramCredential {
  readonly user: string;
  readonly mechanism: ScramMechanism;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

/** What Sluice would take over from a Kafka log directory, and what it would leave behind. */
export interface AdoptionPlan {
  readonly logDir: string;
  readonly clusterId: string | null;
  readonly nodeId: number | null;
  /** The offset of the last metadata record applied. */
  readonly metadataOffset: bigint;
  readonly topics: AdoptedTopic[];
  /** Dynamic broker configs Sluice acts on, by resource ("" the cluster default, else a node id). */
  readonly brokerConfigs: Record<string, Record<string, string>>;
  /** Group configs (ConfigRecord resource type GROUP) by group id. */
  readonly groupConfigs: Record<string, Record<string, string>>;
  readonly scram: AdoptedScramCredential[];
  readonly acls: AclBinding[];
  readonly clientQuotas: ClientQuotaRecord[];
  /** Producer ids below this may be in use by Kafka's producers: Sluice hands out ids from here on. */
  readonly nextProducerId: bigint | null;
  readonly features: Record<string, number>;
  /** Partitions of __consumer_offsets on disk (the groups are read from them at start), null without the topic. */
  readonly consumerOffsetsPartitions: number | null;
  /** What __consumer_offsets and __transaction_state hold (null when too big to read for a check, or absent). */
  readonly coordinators: CoordinatorSummary | null;
  /** What cannot be carried over, one sentence each. */
  readonly notCarried: string[];
  /** What makes the directory impossible to adopt (the broker refuses to start on it). */
  readonly blockers: string[];
}

function directorySizeBytes(directory: string): number {
  let bytes = 0;
  for (const name of readdirSync(directory)) {
    const stat = statSync(join(directory, name));
    if (stat.isFile()) bytes += stat.size;
  }
  return bytes;
}

/** The partition directories of `logDir` by topic: partition → bytes (Kafka's `-delete`/`-future`/`-stray` left out). */
function partitionDirectories(logDir: string): Map<string, Map<number, { bytes: number; topicId: string | null }>> {
  const topics = new Map<string, Map<number, { bytes: number; topicId: string | null }>>();
  for (const entry of readdirSync(logDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === METADATA_PARTITION_DIRECTORY) continue;
    const match = /^(.+)-(\d+)$/.exec(entry.name);
    if (match === null) continue;
    const directory = join(logDir, entry.name);
    let topicId: string | null = null;
    try {
      topicId = /^topic_id: (\S+)$/m.exec(readFileSync(join(directory, "partition.metadata"), "utf8"))?.[1] ?? null;
    } catch {
      // no partition.metadata: the id comes from the metadata log
    }
    const partitions = topics.get(match[1]) ?? new Map();
    partitions.set(Number(match[2]), { bytes: directorySizeBytes(directory), topicId });
    topics.set(match[1], partitions);
  }
  return topics;
}

/**
 * Reads `logDir` (a stopped Kafka broker's metadata log dir) and works out the adoption; changes nothing.
 * With `summariseCoordinators`, also counts groups and transactional ids in __consumer_offsets and
 * __transaction_state (up to 1 GiB of them).
 */
export function planAdoption(logDir: string, image: KraftImage = readKraftImage(logDir), options: { summariseCoordinators?: boolean } = {}): AdoptionPlan {
  const notCarried: string[] = [];
  const blockers: string[] = [];
  const onDisk = partitionDirectories(logDir);

  const topics: AdoptedTopic[] = [];
  for (const topic of [...image.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const local = onDisk.get(topic.name) ?? new Map();
    const count = Math.max(0, ...[...topic.partitions.keys()].map((p) => p + 1));
    const configs = Object.fromEntries(topicConfigs(image, topic.name));
    for (const name of Object.keys(configs)) {
      if (!topicConfigKeys.has(name)) notCarried.push(`topic ${topic.name}: config ${name}=${configs[name]} is not a Kafka 4.4 topic config`);
      else if (!topicConfigKeys.get(name)?.honoured) notCarried.push(`topic ${topic.name}: config ${name} is kept and described but Sluice does not act on it`);
    }
    for (const [partition, found] of local) {
      if (found.topicId !== null && found.topicId !== topic.id) {
        blockers.push(`${topic.name}-${partition}/partition.metadata says topic id ${found.topicId}, the metadata log says ${topic.id}`);
      }
    }
    const missing = [...topic.partitions.keys()].filter((p) => !local.has(p));
    if (missing.length > 0) {
      blockers.push(
        `topic ${topic.name}: partition(s) ${missing.join(", ")} have no directory in ${logDir} (on another broker?): only a single-node Kafka can be adopted for now`,
      );
    }
    topics.push({
      name: topic.name,
      id: topic.id,
      partitions: count,
      partitionsOnDisk: local.size,
      bytesOnDisk: [...local.values()].reduce((sum, p) => sum + p.bytes, 0),
      configs,
    });
  }
  const known = new Set(topics.map((t) => t.name));
  for (const name of onDisk.keys()) {
    if (!known.has(name)) notCarried.push(`${name}: partition directories the metadata log does not know (adopted as a topic with default configs)`);
  }

  const brokerConfigs: Record<string, Record<string, string>> = {};
  const groupConfigs: Record<string, Record<string, string>> = {};
  for (const [key, configs] of image.configs) {
    const [type, ...rest] = key.split(":");
    const resource = rest.join(":");
    if (Number(type) === ConfigResourceType.TOPIC) continue;
    const what =
      Number(type) === ConfigResourceType.BROKER
        ? resource === ""
          ? "default broker config"
          : `broker ${resource} config`
        : `config resource type ${type} ${resource}`;
    for (const [name, value] of configs) {
      if (Number(type) === ConfigResourceType.BROKER && DYNAMIC_BROKER_KEYS.has(name)) {
        brokerConfigs[resource] = { ...(brokerConfigs[resource] ?? {}), [name]: value };
      } else if (Number(type) === ConfigResourceType.GROUP && isGroupConfig(name)) {
        groupConfigs[resource] = { ...(groupConfigs[resource] ?? {}), [name]: value };
      } else if (Number(type) === ConfigResourceType.GROUP) {
        notCarried.push(`group ${resource} config ${name}=${value}: not a group config Sluice knows`);
      } else {
        notCarried.push(`${what} ${name}=${value}: not dynamic in Sluice (set it in server.properties)`);
      }
    }
  }

  const scram: AdoptedScramCredential[] = [];
  for (const [user, mechanisms] of image.scram) {
    for (const [code, credential] of mechanisms) {
      const mechanism = scramMechanismOfCode(code);
      if (mechanism === null) notCarried.push(`SCRAM credential of ${user}: unknown mechanism ${code}`);
      else scram.push({ user, mechanism, ...credential });
    }
  }
  scram.sort((a, b) => (a.user === b.user ? a.mechanism.localeCompare(b.mechanism) : a.user < b.user ? -1 : 1));

  const acls: AclBinding[] = [...image.acls.values()].map(({ id: _id, ...binding }) => binding);
  const clientQuotas: ClientQuotaRecord[] = [...image.clientQuotas.values()].map((quota) => ({
    entity: sortedEntity(quota.entity),
    values: Object.fromEntries(quota.values),
  }));

  if (image.delegationTokens.size > 0) notCarried.push(`${image.delegationTokens.size} delegation token(s): Sluice has no delegation tokens`);
  if (image.brokers.size > 1) blockers.push(`the metadata log registers ${image.brokers.size} brokers: only a single-node Kafka can be adopted for now`);
  if (image.truncatedTail !== null) {
    notCarried.push(`${image.truncatedTail.file}: a batch cut short at byte ${image.truncatedTail.position} (a crash's torn write) is not applied`);
  }

  const consumerOffsetsPartitions = onDisk.get("__consumer_offsets")?.size ?? null;
  // Reading the coordinators' topics is for `migrate check` only: a start reads them anyway, as Kafka does.
  const coordinators = options.summariseCoordinators ? summariseCoordinators(logDir, onDisk, notCarried) : null;

  return {
    logDir,
    clusterId: image.clusterId,
    nodeId: image.nodeId,
    metadataOffset: image.lastOffset,
    topics,
    brokerConfigs,
    groupConfigs,
    scram,
    acls,
    clientQuotas,
    nextProducerId: image.producerIds?.nextProducerId ?? null,
    features: Object.fromEntries([...image.features].sort(([a], [b]) => (a < b ? -1 : 1))),
    consumerOffsetsPartitions,
    coordinators,
    notCarried,
    blockers,
  };
}

/** Groups and transactional ids with state in the coordinators' topics (the newest record of each key, tombstones removing). */
export interface CoordinatorSummary {
  /** Group ids with an offset or a group record (classic, consumer, share or streams). */
  readonly groups: number;
  /** Group ids with committed offsets. */
  readonly groupsWithOffsets: number;
  readonly transactionalIds: number;
  /** Transactions not complete at the stop (Ongoing, PrepareCommit, PrepareAbort): completed under Sluice as Kafka would after a restart. */
  readonly openTransactions: number;
}

/** Reading __consumer_offsets and __transaction_state for the summary stops past this many bytes. */
const COORDINATOR_BYTES_MAX = 1024 * 1024 * 1024;
const DECOMPRESSED_BATCH_BYTES_MAX = 64 * 1024 * 1024;
/** TransactionLogValue.transactionStatus: Ongoing, PrepareCommit, PrepareAbort. */
const OPEN_TRANSACTION_STATES = new Set([1, 2, 3]);

function summariseCoordinators(logDir: string, onDisk: ReturnType<typeof partitionDirectories>, notCarried: string[]): CoordinatorSummary | null {
  const groupPartitions = onDisk.get("__consumer_offsets");
  const transactionPartitions = onDisk.get("__transaction_state");
  if (groupPartitions === undefined && transactionPartitions === undefined) return null;
  const bytes = [...(groupPartitions?.values() ?? []), ...(transactionPartitions?.values() ?? [])].reduce((sum, p) => sum + p.bytes, 0);
  if (bytes > COORDINATOR_BYTES_MAX) return null;
  const latest = (topic: string, partitions: Map<number, unknown> | undefined) => {
    const byKey = new Map<string, { key: Buffer; value: Buffer | null }>();
    for (const partition of partitions?.keys() ?? []) {
      const directory = join(logDir, `${topic}-${partition}`);
      for (const name of readdirSync(directory)
        .filter((n) => /^\d{20}\.log$/.test(n))
        .sort()) {
        const file = readFileSync(join(directory, name));
        let position = 0;
        while (position < file.length) {
          let batch = recordBatchAt(file, position);
          position = batch.end;
          if (batch.isControl) continue;
          if (batch.compression !== CompressionType.NONE) {
            batch = recordBatchAt(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none", undefined, DECOMPRESSED_BATCH_BYTES_MAX), 0);
          }
          for (const record of decodeRecords(batch)) if (record.key !== null) byKey.set(record.key.toString("hex"), { key: record.key, value: record.value });
        }
      }
    }
    return [...byKey.values()].filter((entry) => entry.value !== null);
  };
  try {
    const groups = new Set<string>();
    const groupsWithOffsets = new Set<string>();
    for (const { key } of latest("__consumer_offsets", groupPartitions)) {
      const decoded = groupRecords.decodeKey(key);
      const group = (decoded.key as { group?: string; groupId?: string }).group ?? (decoded.key as { groupId?: string }).groupId;
      if (group === undefined) continue;
      groups.add(group);
      if (decoded.type.name === "OffsetCommit" || decoded.type.name === "LegacyOffsetCommit") groupsWithOffsets.add(group);
    }
    let transactionalIds = 0;
    let openTransactions = 0;
    for (const { key, value } of latest("__transaction_state", transactionPartitions)) {
      const record = transactionRecords.decode(key, value);
      transactionalIds++;
      if (OPEN_TRANSACTION_STATES.has((record.value as { transactionStatus: number }).transactionStatus)) openTransactions++;
    }
    return { groups: groups.size, groupsWithOffsets: groupsWithOffsets.size, transactionalIds, openTransactions };
  } catch (error) {
    notCarried.push(`__consumer_offsets / __transaction_state could not be summarised for this check: ${(error as Error).message}`);
    return null;
  }
}

/**
 * At broker start on a single node: imports the Kafka metadata of `logDir` into `store` once (the
 * store records it), or refuses to start when the directory cannot be adopted whole. Returns the
 * plan imported, or null when there was nothing to import.
 */
export async function adoptKafkaMetadataAtStart(store: MetadataStore, logDir: string, logger: Logger): Promise<AdoptionPlan | null> {
  if (metadataLogDirectory(logDir) === null) return null;
  const adopted = store.adoptedFromKafka;
  if (adopted !== undefined) {
    logger.debug({ adoptedFromKafka: adopted }, "Kafka's metadata in this log dir was imported before");
    return null;
  }
  const plan = planAdoption(logDir);
  if (plan.blockers.length > 0) {
    throw new Error(`cannot adopt the Kafka log dir ${logDir} (see sluice migrate check): ${plan.blockers.join("; ")}`);
  }
  await store.adoptKafka(plan);
  logger.warn(
    {
      logDir,
      metadataOffset: plan.metadataOffset.toString(),
      topics: plan.topics.length,
      scramCredentials: plan.scram.length,
      acls: plan.acls.length,
      clientQuotas: plan.clientQuotas.length,
      nextProducerId: plan.nextProducerId?.toString() ?? null,
      notCarried: plan.notCarried,
    },
    "adopted a Kafka broker's log dir: imported its KRaft metadata (Kafka's files are left in place)",
  );
  return plan;
}
