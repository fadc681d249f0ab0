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
import { type ClientQuotaRecord, entityKey, sortedEntity } from "../../security/client-quotas.js";
import { storedCredential } from "../../security/credentials.js";
import { type ScramMechanism, scramMechanismOfCode } from "../../security/scram.js";
import { DYNAMIC_BROKER_KEYS } from "../broker-configs.js";
import type { EtcdMetadataStore, KafkaAdoptionRecord, KafkaImport } from "../etcd-store.js";
import type { MetadataStore } from "../metadata.js";
import {
  ConfigResourceType,
  type KraftImage,
  type KraftPartition,
  METADATA_PARTITION_DIRECTORY,
  metadataLogDirectory,
  readKraftImage,
  registeredLogDirs,
  topicConfigs,
} from "./metadata-log.js";

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

/** What one broker of a multi-broker Kafka image is assigned, and (for this directory's node) what its directory holds. */
export interface BrokerHolding {
  readonly nodeId: number;
  /** Partition replicas the image assigns to the broker. */
  readonly replicas: number;
  /** Partitions the image has it lead. */
  readonly leaders: number;
  /** This directory's node only: its replicas with a directory here (null for the other brokers). */
  readonly onDisk: number | null;
  /** This directory's node only: its replicas without a directory here, as topic-partition. */
  readonly missing: string[] | null;
}

/** What Sluice would take over from a Kafka log directory, and what it would leave behind. */
export interface AdoptionPlan {
  readonly logDir: string;
  readonly clusterId: string | null;
  readonly nodeId: number | null;
  /** The offset of the last metadata record applied. */
  readonly metadataOffset: bigint;
  /**
   * The metadata log's latest leader epoch (-1 when unknown). Of a cluster's brokers, the directory
   * with the highest (epoch, offset) holds the newest metadata: its broker imports first.
   */
  readonly metadataEpoch: number;
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
  /** Each topic's partitions as the image has them (replicas, ISR, leader, epochs), by topic name. */
  readonly partitionStates: Record<string, KraftPartition[]>;
  /** A multi-broker image (more than one registered broker, or replicas on other nodes): what each broker is assigned; null for a single node. */
  readonly cluster: { readonly brokers: BrokerHolding[] } | null;
  /** What cannot be carried over, one sentence each. */
  readonly notCarried: string[];
  /** What makes the directory impossible to adopt (the broker refuses to start on it). */
  readonly blockers: string[];
}

