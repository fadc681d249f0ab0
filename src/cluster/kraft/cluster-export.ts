// `sluice migrate export-kraft --metadata-store etcd://…`: the way back to Kafka for a cluster
// adopted from Kafka (adoption.ts, adoptKafkaMetadataIntoCluster), and the way to Kafka for a cluster
// born on Sluice. Run on each stopped Sluice broker's directory (all brokers stopped; for an adopted
// cluster with dedicated controllers, on theirs too); each writes into its own `__cluster_metadata-0`
// the cluster's metadata as etcd holds it (topics with Kafka's ids, replicas, ISR and leaders,
// configs, SCRAM users, ACLs, quotas, the producer id counter) as one KRaft snapshot (export.ts),
// the same bytes on every node. A cluster born on Sluice gets the snapshot 1-0 in a new metadata log
// on every broker (a static quorum); the rest of this comment is about an adopted cluster.
//
// Every broker's snapshot has the same id. Each broker sees only its own metadata log, so the first
// export chooses the id and records it in etcd (adoption/export, create-if-absent): the offset is
// the largest of its own log end and every broker's adopted metadata offset + 1 (recorded in etcd at
// adoption, adoption/brokers/<id>) plus 1000, the epoch its own log's latest plus 100: the brokers'
// logs of a quorum stopped whole differ by a few records and elections, and each broker sees only
// its own. A later export reuses the id and refuses when its own log ends past it. A snapshot past a
// broker's log end, at a later epoch, makes Kafka drop that log at start
// (KafkaRaftLog.truncateToLatestSnapshot) and start from the snapshot, which holds the whole state.

import type { PartitionState } from "../../log/partition.js";
import { readMetaProperties } from "../../native.js";
import type { AclBinding } from "../../security/acl.js";
import type { ClientQuotaRecord } from "../../security/client-quotas.js";
import type { StoredScramCredential } from "../../security/credentials.js";
import type { ScramMechanism } from "../../security/scram.js";
import type { EtcdMetadataStore, KafkaExportRecord } from "../etcd-store.js";
import { ExportError, type ExportResult, exportKraftSnapshot, kafkaMetadataLogEnd, type SluiceDocument } from "./export.js";

/** How far past the first exporter's metadata log end and epoch the cluster's snapshot id is. */
const SNAPSHOT_OFFSET_MARGIN = 1000n;
const SNAPSHOT_EPOCH_MARGIN = 100;

export interface ClusterExportResult extends ExportResult {
  /** The etcd record of the snapshot id (after this export). */
  readonly exportRecord: KafkaExportRecord;
  /** True when this export chose the snapshot id (the cluster's first). */
  readonly choseSnapshotId: boolean;
}

