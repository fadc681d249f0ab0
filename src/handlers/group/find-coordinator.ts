// FindCoordinator (key 10), versions 0-6: the broker coordinating a group (key type 0) — the
// leader of the group's partition of __consumer_offsets (COORDINATOR_NOT_AVAILABLE while it has
// none; on a single node, this broker); the topic is created on the first
// request, as Kafka's auto topic creation does for it (Kafka answers COORDINATOR_NOT_AVAILABLE
// while it creates the topic; here the creation is awaited and the coordinator answered at once).
// v4+ batch keys (KIP-699). Transaction coordinators (key type 1): the leader of the id's partition of
// __transaction_state, with
// __transaction_state created on first use the same way. Share coordinators (key type 2) are not
// served yet: COORDINATOR_NOT_AVAILABLE (retriable).
// Any other key type is INVALID_REQUEST ("Invalid coordinator type"), as in Kafka.

import { GROUP_METADATA_TOPIC } from "../../coordinator/group/coordinator.js";
import { TRANSACTION_STATE_TOPIC } from "../../coordinator/transaction/state-manager.js";
import { ErrorCode, errorByCode } from "../../protocol/errors.js";
import type { FindCoordinatorRequest, FindCoordinatorResponse, FindCoordinatorResponseCoordinator } from "../../protocol/generated/find-coordinator.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";
import { reportUnexpected } from "../common.js";

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const KEY_TYPE_SHARE = 2;

/** Kafka's Errors.message(): the exception's message, "NONE" for no error. */
const errorMessage = (code: number): string => (code === ErrorCode.NONE ? "NONE" : (errorByCode(code)?.message ?? "Unknown error"));

async function coordinatorFor(context: RequestContext, key: string, keyType: number): Promise<FindCoordinatorResponseCoordinator> {
  const none = (errorCode: number): FindCoordinatorResponseCoordinator => ({
    key,
    nodeId: -1,
    host: "",
    port: -1,
    errorCode,
    errorMessage: errorMessage(errorCode),
  });
  if (keyType === KEY_TYPE_SHARE) return none(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) return { ...none(ErrorCode.INVALID_REQUEST), errorMessage: "Invalid coordinator type" };
  // Authorization: DESCRIBE on the group or transactional id.
  if (keyType === KEY_TYPE_GROUP && !context.authorized(AclOperation.DESCRIBE, ResourceType.GROUP, key)) return none(ErrorCode.GROUP_AUTHORIZATION_FAILED);
  if (keyType === KEY_TYPE_TRANSACTION && !context.authorized(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key))
    return none(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  try {
    if (keyType === KEY_TYPE_GROUP) await context.groups.ensureOffsetsTopic();
    else await context.transactions.ensureTransactionTopic();
  } catch (error) {
    reportUnexpected(context, error, keyType === KEY_TYPE_GROUP ? "creating __consumer_offsets" : "creating __transaction_state");
    return none(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }
  // The coordinator is the leader of the key's partition of the internal topic.
  const topic = keyType === KEY_TYPE_GROUP ? GROUP_METADATA_TOPIC : TRANSACTION_STATE_TOPIC;
  const index = keyType === KEY_TYPE_GROUP ? context.groups.partitionFor(key) : context.transactions.partitionFor(key);
  const leaderId = context.metadata.partition(topic, index)?.leaderId ?? -1;
  const endpoint =
    leaderId < 0 || context.metadata.broker(leaderId) === undefined ? undefined : context.metadata.endpointFor(leaderId, context.connection.listener);
  if (endpoint === undefined) return none(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return { key, nodeId: leaderId, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: errorMessage(ErrorCode.NONE) };
}

export const findCoordinator = defineHandler<FindCoordinatorRequest, FindCoordinatorResponse>(10, { min: 0, max: 6 }, async (context, request) => {
  if (context.apiVersion >= 4) {
    const coordinators = await Promise.all(request.coordinatorKeys.map((key) => coordinatorFor(context, key, request.keyType)));
    // The single-key fields do not exist in v4+: they keep their defaults.
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: 0, host: "", port: 0, coordinators };
  }
  const keyType = context.apiVersion === 0 ? KEY_TYPE_GROUP : request.keyType;
  const found = await coordinatorFor(context, request.key, keyType);
  return {
    throttleTimeMs: 0,
    errorCode: found.errorCode,
    errorMessage: found.errorMessage,
    nodeId: found.nodeId,
    host: found.host,
    port: found.port,
    coordinators: [],
  };
});
