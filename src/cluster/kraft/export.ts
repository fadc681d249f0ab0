// `sluice migrate export-kraft`: writes what a stopped single-node Sluice holds in
// `sluice-metadata.json` (topics with their ids, partitions and configs, dynamic broker and group
// configs, SCRAM credentials, ACLs, client quotas, the producer id block) as a KRaft metadata
// snapshot in Kafka 4.4's format, so Apache Kafka started on the directory serves the same.
//
// Where the snapshot goes (Kafka 4.4's KafkaRaftLog and KafkaRaftClient, read for this):
//
//   - Kafka loads the newest `<end offset>-<epoch>.checkpoint` of `__cluster_metadata-0` at start
//     (a listener starting from nothing gets the latest snapshot, then the log from its end offset).
//     The id `0-0` is the bootstrap snapshot StorageTool writes and is treated as such, never as
//     state.
//   - KafkaRaftLog.truncateToLatestSnapshot drops the whole log when the newest snapshot's epoch is
//     above the log's, or its offset beyond the log end at the same epoch. So, when Kafka's metadata
//     log is there, the snapshot id is (log end offset, the log's latest epoch): nothing of Kafka's
//     is truncated or deleted, the records before it are simply superseded. Without a metadata log
//     (a directory born on Sluice) the snapshot is `1-0` in a new `__cluster_metadata-0`.
//   - A snapshot opens with a control batch holding the SnapshotHeader and, under kraft.version 1,
//     the KRaftVersion and KRaftVoters records (the quorum's voters: copied from Kafka's log, or the
//     one voter given with --controller-listener), and closes with a SnapshotFooter batch.
//
// Kafka's own metadata that Sluice never imported (broker configs Sluice does not act on, config
// resources of other types, feature levels) is carried from Kafka's metadata log into the snapshot
// as it was. Broker and controller registrations are not written: Kafka registers again at start.
// The file is written as `.checkpoint.part`, fsynced and renamed, as Kafka writes snapshots.
//
// Then `sluice-metadata.json` is moved aside to `sluice-metadata.json.exported-<snapshot id>`: the
// directory is Kafka's again, and a later Sluice start on it imports the metadata log afresh (with
// whatever Kafka changed meanwhile) instead of trusting a stale document. Exporting again before
// Kafka ran replaces the snapshot that moved-aside document names; any other snapshot at the log end
// is refused. Sluice must be stopped cleanly (`.kafka_cleanshutdown` present).

import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { PartitionState } from "../../log/partition.js";
import { readMetaProperties } from "../../native.js";
import {
  buildRecordBatch,
  decodeControlRecordKey,
  decodeRecords,
  encodeControlRecordKey,
  RecordBatchDecodeError,
  recordBatchAt,
} from "../../protocol/records.js";
import { Writer } from "../../protocol/writer.js";
import { type AclBinding, aclKey } from "../../security/acl.js";
import type { ClientQuotaRecord } from "../../security/client-quotas.js";
import type { StoredScramCredential } from "../../security/credentials.js";
import { SCRAM_MECHANISM_CODES, type ScramMechanism } from "../../security/scram.js";
import { DYNAMIC_BROKER_KEYS } from "../broker-configs.js";
import { METADATA_FILE, randomKafkaUuid } from "../metadata.js";
import {
  ConfigResourceType,
  configResourceKey,
  encodeMetadataRecord,
  type KraftImage,
  METADATA_PARTITION_DIRECTORY,
  metadataLogDirectory,
  readKraftImage,
  registeredLogDirs,
} from "./metadata-log.js";

/** Kafka's ControlRecordType codes. */
const ControlType = { LEADER_CHANGE: 2, SNAPSHOT_HEADER: 3, SNAPSHOT_FOOTER: 4, KRAFT_VERSION: 5, KRAFT_VOTERS: 6 } as const;
/** The metadata topic's id (Uuid.METADATA_TOPIC_ID) in `__cluster_metadata-0/partition.metadata`. */
const METADATA_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";
/** Records per data batch (Kafka reads snapshot batches of up to 8 MiB). */
const RECORDS_PER_BATCH = 500;
/** Feature levels `kafka-storage format` gives a Kafka 4.4.0 (metadata.version 4.4-IV2 is level 33). */
const KAFKA_44_DEFAULT_FEATURES: Readonly<Record<string, number>> = {
  "metadata.version": 33,
  "eligible.leader.replicas.version": 1,
  "group.version": 1,
  "share.version": 2,
  "streams.version": 1,
  "transaction.version": 2,
};

const Type = {
  RegisterBrokerRecord: 0,
  TopicRecord: 2,
  PartitionRecord: 3,
  ConfigRecord: 4,
  UserScramCredentialRecord: 11,
  FeatureLevelRecord: 12,
  ClientQuotaRecord: 14,
  ProducerIdsRecord: 15,
  AccessControlEntryRecord: 18,
} as const;

/** The directory is not one export-kraft can write to, or its input is bad: nothing was written. */
export class ExportError extends Error {
  override readonly name = "ExportError";
  readonly code = "SLUICE_EXPORT_KRAFT";
}

/** What sluice-metadata.json holds that the export reads (src/cluster/metadata.ts Document); in a cluster, etcd's. */
export interface SluiceDocument {
  clusterId: string;
  nextProducerId: string;
  topics: { name: string; id: string; partitions: number; configs: Record<string, string> }[];
  brokerConfigs?: Record<string, Record<string, string>>;
  scram?: Record<string, Partial<Record<ScramMechanism, StoredScramCredential>>>;
  acls?: AclBinding[];
  clientQuotas?: ClientQuotaRecord[];
  groupConfigs?: Record<string, Record<string, string>>;
}

