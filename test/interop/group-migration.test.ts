// Online migration between the classic and the consumer group protocol (KIP-848,
// group.consumer.migration.policy=bidirectional) with real clients against the Sluice broker:
// Kafka 4.4.0's Java KafkaConsumer (test/kafka's sluice.kafka.ConsumerProtocolGroup, one JVM per
// member). Two members start with group.protocol=classic; they are rolled one by one to
// group.protocol=consumer (the first consumer-protocol member upgrades the classic group, the other
// classic member lives in the consumer group until it is rolled too), then rolled back (the last
// consumer-protocol member leaving downgrades the group to a classic group). Records are produced
// at every stage and every one is consumed; ListGroups, DescribeGroups and ConsumerGroupDescribe
// show the group's type and its members' protocols at each stage.
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { produceWithJava, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const topic = "migration-orders";
const partitions = 6;
const group = "migration-group";

type Protocol = "classic" | "consumer";

interface Consumed {
  partition: number;
  value: string;
}

/** One group member: a JVM running ConsumerProtocolGroup with the given group.protocol. */
class Member {
  readonly owned = new Set<number>();
  readonly consumed: Consumed[] = [];
  readonly log: string[] = [];
  closed = false;
  commitFailures = 0;

  private constructor(
    readonly name: string,
    readonly protocol: Protocol,
    private readonly child: ChildProcess,
  ) {
    let pending = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        this.#line(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => this.log.push(chunk));
    child.on("close", () => {
      this.closed = true;
    });
  }

  static async start(name: string, protocol: Protocol, bootstrap: string): Promise<Member> {
    const properties = [`client.id=${name}`, `group.protocol=${protocol}`];
    // The classic protocol's timings, short enough for a test (session ≥ group.min.session.timeout.ms).
    if (protocol === "classic") properties.push("heartbeat.interval.ms=500", "session.timeout.ms=10000", "max.poll.interval.ms=30000");
    const child = await spawnJavaTool(
      "sluice.kafka.ConsumerProtocolGroup",
      ["--bootstrap", bootstrap, "--group", group, "--topic", topic, ...properties.flatMap((p) => ["--property", p])],
      { quickStart: true, heap: "256m" },
    );
    return new Member(name, protocol, child);
  }

  #line(line: string): void {
    if (!line.startsWith("{")) return;
    this.log.push(line);
    const event = JSON.parse(line) as { event: string; partitions?: string[]; partition?: number; value?: string };
    const indexes = (event.partitions ?? []).map((tp) => Number(tp.slice(tp.lastIndexOf("-") + 1)));
    switch (event.event) {
      case "assigned":
        for (const p of indexes) this.owned.add(p);
        break;
      case "revoked":
      case "lost":
        for (const p of indexes) this.owned.delete(p);
        break;
      case "record":
        this.consumed.push({ partition: event.partition as number, value: event.value as string });
        break;
      case "commit-failed":
        this.commitFailures++;
        break;
    }
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.child.stdin?.write("stop\n");
    await waitFor(`${this.name} to close`, () => this.closed, 60_000);
  }

  kill(): void {
    if (!this.closed) this.child.kill("SIGKILL");
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let broker: SluiceBroker;
let admin: TestClient;
const members: Member[] = [];
let produced = 0;

async function produce(count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ key: `key-${produced + i}`, value: `value-${produced + i}` }));
  await produceWithJava({ bootstrap: broker.bootstrap, topic, records, compression: "none" });
  produced += count;
}

function allConsumed(): boolean {
  const values = new Set(members.flatMap((member) => member.consumed.map((record) => record.value)));
  for (let i = 0; i < produced; i++) if (!values.has(`value-${i}`)) return false;
  return true;
}

/** Every partition is owned by exactly one of `running`, each owning `partitions / running.length`. */
function spread(running: Member[]): boolean {
  const owners = new Map<number, number>();
  for (const member of running) for (const p of member.owned) owners.set(p, (owners.get(p) ?? 0) + 1);
  if (owners.size !== partitions || [...owners.values()].some((n) => n !== 1)) return false;
  return running.every((member) => member.owned.size === partitions / running.length);
}

interface ListedGroup {
  groupId: string;
  groupState: string;
  groupType: string;
}

/** ListGroups v5: the group's type and state. */
async function listedGroup(): Promise<ListedGroup | undefined> {
  const response = await admin.request<{ errorCode: number; groups: ListedGroup[] }>(16, 5, { statesFilter: [], typesFilter: [] });
  return response.groups.find((g) => g.groupId === group);
}

/** ConsumerGroupDescribe v1: the members' client ids by member type (0 classic, 1 consumer). */
async function consumerGroupMembers(): Promise<{ errorCode: number; errorMessage: string | null; types: Record<string, number> }> {
  const response = await admin.request<{
    groups: { errorCode: number; errorMessage: string | null; members: { clientId: string; memberType: number }[] }[];
  }>(69, 1, { groupIds: [group], includeAuthorizedOperations: false });
  const described = response.groups[0] as (typeof response.groups)[0];
  return {
    errorCode: described.errorCode,
    errorMessage: described.errorMessage,
    types: Object.fromEntries(described.members.map((member) => [member.clientId, member.memberType])),
  };
}

