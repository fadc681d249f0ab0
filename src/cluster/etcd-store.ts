// The cluster's metadata store on etcd (`metadata.store=etcd://host:2379,...`): the one place a
// cluster's shared state lives and changes. etcd is the consensus engine; this file only lays the
// state out in keys and changes it by compare-and-swap, so two brokers (or a broker and the
// controller) racing to change one thing never both succeed, and a broker that lost etcd changes
// nothing.
//
//   key (under /sluice/)              value (JSON)                                         written by
//   cluster                           { clusterId }                                        the first broker (create-if-absent)
//   brokers/<node id>                 { nodeId, rack, endpoints, epoch } under a lease      each broker (registration)
//   topics/<name>                     { name, id, partitions, configs }                    CreateTopics, CreatePartitions, configs
//   partitions/<name>/<index>         { leaderId, leaderEpoch, partitionEpoch, replicas, isr }  controller (elections), leader (ISR)
//   producer-ids                      { next }                                             InitProducerId (blocks of ids)
//   configs/brokers/<id|default>      { key: value } dynamic broker configs                AlterConfigs (throttles)
//   scram/<mechanism>/<user>          { salt, storedKey, serverKey, iterations }           AlterUserScramCredentials
//   acls/<hash of the binding>        an ACL binding (src/security/acl.ts)                  CreateAcls / DeleteAcls
//   quotas/<entity key>               { entity, values } client quotas (src/security/quota-manager.ts)          AlterClientQuotas
//   groupconfigs/<group id>           { key: value }     group configs (src/config/group-config.ts)             IncrementalAlterConfigs
//   election/controller/...           etcd3's election keys                                controller candidates
//   adoption/kafka                    { clusterId, nodeId, state, ... } Kafka's metadata imported  the first broker on a Kafka log dir (create-if-absent)
//   adoption/brokers/<node id>        { metadataOffset, at } this broker's Kafka directory checked   each broker on a Kafka log dir
//   adoption/export                   { offset, epoch, brokers } the KRaft snapshot id       the first `migrate export-kraft` (create-if-absent)
//
// A broker's registration lives as long as its lease (broker.session.timeout.ms): a broker that
// dies or loses etcd for that long disappears, and the controller moves its leaderships. The
// broker epoch is the registration's create revision (new on every registration). Every change of
// a partition compares the key's mod revision (so the partition epoch moves one step at a time);
// a leader's ISR change also compares that its own registration still holds its lease.

import { createHash } from "node:crypto";
import { type Campaign, Etcd3, type IKeyValue, type Lease, type Watcher } from "etcd3";
import type { Logger } from "pino";
import type { PartitionState } from "../log/partition.js";
import { type AclBinding, aclKey } from "../security/acl.js";
import type { ClientQuotaRecord } from "../security/client-quotas.js";
import type { StoredScramCredential } from "../security/credentials.js";
import type { ScramMechanism } from "../security/scram.js";
import type { Endpoint } from "./metadata-cache.js";

const PREFIX = "/sluice/";

export interface BrokerRegistration {
  readonly nodeId: number;
  readonly rack: string | null;
  readonly endpoints: readonly Endpoint[];
  /** The registration's create revision (Kafka's broker epoch). */
  readonly epoch: bigint;
}

export interface TopicRecord {
  readonly name: string;
  readonly id: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
}

/** A partition's state with the etcd mod revision it was read at (the compare-and-swap token). */
export interface StoredPartition extends PartitionState {
  readonly modRevision: bigint;
}

export interface StoredTopic extends TopicRecord {
  readonly modRevision: bigint;
}

