// A KIP-1071 streams group, as Kafka 4.4's StreamsGroup and StreamsGroupMember keep it: the group
// epoch, the topology the first member initialized (StreamsGroupTopology record) and the epoch of
// it that was validated against the topics, the metadata hash of the topics the topology needs,
// the members (epochs, reconciliation state, process id, endpoint for Interactive Queries, client
// tags, the tasks they own with the epoch each active task was assigned at, the tasks they must
// still revoke), the target assignment and its epoch, and the assignment configs it was computed
// with. States:
//
//   Empty        no member
//   NotReady     the topology is not (yet) validated: source or internal topics missing, or
//                partitioned wrongly
//   Assigning    the group epoch is ahead of the target assignment
//   Reconciling  some member has not reached the target assignment
//   Stable       every member owns its target
//   Dead         deleted
//
// Like the other modern groups it only holds state, changed solely by replaying records
// (shard.ts); decisions live in streams-group-protocol.ts. The configured topology (partition
// counts decided for internal topics, number of tasks per subtopology) is derived from the
// topology and the topic metadata and kept in memory only, as Kafka does.

import type { StreamsGroupTopologyValue, StreamsGroupTopologyValueSubtopology } from "../generated/group/streams-group-topology.js";

/** Tasks by subtopology: subtopology id → partitions (a task is a subtopology's partition). */
export type TaskMap = ReadonlyMap<string, ReadonlySet<number>>;
/** Active tasks with the epoch each was assigned at: subtopology id → partition → epoch. */
export type TaskEpochMap = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** Kafka's TasksTuple: a target assignment. */
export interface TasksTuple {
  readonly active: TaskMap;
  readonly standby: TaskMap;
  readonly warmup: TaskMap;
}

/** Kafka's TasksTupleWithEpochs: what a member owns (active tasks with their assignment epochs). */
export interface TasksWithEpochs {
  readonly active: TaskEpochMap;
  readonly standby: TaskMap;
  readonly warmup: TaskMap;
}

export const EMPTY_TASKS: TasksTuple = { active: new Map(), standby: new Map(), warmup: new Map() };
export const EMPTY_TASKS_WITH_EPOCHS: TasksWithEpochs = { active: new Map(), standby: new Map(), warmup: new Map() };

/** MemberState of the streams protocol (its record value). */
export const StreamsMemberState = { STABLE: 1, UNREVOKED_TASKS: 2, UNRELEASED_TASKS: 3, UNKNOWN: 127 } as const;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface StreamsGroupMember {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly state: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly topologyEpoch: number;
  readonly processId: string;
  readonly userEndpoint: Endpoint | null;
  /** Client tags, sorted by key. */
  readonly clientTags: readonly (readonly [string, string])[];
  readonly assignedTasks: TasksWithEpochs;
  readonly tasksPendingRevocation: TasksWithEpochs;
}

/** StreamsGroupMember.Builder.withDefaults: a member joining for the first time. */
export function defaultStreamsMember(memberId: string): StreamsGroupMember {
  return {
    memberId,
    memberEpoch: 0,
    previousMemberEpoch: 0,
    state: StreamsMemberState.STABLE,
    instanceId: null,
    rackId: null,
    clientId: "",
    clientHost: "",
    rebalanceTimeoutMs: -1,
    topologyEpoch: -1,
    processId: "",
    userEndpoint: null,
    clientTags: [],
    assignedTasks: EMPTY_TASKS_WITH_EPOCHS,
    tasksPendingRevocation: EMPTY_TASKS_WITH_EPOCHS,
  };
}

export function isReconciledTo(member: StreamsGroupMember, assignmentEpoch: number): boolean {
  return member.state === StreamsMemberState.STABLE && member.memberEpoch === assignmentEpoch;
}

// ------------------------------------------------------------------------------------------------
// Task maps

export function sameTaskMap(a: TaskMap, b: TaskMap): boolean {
  let sizeA = 0;
  for (const [id, partitions] of a) {
    if (partitions.size === 0) continue;
    sizeA++;
    const other = b.get(id);
    if (other === undefined || other.size !== partitions.size) return false;
    for (const p of partitions) if (!other.has(p)) return false;
  }
  let sizeB = 0;
  for (const partitions of b.values()) if (partitions.size > 0) sizeB++;
  return sizeA === sizeB;
}

export function sameTaskEpochMap(a: TaskEpochMap, b: TaskEpochMap): boolean {
  let sizeA = 0;
  for (const [id, partitions] of a) {
    if (partitions.size === 0) continue;
    sizeA++;
    const other = b.get(id);
    if (other === undefined || other.size !== partitions.size) return false;
    for (const [p, epoch] of partitions) if (other.get(p) !== epoch) return false;
  }
  let sizeB = 0;
  for (const partitions of b.values()) if (partitions.size > 0) sizeB++;
  return sizeA === sizeB;
}