export interface ExportOptions {
  readonly logDir: string;
  /**
   * The controller listener as `NAME://host:port` (Kafka's controller.listener.names and listeners):
   * the one voter of the quorum. Needed only when the directory has no metadata log of Kafka's.
   */
  readonly controllerListener?: string;
  /** Writes nothing; the result says what would be written. */
  readonly dryRun?: boolean;
  /** A broker of a cluster (etcd metadata store): the metadata and the snapshot id come from etcd (cluster-export.ts). */
  readonly cluster?: ClusterExportInput;
  readonly nowMs?: number;
}

/** What a cluster's export takes from etcd instead of sluice-metadata.json. */
export interface ClusterExportInput {
  readonly document: SluiceDocument;
  /** Each topic's partitions as etcd has them (replicas, ISR, leader, epochs), by topic name. */
  readonly partitions: ReadonlyMap<string, readonly PartitionState[]>;
  /** The snapshot id, the same on every broker of the cluster. */
  readonly snapshotOffset: bigint;
  readonly snapshotEpoch: number;
  /** The broker that chose the snapshot id: the ProducerIdsRecord's broker on every broker. */
  readonly producerIdsBrokerId: number;
  /** The time the snapshot id was chosen: the snapshot's times on every broker (the snapshots are the same bytes). */
  readonly chosenAtMs: number;
  /**
   * A cluster born on Sluice (no Kafka metadata log): the brokers its partitions are on. Each gets a
   * new metadata log with the snapshot 1-0, a static quorum (kraft.version 0: the Kafka nodes'
   * `controller.quorum.voters`), and a registration made up for each broker (see the export).
   */
  readonly bornOnSluice: { readonly brokerIds: readonly number[] } | null;
  /** This broker wrote a snapshot of that id before (Kafka has not run since): it is replaced. */
  readonly replacesOwnExport: boolean;
}

/** The DirectoryId Kafka reads as "not assigned yet" for another broker's replica (the broker tells the controller its directory). */
const DIRECTORY_MIGRATING = "AAAAAAAAAAAAAAAAAAAAAg";