/** One change seen by the watch, in etcd's order. */
export type MetadataChange =
  | { readonly kind: "broker"; readonly nodeId: number; readonly broker: BrokerRegistration | null }
  | { readonly kind: "topic"; readonly name: string; readonly topic: StoredTopic | null }
  | { readonly kind: "partition"; readonly topic: string; readonly index: number; readonly partition: StoredPartition | null }
  | { readonly kind: "broker-configs"; readonly resource: string; readonly configs: Readonly<Record<string, string>> }
  | { readonly kind: "scram"; readonly user: string; readonly mechanism: ScramMechanism; readonly credential: StoredScramCredential | null }
  | { readonly kind: "acl"; readonly id: string; readonly binding: AclBinding | null }
  | { readonly kind: "client-quota"; readonly key: string; readonly record: ClientQuotaRecord | null }
  | { readonly kind: "group-config"; readonly groupId: string; readonly configs: Record<string, string> | null };

/** Kafka's KRaft metadata imported into the cluster (src/cluster/kraft/adoption.ts): who imported it, and whether it finished. */
export interface KafkaAdoptionRecord {
  readonly clusterId: string;
  /** The broker that imports (imported) its directory's metadata log. */
  readonly nodeId: number;
  readonly metadataOffset: string;
  /** The imported metadata log's latest epoch (absent in records of older versions). */
  readonly metadataEpoch?: number;
  readonly state: "importing" | "done";
  readonly at: string;
  readonly topics: number;
}

/** What a Sluice broker of the cluster checked of its own Kafka directory at its first start. */
export interface KafkaAdoptionOfBroker {
  readonly metadataOffset: string;
  readonly at: string;
}

/** The snapshot id `migrate export-kraft` writes on every broker of a cluster going back to Kafka (adoption/export). */
export interface KafkaExportRecord {
  readonly offset: string;
  readonly epoch: number;
  /** The broker whose export chose the id. */
  readonly nodeId: number;
  readonly at: string;
  /** Brokers whose directory holds the snapshot. */
  readonly brokers: number[];
}

/** Kafka's metadata as the cluster's records, written by EtcdMetadataStore.importKafka. */
export interface KafkaImport {
  readonly topics: readonly { readonly topic: TopicRecord; readonly partitions: readonly PartitionState[] }[];
  readonly brokerConfigs: Readonly<Record<string, Record<string, string>>>;
  readonly groupConfigs: Readonly<Record<string, Record<string, string>>>;
  readonly scram: readonly { user: string; mechanism: ScramMechanism; credential: StoredScramCredential }[];
  readonly acls: readonly AclBinding[];
  readonly clientQuotas: readonly { key: string; record: ClientQuotaRecord }[];
  readonly nextProducerId: bigint | null;
}

/** Operations per etcd transaction (etcd's --max-txn-ops defaults to 128). */
const OPERATIONS_PER_TRANSACTION = 100;

export interface MetadataSnapshot {
  readonly revision: bigint;
  readonly changes: MetadataChange[];
}

