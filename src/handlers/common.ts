// Small pieces the handlers share: Kafka's error codes for log failures, the zero Uuid, the
// authorized-operations bit sets reported while there is no authorizer.

import type { Endpoint } from "../cluster/metadata-cache.js";
import { LogError, type LogErrorCode } from "../native.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import type { Handler } from "../server/registry.js";

export { ZERO_UUID } from "../protocol/runtime.js";

/**
 * Kafka's controller refuses a CreateTopics or CreatePartitions request that would add more
 * partitions than this in all (QuorumController.MAX_RECORDS_PER_USER_OP), with POLICY_VIOLATION
 * for every topic: a request of a few bytes must not make the broker create millions of logs.
 */
export const PARTITIONS_PER_REQUEST_MAX = 10_000;

/** Int32.MIN_VALUE: "authorized operations were not requested". */
export const OPERATIONS_NOT_REQUESTED = -2147483648;

const bits = (ops: number[]) => ops.reduce((sum, op) => sum | (1 << op), 0);
/** Without an authorizer every principal may do everything a topic supports (AclOperation codes). */
export const TOPIC_OPERATIONS = bits([3, 4, 5, 6, 7, 8, 10, 11]);
/** Groups: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (AclEntry.supportedOperations(GROUP)). */
export const GROUP_OPERATIONS = bits([3, 6, 8, 10, 11]);
/** CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE (AclEntry.supportedOperations(CLUSTER)). */
export const CLUSTER_OPERATIONS = bits([5, 7, 8, 9, 10, 11, 12]);

const SUPPORTED_OPERATIONS: Readonly<Record<number, readonly number[]>> = {
  [ResourceType.TOPIC]: [3, 4, 5, 6, 7, 8, 10, 11],
  [ResourceType.GROUP]: [3, 6, 8, 10, 11],
  [ResourceType.CLUSTER]: [5, 7, 8, 9, 10, 11, 12],
};

/** The authorizedOperations bit field of a resource for this request's principal (Kafka's authHelper.authorizedOperations). */
export function authorizedOperations(context: RequestContext, resourceType: number, name: string): number {
  const supported = SUPPORTED_OPERATIONS[resourceType] ?? [];
  return bits(supported.filter((operation) => context.authorized(operation, resourceType, name)));
}

/**
 * The cluster's authorizedOperations bit field as Metadata (v8-10) and DescribeCluster report it
 * (AuthHelper.computeDescribeClusterResponse): 0 unless the principal may DESCRIBE the cluster.
 */
export function clusterAuthorizedOperations(context: RequestContext): number {
  return context.authorized(AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME) ? authorizedOperations(context, ResourceType.CLUSTER, CLUSTER_NAME) : 0;
}

/**
 * The Kafka error each native log failure stands for: one exhaustive table (a new code does not
 * compile without a row; test/unit/errors.test.ts checks the rows against the codes the binding
 * throws). UNEXPECTED_APPEND_OFFSET and INVALID_ARGUMENT are broker bugs, answered
 * UNKNOWN_SERVER_ERROR with the detail logged, as Kafka answers an unexpected exception.
 */
export const logErrorToKafka: Readonly<Record<LogErrorCode, number>> = {
  OFFSET_OUT_OF_RANGE: ErrorCode.OFFSET_OUT_OF_RANGE,
  LOG_START_OFFSET_ABOVE_HIGH_WATERMARK: ErrorCode.OFFSET_OUT_OF_RANGE,
  CORRUPT_MESSAGE: ErrorCode.CORRUPT_MESSAGE,
  EMPTY_APPEND: ErrorCode.INVALID_RECORD,
  UNEXPECTED_APPEND_OFFSET: ErrorCode.UNKNOWN_SERVER_ERROR,
  OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  INVALID_PRODUCER_EPOCH: ErrorCode.INVALID_PRODUCER_EPOCH,
  INVALID_TXN_STATE: ErrorCode.INVALID_TXN_STATE,
  TRANSACTION_COORDINATOR_FENCED: ErrorCode.TRANSACTION_COORDINATOR_FENCED,
  STORAGE_ERROR: ErrorCode.KAFKA_STORAGE_ERROR,
  LOG_CLOSED: ErrorCode.NOT_LEADER_OR_FOLLOWER,
  INVALID_ARGUMENT: ErrorCode.UNKNOWN_SERVER_ERROR,
};

