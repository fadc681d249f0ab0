// src/config: the .properties parser, broker config loading, topic configs, DescribeConfigs and topic
// names; and a cross-check of all of it against Kafka 4.4.0's own classes (sluice.kafka.ConfigReference
// in test/kafka), in one JVM run.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BrokerConfig, brokerSynonyms } from "../../src/config/broker.js";
import { javaDoubleToString, parseJavaDouble } from "../../src/config/defs.js";
import {
  AlterConfigOp,
  applyIncrementalAlter,
  brokerConfigKeys,
  ConfigError,
  type ConfigKey,
  ConfigSource,
  configurationReference,
  type DescribedConfig,
  describeBrokerConfigs,
  describeTopicConfigs,
  effectiveTopicConfig,
  loadBrokerConfig,
  parseProperties,
  parseValue,
  toLogConfig,
  toProduceValidationConfig,
  topicConfigKeys,
  topicNameCollides,
  validateTopicConfigs,
  validateTopicName,
} from "../../src/config/index.js";
import { runJavaTool } from "../helpers/kafka.js";

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const propertiesSample = [
  "# a comment",
  "! another",
  "   ",
  "a=1",
  "b = 2 ",
  "c:3",
  "d 4",
  "e\t=\t5",
  "f",
  "g=",
  "  h = x=y:z",
  "key\\ with\\:colon\\=eq = v",
  "tabs=\\t\\n\\r\\f\\\\",
  "unicode=caf\\u00e9 \\u2603",
  "other=\\q\\#",
  "long=one, \\",
  "     two, \\",
  "  three",
  "even=ends with two\\\\",
  "next=line",
  "#not=a value",
  "  # indented comment",
  "dup=first",
  "dup=second",
  "i::j",
  "k==l",
  "crlf=yes\r\nmac=cr\rlast=at eof\\",
].join("\n");

// More texts to read with Java's Properties.load too.
const propertiesTexts = [
  propertiesSample,
  "# comment \\\nx=1",
  "a\\\n\n  b=2",
  "\\ lead=1\n=empty key\n:also\nk\\=v=w",
  "x=1\\\n   # not a comment\ny=2",
  "bad=\\u12G4",
  "t=\\u00",
];

describe("parseProperties", () => {
  it("reads Java's separators, comments, escapes and continuations", () => {
    const text = propertiesSample;
    const map = parseProperties(text);
    expect(Object.fromEntries(map)).toEqual({
      a: "1",
      b: "2 ",
      c: "3",
      d: "4",
      e: "5",
      f: "",
      g: "",
      h: "x=y:z",
      "key with:colon=eq": "v",
      tabs: "\t\n\r\f\\",
      unicode: "café ☃",
      other: "q#",
      long: "one, two, three",
      even: "ends with two\\",
      next: "line",
      dup: "second",
      i: ":j",
      k: "=l",
      crlf: "yes",
      mac: "cr",
      last: "at eof",
    });
  });

  it("does not continue a comment line, and rejects a malformed \\u escape", () => {
    expect(Object.fromEntries(parseProperties("# comment \\\nx=1"))).toEqual({ x: "1" });
    expect(configError(() => parseProperties("x=\\u12G4")).message).toBe("Malformed \\uxxxx encoding.");
  });
});

describe("values", () => {
  const key = (name: string) => brokerConfigKeys.get(name) ?? topicConfigKeys.get(name)!;
  it("parse as ConfigDef does, with Kafka's messages", () => {
    expect(parseValue(key("num.network.threads"), " 05 ").value).toBe(5);
    expect(configError(() => parseValue(key("num.network.threads"), "abc")).message).toBe(
      "Invalid value abc for configuration num.network.threads: Not a number of type INT",
    );
    expect(configError(() => parseValue(key("num.network.threads"), "0")).message).toBe(
      "Invalid value 0 for configuration num.network.threads: Value must be at least 1",
    );
    const policy = configError(() => parseValue(key("cleanup.policy"), "delete,Compact"));
    expect(policy.key).toBe("cleanup.policy");
    expect(policy.message).toBe("Invalid value Compact for configuration cleanup.policy: String must be one of: compact, delete");
    expect(parseValue(key("cleanup.policy"), " compact , delete ").value).toEqual(["compact", "delete"]);
    expect(parseValue(key("retention.ms"), "9223372036854775807").text).toBe("9223372036854775807");
  });

  it("print doubles as Java does", () => {
    expect([0.5, 1, 1e10, 1e-4, 0.001, 1.7976931348623157e308, 100].map(javaDoubleToString)).toEqual([
      "0.5",
      "1.0",
      "1.0E10",
      "1.0E-4",
      "0.001",
      "1.7976931348623157E308",
      "100.0",
    ]);
    expect(parseJavaDouble("0x1p-2")).toBe(0.25);
    expect(parseJavaDouble("5.")).toBe(5);
    expect(parseJavaDouble("1d")).toBe(1);
    expect(parseJavaDouble("1e")).toBeNull();
  });
});

