// One TCP connection to one broker: size-prefixed frames, correlation ids, any number of requests
// in flight (Kafka answers a connection's requests in order, but matching by correlation id costs
// nothing and survives a broker that does not), a timeout per request, and the API versions agreed
// with the broker by ApiVersions right after connecting: for each API the highest version both this
// codec (src/protocol/generated) and the broker serve, below the caps of `versionCaps`.
//
// Over TLS (`tls`: node:tls with the given CA certificates, client certificate and host name
// check) and/or SASL (`sasl`: src/client/sasl.ts right after ApiVersions) when the listener wants
// it. `reauthenticationDue` says when a SASL session the broker bounds (KIP-368) should be
// replaced: the connection does not re-authenticate itself (requests may be in flight); its owner
// opens a new one.

import { isIP, connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import { API_VERSIONS_KEY, decodeResponse, encodeRequest } from "../protocol/frame.js";
import type { ApiVersionsResponse } from "../protocol/generated/api-versions.js";
import { type ApiDescriptor, apiByKey } from "../protocol/generated/index.js";
import { ClientError, throwIfError } from "./errors.js";
import { authenticate, type SaslCredentials } from "./sasl.js";

/**
 * Versions this client will not use although the codec has them. OffsetCommit and OffsetFetch v10
 * name topics by id only (KIP-848): a group's offsets for topics the client has no metadata for
 * could not be named, so it stays on v9, which every Kafka 2.8+ broker serves.
 */
const versionCaps: Readonly<Record<number, number>> = { 8: 9, 9: 9 };

/** A frame larger than this is refused before allocating it (Kafka's fetch.max.bytes default is 50 MiB). */
const responseBytes_max = 256 * 1024 * 1024;

/**
 * For each API of a broker's ApiVersions answer, the highest version both it and this codec serve
 * (stable versions only, below `versionCaps`); APIs with none in common are left out.
 */
export function agreedVersions(answer: ApiVersionsResponse): Map<number, number> {
  const versions = new Map<number, number>();
  for (const key of answer.apiKeys) {
    const api = apiByKey[key.apiKey];
    if (api === undefined) continue;
    const top = Math.min(api.maxVersion - (api.latestVersionUnstable ? 1 : 0), key.maxVersion, versionCaps[key.apiKey] ?? Number.MAX_SAFE_INTEGER);
    if (top >= Math.max(api.minVersion, key.minVersion)) versions.set(key.apiKey, top);
  }
  return versions;
}

/** TLS of a connection to another broker (node:tls here; the replica fetchers' native links take the same settings, ReplicaLinkTls). */
export interface ClientTls {
  /** The keystore's certificate chain and key: the client certificate. */
  readonly certificateChainPem?: string;
  readonly privateKeyPem?: string;
  /** The truststore: the CA certificates the other broker's certificate must lead to. */
  readonly trustedCertificatesPem: string;
  /** ssl.endpoint.identification.algorithm=https. */
  readonly verifyHostname: boolean;
  readonly protocols?: string[];
  readonly cipherSuites?: string[];
}

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  /** Connecting, and then ApiVersions, each within this long. */
  connectTimeoutMs: number;
  /** Every request must be answered within this long (long polls add their own wait). */
  requestTimeoutMs: number;
  /** TLS (SSL, SASL_SSL listeners). node:tls keeps its own cipher suites: `cipherSuites` is not used. */
  tls?: ClientTls | null;
  /** SASL (SASL_PLAINTEXT, SASL_SSL listeners). */
  sasl?: SaslCredentials | null;
}

/** node:tls's version bounds for Kafka's ssl.enabled.protocols (TLSv1.2, TLSv1.3). */
function tlsVersions(protocols: readonly string[] | undefined): { minVersion?: "TLSv1.2" | "TLSv1.3"; maxVersion?: "TLSv1.2" | "TLSv1.3" } {
  const enabled = (protocols ?? []).filter((p): p is "TLSv1.2" | "TLSv1.3" => p === "TLSv1.2" || p === "TLSv1.3").sort();
  if (enabled.length === 0) return { minVersion: "TLSv1.2" };
  return { minVersion: enabled[0], maxVersion: enabled[enabled.length - 1] };
}

