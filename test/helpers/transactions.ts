// Shared pieces of the transaction suites (test/interop/transactions-*.test.ts): test/kafka's
// sluice.kafka.TxnClient (Kafka 4.4.0's transactional producer driven a step at a time), reading a
// topic back under either isolation level with sluice.kafka.Consume, and Kafka's hash of a
// transactional id to its __transaction_state partition.
import type { ChildProcess } from "node:child_process";
import { runJavaTool, spawnJavaTool } from "./kafka.js";

/** TXN_TESTS_FULL=1: the longer variants (more records, more transactions); CI runs the short ones. */
export const fullRun = Boolean(process.env.TXN_TESTS_FULL);

export interface TxnAnswer {
  ok: boolean;
  /** "ExceptionClass: message" when !ok */
  error?: string;
  /** The exception's class and its causes' classes, outermost first. */
  causes?: string[];
  /** send: [partition, offset] of each value */
  offsets?: [number, number][];
  /** offsets: end offsets by partition under read_committed (the LSO) and read_uncommitted (the high watermark) */
  committed?: Record<string, number>;
  uncommitted?: Record<string, number>;
}

/** One sluice.kafka.TxnClient process: named transactional producers driven command by command. */
export class TxnClient {
  private output = "";
  private stderr = "";
  private readonly waiting: { resolve: (answer: TxnAnswer) => void; reject: (error: Error) => void }[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.stdin!.on("error", () => {});
    child.stdout!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (let end = this.output.indexOf("\n"); end >= 0; end = this.output.indexOf("\n")) {
        const line = this.output.slice(0, end);
        this.output = this.output.slice(end + 1);
        if (line.startsWith("{")) this.waiting.shift()?.resolve(JSON.parse(line) as TxnAnswer);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-20_000);
    });
    child.on("close", (code, signal) => {
      this.exited = true;
      for (const waiting of this.waiting.splice(0))
        waiting.reject(new Error(`sluice.kafka.TxnClient exited (${code ?? signal}); stderr ends with:\n${this.stderr.slice(-4000)}`));
    });
  }

  static async start(bootstrap: string): Promise<TxnClient> {
    return new TxnClient(await spawnJavaTool("sluice.kafka.TxnClient", ["--bootstrap", bootstrap], { quickStart: true, heap: "256m", logLevel: "ERROR" }));
  }

  /** Sends one command and resolves with its answer (commands run one at a time, in order). */
  call(command: Record<string, unknown>, timeoutMs = 90_000): Promise<TxnAnswer> {
    const answer = this.chain.then(
      () =>
        new Promise<TxnAnswer>((resolve, reject) => {
          if (this.exited) return reject(new Error("sluice.kafka.TxnClient is not running"));
          const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(command)} within ${timeoutMs} ms`)), timeoutMs);
          this.waiting.push({
            resolve: (value) => {
              clearTimeout(timer);
              resolve(value);
            },
            reject: (error) => {
              clearTimeout(timer);
              reject(error);
            },
          });
          this.child.stdin!.write(`${JSON.stringify(command)}\n`);
        }),
    );
    this.chain = answer.catch(() => {});
    return answer;
  }

  /** Like call(), but throws unless the answer is ok. */
  async ok(command: Record<string, unknown>, timeoutMs?: number): Promise<TxnAnswer> {
    const answer = await this.call(command, timeoutMs);
    if (!answer.ok) throw new Error(`${JSON.stringify(command)} failed: ${answer.error} (${answer.causes?.join(" <- ")})`);
    return answer;
  }

  /** A transactional producer `name` with `transactional.id`, initialised (initTransactions()). */
  async producer(name: string, transactionalId: string, properties: Record<string, string | number> = {}): Promise<void> {
    await this.ok({ cmd: "producer", name, properties: { "transactional.id": transactionalId, ...properties } });
    await this.ok({ cmd: "init", name });
  }

  /** begin, send the values to topic/partition, commit or abort (or leave open); returns the values' offsets. */
  async transaction(name: string, topic: string, partition: number, values: string[], end: "commit" | "abort" | "open"): Promise<number[]> {
    await this.ok({ cmd: "begin", name });
    const sent = await this.ok({ cmd: "send", name, topic, partition, values });
    if (end !== "open") await this.ok({ cmd: end, name });
    return sent.offsets!.map(([, offset]) => offset);
  }

  /** The topic's end offsets by partition, [LSO (read_committed), high watermark (read_uncommitted)]. */
  async endOffsets(topic: string): Promise<{ committed: number[]; uncommitted: number[] }> {
    const answer = await this.ok({ cmd: "offsets", topic });
    const list = (byPartition: Record<string, number>) =>
      Object.entries(byPartition)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([, offset]) => offset);
    return { committed: list(answer.committed!), uncommitted: list(answer.uncommitted!) };
  }

  /** Runtime.halt(): every producer abandoned mid-whatever, no abort sent. */
  async halt(): Promise<void> {
    await this.call({ cmd: "halt" }).catch(() => {});
    await this.close();
  }

  /** Ends stdin (the producers close) and waits; SIGKILL after 30 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    const closed = new Promise<void>((resolve) => this.child.once("close", () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await closed;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

/**
 * Every record of the topic up to its end offsets under `isolation` (read_committed: the LSO),
 * read with Kafka's KafkaConsumer (test/kafka's sluice.kafka.Consume: assign(), no group), in
 * partition and offset order.
 */
export async function readTopic(bootstrap: string, topic: string, isolation: "read_committed" | "read_uncommitted"): Promise<ReadRecord[]> {
  const run = await runJavaTool(
    "sluice.kafka.Consume",
    ["--bootstrap", bootstrap, "--topic", topic, "--property", `isolation.level=${isolation}`, "--timeout-ms", "60000"],
    { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 90_000 },
  );
  if (run.code !== 0) throw new Error(`sluice.kafka.Consume --topic ${topic} (${isolation}) exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout
    .split("\n")
    .filter((line) => line.startsWith('{"partition"'))
    .map((line) => {
      const { partition, offset, key, value } = JSON.parse(line) as ReadRecord;
      return { partition, offset, key, value };
    })
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The values read from one partition, in offset order. */
export const valuesOf = (records: ReadRecord[], partition: number) => records.filter((r) => r.partition === partition).map((r) => r.value);

/** Java's String.hashCode() of the UTF-16 code units. */
function javaHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** Kafka's __transaction_state partition of a transactional id: Utils.abs(id.hashCode()) % partitions. */
export function transactionStatePartition(transactionalId: string, partitions = 50): number {
  const hash = javaHashCode(transactionalId);
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions;
}

/** Kafka tools' tables: columns padded with spaces, each ended by a tab; rows of trimmed cells. */
export function parseTable(stdout: string): string[][] {
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      line
        .replace(/\t$/, "")
        .split("\t")
        .map((cell) => cell.trim()),
    );
}
