// DescribeTransactions (key 65), version 0: each transactional id's state, producer id and epoch,
// timeout, start time and partitions (kafka-transactions.sh describe). An unknown id (or one being
// expired) is TRANSACTIONAL_ID_NOT_FOUND; an empty one INVALID_REQUEST.

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
    // Authorization: DESCRIBE on each transactional id.
    transactionStates: request.transactionalIds.map((transactionalId) =>
      context.authorized(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactionalId)
        ? context.transactions.describe(transactionalId)
        : failedState(transactionalId, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
    ),
  }),
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    transactionStates: request.transactionalIds.map((transactionalId) => failedState(transactionalId, errorCode)),
  }),
);
