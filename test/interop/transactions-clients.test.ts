// kafkajs and confluent-kafka (Python, librdkafka) transactional producers against the broker
// $TXN_TESTS_BROKER picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache Kafka
// 4.4.0, which these tests are checked against). Issue 11 section 4:
//
// - kafkajs: producer({transactionalId, idempotent: true, maxInFlightRequests: 1}), transaction(),
//   send, sendOffsets, commit and abort; a second producer with the same transactionalId fences the
//   first (its open transaction aborted);
// - confluent-kafka: init_transactions, begin_transaction, produce, send_offsets_to_transaction,
//   commit_transaction and abort_transaction.
//
// Each topic is read back by confluent-kafka's consumer (isolation.level=read_committed is
// librdkafka's default) and by Kafka's Java consumer under both isolation levels: committed values
// exactly once, aborted ones only under read_uncommitted; end offsets count one marker per
// transaction; the offsets sent with committed transactions are the group's, those sent with
// aborted ones are not. The Python venv comes from scripts/python-venv.mjs (as for the other
// Python suites).
//
//   TXN_TESTS_BROKER=kafka npx vitest run test/interop/transactions-clients.test.ts
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type TestBroker, txnBrokerProperties, txnTestsBroker } from "../helpers/brokers.js";
import { GroupTestClient, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { kafkaClasspath } from "../helpers/kafka.js";
import { readTopic, valuesOf } from "../helpers/transactions.js";

const ci = Boolean(process.env.CI);
const script = fileURLToPath(new URL("./python/transactions.py", import.meta.url));

interface PythonVenvModule {
  ensurePythonVenv(options?: { log?: (line: string) => void }): string;
}
const venvModuleUrl = new URL("../../scripts/python-venv.mjs", import.meta.url).href;
const { ensurePythonVenv } = (await import(venvModuleUrl)) as PythonVenvModule;
let python = "";
let venvProblem: string | null = null;
try {
  python = ensurePythonVenv({ log: (line) => console.warn(line) });
} catch (error) {
  venvProblem = `no Python test environment: ${(error as Error).message}`;
}
if (venvProblem && !ci) console.warn(`test/interop/transactions-clients.test.ts: ${venvProblem}`);

function runPython<T>(mode: "produce" | "consume", request: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, mode], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`transactions.py ${mode} exited with ${code}: ${stderr.slice(-4000)}`));
      resolve(JSON.parse(stdout) as T);
    });
    child.stdin.end(JSON.stringify(request));
  });
}

interface PythonRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

