// Fetch (key 1), versions 4-18: consumers reading records.
//
// Records leave as file slices (sendfile from the segment, never copied through JS). Kafka's
// rules: at most partitionMaxBytes per partition and maxBytes per response, except that the
// first partition with data returns at least its first whole batch (KIP-74) even when larger;
// a partition whose first batch does not fit the remaining budget returns no records. Reads
// stop at the high watermark (read_uncommitted) or the last stable offset (read_committed);
// an offset below the log start or past the log end is OFFSET_OUT_OF_RANGE. A read_committed
// response lists the aborted transactions overlapping the records it returns (Kafka's
// LocalLog.addAbortedTransactions, from the fetch offset to the end of the batches read), so the
// consumer drops their records; read_uncommitted responses carry null and never look.
//
// Long poll: when the response would carry fewer than minBytes and no partition has an
// error, the request parks on its partitions (PartitionManager.waitForAppends) until appends
// bring minBytes or maxWaitMs passes, then reads again. Incremental fetch sessions:
// src/server/fetch-session.ts.
//
// Followers fetch with their replica id (replicaState.replicaId from v15, replicaId before): they
// read up to the log end, not the HW; the leader records each one's fetch offset (its log end),
// which moves the ISR and the HW (Partition.updateFollowerFetchState); and a follower whose last
// fetched epoch ends before its fetch offset on this leader gets the diverging epoch (v12+) with
// no records, and truncates (src/replication/).
//
// Fetching from followers (KIP-392): with replica.selector.class=RackAwareReplicaSelector, a
// consumer's fetch (v11+) carrying its client.rack to the leader is answered, for a partition with
// an in-sync replica in that rack (and none on the leader's), with that replica as
// preferredReadReplica and no records; the consumer then fetches from it. Followers serve v11+
// consumer fetches, up to their own high watermark.

import { dynamicBrokerValue } from "../cluster/broker-configs.js";
import type { Partition } from "../log/partition.js";
import type { LogSlice } from "../native.js";
import { ErrorCode } from "../protocol/errors.js";
import type {
  FetchRequest,
  FetchRequestFetchPartition,
  FetchResponse,
  FetchResponseAbortedTransaction,
  FetchResponseFetchableTopicResponse,
  FetchResponseNodeEndpoint,
  FetchResponsePartitionData,
} from "../protocol/generated/fetch.js";
import { isThrottledReplica } from "../replication/throttle.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { FetchSession, FINAL_EPOCH, INITIAL_EPOCH, type SessionPartition } from "../server/fetch-session.js";
import { defineHandler } from "../server/registry.js";
import { currentLeaderOf, errorCodeOf, isLeadershipError, reportUnexpected, ZERO_UUID } from "./common.js";

const EMPTY = Buffer.alloc(0);
const READ_COMMITTED = 1;
/** A read_committed partition without aborted transactions in its records (shared, never modified). */
const NO_ABORTED: FetchResponseAbortedTransaction[] = [];

/** One partition to read, whether it came from the request or from the session. */
interface Target {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
  /** The epoch of the last batch the follower has (v12+), -1 when not known. */
  readonly lastFetchedEpoch: number;
  /** The follower's log start offset (v5+). */
  readonly logStartOffset: bigint;
  /** The session entry to update with what the response tells (incremental sessions). */
  readonly cached: SessionPartition | null;
}

/** What reading one target produced. */
interface Result {
  readonly target: Target;
  readonly errorCode: number;
  readonly partition: Partition | null;
  readonly highWatermark: bigint;
  readonly lastStableOffset: bigint;
  readonly logStartOffset: bigint;
  readonly records: LogSlice | null;
  /** Read_committed: the aborted transactions overlapping `records`; read_uncommitted: null. */
  readonly abortedTransactions: FetchResponseAbortedTransaction[] | null;
  /** A follower's log diverged from this leader's: the epoch and its end offset here. */
  readonly divergingEpoch: { epoch: number; endOffset: bigint } | null;
  /** KIP-392: the replica the consumer should read this partition from, -1 for this broker. */
  readonly preferredReadReplica: number;
}

const NO_DIVERGENCE = { epoch: -1, endOffset: -1n };
const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

function failed(target: Target, errorCode: number, readCommitted: boolean): Result {
  return {
    target,
    errorCode,
    partition: null,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    records: null,
    abortedTransactions: readCommitted ? NO_ABORTED : null,
    divergingEpoch: null,
    preferredReadReplica: -1,
  };
}

