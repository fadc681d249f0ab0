// The classic group protocol's transitions — JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the
// timers that drive a rebalance — as Kafka 4.4's GroupMetadataManager does them for classic
// groups (classicGroupJoin…, classicGroupSync…, classicGroupHeartbeat…, classicGroupLeave…),
// with the same error codes and the same order of checks. The state lives in ClassicGroup
// (classic-group.ts); the shard (shard.ts) writes GroupMetadata records.
//
// Timers (one key each, src/coordinator/timer.ts):
//   heartbeat-<group>-<member>  session timeout (new members: 5 minutes until their first join
//                               completes, as Kafka's classicGroupNewMemberJoinTimeoutMs)
//   pending-<group>-<member>    a member id handed out with MEMBER_ID_REQUIRED (KIP-394) expires
//   join-<group>                the rebalance (rebalance timeout, or the initial delay)
//   sync-<group>                members that joined must send SyncGroup within the rebalance timeout

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type { JoinGroupResponse } from "../../protocol/generated/join-group.js";
import type { LeaveGroupResponseMemberResponse } from "../../protocol/generated/leave-group.js";
import type { SyncGroupResponse } from "../../protocol/generated/sync-group.js";
import type { KeyedTimers } from "../timer.js";
import { ClassicGroup, ClassicMember, type ClassicProtocol } from "./classic-group.js";
import type { GroupCoordinatorConfig } from "./config.js";
import { groupMetadataRecord } from "./group-records.js";
import type { GroupShard } from "./shard.js";

/** Kafka's JoinGroupRequest.UNKNOWN_MEMBER_ID. */
export const UNKNOWN_MEMBER_ID = "";
/** How long a new member may take to complete its first join (Kafka: 5 minutes). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export interface JoinRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly ClassicProtocol[];
  readonly reason: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly apiVersion: number;
}

export interface SyncRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: readonly { memberId: string; assignment: Buffer }[];
}

export interface LeaveMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly reason: string | null;
}

export interface ClassicHost {
  readonly config: GroupCoordinatorConfig;
  readonly timers: KeyedTimers;
  readonly logger: Logger;
}

export function joinError(memberId: string, errorCode: number): JoinGroupResponse {
  return { throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: null, leader: "", skipAssignment: false, memberId, members: [] };
}

export function syncError(errorCode: number): SyncGroupResponse {
  return { throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
}

/** Kafka's appendGroupMetadataErrorToResponseError: the error a failed group write is answered with. */
function writeErrorCode(error: unknown): number {
  const code = error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return code;
  }
}

/** The classic group of this id (the coordinator sends requests for consumer groups elsewhere). */
function classicGroupOf(shard: GroupShard, groupId: string): ClassicGroup | undefined {
  const group = shard.groups.get(groupId);
  return group?.type === "classic" ? group : undefined;
}

const heartbeatKey = (groupId: string, memberId: string) => `heartbeat-${groupId}-${memberId}`;
const joinKey = (groupId: string) => `join-${groupId}`;
const syncKey = (groupId: string) => `sync-${groupId}`;

export class ClassicGroupProtocol {
  constructor(private readonly host: ClassicHost) {}

  // ------------------------------------------------------------------------------------------
  // JoinGroup

