// Produce (key 0), versions 0-13: each partition's records go to the log in one native call
// (PartitionLog.appendProduce) that validates them as Kafka's LogValidator does, recompresses
// to the topic's compression.type, assigns offsets and appends.
//
// acks 0, 1 and -1 are accepted (anything else is INVALID_REQUIRED_ACKS). acks=-1 is refused
// with NOT_ENOUGH_REPLICAS before the append when the ISR is smaller than the topic's
// min.insync.replicas; otherwise its answer waits until the high watermark passes the appended
// records (the whole ISR has them: Kafka's DelayedProduce), at most the request's timeoutMs
// (then REQUEST_TIMED_OUT), and is NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the
// minimum meanwhile. When the ISR is this broker alone (a single node) the append commits at
// once and nothing waits. acks=0 gets no
// response; if any partition failed, the connection is closed instead, so the client
// notices (Kafka does the same). Idempotent batches go through the log's producer state: a
// duplicate is answered NONE with the offsets of the original batch, as Kafka does.
// Produce v0-2 (magic 0/1 message sets) is up-converted to record batch v2 before append.
// Internal topics (__consumer_offsets) refuse clients' records with INVALID_TOPIC_EXCEPTION, as
// Kafka's ReplicaManager does for any client id but "__admin_client".

import type { TopicMetadata } from "../cluster/metadata-cache.js";
import type { Partition } from "../log/partition.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import type {
  ProduceRequest,
  ProduceRequestPartitionProduceData,
  ProduceResponse,
  ProduceResponseNodeEndpoint,
  ProduceResponsePartitionProduceResponse,
  ProduceResponseTopicProduceResponse,
} from "../protocol/generated/produce.js";
import { AclOperation, ResourceType } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { defineHandler, type HandlerResult, NO_RESPONSE } from "../server/registry.js";
import { currentLeaderOf, errorCodeOf, isLeadershipError, reportUnexpected, ZERO_UUID } from "./common.js";

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
/** Kafka's AdminUtils.ADMIN_CLIENT_ID: the only client that may write to internal topics (their coordinators write directly). */
const ADMIN_CLIENT_ID = "__admin_client";

function partitionError(index: number, errorCode: number, errorMessage: string | null = null): ProduceResponsePartitionProduceResponse {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage, currentLeader: NO_LEADER };
}

const TRANSACTIONAL_ATTRIBUTE = 0x10;

/**
 * For a v2 batch marked transactional whose producer has no transaction open on `partition`: the
 * error verifying it with the coordinator gives (NONE once verified or added).
 */
function verifyTransactional(context: RequestContext, request: ProduceRequest, topic: string, partition: Partition, records: Buffer): number | Promise<number> {
  // Record batch header: magic at 16, attributes at 21, producer id at 43, producer epoch at 51.
  if (records.length < 61 || records[16] !== 2 || (records.readInt16BE(21) & TRANSACTIONAL_ATTRIBUTE) === 0) return ErrorCode.NONE;
  const transactionalId = request.transactionalId;
  if (transactionalId === null || !context.transactions.config.partitionVerificationEnabled) return ErrorCode.NONE;
  const producerId = records.readBigInt64BE(43);
  const producerEpoch = records.readInt16BE(51);
  if (partition.log.hasOngoingTransaction(producerId, producerEpoch)) return ErrorCode.NONE;
  const operation = context.apiVersion >= 12 ? "addPartition" : context.apiVersion >= 11 ? "genericErrorSupported" : "defaultError";
  const errors = context.transactions.verifyOrAddForAppend(transactionalId, producerId, producerEpoch, [{ topic, partition: partition.index }], operation);
  // A coordinator on another broker answers later (AddPartitionsToTxn).
  if (errors instanceof Promise) return errors.then(([error = ErrorCode.NONE]) => error);
  return errors[0] ?? ErrorCode.NONE;
}

/** An acks=all answer waiting for the high watermark. */
interface PendingCommit {
  readonly partition: Partition;
  readonly required: bigint;
  readonly minInsyncReplicas: number;
  response: ProduceResponsePartitionProduceResponse;
}

