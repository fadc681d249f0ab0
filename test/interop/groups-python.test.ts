// Python consumer groups against the broker $GROUP_TESTS_BROKER picks (test/helpers/brokers.ts;
// Sluice by default, `kafka` for Apache Kafka 4.4.0, which these tests are checked against). Each
// group member is its own process (test/interop/python/groups.py member), printing its rebalance
// callbacks, records and commits as JSON lines, so a test can stop or SIGKILL one:
//
// - confluent-kafka (librdkafka) with partition.assignment.strategy=cooperative-sticky: a second
//   member takes half the partitions by incremental revoke/assign (the first keeps the rest without
//   a revoke), and on its leave they come back by incremental assign alone; every record consumed
//   exactly once;
// - static membership (group.instance.id): the group's leader is SIGKILLed and restarted within the
//   session timeout; it gets the same partitions back under a new member id, the other member sees no
//   rebalance, and no record is lost or read twice;
// - group.protocol=consumer (KIP-848, librdkafka 2.16): the broker assigns (uniform assignor), a
//   leaving member's partitions move to the other, every record consumed exactly once;
// - kafka-python: a group member commits, stops, and a new one resumes from the commits.
//
// Records are produced and committed offsets read with kafkajs (test/helpers/groups.ts). The venv
// with the pinned clients comes from scripts/python-venv.mjs, as for python-clients.test.ts.
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/groups-python.test.ts
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import {
  byPosition,
  type GroupDescription,
  GroupTestClient,
  MemberProcess,
  type ProducedRecord,
  range,
  receivedBy,
  showBrokerOutputOnFailure,
  waitFor,
  waitForAssignment as waitForAssignmentOf,
  waitForRecords,
} from "../helpers/groups.js";

const ci = Boolean(process.env.CI);
const script = fileURLToPath(new URL("./python/groups.py", import.meta.url));

interface PythonVenvModule {
  ensurePythonVenv(options?: { log?: (line: string) => void }): string;
}
const venvModuleUrl = new URL("../../scripts/python-venv.mjs", import.meta.url).href;
const { ensurePythonVenv } = (await import(venvModuleUrl)) as PythonVenvModule;
let python = "";
let venvProblem: string | null = null;
try {
  python = ensurePythonVenv({ log: (line) => console.warn(line) });
} catch (error) {
  venvProblem = `no Python test environment: ${(error as Error).message}`;
}
if (venvProblem && !ci) console.warn(`test/interop/groups-python.test.ts: ${venvProblem}`);

function pythonMember(name: string, spec: Record<string, unknown>): MemberProcess {
  return new MemberProcess(name, spawn(python, [script, "member", JSON.stringify(spec)], { stdio: ["pipe", "pipe", "pipe"] }));
}

function describeGroups(bootstrap: string, groups: string[]): Promise<Record<string, GroupDescription>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, "describe", JSON.stringify({ bootstrap, groups })], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`groups.py describe exited with ${code}: ${stderr}`))));
  });
}