describe("loadBrokerConfig", () => {
  it("starts a single node on localhost:9092 with ./data without a file", () => {
    const { config, warnings } = loadBrokerConfig();
    expect(warnings).toEqual([]);
    expect(config.nodeId).toBe(1);
    expect(config.listeners).toEqual([{ name: "PLAINTEXT", host: "localhost", port: 9092, securityProtocol: "PLAINTEXT" }]);
    expect(config.advertisedListeners).toEqual(config.listeners);
    expect(config.logDirs).toEqual(["./data"]);
    expect(config.numPartitions).toBe(1);
    expect(config.logRetentionMs).toBe(604_800_000);
    expect(config.logFlushIntervalMs).toBe(Number("9223372036854775807"));
    expect(config.get("log.cleanup.policy")).toEqual(["delete"]);
    expect(config.originals["broker.id"]).toBe("1");
  });

  it("reads a file, then overrides; warns about unknown keys and keys it does not use", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-config-"));
    const file = join(dir, "server.properties");
    writeFileSync(
      file,
      [
        "process.roles=broker,controller",
        "node.id=3",
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093,V6://[::1]:9094",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,V6:PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "log.dir=/var/sluice",
        "log.retention.hours=24",
        "num.io.threads=8",
        "no.such.key=1",
        "listener.name.plaintext.ssl.engine.factory.class=x.Y",
      ].join("\n"),
    );
    const { config, warnings } = loadBrokerConfig({ file, overrides: ["log.retention.hours=48", "num.partitions = 3"], defaults: { "log.dirs": "./data" } });
    expect(config.nodeId).toBe(3);
    expect(config.logDirs).toEqual(["/var/sluice"]);
    expect(config.logRetentionMs).toBe(48 * 3_600_000);
    expect(config.numPartitions).toBe(3);
    expect(config.originals["log.retention.hours"]).toBe("48");
    expect(config.listeners.map((l) => [l.name, l.host, l.port])).toEqual([
      ["PLAINTEXT", "0.0.0.0", 9092],
      ["CONTROLLER", "0.0.0.0", 9093],
      ["V6", "::1", 9094],
    ]);
    expect(config.brokerListeners.map((l) => l.name)).toEqual(["PLAINTEXT", "V6"]);
    expect(config.advertisedListeners.map((l) => l.name)).toEqual(["PLAINTEXT", "V6"]);
    expect(config.advertisedListeners[0].host).not.toBe("");
    expect(warnings).toContain("Unknown configuration 'no.such.key' (not a Kafka 4.4 broker config): ignored.");
    expect(warnings).toContain("The configuration 'listener.name.plaintext.ssl.engine.factory.class' was supplied but is not used by Sluice.");
    expect(warnings.find((w) => w.startsWith("Accepted but not used"))).toContain("num.io.threads");
  });

  it("counts the group coordinator's keys as used (src/coordinator/group/config.ts reads them)", () => {
    const keys = ["group.initial.rebalance.delay.ms=0", "group.consumer.heartbeat.interval.ms=1000", "offsets.topic.num.partitions=3"];
    const { warnings } = loadBrokerConfig({ overrides: [...keys, "num.io.threads=4"] });
    const unused = warnings.find((w) => w.startsWith("Accepted but not used"));
    expect(unused).toContain("num.io.threads");
    for (const key of keys) expect(unused).not.toContain(key.split("=")[0]);
  });

  it("fails with a message naming the key and what is allowed", () => {
    const bad = (overrides: string[], defaults?: Record<string, string>) => configError(() => loadBrokerConfig({ overrides, defaults }));
    expect(bad(["num.network.threads=abc"]).message).toBe("Invalid value abc for configuration num.network.threads: Not a number of type INT");
    expect(bad(["log.cleanup.policy=remove"]).key).toBe("log.cleanup.policy");
    expect(bad(["log.message.timestamp.type=Now"]).message).toBe(
      "Invalid value Now for configuration log.message.timestamp.type: String must be one of: CreateTime, LogAppendTime",
    );
    expect(bad(["auto.create.topics.enable=yes"]).message).toBe(
      "Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false",
    );
    expect(bad(["listeners=localhost:9092"]).message).toContain("Unable to parse localhost:9092 to a broker endpoint");
    expect(bad(["listeners=PLAINTEXT://:9092,PLAINTEXT://:9093"]).message).toContain("Each listener must have a different name");
    expect(bad(["advertised.listeners=OTHER://h:1", "listener.security.protocol.map=OTHER:PLAINTEXT,PLAINTEXT:PLAINTEXT"]).key).toBe("advertised.listeners");
    expect(bad(["nonsense"]).message).toBe('Invalid --override "nonsense": expected key=value');
    expect(bad([], { "process.roles": "broker" }).message).toBe('Missing required configuration "node.id" which has no default value.');
  });
});