/** DescribeGroups v6 (classic groups only; GROUP_ID_NOT_FOUND for others). */
async function classicGroupDescription(): Promise<{ errorCode: number; groupState: string; protocolType: string; clients: string[] }> {
  const response = await admin.request<{
    groups: { errorCode: number; groupState: string; protocolType: string; members: { clientId: string }[] }[];
  }>(15, 6, { groups: [group], includeAuthorizedOperations: false });
  const described = response.groups[0] as (typeof response.groups)[0];
  return { ...described, clients: described.members.map((member) => member.clientId).sort() };
}

/** Waits until `running` share the partitions and every record produced so far (and `count` more) is consumed. */
async function settle(running: Member[], count: number): Promise<void> {
  await waitFor(`the partitions spread over ${running.map((m) => m.name).join(", ")}`, () => spread(running));
  await produce(count);
  await waitFor("every record consumed", allConsumed);
}

beforeAll(async () => {
  broker = await startSluice({
    overrides: {
      "group.consumer.min.heartbeat.interval.ms": 500,
      "group.consumer.heartbeat.interval.ms": 500,
      "group.initial.rebalance.delay.ms": 500,
      "offsets.topic.num.partitions": 5,
    },
  });
  const created = await runJavaTool(
    "org.apache.kafka.tools.TopicCommand",
    ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", String(partitions)],
    { quickStart: true, heap: "256m" },
  );
  expect(created.code, created.stderr).toBe(0);
  admin = await TestClient.connect(broker.port);
  await admin.request(10, 4, { key: "", keyType: 0, coordinatorKeys: [group] });
}, 180_000);

afterAll(async () => {
  for (const member of members) member.kill();
  admin?.close();
  if (broker !== undefined) {
    await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
  }
});

describe("rolling Kafka 4.4.0's KafkaConsumer from group.protocol=classic to consumer and back", () => {
  it("two classic members share the partitions of a classic group", async () => {
    await produce(200);
    members.push(await Member.start("classic-a", "classic", broker.bootstrap));
    members.push(await Member.start("classic-b", "classic", broker.bootstrap));
    await settle([members[0], members[1]] as Member[], 100);
    expect(await listedGroup()).toEqual({ groupId: group, protocolType: "consumer", groupState: "Stable", groupType: "classic" });
    expect(await classicGroupDescription()).toMatchObject({
      errorCode: 0,
      groupState: "Stable",
      protocolType: "consumer",
      clients: ["classic-a", "classic-b"],
    });
    expect((await consumerGroupMembers()).errorMessage).toBe(`Group ${group} is not a consumer group.`);
  }, 240_000);

  it("the first consumer-protocol member upgrades the group; the other classic member stays in it", async () => {
    await (members[0] as Member).stop();
    members.push(await Member.start("consumer-a", "consumer", broker.bootstrap));
    await waitFor("the group to be a consumer group", async () => (await listedGroup())?.groupType === "consumer");
    await settle([members[1], members[2]] as Member[], 100);
    expect(await consumerGroupMembers()).toEqual({ errorCode: 0, errorMessage: null, types: { "classic-b": 0, "consumer-a": 1 } });
    expect(await classicGroupDescription()).toMatchObject({ errorCode: 69 });
  }, 240_000);

  it("rolling the last classic member leaves a consumer group of consumer-protocol members", async () => {
    await (members[1] as Member).stop();
    members.push(await Member.start("consumer-b", "consumer", broker.bootstrap));
    await settle([members[2], members[3]] as Member[], 100);
    expect(await consumerGroupMembers()).toEqual({ errorCode: 0, errorMessage: null, types: { "consumer-a": 1, "consumer-b": 1 } });
    expect((await listedGroup())?.groupState).toBe("Stable");
  }, 240_000);

  it("rolling back: a classic member joins the consumer group", async () => {
    await (members[2] as Member).stop();
    members.push(await Member.start("classic-c", "classic", broker.bootstrap));
    await settle([members[3], members[4]] as Member[], 100);
    expect(await consumerGroupMembers()).toEqual({ errorCode: 0, errorMessage: null, types: { "consumer-b": 1, "classic-c": 0 } });
  }, 240_000);

  it("the last consumer-protocol member leaving downgrades the group to a classic group", async () => {
    await (members[3] as Member).stop();
    await waitFor("the group to be a classic group", async () => (await listedGroup())?.groupType === "classic");
    members.push(await Member.start("classic-d", "classic", broker.bootstrap));
    await settle([members[4], members[5]] as Member[], 100);
    expect(await listedGroup()).toEqual({ groupId: group, protocolType: "consumer", groupState: "Stable", groupType: "classic" });
    expect(await classicGroupDescription()).toMatchObject({ errorCode: 0, groupState: "Stable", clients: ["classic-c", "classic-d"] });
    await (members[4] as Member).stop();
    await (members[5] as Member).stop();
    // Every record was consumed; commits may fail while a member rebalances (the records are then
    // consumed again by the next owner), never silently.
    expect(allConsumed()).toBe(true);
    for (const member of members) expect(member.closed, member.name).toBe(true);
    // The group went through both conversions (not an empty group replaced).
    expect(broker.stdout()).toContain("converted the classic group to a consumer group");
    expect(broker.stdout()).toContain("converted the consumer group to a classic group");
    // The broker logged no failure of its own (pino levels 50 error, 60 fatal).
    const failures = `${broker.stdout()}\n${broker.stderr()}`.split("\n").filter((line) => /"level":(50|60)/.test(line));
    expect(failures).toEqual([]);
  }, 240_000);
});
