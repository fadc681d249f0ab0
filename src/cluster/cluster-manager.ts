// The topic manager of a broker in a cluster (metadata.store=etcd://...): the same service as
// the single node's TopicManager (topic-manager.ts) — create, delete, add partitions, change
// configs — over the cluster's metadata in etcd (etcd-store.ts), and the one writer of this
// broker's view of it.
//
// Writes go to etcd by compare-and-swap and come back through the watch like everyone else's; a
// request that changed something waits until this broker has applied the change, so its next
// request sees it. The watch's changes are applied one revision at a time, in order (a queue):
//   broker registered / gone      → metadata cache (live brokers, offline replicas)
//   topic created / changed       → metadata cache; every partition with a replica here is hosted
//   partition state changed       → the hosted partition becomes leader or follower, or applies the
//                                   new ISR (PartitionManager.host / applyState); a partition moved
//                                   away from this broker stops and its log is deleted
//   topic deleted                 → gone from the metadata cache, then its partitions here deleted
// At start the whole snapshot is applied before the broker serves, and local partition logs the
// metadata does not know (a topic deleted while this broker was down, or recreated with a new
// topic id) are deleted, as Kafka deletes stray partitions.
//
// Leaders propose ISR changes through alterIsr (Kafka's AlterPartition), fenced by this broker's
// registration lease; the controller (controller.ts) elects leaders.

import type { Logger } from "pino";
import type { GroupConfigStore } from "../config/group-config.js";
import type { BrokerConfig, TopicConfig } from "../config/index.js";
import { effectiveTopicConfig, isInternalTopic, toProduceSettings } from "../config/index.js";
import type { LogManager } from "../log/log-manager.js";
import type { Partition, PartitionState } from "../log/partition.js";
import type { PartitionManager } from "../log/partition-manager.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import type { AclBinding, AclStore } from "../security/acl.js";
import { applied, type ClientQuotaChange, type ClientQuotaRecord, type ClientQuotaStore, entityKey } from "../security/client-quotas.js";
import { credentialOfStored, type ScramCredentialChange, type ScramCredentialStore, ScramCredentialTable, storedCredential } from "../security/credentials.js";
import type { ScramCredential, ScramMechanism } from "../security/scram.js";
import type { BrokerConfigStore } from "./broker-configs.js";
import type { BrokerRegistration, EtcdMetadataStore, MetadataChange, StoredPartition, StoredTopic } from "./etcd-store.js";
import { randomKafkaUuid } from "./metadata.js";
import type { MetadataCache, PartitionMetadata, TopicMetadata } from "./metadata-cache.js";
import { assignReplicas, replicationFactorError } from "./placement.js";
import {
  cancelReassignment,
  checkTarget,
  type PartitionReassignment,
  type ReassignmentResult,
  type Reassignments,
  startReassignment,
} from "./reassignments.js";
import { logConfigFor, type Placement, type Topics } from "./topic-manager.js";

export interface ClusterManagerServices {
  readonly config: BrokerConfig;
  readonly store: EtcdMetadataStore;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly logs: LogManager;
  readonly logger: Logger;
}

export class ClusterManager implements Topics, Reassignments, BrokerConfigStore, ScramCredentialStore, AclStore, ClientQuotaStore, GroupConfigStore {
  readonly #services: ClusterManagerServices;
  readonly #brokers = new Map<number, BrokerRegistration>();
  readonly #topics = new Map<string, StoredTopic>();
  readonly #partitions = new Map<string, (StoredPartition | undefined)[]>();
  readonly #creating = new Map<string, Promise<TopicMetadata>>();
  readonly #brokerConfigs = new Map<string, Readonly<Record<string, string>>>();
  readonly #scram = new ScramCredentialTable();
  readonly #acls = new Map<string, AclBinding>();
  #aclList: readonly AclBinding[] = [];
  readonly #quotas = new Map<string, ClientQuotaRecord>();
  readonly #groupConfigs = new Map<string, Record<string, string>>();
  readonly #groupConfigListeners: ((groupId: string) => void)[] = [];
  #quotaList: readonly ClientQuotaRecord[] = [];
  readonly #quotaListeners: (() => void)[] = [];
  readonly #deletionListeners: ((topic: TopicMetadata) => void)[] = [];
  readonly #changeListeners: ((topic: TopicMetadata, created: boolean) => void)[] = [];
  readonly #imageListeners: (() => void)[] = [];
  /** Changes applied one revision at a time. */
  #queue: Promise<void> = Promise.resolve();
  #appliedRevision = 0n;
  readonly #revisionWaiters: { revision: bigint; resolve: () => void }[] = [];

