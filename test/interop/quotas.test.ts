// Client quotas (issue 16 §4) with Kafka 4.4.0's own tools and clients:
// - kafka-configs.sh --entity-type users / clients / ips (names, defaults, user + client-id) run
//   against Sluice and against a real Apache Kafka 4.4.0 broker: the same commands print the same
//   thing (DescribeClientQuotas / AlterClientQuotas, errors included);
// - producer_byte_rate and consumer_byte_rate slow Kafka's ProducerPerformance and
//   ConsumerPerformance to their rate, measured over the whole run and asserted with a tolerance
//   (the quota is an average over the quota window, and a client starts with a window's worth of
//   burst), against an unthrottled client id on the same broker; the producer sees the throttle
//   time (KIP-219) in its produce-throttle-time metric;
// - request_percentage: a client over its share of request-handling time gets throttle times of at
//   most one window;
// - controller_mutation_rate: CreateTopics v7 is refused with THROTTLING_QUOTA_EXCEEDED and a
//   throttle time once the token bucket is empty, v5 is served and throttled after (KIP-599);
// - connection_creation_rate for an IP (127.0.0.2 here, the client's source address): new
//   connections above the rate are closed unanswered while another IP's are served; removing the
//   quota lets them in again; the broker-wide max.connection.creation.rate holds accepts back.
//
// The broker runs with quota.window.num=3 (a 2 s minimum window) so a run of a few seconds
// measures the rate rather than the first window's burst.

import { rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { type KafkaBroker, kafkaVersion, runJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

const configCommand = "org.apache.kafka.tools.ConfigCommand";
const MiB = 1024 * 1024;

/** Tool output with the lines sorted and each line's "k=v, k=v" list sorted (Kafka prints maps in hash order). */
function normalized(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const at = line.indexOf(" are ");
      if (at < 0) return line;
      return `${line.slice(0, at + 5)}${line
        .slice(at + 5)
        .split(", ")
        .sort()
        .join(", ")}`;
    })
    .sort();
}