/** replica.selector.class values that pick a replica in the consumer's rack. */
const RACK_AWARE_SELECTORS = new Set(["org.apache.kafka.common.replica.RackAwareReplicaSelector", "RackAwareReplicaSelector"]);

/**
 * Kafka's RackAwareReplicaSelector through ReplicaManager.findPreferredReadReplica: for a consumer in
 * `rack`, the in-sync follower of that rack holding `fetchOffset` with the most data, unless this
 * leader is in the rack itself; -1 means read from the leader.
 */
function preferredReadReplica(context: RequestContext, partition: Partition, rack: string, fetchOffset: bigint): number {
  const { metadata } = context;
  if (metadata.broker(context.nodeId)?.rack === rack) return -1;
  let best = -1;
  let bestEnd = -1n;
  for (const follower of partition.followers()) {
    if (!partition.state.isr.includes(follower.replicaId) || metadata.broker(follower.replicaId)?.rack !== rack) continue;
    if (follower.logEndOffset < fetchOffset || follower.logStartOffset > fetchOffset) continue;
    if (follower.logEndOffset > bestEnd) {
      best = follower.replicaId;
      bestEnd = follower.logEndOffset;
    }
  }
  return best;
}

/** The replica id of a follower's fetch (v15+ in replicaState), -1 for a consumer. */
function replicaIdOf(request: FetchRequest, version: number): number {
  return version >= 15 ? request.replicaState.replicaId : request.replicaId;
}

/**
 * Kafka's divergence check of a follower's fetch (Partition.fetchRecords): the end offset here of
 * the largest epoch not above `lastFetchedEpoch`; the follower diverged if that epoch is older or
 * ends before its fetch offset.
 */
function divergence(partition: Partition, lastFetchedEpoch: number, fetchOffset: bigint): { epoch: number; endOffset: bigint } | null {
  if (lastFetchedEpoch < 0) return null;
  const found = partition.log.endOffsetForEpoch(lastFetchedEpoch);
  if (found.epoch < lastFetchedEpoch || found.endOffset < fetchOffset) return found;
  return null;
}