  /** A JoinGroup to a classic group (the coordinator checked the group id and session timeout). */
  join(shard: GroupShard, request: JoinRequest): Promise<JoinGroupResponse> {
    return new Promise<JoinGroupResponse>((respond) => {
      const now = Date.now();
      const isUnknownMember = request.memberId === UNKNOWN_MEMBER_ID;
      let group = classicGroupOf(shard, request.groupId);
      let isNewGroup = false;
      if (group === undefined) {
        // Kafka: getOrMaybeCreateClassicGroup(groupId, createIfNotExists = isUnknownMember).
        if (!isUnknownMember) return respond(joinError(request.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        group = new ClassicGroup(request.groupId, now);
        shard.groups.set(request.groupId, group);
        isNewGroup = true;
      }
      if (!this.#acceptJoiningMember(group, request.memberId)) {
        group.remove(request.memberId);
        respond(joinError(UNKNOWN_MEMBER_ID, ErrorCode.GROUP_MAX_SIZE_REACHED));
      } else if (isUnknownMember) {
        this.#joinNewMember(shard, group, request, respond);
      } else {
        this.#joinExistingMember(shard, group, request, respond);
      }
      // A new group is written at once (an empty GroupMetadata record) so it exists in the log.
      if (isNewGroup && shard.groups.get(request.groupId) === group && group.is("Empty") && group.generationId === 0) {
        try {
          shard.write([groupMetadataRecord(group)], now, false);
        } catch (error) {
          this.host.logger.warn({ group: group.groupId, err: error }, "could not write the new group");
        }
      }
    });
  }

  #acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.host.config.classicMaxSize;
    switch (group.state) {
      case "Empty":
      case "Dead":
        return true;
      case "PreparingRebalance": {
        const member = group.members.get(memberId);
        return member?.isAwaitingJoin === true || group.numMembersAwaitingJoin < max;
      }
      case "CompletingRebalance":
      case "Stable":
        return group.members.has(memberId) || group.members.size < max;
    }
  }

  #joinNewMember(shard: GroupShard, group: ClassicGroup, request: JoinRequest, respond: (r: JoinGroupResponse) => void): void {
    if (group.is("Dead")) {
      respond(joinError(request.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      respond(joinError(request.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    const newMemberId = `${request.clientId}-${randomUUID()}`;
    if (request.groupInstanceId !== null) {
      const existingMemberId = group.staticMemberId(request.groupInstanceId);
      if (existingMemberId !== undefined) {
        this.host.logger.info(
          { group: group.groupId, groupInstanceId: request.groupInstanceId, state: group.state, replaced: existingMemberId },
          "static member with unknown member id rejoins: replacing the member id mapped to its instance id",
        );
        this.#updateStaticMember(shard, group, request, existingMemberId, newMemberId, respond);
      } else {
        this.#addMember(shard, group, request, newMemberId, respond);
      }
      return;
    }
    if (request.apiVersion >= 4) {
      // KIP-394: the member must come back with the id it is given.
      group.pendingMembers.add(newMemberId);
      this.host.timers.schedule(heartbeatKey(group.groupId, newMemberId), request.sessionTimeoutMs, () => {
        if (shard.groups.get(group.groupId) === group && group.pendingMembers.delete(newMemberId)) {
          this.host.logger.debug({ group: group.groupId, member: newMemberId }, "pending member expired");
          if (group.is("PreparingRebalance") && group.hasAllMembersJoined()) this.#completeJoinPhase(shard, group);
        }
      });
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
      return;
    }
    this.#addMember(shard, group, request, newMemberId, respond);
  }

  #joinExistingMember(shard: GroupShard, group: ClassicGroup, request: JoinRequest, respond: (r: JoinGroupResponse) => void): void {
    const { memberId } = request;
    if (group.is("Dead")) {
      respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      respond(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    if (group.pendingMembers.has(memberId)) {
      // A pending member comes back with its id: it joins (pending members are never static).
      this.#addMember(shard, group, request, memberId, respond);
      return;
    }
    const invalid = this.#validateMember(group, memberId, request.groupInstanceId);
    if (invalid !== ErrorCode.NONE) {
      respond(joinError(memberId, invalid));
      return;
    }
    const member = group.members.get(memberId) as ClassicMember;
    switch (group.state) {
      case "PreparingRebalance":
        this.#updateMember(shard, group, member, request, respond);
        return;
      case "CompletingRebalance":
        if (member.matches(request.protocols)) {
          // The member lost the JoinGroup response: the current generation again.
          respond(this.#joinResponse(group, memberId, group.isLeader(memberId)));
          return;
        }
        this.#updateMember(shard, group, member, request, respond);
        return;
      case "Stable":
        if (group.isLeader(memberId) || !member.matches(request.protocols)) {
          // The leader rejoining forces a rebalance (topic metadata changes); so do new protocols.
          this.#updateMember(shard, group, member, request, respond);
          return;
        }
        respond(this.#joinResponse(group, memberId, false));
        return;
      default:
        // Empty: let the member reset its generation and rejoin.
        respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  #joinResponse(group: ClassicGroup, memberId: string, withMembers: boolean, skipAssignment = false): JoinGroupResponse {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      skipAssignment,
      memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  /** ClassicGroup.validateMember, logging a fenced static member as Kafka does. */
  #validateMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
    const error = group.validateMember(memberId, groupInstanceId);
    if (error === ErrorCode.FENCED_INSTANCE_ID) {
      this.host.logger.info(
        { group: group.groupId, groupInstanceId, memberId, existing: group.staticMemberId(groupInstanceId as string) },
        "static member fenced: its instance id is mapped to another member id",
      );
    }
    return error;
  }

  #addMember(shard: GroupShard, group: ClassicGroup, request: JoinRequest, memberId: string, respond: (r: JoinGroupResponse) => void): void {
    const member = new ClassicMember(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.clientHost,
      request.rebalanceTimeoutMs,
      request.sessionTimeoutMs,
      request.protocolType,
      request.protocols,
    );
    member.isNew = true;
    member.awaitingJoin = respond;
    // The initial rebalance is delayed further for each member that joins during it.
    if (group.is("PreparingRebalance") && group.previousState === "Empty") group.newMemberAdded = true;
    group.add(member, Date.now());
    this.#scheduleHeartbeat(shard, group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.host.logger.info(
      {
        group: group.groupId,
        member: memberId,
        clientId: request.clientId,
        clientHost: request.clientHost,
        generation: group.generationId,
        reason: request.reason ?? "not provided",
      },
      "added member to group",
    );
    this.#maybePrepareRebalanceOrCompleteJoin(shard, group, `Adding new member ${memberId} with group instance id ${request.groupInstanceId}`);
  }

  #updateMember(shard: GroupShard, group: ClassicGroup, member: ClassicMember, request: JoinRequest, respond: (r: JoinGroupResponse) => void): void {
    this.#setMemberJoin(group, member, request.protocols, request.rebalanceTimeoutMs, request.sessionTimeoutMs, respond);
    this.#maybePrepareRebalanceOrCompleteJoin(shard, group, `Updating metadata for member ${member.memberId} during ${group.state}`);
  }

  /** ClassicGroup.updateMember: new protocols and timeouts, and the JoinGroup to answer. */
  #setMemberJoin(
    group: ClassicGroup,
    member: ClassicMember,
    protocols: readonly ClassicProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    respond: ((r: JoinGroupResponse) => void) | null,
  ): void {
    group.updateProtocols(member, protocols);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (respond !== null) {
      if (member.awaitingJoin !== null) {
        // A retried JoinGroup replaces the one parked: the old one is answered now.
        member.awaitingJoin(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
      } else {
        group.numMembersAwaitingJoin++;
      }
      member.awaitingJoin = respond;
    } else if (member.awaitingJoin !== null) {
      member.awaitingJoin = null;
      group.numMembersAwaitingJoin--;
    }
  }

  #updateStaticMember(
    shard: GroupShard,
    group: ClassicGroup,
    request: JoinRequest,
    oldMemberId: string,
    newMemberId: string,
    respond: (r: JoinGroupResponse) => void,
  ): void {
    const currentLeader = group.leaderId;
    const member = this.#replaceStaticMember(group, request.groupInstanceId as string, oldMemberId, newMemberId);
    this.#scheduleHeartbeat(shard, group, member);
    const oldProtocols = member.protocols;
    const oldRebalanceTimeoutMs = member.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = member.sessionTimeoutMs;
    this.#setMemberJoin(group, member, request.protocols, request.rebalanceTimeoutMs, request.sessionTimeoutMs, respond);
    if (group.is("Stable")) {
      if ((group.protocolName ?? "") === group.selectProtocol()) {
        // The selected protocol does not change: no rebalance, the new member id is persisted.
        this.host.logger.info({ group: group.groupId, member: newMemberId }, "static member joined a stable group without changing its protocol: no rebalance");
        try {
          shard.write([groupMetadataRecord(group, this.#assignments(group))], Date.now(), false);
        } catch (error) {
          this.host.logger.warn(
            { group: group.groupId, member: newMemberId, err: error },
            "could not persist the static member: reverting to the old member id",
          );
          this.#setMemberJoin(group, member, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
          const old = this.#replaceStaticMember(group, request.groupInstanceId as string, newMemberId, oldMemberId);
          this.#scheduleHeartbeat(shard, group, old);
          respond({
            ...joinError(UNKNOWN_MEMBER_ID, writeErrorCode(error)),
            generationId: group.generationId,
            protocolType: group.protocolType,
            protocolName: group.protocolName,
            leader: currentLeader ?? "",
          });
          return;
        }
        const response =
          request.apiVersion >= 9
            ? this.#joinResponse(group, newMemberId, group.isLeader(newMemberId), group.isLeader(newMemberId))
            : { ...this.#joinResponse(group, newMemberId, false), leader: currentLeader ?? "" };
        this.#completeJoin(group, member, response);
        return;
      }
      this.#maybePrepareRebalanceOrCompleteJoin(
        shard,
        group,
        `Group's selectedProtocol will change because static member ${newMemberId} joined with change of protocol`,
      );
      return;
    }
    if (group.is("CompletingRebalance")) {
      // The leader may already have the old member id: rebalance so the new one gets an assignment.
      this.#prepareRebalance(shard, group, `Updating metadata for static member ${newMemberId} with instance id ${request.groupInstanceId}`);
      return;
    }
    this.#maybeCompleteJoinPhase(shard, group);
  }

  /** ClassicGroup.replaceStaticMember: the old member id is fenced, its place taken by the new one. */
  #replaceStaticMember(group: ClassicGroup, groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const old = group.members.get(oldMemberId);
    if (old === undefined) throw new Error(`cannot replace non-existing member ${oldMemberId}`);
    this.#completeJoin(group, old, { ...joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID) });
    this.#completeSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    this.host.timers.cancel(heartbeatKey(group.groupId, oldMemberId));
    const wasLeader = group.isLeader(oldMemberId);
    group.remove(oldMemberId);
    const member = new ClassicMember(
      newMemberId,
      groupInstanceId,
      old.clientId,
      old.clientHost,
      old.rebalanceTimeoutMs,
      old.sessionTimeoutMs,
      old.protocolType,
      old.protocols,
    );
    member.assignment = old.assignment;
    group.add(member, Date.now());
    if (wasLeader) group.leaderId = newMemberId;
    return member;
  }

  // ------------------------------------------------------------------------------------------
  // Rebalance

  #maybePrepareRebalanceOrCompleteJoin(shard: GroupShard, group: ClassicGroup, reason: string): void {
    if (group.is("Stable") || group.is("CompletingRebalance") || group.is("Empty")) this.#prepareRebalance(shard, group, reason);
    else this.#maybeCompleteJoinPhase(shard, group);
  }

  #maybeCompleteJoinPhase(shard: GroupShard, group: ClassicGroup): void {
    // The initial rebalance (from Empty) always waits its delay.
    if (group.is("PreparingRebalance") && group.hasAllMembersJoined() && group.previousState !== "Empty") this.#completeJoinPhase(shard, group);
  }

  #prepareRebalance(shard: GroupShard, group: ClassicGroup, reason: string): void {
    if (group.is("CompletingRebalance")) this.#resetAndPropagateAssignmentWithError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.host.timers.cancel(syncKey(group.groupId));
    const isInitialRebalance = group.is("Empty");
    if (isInitialRebalance) {
      const delayMs = this.host.config.classicInitialRebalanceDelayMs;
      const remainingMs = Math.max(group.rebalanceTimeoutMs() - delayMs, 0);
      this.#scheduleInitialJoin(shard, group, delayMs, remainingMs);
    }
    group.transitionTo("PreparingRebalance", Date.now());
    this.host.logger.info({ group: group.groupId, generation: group.generationId, reason }, "preparing to rebalance group");
    if (isInitialRebalance) return;
    if (group.hasAllMembersJoined()) {
      this.#completeJoinPhase(shard, group);
    } else {
      this.host.timers.schedule(joinKey(group.groupId), group.rebalanceTimeoutMs(), () => {
        if (this.#isCurrent(shard, group)) this.#completeJoinPhase(shard, group);
      });
    }
  }

  #scheduleInitialJoin(shard: GroupShard, group: ClassicGroup, delayMs: number, remainingMs: number): void {
    this.host.timers.schedule(joinKey(group.groupId), delayMs, () => {
      if (!this.#isCurrent(shard, group)) return;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const nextDelayMs = Math.min(this.host.config.classicInitialRebalanceDelayMs, remainingMs);
        this.#scheduleInitialJoin(shard, group, nextDelayMs, Math.max(remainingMs - delayMs, 0));
      } else {
        this.#completeJoinPhase(shard, group);
      }
    });
  }

  #isCurrent(shard: GroupShard, group: ClassicGroup): boolean {
    return shard.state === "active" && shard.groups.get(group.groupId) === group;
  }

  /** completeClassicGroupJoin: the join phase ends; next generation, or Empty. */
  #completeJoinPhase(shard: GroupShard, group: ClassicGroup): void {
    this.host.timers.cancel(joinKey(group.groupId));
    for (const member of [...group.members.values()]) {
      if (member.isAwaitingJoin || member.isStatic) continue;
      // Dynamic members that did not rejoin in time leave the group.
      group.remove(member.memberId);
      this.host.timers.cancel(heartbeatKey(group.groupId, member.memberId));
    }
    if (group.is("Dead")) return;
    if (!this.#electJoinedLeader(group) && group.members.size > 0) {
      this.host.logger.error({ group: group.groupId }, "group could not complete rebalance because no members rejoined");
      this.host.timers.schedule(joinKey(group.groupId), group.rebalanceTimeoutMs(), () => {
        if (this.#isCurrent(shard, group)) this.#completeJoinPhase(shard, group);
      });
      return;
    }
    const now = Date.now();
    group.generationId++;
    group.pendingSyncMembers.clear();
    if (group.members.size === 0) {
      group.protocolName = null;
      group.transitionTo("Empty", now);
      this.host.logger.info({ group: group.groupId, generation: group.generationId }, "group is now empty");
      try {
        shard.write([groupMetadataRecord(group)], now, false);
      } catch (error) {
        this.host.logger.warn({ group: group.groupId, err: error }, "failed to write the empty group's metadata");
      }
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo("CompletingRebalance", now);
    this.host.logger.info({ group: group.groupId, generation: group.generationId, members: group.members.size }, "stabilized group");
    for (const member of group.members.values()) {
      this.#completeJoin(group, member, this.#joinResponse(group, member.memberId, group.isLeader(member.memberId)));
      this.#scheduleHeartbeat(shard, group, member);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    const generation = group.generationId;
    this.host.timers.schedule(syncKey(group.groupId), group.rebalanceTimeoutMs(), () => this.#expirePendingSync(shard, group, generation));
  }

  /** maybeElectNewJoinedLeader: the leader must be a member that rejoined. */
  #electJoinedLeader(group: ClassicGroup): boolean {
    if (group.leaderId === null) return false;
    const leader = group.members.get(group.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const member of group.members.values()) {
      if (member.isAwaitingJoin) {
        group.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  #expirePendingSync(shard: GroupShard, group: ClassicGroup, generation: number): void {
    if (!this.#isCurrent(shard, group) || generation !== group.generationId) return;
    if (!(group.is("CompletingRebalance") || group.is("Stable")) || group.pendingSyncMembers.size === 0) return;
    const pending = [...group.pendingSyncMembers];
    for (const memberId of pending) {
      group.remove(memberId);
      this.host.timers.cancel(heartbeatKey(group.groupId, memberId));
    }
    this.#prepareRebalance(shard, group, `Removing ${pending.join(", ")} on pending sync request expiration`);
  }

  #completeJoin(group: ClassicGroup, member: ClassicMember, response: JoinGroupResponse): boolean {
    const respond = member.awaitingJoin;
    if (respond === null) return false;
    member.awaitingJoin = null;
    group.numMembersAwaitingJoin--;
    respond(response);
    return true;
  }

  #completeSync(member: ClassicMember, response: SyncGroupResponse): boolean {
    const respond = member.awaitingSync;
    if (respond === null) return false;
    member.awaitingSync = null;
    respond(response);
    return true;
  }

  #resetAndPropagateAssignmentWithError(group: ClassicGroup, errorCode: number): void {
    for (const member of group.members.values()) member.assignment = Buffer.alloc(0);
    this.#propagateAssignment(group, errorCode);
  }

  #propagateAssignment(group: ClassicGroup, errorCode: number, shard?: GroupShard): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const member of group.members.values()) {
      const sent = this.#completeSync(member, {
        throttleTimeMs: 0,
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: member.assignment,
      });
      // The session restarts once the member has its assignment.
      if (sent && shard !== undefined) this.#scheduleHeartbeat(shard, group, member);
    }
  }

  #assignments(group: ClassicGroup): Map<string, Buffer> {
    return new Map([...group.members.values()].map((member) => [member.memberId, member.assignment]));
  }