describe(`client quotas against Kafka ${kafkaVersion}'s tools and clients`, () => {
  let broker: SluiceBroker;
  let kafka: KafkaBroker;
  let tools: ToolSession;

  beforeAll(async () => {
    [broker, kafka, tools] = await Promise.all([
      startSluice({ overrides: { "quota.window.num": 3, "controller.quota.window.num": 3, "num.partitions": 1 } }),
      startKafka({ properties: { "quota.window.num": 3, "controller.quota.window.num": 3 } }),
      ToolSession.start(),
    ]);
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

  it("kafka-configs.sh alters and describes user, client-id, user + client-id, default and IP quotas as against Kafka", async () => {
    const commands: string[][] = [
      ["--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152"],
      ["--alter", "--entity-type", "clients", "--entity-name", "app-1", "--add-config", "request_percentage=50.5"],
      [
        "--alter",
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--entity-type",
        "clients",
        "--entity-name",
        "app-1",
        "--add-config",
        "controller_mutation_rate=10",
      ],
      ["--alter", "--entity-type", "users", "--entity-default", "--add-config", "producer_byte_rate=4096"],
      ["--alter", "--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-default", "--add-config", "consumer_byte_rate=65536"],
      ["--alter", "--entity-type", "clients", "--entity-default", "--add-config", "consumer_byte_rate=8192"],
      ["--alter", "--entity-type", "ips", "--entity-name", "127.0.0.9", "--add-config", "connection_creation_rate=20"],
      ["--alter", "--entity-type", "ips", "--entity-default", "--add-config", "connection_creation_rate=1000"],
      ["--describe", "--entity-type", "users", "--entity-name", "alice"],
      ["--describe", "--entity-type", "users"],
      ["--describe", "--entity-type", "clients"],
      ["--describe", "--entity-type", "users", "--entity-default"],
      ["--describe", "--entity-type", "clients", "--entity-name", "app-1"],
      ["--describe", "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--entity-name", "app-1"],
      ["--describe", "--entity-type", "users", "--entity-type", "clients"],
      ["--describe", "--entity-type", "ips"],
      ["--describe", "--entity-type", "ips", "--entity-name", "127.0.0.9"],
      ["--alter", "--entity-type", "users", "--entity-name", "alice", "--delete-config", "consumer_byte_rate"],
      ["--describe", "--entity-type", "users", "--entity-name", "alice"],
      ["--alter", "--entity-type", "users", "--entity-name", "alice", "--delete-config", "producer_byte_rate"],
      ["--describe", "--entity-type", "users", "--entity-name", "alice"],
      ["--alter", "--entity-type", "ips", "--entity-name", "127.0.0.9", "--delete-config", "connection_creation_rate"],
      ["--alter", "--entity-type", "ips", "--entity-default", "--delete-config", "connection_creation_rate"],
      ["--describe", "--entity-type", "ips"],
      // Back to no quotas for the tests below.
      ["--alter", "--entity-type", "clients", "--entity-name", "app-1", "--delete-config", "request_percentage"],
      [
        "--alter",
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--entity-type",
        "clients",
        "--entity-name",
        "app-1",
        "--delete-config",
        "controller_mutation_rate",
      ],
      ["--alter", "--entity-type", "users", "--entity-default", "--delete-config", "producer_byte_rate"],
      ["--alter", "--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-default", "--delete-config", "consumer_byte_rate"],
      ["--alter", "--entity-type", "clients", "--entity-default", "--delete-config", "consumer_byte_rate"],
      ["--describe", "--entity-type", "users", "--entity-type", "clients"],
      ["--describe", "--entity-type", "users"],
      ["--describe", "--entity-type", "clients"],
    ];
    for (const command of commands) {
      const [sluice, reference] = [await configs(broker.bootstrap, command), await configs(kafka.bootstrap, command)];
      const what = `kafka-configs.sh ${command.join(" ")}\nSluice:\n${sluice.stdout}${sluice.stderr}\nKafka:\n${reference.stdout}${reference.stderr}`;
      expect(sluice.code, what).toBe(reference.code);
      expect(normalized(sluice.stdout), what).toEqual(normalized(reference.stdout));
    }
  }, 180_000);

  it("refuses what Kafka refuses: an unknown key, a fractional byte rate, an IP that is not one", async () => {
    const client = await TestClient.connect(broker.port);
    const reference = await TestClient.connect(kafka.port);
    try {
      const entries = [
        { entity: [{ entityType: "user", entityName: "bob" }], ops: [{ key: "bogus_rate", value: 1, remove: false }] },
        { entity: [{ entityType: "client-id", entityName: "c" }], ops: [{ key: "producer_byte_rate", value: 10.5, remove: false }] },
        { entity: [{ entityType: "ip", entityName: "not an ip" }], ops: [{ key: "connection_creation_rate", value: 5, remove: false }] },
        { entity: [{ entityType: "ip", entityName: "127.0.0.1" }], ops: [{ key: "producer_byte_rate", value: 5, remove: false }] },
        { entity: [{ entityType: "group", entityName: "g" }], ops: [{ key: "producer_byte_rate", value: 5, remove: false }] },
      ];
      type Answer = { entries: { errorCode: number; errorMessage: string | null }[] };
      const ours = await client.request<Answer>(49, 1, { entries, validateOnly: true });
      const theirs = await reference.request<Answer>(49, 1, { entries, validateOnly: true });
      expect(ours.entries.map((e) => e.errorCode)).toEqual(theirs.entries.map((e) => e.errorCode));
      expect(ours.entries.map((e) => e.errorCode)).toEqual([42, 42, 42, 42, 42]);
      type Described = { errorCode: number; errorMessage: string | null };
      const filters = [
        [{ entityType: "user", matchType: 0, match: null }],
        [
          { entityType: "user", matchType: 2, match: null },
          { entityType: "user", matchType: 2, match: null },
        ],
        [
          { entityType: "ip", matchType: 2, match: null },
          { entityType: "user", matchType: 2, match: null },
        ],
        [{ entityType: "group", matchType: 2, match: null }],
      ];
      for (const components of filters) {
        const [mine, kafkas] = [
          await client.request<Described>(48, 1, { components, strict: false }),
          await reference.request<Described>(48, 1, { components, strict: false }),
        ];
        expect({ errorCode: mine.errorCode, errorMessage: mine.errorMessage }, JSON.stringify(components)).toEqual({
          errorCode: kafkas.errorCode,
          errorMessage: kafkas.errorMessage,
        });
      }
    } finally {
      client.close();
      reference.close();
    }
  }, 60_000);

  /** Sets (or with null removes) one quota on an entity through AlterClientQuotas. */
  const setQuota = async (entity: { entityType: string; entityName: string | null }[], key: string, value: number | null) => {
    const client = await TestClient.connect(broker.port);
    try {
      const answer = await client.request<{ entries: { errorCode: number; errorMessage: string | null }[] }>(49, 1, {
        entries: [{ entity, ops: [{ key, value: value ?? 0, remove: value === null }] }],
        validateOnly: false,
      });
      expect(answer.entries[0]).toMatchObject({ errorCode: 0 });
    } finally {
      client.close();
    }
  };

  /** ProducerPerformance as `clientId`: MB/s (its own figure) and the producer's largest throttle time. */
  const producerPerformance = async (topic: string, clientId: string, records: number) => {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ProducerPerformance",
      [
        "--topic",
        topic,
        "--num-records",
        String(records),
        "--record-size",
        "1000",
        "--throughput",
        "-1",
        "--print-metrics",
        "--producer-props",
        `bootstrap.servers=${broker.bootstrap}`,
        `client.id=${clientId}`,
        "acks=1",
        "linger.ms=5",
      ],
      { heap: "256m", timeoutMs: 120_000 },
    );
    const context = `ProducerPerformance exited with ${run.code}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`;
    expect(run.code, context).toBe(0);
    const summary = [...run.stdout.matchAll(/(\d+) records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/g)].at(-1);
    expect(summary?.[1], context).toBe(String(records));
    const throttle = /producer-metrics:produce-throttle-time-max:\{[^}]*\}\s*:\s*([\d.]+|NaN)/.exec(run.stdout);
    return { mbPerSecond: Number(summary?.[2]), throttleMaxMs: Number(throttle?.[1] ?? 0), context };
  };

  it("producer_byte_rate slows a producer to its rate (over the run), with the throttle time in its responses; another client id is not slowed", async () => {
    const topic = "quota-produce";
    const rate = 1 * MiB;
    await setQuota([{ entityType: "client-id", entityName: "throttled-producer" }], "producer_byte_rate", rate);
    const free = await producerPerformance(topic, "free-producer", 4_000);
    const throttled = await producerPerformance(topic, "throttled-producer", 8_000);
    // 8 MB at 1 MiB/s: a 2 s burst then the rate. Kafka's average over its window lets the
    // run end a little above the rate; it must not end far above it, nor far below.
    expect(throttled.mbPerSecond, throttled.context).toBeLessThan(1.6);
    expect(throttled.mbPerSecond, throttled.context).toBeGreaterThan(0.4);
    expect(throttled.throttleMaxMs, throttled.context).toBeGreaterThan(0);
    expect(free.mbPerSecond, free.context).toBeGreaterThan(3 * throttled.mbPerSecond);
  }, 180_000);

  it("consumer_byte_rate slows a consumer to its rate over the run; another client id is not slowed", async () => {
    const topic = "quota-produce";
    await setQuota([{ entityType: "client-id", entityName: "throttled-consumer" }], "consumer_byte_rate", 1 * MiB);
    const consume = async (clientId: string, messages: number) => {
      const run = await runJavaTool(
        "org.apache.kafka.tools.ConsumerPerformance",
        [
          "--bootstrap-server",
          broker.bootstrap,
          "--topic",
          topic,
          "--messages",
          String(messages),
          "--group",
          `group-${clientId}`,
          "--timeout",
          "60000",
          "--command-property",
          `client.id=${clientId}`,
        ],
        { heap: "256m", timeoutMs: 120_000 },
      );
      const context = `ConsumerPerformance exited with ${run.code}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`;
      expect(run.code, context).toBe(0);
      // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
      const row = run.stdout
        .split("\n")
        .filter((line) => /^\d{4}-/.test(line))
        .at(-1)
        ?.split(", ");
      expect(row, context).toBeDefined();
      return { consumedMb: Number(row?.[2]), fetchMbPerSecond: Number(row?.[8]), context };
    };
    const free = await consume("free-consumer", 12_000);
    const throttled = await consume("throttled-consumer", 12_000);
    expect(throttled.consumedMb, throttled.context).toBeGreaterThan(11);
    expect(throttled.fetchMbPerSecond, throttled.context).toBeLessThan(1.6);
    expect(throttled.fetchMbPerSecond, throttled.context).toBeGreaterThan(0.4);
    expect(free.fetchMbPerSecond, free.context).toBeGreaterThan(3 * throttled.fetchMbPerSecond);
  }, 180_000);

  it("controller_mutation_rate: CreateTopics v7 is refused with THROTTLING_QUOTA_EXCEEDED once the bucket is empty; v5 is served and throttled", async () => {
    // 1 partition per second, a burst of 3 (controller.quota.window.num=3 × 1 s).
    await setQuota([{ entityType: "client-id", entityName: "mutator" }], "controller_mutation_rate", 1);
    type Created = { throttleTimeMs: number; topics: { name: string; errorCode: number; errorMessage: string | null }[] };
    const create = async (version: number, name: string, partitions: number) => {
      const client = await TestClient.connect(broker.port); // a new connection: the last one may be muted
      try {
        return await client.request<Created>(
          19,
          version,
          { topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false },
          "mutator",
        );
      } finally {
        client.close();
      }
    };
    const first = await create(7, "mutation-1", 10);
    expect(first.topics[0]).toMatchObject({ errorCode: 0 });
    const refused = await create(7, "mutation-2", 1);
    expect(refused.topics[0]).toMatchObject({ errorCode: 89, errorMessage: "The throttling quota has been exceeded." });
    expect(refused.throttleTimeMs).toBeGreaterThan(0);
    const permissive = await create(5, "mutation-3", 1);
    expect(permissive.topics[0]).toMatchObject({ errorCode: 0 });
    expect(permissive.throttleTimeMs).toBeGreaterThan(0);
  }, 60_000);

  it("request_percentage: a client over its share of request-handling time gets throttle times, at most one quota window", async () => {
    await setQuota([{ entityType: "client-id", entityName: "busy" }], "request_percentage", 0.0001);
    const client = await TestClient.connect(broker.port);
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => client.request<{ throttleTimeMs: number }>(3, 12, { topics: null, allowAutoTopicCreation: false }, "busy")),
      );
      const throttles = answers.map((answer) => answer.throttleTimeMs);
      expect(Math.max(...throttles)).toBeGreaterThan(0);
      expect(Math.max(...throttles)).toBeLessThanOrEqual(1000);
      const other = await client.request<{ throttleTimeMs: number }>(3, 12, { topics: null, allowAutoTopicCreation: false }, "idle");
      expect(other.throttleTimeMs).toBe(0);
    } finally {
      client.close();
      await setQuota([{ entityType: "client-id", entityName: "busy" }], "request_percentage", null);
    }
  }, 60_000);

  /** Opens a connection from `localAddress` and asks ApiVersions: true when answered, false when closed unanswered. */
  const answered = (localAddress: string): Promise<boolean> =>
    new Promise((resolve) => {
      const socket: Socket = connect({ host: "127.0.0.1", port: broker.port, localAddress }, () => {
        // ApiVersions v0, correlation id 1, client id "ip".
        const body = Buffer.from([0, 18, 0, 0, 0, 0, 0, 1, 0, 2, 0x69, 0x70]);
        const size = Buffer.alloc(4);
        size.writeInt32BE(body.length);
        socket.write(Buffer.concat([size, body]));
      });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 5_000);
      socket.once("data", () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {});
      socket.once("close", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });

  it("connection_creation_rate: an IP over its rate has new connections closed unanswered, another IP is served; without the quota they are served again", async () => {
    await setQuota([{ entityType: "ip", entityName: "127.0.0.2" }], "connection_creation_rate", 2);
    // A burst of 12 at once: a 2 s window at 2/s lets about 4 in, the rest are refused.
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => answered("127.0.0.2")));
    const served = outcomes.filter(Boolean).length;
    expect(served, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(3);
    expect(served, JSON.stringify(outcomes)).toBeLessThanOrEqual(6);
    expect(await answered("127.0.0.3")).toBe(true);
    await setQuota([{ entityType: "ip", entityName: "127.0.0.2" }], "connection_creation_rate", null);
    expect(await answered("127.0.0.2")).toBe(true);
    const metrics = await (await fetch(`${await broker.httpUrl()}/metrics`)).text();
    const refusedTotal = /^sluice_network_connections_throttled_per_ip_total (\d+)/m.exec(metrics);
    expect(Number(refusedTotal?.[1])).toBe(12 - served);
  }, 120_000);
});

describe("max.connection.creation.rate holds accepts back", () => {
  it("connections over the broker-wide rate wait, and are all served", async () => {
    const broker = await startSluice({ overrides: { "quota.window.num": 3, "max.connection.creation.rate": 5 } });
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.connect(broker.port)));
      const answers = await Promise.all(
        clients.map((client) => client.request<{ errorCode: number }>(18, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })),
      );
      expect(answers.map((answer) => answer.errorCode)).toEqual(Array(20).fill(0));
      for (const client of clients) client.close();
      const metrics = await (await fetch(`${await broker.httpUrl()}/metrics`)).text();
      const delayed = /^sluice_network_connections_accept_delayed_total (\d+)/m.exec(metrics);
      expect(Number(delayed?.[1])).toBeGreaterThan(0);
    } finally {
      expect(await broker.stop()).toBe(0);
      await rm(broker.workDir, { recursive: true, force: true });
    }
  }, 120_000);
});
