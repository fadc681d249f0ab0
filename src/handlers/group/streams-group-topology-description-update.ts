// StreamsGroupTopologyDescriptionUpdate (key 93), version 0 (KIP-1331): a member pushes its
// topology's description for a broker-side topology description plugin. The plugin is a Java
// class loaded by a Kafka broker (group.streams.topology.description.plugin.class, unset by
// default); Sluice runs none, so it answers as a Kafka 4.4 broker without a plugin does:
// UNSUPPORTED_VERSION "The broker has no streams group topology description plugin configured."
// (after the same group authorization), and heartbeats never ask for a description.

import { ErrorCode } from "../../protocol/errors.js";
import type {
  StreamsGroupTopologyDescriptionUpdateRequest,
  StreamsGroupTopologyDescriptionUpdateResponse,
} from "../../protocol/generated/streams-group-topology-description-update.js";
import { AclOperation, ResourceType } from "../../security/acl.js";
import { defineHandler } from "../../server/registry.js";

const answer = (errorCode: number, errorMessage: string | null = null): StreamsGroupTopologyDescriptionUpdateResponse => ({
  throttleTimeMs: 0,
  errorCode,
  errorMessage,
});

export const streamsGroupTopologyDescriptionUpdate = defineHandler<StreamsGroupTopologyDescriptionUpdateRequest, StreamsGroupTopologyDescriptionUpdateResponse>(
  93,
  { min: 0, max: 0 },
  (context, request) => {
    if (!context.groups.config.rebalanceProtocols.includes("streams")) return answer(ErrorCode.UNSUPPORTED_VERSION);
    if (!context.authorized(AclOperation.READ, ResourceType.GROUP, request.groupId)) return answer(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    return answer(ErrorCode.UNSUPPORTED_VERSION, "The broker has no streams group topology description plugin configured.");
  },
  (_context, _request, errorCode) => answer(errorCode),
);