describe.skipIf(venvProblem !== null && !ci)(`Python consumer groups against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  const members: MemberProcess[] = [];

  beforeAll(async () => {
    if (venvProblem) throw new Error(`${venvProblem}: CI must have it (scripts/python-venv.mjs)`);
    broker = await startBroker({
      // KIP-848 members heartbeat at the broker's interval (5 s by default); reconciling a moved
      // partition takes a few heartbeats, so shorter ones keep the test short. Both brokers get it.
      properties: { "group.consumer.heartbeat.interval.ms": 1_000, "group.consumer.min.heartbeat.interval.ms": 1_000 },
    });
    client = await GroupTestClient.connect(broker.bootstrap);
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const member of members) await member.kill();
    await client?.close();
    await broker?.close();
  });

  function startMember(
    name: string,
    spec: { client?: "confluent" | "kafka-python"; group: string; topics: string[]; config?: Record<string, unknown> },
  ): MemberProcess {
    // GROUP_TESTS_CLIENT_DEBUG=1: the client's debug log in the member's stderr (shown on a failure).
    const member = pythonMember(name, {
      client: "confluent",
      bootstrap: broker.bootstrap,
      commit: "sync",
      debug: Boolean(process.env.GROUP_TESTS_CLIENT_DEBUG),
      ...spec,
    });
    members.push(member);
    return member;
  }

  const describeGroup = async (group: string) => (await describeGroups(broker.bootstrap, [group]))[group];
  const waitForAssignment = (group: string, topic: string, partitions: number, live: MemberProcess[], state?: string) =>
    waitForAssignmentOf(describeGroup, group, topic, partitions, live, state);

  /** Every produced record was received exactly once across the members (by partition, offset and value). */
  function expectExactlyOnce(produced: ProducedRecord[], topic: string, all: MemberProcess[]): void {
    expect(receivedBy(all, topic)).toEqual([...produced].sort(byPosition));
  }

  it("confluent-kafka cooperative-sticky: members come and go by incremental assign and revoke, every record consumed once", async () => {
    const topic = "py-coop";
    const group = "py-coop-group";
    const partitions = 6;
    await client.createTopic(topic, partitions);
    const config = { "partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": 6_000, "heartbeat.interval.ms": 500 };
    const produced: ProducedRecord[] = [];

    const one = startMember("one", { group, topics: [topic], config: { ...config, "client.id": "coop-one" } });
    const alone = await waitForAssignment(group, topic, partitions, [one]);
    expect(alone).toMatchObject({ type: "CLASSIC", assignor: "cooperative-sticky", simple: false });
    // Its first assignment is all six partitions at once.
    expect(one.rebalanceEvents().filter((e) => e.partitions.length > 0)).toEqual([
      { event: "assign", partitions: range(6).map((p) => [topic, p]), memberId: one.memberId() },
    ]);
    const first = await client.produceNumbered(topic, "coop-a", 60, partitions);
    produced.push(...first);
    await waitForRecords(first, topic, [one]);
    await client.waitForCommitsAtEnd(group, topic);

    const before = one.rebalanceEvents().length;
    const two = startMember("two", { group, topics: [topic], config: { ...config, "client.id": "coop-two" } });
    // Cooperative rebalancing takes two rounds (revoke, then assign): a stable group between them
    // (one still holding all six, two none) is not the end; wait for three each, then for the broker.
    await waitFor("three partitions each", () => one.assignment(topic).length === 3 && two.assignment(topic).length === 3);
    const both = await waitForAssignment(group, topic, partitions, [one, two]);
    expect(both.members.map((m) => m.clientId).sort()).toEqual(["coop-one", "coop-two"]);
    expect(one.assignment(topic).length).toBe(3);
    // Cooperative: "one" gave up exactly the partitions "two" got, by revoke only; it kept the rest.
    const oneChanges = one.rebalanceEvents().slice(before);
    const revokedFromOne = oneChanges.filter((e) => e.event === "revoke").flatMap((e) => e.partitions.map(([, p]) => p));
    expect(
      revokedFromOne.sort((a, b) => a - b),
      `${one.describe()}\n${two.describe()}`,
    ).toEqual(two.assignment(topic));
    expect(oneChanges.filter((e) => e.event !== "revoke").flatMap((e) => e.partitions)).toEqual([]);
    expect(
      two
        .rebalanceEvents()
        .filter((e) => e.event !== "assign")
        .flatMap((e) => e.partitions),
    ).toEqual([]);

    const second = await client.produceNumbered(topic, "coop-b", 60, partitions);
    produced.push(...second);
    await waitForRecords(second, topic, [one, two]);
    await client.waitForCommitsAtEnd(group, topic);

    const keptByOne = one.assignment(topic);
    const givenBack = two.assignment(topic);
    const beforeLeave = one.rebalanceEvents().length;
    await two.stop();
    await waitForAssignment(group, topic, partitions, [one]);
    // Its partitions come back to "one" by an incremental assign; "one" revokes nothing.
    const back = one.rebalanceEvents().slice(beforeLeave);
    expect(back.filter((e) => e.event !== "assign").flatMap((e) => e.partitions)).toEqual([]);
    expect(back.flatMap((e) => e.partitions.map(([, p]) => p)).sort((a, b) => a - b)).toEqual(givenBack);
    expect(one.assignment(topic)).toEqual([...keptByOne, ...givenBack].sort((a, b) => a - b));

    const third = await client.produceNumbered(topic, "coop-c", 60, partitions);
    produced.push(...third);
    await waitForRecords(third, topic, [one]);
    await client.waitForCommitsAtEnd(group, topic);
    await one.stop();

    expectExactlyOnce(produced, topic, [one, two]);
    expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 30]));
    expect([...one.errors(), ...two.errors()]).toEqual([]);
  });

  it("confluent-kafka static membership: the leader restarts within the session timeout and gets its partitions back, without a rebalance of the other member", async () => {
    const topic = "py-static";
    const group = "py-static-group";
    const partitions = 4;
    await client.createTopic(topic, partitions);
    const config = (instance: string) => ({ "group.instance.id": instance, "client.id": instance, "session.timeout.ms": 10_000, "heartbeat.interval.ms": 500 });
    const produced: ProducedRecord[] = [];

    const one = startMember("one", { group, topics: [topic], config: config("static-one") });
    await waitForAssignment(group, topic, partitions, [one]);
    const two = startMember("two", { group, topics: [topic], config: config("static-two") });
    const stable = await waitForAssignment(group, topic, partitions, [one, two]);
    expect(stable.members.map((m) => m.groupInstanceId).sort()).toEqual(["static-one", "static-two"]);
    const first = await client.produceNumbered(topic, "static-a", 40, partitions);
    produced.push(...first);
    await waitForRecords(first, topic, [one, two]);
    await client.waitForCommitsAtEnd(group, topic);

    const oneHeld = one.assignment(topic);
    const twoEvents = two.rebalanceEvents().length;
    const twoMemberId = two.memberId();
    expect(oneHeld.length).toBe(2);
    // A crash: no LeaveGroup. The same group.instance.id is back well within session.timeout.ms.
    await one.kill();
    const restarted = startMember("one-again", { group, topics: [topic], config: config("static-one") });
    const after = await waitForAssignment(group, topic, partitions, [restarted, two]);
    expect(restarted.assignment(topic)).toEqual(oneHeld);
    expect(restarted.memberId()).not.toBe(one.memberId());
    expect(after.members.find((m) => m.memberId === restarted.memberId())?.groupInstanceId).toBe("static-one");
    // Produce and consume a round while "two" is watched: it never saw a revoke or an assign.
    const second = await client.produceNumbered(topic, "static-b", 40, partitions);
    produced.push(...second);
    await waitForRecords(second, topic, [restarted, two]);
    await client.waitForCommitsAtEnd(group, topic);
    expect(two.rebalanceEvents().slice(twoEvents)).toEqual([]);
    expect(two.memberId()).toBe(twoMemberId);

    // Everything was committed before the kill, so the restart read nothing twice.
    await restarted.stop();
    await two.stop();
    expectExactlyOnce(produced, topic, [one, restarted, two]);
    expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 20]));
  });

  it("confluent-kafka group.protocol=consumer (KIP-848): the broker assigns, a leaving member's partitions move, every record consumed once", async () => {
    const topic = "py-848";
    const group = "py-848-group";
    const partitions = 6;
    await client.createTopic(topic, partitions);
    const config = { "group.protocol": "consumer" };
    const produced: ProducedRecord[] = [];

    const one = startMember("one", { group, topics: [topic], config: { ...config, "client.id": "kip848-one" } });
    await waitForAssignment(group, topic, partitions, [one]);
    const two = startMember("two", { group, topics: [topic], config: { ...config, "client.id": "kip848-two" } });
    const both = await waitForAssignment(group, topic, partitions, [one, two]);
    expect(both).toMatchObject({ type: "CONSUMER", assignor: "uniform", simple: false });
    expect(both.members.map((m) => m.clientId).sort()).toEqual(["kip848-one", "kip848-two"]);
    expect([one.assignment(topic).length, two.assignment(topic).length]).toEqual([3, 3]);
    // Incremental: "two" only ever got partitions; "one" only gave up the ones "two" holds.
    expect(
      two
        .rebalanceEvents()
        .filter((e) => e.event !== "assign")
        .flatMap((e) => e.partitions),
    ).toEqual([]);
    const revokedFromOne = one
      .rebalanceEvents()
      .filter((e) => e.event === "revoke")
      .flatMap((e) => e.partitions.map(([, p]) => p));
    expect(revokedFromOne.sort((a, b) => a - b)).toEqual(two.assignment(topic));

    const first = await client.produceNumbered(topic, "kip848-a", 60, partitions);
    produced.push(...first);
    await waitForRecords(first, topic, [one, two]);
    await client.waitForCommitsAtEnd(group, topic);

    await two.stop();
    await waitForAssignment(group, topic, partitions, [one]);
    const second = await client.produceNumbered(topic, "kip848-b", 60, partitions);
    produced.push(...second);
    await waitForRecords(second, topic, [one]);
    await client.waitForCommitsAtEnd(group, topic);
    await one.stop();

    expectExactlyOnce(produced, topic, [one, two]);
    expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 20]));
    const empty = await describeGroup(group);
    expect(empty).toMatchObject({ state: "EMPTY", type: "CONSUMER", members: [] });
  });

  it("kafka-python: a group member commits and stops; the next one resumes from the commits, reading nothing twice", async () => {
    const topic = "py-kp";
    const group = "py-kp-group";
    const partitions = 3;
    await client.createTopic(topic, partitions);
    const config = { session_timeout_ms: 6_000, heartbeat_interval_ms: 500, client_id: "kp-member" };

    const first = await client.produceNumbered(topic, "kp-a", 30, partitions);
    const one = startMember("kp-one", { client: "kafka-python", group, topics: [topic], config });
    await waitForAssignment(group, topic, partitions, [one]);
    await waitForRecords(first, topic, [one]);
    await client.waitForCommitsAtEnd(group, topic);
    await one.stop();
    expect(
      one
        .records()
        .map(({ partition, offset, value }) => ({ partition, offset, value }))
        .sort(byPosition),
    ).toEqual([...first].sort(byPosition));
    // Its own view of the commits, from kafka-python's committed(): the end offsets.
    const lastCommit = one.events.filter((e) => e.event === "committed").at(-1);
    expect(lastCommit).toEqual({ event: "committed", offsets: range(partitions).map((p) => [topic, p, 10]) });

    const second = await client.produceNumbered(topic, "kp-b", 30, partitions);
    const two = startMember("kp-two", { client: "kafka-python", group, topics: [topic], config });
    await waitForAssignment(group, topic, partitions, [two]);
    await waitForRecords(second, topic, [two]);
    await client.waitForCommitsAtEnd(group, topic);
    await two.stop();
    expect(
      two
        .records()
        .map(({ partition, offset, value }) => ({ partition, offset, value }))
        .sort(byPosition),
    ).toEqual([...second].sort(byPosition));
    expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 20]));
    expect([...one.errors(), ...two.errors()]).toEqual([]);
  });
});
