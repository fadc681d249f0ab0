// The KIP-848 consumer group protocol — ConsumerGroupHeartbeat (join, heartbeat, leave, static
// leave), the session and rebalance timeouts, regular-expression subscriptions and metadata
// changes — as Kafka 4.4's GroupMetadataManager does it (consumerGroupHeartbeat, consumerGroupLeave,
// consumerGroupFenceMembers, maybeUpdateRegularExpressions, updateSubscriptionMetadata,
// maybeUpdateTargetAssignment, maybeReconcile), with the same checks in the same order, the same
// error codes and messages, and the same records.
//
// An operation reads the group as it is, collects the records its decisions produce, and writes
// them with shard.write(records, now, replay=true): the group changes only by replaying them, as at
// load (Kafka's CoordinatorResult, replayed by the runtime). Records of one operation go in one batch.
//
// Online migration (group.consumer.migration.policy, KIP-848): a ConsumerGroupHeartbeat joining a
// non-empty classic group of the "consumer" protocol type converts it (convertToConsumerGroup); classic
// members then live in the consumer group (classicGroupJoin/Sync/Heartbeat/LeaveToConsumerGroup: their
// subscription and owned partitions come from their JoinGroup metadata, the server assignor gives their
// assignment, sent back in SyncGroup, and Heartbeat answers REBALANCE_IN_PROGRESS when they must rejoin);
// when the last consumer-protocol member leaves a group of classic members, it converts back
// (convertToClassicGroup). The conversions themselves are in migration.ts. A conversion to a classic
// group is written without replay (Kafka's replayRecords=false): the classic group is put in place
// after the write, as classic groups are.
//
// Timers (one key each, src/coordinator/timer.ts):
//   session-timeout-<group>-<member>    fenced when no heartbeat for group.consumer.session.timeout.ms
//                                       (classic members: their JoinGroup session timeout)
//   rebalance-timeout-<group>-<member>  fenced when it keeps partitions to revoke past its rebalance timeout
//   join-<group>-<member>               a classic member told to rejoin is fenced if it does not within its rebalance timeout
//   sync-<group>-<member>               a classic member that joined is fenced if it does not sync within its rebalance timeout
// Regular expressions are resolved off the request path (Kafka's executor, key <group>-regex): the
// result is written by a later operation that bumps the group epoch when the topics changed.

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { RE2JS } from "re2js";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type {
  ConsumerGroupHeartbeatRequestTopicPartitions,
  ConsumerGroupHeartbeatResponse,
  ConsumerGroupHeartbeatResponseAssignment,
} from "../../protocol/generated/consumer-group-heartbeat.js";
import type { JoinGroupResponse } from "../../protocol/generated/join-group.js";
import type { LeaveGroupResponseMemberResponse } from "../../protocol/generated/leave-group.js";
import type { SyncGroupResponse } from "../../protocol/generated/sync-group.js";
import type { KeyedTimers } from "../timer.js";
import {
  type ConsumerGroupPartitionAssignor,
  createGroupSpec,
  type MemberSpec,
  PartitionAssignorException,
  type SubscribedTopicDescriber,
  type SubscriptionType,
} from "./assignor/index.js";
import { type ClassicGroup, type ClassicProtocol, CONSUMER_PROTOCOL_TYPE } from "./classic-group.js";
import { type JoinRequest, joinError, type LeaveMember, type SyncRequest } from "./classic-protocol.js";
import type { GroupCoordinatorConfig } from "./config.js";
import {
  type Assignment,
  ConsumerGroup,
  type ConsumerGroupMember,
  consumerSubscriptionType,
  decRegexCount,
  EMPTY_ASSIGNMENT,
  EMPTY_RESOLVED_REGEX,
  incRegexCount,
  javaHashSetOf,
  MemberState,
  memberStateName,
  type PartitionEpochs,
  type ResolvedRegularExpression,
  type SubscriptionCount,
  sameAssignment,
  samePartitionEpochs,
} from "./consumer-group.js";
import { type ConsumerProtocolSubscription, decodeSubscription, deserializeVersion, encodeAssignment, SchemaError } from "./consumer-protocol.js";
import { computeCurrentAssignment } from "./current-assignment.js";
import {
  consumerGroupCurrentAssignmentRecord,
  consumerGroupCurrentAssignmentTombstone,
  consumerGroupEpochRecord,
  consumerGroupEpochTombstone,
  consumerGroupMemberSubscriptionRecord,
  consumerGroupMemberSubscriptionTombstone,
  consumerGroupRegularExpressionRecord,
  consumerGroupRegularExpressionTombstone,
  consumerGroupSubscriptionMetadataTombstone,
  consumerGroupTargetAssignmentMetadataRecord,
  consumerGroupTargetAssignmentMetadataTombstone,
  consumerGroupTargetAssignmentRecord,
  consumerGroupTargetAssignmentTombstone,
  groupTombstone,
} from "./group-records.js";
import {
  CustomAssignorUserData,
  classicGroupFromConsumerGroup,
  classicGroupRecords,
  consumerGroupFromClassicGroup,
  consumerGroupRecords,
  toConsumerProtocolAssignment,
} from "./migration.js";
import type { GroupShard, RecordToWrite } from "./shard.js";
import type { TopicImage } from "./topic-image.js";

/** ConsumerGroupHeartbeatRequest.LEAVE_GROUP_MEMBER_EPOCH / LEAVE_GROUP_STATIC_MEMBER_EPOCH. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
/** GroupMetadataManager.METADATA_REFRESH_INTERVAL_MS: the subscription metadata is refreshed on demand only. */
const METADATA_REFRESH_INTERVAL_MS = 2_147_483_647;
/** REGEX_BATCH_REFRESH_MIN_INTERVAL_MS. */
const REGEX_BATCH_REFRESH_MIN_INTERVAL_MS = 10_000;

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: string | null;
  readonly topicPartitions: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null;
  readonly clientId: string;
  /** InetAddress.toString() of the client: "/127.0.0.1". */
  readonly clientHost: string;
  readonly apiVersion: number;
}

export interface ConsumerHost {
  readonly config: GroupCoordinatorConfig;
  readonly timers: KeyedTimers;
  readonly logger: Logger;
  readonly image: TopicImage;
  /** group.consumer.assignors by name; the first is the default. */
  readonly assignors: ReadonlyMap<string, ConsumerGroupPartitionAssignor>;
  /** A classic group being replaced (its timers and parked requests end). */
  dropClassic(group: ClassicGroup): void;
  /** A classic group converted to a consumer group: its parked JoinGroup and SyncGroup are answered REBALANCE_IN_PROGRESS, its timers end. */
  classicUpgraded(group: ClassicGroup): void;
  /** A consumer group converted to `group` (now in the shard): the members' sessions start, and a rebalance when `rebalanceReason` is given. */
  classicDowngraded(shard: GroupShard, group: ClassicGroup, rebalanceReason: string | null): void;
  /** The shard a group id belongs to, when active (timers and regex results run later). */
  activeShard(groupId: string): GroupShard | undefined;
}

export function heartbeatError(errorCode: number, errorMessage: string | null = null): ConsumerGroupHeartbeatResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

/** ApiError.fromThrowable + CoordinatorOperationExceptionHelper: the code and message a failed operation is answered with. */
export function operationError(error: unknown): { errorCode: number; errorMessage: string | null } {
  if (!(error instanceof KafkaError)) return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null };
  switch (error.code) {
    case ErrorCode.UNKNOWN_SERVER_ERROR:
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null };
    case ErrorCode.NETWORK_EXCEPTION:
      return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, errorMessage: null };
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.REQUEST_TIMED_OUT:
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null };
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return { errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: null };
    default:
      return { errorCode: error.code, errorMessage: error.message === new KafkaError(error.code).message ? null : error.message };
  }
}

/** org.apache.kafka.common.Uuid.randomUuid().toString(): 16 random bytes in base64url, never starting with "-". */
export function randomKafkaUuid(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll("-", ""), "hex").toString("base64url");
    if (!id.startsWith("-") && id !== "AAAAAAAAAAAAAAAAAAAAAA" && id !== "AAAAAAAAAAAAAAAAAAAAAQ") return id;
  }
}

export const sessionTimeoutKey = (groupId: string, memberId: string) => `session-timeout-${groupId}-${memberId}`;
export const rebalanceTimeoutKey = (groupId: string, memberId: string) => `rebalance-timeout-${groupId}-${memberId}`;
/** consumerGroupJoinKey / consumerGroupSyncKey: a classic member's rejoin and sync deadlines. */
export const consumerGroupJoinKey = (groupId: string, memberId: string) => `join-${groupId}-${memberId}`;
export const consumerGroupSyncKey = (groupId: string, memberId: string) => `sync-${groupId}-${memberId}`;

/**
 * What an operation writes (Kafka's CoordinatorResult): its records, whether they are replayed
 * (false for a conversion to a classic group, whose state is put in place by `after`), and what
 * follows a successful write.
 */
export interface Operation {
  readonly records: RecordToWrite[];
  readonly replay: boolean;
  readonly after: readonly (() => void)[];
}

