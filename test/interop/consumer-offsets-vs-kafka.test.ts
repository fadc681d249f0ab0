// __consumer_offsets against Apache Kafka 4.4.0, both ways:
// (a) the same group scenario (a member joins, gets its assignment, commits with metadata; a
//     simple group commits without membership; the member leaves) run against Kafka and against
//     Sluice writes the same coordinator records: Kafka's DumpLogSegments --offsets-decoder reads
//     Sluice's segments and prints the same keys and values as for Kafka's own (member ids and
//     timestamps aside);
// (b) Sluice started on the log directory of the stopped Kafka broker serves that broker's
//     committed offsets and groups.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coordinatorPartition } from "../../src/coordinator/partitioner.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { TestClient } from "../helpers/client.js";
import { dumpLogSegments, type KafkaBroker, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const GROUP = "interop-group";
const SIMPLE = "interop-simple";
const TOPIC = "interop-topic";
const settings = { "group.initial.rebalance.delay.ms": 0, "offsets.topic.replication.factor": 1 };
let workDir: string;
let kafka: KafkaBroker | undefined;
let sluice: SluiceBroker | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "sluice-offsets-interop-"));
});

afterAll(async () => {
  await kafka?.kill();
  await sluice?.kill();
  await rm(workDir, { recursive: true, force: true });
});

/** ConsumerProtocolSubscription v0 / ConsumerProtocolAssignment v0 (what the Java consumer sends). */
function strings(values: string[]): Buffer[] {
  const count = Buffer.alloc(4);
  count.writeInt32BE(values.length);
  return [count, ...values.flatMap((value) => [Buffer.from([0, Buffer.byteLength(value)]), Buffer.from(value)])];
}
const subscription = Buffer.concat([Buffer.from([0, 0]), ...strings([TOPIC]), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
const assignment = Buffer.concat([
  Buffer.from([0, 0, 0, 0, 0, 1]),
  ...strings([TOPIC]).slice(1),
  Buffer.from([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]),
  Buffer.from([0xff, 0xff, 0xff, 0xff]),
]);

async function retry<T extends { errorCode: number }>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await call();
    const retriable = [ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR] as number[];
    if (!retriable.includes(response.errorCode) || attempt > 200) return response;
    await new Promise((resume) => setTimeout(resume, 100));
  }
}

/** The scenario, through the wire protocol; returns the member id the broker gave. */
async function runScenario(port: number): Promise<string> {
  const client = await TestClient.connect(port);
  try {
    await retry(() => client.request<{ errorCode: number }>(10, 3, { key: GROUP, keyType: 0 }));
    const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(created.topics[0]?.errorCode).toBe(0);
    const join = (memberId: string) =>
      client.request<{ errorCode: number; memberId: string; generationId: number }>(11, 9, {
        groupId: GROUP,
        sessionTimeoutMs: 45_000,
        rebalanceTimeoutMs: 30_000,
        memberId,
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: subscription }],
        reason: null,
      });
    const first = await retry(() => join(""));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const joined = await join(first.memberId);
    expect(joined.errorCode).toBe(0);
    const synced = await client.request<{ errorCode: number; assignment: Buffer }>(14, 5, {
      groupId: GROUP,
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ memberId: joined.memberId, assignment }],
    });
    expect(synced.errorCode).toBe(0);
    const commit = (groupId: string, generation: number, memberId: string, partitions: [number, bigint, string][]) =>
      client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(8, 9, {
        groupId,
        generationIdOrMemberEpoch: generation,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: TOPIC,
            partitions: partitions.map(([partitionIndex, committedOffset, committedMetadata]) => ({
              partitionIndex,
              committedOffset,
              committedLeaderEpoch: 0,
              commitTimestamp: -1n,
              committedMetadata,
            })),
          },
        ],
      });
    const committed = await commit(GROUP, joined.generationId, joined.memberId, [
      [0, 11n, "m0"],
      [1, 22n, ""],
    ]);
    expect(committed.topics[0]?.partitions.map((p) => p.errorCode)).toEqual([0, 0]);
    const simple = await retry(async () => {
      const response = await commit(SIMPLE, -1, "", [[0, 5n, "simple"]]);
      return { errorCode: response.topics[0]?.partitions[0]?.errorCode ?? -1 };
    });
    expect(simple.errorCode).toBe(0);
    const left = await client.request<{ errorCode: number; members: { errorCode: number }[] }>(13, 5, {
      groupId: GROUP,
      members: [{ memberId: joined.memberId, groupInstanceId: null, reason: "done" }],
    });
    expect(left.members[0]?.errorCode).toBe(0);
    return joined.memberId;
  } finally {
    client.close();
  }
}

