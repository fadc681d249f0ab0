// Client quotas as Kafka's ClientQuotaManager / ClientRequestQuotaManager /
// ControllerMutationQuotaManager enforce them, over the quota configs in the metadata store.
//
// Which quota applies to a request (per quota key, KIP-55's precedence; first match wins):
//   1 user + client-id   2 user + default client-id   3 user
//   4 default user + client-id   5 default user + default client-id   6 default user
//   7 client-id   8 default client-id
// Clients sharing the matched entity share its rate: a user-level quota (3, 6) is one rate for
// all the user's client ids, a client-id one (7, 8) one rate for that client id across users,
// the others one rate per (user, client id). The user is the principal's name (ANONYMOUS on
// an unauthenticated listener), the client id the request header's.
//
// Kinds of quota:
// - producer_byte_rate: each Produce request's size is recorded once it is answered; over the
//   rate, the response carries the throttle time and the connection is muted for it.
// - consumer_byte_rate: a consumer Fetch's response size; over the rate, the fetch is answered
//   empty with the throttle time (the bytes recorded are taken back) and the connection muted.
//   A fetch asks for at most rate × (samples - 1) × window bytes, so one fetch cannot earn an
//   hour of throttling.
// - request_percentage: time the JS thread spends in a request's handler (and encoding its
//   answer), as a percentage of one thread over the window; throttle bounded by one window.
// - controller_mutation_rate: partitions created / deleted / added per second, as a token bucket
//   (KIP-599): CreateTopics v6+, CreatePartitions v3+ and DeleteTopics v5+ refuse a topic with
//   THROTTLING_QUOTA_EXCEEDED once the bucket is empty (strict); older versions are served and
//   throttled after (permissive).
// Follower fetches and the SASL / ApiVersions requests are exempt, as in Kafka.

import type { Logger } from "pino";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import {
  CLIENT_ID,
  type ClientQuotaRecord,
  type ClientQuotaStore,
  CONNECTION_CREATION_RATE,
  CONSUMER_BYTE_RATE,
  CONTROLLER_MUTATION_RATE,
  IP,
  PRODUCER_BYTE_RATE,
  REQUEST_PERCENTAGE,
  USER,
} from "./client-quotas.js";
import { type QuotaWindowConfig, Rate, TokenBucket } from "./quota-rate.js";

/** The quota keys a (user, client id) may be held to. */
export type ClientQuotaKey = typeof PRODUCER_BYTE_RATE | typeof CONSUMER_BYTE_RATE | typeof REQUEST_PERCENTAGE | typeof CONTROLLER_MUTATION_RATE;

/** Who sent a request, for quotas. */
export interface QuotaClient {
  /** The principal, "User:alice". */
  readonly principal: string;
  readonly clientId: string | null;
}

/** The quota that applies: its bound and the rate it is measured in. */
interface Resolved {
  readonly bound: number;
  /** The rate's key: quota key, user tag, client-id tag (Kafka's metric tags). */
  readonly sensor: string;
}

/** A user or client-id component: absent, the default, or a name. */
const ABSENT = "\u0000absent";
const DEFAULT = "\u0000default";

/** Sensors kept before idle ones (nothing recorded for a whole window) are dropped. */
const SENSORS_SWEEP_AT = 10_000;

/** Kafka's ThrottlingQuotaExceededException message. */
export const THROTTLING_QUOTA_EXCEEDED_MESSAGE = "The throttling quota has been exceeded.";

/** The controller mutation quota of one request (Kafka's Strict/PermissiveControllerMutationQuota). */
export interface ControllerMutationQuota {
  /** Takes `permits` (partitions); a strict quota already exceeded throws THROTTLING_QUOTA_EXCEEDED instead. */
  record(permits: number): void;
  /** The throttle time the response carries. */
  readonly throttleTimeMs: number;
}

const UNLIMITED_MUTATIONS: ControllerMutationQuota = Object.freeze({ record: () => {}, throttleTimeMs: 0 });

/** The IP connection rates to hand to the network (connection_creation_rate). */
export interface IpConnectionRates {
  readonly defaultRate: number | null;
  readonly overrides: { ip: string; rate: number }[];
}

export interface QuotaManagerOptions {
  readonly store: ClientQuotaStore;
  readonly window: QuotaWindowConfig;
  readonly controllerWindow: QuotaWindowConfig;
  readonly logger: Logger;
}

