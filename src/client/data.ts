// The data path: ListOffsets, Produce and Fetch, each sent to the partitions' leaders (one request
// per leader, all leaders at once). Produce retries the partitions that failed with a retriable
// error; Fetch reports per-partition errors and lets the caller's loop fetch again.

import { defaultFetchRequestFetchPartition, defaultFetchRequestFetchTopic, type FetchResponse } from "../protocol/generated/fetch.js";
import { defaultListOffsetsRequestListOffsetsPartition, type ListOffsetsResponse } from "../protocol/generated/list-offsets.js";
import { defaultProduceRequestTopicProduceData, type ProduceResponse } from "../protocol/generated/produce.js";
import { ControlRecordType, decodeControlRecordKey, decodeRecords, type RecordBatchView } from "../protocol/records.js";
import type { Cluster } from "./cluster.js";
import { KafkaResponseError } from "./errors.js";
import { type ConsumerRecord, loadCodecs, recordsOfBatch, wholeBatches } from "./records.js";

const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
/** ListOffsets' special timestamps. */
const LATEST_TIMESTAMP = -1n;
const EARLIEST_TIMESTAMP = -2n;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where to look an offset up: the log start, the log end (high watermark), or the first record at or after a time (ms). */
export type OffsetSpec = "earliest" | "latest" | { timestamp: bigint };

export interface ListedOffset extends TopicPartition {
  /** -1 when no record has a timestamp at or after the one asked for. */
  offset: bigint;
  timestamp: bigint;
}

export interface ProduceBatch extends TopicPartition {
  /** One or more whole record batches. */
  records: Buffer;
}

export interface ProduceResult extends TopicPartition {
  /** The offset of the first record; -1 with acks=0. */
  baseOffset: bigint;
  error: KafkaResponseError | null;
}

export interface FetchPosition extends TopicPartition {
  offset: bigint;
}

export interface FetchOptions {
  /** How long the broker may wait for minBytes (a long poll). */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  /** 0 read_uncommitted (Kafka's console consumer), 1 read_committed (aborted transactions left out). */
  isolationLevel?: number;
}

export interface FetchedPartition extends TopicPartition {
  error: KafkaResponseError | null;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** The leader the records came from (kcat -J's "broker"). */
  leader: number;
  records: ConsumerRecord[];
  /** Where the next fetch starts: past the last whole batch (control batches included). */
  nextOffset: bigint;
}

/** Groups partitions by their leader's broker id. */
async function byLeader<T extends TopicPartition>(cluster: Cluster, items: readonly T[]): Promise<Map<number, T[]>> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const leader = await cluster.leader(item.topic, item.partition);
    const group = groups.get(leader) ?? [];
    groups.set(leader, group);
    group.push(item);
  }
  return groups;
}

/** Items grouped by topic, in first-seen order. */
function byTopic<T extends TopicPartition>(items: readonly T[]): Map<string, T[]> {
  const topics = new Map<string, T[]>();
  for (const item of items) {
    const list = topics.get(item.topic) ?? [];
    topics.set(item.topic, list);
    list.push(item);
  }
  return topics;
}

export async function listOffsets(cluster: Cluster, partitions: readonly TopicPartition[], spec: OffsetSpec): Promise<ListedOffset[]> {
  const timestamp = spec === "earliest" ? EARLIEST_TIMESTAMP : spec === "latest" ? LATEST_TIMESTAMP : spec.timestamp;
  return cluster.retry(async () => {
    const groups = await byLeader(cluster, partitions);
    const answers = await Promise.all(
      [...groups].map(async ([leader, items]) => {
        const connection = await cluster.node(leader);
        return connection.request<ListOffsetsResponse>(LIST_OFFSETS, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [...byTopic(items)].map(([name, list]) => ({
            name,
            partitions: list.map((item) => ({ ...defaultListOffsetsRequestListOffsetsPartition(), partitionIndex: item.partition, timestamp })),
          })),
          timeoutMs: cluster.options.requestTimeoutMs,
        });
      }),
    );
    const listed: ListedOffset[] = [];
    for (const answer of answers) {
      for (const topic of answer.topics) {
        for (const p of topic.partitions) {
          if (p.errorCode !== 0) throw new KafkaResponseError(p.errorCode, `listing offsets of ${topic.name}-${p.partitionIndex}`);
          listed.push({ topic: topic.name, partition: p.partitionIndex, offset: p.offset, timestamp: p.timestamp });
        }
      }
    }
    return listed;
  });
}

