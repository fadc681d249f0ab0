// Followers: the replica fetchers (Kafka's ReplicaFetcherManager / ReplicaFetcherThread).
//
// Each partition this broker follows is fetched from its leader by one fetcher: there are
// num.replica.fetchers fetchers per leader broker, and a partition goes to fetcher
// hash(topic, partition) % num.replica.fetchers of its leader, as in Kafka. A fetcher holds one
// connection to its leader (the inter-broker listener's endpoint, else the leader's first) and
// loops: one Fetch for all its partitions (replica id and broker epoch in ReplicaState, each
// partition's log end as fetch offset, its current leader epoch and the epoch of its last batch
// as lastFetchedEpoch; replica.fetch.max.bytes per partition, replica.fetch.response.max.bytes in
// all, replica.fetch.wait.max.ms / replica.fetch.min.bytes long poll), then per partition:
//   records             appended with the leader's offsets (origin "replica"), then the HW
//                       (leader's HW bounded by the log end) and the leader's log start offset
//   diverging epoch     truncation to where the logs agree (Kafka's getOffsetTruncationState
//                       over the leader's answer and this log's own epochs), the next fetch resumes
//   OFFSET_OUT_OF_RANGE this log is behind the leader's start (start empty at it) or ahead of
//                       the leader's end after an unclean election (truncate to it; ListOffsets)
//   leadership errors   the partition waits replica.fetch.backoff.ms for the metadata to move
// A failed connection or request is retried after replica.fetch.backoff.ms; a connection that
// cannot be made (a refused TLS handshake, failed SASL authentication: the inter-broker listener's
// security, src/security/inter-broker.ts) is logged as a warning. Everything a
// fetcher does to a log happens in its own loop, so appends and truncations of one partition
// never interleave. The connection is a LeaderLink (./leader-link.ts): a Rust thread that
// sends the Fetch, reads the answer and appends its records to the follower logs itself, so
// the records never become JS memory and no socket or disk wait is on the JS thread; this loop
// sees one small outcome per partition. The leader's side is the ordinary Fetch handler
// (src/handlers/fetch.ts): its records leave it by sendfile.

import type { Logger } from "pino";
import { type BrokerConfigStore, dynamicBrokerValue } from "../cluster/broker-configs.js";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import type { BrokerConfig } from "../config/index.js";
import type { Partition } from "../log/partition.js";
import type { ReplicaFetchOutcome, ReplicaFetchResult } from "../native.js";
import { ErrorCode } from "../protocol/errors.js";
import { defaultFetchRequestFetchPartition, defaultFetchRequestReplicaState } from "../protocol/generated/fetch.js";
import { defaultListOffsetsRequestListOffsetsPartition, type ListOffsetsResponse } from "../protocol/generated/list-offsets.js";
import type { InterBrokerSecurity } from "../security/inter-broker.js";
import { LeaderLink } from "./leader-link.js";
import { ByteRateQuota, isThrottledReplica } from "./throttle.js";

const LIST_OFFSETS = 2;
const LATEST = -1n;

export interface ReplicaFetcherServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly metadata: MetadataCache;
  /** This broker's epoch (its registration's), sent in ReplicaState. */
  readonly brokerEpoch: () => bigint;
  /** Dynamic broker configs (follower.replication.throttled.rate). */
  readonly brokerConfigs: BrokerConfigStore;
  /** The inter-broker listener and how to connect to it. */
  readonly security: InterBrokerSecurity;
}

interface FetcherSettings {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
  readonly backoffMs: number;
  readonly requestTimeoutMs: number;
}

/** A connection failure that repeats is logged again after this long. */
const CONNECT_FAILURE_LOG_INTERVAL_MS = 60_000;

/** Kafka's Utils.abs(31 * topic.hashCode + partition) % fetchers (the fetcher id of a partition). */
function fetcherIdOf(topic: string, partition: number, fetchers: number): number {
  let hash = 0;
  for (let i = 0; i < topic.length; i++) hash = (Math.imul(31, hash) + topic.charCodeAt(i)) | 0;
  const combined = (Math.imul(31, hash) + partition) | 0;
  return (combined === -2147483648 ? 0 : Math.abs(combined)) % fetchers;
}