function openSocket(options: ConnectionOptions): Socket {
  const tls = options.tls;
  if (tls == null) return netConnect({ host: options.host, port: options.port });
  return tlsConnect({
    host: options.host,
    port: options.port,
    // SNI takes host names only.
    servername: isIP(options.host) === 0 ? options.host : undefined,
    ca: tls.trustedCertificatesPem,
    cert: tls.certificateChainPem,
    key: tls.privateKeyPem,
    checkServerIdentity: tls.verifyHostname ? checkServerIdentity : () => undefined,
    ...tlsVersions(tls.protocols),
  });
}

/**
 * A request body: the fields to set (the rest take Kafka's defaults), or a function of the agreed
 * version for APIs whose fields moved between versions (the codec refuses a field the version lacks).
 */
export type RequestBody = object | ((version: number) => object);

interface Pending {
  api: ApiDescriptor;
  version: number;
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class BrokerConnection {
  readonly host: string;
  readonly port: number;
  readonly #socket: Socket;
  readonly #clientId: string;
  readonly #requestTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  /** Agreed version per API key; filled by ApiVersions before the connection is handed out. */
  readonly #versions = new Map<number, number>();
  #received: Buffer[] = [];
  #receivedBytes = 0;
  #nextCorrelationId = 1;
  #closedBecause: Error | null = null;
  #reauthenticateAtMs: number | null = null;

  private constructor(socket: Socket, options: ConnectionOptions) {
    this.host = options.host;
    this.port = options.port;
    this.#socket = socket;
    this.#clientId = options.clientId;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error) => this.#fail(new ClientError("CONNECTION_CLOSED", `connection to ${this.address} failed: ${error.message}`)));
    socket.on("close", () => this.#fail(new ClientError("CONNECTION_CLOSED", `${this.address} closed the connection`)));
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get closed(): boolean {
    return this.#closedBecause !== null;
  }

  /** The broker bounds the SASL session (KIP-368) and it is time to replace this connection. */
  reauthenticationDue(nowMs: number): boolean {
    return this.#reauthenticateAtMs !== null && nowMs >= this.#reauthenticateAtMs;
  }

  /**
   * Connects (TLS handshake included), agrees API versions and authenticates (SASL); rejects with
   * CONNECTION_FAILED, or the broker's SASL error.
   */
  static async connect(options: ConnectionOptions): Promise<BrokerConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket = openSocket(options);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ClientError("CONNECTION_FAILED", `could not connect to ${options.host}:${options.port} within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      socket.once(options.tls == null ? "connect" : "secureConnect", () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(new ClientError("CONNECTION_FAILED", `could not connect to ${options.host}:${options.port}: ${error.message}`));
      });
    });
    const connection = new BrokerConnection(socket, options);
    try {
      await connection.#negotiateVersions();
      if (options.sasl != null) connection.#reauthenticateAtMs = await authenticate((apiKey, body) => connection.request(apiKey, body), options.sasl);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The version this connection uses for an API, or undefined when the broker serves none this client can. */
  version(apiKey: number): number | undefined {
    return this.#versions.get(apiKey);
  }

  /** Like `version`, but throws UNSUPPORTED_API. */
  requireVersion(apiKey: number): number {
    const version = this.#versions.get(apiKey);
    if (version === undefined) {
      const name = apiByKey[apiKey]?.name ?? `API ${apiKey}`;
      throw new ClientError("UNSUPPORTED_API", `the broker at ${this.address} does not serve a version of ${name} this client speaks`);
    }
    return version;
  }

  /**
   * Sends a request at the agreed version (or `version`) and resolves with the decoded response
   * body. Fields left out of `body` take Kafka's defaults. `extraWaitMs` extends the timeout for
   * long polls (Fetch's maxWaitMs).
   */
  request<T>(apiKey: number, body: RequestBody, options: { version?: number; extraWaitMs?: number } = {}): Promise<T> {
    const api = apiByKey[apiKey];
    if (api === undefined) return Promise.reject(new ClientError("UNSUPPORTED_API", `no API ${apiKey}`));
    let version: number;
    try {
      version = options.version ?? this.requireVersion(apiKey);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closedBecause) return Promise.reject(this.#closedBecause);
    const correlationId = this.#nextCorrelationId++;
    const full = { ...(api.request.create() as object), ...(typeof body === "function" ? body(version) : body) };
    const frame = encodeRequest(api, version, { correlationId, clientId: this.#clientId, unknownTaggedFields: undefined }, full);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length);
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = this.#requestTimeoutMs + (options.extraWaitMs ?? 0);
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        reject(new ClientError("REQUEST_TIMED_OUT", `${api.name} to ${this.address} was not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(correlationId, { api, version, resolve: resolve as (body: unknown) => void, reject, timer });
      this.#socket.write(Buffer.concat([prefix, frame]));
    });
  }

  /** Sends a request the broker does not answer (Produce with acks=0); resolves once the socket took it. */
  send(apiKey: number, body: RequestBody): Promise<void> {
    const api = apiByKey[apiKey];
    if (api === undefined) return Promise.reject(new ClientError("UNSUPPORTED_API", `no API ${apiKey}`));
    if (this.#closedBecause) return Promise.reject(this.#closedBecause);
    const version = this.requireVersion(apiKey);
    const full = { ...(api.request.create() as object), ...(typeof body === "function" ? body(version) : body) };
    const frame = encodeRequest(api, version, { correlationId: this.#nextCorrelationId++, clientId: this.#clientId, unknownTaggedFields: undefined }, full);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length);
    return new Promise((resolve, reject) => this.#socket.write(Buffer.concat([prefix, frame]), (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    this.#fail(new ClientError("CONNECTION_CLOSED", `connection to ${this.address} was closed by the client`));
  }

  async #negotiateVersions(): Promise<void> {
    const ours = apiByKey[API_VERSIONS_KEY] as ApiDescriptor;
    // v3 is flexible and names the client; a broker that does not know it answers with v0 and its
    // own range (KIP-511), decoded in #onData, and the client asks again at that broker's highest.
    let answer = await this.request<ApiVersionsResponse>(
      API_VERSIONS_KEY,
      { clientSoftwareName: "sluice", clientSoftwareVersion: "0" },
      { version: Math.min(3, ours.maxVersion) },
    );
    if (answer.errorCode === 35) {
      const theirs = answer.apiKeys.find((key) => key.apiKey === API_VERSIONS_KEY);
      answer = await this.request<ApiVersionsResponse>(API_VERSIONS_KEY, {}, { version: Math.min(theirs?.maxVersion ?? 0, ours.maxVersion) });
    }
    throwIfError(answer.errorCode);
    for (const [apiKey, version] of agreedVersions(answer)) this.#versions.set(apiKey, version);
  }

  #onData(chunk: Buffer): void {
    this.#received.push(chunk);
    this.#receivedBytes += chunk.length;
    while (this.#receivedBytes >= 4) {
      // Chunks are joined once a whole frame is there, not on every chunk: a 50 MiB fetch response
      // arrives in thousands of them.
      if ((this.#received[0] as Buffer).length < 4) this.#received = [Buffer.concat(this.#received, this.#receivedBytes)];
      const size = (this.#received[0] as Buffer).readInt32BE(0);
      if (size < 4 || size > responseBytes_max) {
        this.#fail(new ClientError("CONNECTION_CLOSED", `${this.address} sent a frame of ${size} bytes`));
        return;
      }
      if (this.#receivedBytes < 4 + size) return;
      const all = this.#received.length === 1 ? (this.#received[0] as Buffer) : Buffer.concat(this.#received, this.#receivedBytes);
      const rest = all.subarray(4 + size);
      this.#received = rest.length > 0 ? [rest] : [];
      this.#receivedBytes = rest.length;
      this.#answer(all.subarray(4, 4 + size));
    }
  }

  #answer(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.#pending.get(correlationId);
    if (pending === undefined) return; // timed out meanwhile
    this.#pending.delete(correlationId);
    clearTimeout(pending.timer);
    try {
      let decoded: { body: unknown };
      try {
        decoded = decodeResponse(pending.api, pending.version, frame);
      } catch (error) {
        // An ApiVersions request of a version the broker does not know is answered in v0 (KIP-511).
        if (pending.api.apiKey !== API_VERSIONS_KEY) throw error;
        decoded = decodeResponse(pending.api, 0, frame);
      }
      pending.resolve(decoded.body);
    } catch (error) {
      pending.reject(
        new ClientError("CONNECTION_CLOSED", `could not decode ${pending.api.name} v${pending.version} from ${this.address}: ${(error as Error).message}`),
      );
    }
  }

  #fail(reason: Error): void {
    if (this.#closedBecause) return;
    this.#closedBecause = reason;
    this.#socket.destroy();
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(reason);
    }
    this.#pending.clear();
  }
}