/**
 * Sends each partition's batches to its leader and waits for the acknowledgements (`acks` 1 or -1;
 * 0 waits for nothing). Partitions failing with a retriable error are sent again, with fresh
 * metadata, until the retry timeout; other errors come back in the results.
 */
export async function produce(
  cluster: Cluster,
  batches: readonly ProduceBatch[],
  options: { acks?: number; timeoutMs?: number } = {},
): Promise<ProduceResult[]> {
  const acks = options.acks ?? -1;
  const results: ProduceResult[] = [];
  let pending = [...batches];
  await cluster.retry(async () => {
    const groups = await byLeader(cluster, pending);
    const retry: ProduceBatch[] = [];
    let retriable: KafkaResponseError | undefined;
    await Promise.all(
      [...groups].map(async ([leader, items]) => {
        const answered = await produceTo(cluster, leader, items, acks, options.timeoutMs ?? 30_000);
        for (const [index, result] of answered.entries()) {
          if (result.error?.retriable) {
            retry.push(items[index] as ProduceBatch);
            retriable ??= result.error;
          } else results.push(result);
        }
      }),
    );
    pending = retry;
    if (retriable) throw retriable;
  });
  return results;
}

/** One Produce request to one leader; results in the order of `items`. */
async function produceTo(cluster: Cluster, leader: number, items: readonly ProduceBatch[], acks: number, timeoutMs: number): Promise<ProduceResult[]> {
  const connection = await cluster.node(leader);
  const topicIds = new Map<string, string>();
  for (const item of items) topicIds.set(item.topic, (await cluster.topic(item.topic)).topicId);
  const body = {
    transactionalId: null,
    acks,
    timeoutMs,
    topicData: [...byTopic(items)].map(([name, list]) => ({
      ...defaultProduceRequestTopicProduceData(),
      name,
      topicId: topicIds.get(name) as string,
      partitionData: list.map((item) => ({ index: item.partition, records: item.records })),
    })),
  };
  if (acks === 0) {
    await connection.send(PRODUCE, body);
    return items.map((item) => ({ topic: item.topic, partition: item.partition, baseOffset: -1n, error: null }));
  }
  const response = await connection.request<ProduceResponse>(PRODUCE, body, { extraWaitMs: timeoutMs });
  const answers = new Map<string, ProduceResult>();
  for (const topic of response.responses) {
    // Produce v13 names topics by id only.
    const name = topic.name !== "" ? topic.name : ([...topicIds].find(([, id]) => id === topic.topicId)?.[0] ?? "");
    for (const p of topic.partitionResponses) {
      const detail = p.errorMessage ?? p.recordErrors[0]?.batchIndexErrorMessage ?? null;
      answers.set(`${name}\u0000${p.index}`, {
        topic: name,
        partition: p.index,
        baseOffset: p.baseOffset,
        error: p.errorCode === 0 ? null : new KafkaResponseError(p.errorCode, detail),
      });
    }
  }
  return items.map(
    (item) =>
      answers.get(`${item.topic}\u0000${item.partition}`) ?? {
        topic: item.topic,
        partition: item.partition,
        baseOffset: -1n,
        error: new KafkaResponseError(-1, `no answer for ${item.topic}-${item.partition}`),
      },
  );
}

/** One fetch from every leader of `positions` at once. */
export async function fetch(cluster: Cluster, positions: readonly FetchPosition[], options: FetchOptions = {}): Promise<FetchedPartition[]> {
  const groups = await cluster.retry(() => byLeader(cluster, positions));
  const answers = await Promise.all([...groups].map(([leader, items]) => fetchFrom(cluster, leader, items, options)));
  const fetched = answers.flat();
  if (fetched.some((partition) => partition.error?.retriable)) cluster.forgetRoutes();
  return fetched;
}

