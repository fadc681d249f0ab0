// InitProducerId (key 22), versions 0-5, for idempotent producers: a new producer id with
// epoch 0. Ids come from blocks reserved in the cluster metadata, so an id is never handed
// out twice, across restarts too. A producer that passes its current id and epoch (KIP-360,
// v3+) to recover from a sequence error gets a fresh id as well — without a transactional
// id there is no state to bump an epoch in (Kafka does the same). Transactional ids need
// the transaction coordinator, which does not exist yet: COORDINATOR_NOT_AVAILABLE.

import { ErrorCode } from "../../protocol/errors.js";
import type { InitProducerIdRequest, InitProducerIdResponse } from "../../protocol/generated/init-producer-id.js";
import { defineHandler } from "../../server/registry.js";

function answer(errorCode: number, producerId = -1n, producerEpoch = -1): InitProducerIdResponse {
  return { throttleTimeMs: 0, errorCode, producerId, producerEpoch, ongoingTxnProducerId: -1n, ongoingTxnProducerEpoch: -1 };
}

export const initProducerId = defineHandler<InitProducerIdRequest, InitProducerIdResponse>(
  22,
  { min: 0, max: 5 },
  async (context, request) => {
    if ((request.producerId === -1n) !== (request.producerEpoch === -1)) return answer(ErrorCode.INVALID_REQUEST);
    if (request.transactionalId !== null) return answer(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const producerId = await context.producerIds.generateProducerId();
    return answer(ErrorCode.NONE, producerId, 0);
  },
  (_context, _request, errorCode) => answer(errorCode),
);