function producePartition(
  context: RequestContext,
  request: ProduceRequest,
  topic: TopicMetadata,
  data: ProduceRequestPartitionProduceData,
  acks: number,
  pending: PendingCommit[],
): ProduceResponsePartitionProduceResponse | Promise<ProduceResponsePartitionProduceResponse> {
  const partition = context.partitions.lookup(topic.name, data.index);
  if (typeof partition === "number") return partitionError(data.index, partition);
  if (data.records === null || data.records.length === 0) return partitionError(data.index, ErrorCode.INVALID_RECORD, "Produce request has no records");
  const verification = verifyTransactional(context, request, topic.name, partition, data.records);
  if (typeof verification === "number") return appendVerified(context, topic, partition, data, data.records, acks, pending, verification);
  // The request's bytes are a view of the network's reused buffer, valid only until the handler
  // returns: an append after the coordinator's answer needs its own copy.
  const records = Buffer.from(data.records);
  return verification.then((error) => appendVerified(context, topic, partition, data, records, acks, pending, error));
}

/** The append, once a transactional batch's partition is verified (or `verification` says why not). */
function appendVerified(
  context: RequestContext,
  topic: TopicMetadata,
  partition: Partition,
  data: ProduceRequestPartitionProduceData,
  records: Buffer,
  acks: number,
  pending: PendingCommit[],
  verification: number,
): ProduceResponsePartitionProduceResponse {
  if (verification !== ErrorCode.NONE) {
    const message =
      verification === ErrorCode.INVALID_TXN_STATE
        ? "Partition was not added to the transaction"
        : verification === ErrorCode.NOT_ENOUGH_REPLICAS
          ? "Unable to verify the partition has been added to the transaction."
          : null;
    return partitionError(data.index, verification, message);
  }
  // Checked at the append, as Kafka's appendRecordsToLeader does (after a transactional batch's
  // verification, which may have waited for a remote coordinator while the ISR changed).
  if (acks === -1 && partition.maximalIsr.length < topic.config.minInsyncReplicas) {
    return partitionError(
      data.index,
      ErrorCode.NOT_ENOUGH_REPLICAS,
      `The size of the current ISR Set(${partition.maximalIsr.join(", ")}) is insufficient to satisfy the min.isr requirement of ${topic.config.minInsyncReplicas} for partition ${partition}`,
    );
  }
  try {
    const result = partition.appendRecordsToLeader(records, topic.produceSettings, context.apiVersion, Date.now());
    if (result.errorCode !== ErrorCode.NONE) {
      context.metrics.produceFailed(topic.name, records.length);
      return {
        ...partitionError(data.index, result.errorCode, result.errorMessage ?? null),
        recordErrors: result.recordErrors.map((record) => ({ batchIndex: record.recordIndex, batchIndexErrorMessage: record.message })),
      };
    }
    // Records appended: the log end moved from baseOffset (a duplicate appended none).
    const appended = result.duplicate || result.baseOffset < 0n ? 0 : Number(partition.log.logEndOffset - result.baseOffset);
    context.metrics.produced(topic.name, appended, records.length);
    const response: ProduceResponsePartitionProduceResponse = {
      index: data.index,
      errorCode: ErrorCode.NONE,
      baseOffset: result.baseOffset,
      logAppendTimeMs: result.logAppendTimeMs,
      logStartOffset: result.logStartOffset,
      recordErrors: [],
      errorMessage: null,
      currentLeader: NO_LEADER,
    };
    if (acks !== -1) return response;
    // acks=all: the answer waits for the ISR to have everything up to the log end (a duplicate's
    // original batch included).
    const required = partition.log.logEndOffset;
    if (partition.highWatermark >= required) return response;
    pending.push({ partition, required, minInsyncReplicas: topic.config.minInsyncReplicas, response });
    return response;
  } catch (error) {
    reportUnexpected(context, error, `append to ${partition}`);
    return partitionError(
      data.index,
      errorCodeOf(error),
      error instanceof Error && errorCodeOf(error) !== ErrorCode.UNKNOWN_SERVER_ERROR ? error.message : null,
    );
  }
}

/**
 * Waits until each pending partition's high watermark passes its records (Kafka's DelayedProduce),
 * at most `timeoutMs`: the partitions still waiting then answer REQUEST_TIMED_OUT.
 */
async function awaitCommits(pending: PendingCommit[], timeoutMs: number): Promise<void> {
  const waits = pending.map((entry) => {
    const wait = entry.partition.waitForCommit(entry.required, entry.minInsyncReplicas);
    return { entry, wait, errorCode: null as number | null };
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, timeoutMs));
  });
  await Promise.race([Promise.all(waits.map(async (w) => (w.errorCode = await w.wait.done))), timedOut]);
  clearTimeout(timer);
  for (const w of waits) {
    const errorCode = w.errorCode ?? ErrorCode.REQUEST_TIMED_OUT;
    if (w.errorCode === null) w.wait.cancel();
    if (errorCode !== ErrorCode.NONE) {
      const failed = partitionError(w.entry.response.index, errorCode);
      Object.assign(w.entry.response, { ...failed });
    }
  }
}