/** A Kafka Uuid (base64url) derived from `seed`: the same on every broker's export; not starting with "-", as Kafka's random ones. */
function derivedUuid(seed: string): string {
  for (let round = 0; ; round++) {
    const id = createHash("sha256").update(`sluice-export:${seed}:${round}`).digest().subarray(0, 16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** The broker epoch of the registrations an export of a cluster born on Sluice makes up (and their .kafka_cleanshutdown). */
const BORN_BROKER_EPOCH = 1n;

/**
 * The registration a cluster born on Sluice gets for broker `brokerId`: unfenced, at BORN_BROKER_EPOCH,
 * with an incarnation id derived from the cluster id and broker id (the same on every broker's
 * export). Kafka's controller then takes each broker's first start, whose .kafka_cleanshutdown names
 * that epoch, for a clean restart and keeps it among the eligible leaders (KIP-966): without a
 * registration it would take it for an unclean shutdown and leave the partitions without a leader.
 * The broker registers again at its start with its real endpoints, features and directory.
 */
function bornRegistration(clusterId: string, brokerId: number): { brokerId: number; brokerEpoch: bigint } & Record<string, unknown> {
  return {
    brokerId,
    isMigratingZkBroker: false,
    incarnationId: derivedUuid(`${clusterId}:broker:${brokerId}`),
    brokerEpoch: BORN_BROKER_EPOCH,
    endPoints: [],
    features: [],
    rack: null,
    fenced: false,
    inControlledShutdown: false,
    logDirs: [],
    cordonedLogDirs: null,
  };
}

/** Sluice left `.kafka_cleanshutdown` in `logDir` at its clean stop; without it the directory is not exported. */
function requireCleanShutdown(logDir: string): void {
  if (!existsSync(join(logDir, ".kafka_cleanshutdown"))) {
    throw new ExportError(
      `${logDir} has no .kafka_cleanshutdown: Sluice is running on it or did not stop cleanly. Stop Sluice (or start it and stop it cleanly) before exporting`,
    );
  }
}

/** The one log directory a Kafka broker registered with (RegisterBrokerRecord.logDirs), as a base64 Uuid; null for none or several. */
function registeredDirectory(record: Record<string, unknown> | undefined): string | null {
  const dirs = registeredLogDirs(record);
  return dirs.length === 1 ? dirs[0] : null;
}

/** The end offset and latest epoch of Kafka's metadata log in `logDir`, null without one. */
export function kafkaMetadataLogEnd(logDir: string): { endOffset: bigint; latestEpoch: number } | null {
  const directory = metadataLogDirectory(logDir);
  if (directory === null) return null;
  const end = metadataLogEnd(directory);
  return { endOffset: end.endOffset, latestEpoch: end.latestEpoch };
}

export interface ExportResult {
  readonly logDir: string;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly snapshotFile: string;
  readonly snapshotOffset: bigint;
  readonly snapshotEpoch: number;
  /** True when the snapshot replaced one an earlier export wrote (Kafka has not run since). */
  readonly replacedEarlierExport: boolean;
  /** Where sluice-metadata.json was moved (null on a dry run): the next Sluice start imports the metadata log again. */
  readonly documentMovedTo: string | null;
  /** True when `__cluster_metadata-0` did not exist and was created. */
  readonly createdMetadataLog: boolean;
  /** Kafka's metadata log found, with its end offset. */
  readonly kafkaLogEndOffset: bigint | null;
  readonly topics: { name: string; id: string; partitions: number; configs: number; leaderEpoch: number }[];
  readonly brokerConfigs: number;
  readonly groupConfigs: number;
  readonly scramCredentials: number;
  readonly acls: number;
  readonly clientQuotas: number;
  readonly nextProducerId: bigint;
  readonly features: Record<string, number>;
  readonly records: number;
  readonly bytes: number;
  /** What Kafka will not get, one sentence each. */
  readonly notExported: string[];
  /** What else to know about this export, one sentence each. */
  readonly notes: string[];
}

/** The quorum as the newest KRaftVersion / KRaftVoters control records say (values as stored). */
interface QuorumRecords {
  kraftVersion: Buffer | null;
  voters: Buffer | null;
}

interface MetadataLogEnd {
  endOffset: bigint;
  latestEpoch: number;
  newestSnapshot: { offset: bigint; epoch: number; file: string } | null;
  quorum: QuorumRecords;
}

const SNAPSHOT_NAME = /^(\d{20})-(\d{10})\.checkpoint$/;
const SEGMENT_NAME = /^(\d{20})\.log$/;

/** Writes (or, with dryRun, plans) the KRaft snapshot for the Sluice directory `logDir`. */
export function exportKraftSnapshot(options: ExportOptions): ExportResult {
  const { logDir } = options;
  const nowMs = options.nowMs ?? options.cluster?.chosenAtMs ?? Date.now();
  if (!existsSync(logDir) || !statSync(logDir).isDirectory()) throw new ExportError(`${logDir} is not a directory`);
  const documentPath = join(logDir, METADATA_FILE);
  const cluster = options.cluster;
  if (cluster === undefined && !existsSync(documentPath))
    throw new ExportError(`${logDir} has no ${METADATA_FILE}: not a Sluice log directory (nothing to export)`);
  if (cluster === undefined) requireCleanShutdown(logDir);
  let document: SluiceDocument;
  if (cluster !== undefined) document = cluster.document;
  else {
    try {
      document = JSON.parse(readFileSync(documentPath, "utf8")) as SluiceDocument;
    } catch (error) {
      throw new ExportError(`${documentPath}: not readable as Sluice's metadata: ${(error as Error).message}`);
    }
  }
  const meta = readMetaProperties(logDir);
  if (meta === null) throw new ExportError(`${logDir} has no meta.properties: Kafka needs cluster.id, node.id and directory.id in it`);
  if (meta.clusterId !== document.clusterId) {
    throw new ExportError(
      `meta.properties says cluster ${meta.clusterId}, but ${cluster === undefined ? METADATA_FILE : "the metadata store"} belongs to cluster ${document.clusterId}`,
    );
  }
  const nodeId = meta.nodeId;
  const directoryId = meta.directoryId;
  if (nodeId < 0) throw new ExportError(`${logDir}/meta.properties has no node.id`);
  if (directoryId === undefined) throw new ExportError(`${logDir}/meta.properties has no directory.id (Kafka 4.4 needs one)`);

  const notExported: string[] = [];
  const notes: string[] = [];
  const metadataDirectory = metadataLogDirectory(logDir);
  let image: KraftImage | null = null;
  let end: MetadataLogEnd | null = null;
  if (metadataDirectory !== null) {
    try {
      // A cluster born on Sluice has no metadata of Kafka's: a metadata log here is this broker's own
      // earlier export (checked below), not read, so that exporting again writes the same bytes.
      if (!cluster?.bornOnSluice) image = readKraftImage(logDir);
    } catch (error) {
      throw new ExportError(`Kafka's metadata log in ${logDir} cannot be read, so nothing is exported: ${(error as Error).message}`);
    }
    end = metadataLogEnd(metadataDirectory);
  }
  // A cluster with dedicated controllers (process.roles=controller): a controller's directory holds
  // the metadata log but no broker registration and no partition; it gets the same snapshot (the
  // controllers are the quorum the brokers follow). A broker's directory must have stopped cleanly.
  const controllerOnly = cluster !== undefined && image !== null && !image.brokerRegistrations.has(nodeId);
  if (controllerOnly) {
    const partitionDirectories = readdirSync(logDir).filter((name) => /-\d+$/.test(name) && name !== METADATA_PARTITION_DIRECTORY);
    if (partitionDirectories.length > 0) {
      throw new ExportError(
        `Kafka's metadata log in ${logDir} holds no registration of node ${nodeId}, but the directory holds partitions (${partitionDirectories.slice(0, 3).join(", ")}): nothing exported`,
      );
    }
    notes.push(`node ${nodeId} is not a broker of Kafka's metadata: its directory is taken for a dedicated controller's (no .kafka_cleanshutdown written)`);
  } else if (cluster !== undefined) {
    requireCleanShutdown(logDir);
  }

  // The snapshot's id: past Kafka's log (never truncating it) or 1-0 in a new metadata log.
  let snapshotOffset: bigint;
  let snapshotEpoch: number;
  let quorum: QuorumRecords;
  let replacing: string | null = null;
  /** No metadata record of Kafka's yet: a directory born on Sluice, or formatted and never started. */
  let newMetadataLog = metadataDirectory === null;
  if (cluster?.bornOnSluice) {
    snapshotOffset = cluster.snapshotOffset;
    snapshotEpoch = cluster.snapshotEpoch;
    // A metadata log of its own (created now, or by this broker's earlier export): Kafka's defaults go in, as at a format.
    newMetadataLog = true;
    const newest = end?.newestSnapshot ?? null;
    if (metadataDirectory !== null) {
      // Only this export's own snapshot may be there (an export again before Kafka ran).
      const own = newest !== null && newest.offset === snapshotOffset && newest.epoch === snapshotEpoch && end?.endOffset === snapshotOffset;
      if (!own || !cluster.replacesOwnExport || newest === null) {
        throw new ExportError(
          `${metadataDirectory} exists, and the cluster was born on Sluice: Kafka ran on this directory since the export; nothing exported`,
        );
      }
      replacing = newest.file;
    }
    // A static quorum, as Kafka's `controller.quorum.voters` configures it: no quorum records.
    quorum = { kraftVersion: null, voters: null };
    if (options.controllerListener !== undefined)
      notes.push("--controller-listener is ignored: set controller.quorum.voters in each Kafka node's server.properties");
  } else if (cluster !== undefined) {
    // One snapshot id for every broker of the cluster: at or past each broker's own log end and epoch.
    if (end === null || metadataDirectory === null) {
      throw new ExportError(
        `${logDir} has no ${METADATA_PARTITION_DIRECTORY}: only a cluster adopted from Kafka (each broker on its Kafka directory) can be exported`,
      );
    }
    snapshotOffset = cluster.snapshotOffset;
    snapshotEpoch = cluster.snapshotEpoch;
    if (end.endOffset > snapshotOffset || end.latestEpoch > snapshotEpoch) {
      throw new ExportError(
        `this broker's metadata log ends at offset ${end.endOffset} in epoch ${end.latestEpoch}, past the cluster's snapshot ${snapshotOffset}-${snapshotEpoch} ` +
          "(chosen by the first broker's export and kept in etcd): the brokers' Kafka metadata logs disagree; nothing exported",
      );
    }
    const newest = end.newestSnapshot;
    const sameId = newest !== null && newest.offset === snapshotOffset && newest.epoch === snapshotEpoch;
    if (sameId && cluster.replacesOwnExport && newest !== null) replacing = newest.file;
    else if (newest !== null && newest.offset >= snapshotOffset) {
      throw new ExportError(
        `${newest.file} already covers the metadata log up to the cluster's snapshot offset ${snapshotOffset}: Kafka ran since, or another export wrote it; nothing exported`,
      );
    }
    quorum = end.quorum;
    if (options.controllerListener !== undefined) notes.push("--controller-listener is ignored: the quorum's voters come from Kafka's metadata log");
  } else if (end !== null && metadataDirectory !== null) {
    snapshotOffset = end.endOffset;
    snapshotEpoch = end.latestEpoch;
    const newest = end.newestSnapshot;
    // An earlier export at the log end, with no Kafka run since (Sluice ran again on it): replaced, it was Sluice's.
    const earlierExport = newest !== null && newest.offset >= end.endOffset && exportBackups(logDir, basename(newest.file)).length > 0;
    // Formatted by kafka-storage but never started: only the bootstrap snapshot 0-0, which the new one supersedes.
    const bootstrapOnly = newest !== null && newest.offset === 0n && newest.epoch === 0 && end.endOffset === 0n;
    if (earlierExport && newest !== null) {
      replacing = newest.file;
      snapshotOffset = newest.offset;
      snapshotEpoch = newest.epoch;
    } else if (bootstrapOnly) {
      newMetadataLog = true;
      snapshotOffset = 1n;
      snapshotEpoch = 0;
      notes.push(
        `Kafka never started on this directory: its bootstrap snapshot ${basename(newest.file)} (kafka-storage format) is superseded, and Kafka deletes it at its first start`,
      );
    } else if (newest !== null && newest.offset >= snapshotOffset) {
      throw new ExportError(
        `${newest.file} already covers the metadata log up to its end (offset ${end.endOffset}), and no ${METADATA_FILE}.exported-* says Sluice wrote it: ` +
          "Kafka snapshotted at its log end, or an export was interrupted. Start Kafka on the directory once (or move that snapshot away if Sluice wrote it) and export again",
      );
    }
    if (snapshotOffset === 0n) snapshotOffset = 1n; // 0-0 is the bootstrap snapshot
    quorum = end.quorum;
    if (quorum.voters === null && quorum.kraftVersion === null && newest === null && end.endOffset === 0n) {
      // An empty __cluster_metadata-0 (no snapshot, no log): the voter comes from the flag, as for a new one.
      // (A log with records but no quorum records is kraft.version 0, static voters: left so.)
      if (options.controllerListener === undefined) {
        throw new ExportError(
          `${metadataDirectory} holds no KRaft quorum records: give --controller-listener NAME://host:port, Kafka's controller listener, the quorum's one voter`,
        );
      }
      newMetadataLog = true;
      quorum = { kraftVersion: kraftVersionValue(1), voters: votersValue(nodeId, directoryId, parseListener(options.controllerListener)) };
    } else if (options.controllerListener !== undefined) {
      notes.push("--controller-listener is ignored: the quorum's voters come from Kafka's metadata log");
    }
  } else {
    snapshotOffset = 1n;
    snapshotEpoch = 0;
    if (options.controllerListener === undefined) {
      throw new ExportError(
        `${logDir} has no ${METADATA_PARTITION_DIRECTORY} (a directory born on Sluice): give --controller-listener NAME://host:port, Kafka's controller listener (controller.listener.names, listeners), the quorum's one voter`,
      );
    }
    quorum = {
      kraftVersion: kraftVersionValue(1),
      voters: votersValue(nodeId, directoryId, parseListener(options.controllerListener)),
    };
  }

  // The records, in the order Kafka's snapshots list them: features, then configs, topics, users, ACLs, quotas, producer ids.
  const records: Buffer[] = [];
  const add = (type: number, version: number, record: unknown) => records.push(encodeMetadataRecord(type, version, record));

  const features: Record<string, number> = image !== null && image.features.size > 0 ? Object.fromEntries(image.features) : { ...KAFKA_44_DEFAULT_FEATURES };
  for (const [name, featureLevel] of Object.entries(features).sort(([a], [b]) => (a < b ? -1 : 1))) {
    add(Type.FeatureLevelRecord, 0, { name, featureLevel });
  }

  // Config resources: Kafka's as they were, with what Sluice owns replaced by Sluice's.
  const configs = new Map<string, { type: number; name: string; values: Map<string, string> }>();
  const configResource = (type: number, name: string) => {
    const key = configResourceKey(type, name);
    let resource = configs.get(key);
    if (resource === undefined) {
      resource = { type, name, values: new Map() };
      configs.set(key, resource);
    }
    return resource;
  };
  if (image !== null) {
    for (const [key, values] of image.configs) {
      const [type, ...rest] = key.split(":");
      const resourceType = Number(type);
      if (resourceType === ConfigResourceType.TOPIC) continue; // topics come from Sluice
      const resource = configResource(resourceType, rest.join(":"));
      for (const [name, value] of values) {
        if (resourceType === ConfigResourceType.BROKER && DYNAMIC_BROKER_KEYS.has(name)) continue; // Sluice's
        if (resourceType === ConfigResourceType.GROUP && document.groupConfigs?.[resource.name] !== undefined) continue; // Sluice's
        resource.values.set(name, value);
      }
    }
  }
  if (newMetadataLog && !configResource(ConfigResourceType.BROKER, "").values.has("min.insync.replicas")) {
    // What Kafka's controller appends to a new log along with the bootstrap features (ELR needs it).
    configResource(ConfigResourceType.BROKER, "").values.set("min.insync.replicas", "1");
  }
  let brokerConfigs = 0;
  for (const [resource, values] of Object.entries(document.brokerConfigs ?? {})) {
    for (const [name, value] of Object.entries(values)) {
      configResource(ConfigResourceType.BROKER, resource).values.set(name, value);
      brokerConfigs++;
    }
  }
  let groupConfigs = 0;
  for (const [group, values] of Object.entries(document.groupConfigs ?? {})) {
    for (const [name, value] of Object.entries(values)) {
      configResource(ConfigResourceType.GROUP, group).values.set(name, value);
      groupConfigs++;
    }
  }
  for (const resource of [...configs.values()].sort((a, b) => a.type - b.type || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const [name, value] of [...resource.values].sort(([a], [b]) => (a < b ? -1 : 1))) {
      add(Type.ConfigRecord, 0, { resourceType: resource.type, resourceName: resource.name, name, value });
    }
  }

  // A cluster: Kafka's last registration of every broker (unfenced), so that a broker starting on a
  // directory whose .kafka_cleanshutdown names that registration's epoch registers as cleanly
  // stopped. Without it Kafka's controller takes each registration for an unclean shutdown and
  // drops the broker from every ISR and ELR (KIP-966), leaving partitions without a leader.
  // A cluster born on Sluice has no registration of Kafka's: one is made up for each broker (the same
  // bytes on every broker), at epoch BORN_BROKER_EPOCH, which its .kafka_cleanshutdown names.
  const registrations =
    cluster?.bornOnSluice != null
      ? cluster.bornOnSluice.brokerIds.map((brokerId) => ({ version: 3, record: bornRegistration(document.clusterId, brokerId) }))
      : cluster !== undefined && image !== null
        ? [...image.brokerRegistrations.values()].sort((a, b) => a.record.brokerId - b.record.brokerId)
        : [];
  for (const { version, record } of registrations) add(Type.RegisterBrokerRecord, version, { ...record, fenced: false, inControlledShutdown: false });
  const ownRegistration = registrations.find(({ record }) => record.brokerId === nodeId);

  // Topics: Sluice's, with Kafka's ids kept (Sluice adopted them) and leader epochs past every log's.
  const kafkaTopics = new Map([...(image?.topics.values() ?? [])].map((topic) => [topic.id, topic]));
  const topics: ExportResult["topics"] = [];
  for (const topic of [...document.topics].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (topic.name === "__cluster_metadata") continue;
    add(Type.TopicRecord, 0, { name: topic.name, topicId: topic.id });
    const topicConfigs = Object.entries(topic.configs).sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [name, value] of topicConfigs) add(Type.ConfigRecord, 0, { resourceType: ConfigResourceType.TOPIC, resourceName: topic.name, name, value });
    let topicEpoch = 0;
    for (let partition = 0; partition < topic.partitions; partition++) {
      const directory = join(logDir, `${topic.name}-${partition}`);
      const onDisk = partitionTopicId(directory);
      if (onDisk !== null && onDisk !== topic.id) {
        throw new ExportError(`${directory}/partition.metadata says topic id ${onDisk}, ${METADATA_FILE} says ${topic.id}: nothing exported`);
      }
      const kafka = kafkaTopics.get(topic.id)?.partitions.get(partition);
      const newestInLog = newestLeaderEpoch(directory);
      if (cluster !== undefined) {
        // etcd's state, the same on every broker: the leader epoch one above etcd's (a Sluice leader
        // stamps its batches with etcd's epoch) and Kafka's; this broker's own log must not be past it.
        const state = cluster.partitions.get(topic.name)?.[partition];
        if (state === undefined) throw new ExportError(`topic ${topic.name} partition ${partition} has no state in the metadata store: nothing exported`);
        const leaderEpoch = Math.max(state.leaderEpoch, kafka?.leaderEpoch ?? 0) + 1;
        if (newestInLog >= leaderEpoch) {
          throw new ExportError(`${directory} holds batches of leader epoch ${newestInLog}, past the metadata store's ${state.leaderEpoch}: nothing exported`);
        }
        topicEpoch = Math.max(topicEpoch, leaderEpoch);
        add(Type.PartitionRecord, 2, {
          partitionId: partition,
          topicId: topic.id,
          replicas: [...state.replicas],
          isr: [...state.isr],
          removingReplicas: [],
          addingReplicas: [],
          leader: state.leaderId,
          leaderRecoveryState: 0,
          leaderEpoch,
          partitionEpoch: Math.max(state.partitionEpoch, kafka?.partitionEpoch ?? 0) + 1,
          // Every broker's snapshot must be the same bytes (the controllers' states must agree):
          // each replica's directory is the one its broker registered with Kafka (one log dir a broker).
          directories: state.replicas.map((id) =>
            cluster.bornOnSluice !== null
              ? DIRECTORY_MIGRATING
              : (registeredDirectory(image?.brokerRegistrations.get(id)?.record) ?? (id === nodeId ? directoryId : DIRECTORY_MIGRATING)),
          ),
          eligibleLeaderReplicas: null,
          lastKnownElr: null,
        });
        continue;
      }
      // A new leader epoch above any batch in the log and above Kafka's last one: Kafka never truncates to an older epoch.
      const leaderEpoch = Math.max(kafka?.leaderEpoch ?? 0, newestInLog) + 1;
      topicEpoch = Math.max(topicEpoch, leaderEpoch);
      add(Type.PartitionRecord, 2, {
        partitionId: partition,
        topicId: topic.id,
        replicas: [nodeId],
        isr: [nodeId],
        removingReplicas: [],
        addingReplicas: [],
        leader: nodeId,
        leaderRecoveryState: 0,
        leaderEpoch,
        partitionEpoch: (kafka?.partitionEpoch ?? -1) + 1,
        directories: [directoryId],
        eligibleLeaderReplicas: null,
        lastKnownElr: null,
      });
    }
    topics.push({ name: topic.name, id: topic.id, partitions: topic.partitions, configs: topicConfigs.length, leaderEpoch: topicEpoch });
  }

  let scramCredentials = 0;
  for (const [name, mechanisms] of Object.entries(document.scram ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [mechanism, stored] of Object.entries(mechanisms)) {
      if (stored === undefined) continue;
      add(Type.UserScramCredentialRecord, 0, {
        name,
        mechanism: SCRAM_MECHANISM_CODES[mechanism as ScramMechanism],
        salt: Buffer.from(stored.salt, "base64"),
        storedKey: Buffer.from(stored.storedKey, "base64"),
        serverKey: Buffer.from(stored.serverKey, "base64"),
        iterations: stored.iterations,
      });
      scramCredentials++;
    }
  }

  // ACLs keep the id Kafka gave them; new ones get a new id, in a cluster one derived from the ACL
  // (every broker's snapshot must be the same bytes).
  const kafkaAclIds = new Map([...(image?.acls.values() ?? [])].map(({ id, ...binding }) => [aclKey(binding), id]));
  const usedIds = new Set<string>();
  for (const binding of document.acls ?? []) {
    let attempt = 0;
    const newId = () => (cluster === undefined ? randomKafkaUuid() : derivedUuid(`${document.clusterId}:acl:${aclKey(binding)}:${attempt++}`));
    let id = kafkaAclIds.get(aclKey(binding)) ?? newId();
    while (usedIds.has(id)) id = newId();
    usedIds.add(id);
    add(Type.AccessControlEntryRecord, 0, { id, ...binding });
  }

  let clientQuotas = 0;
  for (const quota of document.clientQuotas ?? []) {
    for (const [key, value] of Object.entries(quota.values).sort(([a], [b]) => (a < b ? -1 : 1))) {
      add(Type.ClientQuotaRecord, 0, { entity: quota.entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName })), key, value, remove: false });
      clientQuotas++;
    }
  }

  // Kafka hands out producer id blocks from here: above every id Sluice (and Kafka before it) used.
  const sluiceNext = BigInt(document.nextProducerId);
  const nextProducerId =
    image?.producerIds !== null && image?.producerIds !== undefined && image.producerIds.nextProducerId > sluiceNext
      ? image.producerIds.nextProducerId
      : sluiceNext;
  // A cluster's brokers write the same record: the broker that chose the snapshot id, at its registered epoch.
  const producerIdsBroker = cluster?.producerIdsBrokerId ?? nodeId;
  const producerIdsEpoch =
    cluster !== undefined ? (image?.brokerRegistrations.get(producerIdsBroker)?.record.brokerEpoch ?? -1n) : (image?.producerIds?.brokerEpoch ?? -1n);
  if (nextProducerId > 0n) add(Type.ProducerIdsRecord, 0, { brokerId: producerIdsBroker, brokerEpoch: producerIdsEpoch, nextProducerId });

  if (image !== null && image.delegationTokens.size > 0) notExported.push(`${image.delegationTokens.size} delegation token(s) of Kafka's are not written back`);

  const bytes = snapshotBytes(records, quorum, snapshotEpoch, BigInt(nowMs));
  const directory = metadataDirectory ?? join(logDir, METADATA_PARTITION_DIRECTORY);
  const fileName = `${snapshotOffset.toString().padStart(20, "0")}-${String(snapshotEpoch).padStart(10, "0")}.checkpoint`;
  const snapshotFile = join(directory, fileName);
  let documentMovedTo: string | null = null;
  if (!options.dryRun && cluster !== undefined) {
    if (metadataDirectory === null) {
      mkdirSync(directory);
      writeDurablySync(directory, "partition.metadata", Buffer.from(`version: 0\ntopic_id: ${METADATA_TOPIC_ID}\n`));
    }
    if (existsSync(snapshotFile) && snapshotFile !== replacing) throw new ExportError(`${snapshotFile} exists: nothing overwritten`);
    writeDurablySync(directory, fileName, bytes, `${fileName}.part`);
    // The broker epoch Kafka's broker sends at registration as its previous one: its registration's in the snapshot.
    if (ownRegistration !== undefined) {
      writeDurablySync(logDir, ".kafka_cleanshutdown", Buffer.from(`{"version":0,"brokerEpoch":${ownRegistration.record.brokerEpoch}}`));
    }
  } else if (!options.dryRun) {
    if (metadataDirectory === null) {
      mkdirSync(directory);
      writeDurablySync(directory, "partition.metadata", Buffer.from(`version: 0\ntopic_id: ${METADATA_TOPIC_ID}\n`));
    }
    if (existsSync(snapshotFile) && snapshotFile !== replacing) throw new ExportError(`${snapshotFile} exists: nothing overwritten`);
    writeDurablySync(directory, fileName, bytes, `${fileName}.part`);
    // The directory is Kafka's again: Sluice's document is kept aside (named after the snapshot), and
    // a later Sluice start on the directory imports the metadata log afresh, Kafka's changes included.
    const taken = new Set(exportBackups(logDir, fileName));
    const stem = `${METADATA_FILE}.exported-${fileName.replace(/\.checkpoint$/, "")}`;
    let backup = stem;
    for (let n = 2; taken.has(backup); n++) backup = `${stem}.${n}`;
    renameSync(documentPath, join(logDir, backup));
    fsyncDirectory(logDir);
    documentMovedTo = join(logDir, backup);
  }
  return {
    logDir,
    clusterId: document.clusterId,
    nodeId,
    snapshotFile,
    snapshotOffset,
    snapshotEpoch,
    createdMetadataLog: metadataDirectory === null,
    replacedEarlierExport: replacing !== null,
    documentMovedTo,
    kafkaLogEndOffset: end?.endOffset ?? null,
    topics,
    brokerConfigs,
    groupConfigs,
    scramCredentials,
    acls: document.acls?.length ?? 0,
    clientQuotas,
    nextProducerId,
    features,
    records: records.length,
    bytes: bytes.length,
    notExported,
    notes,
  };
}

