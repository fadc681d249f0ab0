// ApiVersions (key 18), versions 0-5: which APIs and versions this broker serves — read from
// the handler registry, so an API is advertised exactly when and as far as a handler serves it —
// and the feature levels, which Kafka 4 clients use to choose protocols:
//   metadata.version    7 (3.3-IV3) .. 33 (4.4-IV2), finalized at 33, like a Kafka 4.4 cluster
//                       (MetadataVersion.MINIMUM_VERSION and latestProduction() of Kafka 4.4.0).
//   transaction.version 0 .. 2, finalized at 2 (Kafka 4.4's TransactionVersion.TV_2): Kafka 4
//                       clients use KIP-890 part 2 (partitions added by the broker on produce,
//                       an epoch bump per transaction, EndTxn v5); older clients keep using
//                       AddPartitionsToTxn, which is served too.
//   group.version       0 .. 1, finalized at 1 (Kafka 4.4's GroupVersion.GV_1, KIP-848): consumer
//                       groups are served (ConsumerGroupHeartbeat, ConsumerGroupDescribe), so a
//                       client configured with group.protocol=consumer uses them.
//   share.version       0 .. 2, finalized at 2 (Kafka 4.4's default): share groups (KIP-932) are
//                       served — ShareGroupHeartbeat / Describe, ShareFetch, ShareAcknowledge.
//   streams.version     0 .. 1, finalized at 1 (Kafka 4.4's default): streams groups (KIP-1071) are
//                       served — StreamsGroupHeartbeat / Describe — for group.protocol=streams.
// v5 (KIP-1242): a client that names the cluster and node it means to reach (ClusterId, NodeId)
// and finds another gets REBOOTSTRAP_REQUIRED and nothing else, as Kafka 4.4's KafkaApis answers.
// A request of a version above ours never reaches here: the dispatcher answers it with v0 and
// UNSUPPORTED_VERSION (KIP-511).

import { TRANSACTION_VERSION_LEVEL } from "../coordinator/transaction/coordinator.js";
import { ErrorCode } from "../protocol/errors.js";
import type { ApiVersionsRequest, ApiVersionsResponse } from "../protocol/generated/api-versions.js";
import { defineHandler } from "../server/registry.js";

export const METADATA_VERSION = { min: 7, max: 33 } as const;

/** share.version: Kafka 4.4 finalizes level 2 (share groups, KIP-932; renew acknowledgements and the record-limit acquire mode). */
export const SHARE_VERSION_LEVEL = 2;

const supportedFeatures = [
  { name: "group.version", minVersion: 0, maxVersion: 1 },
  { name: "metadata.version", minVersion: METADATA_VERSION.min, maxVersion: METADATA_VERSION.max },
  { name: "share.version", minVersion: 0, maxVersion: SHARE_VERSION_LEVEL },
  { name: "streams.version", minVersion: 0, maxVersion: 1 },
  { name: "transaction.version", minVersion: 0, maxVersion: TRANSACTION_VERSION_LEVEL },
];

const finalizedFeatures = [
  { name: "group.version", minVersionLevel: 1, maxVersionLevel: 1 },
  { name: "share.version", minVersionLevel: SHARE_VERSION_LEVEL, maxVersionLevel: SHARE_VERSION_LEVEL },
  { name: "streams.version", minVersionLevel: 1, maxVersionLevel: 1 },
  { name: "metadata.version", minVersionLevel: METADATA_VERSION.max, maxVersionLevel: METADATA_VERSION.max },
  { name: "transaction.version", minVersionLevel: TRANSACTION_VERSION_LEVEL, maxVersionLevel: TRANSACTION_VERSION_LEVEL },
];

/** KIP-511's rule for client software names and versions. */
const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export const apiVersions = defineHandler<ApiVersionsRequest, ApiVersionsResponse>(18, { min: 0, max: 5 }, (context, request) => {
  const response: ApiVersionsResponse = {
    errorCode: ErrorCode.NONE,
    apiKeys: context.handlers.served(),
    throttleTimeMs: 0,
    supportedFeatures,
    finalizedFeaturesEpoch: 0n,
    finalizedFeatures,
    zkMigrationReady: false,
  };
  if (context.apiVersion >= 3) {
    if (!SOFTWARE_PATTERN.test(request.clientSoftwareName) || !SOFTWARE_PATTERN.test(request.clientSoftwareVersion)) {
      return { ...response, errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [] };
    }
    context.connection.clientSoftwareName = request.clientSoftwareName;
    context.connection.clientSoftwareVersion = request.clientSoftwareVersion;
  }
  if (context.apiVersion >= 5 && request.clusterId !== null) {
    const { metadata } = context;
    if (request.clusterId !== metadata.clusterId || request.nodeId !== metadata.nodeId) {
      return { ...response, errorCode: ErrorCode.REBOOTSTRAP_REQUIRED, apiKeys: [], supportedFeatures: [], finalizedFeaturesEpoch: -1n, finalizedFeatures: [] };
    }
  }
  return response;
});
