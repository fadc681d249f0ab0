// kcat (Debian's kcat 1.7.1 on its librdkafka) against a running Sluice broker: producing in every
// compression codec with keys, headers, null keys and values and explicit partitions into topics
// the broker auto-creates; consuming them back (-J and -f) record by record with offsets and
// timestamps; an idempotent producer; offsets for timestamps (-Q, -o s@ts); metadata (-L).
// Skipped when kcat is not installed, except under CI (process.env.CI), where that fails.
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KcatRecord, run } from "../helpers/cli.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const ci = Boolean(process.env.CI);
const kcatInstalled = spawnSync("kcat", ["-V"], { encoding: "utf8" }).status === 0;
const missing = kcatInstalled ? null : "kcat is not installed (apt-get install kcat)";
const skip = missing !== null && !ci;
if (skip) console.warn(`test/interop/kcat.test.ts skipped: ${missing}`);

const partitions = 3;
const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/** What a record must read back as; `headers` in order, a null value for a header without one. */
interface Expected {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  /** The wall clock before and after the kcat run that produced it: CreateTime lies in between. */
  after: number;
  before: number;
}

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

describe.skipIf(skip)(skip ? `kcat against Sluice (skipped: ${missing})` : "kcat against Sluice", () => {
  let broker: SluiceBroker;
  const expected = new Map<string, Expected[]>();
  let nextOffset = new Map<string, number>();

  const kcat = async (args: string[], input = ""): Promise<string> => {
    const result = await run("kcat", ["-b", broker.bootstrap, ...args], input);
    if (result.code !== 0) throw new Error(`kcat ${args.join(" ")} exited with ${result.code}:\n${result.stderr}`);
    return result.stdout;
  };

  /**
   * One kcat -P run into one partition: lines "key:value" (-K:), -Z so "k:" has a null value and a
   * line without ":" a null key; the headers go on every record of the run. Records what each
   * record must read back as.
   */
  const produce = async (
    topic: string,
    partition: number,
    lines: string[],
    options: { codec?: string; headers?: [string, string | null][]; delimiter?: string; extra?: string[] } = {},
  ) => {
    const headers = options.headers ?? [];
    const args = ["-P", "-t", topic, "-p", String(partition), "-K:", "-Z", "-z", options.codec ?? "none"];
    for (const [name, value] of headers) args.push("-H", value === null ? name : `${name}=${value}`);
    const delimiter = options.delimiter ?? "\n";
    if (options.delimiter) args.push("-D", `\\x${delimiter.charCodeAt(0).toString(16).padStart(2, "0")}`);
    args.push(...(options.extra ?? []));
    const after = Date.now();
    await kcat(args, lines.map((line) => line + delimiter).join(""));
    const before = Date.now();
    const key = `${topic}/${partition}`;
    let offset = nextOffset.get(key) ?? 0;
    const list = expected.get(topic) ?? [];
    for (const line of lines) {
      const colon = line.indexOf(":");
      // kcat -Z: an empty key or value is sent as null.
      const k = colon < 0 ? null : line.slice(0, colon) || null;
      const v = (colon < 0 ? line : line.slice(colon + 1)) || null;
      list.push({ partition, offset: offset++, key: k, value: v, headers, after, before });
    }
    expected.set(topic, list);
    nextOffset.set(key, offset);
  };

  const consume = async (topic: string, extra: string[] = ["-o", "beginning"]): Promise<KcatRecord[]> => {
    const stdout = await kcat(["-C", "-t", topic, "-e", "-q", "-J", ...extra]);
    return stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as KcatRecord);
  };

  const byPartitionAndOffset = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) =>
    a.partition - b.partition || a.offset - b.offset;

  const pairs = (flat: (string | null)[] | undefined): [string, string | null][] => {
    const out: [string, string | null][] = [];
    for (let i = 0; flat && i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1]]);
    return out;
  };

  /** Consumes the whole topic and compares every record with what was produced. */
  const expectTopic = async (topic: string) => {
    const records = (await consume(topic)).sort(byPartitionAndOffset);
    const want = [...(expected.get(topic) ?? [])].sort(byPartitionAndOffset);
    expect(records.length).toBe(want.length);
    expect(records.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.payload, headers: pairs(r.headers) }))).toEqual(
      want.map((w) => ({ partition: w.partition, offset: w.offset, key: w.key, value: w.value, headers: w.headers })),
    );
    for (const [i, record] of records.entries()) {
      expect(record.topic).toBe(topic);
      expect(record.tstype).toBe("create");
      expect(record.broker).toBe(1);
      expect(record.ts).toBeGreaterThanOrEqual(want[i].after - 1);
      expect(record.ts).toBeLessThanOrEqual(want[i].before + 1);
    }
    return records;
  };

  beforeAll(async () => {
    if (missing) throw new Error(`${missing}: CI must have it (.ci/run installs it)`);
    // Topics are auto-created by kcat's metadata requests, with 3 partitions each.
    broker = await startSluice({ overrides: { "num.partitions": partitions } });
    nextOffset = new Map();
  });

  afterAll(async () => {
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it.each(codecs)("produces with -z %s (keys, headers, nulls, partitions) and reads every record back", async (codec) => {
    const topic = `kcat-${codec}`;
    const big = `${codec} `.repeat(1000);
    for (let partition = 0; partition < partitions; partition++) {
      await produce(
        topic,
        partition,
        [
          `key-${partition}:value ${partition}`,
          `ключ-${partition}:значение 🎉 ${codec}`,
          "no key at all",
          `null-value-${partition}:`,
          `k:v:with:colons ${partition}`,
          `big-${partition}:${big}${partition}`,
          ...Array.from({ length: 20 }, (_, i) => `seq-${i}:${codec}-${partition}-${i}`),
        ],
        {
          codec,
          headers: [
            ["trace", `${codec}-${partition}`],
            ["dup", "1"],
            ["dup", "2"],
            ["no-value", null],
            ["emoji-🎉", "✓"],
          ],
        },
      );
      // A second run into the same partition with no headers appends after the first.
      await produce(topic, partition, [`second-${partition}:after the first run`], { codec });
    }
    const records = await expectTopic(topic);
    expect(records.length).toBe(partitions * 27);
  });

  it("consumes a single partition from an offset, a count, and from the end (-p, -o N, -c, -o -N)", async () => {
    const topic = "kcat-gzip";
    const want = (expected.get(topic) ?? []).filter((record) => record.partition === 1);
    const fromFive = await consume(topic, ["-p", "1", "-o", "5", "-c", "4"]);
    expect(fromFive.map((r) => [r.partition, r.offset, r.key, r.payload])).toEqual(want.slice(5, 9).map((w) => [1, w.offset, w.key, w.value]));
    const lastThree = await consume(topic, ["-p", "1", "-o", "-3"]);
    expect(lastThree.map((r) => [r.offset, r.key, r.payload])).toEqual(want.slice(-3).map((w) => [w.offset, w.key, w.value]));
    const atEnd = await consume(topic, ["-p", "1", "-o", "end"]);
    expect(atEnd).toEqual([]);
  });

  it("prints the same records through a -f format (%k %s %h %o %p %T)", async () => {
    const topic = "kcat-none";
    const stdout = await kcat(["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%k\\t%s\\t%h\\t%o\\t%p\\t%T\\t%K\\t%S\\n"]);
    const lines = stdout.split("\n").filter((line) => line !== "");
    const want = (expected.get(topic) ?? []).filter((record) => record.partition === 0);
    expect(lines.length).toBe(want.length);
    for (const [i, line] of lines.entries()) {
      const [k, s, h, o, p, t, keyLength, valueLength] = line.split("\t");
      const w = want[i];
      expect([k, s, h, Number(o), Number(p)]).toEqual([
        w.key ?? "",
        w.value ?? "",
        w.headers.map(([name, value]) => `${name}=${value ?? "NULL"}`).join(","),
        w.offset,
        0,
      ]);
      // %K / %S: the key and value lengths in bytes, -1 for null.
      expect(Number(keyLength)).toBe(w.key === null ? -1 : Buffer.byteLength(w.key));
      expect(Number(valueLength)).toBe(w.value === null ? -1 : Buffer.byteLength(w.value));
      expect(Number(t)).toBeGreaterThanOrEqual(w.after - 1);
      expect(Number(t)).toBeLessThanOrEqual(w.before + 1);
    }
  });

  it("keeps values with newlines intact through a custom message delimiter (-D)", async () => {
    const topic = "kcat-delimited";
    await produce(topic, 2, ["multi:line one\nline two\r\nline three", "tab:a\tb", "empty-key-null-value:"], { delimiter: "\x1e", codec: "lz4" });
    await expectTopic(topic);
  });

  it("produces 5,000 records through an idempotent producer (-X enable.idempotence=true, acks=all, zstd) in order", async () => {
    const topic = "kcat-idempotent";
    const lines = Array.from({ length: 5_000 }, (_, i) => `k${i % 97}:record ${i} ${"z".repeat(i % 300)}`);
    await produce(topic, 0, lines, { codec: "zstd", extra: ["-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=5"] });
    await produce(topic, 2, lines.slice(0, 1_000), { codec: "snappy", extra: ["-X", "enable.idempotence=true"] });
    const records = await expectTopic(topic);
    expect(records.length).toBe(6_000);
  });

  describe("offsets for timestamps", () => {
    const topic = "kcat-times";
    let records: KcatRecord[] = [];

    /** Kafka's answer: the first offset whose timestamp is >= ts, -1 when there is none. */
    const firstAtOrAfter = (partition: number, ts: number) => records.find((record) => record.partition === partition && record.ts >= ts)?.offset ?? -1;

    beforeAll(async () => {
      if (!broker) return;
      // Four runs per partition a few ms apart: the runs' CreateTimes differ.
      for (let round = 0; round < 4; round++) {
        for (let partition = 0; partition < partitions; partition++) {
          await produce(topic, partition, [`r${round}:a ${round}`, `r${round}:b ${round}`], { codec: round % 2 ? "gzip" : "none" });
          await sleep(3);
        }
      }
      records = (await expectTopic(topic)).sort(byPartitionAndOffset);
    });

    it("-Q answers each partition's first offset at or after a timestamp, -1 past the last, and -1/-2 as latest/earliest", async () => {
      const queries: number[][] = [];
      for (let partition = 0; partition < partitions; partition++) {
        const times = records.filter((record) => record.partition === partition).map((record) => record.ts);
        const last = Math.max(...times);
        queries.push([...new Set(times.flatMap((ts) => [ts - 1, ts, ts + 1])), last + 1, 0, -1, -2]);
      }
      const rounds = Math.max(...queries.map((q) => q.length));
      for (let i = 0; i < rounds; i++) {
        // One -t per partition in each run (kcat keeps one query per partition).
        const args = ["-Q", "-J"];
        const asked: [number, number][] = [];
        for (let partition = 0; partition < partitions; partition++) {
          const ts = queries[partition][i];
          if (ts === undefined) continue;
          args.push("-t", `${topic}:${partition}:${ts}`);
          asked.push([partition, ts]);
        }
        const answer = JSON.parse((await kcat(args)).trim()) as Record<string, Record<string, { partition: number; offset: number }>>;
        for (const [partition, ts] of asked) {
          const count = records.filter((record) => record.partition === partition).length;
          const want = ts === -1 ? count : ts === -2 ? 0 : firstAtOrAfter(partition, ts);
          expect({ partition, ts, offset: answer[topic][String(partition)].offset }).toEqual({ partition, ts, offset: want });
        }
      }
    });

    it("-o s@ts starts consuming at the first record at or after the timestamp", async () => {
      const partition1 = records.filter((record) => record.partition === 1);
      const third = partition1[4];
      const fromThird = await consume(topic, ["-p", "1", "-o", `s@${third.ts}`]);
      const start = firstAtOrAfter(1, third.ts);
      expect(fromThird.map((r) => [r.offset, r.key, r.payload, r.ts])).toEqual(
        partition1.filter((r) => r.offset >= start).map((r) => [r.offset, r.key, r.payload, r.ts]),
      );
    });
  });

  it("refusals reach the client: a record over max.message.bytes, an unknown partition, a fetch past the end (auto.offset.reset=error) and its reset", async () => {
    const topic = "kcat-refusals";
    await produce(topic, 0, ["a:1", "b:2"]);
    const tooLarge = await run(
      "kcat",
      ["-b", broker.bootstrap, "-P", "-t", topic, "-p", "1", "-K:", "-X", "message.max.bytes=3000000"],
      `big:${"x".repeat(1_500_000)}\n`,
    );
    expect(tooLarge.code).toBe(1);
    expect(tooLarge.stderr).toContain("Delivery failed for message: Broker: Message size too large");
    const unknownPartition = await run("kcat", ["-b", broker.bootstrap, "-P", "-t", topic, "-p", "7"], "v\n");
    expect(unknownPartition.code).toBe(1);
    expect(unknownPartition.stderr).toContain("Local: Unknown partition");
    const pastEnd = await run("kcat", ["-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "1000", "-e", "-X", "auto.offset.reset=error"]);
    expect(pastEnd.code).toBe(1);
    expect(pastEnd.stderr).toContain("Broker: Offset out of range");
    const reset = await consume(topic, ["-p", "0", "-o", "1000", "-X", "auto.offset.reset=smallest"]);
    expect(reset.map((r) => [r.offset, r.key, r.payload])).toEqual([
      [0, "a", "1"],
      [1, "b", "2"],
    ]);
    await expectTopic(topic);
  });

  it("-L lists the broker, its controller role and every topic's partitions with leader, replicas and ISR", async () => {
    const metadata = JSON.parse(await kcat(["-L", "-J"])) as {
      originating_broker: { id: number; name: string };
      controllerid: number;
      brokers: { id: number; name: string }[];
      topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
    };
    expect(metadata.originating_broker).toEqual({ id: 1, name: `${broker.bootstrap}/1` });
    expect(metadata.controllerid).toBe(1);
    expect(metadata.brokers).toEqual([{ id: 1, name: broker.bootstrap }]);
    const names = metadata.topics.map((topic) => topic.topic).sort();
    expect(names).toEqual([...codecs.map((codec) => `kcat-${codec}`), "kcat-delimited", "kcat-idempotent", "kcat-refusals", "kcat-times"].sort());
    for (const topic of metadata.topics) {
      expect(topic.error).toBeUndefined();
      expect(topic.partitions.sort((a, b) => a.partition - b.partition)).toEqual(
        Array.from({ length: partitions }, (_, partition) => ({ partition, leader: 1, replicas: [{ id: 1 }], isrs: [{ id: 1 }] })),
      );
    }
    const one = JSON.parse(await kcat(["-L", "-J", "-t", "kcat-lz4"])) as typeof metadata;
    expect(one.topics.map((topic) => topic.topic)).toEqual(["kcat-lz4"]);
  });
});