  // ------------------------------------------------------------------------------------------
  // SyncGroup

  sync(shard: GroupShard, request: SyncRequest): Promise<SyncGroupResponse> {
    return new Promise<SyncGroupResponse>((respond) => {
      const group = classicGroupOf(shard, request.groupId);
      if (group === undefined || group.is("Empty")) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      const invalid = this.#validateSync(group, request);
      if (invalid !== ErrorCode.NONE) return respond(syncError(invalid));
      if (group.is("PreparingRebalance")) return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      const member = group.members.get(request.memberId) as ClassicMember;
      if (group.is("Stable")) {
        group.pendingSyncMembers.delete(request.memberId);
        return respond({
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
      }
      // CompletingRebalance: wait for the leader's assignment.
      if (member.awaitingSync !== null) member.awaitingSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      member.awaitingSync = respond;
      group.pendingSyncMembers.delete(request.memberId);
      if (group.pendingSyncMembers.size === 0) this.host.timers.cancel(syncKey(group.groupId));
      if (!group.isLeader(request.memberId)) return;
      this.host.logger.info(
        { group: group.groupId, leader: request.memberId, generation: group.generationId, members: group.members.size, static: group.staticMembers.size },
        "assignment received from leader",
      );
      const assignment = new Map<string, Buffer>();
      for (const entry of request.assignments) assignment.set(entry.memberId, entry.assignment);
      const missing = [...group.members.keys()].filter((memberId) => !assignment.has(memberId));
      for (const memberId of missing) assignment.set(memberId, Buffer.alloc(0));
      if (missing.length > 0)
        this.host.logger.warn({ group: group.groupId, members: missing, generation: group.generationId }, "setting empty assignments for members");
      try {
        shard.write([groupMetadataRecord(group, assignment)], Date.now(), false);
      } catch (error) {
        const code = writeErrorCode(error);
        this.#resetAndPropagateAssignmentWithError(group, code);
        this.#maybePrepareRebalanceOrCompleteJoin(shard, group, `Error ${code} when storing group assignment during SyncGroup (member: ${request.memberId}).`);
        return;
      }
      for (const [memberId, bytes] of assignment) {
        const target = group.members.get(memberId);
        if (target !== undefined) target.assignment = bytes;
      }
      this.#propagateAssignment(group, ErrorCode.NONE, shard);
      group.transitionTo("Stable", Date.now());
    });
  }

  #validateSync(group: ClassicGroup, request: SyncRequest): number {
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const invalid = this.#validateMember(group, request.memberId, request.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return invalid;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const inconsistent = (given: string | null, current: string | null) => given !== null && current !== null && given !== current;
    if (inconsistent(request.protocolType, group.protocolType) || inconsistent(request.protocolName, group.protocolName))
      return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    return ErrorCode.NONE;
  }

  // ------------------------------------------------------------------------------------------
  // Heartbeat and session expiry

  heartbeat(shard: GroupShard, groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const group = classicGroupOf(shard, groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const invalid = this.#validateMember(group, memberId, groupInstanceId);
    if (invalid !== ErrorCode.NONE) return invalid;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(memberId) as ClassicMember;
    switch (group.state) {
      case "Empty":
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case "PreparingRebalance":
        this.#scheduleHeartbeat(shard, group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        // CompletingRebalance too: consumers may heartbeat between JoinGroup and SyncGroup.
        this.#scheduleHeartbeat(shard, group, member);
        return ErrorCode.NONE;
    }
  }

  #scheduleHeartbeat(shard: GroupShard, group: ClassicGroup, member: ClassicMember, timeoutMs = member.sessionTimeoutMs): void {
    const memberId = member.memberId;
    this.host.timers.schedule(heartbeatKey(group.groupId, memberId), timeoutMs, () => {
      if (!this.#isCurrent(shard, group)) return;
      const current = group.members.get(memberId);
      if (current === undefined) return;
      // Members waiting in JoinGroup or SyncGroup satisfy the session (new members do not).
      if (!current.isNew && (current.isAwaitingJoin || current.awaitingSync !== null)) return;
      this.host.logger.info({ group: group.groupId, member: memberId }, "member failed its session timeout: removing it from the group");
      this.#removeMemberAndUpdateGroup(shard, group, current, `removing member ${memberId} on heartbeat expiration.`);
    });
  }

  #removeMemberAndUpdateGroup(shard: GroupShard, group: ClassicGroup, member: ClassicMember, reason: string): void {
    // A member removed while waiting in JoinGroup is told to rejoin (it may still be alive); a
    // parked SyncGroup is answered too rather than left to the client's request timeout.
    this.#completeJoin(group, member, joinError(UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID));
    this.#completeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    if (group.is("Stable") || group.is("CompletingRebalance")) this.#prepareRebalance(shard, group, reason);
    else if (group.is("PreparingRebalance") && group.hasAllMembersJoined()) this.#completeJoinPhase(shard, group);
  }

  // ------------------------------------------------------------------------------------------
  // LeaveGroup

  /** LeaveGroup for `members`; a group-level error code or the per-member responses. */
  leave(shard: GroupShard, groupId: string, members: readonly LeaveMember[]): number | LeaveGroupResponseMemberResponse[] {
    const group = classicGroupOf(shard, groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is("Dead")) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const responses: LeaveGroupResponseMemberResponse[] = [];
    const left: string[] = [];
    for (const identity of members) {
      const response: LeaveGroupResponseMemberResponse = { memberId: identity.memberId, groupInstanceId: identity.groupInstanceId, errorCode: ErrorCode.NONE };
      responses.push(response);
      const reason = identity.reason ?? "not provided";
      if (identity.memberId === UNKNOWN_MEMBER_ID) {
        // Administrative removal by instance id (kafka-consumer-groups --delete of static members).
        const memberId = identity.groupInstanceId === null ? undefined : group.staticMemberId(identity.groupInstanceId);
        if (memberId === undefined) {
          response.errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
        } else {
          this.#removeCurrentMember(group, memberId, reason);
          left.push(identity.memberId);
        }
      } else if (group.pendingMembers.has(identity.memberId)) {
        group.pendingMembers.delete(identity.memberId);
        this.host.timers.cancel(heartbeatKey(groupId, identity.memberId));
        this.host.logger.info({ group: groupId, member: identity.memberId, reason }, "pending member left the group");
        left.push(identity.memberId);
      } else {
        const invalid = this.#validateMember(group, identity.memberId, identity.groupInstanceId);
        if (invalid !== ErrorCode.NONE) {
          response.errorCode = invalid;
        } else {
          this.#removeCurrentMember(group, identity.memberId, reason);
          left.push(identity.memberId);
        }
      }
    }
    if (left.length > 0) {
      const reason = `explicit \`LeaveGroup\` request for (${left.join(", ")}) members.`;
      if (group.is("Stable") || group.is("CompletingRebalance")) this.#maybePrepareRebalanceOrCompleteJoin(shard, group, reason);
      else if (group.is("PreparingRebalance")) this.#maybeCompleteJoinPhase(shard, group);
    }
    return responses;
  }

  #removeCurrentMember(group: ClassicGroup, memberId: string, reason: string): void {
    const member = group.members.get(memberId) as ClassicMember;
    this.host.timers.cancel(heartbeatKey(group.groupId, memberId));
    this.host.logger.info({ group: group.groupId, member: memberId, reason }, "member left the group");
    this.#completeJoin(group, member, joinError(UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID));
    this.#completeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(memberId);
  }

