// The broker's meters: what Kafka's BrokerTopicMetrics and RequestMetrics count, kept as plain
// numbers on the request path (a field increment per partition or per request, never per record
// and never a label lookup) and turned into Prometheus text only when /metrics is scraped
// (src/http/prometheus.ts). The service is `metrics` in the request context; nothing else
// writes these counters.
//
//   Kafka MBean                                                     here
//   kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic  TopicMeters.messagesIn
//     (and BytesIn, BytesOut, TotalProduceRequests, FailedProduceRequests, TotalFetchRequests,
//      FailedFetchRequests, BytesRejected: counted per partition of a request, as Kafka's
//      ReplicaManager does; the all-topics MBean is `allTopics`)
//   kafka.network:type=RequestMetrics,name=RequestsPerSec,request,version  RequestMeters.byVersion
//   kafka.network:type=RequestMetrics,name=TotalTimeMs,request      RequestMeters.totalTimeMs

/** One topic's counters (Kafka's BrokerTopicStats.topicStats). */
export class TopicMeters {
  messagesIn = 0;
  bytesIn = 0;
  bytesOut = 0;
  bytesRejected = 0;
  totalProduceRequests = 0;
  failedProduceRequests = 0;
  totalFetchRequests = 0;
  failedFetchRequests = 0;
}

/**
 * Request latencies in whole milliseconds over a sliding window, for percentiles. Buckets are
 * exact below 128 ms and then 16 per power of two (≤ 6.25% error), up to 2^31 ms; the window is
 * two halves of `windowMs`, the older dropped as a new one starts, so a percentile reflects the
 * last one to two windows (Kafka's Yammer histograms decay over ~5 minutes).
 */
const EXACT_BUCKETS = 128;
const SUB_BUCKETS = 16;
const BUCKETS = EXACT_BUCKETS + (31 - 7) * SUB_BUCKETS;

export class LatencyHistogram {
  #current = new Float64Array(BUCKETS);
  #previous = new Float64Array(BUCKETS);
  #windowStartMs: number;
  /** Every value recorded (Prometheus _count) and their sum (_sum), never reset. */
  count = 0;
  sumMs = 0;

  constructor(
    readonly windowMs = 60_000,
    nowMs = Date.now(),
  ) {
    this.#windowStartMs = nowMs;
  }

  static bucketOf(ms: number): number {
    if (ms < EXACT_BUCKETS) return ms < 0 ? 0 : Math.floor(ms);
    const v = Math.min(Math.floor(ms), 0x7fffffff);
    const power = 31 - Math.clz32(v); // ≥ 7
    const sub = (v >>> (power - 4)) & 15;
    return EXACT_BUCKETS + (power - 7) * SUB_BUCKETS + sub;
  }

  /** The smallest value of a bucket. */
  static lowerBound(bucket: number): number {
    if (bucket < EXACT_BUCKETS) return bucket;
    const power = 7 + Math.floor((bucket - EXACT_BUCKETS) / SUB_BUCKETS);
    const sub = (bucket - EXACT_BUCKETS) % SUB_BUCKETS;
    return (16 + sub) * 2 ** (power - 4);
  }

  record(ms: number, nowMs: number): void {
    this.#rotate(nowMs);
    this.#current[LatencyHistogram.bucketOf(ms)]++;
    this.count++;
    this.sumMs += ms;
  }

  #rotate(nowMs: number): void {
    const elapsed = nowMs - this.#windowStartMs;
    if (elapsed < this.windowMs / 2) return;
    const older = this.#previous;
    older.fill(0);
    // After a gap of a whole window neither half is recent.
    if (elapsed >= this.windowMs) this.#current.fill(0);
    this.#previous = this.#current;
    this.#current = older;
    this.#windowStartMs = nowMs;
  }

  /** The value at quantile `q` (0..1) of the window, 0 when it is empty. */
  quantile(q: number, nowMs: number): number {
    this.#rotate(nowMs);
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) total += this.#current[i] + this.#previous[i];
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#current[i] + this.#previous[i];
      if (seen >= rank) return LatencyHistogram.lowerBound(i);
    }
    return LatencyHistogram.lowerBound(BUCKETS - 1);
  }
}

/** One API's counters (Kafka's RequestMetrics for a request name). */
export class RequestMeters {
  /** Requests answered, by API version. */
  readonly byVersion = new Map<number, number>();
  readonly totalTimeMs: LatencyHistogram;

  constructor(nowMs: number) {
    this.totalTimeMs = new LatencyHistogram(60_000, nowMs);
  }
}

export class BrokerMetrics {
  /** Kafka's all-topics BrokerTopicMetrics (no topic tag). */
  readonly allTopics = new TopicMeters();
  readonly #topics = new Map<string, TopicMeters>();
  readonly #requests: (RequestMeters | undefined)[] = [];

  /** The counters of `topic`, created on first use. */
  topic(name: string): TopicMeters {
    let meters = this.#topics.get(name);
    if (meters === undefined) {
      meters = new TopicMeters();
      this.#topics.set(name, meters);
    }
    return meters;
  }

  /** Drops a deleted topic's counters (Kafka removes its MBeans). */
  forgetTopic(name: string): void {
    this.#topics.delete(name);
  }

  topics(): IterableIterator<[string, TopicMeters]> {
    return this.#topics.entries();
  }

  /** A partition's records appended by a Produce request. */
  produced(topic: string, records: number, bytes: number): void {
    const meters = this.topic(topic);
    meters.totalProduceRequests++;
    meters.messagesIn += records;
    meters.bytesIn += bytes;
    const all = this.allTopics;
    all.totalProduceRequests++;
    all.messagesIn += records;
    all.bytesIn += bytes;
  }

  /** A partition of a Produce request refused; `rejectedBytes` counts toward BytesRejectedPerSec (too large, corrupt). */
  produceFailed(topic: string, rejectedBytes: number): void {
    const meters = this.topic(topic);
    meters.totalProduceRequests++;
    meters.failedProduceRequests++;
    meters.bytesRejected += rejectedBytes;
    const all = this.allTopics;
    all.totalProduceRequests++;
    all.failedProduceRequests++;
    all.bytesRejected += rejectedBytes;
  }

  /** A partition of a Fetch response: its record bytes, or a failure; `topic` null for a partition not hosted here (all-topics only). */
  fetched(topic: string | null, bytes: number, failed: boolean): void {
    const all = this.allTopics;
    all.totalFetchRequests++;
    if (failed) all.failedFetchRequests++;
    all.bytesOut += bytes;
    if (topic === null) return;
    const meters = this.topic(topic);
    meters.totalFetchRequests++;
    if (failed) meters.failedFetchRequests++;
    meters.bytesOut += bytes;
  }

  /** A request answered (or dropped, acks=0): its API, version and time since its frame reached JS. */
  request(apiKey: number, version: number, totalTimeMs: number, nowMs: number): void {
    let meters = this.#requests[apiKey];
    if (meters === undefined) {
      meters = new RequestMeters(nowMs);
      this.#requests[apiKey] = meters;
    }
    meters.byVersion.set(version, (meters.byVersion.get(version) ?? 0) + 1);
    meters.totalTimeMs.record(totalTimeMs, nowMs);
  }

  /** [apiKey, meters] of every API that has been requested. */
  *requests(): Generator<[number, RequestMeters]> {
    for (let key = 0; key < this.#requests.length; key++) {
      const meters = this.#requests[key];
      if (meters !== undefined) yield [key, meters];
    }
  }
}
