// The group coordinator's settings, read once from the broker configuration (Kafka's
// GroupCoordinatorConfig and OffsetConfig, same names and defaults: src/config/kafka-defs.ts).

import type { BrokerConfig } from "../../config/index.js";

export interface GroupCoordinatorConfig {
  /** offsets.topic.num.partitions (50). */
  readonly offsetsTopicPartitions: number;
  /** offsets.topic.segment.bytes (100 MiB). */
  readonly offsetsTopicSegmentBytes: number;
  /** offsets.topic.compression.codec (0: none): the codec of the coordinator's batches. */
  readonly offsetsTopicCompressionCodec: number;
  /** offset.metadata.max.bytes (4096). */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes (7 days), in ms. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms (10 minutes). */
  readonly offsetsRetentionCheckIntervalMs: number;
  /** offsets.load.buffer.size (5 MiB): bytes read per step while loading a partition. */
  readonly offsetsLoadBufferSize: number;
  /** offsets.commit.timeout.ms (5 s): how long a commit waits for the offsets partition's ISR. */
  readonly offsetCommitTimeoutMs: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms (classic protocol). */
  readonly classicMinSessionTimeoutMs: number;
  readonly classicMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms (3 s). */
  readonly classicInitialRebalanceDelayMs: number;
  /** group.max.size (classic groups). */
  readonly classicMaxSize: number;
  /** group.consumer.* (KIP-848). */
  readonly consumerSessionTimeoutMs: number;
  readonly consumerMinSessionTimeoutMs: number;
  readonly consumerMaxSessionTimeoutMs: number;
  readonly consumerHeartbeatIntervalMs: number;
  readonly consumerMinHeartbeatIntervalMs: number;
  readonly consumerMaxHeartbeatIntervalMs: number;
  readonly consumerMaxSize: number;
  readonly consumerAssignors: readonly string[];
  /** group.consumer.assignment.interval.ms (KIP-1263): at most one new target assignment per interval. */
  readonly consumerAssignmentIntervalMs: number;
  readonly consumerMigrationPolicy: "disabled" | "downgrade" | "upgrade" | "bidirectional";
  readonly consumerRegexRefreshIntervalMs: number;
  /** group.coordinator.rebalance.protocols: which group types are served. */
  readonly rebalanceProtocols: readonly string[];
  /** group.share.* (KIP-932). */
  readonly shareSessionTimeoutMs: number;
  readonly shareHeartbeatIntervalMs: number;
  readonly shareMaxSize: number;
}

export function groupCoordinatorConfig(config: BrokerConfig): GroupCoordinatorConfig {
  const int = (name: string) => Number(config.get(name));
  const list = (name: string) => ((config.get(name) as readonly string[] | null) ?? []).map((item) => item.trim()).filter((item) => item !== "");
  return {
    offsetsTopicPartitions: int("offsets.topic.num.partitions"),
    offsetsTopicSegmentBytes: int("offsets.topic.segment.bytes"),
    offsetsTopicCompressionCodec: int("offsets.topic.compression.codec"),
    offsetMetadataMaxBytes: int("offset.metadata.max.bytes"),
    offsetsRetentionMs: int("offsets.retention.minutes") * 60_000,
    offsetsRetentionCheckIntervalMs: int("offsets.retention.check.interval.ms"),
    offsetsLoadBufferSize: int("offsets.load.buffer.size"),
    offsetCommitTimeoutMs: int("offsets.commit.timeout.ms"),
    classicMinSessionTimeoutMs: int("group.min.session.timeout.ms"),
    classicMaxSessionTimeoutMs: int("group.max.session.timeout.ms"),
    classicInitialRebalanceDelayMs: int("group.initial.rebalance.delay.ms"),
    classicMaxSize: int("group.max.size"),
    consumerSessionTimeoutMs: int("group.consumer.session.timeout.ms"),
    consumerMinSessionTimeoutMs: int("group.consumer.min.session.timeout.ms"),
    consumerMaxSessionTimeoutMs: int("group.consumer.max.session.timeout.ms"),
    consumerHeartbeatIntervalMs: int("group.consumer.heartbeat.interval.ms"),
    consumerMinHeartbeatIntervalMs: int("group.consumer.min.heartbeat.interval.ms"),
    consumerMaxHeartbeatIntervalMs: int("group.consumer.max.heartbeat.interval.ms"),
    consumerMaxSize: int("group.consumer.max.size"),
    consumerAssignors: list("group.consumer.assignors"),
    consumerAssignmentIntervalMs: int("group.consumer.assignment.interval.ms"),
    consumerMigrationPolicy: String(
      config.get("group.consumer.migration.policy") ?? "bidirectional",
    ).toLowerCase() as GroupCoordinatorConfig["consumerMigrationPolicy"],
    consumerRegexRefreshIntervalMs: int("group.consumer.regex.refresh.interval.ms"),
    rebalanceProtocols: list("group.coordinator.rebalance.protocols"),
    shareSessionTimeoutMs: int("group.share.session.timeout.ms"),
    shareHeartbeatIntervalMs: int("group.share.heartbeat.interval.ms"),
    shareMaxSize: int("group.share.max.size"),
  };
}
