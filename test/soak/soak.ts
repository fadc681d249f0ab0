// The soak test: the real broker (bin/sluice) with its background work made as frequent as it
// can be — a retention check every 100 ms, 1 MiB segments (rolls by size), segment.ms of a few
// hundred ms (rolls by time), flushes every few messages and ms, retention by size and by time —
// while, all at once and at full speed:
//   - producers with acks=0, acks=1, acks=all and idempotent ones write to many partitions, with
//     up to 5 requests in flight each, every record's value naming its producer, partition and
//     sequence ("<producer>|<partition>|<sequence>|...");
//   - one consumer per topic reads every partition with Fetch (no consumer groups: positions are
//     kept here), checking each record against what was sent;
//   - DeleteRecords moves log start offsets (on soak-keep only up to what its consumer has read), IncrementalAlterConfigs and AlterConfigs change
//     retention, segment and flush settings, and topics are created, written, read and deleted.
// What it checks, in the summary it returns (runSoak) and prints (test/soak/run.ts):
//   - no client sees an error Kafka would not give: every produce, fetch and admin answer is NONE,
//     except OFFSET_OUT_OF_RANGE for a consumer whose position fell below a log start offset that
//     retention or DeleteRecords moved (checked with ListOffsets earliest), and
//     UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER_OR_FOLLOWER for a topic being deleted;
//   - every acknowledged record is read back exactly once, at the offset its acknowledgement gave,
//     in order per producer and partition, except records retention or DeleteRecords removed before
//     the consumer got there (counted separately); every acks=0 record is read back too (on a topic
//     nothing removes), unless the broker closed that producer's connection, which is an error;
//   - each partition's offsets are contiguous (no gaps), and nothing is read that was never sent.

import { errorByCode } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { recordsOf } from "../helpers/records.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA";
const NONE = 0;
const OFFSET_OUT_OF_RANGE = 1;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const NOT_LEADER_OR_FOLLOWER = 6;

const API = {
  produce: 0,
  fetch: 1,
  listOffsets: 2,
  createTopics: 19,
  deleteTopics: 20,
  deleteRecords: 21,
  initProducerId: 22,
  alterConfigs: 33,
  incrementalAlterConfigs: 44,
};

/** The broker's settings: every kind of background work, as often as the configs allow. */
export const soakBrokerOverrides = {
  "log.retention.check.interval.ms": 100,
  // The smallest segment.bytes Kafka 4 accepts: segments roll by size every MiB.
  "log.segment.bytes": 1_048_576,
  "log.roll.ms": 400,
  "log.flush.interval.messages": 200,
  "log.flush.interval.ms": 250,
  "log.flush.scheduler.interval.ms": 100,
  // A produce or fetch for a deleted topic must not bring it back.
  "auto.create.topics.enable": false,
};

interface TopicSpec {
  name: string;
  partitions: number;
  /** Whether retention or DeleteRecords remove records from it (consumers may legitimately skip). */
  removes: boolean;
  configs: Record<string, string>;
}

const topics: TopicSpec[] = [
  // Nothing is removed before it is read (DeleteRecords follows its consumer): every acknowledged
  // (and every acks=0) record must be read back.
  {
    name: "soak-keep",
    partitions: 6,
    removes: false,
    configs: { "retention.ms": "-1", "retention.bytes": "-1", "segment.ms": "300", "flush.messages": "100" },
  },
  // Retention by size (and DeleteRecords).
  { name: "soak-size", partitions: 3, removes: true, configs: { "retention.bytes": "1048576", "segment.ms": "1000", "flush.ms": "200" } },
  // Retention by time (and DeleteRecords).
  { name: "soak-time", partitions: 3, removes: true, configs: { "retention.ms": "2000", "segment.ms": "250" } },
];

type Mode = "acks=0" | "acks=1" | "acks=all" | "idempotent";

const producerSpecs: { name: string; topic: string; mode: Mode }[] = [
  { name: "keep-acks0", topic: "soak-keep", mode: "acks=0" },
  { name: "keep-acks1", topic: "soak-keep", mode: "acks=1" },
  { name: "keep-acksall", topic: "soak-keep", mode: "acks=all" },
  { name: "keep-idem", topic: "soak-keep", mode: "idempotent" },
  { name: "size-acksall", topic: "soak-size", mode: "acks=all" },
  { name: "size-idem", topic: "soak-size", mode: "idempotent" },
  { name: "time-acks1", topic: "soak-time", mode: "acks=1" },
];

const recordsPerBatch = 25;
const valueBytes = 100;
const maxInFlight = 5;

export interface SoakOptions {
  durationMs: number;
  /** Progress lines (every 10 s and at the phases). */
  log?: (line: string) => void;
  /** Use this broker instead of starting one (it should have soakBrokerOverrides). */
  broker?: SluiceBroker;
  /**
   * Which parts run (for narrowing down a failure), comma-separated: "p" every producer (or a
   * producer's name, e.g. "keep-acks0"), "c" the consumers, "d" DeleteRecords, "k" config changes,
   * "t" topic churn. All by default.
   */
  parts?: string;
}

