// Group configs (Kafka 4.4's GroupConfig: consumer.*, share.*, streams.* and the KIP-1191 DLQ keys)
// against Apache Kafka 4.4.0 itself: the same `kafka-configs.sh --entity-type groups` commands on
// both brokers print the same output — every key with its synonyms and sources, overrides set,
// deleted and refused — and the raw DescribeConfigs / IncrementalAlterConfigs / AlterConfigs answers
// carry the same error codes and messages; a share group's configs change how it is served
// (share.auto.offset.reset=earliest makes a new share group read from the log start).
//
//   npx vitest run test/interop/group-configs.test.ts

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { GroupTestClient, MemberProcess, waitFor } from "../helpers/groups.js";
import { type KafkaBroker, spawnJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

const configCommand = "org.apache.kafka.tools.ConfigCommand";

// The same group-coordinator settings on both brokers (Kafka refuses a lock duration below its minimum).
const properties = {
  "group.share.min.record.lock.duration.ms": 1000,
  "group.share.record.lock.duration.ms": 15000,
  "offsets.topic.replication.factor": 1,
  "share.coordinator.state.topic.replication.factor": 1,
  "share.coordinator.state.topic.min.isr": 1,
};

describe("group configs against Kafka 4.4.0", () => {
  let broker: SluiceBroker;
  let kafka: KafkaBroker;
  let tools: ToolSession;

  beforeAll(async () => {
    [broker, kafka, tools] = await Promise.all([startSluice({ overrides: properties }), startKafka({ properties }), ToolSession.start()]);
  }, 120_000);

  afterAll(async () => {
    await tools?.close();
    await kafka?.stop();
    if (broker) {
      const code = await broker.stop();
      await rm(broker.workDir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  }, 120_000);

  const configs = (bootstrap: string, args: string[]) => tools.run(configCommand, ["--bootstrap-server", bootstrap, ...args]);

  it("kafka-configs.sh --entity-type groups prints what it prints against Kafka", async () => {
    const group = ["--entity-type", "groups", "--entity-name", "orders"];
    const commands: string[][] = [
      ["--describe", ...group, "--all"],
      ["--describe", ...group],
      ["--alter", ...group, "--add-config", "share.auto.offset.reset=earliest,share.record.lock.duration.ms=20000,share.delivery.count.limit=3"],
      ["--describe", ...group],
      ["--describe", ...group, "--all"],
      ["--alter", ...group, "--add-config", "share.auto.offset.reset=by_duration:PT1H,errors.deadletterqueue.topic.name=dlq.orders"],
      ["--alter", ...group, "--add-config", "streams.rack.aware.assignment.tags=[zone,rack]"],
      ["--describe", ...group],
      ["--alter", ...group, "--delete-config", "share.delivery.count.limit,streams.rack.aware.assignment.tags"],
      ["--describe", ...group],
      // Refused: out of range, unknown, wrong type, not one of the allowed values, a bad duration.
      ["--alter", ...group, "--add-config", "share.delivery.count.limit=11"],
      ["--alter", ...group, "--add-config", "share.record.lock.duration.ms=100"],
      ["--alter", ...group, "--add-config", "share.record.lock.duration.ms=70000"],
      ["--alter", ...group, "--add-config", "consumer.session.timeout.ms=1000"],
      ["--alter", ...group, "--add-config", "no.such.key=1"],
      ["--alter", ...group, "--add-config", "share.isolation.level=x"],
      ["--alter", ...group, "--add-config", "share.auto.offset.reset=by_duration:xx"],
      ["--alter", ...group, "--add-config", "errors.deadletterqueue.copy.record.enable=maybe"],
      ["--alter", ...group, "--add-config", "share.partition.max.record.locks=50"],
      ["--describe", ...group],
      ["--alter", ...group, "--delete-config", "share.auto.offset.reset,share.record.lock.duration.ms,errors.deadletterqueue.topic.name"],
      ["--describe", ...group],
    ];
    for (const command of commands) {
      const [sluice, reference] = [await configs(broker.bootstrap, command), await configs(kafka.bootstrap, command)];
      const what = `kafka-configs.sh ${command.join(" ")}\nSluice:\n${sluice.stdout}${sluice.stderr}\nKafka:\n${reference.stdout}${reference.stderr}`;
      expect(sluice.code, what).toBe(reference.code);
      expect(sluice.stdout, what).toEqual(reference.stdout);
      // Errors: the same message (the first line of what the tool prints).
      if (reference.code !== 0) expect(firstLine(sluice.stderr), what).toEqual(firstLine(reference.stderr));
    }
  }, 240_000);

  it("the raw answers match: sources, synonyms, documentation, types and error codes", async () => {
    const [client, reference] = await Promise.all([TestClient.connect(broker.port), TestClient.connect(kafka.port)]);
    try {
      const both = async <T>(apiKey: number, version: number, body: Record<string, unknown>): Promise<[T, T]> => [
        await client.request<T>(apiKey, version, body),
        await reference.request<T>(apiKey, version, body),
      ];
      const alter = (name: string, configs: { name: string; configOperation: number; value: string | null }[]) =>
        both(44, 1, { resources: [{ resourceType: 32, resourceName: name, configs }], validateOnly: false });
      for (const [sluice, kafkaAnswer] of [
        await alter("raw", [{ name: "share.isolation.level", configOperation: 0, value: "read_committed" }]),
        await alter("raw", [{ name: "share.isolation.level", configOperation: 2, value: "x" }]),
        await alter("", [{ name: "share.isolation.level", configOperation: 0, value: "read_committed" }]),
        await alter("raw", [
          { name: "share.session.timeout.ms", configOperation: 0, value: "50000" },
          { name: "share.session.timeout.ms", configOperation: 1, value: null },
        ]),
        await both(33, 2, {
          resources: [{ resourceType: 32, resourceName: "legacy", configs: [{ name: "share.auto.offset.reset", value: "earliest" }] }],
          validateOnly: false,
        }),
      ]) {
        expect(sluice).toEqual(kafkaAnswer);
      }
      for (const body of [
        { resources: [{ resourceType: 32, resourceName: "raw", configurationKeys: null }], includeSynonyms: true, includeDocumentation: true },
        {
          resources: [{ resourceType: 32, resourceName: "legacy", configurationKeys: ["share.auto.offset.reset", "nope"] }],
          includeSynonyms: false,
          includeDocumentation: false,
        },
        { resources: [{ resourceType: 32, resourceName: "", configurationKeys: null }], includeSynonyms: false, includeDocumentation: false },
      ]) {
        const [sluice, kafkaAnswer] = await both<{ results: { configs: { name: string }[] }[] }>(32, 4, body);
        const sorted = (answer: { results: { configs: { name: string }[] }[] }) => ({
          ...answer,
          results: answer.results.map((r) => ({ ...r, configs: [...r.configs].sort((a, b) => a.name.localeCompare(b.name)) })),
        });
        expect(sorted(sluice)).toEqual(sorted(kafkaAnswer));
      }
    } finally {
      client.close();
      reference.close();
    }
  });

  it("share.auto.offset.reset=earliest: a new share group reads the records produced before it existed", { timeout: 120_000 }, async () => {
    const client = await GroupTestClient.connect(broker.bootstrap);
    try {
      await client.createTopic("configs-earliest", 2);
      const produced = await client.produceNumbered("configs-earliest", "e", 40, 2);
      const set = await configs(broker.bootstrap, [
        "--alter",
        "--entity-type",
        "groups",
        "--entity-name",
        "early",
        "--add-config",
        "share.auto.offset.reset=earliest",
      ]);
      expect(set.code, set.stderr).toBe(0);
      const member = new MemberProcess(
        "early",
        await spawnJavaTool(
          "sluice.kafka.ShareConsume",
          ["--bootstrap", broker.bootstrap, "--group", "early", "--topic", "configs-earliest", "--mode", "accept", "--max", "40", "--timeout-ms", "60000"],
          { quickStart: true, heap: "128m" },
        ),
      );
      await waitFor("the member to read 40 records", async () => (member.events as unknown as { event: string }[]).some((e) => e.event === "done"), 90_000);
      const values = (member.events as unknown as { event: string; value: string }[]).filter((e) => e.event === "record").map((e) => e.value);
      expect(values.sort()).toEqual(produced.map((r) => r.value).sort());
      await member.kill();
    } finally {
      await client.close();
    }
  });
});

/** The exception line of what the tool prints on an error (its first line names the port). */
function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .find((line) => line.includes("Exception: "))
      ?.trim() ?? ""
  );
}
