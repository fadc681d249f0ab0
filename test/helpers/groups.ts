// Shared pieces of the consumer-group suites (test/interop/groups-*.test.ts): polling for a
// condition, and a kafkajs admin + producer that set up topics, produce numbered records and read a
// group's committed offsets, whatever client the suite's consumers are.
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";

export const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

/** Polls `probe` every 100 ms until it returns something other than false/null/undefined; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== null && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`);
    await sleep(100);
  }
}

export const byPosition = (a: { partition: number; offset: number }, b: { partition: number; offset: number }) =>
  a.partition - b.partition || a.offset - b.offset;
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export interface ProducedRecord {
  partition: number;
  offset: number;
  value: string;
}

/** A kafkajs admin and producer on one broker, for setting up and checking group tests. */
export class GroupTestClient {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;

  private constructor(bootstrap: string) {
    this.kafka = new Kafka({
      brokers: [bootstrap],
      clientId: "groups-setup",
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
  }

  static async connect(bootstrap: string): Promise<GroupTestClient> {
    const client = new GroupTestClient(bootstrap);
    await client.admin.connect();
    await client.producer.connect();
    return client;
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    const created = await this.admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    if (!created) throw new Error(`topic ${topic} already exists`);
  }

  /** Sends the values to the partitions given, in one send (one batch per partition); returns each record's offset. */
  async produce(topic: string, records: { partition: number; value: string }[]): Promise<ProducedRecord[]> {
    const metadata = await this.producer.send({ topic, acks: -1, messages: records.map(({ partition, value }) => ({ partition, value, key: `k-${value}` })) });
    const base = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
    const next = new Map<number, number>();
    return records.map(({ partition, value }) => {
      const index = next.get(partition) ?? 0;
      next.set(partition, index + 1);
      const first = base.get(partition);
      if (first === undefined) throw new Error(`no produce acknowledgement for partition ${partition}`);
      return { partition, offset: first + index, value };
    });
  }

  /** `count` records `${prefix}-${i}` round-robin over partitions 0..partitions-1. */
  produceNumbered(topic: string, prefix: string, count: number, partitions: number): Promise<ProducedRecord[]> {
    return this.produce(
      topic,
      range(count).map((i) => ({ partition: i % partitions, value: `${prefix}-${i}` })),
    );
  }

  /** The group's committed offsets for the topic, [partition, offset] sorted by partition (-1: none). */
  async committed(groupId: string, topic: string): Promise<[number, number][]> {
    const [offsets] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.partitions.map((p): [number, number] => [p.partition, Number(p.offset)]).sort(([x], [y]) => x - y);
  }

  /** The topic's end offsets, [partition, offset] sorted by partition. */
  async endOffsets(topic: string): Promise<[number, number][]> {
    return (await this.admin.fetchTopicOffsets(topic)).map((p): [number, number] => [p.partition, Number(p.high)]).sort(([x], [y]) => x - y);
  }

  /** Waits until the group's committed offsets are the topic's end offsets (read once, now); returns them. */
  async waitForCommitsAtEnd(groupId: string, topic: string, timeoutMs?: number): Promise<[number, number][]> {
    const end = await this.endOffsets(topic);
    await waitFor(
      `group ${groupId} to commit the end offsets of ${topic} (${JSON.stringify(end)})`,
      async () => JSON.stringify(await this.committed(groupId, topic)) === JSON.stringify(end),
      timeoutMs,
    );
    return end;
  }
}
