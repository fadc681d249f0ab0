// The admin REST API (src/http/admin.ts) and the live WebSockets (src/http/live.ts) against the
// real broker (bin/sluice), with kafkajs producing and consuming: topics created, described and
// deleted with Kafka's errors, records browsed by offset and by timestamp (keys, headers, gzip
// batches), a group's members, assignment and lag after a kafkajs consumer commits, offset resets
// refused while the group has members and done once it is empty, group deletion, the console's
// static files, and the tail and throughput sockets.

import { CompressionTypes, type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { waitFor } from "../helpers/groups.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const TOPIC = "events";
let broker: SluiceBroker;
let http: string;
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  broker = await startSluice({ overrides: { "group.initial.rebalance.delay.ms": 0 } });
  http = await broker.httpUrl();
  kafka = new Kafka({ brokers: [broker.bootstrap], clientId: "http-admin-test", logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await producer?.disconnect().catch(() => {});
  await broker?.stop();
});

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field.
  body: any;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${http}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const text = (base64: string | null) => (base64 === null ? null : Buffer.from(base64, "base64").toString("utf8"));

/** An hour ago, in whole seconds: record timestamps are set by the test, so lookups by time are exact. */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

describe("cluster and brokers", () => {
  it("describes the cluster and this broker with its listener", async () => {
    const cluster = await call("GET", "/api/cluster");
    expect(cluster.status).toBe(200);
    expect(cluster.body).toMatchObject({ nodeId: 1, controllerId: 1, brokers: 1 });
    expect(cluster.body.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const brokers = await call("GET", "/api/brokers");
    expect(brokers.body.brokers).toEqual([
      expect.objectContaining({
        nodeId: 1,
        controller: true,
        self: true,
        logDir: broker.logDir,
        endpoints: [{ listener: "PLAINTEXT", host: "127.0.0.1", port: broker.port }],
      }),
    ]);
  });
});

describe("topics", () => {
  it("creates a topic with configs through CreateTopics, visible to a Kafka client", async () => {
    const created = await call("POST", "/api/topics", { name: TOPIC, partitions: 2, configs: { "retention.ms": "86400000" } });
    expect(created).toMatchObject({ status: 201, body: { name: TOPIC, partitions: 2, replicationFactor: 1 } });
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    await admin.disconnect();
    expect(metadata.topics[0].partitions).toHaveLength(2);
    const described = await call("GET", `/api/topics/${TOPIC}`);
    expect(
      described.body.partitions.map((p: { partition: number; leader: number; replicas: number[]; isr: number[] }) => [
        p.partition,
        p.leader,
        p.replicas,
        p.isr,
      ]),
    ).toEqual([
      [0, 1, [1], [1]],
      [1, 1, [1], [1]],
    ]);
    expect(described.body.configs).toContainEqual(
      expect.objectContaining({ name: "retention.ms", value: "86400000", source: "TOPIC_CONFIG", isDefault: false }),
    );
    expect(described.body.configs).toContainEqual(
      expect.objectContaining({ name: "cleanup.policy", value: "delete", source: "DEFAULT_CONFIG", isDefault: true }),
    );
  });

  it("refuses what CreateTopics refuses, with Kafka's error names", async () => {
    expect(await call("POST", "/api/topics", { name: TOPIC, partitions: 1 })).toMatchObject({ status: 409, body: { error: "TOPIC_ALREADY_EXISTS", code: 36 } });
    expect(await call("POST", "/api/topics", { name: "no spaces" })).toMatchObject({ status: 400, body: { error: "INVALID_TOPIC_EXCEPTION" } });
    expect(await call("POST", "/api/topics", { name: "replicated", replicationFactor: 3 })).toMatchObject({
      status: 400,
      body: { error: "INVALID_REPLICATION_FACTOR" },
    });
    expect(await call("POST", "/api/topics", { name: "configured", configs: { "cleanup.policy": "sometimes" } })).toMatchObject({
      status: 400,
      body: { error: "INVALID_CONFIG" },
    });
    expect(await call("POST", "/api/topics", { name: "zero", partitions: 0 })).toMatchObject({ status: 400, body: { error: "INVALID_PARTITIONS" } });
    expect((await call("POST", "/api/topics", [1, 2])).status).toBe(400);
    // A form or text/plain POST (what another site's page may send without asking) is refused.
    const plain = await fetch(`${http}/api/topics`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ name: "forged" }) });
    expect(plain.status).toBe(415);
    const listed = await call("GET", "/api/topics");
    expect(listed.body.topics.map((topic: { name: string }) => topic.name)).toEqual([TOPIC]);
  });
});

