// AddOffsetsToTxn (key 25), versions 0-4: the group's __consumer_offsets partition joins the
// transaction, so its TxnOffsetCommit records get the transaction's marker (KafkaApis adds
// `__consumer_offsets-partitionFor(groupId)` with transaction version 0). Before v2,
// PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH.

import { ErrorCode } from "../../protocol/errors.js";
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from "../../protocol/generated/add-offsets-to-txn.js";
import { defineHandler } from "../../server/registry.js";

export const addOffsetsToTxn = defineHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>(
  25,
  { min: 0, max: 4 },
  (context, request) => {
    const partition = context.groups.partitionFor(request.groupId);
    const error = context.transactions.addPartitions(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      [{ topic: "__consumer_offsets", partition }],
      0,
    );
    return { throttleTimeMs: 0, errorCode: context.apiVersion < 2 && error === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : error };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode }),
);
