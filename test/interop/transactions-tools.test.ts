// Kafka 4.4.0's transaction tools against the broker $TXN_TESTS_BROKER picks (test/helpers/brokers.ts;
// Sluice by default, `kafka` for Apache Kafka 4.4.0, which this test is checked against). Issue 11
// section 3: kafka-transactions.sh (org.apache.kafka.tools.TransactionsCommand) `list` (with its
// filters), `describe`, `describe-producers`, `find-hanging` and `abort`, and kafka-dump-log.sh
// (org.apache.kafka.tools.DumpLogSegments) --transaction-log-decoder on __transaction_state. One
// transactional id commits a transaction, another leaves one open across two partitions; the
// tools' tables are checked cell by cell (the tools pad columns with spaces and end each with a tab)
// against what the producers did, then `abort` ends the open transaction on one partition by its
// start offset and the partition's LSO moves past it.
//
// The tools run in one JVM through test/kafka's sluice.kafka.ToolRunner (test/helpers/tool-session.ts).
//
//   TXN_TESTS_BROKER=kafka npx vitest run test/interop/transactions-tools.test.ts
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type TestBroker, txnBrokerProperties, txnTestsBroker } from "../helpers/brokers.js";
import { GroupTestClient, showBrokerOutputOnFailure } from "../helpers/groups.js";
import { dumpLogSegments, kafkaClasspath } from "../helpers/kafka.js";
import { type ToolResult, ToolSession } from "../helpers/tool-session.js";
import { parseTable, readTopic, TxnClient, transactionStatePartition, valuesOf } from "../helpers/transactions.js";

const transactionsCommand = "org.apache.kafka.tools.TransactionsCommand";
const topic = "tools";

const listHeader = ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"];
const describeHeader = [
  "CoordinatorId",
  "TransactionalId",
  "ProducerId",
  "ProducerEpoch",
  "TransactionState",
  "TransactionTimeoutMs",
  "CurrentTransactionStartTimeMs",
  "TransactionDurationMs",
  "TopicPartitions",
];
const producersHeader = ["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"];
const hangingHeader = ["Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch", "StartOffset", "LastTimestamp", "Duration(min)"];

const integer = expect.stringMatching(/^\d+$/);

