// The broker's network, as the JS thread sees it: a typed wrapper of the native NetServer
// (crates/net). Reactor threads own every client socket, frame requests and write responses;
// this side is woken once per batch of events, parses the packed event stream and calls the
// handler. The JS thread reads no socket and never waits on one; respond() writes a response
// at once, non-blocking, when nothing is queued before it on that connection (the reactor writes
// whatever that leaves: file slices, a full socket's backlog, large remainders).
//
// Event stream (all little-endian), repeated records of [u8 kind][u32 connection] then
//   1 Opened: [u16 listenerIndex][u16 peerPort][u8 ipLength][ip, UTF-8]
//   2 Frame:  [u32 seq][u32 length][frame: the request, after its size prefix]
//   3 Closed: [u8 reason]
// Per connection: Opened, then Frames in seq order, then Closed. Seqs count from 0 per
// connection; every seq must be answered with respond() or skip() (in any order), and
// responses go out in seq order.

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
} as const;

export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

export type NetworkOptions = NetServerOptions;
export type { NetListener, NetStats };

/** A response part: bytes (a Buffer or any Uint8Array, copied at once) or a log slice (sent with sendfile; may be released after respond()). */
export type ResponsePart = Uint8Array | LogSlice;

/** What the network tells the broker. Called on the JS thread, in event order. */
export interface NetworkHandler {
  onOpen(connection: number, listener: string, ip: string, port: number): void;
  /**
   * A complete request frame. `frame` is a view into the batch the events came in, and that
   * memory is reused for the next batch as soon as this call returns: copy anything that must
   * outlive the synchronous part of handling the request (the generated decoders copy every
   * field but records, which the produce handler appends before it returns).
   */
  onFrame(connection: number, seq: number, frame: Buffer): void;
  onClose(connection: number, reason: CloseReason): void;
  /** A handler call threw; the remaining events of the batch are still delivered. Without it the error is rethrown asynchronously. */
  onError?(error: unknown): void;
}

const EVENT_OPENED = 1;
const EVENT_FRAME = 2;
const EVENT_CLOSED = 3;

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
          at += 5 + ipLength;
          handler.onOpen(connection, this.#listenerNames[listenerIndex] as string, ip, port);
        } else if (kind === EVENT_CLOSED) {
          const reason = events[at] as CloseReason;
          at += 1;
          handler.onClose(connection, reason);
        } else {
          throw new Error(`network event stream is corrupt: kind ${kind} at byte ${at - 5}`);
        }
      } catch (error) {
        if (kind !== EVENT_OPENED && kind !== EVENT_FRAME && kind !== EVENT_CLOSED) throw error;
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