export class QuotaManager {
  readonly #store: ClientQuotaStore;
  readonly #window: QuotaWindowConfig;
  readonly #controllerWindow: QuotaWindowConfig;
  readonly #logger: Logger;
  /** Per quota key: entity (user component, client-id component) → bound. */
  #bounds = new Map<ClientQuotaKey, Map<string, number>>();
  /** Per quota key and (user, client id): what applies (null: nothing). */
  readonly #resolved = new Map<string, Resolved | null>();
  readonly #rates = new Map<string, Rate>();
  readonly #buckets = new Map<string, TokenBucket>();
  #ipListeners: ((rates: IpConnectionRates) => void)[] = [];
  #ipRates: IpConnectionRates = { defaultRate: null, overrides: [] };
  /** Whether any entity has the key: without one, recording is skipped altogether. */
  produceEnabled = false;
  fetchEnabled = false;
  requestEnabled = false;
  mutationEnabled = false;

  constructor(options: QuotaManagerOptions) {
    this.#store = options.store;
    this.#window = options.window;
    this.#controllerWindow = options.controllerWindow;
    this.#logger = options.logger;
    this.#reload();
    this.#store.onClientQuotasChanged(() => this.#reload());
  }

  /** `listener` gets the IPs' connection_creation_rate quotas now and after each change. */
  onIpConnectionRates(listener: (rates: IpConnectionRates) => void): void {
    this.#ipListeners.push(listener);
    listener(this.#ipRates);
  }

  #reload(): void {
    const records = this.#store.clientQuotas();
    const bounds = new Map<ClientQuotaKey, Map<string, number>>();
    let defaultIpRate: number | null = null;
    const ipOverrides: { ip: string; rate: number }[] = [];
    for (const record of records) {
      const ip = record.entity.find((part) => part.entityType === IP);
      if (ip !== undefined) {
        const rate = record.values[CONNECTION_CREATION_RATE];
        if (rate === undefined) continue;
        if (ip.entityName === null) defaultIpRate = rate;
        else ipOverrides.push({ ip: ip.entityName, rate });
        continue;
      }
      const key = entityComponents(record);
      for (const [name, value] of Object.entries(record.values)) {
        let byEntity = bounds.get(name as ClientQuotaKey);
        if (byEntity === undefined) {
          byEntity = new Map();
          bounds.set(name as ClientQuotaKey, byEntity);
        }
        byEntity.set(key, value);
      }
    }
    this.#bounds = bounds;
    this.#resolved.clear();
    this.produceEnabled = bounds.has(PRODUCER_BYTE_RATE);
    this.fetchEnabled = bounds.has(CONSUMER_BYTE_RATE);
    this.requestEnabled = bounds.has(REQUEST_PERCENTAGE);
    this.mutationEnabled = bounds.has(CONTROLLER_MUTATION_RATE);
    this.#ipRates = { defaultRate: defaultIpRate, overrides: ipOverrides };
    for (const listener of this.#ipListeners) {
      try {
        listener(this.#ipRates);
      } catch (error) {
        this.#logger.error({ err: error }, "IP connection rates could not be applied");
      }
    }
  }

  /** The quota of `key` for the client (KIP-55 precedence), null when none applies. */
  #resolve(key: ClientQuotaKey, client: QuotaClient): Resolved | null {
    const user = client.principal.startsWith("User:") ? client.principal.slice(5) : client.principal;
    const clientId = client.clientId ?? "";
    const cacheKey = `${key}\n${user}\n${clientId}`;
    const cached = this.#resolved.get(cacheKey);
    if (cached !== undefined) return cached;
    const bounds = this.#bounds.get(key);
    let resolved: Resolved | null = null;
    if (bounds !== undefined) {
      const candidates: [string, string, string, string][] = [
        // [user component, client component, user tag, client tag]
        [user, clientId, user, clientId],
        [user, DEFAULT, user, clientId],
        [user, ABSENT, user, ""],
        [DEFAULT, clientId, user, clientId],
        [DEFAULT, DEFAULT, user, clientId],
        [DEFAULT, ABSENT, user, ""],
        [ABSENT, clientId, "", clientId],
        [ABSENT, DEFAULT, "", clientId],
      ];
      for (const [userPart, clientPart, userTag, clientTag] of candidates) {
        const bound = bounds.get(`${userPart}\n${clientPart}`);
        if (bound !== undefined) {
          resolved = { bound, sensor: `${key}\n${userTag}\n${clientTag}` };
          break;
        }
      }
    }
    if (this.#resolved.size >= SENSORS_SWEEP_AT) this.#resolved.clear();
    this.#resolved.set(cacheKey, resolved);
    return resolved;
  }

  #rate(sensor: string, nowMs: number): Rate {
    let rate = this.#rates.get(sensor);
    if (rate === undefined) {
      if (this.#rates.size >= SENSORS_SWEEP_AT) {
        for (const [name, existing] of this.#rates) if (existing.idle(nowMs)) this.#rates.delete(name);
      }
      rate = new Rate(this.#window, nowMs);
      this.#rates.set(sensor, rate);
    }
    return rate;
  }

  /** Records a Produce request's bytes; the throttle time in ms (0: within the quota). */
  recordProduce(client: QuotaClient, bytes: number, nowMs: number): number {
    const quota = this.#resolve(PRODUCER_BYTE_RATE, client);
    if (quota === null) return 0;
    return this.#rate(quota.sensor, nowMs).recordAndThrottle(bytes, quota.bound, nowMs);
  }

  /** The most bytes a consumer's fetch may ask for under its quota (Kafka's getMaxValueInQuotaWindow). */
  fetchBytesMax(client: QuotaClient): number {
    const quota = this.#resolve(CONSUMER_BYTE_RATE, client);
    if (quota === null) return Number.POSITIVE_INFINITY;
    return quota.bound * (this.#window.samples - 1) * (this.#window.windowMs / 1000);
  }

  /**
   * Records a consumer Fetch response's bytes; the throttle time in ms. When throttled the bytes
   * are taken back: the fetch is answered empty.
   */
  recordFetch(client: QuotaClient, bytes: number, nowMs: number): number {
    const quota = this.#resolve(CONSUMER_BYTE_RATE, client);
    if (quota === null) return 0;
    const rate = this.#rate(quota.sensor, nowMs);
    const throttleMs = rate.recordAndThrottle(bytes, quota.bound, nowMs);
    if (throttleMs > 0) rate.record(-bytes, nowMs);
    return throttleMs;
  }

  /** Records a request's handler time (ns) as a percentage of one thread; the throttle (at most one window). */
  recordRequestTime(client: QuotaClient, nanos: number, nowMs: number): number {
    const quota = this.#resolve(REQUEST_PERCENTAGE, client);
    if (quota === null) return 0;
    // Kafka: nanos × 100 / 1e9 per second of window → percent of a thread.
    const throttleMs = this.#rate(quota.sensor, nowMs).recordAndThrottle(nanos / 1e7, quota.bound, nowMs);
    return Math.min(throttleMs, this.#window.windowMs);
  }

  /** The controller mutation quota of one CreateTopics / CreatePartitions / DeleteTopics request. */
  controllerMutation(client: QuotaClient, strict: boolean, nowMs: number): ControllerMutationQuota {
    const quota = this.#resolve(CONTROLLER_MUTATION_RATE, client);
    if (quota === null) return UNLIMITED_MUTATIONS;
    let bucket = this.#buckets.get(quota.sensor);
    if (bucket === undefined) {
      if (this.#buckets.size >= SENSORS_SWEEP_AT) {
        for (const [name, existing] of this.#buckets) if (existing.idle(nowMs)) this.#buckets.delete(name);
      }
      bucket = new TokenBucket(this.#controllerWindow, quota.bound, nowMs);
      this.#buckets.set(quota.sensor, bucket);
    }
    const { bound } = quota;
    const state = {
      throttleTimeMs: 0,
      record(permits: number): void {
        const now = Date.now();
        if (strict) {
          const throttleMs = (bucket as TokenBucket).throttleMs(bound, now);
          if (throttleMs > 0) {
            state.throttleTimeMs = Math.max(state.throttleTimeMs, throttleMs);
            throw new KafkaError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE);
          }
          (bucket as TokenBucket).take(permits, bound, now);
        } else {
          (bucket as TokenBucket).take(permits, bound, now);
          state.throttleTimeMs = Math.max(state.throttleTimeMs, (bucket as TokenBucket).throttleMs(bound, now));
        }
      },
    };
    return state;
  }
}

/** "user\nclient" components of a user / client-id entity (ABSENT / DEFAULT markers). */
function entityComponents(record: ClientQuotaRecord): string {
  const user = record.entity.find((part) => part.entityType === USER);
  const client = record.entity.find((part) => part.entityType === CLIENT_ID);
  const component = (part: { entityName: string | null } | undefined) => (part === undefined ? ABSENT : part.entityName === null ? DEFAULT : part.entityName);
  return `${component(user)}\n${component(client)}`;
}
