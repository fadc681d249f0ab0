// AddPartitionsToTxn (key 24), versions 0-5. v0-3 come from producers: the partitions they are
// about to write join the transaction (written to __transaction_state before the answer). v4+ come
// from brokers and batch transactions (KIP-890 part 1): `verifyOnly` asks whether partitions are
// already in the transaction (TRANSACTION_ABORTABLE for one that is not), otherwise they are added
// (v5: under transaction version 2). As in KafkaApis: an unknown topic or partition fails the whole
// transaction's request — its partitions get UNKNOWN_TOPIC_OR_PARTITION and the others
// OPERATION_NOT_ATTEMPTED; before v2 PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.
// Authorization (KafkaApis.handleAddPartitionsToTxnRequest): v0-3 need WRITE on the transactional
// id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition) and WRITE on each topic (an
// internal topic never passes: Kafka leaves them out of the check) — an unauthorized topic's
// partitions get TOPIC_AUTHORIZATION_FAILED and fail the request like an unknown one; v4+ need
// CLUSTER_ACTION on the cluster (CLUSTER_AUTHORIZATION_FAILED at the top level).

import { isInternalTopic } from "../../config/index.js";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from "../../protocol/generated/add-partitions-to-txn.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";

interface Transaction {
  readonly transactionalId: string;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly verifyOnly: boolean;
  readonly topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[];
}

function results(partitions: readonly { topic: string; partition: number; errorCode: number }[]): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] {
  const byTopic = new Map<string, AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult>();
  for (const { topic, partition, errorCode } of partitions) {
    let result = byTopic.get(topic);
    if (result === undefined) {
      result = { name: topic, resultsByPartition: [] };
      byTopic.set(topic, result);
    }
    result.resultsByPartition.push({ partitionIndex: partition, partitionErrorCode: errorCode });
  }
  return [...byTopic.values()];
}

function handleTransaction(context: RequestContext, transaction: Transaction): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] {
  const partitions = transaction.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
  const clientRequest = context.apiVersion < 4;
  if (clientRequest && !context.authorized(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transaction.transactionalId))
    return results(partitions.map((tp) => ({ ...tp, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED })));
  const writable = new Map<string, boolean>();
  const authorized = (topic: string) => {
    let answer = writable.get(topic);
    if (answer === undefined) {
      answer = !isInternalTopic(topic) && context.authorized(AclOperation.WRITE, ResourceType.TOPIC, topic);
      writable.set(topic, answer);
    }
    return answer;
  };
  const checks = partitions.map(({ topic, partition }) => {
    if (clientRequest && !authorized(topic)) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    const metadata = context.metadata.topic(topic);
    return metadata !== undefined && partition >= 0 && partition < metadata.partitions.length ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  });
  if (checks.some((error) => error !== ErrorCode.NONE)) {
    return results(
      partitions.map((tp, index) => ({ ...tp, errorCode: checks[index] === ErrorCode.NONE ? ErrorCode.OPERATION_NOT_ATTEMPTED : (checks[index] as number) })),
    );
  }
  const { transactions } = context;
  let errors: number[];
  if (transaction.verifyOnly) {
    errors = transactions.verifyPartitions(transaction.transactionalId, transaction.producerId, transaction.producerEpoch, partitions);
  } else {
    const clientTransactionVersion = context.apiVersion >= 5 ? 2 : 0;
    const error = transactions.addPartitions(
      transaction.transactionalId,
      transaction.producerId,
      transaction.producerEpoch,
      partitions,
      clientTransactionVersion,
    );
    errors = partitions.map(() => error);
  }
  if (context.apiVersion < 2) errors = errors.map((error) => (error === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : error));
  return results(partitions.map((tp, index) => ({ ...tp, errorCode: errors[index] as number })));
}

export const addPartitionsToTxn = defineHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>(
  24,
  { min: 0, max: 5 },
  (context, request) => {
    // Batches of transactions come from brokers only.
    if (context.apiVersion >= 4 && !context.authorized(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME))
      throw new KafkaError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    if (context.apiVersion < 4) {
      const resultsByTopicV3AndBelow = handleTransaction(context, {
        transactionalId: request.v3AndBelowTransactionalId,
        producerId: request.v3AndBelowProducerId,
        producerEpoch: request.v3AndBelowProducerEpoch,
        verifyOnly: false,
        topics: request.v3AndBelowTopics,
      });
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      resultsByTransaction: request.transactions.map((transaction) => ({
        transactionalId: transaction.transactionalId,
        topicResults: handleTransaction(context, transaction),
      })),
      resultsByTopicV3AndBelow: [],
    };
  },
  (context, request, errorCode) => {
    const failAll = (topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]) =>
      results(topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition, errorCode }))));
    if (context.apiVersion < 4)
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: failAll(request.v3AndBelowTopics) };
    return { throttleTimeMs: 0, errorCode, resultsByTransaction: [], resultsByTopicV3AndBelow: [] };
  },
);
