// Incremental fetch sessions (KIP-227). A consumer that fetches many partitions sends the
// whole list once (epoch 0: a full request creates a session) and afterwards only what
// changed (epoch 1, 2, ...: partitions added or with a new fetch offset, and partitions to
// forget); the broker answers with only the partitions that have news — records, an error,
// or a new high watermark, last stable offset or log start offset.
//
//   sessionId  epoch   meaning
//   0          -1      full fetch without a session
//   0           0      full fetch, create a session (answered with its id, or 0 if no slot)
//   X          -1      close session X, full fetch without a session
//   X           0      close session X, full fetch that creates a new session
//   X          N>0     incremental fetch in session X; N must be the epoch the session expects
//                      (else INVALID_FETCH_SESSION_EPOCH; an unknown X is
//                      FETCH_SESSION_ID_NOT_FOUND)
//
// The cache holds max.incremental.fetch.session.cache.slots sessions. When it is full, a
// new session may evict the least recently used one only if that one has been idle for
// SESSION_EVICTION_IDLE_MS (Kafka's rule for non-privileged sessions).

import { randomInt } from "node:crypto";

export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;
const SESSION_EVICTION_IDLE_MS = 120_000;

/** A partition in a session: what the client last asked for and what it was last told. */
export interface SessionPartition {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  lastFetchedEpoch: number;
  /** Values in the last response that carried this partition (-1 before any). */
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
}

export class FetchSession {
  /** The epoch the next incremental request must carry. */
  epoch = 1;
  lastUsedMs: number;
  /** In response order; a partition that returned data moves to the end (fairness). */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(
    readonly id: number,
    readonly usesTopicIds: boolean,
    nowMs: number,
  ) {
    this.lastUsedMs = nowMs;
  }

  static key(usesTopicIds: boolean, topic: string, topicId: string, partition: number): string {
    return usesTopicIds ? `${topicId}:${partition}` : `${topic}:${partition}`;
  }
}

export class FetchSessionCache {
  readonly #sessions = new Map<number, FetchSession>();

  constructor(readonly maxSessions: number) {}

  get size(): number {
    return this.#sessions.size;
  }

  get(id: number): FetchSession | undefined {
    return this.#sessions.get(id);
  }

  remove(id: number): void {
    this.#sessions.delete(id);
  }

  /** A new session, or null when the cache is full of recently used sessions. */
  create(usesTopicIds: boolean, nowMs: number): FetchSession | null {
    if (this.maxSessions <= 0) return null;
    if (this.#sessions.size >= this.maxSessions && !this.#evictOne(nowMs)) return null;
    let id = randomInt(1, 0x7fffffff);
    while (this.#sessions.has(id)) id = randomInt(1, 0x7fffffff);
    const session = new FetchSession(id, usesTopicIds, nowMs);
    this.#sessions.set(id, session);
    return session;
  }

  /** Marks a session used (most recently used last, for eviction). */
  touch(session: FetchSession, nowMs: number): void {
    session.lastUsedMs = nowMs;
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
  }

  /** Drops a deleted topic from every session. */
  forgetTopic(name: string, topicId: string): void {
    for (const session of this.#sessions.values()) {
      for (const [key, partition] of session.partitions) {
        if (partition.topic === name || partition.topicId === topicId) session.partitions.delete(key);
      }
    }
  }

  #evictOne(nowMs: number): boolean {
    const oldest = this.#sessions.values().next();
    if (oldest.done || nowMs - oldest.value.lastUsedMs < SESSION_EVICTION_IDLE_MS) return false;
    this.#sessions.delete(oldest.value.id);
    return true;
  }
}
