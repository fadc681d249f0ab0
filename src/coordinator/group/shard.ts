// One partition of __consumer_offsets and the groups it owns (Kafka's GroupCoordinatorShard): the
// groups whose id hashes to the partition, their committed offsets, and the partition's log.
//
// The log is the truth. A change is written as one batch of coordinator records (records.ts) and
// acknowledged only once the append succeeded; offsets and the KIP-848 groups are then changed by
// replaying the very records written, exactly as loading replays them at start-up, so memory
// after a restart equals memory before it. Classic groups keep state the log never holds
// (members waiting in JoinGroup), so their GroupMetadata records are written and not replayed,
// as Kafka does (CoordinatorResult with replayRecords=false); loading rebuilds them from the
// record. Appends are synchronous memcpys into the mapped segment on the JS thread: the write and
// the change of memory happen in one turn, with no other request between them.
//
// Loading reads the partition from its log start in offsets.load.buffer.size steps, yielding to
// the event loop between steps; meanwhile the shard answers COORDINATOR_LOAD_IN_PROGRESS.

import type { Logger } from "pino";
import type { Partition } from "../../log/partition.js";
import { LogError, recompressBatch } from "../../native.js";
import { ErrorCode, KafkaError, type KafkaErrorCode } from "../../protocol/errors.js";
import { batches, buildRecordBatch, ControlRecordType, decodeControlRecordKey, decodeRecords, RecordBatchView } from "../../protocol/records.js";
import { ZERO_UUID } from "../../protocol/runtime.js";
import { coordinatorLogUnavailable } from "../coordinator-topic.js";
import type { ConsumerGroupCurrentMemberAssignmentValue } from "../generated/group/consumer-group-current-member-assignment.js";
import type { ConsumerGroupMemberMetadataValue } from "../generated/group/consumer-group-member-metadata.js";
import type { ConsumerGroupMetadataValue } from "../generated/group/consumer-group-metadata.js";
import type { ConsumerGroupRegularExpressionValue } from "../generated/group/consumer-group-regular-expression.js";
import type { ConsumerGroupTargetAssignmentMemberValue } from "../generated/group/consumer-group-target-assignment-member.js";
import type { ConsumerGroupTargetAssignmentMetadataValue } from "../generated/group/consumer-group-target-assignment-metadata.js";
import type { GroupMetadataValue } from "../generated/group/group-metadata.js";
import type { OffsetCommitKey, OffsetCommitValue } from "../generated/group/offset-commit.js";
import { type CoordinatorRecord, GroupRecordType, groupRecords } from "../records.js";
import { assignmentFromRecord } from "./assignor/java-collections.js";
import { ClassicGroup, ClassicMember } from "./classic-group.js";
import { ConsumerGroup, javaHashSetOf, memberStateFromValue, type PartitionEpochs } from "./consumer-group.js";
import { OffsetStore } from "./offsets.js";
import { ShareGroup, type StateTopicPartitions } from "./share-group.js";
import { defaultStreamsMember, StreamsGroup, type StreamsGroupMember, type TaskEpochMap, type TaskMap, topologyFromRecord } from "./streams-group.js";

/** A group owned by a shard: classic, a KIP-848 consumer group, a KIP-932 share group or a KIP-1071 streams group. */
export type Group = ClassicGroup | ConsumerGroup | ShareGroup | StreamsGroup;

/** The group a consumer-group record names does not exist (Kafka: GroupIdNotFoundException during replay). */
class NoSuchGroup extends Error {}

export type ShardState = "loading" | "active" | "failed" | "closed";

/** A record to write: the coordinator record before encoding. */
export type RecordToWrite = Omit<CoordinatorRecord, "name">;

export class GroupShard {
  readonly groups = new Map<string, Group>();
  readonly offsets = new OffsetStore();
  state: ShardState = "loading";
  /** Records replayed at load, by outcome (for the load log line). */
  loadedRecords = 0;

  constructor(
    readonly partitionIndex: number,
    readonly partition: Partition,
    private readonly logger: Logger,
  ) {}

  /** The error a request to this shard gets now, or NONE. */
  get availability(): number {
    switch (this.state) {
      case "active":
        return ErrorCode.NONE;
      case "loading":
        return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
      default:
        return ErrorCode.NOT_COORDINATOR;
    }
  }