describe("message browser", () => {
  beforeAll(async () => {
    // Offsets 0-4 of partition 0 in one gzip batch, timestamps T0, T0+1 s, … T0+4 s.
    await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.GZIP,
      messages: [0, 1, 2, 3, 4].map((i) => ({
        partition: 0,
        key: `key-${i}`,
        value: JSON.stringify({ order: i }),
        headers: { source: `test-${i}` },
        timestamp: String(T0 + i * 1000),
      })),
    });
  });

  it("reads a page from an offset: keys, values and headers as base64", async () => {
    const page = await call("GET", `/api/topics/${TOPIC}/messages?partition=0&offset=2&limit=2`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ from: 2, logStartOffset: 0, highWatermark: 5, nextOffset: 4 });
    expect(
      page.body.records.map(
        (r: { offset: number; timestamp: number; key: string; value: string; headers: { key: string; value: string }[]; compression: string }) => ({
          offset: r.offset,
          timestamp: r.timestamp,
          key: text(r.key),
          value: text(r.value),
          headers: r.headers.map((h) => [h.key, text(h.value)]),
          compression: r.compression,
        }),
      ),
    ).toEqual([
      { offset: 2, timestamp: T0 + 2000, key: "key-2", value: '{"order":2}', headers: [["source", "test-2"]], compression: "gzip" },
      { offset: 3, timestamp: T0 + 3000, key: "key-3", value: '{"order":3}', headers: [["source", "test-3"]], compression: "gzip" },
    ]);
  });

  it("reads from a timestamp: the first record at or after it (ListOffsets' rule)", async () => {
    const page = await call("GET", `/api/topics/${TOPIC}/messages?partition=0&timestamp=${T0 + 2500}&limit=10`);
    expect(page.body.from).toBe(3);
    expect(page.body.records.map((r: { offset: number }) => r.offset)).toEqual([3, 4]);
    const after = await call("GET", `/api/topics/${TOPIC}/messages?partition=0&timestamp=${T0 + 60_000}`);
    expect(after.body).toMatchObject({ from: 5, nextOffset: 5, records: [] });
  });

  it("bounds and checks its parameters", async () => {
    expect((await call("GET", `/api/topics/${TOPIC}/messages?partition=0&limit=501`)).status).toBe(400);
    expect((await call("GET", `/api/topics/${TOPIC}/messages?partition=2`)).status).toBe(400);
    expect((await call("GET", `/api/topics/${TOPIC}/messages?offset=1&timestamp=1`)).status).toBe(400);
    expect((await call("GET", "/api/topics/nothing/messages")).status).toBe(404);
  });
});