/** The records of a group's coordinator partition as DumpLogSegments --offsets-decoder prints them, normalised. */
async function decodedRecords(logDir: string, groupId: string, memberId: string): Promise<{ key: string; payload: string }[]> {
  const partition = coordinatorPartition(groupId, 50);
  const dumped = await dumpLogSegments([join(logDir, `__consumer_offsets-${partition}`, "00000000000000000000.log")], { decoder: "offsets" });
  expect(dumped.errors).toEqual([]);
  return dumped.files.flatMap((file) =>
    file.batches.flatMap((batch) =>
      batch.records.map((record) => ({
        key: String(record.key),
        payload: String(record.payload)
          .replaceAll(memberId, "<member>")
          .replace(/"(commitTimestamp|currentStateTimestamp)":\d+/g, '"$1":<time>')
          .replace(/"topicId":"[A-Za-z0-9_-]{22}"/g, '"topicId":<id>'),
      })),
    ),
  );
}

describe("__consumer_offsets", () => {
  let kafkaMember = "";
  let kafkaRecords: { key: string; payload: string }[] = [];
  let kafkaLogDir = "";

  it("Kafka writes its records for the scenario", async () => {
    kafkaLogDir = join(workDir, "kafka-logs");
    kafka = await startKafka({ workDir: join(workDir, "kafka"), logDir: kafkaLogDir, properties: settings });
    kafkaMember = await runScenario(kafka.port);
    await kafka.stop();
    kafka = undefined;
    kafkaRecords = [...(await decodedRecords(kafkaLogDir, GROUP, kafkaMember)), ...(await decodedRecords(kafkaLogDir, SIMPLE, kafkaMember))];
    expect(kafkaRecords.length).toBeGreaterThanOrEqual(4);
  }, 180_000);

  it("Sluice writes the same records, and Kafka's DumpLogSegments decodes them", async () => {
    const logDir = join(workDir, "sluice-logs");
    sluice = await startSluice({ workDir, logDir, overrides: settings });
    const member = await runScenario(sluice.port);
    expect(await sluice.stop()).toBe(0);
    sluice = undefined;
    const records = [...(await decodedRecords(logDir, GROUP, member)), ...(await decodedRecords(logDir, SIMPLE, member))];
    expect(records).toEqual(kafkaRecords);
  }, 120_000);

  it("Sluice started on the stopped Kafka broker's log directory serves its offsets and groups", async () => {
    sluice = await startSluice({ workDir, logDir: kafkaLogDir, overrides: settings });
    const client = await TestClient.connect(sluice.port);
    try {
      const fetched = await retry(async () => {
        const response = await client.request<{
          groups: {
            errorCode: number;
            topics: { name: string; partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; metadata: string }[] }[];
          }[];
        }>(9, 9, {
          groups: [
            { groupId: GROUP, memberId: null, memberEpoch: -1, topics: null },
            { groupId: SIMPLE, memberId: null, memberEpoch: -1, topics: null },
          ],
          requireStable: false,
        });
        return { errorCode: response.groups.find((g) => g.errorCode !== 0)?.errorCode ?? 0, response };
      });
      expect(fetched.errorCode).toBe(0);
      const offsets = fetched.response.groups.map((group) =>
        group.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata])),
      );
      expect(offsets).toEqual([
        [
          [TOPIC, 0, 11n, 0, "m0"],
          [TOPIC, 1, 22n, 0, ""],
        ],
        [[TOPIC, 0, 5n, 0, "simple"]],
      ]);
      const listed = await client.request<{ errorCode: number; groups: { groupId: string; protocolType: string; groupState: string; groupType: string }[] }>(
        16,
        5,
        { statesFilter: [], typesFilter: [] },
      );
      expect(listed.groups.sort((a, b) => a.groupId.localeCompare(b.groupId))).toEqual([
        { groupId: GROUP, protocolType: "consumer", groupState: "Empty", groupType: "classic" },
        { groupId: SIMPLE, protocolType: "", groupState: "Empty", groupType: "classic" },
      ]);
    } finally {
      client.close();
    }
  }, 120_000);
});
