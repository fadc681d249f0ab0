// The admin REST API under /api/ (DESIGN.md §2, HTTP plane): what the web console shows and
// changes, as JSON.
//
//   GET    /api/cluster                         cluster id, controller, counts
//   GET    /api/brokers                         brokers with endpoints; this one's log directory
//   GET    /api/topics                          topics with partition count, size, records
//   POST   /api/topics                          {name, partitions?, replicationFactor?, configs?}
//   GET    /api/topics/:name                    partitions (leader, replicas, ISR, offsets, size, segments), configs
//   DELETE /api/topics/:name
//   GET    /api/topics/:name/messages           ?partition=&offset=|timestamp=&limit=  (records-view.ts)
//   GET    /api/groups                          groups with state, members, lag
//   GET    /api/groups/:id                      state, protocol, members and assignments, lag per partition
//   POST   /api/groups/:id/reset-offsets        {topic, partitions?, to: earliest|latest|offset|timestamp|shift, value?}
//   DELETE /api/groups/:id
//   GET    /api/throughput                      the last minutes of per-second throughput (live.ts)
//
// Changes go through the Kafka handlers themselves (local-admin.ts), so they keep Kafka's rules
// and errors: a refusal answers with the Kafka error's name, its code and message, and the HTTP
// status of KAFKA_ERROR_STATUS. Resetting a group's offsets is Kafka's alterConsumerGroupOffsets
// (OffsetCommit without generation or member): the coordinator refuses it while the group has
// members (UNKNOWN_MEMBER_ID, answered 409 with kafka-consumer-groups.sh's message); the target
// offsets are computed as kafka-consumer-groups.sh --reset-offsets does (clamped to the log).
//
// POST bodies must come as application/json (parseBody says why). Offsets are JSON numbers (exact
// up to 2^53). Every list is bounded (LIST_ITEMS_MAX), and so is a message page
// (MESSAGES_PER_PAGE_MAX records, records-view.ts's byte limits).

import type { TopicMetadata } from "../cluster/metadata-cache.js";
import { ConfigSource } from "../config/index.js";
import { decodeAssignment } from "../coordinator/group/consumer-protocol.js";
import type { Partition } from "../log/partition.js";
import { ErrorCode, type ErrorName, errorByCode } from "../protocol/errors.js";
import type { BrokerServices } from "../server/context.js";
import type { ConsumerLag } from "./lag.js";
import type { ThroughputSampler } from "./live.js";
import { LocalAdmin } from "./local-admin.js";
import { readRecords } from "./records-view.js";
import { HttpError, type HttpRequest, type HttpResponse, json, type Router } from "./server.js";

/** Most items (topics, groups, partitions, segments) one list answers with; `truncated` says when more exist. */
export const LIST_ITEMS_MAX = 5_000;
/** Most records one message page answers with. */
export const MESSAGES_PER_PAGE_MAX = 500;
const MESSAGES_PER_PAGE_DEFAULT = 50;

/**
 * The HTTP status for each Kafka error an admin route may answer with; any other error is 500.
 * 409 is a conflict with the current state (exists already, group has members), 503 a state that
 * passes (a coordinator loading).
 */
export const KAFKA_ERROR_STATUS: Readonly<Partial<Record<ErrorName, number>>> = {
  INVALID_TOPIC_EXCEPTION: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICATION_FACTOR: 400,
  INVALID_REPLICA_ASSIGNMENT: 400,
  INVALID_CONFIG: 400,
  INVALID_REQUEST: 400,
  POLICY_VIOLATION: 400,
  INVALID_GROUP_ID: 400,
  OFFSET_METADATA_TOO_LARGE: 400,
  TOPIC_DELETION_DISABLED: 403,
  TOPIC_AUTHORIZATION_FAILED: 403,
  GROUP_AUTHORIZATION_FAILED: 403,
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  UNKNOWN_TOPIC_ID: 404,
  GROUP_ID_NOT_FOUND: 404,
  TOPIC_ALREADY_EXISTS: 409,
  NON_EMPTY_GROUP: 409,
  UNKNOWN_MEMBER_ID: 409,
  ILLEGAL_GENERATION: 409,
  STALE_MEMBER_EPOCH: 409,
  REBALANCE_IN_PROGRESS: 409,
  COORDINATOR_LOAD_IN_PROGRESS: 503,
  COORDINATOR_NOT_AVAILABLE: 503,
  NOT_COORDINATOR: 503,
  NOT_LEADER_OR_FOLLOWER: 503,
  LEADER_NOT_AVAILABLE: 503,
  REQUEST_TIMED_OUT: 503,
};

