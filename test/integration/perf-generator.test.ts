// `sluice perf produce|consume` (the native load generator, crates/perf) against bin/sluice: for
// every codec, an exact number of records produced on a 3-partition topic lands exactly (ListOffsets
// through kafkajs, a real client; every record fetched and decoded: null key, a 100-byte value of
// A-Z, contiguous offsets), and `sluice perf consume` reads exactly them. Also idempotent produce
// with acks=all, and a broker's error code ending the run with exit code 1 and its name.
// The binary is target/release/sluice-perf (`npm run build:native` builds it; built here if missing).

import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { type SluiceBroker, sluiceBin, startSluice } from "../helpers/sluice.js";

const repository = fileURLToPath(new URL("../../", import.meta.url));
const perfBinary = join(repository, "target", "release", "sluice-perf");

let broker: SluiceBroker;
let client: TestClient;
let kafka: Kafka;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `bin/sluice perf <args>`, as an operator runs it. */
function perf(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("node", [sluiceBin, "perf", ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The final JSON line of a successful run. */
function figures(run: Run): Record<string, number | string | null> {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as Record<string, number | string | null>;
}

beforeAll(async () => {
  if (!existsSync(perfBinary)) execFileSync("cargo", ["build", "--release", "-p", "sluice_perf"], { cwd: repository, stdio: "inherit" });
  broker = await startSluice();
  client = await TestClient.connect(broker.port);
  kafka = new Kafka({ brokers: [broker.bootstrap], clientId: "perf-generator", logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}, 600_000);

afterAll(async () => {
  client?.close();
  const code = await broker?.stop();
  expect(code).toBe(0);
  await rm(broker.workDir, { recursive: true, force: true });
});

/** Every record of one partition, fetched from offset 0 to the high watermark and decoded. */
async function readPartition(topic: string, partition: number): Promise<{ offsets: bigint[]; values: Buffer[]; keys: (Buffer | null)[] }> {
  const offsets: bigint[] = [];
  const values: Buffer[] = [];
  const keys: (Buffer | null)[] = [];
  let offset = 0n;
  for (;;) {
    const response = await client.request<{
      errorCode: number;
      responses: { partitions: { errorCode: number; highWatermark: bigint; records: Buffer | null }[] }[];
    }>(1, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 52428800,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          topicId: "AAAAAAAAAAAAAAAAAAAAAA",
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: offset,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 4 << 20,
              replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA",
              highWatermark: -1n,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    expect(response.errorCode).toBe(0);
    const fetched = response.responses[0].partitions[0];
    expect(fetched.errorCode).toBe(0);
    for (const record of recordsOf(fetched.records)) {
      if (record.offset < offset) continue;
      offsets.push(record.offset);
      keys.push(record.key);
      values.push(record.value ?? Buffer.alloc(0));
      offset = record.offset + 1n;
    }
    if (offset >= fetched.highWatermark) return { offsets, values, keys };
  }
}

describe("sluice perf produce, then consume, on 3 partitions", () => {
  const records = 20_011;
  for (const compression of ["none", "gzip", "snappy", "lz4", "zstd"]) {
    it(`${compression}: exactly ${records} records land, each intact, and perf consume reads exactly them`, async () => {
      const topic = `perf-${compression}`;
      const produced = figures(
        await perf([
          "produce",
          "--bootstrap",
          broker.bootstrap,
          "--topic",
          topic,
          "--create",
          "--partitions",
          "3",
          "--records",
          String(records),
          "--record-size",
          "100",
          "--batch-size",
          "8192",
          "--compression",
          compression,
          "--max-in-flight",
          "8",
          "--quiet",
        ]),
      );
      expect(produced).toMatchObject({ mode: "produce", topic, partitions: 3, compression, acks: 1, records });
      expect(produced.records_per_s).toBeGreaterThan(0);
      expect(produced.latency_p99_ms).toBeGreaterThan(0);

      // ListOffsets through a real client: the high watermarks add up to exactly what was sent.
      const admin = kafka.admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        expect(offsets).toHaveLength(3);
        const ends = offsets.map((partition) => Number(partition.high));
        expect(ends.reduce((sum, end) => sum + end, 0)).toBe(records);
        for (const end of ends) expect(end).toBeGreaterThan(records / 4);
        for (const partition of offsets) expect(partition.low).toBe("0");
      } finally {
        await admin.disconnect();
      }

      // Every record decodes: null key, 100 letters A-Z, offsets 0..n-1 in each partition.
      let total = 0;
      for (const partition of [0, 1, 2]) {
        const { offsets, values, keys } = await readPartition(topic, partition);
        expect(offsets).toEqual(offsets.map((_, index) => BigInt(index)));
        expect(keys.every((key) => key === null)).toBe(true);
        expect(values.every((value) => value.length === 100 && /^[A-Z]{100}$/.test(value.toString("latin1")))).toBe(true);
        total += offsets.length;
      }
      expect(total).toBe(records);

      const consumed = figures(await perf(["consume", "--bootstrap", broker.bootstrap, "--topic", topic, "--quiet"]));
      expect(consumed).toMatchObject({ mode: "consume", topic, partitions: 3, from: "earliest", records });
      expect(consumed.batch_bytes).toBe(produced.batch_bytes);
      // A run bounded by --records on one partition reads at least that many, from that partition only.
      const some = figures(await perf(["consume", "--bootstrap", broker.bootstrap, "--topic", topic, "--partitions", "1,2", "--records", "10", "--quiet"]));
      expect(some.partitions).toBe(2);
      expect(some.records).toBeGreaterThanOrEqual(10);
    }, 120_000);
  }

  it("kafkajs (a real consumer) reads the uncompressed records perf produced", async () => {
    const consumer = kafka.consumer({ groupId: "perf-generator-check" });
    await consumer.connect();
    let seen = 0;
    try {
      await consumer.subscribe({ topic: "perf-none", fromBeginning: true });
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`kafkajs read ${seen} records`)), 60_000);
        void consumer.run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              expect(message.key).toBeNull();
              expect(message.value?.toString("latin1")).toMatch(/^[A-Z]{100}$/);
              seen++;
            }
            if (seen >= records) {
              clearTimeout(timer);
              done();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toBe(records);
  }, 90_000);
});

describe("sluice perf produce: idempotence, duration and errors", () => {
  it("idempotent acks=all on two connections lands exactly, sequences accepted", async () => {
    const topic = "perf-idempotent";
    const produced = figures(
      await perf([
        "produce",
        "--bootstrap",
        broker.bootstrap,
        "--topic",
        topic,
        "--create",
        "--partitions",
        "2",
        "--connections",
        "2",
        "--idempotent",
        "--acks",
        "all",
        "--records",
        "30000",
        "--batch-records",
        "100",
        "--quiet",
      ]),
    );
    expect(produced).toMatchObject({ records: 30_000, acks: -1, idempotent: 1, connections: 2, requests: 300 });
    const consumed = figures(await perf(["consume", "--bootstrap", broker.bootstrap, "--topic", topic, "--connections", "2", "--quiet"]));
    expect(consumed.records).toBe(30_000);
  }, 60_000);

  it("a --duration run stops by itself and prints progress lines", async () => {
    const run = await perf(["produce", "--bootstrap", broker.bootstrap, "--topic", "perf-duration", "--create", "--duration", "1.5", "--rate", "20000"]);
    const produced = figures(run);
    expect(produced.records).toBeGreaterThan(20_000);
    expect(produced.records).toBeLessThanOrEqual(31_000);
    expect(run.stderr).toMatch(/records\/s .* MB\/s/);
  }, 60_000);

  it("a broker's error code ends the run with exit code 1 and its name", async () => {
    const missing = await perf(["produce", "--bootstrap", broker.bootstrap, "--topic", "perf-missing", "--records", "10", "--quiet"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("UNKNOWN_TOPIC_OR_PARTITION");
    const tooLarge = await perf(["produce", "--bootstrap", broker.bootstrap, "--topic", "perf-none", "--records", "1", "--record-size", "2000000", "--quiet"]);
    expect(tooLarge.code).toBe(1);
    expect(tooLarge.stderr).toContain("MESSAGE_TOO_LARGE");
    const badOption = await perf(["produce", "--topic", "x", "--acks", "2"]);
    expect(badOption.code).toBe(2);
  }, 60_000);
});
