// Topic, config and cluster administration: CreateTopics, DeleteTopics, DescribeConfigs,
// IncrementalAlterConfigs, DescribeCluster. Results come back per topic / per resource with their
// own error (a KafkaResponseError or null), as Kafka's Admin client reports them: one bad topic
// does not hide the others' results.

import type { CreateTopicsResponse } from "../protocol/generated/create-topics.js";
import type { DeleteTopicsResponse } from "../protocol/generated/delete-topics.js";
import type { DescribeClusterResponse } from "../protocol/generated/describe-cluster.js";
import type { DescribeConfigsResponse } from "../protocol/generated/describe-configs.js";
import type { IncrementalAlterConfigsResponse } from "../protocol/generated/incremental-alter-configs.js";
import { ZERO_UUID } from "../protocol/runtime.js";
import type { BrokerInfo, Cluster } from "./cluster.js";
import { KafkaResponseError } from "./errors.js";

const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const DESCRIBE_CONFIGS = 32;
const INCREMENTAL_ALTER_CONFIGS = 44;
const DESCRIBE_CLUSTER = 60;

/** Kafka's ConfigResource.Type codes, by the names kafka-configs.sh's --entity-type uses. */
export const ConfigResourceType = { topics: 2, brokers: 4, "broker-loggers": 8, "client-metrics": 16, groups: 32 } as const;
export type ConfigResourceTypeName = keyof typeof ConfigResourceType;

/** Kafka's ConfigEntry.ConfigSource, by the wire code. */
export const configSourceNames = [
  "UNKNOWN",
  "DYNAMIC_TOPIC_CONFIG",
  "DYNAMIC_BROKER_CONFIG",
  "DYNAMIC_DEFAULT_BROKER_CONFIG",
  "STATIC_BROKER_CONFIG",
  "DEFAULT_CONFIG",
  "DYNAMIC_BROKER_LOGGER_CONFIG",
  "CLIENT_METRICS_CONFIG",
  "GROUP_CONFIG",
] as const;

const alterOperations = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

