// A follower's connection to one leader (Kafka's ReplicaFetcherBlockingSend): the native
// ReplicaLink (crates/node/src/replica.rs) on its own Rust thread, with the requests encoded here.
//
// The link agrees API versions with ApiVersions as any client does (agreedVersions). `request`
// sends any request and decodes its answer here (ListOffsets). `fetch` sends a replica Fetch
// (v12+) whose answer never reaches JS as bytes: the link thread appends each partition's records
// to its follower log and hands back one small outcome per partition. A fetch carries, per
// partition, the log end offset it asks from and the log's replica fence, so records arriving after
// the partition was truncated, became leader or moved to another fetcher are dropped (`fenced`).
//
// Inter-broker security: the native link speaks TLS itself (`tls`: handshake on its thread, right
// after connecting). SASL (`sasl`) is the client exchange of src/client/sasl.ts over `request`,
// right after ApiVersions: only the tokens are made here, the bytes still travel on the link's
// thread. When the leader bounds the session (KIP-368), the link authenticates again on the same
// connection before its next request once the session is 85-95% through; a failure closes the
// link and the fetcher reconnects.

import { agreedVersions, type ClientTls } from "../client/connection.js";
import { ClientError, throwIfError } from "../client/errors.js";
import { authenticate, type SaslCredentials } from "../client/sasl.js";
import type { PartitionLog } from "../log/partition-log.js";
import { type ReplicaFetchResult, type ReplicaFetchTarget, ReplicaLink } from "../native.js";
import { API_VERSIONS_KEY, decodeResponse, encodeRequest } from "../protocol/frame.js";
import type { ApiVersionsResponse } from "../protocol/generated/api-versions.js";
import { type ApiDescriptor, apiByKey } from "../protocol/generated/index.js";

const FETCH = 1;
/** The Fetch versions the native link parses. */
const FETCH_MIN = 12;
const FETCH_MAX = 18;

/** What a replica fetch needs of a partition (a Partition is one). */
export interface FetchedReplica {
  readonly topic: string;
  /** Base64, as in the metadata. */
  readonly topicId: string;
  readonly index: number;
  readonly log: Pick<PartitionLog, "registryId" | "logEndOffset" | "replicaFence">;
}

export interface LeaderLinkOptions {
  /** Names the link's thread (`sluice-replica-<name>`). */
  name: string;
  host: string;
  port: number;
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** A larger answer closes the link before anything is allocated for it. */
  maxResponseBytes: number;
  /** TLS to an SSL / SASL_SSL listener. */
  tls?: ClientTls | null;
  /** SASL to a SASL_PLAINTEXT / SASL_SSL listener. */
  sasl?: SaslCredentials | null;
}

export class LeaderLink {
  readonly #native: ReplicaLink;
  readonly #options: LeaderLinkOptions;
  readonly #versions = new Map<number, number>();
  #nextCorrelationId = 1;
  #closed = false;
  /** When to authenticate again (KIP-368), or null. */
  #reauthenticateAtMs: number | null = null;

  private constructor(options: LeaderLinkOptions) {
    this.#options = options;
    this.#native = new ReplicaLink(options.name, options.host, options.port, options.connectTimeoutMs, options.maxResponseBytes, options.tls ?? undefined);
  }