describe("consumer groups", () => {
  const GROUP = "billing";
  let consumer: Consumer;

  const group = async () => (await call("GET", `/api/groups/${GROUP}`)).body;
  interface OffsetRow {
    topic: string;
    partition: number;
    committedOffset: number;
    endOffset: number;
    lag: number;
    lagSeconds: number;
  }
  const partitionRow = (body: { offsets: OffsetRow[] }, partition: number) =>
    body.offsets.find((row) => row.topic === TOPIC && row.partition === partition) as OffsetRow;

  it("shows a kafkajs consumer's membership, assignment, commits and the lag once records wait", async () => {
    consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let consumed = 0;
    await consumer.run({
      autoCommitInterval: 100,
      eachMessage: async () => {
        consumed++;
      },
    });
    const caughtUp = await waitFor("the group's commit of offset 5 on partition 0", async () => {
      const body = await group();
      return body.state === "Stable" && partitionRow(body, 0)?.committedOffset === 5 ? body : null;
    });
    expect(consumed).toBe(5);
    expect(caughtUp).toMatchObject({ type: "classic", protocolType: "consumer" });
    expect(caughtUp.members).toEqual([expect.objectContaining({ clientId: "http-admin-test", assignment: [{ topic: TOPIC, partitions: [0, 1] }] })]);
    expect(partitionRow(caughtUp, 0)).toMatchObject({ endOffset: 5, lag: 0, lagSeconds: 0 });

    consumer.pause([{ topic: TOPIC }]);
    await producer.send({ topic: TOPIC, messages: [5, 6, 7].map((i) => ({ partition: 0, value: `late-${i}`, timestamp: String(T0 + i * 1000) })) });
    const lagging = await waitFor("lag 3 on partition 0", async () => {
      const body = await group();
      return partitionRow(body, 0)?.lag === 3 ? body : null;
    });
    // The record at the committed offset (5) was stamped T0 + 5 s, almost an hour ago: its age is the lag in time.
    expect(partitionRow(lagging, 0).lagSeconds).toBeGreaterThanOrEqual(3595);
    const listed = await call("GET", "/api/groups");
    expect(listed.body.groups).toContainEqual(expect.objectContaining({ groupId: GROUP, state: "Stable", members: 1, topics: [TOPIC], lag: 3 }));
  });

  it("refuses to reset offsets while the group has members, as Kafka does", async () => {
    const refused = await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, to: "earliest" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("UNKNOWN_MEMBER_ID");
    expect(refused.body.message).toBe(`Assignments can only be reset if the group '${GROUP}' is inactive, but the current state is Stable.`);
    expect(partitionRow(await group(), 0).committedOffset).toBe(5);
    expect((await call("DELETE", `/api/groups/${GROUP}`)).body.error).toBe("NON_EMPTY_GROUP");
  });

  it("resets offsets of an empty group to earliest, an offset, a time and by a shift", async () => {
    await consumer.disconnect();
    await waitFor("the group to be empty", async () => ((await group()).state === "Empty" ? true : null));
    const earliest = await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, to: "earliest" });
    expect(earliest).toMatchObject({
      status: 200,
      body: {
        offsets: [
          { partition: 0, offset: 0 },
          { partition: 1, offset: 0 },
        ],
      },
    });
    expect(partitionRow(await group(), 0)).toMatchObject({ committedOffset: 0, lag: 8 });
    const byTime = await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, partitions: [0], to: "timestamp", value: T0 + 6000 });
    expect(byTime.body.offsets).toEqual([{ partition: 0, offset: 6 }]);
    const shifted = await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, partitions: [0], to: "shift", value: -4 });
    expect(shifted.body.offsets).toEqual([{ partition: 0, offset: 2 }]);
    // Past the end is kept at the end, as kafka-consumer-groups.sh does.
    const clamped = await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, partitions: [0], to: "offset", value: 1000 });
    expect(clamped.body.offsets).toEqual([{ partition: 0, offset: 8 }]);
    // A Kafka client sees the committed offsets.
    const admin = kafka.admin();
    await admin.connect();
    const fetched = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    await admin.disconnect();
    expect(fetched[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, "8"],
      [1, "0"],
    ]);
    expect((await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: TOPIC, to: "yesterday" })).status).toBe(400);
    expect((await call("POST", `/api/groups/${GROUP}/reset-offsets`, { topic: "nothing", to: "earliest" })).body.error).toBe("UNKNOWN_TOPIC_OR_PARTITION");
  });

  it("deletes an empty group with DeleteGroups' errors", async () => {
    expect(await call("DELETE", `/api/groups/${GROUP}`)).toMatchObject({ status: 200, body: { deleted: GROUP } });
    expect(await call("DELETE", `/api/groups/${GROUP}`)).toMatchObject({ status: 404, body: { error: "GROUP_ID_NOT_FOUND" } });
    expect((await call("GET", `/api/groups/${GROUP}`)).status).toBe(404);
  });
});