/** A Kafka error as an HTTP answer: {error: NAME, code, message}. */
export function kafkaErrorResponse(code: number, message: string | null): HttpResponse {
  const info = errorByCode(code) ?? errorByCode(ErrorCode.UNKNOWN_SERVER_ERROR);
  const name = (info?.name ?? "UNKNOWN_SERVER_ERROR") as ErrorName;
  return json(KAFKA_ERROR_STATUS[name] ?? 500, { error: name, code, message: message ?? info?.message ?? name });
}

const CONFIG_SOURCE_NAMES = Object.fromEntries(Object.entries(ConfigSource).map(([name, code]) => [code, name])) as Record<number, string>;

/** What the admin routes read and change. */
export interface AdminSources {
  readonly services: BrokerServices;
  readonly lag: ConsumerLag;
  readonly throughput: ThroughputSampler;
}

export function registerAdminRoutes(router: Router, sources: AdminSources): void {
  const routes = new AdminRoutes(sources);
  router
    .get("/api/cluster", () => routes.cluster())
    .get("/api/brokers", () => routes.brokers())
    .get("/api/topics", () => routes.topics())
    .post("/api/topics", (request) => routes.createTopic(request))
    .get("/api/topics/:name", (request) => routes.topic(request.params.name))
    .delete("/api/topics/:name", (request) => routes.deleteTopic(request.params.name))
    .get("/api/topics/:name/messages", (request) => routes.messages(request))
    .get("/api/groups", () => routes.groups())
    .get("/api/groups/:id", (request) => routes.group(request.params.id))
    .post("/api/groups/:id/reset-offsets", (request) => routes.resetOffsets(request))
    .delete("/api/groups/:id", (request) => routes.deleteGroup(request.params.id))
    .get("/api/throughput", () => json(200, { intervalMs: sources.throughput.intervalMs, samples: sources.throughput.history() }));
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * The JSON object of a POST. Its content type must say JSON: a browser sends that from another
 * site's page only after a CORS preflight, which this API never grants, so a page elsewhere cannot
 * make a visitor's browser create topics or reset offsets here (a text/plain "simple" POST could).
 */
function parseBody(request: HttpRequest): Record<string, unknown> {
  if (!(request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
    throw new HttpError(415, "the body must be JSON, sent with content-type: application/json");
  }
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString("utf8"));
  } catch {
    throw new HttpError(400, "the body must be a JSON object");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "the body must be a JSON object");
  return body as Record<string, unknown>;
}

function integerField(body: Record<string, unknown>, name: string, fallback: number): number {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new HttpError(400, `${name} must be an integer`);
  return value;
}

/** A query or body value as a 64-bit integer, or null when absent. */
function bigintOf(value: unknown, name: string): bigint | null {
  if (value === undefined || value === null || value === "") return null;
  if ((typeof value === "number" && Number.isSafeInteger(value)) || (typeof value === "string" && /^-?\d{1,19}$/.test(value))) return BigInt(value);
  throw new HttpError(400, `${name} must be an integer`);
}

// ---------------------------------------------------------------------------------------------
// Routes

class AdminRoutes {
  readonly #services: BrokerServices;
  readonly #lag: ConsumerLag;
  readonly #admin: LocalAdmin;

  constructor(sources: AdminSources) {
    this.#services = sources.services;
    this.#lag = sources.lag;
    this.#admin = new LocalAdmin(sources.services);
  }