export interface SoakSummary {
  durationMs: number;
  produced: { sent: number; acked: number; failed: number; acks0Sent: number; byMode: Record<string, { sent: number; acked: number; failed: number }> };
  read: number;
  /** Acknowledged (or acks=0) records never read although nothing removed them. */
  lost: number;
  /** Acknowledged records retention or DeleteRecords removed before the consumer reached them. */
  removedAcked: number;
  /** Offsets the consumers skipped because the log start offset had moved past them. */
  removedOffsets: number;
  /** Records read a second time (same producer, partition and sequence). */
  duplicates: number;
  /** Records read out of their producer's order on a partition. */
  reordered: number;
  /** Acknowledged records read at another offset than their acknowledgement gave. */
  misplaced: number;
  /** Records read that no producer sent, or on another partition than sent to. */
  unexpected: number;
  /** Offsets missing in a partition although they were above its log start offset. */
  gaps: number;
  /** Records whose produce failed but that are in the log anyway (allowed: informative). */
  failedButRead: number;
  /** Client-visible errors Kafka would not give, by "where CODE". Must be empty. */
  errors: Record<string, number>;
  /** Errors Kafka gives too in these circumstances, by "where CODE". */
  legitimate: Record<string, number>;
  /** Background and admin work done meanwhile. */
  work: {
    deleteRecords: number;
    configChanges: number;
    topicsCreated: number;
    topicsDeleted: number;
    churnRecordsChecked: number;
    logStartOffsets: Record<string, string>;
  };
  /** The first problems found, in words (at most 50). */
  problems: string[];
  /** Lines the broker logged as unexpected failures or failed retention checks (broker bugs), and the first 5. */
  brokerUnexpectedFailures: number;
  brokerFailureLines: string[];
}

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

function codeName(code: number): string {
  return errorByCode(code)?.name ?? `ERROR_${code}`;
}

/**
 * One producer's records on one partition, by the producer's own sequence: a status and base offset
 * per batch (every batch has recordsPerBatch records) and a read flag per record, in typed arrays
 * (about 1.4 bytes a record, so long runs fit in memory).
 */
class Stream {
  static readonly NONE = 0;
  static readonly IN_FLIGHT = 1;
  static readonly ACKED = 2;
  static readonly FAILED = 3;
  /** acks=0: sent, no answer expected; must be in the log unless the broker closed the connection. */
  static readonly SENT = 4;
  /** acks=0 on a connection the broker closed: may or may not be in the log. */
  static readonly UNKNOWN = 5;

  #status = new Uint8Array(64);
  #baseOffsets = new Float64Array(64);
  read = new Uint8Array(64 * recordsPerBatch);
  nextSeq = 0;
  lastReadSeq = -1;

  constructor(
    readonly producer: string,
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Reserves the sequences of one batch (recordsPerBatch records) and returns the first. */
  take(): number {
    const first = this.nextSeq;
    this.nextSeq += recordsPerBatch;
    const batch = first / recordsPerBatch;
    if (batch >= this.#status.length) {
      const grow = <T extends Uint8Array | Float64Array>(old: T, make: (n: number) => T) => {
        const bigger = make(old.length * 2);
        bigger.set(old);
        return bigger;
      };
      this.#status = grow(this.#status, (n) => new Uint8Array(n));
      this.#baseOffsets = grow(this.#baseOffsets, (n) => new Float64Array(n));
      this.read = grow(this.read, (n) => new Uint8Array(n));
    }
    this.#status[batch] = Stream.IN_FLIGHT;
    return first;
  }

  /** Sets the status of the batch starting at `first` (and, acknowledged, its base offset). */
  settle(first: number, status: number, baseOffset = -1): void {
    const batch = first / recordsPerBatch;
    this.#status[batch] = status;
    this.#baseOffsets[batch] = baseOffset;
  }

  statusOf(seq: number): number {
    return this.#status[Math.floor(seq / recordsPerBatch)];
  }

  /** The offset an acknowledged record was given. */
  offsetOf(seq: number): number {
    return this.#baseOffsets[Math.floor(seq / recordsPerBatch)] + (seq % recordsPerBatch);
  }
}

/** Only the whole batches of a fetched record set (a broker may cut the last one short, as Kafka's does). */
function wholeBatches(bytes: Buffer | null): Buffer | null {
  if (bytes === null) return null;
  let end = 0;
  while (end + 12 <= bytes.length) {
    const next = end + 12 + bytes.readInt32BE(end + 8);
    if (next > bytes.length) break;
    end = next;
  }
  return bytes.subarray(0, end);
}

class Soak {
  readonly streams = new Map<string, Stream>();
  readonly errors: Record<string, number> = {};
  readonly legitimate: Record<string, number> = {};
  readonly problems: string[] = [];
  readonly byMode: Record<string, { sent: number; acked: number; failed: number }> = {};
  /** Per "topic/partition": offset ranges [from, to) the consumer skipped because they were removed. */
  readonly skipped = new Map<string, [number, number][]>();
  /** Each consumer's positions, by topic: DeleteRecords on soak-keep removes only what was read. */
  readonly positions = new Map<string, number[]>();
  read = 0;
  duplicates = 0;
  reordered = 0;
  misplaced = 0;
  unexpected = 0;
  gaps = 0;
  failedButRead = 0;
  work = { deleteRecords: 0, configChanges: 0, topicsCreated: 0, topicsDeleted: 0, churnRecordsChecked: 0 };
  /** Producers stop making new requests once set. */
  stopping = false;
  /** Set once every producer has finished: consumers then read up to the final log end offsets. */
  producersDone = false;
  readonly padding = ".".repeat(valueBytes);

  constructor(
    readonly broker: SluiceBroker,
    readonly log: (line: string) => void,
  ) {}

  error(where: string, code: number | string, detail?: string): void {
    const key = `${where} ${typeof code === "number" ? codeName(code) : code}`;
    this.errors[key] = (this.errors[key] ?? 0) + 1;
    // The first three of each kind in words.
    if (this.errors[key] <= 3) this.problem(`${key}${detail ? `: ${detail}` : ""}`);
  }

  legit(where: string, code: number): void {
    const key = `${where} ${codeName(code)}`;
    this.legitimate[key] = (this.legitimate[key] ?? 0) + 1;
  }

  problem(text: string): void {
    if (this.problems.length < 50) this.problems.push(text);
  }

  stream(producer: string, topic: string, partition: number): Stream {
    const key = `${producer}|${partition}`;
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new Stream(producer, topic, partition);
      this.streams.set(key, stream);
    }
    return stream;
  }