  constructor(services: ClusterManagerServices) {
    this.#services = services;
  }

  onTopicDeleted(listener: (topic: TopicMetadata) => void): void {
    this.#deletionListeners.push(listener);
  }

  onTopicChanged(listener: (topic: TopicMetadata, created: boolean) => void): void {
    this.#changeListeners.push(listener);
  }

  /** Calls `listener` after each applied change (the controller re-examines the cluster). */
  onImageChanged(listener: () => void): void {
    this.#imageListeners.push(listener);
  }

  exists(name: string): boolean {
    return this.#topics.has(name) || this.#creating.has(name);
  }

  configFor(overrides: Readonly<Record<string, string>>): TopicConfig {
    return effectiveTopicConfig(overrides, this.#services.config);
  }

  /** The live brokers' registrations. */
  brokers(): BrokerRegistration[] {
    return [...this.#brokers.values()];
  }

  isAlive(nodeId: number): boolean {
    return this.#brokers.has(nodeId);
  }

  /** Every partition's stored state with its topic (the controller's view). */
  *storedPartitions(): Generator<{ topic: StoredTopic; index: number; state: StoredPartition }> {
    for (const topic of this.#topics.values()) {
      const states = this.#partitions.get(topic.name) ?? [];
      for (const [index, state] of states.entries()) if (state !== undefined) yield { topic, index, state };
    }
  }

  storedPartition(topic: string, index: number): StoredPartition | undefined {
    return this.#partitions.get(topic)?.[index];
  }

  get store(): EtcdMetadataStore {
    return this.#services.store;
  }

  // ------------------------------------------------------------------------------------------
  // Start

  /** Applies the whole metadata snapshot (hosting this broker's partitions), deletes stray logs, then follows the watch. */
  async load(): Promise<void> {
    const { store, logs, logger } = this.#services;
    const snapshot = await store.snapshot();
    await this.#apply(snapshot.changes, snapshot.revision, true);
    for (const log of [...logs.logs()]) {
      const topic = this.#topics.get(log.topic);
      const state = this.#partitions.get(log.topic)?.[log.partition];
      const mine = state?.replicas.includes(this.#services.metadata.nodeId) ?? false;
      if (topic !== undefined && mine && (log.topicId === null || log.topicId === topic.id)) continue;
      logger.warn({ partition: `${log.topic}-${log.partition}`, topicId: log.topicId }, "deleting a stray partition the cluster metadata does not place here");
      await this.#services.partitions.stopPartition(log.topic, log.partition, false);
      await logs.deletePartition(log.topic, log.partition);
    }
    await store.watch(snapshot.revision, (changes, revision) => {
      this.#queue = this.#queue
        .then(() => this.#apply(changes, revision, false))
        .catch((error) => logger.error({ err: error, revision: String(revision) }, "failed to apply a metadata change"));
    });
  }

  /** Resolves once this broker has applied every change up to `revision`. */
  waitForRevision(revision: bigint): Promise<void> {
    if (this.#appliedRevision >= revision) return Promise.resolve();
    return new Promise((resolve) => this.#revisionWaiters.push({ revision, resolve }));
  }

  async #apply(changes: readonly MetadataChange[], revision: bigint, initial: boolean): Promise<void> {
    const { metadata } = this.#services;
    const touchedTopics = new Set<string>();
    const deletedTopics: StoredTopic[] = [];
    let brokersChanged = false;
    let quotasChanged = false;
    for (const change of changes) {
      if (change.kind === "broker") {
        brokersChanged = true;
        if (change.broker === null) {
          this.#brokers.delete(change.nodeId);
          if (change.nodeId !== metadata.nodeId) metadata.removeBroker(change.nodeId);
        } else {
          this.#brokers.set(change.nodeId, change.broker);
          metadata.putBroker({ nodeId: change.nodeId, rack: change.broker.rack, endpoints: change.broker.endpoints });
        }
      } else if (change.kind === "group-config") {
        if (change.configs === null) this.#groupConfigs.delete(change.groupId);
        else this.#groupConfigs.set(change.groupId, change.configs);
        for (const listener of this.#groupConfigListeners) listener(change.groupId);
      } else if (change.kind === "client-quota") {
        if (change.record === null) this.#quotas.delete(change.key);
        else this.#quotas.set(change.key, change.record);
        this.#quotaList = [...this.#quotas.values()];
        quotasChanged = true;
      } else if (change.kind === "acl") {
        if (change.binding === null) this.#acls.delete(change.id);
        else this.#acls.set(change.id, change.binding);
        this.#aclList = [...this.#acls.values()];
      } else if (change.kind === "scram") {
        this.#scram.set(change.user, change.mechanism, change.credential === null ? null : credentialOfStored(change.credential));
      } else if (change.kind === "broker-configs") {
        if (Object.keys(change.configs).length === 0) this.#brokerConfigs.delete(change.resource);
        else this.#brokerConfigs.set(change.resource, change.configs);
      } else if (change.kind === "topic") {
        const previous = this.#topics.get(change.name);
        if (change.topic === null) {
          if (previous !== undefined) deletedTopics.push(previous);
          this.#topics.delete(change.name);
          this.#partitions.delete(change.name);
        } else {
          if (previous !== undefined && previous.id !== change.topic.id) deletedTopics.push(previous);
          this.#topics.set(change.name, change.topic);
          touchedTopics.add(change.name);
        }
      } else {
        let states = this.#partitions.get(change.topic);
        if (states === undefined) {
          states = [];
          this.#partitions.set(change.topic, states);
        }
        if (change.partition === null) delete states[change.index];
        else states[change.index] = change.partition;
        touchedTopics.add(change.topic);
      }
    }
    if (quotasChanged) {
      for (const listener of this.#quotaListeners) {
        try {
          listener();
        } catch (error) {
          this.#services.logger.error({ err: error }, "client quota change could not be applied");
        }
      }
    }
    for (const topic of deletedTopics) await this.#removeTopic(topic);
    if (brokersChanged) {
      // Offline replicas changed for every topic.
      for (const name of this.#topics.keys()) touchedTopics.add(name);
    }
    for (const name of touchedTopics) {
      const topic = this.#topics.get(name);
      if (topic !== undefined) await this.#publish(topic, initial);
    }
    this.#appliedRevision = revision;
    for (const waiter of [...this.#revisionWaiters]) {
      if (waiter.revision <= revision) {
        this.#revisionWaiters.splice(this.#revisionWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    for (const listener of this.#imageListeners) listener();
  }

  async #removeTopic(topic: StoredTopic): Promise<void> {
    const { metadata, partitions, logger } = this.#services;
    const published = metadata.topic(topic.name);
    if (published === undefined || published.id !== topic.id) return;
    metadata.removeTopic(topic.name);
    for (const listener of this.#deletionListeners) listener(published);
    await partitions.deletePartitions(topic.name);
    logger.info({ topic: topic.name, topicId: topic.id }, "deleted topic");
  }

  /** Hosts (or updates) this broker's partitions of `topic`, then publishes the topic. */
  async #publish(stored: StoredTopic, initial: boolean): Promise<void> {
    const { metadata, partitions, logs, config } = this.#services;
    const previous = metadata.topic(stored.name);
    const topic = this.#snapshot(stored);
    const logConfig = logConfigFor(topic.config, config);
    if (previous !== undefined && previous.id === stored.id) logs.setTopicConfig(stored.name, logConfig);
    const states = this.#partitions.get(stored.name) ?? [];
    for (const [index, state] of states.entries()) {
      if (state === undefined) continue;
      const hosted = partitions.get(stored.name, index);
      if (state.replicas.includes(metadata.nodeId)) {
        const log = logs.get(stored.name, index);
        if (hosted === undefined && log !== undefined && log.topicId !== null && log.topicId !== stored.id) {
          await logs.deletePartition(stored.name, index);
        }
        await partitions.host({ topic: stored.name, topicId: stored.id, index }, state, logConfig);
      } else if (hosted !== undefined) {
        await partitions.stopPartition(stored.name, index, true);
      }
    }
    metadata.putTopic(topic);
    if (initial) return;
    const created = previous === undefined || previous.id !== stored.id;
    if (created || previous.partitions.length !== topic.partitions.length) {
      for (const listener of this.#changeListeners) listener(topic, created);
    }
  }

  #snapshot(stored: StoredTopic): TopicMetadata {
    const config = this.configFor(stored.configs);
    const states = this.#partitions.get(stored.name) ?? [];
    const partitions: PartitionMetadata[] = [];
    for (let index = 0; index < stored.partitions; index++) {
      const state = states[index];
      if (state === undefined) break;
      partitions.push({
        topic: stored.name,
        topicId: stored.id,
        index,
        leaderId: state.leaderId,
        leaderEpoch: state.leaderEpoch,
        replicas: state.replicas,
        isr: state.isr,
        offlineReplicas: state.replicas.filter((id) => !this.#brokers.has(id)),
      });
    }
    return {
      name: stored.name,
      id: stored.id,
      isInternal: isInternalTopic(stored.name),
      partitions,
      overrides: { ...stored.configs },
      config,
      produceSettings: toProduceSettings(config),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Topics

  create(name: string, partitions: number, configs: Record<string, string>, placement: Placement = {}): Promise<TopicMetadata> {
    if (this.exists(name)) return Promise.reject(new KafkaError("TOPIC_ALREADY_EXISTS", `Topic '${name}' already exists.`));
    const creating = this.#create(name, partitions, configs, placement).finally(() => this.#creating.delete(name));
    this.#creating.set(name, creating);
    return creating;
  }

  autoCreate(name: string): Promise<TopicMetadata> {
    const existing = this.#services.metadata.topic(name);
    if (existing !== undefined) return Promise.resolve(existing);
    return this.#creating.get(name) ?? this.create(name, this.#services.config.numPartitions, {});
  }

  /** The replica lists of `count` new partitions from `first` (explicit, or placed over the live brokers). */
  #placeReplicas(count: number, first: number, placement: Placement): number[][] {
    if (placement.assignments !== undefined) return placement.assignments.map((replicas) => [...replicas]);
    const replicationFactor = placement.replicationFactor ?? this.#services.config.defaultReplicationFactor;
    const brokers = this.brokers().map((b) => ({ nodeId: b.nodeId, rack: b.rack }));
    if (replicationFactor > brokers.length) throw new KafkaError("INVALID_REPLICATION_FACTOR", replicationFactorError(replicationFactor, brokers.length));
    return assignReplicas(brokers, count, replicationFactor, first);
  }

  /** A new partition's first state: the first live replica leads, the live replicas are the ISR. */
  #initialState(replicas: readonly number[]): PartitionState {
    const live = replicas.filter((id) => this.#brokers.has(id));
    return { leaderId: live[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, replicas, isr: live.length > 0 ? live : [replicas[0]] };
  }

  async #create(name: string, count: number, configs: Record<string, string>, placement: Placement): Promise<TopicMetadata> {
    const { store, logger, metadata } = this.#services;
    const assignment = this.#placeReplicas(count, 0, placement);
    const id = randomKafkaUuid();
    const revision = await store.createTopic(
      { name, id, partitions: assignment.length, configs: { ...configs } },
      assignment.map((r) => this.#initialState(r)),
    );
    if (revision === null) throw new KafkaError("TOPIC_ALREADY_EXISTS", `Topic '${name}' already exists.`);
    await this.waitForRevision(revision);
    const topic = metadata.topic(name);
    if (topic === undefined || topic.id !== id) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `Topic '${name}' was deleted while it was created.`);
    logger.info({ topic: name, topicId: id, partitions: assignment.length, assignment, configs }, "created topic");
    return topic;
  }

  async delete(name: string): Promise<void> {
    const topic = this.#topics.get(name);
    if (topic === undefined) return;
    const revision = await this.#services.store.deleteTopic(name, topic.id);
    if (revision !== null) await this.waitForRevision(revision);
  }

  async createPartitions(name: string, count: number, assignments?: readonly (readonly number[])[]): Promise<void> {
    for (;;) {
      const topic = this.#topics.get(name);
      if (topic === undefined) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `Topic '${name}' does not exist.`);
      const existing = this.#partitions.get(name)?.[0]?.replicas.length ?? 1;
      const replicas = this.#placeReplicas(count - topic.partitions, topic.partitions, {
        replicationFactor: existing,
        assignments,
      });
      const revision = await this.#services.store.updateTopic(
        topic,
        { ...topic, partitions: count },
        replicas.map((r) => this.#initialState(r)),
      );
      if (revision !== null) {
        await this.waitForRevision(revision);
        this.#services.logger.info({ topic: name, partitions: count }, "added partitions");
        return;
      }
      await this.#queue;
    }
  }

  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    for (;;) {
      const topic = this.#topics.get(name);
      if (topic === undefined) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `Topic '${name}' does not exist.`);
      const revision = await this.#services.store.updateTopic(topic, { ...topic, configs: { ...configs } });
      if (revision !== null) {
        await this.waitForRevision(revision);
        this.#services.logger.info({ topic: name, configs }, "updated topic configs");
        return;
      }
      await this.#queue;
    }
  }

  acls(): readonly AclBinding[] {
    return this.#aclList;
  }

  clientQuotas(): readonly ClientQuotaRecord[] {
    return this.#quotaList;
  }

  async alterClientQuotas(changes: readonly ClientQuotaChange[]): Promise<void> {
    const writes = changes.map((change) => {
      const key = entityKey(change.entity);
      return { key, record: applied(this.#quotas.get(key), change) };
    });
    await this.waitForRevision(await this.#services.store.putClientQuotas(writes));
  }

  onClientQuotasChanged(listener: () => void): void {
    this.#quotaListeners.push(listener);
  }

  groupConfig(groupId: string): Readonly<Record<string, string>> {
    return this.#groupConfigs.get(groupId) ?? {};
  }

  async setGroupConfig(groupId: string, configs: Readonly<Record<string, string>>): Promise<void> {
    await this.waitForRevision(await this.#services.store.putGroupConfig(groupId, configs));
  }

  onGroupConfigChanged(listener: (groupId: string) => void): void {
    this.#groupConfigListeners.push(listener);
  }

  groupsWithConfigs(): string[] {
    return [...this.#groupConfigs.keys()];
  }

  async alterAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void> {
    await this.waitForRevision(await this.#services.store.putAcls(add, remove));
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#scram.get(user, mechanism);
  }

  scramUsers(): ReadonlyMap<string, ReadonlyMap<ScramMechanism, number>> {
    return this.#scram.users();
  }

  async alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void> {
    const stored = changes.map(({ user, mechanism, credential }) => ({
      user,
      mechanism,
      credential: credential === null ? null : storedCredential(credential),
    }));
    await this.waitForRevision(await this.#services.store.putScramCredentials(stored));
  }

  brokerConfigs(resource: string): Readonly<Record<string, string>> {
    return this.#brokerConfigs.get(resource) ?? {};
  }

  async setBrokerConfigs(resource: string, configs: Record<string, string>): Promise<void> {
    await this.waitForRevision(await this.#services.store.putBrokerConfigs(resource, configs));
  }

  // ------------------------------------------------------------------------------------------
  // Partition state changes

  /** AlterPartitionReassignments for one partition: start (target) or cancel (null), by compare-and-swap. */
  async alter(topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ReassignmentResult> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const state = this.storedPartition(topic, index);
      if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: null };
      const ongoing = (state.addingReplicas?.length ?? 0) > 0 || (state.removingReplicas?.length ?? 0) > 0;
      let next: PartitionState;
      if (target === null) {
        if (!ongoing) return { errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, message: null };
        next = cancelReassignment(state);
      } else {
        const current = state.replicas.filter((id) => !(state.addingReplicas ?? []).includes(id));
        const problem = checkTarget(target, current, (id) => this.#brokers.has(id), allowReplicationFactorChange);
        if (problem !== null) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: problem };
        if (!ongoing && target.length === state.replicas.length && target.every((id, i) => state.replicas[i] === id)) {
          return { errorCode: ErrorCode.NONE, message: null };
        }
        // A new target replaces an ongoing reassignment: it starts from the original replicas.
        next = startReassignment(ongoing ? cancelReassignment(state) : state, target);
        next = { ...next, partitionEpoch: state.partitionEpoch + 1 };
      }
      const revision = await this.#services.store.updatePartition(topic, index, state, next);
      if (revision !== null) {
        await this.waitForRevision(revision);
        this.#services.logger.info(
          { partition: `${topic}-${index}`, target, replicas: next.replicas, adding: next.addingReplicas },
          target === null ? "reassignment cancelled" : "reassignment started",
        );
        return { errorCode: ErrorCode.NONE, message: null };
      }
      await this.#queue;
    }
    return { errorCode: ErrorCode.REQUEST_TIMED_OUT, message: "the partition kept changing" };
  }

  /** ListPartitionReassignments: partitions with replicas being added or removed. */
  ongoing(wanted: readonly { topic: string; index: number }[] | null): PartitionReassignment[] {
    const found: PartitionReassignment[] = [];
    const candidates = wanted ?? [...this.storedPartitions()].map(({ topic, index }) => ({ topic: topic.name, index }));
    for (const { topic, index } of candidates) {
      const state = this.storedPartition(topic, index);
      if (state === undefined) continue;
      const addingReplicas = state.addingReplicas ?? [];
      const removingReplicas = state.removingReplicas ?? [];
      if (addingReplicas.length === 0 && removingReplicas.length === 0) continue;
      found.push({ topic, index, replicas: state.replicas, addingReplicas, removingReplicas });
    }
    return found;
  }

  /** A leader's ISR change (Kafka's AlterPartition): compare-and-swap, fenced by this broker's lease. */
  async alterIsr(partition: Partition, isr: readonly number[]): Promise<boolean> {
    const stored = this.storedPartition(partition.topic, partition.index);
    const { logger } = this.#services;
    if (stored === undefined || stored.partitionEpoch !== partition.state.partitionEpoch || stored.leaderId !== partition.localId) return false;
    const next: PartitionState = { ...stored, isr: [...isr], partitionEpoch: stored.partitionEpoch + 1 };
    const revision = await this.#services.store.updatePartition(partition.topic, partition.index, stored, next, true);
    if (revision === null) return false;
    logger.info({ partition: `${partition}`, from: stored.isr, to: isr, partitionEpoch: next.partitionEpoch }, "ISR changed");
    return true;
  }

  /**
   * Controlled shutdown: moves every leadership of this broker to another live ISR member and takes
   * this broker out of the ISRs it is in (Kafka's controlled shutdown, done here by compare-and-swap
   * rather than by asking the controller). Best effort within `timeoutMs`.
   */
  async relinquish(timeoutMs: number): Promise<number> {
    const me = this.#services.metadata.nodeId;
    const deadline = Date.now() + timeoutMs;
    let moved = 0;
    let last: bigint | null = null;
    for (const { topic, index, state } of [...this.storedPartitions()]) {
      if (Date.now() > deadline) break;
      if (!state.isr.includes(me)) continue;
      const others = state.isr.filter((id) => id !== me && this.#brokers.has(id));
      if (others.length === 0) continue;
      const leader = state.leaderId === me ? (state.replicas.find((id) => others.includes(id)) ?? others[0]) : state.leaderId;
      const next: PartitionState = {
        ...state,
        leaderId: leader,
        leaderEpoch: state.leaderId === me ? state.leaderEpoch + 1 : state.leaderEpoch,
        partitionEpoch: state.partitionEpoch + 1,
        isr: state.isr.filter((id) => id !== me),
      };
      const revision = await this.#services.store.updatePartition(topic.name, index, state, next).catch(() => null);
      if (revision !== null) {
        last = revision;
        if (state.leaderId === me) moved++;
      }
    }
    if (last !== null) {
      await Promise.race([this.waitForRevision(last), new Promise((wake) => setTimeout(wake, Math.max(0, deadline - Date.now())))]);
    }
    return moved;
  }
}
