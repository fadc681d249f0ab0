// `sluice migrate export-kraft` (src/cluster/kraft/export.ts) without a Kafka: the control record
// values equal the bytes Kafka 4.4.0's StorageTool wrote; a directory born on Sluice gets a
// `1-0` snapshot the metadata log reader reads back as Sluice's state (topic ids, leader epochs past
// the log's, configs, SCRAM, ACLs, quotas, group configs, producer ids); next to Kafka's metadata
// log the snapshot sits at its end with the log's epoch, keeps Kafka's own configs, features and
// voters, and changes no file of Kafka's; bad input is refused before anything is written.

import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExportError, exportKraftSnapshot, kraftVersionValue, snapshotHeaderValue, votersValue } from "../../src/cluster/kraft/export.js";
import { ConfigResourceType, configResourceKey, encodeMetadataRecord, readKraftImage } from "../../src/cluster/kraft/metadata-log.js";
import { writeMetaProperties } from "../../src/native.js";
import { buildRecordBatch, encodeControlRecordKey } from "../../src/protocol/records.js";

const CLUSTER = "mXHONAw6HMxRjdc77CihIg";
const DIRECTORY_ID = "robOf4WISD2o3j6KHRJejQ";
const ORDERS_ID = "ZfUzNOL2tzB4kRlstu5Eqw";

let dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs = [];
});

/** A stopped Sluice's log dir: meta.properties, sluice-metadata.json, a partition of orders with Kafka-style files. */
async function sluiceDir(document: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-export-unit-"));
  dirs.push(dir);
  writeMetaProperties(dir, { version: 1, clusterId: CLUSTER, nodeId: 1, directoryId: DIRECTORY_ID });
  await writeFile(
    join(dir, "sluice-metadata.json"),
    JSON.stringify({
      version: 1,
      clusterId: CLUSTER,
      nextProducerId: "5000",
      topics: [{ name: "orders", id: ORDERS_ID, partitions: 2, configs: { "retention.ms": "7200000", "cleanup.policy": "compact" } }],
      brokerConfigs: { "": { "follower.replication.throttled.rate": "1048576" } },
      scram: {
        bob: {
          "SCRAM-SHA-512": {
            salt: Buffer.from("salt").toString("base64"),
            storedKey: Buffer.alloc(64, 1).toString("base64"),
            serverKey: Buffer.alloc(64, 2).toString("base64"),
            iterations: 4096,
          },
        },
      },
      acls: [{ resourceType: 2, resourceName: "orders", patternType: 3, principal: "User:bob", host: "*", operation: 3, permissionType: 3 }],
      clientQuotas: [{ entity: [{ entityType: "client-id", entityName: "app" }], values: { producer_byte_rate: 1048576 } }],
      groupConfigs: { "app-848": { "consumer.session.timeout.ms": "50000" } },
      ...document,
    }),
  );
  await mkdir(join(dir, "orders-0"));
  await writeFile(join(dir, "orders-0", "partition.metadata"), `version: 0\ntopic_id: ${ORDERS_ID}\n`);
  await writeFile(join(dir, "orders-0", "leader-epoch-checkpoint"), "0\n2\n0 0\n4 17\n");
  await writeFile(join(dir, ".kafka_cleanshutdown"), '{"version":0,"brokerEpoch":-1}');
  return dir;
}

function hashTree(directory: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(directory).map((name) => [
      name,
      createHash("sha256")
        .update(readFileSync(join(directory, name)))
        .digest("hex"),
    ]),
  );
}

describe("control record values", () => {
  it("equal what Kafka 4.4.0's StorageTool format --standalone wrote", () => {
    // From a formatted log dir's 00000000000000000000-0000000000.checkpoint (DumpLogSegments printed the JSON).
    expect(snapshotHeaderValue(1796521842997n).toString("hex")).toBe("0000000001a2490bd93500");
    expect(kraftVersionValue(1).toString("hex")).toBe("0000000100");
    expect(votersValue(1, DIRECTORY_ID, { name: "CONTROLLER", host: "127.0.0.1", port: 45827 }).toString("hex")).toBe(
      "00000200000001ae86ce7f8588483da8de3e8a1d125e8d020b434f4e54524f4c4c45520a3132372e302e302e31b3030000000001000000",
    );
  });
});

