// A member of a classic consumer group (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), the way
// Kafka's consumer with the "range" assignor behaves: it joins (KIP-394: a first JoinGroup without
// a member id is answered MEMBER_ID_REQUIRED with one to join again with), the leader computes the
// assignment from every member's subscription, each member gets its partitions from SyncGroup, and
// heartbeats keep it in the group until a rebalance asks it to join again (`rejoinNeeded`).

import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from "../coordinator/group/consumer-protocol.js";
import type { HeartbeatResponse } from "../protocol/generated/heartbeat.js";
import type { JoinGroupResponse } from "../protocol/generated/join-group.js";
import type { LeaveGroupResponse } from "../protocol/generated/leave-group.js";
import type { SyncGroupResponse } from "../protocol/generated/sync-group.js";
import type { KafkaClient } from "./client.js";
import type { TopicPartition } from "./data.js";
import { KafkaResponseError } from "./errors.js";
import { coordinatorRequest } from "./groups.js";

const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const LEAVE_GROUP = 13;
const SYNC_GROUP = 14;
const ASSIGNOR = "range";

/** Errors that mean "join again": the group rebalances, or forgot this member or generation. */
const rejoinErrors = new Set([22 /* ILLEGAL_GENERATION */, 25 /* UNKNOWN_MEMBER_ID */, 27 /* REBALANCE_IN_PROGRESS */]);
const MEMBER_ID_REQUIRED = 79;
const joinAttempts_max = 20;

export interface GroupMemberOptions {
  groupId: string;
  topics: readonly string[];
  /** Default 10 s: a CLI that dies leaves the group this soon (Kafka's consumer: 45 s). */
  sessionTimeoutMs?: number;
  /** Default 30 s. */
  rebalanceTimeoutMs?: number;
  /** Default 3 s, as Kafka's consumer. */
  heartbeatIntervalMs?: number;
}

/**
 * Kafka's RangeAssignor for each topic: members subscribed to it sorted by member id, partitions
 * split into contiguous ranges, the first `partitions % members` members taking one more.
 */
export function rangeAssign(
  subscriptions: ReadonlyMap<string, readonly string[]>,
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const assignment = new Map<string, TopicPartition[]>();
  for (const memberId of subscriptions.keys()) assignment.set(memberId, []);
  const topics = new Set([...subscriptions.values()].flat());
  for (const topic of [...topics].sort()) {
    const members = [...subscriptions].filter(([, subscribed]) => subscribed.includes(topic)).map(([memberId]) => memberId);
    members.sort();
    const count = partitionCounts.get(topic) ?? 0;
    const each = Math.floor(count / members.length);
    const extra = count % members.length;
    members.forEach((memberId, index) => {
      const start = each * index + Math.min(index, extra);
      const length = each + (index < extra ? 1 : 0);
      for (let partition = start; partition < start + length; partition++) assignment.get(memberId)?.push({ topic, partition });
    });
  }
  return assignment;
}