  connect(): Promise<TestClient> {
    return TestClient.connect(this.broker.port);
  }

  // -------------------------------------------------------------------------------------------
  // Producers

  batch(stream: Stream, first: number, count: number, idempotence?: { producerId: bigint; producerEpoch: number; baseSequence: number }): Buffer {
    const now = BigInt(Date.now());
    const records = [];
    for (let i = 0; i < count; i++) {
      const text = `${stream.producer}|${stream.partition}|${first + i}|`;
      records.push({ value: Buffer.from(text + this.padding.slice(text.length)) });
    }
    return buildRecordBatch({ baseTimestamp: now, records, ...(idempotence ?? {}) });
  }

  async producer(spec: { name: string; topic: string; mode: Mode }): Promise<void> {
    const topic = topics.find((t) => t.name === spec.topic)!;
    this.byMode[spec.mode] ??= { sent: 0, acked: 0, failed: 0 };
    const counts = this.byMode[spec.mode];
    const streams = Array.from({ length: topic.partitions }, (_, p) => this.stream(spec.name, topic.name, p));
    const perRequest = Math.min(3, topic.partitions);
    let next = 0;
    const where = `produce(${spec.mode})`;

    if (spec.mode === "acks=0") {
      let client = await this.connect();
      /** What was sent on the current connection: if the broker closes it, none of it is certain. */
      let sentHere: [Stream, number][] = [];
      let requests = 0;
      while (!this.stopping) {
        if (client.closedAt !== null) {
          this.error(where, "the broker closed the connection (a produce failed)");
          for (const [stream, first] of sentHere) stream.settle(first, Stream.UNKNOWN);
          sentHere = [];
          client = await this.connect();
        }
        const partitionData = [];
        for (let i = 0; i < perRequest; i++) {
          const stream = streams[next++ % streams.length];
          const first = stream.take();
          partitionData.push({ index: stream.partition, records: this.batch(stream, first, recordsPerBatch) });
          stream.settle(first, Stream.SENT);
          sentHere.push([stream, first]);
          counts.sent += recordsPerBatch;
        }
        try {
          await client.send(API.produce, 9, {
            transactionalId: null,
            acks: 0,
            timeoutMs: 30_000,
            topicData: [{ name: topic.name, topicId: ZERO_UUID, partitionData }],
          });
        } catch {
          // The socket is closing: a failed write calls back at once, so wait for the close
          // instead of spinning (the check at the top of the loop counts it).
          await Promise.race([client.closed(), sleep(1_000)]);
          if (client.closedAt === null) client.close();
        }
        // Nothing answers acks=0, so nothing slows it down: a round trip every 10 requests keeps it
        // at the pace of the other producers instead of filling the broker's socket buffers. Once
        // answered, every produce before it was handled without a failure (a failure closes the
        // connection, and a connection's requests are handled in order): those records are due.
        if (++requests % 10 === 0) {
          const answered = await client.request(API.listOffsets, 7, listOffsetsBody(topic.name, [0], -1n)).then(
            () => true,
            () => false,
          );
          if (answered) sentHere = [];
        }
      }
      // A request with an answer after the last acks=0 produce: once it is answered, the broker has
      // handled every produce before it (a connection's requests are handled in order).
      try {
        await client.request(API.listOffsets, 7, listOffsetsBody(topic.name, [0], -1n));
      } catch {
        // closed: checked below
      }
      await sleep(50);
      if (client.closedAt !== null) {
        this.error(where, "the broker closed the connection (a produce failed)");
        for (const [stream, first] of sentHere) stream.settle(first, Stream.UNKNOWN);
      }
      client.close();
      return;
    }

    const acks = spec.mode === "acks=1" ? 1 : -1;
    const idempotent = spec.mode === "idempotent";
    let client = await this.connect();
    let producerId = -1n;
    let producerEpoch = -1;
    let kafkaSequences = new Array<number>(topic.partitions).fill(0);
    let needsReset = idempotent;
    const inFlight = new Set<Promise<void>>();
    /** Per partition: the offset of the last acknowledged batch, to check the acks come in order. */
    const lastAckedOffset = new Array<number>(topic.partitions).fill(-1);

    while (!this.stopping) {
      if (client.closedAt !== null) {
        await Promise.all(inFlight);
        client = await this.connect();
      }
      if (needsReset) {
        // After a failure an idempotent producer cannot go on with its sequences: a new producer id.
        await Promise.all(inFlight);
        if (this.stopping) break;
        const init = await client
          .request<{ errorCode: number; producerId: bigint; producerEpoch: number }>(API.initProducerId, 4, {
            transactionalId: null,
            transactionTimeoutMs: 60_000,
            producerId: -1n,
            producerEpoch: -1,
          })
          .catch((error: Error) => ({ errorCode: -2, producerId: -1n, producerEpoch: -1, message: error.message }));
        if (init.errorCode !== NONE) {
          this.error("InitProducerId", init.errorCode === -2 ? "connection failed" : init.errorCode);
          await sleep(100);
          continue;
        }
        producerId = init.producerId;
        producerEpoch = init.producerEpoch;
        kafkaSequences = new Array<number>(topic.partitions).fill(0);
        needsReset = false;
      }
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (this.stopping) break;

      const batches: { stream: Stream; first: number }[] = [];
      const partitionData = [];
      for (let i = 0; i < perRequest; i++) {
        const stream = streams[next++ % streams.length];
        const first = stream.take();
        const idempotence = idempotent ? { producerId, producerEpoch, baseSequence: kafkaSequences[stream.partition] } : undefined;
        if (idempotent) kafkaSequences[stream.partition] += recordsPerBatch;
        partitionData.push({ index: stream.partition, records: this.batch(stream, first, recordsPerBatch, idempotence) });
        batches.push({ stream, first });
        counts.sent += recordsPerBatch;
      }
      const settle = (stream: Stream, first: number, status: number, baseOffset?: number) => {
        stream.settle(first, status, baseOffset);
        if (status === Stream.ACKED) counts.acked += recordsPerBatch;
        else counts.failed += recordsPerBatch;
      };
      const request = client
        .request<{
          responses: { name: string; partitionResponses: { index: number; errorCode: number; baseOffset: bigint; errorMessage: string | null }[] }[];
        }>(API.produce, 9, { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic.name, topicId: ZERO_UUID, partitionData }] })
        .then(
          (response) => {
            const answers = new Map(response.responses.flatMap((t) => t.partitionResponses.map((p) => [p.index, p] as const)));
            for (const { stream, first } of batches) {
              const answer = answers.get(stream.partition);
              if (!answer) {
                this.error(where, "no answer for a partition");
                settle(stream, first, Stream.FAILED);
              } else if (answer.errorCode !== NONE) {
                this.error(where, answer.errorCode, `${topic.name}-${stream.partition}${answer.errorMessage ? ` (${answer.errorMessage})` : ""}`);
                settle(stream, first, Stream.FAILED);
                if (idempotent) needsReset = true;
              } else {
                const offset = Number(answer.baseOffset);
                if (offset <= lastAckedOffset[stream.partition]) {
                  this.error(
                    where,
                    "acknowledged offsets out of order",
                    `${topic.name}-${stream.partition}: ${offset} after ${lastAckedOffset[stream.partition]}`,
                  );
                }
                lastAckedOffset[stream.partition] = offset;
                settle(stream, first, Stream.ACKED, offset);
              }
            }
          },
          (error: Error) => {
            this.error(where, "connection lost", error.message);
            for (const { stream, first } of batches) settle(stream, first, Stream.FAILED);
            if (idempotent) needsReset = true;
          },
        );
      const tracked: Promise<void> = request.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    client.close();
  }

  // -------------------------------------------------------------------------------------------
  // Consumers

  async consumer(topic: TopicSpec): Promise<void> {
    const client = await this.connect();
    const positions = new Array<number>(topic.partitions).fill(0);
    this.positions.set(topic.name, positions);
    let ends: number[] | null = null;
    let idleSince = 0;
    try {
      for (;;) {
        if (this.producersDone && ends === null) {
          ends = await this.latestOffsets(client, topic);
          idleSince = Date.now();
        }
        if (ends && positions.every((position, p) => position >= ends![p])) return;
        if (ends && Date.now() - idleSince > 60_000) {
          this.error(`fetch ${topic.name}`, "did not reach the log end offsets within 60 s of the producers stopping", `at ${positions} of ${ends}`);
          return;
        }
        const response = await client.request<{
          errorCode: number;
          responses: {
            topic: string;
            partitions: { partitionIndex: number; errorCode: number; highWatermark: bigint; logStartOffset: bigint; records: Buffer | null }[];
          }[];
        }>(API.fetch, 12, {
          replicaId: -1,
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: 4 * 1024 * 1024,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic: topic.name,
              topicId: ZERO_UUID,
              partitions: positions.map((position, partition) => ({
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(position),
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: 1024 * 1024,
                replicaDirectoryId: ZERO_UUID,
                highWatermark: -1n,
              })),
            },
          ],
          forgottenTopicsData: [],
          rackId: "",
        });
        if (response.errorCode !== NONE) {
          this.error(`fetch ${topic.name}`, response.errorCode);
          await sleep(50);
          continue;
        }
        for (const answer of response.responses.flatMap((t) => t.partitions)) {
          const partition = answer.partitionIndex;
          if (answer.errorCode === OFFSET_OUT_OF_RANGE) {
            await this.outOfRange(client, topic, partition, positions);
            continue;
          }
          if (answer.errorCode !== NONE) {
            this.error(`fetch ${topic.name}`, answer.errorCode, `${topic.name}-${partition} at ${positions[partition]}`);
            continue;
          }
          let records: ReturnType<typeof recordsOf>;
          try {
            records = recordsOf(wholeBatches(answer.records));
          } catch (error) {
            this.error(`fetch ${topic.name}`, "undecodable records", (error as Error).message);
            continue;
          }
          for (const record of records) {
            const offset = Number(record.offset);
            if (offset < positions[partition]) continue;
            if (offset !== positions[partition]) {
              // Nothing removes single offsets: a jump is a gap, unless the log start moved past it.
              if (topic.removes && Number(answer.logStartOffset) >= offset) this.markRemoved(topic, partition, positions[partition], offset);
              else {
                this.gaps += offset - positions[partition];
                this.problem(`gap in ${topic.name}-${partition}: expected offset ${positions[partition]}, read ${offset}`);
              }
            }
            this.check(topic.name, partition, offset, record.value);
            positions[partition] = offset + 1;
          }
        }
      }
    } catch (error) {
      this.error(`fetch ${topic.name}`, "connection lost", (error as Error).message);
    } finally {
      client.close();
    }
  }

  /** OFFSET_OUT_OF_RANGE: legitimate if the log start offset is now above the position. */
  async outOfRange(client: TestClient, topic: TopicSpec, partition: number, positions: number[]): Promise<void> {
    const earliest = await this.listOffset(client, topic.name, partition, -2n);
    const position = positions[partition];
    if (earliest === null) return;
    if (topic.removes && earliest > position) {
      this.legit(`fetch ${topic.name}`, OFFSET_OUT_OF_RANGE);
      this.markRemoved(topic, partition, position, earliest);
      positions[partition] = earliest;
    } else {
      this.error(`fetch ${topic.name}`, OFFSET_OUT_OF_RANGE, `${topic.name}-${partition} at ${position}, log start offset ${earliest}`);
      await sleep(50);
    }
  }

  /** Records the offsets [from, to) as removed by retention or DeleteRecords before the consumer read them (not lost). */
  markRemoved(topic: TopicSpec, partition: number, from: number, to: number): void {
    const key = `${topic.name}/${partition}`;
    const ranges = this.skipped.get(key) ?? [];
    ranges.push([from, to]);
    this.skipped.set(key, ranges);
  }

  async listOffset(client: TestClient, topic: string, partition: number, timestamp: bigint): Promise<number | null> {
    const response = await client.request<{ topics: { partitions: { partitionIndex: number; errorCode: number; offset: bigint }[] }[] }>(
      API.listOffsets,
      7,
      listOffsetsBody(topic, [partition], timestamp),
    );
    const answer = response.topics[0]?.partitions[0];
    if (!answer || answer.errorCode !== NONE) {
      this.error(`ListOffsets ${topic}`, answer?.errorCode ?? "no answer");
      return null;
    }
    return Number(answer.offset);
  }

  async latestOffsets(client: TestClient, topic: TopicSpec): Promise<number[]> {
    const ends = [];
    for (let p = 0; p < topic.partitions; p++) ends.push((await this.listOffset(client, topic.name, p, -1n)) ?? 0);
    return ends;
  }

  /** One record read at `offset`: checks it against what its producer sent. */
  check(topic: string, partition: number, offset: number, value: Buffer | null): void {
    this.read++;
    const fields = value?.toString("latin1").split("|", 3);
    const stream = fields && fields.length === 3 ? this.streams.get(`${fields[0]}|${fields[1]}`) : undefined;
    const seq = fields ? Number(fields[2]) : Number.NaN;
    if (!stream || stream.topic !== topic || stream.partition !== partition || !Number.isInteger(seq) || seq >= stream.nextSeq || seq < 0) {
      this.unexpected++;
      this.problem(`unexpected record at ${topic}-${partition}@${offset}: ${value?.toString("latin1").slice(0, 40)}`);
      return;
    }
    if (stream.read[seq]) {
      this.duplicates++;
      this.problem(`duplicate at ${topic}-${partition}@${offset}: ${stream.producer} #${seq}`);
      return;
    }
    stream.read[seq] = 1;
    if (seq < stream.lastReadSeq) {
      this.reordered++;
      this.problem(`out of order at ${topic}-${partition}@${offset}: ${stream.producer} #${seq} after #${stream.lastReadSeq}`);
    }
    stream.lastReadSeq = Math.max(stream.lastReadSeq, seq);
    const status = stream.statusOf(seq);
    if (status === Stream.ACKED && stream.offsetOf(seq) !== offset) {
      this.misplaced++;
      this.problem(`${stream.producer} #${seq} acknowledged at ${topic}-${partition}@${stream.offsetOf(seq)} but read at @${offset}`);
    }
    if (status === Stream.FAILED) this.failedButRead++;
  }

  // -------------------------------------------------------------------------------------------
  // Admin work meanwhile

  async deleteRecordsLoop(): Promise<void> {
    const client = await this.connect();
    let i = 0;
    try {
      while (!this.stopping) {
        await sleep(200);
        const topic = topics[i++ % topics.length];
        const partition = Math.floor(i / topics.length) % topic.partitions;
        let offset: number;
        if (!topic.removes) {
          // Only what its consumer has read (so nothing unread is removed; the disk use stays bounded).
          offset = this.positions.get(topic.name)?.[partition] ?? 0;
        } else {
          const end = await this.listOffset(client, topic.name, partition, -1n);
          if (end === null) continue;
          // Sometimes right up to the end (ahead of the consumer), mostly a little behind it.
          offset = i % 3 === 0 ? end : Math.max(0, end - 2_000);
        }
        const response = await client.request<{ topics: { partitions: { errorCode: number; lowWatermark: bigint }[] }[] }>(API.deleteRecords, 2, {
          topics: [{ name: topic.name, partitions: [{ partitionIndex: partition, offset: BigInt(offset) }] }],
          timeoutMs: 30_000,
        });
        const answer = response.topics[0]?.partitions[0];
        if (!answer || answer.errorCode !== NONE) this.error(`DeleteRecords ${topic.name}`, answer?.errorCode ?? "no answer");
        else this.work.deleteRecords++;
      }
    } catch (error) {
      this.error("DeleteRecords", "connection lost", (error as Error).message);
    } finally {
      client.close();
    }
  }

  async configLoop(): Promise<void> {
    const client = await this.connect();
    let i = 0;
    const pick = <T>(values: T[]) => values[i % values.length];
    try {
      while (!this.stopping) {
        await sleep(300);
        i++;
        let errorCode: number;
        let where: string;
        if (i % 3 === 2) {
          // AlterConfigs replaces every override of the topic.
          where = "AlterConfigs soak-time";
          const response = await client.request<{ responses: { errorCode: number }[] }>(API.alterConfigs, 2, {
            resources: [
              {
                resourceType: 2,
                resourceName: "soak-time",
                configs: [
                  { name: "retention.ms", value: pick(["2000", "3000", "1500"]) },
                  { name: "segment.ms", value: pick(["250", "150", "400"]) },
                  { name: "flush.ms", value: pick(["100", "1000"]) },
                ],
              },
            ],
            validateOnly: false,
          });
          errorCode = response.responses[0]?.errorCode ?? -2;
        } else {
          const [topic, configs] =
            i % 3 === 0
              ? [
                  "soak-keep",
                  [
                    ["segment.ms", pick(["200", "500", "1500", "300"])],
                    ["flush.messages", pick(["1", "50", "1000"])],
                    ["segment.bytes", pick(["1048576", "2097152"])],
                  ],
                ]
              : [
                  "soak-size",
                  [
                    ["retention.bytes", pick(["1048576", "2097152", "1048576"])],
                    ["segment.ms", pick(["1000", "300"])],
                  ],
                ];
          where = `IncrementalAlterConfigs ${topic}`;
          const response = await client.request<{ responses: { errorCode: number }[] }>(API.incrementalAlterConfigs, 1, {
            resources: [{ resourceType: 2, resourceName: topic, configs: configs.map(([name, value]) => ({ name, configOperation: 0, value })) }],
            validateOnly: false,
          });
          errorCode = response.responses[0]?.errorCode ?? -2;
        }
        if (errorCode !== NONE) this.error(where, errorCode === -2 ? "no answer" : errorCode);
        else this.work.configChanges++;
      }
    } catch (error) {
      this.error("config changes", "connection lost", (error as Error).message);
    } finally {
      client.close();
    }
  }

  /** Topics created, written (acks=all), read back, and deleted while a produce to them is in flight. */
  async churnLoop(): Promise<void> {
    const client = await this.connect();
    const producer = await this.connect();
    let cycle = 0;
    try {
      while (!this.stopping) {
        const name = `soak-churn-${cycle++}`;
        const created = await client.request<{ topics: { errorCode: number }[] }>(API.createTopics, 7, {
          topics: [
            {
              name,
              numPartitions: 2,
              replicationFactor: 1,
              assignments: [],
              configs: [
                { name: "segment.ms", value: "100" },
                { name: "flush.messages", value: "1" },
              ],
            },
          ],
          timeoutMs: 30_000,
          validateOnly: false,
        });
        if (created.topics[0]?.errorCode !== NONE) {
          this.error("CreateTopics", created.topics[0]?.errorCode ?? "no answer");
          await sleep(200);
          continue;
        }
        this.work.topicsCreated++;
        // Written and read back: every record must be there.
        const sent: string[][] = [[], []];
        for (let round = 0; round < 5; round++) {
          const partitionData = [0, 1].map((partition) => {
            const values = Array.from({ length: 20 }, (_, i) => `${name}|${partition}|${round * 20 + i}`);
            sent[partition].push(...values);
            return {
              index: partition,
              records: buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: values.map((v) => ({ value: Buffer.from(v) })) }),
            };
          });
          const response = await producer.request<{ responses: { partitionResponses: { index: number; errorCode: number; baseOffset: bigint }[] }[] }>(
            API.produce,
            9,
            {
              transactionalId: null,
              acks: -1,
              timeoutMs: 30_000,
              topicData: [{ name, topicId: ZERO_UUID, partitionData }],
            },
          );
          for (const answer of response.responses[0].partitionResponses) {
            if (answer.errorCode !== NONE) this.error("produce(churn)", answer.errorCode, `${name}-${answer.index}`);
            else if (Number(answer.baseOffset) !== round * 20)
              this.error("produce(churn)", "unexpected offset", `${name}-${answer.index}@${answer.baseOffset}`);
          }
        }
        for (const partition of [0, 1]) {
          const read: string[] = [];
          for (let attempt = 0; read.length < sent[partition].length && attempt < 20; attempt++) {
            const response = await client.request<{ responses: { partitions: { errorCode: number; records: Buffer | null }[] }[] }>(API.fetch, 12, {
              replicaId: -1,
              maxWaitMs: 0,
              minBytes: 1,
              maxBytes: 1024 * 1024,
              isolationLevel: 0,
              sessionId: 0,
              sessionEpoch: -1,
              topics: [
                {
                  topic: name,
                  topicId: ZERO_UUID,
                  partitions: [
                    {
                      partition,
                      currentLeaderEpoch: -1,
                      fetchOffset: BigInt(read.length),
                      lastFetchedEpoch: -1,
                      logStartOffset: -1n,
                      partitionMaxBytes: 1024 * 1024,
                      replicaDirectoryId: ZERO_UUID,
                      highWatermark: -1n,
                    },
                  ],
                },
              ],
              forgottenTopicsData: [],
              rackId: "",
            });
            const answer = response.responses[0].partitions[0];
            if (answer.errorCode !== NONE) {
              this.error("fetch(churn)", answer.errorCode, `${name}-${partition}`);
              break;
            }
            for (const record of recordsOf(wholeBatches(answer.records))) if (Number(record.offset) >= read.length) read.push(record.value?.toString() ?? "");
          }
          if (read.join("\n") !== sent[partition].join("\n")) {
            this.error("fetch(churn)", "records differ from those produced", `${name}-${partition}: ${read.length} read of ${sent[partition].length}`);
          } else this.work.churnRecordsChecked += read.length;
        }
        // Deleted while a produce to it is in flight: that produce may succeed or find the topic gone.
        const late = producer.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(API.produce, 9, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 30_000,
          topicData: [
            {
              name,
              topicId: ZERO_UUID,
              partitionData: [{ index: 0, records: buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ value: Buffer.from("late") }] }) }],
            },
          ],
        });
        const deleted = await client.request<{ responses: { errorCode: number }[] }>(API.deleteTopics, 6, {
          topics: [{ name, topicId: ZERO_UUID }],
          timeoutMs: 30_000,
        });
        if (deleted.responses[0]?.errorCode !== NONE) this.error("DeleteTopics", deleted.responses[0]?.errorCode ?? "no answer");
        else this.work.topicsDeleted++;
        const lateCode = (await late).responses[0].partitionResponses[0].errorCode;
        if (lateCode === UNKNOWN_TOPIC_OR_PARTITION || lateCode === NOT_LEADER_OR_FOLLOWER) this.legit("produce(deleted topic)", lateCode);
        else if (lateCode !== NONE) this.error("produce(deleted topic)", lateCode);
        // After the deletion: Kafka's answer for a topic that does not exist.
        const after = await producer.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(API.produce, 9, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 30_000,
          topicData: [
            {
              name,
              topicId: ZERO_UUID,
              partitionData: [{ index: 1, records: buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ value: Buffer.from("after") }] }) }],
            },
          ],
        });
        const afterCode = after.responses[0].partitionResponses[0].errorCode;
        if (afterCode === UNKNOWN_TOPIC_OR_PARTITION) this.legit("produce(deleted topic)", afterCode);
        else this.error("produce(deleted topic)", afterCode, `${name} after DeleteTopics answered (want UNKNOWN_TOPIC_OR_PARTITION)`);
      }
    } catch (error) {
      this.error("topic churn", "connection lost", (error as Error).message);
    } finally {
      client.close();
      producer.close();
    }
  }

  // -------------------------------------------------------------------------------------------

  async createTopics(): Promise<void> {
    const client = await this.connect();
    try {
      const response = await client.request<{ topics: { name: string; errorCode: number; errorMessage: string | null }[] }>(API.createTopics, 7, {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs: 30_000,
        validateOnly: false,
      });
      for (const t of response.topics) if (t.errorCode !== NONE) throw new Error(`creating ${t.name}: ${codeName(t.errorCode)} ${t.errorMessage ?? ""}`);
    } finally {
      client.close();
    }
  }

  async logStartOffsets(): Promise<Record<string, string>> {
    const client = await this.connect();
    const starts: Record<string, string> = {};
    try {
      for (const topic of topics) {
        const offsets = [];
        for (let p = 0; p < topic.partitions; p++) {
          const [start, end] = [await this.listOffset(client, topic.name, p, -2n), await this.listOffset(client, topic.name, p, -1n)];
          offsets.push(`${start}..${end}`);
        }
        starts[topic.name] = offsets.join(" ");
      }
    } finally {
      client.close();
    }
    return starts;
  }

  progress(startedAt: number): string {
    let sent = 0;
    let acked = 0;
    for (const counts of Object.values(this.byMode)) {
      sent += counts.sent;
      acked += counts.acked;
    }
    const errors = Object.values(this.errors).reduce((a, b) => a + b, 0);
    return `${Math.round((Date.now() - startedAt) / 1000)} s: ${sent} records sent, ${acked} acknowledged, ${this.read} read, ${errors} errors, ${this.work.deleteRecords} DeleteRecords, ${this.work.configChanges} config changes, ${this.work.topicsDeleted} topics deleted`;
  }

  summary(durationMs: number, logStartOffsets: Record<string, string>): SoakSummary {
    let lost = 0;
    let removedAcked = 0;
    let acks0Sent = 0;
    for (const stream of this.streams.values()) {
      const ranges = this.skipped.get(`${stream.topic}/${stream.partition}`) ?? [];
      for (let seq = 0; seq < stream.nextSeq; seq++) {
        const status = stream.statusOf(seq);
        if (status === Stream.SENT || status === Stream.UNKNOWN) acks0Sent++;
        if (stream.read[seq]) continue;
        if (status === Stream.ACKED) {
          const offset = stream.offsetOf(seq);
          if (ranges.some(([from, to]) => offset >= from && offset < to)) removedAcked++;
          else {
            lost++;
            this.problem(`lost: ${stream.producer} #${seq}, acknowledged at ${stream.topic}-${stream.partition}@${offset}, never read`);
          }
        } else if (status === Stream.SENT) {
          lost++;
          this.problem(`lost: ${stream.producer} #${seq} (acks=0) sent to ${stream.topic}-${stream.partition}, never read`);
        } else if (status === Stream.IN_FLIGHT) {
          this.problem(`${stream.producer} #${seq}: its produce never settled`);
          lost++;
        }
      }
    }
    let removedOffsets = 0;
    for (const ranges of this.skipped.values()) for (const [from, to] of ranges) removedOffsets += to - from;
    const totals = { sent: 0, acked: 0, failed: 0 };
    for (const counts of Object.values(this.byMode)) {
      totals.sent += counts.sent;
      totals.acked += counts.acked;
      totals.failed += counts.failed;
    }
    const brokerFailures = `${this.broker.stdout()}\n${this.broker.stderr()}`.split("\n").filter((line) => BROKER_FAILURE_LINE.test(line));
    return {
      durationMs,
      produced: { ...totals, acks0Sent, byMode: this.byMode },
      read: this.read,
      lost,
      removedAcked,
      removedOffsets,
      duplicates: this.duplicates,
      reordered: this.reordered,
      misplaced: this.misplaced,
      unexpected: this.unexpected,
      gaps: this.gaps,
      failedButRead: this.failedButRead,
      errors: this.errors,
      legitimate: this.legitimate,
      work: { ...this.work, logStartOffsets },
      problems: this.problems,
      brokerUnexpectedFailures: brokerFailures.length,
      brokerFailureLines: brokerFailures.slice(0, 5).map(briefLogLine),
    };
  }
}

