// The cluster metadata of a single-node broker: cluster id, topics (name, id, partition
// count, config overrides) and the producer id blocks handed out so far.
//
// Kafka keeps this in the KRaft metadata log (__cluster_metadata); a single node keeps it in
// one JSON document, `sluice-metadata.json` in the first log directory, replaced atomically
// (write a temporary file, fsync it, rename it over the old one, fsync the directory) after
// every change and before the change is acknowledged. A cluster (issue: etcd) replaces this
// store, not its callers.

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { GroupConfigStore } from "../config/group-config.js";
import { type AclBinding, type AclStore, aclKey } from "../security/acl.js";
import { applied, type ClientQuotaChange, type ClientQuotaRecord, type ClientQuotaStore, entityKey } from "../security/client-quotas.js";
import {
  credentialOfStored,
  type ScramCredentialChange,
  type ScramCredentialStore,
  ScramCredentialTable,
  type StoredScramCredential,
  storedCredential,
} from "../security/credentials.js";
import type { ScramCredential, ScramMechanism } from "../security/scram.js";
import type { BrokerConfigStore } from "./broker-configs.js";
import type { AdoptionPlan } from "./kraft/adoption.js";

export const METADATA_FILE = "sluice-metadata.json";
const FORMAT_VERSION = 1;

/** Kafka's Uuid.randomUuid(): 16 random bytes printed as unpadded base64url, never zero nor starting with '-'. */
export function randomKafkaUuid(): string {
  for (;;) {
    const bytes = randomBytes(16);
    const text = bytes.toString("base64url");
    if (text.startsWith("-")) continue;
    // Uuid.ZERO_UUID and Uuid.METADATA_TOPIC_ID (0...01) are reserved.
    if (bytes.subarray(0, 15).every((b) => b === 0) && bytes[15] <= 1) continue;
    return text;
  }
}

export interface TopicState {
  readonly name: string;
  readonly id: string;
  partitions: number;
  /** Topic config overrides (Kafka's names), as strings. */
  configs: Record<string, string>;
}

interface Document {
  version: number;
  clusterId: string;
  /** Producer ids below this have been handed out (or reserved) already. */
  nextProducerId: string;
  topics: TopicState[];
  /** Dynamic broker configs by resource ("" the default, else a node id); absent in older files. */
  brokerConfigs?: Record<string, Record<string, string>>;
  /** SCRAM credentials by user and mechanism (src/security/credentials.ts); absent in older files. */
  scram?: Record<string, Partial<Record<ScramMechanism, StoredScramCredential>>>;
  /** ACL bindings (src/security/acl.ts); absent in older files. */
  acls?: AclBinding[];
  /** Client quotas (src/security/client-quotas.ts); absent in older files. */
  clientQuotas?: ClientQuotaRecord[];
  /** Group configs by group id (src/config/group-config.ts); absent in older files. */
  groupConfigs?: Record<string, Record<string, string>>;
  /** Set once the Kafka KRaft metadata found in the log directory was imported (src/cluster/kraft/adoption.ts). */
  adoptedFromKafka?: AdoptedFromKafka;
}

/** The record of an import of a Kafka broker's KRaft metadata: it happens once per directory. */
export interface AdoptedFromKafka {
  readonly clusterId: string;
  /** The offset of the last metadata record imported. */
  readonly metadataOffset: string;
  /** When (ISO 8601). */
  readonly at: string;
  readonly topics: number;
}

export class MetadataStore implements BrokerConfigStore, ScramCredentialStore, AclStore, ClientQuotaStore, GroupConfigStore {
  readonly #path: string;
  readonly #directory: string;
  #document: Document;
  readonly #byName = new Map<string, TopicState>();
  readonly #byId = new Map<string, TopicState>();
  readonly #scram = new ScramCredentialTable();
  readonly #quotaListeners: (() => void)[] = [];
  readonly #groupConfigListeners: ((groupId: string) => void)[] = [];
  /** Saves run one at a time, in order. */
  #saving: Promise<void> = Promise.resolve();

  private constructor(directory: string, document: Document) {
    this.#directory = directory;
    this.#path = join(directory, METADATA_FILE);
    this.#document = document;
    for (const topic of document.topics) this.#index(topic);
    for (const [user, mechanisms] of Object.entries(document.scram ?? {})) {
      for (const [mechanism, stored] of Object.entries(mechanisms)) {
        if (stored !== undefined) this.#scram.set(user, mechanism as ScramMechanism, credentialOfStored(stored));
      }
    }
  }

