// The broker's network, as the JS thread sees it: a typed wrapper of the native NetServer
// (crates/net). Reactor threads own every client socket, frame requests and write responses;
// this side is woken once per batch of events, parses the packed event stream and calls the
// handler. The JS thread reads no socket and never waits on one; respond() writes a response
// at once, non-blocking, when nothing is queued before it on that connection (the reactor writes
// whatever that leaves: file slices, a full socket's backlog, large remainders). SSL listeners
// (a listener with `tls`) terminate TLS on the reactor threads (docs/tls.md): there the reactor
// encrypts and writes every response.
//
// Event stream (all little-endian), repeated records of [u8 kind][u32 connection] then
//   1 Opened: [u16 listenerIndex][u16 peerPort][u8 ipLength][ip, UTF-8][u8 security]
//             then, when security bit 1 is set, [u32 subjectLength][subject, UTF-8]
//             (security bit 0: TLS; bit 1: the client certificate's subject follows)
//   2 Frame:  [u32 seq][u32 length][frame: the request, after its size prefix]
//   3 Closed: [u8 reason]
//   4 TlsHandshakeFailed: [u16 listenerIndex][u16 peerPort][u8 ipLength][ip, UTF-8]
//             [u16 messageLength][message, UTF-8]
// Per connection: Opened, then Frames in seq order, then Closed. Seqs count from 0 per
// connection; every seq must be answered with respond() or skip() (in any order), and
// responses go out in seq order. A PLAINTEXT connection is Opened when accepted; a TLS one
// when its handshake completes, with the client certificate's subject as Java's
// X500Principal.getName() prints it (RFC 2253, e.g. "CN=client,OU=eng,O=Acme,C=US"; Kafka's
// principal is User:<subject> before ssl.principal.mapping.rules) or no subject when the
// client sent no certificate. A TLS connection whose handshake fails (or does not complete
// within 10 s) is never Opened or Closed: it leaves one TlsHandshakeFailed record.

import { type LogSlice, type NetListener, NetServer, type NetServerOptions, type NetStats } from "../native.js";

/** Why a connection closed; the codes are the native server's. */
export const CloseReason = {
  /** The client closed or reset the connection. */
  PEER_CLOSED: 0,
  /** Nothing read or written for `connections.max.idle.ms`, nothing in flight. */
  IDLE: 1,
  /** A negative size prefix, or one over `socket.request.max.bytes`. */
  INVALID_FRAME: 2,
  /** close() was called. */
  CLOSED_BY_SERVER: 3,
  /** A socket error, or a log slice that came up short (its file was truncated). */
  IO_ERROR: 4,
  /** shutdown() closed it. */
  SHUTDOWN: 5,
  /** A TLS handshake failed or took over 10 s; counted in stats() only (such a connection is never opened). */
  TLS_HANDSHAKE_FAILED: 6,
} as const;

export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

export type NetworkOptions = NetServerOptions;
export type { NetListener, NetStats };
/** An SSL listener's TLS settings (PEM text and Kafka's ssl.* names): NetListener.tls, reloadTls(). */
export type NetListenerTls = NonNullable<NetListener["tls"]>;

/** How a connection is secured, as onOpen() reports it. */
export interface PeerSecurity {
  /** The connection came in on an SSL listener. */
  readonly tls: boolean;
  /** The client certificate's subject (RFC 2253, as Java's X500Principal.getName()); null without TLS or without a client certificate. */
  readonly subject: string | null;
}

const PLAINTEXT_PEER: PeerSecurity = Object.freeze({ tls: false, subject: null });
const TLS_PEER_WITHOUT_CERTIFICATE: PeerSecurity = Object.freeze({ tls: true, subject: null });

/** A response part: bytes (a Buffer or any Uint8Array, copied at once) or a log slice (sent with sendfile; may be released after respond()). */
export type ResponsePart = Uint8Array | LogSlice;

/** What the network tells the broker. Called on the JS thread, in event order. */
export interface NetworkHandler {
  /** A new connection: at accept on a PLAINTEXT listener, once the TLS handshake completes on an SSL one. */
  onOpen(connection: number, listener: string, ip: string, port: number, peer: PeerSecurity): void;
  /**
   * A complete request frame. `frame` is a view into the batch the events came in, and that
   * memory is reused for the next batch as soon as this call returns: copy anything that must
   * outlive the synchronous part of handling the request (the generated decoders copy every
   * field but records, which the produce handler appends before it returns).
   */
  onFrame(connection: number, seq: number, frame: Buffer): void;
  onClose(connection: number, reason: CloseReason): void;
  /** A TLS handshake failed (bad or missing client certificate, nothing in common, no handshake within 10 s); the connection is closed and was never opened. */
  onTlsHandshakeFailed?(listener: string, ip: string, port: number, message: string): void;
  /** A handler call threw; the remaining events of the batch are still delivered. Without it the error is rethrown asynchronously. */
  onError?(error: unknown): void;
}

