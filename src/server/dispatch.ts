// From frames to handlers and back: the reactor hands complete frames to onFrame(); each is
// decoded with the generated codec, checked against the handler registry, answered by its
// handler (now or later, in any order — the reactor writes responses in request order), and
// the response frame goes back as parts (bytes and file slices).
//
// Kafka's rules for bad requests: an ApiVersions request of a version this broker does not
// serve gets a v0 answer with UNSUPPORTED_VERSION and the ApiVersions range (KIP-511); any
// other unknown API key, unsupported version or undecodable request closes the connection.
// A handler failure becomes the handler's error response (UNKNOWN_SERVER_ERROR for anything
// unexpected, with no internal detail) or, without one, closes the connection.
//
// On a SASL_* listener a connection starts unauthenticated (src/security/sasl.ts): until SASL
// completes only ApiVersions and the SASL APIs reach their handlers, anything else closes the
// connection, and requests run as the authenticated principal afterwards.

import type { Logger } from "pino";
import { rawSaslToken } from "../handlers/security/sasl.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { API_VERSIONS_KEY, decodeRequest, encodeResponseFrame, peekRequestHeader, UnsupportedRequestError } from "../protocol/frame.js";
import type { ApiVersionsResponse } from "../protocol/generated/api-versions.js";
import { type ApiDescriptor, apiByKey } from "../protocol/generated/index.js";
import { ProtocolDecodeError } from "../protocol/reader.js";
import type { Part } from "../protocol/writer.js";
import { SaslSession } from "../security/sasl.js";
import { ANONYMOUS, type BrokerServices, Connection, type ConnectionControl, RequestContext } from "./context.js";
import { CloseReason, type Network, type NetworkHandler, type PeerSecurity, type ResponsePart } from "./network.js";
import { type Handler, NO_RESPONSE } from "./registry.js";
import type { LocalServices } from "./services.js";

interface Releasable {
  release(): void;
}

/** Parts that are not byte buffers are file slices to release once the reactor holds them. */
function releaseSlices(parts: readonly Part[]): void {
  for (const part of parts) if (!Buffer.isBuffer(part)) (part as unknown as Releasable).release();
}

/** CloseReason codes by name, for logs. */
const closeReasonNames = new Map<number, string>(Object.entries(CloseReason).map(([name, code]) => [code, name]));

/** What the dispatcher needs of the network: answering requests, muting and closing connections. */
export type ResponseChannel = Pick<Network, "respond" | "skip" | "close" | "mute">;

const PRODUCE_KEY = 0;

/** Requests never held to request_percentage (Kafka's sendResponseExemptThrottle): SaslHandshake, ApiVersions, SaslAuthenticate. */
const REQUEST_QUOTA_EXEMPT = new Set([17, 18, 36]);

/**
 * KIP-219: the version of each API from which the client itself waits out a throttle time (the
 * broker answers at once and mutes the connection); an older request's answer is held back for
 * the throttle time instead. APIs not listed came after KIP-219.
 */
const CLIENT_THROTTLES_FROM: ReadonlyMap<number, number> = new Map([
  [0, 6], // Produce
  [1, 8], // Fetch
  [2, 3], // ListOffsets
  [3, 6], // Metadata
  [8, 4], // OffsetCommit
  [9, 4], // OffsetFetch
  [10, 2], // FindCoordinator
  [11, 3], // JoinGroup
  [12, 2], // Heartbeat
  [13, 2], // LeaveGroup
  [14, 2], // SyncGroup
  [15, 2], // DescribeGroups
  [16, 2], // ListGroups
  [19, 3], // CreateTopics
  [20, 2], // DeleteTopics
  [21, 1], // DeleteRecords
  [22, 1], // InitProducerId
  [23, 1], // OffsetForLeaderEpoch
  [24, 1], // AddPartitionsToTxn
  [25, 1], // AddOffsetsToTxn
  [26, 1], // EndTxn
  [28, 1], // TxnOffsetCommit
  [29, 1], // DescribeAcls
  [30, 1], // CreateAcls
  [31, 1], // DeleteAcls
  [32, 1], // DescribeConfigs
  [33, 1], // AlterConfigs
  [35, 1], // DescribeLogDirs
  [37, 1], // CreatePartitions
]);

/** Runs requests against the broker's services; is itself the services' ConnectionControl. */
export class Dispatcher implements NetworkHandler, ConnectionControl {
  readonly #connections = new Map<number, Connection>();
  readonly #services: BrokerServices;
  readonly logger: Logger;
  #network: ResponseChannel | null = null;
  #inFlight = 0;
  #whenIdle: (() => void) | null = null;

  constructor(services: LocalServices) {
    this.#services = { ...services, connections: this };
    this.logger = services.logger;
  }

  /** The services handlers get, with this dispatcher as their connection control. */
  get services(): BrokerServices {
    return this.#services;
  }

  /** Connects the network the requests come from; before it, nothing can be answered. */
  attach(network: ResponseChannel): void {
    this.#network = network;
  }