/** The snapshot file: header (and quorum) control batch, data batches, footer batch; offsets from 0. */
function snapshotBytes(records: readonly Buffer[], quorum: QuorumRecords, epoch: number, nowMs: bigint): Buffer {
  const batches: Buffer[] = [];
  let offset = 0n;
  const control: { key: Buffer; value: Buffer }[] = [{ key: encodeControlRecordKey(ControlType.SNAPSHOT_HEADER), value: snapshotHeaderValue(nowMs) }];
  if (quorum.kraftVersion !== null) control.push({ key: encodeControlRecordKey(ControlType.KRAFT_VERSION), value: quorum.kraftVersion });
  if (quorum.voters !== null) control.push({ key: encodeControlRecordKey(ControlType.KRAFT_VOTERS), value: quorum.voters });
  const push = (batchRecords: { key: Buffer | null; value: Buffer }[], isControl: boolean) => {
    batches.push(
      buildRecordBatch({
        baseOffset: offset,
        partitionLeaderEpoch: epoch,
        isControl,
        baseTimestamp: nowMs,
        records: batchRecords.map((r) => ({ key: r.key, value: r.value, timestamp: nowMs })),
      }),
    );
    offset += BigInt(batchRecords.length);
  };
  push(control, true);
  for (let i = 0; i < records.length; i += RECORDS_PER_BATCH) {
    push(
      records.slice(i, i + RECORDS_PER_BATCH).map((value) => ({ key: null, value })),
      false,
    );
  }
  push([{ key: encodeControlRecordKey(ControlType.SNAPSHOT_FOOTER), value: versionOnly() }], true);
  return Buffer.concat(batches);
}

