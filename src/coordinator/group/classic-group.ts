// A group of the classic protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup): its members,
// generation, selected protocol and state, as Kafka 4.4's ClassicGroup and ClassicGroupMember
// keep them. The transitions and their error codes live in classic-protocol.ts; this file holds
// the state and the rules that only read it (protocol selection and support, member lookup).
//
//   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
//     ▲                    ▲     │                                            │ leader's SyncGroup
//     └── last member out ─┘     └──────── nobody left ──▶ Empty              ▼
//                                  member joins / leaves / expires ◀───── Stable
//   Dead: deleted (DeleteGroups, expiry); every request then gets COORDINATOR_NOT_AVAILABLE.

import { ErrorCode } from "../../protocol/errors.js";
import type { JoinGroupResponse } from "../../protocol/generated/join-group.js";
import type { SyncGroupResponse } from "../../protocol/generated/sync-group.js";

export type ClassicGroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

/** The protocol type of Kafka's consumers (ConsumerProtocol.PROTOCOL_TYPE). */
export const CONSUMER_PROTOCOL_TYPE = "consumer";

export interface ClassicProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export class ClassicMember {
  /** Set while the member waits in JoinGroup for the rebalance to complete. */
  awaitingJoin: ((response: JoinGroupResponse) => void) | null = null;
  /** Set while the member waits in SyncGroup for the leader's assignment. */
  awaitingSync: ((response: SyncGroupResponse) => void) | null = null;
  /** True until the member's first JoinGroup completes (KIP-394's new-member timeout applies). */
  isNew = false;
  assignment: Buffer = Buffer.alloc(0);

  constructor(
    readonly memberId: string,
    public groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: readonly ClassicProtocol[],
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  metadata(protocolName: string | null): Buffer | undefined {
    return this.protocols.find((protocol) => protocol.name === protocolName)?.metadata;
  }

  /** Whether `protocols` are the ones this member joined with (same names and metadata, same order). */
  matches(protocols: readonly ClassicProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((protocol, index) => {
      const mine = this.protocols[index] as ClassicProtocol;
      return mine.name === protocol.name && mine.metadata.equals(protocol.metadata);
    });
  }

  /** The member's preferred protocol among `candidates` (its first listed one that all support). */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((protocol) => candidates.has(protocol.name));
    if (choice === undefined) throw new Error(`member ${this.memberId} supports none of ${[...candidates]}`);
    return choice.name;
  }
}

export class ClassicGroup {
  readonly type = "classic";
  state: ClassicGroupState = "Empty";
  previousState: ClassicGroupState = "Empty";
  /** When the state last changed (ms); null until it first does. */
  currentStateTimestamp: number | null = null;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id → member id of each static member. */
  readonly staticMembers = new Map<string, string>();
  /** Members told MEMBER_ID_REQUIRED that have not joined with their id yet (KIP-394). */
  readonly pendingMembers = new Set<string>();
  /** Members that joined this generation and have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** Members awaiting a JoinGroup response. */
  numMembersAwaitingJoin = 0;
  /** How many members support each protocol name. */
  readonly #protocolSupport = new Map<string, number>();
  /** A member joined during this rebalance (the initial delay is extended for it). */
  newMemberAdded = false;

  constructor(
    readonly groupId: string,
    nowMs: number | null,
  ) {
    this.currentStateTimestamp = nowMs;
  }

  is(state: ClassicGroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: ClassicGroupState, nowMs: number): void {
    this.previousState = this.state;
    this.state = state;
    this.currentStateTimestamp = nowMs;
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  get isLeaderAssigned(): boolean {
    return this.leaderId !== null;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  add(member: ClassicMember, nowMs: number): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    for (const protocol of member.protocols) this.#protocolSupport.set(protocol.name, (this.#protocolSupport.get(protocol.name) ?? 0) + 1);
    if (this.leaderId === null) this.leaderId = member.memberId;
    if (member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    this.pendingMembers.delete(member.memberId);
    void nowMs;
  }

  remove(memberId: string): ClassicMember | undefined {
    this.pendingMembers.delete(memberId);
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    for (const protocol of member.protocols) this.#decrementSupport(protocol.name);
    if (member.isAwaitingJoin) this.numMembersAwaitingJoin--;
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) this.staticMembers.delete(member.groupInstanceId);
    this.pendingSyncMembers.delete(memberId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  /** Replaces a member's protocols (a rejoin with new ones). */
  updateProtocols(member: ClassicMember, protocols: readonly ClassicProtocol[]): void {
    for (const protocol of member.protocols) this.#decrementSupport(protocol.name);
    member.protocols = protocols;
    for (const protocol of protocols) this.#protocolSupport.set(protocol.name, (this.#protocolSupport.get(protocol.name) ?? 0) + 1);
  }

  #decrementSupport(name: string): void {
    const count = (this.#protocolSupport.get(name) ?? 0) - 1;
    if (count <= 0) this.#protocolSupport.delete(name);
    else this.#protocolSupport.set(name, count);
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /**
   * ClassicGroup.validateMember: UNKNOWN_MEMBER_ID when the member (or, for a static member, its
   * instance id) is not in the group, FENCED_INSTANCE_ID when the instance id is mapped to another
   * member id, else NONE.
   */
  validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const existing = this.staticMembers.get(groupInstanceId);
      if (existing === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      return existing === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
    }
    return this.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Whether a member with this protocol type and protocols may join (ClassicGroup.supportsProtocols). */
  supportsProtocols(protocolType: string, protocols: readonly ClassicProtocol[]): boolean {
    if (this.isEmpty) return protocolType !== "" && protocols.length > 0;
    return this.protocolType === protocolType && protocols.some((protocol) => this.#protocolSupport.get(protocol.name) === this.members.size);
  }

  /** The protocols every member supports. */
  candidateProtocols(): Set<string> {
    const candidates = new Set<string>();
    for (const [name, count] of this.#protocolSupport) if (count === this.members.size) candidates.add(name);
    return candidates;
  }

  /** The protocol with the most votes among the candidates (ties: the first voted for). */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.vote(candidates);
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    if (best === null) throw new Error(`group ${this.groupId} has no protocol all members support`);
    return best;
  }

  /** Every member has rejoined and no member id handed out is still pending. */
  hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  /** The largest rebalance timeout of the members: how long a rebalance waits for rejoins. */
  rebalanceTimeoutMs(): number {
    let timeout = 0;
    for (const member of this.members.values()) timeout = Math.max(timeout, member.rebalanceTimeoutMs);
    return timeout;
  }

  /** The members of the selected protocol's subscription, for the leader's JoinGroup response. */
  currentMemberMetadata(): { memberId: string; groupInstanceId: string | null; metadata: Buffer }[] {
    return [...this.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.metadata(this.protocolName) ?? Buffer.alloc(0),
    }));
  }

  /** Kafka's "uses the consumer protocol": offsets of such groups are kept while subscribed. */
  get usesConsumerProtocol(): boolean {
    return this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }
}
