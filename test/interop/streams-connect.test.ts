// Kafka Streams 4.4.0 and Kafka Connect 4.4.0 (a distributed worker) against the broker
// $GROUP_TESTS_BROKER picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache Kafka
// 4.4.0, which these tests are checked against). Issue 10: both need consumer groups.
//
// - Kafka Streams, at-least-once (its default) on the classic group protocol (its default): a word
//   count (test/kafka's sluice.kafka.WordCount: groupBy -> a repartition topic, count -> a store with
//   a changelog topic) runs as two instances of one application; the StreamsPartitionAssignor shares
//   the tasks between them (a consumer group of protocol "stream"), Streams creates its internal
//   topics, the counts on the output topic (latest value per word) are exact; one instance leaves,
//   the other takes its tasks (restoring the counts from the changelog) and the counts stay exact;
//   the repartition records it committed are deleted (DeleteRecords).
// - Kafka Connect, a distributed worker (org.apache.kafka.connect.cli.ConnectDistributed): it joins
//   its group (protocol type "connect"), creates its config, offset and status topics (compacted),
//   takes a source and a sink connector over REST (Kafka's own FileStreamSourceConnector and
//   FileStreamSinkConnector, connect-file: file -> topic -> file) and the lines flow; stopped
//   (SIGTERM) it leaves its group, and a new worker reads the connectors and their offsets back from
//   those topics and goes on where the first stopped: every line once, in order. The source's offset
//   (a byte position in the file) is then reset over REST (KIP-875: stop, PATCH offsets, resume) and
//   the whole file is read into the topic again.
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/streams-connect.test.ts
import type { ChildProcess } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigResourceTypes } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { GroupTestClient, MemberProcess, range, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { freePort, kafkaClasspath, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { countWords, makeLines, streamsErrors, streamsEvents, streamsState, streamsTasks } from "../helpers/streams.js";

/** GROUP_TESTS_CLIENT_DEBUG=1: Streams' and Connect's INFO log in their stderr (the last 200 kB shown on a failure). */
const clientLogLevel = process.env.GROUP_TESTS_CLIENT_DEBUG ? "INFO" : "WARN";

describe(`Kafka Streams and Kafka Connect against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  let workDir: string;
  const processes: MemberProcess[] = [];

  beforeAll(async () => {
    await kafkaClasspath(); // builds test/kafka first if its sources changed
    broker = await startBroker();
    client = await GroupTestClient.connect(broker.bootstrap);
    workDir = await mkdtemp(join(tmpdir(), "sluice-streams-connect-"));
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const running of processes) await running.kill();
    await client?.close();
    await broker?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  async function describeGroup(group: string) {
    const { groups } = await client.admin.describeGroups([group]);
    return groups[0];
  }

  async function topicConfig(topic: string, name: string): Promise<string | undefined> {
    const { resources } = await client.admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
      includeSynonyms: false,
    });
    return resources[0].configEntries.find((entry) => entry.configName === name)?.configValue;
  }

  async function partitionCounts(): Promise<Map<string, number>> {
    const { topics } = await client.admin.fetchTopicMetadata();
    return new Map(topics.map((t) => [t.name, t.partitions.length]));
  }

  /** Every record of the topic, read to its end offsets with sluice.kafka.Consume (assign(), no group). */
  async function readTopic(topic: string): Promise<{ partition: number; offset: number; key: string | null; value: string | null }[]> {
    const run = await runJavaTool("sluice.kafka.Consume", ["--bootstrap", broker.bootstrap, "--topic", topic], {
      quickStart: true,
      heap: "128m",
      logLevel: "ERROR",
      timeoutMs: 60_000,
    });
    if (run.code !== 0) throw new Error(`sluice.kafka.Consume --topic ${topic} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run.stdout
      .split("\n")
      .filter((line) => line.startsWith('{"partition"'))
      .map((line) => JSON.parse(line));
  }

  describe("Kafka Streams (at-least-once, classic group protocol)", () => {
    const applicationId = "wc";
    const input = "wc-lines";
    const output = "wc-counts";
    const repartition = `${applicationId}-words-repartition`;
    const changelog = `${applicationId}-counts-changelog`;
    const partitions = 4;
    const allTasks = [...range(partitions).map((p) => `0_${p}`), ...range(partitions).map((p) => `1_${p}`)].sort();

    async function startInstance(name: string): Promise<MemberProcess> {
      const args = ["--bootstrap", broker.bootstrap, "--application-id", applicationId, "--input", input, "--output", output];
      args.push("--state-dir", join(workDir, `streams-${name}`), "--property", `client.id=${name}`);
      // Streams deletes the repartition records it has committed (DeleteRecords) every 30 s by default.
      args.push("--property", "repartition.purge.interval.ms=500");
      const instance = new MemberProcess(
        name,
        await spawnJavaTool("sluice.kafka.WordCount", args, { quickStart: true, heap: "256m", logLevel: clientLogLevel }),
      );
      processes.push(instance);
      return instance;
    }

    /** Waits until the instances are RUNNING, each with some of the tasks and all together every task once, and the broker's group agrees. */
    async function waitForTasks(live: MemberProcess[]) {
      const describe = () => live.map((i) => `${i.name}: ${JSON.stringify(streamsEvents(i).filter((e) => e.event !== "started"))}`).join("\n");
      return waitFor(`${live.map((i) => i.name).join(", ")} to share the tasks ${allTasks.join(",")}`, async () => {
        for (const instance of live) {
          if (instance.exit) throw new Error(`${instance.name} exited: ${instance.describe()}`);
          if (streamsState(instance) !== "RUNNING" || streamsTasks(instance).length === 0) return false;
        }
        const held = live.flatMap(streamsTasks).sort();
        if (JSON.stringify(held) !== JSON.stringify(allTasks)) return false;
        const group = await describeGroup(applicationId);
        return group.state === "Stable" && group.members.length === live.length && group;
      }).catch((error: Error) => {
        throw new Error(`${error.message}\n${describe()}`);
      });
    }

    /** Waits until the application has committed everything produced to the input and the repartition topic; the output is complete then. */
    async function waitForProcessed() {
      await client.waitForCommitsAtEnd(applicationId, input);
      // The input's commits come after the repartition records they produced were acknowledged.
      await client.waitForCommitsAtEnd(applicationId, repartition);
    }

    /** The latest count of each word on the output topic, and every count sent per word in order. */
    async function outputCounts() {
      const latest = new Map<string, number>();
      const sequences = new Map<string, number[]>();
      for (const record of await readTopic(output)) {
        const word = record.key ?? "";
        latest.set(word, Number(record.value));
        sequences.set(word, [...(sequences.get(word) ?? []), Number(record.value)]);
      }
      return { latest, sequences };
    }

    it("two instances share the tasks, one leaves, the other takes over; the counts are exact", async () => {
      await client.createTopic(input, partitions);
      await client.createTopic(output, partitions);
      const one = await startInstance("streams-one");
      await waitForTasks([one]);
      expect(streamsEvents(one).find((e) => e.event === "started")).toMatchObject({ groupProtocol: "classic", processingGuarantee: "at_least_once" });

      const two = await startInstance("streams-two");
      const group = await waitForTasks([one, two]);
      expect(group).toMatchObject({ protocolType: "consumer", protocol: "stream", state: "Stable" });
      expect(group.members.map((m) => m.clientId).sort()).toEqual(["streams-one-StreamThread-1-consumer", "streams-two-StreamThread-1-consumer"]);

      // Streams created its internal topics, with the input's partition count and its own configs.
      const topics = await partitionCounts();
      expect([topics.get(repartition), topics.get(changelog)]).toEqual([partitions, partitions]);
      expect(await topicConfig(changelog, "cleanup.policy")).toBe("compact");
      expect(await topicConfig(repartition, "cleanup.policy")).toBe("delete");

      const first = makeLines("one", 120);
      await client.produce(
        input,
        first.map((value, i) => ({ partition: i % partitions, value })),
      );
      await waitForProcessed();
      const afterFirst = await outputCounts();
      expect(afterFirst.latest).toEqual(countWords(first));

      // two holds some of the counting tasks (1_*), whose counts one must restore from the changelog when two leaves.
      expect(streamsTasks(two).filter((task) => task.startsWith("1_")).length).toBeGreaterThan(0);
      await two.stop(); // leaves the group (LeaveGroup): one takes its tasks at once
      await waitForTasks([one]);
      const second = makeLines("two", 80);
      await client.produce(
        input,
        second.map((value, i) => ({ partition: (i + 1) % partitions, value })),
      );
      await waitForProcessed();
      const afterSecond = await outputCounts();
      expect(afterSecond.latest).toEqual(countWords([...first, ...second]));
      // Nothing was counted twice: each word's counts went up by one at a time, from 1.
      for (const [word, sequence] of afterSecond.sequences) expect(sequence, word).toEqual(range(sequence.length).map((i) => i + 1));
      // What was committed of the repartition topic is deleted (Admin.deleteRecords): its log start offsets reach its end.
      const repartitionEnd = await client.endOffsets(repartition);
      await waitFor(`the log start offsets of ${repartition} to reach ${JSON.stringify(repartitionEnd)}`, async () => {
        const offsets = await client.admin.fetchTopicOffsets(repartition);
        const start = offsets.map((p): [number, number] => [p.partition, Number(p.low)]).sort(([x], [y]) => x - y);
        return JSON.stringify(start) === JSON.stringify(repartitionEnd);
      });

      await one.stop();
      expect([...streamsErrors(one), ...streamsErrors(two)]).toEqual([]);
      expect(streamsEvents(one).at(-1)).toMatchObject({ event: "closed", clean: true });
      expect(await describeGroup(applicationId)).toMatchObject({ state: "Empty", members: [] });
    });
  });

  describe("Kafka Connect (a distributed worker)", () => {
    const connectGroup = "connect-cluster";
    const [configTopic, offsetTopic, statusTopic] = ["connect-configs", "connect-offsets", "connect-status"];
    const linesTopic = "connect-lines";

    interface Worker {
      process: ChildProcess;
      member: MemberProcess;
      url: string;
    }

    async function startWorker(name: string, restPort: number): Promise<Worker> {
      const properties = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": connectGroup,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "config.storage.topic": configTopic,
        "offset.storage.topic": offsetTopic,
        "status.storage.topic": statusTopic,
        "config.storage.replication.factor": 1,
        "offset.storage.replication.factor": 1,
        "status.storage.replication.factor": 1,
        "offset.flush.interval.ms": 500,
        listeners: `http://127.0.0.1:${restPort}`,
        "rest.advertised.host.name": "127.0.0.1",
        "client.id": name,
        // The connectors on the classpath declare themselves in META-INF/services: no reflective scan.
        "plugin.discovery": "service_load",
      };
      const file = join(workDir, `${name}.properties`);
      await writeFile(
        file,
        `${Object.entries(properties)
          .map(([k, v]) => `${k}=${v}`)
          .join("\n")}\n`,
      );
      const child = await spawnJavaTool("org.apache.kafka.connect.cli.ConnectDistributed", [file], {
        quickStart: true,
        heap: "384m",
        logLevel: clientLogLevel,
      });
      const member = new MemberProcess(name, child);
      processes.push(member);
      return { process: child, member, url: `http://127.0.0.1:${restPort}` };
    }

    async function rest(worker: Worker, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
      const response = await fetch(`${worker.url}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    }

    /**
     * Waits until the worker is a member of its group (Stable) and its REST API lists the expected
     * connectors. Before its first rebalance completes a worker answers GET /connectors from an
     * empty config snapshot, so an empty list alone does not say it is ready.
     */
    async function waitForWorker(worker: Worker, connectors: string[]) {
      let last: unknown;
      return waitFor(
        `the Connect worker ${worker.member.name} to join ${connectGroup} and list ${JSON.stringify(connectors)}`,
        async () => {
          if (worker.member.exit) throw new Error(`the worker exited: ${worker.member.describe()}`);
          const group = await describeGroup(connectGroup);
          last = group;
          if (group.state !== "Stable" || !group.members.some((m) => m.clientId === worker.member.name)) return false;
          const answer = await rest(worker, "GET", "/connectors");
          last = answer;
          return answer.status === 200 && JSON.stringify(answer.body) === JSON.stringify(connectors) && group;
        },
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}
last seen: ${JSON.stringify(last)}
${worker.member.describe()}`);
      });
    }

    /** PUT /connectors/NAME/config, again while the worker answers 409 (a rebalance is under way). */
    async function createConnector(worker: Worker, name: string, config: Record<string, string>): Promise<number> {
      return waitFor(`the worker to take connector ${name}`, async () => {
        const { status, body } = await rest(worker, "PUT", `/connectors/${name}/config`, config);
        if (status >= 500) throw new Error(`PUT /connectors/${name}/config: ${status} ${JSON.stringify(body)}\n${worker.member.describe()}`);
        return status !== 409 && status;
      });
    }

    async function waitForRunning(worker: Worker, connector: string) {
      await waitFor(`connector ${connector} and its task to be RUNNING`, async () => {
        const { status, body } = await rest(worker, "GET", `/connectors/${connector}/status`);
        const state = body as { connector?: { state: string }; tasks?: { state: string; trace?: string }[] };
        if (state.tasks?.some((t) => t.state === "FAILED")) throw new Error(`a task of ${connector} failed: ${JSON.stringify(state)}`);
        return status === 200 && state.connector?.state === "RUNNING" && state.tasks?.length === 1 && state.tasks[0].state === "RUNNING";
      });
    }

    /** SIGTERM: ConnectDistributed's shutdown hook stops the connectors, commits their offsets and leaves the group. */
    async function stopWorker(worker: Worker): Promise<void> {
      if (!worker.member.exit) worker.process.kill("SIGTERM");
      const timer = setTimeout(() => worker.process.kill("SIGKILL"), 60_000);
      await waitFor(`the worker ${worker.member.name} to exit`, () => worker.member.exit, 70_000);
      clearTimeout(timer);
      // A JVM ended by SIGTERM exits with 128 + 15 once its shutdown hooks are done.
      expect(worker.member.exit, worker.member.describe()).toEqual({ code: 143, signal: null });
    }

    const readLines = async (file: string) => (await readFile(file, "utf8").catch(() => "")).split("\n").slice(0, -1);

    it("joins its group, creates its topics, runs a source and a sink connector; a new worker goes on from the stored offsets", async () => {
      const inputFile = join(workDir, "connect-in.txt");
      const outputFile = join(workDir, "connect-out.txt");
      await client.createTopic(linesTopic, 1);
      const lines = makeLines("line", 40);
      await writeFile(inputFile, `${lines.slice(0, 25).join("\n")}\n`);

      const worker = await startWorker("connect-one", await freePort());
      const group = await waitForWorker(worker, []);
      expect(await rest(worker, "GET", "/")).toMatchObject({ status: 200, body: { version: "4.4.0" } });
      expect(group).toMatchObject({ protocolType: "connect", state: "Stable" });
      expect(group.members.map((m) => m.clientId)).toEqual(["connect-one"]);
      expect(["sessioned", "compatible", "default"]).toContain(group.protocol);

      // Its internal topics: compacted, with Connect's default partition counts.
      const topics = await partitionCounts();
      expect([topics.get(configTopic), topics.get(offsetTopic), topics.get(statusTopic)]).toEqual([1, 25, 5]);
      for (const topic of [configTopic, offsetTopic, statusTopic]) expect(await topicConfig(topic, "cleanup.policy"), topic).toBe("compact");

      const source = { "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "tasks.max": "1", file: inputFile, topic: linesTopic };
      const sink = { "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max": "1", file: outputFile, topics: linesTopic };
      expect(await createConnector(worker, "lines-source", source)).toBe(201);
      expect(await createConnector(worker, "lines-sink", sink)).toBe(201);
      await waitForRunning(worker, "lines-source");
      await waitForRunning(worker, "lines-sink");
      await waitFor("the first 25 lines in the sink's file", async () => (await readLines(outputFile)).length >= 25);
      await appendFile(inputFile, `${lines.slice(25, 35).join("\n")}\n`);
      await waitFor("35 lines in the sink's file", async () => (await readLines(outputFile)).length >= 35);
      expect(await readLines(outputFile)).toEqual(lines.slice(0, 35));
      expect((await rest(worker, "GET", "/connectors")).body).toEqual(["lines-sink", "lines-source"].sort());
      // FileStreamSourceTask's offset is the byte position after the last line it sent.
      const position = (count: number) => Buffer.byteLength(`${lines.slice(0, count).join("\n")}\n`);
      await waitFor("the source's offset to reach line 35", async () => {
        const { body } = await rest(worker, "GET", "/connectors/lines-source/offsets");
        return JSON.stringify(body) === JSON.stringify({ offsets: [{ partition: { filename: inputFile }, offset: { position: position(35) } }] });
      });
      await client.waitForCommitsAtEnd("connect-lines-sink", linesTopic);
      expect(await describeGroup("connect-lines-sink")).toMatchObject({ protocolType: "consumer", state: "Stable" });

      await stopWorker(worker);
      expect(await describeGroup(connectGroup)).toMatchObject({ state: "Empty", members: [] });
      expect(await describeGroup("connect-lines-sink")).toMatchObject({ state: "Empty", members: [] });

      // A new worker of the same group reads the connectors from the config topic and their offsets
      // from the offset topic (the source's) and __consumer_offsets (the sink's).
      await appendFile(inputFile, `${lines.slice(35).join("\n")}\n`);
      const again = await startWorker("connect-two", await freePort());
      expect((await waitForWorker(again, ["lines-sink", "lines-source"])).members.map((m) => m.clientId)).toEqual(["connect-two"]);
      await waitForRunning(again, "lines-source");
      await waitForRunning(again, "lines-sink");
      await waitFor("40 lines in the sink's file", async () => (await readLines(outputFile)).length >= 40);
      await client.waitForCommitsAtEnd("connect-lines-sink", linesTopic);
      expect(await readLines(outputFile)).toEqual(lines);
      expect((await readTopic(linesTopic)).map((r) => r.value)).toEqual(lines);

      // KIP-875: the source stopped, its offset set back to the start of the file (written to
      // connect-offsets), resumed: it sends the whole file again, and the sink appends it.
      expect((await rest(again, "PUT", "/connectors/lines-source/stop")).status).toBe(204);
      await waitFor("lines-source to be STOPPED", async () => {
        const { body } = await rest(again, "GET", "/connectors/lines-source/status");
        return (body as { connector?: { state: string } }).connector?.state === "STOPPED";
      });
      const reset = { offsets: [{ partition: { filename: inputFile }, offset: { position: 0 } }] };
      expect(await rest(again, "PATCH", "/connectors/lines-source/offsets", reset)).toMatchObject({ status: 200 });
      expect((await rest(again, "GET", "/connectors/lines-source/offsets")).body).toEqual(reset);
      expect((await rest(again, "PUT", "/connectors/lines-source/resume")).status).toBe(202);
      await waitForRunning(again, "lines-source");
      await waitFor("the file twice in the sink's file", async () => (await readLines(outputFile)).length >= 80);
      await client.waitForCommitsAtEnd("connect-lines-sink", linesTopic);
      expect(await readLines(outputFile)).toEqual([...lines, ...lines]);
      expect((await readTopic(linesTopic)).map((r) => r.value)).toEqual([...lines, ...lines]);
      expect((await rest(again, "DELETE", "/connectors/lines-source")).status).toBe(204);
      expect((await rest(again, "DELETE", "/connectors/lines-sink")).status).toBe(204);
      await stopWorker(again);
      expect(await describeGroup(connectGroup)).toMatchObject({ state: "Empty", members: [] });
    });
  });
});
