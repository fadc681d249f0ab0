// A minimal Kafka protocol client over a raw socket, built on Sluice's generated codec: for
// tests that need exact requests (every API version, malformed frames, pipelining) rather
// than what a client library chooses to send.

import { connect, type Socket } from "node:net";
import { decodeResponse, encodeRequest } from "../../src/protocol/frame.js";
import { apiByKey } from "../../src/protocol/generated/index.js";

interface Pending {
  apiKey: number;
  version: number;
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
}

export class TestClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #received: Buffer = Buffer.alloc(0);
  #nextCorrelationId = 1;
  #closed: Promise<void>;
  closedAt: number | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.closedAt = Date.now();
        for (const pending of this.#pending.values()) pending.reject(new Error("connection closed"));
        this.#pending.clear();
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  /** `localAddress`: the address to connect from (e.g. 127.0.0.2, for host-restricted ACLs). */
  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, localAddress }, () => resolve(new TestClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends one request and resolves with the decoded response body. */
  request<T = Record<string, unknown>>(apiKey: number, version: number, body: Record<string, unknown> = {}, clientId = "sluice-test"): Promise<T> {
    const { correlationId, bytes } = this.#frame(apiKey, version, body, clientId);
    // A request after the close would wait for ever: nothing answers it, and nothing rejects it.
    if (this.closedAt !== null || this.#socket.destroyed) return Promise.reject(new Error("connection closed"));
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(correlationId, { apiKey, version, resolve: resolve as (body: unknown) => void, reject });
      this.#socket.write(bytes);
    });
  }

  /** A size-prefixed request frame with the next correlation id. */
  #frame(apiKey: number, version: number, body: Record<string, unknown>, clientId: string): { correlationId: number; bytes: Buffer } {
    const api = apiByKey[apiKey];
    if (api === undefined) throw new Error(`no API ${apiKey}`);
    const correlationId = this.#nextCorrelationId++;
    const full = { ...(api.request.create() as Record<string, unknown>), ...body };
    const frame = encodeRequest(api, version, { correlationId, clientId, unknownTaggedFields: undefined }, full);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length);
    return { correlationId, bytes: Buffer.concat([prefix, frame]) };
  }

  /**
   * Sends one request the broker does not answer (Produce with acks=0) and resolves once the
   * socket has taken the bytes (so a caller that awaits it gets the socket's backpressure).
   */
  send(apiKey: number, version: number, body: Record<string, unknown> = {}, clientId = "sluice-test"): Promise<void> {
    const { bytes } = this.#frame(apiKey, version, body, clientId);
    return new Promise<void>((resolve, reject) => {
      this.#socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Writes bytes as they are (for malformed input). */
  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** Resolves when the broker closes the connection. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /** Raw response frames that matched no pending request (kept for inspection). */
  readonly unmatched: Buffer[] = [];

  close(): void {
    this.#socket.destroy();
  }

  /**
   * Fetch v12 of one partition from `fetchOffset` (read_uncommitted, no wait): its error code,
   * high watermark, log start offset and record bytes.
   */
  async fetchPartition(
    topic: string,
    partition: number,
    fetchOffset: bigint,
    maxBytes = 1 << 20,
  ): Promise<{ errorCode: number; highWatermark: bigint; logStartOffset: bigint; records: Buffer | null }> {
    const response = await this.request<{
      responses: { partitions: { errorCode: number; highWatermark: bigint; logStartOffset: bigint; records: Buffer | null }[] }[];
    }>(1, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        { topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: maxBytes }] },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    return response.responses[0].partitions[0];
  }

  /** Produce v9 (acks=all) of `records` to one partition: its error code and base offset. */
  async producePartition(topic: string, partition: number, records: Buffer): Promise<{ errorCode: number; baseOffset: bigint }> {
    const response = await this.request<{ responses: { partitionResponses: { errorCode: number; baseOffset: bigint }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    });
    return response.responses[0].partitionResponses[0];
  }

  #onData(chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    while (this.#received.length >= 4) {
      const size = this.#received.readInt32BE(0);
      if (this.#received.length < 4 + size) return;
      const frame = this.#received.subarray(4, 4 + size);
      this.#received = this.#received.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const pending = this.#pending.get(correlationId);
      if (pending === undefined) {
        this.unmatched.push(Buffer.from(frame));
        continue;
      }
      this.#pending.delete(correlationId);
      try {
        const api = apiByKey[pending.apiKey];
        if (api === undefined) throw new Error(`no API ${pending.apiKey}`);
        // ApiVersions answers an unsupported version with v0 (KIP-511).
        let decoded: { body: unknown };
        try {
          decoded = decodeResponse(api, pending.version, Buffer.from(frame));
        } catch (error) {
          if (pending.apiKey !== 18) throw error;
          decoded = decodeResponse(api, 0, Buffer.from(frame));
        }
        pending.resolve(decoded.body);
      } catch (error) {
        pending.reject(error as Error);
      }
    }
  }
}