  /**
   * Appends `records` as one batch, then replays them when `replay` (offsets, KIP-848 groups).
   * Throws a KafkaError with the code Kafka's coordinator answers a failed write with
   * (CoordinatorRuntime / appendGroupMetadataErrorToResponseError): NOT_COORDINATOR when the log
   * is gone or failed, UNKNOWN_SERVER_ERROR when the batch is refused.
   */
  write(records: readonly RecordToWrite[], nowMs: number, replay: boolean, transaction?: { producerId: bigint; producerEpoch: number }): void {
    if (records.length === 0) return;
    if (this.state !== "active") throw new KafkaError(this.availability as KafkaErrorCode);
    const encoded = records.map((record) => groupRecords.encode(record));
    const batch = buildRecordBatch({
      baseTimestamp: BigInt(nowMs),
      records: encoded.map(({ key, value }) => ({ key, value, timestamp: BigInt(nowMs) })),
      ...(transaction === undefined ? {} : { producerId: transaction.producerId, producerEpoch: transaction.producerEpoch, isTransactional: true }),
    });
    let baseOffset: bigint;
    try {
      baseOffset = this.partition.appendAsCoordinator(batch, nowMs).baseOffset;
    } catch (error) {
      if (coordinatorLogUnavailable(error)) {
        throw new KafkaError("NOT_COORDINATOR", `the coordinator log ${this.partition} failed: ${(error as Error).message}`, { cause: error });
      }
      if (error instanceof LogError && error.code === "INVALID_PRODUCER_EPOCH") throw new KafkaError("PRODUCER_FENCED", undefined, { cause: error });
      this.logger.error({ err: error, partition: this.partition.toString() }, "coordinator write refused");
      throw new KafkaError("UNKNOWN_SERVER_ERROR", undefined, { cause: error });
    }
    if (!replay) return;
    records.forEach((record, index) => {
      this.replay(record, baseOffset + BigInt(index), transaction?.producerId ?? -1n);
    });
  }

  /**
   * A transaction marker was written to this partition (or read at load): the producer's pending
   * transactional offsets are committed or dropped. While loading, it waits for the load's end
   * (the marker lies past what the load reads).
   */
  completeTransaction(producerId: bigint, commit: boolean): void {
    if (this.state === "loading") {
      this.#deferredCompletions.push({ producerId, commit });
      return;
    }
    this.offsets.completeTransaction(producerId, commit);
  }

  readonly #deferredCompletions: { producerId: bigint; commit: boolean }[] = [];

  /**
   * Applies one record to memory (load, and writes made with `replay`); `recordOffset` is where it
   * lies in the log, `producerId` the transaction's producer when it was written in one (its offset
   * commits stay pending until the marker).
   */
  replay(record: RecordToWrite, recordOffset = -1n, producerId = -1n): void {
    switch (record.recordType) {
      case GroupRecordType.LegacyOffsetCommit:
      case GroupRecordType.OffsetCommit:
        this.#replayOffsetCommit(record.key as OffsetCommitKey, record.value as OffsetCommitValue | null, record.version, recordOffset, producerId);
        return;
      case GroupRecordType.GroupMetadata:
        this.#replayGroupMetadata((record.key as { group: string }).group, record.value as GroupMetadataValue | null);
        return;
      case GroupRecordType.ShareGroupMetadata:
      case GroupRecordType.ShareGroupMemberMetadata:
      case GroupRecordType.ShareGroupTargetAssignmentMetadata:
      case GroupRecordType.ShareGroupTargetAssignmentMember:
      case GroupRecordType.ShareGroupCurrentMemberAssignment:
      case GroupRecordType.ShareGroupStatePartitionMetadata:
        this.#replayShareGroupRecord(record);
        return;
      case GroupRecordType.StreamsGroupMetadata:
      case GroupRecordType.StreamsGroupMemberMetadata:
      case GroupRecordType.StreamsGroupTargetAssignmentMetadata:
      case GroupRecordType.StreamsGroupTargetAssignmentMember:
      case GroupRecordType.StreamsGroupCurrentMemberAssignment:
      case GroupRecordType.StreamsGroupTopology:
        this.#replayStreamsGroupRecord(record);
        return;
      case GroupRecordType.ConsumerGroupMetadata:
      case GroupRecordType.ConsumerGroupPartitionMetadata:
      case GroupRecordType.ConsumerGroupMemberMetadata:
      case GroupRecordType.ConsumerGroupTargetAssignmentMetadata:
      case GroupRecordType.ConsumerGroupTargetAssignmentMember:
      case GroupRecordType.ConsumerGroupCurrentMemberAssignment:
      case GroupRecordType.ConsumerGroupRegularExpression:
        try {
          this.#replayConsumerGroupRecord(record);
        } catch (error) {
          if (!(error instanceof NoSuchGroup)) throw error;
        }
        return;
      default:
        // Record types this version does not know (a newer Kafka's): kept in the log, ignored here.
        return;
    }
  }