/** Writes an operation's records in one batch, then runs what follows the write. */
export function applyOperation(shard: GroupShard, operation: Operation, nowMs: number): void {
  shard.write(operation.records, nowMs, operation.replay);
  for (const after of operation.after) after();
}

/** ConsumerGroupMigrationPolicy.isUpgradeEnabled / isDowngradeEnabled. */
const upgradeEnabled = (policy: string) => policy === "upgrade" || policy === "bidirectional";
const downgradeEnabled = (policy: string) => policy === "downgrade" || policy === "bidirectional";

type RegexStatus = "NO_CHANGE" | "REGEX_UPDATED" | "REGEX_UPDATED_AND_RESOLVED";

function assignmentResponse(partitions: PartitionEpochs): ConsumerGroupHeartbeatResponseAssignment {
  return { topicPartitions: [...partitions].map(([topicId, epochs]) => ({ topicId, partitions: [...epochs.keys()] })) };
}

/** Utils.throwIfRegularExpressionIsInvalid (RE2/J syntax: re2js). */
export function throwIfRegularExpressionIsInvalid(regex: string): void {
  try {
    RE2JS.compile(regex);
  } catch (error) {
    const description = (error as { getDescription?: () => string }).getDescription?.() ?? (error as Error).message;
    throw new KafkaError("INVALID_REGULAR_EXPRESSION", `SubscribedTopicRegex \`${regex}\` is not a valid regular expression: ${description}.`);
  }
}

/** isSubset: every owned partition is in `target`. */
function isSubset(owned: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null, target: PartitionEpochs): boolean {
  if (owned === null) return false;
  for (const topic of owned) {
    const partitions = target.get(topic.topicId);
    if (partitions === undefined) return false;
    for (const partition of topic.partitions) if (!partitions.has(partition)) return false;
  }
  return true;
}

export class ConsumerGroupProtocol {
  /** Regex resolutions scheduled and not yet handled (Kafka's executor keys). */
  readonly #regexScheduled = new Set<string>();

  constructor(private readonly host: ConsumerHost) {}