describe(`kafka-transactions.sh and kafka-dump-log.sh --transaction-log-decoder against ${txnTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  let tools: ToolSession;
  let txn: TxnClient;

  beforeAll(async () => {
    await kafkaClasspath();
    broker = await startBroker({ kind: txnTestsBroker, properties: txnBrokerProperties });
    client = await GroupTestClient.connect(broker.bootstrap);
    tools = await ToolSession.start();
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    txn?.kill();
    tools?.close();
    await client?.close();
    await broker?.close();
  });

  const run = (...args: string[]): Promise<ToolResult> => tools.run(transactionsCommand, ["--bootstrap-server", broker.bootstrap, ...args]);
  async function table(...args: string[]): Promise<string[][]> {
    const result = await run(...args);
    expect(result, `${args.join(" ")}: ${result.stderr}`).toMatchObject({ code: 0 });
    return parseTable(result.stdout);
  }

  it("list, describe, describe-producers, find-hanging and abort show and end the transactions as the producers left them", async () => {
    await client.createTopic(topic, 2);
    txn = await TxnClient.start(broker.bootstrap);
    await txn.producer("a", "tools-a", { "max.block.ms": 30_000 });
    await txn.producer("b", "tools-b", { "transaction.timeout.ms": 300_000, "max.block.ms": 30_000 });
    expect(await txn.transaction("a", topic, 0, ["a-1", "a-2"], "commit")).toEqual([0, 1]);
    expect(await txn.transaction("b", topic, 0, ["b-1", "b-2", "b-3"], "open")).toEqual([3, 4, 5]);
    expect((await txn.ok({ cmd: "send", name: "b", topic, partition: 1, values: ["b-4"] })).offsets).toEqual([[1, 0]]);

    // describe-producers: a's transaction is complete (its epoch bumped by the commit, transaction.version 2), b's is open at 3.
    const [producersHead, ...producers0] = await table("describe-producers", "--topic", topic, "--partition", "0");
    expect(producersHead).toEqual(producersHeader);
    expect(producers0.length).toBe(2);
    producers0.sort((x, y) => Number(x[5] === "None" ? -1 : x[5]) - Number(y[5] === "None" ? -1 : y[5]));
    const [producerA, producerB] = producers0.map((row) => row[0]);
    expect(producerA).not.toBe(producerB);
    expect(producers0).toEqual([
      [producerA, "1", "0", "-1", integer, "None"],
      [producerB, "0", "-1", "2", integer, "3"],
    ]);
    expect(await table("describe-producers", "--topic", topic, "--partition", "1")).toEqual([producersHeader, [producerB, "0", "-1", "0", integer, "0"]]);

    // list: every transactional id with its coordinator (broker 1), producer id and state.
    const [listHead, ...listed] = await table("list");
    expect(listHead).toEqual(listHeader);
    expect(listed.sort()).toEqual([
      ["tools-a", "1", producerA, "CompleteCommit"],
      ["tools-b", "1", producerB, "Ongoing"],
    ]);
    expect(await table("list", "--transactional-id-pattern", "tools-b")).toEqual([listHeader, ["tools-b", "1", producerB, "Ongoing"]]);
    // Only transactions running for longer than the filter (ms): none here.
    expect(await table("list", "--duration-filter", "1000000")).toEqual([listHeader]);

    // describe: the open transaction, its timeout, start and partitions; the committed one, with none.
    const [describeHead, describedB] = await table("describe", "--transactional-id", "tools-b");
    expect(describeHead).toEqual(describeHeader);
    expect(describedB.slice(0, 8)).toEqual(["1", "tools-b", producerB, "0", "Ongoing", "300000", integer, integer]);
    expect(describedB[8].split(",").sort()).toEqual(["tools-0", "tools-1"]);
    expect(await table("describe", "--transactional-id", "tools-a")).toEqual([
      describeHeader,
      ["1", "tools-a", producerA, "1", "CompleteCommit", "60000", integer, integer, ""],
    ]);
    const unknown = await run("describe", "--transactional-id", "nope");
    expect(unknown.code).toBe(1);
    expect(`${unknown.stdout}${unknown.stderr}`).toContain(
      "Failed to describe transaction state of transactional-id `nope`: DescribeTransactions request for transactionalId `nope` failed because the ID could not be found.",
    );

    // find-hanging: b's open transaction is known to its coordinator, so it is not hanging.
    expect(await table("find-hanging", "--broker-id", "1")).toEqual([hangingHeader]);
    expect(await table("find-hanging", "--topic", topic, "--max-transaction-timeout", "0")).toEqual([hangingHeader]);

    // abort: by the start offset of an open transaction only.
    const wrongOffset = await run("abort", "--topic", topic, "--partition", "0", "--start-offset", "4");
    expect(wrongOffset.code).toBe(1);
    expect(`${wrongOffset.stdout}${wrongOffset.stderr}`).toContain("Could not find any open transactions starting at offset 4 on partition tools-0");
    expect(await run("abort", "--topic", topic, "--partition", "0", "--start-offset", "3")).toMatchObject({ code: 0, stdout: "" });
    // An ABORT marker at 6 ends b's transaction on partition 0 (partition 1 and the coordinator are untouched).
    const [, ...afterAbort] = await table("describe-producers", "--topic", topic, "--partition", "0");
    expect(afterAbort.sort((x, y) => (x[0] === producerA ? -1 : y[0] === producerA ? 1 : 0))).toEqual([
      [producerA, "1", "0", "-1", integer, "None"],
      [producerB, "0", "0", "2", integer, "None"],
    ]);
    expect(await txn.endOffsets(topic)).toEqual({ committed: [7, 0], uncommitted: [7, 1] });
    const committed = await readTopic(broker.bootstrap, topic, "read_committed");
    expect(valuesOf(committed, 0)).toEqual(["a-1", "a-2"]);
    expect((await table("describe", "--transactional-id", "tools-b"))[1].slice(0, 5)).toEqual(["1", "tools-b", producerB, "0", "Ongoing"]);
  });

  it("kafka-dump-log.sh --transaction-log-decoder decodes __transaction_state: each transactional id's states in order", async () => {
    const producerIds = new Map<string, number>();
    const statesOf = async (transactionalId: string) => {
      const partition = transactionStatePartition(transactionalId);
      const file = join(broker.logDir, `__transaction_state-${partition}`, "00000000000000000000.log");
      const dump = await dumpLogSegments([file], { decoder: "transaction-log" });
      expect(dump.code, dump.stderr).toBe(0);
      expect(dump.errors).toEqual([]);
      const records = dump.files[0].batches.flatMap((batch) => batch.records);
      const mine = records.filter((record) => JSON.parse(record.key!).data.transactionalId === transactionalId);
      for (const record of mine) expect(JSON.parse(record.key!)).toEqual({ type: "0", data: { transactionalId } });
      return mine.map((record) => {
        const { version, data } = JSON.parse(record.payload!);
        expect(version).toBe("1");
        producerIds.set(transactionalId, data.producerId);
        expect(data.previousProducerId).toBe(data.producerId);
        return [data.transactionStatus, data.producerEpoch, data.transactionTimeoutMs, data.transactionPartitions];
      });
    };
    // A clean stop first: Sluice preallocates the active segment (as Kafka with file.preallocate=true),
    // and DumpLogSegments stops at its zero tail with "Found record size 0"; a stop trims it.
    await broker.stop();
    const toolsPartition0 = [{ topic, partitionIds: [0] }];
    expect(await statesOf("tools-a")).toEqual([
      ["Empty", 0, 60000, null],
      ["Ongoing", 0, 60000, toolsPartition0],
      ["PrepareCommit", 1, 60000, toolsPartition0],
      ["CompleteCommit", 1, 60000, []],
    ]);
    expect(await statesOf("tools-b")).toEqual([
      ["Empty", 0, 300000, null],
      ["Ongoing", 0, 300000, toolsPartition0],
      ["Ongoing", 0, 300000, [{ topic, partitionIds: [0, 1] }]],
    ]);
    expect(producerIds.get("tools-a")).not.toBe(producerIds.get("tools-b"));
  });
});
