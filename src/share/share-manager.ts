// Share partitions and share sessions on this broker (Kafka's SharePartitionManager and
// ShareSessionCache, KIP-932): the service ShareFetch and ShareAcknowledge meet through their
// request context (RequestContext.shares).
//
// A share session belongs to one member of one group: ShareSessionEpoch 0 opens it (with the
// partitions of the request), each later request names the next epoch and adds partitions or
// forgets some (an incremental session), -1 closes it — and what the member still holds is
// released. At most group.share.max.share.sessions sessions (SHARE_SESSION_LIMIT_REACHED). A
// session whose connection closes is closed too.
//
// Share partitions are created on the first fetch of a group for a partition this broker leads,
// initialized from the share coordinator (persister.ts), and dropped when leadership moves or the
// topic goes. Fetches acquire records (share-partition.ts); a fetch that acquired nothing waits up
// to MaxWaitMs for appends (or for records to become available again), then tries once more.

import type { Logger } from "pino";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import { type GroupConfigStore, groupConfigValue, parseShareAutoOffsetReset } from "../config/group-config.js";
import type { BrokerConfig } from "../config/index.js";
import type { Partition } from "../log/partition.js";
import type { PartitionManager } from "../log/partition-manager.js";
import { ErrorCode } from "../protocol/errors.js";
import type { ShareDeadLetterQueue } from "./dlq.js";
import type { SharePersister } from "./persister.js";
import { type Acquisition, SharePartition, type SharePartitionSettings } from "./share-partition.js";

export const INITIAL_SHARE_EPOCH = 0;
export const FINAL_SHARE_EPOCH = -1;

export interface ShareSession {
  readonly groupId: string;
  readonly memberId: string;
  epoch: number;
  /** "topicId:partition" → the partition. */
  readonly partitions: Map<string, { topicId: string; partition: number }>;
  connectionId: number;
}

export interface PartitionFetch extends Acquisition {
  readonly topicId: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const sessionKey = (groupId: string, memberId: string) => `${groupId}\u0000${memberId}`;
const partitionKey = (groupId: string, topicId: string, partition: number) => `${groupId}\u0000${topicId}\u0000${partition}`;

export class ShareManager {
  readonly #partitions = new Map<string, SharePartition>();
  readonly #sessions = new Map<string, ShareSession>();
  /** Connection id → keys of the sessions last used on it (a closed connection closes them). */
  readonly #byConnection = new Map<number, Set<string>>();
  readonly #maxSessions: number;
  readonly #settings = new Map<string, SharePartitionSettings>();
  readonly #logger: Logger;
  readonly #waiters = new Set<() => void>();
  /** The dead-letter queue (set by the broker's wiring). */
  dlq: ShareDeadLetterQueue | null = null;

