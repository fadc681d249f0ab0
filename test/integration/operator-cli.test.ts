// The operator CLI (`node bin/sluice topic|group|produce|consume|cluster|config …`) against a real
// Sluice broker, every command with its human and --json output: topics created (with configs,
// duplicates refused with Kafka's error name), listed, described with their offsets, altered and
// deleted; records produced from stdin and files (keys, headers, null markers, JSON lines, every
// codec) landing on the partitions Kafka's default partitioner picks, and consumed back from
// offsets, from a time, by partition, as text, hex and kcat -J lines; a group consuming and
// committing, described with its lag, reset (dry run and --execute, refused while a member is
// active), deleted; broker and topic configs read and changed; errors as `Error: NAME: message`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionForKey } from "../../src/client/partitioner.js";
import { groupMember, jsonLines, type KcatRecord, type Run, sluice, sluiceOk, tableRows, waitForGroupState } from "../helpers/cli.js";
import { TestClient } from "../helpers/client.js";
import { freePort } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

/** A record as `sluice consume --json` prints it: kcat -J's fields. */
type JsonRecord = KcatRecord;

let broker: SluiceBroker;
let bootstrap: string;
let workDir: string;

const ok = (args: string[], input = "") => sluiceOk(bootstrap, args, input);
const cli = (args: string[], input = ""): Promise<Run> => sluice(bootstrap, args, input);

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "sluice-operator-cli-"));
  broker = await startSluice({ overrides: { "group.initial.rebalance.delay.ms": 0, "num.partitions": 2 } });
  bootstrap = broker.bootstrap;
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("cluster and topics", () => {
  it("cluster info names the cluster, the controller and the broker", async () => {
    const info = JSON.parse(await ok(["cluster", "info", "--json"]));
    expect(info.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(info.controllerId).toBe(1);
    expect(info.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: broker.port, rack: null }]);
    const human = await ok(["cluster", "info"]);
    expect(human).toContain(`Cluster ID: ${info.clusterId}\nController: 1\n`);
    expect(tableRows(human).slice(2)).toEqual([
      ["BROKER", "HOST:PORT", "RACK", "CONTROLLER"],
      ["1", `127.0.0.1:${broker.port}`, "-", "yes"],
    ]);
  });

  it("topic create takes partitions and configs, the broker's defaults otherwise, and refuses a duplicate with Kafka's error", async () => {
    expect(await ok(["topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=86400000"])).toBe("Created topic orders.\n");
    const created = JSON.parse(await ok(["topics", "create", "defaults", "--json"]));
    expect(created).toMatchObject({ topic: "defaults", partitions: 2, replicationFactor: 1, created: true });
    const duplicate = await cli(["topic", "create", "orders", "--partitions", "3"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe("Error: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.\n");
    expect((await cli(["topic", "create", "orders", "--if-not-exists"])).code).toBe(0);
    const invalid = await cli(["topic", "create", "bad", "--config", "retention.ms=soon"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^Error: INVALID_CONFIG: /);
  });

  it("topic list and describe show partitions, leaders, configs and offsets", async () => {
    expect(tableRows(await ok(["topic", "list", "--exclude-internal"]))).toEqual([
      ["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"],
      ["defaults", "2", "1"],
      ["orders", "3", "1"],
    ]);
    const described = (await ok(["topic", "describe", "orders"])).split("\n");
    expect(described[0]).toMatch(/^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention\.ms=86400000$/);
    expect(described.slice(1, 4)).toEqual(
      [0, 1, 2].map((p) => `\tTopic: orders\tPartition: ${p}\tLeader: 1\tReplicas: 1\tIsr: 1\tLogStartOffset: 0\tLogEndOffset: 0`),
    );
    const missing = await cli(["topic", "describe", "no-such-topic"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("Error: UNKNOWN_TOPIC_OR_PARTITION: Topic 'no-such-topic' does not exist.\n");
  });

  it("topic alter-config sets and deletes overrides (IncrementalAlterConfigs)", async () => {
    expect(await ok(["topic", "alter-config", "defaults", "--set", "retention.ms=5000000", "--set", "max.message.bytes=2000000"])).toBe(
      "Completed updating config for topic defaults.\n",
    );
    let [described] = JSON.parse(await ok(["topic", "describe", "defaults", "--json"]));
    expect(described.configs).toEqual({ "retention.ms": "5000000", "max.message.bytes": "2000000" });
    await ok(["topic", "alter-config", "defaults", "--delete", "max.message.bytes"]);
    [described] = JSON.parse(await ok(["topic", "describe", "defaults", "--json"]));
    expect(described.configs).toEqual({ "retention.ms": "5000000" });
    const refused = await cli(["topic", "alter-config", "defaults", "--set", "cleanup.policy=sideways"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: INVALID_CONFIG: /);
  });
});

describe("produce and consume", () => {
  const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);

  it("keyed lines go to the partitions Kafka's default partitioner (murmur2) picks, with their offsets reported", async () => {
    const input = keys.map((key, i) => `${key}:value-${i}`).join("\n");
    const summary = JSON.parse(await ok(["produce", "-t", "orders", "-K", ":", "--json"], input));
    const expected = [0, 1, 2].map((p) => keys.filter((key) => partitionForKey(Buffer.from(key), 3) === p).length);
    expect(summary.records).toBe(30);
    expect(summary.partitions).toEqual(
      expected.map((count, partition) => ({ partition, records: count, firstOffset: 0, lastOffset: count - 1 })).filter((p) => p.records > 0),
    );
    const consumed = jsonLines<JsonRecord>(await ok(["consume", "-t", "orders", "--format", "json"]));
    expect(consumed).toHaveLength(30);
    for (const record of consumed) {
      expect(record.partition).toBe(partitionForKey(Buffer.from(record.key as string), 3));
      expect(record.payload).toBe(`value-${record.key?.slice(4)}`);
      expect(Object.keys(record)).toEqual(["topic", "partition", "offset", "tstype", "ts", "broker", "key", "payload"]);
      expect(record).toMatchObject({ topic: "orders", tstype: "create", broker: 1 });
    }
    const ends = JSON.parse(await ok(["topic", "describe", "orders", "--json"]))[0].partitions.map((p: { logEndOffset: number }) => p.logEndOffset);
    expect(ends).toEqual(expected);
  });

  it("headers, null markers and a file; text, hex and kcat -J output", async () => {
    await ok(["topic", "create", "shapes", "-p", "1"]);
    const file = join(workDir, "shapes.txt");
    await writeFile(file, "h1:a,h2:b\tk1\tv1\n\tk2\tNULL\n\tNULL\tv3\n");
    await ok(["produce", "-t", "shapes", "-f", file, "--parse-headers", "-K", "\\t", "--null-marker", "NULL", "-H", "source=cli"]);
    const records = jsonLines<JsonRecord>(await ok(["consume", "-t", "shapes", "--json"]));
    expect(records.map(({ offset, headers, key, payload }) => ({ offset, headers, key, payload }))).toEqual([
      { offset: 0, headers: ["h1", "a", "h2", "b", "source", "cli"], key: "k1", payload: "v1" },
      { offset: 1, headers: ["source", "cli"], key: "k2", payload: null },
      { offset: 2, headers: ["source", "cli"], key: null, payload: "v3" },
    ]);
    expect(await ok(["consume", "-t", "shapes"])).toBe("v1\nnull\nv3\n");
    expect(await ok(["consume", "-t", "shapes", "-K", "="])).toBe("k1=v1\nk2=null\nnull=v3\n");
    expect(await ok(["consume", "-t", "shapes", "--format", "hex", "-c", "1"])).toBe(`${Buffer.from("v1").toString("hex")}\n`);
    const noSeparator = await cli(["produce", "-t", "shapes", "-K", ":"], "no separator here\n");
    expect(noSeparator.code).toBe(1);
    expect(noSeparator.stderr).toBe("Error: No key separator found on line number 1: 'no separator here'\n");
  });

  it("every compression codec round-trips, JSON lines keep partitions and timestamps", async () => {
    await ok(["topic", "create", "codecs", "-p", "2"]);
    for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
      const lines = [0, 1, 2].map((i) =>
        JSON.stringify({ key: `${codec}-${i}`, payload: `${codec} payload ${i}`, partition: i % 2, ts: 1_600_000_000_000 + i }),
      );
      await ok(["produce", "-t", "codecs", "--format", "json", "-z", codec], `${lines.join("\n")}\n`);
    }
    const records = jsonLines<JsonRecord>(await ok(["consume", "-t", "codecs", "--json"]));
    expect(records).toHaveLength(15);
    for (const record of records) {
      const i = Number(record.key?.split("-")[1]);
      expect(record.partition).toBe(i % 2);
      expect(record.ts).toBe(1_600_000_000_000 + i);
      expect(record.payload).toBe(`${record.key?.split("-")[0]} payload ${i}`);
    }
  });

  it("consume from an offset, from the end, from a time, one partition, a count", async () => {
    await ok(["topic", "create", "timeline", "-p", "1"]);
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ key: null, payload: `r${i}`, ts: Date.UTC(2024, 0, 1, 0, i) }));
    await ok(["produce", "-t", "timeline", "--format", "json"], lines.join("\n"));
    const values = async (args: string[]) => (await ok(["consume", "-t", "timeline", ...args])).split("\n").filter((v) => v !== "");
    expect(await values(["-o", "7"])).toEqual(["r7", "r8", "r9"]);
    expect(await values(["-o", "-2"])).toEqual(["r8", "r9"]);
    expect(await values(["-o", "latest"])).toEqual([]);
    expect(await values(["--from-time", "2024-01-01T00:05:00Z"])).toEqual(["r5", "r6", "r7", "r8", "r9"]);
    expect(await values(["--from-time", String(Date.UTC(2024, 0, 1, 0, 8, 30))])).toEqual(["r9"]);
    expect(await values(["-p", "0", "-c", "3"])).toEqual(["r0", "r1", "r2"]);
    const noPartition = await cli(["consume", "-t", "timeline", "-p", "4"]);
    expect(noPartition.code).toBe(1);
    expect(noPartition.stderr).toBe("Error: UNKNOWN_TOPIC_OR_PARTITION: Topic 'timeline' has no partition 4 (it has 1).\n");
  });
});

