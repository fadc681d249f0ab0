// Malformed and hostile input gets Kafka's answer or a closed connection — never a crash —
// and other connections keep being served meanwhile.

import { rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { Writer } from "../../src/protocol/writer.js";
import { TestClient } from "../helpers/client.js";
import { RssSampler, type SluiceBroker, startSluice } from "../helpers/sluice.js";

let broker: SluiceBroker;

beforeAll(async () => {
  broker = await startSluice({
    overrides: { "socket.request.max.bytes": 1048576, "connections.max.idle.ms": 1500, "max.connections.per.ip": 40 },
  });
}, 60_000);

afterAll(async () => {
  expect(await broker?.stop()).toBe(0);
  await rm(broker.workDir, { recursive: true, force: true });
});

/** Sends `bytes` on a new connection and resolves once the broker closes it. */
function sendAndAwaitClose(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port: broker.port, host: "127.0.0.1" }, () => socket.write(bytes));
    socket.on("error", () => {});
    socket.on("close", () => resolve());
    setTimeout(() => reject(new Error("the broker did not close the connection")), 10_000).unref();
  });
}

function frame(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

/** A request header (v1) for apiKey/version with correlation id 7 and client id "bad". */
function header(apiKey: number, version: number): Buffer {
  const bytes = Buffer.alloc(8 + 2 + 3);
  bytes.writeInt16BE(apiKey, 0);
  bytes.writeInt16BE(version, 2);
  bytes.writeInt32BE(7, 4);
  bytes.writeInt16BE(3, 8);
  bytes.write("bad", 10);
  return bytes;
}

/** The broker still answers a well-formed request on a fresh connection. */
async function stillServing(): Promise<void> {
  const client = await TestClient.connect(broker.port);
  const response = await client.request<{ errorCode: number }>(18, 3, { clientSoftwareName: "probe", clientSoftwareVersion: "1" });
  expect(response.errorCode).toBe(0);
  client.close();
}

describe("malformed frames", () => {
  const cases: [string, Buffer][] = [
    ["a 2 GB size prefix", Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
    ["a size over socket.request.max.bytes", Buffer.from([0x00, 0x20, 0x00, 0x00])],
    ["a negative size", Buffer.from([0xff, 0xff, 0xff, 0xf0])],
    ["a frame shorter than a request header", frame(Buffer.from([0, 18, 0]))],
    ["an unknown API key", frame(header(999, 0))],
    ["an API the broker does not serve (UnregisterBroker, a controller's API)", frame(Buffer.concat([header(64, 0), Buffer.alloc(32)]))],
    ["an unsupported Produce version", frame(header(0, 99))],
    ["a Metadata v4 request with a huge array count", frame(Buffer.concat([header(3, 4), Buffer.from([0x7f, 0xff, 0xff, 0xff, 0])]))],
    ["a Produce v9 request cut short", frame(Buffer.concat([header(0, 9).subarray(0, 8), Buffer.from([0x04, 0x62, 0x61, 0x64, 0x00, 0x00, 0xff])]))],
    ["random bytes", frame(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)))],
  ];
  for (const [name, bytes] of cases) {
    it(`closes the connection on ${name}, and keeps serving others`, async () => {
      await sendAndAwaitClose(bytes);
      await stillServing();
    });
  }

  it("a client that sends half a frame and stalls blocks nobody, and is closed when idle", async () => {
    const stalled = connect({ port: broker.port, host: "127.0.0.1" });
    stalled.on("error", () => {});
    const closed = new Promise<void>((resolve) => stalled.on("close", () => resolve()));
    await new Promise<void>((resolve) => stalled.on("connect", () => resolve()));
    stalled.write(Buffer.concat([Buffer.from([0, 0, 0, 100]), header(18, 0)]));
    // Others are served while the half frame sits there.
    for (let i = 0; i < 3; i++) await stillServing();
    await closed; // connections.max.idle.ms = 1500
  });

  it("bad records get Kafka's per-partition error, not a closed connection", async () => {
    const client = await TestClient.connect(broker.port);
    await client.request(19, 7, {
      topics: [{ name: "bad-records", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    const good = buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ value: Buffer.from("fine") }] });
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1] ^= 0xff; // breaks the CRC
    const produce = async (records: Buffer) => {
      const response = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 1000,
        topicData: [
          { name: "bad-records", partitionData: [{ index: 0, records }] },
          { name: "no-such-topic", partitionData: [{ index: 0, records: good }] },
        ],
      });
      return response.responses.map((topic) => topic.partitionResponses[0].errorCode);
    };
    expect(await produce(corrupt)).toEqual([2 /* CORRUPT_MESSAGE */, 3 /* UNKNOWN_TOPIC_OR_PARTITION */]);
    expect(await produce(good)).toEqual([0, 3]);
    const badAcks = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: 2,
      timeoutMs: 1000,
      topicData: [{ name: "bad-records", partitionData: [{ index: 0, records: good }] }],
    });
    expect(badAcks.responses[0].partitionResponses[0].errorCode).toBe(21); // INVALID_REQUIRED_ACKS
    client.close();
  });

  it("a CreateTopics or CreatePartitions asking for more than 10,000 partitions in all gets POLICY_VIOLATION for every topic, as Kafka 4.4's controller answers, and creates nothing", async () => {
    const client = await TestClient.connect(broker.port);
    const topic = (name: string, numPartitions: number) => ({ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] });
    type Created = { topics: { name: string; errorCode: number; errorMessage: string | null }[] };
    const createTopics = (topics: ReturnType<typeof topic>[], validateOnly: boolean) =>
      client.request<Created>(19, 7, { topics, timeoutMs: 1000, validateOnly });
    const excessive = { errorCode: 44 /* POLICY_VIOLATION */, errorMessage: "Excessively large number of partitions per request." };

    // The boundary, without creating 10,000 logs: validateOnly is checked after the limit, as in Kafka.
    expect((await createTopics([topic("limit-a", 9_999), topic("limit-b", 1)], true)).topics.map((t) => t.errorCode)).toEqual([0, 0]);
    expect((await createTopics([topic("limit-a", 10_000), topic("limit-b", 1)], true)).topics).toEqual(
      [
        { name: "limit-a", ...excessive },
        { name: "limit-b", ...excessive },
      ].map((expected) => expect.objectContaining(expected)),
    );
    const huge = await createTopics([topic("huge", 2_000_000_000), topic("small", 1)], false);
    expect(huge.topics).toEqual([expect.objectContaining({ name: "huge", ...excessive }), expect.objectContaining({ name: "small", ...excessive })]);

    await createTopics([topic("grow-me", 1)], false);
    const grown = await client.request<{ results: { name: string; errorCode: number; errorMessage: string | null }[] }>(37, 3, {
      topics: [{ name: "grow-me", count: 10_002, assignments: null }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(grown.results).toEqual([{ name: "grow-me", errorCode: 44, errorMessage: "Excessively large number of additional partitions per request." }]);

    const metadata = await client.request<{ topics: { name: string; errorCode: number; partitions: unknown[] }[] }>(3, 12, {
      topics: [
        { name: "huge", topicId: "AAAAAAAAAAAAAAAAAAAAAA" },
        { name: "small", topicId: "AAAAAAAAAAAAAAAAAAAAAA" },
        { name: "grow-me", topicId: "AAAAAAAAAAAAAAAAAAAAAA" },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(metadata.topics.map((t) => [t.name, t.errorCode, t.partitions.length])).toEqual([
      ["huge", 3, 0],
      ["small", 3, 0],
      ["grow-me", 0, 1],
    ]);
    client.close();
  });

  it("refuses connections beyond max.connections.per.ip and recovers when they close", async () => {
    const sockets: Socket[] = [];
    let closedEarly = 0;
    await Promise.all(
      Array.from({ length: 50 }, () => {
        return new Promise<void>((resolve) => {
          const socket = connect({ port: broker.port, host: "127.0.0.1" });
          socket.on("error", () => {});
          socket.on("close", () => {
            closedEarly++;
            resolve();
          });
          socket.on("connect", () => {
            sockets.push(socket);
            setTimeout(resolve, 300);
          });
        });
      }),
    );
    expect(closedEarly).toBeGreaterThanOrEqual(10);
    for (const socket of sockets) socket.destroy();
    await expect
      .poll(async () => {
        try {
          await stillServing();
          return true;
        } catch {
          return false;
        }
      })
      .toBe(true);
  });
});

/**
 * The reported attack: one ApiVersions v3 request of about 22 MB whose request header declares
 * 5,000,000 tagged fields, each present (tag, size 0). Kafka 4.4 refuses more than 10,000.
 */
function headerTagFlood(fields: number): Buffer {
  const w = new Writer(24 * 1024 * 1024);
  w.int32(0); // size, set below
  w.int16(18);
  w.int16(3);
  w.int32(99);
  w.nullableString("flood", "clientId");
  w.unsignedVarint(fields);
  for (let tag = 0; tag < fields; tag++) {
    w.unsignedVarint(tag);
    w.unsignedVarint(0);
  }
  w.compactString("flood", "clientSoftwareName");
  w.compactString("1", "clientSoftwareVersion");
  w.unsignedVarint(0);
  const bytes = w.finish();
  bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

describe("a request that declares millions of tagged fields (default socket.request.max.bytes)", () => {
  let big: SluiceBroker;

  beforeAll(async () => {
    big = await startSluice();
  }, 60_000);

  afterAll(async () => {
    expect(await big?.stop()).toBe(0);
    await rm(big.workDir, { recursive: true, force: true });
  });

  it("is refused (connection closed) without the broker growing by more than a small multiple of the request, and others are served", async () => {
    const attack = headerTagFlood(5_000_000);
    expect(attack.length).toBeGreaterThan(20 * 1024 * 1024);
    const bystander = await TestClient.connect(big.port);
    const probe = () => bystander.request<{ errorCode: number }>(18, 3, { clientSoftwareName: "bystander", clientSoftwareVersion: "1" });
    expect((await probe()).errorCode).toBe(0);
    const before = big.memoryKiB();
    expect(before).not.toBeNull();
    const sampler = new RssSampler(big.pid, 5);

    const closed = new Promise<void>((resolve, reject) => {
      const socket: Socket = connect({ port: big.port, host: "127.0.0.1" }, () => socket.end(attack));
      socket.on("error", () => {});
      socket.on("data", () => reject(new Error("the broker answered a request it must refuse")));
      socket.on("close", () => resolve());
      setTimeout(() => reject(new Error("the broker did not close the connection")), 30_000).unref();
    });
    // The bystander's requests go on while the attack is being received and refused.
    const servedMeanwhile: number[] = [];
    let attackDone = false;
    const bystanderLoop = (async () => {
      while (!attackDone) servedMeanwhile.push((await probe()).errorCode);
    })();
    await closed;
    attackDone = true;
    await bystanderLoop;
    const peakKiB = sampler.stop();
    const after = big.memoryKiB();
    expect(after).not.toBeNull();

    const requestKiB = attack.length / 1024;
    const growthKiB = Math.max(peakKiB, after?.hwm ?? 0) - (before?.rss ?? 0);
    console.log(
      `tag flood: request ${(requestKiB / 1024).toFixed(1)} MiB, broker RSS ${((before?.rss ?? 0) / 1024).toFixed(1)} MiB before, ` +
        `peak ${(peakKiB / 1024).toFixed(1)} MiB (VmHWM ${((after?.hwm ?? 0) / 1024).toFixed(1)} MiB), growth ${(growthKiB / requestKiB).toFixed(2)}x the request; ` +
        `${servedMeanwhile.length} bystander requests served meanwhile`,
    );
    // Receiving the frame takes its size once; a copy or two on the way to the decoder is
    // expected. Keeping the tagged fields (the bug) took over 50 times the request.
    expect(growthKiB).toBeLessThan(4 * requestKiB);
    expect(servedMeanwhile.every((code) => code === 0)).toBe(true);
    expect((await probe()).errorCode).toBe(0);
    // The broker logs why it closed the connection (its log may reach us a moment later).
    const refusal = /5000000 tagged fields exceed the maximum of 10000/;
    for (let waited = 0; waited < 10_000 && !refusal.test(big.stdout() + big.stderr()); waited += 50) await new Promise((wake) => setTimeout(wake, 50));
    expect(big.stdout() + big.stderr()).toMatch(refusal);
    bystander.close();
  }, 60_000);
});
