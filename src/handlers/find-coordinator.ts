// FindCoordinator (key 10): there are no group or transaction coordinators yet, so every key
// is answered COORDINATOR_NOT_AVAILABLE (retriable: clients keep asking), as a Kafka broker
// does while its coordinator is loading.

import { ErrorCode } from "../protocol/errors.js";
import type { FindCoordinatorRequest, FindCoordinatorResponse } from "../protocol/generated/find-coordinator.js";
import { defineHandler } from "../server/registry.js";

const NOT_AVAILABLE = ErrorCode.COORDINATOR_NOT_AVAILABLE;
const MESSAGE = "The coordinator is not available.";

export const findCoordinator = defineHandler<FindCoordinatorRequest, FindCoordinatorResponse>(10, { min: 0, max: 6 }, (context, request) => {
  if (context.apiVersion >= 4) {
    return {
      throttleTimeMs: 0,
      // The single-key fields do not exist in v4+: they keep their defaults.
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      nodeId: 0,
      host: "",
      port: 0,
      coordinators: request.coordinatorKeys.map((key) => ({ key, nodeId: -1, host: "", port: -1, errorCode: NOT_AVAILABLE, errorMessage: MESSAGE })),
    };
  }
  return { throttleTimeMs: 0, errorCode: NOT_AVAILABLE, errorMessage: MESSAGE, nodeId: -1, host: "", port: -1, coordinators: [] };
});