export class ReplicaFetcherManager {
  readonly #services: ReplicaFetcherServices;
  readonly #settings: FetcherSettings;
  readonly #fetchers = new Map<string, ReplicaFetcher>();
  readonly #assigned = new Map<Partition, ReplicaFetcher>();
  readonly #fetchersPerLeader: number;
  /** follower.replication.throttled.rate over all of this broker's throttled replicas. */
  readonly #quota = new ByteRateQuota();

  constructor(services: ReplicaFetcherServices) {
    this.#services = services;
    const { config } = services;
    const int = (name: string, fallback: number) => Number(config.get(name) ?? fallback);
    this.#fetchersPerLeader = Math.max(1, int("num.replica.fetchers", 1));
    this.#settings = {
      maxWaitMs: int("replica.fetch.wait.max.ms", 500),
      minBytes: int("replica.fetch.min.bytes", 1),
      maxBytes: int("replica.fetch.response.max.bytes", 10 * 1024 * 1024),
      partitionMaxBytes: int("replica.fetch.max.bytes", 1024 * 1024),
      backoffMs: int("replica.fetch.backoff.ms", 1000),
      requestTimeoutMs: int("replica.socket.timeout.ms", 30_000),
    };
  }

  /** Fetches `partition` from `leaderId` from now on (moving it from another fetcher if needed). */
  follow(partition: Partition, leaderId: number): void {
    const key = `${leaderId}:${fetcherIdOf(partition.topic, partition.index, this.#fetchersPerLeader)}`;
    const current = this.#assigned.get(partition);
    if (current !== undefined && current.key === key) {
      current.reset(partition);
      return;
    }
    current?.remove(partition);
    let fetcher = this.#fetchers.get(key);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher(key, leaderId, this.#services, this.#settings, this.#quota, () => this.#fetchers.delete(key));
      this.#fetchers.set(key, fetcher);
    }
    // A fetch already sent by the old fetcher must not append (the log end it asked from may be
    // the new fetcher's too).
    if (current !== undefined) partition.log.fenceReplicaAppends();
    this.#assigned.set(partition, fetcher);
    fetcher.add(partition);
  }

  /** Stops fetching `partition` (it leads now, has no leader, or is gone). */
  unfollow(partition: Partition): void {
    const fetcher = this.#assigned.get(partition);
    if (fetcher === undefined) return;
    this.#assigned.delete(partition);
    fetcher.remove(partition);
    if (partition.log.isOpen) partition.log.fenceReplicaAppends();
  }

  /** The partitions being fetched and from whom (metrics, tests). */
  following(): { partition: Partition; leaderId: number }[] {
    return [...this.#assigned].map(([partition, fetcher]) => ({ partition, leaderId: fetcher.leaderId }));
  }

  async close(): Promise<void> {
    const fetchers = [...this.#fetchers.values()];
    this.#fetchers.clear();
    this.#assigned.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  }
}

interface FetchedPartition {
  /** Don't fetch it before this time (after a leadership error). */
  delayedUntilMs: number;
}

class ReplicaFetcher {
  readonly #partitions = new Map<Partition, FetchedPartition>();
  readonly #services: ReplicaFetcherServices;
  readonly #settings: FetcherSettings;
  readonly #onIdle: () => void;
  readonly #quota: ByteRateQuota;
  #connection: LeaderLink | null = null;
  #running: Promise<void> | null = null;
  #closed = false;
  /** Wakes the loop's backoff sleep early (a partition was added). */
  #wake: (() => void) | null = null;
  /** The last connection failure logged as a warning, and when. */
  #connectFailure: { message: string; atMs: number } | null = null;

  constructor(
    readonly key: string,
    readonly leaderId: number,
    services: ReplicaFetcherServices,
    settings: FetcherSettings,
    quota: ByteRateQuota,
    onIdle: () => void,
  ) {
    this.#quota = quota;
    this.#services = services;
    this.#settings = settings;
    this.#onIdle = onIdle;
  }

  add(partition: Partition): void {
    this.#partitions.set(partition, { delayedUntilMs: 0 });
    this.#wake?.();
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
    });
  }

  /** The partition's leader epoch changed under the same leader: fetch it again at once. */
  reset(partition: Partition): void {
    const entry = this.#partitions.get(partition);
    if (entry !== undefined) entry.delayedUntilMs = 0;
    this.#wake?.();
  }

  remove(partition: Partition): void {
    this.#partitions.delete(partition);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#connection?.close();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { logger } = this.#services;
    while (!this.#closed && this.#partitions.size > 0) {
      const now = Date.now();
      const { metadata, brokerConfigs } = this.#services;
      this.#quota.setRate(Number(dynamicBrokerValue(brokerConfigs, metadata.nodeId, "follower.replication.throttled.rate") ?? 0));
      // Throttled replicas wait while the follower rate is used up (KIP-73).
      const throttleOpen = this.#quota.allows(now);
      const ready = [...this.#partitions]
        .filter(([partition, entry]) => entry.delayedUntilMs <= now && (throttleOpen || !this.#throttled(partition)))
        .map(([partition]) => partition);
      if (ready.length === 0) {
        const next = Math.min(...[...this.#partitions.values()].map((entry) => entry.delayedUntilMs), now + this.#quota.waitMs(now));
        await this.#sleep(Math.max(10, next - now));
        continue;
      }
      try {
        const connection = await this.#connectLogged();
        const { sent, result } = await this.#fetch(connection, ready);
        await this.#process(connection, sent, result);
      } catch (error) {
        if (this.#closed) break;
        logger.debug({ err: error, leader: this.leaderId }, "replica fetch failed; retrying after the backoff");
        this.#connection?.close();
        this.#connection = null;
        await this.#sleep(this.#settings.backoffMs);
      }
    }
    this.#connection?.close();
    this.#connection = null;
    if (this.#partitions.size === 0) this.#onIdle();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  /** #connect, its failures logged as warnings (the same one once a minute). */
  async #connectLogged(): Promise<LeaderLink> {
    if (this.#connection !== null) return this.#connection;
    try {
      const link = await this.#connect();
      this.#connectFailure = null;
      return link;
    } catch (error) {
      const message = (error as Error).message;
      const now = Date.now();
      const last = this.#connectFailure;
      if (!this.#closed && (last === null || last.message !== message || now - last.atMs >= CONNECT_FAILURE_LOG_INTERVAL_MS)) {
        this.#connectFailure = { message, atMs: now };
        this.#services.logger.warn(
          { err: error, leader: this.leaderId, fetcher: this.key },
          `replica fetcher could not connect to leader ${this.leaderId}: ${message}`,
        );
      }
      throw error;
    }
  }

  async #connect(): Promise<LeaderLink> {
    const { metadata, security } = this.#services;
    const broker = metadata.broker(this.leaderId);
    if (broker === undefined) throw new Error(`leader ${this.leaderId} is not registered`);
    const endpoint = broker.endpoints.find((e) => e.name === security.listener);
    if (endpoint === undefined) throw new Error(`leader ${this.leaderId} has no endpoint on the inter-broker listener ${security.listener}`);
    const link = await LeaderLink.connect({
      name: this.key,
      host: endpoint.host,
      port: endpoint.port,
      clientId: `broker-${metadata.nodeId}-fetcher-${this.key}`,
      connectTimeoutMs: this.#settings.requestTimeoutMs,
      requestTimeoutMs: this.#settings.requestTimeoutMs,
      // The first batch of a partition comes whole however large (KIP-74): room for a few.
      maxResponseBytes: Math.min(2 ** 31 - 1, this.#settings.maxBytes + 4 * this.#settings.partitionMaxBytes + 16 * 1024 * 1024),
      tls: security.tls(),
      sasl: security.sasl,
    });
    if (this.#closed) link.close();
    else this.#connection = link;
    return link;
  }

  /** One replica Fetch; `sent` is the partitions in the order of the request (the outcomes' `target` indexes it). */
  async #fetch(connection: LeaderLink, partitions: readonly Partition[]): Promise<{ sent: Partition[]; result: ReplicaFetchResult }> {
    const { metadata, brokerEpoch } = this.#services;
    const settings = this.#settings;
    const byTopic = new Map<string, Partition[]>();
    for (const partition of partitions) {
      const list = byTopic.get(partition.topic) ?? [];
      list.push(partition);
      byTopic.set(partition.topic, list);
    }
    const sent = [...byTopic.values()].flat();
    const result = await connection.fetch(
      (version: number) => ({
        replicaId: version < 15 ? metadata.nodeId : -1,
        replicaState: { ...defaultFetchRequestReplicaState(), replicaId: metadata.nodeId, replicaEpoch: brokerEpoch() },
        maxWaitMs: settings.maxWaitMs,
        minBytes: settings.minBytes,
        maxBytes: settings.maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          topicId: list[0].topicId,
          partitions: list.map((partition) => ({
            ...defaultFetchRequestFetchPartition(),
            partition: partition.index,
            currentLeaderEpoch: partition.leaderEpoch,
            fetchOffset: partition.log.logEndOffset,
            lastFetchedEpoch: partition.log.latestEpoch,
            logStartOffset: partition.logStartOffset,
            partitionMaxBytes: settings.partitionMaxBytes,
          })),
        })),
        forgottenTopicsData: [],
        rackId: "",
      }),
      sent,
      settings.maxWaitMs,
    );
    return { sent, result };
  }

  async #process(connection: LeaderLink, sent: readonly Partition[], result: ReplicaFetchResult): Promise<void> {
    if (result.errorCode !== ErrorCode.NONE) throw new Error(`fetch from leader ${this.leaderId} failed with error ${result.errorCode}`);
    for (const outcome of result.partitions) {
      const partition = sent[outcome.target];
      // Removed, or moved to another leader, while the fetch was out (its records were fenced).
      if (partition === undefined || !this.#partitions.has(partition)) continue;
      try {
        await this.#processPartition(connection, partition, outcome);
      } catch (error) {
        this.#services.logger.warn({ err: error, partition: `${partition}` }, "replica fetch: processing the leader's answer failed");
        this.#delay(partition);
      }
    }
  }

  async #processPartition(connection: LeaderLink, partition: Partition, outcome: ReplicaFetchOutcome): Promise<void> {
    const log = partition.log;
    switch (outcome.errorCode) {
      case ErrorCode.NONE: {
        if (outcome.divergingEpoch >= 0 || outcome.divergingEndOffset >= 0n) {
          const before = `${log.logEndOffset}:${log.latestEpoch}`;
          await this.#truncateOnDivergence(partition, outcome.divergingEpoch, outcome.divergingEndOffset);
          // No progress (the same end and epoch would diverge again at once): back off instead of spinning.
          if (`${log.logEndOffset}:${log.latestEpoch}` === before) {
            this.#services.logger.warn(
              {
                partition: `${partition}`,
                leaderEpoch: outcome.divergingEpoch,
                leaderEndOffset: String(outcome.divergingEndOffset),
                end: String(log.logEndOffset),
              },
              "replica fetch: the leader keeps reporting a divergence truncation does not resolve",
            );
            this.#delay(partition);
          }
          return;
        }
        if (outcome.appendError != null) {
          this.#services.logger.warn(
            { partition: `${partition}`, code: outcome.appendErrorCode, reason: outcome.appendError },
            "replica fetch: appending the leader's records failed",
          );
          this.#delay(partition);
          return;
        }
        if (outcome.appendedBytes > 0) {
          partition.appendedAsFollower(outcome.appendedBytes);
          if (this.#throttled(partition)) this.#quota.record(outcome.appendedBytes);
        }
        // Records fenced (the log moved meanwhile) leave the HW alone: the next fetch asks again.
        if (outcome.fenced) {
          this.#services.logger.debug(
            { partition: `${partition}`, end: String(log.logEndOffset) },
            "replica fetch: records fenced (the log moved since the fetch was sent)",
          );
          return;
        }
        partition.updateFollowerHighWatermark(outcome.highWatermark);
        if (outcome.logStartOffset > log.logStartOffset) {
          const target = outcome.logStartOffset < partition.highWatermark ? outcome.logStartOffset : partition.highWatermark;
          if (target > log.logStartOffset) await log.incrementLogStartOffset(target, partition.highWatermark);
        }
        return;
      }
      case ErrorCode.OFFSET_OUT_OF_RANGE: {
        const leaderStart = outcome.logStartOffset;
        if (leaderStart >= 0n && log.logEndOffset < leaderStart) {
          this.#services.logger.info(
            { partition: `${partition}`, from: String(log.logEndOffset), to: String(leaderStart) },
            "follower behind the leader's log start: starting over at it",
          );
          await log.truncateFullyAndStartAt(leaderStart);
          partition.truncated();
          return;
        }
        const leaderEnd = await this.#leaderEndOffset(connection, partition);
        if (leaderEnd !== null && leaderEnd < log.logEndOffset) {
          this.#services.logger.warn(
            { partition: `${partition}`, from: String(log.logEndOffset), to: String(leaderEnd) },
            "follower ahead of its leader (unclean election): truncating to the leader's end",
          );
          await log.truncateTo(leaderEnd);
          partition.truncated();
          return;
        }
        this.#delay(partition);
        return;
      }
      default:
        // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_*...: the metadata will move.
        this.#delay(partition);
    }
  }

  /** Kafka's truncation on a diverging epoch (AbstractFetcherThread.truncateOnFetchResponse / getOffsetTruncationState). */
  async #truncateOnDivergence(partition: Partition, leaderEpoch: number, leaderEndOffset: bigint): Promise<void> {
    const log = partition.log;
    const end = log.logEndOffset;
    let target: bigint;
    if (leaderEndOffset < 0n) target = partition.highWatermark;
    else if (leaderEpoch < 0) target = min(leaderEndOffset, end);
    else {
      const local = log.endOffsetForEpoch(leaderEpoch);
      if (local.epoch < 0 || local.endOffset < 0n) target = min(leaderEndOffset, end);
      else if (local.epoch !== leaderEpoch) target = min(local.endOffset, end);
      else target = min(min(leaderEndOffset, local.endOffset), end);
    }
    if (target < log.logStartOffset) target = log.logStartOffset;
    if (target >= end) {
      // Nothing to cut, but an epoch this log assigned at its end and never wrote in goes (Kafka's truncateTo).
      await log.truncateTo(end);
      return;
    }
    this.#services.logger.info(
      { partition: `${partition}`, from: String(end), to: String(target), leaderEpoch, leaderEndOffset: String(leaderEndOffset) },
      "truncating a diverged follower log",
    );
    await log.truncateTo(target);
    partition.truncated();
  }

  async #leaderEndOffset(connection: LeaderLink, partition: Partition): Promise<bigint | null> {
    const response = await connection.request<ListOffsetsResponse>(LIST_OFFSETS, {
      replicaId: this.#services.metadata.nodeId,
      isolationLevel: 0,
      topics: [
        {
          name: partition.topic,
          partitions: [
            {
              ...defaultListOffsetsRequestListOffsetsPartition(),
              partitionIndex: partition.index,
              currentLeaderEpoch: partition.leaderEpoch,
              timestamp: LATEST,
            },
          ],
        },
      ],
    });
    const answer = response.topics[0]?.partitions[0];
    return answer === undefined || answer.errorCode !== ErrorCode.NONE ? null : answer.offset;
  }

  /** Whether `partition` is a throttled replica on this follower (its topic's follower.replication.throttled.replicas). */
  #throttled(partition: Partition): boolean {
    if (!this.#quota.limited) return false;
    const { metadata } = this.#services;
    return isThrottledReplica(metadata.topic(partition.topic)?.overrides["follower.replication.throttled.replicas"], partition.index, metadata.nodeId);
  }

  #delay(partition: Partition): void {
    const entry = this.#partitions.get(partition);
    if (entry !== undefined) entry.delayedUntilMs = Date.now() + this.#settings.backoffMs;
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