  get address(): string {
    return `${this.#options.host}:${this.#options.port}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects, agrees API versions and authenticates (SASL); a leader that serves no Fetch v12+ is refused. */
  static async connect(options: LeaderLinkOptions): Promise<LeaderLink> {
    const link = new LeaderLink(options);
    try {
      const ours = apiByKey[API_VERSIONS_KEY] as ApiDescriptor;
      const answer = await link.#exchange<ApiVersionsResponse>(ours, Math.min(3, ours.maxVersion), {
        clientSoftwareName: "sluice",
        clientSoftwareVersion: "0",
      });
      throwIfError(answer.errorCode);
      for (const [apiKey, version] of agreedVersions(answer)) link.#versions.set(apiKey, version);
      const fetch = link.#versions.get(FETCH);
      if (fetch === undefined || fetch < FETCH_MIN) {
        throw new ClientError("UNSUPPORTED_API", `the leader at ${link.address} serves no Fetch v${FETCH_MIN}+ (replica fetches need it)`);
      }
      await link.#authenticate();
    } catch (error) {
      link.close();
      throw error;
    }
    return link;
  }

  /** Any request at the agreed version; the answer decoded. */
  async request<T>(apiKey: number, body: object): Promise<T> {
    await this.#keepAuthenticated();
    return this.#request<T>(apiKey, body);
  }

  #request<T>(apiKey: number, body: object): Promise<T> {
    const api = apiByKey[apiKey];
    const version = this.#versions.get(apiKey);
    if (api === undefined || version === undefined) {
      return Promise.reject(new ClientError("UNSUPPORTED_API", `the leader at ${this.address} serves no version of API ${apiKey} this broker speaks`));
    }
    return this.#exchange<T>(api, version, body);
  }

  /**
   * A replica Fetch of `partitions` (`body` names them; the answer is matched to them by topic and
   * partition, in any order) whose records are appended natively, see the module comment. Each
   * outcome's `target` is an index into `partitions`.
   */
  async fetch(body: (version: number) => object, partitions: readonly FetchedReplica[], maxWaitMs: number): Promise<ReplicaFetchResult> {
    await this.#keepAuthenticated();
    const api = apiByKey[FETCH] as ApiDescriptor;
    const version = Math.min(this.#versions.get(FETCH) ?? FETCH_MIN, FETCH_MAX);
    const targets: ReplicaFetchTarget[] = partitions.map((partition) => ({
      log: partition.log.registryId,
      topicId: version >= 13 ? partition.topicId : "",
      topic: partition.topic,
      partition: partition.index,
      fetchOffset: partition.log.logEndOffset,
      fence: partition.log.replicaFence,
    }));
    const frame = this.#encode(api, version, body(version));
    return this.#native.fetch(frame, targets, this.#options.requestTimeoutMs + maxWaitMs, Date.now());
  }

  close(): void {
    this.#closed = true;
    this.#native.close();
  }

  /** SaslHandshake + SaslAuthenticate when the leader's listener wants SASL. */
  async #authenticate(): Promise<void> {
    const credentials = this.#options.sasl;
    if (credentials == null) return;
    this.#reauthenticateAtMs = await authenticate(<T>(apiKey: number, body: object) => this.#request<T>(apiKey, body), credentials);
  }

  /** Re-authenticates (KIP-368) when the session is due; requests on the link are sequential, so none is in flight. */
  async #keepAuthenticated(): Promise<void> {
    if (this.#reauthenticateAtMs === null || Date.now() < this.#reauthenticateAtMs) return;
    this.#reauthenticateAtMs = null;
    try {
      await this.#authenticate();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  #encode(api: ApiDescriptor, version: number, body: object): Buffer {
    const full = { ...(api.request.create() as object), ...body };
    return encodeRequest(api, version, { correlationId: this.#nextCorrelationId++, clientId: this.#options.clientId, unknownTaggedFields: undefined }, full);
  }

  async #exchange<T>(api: ApiDescriptor, version: number, body: object): Promise<T> {
    const frame = await this.#native.request(this.#encode(api, version, body), this.#options.requestTimeoutMs);
    try {
      return decodeResponse(api, version, frame).body as T;
    } catch (error) {
      // An ApiVersions request of a version the broker does not know is answered in v0 (KIP-511).
      if (api.apiKey === API_VERSIONS_KEY) return decodeResponse(api, 0, frame).body as T;
      throw new ClientError("CONNECTION_CLOSED", `could not decode ${api.name} v${version} from ${this.address}: ${(error as Error).message}`);
    }
  }
}
