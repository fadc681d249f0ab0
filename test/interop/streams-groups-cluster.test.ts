// Streams groups (KIP-1071) on a 3-broker Sluice cluster (etcd): a Kafka Streams 4.4 word count
// (test/kafka's sluice.kafka.WordCount, exactly_once_v2, group.protocol=streams) whose group
// coordinator, internal topics (created by the coordinator through the controller, replication
// factor 3) and partition leaders are spread over the brokers. The counts are exact; then the
// broker coordinating the group is killed (SIGKILL) while lines arrive: the group moves to another
// broker (its records replayed from the replicated __consumer_offsets), the Streams instance
// rejoins, and the counts stay exact — nothing lost, nothing counted twice.
//
//   npx vitest run test/interop/streams-groups-cluster.test.ts

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { clusterSkipReason, startCluster, type TestCluster, waitForFullIsr } from "../helpers/cluster.js";
import { GroupTestClient, MemberProcess, range, waitFor } from "../helpers/groups.js";
import { runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { countWords, makeLines } from "../helpers/streams.js";

const skip = await clusterSkipReason({ netns: false });
if (skip !== null && process.env.CI) throw new Error(`the cluster tests cannot run under CI: ${skip}`);

type StreamsEvent = { event: string; to?: string; active?: string[]; groupProtocol?: string };

describe.skipIf(skip !== null)("streams groups on a 3-broker Sluice cluster", () => {
  let cluster: TestCluster;
  let client: GroupTestClient;
  let workDir: string;
  const processes: MemberProcess[] = [];
  const applicationId = "cwc";
  const input = "cwc-lines";
  const output = "cwc-counts";
  const partitions = 4;

  beforeAll(async () => {
    cluster = await startCluster({
      brokers: 3,
      overrides: {
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 6000,
        "offsets.topic.replication.factor": 3,
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "transaction.state.log.num.partitions": 6,
        "default.replication.factor": 3,
        "group.streams.min.session.timeout.ms": 6000,
        "group.streams.session.timeout.ms": 6000,
        "group.streams.min.heartbeat.interval.ms": 500,
        "group.streams.heartbeat.interval.ms": 500,
      },
    });
    client = await GroupTestClient.connect(cluster.bootstrap);
    workDir = await mkdtemp(join(tmpdir(), "sluice-streams-cluster-"));
  }, 180_000);

  afterAll(async () => {
    for (const running of processes) await running.kill().catch(() => {});
    await client?.close();
    await cluster?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 120_000);

  const events = (instance: MemberProcess) => instance.events as unknown as StreamsEvent[];

  async function outputCounts(): Promise<{ latest: Map<string, number>; sequences: Map<string, number[]> }> {
    const run = await runJavaTool(
      "sluice.kafka.Consume",
      ["--bootstrap", cluster.bootstrap, "--topic", output, "--property", "isolation.level=read_committed"],
      {
        quickStart: true,
        heap: "128m",
        logLevel: "ERROR",
        timeoutMs: 60_000,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const latest = new Map<string, number>();
    const sequences = new Map<string, number[]>();
    for (const line of run.stdout.split("\n").filter((l) => l.startsWith('{"partition"'))) {
      const record = JSON.parse(line) as { key: string; value: string };
      latest.set(record.key, Number(record.value));
      sequences.set(record.key, [...(sequences.get(record.key) ?? []), Number(record.value)]);
    }
    return { latest, sequences };
  }

  async function coordinatorOf(groupId: string): Promise<number> {
    const bootstrap = cluster.brokers.find((b) => b.running) ?? (cluster.brokers[0] as (typeof cluster.brokers)[number]);
    const raw = await TestClient.connect(bootstrap.port, bootstrap.host);
    try {
      const found = await raw.request<{ coordinators: { errorCode: number; nodeId: number }[] }>(10, 4, { keyType: 0, coordinatorKeys: [groupId] });
      const entry = found.coordinators[0];
      if (entry === undefined || entry.errorCode !== 0) throw new Error(`FindCoordinator ${groupId}: ${JSON.stringify(found)}`);
      return entry.nodeId;
    } finally {
      raw.close();
    }
  }

  it("counts exactly across a SIGKILL of the group's coordinator", { timeout: 300_000 }, async () => {
    await client.createTopic(input, partitions); // replication factor 3: default.replication.factor
    await client.createTopic(output, partitions);
    await waitForFullIsr(cluster.bootstrap, input, 3);
    const args = ["--bootstrap", cluster.bootstrap, "--application-id", applicationId, "--input", input, "--output", output];
    args.push("--state-dir", join(workDir, "state"), "--property", "group.protocol=streams", "--property", "processing.guarantee=exactly_once_v2");
    const instance = new MemberProcess("cwc", await spawnJavaTool("sluice.kafka.WordCount", args, { quickStart: true, heap: "256m", logLevel: "WARN" }));
    processes.push(instance);
    const running = () =>
      waitFor(
        "the instance to run every task",
        () => {
          if (instance.exit) throw new Error(`the instance exited: ${instance.describe()}`);
          const last = events(instance)
            .filter((e) => e.event === "state")
            .at(-1);
          const tasks = events(instance)
            .filter((e) => e.event === "tasks")
            .at(-1);
          return last?.to === "RUNNING" && (tasks?.active?.length ?? 0) === 2 * partitions;
        },
        120_000,
      );
    await running();
    expect(events(instance).find((e) => e.event === "started")).toMatchObject({ groupProtocol: "streams" });

    const first = makeLines("a", 100);
    await client.produce(
      input,
      first.map((value, i) => ({ partition: i % partitions, value })),
    );
    await client.waitForCommitsAtEnd(applicationId, input, 120_000);
    expect((await outputCounts()).latest).toEqual(countWords(first));

    // The broker coordinating the group dies while lines arrive.
    const victim = await coordinatorOf(applicationId);
    const second = makeLines("b", 60);
    await client.produce(
      input,
      second.slice(0, 30).map((value, i) => ({ partition: i % partitions, value })),
    );
    await cluster.broker(victim).kill();
    await client.produce(
      input,
      second.slice(30).map((value, i) => ({ partition: i % partitions, value })),
    );
    await waitFor("the group to move to another broker", async () => (await coordinatorOf(applicationId)) !== victim, 60_000);
    await client.waitForCommitsAtEnd(applicationId, input, 150_000);
    const after = await outputCounts();
    expect(after.latest).toEqual(countWords([...first, ...second]));
    for (const [word, sequence] of after.sequences) expect(sequence, word).toEqual(range(sequence.length).map((i) => i + 1));
    await cluster.broker(victim).start();
  });
});
