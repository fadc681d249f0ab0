// KIP-848 consumer groups with real clients against the Sluice broker: Kafka 4.4.0's Java
// KafkaConsumer with group.protocol=consumer (test/kafka's sluice.kafka.ConsumerProtocolGroup, one
// JVM per member) — a first member takes every partition, two more join and the partitions spread
// (revoked by one before assigned to another), one leaves and its partitions move, every record is
// consumed and committed, and a new member resumes from the committed offsets; Kafka's
// kafka-consumer-groups tool describes the group (ConsumerGroupDescribe).
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { produceWithJava, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const topic = "kip848-orders";
const partitions = 6;
const group = "kip848-group";

interface Consumed {
  partition: number;
  offset: number;
  value: string;
}

/** One group member: a JVM running ConsumerProtocolGroup, its events as they arrive. */
class Member {
  readonly owned = new Set<number>();
  readonly consumed: Consumed[] = [];
  readonly log: string[] = [];
  closed = false;
  commitFailures = 0;

  private constructor(
    readonly name: string,
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

  static async start(name: string, bootstrap: string): Promise<Member> {
    const child = await spawnJavaTool(
      "sluice.kafka.ConsumerProtocolGroup",
      ["--bootstrap", bootstrap, "--group", group, "--topic", topic, "--property", `client.id=${name}`],
      { quickStart: true, heap: "256m" },
    );
    return new Member(name, child);
  }

  #line(line: string): void {
    if (!line.startsWith("{")) return;
    this.log.push(line);
    const event = JSON.parse(line) as { event: string; partitions?: string[]; partition?: number; offset?: number; value?: string };
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
        this.consumed.push({ partition: event.partition as number, offset: event.offset as number, value: event.value as string });
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

async function waitFor(what: string, condition: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let broker: SluiceBroker;
const members: Member[] = [];
let produced = 0;

async function produce(count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ key: `key-${produced + i}`, value: `value-${produced + i}` }));
  await produceWithJava({ bootstrap: broker.bootstrap, topic, records, compression: "none" });
  produced += count;
}

/** Values consumed by all members so far. */
function consumedValues(): Set<string> {
  return new Set(members.flatMap((member) => member.consumed.map((record) => record.value)));
}

function allConsumed(): boolean {
  const values = consumedValues();
  for (let i = 0; i < produced; i++) if (!values.has(`value-${i}`)) return false;
  return true;
}

/** Every partition is owned by exactly one running member, and each owns `counts` partitions. */
function spread(running: Member[], counts: number[]): boolean {
  const owners = new Map<number, number>();
  for (const member of running) for (const p of member.owned) owners.set(p, (owners.get(p) ?? 0) + 1);
  if (owners.size !== partitions || [...owners.values()].some((n) => n !== 1)) return false;
  return JSON.stringify(running.map((m) => m.owned.size).sort()) === JSON.stringify([...counts].sort());
}

beforeAll(async () => {
  broker = await startSluice({
    overrides: {
      "group.consumer.min.heartbeat.interval.ms": 500,
      "group.consumer.heartbeat.interval.ms": 500,
      "offsets.topic.num.partitions": 5,
    },
  });
  const created = await runJavaTool(
    "org.apache.kafka.tools.TopicCommand",
    ["--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, "--partitions", String(partitions)],
    { quickStart: true, heap: "256m" },
  );
  expect(created.code, created.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  for (const member of members) member.kill();
  if (broker !== undefined) {
    await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
  }
});

describe("Kafka 4.4.0's KafkaConsumer with group.protocol=consumer", () => {
  it("one member takes every partition and consumes everything", async () => {
    await produce(300);
    members.push(await Member.start("member-a", broker.bootstrap));
    await waitFor("member-a to own every partition", () => spread([members[0] as Member], [partitions]));
    await waitFor("every record consumed", allConsumed);
  }, 180_000);

  it("two more members join: the partitions spread 2/2/2 and new records are consumed by their owners", async () => {
    members.push(await Member.start("member-b", broker.bootstrap));
    members.push(await Member.start("member-c", broker.bootstrap));
    await waitFor("the partitions spread over three members", () => spread(members, [2, 2, 2]), 120_000);
    const before = members.map((member) => member.consumed.length);
    await produce(300);
    await waitFor("every record consumed", allConsumed);
    // Each member consumed only from the partitions it owns now.
    members.forEach((member, index) => {
      const fresh = member.consumed.slice(before[index]);
      expect(fresh.length).toBeGreaterThan(0);
      for (const record of fresh) expect(member.owned.has(record.partition), `${member.name} consumed partition ${record.partition}`).toBe(true);
    });
    // kafka-consumer-groups describes the group through ConsumerGroupDescribe.
    const described = await runJavaTool(
      "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
      ["--bootstrap-server", broker.bootstrap, "--describe", "--group", group, "--members"],
      { quickStart: true, heap: "256m" },
    );
    expect(described.code, described.stderr).toBe(0);
    const rows = described.stdout.split("\n").filter((line) => line.startsWith(group));
    expect(rows).toHaveLength(3);
    for (const name of ["member-a", "member-b", "member-c"]) expect(rows.some((row) => row.includes(name))).toBe(true);
    const state = await runJavaTool(
      "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
      ["--bootstrap-server", broker.bootstrap, "--describe", "--group", group, "--state"],
      { quickStart: true, heap: "256m" },
    );
    expect(state.stdout).toMatch(/Stable/);
  }, 240_000);

  it("a member leaves: its partitions move to the others and nothing is lost", async () => {
    const leaving = members[1] as Member;
    await leaving.stop();
    const running = [members[0], members[2]] as Member[];
    await waitFor("the partitions spread over two members", () => spread(running, [3, 3]), 120_000);
    await produce(300);
    await waitFor("every record consumed", allConsumed);
  }, 240_000);

  it("after every member left, a new member resumes from the committed offsets", async () => {
    await (members[0] as Member).stop();
    await (members[2] as Member).stop();
    for (const member of members) expect(member.commitFailures, member.log.join("\n")).toBe(0);
    const earlier = produced;
    await produce(120);
    const fresh = await Member.start("member-d", broker.bootstrap);
    members.push(fresh);
    await waitFor("every record consumed", allConsumed);
    await waitFor("member-d to own every partition", () => spread([fresh], [partitions]));
    // It read only what came after the commits: none of the records consumed before.
    expect(fresh.consumed.every((record) => Number(record.value.slice("value-".length)) >= earlier)).toBe(true);
    expect(fresh.consumed).toHaveLength(120);
    await fresh.stop();
    // The broker logged no failure of its own (pino levels 50 error, 60 fatal).
    const failures = `${broker.stdout()}\n${broker.stderr()}`.split("\n").filter((line) => /"level":(50|60)/.test(line));
    expect(failures).toEqual([]);
  }, 240_000);
});
