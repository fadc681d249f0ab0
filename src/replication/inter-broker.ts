// Requests from this broker to the others (Kafka's NodeToNodeChannelManager / the transaction
// coordinator's marker channel): one connection per broker, made on first use from the broker's
// registered endpoint on the inter-broker listener, dropped when it fails (the next request
// reconnects, perhaps to the broker's new address). Replica fetchers keep their own connections
// (replica-fetcher.ts); this is for the transaction coordinator's WriteTxnMarkers and a partition
// leader's AddPartitionsToTxn to a coordinator on another broker.
//
// The connections are as secure as the inter-broker listener (src/security/inter-broker.ts): TLS
// and SASL as a client. When the other broker bounds the SASL session (KIP-368), a connection
// due for re-authentication is replaced by a new one for the next request and closed once the
// requests it carries had time to finish.

import { BrokerConnection, type RequestBody } from "../client/connection.js";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import type { InterBrokerSecurity } from "../security/inter-broker.js";

export class InterBrokerClients {
  readonly #metadata: MetadataCache;
  readonly #security: InterBrokerSecurity;
  readonly #timeoutMs: number;
  readonly #connections = new Map<number, Promise<BrokerConnection>>();
  #closed = false;

  constructor(metadata: MetadataCache, security: InterBrokerSecurity, timeoutMs: number) {
    this.#metadata = metadata;
    this.#security = security;
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
      if (connection.reauthenticationDue(Date.now())) {
        if (this.#connections.get(nodeId) === connecting) this.#connections.delete(nodeId);
        setTimeout(() => connection.close(), this.#timeoutMs).unref();
        return await this.request<T>(nodeId, apiKey, body);
      }
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
    const listener = this.#security.listener;
    const endpoint = broker.endpoints.find((e) => e.name === listener);
    if (endpoint === undefined) throw new Error(`broker ${nodeId} has no endpoint on the inter-broker listener ${listener}`);
    return BrokerConnection.connect({
      host: endpoint.host,
      port: endpoint.port,
      clientId: `broker-${this.#metadata.nodeId}`,
      connectTimeoutMs: this.#timeoutMs,
      requestTimeoutMs: this.#timeoutMs,
      tls: this.#security.tls(),
      sasl: this.#security.sasl,
    });
  }

  close(): void {
    this.#closed = true;
    for (const connecting of this.#connections.values()) connecting.then((connection) => connection.close()).catch(() => undefined);
    this.#connections.clear();
  }
}