  get #channel(): ResponseChannel {
    if (this.#network === null) throw new Error("the dispatcher has no network attached");
    return this.#network;
  }

  /** Open client connections. */
  get openConnections(): number {
    return this.#connections.size;
  }

  onOpen(id: number, listener: string, host: string, port: number, peer: PeerSecurity): void {
    const connection = new Connection(id, listener, host, port, peer.tls, peer.subject);
    const sasl = this.#services.sasl.get(listener);
    if (sasl !== undefined) connection.sasl = new SaslSession(sasl);
    this.#connections.set(id, connection);
    if (peer.tls && peer.subject !== null && sasl === undefined) {
      try {
        connection.tlsPrincipal = `User:${this.#services.sslPrincipal(peer.subject)}`;
      } catch (error) {
        // Kafka fails the authentication when no ssl.principal.mapping.rules rule applies.
        this.close(connection, (error as Error).message);
      }
    }
  }

  /** Kafka logs a failed SSL handshake as a failed authentication, at INFO. */
  onTlsHandshakeFailed(listener: string, host: string, port: number, message: string): void {
    this.logger.info({ listener, peer: `${host}:${port}`, reason: message }, "TLS handshake failed");
  }

  onClose(id: number, reason: number): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    connection.closed = true;
    this.#connections.delete(id);
    this.#services.shares.onConnectionClosed(id);
    if (this.logger.isLevelEnabled("debug"))
      this.logger.debug({ connection: `${connection}`, reason: closeReasonNames.get(reason) ?? reason }, "connection closed");
  }

  onError(error: unknown): void {
    this.logger.error({ err: error }, "request dispatch failed");
  }

  onFrame(id: number, seq: number, frame: Buffer): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    const receivedAtMs = Date.now();
    if (connection.sasl?.expectsRawToken) {
      this.#rawSaslToken(connection, connection.sasl, seq, frame, receivedAtMs);
      return;
    }
    let header: { apiKey: number; apiVersion: number; correlationId: number };
    try {
      header = peekRequestHeader(frame);
    } catch {
      this.close(connection, `request of ${frame.length} bytes is shorter than a request header`);
      return;
    }
    const refusal = connection.sasl?.refusal(header.apiKey, receivedAtMs) ?? null;
    if (refusal !== null) {
      this.close(connection, refusal);
      return;
    }
    const handler = this.#services.handlers.get(header.apiKey);
    if (handler === undefined || header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      if (header.apiKey === API_VERSIONS_KEY && handler !== undefined && header.apiVersion > handler.maxVersion) {
        this.#send(connection, seq, handler.api, 0, header.correlationId, this.#unsupportedApiVersions(handler));
        return;
      }
      const api = apiByKey[header.apiKey];
      const what = api === undefined ? `unknown API key ${header.apiKey}` : `${api.name} version ${header.apiVersion} is not supported`;
      this.close(connection, what);
      return;
    }
    let decoded: ReturnType<typeof decodeRequest>;
    try {
      decoded = decodeRequest(frame);
    } catch (error) {
      if (error instanceof ProtocolDecodeError || error instanceof UnsupportedRequestError) {
        this.close(connection, `malformed ${handler.api.name} v${header.apiVersion} request: ${error.message}`);
        return;
      }
      throw error;
    }
    const principal = connection.sasl?.principal ?? connection.tlsPrincipal ?? ANONYMOUS;
    const context = new RequestContext(this.#services, connection, decoded.header, header.apiVersion, principal, receivedAtMs);
    context.requestBytes = frame.length;
    connection.inFlight++;
    this.#inFlight++;
    let result: unknown;
    const timed = this.#services.quotas.requestEnabled;
    const startedAt = timed ? process.hrtime.bigint() : 0n;
    try {
      result = handler.handle(context, decoded.body);
    } catch (error) {
      this.#failed(context, seq, handler, decoded.body, error);
      return;
    } finally {
      if (timed) context.handlerNanos = Number(process.hrtime.bigint() - startedAt);
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.#complete(context, seq, handler, response),
        (error: unknown) => this.#failed(context, seq, handler, decoded.body, error),
      );
    } else {
      this.#complete(context, seq, handler, result);
    }
  }

  /** A bare SASL token after SaslHandshake v0: answered bare; a failure closes the connection. */
  #rawSaslToken(connection: Connection, session: SaslSession, seq: number, frame: Buffer, nowMs: number): void {
    rawSaslToken(this.#services, session, Buffer.from(frame), nowMs).then(
      (answer) => {
        if (answer === null) this.close(connection, "failed SASL authentication");
        else if (!connection.closed) this.#channel.respond(connection.id, seq, [answer] as unknown as readonly ResponsePart[]);
      },
      (error: unknown) => {
        this.logger.error({ err: error, connection: `${connection}` }, "SASL token failed");
        this.close(connection, "failed SASL authentication");
      },
    );
  }

  /** Resolves when no request is in flight any more, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#whenIdle = null;
        this.logger.warn({ inFlight: this.#inFlight }, "requests still in flight at shutdown");
        resolve();
      }, timeoutMs);
      this.#whenIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #finished(connection: Connection): void {
    connection.inFlight--;
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#whenIdle !== null) {
      const whenIdle = this.#whenIdle;
      this.#whenIdle = null;
      whenIdle();
    }
  }

  #complete(context: RequestContext, seq: number, handler: Handler, response: unknown): void {
    this.#finished(context.connection);
    this.#measure(context, handler);
    const throttleMs = this.#throttleOf(context, handler);
    const { connection } = context;
    if (response === NO_RESPONSE) {
      if (!connection.closed) this.#channel.skip(connection.id, seq);
      if (throttleMs > 0 && !connection.closed) this.#channel.mute(connection.id, throttleMs);
      return;
    }
    if (throttleMs <= 0) {
      this.#send(connection, seq, handler.api, context.apiVersion, context.header.correlationId, response);
      return;
    }
    // KIP-219: the answer carries the throttle time and the connection is not read meanwhile.
    const body = response as { throttleTimeMs?: number };
    if (typeof body.throttleTimeMs === "number" && body.throttleTimeMs < throttleMs) body.throttleTimeMs = throttleMs;
    const send = () => this.#send(connection, seq, handler.api, context.apiVersion, context.header.correlationId, response);
    if (context.apiVersion < (CLIENT_THROTTLES_FROM.get(handler.api.apiKey) ?? 0)) setTimeout(send, throttleMs).unref();
    else send();
    if (!connection.closed) this.#channel.mute(connection.id, throttleMs);
  }

  /** The request's throttle time: what its handler asked, its bytes over producer_byte_rate, its time over request_percentage. */
  #throttleOf(context: RequestContext, handler: Handler): number {
    const quotas = this.#services.quotas;
    let throttleMs = context.throttleTimeMs;
    if (!quotas.produceEnabled && !quotas.requestEnabled) return throttleMs;
    const nowMs = Date.now();
    if (quotas.produceEnabled && handler.api.apiKey === PRODUCE_KEY) {
      throttleMs = Math.max(throttleMs, quotas.recordProduce(context, context.requestBytes, nowMs));
    }
    if (quotas.requestEnabled && !context.requestQuotaExempt && !REQUEST_QUOTA_EXEMPT.has(handler.api.apiKey)) {
      throttleMs = Math.max(throttleMs, quotas.recordRequestTime(context, context.handlerNanos, nowMs));
    }
    return throttleMs;
  }

  #failed(context: RequestContext, seq: number, handler: Handler, request: unknown, error: unknown): void {
    this.#finished(context.connection);
    this.#measure(context, handler);
    const kafkaError = error instanceof KafkaError ? error : null;
    const code = kafkaError?.code ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    if (kafkaError === null) {
      this.logger.error({ err: error, api: handler.api.name, version: context.apiVersion, connection: `${context.connection}` }, "request failed");
    }
    if (handler.errorResponse === undefined) {
      this.close(context.connection, `${handler.api.name} failed: ${kafkaError?.errorName ?? "UNKNOWN_SERVER_ERROR"}`);
      return;
    }
    let response: unknown;
    try {
      response = handler.errorResponse(context, request as never, code);
    } catch (secondary) {
      this.logger.error({ err: secondary, api: handler.api.name }, "error response failed");
      this.close(context.connection, `${handler.api.name} failed`);
      return;
    }
    this.#send(context.connection, seq, handler.api, context.apiVersion, context.header.correlationId, response);
  }

  /** RequestMetrics: the request's API and version, and its time from frame to response (Kafka's TotalTimeMs less the socket read and write). */
  #measure(context: RequestContext, handler: Handler): void {
    const now = Date.now();
    this.#services.metrics.request(handler.api.apiKey, context.apiVersion, now - context.receivedAtMs, now);
  }

  #send(connection: Connection, seq: number, api: ApiDescriptor, version: number, correlationId: number, body: unknown): void {
    let parts: Part[];
    try {
      parts = encodeResponseFrame(api, version, correlationId, body);
    } catch (error) {
      this.logger.error({ err: error, api: api.name, version }, "response could not be encoded");
      this.close(connection, `${api.name} v${version} response could not be encoded`);
      return;
    }
    if (!connection.closed) this.#channel.respond(connection.id, seq, parts as unknown as readonly ResponsePart[]);
    releaseSlices(parts);
  }

  /** Closes a connection now (ConnectionControl): a handler's decision or a bad request. */
  close(connection: Connection, reason: string): void {
    this.logger.info({ connection: `${connection}`, reason }, "closing connection");
    if (!connection.closed) this.#channel.close(connection.id);
  }

  closeAfter(connection: Connection, delayMs: number, reason: string): void {
    const timer = setTimeout(() => this.close(connection, reason), delayMs);
    timer.unref();
  }

  /** KIP-511: the answer to an ApiVersions request of a version this broker does not know. */
  #unsupportedApiVersions(handler: Handler): ApiVersionsResponse {
    return {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: [{ apiKey: API_VERSIONS_KEY, minVersion: handler.minVersion, maxVersion: handler.maxVersion }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
  }
}
