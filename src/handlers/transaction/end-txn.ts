// EndTxn (key 26), versions 0-5: commit or abort. The coordinator writes PrepareCommit /
// PrepareAbort, the markers into every partition of the transaction and CompleteCommit /
// CompleteAbort before answering (one node writes its own markers; Kafka answers after the
// prepare and sends markers after). v5+ is transaction version 2 (KIP-890 part 2): the transaction
// ends with an epoch bump and the answer carries the producer id and epoch to use next. Before v2,
// PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.

import { ErrorCode } from "../../protocol/errors.js";
import type { EndTxnRequest, EndTxnResponse } from "../../protocol/generated/end-txn.js";
import { defineHandler } from "../../server/registry.js";

export const endTxn = defineHandler<EndTxnRequest, EndTxnResponse>(
  26,
  { min: 0, max: 5 },
  async (context, request) => {
    const clientTransactionVersion = context.apiVersion >= 5 ? 2 : 0;
    const result = context.transactions.endTransaction(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.committed,
      clientTransactionVersion,
    );
    let errorCode = context.apiVersion < 2 && result.errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : result.errorCode;
    // The PrepareCommit/PrepareAbort record must be replicated before the client hears of it.
    if (errorCode === ErrorCode.NONE) errorCode = await context.transactions.whenDurable(request.transactionalId, context.config.requestTimeoutMs);
    return { throttleTimeMs: 0, errorCode, producerId: result.producerId, producerEpoch: result.producerEpoch };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 }),
);
