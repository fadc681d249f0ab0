// The console's live views over WebSocket:
//
//   /ws/tail?topic=T[&partition=P][&from=end|beginning]
//       new records of a topic as they are appended. Each peer polls its partitions' high
//       watermarks every TAIL_POLL_MS and reads from where it left off, at most
//       TAIL_RECORDS_PER_POLL_MAX records and TAIL_READ_BYTES_PER_POLL_MAX bytes of batches per
//       poll; a peer further behind than TAIL_BEHIND_RECORDS_MAX on a partition skips ahead (it is
//       told so) instead of streaming a backlog: a tail shows what happens now. Messages:
//       {type: "subscribed", topic, partitions: [{partition, offset}]}, {type: "records",
//       records: [...]} (records-view.ts), {type: "skipped", partition, from, to},
//       {type: "error", message} (then the socket closes).
//   /ws/throughput
//       per-second rates of the broker's counters (BrokerMetrics: messages in, bytes in, bytes
//       out, overall and for the busiest topics), sampled by one ThroughputSampler for every
//       peer: {type: "history", intervalMs, samples} on connect, then {type: "sample", sample}.
//
// Peers are bounded (TAIL_PEERS_MAX, THROUGHPUT_PEERS_MAX); a peer that reads too slowly is
// closed by the HTTP server (WS_BACKPRESSURE_MAX_BYTES) and its session stops at the next send.

import type { BrokerServices } from "../server/context.js";
import type { BrokerMetrics, TopicMeters } from "../server/metrics.js";
import { readRecords } from "./records-view.js";
import type { HttpRequest, Router, WsPeer, WsSession } from "./server.js";

export const TAIL_POLL_MS = 250;
export const TAIL_RECORDS_PER_POLL_MAX = 200;
export const TAIL_READ_BYTES_PER_POLL_MAX = 256 * 1024;
export const TAIL_BEHIND_RECORDS_MAX = 10_000;
export const TAIL_PEERS_MAX = 32;
export const THROUGHPUT_PEERS_MAX = 32;
/** Samples kept for a chart opened later (5 minutes at one per second). */
export const THROUGHPUT_HISTORY_MAX = 300;
/** Topics reported per sample, the busiest first. */
export const THROUGHPUT_TOPICS_MAX = 20;

// ---------------------------------------------------------------------------------------------
// Throughput

export interface Rates {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ThroughputSample extends Rates {
  readonly timeMs: number;
  readonly topics: readonly ({ topic: string } & Rates)[];
}

type Counters = Pick<TopicMeters, "messagesIn" | "bytesIn" | "bytesOut">;

function ratesBetween(now: Counters, before: Counters | undefined, seconds: number): Rates {
  // A counter that went down belongs to a topic deleted and created again: count from zero.
  const delta = (key: keyof Counters) => {
    const previous = before?.[key] ?? 0;
    return (now[key] >= previous ? now[key] - previous : now[key]) / seconds;
  };
  return { messagesIn: delta("messagesIn"), bytesIn: delta("bytesIn"), bytesOut: delta("bytesOut") };
}

/** Samples BrokerMetrics every `intervalMs` into rates; keeps a short history and tells listeners. */
export class ThroughputSampler {
  readonly #metrics: BrokerMetrics;
  readonly #history: ThroughputSample[] = [];
  readonly #listeners = new Set<(sample: ThroughputSample) => void>();
  #previousAll: Counters;
  #previousTopics = new Map<string, Counters>();
  #previousMs: number;
  #timer: NodeJS.Timeout | null;

