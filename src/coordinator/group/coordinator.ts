// The group coordinator (Kafka's GroupCoordinatorService): a broker service (RequestContext.groups)
// that owns every group and committed offset this broker coordinates. Groups live in the shards of
// __consumer_offsets (shard.ts), one per partition; a group's partition is Kafka's
// abs(groupId.hashCode()) % offsets.topic.num.partitions (../partitioner.ts). Handlers
// (src/handlers/group/) call the methods here; each answers with Kafka's codes.
//
// Life cycle: start() hosts a shard for each partition of an existing __consumer_offsets and
// loads it in the background (COORDINATOR_LOAD_IN_PROGRESS meanwhile); the topic is created on
// the first FindCoordinator for a group (or the first group request) with Kafka's settings:
// offsets.topic.num.partitions partitions, cleanup.policy=compact, segment.bytes =
// offsets.topic.segment.bytes. Every offsets.retention.check.interval.ms, expired offsets are
// removed and empty groups without offsets deleted (Kafka's cleanupGroupMetadata).

import type { Logger } from "pino";
import type { MetadataCache } from "../../cluster/metadata-cache.js";
import type { Topics } from "../../cluster/topic-manager.js";
import { type GroupConfigStore, groupConfigValue } from "../../config/group-config.js";
import type { BrokerConfig } from "../../config/index.js";
import type { Partition } from "../../log/partition.js";
import type { PartitionManager } from "../../log/partition-manager.js";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type {
  ConsumerGroupDescribeResponseDescribedGroup,
  ConsumerGroupDescribeResponseTopicPartitions,
} from "../../protocol/generated/consumer-group-describe.js";
import type { ConsumerGroupHeartbeatResponse } from "../../protocol/generated/consumer-group-heartbeat.js";
import type { JoinGroupResponse } from "../../protocol/generated/join-group.js";
import type { LeaveGroupResponseMemberResponse } from "../../protocol/generated/leave-group.js";
import type { ShareGroupDescribeResponseDescribedGroup } from "../../protocol/generated/share-group-describe.js";
import type { ShareGroupHeartbeatResponse } from "../../protocol/generated/share-group-heartbeat.js";
import type { StreamsGroupDescribeResponseDescribedGroup } from "../../protocol/generated/streams-group-describe.js";
import type { StreamsGroupHeartbeatResponse } from "../../protocol/generated/streams-group-heartbeat.js";
import type { SyncGroupResponse } from "../../protocol/generated/sync-group.js";
import { ZERO_UUID } from "../../protocol/runtime.js";
import { CoordinatorTopic } from "../coordinator-topic.js";
import { coordinatorPartition } from "../partitioner.js";
import { KeyedTimers } from "../timer.js";
import { consumerGroupAssignors } from "./assignor/index.js";
import { type StreamsTaskAssignor, stickyAssignor } from "./assignor/streams-assignors.js";
import { ClassicGroup } from "./classic-group.js";
import { ClassicGroupProtocol, type JoinRequest, joinError, type LeaveMember, type SyncRequest, syncError } from "./classic-protocol.js";
import { type GroupCoordinatorConfig, groupCoordinatorConfig } from "./config.js";
import type { ConsumerGroup } from "./consumer-group.js";
import { ConsumerGroupProtocol, type HeartbeatRequest, heartbeatError, operationError } from "./consumer-group-protocol.js";
import { classicGroupSubscribedTopics } from "./consumer-protocol.js";
import { groupTombstone, offsetCommitRecord, offsetTombstone } from "./group-records.js";
import type { CommittedOffset } from "./offsets.js";
import { type Group, GroupShard, type RecordToWrite } from "./shard.js";
import type { ShareGroup, StateTopicPartitions } from "./share-group.js";
import {
  ShareGroupProtocol,
  type ShareHeartbeatRequest,
  type ShareStateAccess,
  shareGroupEpochRecord,
  shareHeartbeatError,
  statePartitionMetadataRecord,
  targetAssignmentMetadataRecord,
} from "./share-group-protocol.js";
import type { ConfiguredInternalTopic, StreamsGroup, TaskMap } from "./streams-group.js";
import { sourceTopicMap } from "./streams-group.js";
import { StreamsGroupProtocol, type StreamsGroupSettings, type StreamsHeartbeatRequest, streamsHeartbeatError } from "./streams-group-protocol.js";
import { TopicImage } from "./topic-image.js";

export const GROUP_METADATA_TOPIC = "__consumer_offsets";

export interface GroupCoordinatorServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly topics: Topics;
  /** Group-level configs (streams.* and share.* overrides of the broker's group.* defaults). */
  readonly groupConfigs?: GroupConfigStore;
  /** group.streams.assignors, loaded (loadStreamsAssignors); Kafka's sticky assignor when absent. */
  readonly streamsAssignors?: readonly StreamsTaskAssignor[];
}

/** One partition's offset to commit, checked by the handler (topic exists). */
export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  /** The topic's id (written with the commit, as Kafka 4.4 does). */
  readonly topicId: string;
}

export interface CommitRequest {
  readonly groupId: string;
  readonly generationIdOrMemberEpoch: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** OffsetCommit v2-4: -1 for the broker's retention. */
  readonly retentionTimeMs: bigint;
  readonly apiVersion: number;
}

/** A group's offsets as OffsetFetch answers them: partition → committed offset (undefined: none). */
export interface FetchedOffsets {
  readonly errorCode: number;
  readonly topics: { name: string; partitions: { partition: number; offset: CommittedOffset | undefined; unstable?: boolean }[] }[];
}

export interface DescribedGroup {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly group: ClassicGroup | null;
}

/** Kafka's MIN_VALUE bitfield: authorized operations were not requested. */
const OPERATIONS_NOT_REQUESTED_VALUE = -2147483648;

/** Java's String.trim().isEmpty(): only characters up to U+0020. */
function isBlank(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x20) return false;
  return true;
}

/** One group as GroupCoordinator.overview() lists it. */
export interface GroupOverview {
  readonly groupId: string;
  readonly state: string;
  readonly type: "classic" | "consumer" | "share" | "streams";
  readonly members: number;
  /** topic → partition → committed offset; undefined when the group has none. */
  readonly offsets: ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> | undefined;
}

/** A topic of a DescribeShareGroupOffsets answer. */
export interface DescribedShareTopic {
  readonly topicName: string;
  readonly topicId: string;
  readonly partitions: { partitionIndex: number; startOffset: bigint; leaderEpoch: number; lag: bigint; errorCode: number; errorMessage: string | null }[];
}

/** A topic of an AlterShareGroupOffsets answer. */
export interface ShareOffsetsTopicResult {
  readonly topicName: string;
  readonly topicId: string;
  readonly partitions: { partitionIndex: number; errorCode: number; errorMessage: string | null }[];
}

const UNKNOWN_PARTITION_MESSAGE = "This server does not host this topic-partition.";

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly groupState: string;
  readonly groupType: string;
}

