// ListConfigResources (key 74), versions 0-1 (KIP-1142; v0 was ListClientMetricsResources): the
// config resources the cluster has, of the types asked for (all supported types when none):
// groups with configs, broker loggers and brokers (one per node), topics — in that order, as
// Kafka 4.4 answers. v0 lists client-metrics resources only (Sluice has none). A type Kafka does not
// list is UNSUPPORTED_VERSION. Authorization: DESCRIBE_CONFIGS on the cluster.
// kafka-configs.sh --entity-type groups uses it to tell a group without configs from a missing one.

import { ErrorCode } from "../protocol/errors.js";
import type { ListConfigResourcesRequest, ListConfigResourcesResponse } from "../protocol/generated/list-config-resources.js";
import { defineHandler } from "../server/registry.js";

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const CLIENT_METRICS = 16;
const GROUP = 32;
const SUPPORTED = new Set([TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP]);

export const listConfigResources = defineHandler<ListConfigResourcesRequest, ListConfigResourcesResponse>(
  74,
  { min: 0, max: 1 },
  (context, request) => {
    if (context.apiVersion === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, configResources: [] };
    const types = new Set(request.resourceTypes.length === 0 ? SUPPORTED : request.resourceTypes);
    if ([...types].some((type) => !SUPPORTED.has(type))) return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, configResources: [] };
    const out: { resourceName: string; resourceType: number }[] = [];
    if (types.has(GROUP)) for (const groupId of context.groupConfigs.groupsWithConfigs()) out.push({ resourceName: groupId, resourceType: GROUP });
    const nodes = [...context.metadata.brokers()].map((broker) => String(broker.nodeId));
    if (types.has(BROKER_LOGGER)) for (const node of nodes) out.push({ resourceName: node, resourceType: BROKER_LOGGER });
    if (types.has(BROKER)) for (const node of nodes) out.push({ resourceName: node, resourceType: BROKER });
    if (types.has(TOPIC)) for (const topic of context.metadata.topics()) out.push({ resourceName: topic.name, resourceType: TOPIC });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, configResources: out };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, configResources: [] }),
);
