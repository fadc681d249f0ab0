// Streams groups (KIP-1071, `group.protocol=streams`) with Kafka Streams 4.4.0 and Kafka's own
// kafka-streams-groups.sh against the broker $GROUP_TESTS_BROKER picks (Sluice by default, `kafka`
// for Apache Kafka 4.4.0, which this test is checked against):
//
// - a word count (test/kafka's sluice.kafka.WordCount: a repartition topic, a counting store with
//   a changelog topic) as two instances: the broker validates the topology, creates the internal
//   topics with the partition counts it decides and the topology's configs, and its sticky task
//   assignor shares the tasks; one instance leaves and the other takes its tasks (restoring the
//   counts from the changelog); the counts on the output topic are exact, nothing counted twice;
// - StreamsGroupDescribe as kafka-streams-groups.sh prints it (--list, --describe with --members,
//   --state and --offsets), the same columns and values as Kafka's;
// - the heartbeat's checks: a topology naming an internal topic, missing source topics (a status,
//   then tasks once the topic exists), a member with a wrong epoch; a SIGKILL of the broker, after
//   which the group is read back from __consumer_offsets and the member goes on at its epoch.
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/streams-groups.test.ts
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { fastStreamsGroupProperties, groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { TestClient } from "../helpers/client.js";
import { GroupTestClient, MemberProcess, range, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { kafkaClasspath, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { countWords, makeLines, streamsEvents, streamsState, streamsTasks } from "../helpers/streams.js";

const clientLogLevel = process.env.GROUP_TESTS_CLIENT_DEBUG ? "INFO" : "WARN";
/** kafka-streams-groups.sh (org.apache.kafka.tools.streams.StreamsGroupCommand). */
async function streamsGroupsTool(bootstrap: string, args: string[]): Promise<string> {
  const run = await runJavaTool("org.apache.kafka.tools.streams.StreamsGroupCommand", ["--bootstrap-server", bootstrap, ...args], {
    quickStart: true,
    heap: "128m",
    logLevel: "ERROR",
    timeoutMs: 60_000,
  });
  if (run.code !== 0) throw new Error(`kafka-streams-groups ${args.join(" ")} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

/** A table's rows as column → value maps (columns separated by runs of spaces; no value has a space). */
function table(text: string, firstColumn = "GROUP"): Record<string, string>[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const headerIndex = lines.findIndex((line) => line.startsWith(firstColumn));
  if (headerIndex < 0) return [];
  const header = (lines[headerIndex] as string).trim().split(/\s+/);
  return lines.slice(headerIndex + 1).map((line) => {
    const cells = line.trim().split(/\s+/);
    // The last column (ASSIGNMENTS) holds spaces: everything after the fixed columns.
    const row: Record<string, string> = {};
    header.forEach((name, i) => {
      row[name] = i === header.length - 1 ? cells.slice(i).join(" ") : (cells[i] ?? "");
    });
    return row;
  });
}

describe(`streams groups (KIP-1071) against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  let workDir: string;
  const processes: MemberProcess[] = [];

  beforeAll(async () => {
    await kafkaClasspath();
    // Heartbeats every 500 ms (Kafka's default is 5 s): task moves are seen sooner.
    broker = await startBroker({ properties: fastStreamsGroupProperties });
    client = await GroupTestClient.connect(broker.bootstrap);
    workDir = await mkdtemp(join(tmpdir(), "sluice-streams-groups-"));
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const running of processes) await running.kill();
    await client?.close();
    await broker?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const applicationId = "swc";
  const input = "swc-lines";
  const output = "swc-counts";
  const repartition = `${applicationId}-words-repartition`;
  const changelog = `${applicationId}-counts-changelog`;
  const partitions = 4;
  const allTasks = [...range(partitions).map((p) => `0_${p}`), ...range(partitions).map((p) => `1_${p}`)].sort();

  async function startInstance(name: string): Promise<MemberProcess> {
    const args = ["--bootstrap", broker.bootstrap, "--application-id", applicationId, "--input", input, "--output", output];
    args.push("--state-dir", join(workDir, `streams-${name}`), "--property", `client.id=${name}`, "--property", "group.protocol=streams");
    const instance = new MemberProcess(name, await spawnJavaTool("sluice.kafka.WordCount", args, { quickStart: true, heap: "256m", logLevel: clientLogLevel }));
    processes.push(instance);
    return instance;
  }

  async function waitForTasks(live: MemberProcess[]) {
    const show = () => live.map((i) => `${i.name}: ${JSON.stringify(streamsEvents(i).filter((e) => e.event !== "started"))}`).join("\n");
    await waitFor(
      `${live.map((i) => i.name).join(", ")} to share the tasks ${allTasks.join(",")}`,
      async () => {
        for (const instance of live) {
          if (instance.exit) throw new Error(`${instance.name} exited: ${instance.describe()}`);
          if (streamsState(instance) !== "RUNNING" || streamsTasks(instance).length === 0) return false;
        }
        const held = live.flatMap(streamsTasks).sort();
        return JSON.stringify(held) === JSON.stringify(allTasks);
      },
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${show()}`);
    });
  }

  async function readTopic(topic: string): Promise<{ key: string | null; value: string | null }[]> {
    const run = await runJavaTool("sluice.kafka.Consume", ["--bootstrap", broker.bootstrap, "--topic", topic], {
      quickStart: true,
      heap: "128m",
      logLevel: "ERROR",
      timeoutMs: 60_000,
    });
    if (run.code !== 0) throw new Error(`sluice.kafka.Consume --topic ${topic} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run.stdout
      .split("\n")
      .filter((line) => line.startsWith('{"partition"'))
      .map((line) => JSON.parse(line));
  }

  async function outputCounts() {
    const latest = new Map<string, number>();
    const sequences = new Map<string, number[]>();
    for (const record of await readTopic(output)) {
      const word = record.key ?? "";
      latest.set(word, Number(record.value));
      sequences.set(word, [...(sequences.get(word) ?? []), Number(record.value)]);
    }
    return { latest, sequences };
  }

  it("two Streams instances share the tasks the broker assigns; one leaves, the other takes over; the counts are exact", async () => {
    await client.createTopic(input, partitions);
    await client.createTopic(output, partitions);
    const one = await startInstance("sg-one");
    await waitForTasks([one]);
    expect(streamsEvents(one).find((e) => e.event === "started")).toMatchObject({ groupProtocol: "streams" });

    // The broker created the internal topics, with the partition counts it decided and the topology's configs.
    const { topics } = await client.admin.fetchTopicMetadata();
    const counts = new Map(topics.map((t) => [t.name, t.partitions.length]));
    expect([counts.get(repartition), counts.get(changelog)]).toEqual([partitions, partitions]);

    const two = await startInstance("sg-two");
    await waitForTasks([one, two]);
    expect(streamsTasks(one).length).toBeGreaterThan(0);
    expect(streamsTasks(two).length).toBeGreaterThan(0);

    const first = makeLines("one", 120);
    await client.produce(
      input,
      first.map((value, i) => ({ partition: i % partitions, value })),
    );
    await client.waitForCommitsAtEnd(applicationId, input, 90_000);
    await client.waitForCommitsAtEnd(applicationId, repartition, 90_000);
    expect((await outputCounts()).latest).toEqual(countWords(first));

    // kafka-streams-groups.sh: the group, its members and their tasks.
    expect((await streamsGroupsTool(broker.bootstrap, ["--list"])).split("\n")).toContain(applicationId);
    const state = table(await streamsGroupsTool(broker.bootstrap, ["--describe", "--group", applicationId, "--state", "--verbose"]));
    expect(state).toHaveLength(1);
    expect(state[0]).toMatchObject({ GROUP: applicationId, ASSIGNOR: "sticky", STATE: "Stable", "#MEMBERS": "2" });
    expect(state[0]?.["GROUP-EPOCH"]).toBe(state[0]?.["TARGET-ASSIGNMENT-EPOCH"]);
    const members = table(await streamsGroupsTool(broker.bootstrap, ["--describe", "--group", applicationId, "--members", "--verbose"]));
    expect(members).toHaveLength(2);
    for (const member of members) {
      expect(member).toMatchObject({ GROUP: applicationId, "MEMBER-PROTOCOL": "streams", "TOPOLOGY-EPOCH": "0" });
      expect(member.ASSIGNMENTS).toMatch(/^ACTIVE: .*TARGET-ACTIVE: /);
    }
    expect(members.map((m) => m["CLIENT-ID"]).sort()).toEqual([
      expect.stringMatching(/^sg-one-StreamThread-1-consumer$/),
      expect.stringMatching(/^sg-two-StreamThread-1-consumer$/),
    ]);
    const offsets = table(await streamsGroupsTool(broker.bootstrap, ["--describe", "--group", applicationId, "--offsets"]));
    expect(new Set(offsets.map((row) => row.TOPIC))).toEqual(new Set([input, repartition]));
    for (const row of offsets) expect(row["OFFSET-LAG"]).toBe("0");

    // two leaves (epoch -1): one takes every task, restoring two's counts from the changelog.
    await two.stop();
    await waitForTasks([one]);
    const second = makeLines("two", 80);
    await client.produce(
      input,
      second.map((value, i) => ({ partition: (i + 1) % partitions, value })),
    );
    await client.waitForCommitsAtEnd(applicationId, input, 90_000);
    await client.waitForCommitsAtEnd(applicationId, repartition, 90_000);
    const after = await outputCounts();
    expect(after.latest).toEqual(countWords([...first, ...second]));
    for (const [word, sequence] of after.sequences) expect(sequence, word).toEqual(range(sequence.length).map((i) => i + 1));
    await one.stop();
    // Every member left: the group is empty, and kafka-streams-groups.sh --delete removes it.
    await waitFor("the streams group to be empty", async () => {
      const described = table(await streamsGroupsTool(broker.bootstrap, ["--describe", "--group", applicationId, "--state"]));
      return described[0]?.STATE === "Empty";
    });
    // Offsets of the empty group: reset to the earliest of the input (dry run, then executed), then deleted.
    const reset = table(
      await streamsGroupsTool(broker.bootstrap, ["--reset-offsets", "--group", applicationId, "--input-topic", input, "--to-earliest", "--execute"]),
    );
    expect(reset.map((row) => [row.TOPIC, row.PARTITION, row["NEW-OFFSET"]]).sort()).toEqual(range(partitions).map((p) => [input, String(p), "0"]));
    expect(await client.committed(applicationId, input)).toEqual(range(partitions).map((p) => [p, 0]));
    const deletedOffsets = await streamsGroupsTool(broker.bootstrap, ["--delete-offsets", "--group", applicationId, "--input-topic", input]);
    expect(deletedOffsets).toContain(`Request succeeded for deleting offsets from group ${applicationId}.`);
    expect(table(deletedOffsets, "TOPIC").map((row) => row.STATUS)).toEqual(range(partitions).map(() => "Successful"));
    const deleted = await streamsGroupsTool(broker.bootstrap, ["--delete", "--group", applicationId]);
    expect(deleted).toContain(`Deletion of requested streams groups ('${applicationId}') was successful.`);
  }, 300_000);

  it("StreamsGroupHeartbeat checks the topology, reports missing source topics, fences wrong epochs; the group survives a broker crash", async () => {
    let raw = await TestClient.connect(broker.port);
    try {
      const group = "sg-raw";
      const topology = (source: string) => ({
        epoch: 0,
        subtopologies: [
          {
            subtopologyId: "0",
            sourceTopics: [source],
            sourceTopicRegex: [],
            stateChangelogTopics: [],
            repartitionSinkTopics: [],
            repartitionSourceTopics: [],
            copartitionGroups: [],
          },
        ],
      });
      type Beat = {
        errorCode: number;
        errorMessage: string | null;
        memberId: string;
        memberEpoch: number;
        activeTasks: unknown[] | null;
        status: unknown[] | null;
      };
      /** A heartbeat, retried while the coordinator is not available yet (as clients do after FindCoordinator). */
      const heartbeat = async (body: Record<string, unknown>): Promise<Beat> => {
        for (let attempt = 0; ; attempt++) {
          const answer = await send(body);
          if (![14, 15, 16].includes(answer.errorCode) || attempt >= 100) return answer;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      const send = (body: Record<string, unknown>) =>
        raw.request<Beat>(88, 1, {
          groupId: group,
          memberId: "m-1",
          memberEpoch: 0,
          endpointInformationEpoch: 0,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: 30000,
          topology: null,
          activeTasks: [],
          standbyTasks: [],
          warmupTasks: [],
          processId: "p-1",
          userEndpoint: null,
          clientTags: [],
          taskOffsets: [],
          taskEndOffsets: [],
          shutdownApplication: false,
          ...body,
        });
      // FindCoordinator first, as clients do (it creates __consumer_offsets).
      for (let i = 0; i < 100; i++) {
        const found = await raw.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType: 0, coordinatorKeys: [group] });
        if (found.coordinators[0]?.errorCode === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const internal = await heartbeat({ topology: topology("__consumer_offsets") });
      expect(internal).toMatchObject({
        errorCode: ErrorCode.STREAMS_INVALID_TOPOLOGY,
        errorMessage: "Use of Kafka internal topics __consumer_offsets in a Kafka Streams topology is prohibited.",
      });
      const noTopology = await heartbeat({});
      expect(noTopology).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Topology must be non-null when (re-)joining." });

      const joined = await heartbeat({ topology: topology("sg-raw-missing") });
      expect(joined).toMatchObject({ errorCode: 0, memberId: "m-1", memberEpoch: 1, activeTasks: [] });
      expect(joined.status).toContainEqual({ statusCode: 1, statusDetail: "Source topics sg-raw-missing are missing." });

      const fenced = await heartbeat({ memberEpoch: 7, topology: null, activeTasks: null, standbyTasks: null, warmupTasks: null });
      expect(fenced).toMatchObject({ errorCode: ErrorCode.FENCED_MEMBER_EPOCH });

      // The source topic appears: the next heartbeat validates the topology, and (after the initial rebalance delay) the member gets every task.
      await client.createTopic("sg-raw-missing", 2);
      let epoch = joined.memberEpoch;
      const tasks = await waitFor(
        "the member's tasks",
        async () => {
          const beat = await heartbeat({ memberEpoch: epoch, topology: null, activeTasks: [], standbyTasks: [], warmupTasks: [] });
          expect(beat.errorCode).toBe(0);
          epoch = beat.memberEpoch;
          return beat.activeTasks !== null && beat.activeTasks.length > 0 && beat;
        },
        30_000,
      );
      expect(tasks.activeTasks).toEqual([{ subtopologyId: "0", partitions: [0, 1] }]);

      // The broker crashes and comes back: the group is read back from __consumer_offsets, the member goes on at its epoch with its tasks.
      const describeGroup = async (c: TestClient) =>
        (await c.request<{ groups: Record<string, unknown>[] }>(89, 1, { groupIds: [group], includeAuthorizedOperations: false })).groups[0];
      const before = await describeGroup(raw);
      await raw.close();
      await broker.kill();
      await broker.restart();
      raw = await TestClient.connect(broker.port);
      const again = await heartbeat({
        memberEpoch: epoch,
        topology: null,
        activeTasks: [{ subtopologyId: "0", partitions: [0, 1] }],
        standbyTasks: [],
        warmupTasks: [],
      });
      expect(again).toMatchObject({ errorCode: 0, memberId: "m-1", memberEpoch: epoch });
      const after = await describeGroup(raw);
      expect(after).toEqual(before);
      expect(after).toMatchObject({ groupState: "Stable", groupEpoch: epoch, assignmentEpoch: epoch });

      const left = await heartbeat({ memberEpoch: -1, topology: null, activeTasks: null, standbyTasks: null, warmupTasks: null });
      expect(left).toMatchObject({ errorCode: 0, memberId: "m-1", memberEpoch: -1 });
    } finally {
      await raw.close();
    }
  }, 120_000);
});