/** A broker log line (pino JSON) in brief: its message, the error's code and message, and what failed. */
function briefLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: string; what?: string; partition?: string; err?: { code?: string; message?: string } };
    return `${entry.msg}: ${entry.err?.code ?? ""} ${entry.err?.message ?? ""} (${entry.what ?? entry.partition ?? ""})`.slice(0, 300);
  } catch {
    return line.slice(0, 300);
  }
}

function listOffsetsBody(topic: string, partitions: number[], timestamp: bigint) {
  return {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 })) }],
    timeoutMs: 30_000,
  };
}

/** Starts a broker (unless given one), runs the soak for `durationMs`, and returns what it saw. */
export async function runSoak(options: SoakOptions): Promise<SoakSummary & { broker: SluiceBroker }> {
  const log = options.log ?? (() => {});
  const broker = options.broker ?? (await startSluice({ overrides: soakBrokerOverrides }));
  const soak = new Soak(broker, log);
  await soak.createTopics();
  const startedAt = Date.now();
  log(`soak: ${options.durationMs / 1000} s against ${broker.bootstrap} (broker pid ${broker.pid}, log dir ${broker.logDir})`);
  const ticker = setInterval(() => log(soak.progress(startedAt)), 10_000);
  try {
    const parts = (options.parts ?? "p,c,d,k,t").split(",");
    const on = (part: string) => parts.includes(part);
    const producers = Promise.all(producerSpecs.filter((s) => on("p") || on(s.name)).map((spec) => soak.producer(spec))).then(() => {
      soak.producersDone = true;
    });
    const consumers = Promise.all(topics.filter(() => on("c")).map((topic) => soak.consumer(topic)));
    const admin = Promise.all([on("d") && soak.deleteRecordsLoop(), on("k") && soak.configLoop(), on("t") && soak.churnLoop()]);
    await sleep(options.durationMs);
    soak.stopping = true;
    log(`${soak.progress(startedAt)}; stopping the producers and reading to the end`);
    await Promise.all([producers, admin]);
    await consumers;
  } finally {
    clearInterval(ticker);
  }
  const logStartOffsets = await soak.logStartOffsets();
  return { ...soak.summary(Date.now() - startedAt, logStartOffsets), broker };
}