/** Reads every target in order within the response budget. */
function readAll(
  context: RequestContext,
  request: FetchRequest,
  targets: readonly Target[],
  byId: boolean,
): { results: Result[]; bytes: number; errors: boolean } {
  const results: Result[] = [];
  let remaining = context.apiVersion >= 3 ? request.maxBytes : 0x7fffffff;
  let bytes = 0;
  let errors = false;
  const readCommitted = request.isolationLevel === READ_COMMITTED;
  const replicaId = replicaIdOf(request, context.apiVersion);
  // consumer_byte_rate: one fetch asks for no more than the quota allows over its window.
  if (replicaId < 0 && context.quotas.fetchEnabled) remaining = Math.min(remaining, Math.max(1, Math.floor(context.quotas.fetchBytesMax(context))));
  // KIP-392: consumers of v11+ may read from followers; the leader may send them to one.
  const fromFollowers = replicaId < 0 && context.apiVersion >= 11;
  // Replication throttle on this leader (KIP-73): throttled replicas get no records while the rate is used up.
  const leaderThrottle = context.partitions.leaderThrottle;
  if (replicaId >= 0) leaderThrottle.setRate(Number(dynamicBrokerValue(context.brokerConfigs, context.nodeId, "leader.replication.throttled.rate") ?? 0));
  const selectRack = fromFollowers && request.rackId !== "" && RACK_AWARE_SELECTORS.has(context.config.text("replica.selector.class") ?? "");
  // Authorization (KafkaApis.handleFetchRequest): a follower needs CLUSTER_ACTION on the cluster, a
  // consumer READ on each topic (checked before existence; once per topic).
  // Without an authorizer nothing is looked up (this is the hot path).
  const checking = context.authorizer !== null;
  const followerAuthorized = replicaId < 0 || context.authorized(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME);
  const readable = new Map<string, boolean>();
  const authorizedFor = (name: string | undefined): boolean => {
    if (name === undefined) return true;
    if (replicaId >= 0) return followerAuthorized;
    let allowed = readable.get(name);
    if (allowed === undefined) {
      allowed = context.authorized(AclOperation.READ, ResourceType.TOPIC, name);
      readable.set(name, allowed);
    }
    return allowed;
  };
  for (const target of targets) {
    if (checking && !authorizedFor(byId ? context.metadata.topicById(target.topicId)?.name : target.topic)) {
      results.push(failed(target, ErrorCode.TOPIC_AUTHORIZATION_FAILED, readCommitted));
      errors = true;
      continue;
    }
    const partition = byId
      ? context.partitions.lookupById(target.topicId, target.partition, target.currentLeaderEpoch, !fromFollowers)
      : context.partitions.lookup(target.topic, target.partition, target.currentLeaderEpoch, !fromFollowers);
    if (typeof partition === "number") {
      results.push(failed(target, partition, readCommitted));
      errors = true;
      continue;
    }
    let divergingEpoch: { epoch: number; endOffset: bigint } | null = null;
    let upperBound: bigint;
    let throttled = false;
    if (replicaId >= 0) {
      // A follower: divergence first; else its progress is recorded and it reads to the log end.
      const logEndOffset = partition.log.logEndOffset;
      divergingEpoch = divergence(partition, target.lastFetchedEpoch, target.fetchOffset);
      if (divergingEpoch === null && target.fetchOffset >= partition.logStartOffset && target.fetchOffset <= logEndOffset) {
        if (!partition.updateFollowerFetchState(replicaId, target.fetchOffset, target.logStartOffset, logEndOffset, context.receivedAtMs)) {
          results.push(failed(target, ErrorCode.NOT_LEADER_OR_FOLLOWER, readCommitted));
          errors = true;
          continue;
        }
      }
      upperBound = divergingEpoch === null ? logEndOffset : target.fetchOffset;
      if (
        leaderThrottle.limited &&
        isThrottledReplica(context.metadata.topic(partition.topic)?.overrides["leader.replication.throttled.replicas"], partition.index, context.nodeId)
      ) {
        if (!leaderThrottle.allows()) upperBound = target.fetchOffset;
        else throttled = true;
      }
    } else {
      upperBound = readCommitted ? partition.lastStableOffset : partition.highWatermark;
    }
    const highWatermark = partition.highWatermark;
    const lastStableOffset = partition.lastStableOffset;
    const logStartOffset = partition.logStartOffset;
    if (selectRack && partition.isLeader) {
      const preferred = preferredReadReplica(context, partition, request.rackId, target.fetchOffset);
      if (preferred >= 0) {
        // Kafka answers with the replica to read from and no records.
        results.push({
          ...failed(target, ErrorCode.NONE, readCommitted),
          partition,
          highWatermark,
          lastStableOffset,
          logStartOffset,
          preferredReadReplica: preferred,
        });
        continue;
      }
    }
    let records: LogSlice | null = null;
    let abortedTransactions: FetchResponseAbortedTransaction[] | null = readCommitted ? NO_ABORTED : null;
    let errorCode: number = ErrorCode.NONE;
    // A follower that diverged learns where (Kafka checks the epoch before the offset): a fetch
    // offset past this log's end is then the diverged part, not an out-of-range request.
    if (divergingEpoch === null && (target.fetchOffset < logStartOffset || target.fetchOffset > partition.log.logEndOffset)) {
      errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      errors = true;
    } else if (target.fetchOffset < upperBound && remaining > 0) {
      const limit = Math.min(target.partitionMaxBytes, remaining);
      try {
        records = partition.log.read(target.fetchOffset, Math.max(limit, 1), upperBound);
        // KIP-74: only the first partition with data may exceed the budget.
        if (records.length > limit && bytes > 0) {
          records.release();
          records = null;
        }
        if (readCommitted && records !== null && records.length > 0) {
          abortedTransactions = partition.log.abortedTransactions(target.fetchOffset, records.nextOffset);
        }
      } catch (error) {
        records?.release();
        records = null;
        reportUnexpected(context, error, `fetch from ${partition}`);
        errorCode = errorCodeOf(error);
        errors = true;
      }
      if (records !== null) {
        remaining -= records.length;
        bytes += records.length;
        if (throttled) leaderThrottle.record(records.length);
      }
    }
    results.push({
      target,
      errorCode,
      partition,
      highWatermark,
      lastStableOffset,
      logStartOffset,
      records,
      abortedTransactions,
      divergingEpoch,
      preferredReadReplica: -1,
    });
  }
  return { results, bytes, errors };
}

function release(results: readonly Result[]): void {
  for (const result of results) result.records?.release();
}

