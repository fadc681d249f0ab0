// A three-broker Sluice cluster on etcd whose brokers reach each other over a SASL_SSL listener
// (inter.broker.listener.name=BROKER: TLS with JKS stores made by openssl and keytool, client
// certificates required, hostname verification on, SCRAM-SHA-512 with the broker's credential
// made by kafka-configs.sh, KIP-368 sessions of 15 s), used by Kafka 4.4's tools and Java clients
// on a PLAINTEXT listener: replication factor 3 with a full ISR, acks=all produce read back, a
// transactional producer whose markers go from the coordinator to leaders on other brokers, and a
// broker restarted with a wrong inter-broker password, which stays out of the ISR while the
// leader logs the failed authentication, and rejoins once its password is right again.

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeBrokerCertificates } from "../helpers/certificates.js";
import { clusterSkipReason, describedPartitions, waitFor as pollFor, startCluster, type TestCluster, waitForFullIsr } from "../helpers/cluster.js";
import { freePort, produceWithJava } from "../helpers/kafka.js";
import { ToolSession } from "../helpers/tool-session.js";
import { readTopic, TxnClient, valuesOf } from "../helpers/transactions.js";

const skip = await clusterSkipReason({ netns: false });
if (skip !== null && process.env.CI) throw new Error(`the cluster tests cannot run under CI: ${skip}`);

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** Polls every 500 ms for up to 90 s (the brokers re-authenticate and back off meanwhile). */
const waitFor = <T>(what: string, probe: () => Promise<T | null>, detail?: () => string) => pollFor(what, probe, 90_000, 500, detail);

const PASSWORD = "store-secret";
const jaas = (password: string) => `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${password}";`;