/** The summary as lines of text. */
export function formatSummary(summary: SoakSummary): string {
  const lines = [
    `soak summary (${(summary.durationMs / 1000).toFixed(0)} s)`,
    `  records sent ${summary.produced.sent}, acknowledged ${summary.produced.acked}, failed ${summary.produced.failed}, acks=0 ${summary.produced.acks0Sent}`,
    ...Object.entries(summary.produced.byMode).map(([mode, c]) => `    ${mode}: sent ${c.sent}, acknowledged ${c.acked}, failed ${c.failed}`),
    `  records read ${summary.read}; removed by retention/DeleteRecords before being read: ${summary.removedAcked} acknowledged records (${summary.removedOffsets} offsets skipped)`,
    `  lost ${summary.lost}, duplicates ${summary.duplicates}, out of order ${summary.reordered}, at the wrong offset ${summary.misplaced}, unexpected ${summary.unexpected}, gaps ${summary.gaps}, failed but in the log ${summary.failedButRead}`,
    `  errors: ${Object.keys(summary.errors).length === 0 ? "none" : ""}`,
    ...Object.entries(summary.errors).map(([what, n]) => `    ${what}: ${n}`),
    `  legitimate errors (Kafka gives them too): ${Object.keys(summary.legitimate).length === 0 ? "none" : ""}`,
    ...Object.entries(summary.legitimate).map(([what, n]) => `    ${what}: ${n}`),
    `  work meanwhile: ${summary.work.deleteRecords} DeleteRecords, ${summary.work.configChanges} config changes, ${summary.work.topicsCreated} topics created, ${summary.work.topicsDeleted} deleted (${summary.work.churnRecordsChecked} of their records read back)`,
    ...Object.entries(summary.work.logStartOffsets).map(([topic, offsets]) => `    ${topic} log start..end offsets: ${offsets}`),
    `  broker log lines of its own failures (unexpected failure, retention, checkpoints, background jobs, producer expiry): ${summary.brokerUnexpectedFailures}`,
    ...summary.brokerFailureLines.map((line) => `    ${line}`),
  ];
  if (summary.problems.length > 0) lines.push("  first problems:", ...summary.problems.slice(0, 20).map((p) => `    ${p}`));
  return lines.join("\n");
}