export interface NewTopic {
  name: string;
  /** -1: the broker's num.partitions. */
  partitions?: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface CreatedTopic {
  name: string;
  topicId: string;
  partitions: number;
  replicationFactor: number;
  error: KafkaResponseError | null;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  source: string;
  isDefault: boolean;
  readOnly: boolean;
  sensitive: boolean;
  synonyms: { name: string; value: string | null; source: string }[];
}

export interface ConfigResourceResult {
  type: ConfigResourceTypeName;
  name: string;
  configs: ConfigEntry[];
  error: KafkaResponseError | null;
}

export interface ConfigAlteration {
  name: string;
  operation: keyof typeof alterOperations;
  value?: string | null;
}

export interface ClusterDescription {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
}

function errorOf(code: number, message: string | null): KafkaResponseError | null {
  return code === 0 ? null : new KafkaResponseError(code, message);
}

export async function createTopics(
  cluster: Cluster,
  topics: readonly NewTopic[],
  options: { validateOnly?: boolean; timeoutMs?: number } = {},
): Promise<CreatedTopic[]> {
  const response = await cluster.retry(async () =>
    (await cluster.any()).request<CreateTopicsResponse>(CREATE_TOPICS, {
      topics: topics.map((topic) => ({
        name: topic.name,
        numPartitions: topic.partitions ?? -1,
        replicationFactor: topic.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: options.timeoutMs ?? 30_000,
      validateOnly: options.validateOnly ?? false,
    }),
  );
  cluster.forgetRoutes();
  return response.topics.map((topic) => ({
    name: topic.name,
    topicId: topic.topicId,
    partitions: topic.numPartitions,
    replicationFactor: topic.replicationFactor,
    error: errorOf(topic.errorCode, topic.errorMessage),
  }));
}

export async function deleteTopics(
  cluster: Cluster,
  names: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<{ name: string; error: KafkaResponseError | null }[]> {
  const response = await cluster.retry(async () =>
    (await cluster.any()).request<DeleteTopicsResponse>(DELETE_TOPICS, (version) => ({
      ...(version >= 6 ? { topics: names.map((name) => ({ name, topicId: ZERO_UUID })) } : { topicNames: [...names] }),
      timeoutMs: options.timeoutMs ?? 30_000,
    })),
  );
  cluster.forgetRoutes();
  return response.responses.map((result) => ({ name: result.name ?? "", error: errorOf(result.errorCode, result.errorMessage) }));
}

/**
 * DescribeConfigs. A broker's own configs are asked of that broker (another one answers only for
 * the cluster-wide defaults, resource name ""), everything else of any broker.
 */
export async function describeConfigs(
  cluster: Cluster,
  resources: readonly { type: ConfigResourceTypeName; name: string; keys?: string[] }[],
  options: { synonyms?: boolean } = {},
): Promise<ConfigResourceResult[]> {
  const results: ConfigResourceResult[] = [];
  for (const resource of resources) {
    const response = await cluster.retry(async () => {
      const connection = resource.type === "brokers" && /^\d+$/.test(resource.name) ? await cluster.node(Number(resource.name)) : await cluster.any();
      return connection.request<DescribeConfigsResponse>(DESCRIBE_CONFIGS, {
        resources: [{ resourceType: ConfigResourceType[resource.type], resourceName: resource.name, configurationKeys: resource.keys ?? null }],
        includeSynonyms: options.synonyms ?? false,
        includeDocumentation: false,
      });
    });
    for (const result of response.results) {
      results.push({
        type: resource.type,
        name: result.resourceName,
        error: errorOf(result.errorCode, result.errorMessage),
        configs: result.configs.map((config) => ({
          name: config.name,
          value: config.value,
          source: configSourceNames[config.configSource] ?? "UNKNOWN",
          // v0 has isDefault only; later versions say it with the source.
          isDefault: config.configSource === 5 || (config.configSource === -1 && config.isDefault),
          readOnly: config.readOnly,
          sensitive: config.isSensitive,
          synonyms: config.synonyms.map((synonym) => ({ name: synonym.name, value: synonym.value, source: configSourceNames[synonym.source] ?? "UNKNOWN" })),
        })),
      });
    }
  }
  return results;
}

/** IncrementalAlterConfigs on one resource; throws its error. */
export async function alterConfigs(
  cluster: Cluster,
  type: ConfigResourceTypeName,
  name: string,
  alterations: readonly ConfigAlteration[],
  options: { validateOnly?: boolean } = {},
): Promise<void> {
  const response = await cluster.retry(async () => {
    const connection = type === "brokers" && /^\d+$/.test(name) ? await cluster.node(Number(name)) : await cluster.any();
    return connection.request<IncrementalAlterConfigsResponse>(INCREMENTAL_ALTER_CONFIGS, {
      resources: [
        {
          resourceType: ConfigResourceType[type],
          resourceName: name,
          configs: alterations.map((change) => ({ name: change.name, configOperation: alterOperations[change.operation], value: change.value ?? null })),
        },
      ],
      validateOnly: options.validateOnly ?? false,
    });
  });
  for (const result of response.responses) {
    const error = errorOf(result.errorCode, result.errorMessage);
    if (error) throw error;
  }
}

/** DescribeCluster where the broker serves it (Kafka 2.8+), else what Metadata says. */
export async function describeCluster(cluster: Cluster): Promise<ClusterDescription> {
  const connection = await cluster.any();
  if (connection.version(DESCRIBE_CLUSTER) === undefined) {
    const metadata = await cluster.metadata([]);
    return { clusterId: metadata.clusterId, controllerId: metadata.controllerId, brokers: metadata.brokers };
  }
  const response = await cluster.retry(async () => (await cluster.any()).request<DescribeClusterResponse>(DESCRIBE_CLUSTER, {}));
  if (response.errorCode !== 0) throw new KafkaResponseError(response.errorCode, response.errorMessage);
  return {
    clusterId: response.clusterId,
    controllerId: response.controllerId,
    brokers: response.brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })).sort((a, b) => a.nodeId - b.nodeId),
  };
}
