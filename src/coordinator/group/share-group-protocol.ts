// The share group protocol (KIP-932) on the group coordinator: Kafka 4.4's
// GroupMetadataManager.shareGroupHeartbeat and its helpers. A member joins with epoch 0 and its
// subscribed topic names, heartbeats with its epoch, leaves with -1; a member silent for
// group.share.session.timeout.ms is fenced. Any change of the members' subscriptions (or of the
// subscribed topics' metadata) bumps the group epoch; the next heartbeat computes a new target
// assignment with Kafka's SimpleAssignor, and every member takes its target at once (share
// partitions are shared, nothing is revoked), so its epoch jumps to the assignment epoch.
//
// The partitions a share group is assigned get their state initialized in __share_group_state
// (the share coordinator, through the persister): they are recorded as initializing in the
// group's ShareGroupStatePartitionMetadata record, initialized, then recorded as initialized.
// DeleteGroups deletes that state too.
//
// As for consumer groups, every change is written as records and memory is changed by replaying
// them (shard.ts), so a restart or a coordinator move finds the same group.

import type { Logger } from "pino";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type { ShareGroupHeartbeatResponse } from "../../protocol/generated/share-group-heartbeat.js";
import { javaStringHashCode, kafkaAbs } from "../partitioner.js";
import { GroupRecordType } from "../records.js";
import type { KeyedTimers } from "../timer.js";
import type { TopicPartitions } from "./assignor/types.js";
import type { GroupCoordinatorConfig } from "./config.js";
import type { GroupShard, RecordToWrite } from "./shard.js";
import type { ShareGroup, ShareGroupMember, StateTopicPartitions } from "./share-group.js";
import { newShareGroupMember, ShareGroup as ShareGroupClass } from "./share-group.js";
import type { TopicImage } from "./topic-image.js";

export interface ShareHeartbeatRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly rackId: string | null;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly clientId: string;
  readonly clientHost: string;
}

/** Share-partition state in __share_group_state (the persister) and the share partitions of this broker. */
export interface ShareStateAccess {
  /** Initializes new partitions' state (start offset -1: share.auto.offset.reset decides at the first fetch). */
  initialize(groupId: string, topics: readonly { topicId: string; partitions: readonly number[] }[]): Promise<void>;
  delete(groupId: string, topics: readonly { topicId: string; partitions: readonly number[] }[]): Promise<void>;
  /** ReadShareGroupStateSummary of one partition: null when it has no state. */
  summary(
    groupId: string,
    topicId: string,
    partition: number,
  ): Promise<{ errorCode: number; state: { startOffset: bigint; leaderEpoch: number; stateEpoch: number; deliveryCompleteCount: number } | null }>;
  /** A new state at `startOffset` with the next state epoch (AlterShareGroupOffsets); the error code. */
  reset(groupId: string, topicId: string, partition: number, startOffset: bigint): Promise<number>;
  /**
   * The partition's latest offset (high watermark): this broker's if it leads the partition, else
   * asked of its leader (ListOffsets, as Kafka's PartitionMetadataClient.listLatestOffsets); null
   * when it cannot be known.
   */
  highWatermark(topic: string, partition: number): bigint | null | Promise<bigint | null>;
}

export interface ShareGroupHost {
  readonly config: GroupCoordinatorConfig;
  readonly timers: KeyedTimers;
  readonly logger: Logger;
  readonly image: TopicImage;
  /** The active shard of a group (for timers firing later), or undefined. */
  readonly activeShard: (groupId: string) => GroupShard | undefined;
  readonly state: () => ShareStateAccess | null;
}

export function shareHeartbeatError(errorCode: number, errorMessage: string | null = null): ShareGroupHeartbeatResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

const u = undefined;

function topicPartitionsList(partitions: TopicPartitions): { topicId: string; partitions: number[]; unknownTaggedFields: undefined }[] {
  return [...partitions].map(([topicId, set]) => ({ topicId, partitions: [...set].sort((a, b) => a - b), unknownTaggedFields: u }));
}