export function sameTasks(a: TasksTuple, b: TasksTuple): boolean {
  return sameTaskMap(a.active, b.active) && sameTaskMap(a.standby, b.standby) && sameTaskMap(a.warmup, b.warmup);
}

export function sameTasksWithEpochs(a: TasksWithEpochs, b: TasksWithEpochs): boolean {
  return sameTaskEpochMap(a.active, b.active) && sameTaskMap(a.standby, b.standby) && sameTaskMap(a.warmup, b.warmup);
}

/** TasksTuple.sameTasks against a member's owned tasks (ignoring epochs). */
export function sameTasksIgnoringEpochs(target: TasksTuple, owned: TasksWithEpochs): boolean {
  return sameTaskMap(target.active, withoutEpochs(owned.active)) && sameTaskMap(target.standby, owned.standby) && sameTaskMap(target.warmup, owned.warmup);
}

export function withoutEpochs(tasks: TaskEpochMap): TaskMap {
  const out = new Map<string, Set<number>>();
  for (const [id, partitions] of tasks) out.set(id, new Set(partitions.keys()));
  return out;
}

export function isEmptyTasks(tasks: TasksWithEpochs | TasksTuple): boolean {
  for (const map of [tasks.active, tasks.standby, tasks.warmup] as ReadonlyMap<string, { size: number }>[]) {
    for (const partitions of map.values()) if (partitions.size > 0) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Topology

/** StreamsTopology: the topology record and its subtopologies by id. */
export interface StreamsTopology {
  readonly epoch: number;
  readonly record: StreamsGroupTopologyValue;
  readonly subtopologies: ReadonlyMap<string, StreamsGroupTopologyValueSubtopology>;
}

export function topologyFromRecord(record: StreamsGroupTopologyValue): StreamsTopology {
  return { epoch: record.epoch, record, subtopologies: new Map(record.subtopologies.map((s) => [s.subtopologyId, s])) };
}

/** StreamsTopology.requiredTopics: source, repartition source and changelog topics. */
export function requiredTopics(topology: StreamsTopology): Set<string> {
  const out = new Set<string>();
  for (const s of topology.subtopologies.values()) {
    for (const t of s.sourceTopics) out.add(t);
    for (const t of s.repartitionSourceTopics) out.add(t.name);
    for (const t of s.stateChangelogTopics) out.add(t.name);
  }
  return out;
}

/** StreamsTopology.sourceTopicMap: source and repartition source topic → subtopology id. */
export function sourceTopicMap(topology: StreamsTopology): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of topology.subtopologies.values()) {
    for (const t of s.sourceTopics) out.set(t, s.subtopologyId);
    for (const t of s.repartitionSourceTopics) out.set(t.name, s.subtopologyId);
  }
  return out;
}

/** A repartition or changelog topic as configured (ConfiguredInternalTopic). */
export interface ConfiguredInternalTopic {
  readonly name: string;
  readonly partitions: number;
  /** null: the broker's default. */
  readonly replicationFactor: number | null;
  readonly configs: ReadonlyMap<string, string>;
}

export interface ConfiguredSubtopology {
  readonly numberOfTasks: number;
  readonly sourceTopics: ReadonlySet<string>;
  readonly repartitionSourceTopics: ReadonlyMap<string, ConfiguredInternalTopic>;
  readonly repartitionSinkTopics: ReadonlySet<string>;
  readonly stateChangelogTopics: ReadonlyMap<string, ConfiguredInternalTopic>;
}

/** StreamsGroupHeartbeatResponse.Status codes. */
export const StreamsStatus = {
  STALE_TOPOLOGY: 0,
  MISSING_SOURCE_TOPICS: 1,
  INCORRECTLY_PARTITIONED_TOPICS: 2,
  MISSING_INTERNAL_TOPICS: 3,
  SHUTDOWN_APPLICATION: 4,
  ASSIGNMENT_DELAYED: 5,
  MISSING_CLIENT_TAGS: 6,
} as const;

/** ConfiguredTopology: ready when there is no topic configuration problem. */
export interface ConfiguredTopology {
  readonly topologyEpoch: number;
  readonly metadataHash: bigint;
  /** Sorted by subtopology id; null when the topics could not be configured. */
  readonly subtopologies: ReadonlyMap<string, ConfiguredSubtopology> | null;
  readonly internalTopicsToCreate: ReadonlyMap<string, ConfiguredInternalTopic>;
  readonly problem: { readonly status: number; readonly message: string } | null;
}

// ------------------------------------------------------------------------------------------------

export type StreamsGroupState = "Empty" | "NotReady" | "Assigning" | "Reconciling" | "Stable" | "Dead";