describe.skipIf(skip !== null)("a 3-broker Sluice cluster whose brokers talk SASL_SSL (SCRAM-SHA-512) to each other", () => {
  let dir: string;
  let cluster: TestCluster;
  let tools: ToolSession;
  const bootstrap = () => cluster.bootstrap;
  const tool = async (main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", bootstrap(), ...args]);
    if (result.code !== 0) throw new Error(`${main} ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  const describeTopic = async (topic: string) => describedPartitions(await tool("org.apache.kafka.tools.TopicCommand", ["--describe", "--topic", topic]));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-cluster-security-"));
    const certificates = makeBrokerCertificates(dir, PASSWORD);
    const securePorts = new Map<number, number>();
    for (const nodeId of [1, 2, 3]) securePorts.set(nodeId, await freePort());
    cluster = await startCluster({
      brokers: 3,
      overrides: {
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 6000,
        "offsets.topic.replication.factor": 3,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "transaction.state.log.num.partitions": 3,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,BROKER:SASL_SSL",
        "inter.broker.listener.name": "BROKER",
        "listener.name.broker.ssl.keystore.type": "JKS",
        "listener.name.broker.ssl.keystore.location": certificates.keystoreJks,
        "listener.name.broker.ssl.keystore.password": PASSWORD,
        "listener.name.broker.ssl.key.password": PASSWORD,
        "listener.name.broker.ssl.truststore.type": "JKS",
        "listener.name.broker.ssl.truststore.location": certificates.truststoreJks,
        "listener.name.broker.ssl.truststore.password": PASSWORD,
        "listener.name.broker.ssl.client.auth": "required",
        "listener.name.broker.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.broker.scram-sha-512.sasl.jaas.config": jaas("broker-secret"),
        "connections.max.reauth.ms": 15_000,
      },
      brokerOverrides: (nodeId, port) => ({
        listeners: `PLAINTEXT://127.0.0.1:${port},BROKER://127.0.0.1:${securePorts.get(nodeId)}`,
        "advertised.listeners": `PLAINTEXT://localhost:${port},BROKER://localhost:${securePorts.get(nodeId)}`,
      }),
    });
    tools = await ToolSession.start();
    // The brokers' own credential, as an operator makes it before the first replicated topic.
    await tool("org.apache.kafka.tools.ConfigCommand", [
      "--alter",
      "--add-config",
      "SCRAM-SHA-512=[iterations=4096,password=broker-secret]",
      "--entity-type",
      "users",
      "--entity-name",
      "broker",
    ]);
  }, 180_000);

  afterAll(async () => {
    tools?.close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it("replicates over the secure listener: a full ISR, acks=all records read back from every partition", async () => {
    await tool("org.apache.kafka.tools.TopicCommand", [
      "--create",
      "--topic",
      "secure3",
      "--partitions",
      "6",
      "--replication-factor",
      "3",
      "--config",
      "min.insync.replicas=3",
    ]);
    const partitions = await waitFor("a full ISR of secure3", async () => {
      const described = await describeTopic("secure3");
      return described.size === 6 && [...described.values()].every((p) => p.isr.length === 3) ? described : null;
    });
    expect(new Set([...partitions.values()].map((p) => p.leader))).toEqual(new Set([1, 2, 3]));
    // min.insync.replicas=3: every acknowledged record is on all three brokers.
    const records = Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: `secure-${i}` }));
    const { offsets } = await produceWithJava({ bootstrap: bootstrap(), topic: "secure3", records, compression: "lz4", acks: "all" });
    expect(offsets).toHaveLength(600);
    const read = await readTopic(bootstrap(), "secure3", "read_uncommitted");
    expect(read.map((r) => r.value).sort()).toEqual(records.map((r) => r.value).sort());
    await waitForFullIsr(bootstrap(), "secure3", 3);
  }, 240_000);

  it("transactions commit across brokers: the coordinator's markers reach leaders on the others over the secure listener", async () => {
    await tool("org.apache.kafka.tools.TopicCommand", ["--create", "--topic", "txn3", "--partitions", "3", "--replication-factor", "3"]);
    await waitForFullIsr(bootstrap(), "txn3", 3);
    const txn = await TxnClient.start(bootstrap());
    try {
      await txn.producer("p", "secure-txn");
      for (let round = 0; round < 2; round++) {
        await txn.ok({ cmd: "begin", name: "p" });
        for (let partition = 0; partition < 3; partition++)
          await txn.ok({ cmd: "send", name: "p", topic: "txn3", partition, values: [`c${round}-${partition}`] });
        await txn.ok({ cmd: "commit", name: "p" });
        await txn.ok({ cmd: "begin", name: "p" });
        for (let partition = 0; partition < 3; partition++)
          await txn.ok({ cmd: "send", name: "p", topic: "txn3", partition, values: [`a${round}-${partition}`] });
        await txn.ok({ cmd: "abort", name: "p" });
      }
    } finally {
      await txn.close();
    }
    const committed = await readTopic(bootstrap(), "txn3", "read_committed");
    for (let partition = 0; partition < 3; partition++) expect(valuesOf(committed, partition)).toEqual([`c0-${partition}`, `c1-${partition}`]);
    // Leaders on more than one broker: some markers crossed brokers whichever broker coordinates.
    expect(new Set([...(await describeTopic("txn3")).values()].map((p) => p.leader)).size).toBeGreaterThan(1);
  }, 240_000);

  it("a broker with a wrong inter-broker password stays out of the ISR, the leader logs the failed authentication; the right one lets it back", async () => {
    const locked = cluster.broker(3);
    await locked.stop();
    locked.overrides["listener.name.broker.scram-sha-512.sasl.jaas.config"] = jaas("not-the-password");
    await locked.start();
    // Leaders 1 and 2; broker 3 follows both partitions. Broker 3 answers before it is registered
    // again: until it is, the assignment is refused.
    await waitFor("broker 3 registered again (the topic created)", async () => {
      const args = ["--bootstrap-server", bootstrap(), "--create", "--topic", "locked", "--replica-assignment", "1:2:3,2:1:3"];
      const result = await tools.run("org.apache.kafka.tools.TopicCommand", args);
      if (result.code === 0) return true;
      if (result.stdout.includes("no such broker is registered")) return null;
      throw new Error(`kafka-topics --create exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    });
    const leaderLog = cluster.broker(1).logFile;
    const tail = (file: string) => `; ${file} ends with:\n${readFileSync(file, "utf8").split("\n").slice(-40).join("\n")}`;
    await waitFor(
      "broker 1 to log broker 3's failed authentication",
      async () => {
        const log = readFileSync(leaderLog, "utf8");
        return log.includes("failed SASL authentication") && log.includes("invalid credentials with SASL mechanism SCRAM-SHA-512") ? true : null;
      },
      () => `${tail(leaderLog)}${tail(locked.logFile)}`,
    );
    const shrunk = await waitFor("an ISR without broker 3", async () => {
      const described = await describeTopic("locked");
      return described.size === 2 && [...described.values()].every((p) => !p.isr.includes(3)) ? described : null;
    });
    for (const partition of shrunk.values()) expect(partition.isr.sort()).toEqual([1, 2]);
    expect(readFileSync(locked.logFile, "utf8")).toMatch(/replica fetcher could not connect to leader [12]: SASL_AUTHENTICATION_FAILED/);
    // Still out after more fetch attempts than one backoff.
    await sleep(3_000);
    expect([...(await describeTopic("locked")).values()].every((p) => !p.isr.includes(3))).toBe(true);

    await locked.stop();
    locked.overrides["listener.name.broker.scram-sha-512.sasl.jaas.config"] = jaas("broker-secret");
    await locked.start();
    await waitForFullIsr(bootstrap(), "locked", 3);
  }, 240_000);
});