describe("topic configs", () => {
  const broker = new BrokerConfig({
    "process.roles": "broker",
    "node.id": "1",
    "log.dirs": "/d",
    "log.retention.hours": "24",
    "log.segment.bytes": "2000000",
    "log.cleanup.policy": "compact",
  });

  it("take the topic's overrides, else the broker's synonyms, else Kafka's defaults", () => {
    const topic = effectiveTopicConfig({ "retention.ms": "1000", "message.timestamp.type": "LogAppendTime" }, broker);
    expect(topic.retentionMs).toBe(1000);
    expect(topic.segmentBytes).toBe(2_000_000);
    expect(topic.cleanupPolicy).toEqual(["compact"]);
    expect(topic.segmentMs).toBe(604_800_000);
    expect(topic.maxMessageBytes).toBe(1_048_588);
    expect(effectiveTopicConfig({}, broker).retentionMs).toBe(86_400_000);
    expect(effectiveTopicConfig({}, new BrokerConfig({ "process.roles": "broker", "node.id": "1", "log.retention.hours": "-1" })).retentionMs).toBe(-1);
    expect(toLogConfig(topic)).toEqual({
      segmentBytes: 2_000_000,
      segmentMs: 604_800_000,
      segmentJitterMs: 0,
      segmentIndexBytes: 10_485_760,
      indexIntervalBytes: 4096,
      flushMessages: Number("9223372036854775807"),
      flushMs: Number("9223372036854775807"),
      retentionMs: 1000,
      retentionBytes: -1,
      messageTimestampType: "LogAppendTime",
      fileDeleteDelayMs: 60_000,
    });
    expect(toProduceValidationConfig(topic)).toEqual({
      maxMessageBytes: 1_048_588,
      segmentBytes: 2_000_000,
      timestampType: "LogAppendTime",
      timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
      timestampAfterMaxMs: 3_600_000,
      compacted: true,
    });
  });

  it("reject unknown names and invalid values", () => {
    expect(configError(() => validateTopicConfigs({ "retention.hours": "1" })).message).toBe("Unknown topic config name: retention.hours");
    expect(configError(() => validateTopicConfigs({ "segment.bytes": "100" })).message).toBe(
      "Invalid value 100 for configuration segment.bytes: Value must be at least 1048576",
    );
    expect(configError(() => validateTopicConfigs({ "min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5" })).message).toBe(
      "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)",
    );
  });

  it("apply IncrementalAlterConfigs operations with Kafka's rules", () => {
    const { SET, DELETE, APPEND, SUBTRACT } = AlterConfigOp;
    expect(
      applyIncrementalAlter({ "retention.ms": "5" }, [
        { name: "retention.ms", op: DELETE, value: null },
        { name: "segment.ms", op: SET, value: "1000" },
        { name: "cleanup.policy", op: APPEND, value: "compact" },
      ]),
    ).toEqual({ "segment.ms": "1000", "cleanup.policy": "delete,compact" });
    expect(applyIncrementalAlter({ "cleanup.policy": "delete,compact" }, [{ name: "cleanup.policy", op: SUBTRACT, value: "delete" }])).toEqual({
      "cleanup.policy": "compact",
    });
    expect(applyIncrementalAlter({}, [{ name: "leader.replication.throttled.replicas", op: APPEND, value: "0:1,1:1" }])).toEqual({
      "leader.replication.throttled.replicas": "0:1,1:1",
    });
    const notList = configError(() => applyIncrementalAlter({}, [{ name: "retention.ms", op: APPEND, value: "1" }]));
    expect([notList.error, notList.message]).toEqual(["INVALID_CONFIG", "Can't APPEND to key retention.ms because its type is not LIST."]);
    const twice = configError(() =>
      applyIncrementalAlter({}, [
        { name: "retention.ms", op: SET, value: "1" },
        { name: "retention.ms", op: DELETE, value: null },
      ]),
    );
    expect(twice.error).toBe("INVALID_REQUEST");
    expect(configError(() => applyIncrementalAlter({}, [{ name: "cleanup.policy", op: APPEND, value: "shred" }])).message).toBe(
      "Invalid value shred for configuration cleanup.policy: String must be one of: compact, delete",
    );
  });

  it("describe sources and synonyms", () => {
    const opts = { includeSynonyms: true, includeDocumentation: false };
    const byName = new Map(describeTopicConfigs({ "retention.ms": "1000" }, broker, null, opts).map((entry) => [entry.name, entry]));
    expect(byName.get("retention.ms")).toMatchObject({
      value: "1000",
      configSource: ConfigSource.TOPIC_CONFIG,
      synonyms: [{ name: "retention.ms", value: "1000", source: ConfigSource.TOPIC_CONFIG }],
    });
    expect(byName.get("segment.bytes")).toMatchObject({
      value: "2000000",
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
      synonyms: [
        { name: "log.segment.bytes", value: "2000000", source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: "log.segment.bytes", value: "1073741824", source: ConfigSource.DEFAULT_CONFIG },
      ],
    });
    expect(byName.has("internal.segment.bytes")).toBe(false);
    expect(describeTopicConfigs({}, broker, ["segment.ms", "nope"], opts).map((entry) => entry.name)).toEqual(["segment.ms"]);
    expect(brokerSynonyms(broker, "log.retention.hours", false).map((s) => [s.value, s.source])).toEqual([
      ["24", ConfigSource.STATIC_BROKER_CONFIG],
      ["168", ConfigSource.DEFAULT_CONFIG],
    ]);
  });
});

