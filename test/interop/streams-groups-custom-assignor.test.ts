// Custom task assignors for streams groups (KIP-1357) on Sluice: `group.streams.assignors` lists
// Kafka's built-in "sticky" and JavaScript modules (Sluice's form of Kafka's assignor classes), and
// a group picks one with its `streams.assignor.name` group config (kafka-configs.sh --entity-type
// groups). A round-robin module deals the tasks as it says, a failing one fails the heartbeat with
// UNKNOWN_SERVER_ERROR (its message in the broker's log), a group without the config gets the default, a name that is
// not registered falls back to the default, and a Java class name stops the broker's start with a
// message saying why.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { run } from "../helpers/cli.js";
import { TestClient } from "../helpers/client.js";
import { waitFor } from "../helpers/groups.js";
import { runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, sluiceBin, startSluice } from "../helpers/sluice.js";

const fixtures = resolve("test/fixtures");
const roundRobin = join(fixtures, "streams-round-robin-assignor.mjs");
const failing = join(fixtures, "streams-failing-assignor.mjs");

type Beat = { errorCode: number; errorMessage: string | null; memberEpoch: number; activeTasks: { subtopologyId: string; partitions: number[] }[] | null };

describe("custom streams task assignors (KIP-1357) on Sluice", () => {
  let sluice: SluiceBroker;
  let client: TestClient;

  beforeAll(async () => {
    sluice = await startSluice({
      overrides: {
        "group.streams.assignors": `sticky,${roundRobin},${failing}`,
        "group.streams.initial.rebalance.delay.ms": 0,
        "group.streams.assignment.interval.ms": 0,
        "num.partitions": 1,
      },
    });
    client = await TestClient.connect(sluice.port);
    const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
      topics: [{ name: "rr-in", numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0]?.errorCode).toBe(0);
    for (let i = 0; i < 100; i++) {
      const found = await client.request<{ coordinators: { errorCode: number }[] }>(10, 4, { keyType: 0, coordinatorKeys: ["rr"] });
      if (found.coordinators[0]?.errorCode === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    client?.close();
    if (sluice) {
      const code = await sluice.stop();
      await rm(sluice.workDir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  });

  const topology = {
    epoch: 0,
    subtopologies: [
      {
        subtopologyId: "0",
        sourceTopics: ["rr-in"],
        sourceTopicRegex: [],
        stateChangelogTopics: [],
        repartitionSinkTopics: [],
        repartitionSourceTopics: [],
        copartitionGroups: [],
      },
    ],
  };

  async function beat(groupId: string, memberId: string, memberEpoch: number, owned: number[] | null): Promise<Beat> {
    for (let attempt = 0; ; attempt++) {
      const answer = await client.request<Beat>(88, 1, {
        groupId,
        memberId,
        memberEpoch,
        endpointInformationEpoch: 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
        topology: memberEpoch === 0 ? topology : null,
        activeTasks: owned === null ? null : owned.length === 0 ? [] : [{ subtopologyId: "0", partitions: owned }],
        standbyTasks: owned === null ? null : [],
        warmupTasks: owned === null ? null : [],
        processId: memberEpoch === 0 ? `process-${memberId}` : null,
        userEndpoint: null,
        clientTags: memberEpoch === 0 ? [] : null,
        taskOffsets: null,
        taskEndOffsets: null,
        shutdownApplication: false,
      });
      if (![14, 15, 16].includes(answer.errorCode) || attempt > 100) return answer;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const setAssignor = async (group: string, name: string) => {
    const result = await runJavaTool(
      "org.apache.kafka.tools.ConfigCommand",
      ["--bootstrap-server", sluice.bootstrap, "--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", `streams.assignor.name=${name}`],
      { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 },
    );
    expect(result.code, result.stderr).toBe(0);
  };

  const describeGroup = async (group: string) =>
    (
      await client.request<{
        groups: { errorCode: number; assignorName: string | null; members: { memberId: string; assignment: { activeTasks: unknown[] } }[] }[];
      }>(89, 1, {
        groupIds: [group],
        includeAuthorizedOperations: false,
      })
    ).groups[0];

  it("a group with streams.assignor.name=round-robin gets the module's assignment", async () => {
    await setAssignor("rr", "round-robin");
    let a = await beat("rr", "member-a", 0, []);
    let b = await beat("rr", "member-b", 0, []);
    // Reconcile: a gives up what the new target takes from it, then b gets it.
    for (let i = 0; i < 5; i++) {
      a = await beat("rr", "member-a", a.memberEpoch, a.activeTasks?.flatMap((t) => t.partitions) ?? []);
      b = await beat("rr", "member-b", b.memberEpoch, b.activeTasks?.flatMap((t) => t.partitions) ?? []);
    }
    const described = await describeGroup("rr");
    expect(described?.assignorName).toBe("round-robin");
    const tasksOf = (id: string) => described?.members.find((m) => m.memberId === id)?.assignment.activeTasks;
    expect(tasksOf("member-a")).toEqual([{ subtopologyId: "0", partitions: [0, 2] }]);
    expect(tasksOf("member-b")).toEqual([{ subtopologyId: "0", partitions: [1, 3] }]);
  });

  it("an assignor that throws fails the heartbeat with UNKNOWN_SERVER_ERROR; the broker logs why", async () => {
    await setAssignor("boom", "failing");
    const joined = await beat("boom", "member-x", 0, []);
    // As Kafka answers a TaskAssignorException: UNKNOWN_SERVER_ERROR without a message; the broker logs it.
    expect(joined).toMatchObject({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null });
    await waitFor("the broker to log the assignor's failure", () =>
      (sluice.stdout() + sluice.stderr()).includes("Failed to compute a new target assignment for epoch 2: no assignment today"),
    );
  });

  it("without the group config, or with an assignor not registered, the default (the first listed) assigns", async () => {
    const plain = await beat("plain", "member-p", 0, []);
    expect(plain.errorCode).toBe(0);
    expect((await describeGroup("plain"))?.assignorName).toBe("sticky");
    await setAssignor("unknown", "nope");
    const fallback = await beat("unknown", "member-u", 0, []);
    expect(fallback).toMatchObject({ errorCode: 0, activeTasks: [{ subtopologyId: "0", partitions: [0, 1, 2, 3] }] });
    expect((await describeGroup("unknown"))?.assignorName).toBe("sticky");
  });

  it("a Java class name in group.streams.assignors stops the start, saying why", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-assignors-"));
    const started = await run(
      process.execPath,
      [
        sluiceBin,
        "start",
        "--override",
        "group.streams.assignors=com.example.MyAssignor",
        "--override",
        "listeners=PLAINTEXT://127.0.0.1:0",
        "--override",
        `log.dirs=${dir}`,
      ],
      "",
      30_000,
    );
    await rm(dir, { recursive: true, force: true });
    expect(started.code).not.toBe(0);
    expect(started.stdout + started.stderr).toContain('unknown task assignor \\"com.example.MyAssignor\\"');
    expect(started.stdout + started.stderr).toContain("Sluice cannot load Java classes");
  });
});
