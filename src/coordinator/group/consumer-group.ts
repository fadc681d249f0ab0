// A KIP-848 consumer group and its members, as Kafka 4.4's ModernGroup, ConsumerGroup,
// ConsumerGroupMember and ModernGroupMember keep them: the group epoch, the members (member epoch,
// previous epoch, reconciliation state, assigned partitions with the epoch each was assigned at,
// partitions pending revocation), the target assignment and its epoch, the subscribed topic names
// and regular expressions, static members by instance id, and the state derived from all of it:
//
//   Empty        no member
//   Assigning    group epoch > assignment epoch: a new target assignment is due
//   Reconciling  some member is not yet at the assignment epoch in state STABLE
//   Stable       every member reconciled to the target assignment
//   Dead         deleted (DeleteGroups, expiry, conversion)
//
// The group only holds state; it is changed solely by replaying records (shard.ts), at load and
// after each write, so memory always equals what the log says. The decisions (heartbeats, timers)
// live in consumer-group-protocol.ts; the reconciliation of one member in current-assignment.ts.
//
// Topic ids are Kafka Uuids in base64url form (Uuid.toString()). Where Kafka iterates Java hash
// sets (a member's subscribed topic names), the names are kept in Java's iteration order, because
// the server assignors depend on it (assignor/types.ts).

import { hashSetCopyCapacity, javaHashMapOrder } from "./assignor/java-collections.js";
import type { SubscriptionType, TopicPartitions } from "./assignor/types.js";

