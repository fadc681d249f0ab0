// Consumer group administration and the requests of a classic group member, each sent to the
// group's coordinator (FindCoordinator) and retried while the coordinator moves or loads
// (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS).

import { type ConsumerProtocolAssignment, decodeAssignment } from "../coordinator/group/consumer-protocol.js";
import type { ConsumerGroupDescribeResponse } from "../protocol/generated/consumer-group-describe.js";
import type { DeleteGroupsResponse } from "../protocol/generated/delete-groups.js";
import type { DescribeGroupsResponse } from "../protocol/generated/describe-groups.js";
import type { ListGroupsResponse } from "../protocol/generated/list-groups.js";
import { defaultOffsetCommitRequestOffsetCommitRequestPartition, type OffsetCommitResponse } from "../protocol/generated/offset-commit.js";
import type { OffsetFetchResponse } from "../protocol/generated/offset-fetch.js";
import { ZERO_UUID } from "../protocol/runtime.js";
import type { Cluster } from "./cluster.js";
import type { RequestBody } from "./connection.js";
import type { TopicPartition } from "./data.js";
import { KafkaResponseError } from "./errors.js";

const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const DESCRIBE_GROUPS = 15;
const LIST_GROUPS = 16;
const DELETE_GROUPS = 42;
const CONSUMER_GROUP_DESCRIBE = 69;
const GROUP_ID_NOT_FOUND = 69;
/** The coordinator moved, is starting or is loading: ask again. */
const coordinatorErrors = new Set([14, 15, 16]);

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: string;
}

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The consumer protocol's assignment, when the group uses it and it parses. */
  assignment: ConsumerProtocolAssignment | null;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: GroupMember[];
  coordinator: number;
  error: KafkaResponseError | null;
}

export interface CommittedOffset extends TopicPartition {
  /** -1 when the group has no offset for the partition. */
  offset: bigint;
  metadata: string | null;
}

/** The generation a member commits in (classic protocol); absent for an admin commit (empty group). */
export interface MemberGeneration {
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

/**
 * A request to a group's coordinator. `errorOf` reads the answer's top-level error: a coordinator
 * error there sends the request again to a coordinator looked up afresh; others come back as is.
 */
export async function coordinatorRequest<T>(
  cluster: Cluster,
  groupId: string,
  apiKey: number,
  body: RequestBody,
  errorOf: (response: T) => number,
  options: { extraWaitMs?: number } = {},
): Promise<T> {
  return cluster.retry(async () => {
    const connection = await cluster.coordinator(groupId);
    const response = await connection.request<T>(apiKey, body, options);
    const code = errorOf(response);
    if (coordinatorErrors.has(code)) throw new KafkaResponseError(code);
    return response;
  });
}

/** ListGroups on every broker (each lists the groups it coordinates). */
export async function listGroups(cluster: Cluster): Promise<ListedGroup[]> {
  await cluster.metadata([]);
  const groups: ListedGroup[] = [];
  for (const broker of cluster.brokers()) {
    const response = await cluster.retry(async () => (await cluster.node(broker.nodeId)).request<ListGroupsResponse>(LIST_GROUPS, {}));
    if (response.errorCode !== 0) throw new KafkaResponseError(response.errorCode);
    for (const group of response.groups) {
      groups.push({ groupId: group.groupId, protocolType: group.protocolType, state: group.groupState, type: group.groupType });
    }
  }
  return groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

/**
 * A group's description, as Kafka's Admin.describeConsumerGroups gets it: ConsumerGroupDescribe
 * first (a KIP-848 consumer group; brokers that serve it), DescribeGroups when the broker does not
 * serve it or answers GROUP_ID_NOT_FOUND (a classic group, or none).
 */
export async function describeGroup(cluster: Cluster, groupId: string): Promise<GroupDescription> {
  if ((await cluster.coordinator(groupId)).version(CONSUMER_GROUP_DESCRIBE) !== undefined) {
    const described = await describeConsumerGroup(cluster, groupId);
    if (described !== null) return described;
  }
  return describeClassicGroup(cluster, groupId);
}

/** ConsumerGroupDescribe; null when the group is not a consumer group (GROUP_ID_NOT_FOUND). */
async function describeConsumerGroup(cluster: Cluster, groupId: string): Promise<GroupDescription | null> {
  const response = await coordinatorRequest<ConsumerGroupDescribeResponse>(
    cluster,
    groupId,
    CONSUMER_GROUP_DESCRIBE,
    { groupIds: [groupId], includeAuthorizedOperations: false },
    (r) => r.groups[0]?.errorCode ?? 0,
  );
  const group = response.groups[0];
  if (group === undefined || group.errorCode === GROUP_ID_NOT_FOUND) return null;
  return {
    groupId: group.groupId,
    state: group.groupState,
    protocolType: "consumer",
    protocol: group.assignorName,
    coordinator: await coordinatorId(cluster, groupId),
    error: group.errorCode === 0 ? null : new KafkaResponseError(group.errorCode, group.errorMessage),
    members: group.members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.instanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      assignment: {
        assignedPartitions: member.assignment.topicPartitions.map((tp) => ({ topic: tp.topicName, partitions: [...tp.partitions].sort((a, b) => a - b) })),
        userData: null,
      },
    })),
  };
}