  /** Loads the store from `directory` (a log directory), creating it with `clusterId` when absent. */
  static async open(directory: string, clusterId: string): Promise<MetadataStore> {
    await mkdir(directory, { recursive: true });
    let text: string | null = null;
    try {
      text = await readFile(join(directory, METADATA_FILE), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text === null) {
      const store = new MetadataStore(directory, { version: FORMAT_VERSION, clusterId, nextProducerId: "0", topics: [] });
      await store.save();
      return store;
    }
    const document = JSON.parse(text) as Document;
    if (document.version !== FORMAT_VERSION) throw new Error(`${METADATA_FILE}: unsupported format version ${document.version}`);
    if (document.clusterId !== clusterId) {
      throw new Error(`${METADATA_FILE} belongs to cluster ${document.clusterId}, but meta.properties says ${clusterId}`);
    }
    return new MetadataStore(directory, document);
  }

  get clusterId(): string {
    return this.#document.clusterId;
  }

  topics(): readonly TopicState[] {
    return this.#document.topics;
  }

  topic(name: string): TopicState | undefined {
    return this.#byName.get(name);
  }

  topicById(id: string): TopicState | undefined {
    return this.#byId.get(id);
  }

  /** Records a new topic (the caller validated it) and persists it. */
  async createTopic(name: string, partitions: number, configs: Record<string, string>, topicId?: string): Promise<TopicState> {
    if (this.#byName.has(name)) throw new Error(`topic ${name} exists`);
    let id = topicId ?? randomKafkaUuid();
    while (this.#byId.has(id)) id = randomKafkaUuid();
    const topic: TopicState = { name, id, partitions, configs: { ...configs } };
    this.#document.topics.push(topic);
    this.#index(topic);
    await this.save();
    return topic;
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.#byName.get(name);
    if (topic === undefined) return;
    this.#document.topics = this.#document.topics.filter((t) => t !== topic);
    this.#byName.delete(name);
    this.#byId.delete(topic.id);
    await this.save();
  }

  async setPartitionCount(name: string, partitions: number): Promise<void> {
    const topic = this.#byName.get(name);
    if (topic === undefined) throw new Error(`no topic ${name}`);
    topic.partitions = partitions;
    await this.save();
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = this.#byName.get(name);
    if (topic === undefined) throw new Error(`no topic ${name}`);
    topic.configs = { ...configs };
    await this.save();
  }

  /** A BROKER resource's dynamic configs (src/cluster/broker-configs.ts). */
  brokerConfigs(resource: string): Readonly<Record<string, string>> {
    return this.#document.brokerConfigs?.[resource] ?? {};
  }

  async setBrokerConfigs(resource: string, configs: Record<string, string>): Promise<void> {
    const all = { ...(this.#document.brokerConfigs ?? {}) };
    if (Object.keys(configs).length === 0) delete all[resource];
    else all[resource] = { ...configs };
    this.#document.brokerConfigs = all;
    await this.save();
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#scram.get(user, mechanism);
  }

  scramUsers(): ReadonlyMap<string, ReadonlyMap<ScramMechanism, number>> {
    return this.#scram.users();
  }

  async alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void> {
    const all = { ...(this.#document.scram ?? {}) };
    for (const { user, mechanism, credential } of changes) {
      this.#scram.set(user, mechanism, credential);
      const mechanisms = { ...(all[user] ?? {}) };
      if (credential === null) delete mechanisms[mechanism];
      else mechanisms[mechanism] = storedCredential(credential);
      if (Object.keys(mechanisms).length === 0) delete all[user];
      else all[user] = mechanisms;
    }
    this.#document.scram = all;
    await this.save();
  }

  acls(): readonly AclBinding[] {
    return this.#document.acls ?? [];
  }

  async alterAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void> {
    const removed = new Set(remove.map(aclKey));
    const kept = (this.#document.acls ?? []).filter((binding) => !removed.has(aclKey(binding)));
    const present = new Set(kept.map(aclKey));
    for (const binding of add) {
      if (present.has(aclKey(binding))) continue;
      present.add(aclKey(binding));
      kept.push({ ...binding });
    }
    this.#document.acls = kept;
    await this.save();
  }

  clientQuotas(): readonly ClientQuotaRecord[] {
    return this.#document.clientQuotas ?? [];
  }

  async alterClientQuotas(changes: readonly ClientQuotaChange[]): Promise<void> {
    const records = new Map((this.#document.clientQuotas ?? []).map((record) => [entityKey(record.entity), record]));
    for (const change of changes) {
      const key = entityKey(change.entity);
      const next = applied(records.get(key), change);
      if (next === null) records.delete(key);
      else records.set(key, next);
    }
    this.#document.clientQuotas = [...records.values()];
    await this.save();
    for (const listener of this.#quotaListeners) listener();
  }

  onClientQuotasChanged(listener: () => void): void {
    this.#quotaListeners.push(listener);
  }

  groupConfig(groupId: string): Readonly<Record<string, string>> {
    return this.#document.groupConfigs?.[groupId] ?? {};
  }

  async setGroupConfig(groupId: string, configs: Readonly<Record<string, string>>): Promise<void> {
    const all = { ...(this.#document.groupConfigs ?? {}) };
    if (Object.keys(configs).length === 0) delete all[groupId];
    else all[groupId] = { ...configs };
    this.#document.groupConfigs = all;
    await this.save();
    for (const listener of this.#groupConfigListeners) listener(groupId);
  }

  onGroupConfigChanged(listener: (groupId: string) => void): void {
    this.#groupConfigListeners.push(listener);
  }

  groupsWithConfigs(): string[] {
    return Object.keys(this.#document.groupConfigs ?? {});
  }

  /** The import of Kafka's metadata this directory had, if any. */
  get adoptedFromKafka(): AdoptedFromKafka | undefined {
    return this.#document.adoptedFromKafka;
  }

  /**
   * Imports a Kafka broker's metadata in one durable write: topics with Kafka's ids and configs,
   * dynamic broker and group configs, SCRAM credentials, ACLs, client quotas, and the producer id block
   * (ids below Kafka's next block are never handed out again). What this store already holds wins
   * (a topic of the same name must have the same id); then `adoptedFromKafka` is set, so it
   * happens once.
   */
  async adoptKafka(plan: AdoptionPlan): Promise<void> {
    if (this.#document.adoptedFromKafka !== undefined) throw new Error(`${METADATA_FILE}: Kafka's metadata was imported already`);
    if (plan.clusterId !== null && plan.clusterId !== this.clusterId) {
      throw new Error(`the Kafka metadata belongs to cluster ${plan.clusterId}, but ${METADATA_FILE} to ${this.clusterId}`);
    }
    const document = structuredClone(this.#document);
    for (const topic of plan.topics) {
      const existing = this.#byName.get(topic.name);
      if (existing !== undefined) {
        if (existing.id !== topic.id) throw new Error(`topic ${topic.name} has id ${existing.id} here but ${topic.id} in Kafka's metadata`);
        const stored = document.topics.find((t) => t.name === topic.name) as TopicState;
        stored.configs = { ...topic.configs, ...stored.configs };
        stored.partitions = Math.max(stored.partitions, topic.partitions);
        continue;
      }
      if (this.#byId.has(topic.id)) throw new Error(`topic id ${topic.id} of Kafka's ${topic.name} belongs to ${this.#byId.get(topic.id)?.name} here`);
      const state: TopicState = { name: topic.name, id: topic.id, partitions: topic.partitions, configs: { ...topic.configs } };
      document.topics.push(state);
    }
    const brokerConfigs = { ...(document.brokerConfigs ?? {}) };
    for (const [resource, configs] of Object.entries(plan.brokerConfigs)) brokerConfigs[resource] = { ...configs, ...(brokerConfigs[resource] ?? {}) };
    document.brokerConfigs = brokerConfigs;
    const groupConfigs = { ...(document.groupConfigs ?? {}) };
    for (const [group, configs] of Object.entries(plan.groupConfigs)) groupConfigs[group] = { ...configs, ...(groupConfigs[group] ?? {}) };
    if (Object.keys(groupConfigs).length > 0) document.groupConfigs = groupConfigs;
    const scram = { ...(document.scram ?? {}) };
    for (const credential of plan.scram) {
      const mechanisms = { ...(scram[credential.user] ?? {}) };
      mechanisms[credential.mechanism] ??= storedCredential(credential);
      scram[credential.user] = mechanisms;
    }
    document.scram = scram;
    const acls = [...(document.acls ?? [])];
    const present = new Set(acls.map(aclKey));
    for (const binding of plan.acls) if (!present.has(aclKey(binding))) acls.push({ ...binding });
    document.acls = acls;
    const quotas = new Map((document.clientQuotas ?? []).map((record) => [entityKey(record.entity), record]));
    for (const record of plan.clientQuotas) if (!quotas.has(entityKey(record.entity))) quotas.set(entityKey(record.entity), record);
    document.clientQuotas = [...quotas.values()];
    if (plan.nextProducerId !== null && plan.nextProducerId > BigInt(document.nextProducerId)) document.nextProducerId = plan.nextProducerId.toString();
    document.adoptedFromKafka = {
      clusterId: plan.clusterId ?? this.clusterId,
      metadataOffset: plan.metadataOffset.toString(),
      at: new Date().toISOString(),
      topics: plan.topics.length,
    };
    this.#document = document;
    this.#byName.clear();
    this.#byId.clear();
    for (const topic of document.topics) this.#index(topic);
    for (const [user, mechanisms] of Object.entries(scram)) {
      for (const [mechanism, stored] of Object.entries(mechanisms)) {
        if (stored !== undefined) this.#scram.set(user, mechanism as ScramMechanism, credentialOfStored(stored));
      }
    }
    await this.save();
    for (const listener of this.#quotaListeners) listener();
  }

  /** Reserves `count` producer ids and returns the first; persisted before it is returned. */
  async allocateProducerIds(count: number): Promise<bigint> {
    const first = BigInt(this.#document.nextProducerId);
    this.#document.nextProducerId = (first + BigInt(count)).toString();
    await this.save();
    return first;
  }

  #index(topic: TopicState): void {
    this.#byName.set(topic.name, topic);
    this.#byId.set(topic.id, topic);
  }

  /** Writes the document atomically; resolves once it is durable. */
  save(): Promise<void> {
    const text = `${JSON.stringify(this.#document, null, 2)}\n`;
    const next = this.#saving.then(() => writeDurably(this.#directory, this.#path, text));
    this.#saving = next.catch(() => {});
    return next;
  }
}

/** Replaces `path` with `text`: temporary file, fsync, rename, fsync of the directory. */
export async function writeDurably(directory: string, path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await open(temporary, "w");
  try {
    await file.writeFile(text, "utf8");
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  const dir = await open(directory, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