/** Kafka's MemberState (the int8 stored in ConsumerGroupCurrentMemberAssignmentValue). */
export const MemberState = {
  STABLE: 0,
  UNREVOKED_PARTITIONS: 1,
  UNRELEASED_PARTITIONS: 2,
  UNKNOWN: 127,
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

export function memberStateFromValue(value: number): MemberState {
  return value === 0 || value === 1 || value === 2 ? value : MemberState.UNKNOWN;
}

export function memberStateName(state: MemberState): string {
  switch (state) {
    case MemberState.STABLE:
      return "STABLE";
    case MemberState.UNREVOKED_PARTITIONS:
      return "UNREVOKED_PARTITIONS";
    case MemberState.UNRELEASED_PARTITIONS:
      return "UNRELEASED_PARTITIONS";
    default:
      return "UNKNOWN";
  }
}

export type ConsumerGroupState = "Empty" | "Assigning" | "Reconciling" | "Stable" | "Dead";

/** Partitions by topic id with the epoch each partition was assigned at (KIP-1251). */
export type PartitionEpochs = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** A target assignment: partitions by topic id (Kafka's Assignment). */
export type Assignment = TopicPartitions;

export const EMPTY_ASSIGNMENT: Assignment = new Map();
const EMPTY_EPOCHS: PartitionEpochs = new Map();

/** A member using the classic protocol inside a consumer group (ClassicMemberMetadata). */
export interface ClassicMemberMetadata {
  readonly sessionTimeoutMs: number;
  readonly supportedProtocols: readonly { readonly name: string; readonly metadata: Buffer }[];
}

/** Kafka's SubscriptionCount: how many members subscribe to a topic by name and through regexes. */
export interface SubscriptionCount {
  readonly byNameCount: number;
  readonly byRegexCount: number;
}

/** Kafka's ResolvedRegularExpression: the topics a regex matched, the metadata version and time. */
export interface ResolvedRegularExpression {
  readonly topics: ReadonlySet<string>;
  readonly version: bigint;
  readonly timestamp: bigint;
}

export const EMPTY_RESOLVED_REGEX: ResolvedRegularExpression = { topics: new Set(), version: -1n, timestamp: -1n };

/** The names of a Java `new HashSet<>(list)` in its iteration order. */
export function javaHashSetOf(names: Iterable<string>): string[] {
  const unique = [...new Set(names)];
  return javaHashMapOrder(unique, hashSetCopyCapacity(unique.length, 17));
}

export interface ConsumerGroupMemberFields {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly state: MemberState;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** A set (Java iteration order). */
  readonly subscribedTopicNames: readonly string[];
  /** "" for a member that never subscribed by regex (Kafka's Builder default). */
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignorName: string | null;
  readonly assignedPartitions: PartitionEpochs;
  readonly partitionsPendingRevocation: PartitionEpochs;
  readonly classicMemberMetadata: ClassicMemberMetadata | null;
}

/** An immutable member (Kafka's ConsumerGroupMember); `with` makes a changed copy (its Builder). */
export class ConsumerGroupMember implements ConsumerGroupMemberFields {
  readonly memberId!: string;
  readonly memberEpoch!: number;
  readonly previousMemberEpoch!: number;
  readonly state!: MemberState;
  readonly instanceId!: string | null;
  readonly rackId!: string | null;
  readonly rebalanceTimeoutMs!: number;
  readonly clientId!: string;
  readonly clientHost!: string;
  readonly subscribedTopicNames!: readonly string[];
  readonly subscribedTopicRegex!: string | null;
  readonly serverAssignorName!: string | null;
  readonly assignedPartitions!: PartitionEpochs;
  readonly partitionsPendingRevocation!: PartitionEpochs;
  readonly classicMemberMetadata!: ClassicMemberMetadata | null;

  private constructor(fields: ConsumerGroupMemberFields) {
    Object.assign(this, fields);
  }

  /** A new member with Kafka's Builder defaults (epoch 0, previous epoch -1, STABLE). */
  static create(memberId: string): ConsumerGroupMember {
    return new ConsumerGroupMember({
      memberId,
      memberEpoch: 0,
      previousMemberEpoch: -1,
      state: MemberState.STABLE,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      clientId: "",
      clientHost: "",
      subscribedTopicNames: [],
      subscribedTopicRegex: "",
      serverAssignorName: null,
      assignedPartitions: EMPTY_EPOCHS,
      partitionsPendingRevocation: EMPTY_EPOCHS,
      classicMemberMetadata: null,
    });
  }

  with(changes: Partial<ConsumerGroupMemberFields>): ConsumerGroupMember {
    return new ConsumerGroupMember({ ...this, ...changes });
  }

  /** Builder.updateMemberEpoch: the new epoch, the current one becoming the previous. */
  withEpoch(memberEpoch: number, changes: Partial<ConsumerGroupMemberFields> = {}): ConsumerGroupMember {
    return this.with({ ...changes, memberEpoch, previousMemberEpoch: this.memberEpoch });
  }

  get useClassicProtocol(): boolean {
    return this.classicMemberMetadata !== null;
  }

  /** classicProtocolSessionTimeout: the session timeout of a classic member (JoinGroup), else undefined. */
  get classicProtocolSessionTimeout(): number | undefined {
    return this.classicMemberMetadata?.sessionTimeoutMs;
  }

  /** The protocols a classic member joined with (supportedClassicProtocols), in its order. */
  get supportedClassicProtocols(): readonly { readonly name: string; readonly metadata: Buffer }[] {
    return this.classicMemberMetadata?.supportedProtocols ?? [];
  }

  /** The regex, or null when none (subscribedTopicRegexOrNull). */
  get regex(): string | null {
    return this.subscribedTopicRegex !== null && this.subscribedTopicRegex !== "" ? this.subscribedTopicRegex : null;
  }

  isReconciledTo(targetAssignmentEpoch: number): boolean {
    return this.state === MemberState.STABLE && this.memberEpoch === targetAssignmentEpoch;
  }

  assignmentEpoch(topicId: string, partition: number): number | undefined {
    return this.assignedPartitions.get(topicId)?.get(partition);
  }

  pendingRevocationEpoch(topicId: string, partition: number): number | undefined {
    return this.partitionsPendingRevocation.get(topicId)?.get(partition);
  }

  equals(other: ConsumerGroupMember): boolean {
    return (
      this.memberId === other.memberId &&
      this.memberEpoch === other.memberEpoch &&
      this.previousMemberEpoch === other.previousMemberEpoch &&
      this.state === other.state &&
      this.instanceId === other.instanceId &&
      this.rackId === other.rackId &&
      this.rebalanceTimeoutMs === other.rebalanceTimeoutMs &&
      this.clientId === other.clientId &&
      this.clientHost === other.clientHost &&
      sameNames(this.subscribedTopicNames, other.subscribedTopicNames) &&
      this.subscribedTopicRegex === other.subscribedTopicRegex &&
      this.serverAssignorName === other.serverAssignorName &&
      samePartitionEpochs(this.assignedPartitions, other.assignedPartitions) &&
      samePartitionEpochs(this.partitionsPendingRevocation, other.partitionsPendingRevocation) &&
      sameClassicMetadata(this.classicMemberMetadata, other.classicMemberMetadata)
    );
  }
}

export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((name) => set.has(name));
}

export function samePartitionEpochs(a: PartitionEpochs, b: PartitionEpochs): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [topicId, partitions] of a) {
    const other = b.get(topicId);
    if (other === undefined || other.size !== partitions.size) return false;
    for (const [partition, epoch] of partitions) if (other.get(partition) !== epoch) return false;
  }
  return true;
}

