// The Kafka admin APIs run in-process, for the HTTP plane: the admin REST API (admin.ts) changes
// topics and groups through the very handlers a Kafka AdminClient reaches (CreateTopics,
// DeleteTopics, DescribeConfigs, DescribeGroups, ConsumerGroupDescribe, OffsetCommit,
// DeleteGroups), so a console request gets Kafka's validation, rules and error codes — no second
// copy of them here. A call is what the dispatcher would make of a decoded request: a
// RequestContext over the broker's services with this plane's own Connection and the anonymous
// principal; nothing is encoded, and the request metrics are not counted (no Kafka client sent it).

import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from "../protocol/generated/consumer-group-describe.js";
import { type CreateTopicsRequest, type CreateTopicsResponse, defaultCreateTopicsRequest } from "../protocol/generated/create-topics.js";
import { type DeleteGroupsRequest, type DeleteGroupsResponse, defaultDeleteGroupsRequest } from "../protocol/generated/delete-groups.js";
import { type DeleteTopicsRequest, type DeleteTopicsResponse, defaultDeleteTopicsRequest } from "../protocol/generated/delete-topics.js";
import { type DescribeConfigsRequest, type DescribeConfigsResponse, defaultDescribeConfigsRequest } from "../protocol/generated/describe-configs.js";
import { type DescribeGroupsRequest, type DescribeGroupsResponse, defaultDescribeGroupsRequest } from "../protocol/generated/describe-groups.js";
import { defaultRequestHeader } from "../protocol/generated/headers.js";
import { defaultOffsetCommitRequest, type OffsetCommitRequest, type OffsetCommitResponse } from "../protocol/generated/offset-commit.js";
import { ZERO_UUID } from "../protocol/runtime.js";
import { ANONYMOUS, type BrokerServices, Connection, RequestContext } from "../server/context.js";
import { NO_RESPONSE } from "../server/registry.js";

/** The client id the handlers (and the broker's log) see for the HTTP plane's requests. */
export const HTTP_CLIENT_ID = "sluice-http-admin";

/** API keys and the version each call uses (the newest each handler serves). */
const Api = {
  OffsetCommit: { key: 8, version: 9 },
  DescribeGroups: { key: 15, version: 6 },
  CreateTopics: { key: 19, version: 7 },
  DeleteTopics: { key: 20, version: 5 },
  DescribeConfigs: { key: 32, version: 4 },
  DeleteGroups: { key: 42, version: 2 },
  ConsumerGroupDescribe: { key: 69, version: 1 },
} as const;

/** ConfigResource.Type of a topic. */
const TOPIC_RESOURCE = 2;

export class LocalAdmin {
  /** Stands for the HTTP plane where a handler wants the connection a request came on. */
  readonly #connection = new Connection(-1, "HTTP", "127.0.0.1", 0);
  #correlationId = 0;

  constructor(private readonly services: BrokerServices) {}

  async #call<Req, Res>(api: { key: number; version: number }, request: Req): Promise<Res> {
    const handler = this.services.handlers.get(api.key);
    if (handler === undefined) throw new Error(`no handler for API key ${api.key}`);
    if (api.version < handler.minVersion || api.version > handler.maxVersion) throw new Error(`${handler.api.name} v${api.version} is not served`);
    const header = {
      ...defaultRequestHeader(),
      requestApiKey: api.key,
      requestApiVersion: api.version,
      correlationId: ++this.#correlationId,
      clientId: HTTP_CLIENT_ID,
    };
    const context = new RequestContext(this.services, this.#connection, header, api.version, ANONYMOUS, Date.now());
    const response = await handler.handle(context, request);
    if (response === NO_RESPONSE) throw new Error(`${handler.api.name} gave no response`);
    return response as Res;
  }

  createTopic(name: string, partitions: number, replicationFactor: number, configs: Readonly<Record<string, string>>): Promise<CreateTopicsResponse> {
    const request: CreateTopicsRequest = {
      ...defaultCreateTopicsRequest(),
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor,
          assignments: [],
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
    };
    return this.#call(Api.CreateTopics, request);
  }

  deleteTopic(name: string): Promise<DeleteTopicsResponse> {
    const request: DeleteTopicsRequest = { ...defaultDeleteTopicsRequest(), topicNames: [name] };
    return this.#call(Api.DeleteTopics, request);
  }

  describeTopicConfigs(name: string): Promise<DescribeConfigsResponse> {
    const request: DescribeConfigsRequest = {
      ...defaultDescribeConfigsRequest(),
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: null }],
      includeDocumentation: true,
    };
    return this.#call(Api.DescribeConfigs, request);
  }

  describeClassicGroup(groupId: string): Promise<DescribeGroupsResponse> {
    const request: DescribeGroupsRequest = { ...defaultDescribeGroupsRequest(), groups: [groupId] };
    return this.#call(Api.DescribeGroups, request);
  }

  describeConsumerGroup(groupId: string): Promise<ConsumerGroupDescribeResponse> {
    const request: ConsumerGroupDescribeRequest = { groupIds: [groupId], includeAuthorizedOperations: false };
    return this.#call(Api.ConsumerGroupDescribe, request);
  }

  /**
   * Commits offsets as an AdminClient's alterConsumerGroupOffsets does: generation -1, no member,
   * which the coordinator accepts only while the group has no members.
   */
  commitOffsets(groupId: string, topic: string, offsets: ReadonlyMap<number, bigint>): Promise<OffsetCommitResponse> {
    const request: OffsetCommitRequest = {
      ...defaultOffsetCommitRequest(),
      groupId,
      topics: [
        {
          name: topic,
          topicId: ZERO_UUID,
          partitions: [...offsets].map(([partitionIndex, committedOffset]) => ({
            partitionIndex,
            committedOffset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: "",
          })),
        },
      ],
    };
    return this.#call(Api.OffsetCommit, request);
  }

  deleteGroup(groupId: string): Promise<DeleteGroupsResponse> {
    const request: DeleteGroupsRequest = { ...defaultDeleteGroupsRequest(), groupsNames: [groupId] };
    return this.#call(Api.DeleteGroups, request);
  }
}