describe("topic names", () => {
  it("follow Topic.validate", () => {
    expect(validateTopicName("orders.v1_x-2")).toBeNull();
    expect(validateTopicName("a".repeat(249))).toBeNull();
    expect(validateTopicName("x y")).toBe("Topic name is invalid: 'x y' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'");
    expect(validateTopicName("..")).toBe("Topic name is invalid: '..' is not allowed");
    expect(topicNameCollides("a.b", "a_b")).toBe(true);
    expect(topicNameCollides("ab", "a_b")).toBe(false);
  });
});

describe("docs/configuration.md", () => {
  it("is current (UPDATE_DOCS=1 rewrites it)", () => {
    const path = new URL("../../docs/configuration.md", import.meta.url);
    const expected = configurationReference();
    if (process.env.UPDATE_DOCS === "1") writeFileSync(path, expected);
    expect(readFileSync(path, "utf8")).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Against Kafka 4.4.0

interface KafkaKey {
  name: string;
  type: string;
  hasDefault: boolean;
  default?: string | null;
  validator: string | null;
  importance: string;
  documentation: string | null;
  internal: boolean;
  dynamic?: boolean;
  synonyms?: string[];
  allSynonyms?: { name: string; converts60: string }[];
}

interface KafkaDescribe {
  error?: string;
  errorCode?: number;
  configs?: (Omit<DescribedConfig, "isDefault"> & { documentation: string | null })[];
}

interface KafkaAnswers {
  defs: { broker: KafkaKey[]; topic: KafkaKey[] };
  parse: ({ value: string } | { error: string })[];
  describe: KafkaDescribe[];
  brokerConfigs: (string | null)[];
  topicConfigs: (string | null)[];
  topicNames: (string | null)[];
  collisions: boolean[];
  properties: ({ map: Record<string, string> } | { error: string })[];
}

// A configuration Kafka itself accepts (it needs its controller settings), and Sluice too.
const kafkaBase: Record<string, string> = {
  "process.roles": "broker,controller",
  "node.id": "1",
  "controller.quorum.bootstrap.servers": "127.0.0.1:9093",
  listeners: "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
  "controller.listener.names": "CONTROLLER",
  "log.dirs": "/tmp/sluice-never-used",
};

const servers: Record<string, string>[] = [
  kafkaBase,
  {
    ...kafkaBase,
    "log.retention.hours": "24",
    "log.segment.bytes": " 2000000",
    "log.cleanup.policy": "compact, delete",
    "ssl.key.password": "secret",
    "foo.bar": "baz",
    "message.max.bytes": "2000000",
    "log.roll.ms": "1000",
    "log.flush.interval.ms": "500",
    "unstable.api.versions.enable": "true",
    "min.insync.replicas": "2",
    "compression.type": "gzip",
    "log.message.timestamp.type": "LogAppendTime",
    "log.cleaner.min.cleanable.ratio": "0.25",
    "advertised.listeners": "PLAINTEXT://example.com:9092",
  },
  { ...kafkaBase, "log.retention.minutes": "5", "log.roll.jitter.hours": "1", "log.retention.bytes": "1000000", "broker.id": "1" },
];

const topicOverrides: Record<string, string>[] = [
  {},
  {
    "retention.ms": "1000",
    "cleanup.policy": "compact,delete",
    "segment.bytes": " 2000000 ",
    "max.message.bytes": "5000",
    "internal.segment.bytes": "100",
    "min.cleanable.dirty.ratio": "1",
    "leader.replication.throttled.replicas": "0:1, 1:1",
    "message.timestamp.before.max.ms": "9223372036854775807",
  },
];

interface DescribeCase {
  server: Record<string, string>;
  topicConfigs?: Record<string, string>;
  resourceType: 2 | 4;
  resourceName: string;
  keys: string[] | null;
  includeSynonyms: boolean;
  includeDocumentation: boolean;
}

const describeCases: DescribeCase[] = [
  ...servers.flatMap((server): DescribeCase[] => [
    { server, resourceType: 4, resourceName: "1", keys: null, includeSynonyms: true, includeDocumentation: true },
    ...topicOverrides.map(
      (topicConfigs): DescribeCase => ({
        server,
        topicConfigs,
        resourceType: 2,
        resourceName: "t",
        keys: null,
        includeSynonyms: true,
        includeDocumentation: true,
      }),
    ),
  ]),
  {
    server: servers[1],
    resourceType: 4,
    resourceName: "1",
    keys: ["log.retention.hours", "nope", "ssl.key.password"],
    includeSynonyms: false,
    includeDocumentation: false,
  },
  { server: servers[1], resourceType: 4, resourceName: "1", keys: [], includeSynonyms: false, includeDocumentation: false },
  {
    server: servers[1],
    topicConfigs: topicOverrides[1],
    resourceType: 2,
    resourceName: "t",
    keys: ["retention.ms", "segment.ms"],
    includeSynonyms: false,
    includeDocumentation: false,
  },
];

// Values to try on every key: number edges, types, lists, the key's own default.
const sampleValues = [
  "",
  " ",
  "abc",
  "-2",
  "-1",
  "0",
  "1",
  " 7 ",
  "+5",
  "1.5",
  "5.",
  "1e3",
  "2147483647",
  "2147483648",
  "32768",
  "9223372036854775807",
  "9223372036854775808",
  "true",
  "FALSE",
  "delete,compact",
  "compact,,delete",
  "delete, delete",
  "gzip",
  "CreateTime",
  "*",
  "0:1,2:3",
  "broker",
  "PLAINTEXT://:9092",
  "1@localhost:9093",
  "localhost:9093",
  "x y",
];

function sampleParses(scope: "broker" | "topic", keys: ReadonlyMap<string, ConfigKey>) {
  const items: { scope: string; name: string; value: string }[] = [];
  for (const key of keys.values()) {
    // Kafka loads CLASS values; Sluice checks their form only: compare the default and a non-name.
    const values = key.type === "CLASS" ? ["not a class"] : [...sampleValues];
    if (key.defaultValue) values.push(key.defaultValue);
    for (const value of values) items.push({ scope, name: key.name, value });
  }
  return items;
}

const parseItems = [...sampleParses("broker", brokerConfigKeys), ...sampleParses("topic", topicConfigKeys)];

const brokerConfigCases: Record<string, string>[] = [
  { ...kafkaBase, "num.network.threads": "abc" },
  { ...kafkaBase, "log.retention.ms": "x" },
  { ...kafkaBase, "num.partitions": "0" },
  { ...kafkaBase, "log.cleanup.policy": "shred" },
  { ...kafkaBase, "process.roles": "worker" },
  Object.fromEntries(Object.entries(kafkaBase).filter(([key]) => key !== "node.id")),
  Object.fromEntries(Object.entries(kafkaBase).filter(([key]) => key !== "process.roles")),
];

const topicConfigCases: Record<string, string>[] = [
  { foo: "1" },
  { "retention.ms": "x" },
  { "retention.ms": "-2" },
  { "segment.bytes": "100" },
  { "min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5" },
  { "cleanup.policy": "" },
  { "cleanup.policy": "compact,shred" },
  { "compression.type": "none" },
  { "compression.gzip.level": "0" },
  { "compression.zstd.level": "23" },
  { "message.timestamp.type": "x" },
  { "min.cleanable.dirty.ratio": "1.5" },
  { "leader.replication.throttled.replicas": "0-1" },
  { "retention.ms": "1000", "segment.ms": "1000", preallocate: "TRUE" },
];

const topicNames = ["", ".", "..", "...", "a b", "é", "a".repeat(249), "a".repeat(250), "ok-topic_1.x", "__consumer_offsets", "tab\t"];
const collisionPairs: [string, string][] = [
  ["a.b", "a_b"],
  ["a.b", "a.b"],
  ["ab", "a_b"],
  ["a_b.c", "a.b_c"],
];

describe("against Kafka 4.4.0", () => {
  let kafka: KafkaAnswers;

  beforeAll(async () => {
    const request = {
      defs: true,
      parse: parseItems,
      describe: describeCases,
      brokerConfigs: brokerConfigCases,
      topicConfigs: topicConfigCases,
      topicNames,
      collisions: collisionPairs,
      properties: propertiesTexts,
    };
    const run = await runJavaTool("sluice.kafka.ConfigReference", [], { quickStart: true, input: JSON.stringify(request), logLevel: "ERROR" });
    if (run.code !== 0) throw new Error(`ConfigReference failed (${run.code}):\n${run.stderr}`);
    kafka = JSON.parse(run.stdout) as KafkaAnswers;
  });

  function compareKeys(ours: ReadonlyMap<string, ConfigKey>, theirs: KafkaKey[], scope: "broker" | "topic") {
    expect([...ours.keys()].sort()).toEqual(theirs.map((key) => key.name).sort());
    for (const key of theirs) {
      const our = ours.get(key.name)!;
      expect(
        {
          name: our.name,
          type: our.type,
          default: our.defaultValue,
          validator: our.validator?.description ?? null,
          importance: our.importance,
          internal: our.internal,
          ...(scope === "broker" ? { dynamic: our.dynamic, synonyms: our.synonyms } : { synonyms: our.synonyms }),
        },
        key.name,
      ).toEqual({
        name: key.name,
        type: key.type,
        default: key.hasDefault ? key.default : undefined,
        validator: key.validator,
        importance: key.importance,
        internal: key.internal,
        ...(scope === "broker" ? { dynamic: key.dynamic, synonyms: key.synonyms } : { synonyms: key.allSynonyms?.map((s) => s.name) }),
      });
      // The hours and minutes synonyms convert to ms; every other converter is the identity.
      for (const synonym of key.allSynonyms ?? []) {
        const factor = synonym.name.endsWith(".hours") ? 3_600_000 : synonym.name.endsWith(".minutes") ? 60_000 : 1;
        expect(synonym.converts60, synonym.name).toBe(String(60 * factor));
      }
    }
  }

  it("has every broker key with Kafka's type, default, validator, importance, dynamic flag and synonyms", () => {
    compareKeys(brokerConfigKeys, kafka.defs.broker, "broker");
  });

  it("has every topic key with Kafka's type, default, validator, importance and broker synonyms", () => {
    compareKeys(topicConfigKeys, kafka.defs.topic, "topic");
  });

  it(`parses and validates ${parseItems.length} values exactly as Kafka does`, () => {
    const mismatches: string[] = [];
    parseItems.forEach((item, index) => {
      const key = (item.scope === "topic" ? topicConfigKeys : brokerConfigKeys).get(item.name)!;
      let ours: { value: string } | { error: string };
      try {
        const parsed = parseValue(key, item.value);
        ours = { value: key.type === "PASSWORD" ? "[hidden]" : (parsed.text ?? "null") };
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        ours = { error: error.message };
      }
      const theirs = kafka.parse[index];
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        mismatches.push(`${item.scope} ${item.name}=${JSON.stringify(item.value)}: ours ${JSON.stringify(ours)}, Kafka ${JSON.stringify(theirs)}`);
      }
    });
    expect(mismatches).toEqual([]);
  });

  it("describes brokers and topics as Kafka's ConfigHelper does", () => {
    describeCases.forEach((request, index) => {
      const theirs = kafka.describe[index];
      expect(theirs.error, JSON.stringify(request)).toBeUndefined();
      const config = new BrokerConfig(request.server);
      const opts = { includeSynonyms: request.includeSynonyms, includeDocumentation: request.includeDocumentation };
      const ours =
        request.resourceType === 4
          ? describeBrokerConfigs(config, request.keys, opts)
          : describeTopicConfigs(request.topicConfigs ?? {}, config, request.keys, opts);
      const normalise = (entries: Omit<DescribedConfig, "isDefault">[]) =>
        Object.fromEntries(
          entries.map(({ name, value, readOnly, configSource, isSensitive, synonyms, configType, documentation }) => [
            name,
            { value, readOnly, configSource, isSensitive, synonyms, configType, documented: documentation !== null },
          ]),
        );
      const label = `case ${index}: ${request.resourceType === 4 ? "broker" : `topic ${JSON.stringify(request.topicConfigs)}`}`;
      expect(normalise(ours), label).toEqual(normalise(theirs.configs ?? []));
      for (const entry of ours) expect(entry.isDefault).toBe(entry.configSource === ConfigSource.DEFAULT_CONFIG);
    });
  });

  it("rejects broker configs with Kafka's messages", () => {
    brokerConfigCases.forEach((originals, index) => {
      let ours: string | null = null;
      try {
        new BrokerConfig(originals);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        ours = error.message;
      }
      expect(ours, JSON.stringify(originals)).toBe(kafka.brokerConfigs[index]);
    });
  });

  it("rejects topic configs with Kafka's messages", () => {
    topicConfigCases.forEach((entries, index) => {
      let ours: string | null = null;
      try {
        validateTopicConfigs(entries);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        ours = error.message;
      }
      expect(ours, JSON.stringify(entries)).toBe(kafka.topicConfigs[index]);
    });
  });

  it("reads .properties text as java.util.Properties.load does", () => {
    const ours = propertiesTexts.map((text) => {
      try {
        return { map: Object.fromEntries([...parseProperties(text)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    });
    expect(ours).toEqual(kafka.properties);
  });

  it("validates topic names and collisions as Kafka does", () => {
    expect(topicNames.map(validateTopicName)).toEqual(kafka.topicNames);
    expect(collisionPairs.map(([a, b]) => topicNameCollides(a, b))).toEqual(kafka.collisions);
  });
});
