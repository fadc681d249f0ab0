// The streams group protocol (KIP-1071) on the group coordinator: Kafka 4.4's
// GroupMetadataManager.streamsGroupHeartbeat and its helpers. A Kafka Streams client (one member
// per stream thread; members of one process share a process id) joins with epoch 0 and its
// topology; the first topology of a group is stored (StreamsGroupTopology record) and configured
// against the topics (streams-topology.ts): internal topics are created by the broker, and while
// topics are missing the heartbeat answers with a status instead of tasks. Any change of the
// members' metadata, of the topics' metadata hash or of the validated topology bumps the group
// epoch; a new target assignment is computed by the sticky task assignor once per
// group.streams.assignment.interval.ms (and, for a new group, after
// group.streams.initial.rebalance.delay.ms); each member then reconciles towards its target as
// Kafka's streams CurrentAssignmentBuilder does — an active task moves only after its previous
// owner revoked it, each active task keeps the epoch it was assigned at (offset commits are checked
// against it). Members leave with epoch -1 (static members may leave temporarily with -2), and are
// fenced when silent for streams.session.timeout.ms or when they do not revoke within their
// rebalance timeout.
//
// Every change is written as records and memory changes by replaying them (shard.ts), so a restart
// or a coordinator move finds the same group.

import type { Logger } from "pino";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type {
  StreamsGroupHeartbeatRequestTaskIds,
  StreamsGroupHeartbeatRequestTaskOffset,
  StreamsGroupHeartbeatRequestTopology,
  StreamsGroupHeartbeatResponse,
  StreamsGroupHeartbeatResponseEndpointToPartitions,
  StreamsGroupHeartbeatResponseStatus,
  StreamsGroupHeartbeatResponseTaskIds,
} from "../../protocol/generated/streams-group-heartbeat.js";
import type { StreamsGroupTopologyValue } from "../generated/group/streams-group-topology.js";
import { GroupRecordType } from "../records.js";
import type { KeyedTimers } from "../timer.js";
import { javaHashMapOrder } from "./assignor/java-collections.js";
import type { StreamsMemberAssignment, StreamsTaskAssignor } from "./assignor/streams-assignors.js";
import type { GroupCoordinatorConfig } from "./config.js";
import type { GroupShard, RecordToWrite } from "./shard.js";
import {
  type ConfiguredInternalTopic,
  type ConfiguredTopology,
  defaultStreamsMember,
  EMPTY_TASKS,
  EMPTY_TASKS_WITH_EPOCHS,
  isEmptyTasks,
  isReconciledTo,
  requiredTopics,
  StreamsGroup,
  type StreamsGroupMember,
  StreamsMemberState,
  StreamsStatus,
  type StreamsTopology,
  sameTasks,
  sameTasksIgnoringEpochs,
  sameTasksWithEpochs,
  type TaskEpochMap,
  type TaskMap,
  type TasksTuple,
  type TasksWithEpochs,
  topologyFromRecord,
  withoutEpochs,
} from "./streams-group.js";
import { configureTopics } from "./streams-topology.js";
import type { TopicImage } from "./topic-image.js";

export interface StreamsHeartbeatRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly endpointInformationEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly topology: StreamsGroupHeartbeatRequestTopology | null;
  readonly activeTasks: readonly StreamsGroupHeartbeatRequestTaskIds[] | null;
  readonly standbyTasks: readonly StreamsGroupHeartbeatRequestTaskIds[] | null;
  readonly warmupTasks: readonly StreamsGroupHeartbeatRequestTaskIds[] | null;
  readonly processId: string | null;
  readonly userEndpoint: { host: string; port: number } | null;
  readonly clientTags: readonly { key: string; value: string }[] | null;
  readonly taskOffsets: readonly StreamsGroupHeartbeatRequestTaskOffset[] | null;
  readonly taskEndOffsets: readonly StreamsGroupHeartbeatRequestTaskOffset[] | null;
  readonly shutdownApplication: boolean;
  readonly clientId: string;
  readonly clientHost: string;
  readonly apiVersion: number;
  /** Whether the member's principal may create this internal topic (CREATE on the cluster or the topic). */
  readonly mayCreateTopic: (topic: string) => boolean;
}

/** Group-level settings (group configs over the broker's group.streams.* defaults). */
export interface StreamsGroupSettings {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly numStandbyReplicas: number;
  readonly initialRebalanceDelayMs: number;
  readonly assignmentIntervalMs: number;
  readonly rackAwareAssignmentTags: readonly string[];
  readonly taskOffsetIntervalMs: number;
  readonly acceptableRecoveryLag: bigint;
  readonly maxSize: number;
}

export interface StreamsGroupHost {
  readonly config: GroupCoordinatorConfig;
  readonly timers: KeyedTimers;
  readonly logger: Logger;
  readonly image: TopicImage;
  readonly activeShard: (groupId: string) => GroupShard | undefined;
  readonly settings: (groupId: string) => StreamsGroupSettings;
  /** The group's task assignor (its streams.assignor.name, else the broker's default). */
  readonly assignor: (groupId: string) => StreamsTaskAssignor;
  /** Creates missing internal topics in the background (AutoTopicCreationManager.createStreamsInternalTopics). */
  readonly createInternalTopics: (groupId: string, topics: readonly ConfiguredInternalTopic[]) => void;
  /** Recent creation failures of these topics (topic → error), to report in the status. */
  readonly internalTopicErrors: (topics: readonly string[]) => Map<string, string>;
}

export function streamsHeartbeatError(errorCode: number, errorMessage: string | null = null): StreamsGroupHeartbeatResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    memberId: "",
    memberEpoch: 0,
    heartbeatIntervalMs: 0,
    acceptableRecoveryLagLegacy: 0,
    taskOffsetIntervalMs: 0,
    acceptableRecoveryLag: -1n,
    // Kafka's StreamsGroupHeartbeatResponseData starts with an empty status list.
    status: [],
    activeTasks: null,
    standbyTasks: null,
    warmupTasks: null,
    topologyDescriptionRequired: false,
    endpointInformationEpoch: 0,
    partitionsByUserEndpoint: null,
  };
}

const u = undefined;
const numeric = (a: number, b: number) => a - b;
const byId = <T extends { subtopologyId: string }>(a: T, b: T) => (a.subtopologyId < b.subtopologyId ? -1 : a.subtopologyId > b.subtopologyId ? 1 : 0);

export const streamsSessionKey = (groupId: string, memberId: string) => `streams-session-timeout-${groupId}-${memberId}`;
const rebalanceKey = (groupId: string, memberId: string) => `streams-rebalance-timeout-${groupId}-${memberId}`;
const initialRebalanceKey = (groupId: string) => `initial-rebalance-timeout-${groupId}`;

// ------------------------------------------------------------------------------------------------
// Records (StreamsCoordinatorRecordHelpers)

function taskIdList(tasks: TaskMap): { subtopologyId: string; partitions: number[]; unknownTaggedFields: undefined }[] {
  return [...tasks]
    .filter(([, partitions]) => partitions.size > 0)
    .map(([subtopologyId, partitions]) => ({ subtopologyId, partitions: [...partitions].sort(numeric), unknownTaggedFields: u }))
    .sort(byId);
}