function sameAssignment(a: TopicPartitions, b: TopicPartitions): boolean {
  if (a.size !== b.size) return false;
  for (const [topicId, partitions] of a) {
    const other = b.get(topicId);
    if (other === undefined || other.size !== partitions.size) return false;
    for (const partition of partitions) if (!other.has(partition)) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Records (GroupCoordinatorRecordHelpers)

export function shareGroupEpochRecord(groupId: string, epoch: number, metadataHash: bigint): RecordToWrite {
  return {
    recordType: GroupRecordType.ShareGroupMetadata,
    key: { groupId, unknownTaggedFields: u },
    value: { epoch, metadataHash, unknownTaggedFields: u },
    version: 0,
  };
}

function memberRecord(groupId: string, member: ShareGroupMember): RecordToWrite {
  return {
    recordType: GroupRecordType.ShareGroupMemberMetadata,
    key: { groupId, memberId: member.memberId, unknownTaggedFields: u },
    value: {
      rackId: member.rackId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      subscribedTopicNames: [...member.subscribedTopicNames],
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

function targetMemberRecord(groupId: string, memberId: string, assignment: TopicPartitions): RecordToWrite {
  return {
    recordType: GroupRecordType.ShareGroupTargetAssignmentMember,
    key: { groupId, memberId, unknownTaggedFields: u },
    value: { topicPartitions: topicPartitionsList(assignment), unknownTaggedFields: u },
    version: 0,
  };
}

export function targetAssignmentMetadataRecord(groupId: string, assignmentEpoch: number, timestamp: bigint): RecordToWrite {
  return {
    recordType: GroupRecordType.ShareGroupTargetAssignmentMetadata,
    key: { groupId, unknownTaggedFields: u },
    value: { assignmentEpoch, assignmentTimestamp: timestamp, unknownTaggedFields: u },
    version: 0,
  };
}

function currentAssignmentRecord(groupId: string, member: ShareGroupMember): RecordToWrite {
  return {
    recordType: GroupRecordType.ShareGroupCurrentMemberAssignment,
    key: { groupId, memberId: member.memberId, unknownTaggedFields: u },
    value: {
      memberEpoch: member.memberEpoch,
      previousMemberEpoch: member.previousMemberEpoch,
      state: 0,
      assignedPartitions: topicPartitionsList(member.assignedPartitions),
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

const tombstone = (recordType: number, key: Record<string, unknown>): RecordToWrite => ({
  recordType,
  key: { ...key, unknownTaggedFields: u },
  value: null,
  version: -1,
});

export function statePartitionMetadataRecord(
  groupId: string,
  initializing: ReadonlyMap<string, StateTopicPartitions>,
  initialized: ReadonlyMap<string, StateTopicPartitions>,
  deleting: ReadonlyMap<string, string>,
): RecordToWrite {
  const list = (map: ReadonlyMap<string, StateTopicPartitions>) =>
    [...map].map(([topicId, info]) => ({
      topicId,
      topicName: info.topicName,
      partitions: [...info.partitions].sort((a, b) => a - b),
      unknownTaggedFields: u,
    }));
  return {
    recordType: GroupRecordType.ShareGroupStatePartitionMetadata,
    key: { groupId, unknownTaggedFields: u },
    value: {
      initializingTopics: list(initializing),
      initializedTopics: list(initialized),
      deletingTopics: [...deleting].map(([topicId, topicName]) => ({ topicId, topicName, unknownTaggedFields: u })),
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

// ------------------------------------------------------------------------------------------------
// SimpleAssignor (Kafka's org.apache.kafka.coordinator.group.assignor.SimpleAssignor)

interface TopicIdPartition {
  readonly topicId: string;
  readonly partition: number;
}

/** SimpleAssignor.assign: member → partitions by topic id. */
export function simpleAssign(
  members: readonly { memberId: string; subscribedTopicIds: readonly string[]; current: TopicPartitions }[],
  partitionsOf: (topicId: string) => readonly number[],
): Map<string, TopicPartitions> {
  const result = new Map<string, TopicPartitions>();
  for (const member of members) result.set(member.memberId, new Map());
  if (members.length === 0) return result;
  const key = (tp: TopicIdPartition) => `${tp.topicId}:${tp.partition}`;
  const targetsOf = (topicIds: readonly string[]): TopicIdPartition[] => {
    const out: TopicIdPartition[] = [];
    for (const topicId of topicIds) {
      for (const partition of partitionsOf(topicId)) out.push({ topicId, partition });
    }
    return out;
  };
  // The current assignment by partition.
  const current = new Map<string, { tp: TopicIdPartition; members: string[] }>();
  for (const member of members) {
    for (const [topicId, partitions] of member.current) {
      for (const partition of partitions) {
        const tp = { topicId, partition };
        const entry = current.get(key(tp)) ?? { tp, members: [] };
        entry.members.push(member.memberId);
        current.set(key(tp), entry);
      }
    }
  }
  const fresh = new Map<string, { tp: TopicIdPartition; members: string[] }>();
  const add = (tp: TopicIdPartition, memberId: string) => {
    const entry = fresh.get(key(tp)) ?? { tp, members: [] };
    entry.members.push(memberId);
    fresh.set(key(tp), entry);
  };
  // Step 1: each member hashed to one partition of its subscription.
  const subscriptions = new Map<string, TopicIdPartition[]>();
  for (const member of members) {
    const targets = targetsOf(member.subscribedTopicIds);
    subscriptions.set(member.memberId, targets);
    if (targets.length > 0) add(targets[kafkaAbs(javaStringHashCode(member.memberId) % targets.length)] as TopicIdPartition, member.memberId);
  }
  // Step 2: round robin over the partitions neither hashed to nor assigned before, among the topic's subscribers.
  const subscribersOf = new Map<string, string[]>();
  for (const member of members)
    for (const topicId of member.subscribedTopicIds) subscribersOf.set(topicId, [...(subscribersOf.get(topicId) ?? []), member.memberId]);
  const unassignedByTopic = new Map<string, TopicIdPartition[]>();
  for (const targets of subscriptions.values()) {
    for (const tp of targets) {
      if (fresh.has(key(tp)) || current.has(key(tp))) continue;
      const list = unassignedByTopic.get(tp.topicId) ?? [];
      if (!list.some((other) => other.partition === tp.partition)) list.push(tp);
      unassignedByTopic.set(tp.topicId, list);
    }
  }
  for (const [topicId, partitions] of unassignedByTopic) {
    const subscribers = subscribersOf.get(topicId) ?? [];
    partitions.forEach((tp, index) => {
      add(tp, subscribers[index % subscribers.length] as string);
    });
  }
  // Step 3: the current assignment (of topics still subscribed) plus the new one.
  const final = new Map<string, Map<string, Set<number>>>();
  const give = (memberId: string, tp: TopicIdPartition) => {
    let byTopic = final.get(memberId);
    if (byTopic === undefined) {
      byTopic = new Map();
      final.set(memberId, byTopic);
    }
    let set = byTopic.get(tp.topicId);
    if (set === undefined) {
      set = new Set();
      byTopic.set(tp.topicId, set);
    }
    set.add(tp.partition);
  };
  for (const { tp, members: owners } of current.values()) {
    for (const memberId of owners) if (subscribersOf.get(tp.topicId)?.includes(memberId) && partitionsOf(tp.topicId).includes(tp.partition)) give(memberId, tp);
  }
  for (const { tp, members: owners } of fresh.values()) for (const memberId of owners) give(memberId, tp);
  for (const [memberId, assignment] of final) result.set(memberId, assignment);
  return result;
}

// ------------------------------------------------------------------------------------------------

export class ShareGroupProtocol {
  constructor(private readonly host: ShareGroupHost) {}

  #sessionKey(groupId: string, memberId: string): string {
    return `share-session-timeout-${groupId}-${memberId}`;
  }

  #scheduleSession(groupId: string, memberId: string): void {
    this.host.timers.schedule(this.#sessionKey(groupId, memberId), this.host.config.shareSessionTimeoutMs, () => {
      const shard = this.host.activeShard(groupId);
      const group = shard?.groups.get(groupId);
      if (shard === undefined || group?.type !== "share" || !group.members.has(memberId)) return;
      try {
        this.#fenceMember(shard, group, memberId, Date.now());
        this.host.logger.info({ group: groupId, member: memberId }, "share group member session expired; removed from the group");
      } catch (error) {
        this.host.logger.warn({ group: groupId, member: memberId, err: error }, "could not remove an expired share group member");
      }
    });
  }

  /** A group leaves memory (unloaded, deleted): its timers go. */
  drop(group: ShareGroup): void {
    for (const memberId of group.members.keys()) this.host.timers.cancel(this.#sessionKey(group.groupId, memberId));
  }

  /** A shard finished loading: every member of its share groups gets a session timer. */
  onLoaded(shard: GroupShard): void {
    for (const group of shard.groups.values()) {
      if (group.type !== "share") continue;
      for (const memberId of group.members.keys()) this.#scheduleSession(group.groupId, memberId);
    }
  }

  heartbeat(shard: GroupShard, request: ShareHeartbeatRequest, nowMs: number): ShareGroupHeartbeatResponse {
    const { groupId, memberId, memberEpoch } = request;
    const existing = shard.groups.get(groupId);
    if (memberEpoch === -1) {
      if (existing === undefined) throw new KafkaError("GROUP_ID_NOT_FOUND", `Share group ${groupId} not found.`);
      if (existing.type !== "share") throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} is not a share group.`);
      if (!existing.members.has(memberId)) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${memberId} is not a member of group ${groupId}.`);
      this.#fenceMember(shard, existing, memberId, nowMs);
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
    }
    let group: ShareGroup;
    let isNewGroup = false;
    if (existing === undefined) {
      isNewGroup = true;
      if (memberEpoch !== 0) throw new KafkaError("GROUP_ID_NOT_FOUND", `Share group ${groupId} not found.`);
      group = new ShareGroupClass(groupId);
    } else if (existing.type === "share") {
      group = existing;
    } else if (existing.type === "classic" && existing.protocolType === null && existing.members.size === 0 && memberEpoch === 0) {
      // A "simple" group that only holds offsets does not stand in the way (as for consumer groups).
      group = new ShareGroupClass(groupId);
      isNewGroup = true;
    } else {
      throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} is not a share group.`);
    }
    const max = this.host.config.shareMaxSize;
    if (group.members.size >= max && !group.members.has(memberId)) {
      throw new KafkaError("GROUP_MAX_SIZE_REACHED", `The share group has reached its maximum capacity of ${max} members.`);
    }
    let member = group.members.get(memberId);
    if (member === undefined) {
      if (memberEpoch !== 0) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${memberId} is not a member of group ${groupId}.`);
      member = newShareGroupMember(memberId);
    } else if (memberEpoch !== 0) {
      if (memberEpoch > member.memberEpoch) {
        throw new KafkaError(
          "FENCED_MEMBER_EPOCH",
          `The share group member has a greater member epoch (${memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
        );
      }
      if (memberEpoch < member.memberEpoch && memberEpoch !== member.previousMemberEpoch) {
        throw new KafkaError(
          "FENCED_MEMBER_EPOCH",
          `The share group member has a smaller member epoch (${memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
        );
      }
    }

    const records: RecordToWrite[] = [];
    const updated: ShareGroupMember = {
      ...member,
      rackId: request.rackId ?? member.rackId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      subscribedTopicNames: request.subscribedTopicNames !== null ? [...new Set(request.subscribedTopicNames)] : member.subscribedTopicNames,
    };
    const isNew = !group.members.has(memberId);
    const subscriptionChanged = isNew || updated.subscribedTopicNames.join("\0") !== member.subscribedTopicNames.join("\0");
    if (isNew || subscriptionChanged || updated.rackId !== member.rackId || updated.clientId !== member.clientId || updated.clientHost !== member.clientHost) {
      records.push(memberRecord(groupId, updated));
    }

    // The group epoch: bumped when subscriptions or the subscribed topics' metadata changed.
    const subscribed = new Map(group.subscribedTopicNames());
    if (subscriptionChanged) {
      for (const name of member.subscribedTopicNames) {
        const count = subscribed.get(name);
        if (count !== undefined && !isNew) {
          if (count.byNameCount <= 1) subscribed.delete(name);
          else subscribed.set(name, { byNameCount: count.byNameCount - 1, byRegexCount: 0 });
        }
      }
      for (const name of updated.subscribedTopicNames) subscribed.set(name, { byNameCount: (subscribed.get(name)?.byNameCount ?? 0) + 1, byRegexCount: 0 });
    }
    const metadataHash = this.host.image.computeMetadataHash(subscribed);
    // Only partitions whose share state is initialized are assigned (Kafka 4.4): the subscribed
    // partitions are initialized first, and the group epoch moves once they are.
    const members = new Map(group.members);
    members.set(memberId, updated);
    const subscribedPartitions = new Map<string, { topicName: string; count: number }>();
    for (const m of members.values()) {
      for (const name of m.subscribedTopicNames) {
        const topic = this.host.image.topic(name);
        if (topic !== undefined) subscribedPartitions.set(topic.id, { topicName: name, count: topic.partitionCount });
      }
    }
    const assignable = new Map<string, number[]>();
    const fresh = new Map<string, StateTopicPartitions>();
    for (const [topicId, { topicName, count }] of subscribedPartitions) {
      const initialized = group.initializedTopics.get(topicId)?.partitions;
      const initializing = group.initializingTopics.get(topicId)?.partitions;
      for (let partition = 0; partition < count; partition++) {
        if (initialized?.has(partition)) assignable.set(topicId, [...(assignable.get(topicId) ?? []), partition]);
        else if (!initializing?.has(partition)) {
          const entry = fresh.get(topicId) ?? { topicName, partitions: new Set<number>() };
          (entry.partitions as Set<number>).add(partition);
          fresh.set(topicId, entry);
        }
      }
    }
    // Partitions initialized since the target assignment was computed call for a new one.
    const targeted = new Set<string>();
    for (const assignment of group.targetAssignment.values())
      for (const [topicId, partitions] of assignment) for (const p of partitions) targeted.add(`${topicId}:${p}`);
    let assignableCount = 0;
    let newlyAssignable = false;
    for (const [topicId, partitions] of assignable) {
      assignableCount += partitions.length;
      for (const p of partitions) if (!targeted.has(`${topicId}:${p}`)) newlyAssignable = true;
    }
    const shrunk = targeted.size > assignableCount;
    let groupEpoch = isNewGroup ? 1 : group.groupEpoch;
    if (subscriptionChanged || metadataHash !== group.metadataHash || (!isNew && (newlyAssignable || shrunk))) {
      groupEpoch += 1;
      records.push(shareGroupEpochRecord(groupId, groupEpoch, metadataHash));
    }

    // The target assignment: recomputed when the group epoch moved past it.
    let target = group.targetAssignment.get(memberId) ?? new Map<string, ReadonlySet<number>>();
    let assignmentEpoch = group.assignmentEpoch;
    if (groupEpoch > group.assignmentEpoch) {
      const assigned = simpleAssign(
        [...members.values()].map((m) => ({
          memberId: m.memberId,
          subscribedTopicIds: m.subscribedTopicNames.flatMap((name) => this.host.image.topic(name)?.id ?? []),
          current: group.targetAssignment.get(m.memberId) ?? new Map(),
        })),
        (topicId) => assignable.get(topicId) ?? [],
      );
      for (const [id, assignment] of assigned) {
        const previous = group.targetAssignment.get(id);
        if (previous === undefined || !sameAssignment(previous, assignment)) records.push(targetMemberRecord(groupId, id, assignment));
      }
      assignmentEpoch = groupEpoch;
      records.push(targetAssignmentMetadataRecord(groupId, assignmentEpoch, BigInt(nowMs)));
      target = assigned.get(memberId) ?? new Map();
    }
    // Subscribed partitions without state get it initialized.
    if (fresh.size > 0) {
      const initializing = new Map(group.initializingTopics);
      for (const [topicId, info] of fresh) {
        initializing.set(topicId, { topicName: info.topicName, partitions: new Set([...(initializing.get(topicId)?.partitions ?? []), ...info.partitions]) });
      }
      records.push(statePartitionMetadataRecord(groupId, initializing, group.initializedTopics, group.deletingTopics));
      queueMicrotask(() => this.#initialize(groupId, fresh));
    }

    // Reconciliation: a share member takes its target at once.
    let reconciled = updated;
    if (updated.memberEpoch !== assignmentEpoch || !sameAssignment(updated.assignedPartitions, target) || isNew) {
      reconciled = { ...updated, previousMemberEpoch: updated.memberEpoch, memberEpoch: assignmentEpoch, assignedPartitions: target };
      records.push(currentAssignmentRecord(groupId, reconciled));
    }

    if (existing !== group) shard.groups.set(groupId, group);
    try {
      shard.write(records, nowMs, true);
    } catch (error) {
      if (existing !== group && group.members.size === 0) shard.groups.delete(groupId);
      throw error;
    }
    this.#scheduleSession(groupId, memberId);

    const current = group.members.get(memberId) ?? reconciled;
    const sendAssignment =
      memberEpoch === 0 || memberEpoch !== current.memberEpoch || records.some((r) => r.recordType === GroupRecordType.ShareGroupCurrentMemberAssignment);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: current.memberEpoch,
      heartbeatIntervalMs: this.host.config.shareHeartbeatIntervalMs,
      assignment: sendAssignment ? { topicPartitions: topicPartitionsList(current.assignedPartitions) } : null,
    };
  }

  /** shareGroupFenceMember: the member's records are tombstoned and the group epoch bumped. */
  #fenceMember(shard: GroupShard, group: ShareGroup, memberId: string, nowMs: number): void {
    const { groupId } = group;
    const remaining = new Map(group.subscribedTopicNames());
    for (const name of group.members.get(memberId)?.subscribedTopicNames ?? []) {
      const count = remaining.get(name);
      if (count === undefined) continue;
      if (count.byNameCount <= 1) remaining.delete(name);
      else remaining.set(name, { byNameCount: count.byNameCount - 1, byRegexCount: 0 });
    }
    const records: RecordToWrite[] = [
      tombstone(GroupRecordType.ShareGroupCurrentMemberAssignment, { groupId, memberId }),
      tombstone(GroupRecordType.ShareGroupTargetAssignmentMember, { groupId, memberId }),
      tombstone(GroupRecordType.ShareGroupMemberMetadata, { groupId, memberId }),
      shareGroupEpochRecord(groupId, group.groupEpoch + 1, this.host.image.computeMetadataHash(remaining)),
    ];
    // The last member gone: the (empty) target assignment is at the new epoch, as Kafka writes it.
    if (group.members.size === 1) records.push(targetAssignmentMetadataRecord(groupId, group.groupEpoch + 1, 0n));
    shard.write(records, nowMs, true);
    this.host.timers.cancel(this.#sessionKey(groupId, memberId));
  }

  async #initialize(groupId: string, fresh: ReadonlyMap<string, StateTopicPartitions>): Promise<void> {
    const access = this.host.state();
    if (access === null) return;
    const topics = [...fresh].map(([topicId, info]) => ({ topicId, partitions: [...info.partitions] }));
    try {
      await access.initialize(groupId, topics);
    } catch (error) {
      this.host.logger.warn({ group: groupId, err: error }, "could not initialize share group state; the share-partition leaders initialize it on first fetch");
      return;
    }
    const shard = this.host.activeShard(groupId);
    const group = shard?.groups.get(groupId);
    if (shard === undefined || group?.type !== "share") return;
    const initializing = new Map(group.initializingTopics);
    const initialized = new Map(group.initializedTopics);
    for (const [topicId, info] of fresh) {
      const left = new Set([...(initializing.get(topicId)?.partitions ?? [])].filter((p) => !info.partitions.has(p)));
      if (left.size === 0) initializing.delete(topicId);
      else initializing.set(topicId, { topicName: info.topicName, partitions: left });
      initialized.set(topicId, { topicName: info.topicName, partitions: new Set([...(initialized.get(topicId)?.partitions ?? []), ...info.partitions]) });
    }
    try {
      shard.write([statePartitionMetadataRecord(groupId, initializing, initialized, group.deletingTopics)], Date.now(), true);
    } catch (error) {
      this.host.logger.warn({ group: groupId, err: error }, "could not record the initialized share group state");
    }
  }

  /** The records deleting a share group (its members are gone). */
  groupTombstones(group: ShareGroup): RecordToWrite[] {
    const { groupId } = group;
    const records: RecordToWrite[] = [];
    for (const memberId of group.members.keys()) {
      records.push(tombstone(GroupRecordType.ShareGroupCurrentMemberAssignment, { groupId, memberId }));
      records.push(tombstone(GroupRecordType.ShareGroupMemberMetadata, { groupId, memberId }));
    }
    for (const memberId of group.targetAssignment.keys()) records.push(tombstone(GroupRecordType.ShareGroupTargetAssignmentMember, { groupId, memberId }));
    records.push(tombstone(GroupRecordType.ShareGroupTargetAssignmentMetadata, { groupId }));
    if (group.hasStateMetadataRecord) records.push(tombstone(GroupRecordType.ShareGroupStatePartitionMetadata, { groupId }));
    records.push(tombstone(GroupRecordType.ShareGroupMetadata, { groupId }));
    return records;
  }

  /** DeleteGroups of a share group: its share-partition state goes too. */
  deleteState(group: ShareGroup): Promise<void> {
    const access = this.host.state();
    const topics = [...group.statePartitions()].map(([topicId, info]) => ({ topicId, partitions: [...info.partitions] }));
    if (access === null || topics.length === 0) return Promise.resolve();
    return access.delete(group.groupId, topics);
  }
}