  constructor(
    metrics: BrokerMetrics,
    readonly intervalMs = 1_000,
  ) {
    this.#metrics = metrics;
    this.#previousAll = { ...metrics.allTopics };
    for (const [topic, meters] of metrics.topics()) this.#previousTopics.set(topic, { ...meters });
    this.#previousMs = Date.now();
    this.#timer = setInterval(() => this.sample(Date.now()), intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample now (the timer calls it; tests may too). */
  sample(nowMs: number): ThroughputSample {
    const seconds = Math.max(0.001, (nowMs - this.#previousMs) / 1000);
    const all = this.#metrics.allTopics;
    const topics: ({ topic: string } & Rates)[] = [];
    const current = new Map<string, Counters>();
    for (const [topic, meters] of this.#metrics.topics()) {
      const counters = { messagesIn: meters.messagesIn, bytesIn: meters.bytesIn, bytesOut: meters.bytesOut };
      current.set(topic, counters);
      const rates = ratesBetween(counters, this.#previousTopics.get(topic), seconds);
      if (rates.messagesIn > 0 || rates.bytesIn > 0 || rates.bytesOut > 0) topics.push({ topic, ...rates });
    }
    topics.sort((a, b) => b.bytesIn + b.bytesOut - (a.bytesIn + a.bytesOut) || a.topic.localeCompare(b.topic));
    const sample: ThroughputSample = { timeMs: nowMs, ...ratesBetween(all, this.#previousAll, seconds), topics: topics.slice(0, THROUGHPUT_TOPICS_MAX) };
    this.#previousAll = { messagesIn: all.messagesIn, bytesIn: all.bytesIn, bytesOut: all.bytesOut };
    this.#previousTopics = current;
    this.#previousMs = nowMs;
    this.#history.push(sample);
    if (this.#history.length > THROUGHPUT_HISTORY_MAX) this.#history.shift();
    for (const listener of [...this.#listeners]) listener(sample);
    return sample;
  }

  history(): readonly ThroughputSample[] {
    return this.#history;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  listen(listener: (sample: ThroughputSample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#listeners.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Routes

export function registerLiveRoutes(router: Router, services: BrokerServices, throughput: ThroughputSampler): void {
  let tails = 0;
  router.websocket("/ws/tail", {
    open(peer, request) {
      if (tails >= TAIL_PEERS_MAX) return refuse(peer, `at most ${TAIL_PEERS_MAX} tails at once`);
      const session = TailSession.open(services, peer, request, () => tails--);
      if (session instanceof TailSession) tails++;
      return session;
    },
  });
  router.websocket("/ws/throughput", {
    open(peer) {
      if (throughput.listeners >= THROUGHPUT_PEERS_MAX) return refuse(peer, `at most ${THROUGHPUT_PEERS_MAX} throughput charts at once`);
      peer.send(JSON.stringify({ type: "history", intervalMs: throughput.intervalMs, samples: throughput.history() }));
      const stop = throughput.listen((sample) => {
        if (!peer.send(JSON.stringify({ type: "sample", sample }))) stop();
      });
      return { close: stop };
    },
  });
}

function refuse(peer: WsPeer, message: string): WsSession {
  peer.send(JSON.stringify({ type: "error", message }));
  peer.close();
  return { close() {} };
}

class TailSession implements WsSession {
  readonly #services: BrokerServices;
  readonly #peer: WsPeer;
  readonly #topic: string;
  readonly #onlyPartition: number | null;
  readonly #fromBeginning: boolean;
  /** Next offset to send, per partition. */
  readonly #positions = new Map<number, bigint>();
  readonly #onClose: () => void;
  #timer: NodeJS.Timeout | null = null;

  private constructor(services: BrokerServices, peer: WsPeer, topic: string, partition: number | null, fromBeginning: boolean, onClose: () => void) {
    this.#services = services;
    this.#peer = peer;
    this.#topic = topic;
    this.#onlyPartition = partition;
    this.#fromBeginning = fromBeginning;
    this.#onClose = onClose;
  }

  static open(services: BrokerServices, peer: WsPeer, request: HttpRequest, onClose: () => void): WsSession {
    const topicName = request.query.get("topic") ?? "";
    const topic = services.metadata.topic(topicName);
    if (topic === undefined) return refuse(peer, `no topic ${topicName}`);
    const partitionText = request.query.get("partition");
    let partition: number | null = null;
    if (partitionText !== null && partitionText !== "") {
      partition = Number(partitionText);
      if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions.length) {
        return refuse(peer, `partition must be from 0 to ${topic.partitions.length - 1}`);
      }
    }
    const session = new TailSession(services, peer, topic.name, partition, request.query.get("from") === "beginning", onClose);
    session.#start(topic.partitions.length);
    return session;
  }

  #partitionIndexes(count: number): number[] {
    if (this.#onlyPartition !== null) return [this.#onlyPartition];
    return Array.from({ length: count }, (_, index) => index);
  }

  #start(partitionCount: number): void {
    const start = [];
    for (const index of this.#partitionIndexes(partitionCount)) {
      const partition = this.#services.partitions.get(this.#topic, index);
      if (partition === undefined) continue;
      const offset = this.#fromBeginning ? partition.logStartOffset : partition.highWatermark;
      this.#positions.set(index, offset);
      start.push({ partition: index, offset: Number(offset) });
    }
    this.#peer.send(JSON.stringify({ type: "subscribed", topic: this.#topic, partitions: start }));
    this.#timer = setInterval(() => this.#poll(), TAIL_POLL_MS);
    this.#timer.unref();
  }

  #poll(): void {
    const topic = this.#services.metadata.topic(this.#topic);
    if (topic === undefined) {
      this.#peer.send(JSON.stringify({ type: "error", message: `topic ${this.#topic} was deleted` }));
      this.#peer.close();
      this.close();
      return;
    }
    const records = [];
    let recordsLeft = TAIL_RECORDS_PER_POLL_MAX;
    let bytesLeft = TAIL_READ_BYTES_PER_POLL_MAX;
    for (const index of this.#partitionIndexes(topic.partitions.length)) {
      if (recordsLeft <= 0 || bytesLeft <= 0) break;
      const partition = this.#services.partitions.get(this.#topic, index);
      if (partition === undefined) continue;
      // A partition added since the tail started is read from its beginning.
      let position = this.#positions.get(index) ?? partition.logStartOffset;
      const end = partition.highWatermark;
      if (position >= end) continue;
      if (end - position > BigInt(TAIL_BEHIND_RECORDS_MAX)) {
        const skipTo = end - BigInt(TAIL_RECORDS_PER_POLL_MAX);
        if (!this.#peer.send(JSON.stringify({ type: "skipped", partition: index, from: Number(position), to: Number(skipTo) }))) {
          this.close();
          return;
        }
        position = skipTo;
      }
      const read = readRecords(partition, position, recordsLeft, bytesLeft);
      this.#positions.set(index, read.nextOffset);
      records.push(...read.records);
      recordsLeft -= read.records.length;
      for (const record of read.records) bytesLeft -= Math.max(0, record.keySize) + Math.max(0, record.valueSize);
    }
    if (records.length > 0 && !this.#peer.send(JSON.stringify({ type: "records", records }))) this.close();
  }

  close(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#onClose();
  }
}
