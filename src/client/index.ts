// The Kafka protocol client's public surface.

export type { ClusterDescription, ConfigAlteration, ConfigEntry, ConfigResourceResult, ConfigResourceTypeName, CreatedTopic, NewTopic } from "./admin.js";
export { ConfigResourceType } from "./admin.js";
export { KafkaClient, type KafkaClientOptions } from "./client.js";
export type { BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo } from "./cluster.js";
export type { FetchedPartition, FetchOptions, FetchPosition, ListedOffset, OffsetSpec, ProduceBatch, ProduceResult, TopicPartition } from "./data.js";
export { ClientError, type ClientErrorCode, isRetriable, KafkaResponseError } from "./errors.js";
export { ClassicGroupMember, type GroupMemberOptions } from "./group-member.js";
export type { CommittedOffset, GroupDescription, GroupMember, ListedGroup, MemberGeneration } from "./groups.js";
export { partitionForKey } from "./partitioner.js";
export {
  approximateRecordBytes,
  type CompressionCodec,
  type ConsumerRecord,
  compressionCodecs,
  encodeBatch,
  loadCodecs,
  type ProducerRecord,
} from "./records.js";
