// Replication throttles (KIP-73, what kafka-reassign-partitions.sh --throttle sets): a throttled
// replica is a partition listed in its topic's leader.replication.throttled.replicas (on the
// leader's side) or follower.replication.throttled.replicas (the follower's) as "partition:broker"
// or "*"; the bytes moved for all throttled replicas of a broker are limited to its
// leader.replication.throttled.rate / follower.replication.throttled.rate (dynamic broker configs,
// src/cluster/broker-configs.ts). Kafka measures the rate over a window and holds throttled
// partitions back while it is above the limit; this is a token bucket holding one second's
// worth, which does the same.

/** Whether `replicas` (a topic's throttled-replicas value) names partition `index` on broker `nodeId`. */
export function isThrottledReplica(replicas: string | undefined, index: number, nodeId: number): boolean {
  if (replicas === undefined || replicas.trim() === "") return false;
  if (replicas.trim() === "*") return true;
  return replicas.split(",").some((entry) => {
    const [partition, broker] = entry.trim().split(":");
    return Number(partition) === index && Number(broker) === nodeId;
  });
}

export class ByteRateQuota {
  #tokens = 0;
  #updatedMs = Date.now();
  #rate = 0;

  /** Bytes per second; 0 or less: unlimited. */
  setRate(bytesPerSecond: number): void {
    if (bytesPerSecond !== this.#rate) {
      this.#rate = bytesPerSecond;
      this.#tokens = Math.max(0, bytesPerSecond);
    }
  }

  get limited(): boolean {
    return this.#rate > 0;
  }

  #refill(nowMs: number): void {
    if (nowMs <= this.#updatedMs) return;
    this.#tokens = Math.min(this.#rate, this.#tokens + ((nowMs - this.#updatedMs) * this.#rate) / 1000);
    this.#updatedMs = nowMs;
  }

  /** Whether throttled bytes may move now. */
  allows(nowMs = Date.now()): boolean {
    if (this.#rate <= 0) return true;
    this.#refill(nowMs);
    return this.#tokens > 0;
  }

  /** Counts bytes moved for throttled replicas (the bucket may go below zero: later fetches wait). */
  record(bytes: number, nowMs = Date.now()): void {
    if (this.#rate <= 0) return;
    this.#refill(nowMs);
    this.#tokens -= bytes;
  }

  /** Milliseconds until throttled bytes may move again. */
  waitMs(nowMs = Date.now()): number {
    if (this.allows(nowMs)) return 0;
    return Math.ceil((-this.#tokens * 1000) / this.#rate) + 1;
  }
}
