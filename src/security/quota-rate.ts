// Kafka's quota arithmetic (org.apache.kafka.common.metrics): a windowed Rate checked against an
// upper bound, and the TokenBucket of controller mutation quotas (KIP-599). The acceptor's
// connection-creation rates run the same Rate in Rust (crates/net/src/rate.rs).
//
// Rate: `quota.window.num` samples of `quota.window.size.seconds`; a sample starts when the
// first value lands after the previous one's window ended, samples older than the whole window
// are reset, and the rate is their sum over the time since the oldest sample — but at least
// `samples - 1` full windows, so a burst after quiet is not divided by a tiny interval. A
// value over the bound throttles for (rate - bound) / bound × that window (Kafka's
// QuotaUtils.throttleTime): the time for the average to come back to the bound.

export interface QuotaWindowConfig {
  /** quota.window.num (11) */
  readonly samples: number;
  /** quota.window.size.seconds (1) in ms */
  readonly windowMs: number;
}

export const DEFAULT_QUOTA_WINDOW: QuotaWindowConfig = Object.freeze({ samples: 11, windowMs: 1000 });

export class Rate {
  readonly #config: QuotaWindowConfig;
  readonly #starts: number[];
  readonly #values: number[];
  #current = 0;
  /** Date.now() of the last record, for dropping idle rates. */
  lastRecordMs: number;

  constructor(config: QuotaWindowConfig, nowMs: number) {
    this.#config = config;
    this.#starts = [nowMs];
    this.#values = [0];
    this.lastRecordMs = nowMs;
  }

  /** Adds `value` (negative takes back an earlier record, as Kafka un-records). */
  record(value: number, nowMs: number): void {
    const { samples, windowMs } = this.#config;
    if (nowMs - (this.#starts[this.#current] as number) >= windowMs) {
      this.#current = (this.#current + 1) % samples;
      this.#starts[this.#current] = nowMs;
      this.#values[this.#current] = 0;
    }
    this.#values[this.#current] = (this.#values[this.#current] as number) + value;
    this.lastRecordMs = nowMs;
  }

  /** The span the rate is averaged over, in ms (Kafka's Rate.windowSize). */
  windowSizeMs(nowMs: number): number {
    const { samples, windowMs } = this.#config;
    const expiry = samples * windowMs;
    let oldest = nowMs;
    for (let i = 0; i < this.#starts.length; i++) {
      if (nowMs - (this.#starts[i] as number) >= expiry) {
        this.#starts[i] = nowMs;
        this.#values[i] = 0;
      }
      if ((this.#starts[i] as number) < oldest) oldest = this.#starts[i] as number;
    }
    let elapsed = nowMs - oldest;
    const fullWindows = Math.floor(elapsed / windowMs);
    if (fullWindows < samples - 1) elapsed += (samples - 1 - fullWindows) * windowMs;
    return Math.max(elapsed, 1);
  }

  /** Per second, at `nowMs`. */
  measure(nowMs: number): number {
    const windowMs = this.windowSizeMs(nowMs);
    let total = 0;
    for (const value of this.#values) total += value;
    return total / (windowMs / 1000);
  }

  /** Records `value` and returns the throttle time in ms (0 while within `bound` per second). */
  recordAndThrottle(value: number, bound: number, nowMs: number): number {
    this.record(value, nowMs);
    const rate = this.measure(nowMs);
    if (rate <= bound) return 0;
    return Math.round(((rate - bound) / bound) * this.windowSizeMs(nowMs));
  }

  /** Nothing recorded for the whole window: the rate may be dropped. */
  idle(nowMs: number): boolean {
    return nowMs - this.lastRecordMs >= this.#config.samples * this.#config.windowMs;
  }
}

/**
 * KIP-599's token bucket for controller mutations: `bound` tokens per second, up to a burst of
 * bound × samples × window seconds; a mutation takes its partitions' worth, and the bucket may go
 * negative. It is exceeded while negative; the throttle is the time to refill to zero.
 */
export class TokenBucket {
  #tokens: number;
  #lastMs: number;
  lastRecordMs: number;

  constructor(
    private readonly config: QuotaWindowConfig,
    bound: number,
    nowMs: number,
  ) {
    this.#tokens = this.#burst(bound);
    this.#lastMs = nowMs;
    this.lastRecordMs = nowMs;
  }

  #burst(bound: number): number {
    return bound * this.config.samples * (this.config.windowMs / 1000);
  }

  /** Tokens left at `nowMs` for a rate of `bound` per second. */
  tokens(bound: number, nowMs: number): number {
    this.#tokens = Math.min(this.#burst(bound), this.#tokens + (bound * (nowMs - this.#lastMs)) / 1000);
    this.#lastMs = nowMs;
    return this.#tokens;
  }

  /** Ms until the bucket is back to zero; 0 when it is not negative. */
  throttleMs(bound: number, nowMs: number): number {
    const tokens = this.tokens(bound, nowMs);
    return tokens >= 0 ? 0 : Math.round((-tokens / bound) * 1000);
  }

  take(permits: number, bound: number, nowMs: number): void {
    this.#tokens = this.tokens(bound, nowMs) - permits;
    this.lastRecordMs = nowMs;
  }

  idle(nowMs: number): boolean {
    return nowMs - this.lastRecordMs >= this.config.samples * this.config.windowMs;
  }
}
