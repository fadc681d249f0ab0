// DescribeCluster (key 60), versions 0-2: the cluster id, every live broker on the requesting
// listener's endpoints, and the active controller (a single node is both its broker and controller;
// a cluster's controller is the broker elected through etcd).
// endpointType 2 (controllers) is not served on a broker listener: MISMATCHED_ENDPOINT_TYPE, and
// any other but 1 UNSUPPORTED_ENDPOINT_TYPE (Kafka's AuthHelper.computeDescribeClusterResponse).

import { ErrorCode } from "../protocol/errors.js";
import type { DescribeClusterRequest, DescribeClusterResponse } from "../protocol/generated/describe-cluster.js";
import { defineHandler } from "../server/registry.js";
import { brokersFor, clusterAuthorizedOperations, OPERATIONS_NOT_REQUESTED } from "./common.js";

const BROKERS = 1;
const CONTROLLERS = 2;

export const describeCluster = defineHandler<DescribeClusterRequest, DescribeClusterResponse>(60, { min: 0, max: 2 }, (context, request) => {
  const endpointType = context.apiVersion >= 1 ? request.endpointType : BROKERS;
  const base = {
    throttleTimeMs: 0,
    endpointType,
    clusterId: context.metadata.clusterId,
    controllerId: context.metadata.controllerId,
    clusterAuthorizedOperations: request.includeClusterAuthorizedOperations ? clusterAuthorizedOperations(context) : OPERATIONS_NOT_REQUESTED,
  };
  if (endpointType !== BROKERS) {
    return {
      ...base,
      ...(endpointType === CONTROLLERS
        ? {
            errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
            errorMessage: "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
          }
        : { errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `Unsupported endpoint type ${endpointType}` }),
      brokers: [],
    };
  }
  return {
    ...base,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    brokers: brokersFor(context).map(({ nodeId, endpoint, rack }) => ({ brokerId: nodeId, host: endpoint.host, port: endpoint.port, rack, isFenced: false })),
  };
});