  /**
   * getOrMaybeCreatePersistedConsumerGroup: the consumer group, created when `create` (replacing
   * a "simple" classic group that only holds offsets); NoSuchGroup when absent and not created.
   */
  #persistedConsumerGroup(groupId: string, create: boolean): ConsumerGroup {
    const group = this.groups.get(groupId);
    if (group === undefined && !create) throw new NoSuchGroup(groupId);
    if (group === undefined || (group.type === "classic" && group.protocolType === null && group.members.size === 0)) {
      const created = new ConsumerGroup(groupId);
      this.groups.set(groupId, created);
      return created;
    }
    if (group.type === "consumer") return group;
    throw new Error(`Group ${groupId} is not a consumer group`);
  }

  /** GroupMetadataManager.replay of the consumer group records (KIP-848). */
  #replayConsumerGroupRecord(record: RecordToWrite): void {
    const key = record.key as { groupId: string; memberId?: string; regularExpression?: string };
    const { groupId } = key;
    const memberId = key.memberId ?? "";
    switch (record.recordType) {
      case GroupRecordType.ConsumerGroupMetadata: {
        const value = record.value as ConsumerGroupMetadataValue | null;
        if (value !== null) {
          const group = this.#persistedConsumerGroup(groupId, true);
          group.setGroupEpoch(value.epoch);
          group.metadataHash = value.metadataHash;
          return;
        }
        const group = this.#persistedConsumerGroup(groupId, false);
        if (group.members.size > 0)
          throw new Error(`Received a tombstone record to delete group ${groupId} but the group still has ${group.members.size} members.`);
        if (group.targetAssignment.size > 0) {
          throw new Error(`Received a tombstone record to delete group ${groupId} but the target assignment still has ${group.targetAssignment.size} members.`);
        }
        if (group.assignmentEpoch !== -1) {
          throw new Error(`Received a tombstone record to delete group ${groupId} but did not receive ConsumerGroupTargetAssignmentMetadataValue tombstone.`);
        }
        group.markDead();
        this.groups.delete(groupId);
        return;
      }
      case GroupRecordType.ConsumerGroupPartitionMetadata: {
        // Deprecated in 4.x (KIP-1101: the group's metadata hash replaces it); only its presence is kept, to tombstone it.
        this.#persistedConsumerGroup(groupId, record.value !== null).hasSubscriptionMetadataRecord = record.value !== null;
        return;
      }
      case GroupRecordType.ConsumerGroupMemberMetadata: {
        const value = record.value as ConsumerGroupMemberMetadataValue | null;
        const group = this.#persistedConsumerGroup(groupId, value !== null);
        if (value !== null) {
          const classic = value.classicMemberMetadata;
          group.updateMember(
            group.memberOrNew(memberId).with({
              instanceId: value.instanceId,
              rackId: value.rackId,
              clientId: value.clientId,
              clientHost: value.clientHost,
              subscribedTopicNames: javaHashSetOf(value.subscribedTopicNames),
              subscribedTopicRegex: value.subscribedTopicRegex,
              rebalanceTimeoutMs: value.rebalanceTimeoutMs,
              serverAssignorName: value.serverAssignor,
              classicMemberMetadata:
                classic === null
                  ? null
                  : {
                      sessionTimeoutMs: classic.sessionTimeoutMs,
                      supportedProtocols: classic.supportedProtocols.map((p) => ({ name: p.name, metadata: p.metadata })),
                    },
            }),
          );
          return;
        }
        const member = group.members.get(memberId);
        if (member === undefined) return;
        if (member.memberEpoch !== -1) {
          throw new Error(`Received a tombstone record to delete member ${memberId} but did not receive ConsumerGroupCurrentMemberAssignmentValue tombstone.`);
        }
        if (group.targetAssignment.has(memberId)) {
          throw new Error(`Received a tombstone record to delete member ${memberId} but did not receive ConsumerGroupTargetAssignmentMetadataValue tombstone.`);
        }
        group.removeMember(memberId);
        return;
      }
      case GroupRecordType.ConsumerGroupTargetAssignmentMember: {
        const value = record.value as ConsumerGroupTargetAssignmentMemberValue | null;
        const group = this.#persistedConsumerGroup(groupId, value !== null);
        if (value !== null) {
          group.updateTargetAssignment(memberId, assignmentFromRecord(value.topicPartitions.map((tp) => [tp.topicId, tp.partitions] as const)));
        } else {
          group.removeTargetAssignment(memberId);
        }
        return;
      }
      case GroupRecordType.ConsumerGroupTargetAssignmentMetadata: {
        const value = record.value as ConsumerGroupTargetAssignmentMetadataValue | null;
        const group = this.#persistedConsumerGroup(groupId, value !== null);
        if (value !== null) {
          group.setTargetAssignmentMetadata(value.assignmentEpoch, value.assignmentTimestamp);
          return;
        }
        if (group.targetAssignment.size > 0) {
          throw new Error(
            `Received a tombstone record to delete target assignment of ${groupId} but the assignment still has ${group.targetAssignment.size} members.`,
          );
        }
        group.setTargetAssignmentMetadata(-1, 0n);
        return;
      }
      case GroupRecordType.ConsumerGroupCurrentMemberAssignment: {
        const value = record.value as ConsumerGroupCurrentMemberAssignmentValue | null;
        const group = this.#persistedConsumerGroup(groupId, value !== null);
        if (value !== null) {
          group.updateMember(
            group.memberOrNew(memberId).with({
              memberEpoch: value.memberEpoch,
              previousMemberEpoch: value.previousMemberEpoch,
              state: memberStateFromValue(value.state),
              assignedPartitions: this.#partitionEpochs(groupId, value.assignedPartitions, value.memberEpoch),
              partitionsPendingRevocation: this.#partitionEpochs(groupId, value.partitionsPendingRevocation, value.memberEpoch),
            }),
          );
          return;
        }
        const member = group.members.get(memberId);
        if (member === undefined) return;
        group.updateMember(member.with({ memberEpoch: -1, previousMemberEpoch: -1, assignedPartitions: new Map(), partitionsPendingRevocation: new Map() }));
        return;
      }
      case GroupRecordType.ConsumerGroupRegularExpression: {
        const value = record.value as ConsumerGroupRegularExpressionValue | null;
        const group = this.#persistedConsumerGroup(groupId, value !== null);
        const regex = key.regularExpression ?? "";
        if (value !== null) group.updateResolvedRegularExpression(regex, { topics: new Set(value.topics), version: value.version, timestamp: value.timestamp });
        else group.removeResolvedRegularExpression(regex);
        return;
      }
    }
  }

  /**
   * The share or streams group a record names, created for a non-tombstone record (a "simple"
   * classic group that only holds offsets gives way); undefined for a tombstone of an unknown group.
   */
  #persistedGroup<T extends ShareGroup | StreamsGroup>(groupId: string, create: boolean, type: T["type"], make: (groupId: string) => T): T | undefined {
    const group = this.groups.get(groupId);
    if (group?.type === type) return group as T;
    if (!create) return undefined;
    if (group === undefined || (group.type === "classic" && group.protocolType === null && group.members.size === 0)) {
      const created = make(groupId);
      this.groups.set(groupId, created);
      return created;
    }
    throw new Error(`Group ${groupId} is not a ${type} group`);
  }

  /** GroupMetadataManager.replay of the share group records (KIP-932). */
  #replayShareGroupRecord(record: RecordToWrite): void {
    const key = record.key as { groupId: string; memberId?: string };
    const { groupId } = key;
    const memberId = key.memberId ?? "";
    const value = record.value as Record<string, unknown> | null;
    const group = this.#persistedGroup(groupId, value !== null, "share", (id) => new ShareGroup(id));
    if (group === undefined) return;
    const topicMap = (list: readonly { topicId: string; partitions: number[] }[]) => new Map(list.map((tp) => [tp.topicId, new Set(tp.partitions)] as const));
    switch (record.recordType) {
      case GroupRecordType.ShareGroupMetadata:
        if (value === null) {
          group.markDead();
          this.groups.delete(groupId);
          return;
        }
        group.groupEpoch = value.epoch as number;
        group.metadataHash = value.metadataHash as bigint;
        return;
      case GroupRecordType.ShareGroupMemberMetadata: {
        if (value === null) {
          group.members.delete(memberId);
          return;
        }
        const member = group.members.get(memberId);
        group.members.set(memberId, {
          memberId,
          memberEpoch: member?.memberEpoch ?? 0,
          previousMemberEpoch: member?.previousMemberEpoch ?? 0,
          assignedPartitions: member?.assignedPartitions ?? new Map(),
          rackId: value.rackId as string | null,
          clientId: value.clientId as string,
          clientHost: value.clientHost as string,
          subscribedTopicNames: value.subscribedTopicNames as string[],
        });
        return;
      }
      case GroupRecordType.ShareGroupTargetAssignmentMetadata:
        group.assignmentEpoch = value === null ? -1 : (value.assignmentEpoch as number);
        group.assignmentTimestamp = value === null ? 0n : (value.assignmentTimestamp as bigint);
        return;
      case GroupRecordType.ShareGroupTargetAssignmentMember:
        if (value === null) group.targetAssignment.delete(memberId);
        else group.targetAssignment.set(memberId, topicMap(value.topicPartitions as { topicId: string; partitions: number[] }[]));
        return;
      case GroupRecordType.ShareGroupCurrentMemberAssignment: {
        const member = group.members.get(memberId);
        if (value === null) {
          if (member !== undefined) group.members.set(memberId, { ...member, memberEpoch: -1, previousMemberEpoch: -1, assignedPartitions: new Map() });
          return;
        }
        group.members.set(memberId, {
          ...(member ?? { memberId, rackId: null, clientId: "", clientHost: "", subscribedTopicNames: [] }),
          memberEpoch: value.memberEpoch as number,
          previousMemberEpoch: value.previousMemberEpoch as number,
          assignedPartitions: topicMap(value.assignedPartitions as { topicId: string; partitions: number[] }[]),
        });
        return;
      }
      case GroupRecordType.ShareGroupStatePartitionMetadata: {
        group.hasStateMetadataRecord = value !== null;
        type Info = { topicId: string; topicName: string; partitions: number[] };
        const infos = (list: unknown) =>
          new Map<string, StateTopicPartitions>((list as Info[]).map((t) => [t.topicId, { topicName: t.topicName, partitions: new Set(t.partitions) }]));
        group.initializingTopics = value === null ? new Map() : infos(value.initializingTopics);
        group.initializedTopics = value === null ? new Map() : infos(value.initializedTopics);
        group.deletingTopics =
          value === null ? new Map() : new Map((value.deletingTopics as { topicId: string; topicName: string }[]).map((t) => [t.topicId, t.topicName]));
        return;
      }
    }
  }

  /** GroupMetadataManager.replay of the streams group records (KIP-1071). */
  #replayStreamsGroupRecord(record: RecordToWrite): void {
    const key = record.key as { groupId: string; memberId?: string };
    const { groupId } = key;
    const memberId = key.memberId ?? "";
    const value = record.value as Record<string, unknown> | null;
    const group = this.#persistedGroup(groupId, value !== null, "streams", (id) => new StreamsGroup(id));
    if (group === undefined) return;
    type TaskIds = { subtopologyId: string; partitions: number[]; assignmentEpochs?: number[] | null };
    const tasks = (list: unknown): TaskMap => new Map((list as TaskIds[]).map((t) => [t.subtopologyId, new Set(t.partitions)] as const));
    const epochs = (list: unknown, fallback: number): TaskEpochMap =>
      new Map(
        (list as TaskIds[]).map((t) => {
          const e = t.assignmentEpochs;
          const use = e != null && e.length === t.partitions.length;
          return [t.subtopologyId, new Map(t.partitions.map((p, i) => [p, use ? (e[i] as number) : Math.max(fallback, 0)] as const))] as const;
        }),
      );
    const blank = (): StreamsGroupMember => defaultStreamsMember(memberId);
    switch (record.recordType) {
      case GroupRecordType.StreamsGroupTopology:
        group.topology = value === null ? null : topologyFromRecord(value as never);
        group.configuredTopology = null;
        return;
      case GroupRecordType.StreamsGroupMetadata:
        if (value === null) {
          group.markDead();
          this.groups.delete(groupId);
          return;
        }
        group.groupEpoch = value.epoch as number;
        group.metadataHash = value.metadataHash as bigint;
        group.validatedTopologyEpoch = value.validatedTopologyEpoch as number;
        group.storedDescriptionTopologyEpoch = value.storedDescriptionTopologyEpoch as number;
        group.failedDescriptionTopologyEpoch = value.failedDescriptionTopologyEpoch as number;
        group.lastAssignmentConfigs = new Map(((value.lastAssignmentConfigs as { key: string; value: string }[] | null) ?? []).map((c) => [c.key, c.value]));
        return;
      case GroupRecordType.StreamsGroupMemberMetadata: {
        if (value === null) {
          group.removeMember(memberId);
          return;
        }
        const endpoint = value.userEndpoint as { host: string; port: number } | null;
        group.updateMember({
          ...(group.members.get(memberId) ?? blank()),
          instanceId: value.instanceId as string | null,
          rackId: value.rackId as string | null,
          clientId: value.clientId as string,
          clientHost: value.clientHost as string,
          rebalanceTimeoutMs: value.rebalanceTimeoutMs as number,
          topologyEpoch: value.topologyEpoch as number,
          processId: value.processId as string,
          userEndpoint: endpoint === null ? null : { host: endpoint.host, port: endpoint.port },
          clientTags: (value.clientTags as { key: string; value: string }[]).map((t) => [t.key, t.value] as const),
        });
        return;
      }
      case GroupRecordType.StreamsGroupTargetAssignmentMetadata:
        group.assignmentEpoch = value === null ? -1 : (value.assignmentEpoch as number);
        group.assignmentTimestamp = value === null ? 0n : (value.assignmentTimestamp as bigint);
        return;
      case GroupRecordType.StreamsGroupTargetAssignmentMember:
        if (value === null) group.targetAssignment.delete(memberId);
        else group.targetAssignment.set(memberId, { active: tasks(value.activeTasks), standby: tasks(value.standbyTasks), warmup: tasks(value.warmupTasks) });
        return;
      case GroupRecordType.StreamsGroupCurrentMemberAssignment: {
        const member = group.members.get(memberId);
        if (value === null) {
          if (member !== undefined) {
            group.updateMember({
              ...member,
              memberEpoch: -1,
              previousMemberEpoch: -1,
              assignedTasks: { active: new Map(), standby: new Map(), warmup: new Map() },
              tasksPendingRevocation: { active: new Map(), standby: new Map(), warmup: new Map() },
            });
          }
          return;
        }
        const memberEpoch = value.memberEpoch as number;
        group.updateMember({
          ...(member ?? blank()),
          memberEpoch,
          previousMemberEpoch: value.previousMemberEpoch as number,
          state: value.state as number,
          assignedTasks: { active: epochs(value.activeTasks, memberEpoch), standby: tasks(value.standbyTasks), warmup: tasks(value.warmupTasks) },
          tasksPendingRevocation: {
            active: epochs(value.activeTasksPendingRevocation, memberEpoch),
            standby: tasks(value.standbyTasksPendingRevocation),
            warmup: tasks(value.warmupTasksPendingRevocation),
          },
        });
        return;
      }
    }
  }

  /** Utils.assignmentFromTopicPartitions: each partition's assignment epoch, or the member epoch (at least 0) when absent. */
  #partitionEpochs(
    groupId: string,
    topics: readonly { topicId: string; partitions: number[]; assignmentEpochs: number[] | null }[],
    defaultEpoch: number,
  ): PartitionEpochs {
    const fallback = Math.max(defaultEpoch, 0);
    const out = new Map<string, Map<number, number>>();
    for (const topic of topics) {
      const epochs = topic.assignmentEpochs;
      const useEpochs = epochs !== null && epochs.length === topic.partitions.length;
      if (epochs !== null && !useEpochs) {
        this.logger.error(
          { group: groupId, topicId: topic.topicId, epochs: epochs.length, partitions: topic.partitions.length },
          "size of assignment epochs is not equal to partitions; using the default epoch for all partitions",
        );
      }
      out.set(topic.topicId, new Map(topic.partitions.map((partition, index) => [partition, useEpochs ? (epochs[index] as number) : fallback])));
    }
    return out;
  }

  #replayOffsetCommit(key: OffsetCommitKey, value: OffsetCommitValue | null, version: number, recordOffset: bigint, producerId: bigint): void {
    if (value === null) {
      this.offsets.delete(key.group, key.topic, key.partition);
      return;
    }
    // A group committing offsets without membership is a "simple" group: an empty classic group
    // without protocol type (OffsetMetadataManager.replay).
    if (!this.groups.has(key.group)) this.groups.set(key.group, new ClassicGroup(key.group, null));
    const offset = {
      offset: value.offset,
      leaderEpoch: version >= 3 ? value.leaderEpoch : -1,
      metadata: value.metadata,
      commitTimestampMs: Number(value.commitTimestamp),
      expireTimestampMs: version === 1 && value.expireTimestamp !== -1n ? Number(value.expireTimestamp) : null,
      topicId: version >= 4 && value.topicId !== ZERO_UUID ? value.topicId : null,
      recordOffset,
    };
    if (producerId >= 0n) this.offsets.putPending(producerId, key.group, key.topic, key.partition, offset);
    else this.offsets.put(key.group, key.topic, key.partition, offset);
  }

  #replayGroupMetadata(groupId: string, value: GroupMetadataValue | null): void {
    const existing = this.groups.get(groupId);
    if (value === null) {
      if (existing !== undefined && existing.type === "classic") {
        existing.transitionTo("Dead", Date.now());
        this.groups.delete(groupId);
      }
      return;
    }
    const group = new ClassicGroup(groupId, value.currentStateTimestamp >= 0n ? Number(value.currentStateTimestamp) : null);
    group.protocolType = value.protocolType === "" ? null : value.protocolType;
    group.protocolName = value.protocol;
    group.generationId = value.generation;
    for (const memberValue of value.members) {
      const member = new ClassicMember(
        memberValue.memberId,
        memberValue.groupInstanceId,
        memberValue.clientId,
        memberValue.clientHost,
        memberValue.rebalanceTimeout < 0 ? memberValue.sessionTimeout : memberValue.rebalanceTimeout,
        memberValue.sessionTimeout,
        value.protocolType,
        [{ name: value.protocol ?? "", metadata: memberValue.subscription }],
      );
      member.assignment = memberValue.assignment;
      group.add(member, 0);
    }
    group.leaderId = value.leader;
    group.state = group.members.size === 0 ? "Empty" : "Stable";
    this.groups.set(groupId, group);
  }

  /**
   * Replays the partition from its log start to its end (see the file comment); control batches
   * end the transactions of their producer (commit applies its offsets, abort drops them).
   */
  async load(bufferBytes: number): Promise<void> {
    const log = this.partition.log;
    const end = log.logEndOffset;
    let offset = log.logStartOffset;
    while (offset < end && this.state === "loading") {
      const read = log.readCopy(offset, bufferBytes, end);
      if (read.bytes.length === 0) break;
      for (const batch of batches(read.bytes)) {
        if (batch.nextOffset <= offset) continue;
        this.#loadBatch(batch);
      }
      offset = read.nextOffset;
      await new Promise<void>((resume) => setImmediate(resume));
    }
    if (this.state === "loading") this.state = "active";
    for (const { producerId, commit } of this.#deferredCompletions.splice(0)) this.offsets.completeTransaction(producerId, commit);
  }

  #loadBatch(batch: RecordBatchView): void {
    if (batch.isControl) {
      for (const record of decodeRecords(batch)) {
        const type = decodeControlRecordKey(record.key).type;
        if (type === ControlRecordType.COMMIT || type === ControlRecordType.ABORT)
          this.offsets.completeTransaction(batch.producerId, type === ControlRecordType.COMMIT);
      }
      return;
    }
    const view = batch.compression === 0 ? batch : new RecordBatchView(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none"));
    for (const record of decodeRecords(view)) {
      if (record.key === null) continue;
      let decoded: CoordinatorRecord;
      try {
        decoded = groupRecords.decode(record.key, record.value);
      } catch (error) {
        // Kafka skips record types and versions it does not know (forward compatibility).
        this.logger.warn(
          { partition: this.partition.toString(), offset: record.offset.toString(), err: (error as Error).message },
          "skipped a coordinator record",
        );
        continue;
      }
      this.loadedRecords++;
      this.replay(decoded, record.offset, batch.isTransactional ? batch.producerId : -1n);
    }
  }
}