async function coordinatorId(cluster: Cluster, groupId: string): Promise<number> {
  const coordinator = (await cluster.coordinator(groupId)).address;
  return cluster.brokers().find((b) => `${b.host}:${b.port}` === coordinator)?.nodeId ?? -1;
}

async function describeClassicGroup(cluster: Cluster, groupId: string): Promise<GroupDescription> {
  const response = await coordinatorRequest<DescribeGroupsResponse>(
    cluster,
    groupId,
    DESCRIBE_GROUPS,
    { groups: [groupId], includeAuthorizedOperations: false },
    (r) => r.groups[0]?.errorCode ?? 0,
  );
  const group = response.groups[0];
  if (group === undefined) throw new KafkaResponseError(-1, `no description of group '${groupId}'`);
  return {
    groupId: group.groupId,
    state: group.groupState,
    protocolType: group.protocolType,
    protocol: group.protocolData,
    coordinator: await coordinatorId(cluster, groupId),
    error: group.errorCode === 0 ? null : new KafkaResponseError(group.errorCode, group.errorMessage),
    members: group.members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      assignment: group.protocolType === "consumer" ? parseAssignment(member.memberAssignment) : null,
    })),
  };
}

function parseAssignment(bytes: Buffer): ConsumerProtocolAssignment | null {
  if (bytes.length === 0) return { assignedPartitions: [], userData: null };
  try {
    return decodeAssignment(bytes);
  } catch {
    return null;
  }
}

/** The group's committed offsets: of `partitions`, or of every partition it has one for (null). */
export async function fetchOffsets(cluster: Cluster, groupId: string, partitions: readonly TopicPartition[] | null = null): Promise<CommittedOffset[]> {
  const topics =
    partitions === null
      ? null
      : [...new Set(partitions.map((p) => p.topic))].map((name) => ({
          name,
          partitionIndexes: partitions.filter((p) => p.topic === name).map((p) => p.partition),
        }));
  const response = await coordinatorRequest<OffsetFetchResponse>(
    cluster,
    groupId,
    OFFSET_FETCH,
    (version) =>
      version >= 8
        ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: topics?.map((t) => ({ ...t, topicId: ZERO_UUID })) ?? null }] }
        : { groupId, topics },
    (r) => r.groups[0]?.errorCode ?? r.errorCode,
  );
  const group = response.groups[0];
  const errorCode = group?.errorCode ?? response.errorCode;
  if (errorCode !== 0) throw new KafkaResponseError(errorCode);
  const committed: CommittedOffset[] = [];
  for (const topic of group?.topics ?? response.topics) {
    for (const p of topic.partitions) {
      if (p.errorCode !== 0) throw new KafkaResponseError(p.errorCode, `offset of ${topic.name}-${p.partitionIndex} in group '${groupId}'`);
      committed.push({ topic: topic.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
    }
  }
  return committed;
}

/** OffsetCommit; throws the first partition's error. Without `member`, only an empty group accepts it. */
export async function commitOffsets(
  cluster: Cluster,
  groupId: string,
  offsets: readonly (TopicPartition & { offset: bigint })[],
  member: MemberGeneration | null = null,
): Promise<void> {
  const topics = [...new Set(offsets.map((o) => o.topic))].map((name) => ({
    name,
    topicId: ZERO_UUID,
    partitions: offsets
      .filter((o) => o.topic === name)
      .map((o) => ({ ...defaultOffsetCommitRequestOffsetCommitRequestPartition(), partitionIndex: o.partition, committedOffset: o.offset })),
  }));
  const response = await coordinatorRequest<OffsetCommitResponse>(
    cluster,
    groupId,
    OFFSET_COMMIT,
    {
      groupId,
      generationIdOrMemberEpoch: member?.generationId ?? -1,
      memberId: member?.memberId ?? "",
      groupInstanceId: member?.groupInstanceId ?? null,
      topics,
    },
    (r) => r.topics[0]?.partitions[0]?.errorCode ?? 0,
  );
  for (const topic of response.topics) {
    for (const p of topic.partitions) if (p.errorCode !== 0) throw new KafkaResponseError(p.errorCode);
  }
}

export async function deleteGroups(cluster: Cluster, groupIds: readonly string[]): Promise<{ groupId: string; error: KafkaResponseError | null }[]> {
  const results: { groupId: string; error: KafkaResponseError | null }[] = [];
  for (const groupId of groupIds) {
    const response = await coordinatorRequest<DeleteGroupsResponse>(
      cluster,
      groupId,
      DELETE_GROUPS,
      { groupsNames: [groupId] },
      (r) => r.results[0]?.errorCode ?? 0,
    );
    for (const result of response.results) {
      results.push({ groupId: result.groupId, error: result.errorCode === 0 ? null : new KafkaResponseError(result.errorCode, result.errorMessage) });
    }
  }
  return results;
}
