// Requests from this broker to the others (Kafka's NodeToNodeChannelManager / the transaction
// coordinator's marker channel): one connection per broker, made on first use from the broker's
// registered endpoint on the inter-broker listener, dropped when it fails (the next request
// reconnects, perhaps to the broker's new address). Replica fetchers keep their own connections
// (replica-fetcher.ts); this is for the transaction coordinator's WriteTxnMarkers and a partition
// leader's AddPartitionsToTxn to a coordinator on another broker.

import { BrokerConnection, type RequestBody } from "../client/connection.js";
import type { MetadataCache } from "../cluster/metadata-cache.js";

export class InterBrokerClients {
  readonly #metadata: MetadataCache;
  readonly #listener: string | null;
  readonly #timeoutMs: number;
  readonly #connections = new Map<number, Promise<BrokerConnection>>();
  #closed = false;

  constructor(metadata: MetadataCache, listener: string | null, timeoutMs: number) {
    this.#metadata = metadata;
    this.#listener = listener;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one request to broker `nodeId`; rejects when it is unknown or the request fails (the connection is dropped then). */
  async request<T>(nodeId: number, apiKey: number, body: RequestBody): Promise<T> {
    if (this.#closed) throw new Error("shutting down");
    let connecting = this.#connections.get(nodeId);
    if (connecting === undefined) {
      connecting = this.#connect(nodeId);
      this.#connections.set(nodeId, connecting);
    }
    try {
      const connection = await connecting;
      return await connection.request<T>(apiKey, body);
    } catch (error) {
      if (this.#connections.get(nodeId) === connecting) this.#connections.delete(nodeId);
      connecting.then((connection) => connection.close()).catch(() => undefined);
      throw error;
    }
  }

  async #connect(nodeId: number): Promise<BrokerConnection> {
    const broker = this.#metadata.broker(nodeId);
    if (broker === undefined) throw new Error(`broker ${nodeId} is not registered`);
    const endpoint = (this.#listener !== null ? broker.endpoints.find((e) => e.name === this.#listener) : undefined) ?? broker.endpoints[0];
    if (endpoint === undefined) throw new Error(`broker ${nodeId} has no endpoint`);
    return BrokerConnection.connect({
      host: endpoint.host,
      port: endpoint.port,
      clientId: `broker-${this.#metadata.nodeId}`,
      connectTimeoutMs: this.#timeoutMs,
      requestTimeoutMs: this.#timeoutMs,
    });
  }

  close(): void {
    this.#closed = true;
    for (const connecting of this.#connections.values()) connecting.then((connection) => connection.close()).catch(() => undefined);
    this.#connections.clear();
  }
}
