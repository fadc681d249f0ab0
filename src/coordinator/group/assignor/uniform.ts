// Kafka's server-side UniformAssignor ("uniform", the default of group.consumer.assignors), ported
// from Kafka 4.4.0's org.apache.kafka.coordinator.group.assignor.UniformAssignor and its two
// builders (the classes in kafka-group-coordinator-4.4.0.jar, read against apache/kafka's source):
//   - UniformHomogeneousAssignmentBuilder (formerly OptimizedUniformAssignmentBuilder): every member
//     subscribes to the same topics. Members keep what they own up to their quota (total / members,
//     plus one for the first `total % members` members in iteration order that can use it); the
//     rest is revoked and handed, in order, to members below quota.
//   - UniformHeterogeneousAssignmentBuilder: subscriptions differ. Partitions of unsubscribed topics
//     are revoked, unassigned partitions go topic by topic (most partitions per subscriber first)
//     to the least loaded subscriber, then partitions move from the most to the least loaded
//     subscribers of each topic until balanced (at most 16 rounds over the topics).
// Both walk the same members, topics and partitions in the same order as Kafka (java-collections.ts
// reproduces the order of the Java HashMaps and HashSets involved), so they pick what Kafka picks;
// test/unit/assignors.test.ts compares them with Kafka's own classes.

import {
  hashSetCopyCapacity,
  JavaAssignment,
  JavaHashTable,
  type JavaRuntime,
  kafkaCapacityFor,
  UuidHashes,
  uuidCompare,
  uuidKeyOrder,
  uuidWords,
} from "./java-collections.js";
import {
  type ConsumerGroupPartitionAssignor,
  type GroupAssignment,
  type GroupSpec,
  type MemberAssignment,
  PartitionAssignorException,
  type SubscribedTopicDescriber,
  SubscriptionType,
  type TopicId,
  type TopicPartitions,
} from "./types.js";

export interface UniformAssignorOptions {
  /** The Java runtime whose HashSet sizing to reproduce (default 17). */
  jdk?: JavaRuntime;
}

/** Kafka's UniformAssignor. */
export class UniformAssignor implements ConsumerGroupPartitionAssignor {
  static readonly NAME = "uniform";
  readonly name = UniformAssignor.NAME;
  private readonly jdk: JavaRuntime;

  constructor(options: UniformAssignorOptions = {}) {
    this.jdk = options.jdk ?? 17;
  }

  assign(groupSpec: GroupSpec, subscribedTopicDescriber: SubscribedTopicDescriber): GroupAssignment {
    if (groupSpec.memberIds.length === 0) return { members: new Map() };
    if (groupSpec.subscriptionType === SubscriptionType.HOMOGENEOUS) {
      return new UniformHomogeneousAssignmentBuilder(groupSpec, subscribedTopicDescriber, this.jdk).build();
    }
    return new UniformHeterogeneousAssignmentBuilder(groupSpec, subscribedTopicDescriber, this.jdk).build();
  }
}

/** A member's new assignment while it is built: the current one untouched, or Kafka's mutable deep copy of it. */
type Target = TopicPartitions | JavaAssignment;

function toGroupAssignment(memberIds: readonly string[], targets: readonly Target[]): GroupAssignment {
  const members = new Map<string, MemberAssignment>();
  for (let m = 0; m < memberIds.length; m++) {
    const t = targets[m];
    members.set(memberIds[m], { partitions: t instanceof JavaAssignment ? t.toMap() : t });
  }
  return { members };
}

function unknownTopic(topicId: TopicId): PartitionAssignorException {
  return new PartitionAssignorException(`Members are subscribed to topic ${topicId} which doesn't exist in the topic metadata.`);
}

/** Kafka 4.4's UniformHomogeneousAssignmentBuilder. */
export class UniformHomogeneousAssignmentBuilder {
  private readonly hashes = new UuidHashes();
  /** The subscribed topics in the order of Kafka's `new HashSet<>(subscribedTopicIds)`. */
  private readonly topicIds: string[];
  private readonly subscribed: JavaHashTable<string>;
  /** The partitions to hand out, in order: topic (index into topicIds) and partition, side by side. */
  private readonly unassignedTopics: number[] = [];
  private readonly unassignedPartitions: number[] = [];
  /** Members below quota (index into memberIds) and the partitions they still take, side by side. */
  private readonly unfilledMembers: number[] = [];
  private readonly unfilledQuotas: number[] = [];
  private readonly targets: Target[];
  private minimumMemberQuota = 0;
  private remainingMembersToGetAnExtraPartition = 0;

