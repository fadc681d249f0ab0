// What a handler knows about the request it answers: the header, the connection it came on,
// who sent it (a principal placeholder until authentication exists), and the broker.

import type { RequestHeader } from "../protocol/generated/headers.js";
import type { Broker } from "./broker.js";

/** One client connection, as the JS side sees it (the socket itself lives in the reactor). */
export class Connection {
  /** Set by ApiVersions v3+ (KIP-511). */
  clientSoftwareName = "unknown";
  clientSoftwareVersion = "unknown";
  /** Requests received and not yet answered. */
  inFlight = 0;
  closed = false;

  constructor(
    readonly id: number,
    readonly listener: string,
    readonly peerHost: string,
    readonly peerPort: number,
  ) {}

  toString(): string {
    return `${this.peerHost}:${this.peerPort}#${this.id}`;
  }
}

/** Kafka's KafkaPrincipal of an unauthenticated PLAINTEXT connection. */
export const ANONYMOUS = "User:ANONYMOUS";

export interface RequestContext {
  readonly broker: Broker;
  readonly connection: Connection;
  readonly header: RequestHeader;
  readonly apiVersion: number;
  readonly principal: string;
  /** Date.now() when the frame was handed to JS. */
  readonly receivedAtMs: number;
}