export class StreamsGroup {
  readonly type = "streams";
  readonly protocolType = "streams";
  readonly members = new Map<string, StreamsGroupMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  readonly targetAssignment = new Map<string, TasksTuple>();
  groupEpoch = 1;
  metadataHash = 0n;
  validatedTopologyEpoch = -1;
  storedDescriptionTopologyEpoch = -1;
  failedDescriptionTopologyEpoch = -1;
  /** TargetAssignmentMetadata.INITIAL is epoch 1. */
  assignmentEpoch = 1;
  assignmentTimestamp = 0n;
  topology: StreamsTopology | null = null;
  /** Memory only: derived from the topology and the topics. */
  configuredTopology: ConfiguredTopology | null = null;
  lastAssignmentConfigs = new Map<string, string>();
  /** Memory only: when the topic metadata must be looked at again (deadline and the epoch it was set at). */
  metadataRefreshDeadline = { deadlineMs: 0, epoch: 0 };
  shutdownRequestMemberId: string | null = null;
  endpointInformationEpoch = 0;
  /** Memory only: changelog offsets the members reported (subtopology → partition → offset). */
  readonly taskOffsets = new Map<string, { offsets: Map<string, Map<number, bigint>>; endOffsets: Map<string, Map<number, bigint>> }>();
  #dead = false;

  constructor(readonly groupId: string) {}

  get state(): StreamsGroupState {
    if (this.#dead) return "Dead";
    if (this.members.size === 0) return "Empty";
    if (this.topology === null || this.topology.epoch !== this.validatedTopologyEpoch) return "NotReady";
    if (this.groupEpoch > this.assignmentEpoch) return "Assigning";
    for (const member of this.members.values()) if (!isReconciledTo(member, this.assignmentEpoch)) return "Reconciling";
    return "Stable";
  }

  is(state: string): boolean {
    return this.state === state;
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  markDead(): void {
    this.#dead = true;
  }

  staticMember(instanceId: string | null): StreamsGroupMember | undefined {
    if (instanceId === null) return undefined;
    const memberId = this.staticMembers.get(instanceId);
    return memberId === undefined ? undefined : this.members.get(memberId);
  }

  updateMember(member: StreamsGroupMember): void {
    const old = this.members.get(member.memberId);
    if (old?.instanceId != null) this.staticMembers.delete(old.instanceId);
    this.members.set(member.memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId);
  }

  removeMember(memberId: string): void {
    const old = this.members.get(memberId);
    if (old?.instanceId != null && this.staticMembers.get(old.instanceId) === memberId) this.staticMembers.delete(old.instanceId);
    this.members.delete(memberId);
    this.taskOffsets.delete(memberId);
    if (this.members.size === 0) this.shutdownRequestMemberId = null;
  }

  requestMetadataRefresh(): void {
    this.metadataRefreshDeadline = { deadlineMs: 0, epoch: 0 };
  }

  hasMetadataExpired(nowMs: number): boolean {
    return nowMs >= this.metadataRefreshDeadline.deadlineMs || this.groupEpoch < this.metadataRefreshDeadline.epoch;
  }

  /** The process owning each active task, and the processes holding each standby / warm-up task (assigned or pending revocation). */
  taskProcesses(): {
    active: (subtopologyId: string, partition: number) => string | undefined;
    standby: (subtopologyId: string, partition: number) => ReadonlySet<string>;
    warmup: (subtopologyId: string, partition: number) => ReadonlySet<string>;
  } {
    const active = new Map<string, string>();
    const standby = new Map<string, Set<string>>();
    const warmup = new Map<string, Set<string>>();
    const addSet = (map: Map<string, Set<string>>, key: string, processId: string) => {
      let set = map.get(key);
      if (set === undefined) {
        set = new Set();
        map.set(key, set);
      }
      set.add(processId);
    };
    for (const member of this.members.values()) {
      for (const tasks of [member.assignedTasks, member.tasksPendingRevocation]) {
        for (const [id, partitions] of tasks.active) for (const p of partitions.keys()) active.set(`${id}\0${p}`, member.processId);
        for (const [id, partitions] of tasks.standby) for (const p of partitions) addSet(standby, `${id}\0${p}`, member.processId);
        for (const [id, partitions] of tasks.warmup) for (const p of partitions) addSet(warmup, `${id}\0${p}`, member.processId);
      }
    }
    const none: ReadonlySet<string> = new Set();
    return {
      active: (id, p) => active.get(`${id}\0${p}`),
      standby: (id, p) => standby.get(`${id}\0${p}`) ?? none,
      warmup: (id, p) => warmup.get(`${id}\0${p}`) ?? none,
    };
  }

  /** Whether the group reads `topic` (StreamsGroup.isSubscribedToTopic: offsets of such topics do not expire). */
  isSubscribedToTopic(topic: string): boolean {
    const state = this.state;
    if (state === "Empty" || state === "Dead" || this.topology === null) return false;
    return sourceTopicMap(this.topology).has(topic);
  }
}