  constructor(
    private readonly groupSpec: GroupSpec,
    private readonly describer: SubscribedTopicDescriber,
    private readonly jdk: JavaRuntime = 17,
  ) {
    const first = groupSpec.memberSubscription(groupSpec.memberIds[0]).subscribedTopicIds;
    this.subscribed = new JavaHashTable<string>(hashSetCopyCapacity(first.size, jdk), uuidKeyOrder);
    for (const topicId of first) this.subscribed.add(topicId, this.hashes.get(topicId));
    this.topicIds = this.subscribed.keys();
    this.targets = new Array<Target>(groupSpec.memberIds.length);
  }

  build(): GroupAssignment {
    if (this.topicIds.length === 0) return { members: new Map() };

    let totalPartitionsCount = 0;
    for (let t = 0; t < this.topicIds.length; t++) {
      const topicId = this.topicIds[t];
      const partitionCount = this.describer.numPartitions(topicId);
      if (partitionCount === -1) throw unknownTopic(topicId);
      for (let p = 0; p < partitionCount; p++) {
        if (!this.groupSpec.isPartitionAssigned(topicId, p)) {
          this.unassignedTopics.push(t);
          this.unassignedPartitions.push(p);
        }
      }
      totalPartitionsCount += partitionCount;
    }

    const numberOfMembers = this.groupSpec.memberIds.length;
    this.minimumMemberQuota = Math.trunc(totalPartitionsCount / numberOfMembers);
    this.remainingMembersToGetAnExtraPartition = totalPartitionsCount % numberOfMembers;

    this.maybeRevokePartitions();
    this.assignRemainingPartitions();
    return toGroupAssignment(this.groupSpec.memberIds, this.targets);
  }

  /**
   * Keeps each member's partitions of subscribed topics up to its quota, in the member's own
   * iteration order; revokes the rest (and whole unsubscribed topics). A member is copied only
   * when something is taken from it.
   */
  private maybeRevokePartitions(): void {
    const memberIds = this.groupSpec.memberIds;
    const memberCount = memberIds.length;
    let topicIndex: Map<string, number> | undefined;
    for (let memberIndex = 0; memberIndex < memberCount; memberIndex++) {
      const memberId = memberIds[memberIndex];
      const oldAssignment = this.groupSpec.memberAssignment(memberId);
      let newAssignment: JavaAssignment | null = null;

      let quota = this.minimumMemberQuota;
      let quotaHasExtraPartition = false;
      if (this.remainingMembersToGetAnExtraPartition > 0) {
        quota++;
        quotaHasExtraPartition = true;
      }

      for (const [topicId, partitions] of oldAssignment) {
        if (this.subscribed.has(topicId)) {
          if (partitions.size <= quota) {
            quota -= partitions.size;
            continue;
          }
          for (const partition of partitions) {
            if (quota > 0) {
              quota--;
              continue;
            }
            if (newAssignment === null) newAssignment = JavaAssignment.deepCopy(oldAssignment, this.hashes, this.jdk);
            const parts = newAssignment.get(topicId)!;
            parts.delete(partition);
            if (parts.size === 0) newAssignment.delete(topicId);
            if (topicIndex === undefined) topicIndex = new Map(this.topicIds.map((id, i) => [id, i]));
            this.unassignedTopics.push(topicIndex.get(topicId)!);
            this.unassignedPartitions.push(partition);
          }
          continue;
        }
        if (newAssignment === null) newAssignment = JavaAssignment.deepCopy(oldAssignment, this.hashes, this.jdk);
        newAssignment.delete(topicId);
      }

      // A member that cannot fill its extra slot leaves it to a later member, while enough remain.
      if (quota > 0 && quotaHasExtraPartition && memberCount - memberIndex > this.remainingMembersToGetAnExtraPartition) {
        quota--;
        quotaHasExtraPartition = false;
      }
      if (quota > 0) {
        this.unfilledMembers.push(memberIndex);
        this.unfilledQuotas.push(quota);
      }
      if (quotaHasExtraPartition) this.remainingMembersToGetAnExtraPartition--;
      this.targets[memberIndex] = newAssignment ?? oldAssignment;
    }
  }

