// The network server through the binding (Network over NetServer), with real sockets: node:net
// plays the Kafka client only; the server side is the reactor threads. Framing, in-order
// responses to out-of-order answers, log slices sent with sendfile, bad size prefixes, stalled
// clients, and shutdown.

import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PartitionLog } from "../../src/log/partition-log.js";
import { LogResources } from "../../src/native.js";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { CloseReason, Network, type NetworkHandler, type NetworkOptions, type PeerSecurity } from "../../src/server/network.js";

const root = mkdtempSync(join(tmpdir(), "sluice-network-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function options(overrides: Partial<NetworkOptions> = {}): NetworkOptions {
  return {
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0 }],
    numNetworkThreads: 2,
    socketRequestMaxBytes: 100 * 1024 * 1024,
    socketSendBufferBytes: -1,
    socketReceiveBufferBytes: -1,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
    connectionsMaxIdleMs: 600_000,
    ...overrides,
  };
}

interface Frame {
  readonly connection: number;
  readonly seq: number;
  readonly frame: Buffer;
}

/** A handler that records everything and lets a test react to frames. */
class Recorder implements NetworkHandler {
  readonly opened: { connection: number; listener: string; ip: string; port: number; peer: PeerSecurity }[] = [];
  readonly closed = new Map<number, CloseReason>();
  readonly frames: Frame[] = [];
  onFrameHook: (frame: Frame) => void = () => {};
  #waiters: (() => void)[] = [];

  onOpen(connection: number, listener: string, ip: string, port: number, peer: PeerSecurity): void {
    this.opened.push({ connection, listener, ip, port, peer });
    this.#notify();
  }

  onFrame(connection: number, seq: number, frame: Buffer): void {
    const copied = { connection, seq, frame: Buffer.from(frame) };
    this.frames.push(copied);
    this.onFrameHook(copied);
    this.#notify();
  }

  onClose(connection: number, reason: CloseReason): void {
    this.closed.set(connection, reason);
    this.#notify();
  }

