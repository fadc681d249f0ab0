// DescribeTransactions (key 65), version 0: each transactional id's state, producer id and epoch,
// timeout, start time and partitions (kafka-transactions.sh describe). An unknown id (or one being
// expired) is TRANSACTIONAL_ID_NOT_FOUND; an empty one INVALID_REQUEST. Authorization (KafkaApis):
// DESCRIBE on each transactional id, and a transaction's topics the principal may not DESCRIBE
// are left out.

import { ErrorCode } from "../../protocol/errors.js";
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from "../../protocol/generated/describe-transactions.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

/** A transactional id answered with an error and nothing else. */
function failedState(transactionalId: string, errorCode: number) {
  return {
    errorCode,
    transactionalId,
    transactionState: "",
    transactionTimeoutMs: 0,
    transactionStartTimeMs: -1n,
    producerId: -1n,
    producerEpoch: -1,
    topics: [],
  };
}

export const describeTransactions = defineHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>(
  65,
  { min: 0, max: 0 },
  (context, request) => ({
    throttleTimeMs: 0,
    transactionStates: request.transactionalIds.map((transactionalId) => {
      if (!context.authorized(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactionalId))
        return failedState(transactionalId, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const state = context.transactions.describe(transactionalId);
      return { ...state, topics: state.topics.filter((topic) => context.authorized(AclOperation.DESCRIBE, ResourceType.TOPIC, topic.topic)) };
    }),
  }),
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    transactionStates: request.transactionalIds.map((transactionalId) => failedState(transactionalId, errorCode)),
  }),
);