  /** Hands the unassigned partitions, in order, to the members below quota, in order. */
  private assignRemainingPartitions(): void {
    const total = this.unassignedPartitions.length;
    let next = 0;
    for (let u = 0; u < this.unfilledMembers.length; u++) {
      const memberIndex = this.unfilledMembers[u];
      const remainingQuota = this.unfilledQuotas[u];
      let newAssignment = this.targets[memberIndex];
      if (!(newAssignment instanceof JavaAssignment)) {
        newAssignment = JavaAssignment.deepCopy(newAssignment, this.hashes, this.jdk);
        this.targets[memberIndex] = newAssignment;
      }
      for (let i = 0; i < remainingQuota && next < total; i++, next++) {
        newAssignment.computeIfAbsent(this.topicIds[this.unassignedTopics[next]]).add(this.unassignedPartitions[next]);
      }
    }
    if (next < total) throw new PartitionAssignorException("Partitions were left unassigned");
  }
}

/** The largest number of passes over the topics in the final balancing phase. */
const MAX_ITERATION_COUNT = 16;

/** Kafka 4.4's UniformHeterogeneousAssignmentBuilder. Members and topics are numbered; owners are member numbers, -1 for none. */
export class UniformHeterogeneousAssignmentBuilder {
  private readonly hashes = new UuidHashes();
  private readonly memberIds: readonly string[];
  private readonly memberIndices = new Map<string, number>();
  /** Topics in first-subscribed order (their order never matters: they are always sorted before use). */
  private readonly topicIds: string[] = [];
  private readonly topicIndices = new Map<string, number>();
  private readonly topicNumPartitions: number[] = [];
  /** Subscribers per topic, ascending member numbers. */
  private readonly topicSubscribers: number[][] = [];
  private readonly topicUuidWords: Int32Array[] = [];
  /** Per topic, the owner of each partition in the target assignment. */
  private readonly partitionOwners: Int32Array[] = [];
  private readonly targets: Target[];
  private readonly memberTargetAssignmentSizes: Int32Array;
  private readonly topicComparator = (a: number, b: number): number => {
    const aPartitions = this.topicNumPartitions[a];
    const bPartitions = this.topicNumPartitions[b];
    const aSubscribers = this.topicSubscribers[a].length;
    const bSubscribers = this.topicSubscribers[b].length;
    // Partitions per subscriber, descending (Double.compare), then subscribers ascending, then topic id.
    const aRatio = aPartitions / aSubscribers;
    const bRatio = bPartitions / bSubscribers;
    if (bRatio !== aRatio) return bRatio < aRatio ? -1 : 1;
    if (aSubscribers !== bSubscribers) return aSubscribers < bSubscribers ? -1 : 1;
    return uuidCompare(this.topicUuidWords[a], this.topicUuidWords[b]);
  };

  constructor(
    private readonly groupSpec: GroupSpec,
    describer: SubscribedTopicDescriber,
    private readonly jdk: JavaRuntime = 17,
  ) {
    this.memberIds = groupSpec.memberIds;
    const memberCount = this.memberIds.length;
    for (let m = 0; m < memberCount; m++) this.memberIndices.set(this.memberIds[m], m);
    this.targets = new Array<Target>(memberCount);
    this.memberTargetAssignmentSizes = new Int32Array(memberCount);

    for (let m = 0; m < memberCount; m++) {
      for (const topicId of groupSpec.memberSubscription(this.memberIds[m]).subscribedTopicIds) {
        const numPartitions = describer.numPartitions(topicId);
        if (numPartitions === -1) throw unknownTopic(topicId);
        let t = this.topicIndices.get(topicId);
        if (t === undefined) {
          t = this.topicIds.length;
          this.topicIds.push(topicId);
          this.topicIndices.set(topicId, t);
          this.topicNumPartitions.push(numPartitions);
          this.topicSubscribers.push([]);
          this.topicUuidWords.push(uuidWords(topicId));
          this.partitionOwners.push(new Int32Array(numPartitions).fill(-1));
        }
        this.topicSubscribers[t].push(m);
      }
    }
  }

  build(): GroupAssignment {
    if (this.topicIds.length === 0) return { members: new Map() };
    this.maybeRevokePartitions();
    this.assignRemainingPartitions(this.computeUnassignedPartitions());
    this.balance();
    return toGroupAssignment(this.memberIds, this.targets);
  }

