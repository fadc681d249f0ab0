// librdkafka's share consumer (confluent-kafka 2.16's ShareConsumer, KIP-932; test/interop/python/share.py)
// against the broker $GROUP_TESTS_BROKER picks (Sluice by default; `kafka` for Apache Kafka 4.4.0):
// implicit acknowledgement reads every record of two partitions once; explicit RELEASE then ACCEPT
// delivers each record twice (delivery counts 1 and 2); two librdkafka members share one partition,
// every record to exactly one of them.
//
//   npx vitest run test/interop/python-share.test.ts

import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { GroupTestClient, showBrokerOutputOnFailure } from "../helpers/groups.js";
import { runJavaTool } from "../helpers/kafka.js";

const ci = Boolean(process.env.CI);
const script = fileURLToPath(new URL("./python/share.py", import.meta.url));

interface PythonVenvModule {
  ensurePythonVenv(options?: { log?: (line: string) => void }): string;
}
const { ensurePythonVenv } = (await import(new URL("../../scripts/python-venv.mjs", import.meta.url).href)) as PythonVenvModule;
let python = "";
let problem: string | null = null;
try {
  python = ensurePythonVenv({ log: (line) => console.warn(line) });
  if (spawnSync(python, ["-c", "from confluent_kafka import ShareConsumer"], { encoding: "utf8" }).status !== 0) {
    problem = "confluent-kafka in the test venv has no ShareConsumer (test/interop/python/requirements.txt)";
  }
} catch (error) {
  problem = `no Python test environment: ${(error as Error).message}`;
}
if (problem !== null && ci) throw new Error(problem);

interface ShareRecord {
  event: "record";
  partition: number;
  offset: number;
  value: string;
  delivery_count: number | null;
}

/** Runs share.py with `spec`; resolves with its events. */
function share(spec: Record<string, unknown>): Promise<{ event: string; value?: string; delivery_count?: number | null; error?: string }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const events = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { event: string });
      // PY_SHARE_DEBUG=cgrp,fetch,protocol: librdkafka's debug log of the last run goes to PY_SHARE_DEBUG_FILE.
      if (process.env.PY_SHARE_DEBUG) writeFileSync(process.env.PY_SHARE_DEBUG_FILE ?? "/tmp/share-py-debug.log", stderr);
      if (code !== 0) reject(new Error(`share.py exited with ${code}: ${stdout}\n${stderr.slice(-2000)}`));
      else resolve(events);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

const records = (events: { event: string }[]) => events.filter((e): e is ShareRecord => e.event === "record");

describe.skipIf(problem !== null)(`librdkafka's share consumer against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  showBrokerOutputOnFailure(() => broker);

  beforeAll(async () => {
    broker = await startBroker({
      properties: {
        "group.share.min.heartbeat.interval.ms": 1000,
        "group.share.heartbeat.interval.ms": 1000,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
      },
    });
    client = await GroupTestClient.connect(broker.bootstrap);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await broker?.stop();
  });

  /** A group that starts at the earliest offset (kafka-configs.sh --entity-type groups). */
  async function earliest(group: string): Promise<void> {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ConfigCommand",
      [
        "--bootstrap-server",
        broker.bootstrap,
        "--alter",
        "--entity-type",
        "groups",
        "--entity-name",
        group,
        "--add-config",
        "share.auto.offset.reset=earliest",
      ],
      { quickStart: true },
    );
    expect(run.code, run.stderr).toBe(0);
  }

  it("implicit acknowledgement: every record of two partitions once", { timeout: 120_000 }, async () => {
    await client.createTopic("py-share", 2);
    await earliest("py-group");
    const produced = await client.produceNumbered("py-share", "p", 100, 2);
    const events = await share({
      bootstrap: broker.bootstrap,
      group: "py-group",
      topic: "py-share",
      mode: "implicit",
      max: 100,
      timeout_ms: 60_000,
      debug: process.env.PY_SHARE_DEBUG,
    });
    expect(events.filter((e) => e.event === "error")).toEqual([]);
    expect(
      records(events)
        .map((r) => r.value)
        .sort(),
    ).toEqual(produced.map((r) => r.value).sort());
  });

  it("explicit RELEASE then ACCEPT: each record delivered twice, with delivery counts 1 and 2", { timeout: 120_000 }, async () => {
    await client.createTopic("py-release", 1);
    await earliest("py-release-group");
    const produced = await client.produceNumbered("py-release", "r", 20, 1);
    const events = await share({
      bootstrap: broker.bootstrap,
      group: "py-release-group",
      topic: "py-release",
      mode: "release-first",
      max: 40,
      timeout_ms: 90_000,
    });
    expect(events.filter((e) => e.event === "error")).toEqual([]);
    for (const { value } of produced) {
      expect(
        records(events)
          .filter((r) => r.value === value)
          .map((r) => r.delivery_count),
        value,
      ).toEqual([1, 2]);
    }
  });

  it("two members share one partition: every record to exactly one of them", { timeout: 120_000 }, async () => {
    await client.createTopic("py-two", 1);
    await earliest("py-two-group");
    const produced = await client.produceNumbered("py-two", "t", 400, 1);
    // A member that gets nothing (the other took every batch) stops at its timeout.
    const spec = { bootstrap: broker.bootstrap, group: "py-two-group", topic: "py-two", mode: "accept", idle_ms: 5000, timeout_ms: 20_000 };
    const [a, b] = await Promise.all([share(spec), share(spec)]);
    const all = [...records(a), ...records(b)];
    expect([...a, ...b].filter((e) => e.event === "error")).toEqual([]);
    expect(all.map((r) => r.value).sort()).toEqual(produced.map((r) => r.value).sort());
  });
});
