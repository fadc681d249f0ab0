// Kafka 4.4.0's Java clients and Kafka's own transactional copier, exactly-once, against the broker
// $TXN_TESTS_BROKER picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache Kafka
// 4.4.0, which these tests are checked against). Issue 11 section 4:
//
// - a consume-transform-produce loop (test/kafka's sluice.kafka.TxnCopy: a group consumer with
//   read_committed, a transactional producer, sendOffsetsToTransaction(offsets,
//   consumer.groupMetadata())) that aborts every third transaction on purpose: a read_committed
//   consumer sees every input record copied exactly once and no copy from an aborted transaction, a
//   read_uncommitted consumer sees both, the partitions end where records + one marker per
//   transaction put them, and the group's committed offsets are the input's end;
// - zombie fencing: a second producer with the same transactional.id fences the first, whose open
//   transaction is aborted; the first's next send, commit and abort fail as Kafka 4.4 fails them;
// - transaction timeout: an abandoned transaction is aborted by the broker after its
//   transaction.timeout.ms, the LSO moves past it and records appended after it become visible; the
//   abandoned producer's late commit fails;
// - Kafka's TransactionalMessageCopier (the EOS tool of Kafka's system tests) copies a partition with
//   random aborts, and again while the broker is killed (SIGKILL) and restarted: the copy holds every
//   record exactly once, in order;
// - a broker SIGKILL with transactions open: after the restart the open transactions are aborted (by
//   a new producer with the same transactional.id, or by the timeout), nothing committed is lost and
//   read_committed never shows aborted data.
//
// Everything is checked by content: values, offsets, end offsets (records + control markers).
// Producers are test/kafka's sluice.kafka.TxnClient (test/helpers/transactions.ts); topics are read
// back with sluice.kafka.Consume under each isolation level. TXN_TESTS_FULL=1 copies more records.
//
//   TXN_TESTS_BROKER=kafka npx vitest run test/interop/transactions-java.test.ts
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type TestBroker, txnBrokerProperties, txnTestsBroker } from "../helpers/brokers.js";
import { GroupTestClient, MemberProcess, range, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";
import { kafkaClasspath, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { fullRun, readTopic, TxnClient, valuesOf } from "../helpers/transactions.js";

const copier = "org.apache.kafka.tools.TransactionalMessageCopier";

/** What sluice.kafka.TxnCopy prints, a line per transaction. */
interface CopyEvent {
  event: "committed" | "aborted" | "done" | "error";
  txn?: number;
  records?: { partition: number; offset: number; value: string; copy: string }[];
  offsets?: [number, number][];
  error?: string;
}

/** What TransactionalMessageCopier prints, a JSON line per transaction and one at the end. */
interface CopierStatus {
  transactionalId: string;
  stage: string;
  totalProcessed: number;
  consumed: number;
  remaining: number;
}

describe(`Java transactional clients and TransactionalMessageCopier against ${txnTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  const txnClients: TxnClient[] = [];
  const processes: MemberProcess[] = [];

  beforeAll(async () => {
    await kafkaClasspath(); // builds test/kafka first if its sources changed
    broker = await startBroker({ kind: txnTestsBroker, properties: txnBrokerProperties });
    client = await GroupTestClient.connect(broker.bootstrap);
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const txn of txnClients) txn.kill();
    for (const running of processes) await running.kill();
    await client?.close();
    await broker?.close();
  });

  async function txnClient(): Promise<TxnClient> {
    const txn = await TxnClient.start(broker.bootstrap);
    txnClients.push(txn);
    return txn;
  }

  /** Produces `${prefix}-<partition>-<i>`, perPartition records to each partition (non-transactional, kafkajs). */
  async function produceInput(topic: string, partitions: number, perPartition: number, prefix: string): Promise<string[][]> {
    const values = range(partitions).map((p) => range(perPartition).map((i) => `${prefix}-${p}-${i}`));
    for (let start = 0; start < perPartition; start += 500) {
      await client.produce(
        topic,
        range(partitions).flatMap((p) => values[p].slice(start, start + 500).map((value) => ({ partition: p, value }))),
      );
    }
    return values;
  }

  it("consume-transform-produce with sendOffsetsToTransaction, every third transaction aborted: read_committed sees each record once, read_uncommitted sees the aborted copies too", async () => {
    const [input, output, group] = ["ctp-in", "ctp-out", "ctp-group"];
    const partitions = 2;
    const perPartition = fullRun ? 300 : 30;
    await client.createTopic(input, partitions);
    await client.createTopic(output, partitions);
    const inputValues = await produceInput(input, partitions, perPartition, "in");

    const run = await runJavaTool(
      "sluice.kafka.TxnCopy",
      [
        "--bootstrap",
        broker.bootstrap,
        "--input",
        input,
        "--output",
        output,
        "--group",
        group,
        "--transactional-id",
        "ctp-copier",
        "--count",
        String(partitions * perPartition),
        "--per-txn",
        "5",
        "--abort-every",
        "3",
        "--property",
        "max.block.ms=30000",
      ],
      { quickStart: true, heap: "256m", logLevel: "ERROR", timeoutMs: 150_000 },
    );
    const events = run.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as CopyEvent);
    expect(
      events.filter((e) => e.event === "error"),
      run.stderr.slice(-4000),
    ).toEqual([]);
    expect(run.code).toBe(0);
    expect(events.at(-1)).toEqual({ event: "done" });
    const transactions = events.filter((e) => e.event === "committed" || e.event === "aborted");
    // Transactions are numbered from 0; every third one (2, 5, 8, ...) was aborted.
    expect(transactions.map((t) => t.txn)).toEqual(range(transactions.length));
    expect(transactions.map((t) => t.event)).toEqual(transactions.map((t) => (t.txn! % 3 === 2 ? "aborted" : "committed")));
    const committed = transactions.filter((t) => t.event === "committed");
    expect(transactions.length - committed.length).toBeGreaterThanOrEqual(3);

    // Every input record was copied in exactly one committed transaction, as <value>@<txn>.
    const copiedInputs = committed.flatMap((t) => t.records!.map((r) => `${r.partition}/${r.offset}/${r.value}`)).sort();
    const allInputs = range(partitions)
      .flatMap((p) => inputValues[p].map((value, offset) => `${p}/${offset}/${value}`))
      .sort();
    expect(copiedInputs).toEqual(allInputs);
    for (const t of transactions) for (const r of t.records!) expect(r.copy).toBe(`${r.value}@${t.txn}`);

    const readCommitted = await readTopic(broker.bootstrap, output, "read_committed");
    const readUncommitted = await readTopic(broker.bootstrap, output, "read_uncommitted");
    const ends = await client.endOffsets(output);
    for (const p of range(partitions)) {
      const copies = (list: CopyEvent[]) => list.flatMap((t) => t.records!.filter((r) => r.partition === p).map((r) => r.copy));
      expect(valuesOf(readCommitted, p)).toEqual(copies(committed));
      expect(valuesOf(readUncommitted, p)).toEqual(copies(transactions));
      // Keys go along: the copy of input key k-<value> keeps it.
      for (const record of readCommitted.filter((r) => r.partition === p)) expect(record.key).toBe(`k-${record.value!.split("@")[0]}`);
      // One COMMIT or ABORT marker per transaction that wrote to the partition, after its records.
      const touching = transactions.filter((t) => t.records!.some((r) => r.partition === p)).length;
      expect(ends[p]).toEqual([p, copies(transactions).length + touching]);
    }
    // The offsets went into the group with the committed transactions: the input's end.
    expect(await client.committed(group, input)).toEqual(range(partitions).map((p) => [p, perPartition]));
  });

  it("zombie fencing: a second producer with the same transactional.id fences the first, whose open transaction is aborted", async () => {
    const topic = "fence";
    await client.createTopic(topic, 1);
    const txn = await txnClient();
    await txn.producer("zombie", "fence-id", { "max.block.ms": 30_000 });
    expect(await txn.transaction("zombie", topic, 0, ["zombie-1", "zombie-2"], "open")).toEqual([0, 1]);

    // initTransactions() of the new producer bumps the epoch and aborts the zombie's transaction (marker at 2).
    await txn.producer("successor", "fence-id", { "max.block.ms": 30_000 });
    expect(await txn.transaction("successor", topic, 0, ["successor-1"], "commit")).toEqual([3]);

    // Kafka 4.4 (transaction.version 2): the zombie's produce is refused with INVALID_PRODUCER_EPOCH,
    // which then fails its commit too; its abort gets PRODUCER_FENCED from the coordinator.
    const send = await txn.call({ cmd: "send", name: "zombie", topic, partition: 0, values: ["zombie-3"] });
    expect(send).toMatchObject({ ok: false, causes: ["org.apache.kafka.common.errors.InvalidProducerEpochException"] });
    const commit = await txn.call({ cmd: "commit", name: "zombie" });
    expect(commit).toMatchObject({ ok: false, causes: ["org.apache.kafka.common.errors.InvalidProducerEpochException"] });
    const abort = await txn.call({ cmd: "abort", name: "zombie" });
    expect(abort).toMatchObject({ ok: false, causes: ["org.apache.kafka.common.errors.ProducerFencedException"] });
    await txn.ok({ cmd: "close", name: "zombie" });

    // zombie-1, zombie-2, ABORT marker, successor-1, COMMIT marker; nothing of zombie-3.
    expect(await txn.endOffsets(topic)).toEqual({ committed: [5], uncommitted: [5] });
    expect(await readTopic(broker.bootstrap, topic, "read_committed")).toEqual([{ partition: 0, offset: 3, key: "successor-1", value: "successor-1" }]);
    expect((await readTopic(broker.bootstrap, topic, "read_uncommitted")).map((r) => [r.offset, r.value])).toEqual([
      [0, "zombie-1"],
      [1, "zombie-2"],
      [3, "successor-1"],
    ]);
    await txn.close();
  });

  it("transaction timeout: an abandoned transaction is aborted by the broker, the LSO moves on and later records become visible", async () => {
    const topic = "abandoned";
    await client.createTopic(topic, 1);
    const txn = await txnClient();
    await txn.producer("abandoned", "abandoned-id", { "transaction.timeout.ms": 4_000, "max.block.ms": 30_000 });
    await txn.ok({ cmd: "producer", name: "plain", properties: {} });
    expect(await txn.transaction("abandoned", topic, 0, ["open-1", "open-2", "open-3"], "open")).toEqual([0, 1, 2]);
    expect((await txn.ok({ cmd: "send", name: "plain", topic, partition: 0, values: ["after-1", "after-2", "after-3"] })).offsets).toEqual([
      [0, 3],
      [0, 4],
      [0, 5],
    ]);
    // The open transaction holds the last stable offset at its first offset.
    expect(await txn.endOffsets(topic)).toEqual({ committed: [0], uncommitted: [6] });
    expect(await readTopic(broker.bootstrap, topic, "read_committed")).toEqual([]);

    // The producer does nothing more; after transaction.timeout.ms the coordinator aborts (marker at 6).
    await waitFor(
      "the abandoned transaction to be aborted",
      async () => JSON.stringify(await txn.endOffsets(topic)) === JSON.stringify({ committed: [7], uncommitted: [7] }),
      60_000,
    );
    expect((await readTopic(broker.bootstrap, topic, "read_committed")).map((r) => [r.offset, r.value])).toEqual([
      [3, "after-1"],
      [4, "after-2"],
      [5, "after-3"],
    ]);
    expect((await readTopic(broker.bootstrap, topic, "read_uncommitted")).map((r) => r.value)).toEqual([
      "open-1",
      "open-2",
      "open-3",
      "after-1",
      "after-2",
      "after-3",
    ]);

    // Kafka 4.4: the late commit of the timed-out transaction fails with INVALID_TXN_STATE (its epoch was bumped by the abort).
    const late = await txn.call({ cmd: "commit", name: "abandoned" });
    expect(late).toMatchObject({ ok: false, causes: ["org.apache.kafka.common.errors.InvalidTxnStateException"] });
    await txn.ok({ cmd: "close", name: "abandoned" });
    // A new producer with the same transactional.id carries on.
    await txn.producer("next", "abandoned-id", { "max.block.ms": 30_000 });
    expect(await txn.transaction("next", topic, 0, ["next-1"], "commit")).toEqual([7]);
    expect((await readTopic(broker.bootstrap, topic, "read_committed")).map((r) => r.value)).toEqual(["after-1", "after-2", "after-3", "next-1"]);
    expect(await txn.endOffsets(topic)).toEqual({ committed: [9], uncommitted: [9] });
    await txn.close();
  });

  /** Runs TransactionalMessageCopier from input partition 0 to output; `during` runs once it reports `at` records processed. */
  async function copy(options: {
    input: string;
    output: string;
    id: string;
    transactionSize: number;
    during?: { at: number; action: () => Promise<void> };
  }): Promise<{ statuses: CopierStatus[]; actedAt: CopierStatus | null }> {
    const args = ["--broker-list", broker.bootstrap, "--input-topic", options.input, "--input-partition", "0", "--output-topic", options.output];
    args.push("--transactional-id", options.id, "--consumer-group", `${options.id}-group`, "--use-group-metadata", "--enable-random-aborts");
    args.push("--transaction-size", String(options.transactionSize));
    const process = new MemberProcess(options.id, await spawnJavaTool(copier, args, { quickStart: true, heap: "256m", logLevel: "ERROR" }));
    processes.push(process);
    const statuses = () => process.events as unknown as CopierStatus[];
    let actedAt: CopierStatus | null = null;
    if (options.during) {
      const { at, action } = options.during;
      actedAt = await waitFor(
        `the copier to process ${at} records`,
        () => {
          if (process.exit) throw new Error(`the copier exited: ${process.describe()}`);
          return statuses().find((s) => s.totalProcessed >= at);
        },
        120_000,
      );
      await action();
    }
    await waitFor(`the copier ${options.id} to exit`, () => process.exit, 180_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${process.describe()}`);
    });
    expect(process.exit, process.describe()).toEqual({ code: 0, signal: null });
    return { statuses: statuses(), actedAt };
  }

  async function checkCopy(input: string, output: string, values: string[], id: string, statuses: CopierStatus[]): Promise<void> {
    expect(statuses.at(-1)).toMatchObject({ transactionalId: id, stage: "ShutdownComplete", totalProcessed: values.length, remaining: 0 });
    // Each input record once, in order, at partition 0 of the output (the copier keeps the partition).
    const copied = await readTopic(broker.bootstrap, output, "read_committed");
    expect(copied.map((r) => [r.partition, r.value])).toEqual(values.map((value) => [0, value]));
    expect(await client.committed(`${id}-group`, input)).toEqual([[0, values.length]]);
  }

  it("TransactionalMessageCopier with random aborts copies a partition exactly once", async () => {
    const [input, output] = ["copier-in", "copier-out"];
    await client.createTopic(input, 1);
    await client.createTopic(output, 1);
    const [values] = await produceInput(input, 1, fullRun ? 5_000 : 500, "copy");
    const { statuses } = await copy({ input, output, id: "copier-1", transactionSize: 50 });
    await checkCopy(input, output, values, "copier-1", statuses);
  });

  it("TransactionalMessageCopier copies exactly once while the broker is killed (SIGKILL) and restarted", { timeout: 300_000 }, async () => {
    const [input, output] = ["copier-restart-in", "copier-restart-out"];
    await client.createTopic(input, 1);
    await client.createTopic(output, 1);
    const count = fullRun ? 20_000 : 3_000;
    const [values] = await produceInput(input, 1, count, "restart");
    const { statuses, actedAt } = await copy({
      input,
      output,
      id: "copier-restart",
      transactionSize: 10,
      during: {
        at: count / 5,
        action: async () => {
          await broker.kill();
          await broker.restart();
        },
      },
    });
    // The restart happened mid-copy.
    expect(actedAt!.remaining).toBeGreaterThan(0);
    await client.waitForTopic(output, 1);
    await checkCopy(input, output, values, "copier-restart", statuses);
  });

  it("a broker SIGKILL with transactions open: after the restart they are aborted, committed data is all there, aborted data never visible", {
    timeout: 300_000,
  }, async () => {
    const topic = "crash";
    await client.createTopic(topic, 2);
    const before = await txnClient();
    await before.producer("committer", "crash-committed", { "max.block.ms": 30_000 });
    // Its timeout expires after the restart: Kafka 4.4 (single node) aborts a transaction that timed out
    // while it was down as soon as it loads __transaction_state, before the data partition is served, and
    // the ABORT marker is lost (CompleteAbort in the transaction log, the partition's LSO stuck for good).
    await before.producer("abandoned", "crash-abandoned", { "transaction.timeout.ms": 12_000, "max.block.ms": 30_000 });
    await before.producer("resumed", "crash-resumed", { "max.block.ms": 30_000 });
    expect(await before.transaction("committer", topic, 0, ["c-1", "c-2"], "commit")).toEqual([0, 1]);
    expect(await before.transaction("committer", topic, 1, ["c-3"], "commit")).toEqual([0]);
    expect(await before.transaction("abandoned", topic, 0, ["a-1", "a-2"], "open")).toEqual([3, 4]);
    expect((await before.ok({ cmd: "send", name: "abandoned", topic, partition: 1, values: ["a-3"] })).offsets).toEqual([[1, 2]]);
    expect(await before.transaction("resumed", topic, 0, ["r-1"], "open")).toEqual([5]);
    expect((await before.ok({ cmd: "send", name: "resumed", topic, partition: 1, values: ["r-2"] })).offsets).toEqual([[1, 3]]);
    expect(await before.endOffsets(topic)).toEqual({ committed: [3, 2], uncommitted: [6, 4] });
    await before.halt(); // the producers vanish without ending their transactions

    await broker.kill();
    await broker.restart();
    await client.waitForTopic(topic, 2);

    // A new producer with crash-resumed's id: initTransactions() has the old transaction aborted first.
    const after = await txnClient();
    await after.producer("resumed", "crash-resumed", { "max.block.ms": 60_000 });
    const [resumedOffset] = await after.transaction("resumed", topic, 0, ["r2-1"], "commit");
    // crash-abandoned is aborted when its timeout expires; then every transaction is complete.
    // Partition 0: c-1 c-2 COMMIT a-1 a-2 r-1, then r's ABORT, r2-1, COMMIT and a's ABORT (those four in some order);
    // partition 1: c-3 COMMIT a-3 r-2, then two ABORTs.
    let last: unknown;
    await waitFor(
      "every transaction to be complete",
      async () => {
        last = await after.endOffsets(topic);
        return JSON.stringify(last) === JSON.stringify({ committed: [10, 6], uncommitted: [10, 6] });
      },
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the end offsets last: ${JSON.stringify(last)}`);
    });
    expect(resumedOffset).toBeGreaterThanOrEqual(7);
    const committed = await readTopic(broker.bootstrap, topic, "read_committed");
    expect([valuesOf(committed, 0), valuesOf(committed, 1)]).toEqual([["c-1", "c-2", "r2-1"], ["c-3"]]);
    const uncommitted = await readTopic(broker.bootstrap, topic, "read_uncommitted");
    expect([valuesOf(uncommitted, 0), valuesOf(uncommitted, 1)]).toEqual([
      ["c-1", "c-2", "a-1", "a-2", "r-1", "r2-1"],
      ["c-3", "a-3", "r-2"],
    ]);
    await after.close();
  });
});
