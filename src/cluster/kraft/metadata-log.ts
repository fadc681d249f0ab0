// Reads a stopped Kafka broker's KRaft metadata (the `__cluster_metadata-0` directory of its
// metadata log dir) into an image: what Kafka kept only there — topics and their ids, topic and
// broker configs, SCRAM credentials, ACLs, client quotas, the producer id block, feature levels.
// Nothing is written: `sluice migrate check` and the import at broker start read the same image.
//
// On disk (Kafka 4.4, KafkaRaftClient / KafkaMetadataLog):
//
//   __cluster_metadata-0/
//     00000000000000000000.log                  record batches v2, as any partition's segments
//     <20-digit end offset>-<10-digit epoch>.checkpoint   a snapshot: the image up to (not including)
//                                               the end offset, in the same batch format, opened by a
//                                               SnapshotHeader and closed by a SnapshotFooter control
//                                               record; `.checkpoint.part` (unfinished) and
//                                               `.checkpoint.deleted` files are not snapshots
//     quorum-state, partition.metadata, leader-epoch-checkpoint, .index, .timeindex   not read here
//
// Each record of a data batch holds one metadata record as its value (MetadataRecordSerde):
//
//   frame version   unsigned varint   always 1
//   record type     unsigned varint   the spec's apiKey (generated/index.ts)
//   record version  unsigned varint
//   record          the record at that version (flexible encoding: compact strings, tagged fields)
//
// Control batches (LeaderChange, SnapshotHeader/Footer, KRaftVersion, Voters) are skipped. Replay
// loads the newest snapshot, then the log's records from the snapshot's end offset on.
// BeginTransaction / EndTransaction / AbortTransaction bracket records applied together or not
// at all (KIP-868); an unfinished transaction at the end of the log is not applied.
//
// Bad input (a CRC mismatch, a torn or malformed batch in the middle, a record that does not
// decode) is a MetadataLogError naming the file and byte position: nothing is guessed. A batch cut
// short at the very end of the last segment is what a crash leaves and what Kafka truncates at
// start; it is reported (`truncatedTail`) and not applied.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { crc32c, readMetaProperties, recompressBatch } from "../../native.js";
import { ProtocolDecodeError, Reader } from "../../protocol/reader.js";
import { CompressionType, decodeRecords, RecordBatchDecodeError, type RecordBatchView, recordBatchAt } from "../../protocol/records.js";
import { Writer } from "../../protocol/writer.js";
import type { AccessControlEntryRecord } from "./generated/access-control-entry.js";
import type { ClientQuotaRecord } from "./generated/client-quota.js";
import type { ConfigRecord } from "./generated/config.js";
import type { FeatureLevelRecord } from "./generated/feature-level.js";
import { metadataRecordTypeByNumber } from "./generated/index.js";
import type { PartitionRecord } from "./generated/partition.js";
import type { PartitionChangeRecord } from "./generated/partition-change.js";
import type { ProducerIdsRecord } from "./generated/producer-ids.js";
import type { RemoveAccessControlEntryRecord } from "./generated/remove-access-control-entry.js";
import type { RemoveTopicRecord } from "./generated/remove-topic.js";
import type { RemoveUserScramCredentialRecord } from "./generated/remove-user-scram-credential.js";
import type { TopicRecord } from "./generated/topic.js";
import type { UserScramCredentialRecord } from "./generated/user-scram-credential.js";

export const METADATA_TOPIC = "__cluster_metadata";
export const METADATA_PARTITION_DIRECTORY = `${METADATA_TOPIC}-0`;
/** MetadataRecordSerde's frame version (AbstractApiMessageSerde.DEFAULT_FRAME_VERSION). */
export const METADATA_FRAME_VERSION = 1;
/** A compressed metadata batch may inflate to at most this many bytes (Kafka's metadata batches are at most 8 MiB). */
/** PartitionChangeRecord.leader when the leader does not change. */
const NO_LEADER_CHANGE = -2;
const DECOMPRESSED_BATCH_BYTES_MAX = 64 * 1024 * 1024;