  #topic(name: string): TopicMetadata {
    const topic = this.#services.metadata.topic(name);
    if (topic === undefined) throw new HttpError(404, `no topic ${name}`);
    return topic;
  }

  cluster(): HttpResponse {
    const { metadata, groups } = this.#services;
    let topics = 0;
    let partitions = 0;
    for (const topic of metadata.topics()) {
      topics++;
      partitions += topic.partitions.length;
    }
    let groupCount = 0;
    for (const _ of groups.overview()) groupCount++;
    return json(200, {
      clusterId: metadata.clusterId,
      controllerId: metadata.controllerId,
      nodeId: metadata.nodeId,
      brokers: metadata.brokers().length,
      topics,
      partitions,
      groups: groupCount,
      uptimeSeconds: Math.round(process.uptime()),
    });
  }

  brokers(): HttpResponse {
    const { metadata, partitions } = this.#services;
    let hosted = 0;
    let sizeBytes = 0;
    for (const partition of partitions.all()) {
      hosted++;
      sizeBytes += partition.log.sizeBytes;
    }
    const brokers = metadata.brokers().map((broker) => ({
      nodeId: broker.nodeId,
      rack: broker.rack,
      endpoints: broker.endpoints.map((endpoint) => ({ listener: endpoint.name, host: endpoint.host, port: endpoint.port })),
      controller: broker.nodeId === metadata.controllerId,
      ...(broker.nodeId === metadata.nodeId ? { self: true, logDir: partitions.logDirectory, partitions: hosted, sizeBytes } : { self: false }),
    }));
    return json(200, { brokers });
  }

  topics(): HttpResponse {
    const rows = [];
    let truncated = false;
    for (const topic of this.#services.metadata.topics()) {
      if (rows.length >= LIST_ITEMS_MAX) {
        truncated = true;
        break;
      }
      let sizeBytes = 0;
      let records = 0;
      for (const metadata of topic.partitions) {
        const partition = this.#services.partitions.get(topic.name, metadata.index);
        if (partition === undefined) continue;
        sizeBytes += partition.log.sizeBytes;
        records += Number(partition.highWatermark - partition.logStartOffset);
      }
      rows.push({
        name: topic.name,
        id: topic.id,
        internal: topic.isInternal,
        partitions: topic.partitions.length,
        replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
        sizeBytes,
        records,
      });
    }
    rows.sort((a, b) => Number(a.internal) - Number(b.internal) || a.name.localeCompare(b.name));
    return json(200, { topics: rows, truncated });
  }

  async topic(name: string): Promise<HttpResponse> {
    const topic = this.#topic(name);
    const partitions = topic.partitions.slice(0, LIST_ITEMS_MAX).map((metadata) => {
      const partition = this.#services.partitions.get(topic.name, metadata.index);
      const base = {
        partition: metadata.index,
        leader: metadata.leaderId,
        leaderEpoch: metadata.leaderEpoch,
        replicas: metadata.replicas,
        isr: metadata.isr,
        offlineReplicas: metadata.offlineReplicas,
      };
      if (partition === undefined) return { ...base, hosted: false };
      const segments = partition.log.segmentBaseOffsets;
      return {
        ...base,
        hosted: true,
        logStartOffset: Number(partition.logStartOffset),
        highWatermark: Number(partition.highWatermark),
        lastStableOffset: Number(partition.lastStableOffset),
        sizeBytes: partition.log.sizeBytes,
        segments: segments.length,
        segmentBaseOffsets: segments.slice(-100).map(Number),
      };
    });
    const described = (await this.#admin.describeTopicConfigs(topic.name)).results[0];
    const configs =
      described === undefined || described.errorCode !== ErrorCode.NONE
        ? []
        : described.configs.map((config) => ({
            name: config.name,
            value: config.value,
            source: CONFIG_SOURCE_NAMES[config.configSource] ?? "UNKNOWN",
            isDefault: config.configSource === ConfigSource.DEFAULT_CONFIG,
            readOnly: config.readOnly,
            sensitive: config.isSensitive,
            documentation: config.documentation,
          }));
    return json(200, {
      name: topic.name,
      id: topic.id,
      internal: topic.isInternal,
      partitions,
      truncated: topic.partitions.length > partitions.length,
      overrides: topic.overrides,
      configs,
    });
  }

  async createTopic(request: HttpRequest): Promise<HttpResponse> {
    const body = parseBody(request);
    if (typeof body.name !== "string") throw new HttpError(400, "name must be a string");
    const partitions = integerField(body, "partitions", -1);
    const replicationFactor = integerField(body, "replicationFactor", -1);
    const configs: Record<string, string> = {};
    if (body.configs !== undefined && body.configs !== null) {
      if (typeof body.configs !== "object" || Array.isArray(body.configs)) throw new HttpError(400, "configs must be an object of names to values");
      for (const [key, value] of Object.entries(body.configs as Record<string, unknown>)) {
        if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw new HttpError(400, `config ${key} must be a string`);
        configs[key] = String(value);
      }
    }
    const result = (await this.#admin.createTopic(body.name, partitions, replicationFactor, configs)).topics[0];
    if (result.errorCode !== ErrorCode.NONE) return kafkaErrorResponse(result.errorCode, result.errorMessage);
    return json(201, { name: result.name, id: result.topicId, partitions: result.numPartitions, replicationFactor: result.replicationFactor });
  }

  async deleteTopic(name: string): Promise<HttpResponse> {
    const result = (await this.#admin.deleteTopic(name)).responses[0];
    if (result.errorCode !== ErrorCode.NONE) return kafkaErrorResponse(result.errorCode, result.errorMessage);
    return json(200, { deleted: name });
  }

  messages(request: HttpRequest): HttpResponse {
    const topic = this.#topic(request.params.name);
    const partitionIndex = Number(request.query.get("partition") ?? "0");
    if (!Number.isInteger(partitionIndex) || partitionIndex < 0 || partitionIndex >= topic.partitions.length) {
      throw new HttpError(400, `partition must be from 0 to ${topic.partitions.length - 1}`);
    }
    const partition = this.#services.partitions.get(topic.name, partitionIndex);
    if (partition === undefined) return kafkaErrorResponse(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
    const limitText = request.query.get("limit");
    const limit = limitText === null ? MESSAGES_PER_PAGE_DEFAULT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MESSAGES_PER_PAGE_MAX) throw new HttpError(400, `limit must be from 1 to ${MESSAGES_PER_PAGE_MAX}`);
    const offset = bigintOf(request.query.get("offset"), "offset");
    const timestamp = bigintOf(request.query.get("timestamp"), "timestamp");
    if (offset !== null && timestamp !== null) throw new HttpError(400, "give offset or timestamp, not both");
    let from: bigint;
    if (timestamp !== null) {
      if (timestamp < 0n) throw new HttpError(400, "timestamp must not be negative");
      // ListOffsets' rule: the first record whose timestamp is at or after it; none: the end.
      from = partition.log.offsetFor({ timestamp })?.offset ?? partition.highWatermark;
    } else if (offset !== null) {
      if (offset < 0n) throw new HttpError(400, "offset must not be negative");
      from = offset;
    } else {
      from = partition.logStartOffset;
    }
    const read = readRecords(partition, from, limit);
    return json(200, {
      topic: topic.name,
      partition: partitionIndex,
      from: Number(from < partition.logStartOffset ? partition.logStartOffset : from),
      logStartOffset: Number(partition.logStartOffset),
      highWatermark: Number(partition.highWatermark),
      nextOffset: Number(read.nextOffset),
      records: read.records,
    });
  }

  groups(): HttpResponse {
    const lagByGroup = new Map<string, { lag: number; partitions: number; topics: Set<string> }>();
    for (const row of this.#lag.rows(Date.now())) {
      let entry = lagByGroup.get(row.group);
      if (entry === undefined) {
        entry = { lag: 0, partitions: 0, topics: new Set() };
        lagByGroup.set(row.group, entry);
      }
      entry.partitions++;
      entry.topics.add(row.topic);
      if (row.lag > 0) entry.lag += row.lag;
    }
    const groups = [];
    let truncated = false;
    for (const group of this.#services.groups.overview()) {
      if (groups.length >= LIST_ITEMS_MAX) {
        truncated = true;
        break;
      }
      const lag = lagByGroup.get(group.groupId);
      groups.push({
        groupId: group.groupId,
        state: group.state,
        type: group.type,
        members: group.members,
        topics: lag === undefined ? [] : [...lag.topics].sort(),
        partitions: lag?.partitions ?? 0,
        lag: lag?.lag ?? 0,
      });
    }
    groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
    return json(200, { groups, truncated });
  }

  async group(groupId: string): Promise<HttpResponse> {
    const overview = [...this.#services.groups.overview()].find((group) => group.groupId === groupId);
    if (overview === undefined) return kafkaErrorResponse(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} not found.`);
    const offsets = this.#lag.rows(Date.now(), groupId).map((row) => ({
      topic: row.topic,
      partition: row.partition,
      committedOffset: Number(row.committedOffset),
      endOffset: Number(row.endOffset),
      lag: row.lag,
      lagSeconds: row.lagSeconds,
      commitTimestampMs: row.commitTimestampMs,
    }));
    offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const described =
      overview.type === "consumer"
        ? await this.#consumerGroupMembers(groupId)
        : overview.type === "share"
          ? this.#shareGroupMembers(groupId)
          : overview.type === "streams"
            ? this.#streamsGroupMembers(groupId)
            : await this.#classicGroupMembers(groupId);
    return json(200, {
      groupId,
      state: overview.state,
      type: overview.type,
      ...described,
      offsets: offsets.slice(0, LIST_ITEMS_MAX),
      truncated: offsets.length > LIST_ITEMS_MAX,
    });
  }

  async #classicGroupMembers(groupId: string) {
    const group = (await this.#admin.describeClassicGroup(groupId)).groups[0];
    const members = (group?.members ?? []).slice(0, LIST_ITEMS_MAX).map((member) => {
      let assignment: { topic: string; partitions: number[] }[] = [];
      if (group.protocolType === "consumer" && member.memberAssignment.length > 0) {
        try {
          assignment = decodeAssignment(member.memberAssignment).assignedPartitions.map((entry) => ({ topic: entry.topic, partitions: [...entry.partitions] }));
        } catch {
          // A client that is not Kafka's consumer protocol: no assignment to show.
        }
      }
      return { memberId: member.memberId, instanceId: member.groupInstanceId, clientId: member.clientId, host: member.clientHost, assignment };
    });
    return { protocolType: group?.protocolType ?? "", protocol: group?.protocolData ?? "", members };
  }

  /** A share group's members (KIP-932), from this broker's group coordinator, which the overview came from. */
  #shareGroupMembers(groupId: string) {
    const group = this.#services.groups.describeShareGroup(groupId, -2147483648);
    const members = group.members.slice(0, LIST_ITEMS_MAX).map((member) => ({
      memberId: member.memberId,
      instanceId: null,
      clientId: member.clientId,
      host: member.clientHost,
      memberEpoch: member.memberEpoch,
      assignment: member.assignment.topicPartitions.map((entry) => ({ topic: entry.topicName, partitions: entry.partitions })),
    }));
    return { protocolType: "share", protocol: group.assignorName, groupEpoch: group.groupEpoch, members };
  }

  /** A streams group's members (KIP-1071) with their active tasks as subtopology:partitions, from this broker's group coordinator. */
  #streamsGroupMembers(groupId: string) {
    const group = this.#services.groups.describeStreamsGroup(groupId, -2147483648);
    const members = group.members.slice(0, LIST_ITEMS_MAX).map((member) => ({
      memberId: member.memberId,
      instanceId: member.instanceId,
      clientId: member.clientId,
      host: member.clientHost,
      memberEpoch: member.memberEpoch,
      assignment: member.assignment.activeTasks.map((task) => ({ topic: `subtopology ${task.subtopologyId}`, partitions: task.partitions })),
    }));
    return { protocolType: "streams", protocol: group.assignorName ?? "sticky", groupEpoch: group.groupEpoch, members };
  }

  async #consumerGroupMembers(groupId: string) {
    const group = (await this.#admin.describeConsumerGroup(groupId)).groups[0];
    const members = (group?.members ?? []).slice(0, LIST_ITEMS_MAX).map((member) => ({
      memberId: member.memberId,
      instanceId: member.instanceId,
      clientId: member.clientId,
      host: member.clientHost,
      memberEpoch: member.memberEpoch,
      assignment: member.assignment.topicPartitions.map((entry) => ({ topic: entry.topicName, partitions: entry.partitions })),
    }));
    return { protocolType: "consumer", protocol: group?.assignorName ?? "", groupEpoch: group?.groupEpoch, members };
  }

  async resetOffsets(request: HttpRequest): Promise<HttpResponse> {
    const groupId = request.params.id;
    const body = parseBody(request);
    if (typeof body.topic !== "string") throw new HttpError(400, "topic must be a string");
    const topic = this.#services.metadata.topic(body.topic);
    if (topic === undefined) return kafkaErrorResponse(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${body.topic}' does not exist.`);
    let indexes = topic.partitions.map((partition) => partition.index);
    if (body.partitions !== undefined && body.partitions !== null) {
      if (!Array.isArray(body.partitions) || !body.partitions.every((p) => Number.isInteger(p) && p >= 0 && p < topic.partitions.length)) {
        throw new HttpError(400, `partitions must be a list of partitions from 0 to ${topic.partitions.length - 1}`);
      }
      indexes = [...new Set(body.partitions as number[])];
    }
    const target = targetOf(body);
    const committed = this.#committedOffsets(groupId, topic.name);
    const offsets = new Map<number, bigint>();
    for (const index of indexes) {
      const partition = this.#services.partitions.get(topic.name, index);
      if (partition === undefined) return kafkaErrorResponse(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
      offsets.set(index, resetOffsetFor(partition, target, committed.get(index)));
    }
    const state = [...this.#services.groups.overview()].find((group) => group.groupId === groupId)?.state ?? "Dead";
    const result = await this.#admin.commitOffsets(groupId, topic.name, offsets);
    for (const partition of result.topics[0]?.partitions ?? []) {
      if (partition.errorCode === ErrorCode.NONE) continue;
      const message =
        partition.errorCode === ErrorCode.UNKNOWN_MEMBER_ID
          ? `Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${state}.`
          : null;
      return kafkaErrorResponse(partition.errorCode, message);
    }
    return json(200, {
      groupId,
      topic: topic.name,
      offsets: [...offsets].map(([partition, offset]) => ({ partition, offset: Number(offset) })),
    });
  }

  #committedOffsets(groupId: string, topic: string): Map<number, bigint> {
    const offsets = new Map<number, bigint>();
    for (const row of this.#lag.rows(Date.now(), groupId)) if (row.topic === topic) offsets.set(row.partition, row.committedOffset);
    return offsets;
  }

  async deleteGroup(groupId: string): Promise<HttpResponse> {
    const result = (await this.#admin.deleteGroup(groupId)).results[0];
    if (result.errorCode !== ErrorCode.NONE) return kafkaErrorResponse(result.errorCode, result.errorMessage);
    return json(200, { deleted: groupId });
  }
}

// ---------------------------------------------------------------------------------------------
// Offset reset targets (kafka-consumer-groups.sh --reset-offsets --to-earliest, --to-latest,
// --to-offset, --to-datetime, --shift-by)

type ResetTarget =
  | { to: "earliest" }
  | { to: "latest" }
  | { to: "offset"; value: bigint }
  | { to: "timestamp"; value: bigint }
  | { to: "shift"; value: bigint };

function targetOf(body: Record<string, unknown>): ResetTarget {
  switch (body.to) {
    case "earliest":
    case "latest":
      return { to: body.to };
    case "offset":
    case "timestamp":
    case "shift": {
      const value = bigintOf(body.value, "value");
      if (value === null) throw new HttpError(400, `"to": "${body.to}" needs a value`);
      if (body.to === "timestamp" && value < 0n) throw new HttpError(400, "a timestamp must not be negative");
      return { to: body.to, value };
    }
    default:
      throw new HttpError(400, 'to must be "earliest", "latest", "offset", "timestamp" or "shift"');
  }
}

/** The offset a reset moves a partition to, kept within [log start, high watermark] as Kafka's tool does. */
function resetOffsetFor(partition: Partition, target: ResetTarget, committed: bigint | undefined): bigint {
  const earliest = partition.logStartOffset;
  const latest = partition.highWatermark;
  let offset: bigint;
  switch (target.to) {
    case "earliest":
      return earliest;
    case "latest":
      return latest;
    case "offset":
      offset = target.value;
      break;
    case "timestamp":
      // No record at or after the timestamp: the end (the tool's getLogEndOffset fallback).
      return partition.log.offsetFor({ timestamp: target.value })?.offset ?? latest;
    case "shift":
      offset = (committed ?? latest) + target.value;
      break;
  }
  if (offset < earliest) return earliest;
  if (offset > latest) return latest;
  return offset;
}
