// Shared pieces of the consumer-group suites (test/interop/groups-*.test.ts): polling for a
// condition, and a kafkajs admin + producer that set up topics, produce numbered records and read a
// group's committed offsets, whatever client the suite's consumers are.
import type { ChildProcess } from "node:child_process";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import { beforeEach } from "vitest";

/** Registers (in the calling describe block) a hook that prints the broker's recent output when a test fails. */
export function showBrokerOutputOnFailure(broker: () => { kind: string; output(): string } | undefined): void {
  beforeEach((context) => {
    context.onTestFailed(() => {
      const current = broker();
      if (current) process.stderr.write(`\n--- the ${current.kind} broker's recent output, after "${context.task.name}" failed:\n${current.output()}\n---\n`);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** Polls `probe` every 100 ms until it returns something other than false/null/undefined; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== null && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`);
    await sleep(100);
  }
}

export const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) =>
  a.partition - b.partition || a.offset - b.offset;
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export interface ProducedRecord {
  partition: number;
  offset: number;
  value: string;
}

/** A kafkajs admin and producer on a broker (or a cluster: a comma-separated bootstrap), for setting up and checking group tests. */
export class GroupTestClient {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;

  private constructor(bootstrap: string) {
    this.kafka = new Kafka({
      brokers: bootstrap.split(","),
      clientId: "groups-setup",
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
  }

  static async connect(bootstrap: string): Promise<GroupTestClient> {
    const client = new GroupTestClient(bootstrap);
    await client.admin.connect();
    await client.producer.connect();
    return client;
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }

  /** Creates the topic and waits until every partition answers ListOffsets (has a leader). */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const created = await this.admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: false });
    if (!created) throw new Error(`topic ${topic} already exists`);
    await this.waitForTopic(topic, partitions);
  }

  /** Waits until the topic's partitions answer ListOffsets (after creating it, or a broker restart). */
  async waitForTopic(topic: string, partitions: number): Promise<void> {
    await waitFor(`the ${partitions} partitions of ${topic} to be served`, async () => (await this.endOffsets(topic)).length === partitions);
  }

  /** Sends the values to the partitions given, in one send (one batch per partition); returns each record's offset. */
  async produce(topic: string, records: { partition: number; value: string }[]): Promise<ProducedRecord[]> {
    const metadata = await this.producer.send({ topic, acks: -1, messages: records.map(({ partition, value }) => ({ partition, value, key: `k-${value}` })) });
    const base = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
    const next = new Map<number, number>();
    return records.map(({ partition, value }) => {
      const index = next.get(partition) ?? 0;
      next.set(partition, index + 1);
      const first = base.get(partition);
      if (first === undefined) throw new Error(`no produce acknowledgement for partition ${partition}`);
      return { partition, offset: first + index, value };
    });
  }

  /** `count` records `${prefix}-${i}` round-robin over partitions 0..partitions-1. */
  produceNumbered(topic: string, prefix: string, count: number, partitions: number): Promise<ProducedRecord[]> {
    return this.produce(
      topic,
      range(count).map((i) => ({ partition: i % partitions, value: `${prefix}-${i}` })),
    );
  }

  /** The group's committed offsets for the topic, [partition, offset] sorted by partition (-1: none). */
  async committed(groupId: string, topic: string): Promise<[number, number][]> {
    const [offsets] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.partitions.map((p): [number, number] => [p.partition, Number(p.offset)]).sort(([x], [y]) => x - y);
  }

  /** The topic's end offsets, [partition, offset] sorted by partition. */
  async endOffsets(topic: string): Promise<[number, number][]> {
    return (await this.admin.fetchTopicOffsets(topic)).map((p): [number, number] => [p.partition, Number(p.high)]).sort(([x], [y]) => x - y);
  }

  /** Waits until the group's committed offsets are the topic's end offsets (read once, now); returns them. */
  async waitForCommitsAtEnd(groupId: string, topic: string, timeoutMs?: number): Promise<[number, number][]> {
    const end = await this.endOffsets(topic);
    await waitFor(
      `group ${groupId} to commit the end offsets of ${topic} (${JSON.stringify(end)})`,
      async () => JSON.stringify(await this.committed(groupId, topic)) === JSON.stringify(end),
      timeoutMs,
    );
    return end;
  }
}

// ---------------------------------------------------------------------------------------------
// Group members as processes (test/interop/python/groups.py member, test/kafka's
// sluice.kafka.GroupConsume): both print one JSON event a line and take JSON commands on stdin.

export type TopicPartitionPair = [string, number];
export type RebalanceEvent = { event: "assign" | "revoke" | "lost"; partitions: TopicPartitionPair[]; memberId?: string | null; generation?: number };
export type RecordEvent = { event: "record"; topic: string; partition: number; offset: number; key: string | null; value: string | null };
export type MemberEvent =
  | RebalanceEvent
  | RecordEvent
  | { event: "committed"; offsets: [string, number, number][] }
  | { event: "error"; error: string }
  | { event: "closed" };

/** One group member process, its events as they arrive. */
export class MemberProcess {
  readonly events: MemberEvent[] = [];
  private stderr = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    let pending = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.trim().startsWith("{")) continue;
        this.events.push(JSON.parse(line) as MemberEvent);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-256_000);
    });
    child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) =>
      child.on("close", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  records(topic?: string): RecordEvent[] {
    return this.events.filter((e): e is RecordEvent => e.event === "record" && (topic === undefined || e.topic === topic));
  }

  rebalanceEvents(): RebalanceEvent[] {
    return this.events.filter((e): e is RebalanceEvent => e.event === "assign" || e.event === "revoke" || e.event === "lost");
  }

  errors(): string[] {
    return this.events.flatMap((e) => (e.event === "error" ? [e.error] : []));
  }

  /** The partitions of `topic` held now: assigned minus revoked or lost, in event order (eager or incremental alike). */
  assignment(topic: string): number[] {
    const held = new Set<number>();
    for (const event of this.rebalanceEvents()) {
      for (const [t, partition] of event.partitions) {
        if (t !== topic) continue;
        if (event.event === "assign") held.add(partition);
        else held.delete(partition);
      }
    }
    return [...held].sort((a, b) => a - b);
  }

  /** Every topic-partition held now, sorted. */
  assignedPairs(): TopicPartitionPair[] {
    const held = new Map<string, TopicPartitionPair>();
    for (const event of this.rebalanceEvents()) {
      for (const pair of event.partitions) {
        if (event.event === "assign") held.set(pair.join("/"), pair);
        else held.delete(pair.join("/"));
      }
    }
    return [...held.values()].sort(([t1, p1], [t2, p2]) => (t1 < t2 ? -1 : t1 > t2 ? 1 : p1 - p2));
  }

  memberId(): string | null {
    const ids = this.rebalanceEvents().flatMap((e) => (e.memberId ? [e.memberId] : []));
    return ids.at(-1) ?? null;
  }

  /** The offsets of the last commit it reported, by "topic/partition". */
  lastCommitted(): Map<string, number> {
    const offsets = new Map<string, number>();
    for (const event of this.events)
      if (event.event === "committed") for (const [topic, partition, offset] of event.offsets) offsets.set(`${topic}/${partition}`, offset);
    return offsets;
  }

  received(record: { partition: number; offset: number }, topic?: string): boolean {
    return this.records(topic).some((r) => r.partition === record.partition && r.offset === record.offset);
  }

  describe(): string {
    const stderr = this.stderr.slice(process.env.GROUP_TESTS_CLIENT_DEBUG ? -200_000 : -2000);
    return `${this.name} (exit ${JSON.stringify(this.exit)}): rebalances ${JSON.stringify(this.rebalanceEvents())}, errors ${JSON.stringify(this.errors())}, stderr: ${stderr}`;
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Asks it to close() (a LeaveGroup unless static) and waits for a clean exit. */
  async stop(): Promise<void> {
    if (!this.exit) this.child.stdin!.end(`${JSON.stringify({ cmd: "stop" })}\n`);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    const { code } = await this.exited;
    clearTimeout(timer);
    if (code !== 0 || this.events.at(-1)?.event !== "closed") throw new Error(`member did not close cleanly: ${this.describe()}`);
  }

  /** SIGKILL: no LeaveGroup, no last commit. */
  async kill(): Promise<void> {
    if (!this.exit) this.child.kill("SIGKILL");
    await this.exited;
  }
}

/** A consumer group as Admin clients describe it (groups.py describe, sluice.kafka.GroupDescribe). */
export interface GroupDescription {
  error?: string;
  /** STABLE, EMPTY, PREPARING_REBALANCE, ... */
  state: string;
  /** CLASSIC or CONSUMER */
  type: string;
  assignor: string;
  simple: boolean;
  groupEpoch?: number | null;
  targetAssignmentEpoch?: number | null;
  members: { memberId: string; clientId: string; groupInstanceId: string | null; assignment: TopicPartitionPair[] }[];
}

/**
 * Waits until the live members hold disjoint shares covering every partition of `topic`, and the
 * broker's description of the group agrees: `state`, the same members, each with what it holds.
 */
export async function waitForAssignment(
  describe: (group: string) => Promise<GroupDescription>,
  group: string,
  topic: string,
  partitions: number,
  live: MemberProcess[],
  state = "STABLE",
): Promise<GroupDescription> {
  let last: GroupDescription | undefined;
  return waitFor(`${live.map((m) => m.name).join(", ")} to share ${topic}`, async () => {
    const held = live.flatMap((m) => m.assignment(topic));
    if (held.length !== partitions || new Set(held).size !== partitions) return false;
    const description = await describe(group);
    last = description;
    if (description.state !== state || description.members.length !== live.length) return false;
    for (const member of live) {
      const fromBroker = description.members.find((m) => m.memberId === member.memberId());
      if (!fromBroker) return false;
      const partitionsFromBroker = fromBroker.assignment.filter(([t]) => t === topic).map(([, p]) => p);
      if (partitionsFromBroker.join() !== member.assignment(topic).join()) return false;
    }
    return description;
  }).catch((error: Error) => {
    throw new Error(`${error.message}\nthe broker's last description: ${JSON.stringify(last)}\n${live.map((m) => m.describe()).join("\n")}`);
  });
}

/** Waits until each record was received by the member that holds its partition now. */
export async function waitForRecords(records: ProducedRecord[], topic: string, live: MemberProcess[]): Promise<void> {
  const owner = (partition: number) => live.find((m) => m.assignment(topic).includes(partition));
  await waitFor(`${records.length} records of ${topic} on ${live.map((m) => m.name).join(", ")}`, () =>
    records.every((r) => owner(r.partition)?.received(r, topic)),
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${live.map((m) => m.describe()).join("\n")}`);
  });
}

/** What the members received of `topic`, as {partition, offset, value}, sorted by position (duplicates kept). */
export function receivedBy(members: MemberProcess[], topic: string): ProducedRecord[] {
  return members.flatMap((m) => m.records(topic).map(({ partition, offset, value }) => ({ partition, offset, value: value ?? "" }))).sort(byPosition);
}