/** Kafka's ConfigResource.Type codes in ConfigRecord.resourceType. */
export const ConfigResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, CLIENT_METRICS: 16, GROUP: 32 } as const;

/** The metadata log cannot be read as Kafka wrote it: corrupt, or from a Kafka this reader does not know. */
export class MetadataLogError extends Error {
  override readonly name = "MetadataLogError";
  readonly code = "SLUICE_KRAFT_METADATA_LOG";
}

export interface KraftPartition {
  readonly partition: number;
  replicas: number[];
  isr: number[];
  /** Eligible leader replicas (KIP-966): out of the ISR below min.insync.replicas, yet holding every committed record. */
  elr?: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
}

export interface KraftTopic {
  readonly name: string;
  /** Kafka's printed Uuid (base64url). */
  readonly id: string;
  readonly partitions: Map<number, KraftPartition>;
}

export interface KraftScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

export interface KraftAcl {
  readonly id: string;
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

export interface KraftClientQuota {
  /** As Kafka stored it: entity type ("user", "client-id", "ip") and name (null = the default entity). */
  readonly entity: { entityType: string; entityName: string | null }[];
  readonly values: Map<string, number>;
}

export interface KraftProducerIdBlock {
  readonly brokerId: number;
  readonly brokerEpoch: bigint;
  /** The first producer id Kafka has not handed out a block of: every id below it may be in use. */
  readonly nextProducerId: bigint;
}

/** The state a Kafka controller would rebuild from its metadata log. */
export interface KraftImage {
  /** From meta.properties of the log dir, when present. */
  clusterId: string | null;
  nodeId: number | null;
  /** The snapshot loaded, if any. */
  snapshot: { file: string; endOffset: bigint; epoch: number } | null;
  /** The offset of the last metadata record applied (-1 if none). */
  lastOffset: bigint;
  /** The latest leader epoch of the log: its batches' and the loaded snapshot's (-1 if none). */
  latestEpoch: number;
  /** Topics by id. */
  readonly topics: Map<string, KraftTopic>;
  /** Configs by resource: "<type>:<name>" (ConfigResourceType), key → value. */
  readonly configs: Map<string, Map<string, string>>;
  /** SCRAM credentials: user → mechanism code (1 SHA-256, 2 SHA-512) → credential. */
  readonly scram: Map<string, Map<number, KraftScramCredential>>;
  /** ACLs by Kafka's ACL id. */
  readonly acls: Map<string, KraftAcl>;
  /** Client quotas by entity (a canonical key). */
  readonly clientQuotas: Map<string, KraftClientQuota>;
  producerIds: KraftProducerIdBlock | null;
  /** Finalized feature levels (metadata.version, kraft.version, …); level 0 removes a feature. */
  readonly features: Map<string, number>;
  /** Registered broker ids (RegisterBrokerRecord minus UnregisterBrokerRecord). */
  readonly brokers: Set<number>;
  /** The newest RegisterBrokerRecord of each registered broker, as decoded (with its record version). */
  readonly brokerRegistrations: Map<number, { version: number; record: { brokerId: number; brokerEpoch: bigint } & Record<string, unknown> }>;
  /** Delegation tokens by id (only counted: Sluice has none to carry them to). */
  readonly delegationTokens: Set<string>;
  /** Records of types this reader knows but does not keep, by name, with their count. */
  readonly ignoredRecords: Map<string, number>;
  /** Metadata records applied (snapshot plus log). */
  records: number;
  /** A batch cut short at the end of the last segment (a crash's torn write), not applied. */
  truncatedTail: { file: string; position: number } | null;
}

/** The log directories (base64 Uuids) a RegisterBrokerRecord lists (v3+), none for older versions. */
export function registeredLogDirs(record: Record<string, unknown> | undefined): string[] {
  const dirs = record?.logDirs;
  return Array.isArray(dirs) ? dirs.filter((dir): dir is string => typeof dir === "string") : [];
}

export function configResourceKey(resourceType: number, resourceName: string): string {
  return `${resourceType}:${resourceName}`;
}

/** The topic's configs (empty when it has none). */
export function topicConfigs(image: KraftImage, topic: string): Map<string, string> {
  return image.configs.get(configResourceKey(ConfigResourceType.TOPIC, topic)) ?? new Map();
}

function emptyImage(): KraftImage {
  return {
    clusterId: null,
    nodeId: null,
    snapshot: null,
    lastOffset: -1n,
    latestEpoch: -1,
    topics: new Map(),
    configs: new Map(),
    scram: new Map(),
    acls: new Map(),
    clientQuotas: new Map(),
    producerIds: null,
    features: new Map(),
    brokers: new Set(),
    brokerRegistrations: new Map(),
    delegationTokens: new Set(),
    ignoredRecords: new Map(),
    records: 0,
    truncatedTail: null,
  };
}

/** The directory of the metadata log in `logDir`, or null when it has none. */
export function metadataLogDirectory(logDir: string): string | null {
  const directory = join(logDir, METADATA_PARTITION_DIRECTORY);
  try {
    return statSync(directory).isDirectory() ? directory : null;
  } catch {
    return null;
  }
}

const SNAPSHOT_NAME = /^(\d{20})-(\d{10})\.checkpoint$/;
const SEGMENT_NAME = /^(\d{20})\.log$/;

/** Reads `logDir`'s metadata log (newest snapshot, then the log) into an image; throws MetadataLogError on bad input. */
export function readKraftImage(logDir: string): KraftImage {
  const directory = metadataLogDirectory(logDir);
  if (directory === null) throw new MetadataLogError(`${logDir} has no ${METADATA_PARTITION_DIRECTORY} directory: not a KRaft metadata log dir`);
  const image = emptyImage();
  const meta = readMetaProperties(logDir);
  if (meta !== null) {
    image.clusterId = meta.clusterId;
    image.nodeId = meta.nodeId;
  }
  const names = readdirSync(directory).sort();
  const snapshots = names.flatMap((name) => {
    const match = SNAPSHOT_NAME.exec(name);
    return match === null ? [] : [{ file: join(directory, name), endOffset: BigInt(match[1]), epoch: Number(match[2]) }];
  });
  const replay = new Replay(image);
  let from = 0n;
  const snapshot = snapshots.sort((a, b) => (a.endOffset < b.endOffset ? -1 : a.endOffset > b.endOffset ? 1 : a.epoch - b.epoch)).at(-1);
  if (snapshot !== undefined) {
    image.snapshot = snapshot;
    readFileBatches(snapshot.file, readFileSync(snapshot.file), false, (batch) => replay.batch(batch, snapshot.file, -1n));
    replay.endOfFile(snapshot.file);
    from = snapshot.endOffset;
    image.lastOffset = snapshot.endOffset - 1n;
    image.latestEpoch = snapshot.epoch;
  }
  const segments = names.flatMap((name) => {
    const match = SEGMENT_NAME.exec(name);
    return match === null ? [] : [{ file: join(directory, name), baseOffset: BigInt(match[1]) }];
  });
  for (const [index, segment] of segments.entries()) {
    const next = segments[index + 1];
    if (next !== undefined && next.baseOffset <= from) continue; // wholly inside the snapshot
    const last = index === segments.length - 1;
    readFileBatches(
      segment.file,
      readFileSync(segment.file),
      last,
      (batch) => {
        if (batch.partitionLeaderEpoch > image.latestEpoch) image.latestEpoch = batch.partitionLeaderEpoch;
        replay.batch(batch, segment.file, from);
      },
      image,
    );
  }
  return image;
}

/** Calls `onBatch` for each batch of `bytes`, checking each CRC. A torn last batch ends a last segment. */
function readFileBatches(file: string, bytes: Buffer, lastSegment: boolean, onBatch: (batch: RecordBatchView) => void, image?: KraftImage): void {
  let position = 0;
  while (position < bytes.length) {
    let batch: RecordBatchView;
    try {
      batch = recordBatchAt(bytes, position);
    } catch (error) {
      if (!(error instanceof RecordBatchDecodeError)) throw error;
      const truncated = error.message.startsWith("truncated record batch");
      if (truncated && lastSegment && image !== undefined) {
        image.truncatedTail = { file, position };
        return;
      }
      throw new MetadataLogError(`${file}: not a valid record batch at byte ${position}: ${error.message}`);
    }
    if (!batch.isCrcValid(crc32c)) {
      throw new MetadataLogError(`${file}: the record batch at byte ${position} (offsets ${batch.baseOffset}-${batch.lastOffset}) fails its CRC32C check`);
    }
    onBatch(batch);
    position = batch.end;
  }
}

/** Applies records to an image in log order, holding back those of an open metadata transaction. */
class Replay {
  readonly #image: KraftImage;
  /** Records of an open BeginTransaction, applied at its EndTransaction. */
  #transaction: { offset: bigint; type: number; record: unknown; where: string }[] | null = null;