describe("live sockets", () => {
  function open(path: string): Promise<{ socket: WebSocket; messages: { type: string; [key: string]: unknown }[] }> {
    const socket = new WebSocket(`${http.replace("http", "ws")}${path}`);
    const messages: { type: string }[] = [];
    socket.on("message", (data) => messages.push(JSON.parse(String(data))));
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve({ socket, messages }));
      socket.once("error", reject);
    });
  }

  it("tails new records of a topic as they are appended", async () => {
    const { socket, messages } = await open(`/ws/tail?topic=${TOPIC}`);
    await waitFor("the subscription", () => messages.find((m) => m.type === "subscribed"));
    expect(messages[0]).toEqual({
      type: "subscribed",
      topic: TOPIC,
      partitions: [
        { partition: 0, offset: 8 },
        { partition: 1, offset: 0 },
      ],
    });
    await producer.send({ topic: TOPIC, messages: [{ partition: 1, key: "tail-key", value: "tailed" }] });
    const records = await waitFor(
      "the tailed record",
      () => messages.find((m) => m.type === "records")?.records as { partition: number; offset: number; key: string; value: string }[],
    );
    expect(records.map((r) => [r.partition, r.offset, text(r.key), text(r.value)])).toEqual([[1, 0, "tail-key", "tailed"]]);
    socket.close();
  });

  it("refuses a tail of a topic that does not exist", async () => {
    const { socket, messages } = await open("/ws/tail?topic=nothing");
    await new Promise((closed) => socket.once("close", closed));
    expect(messages).toEqual([{ type: "error", message: "no topic nothing" }]);
  });

  it("pushes per-second throughput with the topic's messages", async () => {
    const { socket, messages } = await open("/ws/throughput");
    await waitFor("the history", () => messages.find((m) => m.type === "history"));
    await producer.send({ topic: TOPIC, messages: [{ partition: 0, value: "counted" }] });
    const sample = await waitFor("a sample counting the produced record", () => {
      const found = messages.find((m) => m.type === "sample" && (m.sample as { messagesIn: number }).messagesIn > 0);
      return found?.sample as { messagesIn: number; bytesIn: number; topics: { topic: string; messagesIn: number }[] } | undefined;
    });
    // Rates per second over the sampling interval (about a second): one record in it.
    expect(sample.topics.map((topic) => topic.topic)).toEqual([TOPIC]);
    expect(sample.topics[0].messagesIn).toBeGreaterThan(0.5);
    expect(sample.bytesIn).toBeGreaterThan(0);
    socket.close();
  });
});

describe("console files and topic deletion", () => {
  it("serves the console with its content security policy", async () => {
    const page = await fetch(`${http}/`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/console/app.js">');
    const script = await fetch(`${http}/console/app.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await fetch(`${http}/console/secrets.txt`)).status).toBe(404);
  });

  it("deletes a topic through DeleteTopics", async () => {
    expect(await call("DELETE", `/api/topics/${TOPIC}`)).toMatchObject({ status: 200, body: { deleted: TOPIC } });
    expect((await call("GET", `/api/topics/${TOPIC}`)).status).toBe(404);
    expect(await call("DELETE", `/api/topics/${TOPIC}`)).toMatchObject({ status: 404, body: { error: "UNKNOWN_TOPIC_OR_PARTITION" } });
  });
});
