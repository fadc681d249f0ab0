// kafka-share-groups.sh (Kafka 4.4.0's ShareGroupCommand) against Sluice and against Apache Kafka
// 4.4.0 itself, the same scenario on both: a share group reads part of a topic with Kafka's
// KafkaShareConsumer, then every --list / --describe (offsets, members, state, verbose) /
// --reset-offsets (dry run and --execute, to earliest, latest and an offset) / --delete-offsets /
// --delete command prints the same output on both brokers (ports aside). The raw
// DescribeShareGroupOffsets / AlterShareGroupOffsets / DeleteShareGroupOffsets answers for unknown
// topics, partitions and groups, and NON_EMPTY_GROUP for a group with a member, are compared too.
//
//   npx vitest run test/interop/share-groups-command.test.ts

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { MemberProcess, waitFor } from "../helpers/groups.js";
import { type KafkaBroker, runJavaTool, spawnJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

const shareGroupCommand = "org.apache.kafka.tools.consumer.group.ShareGroupCommand";
const configCommand = "org.apache.kafka.tools.ConfigCommand";

const properties = {
  "group.share.min.record.lock.duration.ms": 1000,
  "group.share.record.lock.duration.ms": 15000,
  // Share groups assign a partition once its state is initialized, at a later heartbeat: 1 s, not 5 s.
  "group.share.min.heartbeat.interval.ms": 1000,
  "group.share.heartbeat.interval.ms": 1000,
  "offsets.topic.replication.factor": 1,
  "share.coordinator.state.topic.replication.factor": 1,
  "share.coordinator.state.topic.min.isr": 1,
};

interface Broker {
  readonly name: string;
  readonly bootstrap: string;
  readonly port: number;
}

describe("kafka-share-groups.sh against Sluice and Kafka 4.4.0", () => {
  let sluice: SluiceBroker;
  let kafka: KafkaBroker;
  let tools: ToolSession;
  let brokers: Broker[];

  beforeAll(async () => {
    [sluice, kafka, tools] = await Promise.all([startSluice({ overrides: properties }), startKafka({ properties }), ToolSession.start()]);
    brokers = [
      { name: "Sluice", bootstrap: sluice.bootstrap, port: sluice.port },
      { name: "Kafka", bootstrap: kafka.bootstrap, port: kafka.port },
    ];
  }, 120_000);

  afterAll(async () => {
    await tools?.close();
    await kafka?.stop();
    if (sluice) {
      const code = await sluice.stop();
      await rm(sluice.workDir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  }, 120_000);

  const normalized = (broker: Broker, text: string) => text.replaceAll(`:${broker.port}`, ":PORT");

  async function setUp(broker: Broker, topic: string, group: string): Promise<void> {
    const client = await TestClient.connect(broker.port);
    try {
      const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
        topics: [{ name: topic, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      expect(created.topics[0]?.errorCode).toBe(0);
    } finally {
      client.close();
    }
    await setGroupConfigs(broker, group, "share.auto.offset.reset=earliest");
    await produce(broker, topic, 10);
    const member = new MemberProcess(
      `${broker.name}-member`,
      await spawnJavaTool(
        "sluice.kafka.ShareConsume",
        ["--bootstrap", broker.bootstrap, "--group", group, "--topic", topic, "--mode", "accept", "--max", "10", "--timeout-ms", "60000"],
        {
          quickStart: true,
          heap: "128m",
        },
      ),
    );
    await waitFor(
      `the member on ${broker.name} to read 10 records`,
      () => (member.events as unknown as { event: string }[]).some((e) => e.event === "done"),
      90_000,
    );
    await member.kill();
    await produce(broker, topic, 10);
  }

  /** kafka-configs.sh --alter --entity-type groups --add-config `configs` on `broker`. */
  async function setGroupConfigs(broker: Broker, group: string, configs: string): Promise<void> {
    const set = await tools.run(configCommand, [
      "--bootstrap-server",
      broker.bootstrap,
      "--alter",
      "--entity-type",
      "groups",
      "--entity-name",
      group,
      "--add-config",
      configs,
    ]);
    expect(set.code, set.stderr).toBe(0);
  }

  async function produce(broker: Broker, topic: string, count: number): Promise<void> {
    const input = Array.from({ length: count }, (_, i) => JSON.stringify({ value: `v${i}`, partition: i % 2 })).join("\n");
    const produced = await runJavaTool("sluice.kafka.Produce", ["--bootstrap", broker.bootstrap, "--topic", topic], { quickStart: true, input });
    expect(produced.code, produced.stderr).toBe(0);
  }

  it("prints what it prints against Kafka", { timeout: 300_000 }, async () => {
    const topic = "orders";
    const group = "sg";
    await Promise.all(brokers.map((broker) => setUp(broker, topic, group)));
    // Sluice's admin API (the web console) shows the share group too.
    const base = await sluice.httpUrl();
    const described = (await (await fetch(`${base}/api/groups/${group}`)).json()) as { type: string; state: string; members: unknown[]; protocolType: string };
    expect(described).toMatchObject({ type: "share", state: "Empty", members: [], protocolType: "share" });
    const commands: string[][] = [
      ["--list"],
      ["--list", "--state"],
      ["--list", "--state", "Empty"],
      ["--describe", "--group", group],
      ["--describe", "--group", group, "--offsets", "--verbose"],
      ["--describe", "--group", group, "--state"],
      ["--describe", "--group", group, "--state", "--verbose"],
      ["--describe", "--group", group, "--members"],
      ["--describe", "--group", "missing"],
      ["--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--dry-run"],
      ["--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"],
      ["--describe", "--group", group],
      ["--reset-offsets", "--group", group, "--topic", `${topic}:1`, "--to-offset", "3", "--execute"],
      ["--describe", "--group", group, "--offsets", "--verbose"],
      ["--reset-offsets", "--group", group, "--topic", topic, "--to-latest", "--execute"],
      ["--describe", "--group", group],
      ["--delete-offsets", "--group", group, "--topic", topic],
      ["--describe", "--group", group],
      ["--delete", "--group", group],
      ["--list"],
    ];
    for (const command of commands) {
      const [ours, theirs] = [
        await tools.run(shareGroupCommand, ["--bootstrap-server", brokers[0]!.bootstrap, ...command]),
        await tools.run(shareGroupCommand, ["--bootstrap-server", brokers[1]!.bootstrap, ...command]),
      ];
      const what = `kafka-share-groups.sh ${command.join(" ")}\nSluice:\n${ours.stdout}${ours.stderr}\nKafka:\n${theirs.stdout}${theirs.stderr}`;
      expect(ours.code, what).toBe(theirs.code);
      expect(normalized(brokers[0]!, ours.stdout), what).toEqual(normalized(brokers[1]!, theirs.stdout));
    }
  });

  it("the dead-letter queue (KIP-1191): rejected records and records past the delivery count limit, with Kafka's headers", { timeout: 240_000 }, async () => {
    const written: unknown[][] = [[], []];
    // Both brokers at once (their JVM tools overlap on the two cores).
    await Promise.all(
      brokers.map(async (broker, index) => {
        const client = await TestClient.connect(broker.port);
        try {
          const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
            topics: [
              { name: "dlq-source", numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] },
              {
                name: "dlq.orders",
                numPartitions: 1,
                replicationFactor: 1,
                assignments: [],
                configs: [{ name: "errors.deadletterqueue.group.enable", value: "true" }],
              },
            ],
            timeoutMs: 10_000,
            validateOnly: false,
          });
          expect(created.topics.map((t) => t.errorCode)).toEqual([0, 0]);
        } finally {
          client.close();
        }
        const input = Array.from({ length: 4 }, (_, i) => JSON.stringify({ key: `k${i}`, value: `v${i}`, partition: i % 2, headers: [["h", "x"]] })).join("\n");
        const produced = await runJavaTool("sluice.kafka.Produce", ["--bootstrap", broker.bootstrap, "--topic", "dlq-source"], { quickStart: true, input });
        expect(produced.code, produced.stderr).toBe(0);
        // Group "rejects": every record rejected, no copy. Group "releases": released until the limit (2), copied.
        for (const [group, mode, copy] of [
          ["rejects", "reject", "false"],
          ["releases", "release", "true"],
        ] as const) {
          await setGroupConfigs(
            broker,
            group,
            `share.auto.offset.reset=earliest,share.delivery.count.limit=2,errors.deadletterqueue.topic.name=dlq.orders,errors.deadletterqueue.copy.record.enable=${copy}`,
          );
          const consumed = await runJavaTool(
            "sluice.kafka.ShareConsume",
            [
              "--bootstrap",
              broker.bootstrap,
              "--group",
              group,
              "--topic",
              "dlq-source",
              "--mode",
              mode,
              "--idle-ms",
              "4000",
              "--property",
              "max.poll.records=1",
            ],
            { quickStart: true, heap: "128m", timeoutMs: 90_000 },
          );
          expect(consumed.code, consumed.stderr).toBe(0);
        }
        await waitFor(
          `8 dead letters on ${broker.name}`,
          async () => {
            const read = await runJavaTool("sluice.kafka.Consume", ["--bootstrap", broker.bootstrap, "--topic", "dlq.orders"], { quickStart: true });
            const lines = read.stdout
              .split("\n")
              .filter((line) => line.startsWith('{"partition"'))
              .map((line) => JSON.parse(line) as { key: string | null; value: string | null; headers: [string, string][] });
            written[index] = lines
              .map((r) => ({ key: r.key, value: r.value, headers: r.headers }))
              .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
            return lines.length === 8;
          },
          60_000,
        );
      }),
    );
    expect(written[0]).toEqual(written[1]);
    expect(written[0]).toContainEqual({
      key: null,
      value: null,
      headers: [
        ["__dlq.errors.topic", "dlq-source"],
        ["__dlq.errors.partition", "0"],
        ["__dlq.errors.offset", "0"],
        ["__dlq.errors.group", "rejects"],
        ["__dlq.errors.delivery.count", "1"],
        ["__dlq.errors.message", "Offset rejected by client."],
      ],
    });
  });

  it("the raw offset APIs answer as Kafka's: unknown topics, partitions and groups; NON_EMPTY_GROUP with a member", { timeout: 180_000 }, async () => {
    const topic = "raw-orders";
    const answers: unknown[][] = [[], []];
    // Both brokers at once (their JVM tools overlap on the two cores); each one's answers in order.
    await Promise.all(
      brokers.map(async (broker, index) => {
        await setUp(broker, topic, "raw");
        const client = await TestClient.connect(broker.port);
        try {
          const request = (apiKey: number, version: number, body: Record<string, unknown>) => client.request(apiKey, version, body);
          // No partition past the topic's count here: Kafka 4.4 answers a DescribeShareGroupOffsets
          // naming one only 30 s later (its state read for it times out). AlterShareGroupOffsets
          // below names one (partition 9).
          answers[index]!.push(
            await request(90, 1, {
              groups: [
                {
                  groupId: "raw",
                  topics: [
                    { topicName: topic, partitions: [0] },
                    { topicName: "nope", partitions: [0] },
                  ],
                },
                { groupId: "none", topics: null },
              ],
            }),
          );
          answers[index]!.push(await request(90, 0, { groups: [{ groupId: "raw", topics: null }] }));
          answers[index]!.push(
            await request(91, 0, {
              groupId: "raw",
              topics: [
                {
                  topicName: topic,
                  partitions: [
                    { partitionIndex: 0, startOffset: 1n },
                    { partitionIndex: 9, startOffset: 0n },
                  ],
                },
                { topicName: "nope", partitions: [{ partitionIndex: 0, startOffset: 0n }] },
              ],
            }),
          );
          answers[index]!.push(await request(90, 1, { groups: [{ groupId: "raw", topics: null }] }));
          answers[index]!.push(await request(92, 0, { groupId: "raw", topics: [{ topicName: topic }, { topicName: "nope" }] }));
          answers[index]!.push(await request(90, 1, { groups: [{ groupId: "raw", topics: null }] }));
          // A member makes the group non-empty.
          const member = new MemberProcess(
            `${broker.name}-holder`,
            await spawnJavaTool(
              "sluice.kafka.ShareConsume",
              ["--bootstrap", broker.bootstrap, "--group", "raw", "--topic", topic, "--mode", "accept", "--idle-ms", "60000"],
              {
                quickStart: true,
                heap: "128m",
              },
            ),
          );
          await waitFor(`a member in the group on ${broker.name}`, async () => {
            const described = await request(77, 1, { groupIds: ["raw"], includeAuthorizedOperations: false });
            return (described as { groups: { members: unknown[] }[] }).groups[0]?.members.length === 1;
          });
          answers[index]!.push(await request(91, 0, { groupId: "raw", topics: [{ topicName: topic, partitions: [{ partitionIndex: 0, startOffset: 0n }] }] }));
          answers[index]!.push(await request(92, 0, { groupId: "raw", topics: [{ topicName: topic }] }));
          await member.kill();
        } finally {
          client.close();
        }
      }),
    );
    // Topic ids differ between the brokers; everything else must not.
    const withoutIds = (value: unknown) =>
      JSON.parse(
        JSON.stringify(value, (key, v) => (key === "topicId" ? (v === "AAAAAAAAAAAAAAAAAAAAAA" ? "zero" : "id") : typeof v === "bigint" ? String(v) : v)),
      );
    expect(withoutIds(answers[0])).toEqual(withoutIds(answers[1]));
  });
});