  // ------------------------------------------------------------------------------------------
  // Loading, deletion

  /** After a load: every member of a loaded group gets its session timer (Kafka's onLoaded). */
  onLoaded(shard: GroupShard): void {
    for (const group of shard.groups.values()) {
      if (group.type !== "classic") continue;
      for (const member of group.members.values()) this.#scheduleHeartbeat(shard, group, member);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Online migration (consumer-group-protocol.ts converts; these are the classic side's parts)

  /**
   * convertToConsumerGroup (completeAllJoinFutures / completeAllSyncFutures): the group became a
   * consumer group; requests parked in JoinGroup and SyncGroup are answered REBALANCE_IN_PROGRESS,
   * so the members rejoin the consumer group, and the group's timers end.
   */
  upgraded(group: ClassicGroup): void {
    for (const member of group.members.values()) {
      this.host.timers.cancel(heartbeatKey(group.groupId, member.memberId));
      this.#completeJoin(group, member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
      this.#completeSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    this.host.timers.cancel(joinKey(group.groupId));
    this.host.timers.cancel(syncKey(group.groupId));
    for (const memberId of group.pendingMembers) this.host.timers.cancel(heartbeatKey(group.groupId, memberId));
  }

  /**
   * convertToClassicGroup: a consumer group became `group` (already in the shard); each member's
   * session starts, and the group prepares a rebalance when `rebalanceReason` is given.
   */
  downgraded(shard: GroupShard, group: ClassicGroup, rebalanceReason: string | null): void {
    for (const member of group.members.values()) this.#scheduleHeartbeat(shard, group, member);
    if (rebalanceReason !== null) this.#prepareRebalance(shard, group, rebalanceReason);
  }

  /** A deleted or unloaded group: its parked requests are answered and its timers cancelled. */
  drop(group: ClassicGroup): void {
    this.host.timers.cancel(joinKey(group.groupId));
    this.host.timers.cancel(syncKey(group.groupId));
    for (const member of group.members.values()) {
      this.host.timers.cancel(heartbeatKey(group.groupId, member.memberId));
      this.#completeJoin(group, member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
      this.#completeSync(member, syncError(ErrorCode.NOT_COORDINATOR));
    }
    for (const memberId of group.pendingMembers) this.host.timers.cancel(heartbeatKey(group.groupId, memberId));
  }
}