const EVENT_OPENED = 1;
const EVENT_FRAME = 2;
const EVENT_CLOSED = 3;
const EVENT_TLS_HANDSHAKE_FAILED = 4;

/** Opened's security bits. */
const SECURITY_TLS = 1;
const SECURITY_PEER_SUBJECT = 2;

/**
 * Events are copied into a reused buffer: 4 MiB at first, grown (to the next power of two) for a
 * bigger batch up to 64 MiB, and kept. A batch bigger still comes as its own Buffer. Handing every
 * large batch to JS as a fresh Buffer left each one to V8's garbage collector: a client sending
 * 16 MB produce requests (1,000 partitions × 16 KB) raised the broker's peak RSS to 1.2 GB.
 */
const EVENT_BUFFER_BYTES = 4 * 1024 * 1024;
const EVENT_BUFFER_BYTES_MAX = 64 * 1024 * 1024;

/** Keeps the event loop alive while the server runs: the native wake-up does not (it is unref'd). */
const KEEP_ALIVE_INTERVAL_MS = 2 ** 30;

export class Network {
  readonly #server: NetServer;
  readonly #handler: NetworkHandler;
  readonly #listenerNames: readonly string[];
  #keepAlive: NodeJS.Timeout | undefined;
  #shutdown: Promise<void> | undefined;
  /** The reused event buffer; null while a batch in it is being dispatched. */
  #eventBuffer: Buffer | null = Buffer.allocUnsafeSlow(EVENT_BUFFER_BYTES);

  /** Binds every listener (throws on failure, e.g. "EADDRINUSE" naming host:port) and starts the reactor threads. */
  constructor(options: NetworkOptions, handler: NetworkHandler) {
    this.#handler = handler;
    this.#listenerNames = options.listeners.map((listener) => listener.name);
    this.#server = new NetServer(options, () => this.#drain());
    this.#keepAlive = setInterval(() => {}, KEEP_ALIVE_INTERVAL_MS);
  }

  /** The listeners as bound, with actual ports (for port 0). */
  boundListeners(): NetListener[] {
    return this.#server.boundListeners();
  }

  /** Answers request `seq` of `connection`; written after every earlier seq. False when the connection is gone. */
  respond(connection: number, seq: number, parts: readonly ResponsePart[]): boolean {
    return this.#server.respond(connection, seq, parts as (Buffer | LogSlice)[]);
  }

  /** Completes request `seq` without a response (acks=0 produce); it still holds its place in the order. */
  skip(connection: number, seq: number): boolean {
    return this.#server.skip(connection, seq);
  }

  /** Closes `connection` now, dropping its unwritten responses; onClose(CLOSED_BY_SERVER) follows. */
  close(connection: number): boolean {
    return this.#server.close(connection);
  }

  /** Reads nothing more of `connection` for `durationMs` (a throttled client, KIP-219); its responses are still written. */
  mute(connection: number, durationMs: number): boolean {
    return this.#server.mute(connection, durationMs);
  }

  /**
   * Sets the IPs' connection_creation_rate quotas (Kafka's ip quota entity): a connection from an
   * IP over its rate is refused and closed after the time it should have waited. Throws on an
   * address that does not parse.
   */
  setIpConnectionRates(defaultRate: number | null, overrides: readonly { ip: string; rate: number }[]): void {
    this.#server.setIpConnectionRates(defaultRate, [...overrides]);
  }

  /**
   * Replaces the TLS settings of SSL listener `listenerName` (Kafka's certificate reload): new
   * connections use them, open ones keep theirs. Throws, keeping the current settings, when they
   * are invalid or the listener is not SSL.
   */
  reloadTls(listenerName: string, tls: NetListenerTls): void {
    this.#server.reloadTls(listenerName, tls);
  }

  /** Closes the listeners; open connections go on. */
  stopAccepting(): void {
    this.#server.stopAccepting();
  }