/** How long a failed creation of a streams internal topic is reported in the heartbeat status. */
const INTERNAL_TOPIC_ERROR_TTL_MS = 60_000;

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  readonly #services: GroupCoordinatorServices;
  readonly #logger: Logger;
  readonly #timers = new KeyedTimers();
  readonly classic: ClassicGroupProtocol;
  readonly consumer: ConsumerGroupProtocol;
  readonly share: ShareGroupProtocol;
  readonly streams: StreamsGroupProtocol;
  readonly #streamsAssignors: readonly StreamsTaskAssignor[];
  /** Internal topics of streams groups being created, and recent creation failures (topic → error, time). */
  readonly #creatingInternal = new Set<string>();
  readonly #internalTopicErrors = new Map<string, { error: string; atMs: number }>();
  /** Share-partition state in __share_group_state (the persister), once the broker wired it. */
  #shareState: ShareStateAccess | null = null;
  /** The topics as the KIP-848 groups see them (ids, partitions, metadata hash). */
  readonly image: TopicImage;
  readonly #assignorNames: readonly string[];
  readonly #shards = new Map<number, GroupShard>();
  readonly #topic: CoordinatorTopic;
  /** The shards' loads (settled: a failed load marks its shard failed). */
  readonly #loads: Promise<void>[] = [];
  #expiryTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(services: GroupCoordinatorServices) {
    this.#services = services;
    this.config = groupCoordinatorConfig(services.config);
    this.#logger = services.logger.child({ component: "group-coordinator" });
    this.#topic = new CoordinatorTopic({ ...services, logger: this.#logger }, GROUP_METADATA_TOPIC);
    this.classic = new ClassicGroupProtocol({ config: this.config, timers: this.#timers, logger: this.#logger });
    this.image = new TopicImage(services.metadata);
    const assignors = consumerGroupAssignors(this.config.consumerAssignors);
    this.#assignorNames = [...assignors.keys()];
    this.consumer = new ConsumerGroupProtocol({
      config: this.config,
      timers: this.#timers,
      logger: this.#logger,
      image: this.image,
      assignors,
      dropClassic: (group) => this.classic.drop(group),
      classicUpgraded: (group) => this.classic.upgraded(group),
      classicDowngraded: (shard, group, rebalanceReason) => this.classic.downgraded(shard, group, rebalanceReason),
      activeShard: (groupId) => {
        const shard = this.shardFor(groupId);
        return typeof shard === "number" ? undefined : shard;
      },
    });
    this.share = new ShareGroupProtocol({
      config: this.config,
      timers: this.#timers,
      logger: this.#logger,
      image: this.image,
      activeShard: (groupId) => {
        const shard = this.shardFor(groupId);
        return typeof shard === "number" ? undefined : shard;
      },
      state: () => this.#shareState,
    });
    const streamsAssignors = services.streamsAssignors ?? [stickyAssignor];
    if (streamsAssignors.length === 0) throw new RangeError("group.streams.assignors must contain at least one assignor");
    this.#streamsAssignors = streamsAssignors;
    this.streams = new StreamsGroupProtocol({
      config: this.config,
      timers: this.#timers,
      logger: this.#logger,
      image: this.image,
      activeShard: (groupId) => {
        const shard = this.shardFor(groupId);
        return typeof shard === "number" ? undefined : shard;
      },
      settings: (groupId) => this.#streamsSettings(groupId),
      assignor: (groupId) => this.#streamsAssignor(groupId),
      createInternalTopics: (groupId, topics) => this.#createInternalTopics(groupId, topics),
      internalTopicErrors: (topics) => {
        const now = Date.now();
        const out = new Map<string, string>();
        for (const topic of topics) {
          const entry = this.#internalTopicErrors.get(topic);
          if (entry === undefined) continue;
          if (now - entry.atMs > INTERNAL_TOPIC_ERROR_TTL_MS) this.#internalTopicErrors.delete(topic);
          else out.set(topic, entry.error);
        }
        return out;
      },
    });
  }

  /**
   * The task assignor of a streams group (GroupMetadataManager.streamsGroupAssignor): the one its
   * streams.assignor.name group config names, else (and for an unknown name, with a warning) the
   * first of group.streams.assignors.
   */
  #streamsAssignor(groupId: string): StreamsTaskAssignor {
    const wanted = this.#services.groupConfigs?.groupConfig(groupId)["streams.assignor.name"];
    const fallback = this.#streamsAssignors[0] as StreamsTaskAssignor;
    if (wanted === undefined) return fallback;
    const found = this.#streamsAssignors.find((a) => a.name === wanted);
    if (found !== undefined) return found;
    this.#logger.warn(
      { group: groupId, assignor: wanted },
      `the configured task assignor is not available; falling back to the default assignor '${fallback.name}'`,
    );
    return fallback;
  }

  /** A streams group's settings: its group configs over the broker's group.streams.* defaults. */
  #streamsSettings(groupId: string): StreamsGroupSettings {
    const overrides = this.#services.groupConfigs?.groupConfig(groupId) ?? {};
    const broker = this.#services.config;
    const value = (name: string) => groupConfigValue(overrides, broker, name);
    const tags = value("streams.rack.aware.assignment.tags");
    return {
      sessionTimeoutMs: Number(value("streams.session.timeout.ms")),
      heartbeatIntervalMs: Number(value("streams.heartbeat.interval.ms")),
      numStandbyReplicas: Number(value("streams.num.standby.replicas")),
      initialRebalanceDelayMs: Number(value("streams.initial.rebalance.delay.ms")),
      assignmentIntervalMs: Number(value("streams.assignment.interval.ms")),
      rackAwareAssignmentTags: tags
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== ""),
      taskOffsetIntervalMs: Number(broker.get("group.streams.task.offset.interval.ms")),
      acceptableRecoveryLag: BigInt(String(broker.get("group.streams.acceptable.recovery.lag"))),
      maxSize: Number(broker.get("group.streams.max.size")),
    };
  }

  /**
   * AutoTopicCreationManager.createStreamsInternalTopics: missing repartition and changelog
   * topics are created in the background with the topology's configs; a failure is kept for a
   * while and reported in the members' MISSING_INTERNAL_TOPICS status.
   */
  #createInternalTopics(groupId: string, topics: readonly ConfiguredInternalTopic[]): void {
    for (const topic of topics) {
      if (this.#creatingInternal.has(topic.name) || this.#services.topics.exists(topic.name)) continue;
      this.#creatingInternal.add(topic.name);
      this.#services.topics
        .create(topic.name, topic.partitions, Object.fromEntries(topic.configs))
        .then(
          () => {
            this.#internalTopicErrors.delete(topic.name);
            this.#logger.info({ group: groupId, topic: topic.name, partitions: topic.partitions }, "created a streams internal topic");
          },
          (error: unknown) => {
            const message = error instanceof KafkaError ? `${error.name}: ${error.message}` : String(error);
            this.#internalTopicErrors.set(topic.name, { error: message, atMs: Date.now() });
            this.#logger.warn({ group: groupId, topic: topic.name, err: error }, "could not create a streams internal topic");
          },
        )
        .finally(() => this.#creatingInternal.delete(topic.name));
    }
  }

  /** The persister share groups initialize and delete their share-partition state with. */
  set shareState(access: ShareStateAccess) {
    this.#shareState = access;
  }

  /** group.coordinator.rebalance.protocols holds "consumer" (KafkaApis.isConsumerGroupProtocolEnabled). */
  get consumerProtocolEnabled(): boolean {
    return this.config.rebalanceProtocols.includes("consumer");
  }

  /**
   * A topic was created, deleted or changed its partitions (Kafka's onMetadataUpdate): the groups
   * subscribed to it recompute their metadata hash at their next heartbeat; a creation makes the
   * regular expressions be resolved again.
   */
  onTopicChanged(topic: string, created: boolean): void {
    this.image.onTopicChanged(topic, created);
    for (const shard of this.#shards.values()) {
      for (const group of shard.groups.values()) {
        if (group.type === "consumer" && group.isSubscribedToTopic(topic)) group.requestMetadataRefresh();
        else if (group.type === "streams" && StreamsGroupProtocol.requiredTopics(group).has(topic)) group.requestMetadataRefresh();
      }
    }
  }

  /** Hosts and loads the shards of an existing __consumer_offsets; starts the expiry timer. */
  start(): void {
    if (this.#services.metadata.topic(GROUP_METADATA_TOPIC) !== undefined) this.#hostShards(true);
    this.#expiryTimer = setInterval(() => this.cleanupGroupMetadata(Date.now()), this.config.offsetsRetentionCheckIntervalMs);
    this.#expiryTimer.unref();
  }

  /** Resolves when every shard being loaded has loaded or failed (tests). */
  async loaded(): Promise<void> {
    await Promise.all(this.#loads);
  }

  close(): void {
    this.#closed = true;
    if (this.#expiryTimer !== null) clearInterval(this.#expiryTimer);
    for (const shard of this.#shards.values()) {
      for (const group of shard.groups.values()) {
        this.#dropGroup(group);
      }
      shard.state = "closed";
    }
    this.#timers.close();
  }

  /** A group leaves memory: its protocol's timers go. */
  #dropGroup(group: Group): void {
    if (group.type === "classic") this.classic.drop(group);
    else if (group.type === "consumer") this.consumer.drop(group);
    else if (group.type === "share") this.share.drop(group);
    else this.streams.drop(group);
  }

  /** The __consumer_offsets partition of a group. */
  partitionFor(groupId: string): number {
    const topic = this.#services.metadata.topic(GROUP_METADATA_TOPIC);
    return coordinatorPartition(groupId, topic?.partitions.length ?? this.config.offsetsTopicPartitions);
  }

  #hostShards(load: boolean): void {
    for (const partition of this.#topic.unhostedLeaders(this.#shards)) this.#hostShard(partition, load);
  }

  /**
   * A partition of __consumer_offsets changed role here: its leader coordinates its groups (the
   * shard loads from the log), anyone else does not (the shard and its groups are dropped; members
   * get NOT_COORDINATOR and look again).
   */
  onPartitionRole(partition: Partition, role: "leader" | "follower" | "stopped"): void {
    if (partition.topic !== GROUP_METADATA_TOPIC || this.#closed) return;
    this.#unhostShard(partition.index);
    if (role === "leader") this.#hostShard(partition, partition.log.logEndOffset > partition.logStartOffset);
  }

  #unhostShard(index: number): void {
    const shard = this.#shards.get(index);
    if (shard === undefined) return;
    this.#shards.delete(index);
    for (const group of shard.groups.values()) {
      this.#dropGroup(group);
    }
    shard.state = "closed";
    this.#logger.info({ partition: `${GROUP_METADATA_TOPIC}-${index}` }, "unloaded group coordinator partition");
  }

  #hostShard(partition: Partition, load: boolean): void {
    const index = partition.index;
    const shard = new GroupShard(index, partition, this.#logger);
    this.#shards.set(index, shard);
    if (!load) {
      shard.state = "active";
      return;
    }
    const started = Date.now();
    const loading = shard.load(this.config.offsetsLoadBufferSize).then(
      () => {
        if (this.#closed || this.#shards.get(index) !== shard) return;
        this.classic.onLoaded(shard);
        this.consumer.onLoaded(shard);
        this.share.onLoaded(shard);
        this.streams.onLoaded(shard);
        this.#logger[shard.loadedRecords > 0 ? "info" : "debug"](
          { partition: `${GROUP_METADATA_TOPIC}-${index}`, records: shard.loadedRecords, groups: shard.groups.size, loadMs: Date.now() - started },
          "loaded group coordinator partition",
        );
      },
      (error) => {
        shard.state = "failed";
        this.#logger.error({ err: error, partition: `${GROUP_METADATA_TOPIC}-${index}` }, "failed to load group coordinator partition");
      },
    );
    this.#loads.push(loading);
  }

  /**
   * Makes sure __consumer_offsets exists (created with Kafka's settings on first use) and its
   * shards are hosted. Concurrent callers share one creation.
   */
  ensureOffsetsTopic(): Promise<void> {
    return this.#topic.ensure(
      this.config.offsetsTopicPartitions,
      { "cleanup.policy": "compact", "compression.type": "producer", "segment.bytes": String(this.config.offsetsTopicSegmentBytes) },
      { replicationFactor: Number(this.#services.config.get("offsets.topic.replication.factor") ?? 3) },
      () => this.#hostShards(false),
    );
  }

  /** The shard coordinating `groupId`, or the error a request for it gets now. */
  shardFor(groupId: string): GroupShard | number {
    if (this.#closed) return ErrorCode.NOT_COORDINATOR;
    const topic = this.#services.metadata.topic(GROUP_METADATA_TOPIC);
    if (topic === undefined) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const shard = this.#shards.get(coordinatorPartition(groupId, topic.partitions.length));
    if (shard === undefined) return ErrorCode.NOT_COORDINATOR;
    return shard.state === "active" ? shard : shard.availability;
  }

  /**
   * Once what the group's shard wrote so far is committed (replicated to its partition's ISR, as
   * Kafka's coordinator appends with acks=all): NONE, at once on a single node; REQUEST_TIMED_OUT
   * after offsets.commit.timeout.ms; NOT_COORDINATOR if the partition's leadership moved.
   */
  whenDurable(groupId: string): number | Promise<number> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return shard;
    const committed = shard.partition.whenCommitted(this.config.offsetCommitTimeoutMs);
    const mapped = (error: number) => (error === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : error);
    return typeof committed === "number" ? mapped(committed) : committed.then(mapped);
  }

  /** The group, if its shard is active and holds it. */
  group(groupId: string): Group | undefined {
    const shard = this.shardFor(groupId);
    return typeof shard === "number" ? undefined : shard.groups.get(groupId);
  }

  // ------------------------------------------------------------------------------------------
  // Classic protocol

  joinGroup(request: JoinRequest): Promise<JoinGroupResponse> | JoinGroupResponse {
    if (request.groupId === "") return joinError(request.memberId, ErrorCode.INVALID_GROUP_ID);
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return joinError(request.memberId, shard);
    if (request.sessionTimeoutMs < this.config.classicMinSessionTimeoutMs || request.sessionTimeoutMs > this.config.classicMaxSessionTimeoutMs) {
      return joinError(request.memberId, ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const existing = shard.groups.get(request.groupId);
    // A share (or streams) group of that id: Kafka's classicGroupJoin answers INCONSISTENT_GROUP_PROTOCOL.
    if (existing?.type === "share" || existing?.type === "streams") return joinError(request.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (existing?.type === "consumer") {
      if (!existing.isEmpty) {
        // classicGroupJoinToConsumerGroup: a classic member of a consumer group (online migration).
        try {
          return this.consumer.classicJoin(shard, existing, request, Date.now());
        } catch (error) {
          return joinError("", this.#operationErrorCode("classic-group-join", request.groupId, error));
        }
      }
      // maybeDeleteEmptyConsumerGroup: the empty consumer group is replaced by a classic group.
      try {
        this.#deleteConsumerGroup(shard, existing, [], Date.now());
      } catch (error) {
        return joinError(request.memberId, operationError(error).errorCode);
      }
      this.#logger.info({ group: request.groupId }, "converted the empty consumer group to a classic group");
    }
    return this.classic.join(shard, request);
  }

  syncGroup(request: SyncRequest): Promise<SyncGroupResponse> | SyncGroupResponse {
    if (request.groupId === "") return syncError(ErrorCode.INVALID_GROUP_ID);
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return syncError(shard);
    const group = shard.groups.get(request.groupId);
    if (group?.type === "consumer") {
      // classicGroupSyncToConsumerGroup: only classic members of a consumer group may sync.
      if (group.isEmpty) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
      try {
        return this.consumer.classicSync(group, request);
      } catch (error) {
        return syncError(this.#operationErrorCode("classic-group-sync", request.groupId, error));
      }
    }
    return this.classic.sync(shard, request);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (groupId === "") return ErrorCode.INVALID_GROUP_ID;
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return shard;
    const group = shard.groups.get(groupId);
    if (group?.type === "consumer") {
      // classicGroupHeartbeatToConsumerGroup.
      try {
        return this.consumer.classicHeartbeat(group, memberId, groupInstanceId, generationId);
      } catch (error) {
        const code = this.#operationErrorCode("classic-group-heartbeat", groupId, error);
        return code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.NONE : code;
      }
    }
    return this.classic.heartbeat(shard, groupId, memberId, groupInstanceId, generationId);
  }

  leaveGroup(groupId: string, members: readonly LeaveMember[]): number | LeaveGroupResponseMemberResponse[] {
    if (groupId === "") return ErrorCode.INVALID_GROUP_ID;
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return shard;
    const group = shard.groups.get(groupId);
    if (group?.type === "consumer") {
      // classicGroupLeaveToConsumerGroup (UNKNOWN_MEMBER_ID for the group: each member gets it).
      try {
        return this.consumer.classicLeave(shard, group, members, Date.now());
      } catch (error) {
        const code = this.#operationErrorCode("classic-group-leave", groupId, error);
        if (code !== ErrorCode.UNKNOWN_MEMBER_ID) return code;
        return members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: code }));
      }
    }
    return this.classic.leave(shard, groupId, members);
  }

  /** CoordinatorOperationExceptionHelper: the code a failed operation is answered with (unexpected failures logged). */
  /**
   * Runs a modern group's heartbeat on the group's shard, answering a failure with its error code and
   * message as Kafka's CoordinatorOperationExceptionHelper does (an unexpected one logged).
   */
  #onShard<R>(operation: string, groupId: string, run: (shard: GroupShard) => R, fail: (errorCode: number, errorMessage?: string | null) => R): R {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return fail(shard);
    try {
      return run(shard);
    } catch (error) {
      const { errorCode, errorMessage } = operationError(error);
      if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR && !(error instanceof KafkaError)) {
        this.#logger.error({ group: groupId, err: error }, `${operation} hit an unexpected exception`);
      }
      return fail(errorCode, errorMessage);
    }
  }

  #operationErrorCode(operation: string, groupId: string, error: unknown): number {
    const { errorCode } = operationError(error);
    if (!(error instanceof KafkaError)) this.#logger.error({ group: groupId, err: error }, `${operation} hit an unexpected exception`);
    return errorCode;
  }

  // ------------------------------------------------------------------------------------------
  // KIP-848 consumer groups

  /**
   * ConsumerGroupHeartbeat: the request checks of Kafka's GroupCoordinatorService
   * (throwIfConsumerGroupHeartbeatRequestIsInvalid), then the group's answer; a failure is
   * answered with its error code and message as Kafka's CoordinatorOperationExceptionHelper does.
   */
  consumerGroupHeartbeat(request: HeartbeatRequest): ConsumerGroupHeartbeatResponse {
    const invalid = this.#validateHeartbeat(request);
    if (invalid !== null) return invalid;
    return this.#onShard("consumer-group-heartbeat", request.groupId, (shard) => this.consumer.heartbeat(shard, request, Date.now()), heartbeatError);
  }

  #validateHeartbeat(request: HeartbeatRequest): ConsumerGroupHeartbeatResponse | null {
    const invalid = (message: string) => heartbeatError(ErrorCode.INVALID_REQUEST, message);
    const blank = (value: string | null) => value !== null && isBlank(value);
    const { memberEpoch } = request;
    if ((request.apiVersion >= 1 || memberEpoch > 0 || memberEpoch === -1) && blank(request.memberId)) return invalid("MemberId can't be empty.");
    if (blank(request.groupId)) return invalid("GroupId can't be empty.");
    if (blank(request.instanceId)) return invalid("InstanceId can't be empty.");
    if (blank(request.rackId)) return invalid("RackId can't be empty.");
    if (memberEpoch === 0) {
      if (request.rebalanceTimeoutMs === -1) return invalid("RebalanceTimeoutMs must be provided in first request.");
      if (request.topicPartitions === null || request.topicPartitions.length > 0) return invalid("TopicPartitions must be empty when (re-)joining.");
      if (request.subscribedTopicNames === null && request.subscribedTopicRegex === null) {
        return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.");
      }
    } else if (memberEpoch === -2) {
      if (request.instanceId === null) return invalid("InstanceId can't be null.");
    } else if (memberEpoch < -2) {
      return invalid("MemberEpoch is invalid.");
    }
    if (request.serverAssignor !== null && !this.#assignorNames.includes(request.serverAssignor)) {
      return heartbeatError(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${request.serverAssignor} is not supported. Supported assignors: ${this.#assignorNames.join(", ")}.`,
      );
    }
    return null;
  }

  /** The group of `type` a ConsumerGroupDescribe / ShareGroupDescribe names, or the error Kafka answers for it. */
  #groupToDescribe<T extends "consumer" | "share" | "streams">(
    groupId: string,
    type: T,
  ): Extract<Group, { type: T }> | { errorCode: number; errorMessage: string | null } {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null };
    const group = shard.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.` };
    if (group.type !== type) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a ${type} group.` };
    return group as Extract<Group, { type: T }>;
  }

  /** ConsumerGroupDescribe for one group (ConsumerGroup.asDescribedGroup). */
  describeConsumerGroup(groupId: string, authorizedOperations: number): ConsumerGroupDescribeResponseDescribedGroup {
    const base = {
      groupId,
      groupState: "",
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignorName: "",
      members: [],
      authorizedOperations: OPERATIONS_NOT_REQUESTED_VALUE,
    };
    const group = this.#groupToDescribe(groupId, "consumer");
    if ("errorCode" in group) return { ...base, ...group };
    const image = this.image;
    const topicPartitions = (assignment: Iterable<readonly [string, Iterable<number>]>): ConsumerGroupDescribeResponseTopicPartitions[] => {
      const out = new Map<string, ConsumerGroupDescribeResponseTopicPartitions>();
      for (const [topicId, partitions] of assignment) {
        const topicName = image.topicName(topicId);
        if (topicName === undefined) continue;
        let entry = out.get(topicId);
        if (entry === undefined) {
          entry = { topicId, topicName, partitions: [] };
          out.set(topicId, entry);
        }
        entry.partitions.push(...partitions);
      }
      return [...out.values()];
    };
    return {
      ...base,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.preferredServerAssignor() ?? (this.#assignorNames[0] as string),
      authorizedOperations,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        instanceId: member.instanceId,
        rackId: member.rackId,
        memberEpoch: member.memberEpoch,
        clientId: member.clientId,
        clientHost: member.clientHost,
        subscribedTopicNames: [...member.subscribedTopicNames],
        subscribedTopicRegex: member.subscribedTopicRegex,
        assignment: {
          topicPartitions: topicPartitions(
            [...member.assignedPartitions, ...member.partitionsPendingRevocation].map(([topicId, epochs]) => [topicId, epochs.keys()] as const),
          ),
        },
        targetAssignment: { topicPartitions: topicPartitions(group.targetAssignmentOf(member.memberId)) },
        memberType: member.useClassicProtocol ? 0 : 1,
      })),
    };
  }

  // ------------------------------------------------------------------------------------------
  // KIP-932 share groups

  /**
   * ShareGroupHeartbeat: the request checks of GroupCoordinatorService
   * (throwIfShareGroupHeartbeatRequestIsInvalid), then the group's answer.
   */
  shareGroupHeartbeat(request: ShareHeartbeatRequest): ShareGroupHeartbeatResponse {
    const invalid = (message: string) => shareHeartbeatError(ErrorCode.INVALID_REQUEST, message);
    if (isBlank(request.memberId)) return invalid("MemberId can't be empty.");
    if (isBlank(request.groupId)) return invalid("GroupId can't be empty.");
    if (request.rackId !== null && isBlank(request.rackId)) return invalid("RackId can't be empty.");
    if (request.memberEpoch === 0) {
      if (request.subscribedTopicNames === null || request.subscribedTopicNames.length === 0)
        return invalid("SubscribedTopicNames must be set in first request.");
    } else if (request.memberEpoch < -1) {
      return invalid("MemberEpoch is invalid.");
    }
    return this.#onShard("share-group-heartbeat", request.groupId, (shard) => this.share.heartbeat(shard, request, Date.now()), shareHeartbeatError);
  }

  /** ShareGroupDescribe for one group (ShareGroup.asDescribedGroup). */
  describeShareGroup(groupId: string, authorizedOperations: number): ShareGroupDescribeResponseDescribedGroup {
    const base = {
      groupId,
      groupState: "",
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignorName: "",
      members: [],
      authorizedOperations: OPERATIONS_NOT_REQUESTED_VALUE,
    };
    const group = this.#groupToDescribe(groupId, "share");
    if ("errorCode" in group) return { ...base, ...group };
    const image = this.image;
    return {
      ...base,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: "simple",
      authorizedOperations,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        rackId: member.rackId,
        memberEpoch: member.memberEpoch,
        clientId: member.clientId,
        clientHost: member.clientHost,
        subscribedTopicNames: [...member.subscribedTopicNames],
        assignment: {
          topicPartitions: [...member.assignedPartitions].flatMap(([topicId, partitions]) => {
            const topicName = image.topicName(topicId);
            return topicName === undefined ? [] : [{ topicId, topicName, partitions: [...partitions].sort((a, b) => a - b) }];
          }),
        },
      })),
    };
  }

  /**
   * DescribeShareGroupOffsets for one group (GroupCoordinatorService.describeShareGroupOffsets): each
   * partition's start offset and leader epoch from the share coordinator and (v1) its lag — the high
   * watermark minus the start offset minus the offsets already delivered past it; -1 where the
   * partition has no state. `topics` null: every partition whose state the group initialized. An
   * unknown group has no topics.
   */
  async describeShareGroupOffsets(
    groupId: string,
    topics: readonly { topicName: string; partitions: readonly number[] }[] | null,
    withLag: boolean,
  ): Promise<{ errorCode: number; errorMessage: string | null; topics: DescribedShareTopic[] }> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null, topics: [] };
    // Kafka reads the share state of the partitions asked for whatever the group is (none of
    // another type's, so -1 offsets), and lists nothing for "all topics" of a group that is not a share group.
    const found = shard.groups.get(groupId);
    const group = found?.type === "share" ? found : undefined;
    if (topics === null && group === undefined) return { errorCode: ErrorCode.NONE, errorMessage: null, topics: [] };
    const access = this.#shareState;
    const wanted: readonly { topicName: string; partitions: readonly number[] }[] =
      topics ??
      [...(group?.initializedTopics.values() ?? [])].map((info) => ({ topicName: info.topicName, partitions: [...info.partitions].sort((a, b) => a - b) }));
    const out: DescribedShareTopic[] = [];
    for (const { topicName, partitions } of wanted) {
      const topicId = this.image.topic(topicName)?.id ?? ZERO_UUID;
      const described: DescribedShareTopic = { topicName, topicId, partitions: [] };
      for (const partition of partitions) {
        const initialized = group?.initializedTopics.get(topicId)?.partitions.has(partition) ?? false;
        let state: { startOffset: bigint; leaderEpoch: number; deliveryCompleteCount: number } | null = null;
        let errorCode: number = ErrorCode.NONE;
        if (initialized && access !== null && topicId !== ZERO_UUID) {
          const summary = await access.summary(groupId, topicId, partition);
          errorCode = summary.errorCode;
          state = summary.state;
        }
        const startOffset = state?.startOffset ?? -1n;
        const highWatermark = withLag && startOffset >= 0n ? await access?.highWatermark(topicName, partition) : null;
        let lag = -1n;
        if (withLag && startOffset >= 0n && highWatermark != null) {
          lag = highWatermark - startOffset - BigInt(state?.deliveryCompleteCount ?? 0);
          if (lag < 0n) lag = 0n;
        }
        described.partitions.push({
          partitionIndex: partition,
          startOffset,
          leaderEpoch: state === null || state.leaderEpoch < 0 ? 0 : state.leaderEpoch,
          lag,
          errorCode,
          errorMessage: null,
        });
      }
      out.push(described);
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, topics: out };
  }

  /**
   * AlterShareGroupOffsets (GroupCoordinatorService.alterShareGroupOffsets): the group must be empty
   * (an unknown one is created); each partition gets a new state at its start offset with the next
   * state epoch, and is recorded as initialized. Unknown topics or partitions answer
   * UNKNOWN_TOPIC_OR_PARTITION, listed first.
   */
  async alterShareGroupOffsets(
    groupId: string,
    topics: readonly { topicName: string; partitions: readonly { partitionIndex: number; startOffset: bigint }[] }[],
  ): Promise<{ errorCode: number; errorMessage: string | null; responses: ShareOffsetsTopicResult[] }> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null, responses: [] };
    const existing = shard.groups.get(groupId);
    if (existing !== undefined && existing.type !== "share")
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a share group.`, responses: [] };
    if (existing !== undefined && !existing.isEmpty) return { errorCode: ErrorCode.NON_EMPTY_GROUP, errorMessage: "The group is not empty.", responses: [] };
    const access = this.#shareState;
    if (access === null) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, responses: [] };
    const failed: ShareOffsetsTopicResult[] = [];
    const done: ShareOffsetsTopicResult[] = [];
    const initialized = new Map<string, { topicName: string; partitions: Set<number> }>();
    // As Kafka: the partitions are first recorded as initializing (the group created if new), their
    // state is written, then they are recorded as initialized.
    const toInitialize = new Map<string, StateTopicPartitions>();
    for (const { topicName, partitions } of topics) {
      const topic = this.image.topic(topicName);
      if (topic === undefined) continue;
      const valid = partitions.filter((p) => p.partitionIndex >= 0 && p.partitionIndex < topic.partitionCount).map((p) => p.partitionIndex);
      if (valid.length > 0) toInitialize.set(topic.id, { topicName, partitions: new Set([...(toInitialize.get(topic.id)?.partitions ?? []), ...valid]) });
    }
    if (toInitialize.size > 0) {
      const records: RecordToWrite[] = [];
      if (existing === undefined) records.push(shareGroupEpochRecord(groupId, 1, 0n), targetAssignmentMetadataRecord(groupId, 1, BigInt(Date.now())));
      const initializing = new Map<string, StateTopicPartitions>(existing?.initializingTopics ?? []);
      for (const [topicId, info] of toInitialize) {
        initializing.set(topicId, { topicName: info.topicName, partitions: new Set([...(initializing.get(topicId)?.partitions ?? []), ...info.partitions]) });
      }
      records.push(statePartitionMetadataRecord(groupId, initializing, existing?.initializedTopics ?? new Map(), existing?.deletingTopics ?? new Map()));
      try {
        shard.write(records, Date.now(), true);
      } catch (error) {
        return { errorCode: operationError(error).errorCode, errorMessage: null, responses: [] };
      }
    }
    for (const { topicName, partitions } of topics) {
      const topic = this.image.topic(topicName);
      if (topic === undefined) {
        // An unknown topic is answered first; a known topic's unknown partitions stay in its entry.
        failed.push({
          topicName,
          topicId: ZERO_UUID,
          partitions: partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: UNKNOWN_PARTITION_MESSAGE,
          })),
        });
        continue;
      }
      const result: ShareOffsetsTopicResult = { topicName, topicId: topic.id, partitions: [] };
      for (const p of partitions) {
        if (p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
          result.partitions.push({
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: UNKNOWN_PARTITION_MESSAGE,
          });
          continue;
        }
        const errorCode = await access.reset(groupId, topic.id, p.partitionIndex, p.startOffset);
        result.partitions.push({ partitionIndex: p.partitionIndex, errorCode, errorMessage: null });
        if (errorCode === ErrorCode.NONE) {
          const entry = initialized.get(topic.id) ?? { topicName, partitions: new Set<number>() };
          entry.partitions.add(p.partitionIndex);
          initialized.set(topic.id, entry);
        }
      }
      done.push(result);
    }
    // The partitions written are recorded as initialized; none stays initializing (a failed one is
    // initialized again by the group's next heartbeat).
    const now = this.shardFor(groupId);
    if (typeof now !== "number") {
      const group = now.groups.get(groupId);
      const share = group?.type === "share" ? group : undefined;
      const records: RecordToWrite[] = [];
      if (group === undefined) records.push(shareGroupEpochRecord(groupId, 1, 0n), targetAssignmentMetadataRecord(groupId, 1, BigInt(Date.now())));
      const merged = new Map<string, StateTopicPartitions>(share?.initializedTopics ?? []);
      for (const [topicId, info] of initialized) {
        merged.set(topicId, { topicName: info.topicName, partitions: new Set([...(merged.get(topicId)?.partitions ?? []), ...info.partitions]) });
      }
      const initializing = new Map<string, StateTopicPartitions>();
      for (const [topicId, info] of share?.initializingTopics ?? []) {
        const left = new Set([...info.partitions].filter((p) => !toInitialize.get(topicId)?.partitions.has(p)));
        if (left.size > 0) initializing.set(topicId, { topicName: info.topicName, partitions: left });
      }
      records.push(statePartitionMetadataRecord(groupId, initializing, merged, share?.deletingTopics ?? new Map()));
      try {
        now.write(records, Date.now(), true);
      } catch (error) {
        return { errorCode: operationError(error).errorCode, errorMessage: null, responses: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, responses: [...failed, ...done] };
  }

  /**
   * DeleteShareGroupOffsets (GroupCoordinatorService.deleteShareGroupOffsets): the group must be
   * empty; each topic's share-partition state is deleted and the topic leaves the group's
   * initialized partitions. An unknown topic answers UNKNOWN_TOPIC_OR_PARTITION.
   */
  async deleteShareGroupOffsets(
    groupId: string,
    topicNames: readonly string[],
  ): Promise<{
    errorCode: number;
    errorMessage: string | null;
    responses: { topicName: string; topicId: string; errorCode: number; errorMessage: string | null }[];
  }> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null, responses: [] };
    const group = shard.groups.get(groupId);
    if (group !== undefined && group.type !== "share")
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a share group.`, responses: [] };
    if (group !== undefined && !group.isEmpty) return { errorCode: ErrorCode.NON_EMPTY_GROUP, errorMessage: "The group is not empty.", responses: [] };
    const access = this.#shareState;
    const responses: { topicName: string; topicId: string; errorCode: number; errorMessage: string | null }[] = [];
    const deleted = new Set<string>();
    for (const topicName of topicNames) {
      const topic = this.image.topic(topicName);
      if (topic === undefined) {
        responses.push({ topicName, topicId: ZERO_UUID, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: UNKNOWN_PARTITION_MESSAGE });
        continue;
      }
      const partitions = [...(group?.statePartitions().get(topic.id)?.partitions ?? [])];
      try {
        if (access !== null && partitions.length > 0) await access.delete(groupId, [{ topicId: topic.id, partitions }]);
        deleted.add(topic.id);
        responses.push({ topicName, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (error) {
        responses.push({ topicName, topicId: topic.id, errorCode: operationError(error).errorCode, errorMessage: null });
      }
    }
    const current = this.shardFor(groupId);
    const share = this.shareGroup(groupId);
    if (typeof current !== "number" && share !== undefined && deleted.size > 0) {
      const without = (map: ReadonlyMap<string, StateTopicPartitions>) => new Map([...map].filter(([topicId]) => !deleted.has(topicId)));
      try {
        current.write(
          [statePartitionMetadataRecord(groupId, without(share.initializingTopics), without(share.initializedTopics), share.deletingTopics)],
          Date.now(),
          true,
        );
      } catch (error) {
        return { errorCode: operationError(error).errorCode, errorMessage: null, responses: [] };
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, responses };
  }

  /** The share group, if its shard is active and holds one. */
  // ------------------------------------------------------------------------------------------
  // KIP-1071 streams groups

  /**
   * StreamsGroupHeartbeat: the request checks of GroupCoordinatorService
   * (throwIfStreamsGroupHeartbeatRequestIsInvalid, ...IsUsingUnsupportedFeatures), then the group's answer.
   */
  streamsGroupHeartbeat(request: StreamsHeartbeatRequest): StreamsGroupHeartbeatResponse {
    const invalid = (message: string) => streamsHeartbeatError(ErrorCode.INVALID_REQUEST, message);
    if (request.topology?.subtopologies.some((s) => s.sourceTopicRegex.length > 0)) {
      return invalid("Regular expressions for source topics are not supported yet.");
    }
    if (isBlank(request.memberId)) return invalid("MemberId can't be empty.");
    if (isBlank(request.groupId)) return invalid("GroupId can't be empty.");
    if (request.instanceId !== null && isBlank(request.instanceId)) return invalid("InstanceId can't be empty.");
    if (request.rackId !== null && isBlank(request.rackId)) return invalid("RackId can't be empty.");
    if (request.memberEpoch === 0) {
      if (request.rebalanceTimeoutMs === -1) return invalid("RebalanceTimeoutMs must be provided in first request.");
      if ((request.activeTasks?.length ?? 0) > 0) return invalid("ActiveTasks must be empty when (re-)joining.");
      if ((request.standbyTasks?.length ?? 0) > 0) return invalid("StandbyTasks must be empty when (re-)joining.");
      if ((request.warmupTasks?.length ?? 0) > 0) return invalid("WarmupTasks must be empty when (re-)joining.");
      if (request.topology === null) return invalid("Topology must be non-null when (re-)joining.");
      for (const subtopology of request.topology.subtopologies) {
        for (const changelog of subtopology.stateChangelogTopics) {
          if (changelog.partitions !== 0) {
            return streamsHeartbeatError(
              ErrorCode.STREAMS_INVALID_TOPOLOGY,
              `Changelog topic ${changelog.name} must have an undefined partition count, but it is set to ${changelog.partitions}.`,
            );
          }
        }
      }
    } else if (request.memberEpoch === -2) {
      if (request.instanceId === null) return invalid("InstanceId can't be null.");
    } else if (request.memberEpoch < -2) {
      return invalid(`MemberEpoch is ${request.memberEpoch}, but must be greater than or equal to -2.`);
    }
    if (request.activeTasks !== null || request.standbyTasks !== null || request.warmupTasks !== null) {
      if (request.activeTasks === null || request.standbyTasks === null || request.warmupTasks === null) {
        return invalid("If one task-type is non-null, all must be non-null.");
      }
    }
    if (request.memberEpoch !== 0 && request.topology !== null) return invalid("Topology can only be provided when (re-)joining.");
    return this.#onShard("streams-group-heartbeat", request.groupId, (shard) => this.streams.heartbeat(shard, request, Date.now()), streamsHeartbeatError);
  }

  /** StreamsGroupDescribe for one group (StreamsGroup.asDescribedGroup). */
  describeStreamsGroup(groupId: string, authorizedOperations: number): StreamsGroupDescribeResponseDescribedGroup {
    const base: StreamsGroupDescribeResponseDescribedGroup = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: "",
      groupEpoch: 0,
      assignmentEpoch: 0,
      topology: null,
      members: [],
      authorizedOperations: OPERATIONS_NOT_REQUESTED_VALUE,
      topologyDescription: null,
      topologyDescriptionStatus: 0,
      assignorName: null,
    };
    const group = this.#groupToDescribe(groupId, "streams");
    if ("errorCode" in group) return { ...base, ...group };
    const sorted = <T>(values: Iterable<T>, by: (v: T) => string) => [...values].sort((a, b) => (by(a) < by(b) ? -1 : by(a) > by(b) ? 1 : 0));
    const taskIds = (tasks: TaskMap) =>
      sorted(
        [...tasks].map(([subtopologyId, partitions]) => ({ subtopologyId, partitions: [...partitions].sort((a, b) => a - b) })),
        (t) => t.subtopologyId,
      );
    const info = (t: { name: string; partitions: number; replicationFactor: number | null; configs: ReadonlyMap<string, string> }) => ({
      name: t.name,
      partitions: t.partitions,
      replicationFactor: t.replicationFactor ?? 0,
      topicConfigs: [...t.configs].map(([key, value]) => ({ key, value })),
    });
    const configured = group.configuredTopology;
    let topology: StreamsGroupDescribeResponseDescribedGroup["topology"] = null;
    if (configured !== null && configured.problem === null && configured.subtopologies !== null) {
      topology = {
        epoch: configured.topologyEpoch,
        subtopologies: [...configured.subtopologies].map(([subtopologyId, s]) => ({
          subtopologyId,
          sourceTopics: [...s.sourceTopics].sort(),
          repartitionSinkTopics: [...s.repartitionSinkTopics].sort(),
          stateChangelogTopics: sorted([...s.stateChangelogTopics.values()].map(info), (t) => t.name),
          repartitionSourceTopics: sorted([...s.repartitionSourceTopics.values()].map(info), (t) => t.name),
        })),
      };
    } else if (group.topology !== null) {
      const raw = (t: { name: string; partitions: number; replicationFactor: number; topicConfigs: { key: string; value: string }[] }) => ({
        name: t.name,
        partitions: t.partitions,
        replicationFactor: t.replicationFactor,
        topicConfigs: t.topicConfigs.map((c) => ({ key: c.key, value: c.value })),
      });
      topology = {
        epoch: group.topology.epoch,
        subtopologies: sorted(group.topology.subtopologies.values(), (s) => s.subtopologyId).map((s) => ({
          subtopologyId: s.subtopologyId,
          sourceTopics: [...s.sourceTopics].sort(),
          repartitionSinkTopics: [...s.repartitionSinkTopics].sort(),
          stateChangelogTopics: sorted(s.stateChangelogTopics.map(raw), (t) => t.name),
          repartitionSourceTopics: sorted(s.repartitionSourceTopics.map(raw), (t) => t.name),
        })),
      };
    }
    const offsetsList = (offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>> | undefined) =>
      sorted(offsets ?? new Map<string, ReadonlyMap<number, bigint>>(), ([id]) => id).flatMap(([subtopologyId, partitions]) =>
        [...partitions].sort(([a], [b]) => a - b).map(([partition, offset]) => ({ subtopologyId, partition, offset })),
      );
    return {
      ...base,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: this.#streamsAssignor(groupId).name,
      authorizedOperations,
      topology,
      members: [...group.members.values()].map((member) => {
        const target = group.targetAssignment.get(member.memberId);
        const reported = group.taskOffsets.get(member.memberId);
        return {
          memberId: member.memberId,
          memberEpoch: member.memberEpoch,
          instanceId: member.instanceId,
          rackId: member.rackId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          topologyEpoch: member.topologyEpoch,
          processId: member.processId,
          userEndpoint: member.userEndpoint === null ? null : { host: member.userEndpoint.host, port: member.userEndpoint.port },
          clientTags: member.clientTags.map(([key, value]) => ({ key, value })),
          taskOffsets: offsetsList(reported?.offsets),
          taskEndOffsets: offsetsList(reported?.endOffsets),
          assignment: {
            activeTasks: taskIds(new Map([...member.assignedTasks.active].map(([id, ps]) => [id, new Set(ps.keys())] as const))),
            standbyTasks: taskIds(member.assignedTasks.standby),
            warmupTasks: taskIds(member.assignedTasks.warmup),
          },
          targetAssignment:
            target === undefined
              ? { activeTasks: [], standbyTasks: [], warmupTasks: [] }
              : { activeTasks: taskIds(target.active), standbyTasks: taskIds(target.standby), warmupTasks: taskIds(target.warmup) },
          isClassic: false,
        };
      }),
    };
  }

  shareGroup(groupId: string): ShareGroup | undefined {
    const group = this.group(groupId);
    return group?.type === "share" ? group : undefined;
  }

  /** Tombstones a consumer group (createGroupTombstoneRecordsAndCancelTimers) with `extra` records first. */
  #deleteConsumerGroup(shard: GroupShard, group: ConsumerGroup, extra: RecordToWrite[], nowMs: number): void {
    shard.write([...extra, ...this.consumer.groupTombstones(group)], nowMs, true);
    this.consumer.drop(group);
    group.markDead();
  }

  // ------------------------------------------------------------------------------------------
  // Offsets

  /**
   * Commits `offsets` for the group (OffsetMetadataManager.commitOffset): one error for the whole
   * request when the group refuses it, else an error code per offset (NONE, or
   * OFFSET_METADATA_TOO_LARGE); the commits are in the log before this returns.
   */
  commitOffsets(request: CommitRequest, offsets: readonly OffsetToCommit[], nowMs: number): number | number[] {
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return shard;
    let group = shard.groups.get(request.groupId);
    if (group === undefined) {
      if (request.generationIdOrMemberEpoch >= 0) return request.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
      // A simple group: committing offsets without membership.
      group = new ClassicGroup(request.groupId, nowMs);
      shard.groups.set(request.groupId, group);
    }
    let validate: (offset: OffsetToCommit) => number = () => ErrorCode.NONE;
    if (group.type === "share") return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.type === "classic") {
      const invalid = this.#validateClassicCommit(group, request);
      if (invalid !== ErrorCode.NONE) return invalid;
    } else if (group.type === "streams") {
      const validator = this.#validateStreamsCommit(group, request);
      if (typeof validator === "number") return validator;
      validate = validator;
    } else {
      const validator = this.#validateConsumerCommit(group, request);
      if (typeof validator === "number") return validator;
      validate = validator;
    }
    const expireTimestampMs = request.retentionTimeMs === -1n ? null : nowMs + Number(request.retentionTimeMs);
    const records: RecordToWrite[] = [];
    let failed: number = ErrorCode.NONE;
    const errors = offsets.map((offset) => {
      if (offset.metadata !== null && offset.metadata.length > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      // A partition the member may not commit fails the whole request (Kafka's validator throws).
      if (failed === ErrorCode.NONE) failed = validate(offset);
      records.push(
        offsetCommitRecord(request.groupId, offset.topic, offset.partition, {
          offset: offset.offset,
          leaderEpoch: offset.leaderEpoch,
          metadata: offset.metadata ?? "",
          commitTimestampMs: nowMs,
          expireTimestampMs,
          topicId: offset.topicId,
        }),
      );
      return ErrorCode.NONE;
    });
    if (failed !== ErrorCode.NONE) return failed;
    try {
      shard.write(records, nowMs, true);
    } catch (error) {
      return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    return errors;
  }

  /**
   * ConsumerGroup.validateOffsetCommit (Kafka 4.4, KIP-1251): a group-level error, or a check per
   * partition. A member committing with an older epoch may commit the partitions it was assigned at
   * or before that epoch (assigned or pending revocation).
   */
  #validateConsumerCommit(group: ConsumerGroup, request: CommitRequest, isTransactional = false): number | ((offset: OffsetToCommit) => number) {
    const epoch = request.generationIdOrMemberEpoch;
    if (epoch < 0 && group.members.size === 0) return () => ErrorCode.NONE;
    if (isTransactional && epoch === -1 && request.memberId === "" && request.groupInstanceId === null) return () => ErrorCode.NONE;
    const member = group.members.get(request.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (!isTransactional && !member.useClassicProtocol && request.apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (epoch === member.memberEpoch) return () => ErrorCode.NONE;
    const stale = member.useClassicProtocol ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
    if (epoch > member.memberEpoch) return stale;
    return (offset) => {
      const assignmentEpoch = member.assignmentEpoch(offset.topicId, offset.partition) ?? member.pendingRevocationEpoch(offset.topicId, offset.partition);
      if (assignmentEpoch === undefined || epoch < assignmentEpoch) return stale;
      return ErrorCode.NONE;
    };
  }

  /**
   * StreamsGroup.validateOffsetCommit: a member committing with an older epoch may commit the
   * source partitions of the active tasks it was assigned at or before that epoch.
   */
  #validateStreamsCommit(group: StreamsGroup, request: CommitRequest, isTransactional = false): number | ((offset: OffsetToCommit) => number) {
    const epoch = request.generationIdOrMemberEpoch;
    if (epoch < 0 && group.members.size === 0) return () => ErrorCode.NONE;
    if (isTransactional && epoch === -1 && request.memberId === "" && request.groupInstanceId === null) return () => ErrorCode.NONE;
    const member = group.members.get(request.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (!isTransactional && request.apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (epoch === member.memberEpoch) return () => ErrorCode.NONE;
    if (epoch > member.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    if (group.topology === null) return ErrorCode.STALE_MEMBER_EPOCH;
    const subtopologyOf = sourceTopicMap(group.topology);
    return (offset) => {
      const subtopologyId = subtopologyOf.get(offset.topic);
      if (subtopologyId === undefined) return ErrorCode.STALE_MEMBER_EPOCH;
      const assignmentEpoch =
        member.assignedTasks.active.get(subtopologyId)?.get(offset.partition) ?? member.tasksPendingRevocation.active.get(subtopologyId)?.get(offset.partition);
      if (assignmentEpoch === undefined || epoch < assignmentEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
      return ErrorCode.NONE;
    };
  }

  /** ClassicGroup.validateOffsetCommit. */
  #validateClassicCommit(group: ClassicGroup, request: CommitRequest, isTransactional = false): number {
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const generationId = request.generationIdOrMemberEpoch;
    if (generationId < 0 && group.is("Empty")) return ErrorCode.NONE;
    if (generationId >= 0 || request.memberId !== "" || request.groupInstanceId !== null) {
      const invalid = group.validateMember(request.memberId, request.groupInstanceId);
      if (invalid !== ErrorCode.NONE) return invalid;
      if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!isTransactional && !group.is("Empty")) {
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (!isTransactional && group.is("CompletingRebalance")) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit (OffsetMetadataManager.commitTransactionalOffset): validates like an offset
   * commit (with the transactional relaxations) and writes the commits in a transactional batch of
   * `producerId`; they stay pending until the transaction's marker. One error for the request, or
   * an error per offset.
   */
  commitTransactionalOffsets(
    request: Omit<CommitRequest, "retentionTimeMs">,
    offsets: readonly OffsetToCommit[],
    producerId: bigint,
    producerEpoch: number,
    nowMs: number,
  ): number | number[] {
    const shard = this.shardFor(request.groupId);
    if (typeof shard === "number") return shard;
    let group = shard.groups.get(request.groupId);
    if (group === undefined) {
      // An anonymous commit (generation -1: an admin, or a consumer without group management)
      // makes a simple group; otherwise the group must exist.
      if (request.generationIdOrMemberEpoch >= 0) return request.apiVersion >= 5 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
      group = new ClassicGroup(request.groupId, nowMs);
      shard.groups.set(request.groupId, group);
    }
    const commit: CommitRequest = { ...request, retentionTimeMs: -1n };
    let validate: (offset: OffsetToCommit) => number = () => ErrorCode.NONE;
    if (group.type === "share") return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.type === "classic") {
      const invalid = this.#validateClassicCommit(group, commit, true);
      if (invalid !== ErrorCode.NONE) return invalid;
    } else if (group.type === "streams") {
      const validator = this.#validateStreamsCommit(group, commit, true);
      if (typeof validator === "number") return validator === ErrorCode.STALE_MEMBER_EPOCH && request.apiVersion < 5 ? ErrorCode.ILLEGAL_GENERATION : validator;
      validate = validator;
    } else {
      const validator = this.#validateConsumerCommit(group, commit, true);
      if (typeof validator === "number") return validator === ErrorCode.STALE_MEMBER_EPOCH && request.apiVersion < 5 ? ErrorCode.ILLEGAL_GENERATION : validator;
      validate = validator;
    }
    const records: RecordToWrite[] = [];
    let failed: number = ErrorCode.NONE;
    const errors = offsets.map((offset) => {
      if (offset.metadata !== null && offset.metadata.length > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      if (failed === ErrorCode.NONE) failed = validate(offset);
      records.push(
        offsetCommitRecord(request.groupId, offset.topic, offset.partition, {
          offset: offset.offset,
          leaderEpoch: offset.leaderEpoch,
          metadata: offset.metadata ?? "",
          commitTimestampMs: nowMs,
          expireTimestampMs: null,
          topicId: offset.topicId,
        }),
      );
      return ErrorCode.NONE;
    });
    if (failed !== ErrorCode.NONE) return failed === ErrorCode.STALE_MEMBER_EPOCH && request.apiVersion < 5 ? ErrorCode.ILLEGAL_GENERATION : failed;
    try {
      shard.write(records, nowMs, true, { producerId, producerEpoch });
    } catch (error) {
      return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    return errors;
  }

  /** A transaction marker was written to __consumer_offsets-`partitionIndex`: settle the producer's pending offsets. */
  onTransactionCompleted(partitionIndex: number, producerId: bigint, commit: boolean): void {
    this.#shards.get(partitionIndex)?.completeTransaction(producerId, commit);
  }

  /**
   * The group's committed offsets: of `topics` (every partition asked for, committed or not), or
   * all of them when `topics` is null. An unknown group has no offsets (no error), as in Kafka.
   */
  fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[] | null,
    member: { memberId: string | null; memberEpoch: number } = { memberId: null, memberEpoch: -1 },
    requireStable = false,
  ): FetchedOffsets {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, topics: [] };
    const group = shard.groups.get(groupId);
    if (group?.is("Dead")) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    if (group?.type === "streams" && !(member.memberId === null && member.memberEpoch < 0)) {
      // StreamsGroup.validateOffsetFetch.
      const current = member.memberId === null ? undefined : group.members.get(member.memberId);
      if (current === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, topics: [] };
      if (member.memberEpoch !== current.memberEpoch) return { errorCode: ErrorCode.STALE_MEMBER_EPOCH, topics: [] };
    }
    if (group?.type === "consumer" && !(member.memberId === null && member.memberEpoch < 0)) {
      // ConsumerGroup.validateOffsetFetch: a member fetching must be current.
      const current = member.memberId === null ? undefined : group.members.get(member.memberId);
      if (current === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, topics: [] };
      if (member.memberEpoch !== current.memberEpoch) {
        return { errorCode: current.useClassicProtocol ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH, topics: [] };
      }
    }
    const committed = shard.offsets.ofGroup(groupId);
    // requireStable (KIP-447): a partition with a pending transactional commit is UNSTABLE_OFFSET_COMMIT.
    const unstable = (topic: string, partition: number) => requireStable && shard.offsets.hasPending(groupId, topic, partition);
    if (topics === null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: [...(committed ?? new Map<string, Map<number, CommittedOffset>>())].map(([name, partitions]) => ({
          name,
          partitions: [...partitions].map(([partition, offset]) => ({ partition, offset, unstable: unstable(name, partition) })),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partition,
          offset: committed?.get(topic.name)?.get(partition),
          unstable: unstable(topic.name, partition),
        })),
      })),
    };
  }

  /**
   * OffsetDelete: a group-level error, or an error per partition (GROUP_SUBSCRIBED_TO_TOPIC for
   * topics the group's members consume). The deletions are written before this returns.
   */
  deleteOffsets(groupId: string, topics: readonly { name: string; partitions: readonly number[] }[], nowMs: number): number | Map<string, number> {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return shard;
    const group = shard.groups.get(groupId);
    if (group === undefined || group.is("Dead") || group.type === "share") return ErrorCode.GROUP_ID_NOT_FOUND;
    let subscribed: ReadonlySet<string> | null;
    if (group.type === "consumer") {
      // ConsumerGroup.validateOffsetDelete accepts any state; subscribed topics are refused.
      subscribed = new Set(group.subscribedTopicNames.keys());
    } else if (group.type === "streams") {
      // StreamsGroup: any state; the topics its topology reads are refused while it has members.
      subscribed = new Set([...(group.topology === null ? [] : sourceTopicMap(group.topology).keys())].filter((t) => group.isSubscribedToTopic(t)));
    } else {
      if (!group.is("Empty") && !group.usesConsumerProtocol) return ErrorCode.NON_EMPTY_GROUP;
      subscribed = group.is("Empty") ? new Set<string>() : classicGroupSubscribedTopics(group);
    }
    const records: RecordToWrite[] = [];
    const errors = new Map<string, number>();
    for (const topic of topics) {
      const isSubscribed = subscribed === null || subscribed.has(topic.name);
      for (const partition of topic.partitions) {
        if (isSubscribed) {
          errors.set(`${topic.name}:${partition}`, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
        } else {
          errors.set(`${topic.name}:${partition}`, ErrorCode.NONE);
          if (shard.offsets.get(groupId, topic.name, partition) !== undefined || shard.offsets.hasPending(groupId, topic.name, partition)) {
            records.push(offsetTombstone(groupId, topic.name, partition));
          }
        }
      }
    }
    try {
      shard.write(records, nowMs, true);
    } catch (error) {
      return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    return errors;
  }

  // ------------------------------------------------------------------------------------------
  // Admin

  describeGroup(groupId: string): DescribedGroup {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return { errorCode: shard, errorMessage: null, group: null };
    const group = shard.groups.get(groupId);
    if (group === undefined || group.type !== "classic") {
      return {
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: group === undefined ? `Classic group ${groupId} not found.` : `Group ${groupId} is not a classic group.`,
        group: null,
      };
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, group };
  }

  /** Every group of the active shards; `states` and `types` filter case-insensitively when not empty. */
  listGroups(states: readonly string[], types: readonly string[]): { errorCode: number; groups: ListedGroup[] } {
    const stateFilter = new Set(states.map((state) => state.toLowerCase()));
    const typeFilter = new Set(types.map((type) => type.toLowerCase()));
    const groups: ListedGroup[] = [];
    let errorCode: number = ErrorCode.NONE;
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") {
        if (shard.state === "loading") errorCode = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
        continue;
      }
      for (const group of shard.groups.values()) {
        if (group.is("Dead")) continue;
        const listed = { groupId: group.groupId, protocolType: group.protocolType ?? "", groupState: group.state, groupType: group.type };
        if (stateFilter.size > 0 && !stateFilter.has(listed.groupState.toLowerCase())) continue;
        if (typeFilter.size > 0 && !typeFilter.has(listed.groupType)) continue;
        groups.push(listed);
      }
    }
    return { errorCode, groups };
  }

  /**
   * Every group of the active shards and its committed offsets, for metrics and the console
   * (read-only views of the shards' state: callers must not keep them across turns). Groups with
   * offsets but no group record (an admin client's or a standalone consumer's commits) are
   * listed with state "Empty" and type "classic", as Kafka's ListGroups does.
   */
  *overview(): Generator<GroupOverview> {
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      for (const group of shard.groups.values()) {
        if (group.is("Dead")) continue;
        yield { groupId: group.groupId, state: group.state, type: group.type, members: group.members.size, offsets: shard.offsets.ofGroup(group.groupId) };
      }
      for (const groupId of shard.offsets.groups()) {
        if (shard.groups.has(groupId)) continue;
        yield { groupId, state: "Empty", type: "classic", members: 0, offsets: shard.offsets.ofGroup(groupId) };
      }
    }
  }

  /** Committed offsets across the active shards (Kafka's NumOffsets gauge). */
  get offsetCount(): number {
    let count = 0;
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      for (const groupId of shard.offsets.groups()) count += shard.offsets.count(groupId);
    }
    return count;
  }

  /** DeleteGroups for one group: its offsets and metadata are tombstoned; the group is Dead. */
  deleteGroup(groupId: string, nowMs: number): number {
    const shard = this.shardFor(groupId);
    if (typeof shard === "number") return shard;
    const group = shard.groups.get(groupId);
    if (group === undefined || group.is("Dead")) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.is("Empty")) return ErrorCode.NON_EMPTY_GROUP;
    const records = this.#offsetTombstones(shard, groupId);
    if (group.type === "consumer") records.push(...this.consumer.groupTombstones(group));
    else if (group.type === "share") records.push(...this.share.groupTombstones(group));
    else if (group.type === "streams") records.push(...this.streams.groupTombstones(group));
    else records.push(groupTombstone(groupId));
    if (group.type === "share") {
      // The share-partition state in __share_group_state goes too (Kafka deletes it first).
      this.share.deleteState(group).catch((error: unknown) => this.#logger.warn({ group: groupId, err: error }, "could not delete share group state"));
    }
    try {
      shard.write(records, nowMs, true);
    } catch (error) {
      return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    this.#removeGroup(shard, group, nowMs);
    return ErrorCode.NONE;
  }

  /** OffsetMetadataManager.deleteAllOffsets: tombstones for every committed offset and every partition with a pending transactional one. */
  #offsetTombstones(shard: GroupShard, groupId: string): RecordToWrite[] {
    const records: RecordToWrite[] = [];
    for (const [topic, partitions] of shard.offsets.ofGroup(groupId) ?? []) {
      for (const partition of partitions.keys()) records.push(offsetTombstone(groupId, topic, partition));
    }
    for (const { topic, partition } of shard.offsets.pendingPartitions(groupId)) {
      if (shard.offsets.get(groupId, topic, partition) === undefined) records.push(offsetTombstone(groupId, topic, partition));
    }
    return records;
  }

  #removeGroup(shard: GroupShard, group: Group, nowMs: number): void {
    if (shard.groups.get(group.groupId) === group) shard.groups.delete(group.groupId);
    if (group.type === "classic") {
      group.transitionTo("Dead", nowMs);
      this.classic.drop(group);
    } else {
      group.markDead();
      this.#dropGroup(group);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Expiry and topic deletion

  /**
   * Kafka's cleanupGroupMetadata: removes offsets past offsets.retention.minutes (by the rules of
   * ClassicGroup.offsetExpirationCondition) and deletes empty groups left without offsets.
   * Returns the number of offsets removed.
   */
  cleanupGroupMetadata(nowMs: number): number {
    let removed = 0;
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      for (const group of [...shard.groups.values()]) {
        // Share groups have no committed offsets (their state is in __share_group_state) and do not expire.
        if (group.type === "share") continue;
        const records: RecordToWrite[] = [];
        const allExpired = this.#expiredOffsets(shard, group, nowMs, records);
        const deleteGroup = allExpired && group.is("Empty");
        const groupRecords = !deleteGroup
          ? []
          : group.type === "consumer"
            ? this.consumer.groupTombstones(group)
            : group.type === "streams"
              ? this.streams.groupTombstones(group)
              : [groupTombstone(group.groupId)];
        const offsetCount = records.length;
        records.push(...groupRecords);
        if (records.length === 0) continue;
        try {
          shard.write(records, nowMs, true);
        } catch (error) {
          this.#logger.warn({ group: group.groupId, err: error }, "could not write expired offsets");
          continue;
        }
        removed += offsetCount;
        if (offsetCount > 0) this.#logger.info({ group: group.groupId, offsets: offsetCount }, "removed expired offsets");
        if (deleteGroup) {
          this.#removeGroup(shard, group, nowMs);
          this.#logger.info({ group: group.groupId }, "deleted empty group without offsets");
        }
      }
    }
    return removed;
  }

  /** Appends the tombstones of the group's expired offsets; true when no offset is left. */
  #expiredOffsets(shard: GroupShard, group: Group, nowMs: number, records: RecordToWrite[]): boolean {
    const offsets = shard.offsets.ofGroup(group.groupId);
    if (offsets === undefined) return true;
    // The time each offset's retention counts from, or null when the group's offsets do not expire now.
    let base: ((offset: CommittedOffset) => number) | null = null;
    let subscribed: ReadonlySet<string> | null = new Set();
    if (group.type === "share") return false;
    if (group.type === "consumer") {
      // ConsumerGroup.offsetExpirationCondition: from the commit; subscribed topics are kept.
      base = (offset) => offset.commitTimestampMs;
      subscribed = new Set(group.subscribedTopicNames.keys());
    } else if (group.type === "streams") {
      // StreamsGroup.offsetExpirationCondition: from the commit; topics the topology reads are kept while it has members.
      base = (offset) => offset.commitTimestampMs;
      subscribed = new Set([...offsets.keys()].filter((topic) => group.isSubscribedToTopic(topic)));
    } else if (group.protocolType === null) {
      base = (offset) => offset.commitTimestampMs;
    } else if (group.is("Empty")) {
      base = (offset) => group.currentStateTimestamp ?? offset.commitTimestampMs;
    } else if (group.usesConsumerProtocol && group.is("Stable")) {
      subscribed = classicGroupSubscribedTopics(group);
      if (subscribed !== null) base = (offset) => offset.commitTimestampMs;
    }
    if (base === null || subscribed === null) return false;
    let allExpired = true;
    for (const [topic, partitions] of offsets) {
      if (subscribed.has(topic)) {
        allExpired = false;
        continue;
      }
      for (const [partition, offset] of partitions) {
        // An offset with a transactional commit pending does not expire (Kafka checks hasPendingTransactionalOffsets).
        const expired =
          !shard.offsets.hasPending(group.groupId, topic, partition) &&
          (offset.expireTimestampMs !== null ? nowMs >= offset.expireTimestampMs : nowMs - base(offset) >= this.config.offsetsRetentionMs);
        if (expired) records.push(offsetTombstone(group.groupId, topic, partition));
        else allExpired = false;
      }
    }
    return allExpired;
  }

  /** A topic was deleted: its committed offsets go too (Kafka's onPartitionsDeleted). */
  onTopicDeleted(topic: string, nowMs: number): void {
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      const records: RecordToWrite[] = [];
      for (const groupId of [...shard.offsets.groups()]) {
        for (const partition of shard.offsets.ofGroup(groupId)?.get(topic)?.keys() ?? []) records.push(offsetTombstone(groupId, topic, partition));
      }
      try {
        shard.write(records, nowMs, true);
      } catch (error) {
        this.#logger.warn({ topic, err: error }, "could not delete the offsets of a deleted topic");
      }
    }
  }
}