/** Builds the response: in an incremental session only partitions with news, grouped by topic. */
function respond(context: RequestContext, results: readonly Result[], session: FetchSession | null, incremental: boolean): FetchResponse {
  const version = context.apiVersion;
  const topics: FetchResponseFetchableTopicResponse[] = [];
  const endpoints = new Map<number, FetchResponseNodeEndpoint>();
  let current: FetchResponseFetchableTopicResponse | null = null;
  for (const result of results) {
    const { target, records } = result;
    const length = records?.length ?? 0;
    // Per topic only for a partition hosted here: names a client made up get no counters.
    context.metrics.fetched(result.partition === null ? null : target.topic, length, result.errorCode !== ErrorCode.NONE);
    const cached = target.cached;
    if (incremental && cached !== null) {
      const news =
        length > 0 ||
        result.errorCode !== ErrorCode.NONE ||
        result.preferredReadReplica >= 0 ||
        cached.highWatermark !== result.highWatermark ||
        cached.lastStableOffset !== result.lastStableOffset ||
        cached.logStartOffset !== result.logStartOffset;
      if (!news) {
        records?.release();
        continue;
      }
    }
    if (cached !== null) {
      cached.highWatermark = result.highWatermark;
      cached.lastStableOffset = result.lastStableOffset;
      cached.logStartOffset = result.logStartOffset;
      if (length > 0 && session !== null) {
        // Fairness: partitions that just returned data go to the back of the session's order.
        const key = FetchSession.key(session.usesTopicIds, cached.topic, cached.topicId, cached.partition);
        session.partitions.delete(key);
        session.partitions.set(key, cached);
      }
    }
    const data: FetchResponsePartitionData = {
      partitionIndex: target.partition,
      errorCode: result.errorCode,
      highWatermark: result.highWatermark,
      lastStableOffset: result.lastStableOffset,
      logStartOffset: result.logStartOffset,
      divergingEpoch: result.divergingEpoch ?? NO_DIVERGENCE,
      // KIP-951 (v12+ currentLeader, v16+ endpoints): where the partition's leader is now.
      currentLeader: version >= 12 && isLeadershipError(result.errorCode) ? currentLeaderOf(context, target.topic, target.partition, endpoints) : NO_LEADER,
      snapshotId: { endOffset: -1n, epoch: -1 },
      abortedTransactions: result.abortedTransactions,
      preferredReadReplica: result.preferredReadReplica,
      // A file slice goes out with sendfile; the writer passes it through as its own part.
      records: length > 0 ? (records as unknown as Buffer) : EMPTY,
    };
    if (length === 0) records?.release();
    const sameTopic = current !== null && (version >= 13 ? current.topicId === target.topicId : current.topic === target.topic);
    if (!sameTopic || current === null) {
      current = { topic: version >= 13 ? "" : target.topic, topicId: version >= 13 ? target.topicId : ZERO_UUID, partitions: [] };
      topics.push(current);
    }
    current.partitions.push(data);
  }
  // NodeEndpoints exists from v16 only (a v12-15 answer names the leader, not its endpoint).
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: session?.id ?? 0,
    responses: topics,
    nodeEndpoints: version >= 16 ? [...endpoints.values()] : [],
  };
}

/**
 * A consumer's answer under consumer_byte_rate (Kafka's handleFetchRequest): its bytes are
 * recorded; over the quota they are taken back and the fetch is answered empty with the throttle
 * time (the session stays as it was asked, so the next fetch reads the same offsets).
 */
function respondWithinQuota(
  context: RequestContext,
  results: readonly Result[],
  bytes: number,
  session: FetchSession | null,
  incremental: boolean,
): FetchResponse {
  const throttleMs = context.quotas.recordFetch(context, bytes, Date.now());
  if (throttleMs <= 0) return respond(context, results, session, incremental);
  release(results);
  context.throttle(throttleMs);
  // A full fetch answered empty creates no session (Kafka's FullFetchContext.getThrottledResponse): the client starts over.
  if (session !== null && !incremental) context.fetchSessions.remove(session.id);
  const sessionId = session !== null && incremental ? session.id : 0;
  return { throttleTimeMs: throttleMs, errorCode: ErrorCode.NONE, sessionId, responses: [], nodeEndpoints: [] };
}

function targetOf(topic: string, topicId: string, p: FetchRequestFetchPartition, cached: SessionPartition | null): Target {
  return {
    topic,
    topicId,
    partition: p.partition,
    fetchOffset: p.fetchOffset,
    partitionMaxBytes: p.partitionMaxBytes,
    currentLeaderEpoch: p.currentLeaderEpoch,
    lastFetchedEpoch: p.lastFetchedEpoch,
    logStartOffset: p.logStartOffset,
    cached,
  };
}

function sessionPartition(topic: string, topicId: string, p: FetchRequestFetchPartition): SessionPartition {
  return {
    topic,
    topicId,
    partition: p.partition,
    fetchOffset: p.fetchOffset,
    partitionMaxBytes: p.partitionMaxBytes,
    currentLeaderEpoch: p.currentLeaderEpoch,
    lastFetchedEpoch: p.lastFetchedEpoch,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
  };
}