function taskIdListWithEpochs(
  tasks: TaskEpochMap,
): { subtopologyId: string; partitions: number[]; assignmentEpochs: number[]; unknownTaggedFields: undefined }[] {
  return [...tasks]
    .filter(([, partitions]) => partitions.size > 0)
    .map(([subtopologyId, partitions]) => {
      const sorted = [...partitions].sort(([a], [b]) => a - b);
      return { subtopologyId, partitions: sorted.map(([p]) => p), assignmentEpochs: sorted.map(([, e]) => e), unknownTaggedFields: u };
    })
    .sort(byId);
}

const tombstone = (recordType: number, key: Record<string, unknown>): RecordToWrite => ({
  recordType,
  key: { ...key, unknownTaggedFields: u },
  value: null,
  version: -1,
});

function memberRecord(groupId: string, member: StreamsGroupMember): RecordToWrite {
  return {
    recordType: GroupRecordType.StreamsGroupMemberMetadata,
    key: { groupId, memberId: member.memberId, unknownTaggedFields: u },
    value: {
      instanceId: member.instanceId,
      rackId: member.rackId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      topologyEpoch: member.topologyEpoch,
      processId: member.processId,
      userEndpoint: member.userEndpoint === null ? null : { ...member.userEndpoint, unknownTaggedFields: u },
      clientTags: member.clientTags.map(([key, value]) => ({ key, value, unknownTaggedFields: u })),
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

function metadataRecord(
  groupId: string,
  group: StreamsGroup,
  epoch: number,
  metadataHash: bigint,
  validatedTopologyEpoch: number,
  configs: ReadonlyMap<string, string>,
): RecordToWrite {
  return {
    recordType: GroupRecordType.StreamsGroupMetadata,
    key: { groupId, unknownTaggedFields: u },
    value: {
      epoch,
      metadataHash,
      validatedTopologyEpoch,
      lastAssignmentConfigs: [...configs].map(([key, value]) => ({ key, value, unknownTaggedFields: u })),
      storedDescriptionTopologyEpoch: group.storedDescriptionTopologyEpoch,
      failedDescriptionTopologyEpoch: group.failedDescriptionTopologyEpoch,
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

function targetMemberRecord(groupId: string, memberId: string, tasks: TasksTuple): RecordToWrite {
  return {
    recordType: GroupRecordType.StreamsGroupTargetAssignmentMember,
    key: { groupId, memberId, unknownTaggedFields: u },
    value: { activeTasks: taskIdList(tasks.active), standbyTasks: taskIdList(tasks.standby), warmupTasks: taskIdList(tasks.warmup), unknownTaggedFields: u },
    version: 0,
  };
}

function targetMetadataRecord(groupId: string, assignmentEpoch: number, timestamp: bigint): RecordToWrite {
  return {
    recordType: GroupRecordType.StreamsGroupTargetAssignmentMetadata,
    key: { groupId, unknownTaggedFields: u },
    value: { assignmentEpoch, assignmentTimestamp: timestamp, unknownTaggedFields: u },
    version: 0,
  };
}

function currentAssignmentRecord(groupId: string, member: StreamsGroupMember): RecordToWrite {
  const assigned = member.assignedTasks;
  const pending = member.tasksPendingRevocation;
  return {
    recordType: GroupRecordType.StreamsGroupCurrentMemberAssignment,
    key: { groupId, memberId: member.memberId, unknownTaggedFields: u },
    value: {
      memberEpoch: member.memberEpoch,
      previousMemberEpoch: member.previousMemberEpoch,
      state: member.state,
      activeTasks: taskIdListWithEpochs(assigned.active),
      standbyTasks: taskIdList(assigned.standby).map((t) => ({ ...t, assignmentEpochs: null })),
      warmupTasks: taskIdList(assigned.warmup).map((t) => ({ ...t, assignmentEpochs: null })),
      activeTasksPendingRevocation: taskIdListWithEpochs(pending.active),
      standbyTasksPendingRevocation: taskIdList(pending.standby).map((t) => ({ ...t, assignmentEpochs: null })),
      warmupTasksPendingRevocation: taskIdList(pending.warmup).map((t) => ({ ...t, assignmentEpochs: null })),
      unknownTaggedFields: u,
    },
    version: 0,
  };
}

function topologyRecord(groupId: string, topology: StreamsGroupHeartbeatRequestTopology): RecordToWrite {
  return { recordType: GroupRecordType.StreamsGroupTopology, key: { groupId, unknownTaggedFields: u }, value: topologyValue(topology), version: 0 };
}

/** StreamsCoordinatorRecordHelpers.convertToStreamsGroupTopologyRecord. */
export function topologyValue(topology: StreamsGroupHeartbeatRequestTopology): StreamsGroupTopologyValue {
  const info = (t: { name: string; partitions: number; replicationFactor: number; topicConfigs: { key: string; value: string }[] | null }) => ({
    name: t.name,
    partitions: t.partitions,
    replicationFactor: t.replicationFactor,
    topicConfigs: (t.topicConfigs ?? []).map((c) => ({ key: c.key, value: c.value, unknownTaggedFields: u })),
    unknownTaggedFields: u,
  });
  return {
    epoch: topology.epoch,
    subtopologies: topology.subtopologies.map((s) => ({
      subtopologyId: s.subtopologyId,
      sourceTopics: [...s.sourceTopics],
      sourceTopicRegex: [...s.sourceTopicRegex],
      stateChangelogTopics: s.stateChangelogTopics.map(info),
      repartitionSinkTopics: [...s.repartitionSinkTopics],
      repartitionSourceTopics: s.repartitionSourceTopics.map(info),
      copartitionGroups: s.copartitionGroups.map((g) => ({
        sourceTopics: [...g.sourceTopics],
        sourceTopicRegex: [...g.sourceTopicRegex],
        repartitionSourceTopics: [...g.repartitionSourceTopics],
        unknownTaggedFields: u,
      })),
      unknownTaggedFields: u,
    })),
    unknownTaggedFields: u,
  };
}

/** StreamsTopology.equals: the same epoch and subtopologies (as records). */
function sameTopology(a: StreamsTopology, b: StreamsTopology): boolean {
  const strip = (v: StreamsGroupTopologyValue) => JSON.stringify(v, (key, value) => (key === "unknownTaggedFields" ? undefined : value));
  const sorted = (t: StreamsTopology) => ({ ...t.record, subtopologies: [...t.record.subtopologies].sort(byId) });
  return a.epoch === b.epoch && strip(sorted(a)) === strip(sorted(b));
}

// ------------------------------------------------------------------------------------------------
// Reconciliation (streams CurrentAssignmentBuilder)

type MutableTaskMap = Map<string, Set<number>>;
type MutableEpochMap = Map<string, Map<number, number>>;

interface Processes {
  active: (subtopologyId: string, partition: number) => string | undefined;
  standby: (subtopologyId: string, partition: number) => ReadonlySet<string>;
  warmup: (subtopologyId: string, partition: number) => ReadonlySet<string>;
}

function tasksFromRequest(list: readonly StreamsGroupHeartbeatRequestTaskIds[]): TaskMap {
  const out = new Map<string, Set<number>>();
  for (const t of list) {
    let set = out.get(t.subtopologyId);
    if (set === undefined) {
      set = new Set();
      out.set(t.subtopologyId, set);
    }
    for (const p of t.partitions) set.add(p);
  }
  return out;
}

function containsAnyTask(owned: TaskMap, pending: ReadonlyMap<string, { has(p: number): boolean }>): boolean {
  for (const [id, partitions] of owned) {
    const other = pending.get(id);
    if (other === undefined) continue;
    for (const p of partitions) if (other.has(p)) return true;
  }
  return false;
}

function addTask(map: MutableTaskMap, id: string, partition: number): void {
  let set = map.get(id);
  if (set === undefined) {
    set = new Set();
    map.set(id, set);
  }
  set.add(partition);
}

function removeTask(map: MutableTaskMap, id: string, partition: number): void {
  const set = map.get(id);
  if (set?.delete(partition) && set.size === 0) map.delete(id);
}

class CurrentAssignmentBuilder {
  constructor(
    private readonly member: StreamsGroupMember,
    private readonly targetEpoch: number,
    private readonly target: TasksTuple,
    private readonly processes: Processes,
    private readonly owned: TasksTuple | null,
  ) {}

  build(): StreamsGroupMember {
    const { member } = this;
    switch (member.state) {
      case StreamsMemberState.STABLE:
        return member.memberEpoch !== this.targetEpoch ? this.#next(member.memberEpoch) : member;
      case StreamsMemberState.UNREVOKED_TASKS:
        return this.#hasNotReleased(member.tasksPendingRevocation) ? member : this.#next(member.memberEpoch + 1);
      case StreamsMemberState.UNRELEASED_TASKS:
        return this.#next(member.memberEpoch);
      default:
        if (this.owned === null || !isEmptyTasks(this.owned)) {
          throw new KafkaError("FENCED_MEMBER_EPOCH", "The streams group member is in a unknown state. The member must abandon all its tasks and rejoin.");
        }
        return this.#next(this.targetEpoch);
    }
  }

  #hasNotReleased(pending: TasksWithEpochs): boolean {
    const owned = this.owned;
    if (owned === null) return true;
    return containsAnyTask(owned.active, pending.active) || containsAnyTask(owned.standby, pending.standby) || containsAnyTask(owned.warmup, pending.warmup);
  }

  #difference(
    current: TaskMap,
    target: TaskMap,
    assigned: MutableTaskMap,
    revoke: MutableTaskMap,
    toAssign: MutableTaskMap,
    unreleased: (id: string, p: number) => boolean,
  ): boolean {
    let hasUnreleased = false;
    for (const id of new Set([...target.keys(), ...current.keys()])) {
      const cur = current.get(id) ?? new Set<number>();
      const tgt = target.get(id) ?? new Set<number>();
      for (const p of cur) (tgt.has(p) ? (x: number) => addTask(assigned, id, x) : (x: number) => addTask(revoke, id, x))(p);
      for (const p of tgt) {
        if (cur.has(p)) continue;
        if (unreleased(id, p)) hasUnreleased = true;
        else addTask(toAssign, id, p);
      }
    }
    return hasUnreleased;
  }

  #next(memberEpoch: number): StreamsGroupMember {
    const { member, target, processes } = this;
    const owned = member.assignedTasks;
    const processId = member.processId;
    const newActive: MutableEpochMap = new Map();
    const activeRevoke: MutableEpochMap = new Map();
    const activeToAssign: MutableEpochMap = new Map();
    let hasUnreleased = false;
    // Active tasks, with epochs.
    for (const id of new Set([...target.active.keys(), ...owned.active.keys()])) {
      const cur = owned.active.get(id) ?? new Map<number, number>();
      const tgt = target.active.get(id) ?? new Set<number>();
      for (const [p, epoch] of cur) {
        const into = tgt.has(p) ? newActive : activeRevoke;
        let m = into.get(id);
        if (m === undefined) {
          m = new Map();
          into.set(id, m);
        }
        m.set(p, epoch);
      }
      for (const p of tgt) {
        if (cur.has(p)) continue;
        const unreleased =
          processes.active(id, p) !== undefined ||
          (processes.standby(id, p).has(processId) && !owned.standby.get(id)?.has(p)) ||
          (processes.warmup(id, p).has(processId) && !owned.warmup.get(id)?.has(p));
        if (unreleased) {
          hasUnreleased = true;
          continue;
        }
        let m = activeToAssign.get(id);
        if (m === undefined) {
          m = new Map();
          activeToAssign.set(id, m);
        }
        m.set(p, this.targetEpoch);
      }
    }
    const newStandby: MutableTaskMap = new Map();
    const standbyRevoke: MutableTaskMap = new Map();
    const standbyToAssign: MutableTaskMap = new Map();
    hasUnreleased =
      this.#difference(
        owned.standby,
        target.standby,
        newStandby,
        standbyRevoke,
        standbyToAssign,
        (id, p) =>
          (processes.active(id, p) === processId && !owned.active.get(id)?.has(p)) ||
          processes.standby(id, p).has(processId) ||
          (processes.warmup(id, p).has(processId) && !owned.warmup.get(id)?.has(p)),
      ) || hasUnreleased;
    const newWarmup: MutableTaskMap = new Map();
    const warmupRevoke: MutableTaskMap = new Map();
    const warmupToAssign: MutableTaskMap = new Map();
    hasUnreleased =
      this.#difference(
        owned.warmup,
        target.warmup,
        newWarmup,
        warmupRevoke,
        warmupToAssign,
        (id, p) =>
          processes.active(id, p) === processId ||
          (processes.standby(id, p).has(processId) && !owned.standby.get(id)?.has(p)) ||
          processes.warmup(id, p).has(processId),
      ) || hasUnreleased;
    // demoteActiveTasksToStandby: an active task becoming a standby on the same member is granted now.
    for (const [id, partitions] of owned.active) {
      for (const p of partitions.keys()) {
        if (!standbyToAssign.get(id)?.has(p)) continue;
        removeTask(standbyToAssign, id, p);
        addTask(newStandby, id, p);
      }
    }
    // convertReplicaRole: standby ↔ warm-up on the same member.
    const convert = (outgoing: TaskMap, outgoingRevoke: MutableTaskMap, incomingToAssign: MutableTaskMap, incomingAssigned: MutableTaskMap) => {
      for (const [id, partitions] of outgoing) {
        for (const p of partitions) {
          if (!incomingToAssign.get(id)?.has(p)) continue;
          removeTask(incomingToAssign, id, p);
          addTask(incomingAssigned, id, p);
          removeTask(outgoingRevoke, id, p);
        }
      }
    };
    convert(owned.standby, standbyRevoke, warmupToAssign, newWarmup);
    convert(owned.warmup, warmupRevoke, standbyToAssign, newStandby);
    // applyPromotionsToActive: a standby or warm-up promoted to active is not revoked, and kept until the active task is granted.
    for (const [replicas, revoke] of [
      [owned.standby, standbyRevoke],
      [owned.warmup, warmupRevoke],
    ] as const) {
      for (const [id, partitions] of replicas) for (const p of partitions) if (target.active.get(id)?.has(p)) removeTask(revoke, id, p);
    }
    const pendingRevocation: TasksWithEpochs = { active: activeRevoke, standby: standbyRevoke, warmup: warmupRevoke };
    const hasTasksToRevoke = !isEmptyTasks(pendingRevocation) && this.#hasNotReleased(pendingRevocation);
    for (const [replicas, assigned] of [
      [owned.standby, newStandby],
      [owned.warmup, newWarmup],
    ] as const) {
      for (const [id, partitions] of replicas) {
        for (const p of partitions) {
          const promotedThisStep = !hasTasksToRevoke && activeToAssign.get(id)?.has(p) === true;
          if (!target.active.get(id)?.has(p) || promotedThisStep) continue;
          addTask(assigned, id, p);
        }
      }
    }
    const newAssigned: TasksWithEpochs = { active: newActive, standby: newStandby, warmup: newWarmup };
    const toAssign: TasksWithEpochs = { active: activeToAssign, standby: standbyToAssign, warmup: warmupToAssign };
    const withEpoch = (epoch: number, state: number, assignedTasks: TasksWithEpochs, pending: TasksWithEpochs): StreamsGroupMember => ({
      ...member,
      state,
      previousMemberEpoch: member.memberEpoch,
      memberEpoch: epoch,
      assignedTasks,
      tasksPendingRevocation: pending,
    });
    if (hasTasksToRevoke) return withEpoch(memberEpoch, StreamsMemberState.UNREVOKED_TASKS, newAssigned, pendingRevocation);
    if (!isEmptyTasks(toAssign)) {
      return withEpoch(
        this.targetEpoch,
        hasUnreleased ? StreamsMemberState.UNRELEASED_TASKS : StreamsMemberState.STABLE,
        mergeTasks(newAssigned, toAssign),
        EMPTY_TASKS_WITH_EPOCHS,
      );
    }
    return withEpoch(this.targetEpoch, hasUnreleased ? StreamsMemberState.UNRELEASED_TASKS : StreamsMemberState.STABLE, newAssigned, EMPTY_TASKS_WITH_EPOCHS);
  }
}

function mergeTasks(a: TasksWithEpochs, b: TasksWithEpochs): TasksWithEpochs {
  const active: MutableEpochMap = new Map();
  for (const source of [a.active, b.active]) {
    for (const [id, partitions] of source) {
      const m = active.get(id) ?? new Map<number, number>();
      for (const [p, e] of partitions) m.set(p, e);
      active.set(id, m);
    }
  }
  const merge = (x: TaskMap, y: TaskMap) => {
    const out: MutableTaskMap = new Map();
    for (const source of [x, y]) for (const [id, partitions] of source) for (const p of partitions) addTask(out, id, p);
    return out;
  };
  return { active, standby: merge(a.standby, b.standby), warmup: merge(a.warmup, b.warmup) };
}

// ------------------------------------------------------------------------------------------------

export class StreamsGroupProtocol {
  constructor(private readonly host: StreamsGroupHost) {}

  #scheduleSession(groupId: string, memberId: string): void {
    this.host.timers.schedule(streamsSessionKey(groupId, memberId), this.host.settings(groupId).sessionTimeoutMs, () =>
      this.#fenceLater(groupId, memberId, undefined, "the member session expired"),
    );
  }

  #scheduleRebalanceTimeout(groupId: string, member: StreamsGroupMember): void {
    const epoch = member.memberEpoch;
    this.host.timers.schedule(rebalanceKey(groupId, member.memberId), member.rebalanceTimeoutMs, () =>
      this.#fenceLater(groupId, member.memberId, epoch, `it failed to transition from epoch ${epoch} within ${member.rebalanceTimeoutMs}ms`),
    );
  }

  #fenceLater(groupId: string, memberId: string, epoch: number | undefined, reason: string): void {
    const shard = this.host.activeShard(groupId);
    const group = shard?.groups.get(groupId);
    if (shard === undefined || group?.type !== "streams") return;
    const member = group.members.get(memberId);
    if (member === undefined || (epoch !== undefined && member.memberEpoch !== epoch)) return;
    try {
      this.#fence(shard, group, member, Date.now());
      this.host.logger.info({ group: groupId, member: memberId }, `streams member fenced from the group because ${reason}`);
    } catch (error) {
      this.host.logger.warn({ group: groupId, member: memberId, err: error }, "could not fence a streams group member");
    }
  }

  #cancelTimers(groupId: string, memberId: string): void {
    this.host.timers.cancel(streamsSessionKey(groupId, memberId));
    this.host.timers.cancel(rebalanceKey(groupId, memberId));
  }

  /** A group leaves memory (unloaded, deleted): its timers go. */
  drop(group: StreamsGroup): void {
    for (const memberId of group.members.keys()) this.#cancelTimers(group.groupId, memberId);
    this.host.timers.cancel(initialRebalanceKey(group.groupId));
  }

  /** A shard finished loading: every member gets a session timer. */
  onLoaded(shard: GroupShard): void {
    for (const group of shard.groups.values()) {
      if (group.type !== "streams") continue;
      for (const memberId of group.members.keys()) this.#scheduleSession(group.groupId, memberId);
    }
  }

  /** The assignment configs a target assignment is computed with (streamsGroupAssignmentConfigs). */
  #assignmentConfigs(groupId: string): Map<string, string> {
    const settings = this.host.settings(groupId);
    const configs = new Map<string, string>([["num.standby.replicas", String(settings.numStandbyReplicas)]]);
    if (settings.rackAwareAssignmentTags.length > 0) configs.set("rack.aware.assignment.tags", settings.rackAwareAssignmentTags.join(","));
    return new Map([...configs].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  heartbeat(shard: GroupShard, request: StreamsHeartbeatRequest, nowMs: number): StreamsGroupHeartbeatResponse {
    if (request.memberEpoch === -1 || request.memberEpoch === -2) return this.#leave(shard, request, nowMs);
    const { groupId, memberId, memberEpoch, instanceId } = request;
    const settings = this.host.settings(groupId);
    const records: RecordToWrite[] = [];
    const status: StreamsGroupHeartbeatResponseStatus[] = [];
    const isJoining = memberEpoch === 0;
    const existing = shard.groups.get(groupId);
    let group: StreamsGroup;
    let isNewGroup = false;
    if (existing?.type === "streams") group = existing;
    else if (!isJoining) throw new KafkaError("GROUP_ID_NOT_FOUND", `Streams group ${groupId} not found.`);
    else if (existing === undefined || (existing.type === "classic" && existing.protocolType === null && existing.members.size === 0)) {
      group = new StreamsGroup(groupId);
      isNewGroup = true;
    } else throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} is not a streams group.`);
    if (isJoining && !(instanceId !== null && group.staticMembers.has(instanceId))) {
      if (group.members.size >= settings.maxSize && (memberId === "" || !group.members.has(memberId))) {
        throw new KafkaError("GROUP_MAX_SIZE_REACHED", `The streams group has reached its maximum capacity of ${settings.maxSize} members.`);
      }
    }

    // The member (dynamic or static).
    let member: StreamsGroupMember;
    let replacedStatic: StreamsGroupMember | undefined;
    const checkEpoch = (m: StreamsGroupMember) => this.#checkMemberEpoch(m, request);
    if (instanceId === null) {
      const known = group.members.get(memberId);
      if (known === undefined && !isJoining) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${memberId} is not a member of group ${groupId}.`);
      member = known ?? defaultStreamsMember(memberId);
      checkEpoch(member);
    } else {
      const staticMember = group.staticMember(instanceId);
      if (isJoining) {
        if (staticMember === undefined) member = group.members.get(memberId) ?? defaultStreamsMember(memberId);
        else {
          if (staticMember.memberEpoch !== -2) {
            throw new KafkaError(
              "UNRELEASED_INSTANCE_ID",
              `Static member ${memberId} with instance id ${instanceId} cannot join the group because the instance id is owned by ${staticMember.memberId} member.`,
            );
          }
          if (staticMember.memberId !== memberId) replacedStatic = staticMember;
          member = { ...staticMember, memberId, memberEpoch: 0, previousMemberEpoch: 0 };
          records.push(
            tombstone(GroupRecordType.StreamsGroupCurrentMemberAssignment, { groupId, memberId: staticMember.memberId }),
            tombstone(GroupRecordType.StreamsGroupTargetAssignmentMember, { groupId, memberId: staticMember.memberId }),
            tombstone(GroupRecordType.StreamsGroupMemberMetadata, { groupId, memberId: staticMember.memberId }),
            memberRecord(groupId, member),
            targetMemberRecord(groupId, memberId, group.targetAssignment.get(staticMember.memberId) ?? EMPTY_TASKS),
            currentAssignmentRecord(groupId, member),
          );
        }
      } else {
        if (staticMember === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Instance id ${instanceId} is unknown.`);
        if (staticMember.memberId !== memberId) {
          throw new KafkaError("FENCED_INSTANCE_ID", `Static member ${memberId} with instance id ${instanceId} was fenced by member ${staticMember.memberId}.`);
        }
        member = staticMember;
        checkEpoch(member);
      }
    }

    // The member's metadata.
    let updated: StreamsGroupMember = {
      ...member,
      instanceId: instanceId ?? member.instanceId,
      rackId: request.rackId ?? member.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs !== -1 ? request.rebalanceTimeoutMs : member.rebalanceTimeoutMs,
      topologyEpoch: request.topology !== null ? request.topology.epoch : member.topologyEpoch,
      clientId: request.clientId,
      clientHost: request.clientHost,
      processId: request.processId ?? member.processId,
      clientTags:
        request.clientTags !== null
          ? [...new Map(request.clientTags.map((t) => [t.key, t.value]))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          : member.clientTags,
      userEndpoint: isJoining ? request.userEndpoint : (request.userEndpoint ?? member.userEndpoint),
    };
    let recompute = false;
    if (!sameMetadata(member, updated)) {
      records.push(memberRecord(groupId, updated));
      recompute =
        instanceId === null ||
        member.topologyEpoch !== updated.topologyEpoch ||
        member.rackId !== updated.rackId ||
        member.processId !== updated.processId ||
        JSON.stringify(member.clientTags) !== JSON.stringify(updated.clientTags);
    }

    // The topology (maybeUpdateTopology).
    let topology: StreamsTopology;
    if (request.topology !== null) {
      const fromRequest = topologyFromRecord(topologyValue(request.topology));
      if (group.topology === null) {
        records.push(topologyRecord(groupId, request.topology));
        topology = fromRequest;
      } else if (group.topology.epoch > request.topology.epoch) {
        topology = group.topology;
      } else if (!sameTopology(group.topology, fromRequest)) {
        throw new KafkaError("INVALID_REQUEST", "Topology updates are not supported yet.");
      } else topology = group.topology;
    } else if (group.topology !== null) topology = group.topology;
    else throw new Error("The topology is null and the group topology is also null.");
    if (group.topology !== null && updated.topologyEpoch < group.topology.epoch) {
      status.push({
        statusCode: StreamsStatus.STALE_TOPOLOGY,
        statusDetail: `The member's topology epoch ${updated.topologyEpoch} is behind the group's topology epoch ${group.topology.epoch}.`,
      });
    }

    // The metadata hash and the configured topology.
    let reconfigure = group.topology === null;
    let metadataHash = group.metadataHash;
    let configured: ConfiguredTopology;
    if (reconfigure || group.configuredTopology === null || group.hasMetadataExpired(nowMs)) {
      metadataHash = this.#metadataHash(topology);
      if (metadataHash !== group.metadataHash) {
        recompute = true;
        reconfigure = true;
      }
      if (reconfigure || group.configuredTopology === null) {
        configured = configureTopics(topology, metadataHash, (name) => this.host.image.topic(name)?.partitionCount);
        group.configuredTopology = configured;
      } else configured = group.configuredTopology;
    } else configured = group.configuredTopology;
    let validatedTopologyEpoch = -1;
    if (configured.problem === null && configured.subtopologies !== null) {
      validatedTopologyEpoch = topology.epoch;
      for (const tasks of [request.activeTasks, request.standbyTasks, request.warmupTasks]) {
        for (const task of tasks ?? []) {
          const subtopology = configured.subtopologies.get(task.subtopologyId);
          if (subtopology === undefined) throw new KafkaError("INVALID_REQUEST", `Subtopology ${task.subtopologyId} does not exist in the topology.`);
          for (const p of task.partitions) {
            if (p < 0 || p >= subtopology.numberOfTasks) {
              throw new KafkaError(
                "INVALID_REQUEST",
                `Task ${p} for subtopology ${task.subtopologyId} is invalid. Number of tasks for this subtopology: ${subtopology.numberOfTasks}`,
              );
            }
          }
        }
      }
    }
    if (request.taskOffsets !== null || request.taskEndOffsets !== null) this.#updateTaskOffsets(group, memberId, request);
    if (validatedTopologyEpoch !== group.validatedTopologyEpoch) recompute = true;
    const assignmentConfigs = this.#assignmentConfigs(groupId);
    if (!recompute && !sameConfigs(assignmentConfigs, group.lastAssignmentConfigs)) recompute = true;
    let refined = false;
    if (!recompute && group.state === "Stable" && !sameTasksIgnoringEpochs(group.targetAssignment.get(memberId) ?? EMPTY_TASKS, updated.assignedTasks))
      refined = true;
    let groupEpoch = group.groupEpoch;
    if (recompute || refined) {
      groupEpoch += 1;
      records.push(metadataRecord(groupId, group, groupEpoch, metadataHash, validatedTopologyEpoch, assignmentConfigs));
      group.metadataRefreshDeadline = { deadlineMs: nowMs + 2_147_483_647, epoch: groupEpoch };
    }
    if (group.isEmpty && settings.initialRebalanceDelayMs > 0 && !this.host.timers.isScheduled(initialRebalanceKey(groupId))) {
      this.host.timers.schedule(initialRebalanceKey(groupId), settings.initialRebalanceDelayMs, () => this.#delayedTargetAssignment(groupId));
    }

    // The target assignment.
    const { epoch: targetEpoch, assignment: targetAssignment } = this.#maybeUpdateTargetAssignment(
      group,
      groupEpoch,
      updated,
      replacedStatic,
      configured,
      records,
      status,
      assignmentConfigs,
      refined,
      nowMs,
    );
    const target = targetAssignment.get(memberId) ?? EMPTY_TASKS;

    // Reconciliation.
    if (!isReconciledTo(updated, targetEpoch)) {
      const owned =
        request.activeTasks !== null && request.standbyTasks !== null && request.warmupTasks !== null
          ? { active: tasksFromRequest(request.activeTasks), standby: tasksFromRequest(request.standbyTasks), warmup: tasksFromRequest(request.warmupTasks) }
          : null;
      const reconciled = new CurrentAssignmentBuilder(updated, targetEpoch, target, group.taskProcesses(), owned).build();
      if (!sameMember(reconciled, updated)) {
        records.push(currentAssignmentRecord(groupId, reconciled));
        if (reconciled.state === StreamsMemberState.UNREVOKED_TASKS) this.#scheduleRebalanceTimeout(groupId, reconciled);
        else this.host.timers.cancel(rebalanceKey(groupId, memberId));
      }
      updated = reconciled;
    }

    if (isNewGroup) {
      // The group is created by replaying its first records, as Kafka does.
      try {
        shard.write(records, nowMs, true);
      } finally {
        if (shard.groups.get(groupId)?.type !== "streams") shard.groups.delete(groupId);
      }
    } else shard.write(records, nowMs, true);
    this.#scheduleSession(groupId, memberId);
    if (replacedStatic !== undefined) this.#cancelTimers(groupId, replacedStatic.memberId);
    if (request.shutdownApplication && group.shutdownRequestMemberId === null) {
      group.shutdownRequestMemberId = memberId;
      this.host.logger.info({ group: groupId, member: memberId }, "shutdown requested for the streams application");
    }

    const assignedChanged = !sameTasksWithEpochs(member.assignedTasks, updated.assignedTasks);
    const endpointChanged = JSON.stringify(member.userEndpoint) !== JSON.stringify(updated.userEndpoint);
    const live = shard.groups.get(groupId) === group ? group : undefined;
    if (endpointChanged || (assignedChanged && updated.userEndpoint !== null)) group.endpointInformationEpoch += 1;
    const response: StreamsGroupHeartbeatResponse = {
      ...streamsHeartbeatError(ErrorCode.NONE),
      memberId: updated.memberId,
      memberEpoch: updated.memberEpoch,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      // v0 carries the lag as an int32 (AcceptableRecoveryLagLegacy), v1 as an int64.
      acceptableRecoveryLagLegacy:
        request.apiVersion === 0 ? Number(settings.acceptableRecoveryLag > 2_147_483_647n ? 2_147_483_647n : settings.acceptableRecoveryLag) : 0,
      taskOffsetIntervalMs: settings.taskOffsetIntervalMs,
      acceptableRecoveryLag: settings.acceptableRecoveryLag,
      endpointInformationEpoch: live !== undefined ? group.endpointInformationEpoch : 0,
    };
    if (isJoining || assignedChanged) {
      const list = (tasks: TaskMap): StreamsGroupHeartbeatResponseTaskIds[] =>
        [...tasks].map(([subtopologyId, partitions]) => ({ subtopologyId, partitions: [...partitions].sort(numeric) }));
      response.activeTasks = list(withoutEpochs(updated.assignedTasks.active));
      response.standbyTasks = list(updated.assignedTasks.standby);
      response.warmupTasks = list(updated.assignedTasks.warmup);
    }
    if (group.endpointInformationEpoch !== request.endpointInformationEpoch) {
      response.partitionsByUserEndpoint = this.#endpointToPartitions(group, updated, replacedStatic);
    }
    if (configured.problem !== null) {
      let detail = configured.problem.message;
      if (configured.internalTopicsToCreate.size > 0) {
        const topics = [...configured.internalTopicsToCreate.values()];
        const unauthorized = topics.filter((t) => !request.mayCreateTopic(t.name)).map((t) => t.name);
        const errors = unauthorized.length > 0 ? new Map<string, string>() : this.host.internalTopicErrors(topics.map((t) => t.name));
        if (unauthorized.length > 0) detail += `; Unauthorized to CREATE on topics ${unauthorized.join(", ")}.`;
        else this.host.createInternalTopics(groupId, topics);
        if (errors.size > 0) {
          const list = [...errors].slice(0, 3).map(([topic, error]) => `${topic} (${error})`);
          detail += `; Creation failed: ${list.join(", ")}${errors.size > 3 ? ` and ${errors.size - 3} more` : ""}.`;
        }
      }
      status.push({ statusCode: configured.problem.status, statusDetail: detail });
    }
    if (group.shutdownRequestMemberId !== null) {
      status.push({
        statusCode: StreamsStatus.SHUTDOWN_APPLICATION,
        statusDetail: `Streams group member ${group.shutdownRequestMemberId} encountered a fatal error and requested a shutdown for the entire application.`,
      });
    }
    if (request.apiVersion >= 1 && settings.rackAwareAssignmentTags.length > 0) {
      const tags = new Set(updated.clientTags.map(([k]) => k));
      const missing = settings.rackAwareAssignmentTags.filter((t) => !tags.has(t));
      if (missing.length > 0) {
        status.push({
          statusCode: StreamsStatus.MISSING_CLIENT_TAGS,
          statusDetail: `Missing required client tags for rack-aware standby assignment: [${missing.join(", ")}]. Configure them via 'client.tag.<tagKey>' in your Streams config.`,
        });
      }
    }
    response.status = status;
    return response;
  }

  /** throwIfStreamsGroupMemberEpochIsInvalid. */
  #checkMemberEpoch(member: StreamsGroupMember, request: StreamsHeartbeatRequest): void {
    const received = request.memberEpoch;
    if (received === 0) return;
    if (received > member.memberEpoch) {
      throw new KafkaError(
        "FENCED_MEMBER_EPOCH",
        `The streams group member has a greater member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
    }
    if (received < member.memberEpoch) {
      const contained = (owned: readonly StreamsGroupHeartbeatRequestTaskIds[] | null, assigned: ReadonlyMap<string, { has(p: number): boolean }>) =>
        owned?.every((t) => t.partitions.every((p) => assigned.get(t.subtopologyId)?.has(p) === true));
      const ok =
        received === member.previousMemberEpoch &&
        contained(request.activeTasks, member.assignedTasks.active) &&
        contained(request.standbyTasks, member.assignedTasks.standby) &&
        contained(request.warmupTasks, member.assignedTasks.warmup);
      if (!ok) {
        throw new KafkaError(
          "FENCED_MEMBER_EPOCH",
          `The streams group member has a smaller member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
        );
      }
    }
  }

  /** StreamsGroup.computeMetadataHash over the topics the topology needs. */
  #metadataHash(topology: StreamsTopology): bigint {
    const names = new Map<string, { byNameCount: number; byRegexCount: number }>();
    for (const name of requiredTopics(topology)) names.set(name, { byNameCount: 1, byRegexCount: 0 });
    return this.host.image.computeMetadataHash(names);
  }

  #updateTaskOffsets(group: StreamsGroup, memberId: string, request: StreamsHeartbeatRequest): void {
    const entry = group.taskOffsets.get(memberId) ?? { offsets: new Map(), endOffsets: new Map() };
    const apply = (list: readonly StreamsGroupHeartbeatRequestTaskOffset[] | null, into: Map<string, Map<number, bigint>>) => {
      if (list === null) return;
      into.clear();
      for (const t of list) {
        const m = into.get(t.subtopologyId) ?? new Map<number, bigint>();
        m.set(t.partition, t.offset);
        into.set(t.subtopologyId, m);
      }
    };
    apply(request.taskOffsets, entry.offsets);
    apply(request.taskEndOffsets, entry.endOffsets);
    group.taskOffsets.set(memberId, entry);
  }

  /** maybeUpdateStreamsTargetAssignment: the target assignment's epoch and members' targets. */
  #maybeUpdateTargetAssignment(
    group: StreamsGroup,
    groupEpoch: number,
    updated: StreamsGroupMember | undefined,
    replacedStatic: StreamsGroupMember | undefined,
    configured: ConfiguredTopology,
    records: RecordToWrite[],
    status: StreamsGroupHeartbeatResponseStatus[] | undefined,
    assignmentConfigs: ReadonlyMap<string, string>,
    refineOnly: boolean,
    nowMs: number,
  ): { epoch: number; assignment: ReadonlyMap<string, TasksTuple> } {
    const { groupId } = group;
    if (this.host.timers.isScheduled(initialRebalanceKey(groupId))) {
      status?.push({ statusCode: StreamsStatus.ASSIGNMENT_DELAYED, statusDetail: "Assignment delayed due to the configured initial rebalance delay." });
      return { epoch: group.assignmentEpoch, assignment: new Map() };
    }
    const members = new Map(group.members);
    const targets = new Map(group.targetAssignment);
    if (replacedStatic !== undefined) {
      members.delete(replacedStatic.memberId);
      const previous = targets.get(replacedStatic.memberId);
      targets.delete(replacedStatic.memberId);
      if (updated !== undefined && previous !== undefined) targets.set(updated.memberId, previous);
    }
    if (updated !== undefined) members.set(updated.memberId, updated);
    if (group.assignmentEpoch >= groupEpoch) return { epoch: group.assignmentEpoch, assignment: targets };
    if (refineOnly && group.assignmentEpoch >= group.groupEpoch) {
      records.push(targetMetadataRecord(groupId, groupEpoch, group.assignmentTimestamp));
      return { epoch: groupEpoch, assignment: targets };
    }
    const interval = this.host.settings(groupId).assignmentIntervalMs;
    if (group.assignmentTimestamp !== 0n && interval !== 0 && BigInt(nowMs) < group.assignmentTimestamp + BigInt(interval)) {
      status?.push({ statusCode: StreamsStatus.ASSIGNMENT_DELAYED, statusDetail: "Assignment delayed due to the configured assignment interval." });
      return { epoch: group.assignmentEpoch, assignment: targets };
    }
    // TargetAssignmentBuilder.build
    const fresh = new Map<string, TasksTuple>();
    const subtopologies = configured.problem === null ? configured.subtopologies : null;
    if (subtopologies !== null) {
      if (subtopologies.size === 0) throw new Error("Subtopologies must be present if topology is ready.");
      const assignor = this.host.assignor(groupId);
      let assigned: ReadonlyMap<string, StreamsMemberAssignment>;
      try {
        assigned = assignor.assign(
          {
            members: new Map(
              [...members.values()].map((m) => [
                m.memberId,
                {
                  processId: m.processId,
                  instanceId: m.instanceId,
                  rackId: m.rackId,
                  clientTags: new Map(m.clientTags),
                  activeTasks: withoutEpochs(m.assignedTasks.active),
                  standbyTasks: m.assignedTasks.standby,
                  warmupTasks: m.assignedTasks.warmup,
                  taskOffsets: group.taskOffsets.get(m.memberId)?.offsets ?? new Map(),
                },
              ]),
            ),
            assignmentConfigs,
          },
          {
            subtopologies: [...subtopologies.keys()],
            numTasks: (id) => subtopologies.get(id)?.numberOfTasks ?? 0,
            isStateful: (id) => (subtopologies.get(id)?.stateChangelogTopics.size ?? 0) > 0,
          },
        );
      } catch (error) {
        const message = `Failed to compute a new target assignment for epoch ${groupEpoch}: ${(error as Error)?.message ?? String(error)}`;
        this.host.logger.error({ group: groupId, assignor: assignor.name, err: error }, message);
        throw new KafkaError("UNKNOWN_SERVER_ERROR", message);
      }
      const copy = (tasks: ReadonlyMap<string, Iterable<number>> | undefined): TaskMap => {
        const out = new Map<string, Set<number>>();
        for (const [id, partitions] of tasks ?? []) {
          const numTasks = subtopologies.get(id)?.numberOfTasks;
          if (numTasks === undefined)
            throw new KafkaError("UNKNOWN_SERVER_ERROR", `Failed to compute a new target assignment for epoch ${groupEpoch}: unknown subtopology ${id}`);
          const set = new Set<number>();
          for (const p of partitions) {
            if (!Number.isInteger(p) || p < 0 || p >= numTasks) {
              throw new KafkaError("UNKNOWN_SERVER_ERROR", `Failed to compute a new target assignment for epoch ${groupEpoch}: task ${id}_${p} does not exist`);
            }
            set.add(p);
          }
          if (set.size > 0) out.set(id, set);
        }
        return out;
      };
      for (const memberId of members.keys()) {
        const a = assigned.get(memberId);
        fresh.set(memberId, a === undefined ? EMPTY_TASKS : { active: copy(a.activeTasks), standby: copy(a.standbyTasks), warmup: new Map() });
      }
    } else {
      for (const memberId of members.keys()) fresh.set(memberId, EMPTY_TASKS);
    }
    for (const [memberId, tasks] of fresh) {
      const old = targets.get(memberId);
      if (old === undefined || !sameTasks(old, tasks)) records.push(targetMemberRecord(groupId, memberId, tasks));
    }
    records.push(targetMetadataRecord(groupId, groupEpoch, BigInt(nowMs)));
    return { epoch: groupEpoch, assignment: fresh };
  }

  /** computeDelayedTargetAssignment: the initial rebalance delay of a new group ran out. */
  #delayedTargetAssignment(groupId: string): void {
    const shard = this.host.activeShard(groupId);
    const group = shard?.groups.get(groupId);
    if (shard === undefined || group?.type !== "streams" || group.isEmpty || group.configuredTopology === null) return;
    if (group.groupEpoch <= group.assignmentEpoch) return;
    const records: RecordToWrite[] = [];
    try {
      this.#maybeUpdateTargetAssignment(
        group,
        group.groupEpoch,
        undefined,
        undefined,
        group.configuredTopology,
        records,
        undefined,
        group.lastAssignmentConfigs,
        false,
        Date.now(),
      );
      shard.write(records, Date.now(), true);
    } catch (error) {
      this.host.logger.warn({ group: groupId, err: error }, "could not compute the delayed target assignment of a streams group");
    }
  }

  #endpointToPartitions(
    group: StreamsGroup,
    updated: StreamsGroupMember,
    replaced: StreamsGroupMember | undefined,
  ): StreamsGroupHeartbeatResponseEndpointToPartitions[] {
    const out: StreamsGroupHeartbeatResponseEndpointToPartitions[] = [];
    const subtopologies = group.configuredTopology?.subtopologies ?? null;
    const partitionsOf = (tasks: TaskMap) => {
      const list: { topic: string; partitions: number[] }[] = [];
      for (const [id, partitions] of tasks) {
        const s = subtopologies?.get(id);
        if (s === undefined) continue;
        // Kafka walks a HashSet of the subtopology's source and repartition source topics.
        for (const topic of javaHashMapOrder(new Set([...s.sourceTopics, ...s.repartitionSourceTopics.keys()]))) {
          const count = this.host.image.topic(topic)?.partitionCount;
          if (count === undefined) continue;
          const ps = [...partitions].filter((p) => p < count).sort(numeric);
          if (ps.length > 0) list.push({ topic, partitions: ps });
        }
      }
      return list;
    };
    const entry = (m: StreamsGroupMember) => {
      if (m.userEndpoint === null) return;
      const standbyAndWarmup = new Map<string, Set<number>>();
      for (const source of [m.assignedTasks.standby, m.assignedTasks.warmup])
        for (const [id, ps] of source) for (const p of ps) addTask(standbyAndWarmup, id, p);
      out.push({
        userEndpoint: { host: m.userEndpoint.host, port: m.userEndpoint.port },
        activePartitions: partitionsOf(withoutEpochs(m.assignedTasks.active)),
        standbyPartitions: partitionsOf(standbyAndWarmup),
      });
    };
    for (const [memberId, m] of group.members) if (memberId !== updated.memberId && memberId !== replaced?.memberId) entry(m);
    entry(updated);
    return out;
  }

  #leave(shard: GroupShard, request: StreamsHeartbeatRequest, nowMs: number): StreamsGroupHeartbeatResponse {
    const { groupId, memberId, instanceId, memberEpoch } = request;
    const group = shard.groups.get(groupId);
    if (group?.type !== "streams") throw new KafkaError("GROUP_ID_NOT_FOUND", `Streams group ${groupId} not found.`);
    if (request.shutdownApplication && group.shutdownRequestMemberId === null) group.shutdownRequestMemberId = memberId;
    const response = { ...streamsHeartbeatError(ErrorCode.NONE), memberId, memberEpoch, status: [] };
    if (instanceId === null) {
      const member = group.members.get(memberId);
      if (member === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${memberId} is not a member of group ${groupId}.`);
      this.#fence(shard, group, member, nowMs);
      return response;
    }
    const member = group.staticMember(instanceId);
    if (member === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Instance id ${instanceId} is unknown.`);
    if (member.memberId !== memberId)
      throw new KafkaError("FENCED_INSTANCE_ID", `Static member ${memberId} with instance id ${instanceId} was fenced by member ${member.memberId}.`);
    if (memberEpoch === -2) {
      // streamsGroupStaticMemberGroupLeave: the member keeps its tasks (epochs reset) until it rejoins or its session ends.
      const zero = new Map<string, Map<number, number>>();
      for (const [id, ps] of member.assignedTasks.active) zero.set(id, new Map([...ps.keys()].map((p) => [p, 0])));
      const leaving: StreamsGroupMember = {
        ...member,
        memberEpoch: -2,
        tasksPendingRevocation: EMPTY_TASKS_WITH_EPOCHS,
        assignedTasks: { ...member.assignedTasks, active: zero },
      };
      shard.write([currentAssignmentRecord(groupId, leaving)], nowMs, true);
      return { ...response, memberId: member.memberId, memberEpoch: -2 };
    }
    this.#fence(shard, group, member, nowMs);
    return response;
  }

  /** streamsGroupFenceMember: the member's records are tombstoned and the group epoch bumped. */
  #fence(shard: GroupShard, group: StreamsGroup, member: StreamsGroupMember, nowMs: number): void {
    const { groupId } = group;
    const epoch = group.groupEpoch + 1;
    const records: RecordToWrite[] = [
      tombstone(GroupRecordType.StreamsGroupCurrentMemberAssignment, { groupId, memberId: member.memberId }),
      tombstone(GroupRecordType.StreamsGroupTargetAssignmentMember, { groupId, memberId: member.memberId }),
      tombstone(GroupRecordType.StreamsGroupMemberMetadata, { groupId, memberId: member.memberId }),
      metadataRecord(groupId, group, epoch, group.metadataHash, group.validatedTopologyEpoch, group.lastAssignmentConfigs),
    ];
    if (group.members.size === 1) records.push(targetMetadataRecord(groupId, epoch, 0n));
    shard.write(records, nowMs, true);
    this.#cancelTimers(groupId, member.memberId);
  }

  /** The records deleting a streams group (StreamsGroup.createGroupTombstoneRecords). */
  groupTombstones(group: StreamsGroup): RecordToWrite[] {
    const { groupId } = group;
    const records: RecordToWrite[] = [];
    for (const memberId of group.members.keys()) records.push(tombstone(GroupRecordType.StreamsGroupCurrentMemberAssignment, { groupId, memberId }));
    for (const memberId of group.members.keys()) records.push(tombstone(GroupRecordType.StreamsGroupTargetAssignmentMember, { groupId, memberId }));
    records.push(tombstone(GroupRecordType.StreamsGroupTargetAssignmentMetadata, { groupId }));
    for (const memberId of group.members.keys()) records.push(tombstone(GroupRecordType.StreamsGroupMemberMetadata, { groupId, memberId }));
    records.push(tombstone(GroupRecordType.StreamsGroupMetadata, { groupId }));
    records.push(tombstone(GroupRecordType.StreamsGroupTopology, { groupId }));
    return records;
  }

  /** The topics a group's topology needs, for topic-change notifications. */
  static requiredTopics(group: StreamsGroup): Set<string> {
    return group.topology === null ? new Set() : requiredTopics(group.topology);
  }
}

function sameMetadata(a: StreamsGroupMember, b: StreamsGroupMember): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.rackId === b.rackId &&
    a.clientId === b.clientId &&
    a.clientHost === b.clientHost &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs &&
    a.topologyEpoch === b.topologyEpoch &&
    a.processId === b.processId &&
    JSON.stringify(a.userEndpoint) === JSON.stringify(b.userEndpoint) &&
    JSON.stringify(a.clientTags) === JSON.stringify(b.clientTags)
  );
}

function sameMember(a: StreamsGroupMember, b: StreamsGroupMember): boolean {
  return (
    a.memberEpoch === b.memberEpoch &&
    a.previousMemberEpoch === b.previousMemberEpoch &&
    a.state === b.state &&
    sameTasksWithEpochs(a.assignedTasks, b.assignedTasks) &&
    sameTasksWithEpochs(a.tasksPendingRevocation, b.tasksPendingRevocation)
  );
}

function sameConfigs(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