  /** Revokes the partitions of topics a member no longer subscribes to; records the owners of the rest. */
  private maybeRevokePartitions(): void {
    for (const memberId of this.groupSpec.memberIds) {
      const memberIndex = this.memberIndices.get(memberId)!;
      const oldAssignment = this.groupSpec.memberAssignment(memberId);
      const subscribedTopicIds = this.groupSpec.memberSubscription(memberId).subscribedTopicIds;
      let newAssignment: JavaAssignment | null = null;
      for (const [topicId, partitions] of oldAssignment) {
        if (subscribedTopicIds.has(topicId)) {
          this.memberTargetAssignmentSizes[memberIndex] += partitions.size;
          const owners = this.partitionOwners[this.topicIndices.get(topicId)!];
          for (const partition of partitions) {
            // Java: an ArrayIndexOutOfBoundsException.
            if (!(partition >= 0 && partition < owners.length)) {
              throw new RangeError(`member ${memberId} owns partition ${partition} of topic ${topicId}, which has ${owners.length} partitions`);
            }
            owners[partition] = memberIndex;
          }
          continue;
        }
        if (newAssignment === null) newAssignment = JavaAssignment.deepCopy(oldAssignment, this.hashes, this.jdk);
        newAssignment.delete(topicId);
      }
      this.targets[memberIndex] = newAssignment ?? oldAssignment;
    }
  }

  /** Per topic with unowned partitions: those partitions, ascending. */
  private computeUnassignedPartitions(): Map<number, number[]> {
    const unassigned = new Map<number, number[]>();
    for (let t = 0; t < this.topicIds.length; t++) {
      const owners = this.partitionOwners[t];
      const partitions: number[] = [];
      for (let p = 0; p < owners.length; p++) if (owners[p] === -1) partitions.push(p);
      if (partitions.length > 0) unassigned.set(t, partitions);
    }
    return unassigned;
  }

  /** Topic by topic (sorted), each unowned partition to the subscriber with the fewest partitions. */
  private assignRemainingPartitions(unassigned: Map<number, number[]>): void {
    const sortedTopics = [...unassigned.keys()].sort(this.topicComparator);
    const balancer = new MemberAssignmentBalancer(this.memberTargetAssignmentSizes);
    for (const t of sortedTopics) {
      balancer.initialize(this.topicSubscribers[t]);
      for (const partition of unassigned.get(t)!) this.assignPartition(t, partition, balancer.nextLeastLoadedMember());
    }
  }

  private balance(): void {
    const topics: number[] = [];
    for (let t = 0; t < this.topicIds.length; t++) if (this.topicSubscribers[t].length >= 2) topics.push(t);
    if (topics.length > 0) this.balanceTopics(topics);
  }

  /**
   * Balances topic by topic (sorted), over and over, until a whole pass moves nothing or after
   * MAX_ITERATION_COUNT passes.
   */
  private balanceTopics(topics: number[]): void {
    const sortedTopics = topics.sort(this.topicComparator);
    let lastRebalanceTopicIndex = -1;
    const balancer = new MemberAssignmentBalancer(this.memberTargetAssignmentSizes);
    const scratch = new TopicScratch(this.memberIds.length);
    for (let i = 0; i < MAX_ITERATION_COUNT; i++) {
      for (let topicIndex = 0; topicIndex < sortedTopics.length; topicIndex++) {
        if (topicIndex === lastRebalanceTopicIndex) return;
        const reassigned = this.balanceTopic(sortedTopics[topicIndex], balancer, scratch);
        if (reassigned > 0 || lastRebalanceTopicIndex === -1) lastRebalanceTopicIndex = topicIndex;
      }
    }
  }