// Control record values (raft/*.json, flexible version 0): an int16 version, the fields, tagged fields.
// Exported for the unit test, which holds them to the bytes Kafka 4.4.0 writes.
export function snapshotHeaderValue(lastContainedLogTimestamp: bigint): Buffer {
  const w = new Writer(16);
  w.int16(0);
  w.int64(lastContainedLogTimestamp);
  w.unsignedVarint(0);
  return w.finish();
}

function versionOnly(): Buffer {
  const w = new Writer(4);
  w.int16(0);
  w.unsignedVarint(0);
  return w.finish();
}

export function kraftVersionValue(kraftVersion: number): Buffer {
  const w = new Writer(8);
  w.int16(0);
  w.int16(kraftVersion);
  w.unsignedVarint(0);
  return w.finish();
}

export function votersValue(voterId: number, directoryId: string, endpoint: { name: string; host: string; port: number }): Buffer {
  const w = new Writer(64);
  w.int16(0);
  w.unsignedVarint(2); // one voter
  w.int32(voterId);
  w.uuid(directoryId);
  w.unsignedVarint(2); // one endpoint
  w.compactString(endpoint.name);
  w.compactString(endpoint.host);
  w.uint16(endpoint.port);
  w.unsignedVarint(0);
  w.int16(0); // kRaftVersionFeature: min supported
  w.int16(1); // max supported
  w.unsignedVarint(0);
  w.unsignedVarint(0); // voter tagged fields
  w.unsignedVarint(0);
  return w.finish();
}