describe(`transactional producers of kafkajs and confluent-kafka against ${txnTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  const producers: Producer[] = [];

  beforeAll(async () => {
    await kafkaClasspath();
    broker = await startBroker({ kind: txnTestsBroker, properties: txnBrokerProperties });
    client = await GroupTestClient.connect(broker.bootstrap);
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const producer of producers) await producer.disconnect().catch(() => {});
    await client?.close();
    await broker?.close();
  });

  /** What confluent-kafka's consumer reads (read_committed unless config says otherwise), by partition. */
  async function readWithPython(topic: string, partitions: number[], config: Record<string, string> = {}): Promise<PythonRecord[]> {
    const answer = await runPython<{ records: PythonRecord[]; error?: string }>("consume", { bootstrap: broker.bootstrap, topic, partitions, config });
    expect(answer.error).toBeUndefined();
    return answer.records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  it("kafkajs: transaction() with send and sendOffsets, committed and aborted; a second producer with the same transactionalId fences the first", async () => {
    const [topic, input, group] = ["kjs-txn", "kjs-txn-input", "kjs-txn-group"];
    await client.createTopic(topic, 2);
    await client.createTopic(input, 1);
    await client.produceNumbered(input, "input", 30, 1);
    const kafka = new Kafka({
      brokers: [broker.bootstrap],
      clientId: "kjs-txn",
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const newProducer = () => {
      const producer = kafka.producer({ transactionalId: "kjs-txn-id", idempotent: true, maxInFlightRequests: 1 });
      producers.push(producer);
      return producer;
    };
    const messages = (prefix: string, partition: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ partition, key: `${prefix}-${i}`, value: `${prefix}-${i}` }));
    const sendOffsets = (offset: number) => ({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: String(offset) }] }] });

    // The group coordinator first (on a new broker this creates __consumer_offsets): kafkajs' sendOffsets
    // does not retry the NOT_COORDINATOR that TxnOffsetCommit gets while its partition is loading.
    expect(await waitFor("the group coordinator", () => client.committed(group, input))).toEqual([[0, -1]]);
    const producer = newProducer();
    await producer.connect();
    const first = await producer.transaction();
    await first.send({ topic, messages: [...messages("one", 0, 3), ...messages("one-p1", 1, 2)] });
    await first.sendOffsets(sendOffsets(10));
    await first.commit();
    const second = await producer.transaction();
    await second.send({ topic, messages: messages("two", 0, 2) });
    await second.sendOffsets(sendOffsets(20));
    await second.abort();
    const third = await producer.transaction();
    await third.send({ topic, messages: messages("three", 1, 2) });
    await third.commit();
    // Offsets sent with the committed transaction count, those of the aborted one do not.
    expect(await client.committed(group, input)).toEqual([[0, 10]]);

    // A fourth transaction left open, then a new producer with the same transactionalId: the open one is aborted.
    const fourth = await producer.transaction();
    await fourth.send({ topic, messages: messages("zombie", 0, 2) });
    const successor = newProducer();
    await successor.connect();
    const fifth = await successor.transaction();
    await fifth.send({ topic, messages: messages("five", 0, 1) });
    await fifth.sendOffsets(sendOffsets(30));
    await fifth.commit();
    await expect(fourth.commit()).rejects.toThrow();
    expect(await client.committed(group, input)).toEqual([[0, 30]]);

    const committed = [
      ["one-0", "one-1", "one-2", "five-0"],
      ["one-p1-0", "one-p1-1", "three-0", "three-1"],
    ];
    const fromJava = await readTopic(broker.bootstrap, topic, "read_committed");
    expect([valuesOf(fromJava, 0), valuesOf(fromJava, 1)]).toEqual(committed);
    const uncommitted = await readTopic(broker.bootstrap, topic, "read_uncommitted");
    expect([valuesOf(uncommitted, 0), valuesOf(uncommitted, 1)]).toEqual([
      ["one-0", "one-1", "one-2", "two-0", "two-1", "zombie-0", "zombie-1", "five-0"],
      ["one-p1-0", "one-p1-1", "three-0", "three-1"],
    ]);
    // Partition 0: 8 records + markers of one, two, the zombie's abort, five; partition 1: 4 records + one, three.
    expect(await client.endOffsets(topic)).toEqual([
      [0, 12],
      [1, 6],
    ]);
    if (!venvProblem) {
      const fromPython = await readWithPython(topic, [0, 1]);
      expect([0, 1].map((p) => fromPython.filter((r) => r.partition === p).map((r) => r.value))).toEqual(committed);
      expect(fromPython.every((r) => r.key === r.value)).toBe(true);
    }
  });

  describe.skipIf(venvProblem !== null && !ci)("confluent-kafka", () => {
    it("init_transactions, begin, produce, send_offsets_to_transaction, commit and abort: read_committed sees the committed records exactly", async () => {
      const [topic, input, group] = ["py-txn", "py-txn-input", "py-txn-group"];
      await client.createTopic(topic, 2);
      await client.createTopic(input, 1);
      await client.produceNumbered(input, "input", 30, 1);
      const transactions = [
        { partition: 0, values: ["c1-0", "c1-1", "c1-2"], end: "commit", offsets: [[input, 0, 10]] },
        { partition: 1, values: ["a1-0", "a1-1"], end: "abort", offsets: [[input, 0, 20]] },
        { partition: 1, values: ["c2-0", "c2-1"], end: "commit" },
        { partition: 0, values: ["a2-0"], end: "abort" },
        { partition: 0, values: ["c3-0", "c3-1"], end: "commit", offsets: [[input, 0, 15]] },
      ];
      const answer = await runPython<{ transactions: { offsets: number[] }[]; error?: string }>("produce", {
        bootstrap: broker.bootstrap,
        transactionalId: "py-txn-id",
        topic,
        group,
        config: { "transaction.timeout.ms": 60_000 },
        transactions,
      });
      expect(answer.error).toBeUndefined();
      // Each transaction's records follow the previous transaction's marker on their partition.
      expect(answer.transactions.map((t) => t.offsets)).toEqual([[0, 1, 2], [0, 1], [3, 4], [4], [6, 7]]);

      const committed = [
        ["c1-0", "c1-1", "c1-2", "c3-0", "c3-1"],
        ["c2-0", "c2-1"],
      ];
      const fromPython = await readWithPython(topic, [0, 1]);
      expect(fromPython.map((r) => [r.partition, r.offset, r.value])).toEqual([
        [0, 0, "c1-0"],
        [0, 1, "c1-1"],
        [0, 2, "c1-2"],
        [0, 6, "c3-0"],
        [0, 7, "c3-1"],
        [1, 3, "c2-0"],
        [1, 4, "c2-1"],
      ]);
      const uncommittedFromPython = await readWithPython(topic, [0, 1], { "isolation.level": "read_uncommitted" });
      expect([0, 1].map((p) => uncommittedFromPython.filter((r) => r.partition === p).map((r) => r.value))).toEqual([
        ["c1-0", "c1-1", "c1-2", "a2-0", "c3-0", "c3-1"],
        ["a1-0", "a1-1", "c2-0", "c2-1"],
      ]);
      const fromJava = await readTopic(broker.bootstrap, topic, "read_committed");
      expect([valuesOf(fromJava, 0), valuesOf(fromJava, 1)]).toEqual(committed);
      expect(await client.endOffsets(topic)).toEqual([
        [0, 9],
        [1, 6],
      ]);
      expect(await client.committed(group, input)).toEqual([[0, 15]]);
    });
  });
});