  /** Moves the topic's partitions from its most to its least loaded subscribers; returns how many moved. */
  private balanceTopic(t: number, balancer: MemberAssignmentBalancer, scratch: TopicScratch): number {
    let reassigned = 0;
    const imbalance = balancer.initialize(this.topicSubscribers[t]);
    if (imbalance <= 1) return reassigned;

    // The topic's partitions grouped by owner (ascending owner, then partition): a member gives up
    // the last partition of its group.
    const owners = this.partitionOwners[t];
    const partitions = scratch.sortByOwner(owners);
    const { start, end } = scratch;
    scratch.resetRanges();
    for (let i = 0; i < partitions.length; i++) {
      const owner = owners[partitions[i]];
      if (owner < 0) continue; // never: every partition has an owner by now
      if (end[owner] === -1) {
        start[owner] = i;
        scratch.touched.push(owner);
      }
      end[owner] = i + 1;
    }

    while (!balancer.isBalanced()) {
      let mostLoaded: number;
      for (;;) {
        mostLoaded = balancer.nextMostLoadedMember();
        if (mostLoaded === -1) break;
        if (end[mostLoaded] === -1 || end[mostLoaded] - start[mostLoaded] <= 0) {
          balancer.excludeMostLoadedMember();
          continue;
        }
        break;
      }
      if (mostLoaded === -1) break;

      const partition = partitions[end[mostLoaded] - 1];
      end[mostLoaded]--;
      const leastLoaded = balancer.nextLeastLoadedMember();
      if (balancer.isBalanced()) break;
      this.assignPartition(t, partition, leastLoaded);
      reassigned++;
    }
    return reassigned;
  }

  private assignPartition(t: number, partition: number, memberIndex: number): void {
    const owners = this.partitionOwners[t];
    const oldMemberIndex = owners[partition];
    if (oldMemberIndex !== -1) this.removePartitionFromTargetAssignment(t, partition, oldMemberIndex);
    this.addPartitionToTargetAssignment(t, partition, memberIndex);
  }

  private mutableTarget(memberIndex: number): JavaAssignment {
    const target = this.targets[memberIndex];
    if (target instanceof JavaAssignment) return target;
    const copy = JavaAssignment.deepCopy(target, this.hashes, this.jdk);
    this.targets[memberIndex] = copy;
    return copy;
  }

  private addPartitionToTargetAssignment(t: number, partition: number, memberIndex: number): void {
    const assignment = this.mutableTarget(memberIndex);
    const topicId = this.topicIds[t];
    const numPartitions = this.topicNumPartitions[t];
    const numSubscribers = this.topicSubscribers[t].length;
    const estimatedPartitionsPerSubscriber = Math.trunc((numPartitions + numSubscribers - 1) / numSubscribers);
    assignment.computeIfAbsent(topicId, kafkaCapacityFor(estimatedPartitionsPerSubscriber)).add(partition);
    this.partitionOwners[t][partition] = memberIndex;
    this.memberTargetAssignmentSizes[memberIndex]++;
  }

  private removePartitionFromTargetAssignment(t: number, partition: number, memberIndex: number): void {
    const assignment = this.mutableTarget(memberIndex);
    const topicId = this.topicIds[t];
    const set = assignment.get(topicId);
    if (set !== undefined) {
      set.delete(partition);
      if (set.size === 0) assignment.delete(topicId);
    }
    this.partitionOwners[t][partition] = -1;
    this.memberTargetAssignmentSizes[memberIndex]--;
  }
}

/** Buffers balanceTopic reuses from topic to topic. */
class TopicScratch {
  /** Per member: the range [start, end) of its partitions in the sorted list; end -1 = owns none. */
  readonly start: Int32Array;
  readonly end: Int32Array;
  /** The members whose range is set, to reset only those. */
  readonly touched: number[] = [];
  private keys = new Float64Array(0);
  private sorted = new Int32Array(0);

  constructor(memberCount: number) {
    this.start = new Int32Array(memberCount);
    this.end = new Int32Array(memberCount).fill(-1);
  }

  resetRanges(): void {
    for (const m of this.touched) this.end[m] = -1;
    this.touched.length = 0;
  }

  /** The partitions 0..n-1 ordered by (owner, partition). */
  sortByOwner(owners: Int32Array): Int32Array {
    const n = owners.length;
    if (this.keys.length < n) {
      this.keys = new Float64Array(n);
      this.sorted = new Int32Array(n);
    }
    const keys = this.keys.subarray(0, n);
    for (let p = 0; p < n; p++) keys[p] = (owners[p] + 1) * n + p;
    keys.sort();
    const sorted = this.sorted.subarray(0, n);
    for (let i = 0; i < n; i++) sorted[i] = keys[i] % n;
    return sorted;
  }
}

/**
 * Kafka's UniformHeterogeneousAssignmentBuilder.MemberAssignmentBalancer: a topic's subscribers
 * sorted by partition count (then member number), with a growing range of least loaded members
 * to give partitions to and a growing range of most loaded members to take partitions from.
 */
