// ListTransactions (key 66), versions 0-2: the transactions this coordinator knows, filtered by
// state names (unknown names come back in unknownStateFilters), producer ids, v1 the minimum
// running time (DurationFilter, KIP-994) and v2 a transactional id pattern (KIP-1152: a Java regular
// expression; an invalid one is INVALID_REGULAR_EXPRESSION). COORDINATOR_LOAD_IN_PROGRESS while a
// partition of __transaction_state loads.

import { KafkaError } from "../../protocol/errors.js";
import type { ListTransactionsRequest, ListTransactionsResponse } from "../../protocol/generated/list-transactions.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

export const listTransactions = defineHandler<ListTransactionsRequest, ListTransactionsResponse>(
  66,
  { min: 0, max: 2 },
  (context, request) => {
    try {
      const listed = context.transactions.list(
        request.producerIdFilters,
        request.stateFilters,
        context.apiVersion >= 1 ? request.durationFilter : -1n,
        context.apiVersion >= 2 ? request.transactionalIdPattern : null,
      );
      // Authorization: only the transactional ids the principal may DESCRIBE.
      const transactionStates = listed.transactionStates.filter((state) =>
        context.authorized(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, state.transactionalId),
      );
      return { throttleTimeMs: 0, ...listed, transactionStates };
    } catch (error) {
      if (error instanceof KafkaError) return { throttleTimeMs: 0, errorCode: error.code, unknownStateFilters: [], transactionStates: [] };
      throw error;
    }
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] }),
);
