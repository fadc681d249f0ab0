// Kafka 4.4.0's Java KafkaConsumer and Kafka's own consumer tools in consumer groups, against the
// broker $GROUP_TESTS_BROKER picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache
// Kafka 4.4.0, which these tests are checked against):
//
// - group.protocol=classic and group.protocol=consumer (KIP-848), subscribed by topic list: two
//   members share the partitions, one leaves, every record consumed exactly once;
// - subscribed by pattern: java.util.regex (the client matches topic names) under both protocols,
//   and KIP-848's broker-side RE2/J SubscriptionPattern; a matching topic created later joins the
//   assignment, a topic that does not match is never read;
// - kafka-console-consumer.sh --group --max-messages (successive runs resume), ConsumerPerformance
//   --group, EndToEndLatency (commits of a group with no members: a "simple" group),
//   VerifiableConsumer under both protocols, all run to completion and checked by what they print;
// - a three-member group survives a member's SIGKILL: after the session timeout the others take its
//   partitions; no record is lost, and the only records read twice are the ones the dead member had
//   read but not committed (every record's value is a unique sequence number);
// - a broker restart, clean (SIGTERM) and a crash (SIGKILL), keeps the committed offsets: a member
//   that stays up across it carries on from them, reading nothing twice.
//
// Members are test/kafka's sluice.kafka.GroupConsume processes (one JVM each), described with
// sluice.kafka.GroupDescribe (Admin.describeConsumerGroups); records are produced and committed
// offsets read with kafkajs (test/helpers/groups.ts).
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/groups-java.test.ts
import type { ChildProcess } from "node:child_process";
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
import { kafkaClasspath, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";

const consoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const consumerPerformance = "org.apache.kafka.tools.ConsumerPerformance";
const endToEndLatency = "org.apache.kafka.tools.EndToEndLatency";
const verifiableConsumer = "org.apache.kafka.tools.VerifiableConsumer";

type Protocol = "classic" | "consumer";

/** Consumer properties per protocol: the classic one takes a session timeout from the client, KIP-848 from the broker. */
function protocolProperties(protocol: Protocol): Record<string, string | number> {
  return protocol === "classic" ? { "group.protocol": "classic", "session.timeout.ms": 6_000, "heartbeat.interval.ms": 500 } : { "group.protocol": "consumer" };
}

describe(`Java consumers and Kafka's consumer tools in groups against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  const members: MemberProcess[] = [];

  beforeAll(async () => {
    await kafkaClasspath(); // builds test/kafka first if its sources changed
    broker = await startBroker({
      // KIP-848 members heartbeat at the broker's interval (5 s by default); moving a partition
      // takes a few heartbeats, so shorter ones keep the test short. Both brokers get it.
      properties: { "group.consumer.heartbeat.interval.ms": 1_000, "group.consumer.min.heartbeat.interval.ms": 1_000 },
    });
    client = await GroupTestClient.connect(broker.bootstrap);
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    describer?.stdin?.end();
    describer?.kill();
    for (const member of members) await member.kill();
    await client?.close();
    await broker?.close();
  });

  async function startMember(
    name: string,
    options: {
      group: string;
      topics?: string[];
      pattern?: string;
      subscriptionPattern?: string;
      commit?: "sync" | "manual";
      properties?: Record<string, string | number>;
    },
  ): Promise<MemberProcess> {
    const args = ["--bootstrap", broker.bootstrap, "--group", options.group, "--commit", options.commit ?? "sync"];
    if (options.topics) args.push("--topics", options.topics.join(","));
    if (options.pattern) args.push("--pattern", options.pattern);
    if (options.subscriptionPattern) args.push("--subscription-pattern", options.subscriptionPattern);
    for (const [key, value] of Object.entries({ "client.id": name, ...options.properties })) args.push("--property", `${key}=${value}`);
    const member = new MemberProcess(name, await spawnJavaTool("sluice.kafka.GroupConsume", args, { quickStart: true, heap: "128m" }));
    members.push(member);
    return member;
  }

  /** Describes groups through one long-running sluice.kafka.GroupDescribe --stdin (one Admin client), a line per request. */
  let describer: ChildProcess | undefined;
  let describerOutput = "";
  const describerWaiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let describeChain: Promise<unknown> = Promise.resolve();
  async function describeGroups(groups: string[]): Promise<Record<string, GroupDescription>> {
    if (!describer) {
      describer = await spawnJavaTool("sluice.kafka.GroupDescribe", ["--bootstrap", broker.bootstrap, "--stdin"], {
        quickStart: true,
        heap: "128m",
        logLevel: "ERROR",
      });
      describer.stdin!.on("error", () => {});
      describer.stdout!.on("data", (chunk: Buffer) => {
        describerOutput += chunk.toString("utf8");
        for (let end = describerOutput.indexOf("\n"); end >= 0; end = describerOutput.indexOf("\n")) {
          const line = describerOutput.slice(0, end);
          describerOutput = describerOutput.slice(end + 1);
          if (line.startsWith("{")) describerWaiting.shift()?.resolve(line);
        }
      });
      describer.on("close", (code) => {
        describer = undefined;
        for (const waiting of describerWaiting.splice(0)) waiting.reject(new Error(`sluice.kafka.GroupDescribe exited (${code})`));
      });
    }
    const answer = describeChain.then(
      () =>
        new Promise<string>((resolve, reject) => {
          if (!describer) return reject(new Error("sluice.kafka.GroupDescribe is not running"));
          describerWaiting.push({ resolve, reject });
          describer.stdin!.write(`${groups.join(",")}\n`);
        }),
    );
    describeChain = answer.catch(() => {});
    return JSON.parse(await answer);
  }
  const describeGroup = async (group: string) => (await describeGroups([group]))[group];
  const waitForAssignment = (group: string, topic: string, partitions: number, live: MemberProcess[], state?: string) =>
    waitForAssignmentOf(describeGroup, group, topic, partitions, live, state);

  /** Runs one of Kafka's tools to completion; fails on a non-zero exit. */
  async function tool(mainClass: string, args: string[]): Promise<string> {
    const run = await runJavaTool(mainClass, args, { quickStart: true, heap: "256m", logLevel: "ERROR", timeoutMs: 90_000 });
    if (run.code !== 0) throw new Error(`${mainClass} ${args.join(" ")} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
  }

  describe.each(["classic", "consumer"] as const)("group.protocol=%s, subscribed by topic list", (protocol) => {
    it("two members share the partitions, one leaves, every record is consumed exactly once", async () => {
      const topic = `j-list-${protocol}`;
      const group = `${topic}-group`;
      const partitions = 4;
      await client.createTopic(topic, partitions);
      const properties = protocolProperties(protocol);
      const produced: ProducedRecord[] = [];

      const one = await startMember(`${protocol}-one`, { group, topics: [topic], properties });
      await waitForAssignment(group, topic, partitions, [one]);
      const two = await startMember(`${protocol}-two`, { group, topics: [topic], properties });
      const both = await waitForAssignment(group, topic, partitions, [one, two]);
      // Java's default assignors are [range, cooperative-sticky] under classic; KIP-848's broker default is uniform.
      expect(both).toMatchObject({ type: protocol.toUpperCase(), assignor: protocol === "classic" ? "range" : "uniform", simple: false });
      expect(both.members.map((m) => m.clientId).sort()).toEqual([`${protocol}-one`, `${protocol}-two`]);
      expect([one.assignment(topic).length, two.assignment(topic).length]).toEqual([2, 2]);
      if (protocol === "consumer") {
        expect(both.groupEpoch).toBeGreaterThanOrEqual(2);
        expect(both.targetAssignmentEpoch).toBe(both.groupEpoch);
      } else {
        expect(both.groupEpoch).toBeNull();
      }

      const first = await client.produceNumbered(topic, `${protocol}-a`, 40, partitions);
      produced.push(...first);
      await waitForRecords(first, topic, [one, two]);
      await client.waitForCommitsAtEnd(group, topic);

      await two.stop();
      await waitForAssignment(group, topic, partitions, [one]);
      const second = await client.produceNumbered(topic, `${protocol}-b`, 40, partitions);
      produced.push(...second);
      await waitForRecords(second, topic, [one]);
      await client.waitForCommitsAtEnd(group, topic);
      await one.stop();

      expect(receivedBy([one, two], topic)).toEqual([...produced].sort(byPosition));
      expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 20]));
      expect([...one.errors(), ...two.errors()]).toEqual([]);
      expect(await describeGroup(group)).toMatchObject({ state: "EMPTY", type: protocol.toUpperCase(), members: [] });
    });
  });

  describe.each([
    { protocol: "classic", kind: "pattern" },
    { protocol: "consumer", kind: "pattern" },
    { protocol: "consumer", kind: "subscriptionPattern" },
  ] as const)("group.protocol=$protocol, subscribed by $kind", ({ protocol, kind }) => {
    it("reads the matching topics, including one created after it subscribed, and never a topic that does not match", async () => {
      const prefix = `jre-${protocol}-${kind}`.toLowerCase();
      const group = `${prefix}-group`;
      const [a, b, other] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-x`];
      await client.createTopic(a, 2);
      await client.createTopic(other, 1);
      const regex = `${prefix}-[ab]`;
      // java.util.regex is matched by the client against its metadata, refreshed every metadata.max.age.ms.
      const properties = { ...protocolProperties(protocol), "metadata.max.age.ms": 1_000 };
      const member = await startMember(`${prefix}-member`, {
        group,
        ...(kind === "pattern" ? { pattern: regex } : { subscriptionPattern: regex }),
        properties,
      });
      await waitForAssignment(group, a, 2, [member]);
      const onA = await client.produceNumbered(a, "on-a", 10, 2);
      await client.produceNumbered(other, "on-x", 5, 1);
      await waitForRecords(onA, a, [member]);

      await client.createTopic(b, 3);
      const onB = await client.produceNumbered(b, "on-b", 9, 3);
      await waitForRecords(onB, b, [member]);
      await client.waitForCommitsAtEnd(group, a);
      await client.waitForCommitsAtEnd(group, b);
      const description = await describeGroup(group);
      expect(description.members.map((m) => m.assignment)).toEqual([
        [
          [a, 0],
          [a, 1],
          [b, 0],
          [b, 1],
          [b, 2],
        ],
      ]);
      await member.stop();

      expect(member.assignedPairs()).toEqual([]); // close() gave everything back
      expect(receivedBy([member], a)).toEqual([...onA].sort(byPosition));
      expect(receivedBy([member], b)).toEqual([...onB].sort(byPosition));
      expect(member.records(other)).toEqual([]);
      expect(await client.committed(group, other)).toEqual([[0, -1]]);
      expect(member.errors()).toEqual([]);
    });
  });

  describe("Kafka's consumer tools", () => {
    it("kafka-console-consumer.sh --group --max-messages: three runs read 30 records, each once, resuming from the group's commits", async () => {
      const topic = "j-console";
      const group = "j-console-group";
      await client.createTopic(topic, 3);
      const produced = await client.produceNumbered(topic, "console", 30, 3);
      const seen: { partition: number; offset: number; value: string }[] = [];
      for (let run = 0; run < 3; run++) {
        const stdout = await tool(consoleConsumer, [
          "--bootstrap-server",
          broker.bootstrap,
          "--topic",
          topic,
          "--group",
          group,
          "--from-beginning",
          "--max-messages",
          "10",
          "--timeout-ms",
          "30000",
          "--formatter-property",
          "print.partition=true",
          "--formatter-property",
          "print.offset=true",
        ]);
        const lines = stdout.split("\n").filter((line) => line !== "");
        expect(lines.length).toBe(10);
        for (const line of lines) {
          const match = /^Partition:(\d+)\tOffset:(\d+)\t(.*)$/.exec(line);
          expect(match, line).not.toBeNull();
          seen.push({ partition: Number(match![1]), offset: Number(match![2]), value: match![3] });
        }
      }
      expect(seen.sort(byPosition)).toEqual([...produced].sort(byPosition));
      expect(await client.committed(group, topic)).toEqual([
        [0, 10],
        [1, 10],
        [2, 10],
      ]);
    });

    it("ConsumerPerformance --group reads --num-records and commits them", async () => {
      const topic = "j-perf";
      const group = "j-perf-group";
      await client.createTopic(topic, 2);
      await client.produceNumbered(topic, "perf", 500, 2);
      const stdout = await tool(consumerPerformance, [
        "--bootstrap-server",
        broker.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--num-records",
        "500",
        "--timeout",
        "30000",
      ]);
      const [header, row] = stdout.split("\n").filter((line) => line !== "");
      expect(header).toBe(
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec",
      );
      const fields = row.split(", ");
      expect(fields.length).toBe(10);
      expect(Number(fields[4])).toBe(500);
      // The consumer commits on close (auto-commit): the group is at the end of both partitions.
      await client.waitForCommitsAtEnd(group, topic);
      expect(await client.committed(group, topic)).toEqual([
        [0, 250],
        [1, 250],
      ]);
      expect(await describeGroup(group)).toMatchObject({ state: "EMPTY", type: "CLASSIC", simple: false, members: [] });
    });

    it("EndToEndLatency: every record makes the round trip; its commits make a group with no members (simple)", async () => {
      const topic = "j-e2e";
      await client.createTopic(topic, 1);
      const stdout = await tool(endToEndLatency, [
        "--bootstrap-server",
        broker.bootstrap,
        "--topic",
        topic,
        "--num-records",
        "50",
        "--producer-acks",
        "all",
        "--record-size",
        "100",
      ]);
      expect(stdout).toMatch(/^Avg latency: \d+\.\d{4} ms$/m);
      expect(stdout).toMatch(/^Percentiles: 50th = \d+, 99th = \d+, 99\.9th = \d+$/m);
      expect(await client.endOffsets(topic)).toEqual([[0, 50]]);
      // Its consumer uses assign() with group.id test-group-<time> and commitSync() after each record.
      const { groups } = await client.admin.listGroups();
      const e2eGroups = groups.filter((g) => g.groupId.startsWith("test-group-"));
      expect(e2eGroups.length).toBe(1);
      expect(e2eGroups[0].protocolType).toBe("");
      expect(await client.committed(e2eGroups[0].groupId, topic)).toEqual([[0, 50]]);
      expect(await describeGroup(e2eGroups[0].groupId)).toMatchObject({ state: "EMPTY", type: "CLASSIC", simple: true, members: [] });
    });

    it.each(["classic", "consumer"] as const)(
      "VerifiableConsumer --group-protocol %s: records, assignment and commits as it reports them",
      async (protocol) => {
        const topic = `j-verifiable-${protocol}`;
        const group = `${topic}-group`;
        await client.createTopic(topic, 3);
        const produced = await client.produceNumbered(topic, `verifiable-${protocol}`, 60, 3);
        const args = [
          "--bootstrap-server",
          broker.bootstrap,
          "--topic",
          topic,
          "--group-id",
          group,
          "--group-protocol",
          protocol,
          "--max-messages",
          "60",
          "--verbose",
        ];
        if (protocol === "classic") args.push("--session-timeout", "6000");
        const events = (await tool(verifiableConsumer, args))
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as { name: string } & Record<string, unknown>);
        const names = events.map((e) => e.name);
        expect(names[0]).toBe("startup_complete");
        expect(names).toContain("shutdown_complete");
        const assigned = events.filter((e) => e.name === "partitions_assigned").flatMap((e) => e.partitions as { topic: string; partition: number }[]);
        expect(assigned.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
        const records = events
          .filter((e) => e.name === "record_data")
          .map((e) => ({ partition: e.partition as number, offset: e.offset as number, value: e.value as string }));
        expect(records.sort(byPosition)).toEqual([...produced].sort(byPosition));
        const commits = events.filter((e) => e.name === "offsets_committed") as unknown as {
          success: boolean;
          offsets: { topic: string; partition: number; offset: number }[];
        }[];
        expect(commits.length).toBeGreaterThan(0);
        expect(commits.every((c) => c.success)).toBe(true);
        const last = new Map<number, number>();
        for (const commit of commits) for (const { partition, offset } of commit.offsets) last.set(partition, offset);
        expect([...last].sort(([x], [y]) => x - y)).toEqual([
          [0, 20],
          [1, 20],
          [2, 20],
        ]);
        expect(await client.committed(group, topic)).toEqual([
          [0, 20],
          [1, 20],
          [2, 20],
        ]);
        expect(await describeGroup(group)).toMatchObject({ state: "EMPTY", type: protocol.toUpperCase(), members: [] });
      },
    );
  });

  it("a three-member group survives a member's SIGKILL: no record lost, only its uncommitted records read again", async () => {
    const topic = "j-kill";
    const group = "j-kill-group";
    const partitions = 6;
    await client.createTopic(topic, partitions);
    const properties = protocolProperties("classic");
    let sequence = 0;
    const produce = () =>
      client.produce(
        topic,
        range(60).map((i) => ({ partition: i % partitions, value: `seq-${sequence++}` })),
      );

    // Manual commits: the test says when each member commits, so what is uncommitted at the kill is known.
    const [one, two, victim] = await Promise.all(
      ["kill-one", "kill-two", "kill-victim"].map((name) => startMember(name, { group, topics: [topic], commit: "manual", properties })),
    );
    await waitForAssignment(group, topic, partitions, [one, two, victim]);
    const commit = async (who: MemberProcess[]) => {
      const before = who.map((m) => m.events.filter((e) => e.event === "committed").length);
      for (const member of who) member.send({ cmd: "commit" });
      await waitFor("the commits", () => who.every((m, i) => m.events.filter((e) => e.event === "committed").length > before[i]));
    };

    const first = await produce();
    await waitForRecords(first, topic, [one, two, victim]);
    await commit([one, two, victim]);
    await client.waitForCommitsAtEnd(group, topic);

    const second = await produce();
    await waitForRecords(second, topic, [one, two, victim]);
    await commit([one, two]);
    const victimPartitions = victim.assignment(topic);
    expect(victimPartitions.length).toBe(2);
    // The survivors' partitions are committed to the end (20); the victim's only to the first round's end (10).
    await waitFor("the survivors' commits", async () =>
      (await client.committed(group, topic)).every(([p, offset]) => offset === (victimPartitions.includes(p) ? 10 : 20)),
    );

    await victim.kill(); // no LeaveGroup: the group notices after session.timeout.ms
    await waitForAssignment(group, topic, partitions, [one, two]);
    const reread = second.filter((r) => victimPartitions.includes(r.partition));
    await waitForRecords(reread, topic, [one, two]);
    const third = await produce();
    await waitForRecords(third, topic, [one, two]);
    await commit([one, two]);
    await client.waitForCommitsAtEnd(group, topic);
    await one.stop();
    await two.stop();

    const all = [...first, ...second, ...third];
    const received = receivedBy([one, two, victim], topic);
    // Nothing lost: every sequence number arrived.
    expect([...new Set(received.map((r) => r.value))].sort()).toEqual(all.map((r) => r.value).sort());
    // Read twice: exactly the victim's second-round records (read, not committed, then killed), once by it and once by a survivor.
    const counts = new Map<string, number>();
    for (const r of received) counts.set(r.value, (counts.get(r.value) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice.every(([, n]) => n === 2)).toBe(true);
    expect(twice.map(([value]) => value).sort()).toEqual(reread.map((r) => r.value).sort());
    expect(receivedBy([victim], topic).filter((r) => r.offset >= 10)).toEqual([...reread].sort(byPosition));
    expect(receivedBy([one, two], topic).filter((r) => victimPartitions.includes(r.partition) && r.offset < 20)).toEqual([...reread].sort(byPosition));
    // Values match positions: each (partition, offset) always carried the same sequence number.
    expect(new Set(received.map((r) => `${r.partition}/${r.offset}/${r.value}`)).size).toBe(all.length);
    expect(await client.committed(group, topic)).toEqual(range(partitions).map((p) => [p, 30]));
    expect([...one.errors(), ...two.errors()]).toEqual([]);
  });

  describe.each(["stop", "kill"] as const)("a broker restart after %s", (how) => {
    it("keeps the committed offsets; a member that stays up carries on from them, reading nothing twice", async () => {
      const topic = `j-restart-${how}`;
      const group = `${topic}-group`;
      await client.createTopic(topic, 3);
      const member = await startMember(`restart-${how}`, { group, topics: [topic], properties: protocolProperties("classic") });
      await waitForAssignment(group, topic, 3, [member]);
      const before = await client.produceNumbered(topic, `before-${how}`, 30, 3);
      await waitForRecords(before, topic, [member]);
      await client.waitForCommitsAtEnd(group, topic);

      if (how === "stop") await broker.stop();
      else await broker.kill();
      await broker.restart();

      // While the broker loads, OffsetFetch may answer COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR.
      await client.waitForTopic(topic, 3);
      const committedAfterRestart = await waitFor("OffsetFetch after the restart", () => client.committed(group, topic));
      expect(committedAfterRestart).toEqual([
        [0, 10],
        [1, 10],
        [2, 10],
      ]);
      const after = await client.produceNumbered(topic, `after-${how}`, 30, 3);
      await waitForRecords(after, topic, [member]);
      await client.waitForCommitsAtEnd(group, topic);
      await member.stop();
      expect(receivedBy([member], topic)).toEqual([...before, ...after].sort(byPosition));
      expect(await client.committed(group, topic)).toEqual([
        [0, 20],
        [1, 20],
        [2, 20],
      ]);
    });
  });
});
