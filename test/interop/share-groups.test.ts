// Share groups (KIP-932, queues) with Kafka 4.4.0's own KafkaShareConsumer (test/kafka's
// sluice.kafka.ShareConsume, one JVM per member) against the broker $GROUP_TESTS_BROKER picks
// (Sluice by default):
//
// - implicit acknowledgement: one member reads every record of three partitions exactly once;
// - two members share one partition (records are handed out to both, none twice), explicit ACCEPT;
// - RELEASE: each record released on its first delivery comes back with delivery count 2;
// - a member that halts holding records (no acknowledgement, no close): after the acquisition lock
//   (group.share.record.lock.duration.ms, 2 s here) another member gets them, delivery count 2;
// - the share-partition state survives a broker restart: what was accepted is not delivered again;
// - share.isolation.level=read_committed (a group config): records of aborted transactions are
//   never delivered, committed ones are, with the Java transactional producer writing both;
// - the delivery count limit: a record released every time is delivered exactly
//   share.delivery.count.limit times, then archived.
//
// Share groups start at the latest offset (share.auto.offset.reset), so each test first lets a
// member start and waits until the group's share partitions are initialized — ShareGroupDescribe
// shows the member with its assignment and a probe record produced then reaches it.
//
//   npx vitest run test/interop/share-groups.test.ts

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { GroupTestClient, MemberProcess, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { kafkaClasspath, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";

interface ShareRecord {
  event: "record";
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  deliveryCount: number;
}

const recordsOf = (member: MemberProcess) =>
  (member.events as unknown as { event: string }[]).filter((e): e is ShareRecord => e.event === "record" && !(e as ShareRecord).value.startsWith("probe"));
const ackErrors = (member: MemberProcess) => (member.events as unknown as { event: string; error?: string }[]).filter((e) => e.event === "ack-error");
const done = (member: MemberProcess) => (member.events as unknown as { event: string }[]).some((e) => e.event === "done");

describe(`share groups (KIP-932) with KafkaShareConsumer against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  const members: MemberProcess[] = [];
  showBrokerOutputOnFailure(() => broker);

  beforeAll(async () => {
    await kafkaClasspath();
    broker = await startBroker({
      properties: {
        "group.share.min.record.lock.duration.ms": 1000,
        "group.share.record.lock.duration.ms": 2000,
        // Share groups assign a partition once its state is initialized, at a later heartbeat: 1 s, not 5 s.
        "group.share.min.heartbeat.interval.ms": 1000,
        "group.share.heartbeat.interval.ms": 1000,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
      },
    });
    client = await GroupTestClient.connect(broker.bootstrap);
  }, 180_000);

  afterAll(async () => {
    for (const member of members) await member.kill().catch(() => {});
    await client?.close();
    await broker?.stop();
  });

  async function member(name: string, group: string, topic: string, mode: string, extra: string[] = []): Promise<MemberProcess> {
    const args = ["--bootstrap", broker.bootstrap, "--group", group, "--topic", topic, "--mode", mode, "--idle-ms", "4000", "--timeout-ms", "90000", ...extra];
    const process = new MemberProcess(name, await spawnJavaTool("sluice.kafka.ShareConsume", args, { quickStart: true, heap: "128m" }));
    members.push(process);
    return process;
  }

  /** Probes each partition until `live` members received a probe from every one (the share partitions are initialized). */
  async function warmUp(topic: string, partitions: number, live: MemberProcess[]): Promise<void> {
    let round = 0;
    await waitFor(
      `the share group's members to receive a probe record from each of ${partitions} partitions`,
      async () => {
        await client.produce(
          topic,
          Array.from({ length: partitions }, (_, partition) => ({ partition, value: `probe-${round}-${partition}` })),
        );
        round++;
        const seen = new Set<number>();
        for (const m of live) {
          for (const e of m.events as unknown as { event: string; value?: string; partition?: number }[]) {
            if (e.event === "record" && e.value?.startsWith("probe")) seen.add(e.partition as number);
          }
        }
        return seen.size === partitions;
      },
      60_000,
    );
  }

  it("implicit acknowledgement: every record of three partitions once", { timeout: 180_000 }, async () => {
    const topic = "share-implicit";
    await client.createTopic(topic, 3);
    const consumer = await member("implicit", "share-implicit-group", topic, "implicit");
    await warmUp(topic, 3, [consumer]);
    const produced = await client.produceNumbered(topic, "r", 300, 3);
    await waitFor("the member to finish", async () => done(consumer), 90_000);
    const received = recordsOf(consumer);
    expect(ackErrors(consumer)).toEqual([]);
    expect(received.map((r) => r.value).sort()).toEqual(produced.map((r) => r.value).sort());
    expect(received.every((r) => r.deliveryCount === 1)).toBe(true);
    // Offsets as produced.
    const byValue = new Map(produced.map((r) => [r.value, r]));
    for (const r of received)
      expect({ partition: r.partition, offset: r.offset }).toEqual({ partition: byValue.get(r.value)?.partition, offset: byValue.get(r.value)?.offset });
  });

  it("two members share one partition: every record to exactly one of them (explicit ACCEPT)", { timeout: 180_000 }, async () => {
    const topic = "share-two";
    await client.createTopic(topic, 1);
    const a = await member("a", "share-two-group", topic, "accept", ["--property", "max.poll.records=20"]);
    const b = await member("b", "share-two-group", topic, "accept", ["--property", "max.poll.records=20"]);
    await warmUp(topic, 1, [a, b]);
    const produced: { value: string }[] = [];
    // Produced in rounds, so both members are polling while records arrive.
    for (let round = 0; round < 10; round++) {
      produced.push(
        ...(await client.produce(
          topic,
          Array.from({ length: 50 }, (_, i) => ({ partition: 0, value: `t-${round}-${i}` })),
        )),
      );
      await new Promise((resume) => setTimeout(resume, 200));
    }
    await waitFor("both members to finish", async () => done(a) && done(b), 90_000);
    const all = [...recordsOf(a), ...recordsOf(b)];
    expect(ackErrors(a)).toEqual([]);
    expect(ackErrors(b)).toEqual([]);
    expect(all.map((r) => r.value).sort()).toEqual(produced.map((r) => r.value).sort());
    expect(recordsOf(a).length).toBeGreaterThan(0);
    expect(recordsOf(b).length).toBeGreaterThan(0);
  });

  it("RELEASE makes a record available again: delivered a second time with delivery count 2", { timeout: 180_000 }, async () => {
    const topic = "share-release";
    await client.createTopic(topic, 2);
    const consumer = await member("release", "share-release-group", topic, "release-first");
    await warmUp(topic, 2, [consumer]);
    const produced = await client.produceNumbered(topic, "x", 100, 2);
    await waitFor("the member to finish", async () => done(consumer), 90_000);
    const received = recordsOf(consumer);
    expect(ackErrors(consumer)).toEqual([]);
    for (const r of produced) {
      const deliveries = received.filter((x) => x.value === r.value).map((x) => x.deliveryCount);
      expect(deliveries, r.value).toEqual([1, 2]);
    }
  });

  it("records held by a halted member come back after the acquisition lock, to another member", { timeout: 180_000 }, async () => {
    const topic = "share-lock";
    const group = "share-lock-group";
    await client.createTopic(topic, 1);
    const holder = await member("holder", group, topic, "hold", ["--property", "max.poll.records=50"]);
    await warmUp(topic, 1, [holder]);
    const produced = await client.produceNumbered(topic, "h", 50, 1);
    await waitFor("the holder to take records and halt", async () => done(holder), 60_000);
    const held = recordsOf(holder);
    expect(held.length).toBeGreaterThan(0);
    const taker = await member("taker", group, topic, "accept");
    await waitFor("the taker to finish", async () => done(taker), 90_000);
    const taken = recordsOf(taker);
    expect(taken.map((r) => r.value).sort()).toEqual(produced.map((r) => r.value).sort());
    const heldValues = new Set(held.map((r) => r.value));
    for (const r of taken) expect(r.deliveryCount, r.value).toBe(heldValues.has(r.value) ? 2 : 1);
  });

  /** kafka-configs.sh --alter --entity-type groups for `group`. */
  async function groupConfig(group: string, configs: string): Promise<void> {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ConfigCommand",
      ["--bootstrap-server", broker.bootstrap, "--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", configs],
      { quickStart: true },
    );
    expect(run.code, run.stderr).toBe(0);
  }

  it("share.isolation.level=read_committed: aborted transactions are never delivered", { timeout: 180_000 }, async () => {
    const topic = "share-txn";
    const group = "share-txn-group";
    await client.createTopic(topic, 1);
    await groupConfig(group, "share.auto.offset.reset=earliest,share.isolation.level=read_committed");
    const commands = [
      { cmd: "producer", name: "p", properties: { "transactional.id": "share-txn-producer" } },
      { cmd: "init", name: "p" },
      ...[
        ["c1", "c2", "c3", true],
        ["a1", "a2", "a3", "a4", false],
        ["c4", "c5", true],
        ["a5", false],
        ["c6", true],
      ].flatMap((batch) => {
        const commit = batch.at(-1) as boolean;
        return [
          { cmd: "begin", name: "p" },
          { cmd: "send", name: "p", topic, partition: 0, values: batch.slice(0, -1) },
          { cmd: commit ? "commit" : "abort", name: "p" },
        ];
      }),
      { cmd: "close", name: "p" },
    ];
    const produced = await runJavaTool("sluice.kafka.TxnClient", ["--bootstrap", broker.bootstrap], {
      quickStart: true,
      input: `${commands.map((c) => JSON.stringify(c)).join("\n")}\n`,
    });
    expect(produced.stdout.split("\n").filter((line) => line.includes('"ok":false'))).toEqual([]);
    const consumer = await member("txn", group, topic, "accept");
    await waitFor("the member to finish", async () => done(consumer), 90_000);
    expect(recordsOf(consumer).map((r) => r.value)).toEqual(["c1", "c2", "c3", "c4", "c5", "c6"]);
    expect(ackErrors(consumer)).toEqual([]);
  });

  it("the delivery count limit: a record released every time is delivered share.delivery.count.limit times", { timeout: 180_000 }, async () => {
    const topic = "share-limit";
    const group = "share-limit-group";
    await client.createTopic(topic, 1);
    await groupConfig(group, "share.auto.offset.reset=earliest,share.delivery.count.limit=3");
    await client.produce(topic, [
      { partition: 0, value: "l1" },
      { partition: 0, value: "l2" },
    ]);
    const consumer = await member("limit", group, topic, "release");
    await waitFor("the member to finish", async () => done(consumer), 90_000);
    const deliveries = (value: string) =>
      recordsOf(consumer)
        .filter((r) => r.value === value)
        .map((r) => r.deliveryCount);
    expect(deliveries("l1")).toEqual([1, 2, 3]);
    expect(deliveries("l2")).toEqual([1, 2, 3]);
  });

  it("the share-partition state survives a broker restart: accepted records are not delivered again", { timeout: 240_000 }, async () => {
    const topic = "share-restart";
    const group = "share-restart-group";
    await client.createTopic(topic, 2);
    const before = await member("before", group, topic, "accept");
    await warmUp(topic, 2, [before]);
    const firstHalf = await client.produceNumbered(topic, "a", 60, 2);
    await waitFor("the member to finish", async () => done(before), 90_000);
    expect(
      recordsOf(before)
        .map((r) => r.value)
        .sort(),
    ).toEqual(firstHalf.map((r) => r.value).sort());
    await client.close();
    await broker.stop();
    await broker.restart();
    client = await GroupTestClient.connect(broker.bootstrap);
    await client.waitForTopic(topic, 2);
    const secondHalf = await client.produceNumbered(topic, "b", 60, 2);
    const after = await member("after", group, topic, "accept");
    await waitFor("the member to finish", async () => done(after), 90_000);
    expect(
      recordsOf(after)
        .map((r) => r.value)
        .sort(),
    ).toEqual(secondHalf.map((r) => r.value).sort());
  });
});