/** Exports the cluster's metadata from etcd into `logDir`, one broker's stopped Kafka directory. */
export async function exportClusterKraftSnapshot(
  etcd: EtcdMetadataStore,
  options: { logDir: string; dryRun?: boolean; controllerListener?: string; nowMs?: number },
): Promise<ClusterExportResult> {
  const { logDir } = options;
  const adoption = await etcd.kafkaAdoption();
  if (adoption !== null && adoption.state !== "done") {
    throw new ExportError("the metadata store's import of a Kafka cluster never finished: start the importing broker again, or use an empty etcd");
  }
  // A cluster born on Sluice: no Kafka metadata anywhere, the snapshot starts a new metadata log.
  const bornOnSluice = adoption === null;
  const clusterId = adoption?.clusterId ?? (await etcd.storedClusterId());
  if (clusterId === null) throw new ExportError("the metadata store holds no cluster (no broker ever started on it): nothing to export");
  const meta = readMetaProperties(logDir);
  if (meta === null || meta.nodeId < 0) throw new ExportError(`${logDir} has no meta.properties with a node.id`);
  const nodeId = meta.nodeId;
  let record = await etcd.kafkaExport();
  // A metadata log here is only this broker's own earlier export (exported again before Kafka ran; export.ts checks it is).
  if (bornOnSluice && kafkaMetadataLogEnd(logDir) !== null && !(record?.brokers.includes(nodeId) ?? false)) {
    throw new ExportError(
      `${logDir} holds a Kafka metadata log, but the metadata store holds no adoption of a Kafka cluster: this directory is not one of this cluster's brokers'`,
    );
  }
  const snapshot = await etcd.snapshot();
  const document: SluiceDocument = {
    clusterId,
    nextProducerId: (await etcd.nextProducerId()).toString(),
    topics: [],
    brokerConfigs: {},
    scram: {},
    acls: [],
    clientQuotas: [],
    groupConfigs: {},
  };
  const partitions = new Map<string, PartitionState[]>();
  const scram: Record<string, Partial<Record<ScramMechanism, StoredScramCredential>>> = {};
  const acls: AclBinding[] = [];
  const quotas: ClientQuotaRecord[] = [];
  const brokers = new Set<number>();
  for (const change of snapshot.changes) {
    if (change.kind === "topic" && change.topic !== null) {
      document.topics.push({ name: change.topic.name, id: change.topic.id, partitions: change.topic.partitions, configs: { ...change.topic.configs } });
    } else if (change.kind === "partition" && change.partition !== null) {
      const list = partitions.get(change.topic) ?? [];
      list[change.index] = change.partition;
      partitions.set(change.topic, list);
      for (const id of change.partition.replicas) brokers.add(id);
    } else if (change.kind === "broker-configs" && Object.keys(change.configs).length > 0) {
      (document.brokerConfigs as Record<string, Record<string, string>>)[change.resource] = { ...change.configs };
    } else if (change.kind === "scram" && change.credential !== null) {
      scram[change.user] = { ...(scram[change.user] ?? {}), [change.mechanism]: change.credential };
    } else if (change.kind === "acl" && change.binding !== null) acls.push(change.binding);
    else if (change.kind === "client-quota" && change.record !== null) quotas.push(change.record);
    else if (change.kind === "group-config" && change.configs !== null) {
      (document.groupConfigs as Record<string, Record<string, string>>)[change.groupId] = { ...change.configs };
    } else if (change.kind === "broker" && change.broker !== null) {
      throw new ExportError(`broker ${change.nodeId} is registered in the metadata store: stop every Sluice broker of the cluster before exporting`);
    }
  }
  document.topics.sort((a, b) => (a.name < b.name ? -1 : 1));
  const full: SluiceDocument = { ...document, scram, acls, clientQuotas: quotas };

  let chose = false;
  if (record === null && bornOnSluice) {
    // Every broker's directory gets a new metadata log starting with the snapshot 1-0 (0-0 is kafka-storage's bootstrap snapshot).
    const proposed: KafkaExportRecord = { offset: "1", epoch: 0, nodeId, at: new Date().toISOString(), brokers: [] };
    if (options.dryRun) record = proposed;
    else {
      record = await etcd.claimKafkaExport(proposed);
      chose = record.nodeId === nodeId && record.at === proposed.at;
    }
  } else if (record === null) {
    const end = kafkaMetadataLogEnd(logDir);
    if (end === null || adoption === null) throw new ExportError(`${logDir} has no __cluster_metadata-0: not a Kafka broker's directory`);
    let offset = end.endOffset;
    brokers.add(adoption.nodeId);
    for (const id of [...brokers].sort((a, b) => a - b)) {
      const adopted = await etcd.kafkaAdoptionOfBroker(id);
      if (adopted !== null && BigInt(adopted.metadataOffset) + 1n > offset) offset = BigInt(adopted.metadataOffset) + 1n;
    }
    // Past every broker's log: the others' ends and epochs are not known here (a quorum stopped whole
    // leaves logs a few records and elections apart), hence the margins.
    offset += SNAPSHOT_OFFSET_MARGIN;
    const proposed: KafkaExportRecord = {
      offset: offset.toString(),
      epoch: end.latestEpoch + SNAPSHOT_EPOCH_MARGIN,
      nodeId,
      at: new Date().toISOString(),
      brokers: [],
    };
    if (options.dryRun) record = proposed;
    else {
      record = await etcd.claimKafkaExport(proposed);
      chose = record.nodeId === nodeId && record.at === proposed.at;
    }
  }
  const result = exportKraftSnapshot({
    logDir,
    dryRun: options.dryRun,
    controllerListener: options.controllerListener,
    nowMs: options.nowMs,
    cluster: {
      document: full,
      partitions,
      snapshotOffset: BigInt(record.offset),
      snapshotEpoch: record.epoch,
      producerIdsBrokerId: record.nodeId,
      chosenAtMs: Date.parse(record.at),
      bornOnSluice: bornOnSluice ? { brokerIds: [...brokers].sort((a, b) => a - b) } : null,
      replacesOwnExport: record.brokers.includes(nodeId),
    },
  });
  if (!options.dryRun) {
    await etcd.recordKafkaExportOfBroker(nodeId);
    record = (await etcd.kafkaExport()) ?? record;
  }
  return { ...result, exportRecord: record, choseSnapshotId: chose };
}