export const produce = defineHandler<ProduceRequest, ProduceResponse>(
  0,
  { min: 0, max: 13 },
  (context, request) => {
    const { metadata, apiVersion } = context;
    const byId = apiVersion >= 13;
    const acks = request.acks;
    const validAcks = acks === 0 || acks === 1 || acks === -1;
    const pending: PendingCommit[] = [];
    let waiting = false;
    // Authorization (KafkaApis.handleProduceRequest): a transactional produce needs WRITE on its
    // transactional id (else the whole request fails), every topic WRITE (checked before existence).
    if (request.transactionalId !== null && !context.authorized(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId)) {
      throw new KafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    const answers = request.topicData.map((topicData) => {
      const topic = byId ? metadata.topicById(topicData.topicId) : metadata.topic(topicData.name);
      const name = byId ? topic?.name : topicData.name;
      const writable = name === undefined || context.authorized(AclOperation.WRITE, ResourceType.TOPIC, name);
      return topicData.partitionData.map((data) => {
        if (!validAcks) return partitionError(data.index, ErrorCode.INVALID_REQUIRED_ACKS);
        if (!writable) return partitionError(data.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
        if (topic === undefined) return partitionError(data.index, byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (topic.isInternal && context.header.clientId !== ADMIN_CLIENT_ID) {
          return partitionError(data.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topic.name}`);
        }
        const answer = producePartition(context, request, topic, data, acks, pending);
        if (answer instanceof Promise) waiting = true;
        return answer;
      });
    });
    if (!waiting) return finish(context, request, answers as ProduceResponsePartitionProduceResponse[][], pending);
    return Promise.all(answers.map((topic) => Promise.all(topic))).then((settled) => finish(context, request, settled, pending));
  },
  (_context, request, errorCode) => ({
    responses: request.topicData.map((topicData) => ({
      name: topicData.name,
      topicId: topicData.topicId,
      partitionResponses: topicData.partitionData.map((data) => partitionError(data.index, errorCode)),
    })),
    throttleTimeMs: 0,
    nodeEndpoints: [],
  }),
);

/** The response once every partition has its answer: acks=0 silence, KIP-951 leaders, acks=all waits. */
function finish(
  context: RequestContext,
  request: ProduceRequest,
  answers: ProduceResponsePartitionProduceResponse[][],
  pending: PendingCommit[],
): HandlerResult<ProduceResponse> | Promise<HandlerResult<ProduceResponse>> {
  const { metadata, apiVersion } = context;
  const byId = apiVersion >= 13;
  let failures = 0;
  const responses: ProduceResponseTopicProduceResponse[] = request.topicData.map((topicData, t) => {
    for (const answer of answers[t]) if (answer.errorCode !== ErrorCode.NONE) failures++;
    return { name: byId ? "" : topicData.name, topicId: byId ? topicData.topicId : ZERO_UUID, partitionResponses: answers[t] };
  });
  if (request.acks === 0) {
    if (failures > 0) context.connections.close(context.connection, `acks=0 produce failed for ${failures} partition(s)`);
    return NO_RESPONSE;
  }
  // KIP-951 (v10+): partitions this broker does not lead carry the current leader and its endpoint.
  const endpoints = new Map<number, ProduceResponseNodeEndpoint>();
  if (failures > 0 && apiVersion >= 10) {
    for (const [t, topicResponse] of responses.entries()) {
      const name = byId ? (metadata.topicById(request.topicData[t].topicId)?.name ?? "") : topicResponse.name;
      for (const partition of topicResponse.partitionResponses) {
        if (isLeadershipError(partition.errorCode)) partition.currentLeader = currentLeaderOf(context, name, partition.index, endpoints);
      }
    }
  }
  const nodeEndpoints = [...endpoints.values()];
  if (pending.length === 0) return { responses, throttleTimeMs: 0, nodeEndpoints };
  return awaitCommits(pending, request.timeoutMs).then(() => ({ responses, throttleTimeMs: 0, nodeEndpoints }));
}