/** Where a multi-broker Kafka goes instead of a single Sluice node. */
export const CLUSTER_PROCEDURE =
  'a multi-broker Kafka moves broker by broker to Sluice brokers sharing the etcd metadata store (docs/migration.md, "A cluster"; check each broker\'s directory with sluice migrate check --cluster)';

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
export function planAdoption(
  logDir: string,
  image: KraftImage = readKraftImage(logDir),
  options: { summariseCoordinators?: boolean; cluster?: boolean } = {},
): AdoptionPlan {
  const notCarried: string[] = [];
  const blockers: string[] = [];
  const onDisk = partitionDirectories(logDir);
  const nodeId = image.nodeId;
  // A multi-broker image: registered brokers, or replicas on nodes other than this directory's.
  const assigned = new Map<number, { replicas: number; leaders: number }>();
  for (const id of image.brokers) assigned.set(id, { replicas: 0, leaders: 0 });
  for (const topic of image.topics.values()) {
    for (const state of topic.partitions.values()) {
      for (const id of state.replicas) {
        const holding = assigned.get(id) ?? { replicas: 0, leaders: 0 };
        holding.replicas++;
        if (state.leader === id) holding.leaders++;
        assigned.set(id, holding);
      }
    }
  }
  const multiBroker = [...assigned.keys()].some((id) => id !== nodeId);
  const missingHere: string[] = [];
  const partitionStates: Record<string, KraftPartition[]> = {};

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
    partitionStates[topic.name] = [...topic.partitions.values()].sort((a, b) => a.partition - b.partition);
    for (const state of partitionStates[topic.name]) {
      if (nodeId !== null && state.replicas.includes(nodeId) && !local.has(state.partition)) missingHere.push(`${topic.name}-${state.partition}`);
    }
    const missing = [...topic.partitions.keys()].filter((p) => !local.has(p));
    if (options.cluster === true || multiBroker) {
      // Checked per node below: a broker of a cluster holds only its own replicas.
    } else if (missing.length > 0) {
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
  let cluster: AdoptionPlan["cluster"] = null;
  if (multiBroker) {
    const ids = [...assigned.keys()].sort((a, b) => a - b);
    cluster = {
      brokers: ids.map((id) => {
        const holding = assigned.get(id) ?? { replicas: 0, leaders: 0 };
        const here = id === nodeId;
        return {
          nodeId: id,
          replicas: holding.replicas,
          leaders: holding.leaders,
          onDisk: here ? holding.replicas - missingHere.length : null,
          missing: here ? missingHere : null,
        };
      }),
    };
  }
  if (options.cluster === true || multiBroker) {
    if (nodeId === null) blockers.push(`${logDir} has no meta.properties with a node.id: which broker's directory it is cannot be told`);
    if (missingHere.length > 0) {
      blockers.push(`broker ${nodeId}'s replica(s) ${missingHere.join(", ")} have no directory in ${logDir} (the metadata log assigns them to this node)`);
    }
    if (options.cluster !== true) {
      blockers.push(
        `the metadata log assigns partitions to ${assigned.size} brokers (${[...assigned.keys()].sort((a, b) => a - b).join(", ")}): a single Sluice node cannot adopt one broker of a cluster; ${CLUSTER_PROCEDURE}`,
      );
    }
  }
  // JBOD: Kafka broker with several log.dirs (its registration lists each directory's id). Sluice serves
  // one log directory, so the partitions in the others would be left behind.
  const registeredDirs = nodeId === null ? [] : registeredLogDirs(image.brokerRegistrations.get(nodeId)?.record);
  if (registeredDirs.length > 1) {
    blockers.push(
      `Kafka broker ${nodeId} registered ${registeredDirs.length} log directories (log.dirs with several entries): Sluice serves one. ` +
        'Move every partition into this directory first (kafka-reassign-partitions.sh with "log_dirs"), then adopt it',
    );
  }
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
    metadataEpoch: image.latestEpoch,
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
    partitionStates,
    cluster,
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

/** How long a broker waits for another broker's import of Kafka's metadata to finish. */
const IMPORT_WAIT_MS = 120_000;

/**
 * Kafka's partitions as the cluster's: Kafka's replicas, ISR and leader, the leader and partition
 * epochs one above the image's. Kafka's leader stamps batches with the epoch its controller gave it,
 * so the image's epoch is the newest in every replica's log, and a leader under Sluice appends above
 * it: no follower truncates what a Kafka leader acknowledged. The ISR takes in Kafka's eligible
 * leader replicas (KIP-966: replicas that left the ISR while it was below min.insync.replicas, as at a
 * cluster's stop, yet hold every committed record), so any of them can be elected cleanly.
 */
export function clusterPartitionStates(states: readonly KraftPartition[]): KafkaImport["topics"][number]["partitions"] {
  return states.map((state) => ({
    leaderId: state.leader,
    leaderEpoch: state.leaderEpoch + 1,
    partitionEpoch: state.partitionEpoch + 1,
    replicas: [...state.replicas],
    isr: state.replicas.filter((id) => state.isr.includes(id) || (state.elr ?? []).includes(id)),
  }));
}

function kafkaImportOf(plan: AdoptionPlan): KafkaImport {
  return {
    topics: plan.topics.map((topic) => ({
      topic: { name: topic.name, id: topic.id, partitions: topic.partitions, configs: { ...topic.configs } },
      partitions: clusterPartitionStates(plan.partitionStates[topic.name] ?? []),
    })),
    brokerConfigs: plan.brokerConfigs,
    groupConfigs: plan.groupConfigs,
    scram: plan.scram.map(({ user, mechanism, ...credential }) => ({ user, mechanism, credential: storedCredential(credential) })),
    acls: plan.acls,
    clientQuotas: plan.clientQuotas.map((record) => ({ key: entityKey(record.entity), record })),
    nextProducerId: plan.nextProducerId,
  };
}

/**
 * At broker start in a cluster (etcd metadata store) on a Kafka log dir: the first broker imports
 * its directory's KRaft metadata into etcd (claimed by create-if-absent, so brokers starting
 * together import once); every broker — the importer too — checks its own directory against its
 * own metadata log's image once (its replicas present, with the cluster's topic ids) and records the
 * check. Refuses the start when the directory cannot be adopted. Returns the plan checked, or null
 * when there was nothing to do.
 */
export async function adoptKafkaMetadataIntoCluster(
  etcd: EtcdMetadataStore,
  logDir: string,
  nodeId: number,
  clusterId: string,
  logger: Logger,
  waitMs = IMPORT_WAIT_MS,
): Promise<AdoptionPlan | null> {
  if (metadataLogDirectory(logDir) === null) return null;
  const checked = await etcd.kafkaAdoptionOfBroker(nodeId);
  if (checked !== null) {
    logger.debug({ adoptionOfBroker: checked }, "this broker's Kafka log dir was checked against the cluster before");
    return null;
  }
  const plan = planAdoption(logDir, undefined, { cluster: true });
  const blockers = [...plan.blockers];
  if (plan.nodeId !== null && plan.nodeId !== nodeId) blockers.push(`${logDir} is Kafka broker ${plan.nodeId}'s directory, but node.id is ${nodeId}`);
  if (plan.clusterId !== null && plan.clusterId !== clusterId)
    blockers.push(`${logDir} belongs to Kafka cluster ${plan.clusterId}, the metadata store to ${clusterId}`);
  if (blockers.length > 0) throw new Error(`cannot adopt the Kafka log dir ${logDir} (see sluice migrate check --cluster): ${blockers.join("; ")}`);

  let adoption = await etcd.kafkaAdoption();
  if (adoption === null) {
    adoption = await etcd.claimKafkaAdoption({
      clusterId,
      nodeId,
      metadataOffset: plan.metadataOffset.toString(),
      metadataEpoch: plan.metadataEpoch,
      state: "importing",
      at: new Date().toISOString(),
      topics: plan.topics.length,
    });
  }
  if (adoption.clusterId !== clusterId)
    throw new Error(`the cluster adopted Kafka cluster ${adoption.clusterId}'s metadata, but ${logDir} belongs to ${clusterId}`);
  if (adoption.state === "importing" && adoption.nodeId === nodeId) {
    // This broker's import (a first one, or one interrupted by a crash: importing again is harmless).
    await etcd.importKafka(kafkaImportOf(plan));
    await etcd.finishKafkaAdoption(adoption);
    logger.warn(
      {
        logDir,
        metadataOffset: plan.metadataOffset.toString(),
        topics: plan.topics.length,
        scramCredentials: plan.scram.length,
        acls: plan.acls.length,
        clientQuotas: plan.clientQuotas.length,
        nextProducerId: plan.nextProducerId?.toString() ?? null,
        brokers: plan.cluster?.brokers.map((b) => b.nodeId) ?? [nodeId],
        notCarried: plan.notCarried,
      },
      "adopted a Kafka cluster's metadata: imported this broker's KRaft metadata log into the metadata store (Kafka's files are left in place)",
    );
  } else {
    const deadline = Date.now() + waitMs;
    while (adoption.state !== "done") {
      if (Date.now() > deadline) {
        throw new Error(
          `broker ${adoption.nodeId} started importing Kafka's metadata into the metadata store at ${adoption.at} and has not finished: start broker ${adoption.nodeId} again (it resumes the import), then this one`,
        );
      }
      await new Promise((wake) => setTimeout(wake, 250));
      adoption = (await etcd.kafkaAdoption()) as KafkaAdoptionRecord;
    }
  }
  // A newer metadata log than the one imported (a higher epoch, or the same epoch and further): the
  // import may predate Kafka's last partition changes (an ISR shrunk at the stop). The procedure
  // starts first the broker whose `migrate check --cluster` shows the newest; say so if it did not.
  if (adoption.nodeId !== nodeId && adoption.metadataEpoch !== undefined) {
    const importedOffset = BigInt(adoption.metadataOffset);
    if (plan.metadataEpoch > adoption.metadataEpoch || (plan.metadataEpoch === adoption.metadataEpoch && plan.metadataOffset > importedOffset)) {
      logger.warn(
        {
          logDir,
          metadataOffset: plan.metadataOffset.toString(),
          metadataEpoch: plan.metadataEpoch,
          imported: { broker: adoption.nodeId, metadataOffset: adoption.metadataOffset, metadataEpoch: adoption.metadataEpoch },
        },
        `this broker's Kafka metadata log is newer than the one broker ${adoption.nodeId} imported: the partition states in the metadata store may miss Kafka's last changes (the procedure starts first the broker with the newest metadata log, as migrate check --cluster shows)`,
      );
    }
  }
  // This broker's directory against the cluster: its replicas' topic ids are the cluster's.
  const snapshot = await etcd.snapshot();
  const clusterTopics = new Map<string, string>();
  for (const change of snapshot.changes) if (change.kind === "topic" && change.topic !== null) clusterTopics.set(change.name, change.topic.id);
  const mismatches = plan.topics.flatMap((topic) => {
    const id = clusterTopics.get(topic.name);
    return id !== undefined && id !== topic.id && topic.partitionsOnDisk > 0
      ? [`topic ${topic.name} has id ${topic.id} in ${logDir} but ${id} in the cluster`]
      : [];
  });
  if (mismatches.length > 0) throw new Error(`cannot adopt the Kafka log dir ${logDir} into this cluster: ${mismatches.join("; ")}`);
  await etcd.recordKafkaAdoptionOfBroker(nodeId, { metadataOffset: plan.metadataOffset.toString(), at: new Date().toISOString() });
  if (adoption.nodeId !== nodeId) {
    logger.warn(
      { logDir, importedBy: adoption.nodeId, replicas: plan.cluster?.brokers.find((b) => b.nodeId === nodeId)?.replicas ?? 0 },
      "joined a cluster adopted from Kafka: this broker's Kafka log dir holds its replicas (Kafka's files are left in place)",
    );
  }
  return plan;
}