class MemberAssignmentBalancer {
  private readonly sortedMembers: number[] = [];
  /** [0, leastLoadedRangeEnd) holds the members with the fewest partitions. */
  private leastLoadedRangeEnd = 0;
  private leastLoadedRangePartitionCount = -1;
  private nextLeastLoadedMemberIndex = 0;
  /** [mostLoadedRangeStart, mostLoadedRangeEnd) holds the members with the most partitions. */
  private mostLoadedRangeStart = 0;
  private mostLoadedRangeEnd = 0;
  private mostLoadedRangePartitionCount = 1;
  private nextMostLoadedMemberIndex = -1;
  private readonly memberComparator = (a: number, b: number): number => {
    const sizes = this.sizes;
    return sizes[a] !== sizes[b] ? sizes[a] - sizes[b] : a - b;
  };

  constructor(private readonly sizes: Int32Array) {}

  /** Resets for a new set of members; returns the spread between the most and least loaded. */
  initialize(members: readonly number[]): number {
    if (members.length === 0) throw new RangeError("Cannot balance an empty subscriber list.");
    const sorted = this.sortedMembers;
    sorted.length = 0;
    for (const m of members) sorted.push(m);
    sorted.sort(this.memberComparator);
    const sizes = this.sizes;
    const last = sorted.length - 1;
    this.leastLoadedRangeEnd = 0;
    this.leastLoadedRangePartitionCount = sizes[sorted[0]] - 1;
    this.nextLeastLoadedMemberIndex = 0;
    this.mostLoadedRangeStart = sorted.length;
    this.mostLoadedRangeEnd = sorted.length;
    this.mostLoadedRangePartitionCount = sizes[sorted[last]] + 1;
    this.nextMostLoadedMemberIndex = last;
    return sizes[sorted[last]] - sizes[sorted[0]];
  }

  /** The member to give the next partition to (assumed given). */
  nextLeastLoadedMember(): number {
    const sorted = this.sortedMembers;
    if (this.nextLeastLoadedMemberIndex >= this.leastLoadedRangeEnd) {
      // The range is full: raise its level and take in the members at that level.
      this.leastLoadedRangePartitionCount++;
      while (this.leastLoadedRangeEnd < sorted.length && this.sizes[sorted[this.leastLoadedRangeEnd]] === this.leastLoadedRangePartitionCount) {
        this.leastLoadedRangeEnd++;
      }
      this.nextLeastLoadedMemberIndex = 0;
    }
    return sorted[this.nextLeastLoadedMemberIndex++];
  }

  /** The member to take the next partition from (assumed taken), or -1 if none can give any. */
  nextMostLoadedMember(): number {
    const sorted = this.sortedMembers;
    if (this.nextMostLoadedMemberIndex < this.mostLoadedRangeStart) {
      if (this.mostLoadedRangeEnd <= this.mostLoadedRangeStart && this.mostLoadedRangeStart > 0) {
        // Emptied by excludeMostLoadedMember: restart from the next member's level so the range grows.
        this.mostLoadedRangePartitionCount = this.sizes[sorted[this.mostLoadedRangeStart - 1]];
      } else {
        this.mostLoadedRangePartitionCount--;
      }
      while (this.mostLoadedRangeStart > 0 && this.sizes[sorted[this.mostLoadedRangeStart - 1]] === this.mostLoadedRangePartitionCount) {
        this.mostLoadedRangeStart--;
      }
      this.nextMostLoadedMemberIndex = this.mostLoadedRangeEnd - 1;
    }
    if (this.nextMostLoadedMemberIndex < 0) return -1;
    return sorted[this.nextMostLoadedMemberIndex--];
  }

  /** Drops the member nextMostLoadedMember last returned from the most loaded range. */
  excludeMostLoadedMember(): void {
    const sorted = this.sortedMembers;
    const i = this.nextMostLoadedMemberIndex + 1;
    const member = sorted[i];
    sorted[i] = sorted[this.mostLoadedRangeEnd - 1];
    sorted[this.mostLoadedRangeEnd - 1] = member;
    this.mostLoadedRangeEnd--;
  }

  isBalanced(): boolean {
    return this.mostLoadedRangePartitionCount - this.leastLoadedRangePartitionCount <= 1;
  }
}