export class ClassicGroupMember {
  readonly groupId: string;
  memberId = "";
  generationId = -1;
  assignment: TopicPartition[] = [];
  /** Set when a heartbeat or commit says the group rebalances: call join() again. */
  rejoinNeeded = true;
  readonly #client: KafkaClient;
  readonly #options: Required<GroupMemberOptions>;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(client: KafkaClient, options: GroupMemberOptions) {
    this.#client = client;
    this.groupId = options.groupId;
    this.#options = { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, heartbeatIntervalMs: 3_000, ...options };
  }

  get generation(): { generationId: number; memberId: string; groupInstanceId: null } {
    return { generationId: this.generationId, memberId: this.memberId, groupInstanceId: null };
  }

  /** Joins (or rejoins) the group and resolves with this member's partitions. */
  async join(): Promise<TopicPartition[]> {
    this.#stopHeartbeat();
    for (let attempt = 1; ; attempt++) {
      const joined = await this.#joinGroup();
      if (joined.errorCode === MEMBER_ID_REQUIRED || rejoinErrors.has(joined.errorCode)) {
        this.memberId = joined.errorCode === 25 ? "" : joined.memberId || this.memberId;
        if (attempt < joinAttempts_max) continue;
      }
      if (joined.errorCode !== 0) throw new KafkaResponseError(joined.errorCode);
      this.memberId = joined.memberId;
      this.generationId = joined.generationId;
      const assignments = joined.leader === joined.memberId ? await this.#assign(joined) : [];
      const synced = await this.#syncGroup(assignments);
      if (rejoinErrors.has(synced.errorCode) && attempt < joinAttempts_max) continue;
      if (synced.errorCode !== 0) throw new KafkaResponseError(synced.errorCode);
      this.assignment =
        synced.assignment.length === 0
          ? []
          : decodeAssignment(synced.assignment).assignedPartitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
      this.rejoinNeeded = false;
      this.#startHeartbeat();
      return this.assignment;
    }
  }

  /** Commits offsets in this member's generation; a rebalance meanwhile sets rejoinNeeded and throws. */
  async commit(offsets: readonly (TopicPartition & { offset: bigint })[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      await this.#client.commitOffsets(this.groupId, offsets, this.generation);
    } catch (error) {
      if (error instanceof KafkaResponseError && rejoinErrors.has(error.errorCode)) this.rejoinNeeded = true;
      throw error;
    }
  }

  /** Leaves the group (so it rebalances now, not after the session timeout). */
  async leave(): Promise<void> {
    this.#stopHeartbeat();
    if (this.memberId === "") return;
    await coordinatorRequest<LeaveGroupResponse>(
      this.#client.cluster,
      this.groupId,
      LEAVE_GROUP,
      (version) =>
        version >= 3
          ? { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: null, reason: "the sluice CLI is done" }] }
          : { groupId: this.groupId, memberId: this.memberId },
      (r) => r.errorCode,
    );
    this.memberId = "";
  }

  #joinGroup(): Promise<JoinGroupResponse> {
    const { groupId, topics, sessionTimeoutMs, rebalanceTimeoutMs } = this.#options;
    return coordinatorRequest<JoinGroupResponse>(
      this.#client.cluster,
      groupId,
      JOIN_GROUP,
      {
        groupId,
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: ASSIGNOR, metadata: encodeSubscription({ topics: [...topics] }, 0) }],
        reason: null,
      },
      (r) => r.errorCode,
      { extraWaitMs: rebalanceTimeoutMs },
    );
  }

  /** The leader's work: the range assignment of every member's subscription. */
  async #assign(joined: JoinGroupResponse): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map(joined.members.map((member) => [member.memberId, decodeSubscription(member.metadata).topics]));
    const topics = [...new Set([...subscriptions.values()].flat())];
    const metadata = await this.#client.metadata(topics);
    const counts = new Map(metadata.topics.filter((t) => t.errorCode === 0).map((t) => [t.name, t.partitions.length]));
    const assigned = rangeAssign(subscriptions, counts);
    return [...assigned].map(([memberId, partitions]) => {
      const byTopic = new Map<string, number[]>();
      for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
      return {
        memberId,
        assignment: encodeAssignment({ assignedPartitions: [...byTopic].map(([topic, list]) => ({ topic, partitions: list })), userData: null }, 0),
      };
    });
  }

  #syncGroup(assignments: { memberId: string; assignment: Buffer }[]): Promise<SyncGroupResponse> {
    return coordinatorRequest<SyncGroupResponse>(
      this.#client.cluster,
      this.groupId,
      SYNC_GROUP,
      {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: "consumer",
        protocolName: ASSIGNOR,
        assignments,
      },
      (r) => r.errorCode,
      { extraWaitMs: this.#options.rebalanceTimeoutMs },
    );
  }

  #startHeartbeat(): void {
    this.#heartbeat = setInterval(() => {
      coordinatorRequest<HeartbeatResponse>(
        this.#client.cluster,
        this.groupId,
        HEARTBEAT,
        { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null },
        (r) => r.errorCode,
      ).then(
        (answer) => {
          if (answer.errorCode !== 0) this.rejoinNeeded = true;
        },
        () => {
          this.rejoinNeeded = true;
        },
      );
    }, this.#options.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
