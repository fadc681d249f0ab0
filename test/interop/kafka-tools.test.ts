// Apache Kafka 4.4.0's command-line tools (the classes behind kafka-topics.sh, kafka-configs.sh,
// kafka-console-producer.sh, kafka-console-consumer.sh, kafka-get-offsets.sh and
// kafka-delete-records.sh, from Maven Central) against a running Sluice broker, their output checked
// line by line: topics created with configs, described, listed, grown and deleted; topic configs
// altered and described with their synonyms, broker configs described; records written by the
// console producer (keys, headers, null markers, compression) read back by the console consumer on
// an assigned partition (no group: consumer groups do not exist yet); offsets for -1/-2/-3 and for
// timestamps; records deleted and the low watermark read back; log dirs (kafka-log-dirs.sh).
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaClasspath, runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const topicCommand = "org.apache.kafka.tools.TopicCommand";
const configCommand = "org.apache.kafka.tools.ConfigCommand";
const consoleProducer = "org.apache.kafka.tools.ConsoleProducer";
const consoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const getOffsetShell = "org.apache.kafka.tools.GetOffsetShell";
const deleteRecordsCommand = "org.apache.kafka.tools.DeleteRecordsCommand";

interface Printed {
  timestamp: number;
  partition: number;
  offset: number;
  headers: string;
  key: string;
  value: string;
}