/** The broker's own failures in its log: none reaches a client, but each is a bug in the background work. */
const BROKER_FAILURE_LINE =
  /unexpected failure|retention check failed|writing the offset checkpoints failed|storage background job failed|producer expiration failed/;

/**
 * What the soak asserts, each as a sentence, and whether it held: the test and `npm run soak` fail
 * on any that did not.
 */
export function soakChecks(summary: SoakSummary): { check: string; ok: boolean; detail: string }[] {
  const errorCount = Object.values(summary.errors).reduce((a, b) => a + b, 0);
  return [
    { check: "no client saw an error Kafka would not give", ok: errorCount === 0, detail: JSON.stringify(summary.errors) },
    {
      check: "every acknowledged (and acks=0) record not removed by retention/DeleteRecords was read back",
      ok: summary.lost === 0,
      detail: `${summary.lost} lost`,
    },
    { check: "no record was read twice", ok: summary.duplicates === 0, detail: `${summary.duplicates} duplicates` },
    { check: "each producer's records were read in the order sent, per partition", ok: summary.reordered === 0, detail: `${summary.reordered} out of order` },
    {
      check: "every acknowledged record was read at the offset its acknowledgement gave",
      ok: summary.misplaced === 0,
      detail: `${summary.misplaced} elsewhere`,
    },
    { check: "nothing was read that no producer sent to that partition", ok: summary.unexpected === 0, detail: `${summary.unexpected} unexpected` },
    { check: "no offsets were missing above a partition's log start offset", ok: summary.gaps === 0, detail: `${summary.gaps} missing` },
    {
      check: "the broker logged no failure of its own background work",
      ok: summary.brokerUnexpectedFailures === 0,
      detail: `${summary.brokerUnexpectedFailures} failure lines`,
    },
    {
      check: "records were produced, acknowledged and read",
      ok: summary.produced.acked > 0 && summary.read > 0,
      detail: `${summary.produced.acked} acked, ${summary.read} read`,
    },
    {
      check: "the background and admin work ran: DeleteRecords, config changes, topics created and deleted",
      ok: summary.work.deleteRecords > 0 && summary.work.configChanges > 0 && summary.work.topicsDeleted > 0,
      detail: JSON.stringify({ ...summary.work, logStartOffsets: undefined }),
    },
  ];
}