  get #log(): Logger {
    return this.host.logger;
  }

  get #defaultAssignor(): ConsumerGroupPartitionAssignor {
    return this.host.assignors.values().next().value as ConsumerGroupPartitionAssignor;
  }

  // ------------------------------------------------------------------------------------------
  // ConsumerGroupHeartbeat

  /** A heartbeat the coordinator validated (GroupCoordinatorService checks); throws KafkaError. */
  heartbeat(shard: GroupShard, request: HeartbeatRequest, nowMs: number): ConsumerGroupHeartbeatResponse {
    if (request.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || request.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      return this.#leave(shard, request, nowMs);
    }
    const records: RecordToWrite[] = [];
    const after: (() => void)[] = [];
    const { groupId, memberEpoch, instanceId } = request;
    const createIfNotExists = memberEpoch === 0;
    const group = this.#getOrMaybeCreateConsumerGroup(shard, groupId, createIfNotExists, records, after);
    this.#throwIfConsumerGroupIsFull(group, request.memberId, instanceId);
    const memberId = request.memberId === "" ? randomKafkaUuid() : request.memberId;
    const member =
      instanceId === null
        ? this.#getOrMaybeSubscribeDynamicMember(group, memberId, memberEpoch, request.topicPartitions, createIfNotExists, false)
        : this.#getOrMaybeSubscribeStaticMember(group, memberId, memberEpoch, instanceId, request.topicPartitions, createIfNotExists, false, records);
    let updatedMember = member.with({
      instanceId: instanceId ?? member.instanceId,
      rackId: request.rackId ?? member.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs !== -1 ? request.rebalanceTimeoutMs : member.rebalanceTimeoutMs,
      serverAssignorName: request.serverAssignor ?? member.serverAssignorName,
      subscribedTopicNames: request.subscribedTopicNames !== null ? javaHashSetOf(request.subscribedTopicNames) : member.subscribedTopicNames,
      subscribedTopicRegex: request.subscribedTopicRegex ?? member.subscribedTopicRegex,
      clientId: request.clientId,
      clientHost: request.clientHost,
      classicMemberMetadata: null,
    });

    const subscribedTopicNamesChanged = this.#hasMemberSubscriptionChanged(groupId, member, updatedMember, records);
    const regexStatus = this.#maybeUpdateRegularExpressions(shard, group, member, updatedMember, records, nowMs);
    const preferredServerAssignorChanged = this.#hasPreferredServerAssignorChanged(group, member, updatedMember);
    const hasSubscriptionChanged = subscribedTopicNamesChanged || regexStatus !== "NO_CHANGE";
    let groupEpoch = group.groupEpoch;
    let subscriptionType = group.subscriptionType;
    const bumpGroupEpoch = subscribedTopicNamesChanged || regexStatus === "REGEX_UPDATED_AND_RESOLVED" || preferredServerAssignorChanged;
    if (bumpGroupEpoch || group.hasMetadataExpired(nowMs)) {
      ({ groupEpoch, subscriptionType } = this.#updateSubscriptionMetadata(group, bumpGroupEpoch, member, updatedMember, records, nowMs));
    }
    const target = this.#maybeUpdateTargetAssignment(group, groupEpoch, member, updatedMember, subscriptionType, records, nowMs);
    updatedMember = this.#maybeReconcile(
      groupId,
      updatedMember,
      group,
      target.epoch,
      target.assignment,
      hasSubscriptionChanged,
      request.topicPartitions,
      records,
    );
    this.#scheduleSessionTimeout(groupId, memberId);

    applyOperation(shard, { records, replay: true, after }, nowMs);

    const response: ConsumerGroupHeartbeatResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: updatedMember.memberId,
      memberEpoch: updatedMember.memberEpoch,
      heartbeatIntervalMs: this.host.config.consumerHeartbeatIntervalMs,
      assignment: null,
    };
    const isFullRequest =
      request.rebalanceTimeoutMs !== -1 && (request.subscribedTopicNames !== null || request.subscribedTopicRegex !== null) && request.topicPartitions !== null;
    if (memberEpoch === 0 || isFullRequest || !samePartitionEpochs(member.assignedPartitions, updatedMember.assignedPartitions)) {
      response.assignment = assignmentResponse(updatedMember.assignedPartitions);
    }
    return response;
  }

  /**
   * getOrMaybeCreateConsumerGroup: a new group is only created by replaying the records written;
   * a non-empty classic group is converted (online upgrade) when validateOnlineUpgrade allows it.
   * `after` gets what must follow the write.
   */
  #getOrMaybeCreateConsumerGroup(
    shard: GroupShard,
    groupId: string,
    createIfNotExists: boolean,
    records: RecordToWrite[],
    after: (() => void)[],
  ): ConsumerGroup {
    const group = shard.groups.get(groupId);
    if (group === undefined) {
      if (!createIfNotExists) throw new KafkaError("GROUP_ID_NOT_FOUND", `Consumer group ${groupId} not found.`);
      return new ConsumerGroup(groupId);
    }
    if (createIfNotExists && group.type === "classic" && group.is("Empty")) {
      // maybeDeleteEmptyClassicGroup: the empty classic group is replaced.
      this.host.dropClassic(group);
      records.push(groupTombstone(groupId));
      this.#log.info({ group: groupId }, "converted the empty classic group to a consumer group");
      return new ConsumerGroup(groupId);
    }
    if (group.type === "consumer") return group;
    if (createIfNotExists && group.type === "classic") {
      this.#validateOnlineUpgrade(group);
      return this.#convertToConsumerGroup(group, records, after);
    }
    throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} is not a consumer group.`);
  }

  /** validateOnlineUpgrade: the policy allows it, the group uses the consumer protocol and fits group.consumer.max.size. */
  #validateOnlineUpgrade(classic: ClassicGroup): void {
    const groupId = classic.groupId;
    const refuse = (reason: string) => {
      this.#log.info({ group: groupId }, `cannot upgrade classic group to consumer group because ${reason}`);
      return new KafkaError("GROUP_ID_NOT_FOUND", `Cannot upgrade classic group ${groupId} to consumer group because ${reason}.`);
    };
    if (!upgradeEnabled(this.host.config.consumerMigrationPolicy)) throw refuse("online upgrade is disabled");
    if (!classic.usesConsumerProtocol) throw refuse("the group does not use the consumer embedded protocol");
    if (classic.members.size > this.host.config.consumerMaxSize) throw refuse("the group size exceeds the consumer group maximum size");
  }

  /**
   * convertToConsumerGroup: the classic group's tombstone and the consumer group's records; the
   * group the rest of the operation works on. After the write, the classic group's parked requests
   * are answered REBALANCE_IN_PROGRESS and each member's session starts with its classic timeout.
   */
  #convertToConsumerGroup(classic: ClassicGroup, records: RecordToWrite[], after: (() => void)[]): ConsumerGroup {
    const groupId = classic.groupId;
    records.push(groupTombstone(groupId));
    let group: ConsumerGroup;
    try {
      group = consumerGroupFromClassicGroup(classic, this.host.image);
    } catch (error) {
      if (error instanceof SchemaError) {
        this.#log.warn({ group: groupId, err: error }, "cannot upgrade classic group to consumer group because the embedded consumer protocol is malformed");
        throw new KafkaError(
          "GROUP_ID_NOT_FOUND",
          `Cannot upgrade classic group ${groupId} to consumer group because the embedded consumer protocol is malformed.`,
        );
      }
      if (error instanceof CustomAssignorUserData) {
        this.#log.warn({ group: groupId, err: error }, "cannot upgrade classic group to consumer group");
        throw new KafkaError(
          "GROUP_ID_NOT_FOUND",
          `Cannot upgrade classic group ${groupId} to consumer group because an unsupported custom assignor is in use. Please refer to the documentation or switch to a default assignor before re-attempting the upgrade.`,
        );
      }
      throw error;
    }
    records.push(...consumerGroupRecords(group));
    const members = [...group.members.values()];
    after.push(() => {
      this.host.classicUpgraded(classic);
      for (const member of members) this.#scheduleSessionTimeout(groupId, member.memberId, member.classicProtocolSessionTimeout);
      this.#log.info({ group: groupId, members: members.length }, "converted the classic group to a consumer group");
    });
    return group;
  }

  #throwIfConsumerGroupIsFull(group: ConsumerGroup, memberId: string, instanceId: string | null): void {
    if (group.hasStaticMember(instanceId)) return;
    const max = this.host.config.consumerMaxSize;
    if (group.numMembers >= max && (memberId === "" || !group.hasMember(memberId))) {
      throw new KafkaError("GROUP_MAX_SIZE_REACHED", `The consumer group has reached its maximum capacity of ${max} members.`);
    }
  }

  #throwIfMemberEpochIsInvalid(
    member: ConsumerGroupMember,
    receivedMemberEpoch: number,
    owned: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null,
  ): void {
    if (receivedMemberEpoch === 0) return;
    if (receivedMemberEpoch > member.memberEpoch) {
      throw new KafkaError(
        "FENCED_MEMBER_EPOCH",
        `The consumer group member has a greater member epoch (${receivedMemberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
    }
    if (receivedMemberEpoch < member.memberEpoch && !(receivedMemberEpoch === member.previousMemberEpoch && isSubset(owned, member.assignedPartitions))) {
      throw new KafkaError(
        "FENCED_MEMBER_EPOCH",
        `The consumer group member has a smaller member epoch (${receivedMemberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
    }
  }

  #memberOrThrow(group: ConsumerGroup, memberId: string): ConsumerGroupMember {
    const member = group.members.get(memberId);
    if (member === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${memberId} is not a member of group ${group.groupId}.`);
    return member;
  }

  #getOrMaybeSubscribeDynamicMember(
    group: ConsumerGroup,
    memberId: string,
    memberEpoch: number,
    owned: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null,
    createIfNotExists: boolean,
    useClassicProtocol: boolean,
  ): ConsumerGroupMember {
    const member = createIfNotExists ? group.memberOrNew(memberId) : this.#memberOrThrow(group, memberId);
    if (!useClassicProtocol) this.#throwIfMemberEpochIsInvalid(member, memberEpoch, owned);
    if (createIfNotExists) {
      this.#log.info(
        { group: group.groupId, member: memberId },
        `member joins the consumer group using the ${useClassicProtocol ? "classic" : "consumer"} protocol`,
      );
    }
    return member;
  }

  #getOrMaybeSubscribeStaticMember(
    group: ConsumerGroup,
    memberId: string,
    memberEpoch: number,
    instanceId: string,
    owned: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null,
    createIfNotExists: boolean,
    useClassicProtocol: boolean,
    records: RecordToWrite[],
  ): ConsumerGroupMember {
    const existing = group.staticMember(instanceId);
    const protocol = useClassicProtocol ? "classic" : "consumer";
    if (createIfNotExists) {
      if (existing === undefined) {
        this.#log.info({ group: group.groupId, member: memberId, instanceId }, `static member joins the consumer group using the ${protocol} protocol`);
        return group.memberOrNew(memberId);
      }
      if (!useClassicProtocol && !existing.useClassicProtocol) this.#throwIfInstanceIdIsUnreleased(existing, group.groupId, memberId, instanceId);
      const newMember = existing.with({ memberId, memberEpoch: 0, previousMemberEpoch: 0 });
      this.#replaceMember(records, group, existing, newMember);
      this.#log.info(
        { group: group.groupId, instanceId, member: memberId, replaced: existing.memberId },
        `static member re-joins the consumer group using the ${protocol} protocol: a new member replaces the existing one`,
      );
      return newMember;
    }
    this.#throwIfStaticMemberIsUnknown(existing, instanceId);
    this.#throwIfInstanceIdIsFenced(existing, group.groupId, memberId, instanceId);
    if (!useClassicProtocol) this.#throwIfMemberEpochIsInvalid(existing, memberEpoch, owned);
    return existing;
  }

  #throwIfInstanceIdIsUnreleased(member: ConsumerGroupMember, groupId: string, receivedMemberId: string, instanceId: string): void {
    if (member.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      this.#log.info(
        { group: groupId, member: receivedMemberId, instanceId, owner: member.memberId },
        "static member cannot join: the instance id is owned by another member",
      );
      throw new KafkaError(
        "UNRELEASED_INSTANCE_ID",
        `Static member ${receivedMemberId} with instance id ${instanceId} cannot join the group because the instance id is owned by ${member.memberId} member.`,
      );
    }
  }

  #throwIfInstanceIdIsFenced(member: ConsumerGroupMember, groupId: string, receivedMemberId: string, instanceId: string): void {
    if (member.memberId !== receivedMemberId) {
      this.#log.info({ group: groupId, member: receivedMemberId, instanceId, owner: member.memberId }, "static member is fenced by the existing member");
      throw new KafkaError("FENCED_INSTANCE_ID", `Static member ${receivedMemberId} with instance id ${instanceId} was fenced by member ${member.memberId}.`);
    }
  }

  #throwIfStaticMemberIsUnknown(member: ConsumerGroupMember | undefined, instanceId: string): asserts member is ConsumerGroupMember {
    if (member === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Instance id ${instanceId} is unknown.`);
  }

  #hasMemberSubscriptionChanged(groupId: string, member: ConsumerGroupMember, updatedMember: ConsumerGroupMember, records: RecordToWrite[]): boolean {
    if (updatedMember.equals(member)) return false;
    records.push(consumerGroupMemberSubscriptionRecord(groupId, updatedMember));
    const before = new Set(member.subscribedTopicNames);
    const changed = updatedMember.subscribedTopicNames.length !== before.size || updatedMember.subscribedTopicNames.some((name) => !before.has(name));
    if (changed)
      this.#log.debug({ group: groupId, member: updatedMember.memberId, topics: updatedMember.subscribedTopicNames }, "member updated its subscribed topics");
    return changed;
  }

  #hasPreferredServerAssignorChanged(group: ConsumerGroup, member: ConsumerGroupMember, updatedMember: ConsumerGroupMember): boolean {
    const defaultName = this.#defaultAssignor.name;
    return (group.preferredServerAssignor() ?? defaultName) !== (group.computePreferredServerAssignor(member, updatedMember) ?? defaultName);
  }

  #maybeUpdateRegularExpressions(
    shard: GroupShard,
    group: ConsumerGroup,
    member: ConsumerGroupMember,
    updatedMember: ConsumerGroupMember,
    records: RecordToWrite[],
    nowMs: number,
  ): RegexStatus {
    const groupId = group.groupId;
    const oldRegex = member.subscribedTopicRegex;
    const newRegex = updatedMember.subscribedTopicRegex;
    let requireRefresh = false;
    let status: RegexStatus = "NO_CHANGE";
    if (oldRegex !== newRegex) {
      this.#log.debug({ group: groupId, member: updatedMember.memberId, regex: newRegex }, "member updated its subscribed regex");
      status = "REGEX_UPDATED";
      const hasOld = oldRegex !== null && oldRegex !== "";
      const hasNew = newRegex !== null && newRegex !== "";
      if (hasOld && group.numSubscribedMembers(oldRegex) === 1) records.push(consumerGroupRegularExpressionTombstone(groupId, oldRegex));
      if (hasNew) {
        if (group.numSubscribedMembers(newRegex) === 0) {
          throwIfRegularExpressionIsInvalid(newRegex);
          requireRefresh = true;
        } else if (group.resolvedRegularExpressions.has(newRegex)) {
          status = "REGEX_UPDATED_AND_RESOLVED";
        }
      } else if (hasOld) {
        status = "REGEX_UPDATED_AND_RESOLVED";
      }
    }
    if (!requireRefresh && group.subscribedRegularExpressions.size === 0) return status;
    const key = `${groupId}-regex`;
    if (this.#regexScheduled.has(key)) return status;
    const lastRefreshTimeMs = group.lastResolvedRegularExpressionRefreshTimeMs();
    if (nowMs <= lastRefreshTimeMs + REGEX_BATCH_REFRESH_MIN_INTERVAL_MS) return status;
    const regexes = new Map(group.subscribedRegularExpressions);
    if (oldRegex !== null && oldRegex !== "") {
      const count = regexes.get(oldRegex);
      if (count !== undefined) {
        if (count === 1) regexes.delete(oldRegex);
        else regexes.set(oldRegex, count - 1);
      }
    }
    if (newRegex !== null && newRegex !== "") regexes.set(newRegex, (regexes.get(newRegex) ?? 0) + 1);
    requireRefresh ||= regexes.size !== group.resolvedRegularExpressions.size;
    requireRefresh ||= group.lastResolvedRegularExpressionVersion() < this.host.image.lastVersionWithNewTopics;
    requireRefresh ||= nowMs > lastRefreshTimeMs + this.host.config.consumerRegexRefreshIntervalMs;
    if (requireRefresh && regexes.size > 0) this.#scheduleRegexResolution(shard, groupId, updatedMember.memberId, new Set(regexes.keys()));
    return status;
  }

  /** Resolves the regexes after this operation (Kafka's executor) and writes the result as a new operation. */
  #scheduleRegexResolution(shard: GroupShard, groupId: string, memberId: string, regexes: ReadonlySet<string>): void {
    const key = `${groupId}-regex`;
    this.#regexScheduled.add(key);
    setImmediate(() => {
      this.#regexScheduled.delete(key);
      if (this.host.activeShard(groupId) !== shard) return;
      let resolved: Map<string, ResolvedRegularExpression>;
      try {
        resolved = this.resolveRegularExpressions(groupId, regexes, Date.now());
      } catch (error) {
        this.#log.error({ group: groupId, err: error }, "couldn't update regular expression");
        return;
      }
      this.#handleRegularExpressionsResult(shard, groupId, memberId, resolved);
    });
  }

  /** TopicRegexResolver.resolveRegularExpressions (no authorizer: every topic is visible). */
  resolveRegularExpressions(groupId: string, regexes: ReadonlySet<string>, nowMs: number): Map<string, ResolvedRegularExpression> {
    const matched = new Map<string, Set<string>>();
    const compiled: [string, RE2JS][] = [];
    for (const regex of regexes) {
      matched.set(regex, new Set());
      try {
        compiled.push([regex, RE2JS.compile(regex)]);
      } catch (error) {
        this.#log.error({ group: groupId, regex, err: (error as Error).message }, "couldn't parse regular expression; ignoring it");
      }
    }
    const topicNames = this.host.image.topicNames();
    for (const topic of topicNames) for (const [regex, pattern] of compiled) if (pattern.matches(topic)) matched.get(regex)?.add(topic);
    const version = this.host.image.version;
    const result = new Map<string, ResolvedRegularExpression>();
    for (const [regex, topics] of matched) result.set(regex, { topics, version, timestamp: BigInt(nowMs) });
    this.#log.info(
      { group: groupId, topics: topicNames.length, regexes: [...regexes], ms: Date.now() - nowMs },
      "scanned topics to refresh regular expressions",
    );
    return result;
  }

  #handleRegularExpressionsResult(shard: GroupShard, groupId: string, memberId: string, resolved: ReadonlyMap<string, ResolvedRegularExpression>): void {
    const group = shard.groups.get(groupId);
    if (group === undefined || group.type !== "consumer") {
      this.#log.debug({ group: groupId }, "received the result of regular expression resolution but the group no longer exists");
      return;
    }
    this.#log.debug({ group: groupId, member: memberId }, "received updated regular expressions");
    const records: RecordToWrite[] = [];
    const subscribedTopicNames = new Map(group.subscribedTopicNames);
    let bumpGroupEpoch = false;
    for (const [regex, newResolved] of resolved) {
      if (group.numSubscribedMembers(regex) === 0) continue;
      const oldResolved = group.resolvedRegularExpressions.get(regex) ?? EMPTY_RESOLVED_REGEX;
      if (!sameSet(oldResolved.topics, newResolved.topics)) {
        bumpGroupEpoch = true;
        for (const topic of oldResolved.topics) decRegexCount(subscribedTopicNames, topic);
        for (const topic of newResolved.topics) incRegexCount(subscribedTopicNames, topic);
      }
      records.push(consumerGroupRegularExpressionRecord(groupId, regex, newResolved));
    }
    const metadataHash = this.host.image.computeMetadataHash(subscribedTopicNames);
    if (metadataHash !== group.metadataHash) bumpGroupEpoch = true;
    const nowMs = Date.now();
    if (bumpGroupEpoch) {
      const groupEpoch = group.groupEpoch + 1;
      records.push(consumerGroupEpochRecord(groupId, groupEpoch, metadataHash));
      this.#log.info({ group: groupId, groupEpoch, metadataHash: metadataHash.toString() }, "bumped group epoch");
      group.setMetadataRefreshDeadline(nowMs + METADATA_REFRESH_INTERVAL_MS, groupEpoch);
    }
    try {
      shard.write(records, nowMs, true);
    } catch (error) {
      this.#log.warn({ group: groupId, err: error }, "could not write the resolved regular expressions");
    }
  }

  #updateSubscriptionMetadata(
    group: ConsumerGroup,
    bumpGroupEpoch: boolean,
    member: ConsumerGroupMember,
    updatedMember: ConsumerGroupMember,
    records: RecordToWrite[],
    nowMs: number,
  ): { groupEpoch: number; subscriptionType: SubscriptionType } {
    const groupId = group.groupId;
    let groupEpoch = group.groupEpoch;
    const regexes = group.computeSubscribedRegularExpressions(member, updatedMember);
    const names = group.computeSubscribedTopicNames(member, updatedMember);
    const metadataHash = this.host.image.computeMetadataHash(names);
    let numMembers = group.numMembers;
    if (!group.hasMember(updatedMember.memberId) && !group.hasStaticMember(updatedMember.instanceId)) numMembers++;
    const subscriptionType = consumerSubscriptionType(regexes, names, numMembers);
    if (metadataHash !== group.metadataHash) {
      this.#log.debug({ group: groupId, metadataHash: metadataHash.toString() }, "computed new metadata hash");
      bumpGroupEpoch = true;
    }
    if (bumpGroupEpoch) {
      groupEpoch++;
      records.push(consumerGroupEpochRecord(groupId, groupEpoch, metadataHash));
      this.#log.info({ group: groupId, groupEpoch, metadataHash: metadataHash.toString() }, "bumped group epoch");
    }
    group.setMetadataRefreshDeadline(nowMs + METADATA_REFRESH_INTERVAL_MS, groupEpoch);
    if (group.hasSubscriptionMetadataRecord) records.push(consumerGroupSubscriptionMetadataTombstone(groupId));
    return { groupEpoch, subscriptionType };
  }

  /** maybeUpdateTargetAssignment: a new target assignment when the group epoch moved past the assignment epoch. */
  #maybeUpdateTargetAssignment(
    group: ConsumerGroup,
    groupEpoch: number,
    member: ConsumerGroupMember,
    updatedMember: ConsumerGroupMember,
    subscriptionType: SubscriptionType,
    records: RecordToWrite[],
    nowMs: number,
  ): { epoch: number; assignment: Assignment } {
    const last = () => ({ epoch: group.assignmentEpoch, assignment: group.targetAssignmentFor(updatedMember.memberId, updatedMember.instanceId) });
    if (group.assignmentEpoch >= groupEpoch) return last();
    if (!canComputeNextTargetAssignment(group.assignmentTimestamp, this.host.config.consumerAssignmentIntervalMs, nowMs)) return last();
    const assignorName = group.computePreferredServerAssignor(member, updatedMember) ?? this.#defaultAssignor.name;
    const assignor = this.host.assignors.get(assignorName) ?? this.#defaultAssignor;
    const { members, targetAssignment } = updatedMembersAndTargetAssignment(group, updatedMember);
    const started = Date.now();
    let result: Map<string, Assignment>;
    try {
      result = this.#computeTargetAssignment(group, groupEpoch, assignor, members, targetAssignment, subscriptionType, records, nowMs);
    } catch (error) {
      if (!(error instanceof PartitionAssignorException)) throw error;
      const message = `Failed to compute a new target assignment for epoch ${groupEpoch}: ${error.message}`;
      this.#log.error({ group: group.groupId, err: error }, message);
      throw new KafkaError("UNKNOWN_SERVER_ERROR", message);
    }
    this.#log.info({ group: group.groupId, epoch: groupEpoch, assignor: assignorName, ms: Date.now() - started }, "computed a new target assignment");
    return { epoch: groupEpoch, assignment: result.get(updatedMember.memberId) ?? EMPTY_ASSIGNMENT };
  }

  /** TargetAssignmentBuilder.build: runs the assignor and adds the records of the members whose target changed. */
  #computeTargetAssignment(
    group: ConsumerGroup,
    groupEpoch: number,
    assignor: ConsumerGroupPartitionAssignor,
    members: ReadonlyMap<string, ConsumerGroupMember>,
    targetAssignment: ReadonlyMap<string, Assignment>,
    subscriptionType: SubscriptionType,
    records: RecordToWrite[],
    nowMs: number,
  ): Map<string, Assignment> {
    const image = this.host.image;
    const specs: [string, MemberSpec][] = [];
    for (const [memberId, member] of members) {
      specs.push([
        memberId,
        {
          rackId: member.rackId,
          instanceId: member.instanceId,
          subscribedTopicIds: this.#subscribedTopicIds(member, group.resolvedRegularExpressions),
          assignment: targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT,
        },
      ]);
    }
    const assigned = new Map<string, Set<number>>();
    for (const [topicId, owners] of group.invertedTargetAssignment) assigned.set(topicId, new Set(owners.keys()));
    const spec = createGroupSpec(specs, { subscriptionType, assignedPartitions: assigned });
    const describer: SubscribedTopicDescriber = {
      numPartitions: (topicId) => image.topicById(topicId)?.partitionCount ?? -1,
      racksForPartition: (topicId, partition) => {
        const name = image.topicName(topicId);
        return new Set(name === undefined ? [] : image.partitionRacks(name, partition));
      },
    };
    const assignment = assignor.assign(spec, describer);
    const result = new Map<string, Assignment>();
    for (const memberId of spec.memberIds) {
      const newAssignment = assignment.members.get(memberId)?.partitions ?? EMPTY_ASSIGNMENT;
      result.set(memberId, newAssignment);
      if (!sameAssignment(newAssignment, targetAssignment.get(memberId)))
        records.push(consumerGroupTargetAssignmentRecord(group.groupId, memberId, newAssignment));
    }
    records.push(consumerGroupTargetAssignmentMetadataRecord(group.groupId, groupEpoch, BigInt(nowMs)));
    return result;
  }

  /** TopicIds over the member's subscription (names, or names ∪ resolved regex topics), unknown names skipped. */
  #subscribedTopicIds(member: ConsumerGroupMember, resolved: ReadonlyMap<string, ResolvedRegularExpression>): Set<string> {
    let names: Iterable<string> = member.subscribedTopicNames;
    const regex = member.regex;
    const resolvedRegex = regex === null ? undefined : resolved.get(regex);
    if (resolvedRegex !== undefined) {
      if (member.subscribedTopicNames.length === 0) names = resolvedRegex.topics;
      else if (resolvedRegex.topics.size > 0) names = unionSet(member.subscribedTopicNames, resolvedRegex.topics);
    }
    const ids = new Set<string>();
    for (const name of names) {
      const topic = this.host.image.topic(name);
      if (topic !== undefined) ids.add(topic.id);
    }
    return ids;
  }

  #maybeReconcile(
    groupId: string,
    member: ConsumerGroupMember,
    group: ConsumerGroup,
    targetAssignmentEpoch: number,
    targetAssignment: Assignment,
    hasSubscriptionChanged: boolean,
    owned: readonly ConsumerGroupHeartbeatRequestTopicPartitions[] | null,
    records: RecordToWrite[],
  ): ConsumerGroupMember {
    if (!hasSubscriptionChanged && member.isReconciledTo(targetAssignmentEpoch)) return member;
    const updatedMember = computeCurrentAssignment({
      member,
      targetAssignmentEpoch,
      targetAssignment,
      hasSubscriptionChanged,
      resolvedRegularExpressions: group.resolvedRegularExpressions,
      currentPartitionEpoch: (topicId, partition) => group.currentPartitionEpoch(topicId, partition),
      ownedTopicPartitions: owned,
      topics: this.host.image,
    });
    if (!updatedMember.equals(member)) {
      records.push(consumerGroupCurrentAssignmentRecord(groupId, updatedMember));
      this.#log.debug(
        {
          group: groupId,
          member: updatedMember.memberId,
          epoch: updatedMember.memberEpoch,
          previousEpoch: updatedMember.previousMemberEpoch,
          state: memberStateName(updatedMember.state),
        },
        "member new assignment state",
      );
      if (!updatedMember.useClassicProtocol) {
        if (updatedMember.state === MemberState.UNREVOKED_PARTITIONS) {
          this.#scheduleRebalanceTimeout(groupId, updatedMember.memberId, updatedMember.memberEpoch, updatedMember.rebalanceTimeoutMs);
        } else {
          this.host.timers.cancel(rebalanceTimeoutKey(groupId, updatedMember.memberId));
        }
      }
    }
    return updatedMember;
  }

  // ------------------------------------------------------------------------------------------
  // Classic members in a consumer group (online migration)

  /**
   * classicGroupJoinToConsumerGroup: a JoinGroup to a non-empty consumer group. The member's
   * subscription and owned partitions come from its JoinGroup metadata; it is reconciled as a
   * heartbeat would, and answered with its member epoch as generation (no leader: it only syncs).
   * A static member replacing a consumer-protocol member in a group of classic members converts
   * the group back to a classic one. Throws KafkaError.
   */
  classicJoin(shard: GroupShard, group: ConsumerGroup, request: JoinRequest, nowMs: number): JoinGroupResponse {
    this.#throwIfClassicMemberCannotJoinConsumerGroup(group);
    const records: RecordToWrite[] = [];
    const { groupId, groupInstanceId: instanceId, sessionTimeoutMs, protocols } = request;
    const isUnknownMember = request.memberId === "";
    const memberId = isUnknownMember ? randomKafkaUuid() : request.memberId;
    this.#throwIfConsumerGroupIsFull(group, memberId, instanceId);
    this.#throwIfClassicProtocolIsNotSupported(group, memberId, request.protocolType, protocols);
    if (request.apiVersion >= 4 && instanceId === null && isUnknownMember) {
      // JoinGroupRequest.requiresKnownMemberId (KIP-394).
      this.#log.info(
        { group: groupId, member: memberId },
        "dynamic member with unknown member id joins the consumer group: created a new member id and requesting the member to rejoin with it",
      );
      return joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    }
    const member =
      instanceId === null
        ? this.#getOrMaybeSubscribeDynamicMember(group, memberId, -1, [], true, true)
        : this.#getOrMaybeSubscribeStaticMember(group, memberId, -1, instanceId, [], isUnknownMember, true, records);
    const existingStaticMember = instanceId === null ? undefined : group.staticMember(instanceId);
    const downgrade = existingStaticMember !== undefined && this.#validateOnlineDowngradeWithReplacedMember(group, existingStaticMember);
    let groupEpoch = group.groupEpoch;
    let subscriptionType = group.subscriptionType;
    const subscription = deserializeSubscription(protocols);
    let updatedMember = member.with({
      instanceId: instanceId ?? member.instanceId,
      rackId: subscription.rackId !== null && subscription.rackId !== "" ? subscription.rackId : member.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs !== -1 ? request.rebalanceTimeoutMs : member.rebalanceTimeoutMs,
      subscribedTopicNames: javaHashSetOf(subscription.topics),
      subscribedTopicRegex: "",
      clientId: request.clientId,
      clientHost: request.clientHost,
      classicMemberMetadata: { sessionTimeoutMs, supportedProtocols: protocols.map((protocol) => ({ name: protocol.name, metadata: protocol.metadata })) },
    });
    const subscriptionChanged = this.#hasMemberSubscriptionChanged(groupId, member, updatedMember, records);
    const regexStatus = this.#maybeUpdateRegularExpressions(shard, group, member, updatedMember, records, nowMs);
    const bumpGroupEpoch = subscriptionChanged || regexStatus !== "NO_CHANGE";
    if (bumpGroupEpoch || group.hasMetadataExpired(nowMs)) {
      ({ groupEpoch, subscriptionType } = this.#updateSubscriptionMetadata(group, bumpGroupEpoch, member, updatedMember, records, nowMs));
    }
    const owned = this.#toTopicPartitions(subscription);
    let operation: Operation;
    if (downgrade) {
      const rebalance = group.assignmentEpoch < groupEpoch;
      if (!rebalance) {
        const target = group.targetAssignmentFor(updatedMember.memberId, updatedMember.instanceId);
        updatedMember = this.#maybeReconcile(groupId, updatedMember, group, group.assignmentEpoch, target, bumpGroupEpoch, owned, records);
      }
      operation = this.#convertToClassicGroup(
        shard,
        group,
        [],
        updatedMember,
        rebalance ? `Downgrade group ${groupId} from consumer to classic with stale assignment.` : null,
        records,
        nowMs,
      );
    } else {
      const target = this.#maybeUpdateTargetAssignment(group, groupEpoch, member, updatedMember, subscriptionType, records, nowMs);
      updatedMember = this.#maybeReconcile(groupId, updatedMember, group, target.epoch, target.assignment, bumpGroupEpoch, owned, records);
      operation = { records, replay: true, after: [] };
    }
    const response: JoinGroupResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      generationId: updatedMember.memberEpoch,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: updatedMember.supportedClassicProtocols[0]?.name ?? null,
      leader: "",
      skipAssignment: false,
      memberId: updatedMember.memberId,
      members: [],
    };
    applyOperation(shard, operation, nowMs);
    this.host.timers.cancel(consumerGroupJoinKey(groupId, response.memberId));
    if (!downgrade) {
      this.#scheduleSessionTimeout(groupId, response.memberId, sessionTimeoutMs);
      this.#scheduleSyncTimeout(groupId, response.memberId, request.rebalanceTimeoutMs);
    }
    return response;
  }

  /**
   * classicGroupSyncToConsumerGroup: a classic member of a consumer group gets its current
   * assignment as a ConsumerProtocolAssignment (in its subscription's version); REBALANCE_IN_PROGRESS
   * when it must rejoin first. Throws KafkaError.
   */
  classicSync(group: ConsumerGroup, request: SyncRequest): SyncGroupResponse {
    const { groupId, memberId } = request;
    const member = this.#validateConsumerGroupMember(group, memberId, request.groupInstanceId);
    this.#throwIfMemberDoesNotUseClassicProtocol(member);
    this.#throwIfGenerationIdUnmatched(member.memberId, member.memberEpoch, request.generationId);
    this.#throwIfClassicProtocolUnmatched(member, request.protocolType, request.protocolName);
    this.#throwIfRebalanceInProgress(group, member);
    const assignment = this.#prepareAssignment(member);
    this.host.timers.cancel(consumerGroupSyncKey(groupId, memberId));
    this.#scheduleSessionTimeout(groupId, memberId, member.classicProtocolSessionTimeout);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, protocolType: request.protocolType, protocolName: request.protocolName, assignment };
  }

  /**
   * classicGroupHeartbeatToConsumerGroup: the session goes on; REBALANCE_IN_PROGRESS when the member
   * is behind the assignment epoch, has partitions to revoke, or may now get partitions others
   * released (it must then rejoin within its rebalance timeout). Throws KafkaError.
   */
  classicHeartbeat(group: ConsumerGroup, memberId: string, instanceId: string | null, generationId: number): number {
    const groupId = group.groupId;
    const member = this.#validateConsumerGroupMember(group, memberId, instanceId);
    this.#throwIfMemberDoesNotUseClassicProtocol(member);
    this.#throwIfGenerationIdUnmatched(memberId, member.memberEpoch, generationId);
    this.#scheduleSessionTimeout(groupId, memberId, member.classicProtocolSessionTimeout);
    if (
      member.memberEpoch < group.assignmentEpoch ||
      member.state === MemberState.UNREVOKED_PARTITIONS ||
      (member.state === MemberState.UNRELEASED_PARTITIONS && !group.waitingOnUnreleasedPartition(member))
    ) {
      this.#scheduleJoinTimeoutIfAbsent(groupId, memberId, member.rebalanceTimeoutMs);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /**
   * classicGroupLeaveToConsumerGroup: the members found leave (fenced together, which may convert
   * the group back to a classic one); the others get their error. Throws KafkaError.
   */
  classicLeave(shard: GroupShard, group: ConsumerGroup, members: readonly LeaveMember[], nowMs: number): LeaveGroupResponseMemberResponse[] {
    const groupId = group.groupId;
    const responses: LeaveGroupResponseMemberResponse[] = [];
    const leaving: ConsumerGroupMember[] = [];
    for (const identity of members) {
      const reason = identity.reason ?? "not provided";
      const response: LeaveGroupResponseMemberResponse = { memberId: identity.memberId, groupInstanceId: identity.groupInstanceId, errorCode: ErrorCode.NONE };
      responses.push(response);
      try {
        let member: ConsumerGroupMember;
        if (identity.groupInstanceId === null) {
          member = this.#memberOrThrow(group, identity.memberId);
          this.#log.info({ group: groupId, member: identity.memberId, reason }, "dynamic member has left the group through an explicit LeaveGroup request");
        } else {
          const found = group.staticMember(identity.groupInstanceId);
          this.#throwIfStaticMemberIsUnknown(found, identity.groupInstanceId);
          if (identity.memberId !== "") this.#throwIfInstanceIdIsFenced(found, groupId, identity.memberId, identity.groupInstanceId);
          member = found;
          this.#log.info(
            { group: groupId, member: identity.memberId, instanceId: identity.groupInstanceId, reason },
            "static member has left the group through an explicit LeaveGroup request",
          );
        }
        if (!leaving.includes(member)) leaving.push(member);
      } catch (error) {
        if (!(error instanceof KafkaError)) throw error;
        response.errorCode = error.code;
      }
    }
    applyOperation(shard, this.fenceMembers(shard, group, leaving, nowMs), nowMs);
    return responses;
  }

  #throwIfClassicMemberCannotJoinConsumerGroup(group: ConsumerGroup): void {
    if (this.host.config.consumerMigrationPolicy === "disabled") {
      this.#log.info({ group: group.groupId }, "cannot join the consumer group with the classic protocol because the group migration is disabled");
      throw new KafkaError(
        "INCONSISTENT_GROUP_PROTOCOL",
        `Cannot join the consumer group ${group.groupId} with the classic protocol because the group migration is disabled.`,
      );
    }
  }

  #throwIfClassicProtocolIsNotSupported(group: ConsumerGroup, memberId: string, protocolType: string, protocols: readonly ClassicProtocol[]): void {
    if (!group.supportsClassicProtocols(protocolType, new Set(protocols.map((protocol) => protocol.name)))) {
      throw new KafkaError("INCONSISTENT_GROUP_PROTOCOL", `Member ${memberId}'s protocols are not supported.`);
    }
  }

  #throwIfMemberDoesNotUseClassicProtocol(member: ConsumerGroupMember): void {
    if (!member.useClassicProtocol) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member ${member.memberId} does not use the classic protocol.`);
  }

  #throwIfGenerationIdUnmatched(memberId: string, memberEpoch: number, requestGenerationId: number): void {
    if (memberEpoch !== requestGenerationId) {
      throw new KafkaError(
        "ILLEGAL_GENERATION",
        `The request generation id ${requestGenerationId} is not equal to the member epoch ${memberEpoch} of member ${memberId}.`,
      );
    }
  }

  #throwIfClassicProtocolUnmatched(member: ConsumerGroupMember, protocolType: string | null, protocolName: string | null): void {
    const memberProtocolName = member.supportedClassicProtocols[0]?.name;
    if (protocolType !== null && protocolType !== CONSUMER_PROTOCOL_TYPE) {
      throw new KafkaError(
        "INCONSISTENT_GROUP_PROTOCOL",
        `The protocol type ${protocolType} from member ${member.memberId} request is not equal to the group protocol type ${CONSUMER_PROTOCOL_TYPE}.`,
      );
    }
    if (protocolName !== null && memberProtocolName !== protocolName) {
      throw new KafkaError(
        "INCONSISTENT_GROUP_PROTOCOL",
        `The protocol name ${protocolName} from member ${member.memberId} request is not equal to the protocol name ${memberProtocolName} returned in the join response.`,
      );
    }
  }

  #throwIfRebalanceInProgress(group: ConsumerGroup, member: ConsumerGroupMember): void {
    if (group.assignmentEpoch > member.memberEpoch && member.state !== MemberState.UNREVOKED_PARTITIONS) {
      this.#scheduleJoinTimeoutIfAbsent(group.groupId, member.memberId, member.rebalanceTimeoutMs);
      throw new KafkaError(
        "REBALANCE_IN_PROGRESS",
        `A new rebalance is triggered in group ${group.groupId} and member ${member.memberId} should rejoin to catch up.`,
      );
    }
  }

  /** validateConsumerGroupMember: the member by id, or by instance id (FENCED_INSTANCE_ID when another member holds it). */
  #validateConsumerGroupMember(group: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerGroupMember {
    if (instanceId === null) return this.#memberOrThrow(group, memberId);
    const member = group.staticMember(instanceId);
    if (member === undefined) throw new KafkaError("UNKNOWN_MEMBER_ID", `Member with instance id ${instanceId} is not a member of group ${group.groupId}.`);
    this.#throwIfInstanceIdIsFenced(member, group.groupId, memberId, instanceId);
    return member;
  }

  /** Utils.toTopicPartitions: the owned partitions of a subscription by topic id, unknown topics dropped. */
  #toTopicPartitions(subscription: ConsumerProtocolSubscription): ConsumerGroupHeartbeatRequestTopicPartitions[] {
    const owned: ConsumerGroupHeartbeatRequestTopicPartitions[] = [];
    for (const { topic, partitions } of subscription.ownedPartitions) {
      const id = this.host.image.topic(topic)?.id;
      if (id !== undefined) owned.push({ topicId: id, partitions: [...partitions] });
    }
    return owned;
  }

  /** prepareAssignment: the member's assigned partitions as a ConsumerProtocolAssignment in its subscription's version. */
  #prepareAssignment(member: ConsumerGroupMember): Buffer {
    const partitions = new Map<string, Set<number>>();
    for (const [topicId, epochs] of member.assignedPartitions) partitions.set(topicId, new Set([...epochs.keys()].sort((a, b) => a - b)));
    try {
      const version = deserializeVersion(member.supportedClassicProtocols[0]?.metadata ?? Buffer.alloc(0));
      return encodeAssignment(toConsumerProtocolAssignment(partitions, this.host.image), version);
    } catch (error) {
      if (error instanceof SchemaError) throw new Error("Malformed embedded consumer protocol in version deserialization.", { cause: error });
      throw error;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Online downgrade

  /** validateOnlineDowngradeWithFencedMembers: only classic members would stay, and the policy and group.max.size allow it. */
  #validateOnlineDowngradeWithFencedMembers(group: ConsumerGroup, fenced: readonly ConsumerGroupMember[]): boolean {
    if (!group.allMembersUseClassicProtocolExcept(fenced)) return false;
    if (group.numMembers - fenced.length <= 0) {
      this.#log.debug({ group: group.groupId }, "skip downgrading the consumer group to a classic group because it's empty");
      return false;
    }
    return this.#downgradeAllowed(group, group.numMembers - fenced.length);
  }

  /** validateOnlineDowngradeWithReplacedMember: a classic static member replaces the group's only consumer-protocol member. */
  #validateOnlineDowngradeWithReplacedMember(group: ConsumerGroup, replaced: ConsumerGroupMember): boolean {
    if (!group.allMembersUseClassicProtocolExceptMember(replaced)) return false;
    return this.#downgradeAllowed(group, group.numMembers);
  }

  #downgradeAllowed(group: ConsumerGroup, size: number): boolean {
    if (!downgradeEnabled(this.host.config.consumerMigrationPolicy)) {
      this.#log.info({ group: group.groupId }, "cannot downgrade consumer group to classic group because the online downgrade is disabled");
      return false;
    }
    if (size > this.host.config.classicMaxSize) {
      this.#log.info(
        { group: group.groupId },
        "cannot downgrade consumer group to classic group because its group size is greater than classic group max size",
      );
      return false;
    }
    return true;
  }

  /**
   * convertToClassicGroup: the consumer group's tombstones (a joining static member's id in place
   * of the member it replaces) and the classic group's record, written without replay; after the
   * write the classic group takes the consumer group's place, its members' sessions start, and it
   * rebalances when `rebalanceReason` is given.
   */
  #convertToClassicGroup(
    shard: GroupShard,
    group: ConsumerGroup,
    leaving: readonly ConsumerGroupMember[],
    joining: ConsumerGroupMember | null,
    rebalanceReason: string | null,
    records: RecordToWrite[],
    nowMs: number,
  ): Operation {
    const groupId = group.groupId;
    if (joining === null) {
      records.push(...this.groupTombstones(group));
    } else {
      const replaced = joining.instanceId === null ? undefined : group.staticMember(joining.instanceId);
      if (replaced === undefined) throw new Error("joiningMember must be a static member when not null.");
      records.push(...this.groupTombstones(group, { leaving: replaced.memberId, joining: joining.memberId }));
    }
    let classic: ClassicGroup;
    try {
      classic = classicGroupFromConsumerGroup(group, leaving, joining, this.host.image, nowMs);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      this.#log.warn({ group: groupId, err: error }, "cannot downgrade the consumer group: fail to parse the consumer protocol");
      throw new KafkaError("GROUP_ID_NOT_FOUND", `Cannot downgrade the classic group ${groupId}: ${error.message}.`);
    }
    records.push(...classicGroupRecords(classic));
    const after = () => {
      if (shard.groups.get(groupId) === group) shard.groups.delete(groupId);
      group.markDead();
      this.drop(group);
      shard.groups.set(groupId, classic);
      this.host.classicDowngraded(shard, classic, rebalanceReason);
      this.#log.info({ group: groupId, members: classic.members.size }, "converted the consumer group to a classic group");
    };
    return { records, replay: false, after: [after] };
  }

  // ------------------------------------------------------------------------------------------
  // Leaving, fencing, timers

  #leave(shard: GroupShard, request: HeartbeatRequest, nowMs: number): ConsumerGroupHeartbeatResponse {
    const { groupId, instanceId, memberId, memberEpoch } = request;
    const group = shard.groups.get(groupId);
    if (group === undefined) throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} not found.`);
    if (group.type !== "consumer") throw new KafkaError("GROUP_ID_NOT_FOUND", `Group ${groupId} is not a consumer group.`);
    const response: ConsumerGroupHeartbeatResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
    if (instanceId === null) {
      const member = this.#memberOrThrow(group, memberId);
      this.#log.info({ group: groupId, member: memberId }, "member left the consumer group");
      applyOperation(shard, this.fenceMembers(shard, group, [member], nowMs), nowMs);
      return response;
    }
    const member = group.staticMember(instanceId);
    this.#throwIfStaticMemberIsUnknown(member, instanceId);
    this.#throwIfInstanceIdIsFenced(member, groupId, memberId, instanceId);
    if (memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      this.#log.info({ group: groupId, member: memberId, instanceId }, "static member temporarily left the consumer group");
      // consumerGroupStaticMemberGroupLeave: epoch -2, nothing pending, its partitions kept at epoch 0.
      const assigned = new Map<string, Map<number, number>>();
      for (const [topicId, partitions] of member.assignedPartitions) assigned.set(topicId, new Map([...partitions.keys()].map((p) => [p, 0])));
      const leaving = member.with({
        memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
        partitionsPendingRevocation: new Map(),
        assignedPartitions: member.assignedPartitions.size === 0 ? member.assignedPartitions : assigned,
      });
      shard.write([consumerGroupCurrentAssignmentRecord(groupId, leaving)], nowMs, true);
      return { ...response, memberId: member.memberId, memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH };
    }
    this.#log.info({ group: groupId, member: memberId, instanceId }, "static member left the consumer group");
    applyOperation(shard, this.fenceMembers(shard, group, [member], nowMs), nowMs);
    return response;
  }

  /**
   * consumerGroupFenceMembers: the members' records removed, the group epoch bumped, their timers
   * cancelled — or, when only classic members would remain and the policy allows it, the group
   * converted to a classic group (online downgrade) that rebalances.
   */
  fenceMembers(shard: GroupShard, group: ConsumerGroup, members: readonly ConsumerGroupMember[], nowMs: number): Operation {
    if (members.length === 0) return { records: [], replay: true, after: [] };
    const groupId = group.groupId;
    const records: RecordToWrite[] = [];
    if (this.#validateOnlineDowngradeWithFencedMembers(group, members)) {
      return this.#convertToClassicGroup(
        shard,
        group,
        members,
        null,
        `Downgrade group ${groupId} from consumer to classic for member leaving.`,
        records,
        nowMs,
      );
    }
    for (const member of members) this.#removeMember(records, groupId, member.memberId);
    const deletedRegexes = this.#maybeDeleteResolvedRegularExpressions(records, group, members);
    const names = group.computeSubscribedTopicNamesWithoutDeletedMembers(members, deletedRegexes);
    const metadataHash = this.host.image.computeMetadataHash(names);
    const groupEpoch = group.groupEpoch + 1;
    records.push(consumerGroupEpochRecord(groupId, groupEpoch, metadataHash));
    this.#log.info({ group: groupId, groupEpoch, metadataHash: metadataHash.toString() }, "bumped group epoch");
    if (group.members.size === members.length) records.push(consumerGroupTargetAssignmentMetadataRecord(groupId, groupEpoch, 0n));
    for (const member of members) this.cancelTimers(groupId, member.memberId);
    return { records, replay: true, after: [] };
  }

  #maybeDeleteResolvedRegularExpressions(records: RecordToWrite[], group: ConsumerGroup, members: readonly ConsumerGroupMember[]): Set<string> {
    const counts = new Map<string, number>();
    for (const member of members) if (member.regex !== null) counts.set(member.regex, (counts.get(member.regex) ?? 0) + 1);
    const deleted = new Set<string>();
    for (const [regex, count] of counts) {
      if (group.numSubscribedMembers(regex) === count) {
        records.push(consumerGroupRegularExpressionTombstone(group.groupId, regex));
        deleted.add(regex);
      }
    }
    return deleted;
  }

  #removeMember(records: RecordToWrite[], groupId: string, memberId: string): void {
    records.push(consumerGroupCurrentAssignmentTombstone(groupId, memberId));
    records.push(consumerGroupTargetAssignmentTombstone(groupId, memberId));
    records.push(consumerGroupMemberSubscriptionTombstone(groupId, memberId));
  }

  /** replaceMember: a static member's new member id takes over its subscription and assignments. */
  #replaceMember(records: RecordToWrite[], group: ConsumerGroup, oldMember: ConsumerGroupMember, newMember: ConsumerGroupMember): void {
    const groupId = group.groupId;
    this.#removeMember(records, groupId, oldMember.memberId);
    records.push(consumerGroupMemberSubscriptionRecord(groupId, newMember));
    records.push(consumerGroupTargetAssignmentRecord(groupId, newMember.memberId, group.targetAssignmentOf(oldMember.memberId)));
    records.push(consumerGroupCurrentAssignmentRecord(groupId, newMember));
  }

  /** cancelTimers: the member's session, rebalance, join and sync timers. */
  cancelTimers(groupId: string, memberId: string): void {
    this.host.timers.cancel(sessionTimeoutKey(groupId, memberId));
    this.host.timers.cancel(rebalanceTimeoutKey(groupId, memberId));
    this.host.timers.cancel(consumerGroupJoinKey(groupId, memberId));
    this.host.timers.cancel(consumerGroupSyncKey(groupId, memberId));
  }

  /** The member's session timer: group.consumer.session.timeout.ms, or a classic member's own timeout. */
  #scheduleSessionTimeout(groupId: string, memberId: string, timeoutMs: number = this.host.config.consumerSessionTimeoutMs): void {
    this.host.timers.schedule(sessionTimeoutKey(groupId, memberId), timeoutMs, () =>
      this.#fenceMemberOperation(groupId, memberId, "the member session expired"),
    );
  }

  /** scheduleConsumerGroupJoinTimeoutIfAbsent: a classic member told to rejoin must do so within its rebalance timeout. */
  #scheduleJoinTimeoutIfAbsent(groupId: string, memberId: string, rebalanceTimeoutMs: number): void {
    if (this.host.timers.isScheduled(consumerGroupJoinKey(groupId, memberId))) return;
    this.host.timers.schedule(consumerGroupJoinKey(groupId, memberId), rebalanceTimeoutMs, () =>
      this.#fenceMemberOperation(groupId, memberId, "the classic member failed to join within the rebalance timeout"),
    );
  }

  /** scheduleConsumerGroupSyncTimeout: a classic member that joined must sync within its rebalance timeout. */
  #scheduleSyncTimeout(groupId: string, memberId: string, rebalanceTimeoutMs: number): void {
    this.host.timers.schedule(consumerGroupSyncKey(groupId, memberId), rebalanceTimeoutMs, () =>
      this.#fenceMemberOperation(groupId, memberId, "the member failed to sync within timeout"),
    );
  }

  #scheduleRebalanceTimeout(groupId: string, memberId: string, memberEpoch: number, rebalanceTimeoutMs: number): void {
    this.host.timers.schedule(rebalanceTimeoutKey(groupId, memberId), rebalanceTimeoutMs, () => {
      const shard = this.host.activeShard(groupId);
      const group = shard?.groups.get(groupId);
      const member = group?.type === "consumer" ? group.members.get(memberId) : undefined;
      if (shard === undefined || group?.type !== "consumer" || member === undefined) {
        this.#log.debug({ group: groupId, member: memberId }, "could not fence: the group or member does not exist");
        return;
      }
      if (member.memberEpoch !== memberEpoch) {
        this.#log.debug({ group: groupId, member: memberId, memberEpoch }, "ignoring rebalance timeout: the member left the epoch");
        return;
      }
      this.#log.info(
        { group: groupId, member: memberId, memberEpoch, rebalanceTimeoutMs },
        "member fenced: it failed to transition from its epoch within the rebalance timeout",
      );
      this.#fenceLater(shard, group, member);
    });
  }

  /** consumerGroupFenceMemberOperation: a timer fences a member that is still there. */
  #fenceMemberOperation(groupId: string, memberId: string, reason: string): void {
    const shard = this.host.activeShard(groupId);
    const group = shard?.groups.get(groupId);
    const member = group?.type === "consumer" ? group.members.get(memberId) : undefined;
    if (shard === undefined || group?.type !== "consumer" || member === undefined) {
      this.#log.debug({ group: groupId, member: memberId }, "could not fence: the group or member does not exist");
      return;
    }
    this.#log.info({ group: groupId, member: memberId, reason }, "member fenced from the group");
    this.#fenceLater(shard, group, member);
  }

  #fenceLater(shard: GroupShard, group: ConsumerGroup, member: ConsumerGroupMember): void {
    const nowMs = Date.now();
    try {
      applyOperation(shard, this.fenceMembers(shard, group, [member], nowMs), nowMs);
    } catch (error) {
      if (error instanceof KafkaError && error.code === ErrorCode.GROUP_ID_NOT_FOUND) {
        // Kafka catches GroupIdNotFoundException here (a downgrade that could not parse a protocol).
        this.#log.debug({ group: group.groupId, member: member.memberId, err: error }, "could not fence the member");
        return;
      }
      this.#log.warn({ group: group.groupId, err: error }, "could not write a timer's records");
    }
  }

  /** onLoaded: every member gets its session timer; members revoking get their rebalance timer. */
  onLoaded(shard: GroupShard): void {
    for (const group of shard.groups.values()) {
      if (group.type !== "consumer") continue;
      this.#log.info({ group: group.groupId, members: group.members.size }, "loaded consumer group");
      for (const member of group.members.values()) {
        this.#scheduleSessionTimeout(group.groupId, member.memberId);
        if (member.state === MemberState.UNREVOKED_PARTITIONS) {
          this.#scheduleRebalanceTimeout(group.groupId, member.memberId, member.memberEpoch, member.rebalanceTimeoutMs);
        }
      }
    }
  }

  /**
   * ConsumerGroup.createGroupTombstoneRecords (the caller cancels the timers); with `replaced`,
   * createGroupTombstoneRecordsWithReplacedMember: the joining member's id in place of the leaving one.
   */
  groupTombstones(group: ConsumerGroup, replaced?: { readonly leaving: string; readonly joining: string }): RecordToWrite[] {
    const groupId = group.groupId;
    const ids = [...group.members.keys()].map((memberId) => (replaced !== undefined && memberId === replaced.leaving ? replaced.joining : memberId));
    const records: RecordToWrite[] = [];
    for (const memberId of ids) records.push(consumerGroupCurrentAssignmentTombstone(groupId, memberId));
    for (const memberId of ids) records.push(consumerGroupTargetAssignmentTombstone(groupId, memberId));
    records.push(consumerGroupTargetAssignmentMetadataTombstone(groupId));
    for (const memberId of ids) records.push(consumerGroupMemberSubscriptionTombstone(groupId, memberId));
    for (const regex of group.resolvedRegularExpressions.keys()) records.push(consumerGroupRegularExpressionTombstone(groupId, regex));
    records.push(consumerGroupSubscriptionMetadataTombstone(groupId));
    records.push(consumerGroupEpochTombstone(groupId));
    return records;
  }

  /** A deleted, converted or unloaded group: its timers end. */
  drop(group: ConsumerGroup): void {
    for (const memberId of group.members.keys()) this.cancelTimers(group.groupId, memberId);
  }
}