describe("groups", () => {
  const describeRows = async (group: string) => tableRows(await ok(["group", "describe", group])).filter((row) => row[0] === group);

  it("consume --group commits what it printed; describe shows offsets and lag", async () => {
    await ok(["topic", "create", "events", "-p", "2"]);
    await ok(["produce", "-t", "events", "-p", "0"], "a\nb\nc\nd\n");
    await ok(["produce", "-t", "events", "-p", "1"], "e\nf\n");
    expect((await ok(["consume", "-t", "events", "-g", "readers"])).split("\n").filter(Boolean).sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
    await ok(["produce", "-t", "events", "-p", "1"], "g\n");
    expect(await describeRows("readers")).toEqual([
      ["readers", "events", "0", "4", "4", "0", "-", "-", "-"],
      ["readers", "events", "1", "2", "3", "1", "-", "-", "-"],
    ]);
    // A second run starts from the committed offsets.
    expect(await ok(["consume", "-t", "events", "-g", "readers"])).toBe("g\n");
    const [json] = JSON.parse(await ok(["group", "describe", "readers", "--json"]));
    expect(json).toMatchObject({ groupId: "readers", state: "Empty", protocolType: "consumer", members: [] });
    expect(json.offsets.map((o: { lag: number }) => o.lag)).toEqual([0, 0]);
    const listed = JSON.parse(await ok(["group", "list", "--json"]));
    expect(listed).toContainEqual({ groupId: "readers", protocolType: "consumer", state: "Empty", type: "classic" });
  });

  it("reset-offsets prints the plan, commits it with --execute, and stays within the log", async () => {
    const plan = tableRows(await ok(["group", "reset-offsets", "readers", "--topic", "events", "--to-earliest"]));
    expect(plan).toEqual([
      ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
      ["readers", "events", "0", "0"],
      ["readers", "events", "1", "0"],
    ]);
    expect((await describeRows("readers")).map((row) => row[3])).toEqual(["4", "3"]); // a dry run changed nothing
    await ok(["group", "reset-offsets", "readers", "--topic", "events:0", "--shift-by", "-3", "--execute"]);
    await ok(["group", "reset-offsets", "readers", "--topic", "events:1", "--to-offset", "99", "--execute"]);
    expect((await describeRows("readers")).map((row) => [row[3], row[5]])).toEqual([
      ["1", "3"],
      ["3", "0"],
    ]);
    expect(await ok(["consume", "-t", "events", "-g", "readers"])).toBe("b\nc\nd\n");
    const executed = JSON.parse(await ok(["group", "reset-offsets", "readers", "--all-topics", "--to-latest", "--execute", "--json"]));
    expect(executed).toEqual({
      group: "readers",
      executed: true,
      offsets: [
        { topic: "events", partition: 0, offset: 4 },
        { topic: "events", partition: 1, offset: 3 },
      ],
    });
  });

  it("reset-offsets is refused while the group has a member, which leaves on SIGTERM", async () => {
    const { child: member, exited } = groupMember("events", "live", bootstrap);
    try {
      const state = await waitForGroupState(cli, "live", "Stable");
      expect(state, "the CLI's member joined the group").toBe("Stable");
      const members = tableRows(await ok(["group", "describe", "live", "--members"]));
      expect(members[1]?.slice(3)).toEqual(["sluice-cli", "2", "events(0,1)"]);
      const refused = await cli(["group", "reset-offsets", "live", "--topic", "events", "--to-earliest", "--execute"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe("Error: Assignments can only be reset if the group 'live' is inactive, but the current state is Stable.\n");
      member.kill("SIGTERM");
      expect(await exited, "the member exits cleanly on SIGTERM").toBe(0);
      expect(JSON.parse(await ok(["group", "describe", "live", "--json"]))[0].state, "it left the group").toBe("Empty");
    } finally {
      member.kill("SIGKILL");
    }
  });

  it("describe shows a KIP-848 consumer group (ConsumerGroupDescribe) with its members' assignments and refuses to reset it", async () => {
    // A consumer-protocol member joins with ConsumerGroupHeartbeat, as a Java consumer with
    // group.protocol=consumer does; the broker's server-side assignor gives it both partitions.
    const client = await TestClient.connect(broker.port);
    try {
      const join = () =>
        client.request<{ errorCode: number; memberId: string; memberEpoch: number }>(68, 1, {
          groupId: "kip848",
          memberId: "kip848-member-1",
          memberEpoch: 0,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: 30_000,
          subscribedTopicNames: ["events"],
          subscribedTopicRegex: null,
          serverAssignor: null,
          topicPartitions: [],
        });
      // FindCoordinator creates __consumer_offsets; its shards answer COORDINATOR_LOAD_IN_PROGRESS
      // (or NOT_AVAILABLE) until they have loaded, as a client retries.
      await client.request(10, 4, { keyType: 0, coordinatorKeys: ["kip848"] });
      let joined = await join();
      for (let attempt = 0; attempt < 100 && (joined.errorCode === 14 || joined.errorCode === 15); attempt++) {
        await new Promise((wake) => setTimeout(wake, 100));
        joined = await join();
      }
      expect(joined.errorCode).toBe(0);
      const [json] = JSON.parse(await ok(["group", "describe", "kip848", "--json", "--members"]));
      expect(json).toMatchObject({ groupId: "kip848", protocolType: "consumer", protocol: "uniform" });
      expect(["Stable", "Reconciling", "Assigning"]).toContain(json.state);
      expect(json.members).toEqual([
        expect.objectContaining({
          memberId: "kip848-member-1",
          clientId: "sluice-test",
          assignment: { assignedPartitions: [{ topic: "events", partitions: [0, 1] }], userData: null },
        }),
      ]);
      const members = tableRows(await ok(["group", "describe", "kip848", "--members"]));
      expect(members[1]?.slice(3)).toEqual(["sluice-test", "2", "events(0,1)"]);
      const refused = await cli(["group", "reset-offsets", "kip848", "--topic", "events", "--to-earliest", "--execute"]);
      expect(refused.stderr).toBe(`Error: Assignments can only be reset if the group 'kip848' is inactive, but the current state is ${json.state}.\n`);
      // The member leaves (epoch -1): the group is empty.
      const left = await client.request<{ errorCode: number }>(68, 1, { groupId: "kip848", memberId: joined.memberId, memberEpoch: -1, topicPartitions: null });
      expect(left.errorCode).toBe(0);
      expect(JSON.parse(await ok(["group", "describe", "kip848", "--json"]))[0]).toMatchObject({ state: "Empty", members: [] });
    } finally {
      client.close();
    }
  });

  it("group delete removes empty groups and names the error of others", async () => {
    expect(await ok(["group", "delete", "readers"])).toBe("Deletion of requested consumer groups ('readers') was successful.\n");
    const missing = await cli(["group", "describe", "readers"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("Error: Consumer group 'readers' does not exist.\n");
    const unknown = await cli(["groups", "delete", "never-existed"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("Error: Group 'never-existed' could not be deleted: GROUP_ID_NOT_FOUND: The group id does not exist.\n");
  });
});

describe("configs and errors", () => {
  it("config get and set for topics; broker configs read, and Sluice's static ones refused with INVALID_CONFIG", async () => {
    await ok(["config", "set", "--entity-type", "topics", "--entity-name", "orders", "--set", "segment.ms=3600000"]);
    const topic = JSON.parse(await ok(["configs", "get", "--entity-type", "topics", "--entity-name", "orders", "--json"]));
    expect(topic.configs.map((c: { name: string; value: string; source: string }) => [c.name, c.value, c.source])).toEqual([
      ["retention.ms", "86400000", "DYNAMIC_TOPIC_CONFIG"],
      ["segment.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"],
    ]);
    const all = tableRows(await ok(["config", "get", "--entity-type", "topics", "--entity-name", "orders", "--all"]));
    expect(all).toContainEqual(["cleanup.policy", "delete", "DEFAULT_CONFIG", "false", "false"]);
    const brokerConfigs = JSON.parse(await ok(["config", "get", "--entity-type", "brokers", "--entity-name", "1", "--all", "--json"]));
    expect(brokerConfigs.configs.find((c: { name: string }) => c.name === "num.partitions")).toMatchObject({ value: "2", source: "STATIC_BROKER_CONFIG" });
    const refused = await cli(["config", "set", "--entity-type", "brokers", "--entity-name", "1", "--set", "log.retention.ms=1000"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: INVALID_CONFIG: /);
  });

  it("topic delete, then the topic is gone", async () => {
    expect(await ok(["topic", "delete", "defaults"])).toBe("Deleted topic defaults.\n");
    const again = await cli(["topic", "delete", "defaults"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: UNKNOWN_TOPIC_OR_PARTITION: /);
  });

  it("no broker: a connection error, exit code 1, no stack trace", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const result = await sluice(closed, ["topic", "list"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`Error: could not connect to ${closed}: connect ECONNREFUSED ${closed}\n`);
  });
});