async function fetchFrom(cluster: Cluster, leader: number, items: readonly FetchPosition[], options: FetchOptions): Promise<FetchedPartition[]> {
  const connection = await cluster.node(leader);
  const topicIds = new Map<string, string>();
  for (const item of items) topicIds.set(item.topic, (await cluster.topic(item.topic)).topicId);
  const maxWaitMs = options.maxWaitMs ?? 500;
  const response = await connection.request<FetchResponse>(
    FETCH,
    {
      replicaId: -1,
      maxWaitMs,
      minBytes: options.minBytes ?? 1,
      maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
      isolationLevel: options.isolationLevel ?? 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic(items)].map(([topic, list]) => ({
        ...defaultFetchRequestFetchTopic(),
        topic,
        topicId: topicIds.get(topic) as string,
        partitions: list.map((item) => ({
          ...defaultFetchRequestFetchPartition(),
          partition: item.partition,
          fetchOffset: item.offset,
          partitionMaxBytes: options.partitionMaxBytes ?? 1024 * 1024,
        })),
      })),
    },
    { extraWaitMs: maxWaitMs },
  );
  if (response.errorCode !== 0) throw new KafkaResponseError(response.errorCode);
  const positions = new Map(items.map((item) => [`${item.topic}\u0000${item.partition}`, item.offset]));
  const fetched: FetchedPartition[] = [];
  for (const topicResponse of response.responses) {
    // Fetch v13+ names topics by id only.
    const topic = topicResponse.topic !== "" ? topicResponse.topic : ([...topicIds].find(([, id]) => id === topicResponse.topicId)?.[0] ?? "");
    for (const p of topicResponse.partitions) {
      const from = positions.get(`${topic}\u0000${p.partitionIndex}`) ?? 0n;
      const base = {
        topic,
        partition: p.partitionIndex,
        highWatermark: p.highWatermark,
        lastStableOffset: p.lastStableOffset,
        logStartOffset: p.logStartOffset,
        leader,
      };
      if (p.errorCode !== 0) {
        fetched.push({ ...base, error: new KafkaResponseError(p.errorCode), records: [], nextOffset: from });
        continue;
      }
      const { records, nextOffset } = await decodeFetched(
        p.records,
        topic,
        p.partitionIndex,
        from,
        options.isolationLevel === 1 ? p.abortedTransactions : null,
      );
      fetched.push({ ...base, error: null, records, nextOffset });
    }
  }
  return fetched;
}

/**
 * The records of one partition's record set from `from` on. Under read_committed the broker lists
 * the aborted transactions that overlap the response: their producers' batches are skipped from the
 * transaction's first offset until its ABORT marker (Kafka's consumer does the same).
 */
async function decodeFetched(
  recordSet: Buffer | null,
  topic: string,
  partition: number,
  from: bigint,
  aborted: { producerId: bigint; firstOffset: bigint }[] | null,
): Promise<{ records: ConsumerRecord[]; nextOffset: bigint }> {
  const records: ConsumerRecord[] = [];
  let nextOffset = from;
  if (recordSet === null || recordSet.length === 0) return { records, nextOffset };
  const batches = [...wholeBatches(recordSet)];
  if (batches.some((batch) => batch.compression !== 0)) await loadCodecs();
  const pendingAborts = [...(aborted ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  for (const batch of batches) {
    while (pendingAborts.length > 0 && (pendingAborts[0] as { firstOffset: bigint }).firstOffset <= batch.lastOffset) {
      abortedProducers.add((pendingAborts.shift() as { producerId: bigint }).producerId);
    }
    if (batch.isControl && isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
    const skip = aborted !== null && batch.isTransactional && abortedProducers.has(batch.producerId);
    if (!skip) for (const record of recordsOfBatch(batch, topic, partition, from)) records.push(record);
    if (batch.nextOffset > nextOffset) nextOffset = batch.nextOffset;
  }
  return { records, nextOffset };
}

function isAbortMarker(batch: RecordBatchView): boolean {
  for (const record of decodeRecords(batch)) return decodeControlRecordKey(record.key).type === ControlRecordType.ABORT;
  return false;
}