/** deserializeSubscription: the JoinGroup's first protocol as a ConsumerProtocolSubscription (INCONSISTENT_GROUP_PROTOCOL when malformed). */
function deserializeSubscription(protocols: readonly ClassicProtocol[]): ConsumerProtocolSubscription {
  try {
    return decodeSubscription(protocols[0]?.metadata ?? Buffer.alloc(0));
  } catch (error) {
    if (!(error instanceof SchemaError)) throw error;
    throw new KafkaError("INCONSISTENT_GROUP_PROTOCOL", "Malformed embedded consumer protocol in subscription deserialization.");
  }
}

/** GroupMetadataManager.canComputeNextTargetAssignment (KIP-1263: at most one assignment per interval). */
export function canComputeNextTargetAssignment(assignmentTimestampMs: bigint, assignmentIntervalMs: number, nowMs: number): boolean {
  if (assignmentTimestampMs === 0n || assignmentIntervalMs === 0) return true;
  return BigInt(nowMs) >= assignmentTimestampMs + BigInt(assignmentIntervalMs);
}

/**
 * UpdatedMembersAndTargetAssignmentView: the group's members and target assignment with
 * `updatedMember` added or updated; a static member replacing another takes its target assignment.
 */
function updatedMembersAndTargetAssignment(
  group: ConsumerGroup,
  updatedMember: ConsumerGroupMember,
): { members: Map<string, ConsumerGroupMember>; targetAssignment: Map<string, Assignment> } {
  const members = new Map(group.members);
  const staticMembers = new Map(group.staticMembers);
  const targetAssignment = new Map(group.targetAssignment);
  const memberId = updatedMember.memberId;
  const previous = members.get(memberId);
  members.set(memberId, updatedMember);
  const previousInstanceId = previous?.instanceId ?? null;
  const instanceId = updatedMember.instanceId;
  if (previousInstanceId !== null && previousInstanceId !== instanceId) staticMembers.delete(previousInstanceId);
  if (instanceId !== null) {
    const previousMemberId = staticMembers.get(instanceId);
    staticMembers.set(instanceId, memberId);
    if (previousMemberId !== undefined && previousMemberId !== memberId) {
      const assignment = targetAssignment.get(previousMemberId);
      if (assignment !== undefined) targetAssignment.set(memberId, assignment);
      members.delete(previousMemberId);
      targetAssignment.delete(previousMemberId);
    }
  }
  return { members, targetAssignment };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

/** Kafka's UnionSet iteration: the first set, then the second's items not in the first. */
function unionSet(first: readonly string[], second: ReadonlySet<string>): string[] {
  const seen = new Set(first);
  return [...first, ...[...second].filter((item) => !seen.has(item))];
}

export type { SubscriptionCount };
