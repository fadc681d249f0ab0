// InitProducerId (key 22), versions 0-6. Without a transactional id: a new producer id with epoch
// 0 for an idempotent producer (ids come from blocks reserved in the cluster metadata, so one is
// never handed out twice, across restarts too). With one: the transaction coordinator bumps the
// id's epoch (fencing older producers), aborts an ongoing transaction first (the client gets
// CONCURRENT_TRANSACTIONS and retries), rotates the producer id when the epoch is exhausted, and
// checks the timeout against transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT). v3+: a
// producer passes its current id and epoch to recover (KIP-360). v6 (KIP-939): enable2Pc needs
// transaction.two.phase.commit.enable (TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise);
// keepPreparedTxn is UNSUPPORTED_VERSION, as in Kafka 4.4. Before v4, PRODUCER_FENCED is answered
// as INVALID_PRODUCER_EPOCH (KafkaApis).

import { ErrorCode } from "../../protocol/errors.js";
import type { InitProducerIdRequest, InitProducerIdResponse } from "../../protocol/generated/init-producer-id.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

function answer(errorCode: number, producerId = -1n, producerEpoch = -1): InitProducerIdResponse {
  return { throttleTimeMs: 0, errorCode, producerId, producerEpoch, ongoingTxnProducerId: -1n, ongoingTxnProducerEpoch: -1 };
}

export const initProducerId = defineHandler<InitProducerIdRequest, InitProducerIdResponse>(
  22,
  { min: 0, max: 6 },
  async (context, request) => {
    // Authorization: WRITE on the transactional id; an idempotent producer IDEMPOTENT_WRITE on the
    // cluster, or WRITE on some topic (Kafka's authorizeByResourceType).
    if (request.transactionalId !== null) {
      if (!context.authorized(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
        return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    } else if (
      !context.authorized(AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, CLUSTER_NAME) &&
      !context.authorizedAny(AclOperation.WRITE, ResourceType.TOPIC)
    ) {
      return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    if ((request.producerId === -1n) !== (request.producerEpoch === -1)) return answer(ErrorCode.INVALID_REQUEST);
    const expected = request.producerId === -1n ? null : { producerId: request.producerId, producerEpoch: request.producerEpoch };
    const result = await context.transactions.initProducerId(
      request.transactionalId,
      request.transactionTimeoutMs,
      request.enable2Pc,
      request.keepPreparedTxn,
      expected,
    );
    let errorCode = context.apiVersion < 4 && result.errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : result.errorCode;
    if (errorCode === ErrorCode.NONE) errorCode = await context.transactions.whenDurable(request.transactionalId, context.config.requestTimeoutMs);
    if (errorCode !== ErrorCode.NONE) return answer(errorCode);
    return answer(errorCode, result.producerId, result.producerEpoch);
  },
  (_context, _request, errorCode) => answer(errorCode),
);