/** Parses `etcd://host:port,host:port` (or http:// endpoints) into etcd3 hosts. */
export function parseEtcdUrl(url: string): string[] {
  const rest = url.replace(/^etcd:\/\//, "");
  return rest
    .split(",")
    .map((host) => host.trim())
    .filter((host) => host !== "")
    .map((host) => (host.startsWith("http://") || host.startsWith("https://") ? host : `http://${host}`));
}

function text(kv: IKeyValue): string {
  return kv.key.toString("utf8").slice(PREFIX.length);
}

function changeOf(key: string, kv: IKeyValue | null): MetadataChange | null {
  const parts = key.split("/");
  const value = kv === null ? null : JSON.parse(kv.value.toString("utf8"));
  const modRevision = kv === null ? 0n : BigInt(kv.mod_revision);
  if (parts[0] === "brokers" && parts.length === 2) {
    const nodeId = Number(parts[1]);
    const broker = value === null || kv === null ? null : { nodeId, rack: value.rack ?? null, endpoints: value.endpoints, epoch: BigInt(kv.create_revision) };
    return { kind: "broker", nodeId, broker };
  }
  if (parts[0] === "topics" && parts.length === 2) {
    return { kind: "topic", name: parts[1], topic: value === null ? null : { ...value, modRevision } };
  }
  if (parts[0] === "configs" && parts[1] === "brokers" && parts.length === 3) {
    return { kind: "broker-configs", resource: parts[2] === "default" ? "" : parts[2], configs: value ?? {} };
  }
  if (parts[0] === "scram" && parts.length === 3 && (parts[1] === "SCRAM-SHA-256" || parts[1] === "SCRAM-SHA-512")) {
    return { kind: "scram", mechanism: parts[1], user: decodeURIComponent(parts[2]), credential: value };
  }
  if (parts[0] === "groupconfigs" && parts.length === 2) {
    return { kind: "group-config", groupId: decodeURIComponent(parts[1]), configs: value };
  }
  if (parts[0] === "quotas" && parts.length === 2) {
    return { kind: "client-quota", key: decodeURIComponent(parts[1]), record: value };
  }
  if (parts[0] === "acls" && parts.length === 2) {
    return { kind: "acl", id: parts[1], binding: value };
  }
  if (parts[0] === "partitions" && parts.length === 3) {
    return { kind: "partition", topic: parts[1], index: Number(parts[2]), partition: value === null ? null : { ...value, modRevision } };
  }
  return null;
}

function partitionValue(state: PartitionState): string {
  return JSON.stringify({
    leaderId: state.leaderId,
    leaderEpoch: state.leaderEpoch,
    partitionEpoch: state.partitionEpoch,
    replicas: state.replicas,
    isr: state.isr,
    ...((state.addingReplicas?.length ?? 0) > 0 || (state.removingReplicas?.length ?? 0) > 0
      ? { addingReplicas: state.addingReplicas ?? [], removingReplicas: state.removingReplicas ?? [] }
      : {}),
  });
}

function revisionOf(result: { succeeded: boolean; header: { revision: string } }): bigint | null {
  return result.succeeded ? BigInt(result.header.revision) : null;
}

const topicKey = (name: string) => `${PREFIX}topics/${name}`;
const partitionKey = (topic: string, index: number) => `${PREFIX}partitions/${topic}/${index}`;
const brokerKey = (nodeId: number) => `${PREFIX}brokers/${nodeId}`;
const ADOPTION_KEY = `${PREFIX}adoption/kafka`;
const EXPORT_KEY = `${PREFIX}adoption/export`;
const adoptionOfBrokerKey = (nodeId: number) => `${PREFIX}adoption/brokers/${nodeId}`;

export class EtcdMetadataStore {
  readonly #client: Etcd3;
  readonly #logger: Logger;
  #lease: Lease | null = null;
  #leaseId: string | null = null;
  #watcher: Watcher | null = null;
  #campaign: Campaign | null = null;
  #closed = false;

  private constructor(client: Etcd3, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
  }

  /** Connects to the endpoints of `url` (etcd://host:port,...); fails if etcd does not answer within `timeoutMs`. */
  static async connect(url: string, logger: Logger, timeoutMs = 10_000): Promise<EtcdMetadataStore> {
    const hosts = parseEtcdUrl(url);
    if (hosts.length === 0) throw new Error(`metadata.store=${url}: no etcd endpoint`);
    const client = new Etcd3({ hosts, dialTimeout: timeoutMs });
    const store = new EtcdMetadataStore(client, logger);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await client.get(`${PREFIX}cluster`).string();
        return store;
      } catch (error) {
        if (Date.now() > deadline) {
          client.close();
          throw new Error(`metadata.store=${url}: etcd did not answer within ${timeoutMs} ms (${(error as Error).message})`);
        }
        await new Promise((wake) => setTimeout(wake, 200));
      }
    }
  }

  /** The cluster id stored in etcd; `proposed` becomes it when there is none yet (the first broker). */
  async clusterId(proposed: string): Promise<string> {
    const key = `${PREFIX}cluster`;
    await this.#client
      .if(key, "Create", "==", 0)
      .then(this.#client.put(key).value(JSON.stringify({ clusterId: proposed })))
      .commit();
    const stored = await this.storedClusterId();
    if (stored === null) throw new Error("etcd lost the cluster key");
    return stored;
  }

  /** The cluster id stored in etcd, null before a broker proposed one. */
  async storedClusterId(): Promise<string | null> {
    const stored = await this.#client.get(`${PREFIX}cluster`).string();
    return stored === null ? null : (JSON.parse(stored) as { clusterId: string }).clusterId;
  }

  /** Every broker, topic and partition, and the revision they were read at (a watch starts after it). */
  async snapshot(): Promise<MetadataSnapshot> {
    const response = await this.#client.getAll().prefix(PREFIX).exec();
    const changes: MetadataChange[] = [];
    for (const kv of response.kvs) {
      const change = changeOf(text(kv), kv);
      if (change !== null) changes.push(change);
    }
    return { revision: BigInt(response.header.revision), changes };
  }

  /**
   * Calls `onChanges` with every change after `revision`, one etcd revision at a time, in order.
   * The watch resumes by itself after a lost connection (etcd3 restarts it from the last revision seen).
   */
  async watch(revision: bigint, onChanges: (changes: MetadataChange[], revision: bigint) => void): Promise<void> {
    const watcher = await this.#client
      .watch()
      .prefix(PREFIX)
      .startRevision(String(revision + 1n))
      .create();
    this.#watcher = watcher;
    watcher.on("data", (response) => {
      if (response.events.length === 0) return;
      let batch: MetadataChange[] = [];
      let batchRevision = BigInt(response.events[0].kv.mod_revision);
      for (const event of response.events) {
        const eventRevision = BigInt(event.kv.mod_revision);
        if (eventRevision !== batchRevision && batch.length > 0) {
          onChanges(batch, batchRevision);
          batch = [];
        }
        batchRevision = eventRevision;
        const change = changeOf(text(event.kv), event.type === "Delete" ? null : event.kv);
        if (change !== null) batch.push(change);
      }
      if (batch.length > 0) onChanges(batch, batchRevision);
    });
    watcher.on("error", (error) => this.#logger.warn({ err: error }, "etcd watch error"));
  }

  /**
   * Registers this broker under a lease of `ttlMs` (kept alive), replacing an older registration
   * of the same node id. `onLost` is called when the lease is lost (etcd unreachable for its TTL).
   * Resolves to the broker epoch.
   */
  async register(broker: Omit<BrokerRegistration, "epoch">, ttlMs: number, onLost: (error: Error) => void): Promise<bigint> {
    const lease = this.#client.lease(Math.max(1, Math.ceil(ttlMs / 1000)));
    lease.on("lost", (error) => {
      if (!this.#closed) onLost(error);
    });
    this.#lease = lease;
    this.#leaseId = await lease.grant();
    const key = brokerKey(broker.nodeId);
    const value = JSON.stringify({ nodeId: broker.nodeId, rack: broker.rack, endpoints: broker.endpoints });
    // A new registration (delete, then put) so the create revision — the broker epoch — is new.
    await this.#client.delete().key(key);
    await this.#client.put(key).value(value).lease(this.#leaseId);
    const kv = await this.#client.get(key).exec();
    return BigInt(kv.kvs[0]?.create_revision ?? 0);
  }

  /** Removes this broker's registration now (controlled shutdown), instead of waiting for the lease to expire. */
  async deregister(): Promise<void> {
    const lease = this.#lease;
    this.#lease = null;
    if (lease !== null) await lease.revoke().catch(() => undefined);
  }

  /** Creates a topic and its partitions in one transaction; the revision, or null when a topic of that name exists. */
  async createTopic(topic: TopicRecord, partitions: readonly PartitionState[]): Promise<bigint | null> {
    const key = topicKey(topic.name);
    const puts = [this.#client.put(key).value(JSON.stringify(topic))];
    for (const [index, state] of partitions.entries()) puts.push(this.#client.put(partitionKey(topic.name, index)).value(partitionValue(state)));
    const result = await this.#client
      .if(key, "Create", "==", 0)
      .then(...puts)
      .commit();
    return revisionOf(result);
  }

  /** Deletes a topic and its partitions if the topic still has id `id`; the revision, or null. */
  async deleteTopic(name: string, id: string): Promise<bigint | null> {
    const key = topicKey(name);
    const current = await this.#client.get(key).exec();
    const kv = current.kvs[0];
    if (kv === undefined || (JSON.parse(kv.value.toString("utf8")) as TopicRecord).id !== id) return null;
    const result = await this.#client
      .if(key, "Mod", "==", kv.mod_revision)
      .then(this.#client.delete().key(key), this.#client.delete().prefix(`${PREFIX}partitions/${name}/`))
      .commit();
    return revisionOf(result);
  }

  /** Replaces a topic record (partition count, configs) read at `modRevision`, adding `newPartitions` after its existing ones; the revision, or null. */
  async updateTopic(topic: StoredTopic, next: TopicRecord, newPartitions: readonly PartitionState[] = []): Promise<bigint | null> {
    const puts = [
      this.#client.put(topicKey(topic.name)).value(JSON.stringify({ name: next.name, id: next.id, partitions: next.partitions, configs: next.configs })),
    ];
    for (const [i, state] of newPartitions.entries()) puts.push(this.#client.put(partitionKey(topic.name, topic.partitions + i)).value(partitionValue(state)));
    const result = await this.#client
      .if(topicKey(topic.name), "Mod", "==", String(topic.modRevision))
      .then(...puts)
      .commit();
    return revisionOf(result);
  }

  /**
   * Replaces a partition's state read at `current.modRevision` with `next` (whose partition
   * epoch the caller bumped). `fenced`: also require this broker's registration to hold its lease
   * (a leader's ISR change). The revision, or null when someone changed it first.
   */
  async updatePartition(topic: string, index: number, current: StoredPartition, next: PartitionState, fenced = false): Promise<bigint | null> {
    let txn = this.#client.if(partitionKey(topic, index), "Mod", "==", String(current.modRevision));
    if (fenced) {
      if (this.#leaseId === null) return null;
      txn = txn.and(brokerKey(next.leaderId), "Lease", "==", this.#leaseId);
    }
    const result = await txn.then(this.#client.put(partitionKey(topic, index)).value(partitionValue(next))).commit();
    return revisionOf(result);
  }

  /** Replaces a BROKER resource's dynamic configs ("" the cluster default); the revision. */
  async putBrokerConfigs(resource: string, configs: Record<string, string>): Promise<bigint> {
    const key = `${PREFIX}configs/brokers/${resource === "" ? "default" : resource}`;
    const result =
      Object.keys(configs).length === 0 ? await this.#client.delete().key(key).exec() : await this.#client.put(key).value(JSON.stringify(configs)).exec();
    return BigInt(result.header.revision);
  }

  /** Writes SCRAM credentials (null deletes) in one transaction; the revision. */
  async putScramCredentials(changes: readonly { user: string; mechanism: ScramMechanism; credential: StoredScramCredential | null }[]): Promise<bigint> {
    const operations = changes.map(({ user, mechanism, credential }) => {
      const key = `${PREFIX}scram/${mechanism}/${encodeURIComponent(user)}`;
      return credential === null ? this.#client.delete().key(key) : this.#client.put(key).value(JSON.stringify(credential));
    });
    return this.#transact(operations);
  }

  /** Adds and removes ACL bindings in one transaction (keyed by a hash of the binding); the revision. */
  async putAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<bigint> {
    const key = (binding: AclBinding) => `${PREFIX}acls/${createHash("sha256").update(aclKey(binding)).digest("hex").slice(0, 32)}`;
    const operations = [
      ...remove.map((binding) => this.#client.delete().key(key(binding))),
      ...add.map((binding) => this.#client.put(key(binding)).value(JSON.stringify(binding))),
    ];
    return this.#transact(operations);
  }

  /** Writes client quota records (null deletes) in one transaction; the revision. */
  async putClientQuotas(changes: readonly { key: string; record: ClientQuotaRecord | null }[]): Promise<bigint> {
    const operations = changes.map(({ key, record }) => {
      const path = `${PREFIX}quotas/${encodeURIComponent(key)}`;
      return record === null ? this.#client.delete().key(path) : this.#client.put(path).value(JSON.stringify(record));
    });
    return this.#transact(operations);
  }

  /** Writes a group's configs (empty deletes them); the revision. */
  async putGroupConfig(groupId: string, configs: Readonly<Record<string, string>>): Promise<bigint> {
    const path = `${PREFIX}groupconfigs/${encodeURIComponent(groupId)}`;
    return this.#transact([Object.keys(configs).length === 0 ? this.#client.delete().key(path) : this.#client.put(path).value(JSON.stringify(configs))]);
  }

  /** Runs `operations` in one etcd transaction (its condition always holds while the cluster key exists); the revision. */
  async #transact(operations: Parameters<ReturnType<Etcd3["if"]>["then"]>): Promise<bigint> {
    const result = await this.#client
      .if(`${PREFIX}cluster`, "Create", ">", 0)
      .then(...operations)
      .commit();
    if (!result.succeeded) throw new Error("the cluster's metadata is gone from etcd");
    return BigInt(result.header.revision);
  }

  /** The record of Kafka's metadata imported into the cluster, null when none was. */
  async kafkaAdoption(): Promise<KafkaAdoptionRecord | null> {
    const stored = await this.#client.get(ADOPTION_KEY).string();
    return stored === null ? null : (JSON.parse(stored) as KafkaAdoptionRecord);
  }

  /**
   * Claims the import of Kafka's metadata (create-if-absent, so of brokers starting together one
   * imports); resolves to the record stored: `record` when this broker won, else the other's.
   */
  async claimKafkaAdoption(record: KafkaAdoptionRecord): Promise<KafkaAdoptionRecord> {
    await this.#client
      .if(ADOPTION_KEY, "Create", "==", 0)
      .then(this.#client.put(ADOPTION_KEY).value(JSON.stringify(record)))
      .commit();
    const stored = await this.kafkaAdoption();
    if (stored === null) throw new Error("etcd lost the Kafka adoption key");
    return stored;
  }

  /** Marks the import claimed by `record` (same broker) done. */
  async finishKafkaAdoption(record: KafkaAdoptionRecord): Promise<void> {
    const current = await this.#client.get(ADOPTION_KEY).exec();
    const kv = current.kvs[0];
    if (kv === undefined || (JSON.parse(kv.value.toString("utf8")) as KafkaAdoptionRecord).nodeId !== record.nodeId) {
      throw new Error("the Kafka adoption record changed while this broker imported");
    }
    const result = await this.#client
      .if(ADOPTION_KEY, "Mod", "==", kv.mod_revision)
      .then(this.#client.put(ADOPTION_KEY).value(JSON.stringify({ ...record, state: "done" })))
      .commit();
    if (!result.succeeded) throw new Error("the Kafka adoption record changed while this broker imported");
  }

  async kafkaAdoptionOfBroker(nodeId: number): Promise<KafkaAdoptionOfBroker | null> {
    const stored = await this.#client.get(adoptionOfBrokerKey(nodeId)).string();
    return stored === null ? null : (JSON.parse(stored) as KafkaAdoptionOfBroker);
  }

  async recordKafkaAdoptionOfBroker(nodeId: number, record: KafkaAdoptionOfBroker): Promise<void> {
    await this.#client.put(adoptionOfBrokerKey(nodeId)).value(JSON.stringify(record)).exec();
  }

  /**
   * Writes Kafka's metadata as the cluster's records, in transactions of at most
   * OPERATIONS_PER_TRANSACTION operations (a topic's key last, after its partitions). Can run again
   * after an interrupted import: a topic present with the same id is left as it is; one with another
   * id stops the import. Configs merge under what the cluster has; SCRAM, ACLs and quotas the
   * cluster has are kept; the producer id counter only goes up.
   */
  async importKafka(data: KafkaImport): Promise<void> {
    for (const { topic, partitions } of data.topics) {
      const existing = await this.#client.get(topicKey(topic.name)).string();
      if (existing !== null) {
        const id = (JSON.parse(existing) as TopicRecord).id;
        if (id !== topic.id) throw new Error(`topic ${topic.name} has id ${id} in the cluster but ${topic.id} in Kafka's metadata`);
        continue;
      }
      const puts = partitions.map((state, index) => this.#client.put(partitionKey(topic.name, index)).value(partitionValue(state)));
      for (let i = 0; i < puts.length; i += OPERATIONS_PER_TRANSACTION) await this.#transact(puts.slice(i, i + OPERATIONS_PER_TRANSACTION));
      const result = await this.#client
        .if(topicKey(topic.name), "Create", "==", 0)
        .then(this.#client.put(topicKey(topic.name)).value(JSON.stringify(topic)))
        .commit();
      if (!result.succeeded) throw new Error(`topic ${topic.name} was created in the cluster while Kafka's metadata was imported`);
    }
    const current = await this.snapshot();
    const brokerConfigs = new Map<string, Readonly<Record<string, string>>>();
    const scram = new Set<string>();
    const acls = new Set<string>();
    const quotas = new Set<string>();
    const groupConfigs = new Map<string, Record<string, string>>();
    for (const change of current.changes) {
      if (change.kind === "broker-configs") brokerConfigs.set(change.resource, change.configs);
      else if (change.kind === "scram" && change.credential !== null) scram.add(`${change.mechanism}/${change.user}`);
      else if (change.kind === "acl" && change.binding !== null) acls.add(aclKey(change.binding));
      else if (change.kind === "client-quota" && change.record !== null) quotas.add(change.key);
      else if (change.kind === "group-config" && change.configs !== null) groupConfigs.set(change.groupId, change.configs);
    }
    for (const [resource, configs] of Object.entries(data.brokerConfigs)) {
      await this.putBrokerConfigs(resource, { ...configs, ...(brokerConfigs.get(resource) ?? {}) });
    }
    for (const [groupId, configs] of Object.entries(data.groupConfigs))
      await this.putGroupConfig(groupId, { ...configs, ...(groupConfigs.get(groupId) ?? {}) });
    const newScram = data.scram.filter((c) => !scram.has(`${c.mechanism}/${c.user}`));
    for (let i = 0; i < newScram.length; i += OPERATIONS_PER_TRANSACTION) await this.putScramCredentials(newScram.slice(i, i + OPERATIONS_PER_TRANSACTION));
    const newAcls = data.acls.filter((binding) => !acls.has(aclKey(binding)));
    for (let i = 0; i < newAcls.length; i += OPERATIONS_PER_TRANSACTION) await this.putAcls(newAcls.slice(i, i + OPERATIONS_PER_TRANSACTION), []);
    const newQuotas = data.clientQuotas.filter((q) => !quotas.has(q.key));
    for (let i = 0; i < newQuotas.length; i += OPERATIONS_PER_TRANSACTION) await this.putClientQuotas(newQuotas.slice(i, i + OPERATIONS_PER_TRANSACTION));
    if (data.nextProducerId !== null) {
      const key = `${PREFIX}producer-ids`;
      for (;;) {
        const stored = await this.#client.get(key).exec();
        const kv = stored.kvs[0];
        const next = kv === undefined ? 0n : BigInt((JSON.parse(kv.value.toString("utf8")) as { next: string }).next);
        if (next >= data.nextProducerId) break;
        const txn = kv === undefined ? this.#client.if(key, "Create", "==", 0) : this.#client.if(key, "Mod", "==", kv.mod_revision);
        const result = await txn.then(this.#client.put(key).value(JSON.stringify({ next: data.nextProducerId.toString() }))).commit();
        if (result.succeeded) break;
      }
    }
  }

  /** The next producer id the cluster hands out (read only). */
  async nextProducerId(): Promise<bigint> {
    const stored = await this.#client.get(`${PREFIX}producer-ids`).string();
    return stored === null ? 0n : BigInt((JSON.parse(stored) as { next: string }).next);
  }

  /** The KRaft snapshot id the first `migrate export-kraft` of the cluster chose, null before any. */
  async kafkaExport(): Promise<KafkaExportRecord | null> {
    const stored = await this.#client.get(EXPORT_KEY).string();
    return stored === null ? null : (JSON.parse(stored) as KafkaExportRecord);
  }

  /** Claims the snapshot id (create-if-absent); resolves to the record stored: `record`, or an earlier export's. */
  async claimKafkaExport(record: KafkaExportRecord): Promise<KafkaExportRecord> {
    await this.#client
      .if(EXPORT_KEY, "Create", "==", 0)
      .then(this.#client.put(EXPORT_KEY).value(JSON.stringify(record)))
      .commit();
    const stored = await this.kafkaExport();
    if (stored === null) throw new Error("etcd lost the Kafka export key");
    return stored;
  }

  /** Adds `nodeId` to the brokers that wrote the export's snapshot (compare-and-swap). */
  async recordKafkaExportOfBroker(nodeId: number): Promise<void> {
    for (;;) {
      const current = await this.#client.get(EXPORT_KEY).exec();
      const kv = current.kvs[0];
      if (kv === undefined) throw new Error("no Kafka export record in etcd");
      const record = JSON.parse(kv.value.toString("utf8")) as KafkaExportRecord;
      if (record.brokers.includes(nodeId)) return;
      const next = { ...record, brokers: [...record.brokers, nodeId].sort((a, b) => a - b) };
      const result = await this.#client
        .if(EXPORT_KEY, "Mod", "==", kv.mod_revision)
        .then(this.#client.put(EXPORT_KEY).value(JSON.stringify(next)))
        .commit();
      if (result.succeeded) return;
    }
  }

  /** Reserves `count` producer ids (compare-and-swap on the counter); resolves to the first. */
  async allocateProducerIds(count: number): Promise<bigint> {
    const key = `${PREFIX}producer-ids`;
    for (;;) {
      const current = await this.#client.get(key).exec();
      const kv = current.kvs[0];
      const first = kv === undefined ? 0n : BigInt((JSON.parse(kv.value.toString("utf8")) as { next: string }).next);
      const value = JSON.stringify({ next: (first + BigInt(count)).toString() });
      const txn = kv === undefined ? this.#client.if(key, "Create", "==", 0) : this.#client.if(key, "Mod", "==", kv.mod_revision);
      const result = await txn.then(this.#client.put(key).value(value)).commit();
      if (result.succeeded) return first;
    }
  }

  /**
   * Campaigns to be the controller (etcd's election, under its own lease of `ttlMs`): `onElected`
   * once this broker wins, `onLost` if it loses the office (its lease); then it campaigns again.
   */
  campaign(nodeId: number, ttlMs: number, onElected: () => void, onLost: () => void): void {
    if (this.#closed) return;
    const election = this.#client.election("controller", Math.max(1, Math.ceil(ttlMs / 1000)));
    const campaign = election.campaign(String(nodeId));
    this.#campaign = campaign;
    campaign.on("elected", onElected);
    campaign.on("error", (error) => {
      this.#logger.warn({ err: error }, "controller campaign ended");
      onLost();
      if (!this.#closed) setTimeout(() => this.campaign(nodeId, ttlMs, onElected, onLost), 1000).unref();
    });
  }

  /** Calls `onChange` with the active controller's node id (-1 when none) whenever it changes. */
  async observeController(onChange: (nodeId: number) => void): Promise<void> {
    const observer = await this.#client.election("controller").observe();
    const report = (value: string | undefined) => onChange(value === undefined ? -1 : Number(value));
    observer.on("change", report);
    observer.on("error", (error) => this.#logger.debug({ err: error }, "controller observer error"));
    report(observer.leader());
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#campaign?.resign().catch(() => undefined);
    await this.#watcher?.cancel().catch(() => undefined);
    await this.deregister();
    this.#client.close();
  }
}
