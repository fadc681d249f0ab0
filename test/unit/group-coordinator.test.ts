// The group coordinator's background rules over the real services (a real log directory, the
// real __consumer_offsets partitions): offsets.retention.minutes expiry with Kafka's conditions
// (simple groups by commit time, empty consumer groups from the time they became empty, stable
// groups only for topics they no longer subscribe to), removal of empty groups left without
// offsets, offsets of deleted topics removed — and all of it written to the log, so a reload
// of the partitions (a restart) sees the same state.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../src/config/index.js";
import { encodeSubscription } from "../../src/coordinator/group/consumer-protocol.js";
import type { GroupCoordinator } from "../../src/coordinator/group/coordinator.js";
import type { LogManager } from "../../src/log/log-manager.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { type LocalServices, openServices } from "../../src/server/services.js";

const RETENTION_MS = 7 * 24 * 3600 * 1000;
let directory: string;
let services: LocalServices;
let logs: LogManager;

async function open(): Promise<void> {
  const { config } = loadBrokerConfig({ overrides: [`log.dirs=${directory}`, "node.id=1", "group.initial.rebalance.delay.ms=0"] });
  const opened = await openServices(config, pino({ level: "silent" }), directory);
  services = opened.services;
  logs = opened.logs;
  await services.groups.loaded();
}

async function close(): Promise<void> {
  services.groups.close();
  services.partitions.close();
  await logs.close();
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "sluice-groups-unit-"));
  await open();
  await services.topics.create("a", 2, {});
  await services.topics.create("b", 1, {});
  await services.groups.ensureOffsetsTopic();
});

afterEach(async () => {
  await close();
  await rm(directory, { recursive: true, force: true });
});

const topicId = (name: string) => services.metadata.topic(name)?.id ?? "";

function commit(
  groups: GroupCoordinator,
  groupId: string,
  offsets: [string, number, bigint][],
  nowMs: number,
  member: { generation: number; memberId: string } = { generation: -1, memberId: "" },
) {
  return groups.commitOffsets(
    { groupId, generationIdOrMemberEpoch: member.generation, memberId: member.memberId, groupInstanceId: null, retentionTimeMs: -1n, apiVersion: 9 },
    offsets.map(([topic, partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1, metadata: null, topicId: topicId(topic) })),
    nowMs,
  );
}

function offsetsOf(groups: GroupCoordinator, groupId: string): Record<string, bigint> {
  const fetched = groups.fetchOffsets(groupId, null);
  expect(fetched.errorCode).toBe(ErrorCode.NONE);
  return Object.fromEntries(fetched.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partition}`, p.offset?.offset as bigint])));
}

/** A ConsumerProtocolSubscription v0 for `topics` (what a Java consumer sends). */
const subscription = (topics: string[]): Buffer => encodeSubscription({ topics }, 0);

/** One consumer-protocol member joins, syncs; returns its id and generation. */
async function stableMember(groups: GroupCoordinator, groupId: string, topics: string[]): Promise<{ memberId: string; generation: number }> {
  const request = {
    groupId,
    memberId: "",
    groupInstanceId: null,
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: subscription(topics) }],
    reason: null,
    clientId: "c",
    clientHost: "/127.0.0.1",
    apiVersion: 9,
  };
  const first = await groups.joinGroup(request);
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  const joined = await groups.joinGroup({ ...request, memberId: first.memberId });
  expect(joined.errorCode).toBe(ErrorCode.NONE);
  const synced = await groups.syncGroup({
    groupId,
    generationId: joined.generationId,
    memberId: joined.memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [{ memberId: joined.memberId, assignment: Buffer.alloc(0) }],
  });
  expect(synced.errorCode).toBe(ErrorCode.NONE);
  return { memberId: joined.memberId, generation: joined.generationId };
}

describe("offset expiry (offsets.retention.minutes = 7 days)", () => {
  it("a simple group's offsets expire by commit time, then the group is deleted; a reload agrees", async () => {
    const { groups } = services;
    const t0 = Date.now();
    expect(commit(groups, "simple", [["a", 0, 5n]], t0)).toEqual([0]);
    expect(commit(groups, "simple", [["a", 1, 6n]], t0 + 1000)).toEqual([0]);
    expect(groups.cleanupGroupMetadata(t0 + RETENTION_MS - 1)).toBe(0);
    expect(groups.cleanupGroupMetadata(t0 + RETENTION_MS)).toBe(1);
    expect(offsetsOf(groups, "simple")).toEqual({ "a-1": 6n });
    expect(groups.listGroups([], []).groups.map((g) => g.groupId)).toEqual(["simple"]);
    expect(groups.cleanupGroupMetadata(t0 + RETENTION_MS + 1000)).toBe(1);
    expect(groups.listGroups([], []).groups).toEqual([]);
    await close();
    await open();
    expect(offsetsOf(services.groups, "simple")).toEqual({});
    expect(services.groups.listGroups([], []).groups).toEqual([]);
  });

  it("a stable consumer group keeps the offsets of topics it subscribes to and loses the others'", async () => {
    const { groups } = services;
    const member = await stableMember(groups, "subscriber", ["a"]);
    const t0 = Date.now();
    expect(
      commit(
        groups,
        "subscriber",
        [
          ["a", 0, 1n],
          ["b", 0, 2n],
        ],
        t0,
        member,
      ),
    ).toEqual([0, 0]);
    expect(groups.cleanupGroupMetadata(t0 + RETENTION_MS)).toBe(1);
    expect(offsetsOf(groups, "subscriber")).toEqual({ "a-0": 1n });
    expect(groups.describeGroup("subscriber").group?.state).toBe("Stable");
  });

  it("an empty consumer group's offsets expire counting from when it became empty", async () => {
    const { groups } = services;
    const member = await stableMember(groups, "leaver", ["a"]);
    commit(groups, "leaver", [["a", 0, 3n]], Date.now(), member);
    await new Promise((resume) => setTimeout(resume, 20));
    const left = groups.leaveGroup("leaver", [{ memberId: member.memberId, groupInstanceId: null, reason: null }]);
    expect(left).toEqual([{ memberId: member.memberId, groupInstanceId: null, errorCode: 0 }]);
    const emptySince = groups.describeGroup("leaver").group?.currentStateTimestamp as number;
    expect(groups.describeGroup("leaver").group?.state).toBe("Empty");
    expect(groups.cleanupGroupMetadata(emptySince + RETENTION_MS - 1)).toBe(0);
    expect(groups.cleanupGroupMetadata(emptySince + RETENTION_MS)).toBe(1);
    expect(groups.describeGroup("leaver").errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe("topic deletion", () => {
  it("removes the deleted topic's committed offsets from every group, durably", async () => {
    const { groups, topics } = services;
    const now = Date.now();
    commit(
      groups,
      "g1",
      [
        ["a", 0, 1n],
        ["b", 0, 2n],
      ],
      now,
    );
    commit(groups, "g2", [["b", 0, 3n]], now);
    await topics.delete("b");
    expect(offsetsOf(groups, "g1")).toEqual({ "a-0": 1n });
    expect(offsetsOf(groups, "g2")).toEqual({});
    await close();
    await open();
    expect(offsetsOf(services.groups, "g1")).toEqual({ "a-0": 1n });
    expect(offsetsOf(services.groups, "g2")).toEqual({});
  });
});
