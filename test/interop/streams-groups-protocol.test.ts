// The streams group protocol (KIP-1071) spoken raw to Sluice and to Apache Kafka 4.4.0 side by side:
// the same scripted dialogue of StreamsGroupHeartbeat and StreamsGroupDescribe requests must get the
// same answers from both brokers, field by field (member ids are chosen by the client, so nothing
// needs normalizing beyond the hosts' ports). The dialogue walks what a Streams application does:
//
// - a member joins with a topology whose source topic exists and gets every task at the target
//   epoch; a second member (another process, with an Interactive Queries endpoint) joins: the
//   sticky assignor splits the tasks, the first member must revoke half of them before the second
//   gets them (UNREVOKED_TASKS, UNRELEASED_TASKS), each active task keeps the epoch it was
//   assigned at, and every member learns the partitions behind each endpoint;
// - a static member (instance id) leaves temporarily (epoch -2), another member id with the same
//   instance id rejoins and takes its place and tasks; a second claim of a live instance id is
//   UNRELEASED_INSTANCE_ID; a stale or unknown member is fenced;
// - with streams.num.standby.replicas=1 (a group config) the stateful subtopology's tasks get a
//   standby replica on another process;
// - the members leave, the group is Empty.
//
// Broker settings make the dialogue deterministic: no initial rebalance delay, no assignment
// interval.
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { type KafkaBroker, runJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const properties = {
  "num.partitions": 1,
  "offsets.topic.replication.factor": 1,
  "group.streams.initial.rebalance.delay.ms": 0,
  "group.streams.assignment.interval.ms": 0,
};

interface Broker {
  readonly name: string;
  readonly bootstrap: string;
  readonly port: number;
}

type Json = Record<string, unknown>;

const taskIds = (tasks: Record<string, number[]>) => Object.entries(tasks).map(([subtopologyId, partitions]) => ({ subtopologyId, partitions }));

const topicInfo = (name: string, configs: Record<string, string> = {}) => ({
  name,
  partitions: 0,
  replicationFactor: 0,
  topicConfigs: Object.entries(configs).map(([key, value]) => ({ key, value })),
});

/** Subtopology 0 reads the input (stateless, writes a repartition topic); subtopology 1 reads it and keeps a store. */
const topology = (input: string) => ({
  epoch: 0,
  subtopologies: [
    {
      subtopologyId: "0",
      sourceTopics: [input],
      sourceTopicRegex: [],
      stateChangelogTopics: [],
      repartitionSinkTopics: [`${input}-app-repartition`],
      repartitionSourceTopics: [],
      copartitionGroups: [],
    },
    {
      subtopologyId: "1",
      sourceTopics: [],
      sourceTopicRegex: [],
      stateChangelogTopics: [topicInfo(`${input}-app-store-changelog`, { "cleanup.policy": "compact" })],
      repartitionSinkTopics: [],
      repartitionSourceTopics: [topicInfo(`${input}-app-repartition`, { "cleanup.policy": "delete" })],
      copartitionGroups: [],
    },
  ],
});

describe("streams group protocol (KIP-1071): the same dialogue gets the same answers from Sluice and Kafka 4.4.0", () => {
  let sluice: SluiceBroker;
  let kafka: KafkaBroker;
  let brokers: Broker[];

  beforeAll(async () => {
    [sluice, kafka] = await Promise.all([startSluice({ overrides: properties }), startKafka({ properties })]);
    brokers = [
      { name: "Sluice", bootstrap: sluice.bootstrap, port: sluice.port },
      { name: "Kafka", bootstrap: kafka.bootstrap, port: kafka.port },
    ];
  }, 120_000);

  afterAll(async () => {
    await kafka?.stop();
    if (sluice) {
      const code = await sluice.stop();
      await rm(sluice.workDir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  }, 120_000);

  /** Runs the dialogue against one broker and returns every answer, in order. */
  async function dialogue(broker: Broker): Promise<unknown[]> {
    const client = await TestClient.connect(broker.port);
    const answers: unknown[] = [];
    const group = "dialogue";
    const input = "dialogue-in";
    try {
      const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
        topics: [{ name: input, numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      expect(created.topics[0]?.errorCode).toBe(0);
      // FindCoordinator first, as clients do (it creates __consumer_offsets).
      for (let i = 0; i < 100; i++) {
        const found = await client.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType: 0, coordinatorKeys: [group] });
        if (found.coordinators[0]?.errorCode === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const beat = async (label: string, body: Json): Promise<Json> => {
        const request = () =>
          client.request<Json>(88, 1, {
            groupId: group,
            memberEpoch: 0,
            endpointInformationEpoch: -1,
            instanceId: null,
            rackId: null,
            rebalanceTimeoutMs: -1,
            topology: null,
            activeTasks: null,
            standbyTasks: null,
            warmupTasks: null,
            processId: null,
            userEndpoint: null,
            clientTags: null,
            taskOffsets: null,
            taskEndOffsets: null,
            shutdownApplication: false,
            ...body,
          });
        let answer = await request();
        // The coordinator may still be loading right after FindCoordinator: retry as clients do.
        for (let i = 0; i < 100 && [14, 15, 16].includes(answer.errorCode as number); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          answer = await request();
        }
        const { throttleTimeMs: _t, acceptableRecoveryLag: _l, partitionsByUserEndpoint, ...rest } = answer;
        // Kafka builds each endpoint's partitions from an immutable map whose order is salted per JVM: compared sorted.
        type TopicPartitions = { topic: string; partitions: number[] }[];
        const byTopic = (list: TopicPartitions) => [...list].sort((x, y) => (x.topic < y.topic ? -1 : 1));
        const endpoints = (partitionsByUserEndpoint as { activePartitions: TopicPartitions; standbyPartitions: TopicPartitions }[] | null)?.map((e) => ({
          ...e,
          activePartitions: byTopic(e.activePartitions),
          standbyPartitions: byTopic(e.standbyPartitions),
        }));
        answers.push({ label, ...rest, partitionsByUserEndpoint: endpoints ?? null });
        return answer;
      };
      const join = (memberId: string, processId: string, extra: Json = {}) =>
        beat(`${memberId} joins`, {
          memberId,
          processId,
          rebalanceTimeoutMs: 30_000,
          topology: topology(input),
          activeTasks: [],
          standbyTasks: [],
          warmupTasks: [],
          clientTags: [],
          ...extra,
        });
      const owned = (memberId: string, epoch: number, active: Record<string, number[]>, standby: Record<string, number[]> = {}, extra: Json = {}) =>
        beat(`${memberId} at ${epoch} owns ${JSON.stringify(active)} ${JSON.stringify(standby)}`, {
          memberId,
          memberEpoch: epoch,
          activeTasks: taskIds(active),
          standbyTasks: taskIds(standby),
          warmupTasks: [],
          ...extra,
        });
      const tasksOf = (answer: Json, kind = "activeTasks") =>
        Object.fromEntries(((answer[kind] as { subtopologyId: string; partitions: number[] }[] | null) ?? []).map((t) => [t.subtopologyId, t.partitions]));
      const describe = async (label: string) => {
        const described = await client.request<{ groups: Json[] }>(89, 1, {
          groupIds: [group],
          includeAuthorizedOperations: false,
          includeTopologyDescription: false,
        });
        const { members, ...rest } = described.groups[0] as Json & { members: { memberId: string }[] };
        // Members in a stable order (Kafka lists them in its hash map's order).
        answers.push({ label, ...rest, members: [...members].sort((x, y) => (x.memberId < y.memberId ? -1 : 1)) });
      };

      // A joins: the internal topics are missing (the broker creates them), then A gets every task.
      let a = await join("member-a", "process-a");
      let epochA = a.memberEpoch as number;
      for (let i = 0; i < 50 && tasksOf(a)["1"] === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        a = await client.request<Json>(88, 1, {
          groupId: group,
          memberId: "member-a",
          memberEpoch: epochA,
          endpointInformationEpoch: -1,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: -1,
          topology: null,
          activeTasks: [],
          standbyTasks: [],
          warmupTasks: [],
          processId: null,
          userEndpoint: null,
          clientTags: null,
          taskOffsets: null,
          taskEndOffsets: null,
          shutdownApplication: false,
        });
        epochA = a.memberEpoch as number;
      }
      answers.push({ label: "member-a once the internal topics exist", memberEpoch: a.memberEpoch, activeTasks: a.activeTasks, status: a.status });
      a = await owned("member-a", epochA, tasksOf(a));
      await describe("one member");

      // B joins from another process, with an endpoint: A must revoke first.
      let b = await join("member-b", "process-b", { userEndpoint: { host: "b.example", port: 7070 } });
      let epochB = b.memberEpoch as number;
      a = await owned("member-a", epochA, { "0": [0, 1, 2, 3], "1": [0, 1, 2, 3] });
      const keptByA = tasksOf(a);
      b = await owned("member-b", epochB, {});
      epochB = b.memberEpoch as number;
      a = await owned("member-a", a.memberEpoch as number, keptByA);
      epochA = a.memberEpoch as number;
      b = await owned("member-b", epochB, {});
      epochB = b.memberEpoch as number;
      b = await owned("member-b", epochB, tasksOf(b));
      epochB = b.memberEpoch as number;
      await describe("two members");

      // Fencing: a member from the future, an unknown member, a topology on a heartbeat.
      await beat("member-b from the future", { memberId: "member-b", memberEpoch: epochB + 5 });
      await beat("unknown member", { memberId: "member-x", memberEpoch: 3 });
      await beat("topology after joining", { memberId: "member-b", memberEpoch: epochB, topology: topology(input) });

      // A static member S: joins, leaves temporarily, a new member id takes its instance id and tasks.
      let s = await join("member-s1", "process-s", { instanceId: "instance-s" });
      for (let i = 0; i < 6; i++) {
        a = await owned("member-a", epochA, tasksOf(a));
        epochA = a.memberEpoch as number;
        b = await owned("member-b", epochB, tasksOf(b));
        epochB = b.memberEpoch as number;
        s = await owned("member-s1", s.memberEpoch as number, tasksOf(s), {}, { instanceId: "instance-s" });
      }
      await beat("instance-s claimed twice", {
        memberId: "member-s2",
        processId: "process-s",
        instanceId: "instance-s",
        rebalanceTimeoutMs: 30_000,
        topology: topology(input),
        activeTasks: [],
        standbyTasks: [],
        warmupTasks: [],
      });
      await beat("member-s1 leaves for now", { memberId: "member-s1", memberEpoch: -2, instanceId: "instance-s" });
      await describe("static member away");
      await join("member-s2", "process-s", { instanceId: "instance-s" });
      await describe("static member back");

      // Standby replicas for the stateful subtopology (a group config), then everyone leaves.
      const tool = await runJavaTool(
        "org.apache.kafka.tools.ConfigCommand",
        [
          "--bootstrap-server",
          broker.bootstrap,
          "--alter",
          "--entity-type",
          "groups",
          "--entity-name",
          group,
          "--add-config",
          "streams.num.standby.replicas=1",
        ],
        { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 },
      );
      expect(tool.code, tool.stderr).toBe(0);
      await owned("member-a", epochA, tasksOf(a));
      await describe("standby replicas configured");
      await beat("member-a leaves", { memberId: "member-a", memberEpoch: -1 });
      await beat("member-b leaves", { memberId: "member-b", memberEpoch: -1 });
      await beat("member-s2 leaves", { memberId: "member-s2", memberEpoch: -1, instanceId: "instance-s" });
      await describe("empty");
      return answers;
    } finally {
      client.close();
    }
  }

  it("joins, revocation, endpoints, fencing, static members and standby replicas", { timeout: 180_000 }, async () => {
    const [fromSluice, fromKafka] = [await dialogue(brokers[0] as Broker), await dialogue(brokers[1] as Broker)];
    const normalize = (answers: unknown[], broker: Broker) => JSON.parse(JSON.stringify(answers).replaceAll(`:${broker.port}`, ":PORT"));
    const sluiceAnswers = normalize(fromSluice, brokers[0] as Broker);
    const kafkaAnswers = normalize(fromKafka, brokers[1] as Broker);
    for (let i = 0; i < Math.max(sluiceAnswers.length, kafkaAnswers.length); i++) expect(sluiceAnswers[i], `answer ${i}`).toEqual(kafkaAnswers[i]);
  });
});