  /** Resolves once `condition` holds (checked after each event). */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A Kafka-ish client: size-prefixed frames out, size-prefixed frames back. */
class Client {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #received = Buffer.alloc(0);
  #waiter: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#waiter?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
    void this.closed.then(() => this.#waiter?.());
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve(new Client(socket)));
      socket.once("error", reject);
    });
  }

  send(...payloads: Buffer[]): void {
    this.socket.write(Buffer.concat(payloads.map(framed)));
  }

  /** The next `count` response frames (payloads without their size prefix). */
  async frames(count: number): Promise<Buffer[]> {
    const frames: Buffer[] = [];
    while (frames.length < count) {
      if (this.#received.length >= 4) {
        const size = this.#received.readInt32BE(0);
        if (this.#received.length >= 4 + size) {
          frames.push(this.#received.subarray(4, 4 + size));
          this.#received = this.#received.subarray(4 + size);
          continue;
        }
      }
      if (this.socket.destroyed) throw new Error(`connection closed after ${frames.length} of ${count} frames`);
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    return frames;
  }

  end(): void {
    this.socket.destroy();
  }
}

function framed(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

/** A request payload: a Kafka request header prefix (apiKey, apiVersion, correlationId) and a body. */
function request(correlationId: number, body: string): Buffer {
  const header = Buffer.alloc(8);
  header.writeInt16BE(18, 0);
  header.writeInt16BE(3, 2);
  header.writeInt32BE(correlationId, 4);
  return Buffer.concat([header, Buffer.from(body)]);
}

/** The echo server's response to a request: size prefix, correlation id, the body upper-cased. */
function echoResponse(frame: Buffer): Buffer {
  const correlation = frame.subarray(4, 8);
  return framed(Buffer.concat([correlation, Buffer.from(frame.subarray(8).toString().toUpperCase())]));
}

function correlationOf(response: Buffer): number {
  return response.readInt32BE(0);
}

const networks: Network[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.end();
  await Promise.all(networks.splice(0).map((network) => network.shutdown(0)));
});

function start(recorder: Recorder, overrides: Partial<NetworkOptions> = {}): { network: Network; port: number } {
  const network = new Network(options(overrides), recorder);
  networks.push(network);
  const port = network.boundListeners()[0]?.port as number;
  return { network, port };
}

async function client(port: number): Promise<Client> {
  const opened = await Client.connect(port);
  clients.push(opened);
  return opened;
}

describe("Network", () => {
  it("reports the bound listener and each connection's listener, address and port", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    expect(network.boundListeners()).toEqual([{ name: "PLAINTEXT", host: "127.0.0.1", port }]);
    expect(port).toBeGreaterThan(0);
    const opened = await client(port);
    await recorder.until(() => recorder.opened.length === 1);
    expect(recorder.opened[0]).toMatchObject({
      listener: "PLAINTEXT",
      ip: "127.0.0.1",
      port: opened.socket.localPort,
      peer: { tls: false, subject: null },
    });
  });

  it("a second server on the same port fails to bind, naming the listener and the address", () => {
    const { port } = start(new Recorder());
    expect(() => new Network(options({ listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port }] }), new Recorder())).toThrow(`EADDRINUSE`);
    expect(() => new Network(options({ listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port }] }), new Recorder())).toThrow(
      `PLAINTEXT to 127.0.0.1:${port}`,
    );
  });

  it("echoes each request with a response built from it", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    recorder.onFrameHook = ({ connection, seq, frame }) =>
      network.respond(connection, seq, [echoResponse(frame).subarray(0, 6), echoResponse(frame).subarray(6)]);
    const kafka = await client(port);
    kafka.send(request(41, "hello"));
    kafka.send(request(42, "world"));
    const responses = await kafka.frames(2);
    expect(responses.map(correlationOf)).toEqual([41, 42]);
    expect(responses.map((response) => response.subarray(4).toString())).toEqual(["HELLO", "WORLD"]);
  });

  it("delivers frames larger than the reused event buffer intact, between small ones", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    recorder.onFrameHook = ({ connection, seq, frame }) => network.respond(connection, seq, [framed(frame.subarray(4, 8))]);
    const big = (fill: number): Buffer => Buffer.concat([request(0, ""), Buffer.alloc(6 * 1024 * 1024, fill)]);
    const kafka = await client(port);
    const sent: Buffer[] = [];
    for (let round = 0; round < 3; round++) {
      const payloads = [request(round * 10 + 1, "small"), big(round + 1), request(round * 10 + 2, "after")];
      payloads[1]?.writeInt32BE(round * 10 + 5, 4);
      sent.push(...payloads);
      kafka.send(...payloads);
      await kafka.frames(3);
    }
    await recorder.until(() => recorder.frames.length === sent.length);
    // Compared as hex digests: deep equality over megabytes of bytes is slow.
    const digest = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");
    expect(recorder.frames.map((frame) => digest(frame.frame))).toEqual(sent.map(digest));
  });

  it("a response larger than the socket takes at once reaches a client that reads late, and the next ones follow it in order", async () => {
    // The JS thread writes what the socket takes without waiting (256 KiB at most); the rest
    // goes out from the reactor when the socket drains.
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    const big = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    recorder.onFrameHook = ({ connection, seq, frame }) => {
      const correlation = frame.subarray(4, 8);
      const body = frame.subarray(8).toString() === "big" ? big : Buffer.from("small");
      network.respond(connection, seq, [framed(Buffer.concat([correlation, body]))]);
    };
    const kafka = await client(port);
    kafka.socket.pause();
    kafka.send(request(1, "big"), request(2, "after"), request(3, "after"));
    await recorder.until(() => recorder.frames.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    kafka.socket.resume();
    const responses = await kafka.frames(3);
    expect(responses.map(correlationOf)).toEqual([1, 2, 3]);
    const digest = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");
    expect(digest(responses[0]?.subarray(4) as Buffer)).toBe(digest(big));
    expect(responses.slice(1).map((response) => response.subarray(4).toString())).toEqual(["small", "small"]);
  });

  it("writes pipelined responses in request order when they are answered in reverse", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    const kafka = await client(port);
    const count = 200;
    kafka.send(...Array.from({ length: count }, (_, index) => request(index, `request ${index}`)));
    await recorder.until(() => recorder.frames.length === count);
    expect(recorder.frames.map((frame) => frame.seq)).toEqual(Array.from({ length: count }, (_, index) => index));
    for (const { connection, seq, frame } of [...recorder.frames].reverse()) {
      // Every third request has no response (acks=0), which still holds its place.
      if (seq % 3 === 1) network.skip(connection, seq);
      else network.respond(connection, seq, [echoResponse(frame)]);
    }
    const expected = Array.from({ length: count }, (_, index) => index).filter((index) => index % 3 !== 1);
    const responses = await kafka.frames(expected.length);
    expect(responses.map(correlationOf)).toEqual(expected);
  });

  it("sends a log slice part byte for byte after the byte parts before it", async () => {
    const resources = new LogResources();
    const log = await PartitionLog.open(join(root, "events-0"), { topic: "events", partition: 0, resources });
    const batch = buildRecordBatch({
      records: Array.from({ length: 50 }, (_, index) => ({ key: Buffer.from(`key-${index}`), value: Buffer.from(`value ${index}`.repeat(20)) })),
    });
    log.append(batch, { nowMs: Date.now(), leaderEpoch: 0 });
    const stored = log.readCopy(0n, 1 << 20).bytes;
    expect(stored.length).toBe(batch.length);

    const recorder = new Recorder();
    const { network, port } = start(recorder);
    recorder.onFrameHook = ({ connection, seq, frame }) => {
      const slice = log.read(0n, 1 << 20);
      const head = Buffer.alloc(8);
      head.writeInt32BE(4 + slice.length, 0);
      frame.copy(head, 4, 4, 8);
      network.respond(connection, seq, [head, slice]);
      slice.release(); // The network holds its own reference to the file.
    };
    const kafka = await client(port);
    kafka.send(request(7, "fetch"));
    const [response] = await kafka.frames(1);
    expect(correlationOf(response as Buffer)).toBe(7);
    expect((response as Buffer).subarray(4).equals(stored)).toBe(true);
    await log.close();
  });

  it("closes a connection whose size prefix says 2 GB, and another connection keeps working", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    recorder.onFrameHook = ({ connection, seq, frame }) => network.respond(connection, seq, [echoResponse(frame)]);
    const hostile = await client(port);
    const good = await client(port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(2 ** 31 - 1);
    hostile.socket.write(prefix);
    await hostile.closed;
    await recorder.until(() => [...recorder.closed.values()].includes(CloseReason.INVALID_FRAME));
    good.send(request(1, "still here"));
    const [response] = await good.frames(1);
    expect((response as Buffer).subarray(4).toString()).toBe("STILL HERE");
  });

  it("a client that sends half a frame and stalls does not hold up the others", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder, { numNetworkThreads: 1 });
    recorder.onFrameHook = ({ connection, seq, frame }) => network.respond(connection, seq, [echoResponse(frame)]);
    const stalled = await client(port);
    stalled.socket.write(framed(request(1, "never finished")).subarray(0, 10));
    const others = await Promise.all([client(port), client(port)]);
    for (const [index, other] of others.entries()) other.send(request(index, `client ${index}`));
    const responses = await Promise.all(others.map(async (other) => (await other.frames(1))[0] as Buffer));
    expect(responses.map((response) => response.subarray(4).toString())).toEqual(["CLIENT 0", "CLIENT 1"]);
    expect(recorder.frames.every((frame) => frame.frame.subarray(8).toString() !== "never finished")).toBe(true);
  });

  it("closes idle connections after connections.max.idle.ms", async () => {
    const recorder = new Recorder();
    const { port } = start(recorder, { connectionsMaxIdleMs: 100 });
    const idle = await client(port);
    await idle.closed;
    await recorder.until(() => recorder.closed.size === 1);
    expect([...recorder.closed.values()]).toEqual([CloseReason.IDLE]);
  });

  it("shutdown waits for the responses to delivered requests, then closes every connection", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    const kafka = await client(port);
    kafka.send(request(5, "last words"));
    await recorder.until(() => recorder.frames.length === 1);
    const shutdown = network.shutdown(10_000);
    const { connection, seq, frame } = recorder.frames[0] as Frame;
    setTimeout(() => network.respond(connection, seq, [echoResponse(frame)]), 50);
    const [response] = await kafka.frames(1);
    expect((response as Buffer).subarray(4).toString()).toBe("LAST WORDS");
    await shutdown;
    await kafka.closed;
    expect(recorder.closed.get(connection)).toBe(CloseReason.SHUTDOWN);
    await expect(Client.connect(port)).rejects.toThrow();
  });

  it("close() drops the connection at once and reports it", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    const kafka = await client(port);
    await recorder.until(() => recorder.opened.length === 1);
    const connection = recorder.opened[0]?.connection as number;
    expect(network.close(connection)).toBe(true);
    await kafka.closed;
    await recorder.until(() => recorder.closed.has(connection));
    expect(recorder.closed.get(connection)).toBe(CloseReason.CLOSED_BY_SERVER);
    expect(network.respond(connection, 0, [Buffer.from("late")])).toBe(false);
    expect(network.stats().connections).toBe(0);
  });

  it("a handler that throws gets onError and the rest of the batch is still delivered", async () => {
    const recorder = new Recorder();
    const errors: unknown[] = [];
    const handler: NetworkHandler = {
      onOpen: (...args) => recorder.onOpen(...args),
      onClose: (...args) => recorder.onClose(...args),
      onFrame: (connection, seq, frame) => {
        recorder.onFrame(connection, seq, frame);
        if (seq === 0) throw new Error("handler bug");
      },
      onError: (error) => errors.push(error),
    };
    const network = new Network(options(), handler);
    networks.push(network);
    const kafka = await client(network.boundListeners()[0]?.port as number);
    kafka.send(request(0, "first"), request(1, "second"));
    await recorder.until(() => recorder.frames.length === 2);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("handler bug");
  });

  it("counts connections and the request bytes waiting for an answer", async () => {
    const recorder = new Recorder();
    const { network, port } = start(recorder);
    const kafka = await client(port);
    kafka.send(request(0, "twelve bytes"));
    await recorder.until(() => recorder.frames.length === 1);
    expect(network.stats()).toMatchObject({ connections: 1, queuedRequestBytes: 20, connectionsAcceptedTotal: 1 });
    const { connection, seq, frame } = recorder.frames[0] as Frame;
    network.respond(connection, seq, [echoResponse(frame)]);
    await kafka.frames(1);
    expect(network.stats().queuedRequestBytes).toBe(0);
  });
});