/**
 * Kafka's error code for a failure of a partition operation: LogError codes map 1:1, a
 * KafkaError keeps its code, anything else is UNKNOWN_SERVER_ERROR (logged by the caller).
 */
export function errorCodeOf(error: unknown): number {
  if (error instanceof KafkaError) return error.code;
  if (error instanceof LogError) return logErrorToKafka[error.code];
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Logs a failure that maps to UNKNOWN_SERVER_ERROR (the client sees no detail). */
export function reportUnexpected(context: RequestContext, error: unknown, what: string): void {
  if (errorCodeOf(error) === ErrorCode.UNKNOWN_SERVER_ERROR) context.logger.error({ err: error, what }, "unexpected failure");
}

/** Every live broker with its advertised endpoint for the listener the request came in on (Kafka answers per listener). */
export function brokersFor(context: RequestContext): { nodeId: number; endpoint: Endpoint; rack: string | null }[] {
  return context.metadata.brokers().flatMap((broker) => {
    const endpoint = context.metadata.endpointFor(broker.nodeId, context.connection.listener);
    return endpoint === undefined ? [] : [{ nodeId: broker.nodeId, endpoint, rack: broker.rack }];
  });
}

/** Errors that mean "this broker does not lead the partition (any more)": KIP-951 answers them with the current leader. */
export function isLeadershipError(errorCode: number): boolean {
  return errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || errorCode === ErrorCode.FENCED_LEADER_EPOCH;
}

/**
 * KIP-951: the partition's current leader and epoch as this broker knows them, and the leader's
 * endpoint on the request's listener added to `endpoints` (once per node), so a client moves to
 * the new leader without a Metadata round trip. {-1, -1} when it has none.
 */
export function currentLeaderOf(
  context: RequestContext,
  topic: string,
  index: number,
  endpoints: Map<number, { nodeId: number; host: string; port: number; rack: string | null }>,
): { leaderId: number; leaderEpoch: number } {
  const partition = context.metadata.partition(topic, index);
  if (partition === undefined || partition.leaderId < 0) return { leaderId: -1, leaderEpoch: -1 };
  const broker = context.metadata.broker(partition.leaderId);
  const endpoint = context.metadata.endpointFor(partition.leaderId, context.connection.listener);
  if (broker === undefined || endpoint === undefined) return { leaderId: -1, leaderEpoch: -1 };
  endpoints.set(broker.nodeId, { nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port, rack: broker.rack });
  return { leaderId: partition.leaderId, leaderEpoch: partition.leaderEpoch };
}

/**
 * `handler` with Kafka's group check first: `operation` on the request's group, else the
 * handler's error response with GROUP_AUTHORIZATION_FAILED (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup: READ).
 */
export function requiringGroup<Req extends { groupId: string }, Res>(handler: Handler<Req, Res>, operation: number): Handler<Req, Res> {
  return {
    ...handler,
    handle(context, request) {
      if (!context.authorized(operation, ResourceType.GROUP, request.groupId)) throw new KafkaError(ErrorCode.GROUP_AUTHORIZATION_FAILED);
      return handler.handle(context, request);
    },
  };
}

/** `handler` with `operation` on the cluster required first (CLUSTER_AUTHORIZATION_FAILED through its error response). */
export function requiringCluster<Req, Res>(handler: Handler<Req, Res>, operation: number): Handler<Req, Res> {
  return {
    ...handler,
    handle(context, request) {
      if (!context.authorized(operation, ResourceType.CLUSTER, CLUSTER_NAME)) throw new KafkaError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
      return handler.handle(context, request);
    },
  };
}

/** `handler` with `operation` on the request's transactional id required first (TRANSACTIONAL_ID_AUTHORIZATION_FAILED). */
export function requiringTransactionalId<Req extends { transactionalId: string }, Res>(handler: Handler<Req, Res>, operation: number): Handler<Req, Res> {
  return {
    ...handler,
    handle(context, request) {
      if (!context.authorized(operation, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
        throw new KafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      return handler.handle(context, request);
    },
  };
}