function errorResponse(errorCode: number, sessionId = 0): FetchResponse {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [], nodeEndpoints: [] };
}

/** Names for topic ids (v13+) so sessions and responses know both. */
function topicNames(context: RequestContext, byId: boolean, topic: string, topicId: string): { topic: string; topicId: string } {
  if (byId) return { topic: context.metadata.topicById(topicId)?.name ?? "", topicId };
  return { topic, topicId: context.metadata.topic(topic)?.id ?? ZERO_UUID };
}

export const fetch = defineHandler<FetchRequest, FetchResponse>(
  1,
  { min: 4, max: 18 },
  (context, request) => {
    const { apiVersion } = context;
    const byId = apiVersion >= 13;
    const now = context.receivedAtMs;
    const cache = context.fetchSessions;
    let session: FetchSession | null = null;
    let incremental = false;
    const targets: Target[] = [];

    if (apiVersion < 7 || request.sessionEpoch === FINAL_EPOCH || request.sessionEpoch === INITIAL_EPOCH) {
      if (apiVersion >= 7 && request.sessionId !== 0) cache.remove(request.sessionId);
      if (apiVersion >= 7 && request.sessionEpoch === INITIAL_EPOCH) session = cache.create(byId, now);
      for (const t of request.topics) {
        const names = topicNames(context, byId, t.topic, t.topicId);
        for (const p of t.partitions) {
          const cached = session === null ? null : sessionPartition(names.topic, names.topicId, p);
          if (session !== null && cached !== null) session.partitions.set(FetchSession.key(byId, names.topic, names.topicId, p.partition), cached);
          targets.push(targetOf(names.topic, names.topicId, p, cached));
        }
      }
      if (session !== null) {
        // A full request's response carries every partition; the session expects epoch 1 next.
        session.epoch = 1;
      }
    } else {
      const found = cache.get(request.sessionId);
      if (found === undefined) return errorResponse(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
      if (found.epoch !== request.sessionEpoch) return errorResponse(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
      if (found.usesTopicIds !== byId) return errorResponse(ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR);
      session = found;
      incremental = true;
      cache.touch(session, now);
      session.epoch = session.epoch === 0x7fffffff ? 1 : session.epoch + 1;
      for (const t of request.topics) {
        const names = topicNames(context, byId, t.topic, t.topicId);
        for (const p of t.partitions) {
          const key = FetchSession.key(byId, names.topic, names.topicId, p.partition);
          const cached = session.partitions.get(key);
          if (cached === undefined) {
            session.partitions.set(key, sessionPartition(names.topic, names.topicId, p));
          } else {
            cached.fetchOffset = p.fetchOffset;
            cached.partitionMaxBytes = p.partitionMaxBytes;
            cached.currentLeaderEpoch = p.currentLeaderEpoch;
            cached.lastFetchedEpoch = p.lastFetchedEpoch;
          }
        }
      }
      for (const forgotten of request.forgottenTopicsData) {
        const names = topicNames(context, byId, forgotten.topic, forgotten.topicId);
        for (const partition of forgotten.partitions) session.partitions.delete(FetchSession.key(byId, names.topic, names.topicId, partition));
      }
      for (const cached of session.partitions.values()) {
        targets.push({ ...cached, logStartOffset: -1n, cached });
      }
    }

    const follower = replicaIdOf(request, apiVersion) >= 0;
    // Followers are held to replication throttles, not to client quotas (Kafka exempts them).
    if (follower) context.requestQuotaExempt = true;
    const answer = (results: Result[], bytes: number): FetchResponse =>
      !follower && context.quotas.fetchEnabled
        ? respondWithinQuota(context, results, bytes, session, incremental)
        : respond(context, results, session, incremental);
    const first = readAll(context, request, targets, byId);
    const diverged = first.results.some((result) => result.divergingEpoch !== null || result.preferredReadReplica >= 0);
    if (request.maxWaitMs <= 0 || targets.length === 0 || first.bytes >= request.minBytes || first.errors || diverged) {
      return answer(first.results, first.bytes);
    }
    release(first.results);
    const partitions = first.results.flatMap((result) => result.partition ?? []);
    return context.partitions
      .waitForAppends(partitions, request.minBytes, request.maxWaitMs, first.bytes, request.isolationLevel === READ_COMMITTED, follower)
      .then(() => {
        const read = readAll(context, request, targets, byId);
        return answer(read.results, read.bytes);
      });
  },
  (_context, request, errorCode) => errorResponse(errorCode, request.sessionId),
);