describe("a directory born on Sluice", () => {
  it("gets a 1-0 snapshot in a new __cluster_metadata-0 that reads back as Sluice's state", async () => {
    const dir = await sluiceDir();
    expect(() => exportKraftSnapshot({ logDir: dir })).toThrow(/give --controller-listener NAME:\/\/host:port/);
    const result = exportKraftSnapshot({ logDir: dir, controllerListener: "CONTROLLER://127.0.0.1:9093", nowMs: 1_000 });
    expect(result.snapshotFile).toBe(join(dir, "__cluster_metadata-0", "00000000000000000001-0000000000.checkpoint"));
    expect(result.createdMetadataLog).toBe(true);
    expect(readFileSync(join(dir, "__cluster_metadata-0", "partition.metadata"), "utf8")).toBe("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n");
    expect(existsSync(join(dir, "sluice-metadata.json"))).toBe(false);
    expect(existsSync(join(dir, "sluice-metadata.json.exported-00000000000000000001-0000000000"))).toBe(true);

    const image = readKraftImage(dir);
    expect(image.snapshot).toMatchObject({ endOffset: 1n, epoch: 0 });
    const orders = image.topics.get(ORDERS_ID);
    expect(orders?.name).toBe("orders");
    // Partition 0's log reached epoch 4: Kafka leads at 5; partition 1 has no log.
    expect(orders?.partitions.get(0)).toEqual({ partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 5, partitionEpoch: 0 });
    expect(orders?.partitions.get(1)?.leaderEpoch).toBe(1);
    expect(Object.fromEntries(image.configs.get(configResourceKey(ConfigResourceType.TOPIC, "orders")) ?? [])).toEqual({
      "retention.ms": "7200000",
      "cleanup.policy": "compact",
    });
    expect(Object.fromEntries(image.configs.get(configResourceKey(ConfigResourceType.BROKER, "")) ?? [])).toEqual({
      "min.insync.replicas": "1",
      "follower.replication.throttled.rate": "1048576",
    });
    expect(Object.fromEntries(image.configs.get(configResourceKey(ConfigResourceType.GROUP, "app-848")) ?? [])).toEqual({
      "consumer.session.timeout.ms": "50000",
    });
    expect(image.scram.get("bob")?.get(2)).toEqual({
      salt: Buffer.from("salt"),
      storedKey: Buffer.alloc(64, 1),
      serverKey: Buffer.alloc(64, 2),
      iterations: 4096,
    });
    expect([...image.acls.values()].map(({ id: _, ...acl }) => acl)).toEqual([
      { resourceType: 2, resourceName: "orders", patternType: 3, principal: "User:bob", host: "*", operation: 3, permissionType: 3 },
    ]);
    expect([...image.clientQuotas.values()].map((q) => [q.entity, Object.fromEntries(q.values)])).toEqual([
      [[{ entityType: "client-id", entityName: "app" }], { producer_byte_rate: 1048576 }],
    ]);
    expect(image.producerIds?.nextProducerId).toBe(5000n);
    expect(image.features.get("metadata.version")).toBe(33);
  });

  it("with an empty __cluster_metadata-0 also takes its voter from --controller-listener", async () => {
    const dir = await sluiceDir();
    await mkdir(join(dir, "__cluster_metadata-0"));
    expect(() => exportKraftSnapshot({ logDir: dir })).toThrow(/holds no KRaft quorum records: give --controller-listener/);
    const result = exportKraftSnapshot({ logDir: dir, controllerListener: "CONTROLLER://127.0.0.1:45827" });
    expect(result.snapshotFile).toBe(join(dir, "__cluster_metadata-0", "00000000000000000001-0000000000.checkpoint"));
    expect(readFileSync(result.snapshotFile).includes(votersValue(1, DIRECTORY_ID, { name: "CONTROLLER", host: "127.0.0.1", port: 45827 }))).toBe(true);
  });

  it("is refused while Sluice runs, with another cluster's meta.properties, or a partition of another topic id; nothing is written", async () => {
    const running = await sluiceDir();
    await rm(join(running, ".kafka_cleanshutdown"));
    expect(() => exportKraftSnapshot({ logDir: running, controllerListener: "C://h:1" })).toThrow(/Sluice is running on it or did not stop cleanly/);
    const otherCluster = await sluiceDir({ clusterId: "AAAAAAAAAAAAAAAAAAAAAg" });
    expect(() => exportKraftSnapshot({ logDir: otherCluster, controllerListener: "C://h:1" })).toThrow(/belongs to cluster AAAAAAAAAAAAAAAAAAAAAg/);
    const otherId = await sluiceDir();
    await writeFile(join(otherId, "orders-0", "partition.metadata"), "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAw\n");
    expect(() => exportKraftSnapshot({ logDir: otherId, controllerListener: "C://h:1" })).toThrow(ExportError);
    for (const dir of [running, otherCluster, otherId]) {
      expect(existsSync(join(dir, "__cluster_metadata-0"))).toBe(false);
      expect(existsSync(join(dir, "sluice-metadata.json"))).toBe(true);
    }
    const notSluice = await mkdtemp(join(tmpdir(), "sluice-export-unit-"));
    dirs.push(notSluice);
    expect(() => exportKraftSnapshot({ logDir: notSluice })).toThrow(/no sluice-metadata\.json: not a Sluice log directory/);
  });
});

