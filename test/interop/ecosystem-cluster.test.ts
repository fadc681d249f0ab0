// Kafka Connect 4.4.0 in distributed mode on a 3-broker Sluice cluster (etcd): its config, offset
// and status topics with replication factor 3, Kafka's FileStreamSource/SinkConnector moving a file
// through a replicated topic and back into a file. The broker leading the lines topic is killed
// (SIGKILL) while lines keep coming: leadership moves, the worker's producer, consumer and group go
// on, and every line reaches the sink's file (Connect's sinks are at-least-once, so a line the
// kill interrupted may be written twice; none is lost and the order of first appearances is the
// file's). Streams on a cluster is test/interop/streams-groups-cluster.test.ts, share groups
// test/interop/share-groups-cluster.test.ts.
//
//   npx vitest run test/interop/ecosystem-cluster.test.ts

import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterSkipReason, describedPartitions, startCluster, type TestCluster, waitForFullIsr } from "../helpers/cluster.js";
import { GroupTestClient, MemberProcess, waitFor } from "../helpers/groups.js";
import { freePort, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { makeLines } from "../helpers/streams.js";

const skip = await clusterSkipReason({ netns: false });
if (skip !== null && process.env.CI) throw new Error(`the cluster tests cannot run under CI: ${skip}`);

describe.skipIf(skip !== null)("Kafka Connect on a 3-broker Sluice cluster", () => {
  let cluster: TestCluster;
  let client: GroupTestClient;
  let workDir: string;
  const processes: MemberProcess[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      brokers: 3,
      overrides: {
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 6000,
        "offsets.topic.replication.factor": 3,
        "offsets.topic.num.partitions": 6,
        "default.replication.factor": 3,
        "min.insync.replicas": 2,
      },
    });
    client = await GroupTestClient.connect(cluster.bootstrap);
    workDir = await mkdtemp(join(tmpdir(), "sluice-connect-cluster-"));
  }, 180_000);

  afterAll(async () => {
    for (const running of processes) await running.kill().catch(() => {});
    await client?.close();
    await cluster?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 120_000);

  async function rest(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  const readLines = async (file: string) => (await readFile(file, "utf8").catch(() => "")).split("\n").slice(0, -1);

  it("moves a file through a replicated topic and back, across a SIGKILL of the topic's leader", { timeout: 300_000 }, async () => {
    const linesTopic = "cluster-lines";
    await client.createTopic(linesTopic, 1); // replication factor 3: default.replication.factor
    await waitForFullIsr(cluster.bootstrap, linesTopic, 3);
    const inputFile = join(workDir, "in.txt");
    const outputFile = join(workDir, "out.txt");
    const lines = makeLines("line", 60);
    await writeFile(inputFile, `${lines.slice(0, 30).join("\n")}\n`);

    const restPort = await freePort();
    const properties = {
      "bootstrap.servers": cluster.bootstrap,
      "group.id": "connect-on-cluster",
      "key.converter": "org.apache.kafka.connect.storage.StringConverter",
      "value.converter": "org.apache.kafka.connect.storage.StringConverter",
      "config.storage.topic": "cc-configs",
      "offset.storage.topic": "cc-offsets",
      "status.storage.topic": "cc-status",
      "config.storage.replication.factor": 3,
      "offset.storage.replication.factor": 3,
      "status.storage.replication.factor": 3,
      "offset.flush.interval.ms": 500,
      listeners: `http://127.0.0.1:${restPort}`,
      "rest.advertised.host.name": "127.0.0.1",
      "plugin.discovery": "service_load",
    };
    const file = join(workDir, "worker.properties");
    await writeFile(
      file,
      `${Object.entries(properties)
        .map(([k, v]) => `${k}=${v}`)
        .join("\n")}\n`,
    );
    const worker = new MemberProcess(
      "worker",
      await spawnJavaTool("org.apache.kafka.connect.cli.ConnectDistributed", [file], { quickStart: true, heap: "384m", logLevel: "WARN" }),
    );
    processes.push(worker);
    const url = `http://127.0.0.1:${restPort}`;
    await waitFor(
      "the worker's REST API",
      async () => {
        if (worker.exit) throw new Error(`the worker exited: ${worker.describe()}`);
        return (await rest(url, "GET", "/connectors").catch(() => ({ status: 0 }))).status === 200;
      },
      120_000,
    );
    // Its internal topics, replicated three times.
    const described = await runJavaTool(
      "org.apache.kafka.tools.TopicCommand",
      ["--bootstrap-server", cluster.bootstrap, "--describe", "--topic", "cc-offsets"],
      {
        quickStart: true,
        heap: "128m",
        logLevel: "ERROR",
      },
    );
    for (const partition of describedPartitions(described.stdout).values()) expect(partition.replicas.length).toBe(3);

    const put = async (name: string, config: Record<string, string>) => {
      await waitFor(`PUT ${name}`, async () => (await rest(url, "PUT", `/connectors/${name}/config`, config)).status < 300, 60_000);
    };
    await put("cc-source", {
      "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
      "tasks.max": "1",
      file: inputFile,
      topic: linesTopic,
    });
    await put("cc-sink", {
      "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
      "tasks.max": "1",
      file: outputFile,
      topics: linesTopic,
    });
    await waitFor("the first 30 lines in the sink's file", async () => (await readLines(outputFile)).length >= 30, 120_000);
    expect(await readLines(outputFile)).toEqual(lines.slice(0, 30));

    // The leader of the lines topic dies while more lines arrive.
    const leader = describedPartitions(
      (
        await runJavaTool("org.apache.kafka.tools.TopicCommand", ["--bootstrap-server", cluster.bootstrap, "--describe", "--topic", linesTopic], {
          quickStart: true,
          heap: "128m",
          logLevel: "ERROR",
        })
      ).stdout,
    ).get(0)?.leader as number;
    await appendFile(inputFile, `${lines.slice(30, 45).join("\n")}\n`);
    await cluster.broker(leader).kill();
    await appendFile(inputFile, `${lines.slice(45).join("\n")}\n`);
    await waitFor("every line in the sink's file", async () => new Set(await readLines(outputFile)).size >= lines.length, 150_000);
    const written = await readLines(outputFile);
    expect([...new Set(written)]).toEqual(lines);
    await cluster.broker(leader).start();
  });
});