function parseListener(text: string): { name: string; host: string; port: number } {
  const match = /^([A-Za-z0-9_-]+):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new ExportError(`--controller-listener ${text}: expected NAME://host:port, as in Kafka's listeners (e.g. CONTROLLER://127.0.0.1:9093)`);
  }
  return { name: match[1], host: match[2].replace(/^\[|\]$/g, ""), port };
}

/** The topic id in a partition directory's partition.metadata, null without one. */
function partitionTopicId(directory: string): string | null {
  try {
    return /^topic_id: (\S+)$/m.exec(readFileSync(join(directory, "partition.metadata"), "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The newest partition leader epoch of a partition's log: its leader-epoch-checkpoint and the last batch of its last segment. */
function newestLeaderEpoch(directory: string): number {
  let newest = 0;
  try {
    const lines = readFileSync(join(directory, "leader-epoch-checkpoint"), "utf8").trim().split("\n").slice(2);
    for (const line of lines) newest = Math.max(newest, Number(line.split(" ")[0]) || 0);
  } catch {
    // no checkpoint: the batches say
  }
  let names: string[];
  try {
    names = readdirSync(directory)
      .filter((name) => SEGMENT_NAME.test(name))
      .sort();
  } catch {
    return newest;
  }
  for (const name of names) {
    for (const header of batchHeaders(join(directory, name))) newest = Math.max(newest, header.epoch);
  }
  return newest;
}

/** Each batch's header (base offset, last offset, epoch, control) of a segment, reading only the headers. */
function* batchHeaders(file: string): Generator<{ baseOffset: bigint; lastOffset: bigint; epoch: number; position: number; size: number }> {
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    const header = Buffer.alloc(61);
    let position = 0;
    while (position + 61 <= size) {
      readSync(fd, header, 0, 61, position);
      const batchLength = header.readInt32BE(8);
      if (batchLength < 49 || position + 12 + batchLength > size) return; // a torn tail: not a batch
      const baseOffset = header.readBigInt64BE(0);
      yield { baseOffset, lastOffset: baseOffset + BigInt(header.readInt32BE(23)), epoch: header.readInt32BE(12), position, size: 12 + batchLength };
      position += 12 + batchLength;
    }
  } finally {
    closeSync(fd);
  }
}

/** Kafka's metadata log end offset, latest epoch, newest snapshot and quorum records (the newest of each). */
function metadataLogEnd(directory: string): MetadataLogEnd {
  const names = readdirSync(directory).sort();
  const quorum: QuorumRecords = { kraftVersion: null, voters: null };
  let newestSnapshot: MetadataLogEnd["newestSnapshot"] = null;
  for (const name of names) {
    const match = SNAPSHOT_NAME.exec(name);
    if (match === null) continue;
    const snapshot = { offset: BigInt(match[1]), epoch: Number(match[2]), file: join(directory, name) };
    if (
      newestSnapshot === null ||
      snapshot.offset > newestSnapshot.offset ||
      (snapshot.offset === newestSnapshot.offset && snapshot.epoch > newestSnapshot.epoch)
    ) {
      newestSnapshot = snapshot;
    }
  }
  let endOffset = newestSnapshot?.offset ?? 0n;
  let latestEpoch = newestSnapshot?.epoch ?? 0;
  if (newestSnapshot !== null) collectQuorumRecords(readFileSync(newestSnapshot.file), newestSnapshot.file, quorum);
  for (const name of names.filter((n) => SEGMENT_NAME.test(n))) {
    const file = join(directory, name);
    const bytes = readFileSync(file);
    collectQuorumRecords(bytes, file, quorum, newestSnapshot?.offset ?? 0n);
    for (const header of batchHeaders(file)) {
      if (header.lastOffset + 1n > endOffset) endOffset = header.lastOffset + 1n;
      if (header.epoch > latestEpoch) latestEpoch = header.epoch;
    }
  }
  return { endOffset, latestEpoch, newestSnapshot, quorum };
}

/** Keeps the values of the newest KRaftVersion and KRaftVoters control records in `bytes` (at or after `from`). */
function collectQuorumRecords(bytes: Buffer, file: string, quorum: QuorumRecords, from = 0n): void {
  let position = 0;
  while (position < bytes.length) {
    let batch: ReturnType<typeof recordBatchAt>;
    try {
      batch = recordBatchAt(bytes, position);
    } catch (error) {
      if (error instanceof RecordBatchDecodeError) return; // a torn tail; readKraftImage reported anything worse
      throw error;
    }
    position = batch.end;
    if (!batch.isControl || batch.lastOffset < from) continue;
    for (const record of decodeRecords(batch)) {
      if (record.value === null) continue;
      let type: number;
      try {
        type = decodeControlRecordKey(record.key).type;
      } catch (error) {
        throw new ExportError(`${file}: a control record at offset ${record.offset} has a bad key: ${(error as Error).message}`);
      }
      if (type === ControlType.KRAFT_VERSION) quorum.kraftVersion = Buffer.from(record.value);
      else if (type === ControlType.KRAFT_VOTERS) quorum.voters = Buffer.from(record.value);
    }
  }
}

/** Writes `name` in `directory` through a temporary file, fsyncs it, renames it, fsyncs the directory. */
function writeDurablySync(directory: string, name: string, bytes: Buffer, temporaryName = `${name}.tmp`): void {
  const temporary = join(directory, temporaryName);
  writeFileSync(temporary, bytes, { flag: "wx" });
  const fd = openSync(temporary, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(directory, name));
  fsyncDirectory(directory);
}

function fsyncDirectory(directory: string): void {
  const dir = openSync(directory, "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The sluice-metadata.json copies an export of `snapshotName` moved aside in `logDir`. */
function exportBackups(logDir: string, snapshotName: string): string[] {
  const prefix = `${METADATA_FILE}.exported-${snapshotName.replace(/\.checkpoint$/, "")}`;
  return readdirSync(logDir).filter((name) => name === prefix || name.startsWith(`${prefix}.`));
}

/** One line per part of the export, for the CLI. */
export function formatExport(result: ExportResult, dryRun: boolean, cluster = false): string {
  const lines = [
    `${dryRun ? "Would write" : "Wrote"} ${result.snapshotFile} (${result.bytes} bytes, ${result.records} metadata records)`,
    `Cluster ID: ${result.clusterId}  node.id: ${result.nodeId}`,
    result.kafkaLogEndOffset === null
      ? `New metadata log ${METADATA_PARTITION_DIRECTORY} (the directory was born on Sluice)`
      : result.kafkaLogEndOffset === 0n
        ? "Kafka's metadata log is empty (formatted, never started)"
        : `Kafka's metadata log ends at offset ${result.kafkaLogEndOffset}: the snapshot supersedes it there, nothing of it is truncated`,
    `Topics: ${result.topics.length}`,
    ...result.topics.map((t) => `  ${t.name}  ${t.id}  partitions=${t.partitions}  configs=${t.configs}  leaderEpoch=${t.leaderEpoch}`),
    `Broker configs: ${result.brokerConfigs}  group configs: ${result.groupConfigs}`,
    `SCRAM credentials: ${result.scramCredentials}  ACLs: ${result.acls}  client quota values: ${result.clientQuotas}`,
    `Next producer id: ${result.nextProducerId}`,
    `Features: ${Object.entries(result.features)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
    ...result.notExported.map((line) => `Not exported: ${line}`),
    ...result.notes.map((line) => `Note: ${line}`),
    ...(result.replacedEarlierExport ? ["Replaced the snapshot of an earlier export (Kafka has not run on the directory since)"] : []),
    cluster
      ? "The cluster's metadata in the metadata store is left as it is: start Kafka on every broker's directory"
      : result.documentMovedTo === null
        ? `Would move ${METADATA_FILE} aside: the directory is Kafka's after the export`
        : `Moved ${METADATA_FILE} to ${result.documentMovedTo}: start Kafka on the directory; a later Sluice start imports Kafka's metadata log again`,
  ];
  return `${lines.join("\n")}\n`;
}
