// Kafka Streams 4.4.0 with processing.guarantee=exactly_once_v2 against the broker $TXN_TESTS_BROKER
// picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache Kafka 4.4.0, which this test
// is checked against). Issue 11 section 4. test/kafka's sluice.kafka.WordCount (groupBy -> a
// repartition topic, count -> a store with a changelog; the at-least-once variant is in
// streams-connect.test.ts) counts words from one topic into another with no store cache, so every
// new count of a word is sent: read with read_committed, each word's counts on the output are
// exactly 1, 2, ..., n (a count sent twice or skipped would show), the last one the true count. The
// instance is then killed (SIGKILL) mid-stream and a new one takes over (same state directory, so
// the same transactional ids: the dead one's open transactions are fenced and aborted); the counts
// stay exactly 1..n. Run with the classic group protocol and with the streams protocol (KIP-1071:
// the broker assigns the tasks and fences the killed member after group.streams.session.timeout.ms).
//
//   TXN_TESTS_BROKER=kafka npx vitest run test/interop/transactions-streams.test.ts
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastStreamsGroupProperties, startBroker, type TestBroker, txnBrokerProperties, txnTestsBroker } from "../helpers/brokers.js";
import { GroupTestClient, MemberProcess, range, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { kafkaClasspath, spawnJavaTool } from "../helpers/kafka.js";
import { makeLines, wordsOf } from "../helpers/streams.js";
import { fullRun, readTopic } from "../helpers/transactions.js";

type StreamsEvent = { event: string; to?: string; active?: string[]; processingGuarantee?: string; groupProtocol?: string; error?: string };

for (const groupProtocol of ["classic", "streams"] as const)
  describe(`Kafka Streams exactly_once_v2, group.protocol=${groupProtocol}, against ${txnTestsBroker}`, () => {
    let broker: TestBroker;
    let client: GroupTestClient;
    let workDir: string;
    const processes: MemberProcess[] = [];
    const applicationId = `wc-eos-${groupProtocol}`;
    const input = `wc-eos-lines-${groupProtocol}`;
    const output = `wc-eos-counts-${groupProtocol}`;
    const partitions = 2;
    const allTasks = [...range(partitions).map((p) => `0_${p}`), ...range(partitions).map((p) => `1_${p}`)];

    beforeAll(async () => {
      await kafkaClasspath();
      broker = await startBroker({
        kind: txnTestsBroker,
        properties: { ...txnBrokerProperties, ...(groupProtocol === "streams" ? fastStreamsGroupProperties : {}) },
      });
      client = await GroupTestClient.connect(broker.bootstrap);
      workDir = await mkdtemp(join(tmpdir(), "sluice-streams-eos-"));
    });

    showBrokerOutputOnFailure(() => broker);

    afterAll(async () => {
      for (const running of processes) await running.kill();
      await client?.close();
      await broker?.close();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    async function startInstance(name: string): Promise<MemberProcess> {
      const args = ["--bootstrap", broker.bootstrap, "--application-id", applicationId, "--input", input, "--output", output];
      args.push("--state-dir", join(workDir, "streams"), "--property", "client.id=eos");
      args.push("--property", "processing.guarantee=exactly_once_v2", "--property", `group.protocol=${groupProtocol}`);
      // A killed member's tasks move after its session times out (classic protocol; Streams' default is 45 s).
      args.push("--property", "session.timeout.ms=6000", "--property", "heartbeat.interval.ms=500");
      const instance = new MemberProcess(name, await spawnJavaTool("sluice.kafka.WordCount", args, { quickStart: true, heap: "256m", logLevel: "WARN" }));
      processes.push(instance);
      return instance;
    }

    const events = (instance: MemberProcess) => instance.events as unknown as StreamsEvent[];

    async function waitForRunning(instance: MemberProcess): Promise<void> {
      await waitFor(
        `${instance.name} to run every task`,
        () => {
          if (instance.exit) throw new Error(`${instance.name} exited: ${instance.describe()}`);
          const state = events(instance)
            .filter((e) => e.event === "state")
            .at(-1)?.to;
          const tasks = events(instance)
            .filter((e) => e.event === "tasks")
            .at(-1)?.active;
          return state === "RUNNING" && JSON.stringify([...(tasks ?? [])].sort()) === JSON.stringify([...allTasks].sort());
        },
        90_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${instance.describe()}`);
      });
    }

    /** Each word's counts on the output, read_committed, in order. */
    async function countsSent(): Promise<Map<string, number[]>> {
      const sequences = new Map<string, number[]>();
      for (const record of await readTopic(broker.bootstrap, output, "read_committed")) {
        sequences.set(record.key ?? "", [...(sequences.get(record.key ?? "") ?? []), Number(record.value)]);
      }
      return sequences;
    }

    /** Every count from 1 to the word's number of occurrences in `lines`, once each, in order. */
    function expectedSequences(lines: string[]): Map<string, number[]> {
      const counts = new Map<string, number>();
      for (const line of lines) for (const word of wordsOf(line)) counts.set(word, (counts.get(word) ?? 0) + 1);
      return new Map([...counts].map(([word, n]) => [word, range(n).map((i) => i + 1)]));
    }

    const sorted = (map: Map<string, number[]>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

    it("counts words exactly once, also across a SIGKILL of the instance and a takeover", { timeout: 300_000 }, async () => {
      await client.createTopic(input, partitions);
      await client.createTopic(output, partitions);
      const one = await startInstance("eos-one");
      await waitForRunning(one);
      expect(events(one).find((e) => e.event === "started")).toMatchObject({ groupProtocol, processingGuarantee: "exactly_once_v2" });

      const first = makeLines("one", fullRun ? 600 : 60);
      await client.produce(
        input,
        first.map((value, i) => ({ partition: i % partitions, value })),
      );
      await client.waitForCommitsAtEnd(applicationId, input, 90_000);
      await waitFor(
        "the first lines' counts",
        async () => JSON.stringify(sorted(await countsSent())) === JSON.stringify(sorted(expectedSequences(first))),
        90_000,
      );

      // More lines, and the instance killed while it works on them: its open transaction is never committed.
      const second = makeLines("two", fullRun ? 600 : 60);
      await client.produce(
        input,
        second.map((value, i) => ({ partition: (i + 1) % partitions, value })),
      );
      await one.kill();
      const two = await startInstance("eos-two");
      await waitForRunning(two);
      const third = makeLines("three", fullRun ? 300 : 30);
      await client.produce(
        input,
        third.map((value, i) => ({ partition: i % partitions, value })),
      );
      await client.waitForCommitsAtEnd(applicationId, input, 90_000);
      const all = [...first, ...second, ...third];
      let last: Map<string, number[]> = new Map();
      await waitFor(
        "every count",
        async () => {
          last = await countsSent();
          return JSON.stringify(sorted(last)) === JSON.stringify(sorted(expectedSequences(all)));
        },
        90_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; counts sent: ${JSON.stringify(sorted(last))}`);
      });
      expect(events(two).filter((e) => e.event === "error")).toEqual([]);
      await two.stop();
    });
  });