  constructor(image: KraftImage) {
    this.#image = image;
  }

  batch(batch: RecordBatchView, file: string, from: bigint): void {
    if (batch.isControl) return;
    let view = batch;
    if (batch.compression !== CompressionType.NONE) {
      try {
        view = recordBatchAt(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none", undefined, DECOMPRESSED_BATCH_BYTES_MAX), 0);
      } catch (error) {
        throw new MetadataLogError(`${file}: the ${batch.compressionName} batch at byte ${batch.position} does not decompress: ${(error as Error).message}`);
      }
    }
    let records: ReturnType<typeof decodeRecords> extends Generator<infer R> ? R[] : never;
    try {
      records = [...decodeRecords(view)];
    } catch (error) {
      throw new MetadataLogError(`${file}: the records of the batch at byte ${batch.position} are malformed: ${(error as Error).message}`);
    }
    for (const record of records) {
      if (record.offset < from) continue;
      const where = `${file}: offset ${record.offset}`;
      if (record.value === null) throw new MetadataLogError(`${where}: a metadata record without a value`);
      const { type, version, record: decoded } = decodeMetadataRecord(record.value, where);
      if (metadataRecordTypeByNumber[type]?.name === "RegisterBrokerRecord") (decoded as { recordVersion?: number }).recordVersion = version;
      this.#apply(record.offset, type, decoded, where);
    }
  }

  /** A snapshot never ends inside a transaction. */
  endOfFile(file: string): void {
    if (this.#transaction !== null) throw new MetadataLogError(`${file}: ends inside a metadata transaction`);
  }

  #apply(offset: bigint, type: number, record: unknown, where: string): void {
    const name = metadataRecordTypeByNumber[type]?.name;
    if (name === "BeginTransactionRecord") {
      if (this.#transaction !== null) throw new MetadataLogError(`${where}: BeginTransactionRecord inside an open transaction`);
      this.#transaction = [];
      this.#image.lastOffset = offset;
      return;
    }
    if (name === "EndTransactionRecord" || name === "AbortTransactionRecord") {
      if (this.#transaction === null) throw new MetadataLogError(`${where}: ${name} without a BeginTransactionRecord`);
      const held = this.#transaction;
      this.#transaction = null;
      if (name === "EndTransactionRecord") for (const r of held) applyRecord(this.#image, r.type, r.record, r.where);
      this.#image.lastOffset = offset;
      return;
    }
    if (this.#transaction !== null) {
      this.#transaction.push({ offset, type, record, where });
      return;
    }
    applyRecord(this.#image, type, record, where);
    this.#image.lastOffset = offset;
  }
}

/** Decodes one record value: the frame (version, type, record version), then the record. */
export function decodeMetadataRecord(value: Buffer, where: string): { type: number; version: number; record: unknown } {
  const r = new Reader(value);
  try {
    const frameVersion = r.unsignedVarint();
    if (frameVersion !== METADATA_FRAME_VERSION)
      throw new MetadataLogError(`${where}: metadata record frame version ${frameVersion}, expected ${METADATA_FRAME_VERSION}`);
    const type = r.unsignedVarint();
    const version = r.unsignedVarint();
    const codec = metadataRecordTypeByNumber[type];
    if (codec === undefined) throw new MetadataLogError(`${where}: unknown metadata record type ${type} (from a Kafka newer than 4.4?)`);
    if (!codec.versions.includes(version)) {
      throw new MetadataLogError(`${where}: ${codec.name} version ${version} is not one Kafka 4.4 writes (${codec.versions.join(", ")})`);
    }
    const record = codec.read(r, version);
    if (r.remaining() !== 0) throw new MetadataLogError(`${where}: ${r.remaining()} bytes left after the ${codec.name}`);
    return { type, version, record };
  } catch (error) {
    if (error instanceof ProtocolDecodeError) throw new MetadataLogError(`${where}: the metadata record does not decode: ${error.message}`);
    throw error;
  }
}

/** Encodes one record value as Kafka's MetadataRecordSerde does (the inverse of decodeMetadataRecord). */
export function encodeMetadataRecord(type: number, version: number, record: unknown): Buffer {
  const codec = metadataRecordTypeByNumber[type];
  if (codec === undefined) throw new Error(`unknown metadata record type ${type}`);
  const w = new Writer(64);
  w.unsignedVarint(METADATA_FRAME_VERSION);
  w.unsignedVarint(type);
  w.unsignedVarint(version);
  codec.write(w, record, version);
  return w.finish();
}

function quotaKey(entity: readonly { entityType: string; entityName: string | null }[]): string {
  return JSON.stringify(
    [...entity].sort((a, b) => (a.entityType < b.entityType ? -1 : a.entityType > b.entityType ? 1 : 0)).map((e) => [e.entityType, e.entityName]),
  );
}

/** Applies one decoded record to the image (Kafka's MetadataDelta replay, for the parts kept here). */
function applyRecord(image: KraftImage, type: number, record: unknown, where: string): void {
  image.records++;
  const name = metadataRecordTypeByNumber[type]?.name ?? String(type);
  switch (name) {
    case "TopicRecord": {
      const r = record as TopicRecord;
      image.topics.set(r.topicId, { name: r.name, id: r.topicId, partitions: new Map() });
      return;
    }
    case "PartitionRecord": {
      const r = record as PartitionRecord;
      const topic = image.topics.get(r.topicId);
      if (topic === undefined) throw new MetadataLogError(`${where}: PartitionRecord for unknown topic id ${r.topicId}`);
      topic.partitions.set(r.partitionId, {
        partition: r.partitionId,
        replicas: [...r.replicas],
        isr: [...r.isr],
        leader: r.leader,
        leaderEpoch: r.leaderEpoch,
        partitionEpoch: r.partitionEpoch,
        ...((r.eligibleLeaderReplicas?.length ?? 0) > 0 ? { elr: [...(r.eligibleLeaderReplicas ?? [])] } : {}),
      });
      return;
    }
    case "PartitionChangeRecord": {
      const r = record as PartitionChangeRecord;
      const partition = image.topics.get(r.topicId)?.partitions.get(r.partitionId);
      if (partition === undefined) throw new MetadataLogError(`${where}: PartitionChangeRecord for unknown partition ${r.topicId}-${r.partitionId}`);
      if (r.isr !== null) partition.isr = [...r.isr];
      if (r.eligibleLeaderReplicas !== null) partition.elr = [...r.eligibleLeaderReplicas];
      if (r.replicas !== null) partition.replicas = [...r.replicas];
      // Leader -2 (the default) leaves the leader as it is; any other value (-1: none) is a new
      // leader and a new leader epoch (PartitionRegistration.merge).
      if (r.leader !== NO_LEADER_CHANGE) {
        partition.leader = r.leader;
        partition.leaderEpoch++;
      }
      partition.partitionEpoch++;
      return;
    }
    case "RemoveTopicRecord": {
      const r = record as RemoveTopicRecord;
      const topic = image.topics.get(r.topicId);
      if (topic === undefined) throw new MetadataLogError(`${where}: RemoveTopicRecord for unknown topic id ${r.topicId}`);
      image.topics.delete(r.topicId);
      image.configs.delete(configResourceKey(ConfigResourceType.TOPIC, topic.name));
      return;
    }
    case "ConfigRecord": {
      const r = record as ConfigRecord;
      const key = configResourceKey(r.resourceType, r.resourceName);
      const configs = image.configs.get(key) ?? new Map<string, string>();
      if (r.value === null) configs.delete(r.name);
      else configs.set(r.name, r.value);
      if (configs.size === 0) image.configs.delete(key);
      else image.configs.set(key, configs);
      return;
    }
    case "UserScramCredentialRecord": {
      const r = record as UserScramCredentialRecord;
      const mechanisms = image.scram.get(r.name) ?? new Map<number, KraftScramCredential>();
      mechanisms.set(r.mechanism, {
        salt: Buffer.from(r.salt),
        storedKey: Buffer.from(r.storedKey),
        serverKey: Buffer.from(r.serverKey),
        iterations: r.iterations,
      });
      image.scram.set(r.name, mechanisms);
      return;
    }
    case "RemoveUserScramCredentialRecord": {
      const r = record as RemoveUserScramCredentialRecord;
      const mechanisms = image.scram.get(r.name);
      mechanisms?.delete(r.mechanism);
      if (mechanisms?.size === 0) image.scram.delete(r.name);
      return;
    }
    case "AccessControlEntryRecord": {
      const r = record as AccessControlEntryRecord;
      image.acls.set(r.id, {
        id: r.id,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        patternType: r.patternType,
        principal: r.principal,
        host: r.host,
        operation: r.operation,
        permissionType: r.permissionType,
      });
      return;
    }
    case "RemoveAccessControlEntryRecord":
      image.acls.delete((record as RemoveAccessControlEntryRecord).id);
      return;
    case "ClientQuotaRecord": {
      const r = record as ClientQuotaRecord;
      const entity = r.entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName }));
      const key = quotaKey(entity);
      const quota = image.clientQuotas.get(key) ?? { entity, values: new Map<string, number>() };
      if (r.remove) quota.values.delete(r.key);
      else quota.values.set(r.key, r.value);
      if (quota.values.size === 0) image.clientQuotas.delete(key);
      else image.clientQuotas.set(key, quota);
      return;
    }
    case "ProducerIdsRecord": {
      const r = record as ProducerIdsRecord;
      image.producerIds = { brokerId: r.brokerId, brokerEpoch: r.brokerEpoch, nextProducerId: r.nextProducerId };
      return;
    }
    case "FeatureLevelRecord": {
      const r = record as FeatureLevelRecord;
      if (r.featureLevel === 0) image.features.delete(r.name);
      else image.features.set(r.name, r.featureLevel);
      return;
    }
    case "RegisterBrokerRecord": {
      const { recordVersion, ...r } = record as { brokerId: number; brokerEpoch: bigint; recordVersion?: number };
      image.brokers.add(r.brokerId);
      image.brokerRegistrations.set(r.brokerId, { version: recordVersion ?? 0, record: r });
      return;
    }
    case "UnregisterBrokerRecord":
      image.brokers.delete((record as { brokerId: number }).brokerId);
      image.brokerRegistrations.delete((record as { brokerId: number }).brokerId);
      return;
    case "DelegationTokenRecord":
      image.delegationTokens.add((record as { tokenId: string }).tokenId);
      return;
    case "RemoveDelegationTokenRecord":
      image.delegationTokens.delete((record as { tokenId: string }).tokenId);
      return;
    default:
      image.ignoredRecords.set(name, (image.ignoredRecords.get(name) ?? 0) + 1);
  }
}
