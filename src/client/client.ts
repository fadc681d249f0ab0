// KafkaClient: a small Kafka protocol client on Sluice's generated codec, for the operator CLI and
// for any code that needs to talk to a Kafka-compatible broker (Sluice or Apache Kafka):
//
//   const client = await KafkaClient.connect({ bootstrap: "localhost:9092" });
//   await client.createTopics([{ name: "t", partitions: 3 }]);
//   await client.produce([{ topic: "t", partition: 0, records: encodeBatch([{ key: null, value: Buffer.from("v") }]) }]);
//   const [earliest] = await client.listOffsets([{ topic: "t", partition: 0 }], "earliest");
//   const fetched = await client.fetch([{ topic: "t", partition: 0, offset: earliest.offset }]);
//   client.close();
//
// Requests go to the partition leaders and group coordinators (cluster.ts), retriable errors are
// retried with a bounded backoff, and Kafka's errors are KafkaResponseErrors carrying Kafka's names.

import {
  alterConfigs,
  type ClusterDescription,
  type ConfigAlteration,
  type ConfigResourceResult,
  type ConfigResourceTypeName,
  type CreatedTopic,
  createTopics,
  deleteTopics,
  describeCluster,
  describeConfigs,
  type NewTopic,
} from "./admin.js";
import { Cluster, type ClusterMetadata, type TopicInfo } from "./cluster.js";
import {
  type FetchedPartition,
  type FetchOptions,
  type FetchPosition,
  fetch,
  type ListedOffset,
  listOffsets,
  type OffsetSpec,
  type ProduceBatch,
  type ProduceResult,
  produce,
  type TopicPartition,
} from "./data.js";
import { ClientError, type KafkaResponseError } from "./errors.js";
import {
  type CommittedOffset,
  commitOffsets,
  deleteGroups,
  describeGroup,
  fetchOffsets,
  type GroupDescription,
  type ListedGroup,
  listGroups,
  type MemberGeneration,
} from "./groups.js";

export interface KafkaClientOptions {
  /** "host:port[,host:port…]" or a list of them. */
  bootstrap: string | readonly string[];
  /** Sent in every request header; brokers log it and DescribeGroups shows it. Default "sluice". */
  clientId?: string;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Default 30 s (Kafka's request.timeout.ms). */
  requestTimeoutMs?: number;
  /** First backoff between retries, doubling up to retryBackoffMaxMs. Defaults 100 ms and 1 s, as Kafka's clients. */
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /** A retried request gives up after this long. Default 30 s. */
  retryTimeoutMs?: number;
}

export class KafkaClient {
  /** Routing, connections and retries; the operations below are thin wrappers over functions on it. */
  readonly cluster: Cluster;

  private constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Connects to the first bootstrap server that answers ApiVersions; fails at once if none does. */
  static async connect(options: KafkaClientOptions): Promise<KafkaClient> {
    const bootstrap = (typeof options.bootstrap === "string" ? options.bootstrap.split(",") : options.bootstrap).map((s) => s.trim()).filter((s) => s !== "");
    if (bootstrap.length === 0) throw new ClientError("INVALID_ARGUMENT", "no bootstrap servers given");
    const cluster = new Cluster({
      bootstrap,
      clientId: options.clientId ?? "sluice",
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      retryBackoffMs: options.retryBackoffMs ?? 100,
      retryBackoffMaxMs: options.retryBackoffMaxMs ?? 1_000,
      retryTimeoutMs: options.retryTimeoutMs ?? 30_000,
    });
    await cluster.any();
    return new KafkaClient(cluster);
  }

  /** Brokers, cluster id, controller and `topics` (null: all of them). */
  metadata(topics: readonly string[] | null = null, options: { autoCreate?: boolean } = {}): Promise<ClusterMetadata> {
    return this.cluster.retry(() => this.cluster.metadata(topics, options));
  }

  /** One topic's partitions; UNKNOWN_TOPIC_OR_PARTITION ("Topic 'x' does not exist.") if there is none. */
  topic(name: string): Promise<TopicInfo> {
    return this.cluster.retry(() => this.cluster.topic(name));
  }

  describeCluster(): Promise<ClusterDescription> {
    return describeCluster(this.cluster);
  }

  createTopics(topics: readonly NewTopic[], options?: { validateOnly?: boolean; timeoutMs?: number }): Promise<CreatedTopic[]> {
    return createTopics(this.cluster, topics, options);
  }

  deleteTopics(names: readonly string[]): Promise<{ name: string; error: KafkaResponseError | null }[]> {
    return deleteTopics(this.cluster, names);
  }

  describeConfigs(
    resources: readonly { type: ConfigResourceTypeName; name: string; keys?: string[] }[],
    options?: { synonyms?: boolean },
  ): Promise<ConfigResourceResult[]> {
    return describeConfigs(this.cluster, resources, options);
  }

  /** IncrementalAlterConfigs: set, delete (revert to the default), append to or subtract from list configs. */
  alterConfigs(type: ConfigResourceTypeName, name: string, alterations: readonly ConfigAlteration[], options?: { validateOnly?: boolean }): Promise<void> {
    return alterConfigs(this.cluster, type, name, alterations, options);
  }

  listOffsets(partitions: readonly TopicPartition[], spec: OffsetSpec): Promise<ListedOffset[]> {
    return listOffsets(this.cluster, partitions, spec);
  }

  /** Whole record batches (records.ts's encodeBatch) to their partitions' leaders. */
  produce(batches: readonly ProduceBatch[], options?: { acks?: number; timeoutMs?: number }): Promise<ProduceResult[]> {
    return produce(this.cluster, batches, options);
  }

  fetch(positions: readonly FetchPosition[], options?: FetchOptions): Promise<FetchedPartition[]> {
    return fetch(this.cluster, positions, options);
  }

  listGroups(): Promise<ListedGroup[]> {
    return listGroups(this.cluster);
  }

  describeGroup(groupId: string): Promise<GroupDescription> {
    return describeGroup(this.cluster, groupId);
  }

  fetchOffsets(groupId: string, partitions?: readonly TopicPartition[] | null): Promise<CommittedOffset[]> {
    return fetchOffsets(this.cluster, groupId, partitions ?? null);
  }

  commitOffsets(groupId: string, offsets: readonly (TopicPartition & { offset: bigint })[], member?: MemberGeneration | null): Promise<void> {
    return commitOffsets(this.cluster, groupId, offsets, member ?? null);
  }

  deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; error: KafkaResponseError | null }[]> {
    return deleteGroups(this.cluster, groupIds);
  }

  close(): void {
    this.cluster.close();
  }
}
