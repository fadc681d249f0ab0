// MirrorMaker 2 (Kafka's org.apache.kafka.connect.mirror.MirrorMaker driver, dedicated mode: a
// Connect herder per replication flow running MirrorSourceConnector, MirrorCheckpointConnector and
// MirrorHeartbeatConnector) between Apache Kafka 4.4.0 and the broker $GROUP_TESTS_BROKER picks
// (test/helpers/brokers.ts; Sluice by default; `kafka` makes it Kafka to Kafka, the reference run).
// Issue 17. The clusters are called `kafka` and `sluice` in mm2.properties; both flows run at once:
//
// - kafka->sluice: topic `orders` (3 partitions, retention.ms and max.message.bytes set) becomes
//   `kafka.orders` on sluice; group `app-orders` consumes it on kafka (KafkaConsumer, commits) and
//   its offsets appear translated on sluice (sync.group.offsets.enabled).
// - sluice->kafka: topic `events` (2 partitions, retention.ms set) becomes `sluice.events` on kafka;
//   group `app-events` likewise.
//
// Checked: every record replicated with its key, value, headers and timestamp, in order in the
// same partition at the same offset; the topic configs created with the replica and a later change
// of the source's config synced (DescribeConfigs, IncrementalAlterConfigs); the group's committed
// offsets on the other cluster equal to the source's, and a consumer of the same group there
// (failover) starting exactly after what the group had consumed: it receives only the records
// produced since. Heartbeats (`heartbeats`, replicated as `kafka.heartbeats` / `sluice.heartbeats`)
// and checkpoints (`kafka.checkpoints.internal` / `sluice.checkpoints.internal`) flow too.
// ECOSYSTEM_FULL=1: more records, and the whole run again with a 3-broker Sluice cluster (etcd) as
// the `sluice` side (skipped when $GROUP_TESTS_BROKER is kafka).
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/ecosystem-mirror.test.ts
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigResourceTypes } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { clusterSkipReason, startCluster } from "../helpers/cluster.js";
import { GroupTestClient, MemberProcess, range, waitFor } from "../helpers/groups.js";
import { type JavaProducerRecord, kafkaClasspath, produceWithJava, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";

/** ECOSYSTEM_FULL=1: the longer runs of the ecosystem suites (npm run test:ecosystem); CI runs the short ones. */
const fullRun = Boolean(process.env.ECOSYSTEM_FULL);

/** GROUP_TESTS_CLIENT_DEBUG=1: MirrorMaker's INFO log in its stderr (the last 200 kB shown on a failure). */
const clientLogLevel = process.env.GROUP_TESTS_CLIENT_DEBUG ? "INFO" : "WARN";

interface FullRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

/** Every record of the topic to its end offsets, with timestamps and headers (sluice.kafka.Consume). */
async function readRecords(bootstrap: string, topic: string): Promise<FullRecord[]> {
  const run = await runJavaTool("sluice.kafka.Consume", ["--bootstrap", bootstrap, "--topic", topic, "--timeout-ms", "60000"], {
    quickStart: true,
    heap: "128m",
    logLevel: "ERROR",
    timeoutMs: 90_000,
  });
  if (run.code !== 0) throw new Error(`sluice.kafka.Consume --topic ${topic} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout
    .split("\n")
    .filter((line) => line.startsWith('{"partition"'))
    .map((line) => {
      const { partition, offset, timestamp, key, value, headers } = JSON.parse(line) as FullRecord;
      return { partition, offset, timestamp, key, value, headers };
    })
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

interface Cluster {
  alias: "kafka" | "sluice";
  broker: Pick<TestBroker, "bootstrap" | "close">;
  client: GroupTestClient;
}

/** One direction of replication: a topic and a group on `from`, mirrored to `to` as `${from.alias}.${topic}`. */
interface Flow {
  from: Cluster;
  to: Cluster;
  topic: string;
  partitions: number;
  configs: Record<string, string>;
  group: string;
  /** What was produced to the source topic, in order per partition. */
  produced: JavaProducerRecord[];
}

const remoteTopic = (flow: Flow) => `${flow.from.alias}.${flow.topic}`;

/** The `sluice` side: one broker ($GROUP_TESTS_BROKER), or (ECOSYSTEM_FULL=1) a 3-broker Sluice cluster too. */
const sides =
  fullRun && groupTestsBroker === "sluice" && (await clusterSkipReason({ netns: false })) === null ? (["broker", "cluster"] as const) : (["broker"] as const);

for (const side of sides)
  describe(`MirrorMaker 2 between Kafka 4.4.0 and ${side === "cluster" ? "a 3-broker Sluice cluster" : groupTestsBroker}`, () => {
    let kafka: Cluster;
    let sluice: Cluster;
    let workDir: string;
    let mirrorMaker: MemberProcess | undefined;
    const members: MemberProcess[] = [];

    beforeAll(async () => {
      await kafkaClasspath();
      const [kafkaBroker, sluiceBroker] = await Promise.all([
        startBroker({ kind: "kafka" }),
        side === "broker"
          ? startBroker()
          : startCluster({ brokers: 3 }).then((cluster) => ({ bootstrap: cluster.bootstrap, close: async () => void (await cluster.stop()) })),
      ]);
      kafka = { alias: "kafka", broker: kafkaBroker, client: await GroupTestClient.connect(kafkaBroker.bootstrap) };
      sluice = { alias: "sluice", broker: sluiceBroker, client: await GroupTestClient.connect(sluiceBroker.bootstrap) };
      workDir = await mkdtemp(join(tmpdir(), "sluice-mirror-"));
    });

    afterAll(async () => {
      for (const member of members) await member.kill();
      await mirrorMaker?.kill();
      for (const cluster of [kafka, sluice]) {
        await cluster?.client.close();
        await cluster?.broker.close();
      }
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    async function startMirrorMaker(): Promise<MemberProcess> {
      const properties: Record<string, string | number | boolean> = {
        clusters: "kafka, sluice",
        "kafka.bootstrap.servers": kafka.broker.bootstrap,
        "sluice.bootstrap.servers": sluice.broker.bootstrap,
        "kafka->sluice.enabled": true,
        "kafka->sluice.topics": "orders",
        "sluice->kafka.enabled": true,
        "sluice->kafka.topics": "events",
        groups: "app-.*",
        // single-node clusters
        "replication.factor": 1,
        "offset-syncs.topic.replication.factor": 1,
        "heartbeats.topic.replication.factor": 1,
        "checkpoints.topic.replication.factor": 1,
        "config.storage.replication.factor": 1,
        "offset.storage.replication.factor": 1,
        "status.storage.replication.factor": 1,
        // everything every second instead of every 5 to 10 minutes
        "refresh.topics.interval.seconds": 1,
        "refresh.groups.interval.seconds": 1,
        "emit.checkpoints.interval.seconds": 1,
        "emit.heartbeats.interval.seconds": 1,
        "sync.group.offsets.enabled": true,
        "sync.group.offsets.interval.seconds": 1,
        "sync.topic.configs.interval.seconds": 1,
        // Worker settings go per target cluster. A source task's offsets are flushed, and its delayed
        // offset syncs sent, every second instead of every minute.
        "kafka.offset.flush.interval.ms": 1000,
        "sluice.offset.flush.interval.ms": 1000,
      };
      const file = join(workDir, "mm2.properties");
      await writeFile(
        file,
        `${Object.entries(properties)
          .map(([k, v]) => `${k} = ${v}`)
          .join("\n")}\n`,
      );
      const process = new MemberProcess(
        "mirror-maker",
        await spawnJavaTool("org.apache.kafka.connect.mirror.MirrorMaker", [file], { quickStart: true, heap: "512m", logLevel: clientLogLevel }),
      );
      return process;
    }

    async function topicConfigs(cluster: Cluster, topic: string, names: string[]): Promise<Record<string, string | undefined>> {
      const { resources } = await cluster.client.admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
        includeSynonyms: false,
      });
      return Object.fromEntries(names.map((name) => [name, resources[0].configEntries.find((e) => e.configName === name)?.configValue]));
    }

    /** The topic's own configs (DescribeConfigs source DYNAMIC_TOPIC_CONFIG), sorted by name. */
    async function topicOwnConfigs(cluster: Cluster, topic: string): Promise<[string, string][]> {
      const { resources } = await cluster.client.admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
        includeSynonyms: false,
      });
      return resources[0].configEntries
        .filter((e) => e.configSource === 1)
        .map((e): [string, string] => [e.configName, e.configValue])
        .sort(([a], [b]) => (a < b ? -1 : 1));
    }

    async function partitionCount(cluster: Cluster, topic: string): Promise<number | undefined> {
      const { topics } = await cluster.client.admin.fetchTopicMetadata();
      return topics.find((t) => t.name === topic)?.partitions.length;
    }

    const startedAt = Date.now();

    /** `count` records with keys (one null), values, headers (one null-valued) and timestamps, round robin over the partitions. */
    function makeRecords(prefix: string, first: number, count: number, partitions: number): JavaProducerRecord[] {
      return range(count).map((i) => {
        const n = first + i;
        return {
          partition: n % partitions,
          key: n % 17 === 5 ? null : `${prefix}-key-${n}`,
          value: `${prefix}-value-${n} ${"x".repeat(n % 40)}`,
          headers: [
            ["seq", String(n)],
            ["origin", n % 11 === 3 ? null : prefix],
          ],
          // distinct, and recent: retention.ms would delete old ones
          timestamp: startedAt - 3_600_000 + n * 10,
        };
      });
    }

    async function produce(flow: Flow, records: JavaProducerRecord[]): Promise<void> {
      await produceWithJava({ bootstrap: flow.from.broker.bootstrap, topic: flow.topic, compression: "zstd", records });
      flow.produced.push(...records);
    }

    /** Waits until the replica holds as many records as the source, then checks they are the same, record by record. */
    async function expectReplicated(flow: Flow): Promise<void> {
      const sourceEnd = await flow.from.client.endOffsets(flow.topic);
      await waitFor(
        `${remoteTopic(flow)} on ${flow.to.alias} to reach ${JSON.stringify(sourceEnd)}`,
        async () => JSON.stringify(await flow.to.client.endOffsets(remoteTopic(flow))) === JSON.stringify(sourceEnd),
        90_000,
      );
      const [source, replica] = await Promise.all([
        readRecords(flow.from.broker.bootstrap, flow.topic),
        readRecords(flow.to.broker.bootstrap, remoteTopic(flow)),
      ]);
      expect(source.length).toBe(flow.produced.length);
      // What was produced, as it was produced, per partition.
      for (const p of range(flow.partitions)) {
        const sent = flow.produced.filter((r) => r.partition === p);
        expect(
          source.filter((r) => r.partition === p).map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
          `${flow.topic} ${p}`,
        ).toEqual(sent.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })));
      }
      expect(replica).toEqual(source);
    }

    /** A consumer of the group on `cluster` reading `topic` (KafkaConsumer, committing after each poll). */
    async function startConsumer(cluster: Cluster, group: string, topic: string, name: string): Promise<MemberProcess> {
      const args = ["--bootstrap", cluster.broker.bootstrap, "--group", group, "--topics", topic, "--property", "auto.offset.reset=earliest"];
      const member = new MemberProcess(name, await spawnJavaTool("sluice.kafka.GroupConsume", args, { quickStart: true, heap: "128m", logLevel: "WARN" }));
      members.push(member);
      return member;
    }

    it("replicates topics, records, topic configs and group offsets both ways", { timeout: 420_000 }, async () => {
      const orders: Flow = {
        from: kafka,
        to: sluice,
        topic: "orders",
        partitions: 3,
        configs: { "retention.ms": "86400000", "max.message.bytes": "200000" },
        group: "app-orders",
        produced: [],
      };
      const events: Flow = {
        from: sluice,
        to: kafka,
        topic: "events",
        partitions: 2,
        configs: { "retention.ms": "7200000" },
        group: "app-events",
        produced: [],
      };
      const flows = [orders, events];
      const count = fullRun ? 2000 : 120;
      for (const flow of flows) {
        await flow.from.client.admin.createTopics({
          topics: [
            {
              topic: flow.topic,
              numPartitions: flow.partitions,
              configEntries: Object.entries(flow.configs).map(([name, value]) => ({ name, value })),
            },
          ],
        });
        await flow.from.client.waitForTopic(flow.topic, flow.partitions);
        await produce(flow, makeRecords(flow.topic, 0, count, flow.partitions));
      }

      mirrorMaker = await startMirrorMaker();
      // The two flows are independent: each step runs for both at once.
      const eachFlow = async (work: (flow: Flow) => Promise<unknown>) => {
        await Promise.all(flows.map(work));
      };
      const mm = mirrorMaker;
      const alive = () => {
        if (mm.exit) throw new Error(`MirrorMaker exited: ${mm.describe()}`);
      };

      // The replicas: the same partitions, the source's configs, every record.
      await eachFlow(async (flow) => {
        await waitFor(
          `${remoteTopic(flow)} on ${flow.to.alias}`,
          async () => {
            alive();
            return (await partitionCount(flow.to, remoteTopic(flow))) === flow.partitions;
          },
          120_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}\n${mm.describe()}`);
        });
        expect(await topicConfigs(flow.to, remoteTopic(flow), Object.keys(flow.configs)), remoteTopic(flow)).toEqual(flow.configs);
        // Nothing else set on it: the replica's own configs are the source's.
        expect(await topicOwnConfigs(flow.to, remoteTopic(flow)), remoteTopic(flow)).toEqual(await topicOwnConfigs(flow.from, flow.topic));
        await expectReplicated(flow);
      });

      // Each group consumes its topic on the source cluster, commits, and leaves.
      await eachFlow(async (flow) => {
        const consumer = await startConsumer(flow.from, flow.group, flow.topic, `${flow.group}-on-${flow.from.alias}`);
        await waitFor(`${consumer.name} to read ${count} records`, () => consumer.records(flow.topic).length >= count, 90_000);
        await flow.from.client.waitForCommitsAtEnd(flow.group, flow.topic, 60_000);
        await consumer.stop();
      });

      // MirrorCheckpointConnector translates the group's offsets and commits them on the other cluster.
      await eachFlow(async (flow) => {
        const committed = await flow.from.client.committed(flow.group, flow.topic);
        await waitFor(
          `the offsets of ${flow.group} on ${flow.to.alias} to be ${JSON.stringify(committed)}`,
          async () => {
            alive();
            return JSON.stringify(await flow.to.client.committed(flow.group, remoteTopic(flow))) === JSON.stringify(committed);
          },
          90_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}\n${mm.describe()}`);
        });
      });

      // A config changed on the source is synced to the replica.
      await eachFlow(async (flow) => {
        const changed = { ...flow.configs, "retention.ms": String(Number(flow.configs["retention.ms"]) * 2) };
        await flow.from.client.admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: flow.topic, configEntries: Object.entries(changed).map(([name, value]) => ({ name, value })) }],
        });
        flow.configs = changed;
      });
      await eachFlow(async (flow) => {
        let last: unknown;
        await waitFor(`${remoteTopic(flow)}'s configs on ${flow.to.alias} to become ${JSON.stringify(flow.configs)}`, async () => {
          alive();
          last = await topicConfigs(flow.to, remoteTopic(flow), Object.keys(flow.configs));
          return JSON.stringify(last) === JSON.stringify(flow.configs);
        }).catch((error: Error) => {
          throw new Error(`${error.message}; last: ${JSON.stringify(last)}\n${mm.describe()}`);
        });
        expect(await topicOwnConfigs(flow.to, remoteTopic(flow)), remoteTopic(flow)).toEqual(await topicOwnConfigs(flow.from, flow.topic));
      });

      // More records, replicated as well; then the failover: the group on the other cluster starts
      // where it had got to on the source, and reads exactly the new records.
      const more = fullRun ? 500 : 40;
      await eachFlow((flow) => produce(flow, makeRecords(flow.topic, count, more, flow.partitions)));
      await eachFlow((flow) => expectReplicated(flow));
      await eachFlow(async (flow) => {
        const consumer = await startConsumer(flow.to, flow.group, remoteTopic(flow), `${flow.group}-on-${flow.to.alias}`);
        await waitFor(`${consumer.name} to read ${more} records`, () => consumer.records(remoteTopic(flow)).length >= more, 90_000);
        await flow.to.client.waitForCommitsAtEnd(flow.group, remoteTopic(flow), 60_000);
        await consumer.stop();
        const read = consumer.records(remoteTopic(flow)).map((r) => ({ partition: r.partition, value: r.value }));
        const expected = flow.produced.slice(count).map((r) => ({ partition: r.partition ?? -1, value: r.value }));
        const byPartitionThenOrder = (a: { partition: number }, b: { partition: number }) => a.partition - b.partition;
        expect(read.sort(byPartitionThenOrder), flow.group).toEqual(expected.sort(byPartitionThenOrder));
      });

      // Heartbeats and checkpoints flowed: each cluster's heartbeats replicated to the other, and the
      // checkpoints of each group on the target.
      await eachFlow(async (flow) => {
        expect(await flow.to.client.admin.listTopics()).toEqual(
          expect.arrayContaining(["heartbeats", `${flow.from.alias}.heartbeats`, `${flow.from.alias}.checkpoints.internal`]),
        );
        const checkpoints = await readRecords(flow.to.broker.bootstrap, `${flow.from.alias}.checkpoints.internal`);
        expect(checkpoints.length, `${flow.from.alias}.checkpoints.internal`).toBeGreaterThan(0);
      });
      expect(mm.exit).toBeNull();
    });
  });