describe("Kafka 4.4.0's tools against Sluice", () => {
  let broker: SluiceBroker;

  const tool = async (mainClass: string, args: string[], input?: string) => {
    const run = await runJavaTool(mainClass, ["--bootstrap-server", broker.bootstrap, ...args], { quickStart: true, heap: "256m", input, logLevel: "ERROR" });
    return { code: run.code, stdout: run.stdout, stderr: run.stderr };
  };

  /** Runs a tool that must succeed; returns its stdout. */
  const ok = async (mainClass: string, args: string[], input?: string) => {
    const run = await tool(mainClass, args, input);
    if (run.code !== 0) throw new Error(`${mainClass} ${args.join(" ")} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
  };

  const lines = (text: string) => text.split("\n").filter((line) => line !== "");

  /** The console consumer on one assigned partition with every print.* property on. */
  const consoleConsume = async (topic: string, partition: number, offset: string, maxMessages: number): Promise<Printed[]> => {
    const stdout = await ok(consoleConsumer, [
      "--topic",
      topic,
      "--partition",
      String(partition),
      "--offset",
      offset,
      "--max-messages",
      String(maxMessages),
      "--timeout-ms",
      "20000",
      "--formatter-property",
      "print.timestamp=true",
      "--formatter-property",
      "print.partition=true",
      "--formatter-property",
      "print.offset=true",
      "--formatter-property",
      "print.headers=true",
      "--formatter-property",
      "print.key=true",
      "--formatter-property",
      "null.literal=NULL",
    ]);
    return lines(stdout).map((line) => {
      const [timestamp, partitionText, offsetText, headers, key, ...value] = line.split("\t");
      expect(timestamp).toMatch(/^CreateTime:\d+$/);
      expect(partitionText).toMatch(/^Partition:\d+$/);
      expect(offsetText).toMatch(/^Offset:\d+$/);
      return {
        timestamp: Number(timestamp.slice("CreateTime:".length)),
        partition: Number(partitionText.slice("Partition:".length)),
        offset: Number(offsetText.slice("Offset:".length)),
        headers,
        key,
        value: value.join("\t"),
      };
    });
  };

  const getOffsets = async (args: string[]) =>
    lines(await ok(getOffsetShell, args)).map((line) => {
      const [topic, partition, offset] = line.split(":");
      return { topic, partition: Number(partition), offset: Number(offset) };
    });

  beforeAll(async () => {
    await kafkaClasspath();
    broker = await startSluice();
  }, 300_000);

  afterAll(async () => {
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  describe("kafka-topics (TopicCommand)", () => {
    it("--create with --config, and a duplicate refused", async () => {
      expect(
        await ok(topicCommand, [
          "--create",
          "--topic",
          "tools",
          "--partitions",
          "2",
          "--replication-factor",
          "1",
          "--config",
          "retention.ms=86400000",
          "--config",
          "max.message.bytes=2000000",
        ]),
      ).toBe("Created topic tools.\n");
      expect(await ok(topicCommand, ["--create", "--topic", "console", "--partitions", "1"])).toBe("Created topic console.\n");
      const duplicate = await tool(topicCommand, ["--create", "--topic", "tools", "--partitions", "2"]);
      expect(duplicate.code).toBe(1);
      expect(duplicate.stdout).toBe("Error while executing topic command : Topic 'tools' already exists.\n");
    });

    it("--list and --describe", async () => {
      expect(lines(await ok(topicCommand, ["--list"]))).toEqual(["console", "tools"]);
      const described = lines(await ok(topicCommand, ["--describe", "--topic", "tools"]));
      const [head, configs] = described[0].split("\tConfigs: ");
      expect(head).toMatch(/^Topic: tools\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 2\tReplicationFactor: 1$/);
      expect(configs.split(",").sort()).toEqual(["max.message.bytes=2000000", "retention.ms=86400000"]);
      expect(described.slice(1)).toEqual([0, 1].map((p) => `\tTopic: tools\tPartition: ${p}\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: `));
      const missing = await tool(topicCommand, ["--describe", "--topic", "no-such-topic"]);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe("Error while executing topic command : Topic 'no-such-topic' does not exist as expected\n");
    });

    it("--alter --partitions grows the topic and refuses to shrink it", async () => {
      expect(await ok(topicCommand, ["--alter", "--topic", "tools", "--partitions", "3"])).toBe("");
      const described = lines(await ok(topicCommand, ["--describe", "--topic", "tools"]));
      expect(described[0]).toContain("\tPartitionCount: 3\t");
      expect(described.slice(1).map((line) => line.split("\t")[2])).toEqual(["Partition: 0", "Partition: 1", "Partition: 2"]);
      const shrink = await tool(topicCommand, ["--alter", "--topic", "tools", "--partitions", "2"]);
      expect(shrink.code).toBe(1);
      // KRaft's controller message (ReplicationControlManager).
      expect(shrink.stdout).toBe("Error while executing topic command : The topic tools currently has 3 partition(s); 2 would not be an increase.\n");
    });
  });

  describe("kafka-configs (ConfigCommand)", () => {
    it("--alter --add-config / --delete-config and --describe a topic's configs with their synonyms", async () => {
      expect(
        await ok(configCommand, [
          "--entity-type",
          "topics",
          "--entity-name",
          "tools",
          "--alter",
          "--add-config",
          "retention.ms=5000000,cleanup.policy=[delete,compact]",
        ]),
      ).toBe("Completed updating config for topic tools.\n");
      expect(await ok(configCommand, ["--entity-type", "topics", "--entity-name", "tools", "--describe"])).toBe(
        [
          "Dynamic configs for topic tools are:",
          "  cleanup.policy=delete,compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=delete,compact, DEFAULT_CONFIG:log.cleanup.policy=delete}",
          "  max.message.bytes=2000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}",
          "  retention.ms=5000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000000}",
          "",
        ].join("\n"),
      );
      expect(
        await ok(configCommand, ["--entity-type", "topics", "--entity-name", "tools", "--alter", "--delete-config", "max.message.bytes,cleanup.policy"]),
      ).toBe("Completed updating config for topic tools.\n");
      expect(await ok(configCommand, ["--entity-type", "topics", "--entity-name", "tools", "--describe"])).toBe(
        ["Dynamic configs for topic tools are:", "  retention.ms=5000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000000}", ""].join("\n"),
      );
      // TopicCommand shows the same overrides.
      expect(lines(await ok(topicCommand, ["--describe", "--topic", "tools"]))[0]).toMatch(/\tConfigs: retention\.ms=5000000$/);
    });

    it("refuses an invalid value with the broker's message", async () => {
      const invalid = await tool(configCommand, ["--entity-type", "topics", "--entity-name", "tools", "--alter", "--add-config", "retention.ms=soon"]);
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toContain("InvalidConfigurationException: Invalid value soon for configuration retention.ms: Not a number of type LONG");
    });

    it("--describe broker 1: no dynamic configs; --all gives static and default values with synonyms", async () => {
      expect(await ok(configCommand, ["--entity-type", "brokers", "--entity-name", "1", "--describe"])).toBe("Dynamic configs for broker 1 are:\n");
      expect(await ok(configCommand, ["--entity-type", "brokers", "--entity-default", "--describe"])).toBe("Default configs for brokers in the cluster are:\n");
      const all = lines(await ok(configCommand, ["--entity-type", "brokers", "--entity-name", "1", "--describe", "--all"]));
      expect(all[0]).toBe("All configs for broker 1 are:");
      const byKey = new Map(all.slice(1).map((line) => [line.trim().split("=")[0], line.trim()]));
      expect(byKey.get("listeners")).toBe(
        `listeners=PLAINTEXT://${broker.bootstrap} sensitive=false synonyms={STATIC_BROKER_CONFIG:listeners=PLAINTEXT://${broker.bootstrap}, DEFAULT_CONFIG:listeners=PLAINTEXT://:9092}`,
      );
      expect(byKey.get("log.dirs")).toBe(`log.dirs=${broker.logDir} sensitive=false synonyms={STATIC_BROKER_CONFIG:log.dirs=${broker.logDir}}`);
      expect(byKey.get("num.partitions")).toBe("num.partitions=1 sensitive=false synonyms={DEFAULT_CONFIG:num.partitions=1}");
      expect(byKey.get("log.retention.hours")).toBe("log.retention.hours=168 sensitive=false synonyms={DEFAULT_CONFIG:log.retention.hours=168}");
      expect(byKey.size).toBeGreaterThan(200);
    });

    it("--describe --entity-type broker-loggers: the root logger and its level", async () => {
      expect(await ok(configCommand, ["--entity-type", "broker-loggers", "--entity-name", "1", "--describe"])).toBe(
        "Dynamic configs for broker-logger 1 are:\n  root=INFO sensitive=false synonyms={}\n",
      );
    });
  });

  describe("console producer and consumer, get-offsets, delete-records", () => {
    /** What each record must read back as, in offset order, with the clock around its producer run. */
    const expected: { headers: string; key: string; value: string; after: number; before: number }[] = [];
    let consumed: Printed[] = [];

    it("kafka-console-producer (parse.key, parse.headers, null.marker, lz4 then gzip) → kafka-console-consumer --partition 0 --offset earliest reads every record", async () => {
      const runs = [
        {
          codec: "lz4",
          lines: [
            "h1:v1,h2:v2\tk1\tvalue one",
            "NULL\tk2\tvalue two",
            "trace:abc\tNULL\tvalue with a null key",
            "dup:1,dup:2\tk4\tNULL",
            "emoji:🎉\tключ\tзначение",
          ],
          want: [
            ["h1:v1,h2:v2", "k1", "value one"],
            ["NO_HEADERS", "k2", "value two"],
            ["trace:abc", "NULL", "value with a null key"],
            ["dup:1,dup:2", "k4", "NULL"],
            ["emoji:🎉", "ключ", "значение"],
          ],
        },
        {
          codec: "gzip",
          lines: ["NULL\tk6\tsecond run", "h:NULL\tk7\theader without a value", "NULL\tk8\t"],
          want: [
            ["NO_HEADERS", "k6", "second run"],
            ["h:NULL", "k7", "header without a value"],
            ["NO_HEADERS", "k8", ""],
          ],
        },
      ];
      for (const run of runs) {
        const after = Date.now();
        const stdout = await ok(
          consoleProducer,
          [
            "--topic",
            "console",
            "--compression-codec",
            run.codec,
            // Kafka 4.4 names: --producer-property and --property are deprecated (a warning on stdout).
            "--command-property",
            "acks=all",
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "parse.headers=true",
            "--reader-property",
            "null.marker=NULL",
          ],
          `${run.lines.join("\n")}\n`,
        );
        const before = Date.now();
        expect(stdout).toBe("");
        for (const [headers, key, value] of run.want) expected.push({ headers, key, value, after, before });
        // A few ms between the runs: their CreateTimes differ.
        await new Promise((wake) => setTimeout(wake, 5));
      }
      consumed = await consoleConsume("console", 0, "earliest", expected.length);
      expect(consumed.map(({ partition, offset, headers, key, value }) => ({ partition, offset, headers, key, value }))).toEqual(
        expected.map(({ headers, key, value }, offset) => ({ partition: 0, offset, headers, key, value })),
      );
      for (const [i, record] of consumed.entries()) {
        expect(record.timestamp).toBeGreaterThanOrEqual(expected[i].after);
        expect(record.timestamp).toBeLessThanOrEqual(expected[i].before);
      }
    });

    it("kafka-log-dirs --describe (LogDirsCommand) lists the partitions in the broker's log dir with their sizes", async () => {
      const stdout = await ok("org.apache.kafka.tools.LogDirsCommand", ["--describe", "--topic-list", "console,tools"]);
      const json = JSON.parse(lines(stdout).at(-1)!) as {
        version: number;
        brokers: {
          broker: number;
          logDirs: { logDir: string; error: string | null; partitions: { partition: string; size: number; offsetLag: number; isFuture: boolean }[] }[];
        }[];
      };
      expect(json.version).toBe(1);
      expect(json.brokers.map((b) => b.broker)).toEqual([1]);
      const [dir] = json.brokers[0].logDirs;
      expect(json.brokers[0].logDirs.length).toBe(1);
      expect(dir.logDir).toBe(broker.logDir);
      expect(dir.error).toBeNull();
      const partitions = [...dir.partitions].sort((a, b) => a.partition.localeCompare(b.partition));
      expect(partitions.map(({ partition, offsetLag, isFuture }) => ({ partition, offsetLag, isFuture }))).toEqual(
        ["console-0", "tools-0", "tools-1", "tools-2"].map((partition) => ({ partition, offsetLag: 0, isFuture: false })),
      );
      // Two batches of a few small records: more than their headers, far less than a segment's reservation.
      expect(partitions[0].size).toBeGreaterThan(2 * 61);
      expect(partitions[0].size).toBeLessThan(4096);
      expect(partitions.slice(1).map((p) => p.size)).toEqual([0, 0, 0]);
    });

    it("kafka-console-consumer --offset N --max-messages M reads from N", async () => {
      const fromThree = await consoleConsume("console", 0, "3", 2);
      expect(fromThree).toEqual(consumed.slice(3, 5));
    });

    it("kafka-get-offsets --time -1 / -2 / -3 / latest / earliest / max-timestamp", async () => {
      const maxTimestamp = Math.max(...consumed.map((record) => record.timestamp));
      const firstWithMax = consumed.find((record) => record.timestamp === maxTimestamp)!.offset;
      expect(await getOffsets(["--topic", "console", "--time", "-1"])).toEqual([{ topic: "console", partition: 0, offset: consumed.length }]);
      expect(await getOffsets(["--topic", "console", "--time", "-2"])).toEqual([{ topic: "console", partition: 0, offset: 0 }]);
      expect(await getOffsets(["--topic", "console", "--time", "-3"])).toEqual([{ topic: "console", partition: 0, offset: firstWithMax }]);
      expect(await getOffsets(["--topic-partitions", "console:0", "--time", "latest"])).toEqual([{ topic: "console", partition: 0, offset: consumed.length }]);
      expect(await getOffsets(["--topic-partitions", "console:0", "--time", "earliest"])).toEqual([{ topic: "console", partition: 0, offset: 0 }]);
      expect(await getOffsets(["--topic-partitions", "console:0", "--time", "max-timestamp"])).toEqual([
        { topic: "console", partition: 0, offset: firstWithMax },
      ]);
      // Every partition of a topic, and several topics at once.
      expect(await getOffsets(["--topic", "tools", "--time", "-1"])).toEqual([0, 1, 2].map((partition) => ({ topic: "tools", partition, offset: 0 })));
      expect(await getOffsets(["--topic-partitions", "tools:1,console:0", "--time", "-1"])).toEqual([
        { topic: "console", partition: 0, offset: consumed.length },
        { topic: "tools", partition: 1, offset: 0 },
      ]);
    });

    it("kafka-get-offsets --time <timestamp>: the first offset at or after it; nothing past the last", async () => {
      const probes = [...new Set(consumed.flatMap((record) => [record.timestamp - 1, record.timestamp, record.timestamp + 1]))];
      const maxTimestamp = Math.max(...consumed.map((record) => record.timestamp));
      for (const probe of probes) {
        const first = consumed.find((record) => record.timestamp >= probe);
        const answer = await getOffsets(["--topic", "console", "--time", String(probe)]);
        // GetOffsetShell leaves out partitions answered with offset -1 (no record that late).
        expect({ probe, answer }).toEqual({ probe, answer: first ? [{ topic: "console", partition: 0, offset: first.offset }] : [] });
      }
      expect(await getOffsets(["--topic", "console", "--time", String(maxTimestamp + 1)])).toEqual([]);
    });

    it("kafka-delete-records --offset-json-file, then --time -2 and the console consumer start at the low watermark", async () => {
      const file = join(broker.workDir, "delete-records.json");
      await writeFile(file, JSON.stringify({ partitions: [{ topic: "console", partition: 0, offset: 2 }], version: 1 }));
      const stdout = await ok(deleteRecordsCommand, ["--offset-json-file", file]);
      expect(stdout).toBe("Executing records delete operation\nRecords delete operation completed:\npartition: console-0\tlow_watermark: 2\n");
      expect(await getOffsets(["--topic", "console", "--time", "-2"])).toEqual([{ topic: "console", partition: 0, offset: 2 }]);
      expect(await getOffsets(["--topic", "console", "--time", "-1"])).toEqual([{ topic: "console", partition: 0, offset: consumed.length }]);
      // A timestamp before every record now answers the low watermark.
      expect(await getOffsets(["--topic", "console", "--time", String(consumed[0].timestamp)])).toEqual([{ topic: "console", partition: 0, offset: 2 }]);
      const fromEarliest = await consoleConsume("console", 0, "earliest", consumed.length - 2);
      expect(fromEarliest).toEqual(consumed.slice(2));
      // Past the end: refused per partition.
      await writeFile(file, JSON.stringify({ partitions: [{ topic: "console", partition: 0, offset: 1_000 }], version: 1 }));
      const past = await tool(deleteRecordsCommand, ["--offset-json-file", file]);
      expect(past.stdout).toContain("partition: console-0\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException");
    });
  });

  it("kafka-topics --delete removes the topic", async () => {
    expect(await ok(topicCommand, ["--delete", "--topic", "tools"])).toBe("");
    expect(lines(await ok(topicCommand, ["--list"]))).toEqual(["console"]);
    const gone = await tool(topicCommand, ["--describe", "--topic", "tools"]);
    expect(gone.code).toBe(1);
  });
});
