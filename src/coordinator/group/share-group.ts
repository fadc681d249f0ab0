// A KIP-932 share group and its members, as Kafka 4.4's ShareGroup and ShareGroupMember keep them:
// the group epoch and metadata hash, the members (member epoch, previous epoch, subscription,
// assigned partitions), the target assignment and its epoch, and the share-partition state
// metadata (which topic partitions have their state initialized in __share_group_state, which are
// initializing, which topics are being deleted). States:
//
//   Empty   no member
//   Stable  at least one member (share groups have no revocation: a member takes its target
//           assignment at once, partitions may be shared by several members)
//   Dead    deleted
//
// Like ConsumerGroup, the group only holds state and is changed solely by replaying records
// (shard.ts); the decisions live in share-group-protocol.ts.

import type { TopicPartitions } from "./assignor/types.js";

export type ShareGroupState = "Empty" | "Stable" | "Dead";

export interface ShareGroupMember {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly rackId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly subscribedTopicNames: readonly string[];
  /** Partitions by topic id. */
  readonly assignedPartitions: TopicPartitions;
}

export function newShareGroupMember(memberId: string): ShareGroupMember {
  return {
    memberId,
    memberEpoch: 0,
    previousMemberEpoch: 0,
    rackId: null,
    clientId: "",
    clientHost: "",
    subscribedTopicNames: [],
    assignedPartitions: new Map(),
  };
}

/** A topic's partitions with its name, as ShareGroupStatePartitionMetadata lists them. */
export interface StateTopicPartitions {
  readonly topicName: string;
  readonly partitions: ReadonlySet<number>;
}

export class ShareGroup {
  readonly type = "share";
  readonly protocolType = "share";
  readonly members = new Map<string, ShareGroupMember>();
  /** memberId → partitions by topic id. */
  readonly targetAssignment = new Map<string, TopicPartitions>();
  groupEpoch = 0;
  metadataHash = 0n;
  assignmentEpoch = -1;
  assignmentTimestamp = 0n;
  /** Topic id → partitions whose share state is initialized (ShareGroupStatePartitionMetadata). */
  initializedTopics = new Map<string, StateTopicPartitions>();
  /** Topic id → partitions whose share state is being initialized. */
  initializingTopics = new Map<string, StateTopicPartitions>();
  /** Topic id → name of topics whose share state is being deleted. */
  deletingTopics = new Map<string, string>();
  /** Whether a ShareGroupStatePartitionMetadata record exists (to tombstone it). */
  hasStateMetadataRecord = false;
  #dead = false;

  constructor(readonly groupId: string) {}

  get state(): ShareGroupState {
    if (this.#dead) return "Dead";
    return this.members.size === 0 ? "Empty" : "Stable";
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

  /** Subscribed topic name → how many members subscribe to it. */
  subscribedTopicNames(): Map<string, { byNameCount: number; byRegexCount: number }> {
    const counts = new Map<string, { byNameCount: number; byRegexCount: number }>();
    for (const member of this.members.values()) {
      for (const name of member.subscribedTopicNames) counts.set(name, { byNameCount: (counts.get(name)?.byNameCount ?? 0) + 1, byRegexCount: 0 });
    }
    return counts;
  }

  /** Every topic partition with initialized or initializing state: topic id → partitions. */
  statePartitions(): Map<string, StateTopicPartitions> {
    const out = new Map<string, StateTopicPartitions>();
    for (const source of [this.initializedTopics, this.initializingTopics]) {
      for (const [topicId, info] of source) {
        const existing = out.get(topicId);
        out.set(topicId, { topicName: info.topicName, partitions: new Set([...(existing?.partitions ?? []), ...info.partitions]) });
      }
    }
    return out;
  }
}