  constructor(
    logger: Logger,
    private readonly metadata: MetadataCache,
    private readonly partitionManager: PartitionManager,
    private readonly persister: SharePersister,
    private readonly config: BrokerConfig,
    private readonly groupConfigs: GroupConfigStore,
  ) {
    this.#logger = logger.child({ component: "share-partitions" });
    this.#maxSessions = Number(config.get("group.share.max.share.sessions") ?? 2000);
    groupConfigs.onGroupConfigChanged((groupId) => this.#settings.delete(groupId));
  }

  /** A group's share settings: its group configs over the broker's (cached until they change). */
  settings(groupId: string): SharePartitionSettings {
    let settings = this.#settings.get(groupId);
    if (settings === undefined) {
      const overrides = this.groupConfigs.groupConfig(groupId);
      const value = (name: string) => groupConfigValue(overrides, this.config, name);
      settings = {
        lockDurationMs: Number(value("share.record.lock.duration.ms")),
        deliveryCountLimit: Number(value("share.delivery.count.limit")),
        maxRecordLocks: Number(value("share.partition.max.record.locks")),
        autoOffsetReset: parseShareAutoOffsetReset(value("share.auto.offset.reset")) ?? { type: "latest" },
        readCommitted: value("share.isolation.level") === "read_committed",
      };
      this.#settings.set(groupId, settings);
    }
    return settings;
  }

  // ------------------------------------------------------------------------------------------
  // Sessions

  session(groupId: string, memberId: string): ShareSession | undefined {
    return this.#sessions.get(sessionKey(groupId, memberId));
  }

  /** Opens a session (epoch 0), replacing the member's old one; null when the cache is full. */
  openSession(groupId: string, memberId: string, connectionId: number): ShareSession | null {
    const key = sessionKey(groupId, memberId);
    const old = this.#sessions.get(key);
    if (old !== undefined) this.#forget(key, old);
    else if (this.#sessions.size >= this.#maxSessions) return null;
    const session: ShareSession = { groupId, memberId, epoch: 1, partitions: new Map(), connectionId: -1 };
    this.#sessions.set(key, session);
    this.bind(session, connectionId);
    return session;
  }

  /** The session's requests now come on `connectionId`. */
  bind(session: ShareSession, connectionId: number): void {
    if (session.connectionId === connectionId) return;
    const key = sessionKey(session.groupId, session.memberId);
    this.#byConnection.get(session.connectionId)?.delete(key);
    session.connectionId = connectionId;
    let keys = this.#byConnection.get(connectionId);
    if (keys === undefined) {
      keys = new Set();
      this.#byConnection.set(connectionId, keys);
    }
    keys.add(key);
  }

  #forget(key: string, session: ShareSession): void {
    this.#sessions.delete(key);
    const keys = this.#byConnection.get(session.connectionId);
    keys?.delete(key);
    if (keys?.size === 0) this.#byConnection.delete(session.connectionId);
  }

  /** Closes the member's session; what it holds on this broker is released. */
  closeSession(groupId: string, memberId: string): Promise<void> {
    const key = sessionKey(groupId, memberId);
    const session = this.#sessions.get(key);
    if (session !== undefined) this.#forget(key, session);
    const releases: (number | Promise<number>)[] = [];
    for (const sharePartition of this.#partitions.values()) {
      if (sharePartition.groupId === groupId) releases.push(sharePartition.releaseMember(memberId));
    }
    return Promise.all(releases).then(() => undefined);
  }

  /** A connection closed: the sessions opened on it are closed (Kafka's disconnect listener). */
  onConnectionClosed(connectionId: number): void {
    const keys = this.#byConnection.get(connectionId);
    if (keys === undefined) return;
    for (const key of [...keys]) {
      const session = this.#sessions.get(key);
      if (session !== undefined) this.closeSession(session.groupId, session.memberId).catch(() => undefined);
    }
    this.#byConnection.delete(connectionId);
  }

  // ------------------------------------------------------------------------------------------
  // Share partitions

  /** The share partition of (group, topic id, partition) if this broker leads it, or the error. */
  sharePartition(groupId: string, topicId: string, index: number): SharePartition | number {
    const partition = this.partitionManager.lookupById(topicId, index);
    if (typeof partition === "number")
      return partition === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && this.metadata.topicById(topicId) === undefined ? ErrorCode.UNKNOWN_TOPIC_ID : partition;
    const key = partitionKey(groupId, topicId, index);
    let sharePartition = this.#partitions.get(key);
    if (sharePartition !== undefined && sharePartition.partition !== partition) {
      sharePartition.close();
      sharePartition = undefined;
    }
    if (sharePartition === undefined) {
      sharePartition = new SharePartition(groupId, partition, this.persister, () => this.settings(groupId), this.#logger);
      sharePartition.onAvailable = () => this.#wake();
      const created = sharePartition;
      sharePartition.onDeadLetters = (letters) => {
        for (const letter of letters) this.dlq?.enqueue({ groupId, source: created.partition, ...letter });
      };
      this.#partitions.set(key, sharePartition);
    }
    return sharePartition;
  }

  /** A partition changed role here: its share partitions go (a new leader reads the state again). */
  onPartitionRole(partition: Partition, role: "leader" | "follower" | "stopped"): void {
    for (const [key, sharePartition] of this.#partitions) {
      if (sharePartition.partition.topicId !== partition.topicId || sharePartition.index !== partition.index) continue;
      if (role === "leader" && sharePartition.partition === partition) continue;
      sharePartition.close();
      this.#partitions.delete(key);
    }
  }

  /** Acquires records of `targets` for the member, within `maxRecords` and `maxBytes`. */
  async acquire(
    groupId: string,
    memberId: string,
    targets: readonly { topicId: string; partition: number }[],
    maxRecords: number,
    maxBytes: number,
    recordLimit: boolean,
  ): Promise<PartitionFetch[]> {
    const out: PartitionFetch[] = [];
    let records = maxRecords;
    let bytes = maxBytes;
    for (const { topicId, partition } of targets) {
      const sharePartition = this.sharePartition(groupId, topicId, partition);
      if (typeof sharePartition === "number") {
        out.push({ topicId, partition, errorCode: sharePartition, errorMessage: null, records: null, acquired: [], count: 0 });
        continue;
      }
      const initialized = await sharePartition.initialize();
      if (initialized !== ErrorCode.NONE) {
        out.push({ topicId, partition, errorCode: initialized, errorMessage: null, records: null, acquired: [], count: 0 });
        continue;
      }
      if (records <= 0 || bytes <= 0) {
        out.push({ topicId, partition, errorCode: ErrorCode.NONE, errorMessage: null, records: null, acquired: [], count: 0 });
        continue;
      }
      try {
        const acquisition = sharePartition.acquire(memberId, records, bytes, recordLimit, Date.now());
        records -= acquisition.count;
        bytes -= acquisition.records?.length ?? 0;
        out.push({ topicId, partition, errorCode: ErrorCode.NONE, errorMessage: null, ...acquisition });
      } catch (error) {
        this.#logger.warn({ err: error, group: groupId, partition: sharePartition.partition.toString() }, "share fetch failed");
        out.push({ topicId, partition, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null, records: null, acquired: [], count: 0 });
      }
    }
    return out;
  }

  /**
   * Waits up to `maxWaitMs` for something to acquire in `targets`: an append to one of their
   * partitions, or records of this broker's share partitions becoming available again.
   */
  waitForAcquirable(groupId: string, targets: readonly { topicId: string; partition: number }[], maxWaitMs: number): Promise<void> {
    const partitions: Partition[] = [];
    for (const { topicId, partition } of targets) {
      const sharePartition = this.sharePartition(groupId, topicId, partition);
      if (typeof sharePartition === "number") continue;
      if (sharePartition.hasAcquirable()) return Promise.resolve();
      partitions.push(sharePartition.partition);
    }
    if (partitions.length === 0) return new Promise((resolve) => setTimeout(resolve, maxWaitMs).unref());
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.#waiters.delete(finish);
        resolve();
      };
      this.#waiters.add(finish);
      this.partitionManager.waitForAppends(partitions, 1, maxWaitMs).then(finish, finish);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Acknowledges one batch; the answer comes once the state is durable. */
  acknowledge(groupId: string, memberId: string, topicId: string, partition: number, first: bigint, last: bigint, types: readonly number[]): number {
    const sharePartition = this.sharePartition(groupId, topicId, partition);
    if (typeof sharePartition === "number") return sharePartition;
    return sharePartition.acknowledge(memberId, first, last, types, Date.now());
  }

  /** Writes the state of the share partition (after acknowledgements). */
  persist(groupId: string, topicId: string, partition: number): number | Promise<number> {
    const sharePartition = this.sharePartition(groupId, topicId, partition);
    if (typeof sharePartition === "number") return sharePartition;
    return sharePartition.persist();
  }

  /** A group was deleted or its offsets reset: its share partitions here start over from the coordinator. */
  forgetGroup(groupId: string, topicIds?: ReadonlySet<string>): void {
    for (const [key, sharePartition] of this.#partitions) {
      if (sharePartition.groupId !== groupId || (topicIds !== undefined && !topicIds.has(sharePartition.topicId))) continue;
      sharePartition.close();
      this.#partitions.delete(key);
    }
  }

  close(): void {
    for (const sharePartition of this.#partitions.values()) sharePartition.close();
    this.#partitions.clear();
    this.#sessions.clear();
    this.#byConnection.clear();
    this.#wake();
  }
}