export function sameAssignment(a: Assignment | undefined, b: Assignment | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.size !== b.size) return false;
  for (const [topicId, partitions] of a) {
    const other = b.get(topicId);
    if (other === undefined || other.size !== partitions.size) return false;
    for (const partition of partitions) if (!other.has(partition)) return false;
  }
  return true;
}

function sameClassicMetadata(a: ClassicMemberMetadata | null, b: ClassicMemberMetadata | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.sessionTimeoutMs === b.sessionTimeoutMs &&
    a.supportedProtocols.length === b.supportedProtocols.length &&
    a.supportedProtocols.every((p, i) => p.name === b.supportedProtocols[i]?.name && p.metadata.equals(b.supportedProtocols[i]?.metadata ?? Buffer.alloc(0)))
  );
}

/** Utils.toAssignmentWithoutEpochs. */
export function withoutEpochs(epochs: PartitionEpochs): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const [topicId, partitions] of epochs) out.set(topicId, new Set(partitions.keys()));
  return out;
}

/** Utils.toAssignmentWithEpochs. */
export function withEpochs(assignment: Assignment, epoch: number): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const [topicId, partitions] of assignment) out.set(topicId, new Map([...partitions].map((p) => [p, epoch])));
  return out;
}

function incCount(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function decCount(map: Map<string, number>, key: string): void {
  const value = map.get(key);
  if (value === undefined) return;
  if (value === 1) map.delete(key);
  else map.set(key, value - 1);
}

export function incNameCount(map: Map<string, SubscriptionCount>, topic: string): void {
  const count = map.get(topic);
  map.set(topic, count === undefined ? { byNameCount: 1, byRegexCount: 0 } : { ...count, byNameCount: count.byNameCount + 1 });
}

export function decNameCount(map: Map<string, SubscriptionCount>, topic: string): void {
  const count = map.get(topic);
  if (count === undefined || (count.byNameCount === 1 && count.byRegexCount === 0)) map.delete(topic);
  else map.set(topic, { ...count, byNameCount: count.byNameCount - 1 });
}

export function incRegexCount(map: Map<string, SubscriptionCount>, topic: string): void {
  const count = map.get(topic);
  map.set(topic, count === undefined ? { byNameCount: 0, byRegexCount: 1 } : { ...count, byRegexCount: count.byRegexCount + 1 });
}

export function decRegexCount(map: Map<string, SubscriptionCount>, topic: string): void {
  const count = map.get(topic);
  if (count === undefined || (count.byRegexCount === 1 && count.byNameCount === 0)) map.delete(topic);
  else map.set(topic, { ...count, byRegexCount: count.byRegexCount - 1 });
}

function updateSubscribedTopicNames(map: Map<string, SubscriptionCount>, oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): void {
  if (oldMember !== null) for (const topic of oldMember.subscribedTopicNames) decNameCount(map, topic);
  if (newMember !== null) for (const topic of newMember.subscribedTopicNames) incNameCount(map, topic);
}

function updateServerAssignors(map: Map<string, number>, oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): void {
  if (oldMember?.serverAssignorName != null) decCount(map, oldMember.serverAssignorName);
  if (newMember?.serverAssignorName != null) incCount(map, newMember.serverAssignorName);
}

/** ConsumerGroup.subscriptionType (static). */
export function consumerSubscriptionType(
  subscribedRegularExpressions: ReadonlyMap<string, number>,
  subscribedTopicNames: ReadonlyMap<string, SubscriptionCount>,
  numberOfMembers: number,
): SubscriptionType {
  if (subscribedRegularExpressions.size === 0) {
    for (const count of subscribedTopicNames.values()) if (count.byNameCount !== numberOfMembers) return "HETEROGENEOUS";
    return "HOMOGENEOUS";
  }
  const first = subscribedRegularExpressions.values().next().value as number;
  if (first === numberOfMembers) {
    for (const count of subscribedTopicNames.values()) {
      if (count.byRegexCount === 1 && count.byNameCount <= 0) continue;
      return "HETEROGENEOUS";
    }
    return "HOMOGENEOUS";
  }
  return "HETEROGENEOUS";
}

export class ConsumerGroup {
  readonly type = "consumer";
  readonly protocolType = "consumer";
  state: ConsumerGroupState = "Empty";
  /** Kafka 4.4 starts a group at epoch 1 (ModernGroup), with target assignment metadata (1, 0). */
  groupEpoch = 1;
  assignmentEpoch = 1;
  assignmentTimestamp = 0n;
  metadataHash = 0n;
  subscriptionType: SubscriptionType = "HOMOGENEOUS";
  readonly members = new Map<string, ConsumerGroupMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  readonly subscribedTopicNames = new Map<string, SubscriptionCount>();
  readonly targetAssignment = new Map<string, Assignment>();
  /** topic id → partition → the member whose target assignment holds it. */
  readonly invertedTargetAssignment = new Map<string, Map<number, string>>();
  /** topic id → partition → the epoch of the member owning it (assigned or pending revocation). */
  readonly #currentPartitionEpoch = new Map<string, Map<number, number>>();
  readonly serverAssignors = new Map<string, number>();
  readonly subscribedRegularExpressions = new Map<string, number>();
  readonly resolvedRegularExpressions = new Map<string, ResolvedRegularExpression>();
  numClassicProtocolMembers = 0;
  readonly classicProtocolMembersSupportedProtocols = new Map<string, number>();
  /** A deprecated ConsumerGroupPartitionMetadata record exists for the group (to tombstone). */
  hasSubscriptionMetadataRecord = false;
  /** When the subscription metadata must be recomputed (ModernGroup.metadataRefreshDeadline). */
  metadataRefreshDeadline = { deadlineMs: 0, epoch: 0 };

  constructor(readonly groupId: string) {}

  is(state: ConsumerGroupState): boolean {
    return this.state === state;
  }

  get isEmpty(): boolean {
    return this.state === "Empty";
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get numMembers(): number {
    return this.members.size;
  }

  staticMemberId(instanceId: string | null): string | undefined {
    return instanceId === null ? undefined : this.staticMembers.get(instanceId);
  }

  staticMember(instanceId: string): ConsumerGroupMember | undefined {
    const memberId = this.staticMembers.get(instanceId);
    return memberId === undefined ? undefined : this.members.get(memberId);
  }

  hasStaticMember(instanceId: string | null): boolean {
    return instanceId !== null && this.staticMembers.has(instanceId);
  }

  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopicNames.has(topic);
  }

  targetAssignmentOf(memberId: string): Assignment {
    return this.targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT;
  }

  /** ConsumerGroup.targetAssignment(memberId, instanceId): a static member inherits its predecessor's. */
  targetAssignmentFor(memberId: string, instanceId: string | null): Assignment {
    if (instanceId === null) return this.targetAssignmentOf(memberId);
    const previous = this.staticMembers.get(instanceId);
    return previous === undefined ? EMPTY_ASSIGNMENT : this.targetAssignmentOf(previous);
  }

  currentPartitionEpoch(topicId: string, partition: number): number {
    return this.#currentPartitionEpoch.get(topicId)?.get(partition) ?? -1;
  }

  setGroupEpoch(epoch: number): void {
    this.groupEpoch = epoch;
    this.#updateState();
  }

  setTargetAssignmentMetadata(epoch: number, timestamp: bigint): void {
    this.assignmentEpoch = epoch;
    this.assignmentTimestamp = timestamp;
    this.#updateState();
  }

  setMetadataRefreshDeadline(deadlineMs: number, epoch: number): void {
    this.metadataRefreshDeadline = { deadlineMs, epoch };
  }

  requestMetadataRefresh(): void {
    this.metadataRefreshDeadline = { deadlineMs: 0, epoch: 0 };
  }

  hasMetadataExpired(nowMs: number): boolean {
    return nowMs >= this.metadataRefreshDeadline.deadlineMs || this.groupEpoch < this.metadataRefreshDeadline.epoch;
  }

  /** getOrMaybeCreateMember(memberId, true) without storing it: the existing member or a new one. */
  memberOrNew(memberId: string): ConsumerGroupMember {
    return this.members.get(memberId) ?? ConsumerGroupMember.create(memberId);
  }

  updateMember(newMember: ConsumerGroupMember): void {
    const oldMember = this.members.get(newMember.memberId) ?? null;
    this.members.set(newMember.memberId, newMember);
    updateSubscribedTopicNames(this.subscribedTopicNames, oldMember, newMember);
    updateServerAssignors(this.serverAssignors, oldMember, newMember);
    this.#removePartitionEpochs(oldMember);
    this.#addPartitionEpochs(newMember.assignedPartitions, newMember.memberEpoch);
    this.#addPartitionEpochs(newMember.partitionsPendingRevocation, newMember.memberEpoch);
    this.#updateSubscribedRegex(oldMember, newMember);
    if (oldMember?.instanceId != null) this.staticMembers.delete(oldMember.instanceId);
    if (newMember.instanceId !== null) this.staticMembers.set(newMember.instanceId, newMember.memberId);
    this.#updateState();
    this.#updateSubscriptionType();
    this.#updateClassicMembers(oldMember, newMember);
  }

  removeMember(memberId: string): void {
    const oldMember = this.members.get(memberId) ?? null;
    this.members.delete(memberId);
    updateSubscribedTopicNames(this.subscribedTopicNames, oldMember, null);
    updateServerAssignors(this.serverAssignors, oldMember, null);
    this.#removePartitionEpochs(oldMember);
    this.#updateSubscribedRegex(oldMember, null);
    if (oldMember?.instanceId != null) this.staticMembers.delete(oldMember.instanceId);
    this.#updateState();
    this.#updateSubscriptionType();
    this.#updateClassicMembers(oldMember, null);
  }

  updateTargetAssignment(memberId: string, assignment: Assignment): void {
    this.#updateInverted(memberId, this.targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT, assignment);
    this.targetAssignment.set(memberId, assignment);
  }

  removeTargetAssignment(memberId: string): void {
    this.#updateInverted(memberId, this.targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT, EMPTY_ASSIGNMENT);
    this.targetAssignment.delete(memberId);
  }

  #updateInverted(memberId: string, oldAssignment: Assignment, newAssignment: Assignment): void {
    const topics = new Set([...oldAssignment.keys(), ...newAssignment.keys()]);
    for (const topicId of topics) {
      const oldPartitions = oldAssignment.get(topicId) ?? new Set<number>();
      const newPartitions = newAssignment.get(topicId) ?? new Set<number>();
      let owners = this.invertedTargetAssignment.get(topicId);
      if (owners === undefined) {
        owners = new Map();
        this.invertedTargetAssignment.set(topicId, owners);
      }
      for (const partition of oldPartitions) if (!newPartitions.has(partition) && owners.get(partition) === memberId) owners.delete(partition);
      for (const partition of newPartitions) if (!oldPartitions.has(partition)) owners.set(partition, memberId);
      if (owners.size === 0) this.invertedTargetAssignment.delete(topicId);
    }
  }

  updateResolvedRegularExpression(regex: string, resolved: ResolvedRegularExpression): void {
    this.removeResolvedRegularExpression(regex);
    this.resolvedRegularExpressions.set(regex, resolved);
    for (const topic of resolved.topics) incRegexCount(this.subscribedTopicNames, topic);
  }

  removeResolvedRegularExpression(regex: string): void {
    const old = this.resolvedRegularExpressions.get(regex);
    if (old === undefined) return;
    this.resolvedRegularExpressions.delete(regex);
    for (const topic of old.topics) decRegexCount(this.subscribedTopicNames, topic);
  }

  lastResolvedRegularExpressionRefreshTimeMs(): number {
    const first = this.resolvedRegularExpressions.values().next();
    return first.done ? Number.MIN_SAFE_INTEGER : Number(first.value.timestamp);
  }

  lastResolvedRegularExpressionVersion(): bigint {
    const first = this.resolvedRegularExpressions.values().next();
    return first.done ? 0n : first.value.version;
  }

  numSubscribedMembers(regex: string): number {
    return this.subscribedRegularExpressions.get(regex) ?? 0;
  }

  /** The subscribed topic names if `oldMember` were replaced by `newMember` (computeSubscribedTopicNames). */
  computeSubscribedTopicNames(oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): Map<string, SubscriptionCount> {
    const names = new Map(this.subscribedTopicNames);
    updateSubscribedTopicNames(names, oldMember, newMember);
    const oldRegex = oldMember?.regex ?? null;
    if (oldRegex !== null && oldRegex !== (newMember?.regex ?? null) && this.numSubscribedMembers(oldRegex) === 1) {
      for (const topic of this.resolvedRegularExpressions.get(oldRegex)?.topics ?? []) decRegexCount(names, topic);
    }
    return names;
  }

  computeSubscribedRegularExpressions(oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): Map<string, number> {
    const oldRegex = oldMember?.regex ?? null;
    const newRegex = newMember?.regex ?? null;
    const regexes = new Map(this.subscribedRegularExpressions);
    if (oldRegex !== newRegex) {
      if (oldRegex !== null) decCount(regexes, oldRegex);
      if (newRegex !== null) incCount(regexes, newRegex);
    }
    return regexes;
  }

  /** The subscribed topic names without `removed` members and the regexes only they used. */
  computeSubscribedTopicNamesWithoutDeletedMembers(
    removed: readonly ConsumerGroupMember[],
    removedRegexes: ReadonlySet<string>,
  ): Map<string, SubscriptionCount> {
    const names = new Map(this.subscribedTopicNames);
    for (const member of removed) updateSubscribedTopicNames(names, member, null);
    for (const regex of removedRegexes) for (const topic of this.resolvedRegularExpressions.get(regex)?.topics ?? []) decRegexCount(names, topic);
    return names;
  }

  /** The assignor most members prefer (ties: the first in Java's HashMap order), or null when none names one. */
  computePreferredServerAssignor(oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): string | null {
    const counts = new Map(this.serverAssignors);
    updateServerAssignors(counts, oldMember, newMember);
    return preferred(counts);
  }

  preferredServerAssignor(): string | null {
    return preferred(this.serverAssignors);
  }

  /** Whether the member waits for partitions another member still owns (waitingOnUnreleasedPartition). */
  waitingOnUnreleasedPartition(member: ConsumerGroupMember): boolean {
    if (member.state !== MemberState.UNRELEASED_PARTITIONS) return false;
    for (const [topicId, partitions] of this.targetAssignmentOf(member.memberId)) {
      const assigned = member.assignedPartitions.get(topicId);
      for (const partition of partitions) {
        if (assigned?.has(partition)) continue;
        if (this.currentPartitionEpoch(topicId, partition) !== -1) return true;
      }
    }
    return false;
  }

  /**
   * ConsumerGroup.supportsClassicProtocols: a classic member may join when it is of the "consumer"
   * protocol type and supports a protocol every classic member supports (any, in an empty group).
   */
  supportsClassicProtocols(protocolType: string, protocolNames: ReadonlySet<string>): boolean {
    if (protocolType !== "consumer") return false;
    if (this.isEmpty) return protocolNames.size > 0;
    for (const name of protocolNames) if ((this.classicProtocolMembersSupportedProtocols.get(name) ?? 0) === this.numClassicProtocolMembers) return true;
    return false;
  }

  /** allMembersUseClassicProtocolExcept(member): every other member is classic, and `member` is not. */
  allMembersUseClassicProtocolExceptMember(member: ConsumerGroupMember): boolean {
    return this.numClassicProtocolMembers === this.members.size - 1 && !member.useClassicProtocol;
  }

  allMembersUseClassicProtocolExcept(excluded: readonly ConsumerGroupMember[]): boolean {
    const classic = excluded.filter((member) => member.useClassicProtocol).length;
    return this.numClassicProtocolMembers - classic === this.members.size - excluded.length;
  }

  #updateState(): void {
    let state: ConsumerGroupState = "Stable";
    if (this.members.size === 0) state = "Empty";
    else if (this.groupEpoch > this.assignmentEpoch) state = "Assigning";
    else {
      for (const member of this.members.values()) {
        if (!member.isReconciledTo(this.assignmentEpoch)) {
          state = "Reconciling";
          break;
        }
      }
    }
    this.state = state;
  }

  /** Deleted: requests for the group object still held see Dead. */
  markDead(): void {
    this.state = "Dead";
  }

  #updateSubscriptionType(): void {
    this.subscriptionType = consumerSubscriptionType(this.subscribedRegularExpressions, this.subscribedTopicNames, this.members.size);
  }

  #updateSubscribedRegex(oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): void {
    if (oldMember?.regex != null) decCount(this.subscribedRegularExpressions, oldMember.regex);
    if (newMember?.regex != null) incCount(this.subscribedRegularExpressions, newMember.regex);
  }

  #updateClassicMembers(oldMember: ConsumerGroupMember | null, newMember: ConsumerGroupMember | null): void {
    if (oldMember?.useClassicProtocol) this.numClassicProtocolMembers--;
    if (newMember?.useClassicProtocol) this.numClassicProtocolMembers++;
    for (const protocol of oldMember?.classicMemberMetadata?.supportedProtocols ?? []) decCount(this.classicProtocolMembersSupportedProtocols, protocol.name);
    for (const protocol of newMember?.classicMemberMetadata?.supportedProtocols ?? []) incCount(this.classicProtocolMembersSupportedProtocols, protocol.name);
  }

  #removePartitionEpochs(member: ConsumerGroupMember | null): void {
    if (member === null) return;
    this.#removeEpochs(member.assignedPartitions, member.memberEpoch);
    this.#removeEpochs(member.partitionsPendingRevocation, member.memberEpoch);
  }

  #removeEpochs(assignment: PartitionEpochs, expectedEpoch: number): void {
    for (const [topicId, partitions] of assignment) {
      const epochs = this.#currentPartitionEpoch.get(topicId);
      if (epochs === undefined) continue;
      for (const partition of partitions.keys()) if (epochs.get(partition) === expectedEpoch) epochs.delete(partition);
      if (epochs.size === 0) this.#currentPartitionEpoch.delete(topicId);
    }
  }

  #addPartitionEpochs(assignment: PartitionEpochs, epoch: number): void {
    for (const [topicId, partitions] of assignment) {
      let epochs = this.#currentPartitionEpoch.get(topicId);
      if (epochs === undefined) {
        epochs = new Map();
        this.#currentPartitionEpoch.set(topicId, epochs);
      }
      for (const partition of partitions.keys()) {
        const previous = epochs.get(partition);
        if (previous !== undefined && previous >= epoch) {
          throw new Error(`Cannot set the epoch of ${topicId}-${partition} to ${epoch} because the partition is still owned at epoch ${previous}`);
        }
        epochs.set(partition, epoch);
      }
    }
  }
}

function preferred(counts: ReadonlyMap<string, number>): string | null {
  let best: string | null = null;
  let bestCount = -1;
  for (const name of javaHashMapOrder(counts.keys())) {
    const count = counts.get(name) as number;
    if (count > bestCount) {
      best = name;
      bestCount = count;
    }
  }
  return best;
}
