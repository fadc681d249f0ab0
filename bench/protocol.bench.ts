// Codec micro-benchmarks (tinybench): decode + encode of the messages on the hot path.
//
//   npx tsx bench/protocol.bench.ts
//
// - ProduceRequest v9, one partition, 16 KB of records (records stay a slice of the frame)
// - FetchResponse v12 "head": one partition whose 1 MB record set is attached, not copied
// - MetadataResponse v12, 100 topics x 10 partitions

import { Bench } from "tinybench";
import type { FetchResponse } from "../src/protocol/generated/fetch.js";
import { defaultFetchResponse, defaultFetchResponseFetchableTopicResponse, defaultFetchResponsePartitionData } from "../src/protocol/generated/fetch.js";
import { apiByKey } from "../src/protocol/generated/index.js";
import type { MetadataResponse } from "../src/protocol/generated/metadata.js";
import {
  defaultMetadataResponse,
  defaultMetadataResponseMetadataResponsePartition,
  defaultMetadataResponseMetadataResponseTopic,
} from "../src/protocol/generated/metadata.js";
import type { ProduceRequest } from "../src/protocol/generated/produce.js";
import { Reader } from "../src/protocol/reader.js";
import { Writer } from "../src/protocol/writer.js";

function api(key: number) {
  const descriptor = apiByKey[key];
  if (descriptor === undefined) throw new Error(`no API ${key}`);
  return descriptor;
}

function encode(write: (w: Writer) => void): Buffer {
  const w = new Writer();
  write(w);
  return w.finish();
}

const produce = api(0);
const fetch = api(1);
const metadata = api(3);

const produceRequest: ProduceRequest = {
  transactionalId: null,
  acks: -1,
  timeoutMs: 30000,
  topicData: [
    {
      name: "bench-topic",
      topicId: "AAAAAAAAAAAAAAAAAAAAAA",
      partitionData: [{ index: 0, records: Buffer.alloc(16384, 1), unknownTaggedFields: undefined }],
      unknownTaggedFields: undefined,
    },
  ],
  unknownTaggedFields: undefined,
};
const produceBytes = encode((w) => produce.request.write(w, produceRequest, 9));

const fetchResponse: FetchResponse = defaultFetchResponse();
const fetchTopic = defaultFetchResponseFetchableTopicResponse();
fetchTopic.topic = "bench-topic";
const fetchPartition = defaultFetchResponsePartitionData();
fetchPartition.records = Buffer.alloc(1024 * 1024, 2);
fetchPartition.highWatermark = 123456n;
fetchTopic.partitions = [fetchPartition];
fetchResponse.responses = [fetchTopic];
const fetchBytes = encode((w) => fetch.response.write(w, fetchResponse, 12));

const metadataResponse: MetadataResponse = defaultMetadataResponse();
metadataResponse.brokers = [{ nodeId: 1, host: "localhost", port: 9092, rack: null, unknownTaggedFields: undefined }];
metadataResponse.clusterId = "sluice-bench";
for (let t = 0; t < 100; t++) {
  const topic = defaultMetadataResponseMetadataResponseTopic();
  topic.name = `topic-${t}`;
  for (let p = 0; p < 10; p++) {
    const partition = defaultMetadataResponseMetadataResponsePartition();
    partition.partitionIndex = p;
    partition.leaderId = 1;
    partition.replicaNodes = [1];
    partition.isrNodes = [1];
    topic.partitions.push(partition);
  }
  metadataResponse.topics.push(topic);
}
const metadataBytes = encode((w) => metadata.response.write(w, metadataResponse, 12));

const bench = new Bench({ time: 1000 });
bench
  .add("ProduceRequest v9 decode (16 KB records)", () => {
    produce.request.read(new Reader(produceBytes), 9);
  })
  .add("ProduceRequest v9 encode (16 KB records)", () => {
    const w = new Writer();
    produce.request.write(w, produceRequest, 9);
    w.finishParts();
  })
  .add("FetchResponse v12 head encode (1 MB records attached)", () => {
    const w = new Writer();
    fetch.response.write(w, fetchResponse, 12);
    w.finishParts();
  })
  .add("FetchResponse v12 decode (1 MB records sliced)", () => {
    fetch.response.read(new Reader(fetchBytes), 12);
  })
  .add("MetadataResponse v12 encode (100 topics x 10 partitions)", () => {
    const w = new Writer(64 * 1024);
    metadata.response.write(w, metadataResponse, 12);
    w.finish();
  })
  .add("MetadataResponse v12 decode (100 topics x 10 partitions)", () => {
    metadata.response.read(new Reader(metadataBytes), 12);
  });

await bench.run();

const sizes: Record<string, number> = {
  "ProduceRequest v9 decode (16 KB records)": produceBytes.length,
  "ProduceRequest v9 encode (16 KB records)": produceBytes.length,
  "FetchResponse v12 head encode (1 MB records attached)": fetchBytes.length,
  "FetchResponse v12 decode (1 MB records sliced)": fetchBytes.length,
  "MetadataResponse v12 encode (100 topics x 10 partitions)": metadataBytes.length,
  "MetadataResponse v12 decode (100 topics x 10 partitions)": metadataBytes.length,
};
const rows = bench.tasks.map((task) => {
  const result = task.result as { throughput?: { mean: number }; hz?: number } | undefined;
  const opsPerSecond = result?.throughput?.mean ?? result?.hz ?? 0;
  return {
    benchmark: task.name,
    "ops/s": Math.round(opsPerSecond).toLocaleString("en-US"),
    "message bytes": sizes[task.name],
    "MB/s (message bytes)": Math.round((opsPerSecond * sizes[task.name]) / 1e6).toLocaleString("en-US"),
  };
});
console.table(rows);