  /**
   * Stops accepting and reading; resolves once the responses to every delivered request are
   * written (keep answering them meanwhile) or `timeoutMs` passes, every connection is closed
   * and its onClose delivered. Later calls return the same promise.
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.#shutdown ??= this.#server.shutdown(timeoutMs).then(() => {
      this.#drain();
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    });
    return this.#shutdown;
  }

  stats(): NetStats {
    return this.#server.stats();
  }

  /** Delivers everything queued; runs on each wake-up (one per batch). */
  #drain(): void {
    const buffer = this.#eventBuffer;
    if (buffer === null) {
      this.#drainToOwnBuffer(); // re-entered while dispatching from the reused buffer: never overwrite it
      return;
    }
    let target = buffer;
    let length = this.#server.drainInto(target);
    if (length < 0 && -length <= EVENT_BUFFER_BYTES_MAX) {
      // Grow once; the queue may have grown meanwhile, then the batch comes as its own Buffer.
      target = Buffer.allocUnsafeSlow(Math.min(EVENT_BUFFER_BYTES_MAX, 2 ** Math.ceil(Math.log2(-length))));
      length = this.#server.drainInto(target);
    }
    if (length === 0) {
      this.#eventBuffer = target;
      return;
    }
    if (length < 0) {
      this.#eventBuffer = target;
      this.#drainToOwnBuffer();
      return;
    }
    this.#eventBuffer = null;
    try {
      this.#dispatch(target.subarray(0, length));
    } finally {
      this.#eventBuffer = target;
    }
  }

  /** Takes everything queued as a Buffer of its own (not the reused one). */
  #drainToOwnBuffer(): void {
    const events = this.#server.drain();
    if (events !== null) this.#dispatch(events);
  }

  #dispatch(events: Buffer): void {
    const handler = this.#handler;
    let at = 0;
    while (at < events.length) {
      const kind = events[at];
      const connection = events.readUInt32LE(at + 1);
      at += 5;
      try {
        if (kind === EVENT_FRAME) {
          const seq = events.readUInt32LE(at);
          const length = events.readUInt32LE(at + 4);
          at += 8 + length;
          handler.onFrame(connection, seq, events.subarray(at - length, at));
        } else if (kind === EVENT_OPENED) {
          const listenerIndex = events.readUInt16LE(at);
          const port = events.readUInt16LE(at + 2);
          const ipLength = events[at + 4] as number;
          const ip = events.toString("latin1", at + 5, at + 5 + ipLength);
          const security = events[at + 5 + ipLength] as number;
          at += 6 + ipLength;
          let peer = PLAINTEXT_PEER;
          if ((security & SECURITY_PEER_SUBJECT) !== 0) {
            const subjectLength = events.readUInt32LE(at);
            peer = { tls: true, subject: events.toString("utf8", at + 4, at + 4 + subjectLength) };
            at += 4 + subjectLength;
          } else if ((security & SECURITY_TLS) !== 0) {
            peer = TLS_PEER_WITHOUT_CERTIFICATE;
          }
          handler.onOpen(connection, this.#listenerNames[listenerIndex] as string, ip, port, peer);
        } else if (kind === EVENT_CLOSED) {
          const reason = events[at] as CloseReason;
          at += 1;
          handler.onClose(connection, reason);
        } else if (kind === EVENT_TLS_HANDSHAKE_FAILED) {
          const listenerIndex = events.readUInt16LE(at);
          const port = events.readUInt16LE(at + 2);
          const ipLength = events[at + 4] as number;
          const ip = events.toString("latin1", at + 5, at + 5 + ipLength);
          const messageLength = events.readUInt16LE(at + 5 + ipLength);
          const message = events.toString("utf8", at + 7 + ipLength, at + 7 + ipLength + messageLength);
          at += 7 + ipLength + messageLength;
          handler.onTlsHandshakeFailed?.(this.#listenerNames[listenerIndex] as string, ip, port, message);
        } else {
          throw new Error(`network event stream is corrupt: kind ${kind} at byte ${at - 5}`);
        }
      } catch (error) {
        if (kind !== EVENT_OPENED && kind !== EVENT_FRAME && kind !== EVENT_CLOSED && kind !== EVENT_TLS_HANDSHAKE_FAILED) throw error;
        this.#report(error);
      }
    }
  }

  #report(error: unknown): void {
    if (this.#handler.onError !== undefined) {
      this.#handler.onError(error);
    } else {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