describe("a directory with Kafka's metadata log", () => {
  /** Kafka's metadata log: leader change and quorum at epoch 3 (offsets 0-2), then features, a topic and configs (3-7). */
  async function withKafkaLog(dir: string): Promise<{ voters: Buffer }> {
    const metadata = join(dir, "__cluster_metadata-0");
    await mkdir(metadata);
    await writeFile(join(metadata, "partition.metadata"), "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n");
    const voters = votersValue(1, DIRECTORY_ID, { name: "CONTROLLER", host: "127.0.0.1", port: 45827 });
    const control = buildRecordBatch({
      baseOffset: 0n,
      partitionLeaderEpoch: 3,
      isControl: true,
      records: [
        { key: encodeControlRecordKey(2), value: Buffer.from("00000000000102000000010002000000010000", "hex") },
        { key: encodeControlRecordKey(5), value: kraftVersionValue(1) },
        { key: encodeControlRecordKey(6), value: voters },
      ],
    });
    const data = buildRecordBatch({
      baseOffset: 3n,
      partitionLeaderEpoch: 3,
      records: [
        encodeMetadataRecord(12, 0, { name: "metadata.version", featureLevel: 31 }),
        encodeMetadataRecord(4, 0, { resourceType: 4, resourceName: "", name: "log.cleaner.threads", value: "2" }),
        encodeMetadataRecord(4, 0, { resourceType: 4, resourceName: "", name: "follower.replication.throttled.rate", value: "1" }),
        encodeMetadataRecord(2, 0, { name: "orders", topicId: ORDERS_ID }),
        encodeMetadataRecord(3, 2, {
          partitionId: 0,
          topicId: ORDERS_ID,
          replicas: [1],
          isr: [1],
          removingReplicas: [],
          addingReplicas: [],
          leader: 1,
          leaderRecoveryState: 0,
          leaderEpoch: 7,
          partitionEpoch: 9,
          directories: [DIRECTORY_ID],
          eligibleLeaderReplicas: null,
          lastKnownElr: null,
        }),
      ].map((value) => ({ key: null, value })),
    });
    await writeFile(join(metadata, "00000000000000000000.log"), Buffer.concat([control, data]));
    return { voters };
  }

  it("gets a snapshot at the log end with the log's epoch, Kafka's configs, features and voters kept, no file of Kafka's changed", async () => {
    const dir = await sluiceDir();
    await withKafkaLog(dir);
    const metadata = join(dir, "__cluster_metadata-0");
    const before = hashTree(metadata);
    const result = exportKraftSnapshot({ logDir: dir, controllerListener: "CONTROLLER://ignored:1" });
    expect(result.kafkaLogEndOffset).toBe(8n);
    expect(result.snapshotFile).toBe(join(metadata, "00000000000000000008-0000000003.checkpoint"));
    expect(result.notes).toContain("--controller-listener is ignored: the quorum's voters come from Kafka's metadata log");
    const after = hashTree(metadata);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), "00000000000000000008-0000000003.checkpoint"].sort());
    for (const [name, hash] of Object.entries(before)) expect(after[name]).toBe(hash);

    const image = readKraftImage(dir);
    expect(image.snapshot).toMatchObject({ endOffset: 8n, epoch: 3 });
    expect(image.features.get("metadata.version")).toBe(31);
    // Kafka's log.cleaner.threads stays; the throttle is Sluice's to say (1048576 there).
    expect(Object.fromEntries(image.configs.get(configResourceKey(ConfigResourceType.BROKER, "")) ?? [])).toEqual({
      "log.cleaner.threads": "2",
      "follower.replication.throttled.rate": "1048576",
    });
    // Above Kafka's epoch 7 (and the log's 4), partition epoch after Kafka's 9.
    expect(image.topics.get(ORDERS_ID)?.partitions.get(0)).toMatchObject({ leaderEpoch: 8, partitionEpoch: 10 });
    const snapshot = readFileSync(result.snapshotFile);
    expect(snapshot.includes(votersValue(1, DIRECTORY_ID, { name: "CONTROLLER", host: "127.0.0.1", port: 45827 }))).toBe(true);
  });

  it("refuses a snapshot of Kafka's at the log end, and replaces one of its own earlier exports", async () => {
    const dir = await sluiceDir();
    await withKafkaLog(dir);
    const metadata = join(dir, "__cluster_metadata-0");
    const first = exportKraftSnapshot({ logDir: dir });
    // Sluice again: a new document (as a start would import it), then a second export replaces the first.
    await writeFile(join(dir, "sluice-metadata.json"), readFileSync(join(dir, "sluice-metadata.json.exported-00000000000000000008-0000000003")));
    const second = exportKraftSnapshot({ logDir: dir });
    expect(second.replacedEarlierExport).toBe(true);
    expect(second.snapshotFile).toBe(first.snapshotFile);
    expect(existsSync(join(dir, "sluice-metadata.json.exported-00000000000000000008-0000000003.2"))).toBe(true);

    const kafkaSnapshot = await sluiceDir();
    await withKafkaLog(kafkaSnapshot);
    await writeFile(join(kafkaSnapshot, "__cluster_metadata-0", "00000000000000000008-0000000003.checkpoint"), readFileSync(first.snapshotFile));
    expect(() => exportKraftSnapshot({ logDir: kafkaSnapshot })).toThrow(/already covers the metadata log up to its end \(offset 8\)/);
    expect(existsSync(join(kafkaSnapshot, "sluice-metadata.json"))).toBe(true);
    expect(readdirSync(metadata).filter((name) => name.endsWith(".part"))).toEqual([]);
  });

  it("after Kafka ran on an export, a new export goes to the new log end; the earlier one is not replaced", async () => {
    const dir = await sluiceDir();
    await withKafkaLog(dir);
    const first = exportKraftSnapshot({ logDir: dir });
    // Kafka ran: a leader change at epoch 4 after the snapshot.
    const metadata = join(dir, "__cluster_metadata-0");
    const segment = join(metadata, "00000000000000000000.log");
    const leaderChange = buildRecordBatch({
      baseOffset: 8n,
      partitionLeaderEpoch: 4,
      isControl: true,
      records: [{ key: encodeControlRecordKey(2), value: Buffer.from("00000000000102000000010002000000010000", "hex") }],
    });
    await writeFile(segment, Buffer.concat([readFileSync(segment), leaderChange]));
    const firstBytes = readFileSync(first.snapshotFile);
    await writeFile(join(dir, "sluice-metadata.json"), readFileSync(join(dir, "sluice-metadata.json.exported-00000000000000000008-0000000003")));
    const second = exportKraftSnapshot({ logDir: dir });
    expect(second.replacedEarlierExport).toBe(false);
    expect(second.snapshotFile).toBe(join(metadata, "00000000000000000009-0000000004.checkpoint"));
    expect(readFileSync(first.snapshotFile).equals(firstBytes)).toBe(true);
  });

  it("next to a metadata log kafka-storage formatted but Kafka never started, supersedes the bootstrap snapshot", async () => {
    const dir = await sluiceDir();
    const metadata = join(dir, "__cluster_metadata-0");
    await mkdir(metadata);
    const voters = votersValue(1, DIRECTORY_ID, { name: "CONTROLLER", host: "127.0.0.1", port: 45827 });
    const bootstrap = Buffer.concat([
      buildRecordBatch({
        baseOffset: 0n,
        partitionLeaderEpoch: 0,
        isControl: true,
        records: [
          { key: encodeControlRecordKey(3), value: snapshotHeaderValue(1n) },
          { key: encodeControlRecordKey(5), value: kraftVersionValue(1) },
          { key: encodeControlRecordKey(6), value: voters },
        ],
      }),
      buildRecordBatch({
        baseOffset: 3n,
        partitionLeaderEpoch: 0,
        records: [{ key: null, value: encodeMetadataRecord(12, 0, { name: "metadata.version", featureLevel: 33 }) }],
      }),
      buildRecordBatch({
        baseOffset: 4n,
        partitionLeaderEpoch: 0,
        isControl: true,
        records: [{ key: encodeControlRecordKey(4), value: Buffer.from("000000", "hex") }],
      }),
    ]);
    await writeFile(join(metadata, "00000000000000000000-0000000000.checkpoint"), bootstrap);
    const result = exportKraftSnapshot({ logDir: dir });
    expect(result.snapshotFile).toBe(join(metadata, "00000000000000000001-0000000000.checkpoint"));
    expect(result.notes.join("\n")).toContain("bootstrap snapshot 00000000000000000000-0000000000.checkpoint (kafka-storage format) is superseded");
    expect(readFileSync(result.snapshotFile).includes(voters)).toBe(true);
    const image = readKraftImage(dir);
    expect(image.topics.get(ORDERS_ID)?.name).toBe("orders");
    expect(image.configs.get(configResourceKey(ConfigResourceType.BROKER, ""))?.get("min.insync.replicas")).toBe("1");
  });
});
