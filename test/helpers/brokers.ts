// One broker for a test suite that must pass against both Sluice and Apache Kafka 4.4.0 (the
// consumer-group suites in test/interop/groups-*.test.ts and consumer-groups-command.test.ts, the
// transaction suites in test/interop/transactions-*.test.ts): `GROUP_TESTS_BROKER=kafka|sluice`
// (or `TXN_TESTS_BROKER` for the transaction suites; default sluice) picks which, and the suite sees
// the same handle either way: a bootstrap address, a clean stop (SIGTERM), a crash (SIGKILL) and a restart on
// the same port and log directory.
//
// Both brokers get the same broker properties: Sluice has Kafka's defaults, startKafka() sets a few
// of its own for a single node (replication factors of the internal topics = 1, and
// group.initial.rebalance.delay.ms=0), so groupBrokerProperties names the group settings explicitly
// and passes them to both. A suite that needs another setting passes it in `properties`, to both.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type KafkaBroker, startKafka } from "./kafka.js";
import { type SluiceBroker, startSluice } from "./sluice.js";

export type BrokerKind = "kafka" | "sluice";

function brokerFromEnv(variable: string): BrokerKind {
  const value = process.env[variable] ?? "sluice";
  if (value !== "kafka" && value !== "sluice") throw new Error(`${variable} must be "kafka" or "sluice", not ${JSON.stringify(value)}`);
  return value;
}

/** The broker the group suites run against: $GROUP_TESTS_BROKER, "sluice" by default. */
export const groupTestsBroker: BrokerKind = brokerFromEnv("GROUP_TESTS_BROKER");

/** The broker the transaction suites (test/interop/transactions-*.test.ts) run against: $TXN_TESTS_BROKER, "sluice" by default. */
export const txnTestsBroker: BrokerKind = brokerFromEnv("TXN_TESTS_BROKER");

/**
 * Group coordinator settings given to both brokers. The first rebalance of a new group starts at
 * once (Kafka's default waits 3 s for more members); everything else is the default of both:
 * group.min.session.timeout.ms=6000, offsets.topic.num.partitions=50, KIP-848 enabled.
 */
export const groupBrokerProperties: Record<string, string | number | boolean> = {
  "group.initial.rebalance.delay.ms": 0,
  "offsets.topic.replication.factor": 1,
  "num.partitions": 1,
  "auto.create.topics.enable": true,
};

/**
 * Transaction coordinator settings for the transaction suites, given to both brokers (after
 * groupBrokerProperties): a single node's transaction log (replication factor and min ISR 1, which
 * startKafka() also sets), and timed-out transactions looked for every 500 ms instead of every 10 s,
 * so an abandoned transaction is aborted soon after its transaction.timeout.ms. Everything else is
 * the default of both: transaction.state.log.num.partitions=50, transaction.max.timeout.ms=900000.
 */
/**
 * Broker settings for streams groups (KIP-1071) in tests: under the streams protocol the session
 * timeout and heartbeat interval are the broker's (group.streams.*, at least 45 s / 5 s by
 * default), lowered so a killed Streams instance is fenced within seconds.
 */
export const fastStreamsGroupProperties: Record<string, string> = {
  "group.streams.min.session.timeout.ms": "6000",
  "group.streams.session.timeout.ms": "6000",
  "group.streams.min.heartbeat.interval.ms": "500",
  "group.streams.heartbeat.interval.ms": "500",
};

export const txnBrokerProperties: Record<string, string | number | boolean> = {
  "transaction.state.log.replication.factor": 1,
  "transaction.state.log.min.isr": 1,
  "transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
};

export interface TestBroker {
  kind: BrokerKind;
  /** "127.0.0.1:<port>"; the same after restart(). */
  bootstrap: string;
  port: number;
  logDir: string;
  workDir: string;
  /** The broker process now (a new one after restart()). */
  pid(): number;
  /** SIGTERM and wait; throws unless the shutdown was clean (Kafka: the marker file; Sluice: exit code 0). */
  stop(): Promise<void>;
  /** SIGKILL and wait, as a crash. */
  kill(): Promise<void>;
  /** Starts the broker again on the same port and log dir (after stop() or kill()). */
  restart(): Promise<void>;
  /** The broker's recent output (Sluice: its log, Kafka: kafka.out at WARN), for failure messages. */
  output(): string;
  /** Stops the broker if it runs (SIGKILL) and removes the work dir. */
  close(): Promise<void>;
}

export interface StartBrokerOptions {
  /** $GROUP_TESTS_BROKER's choice (groupTestsBroker) by default. */
  kind?: BrokerKind;
  /** More broker properties (Kafka names), given to either broker, after groupBrokerProperties. */
  properties?: Record<string, string | number | boolean>;
}

/** Starts the chosen broker on 127.0.0.1 with a new work dir. */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const kind = options.kind ?? groupTestsBroker;
  const properties = { ...groupBrokerProperties, ...options.properties };
  const workDir = await mkdtemp(join(tmpdir(), `sluice-groups-${kind}-`));
  const logDir = join(workDir, "data");
  const port = await freePort();

  if (kind === "kafka") {
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();
    const launch = () => startKafka({ port, controllerPort, workDir, logDir, properties, logLevel: "WARN" });
    let current: KafkaBroker = await launch();
    let running = true;
    return {
      kind,
      bootstrap: current.bootstrap,
      port,
      logDir,
      workDir,
      pid: () => current.pid,
      async stop() {
        running = false;
        await current.stop();
      },
      async kill() {
        running = false;
        await current.kill();
      },
      async restart() {
        if (running) throw new Error("restart() of a running broker: stop() or kill() it first");
        current = await launch();
        running = true;
      },
      output: () => current.output(),
      async close() {
        if (running) await current.kill();
        running = false;
        await rm(workDir, { recursive: true, force: true });
      },
    };
  }

  const launch = () => startSluice({ port, workDir, logDir, overrides: properties });
  let current: SluiceBroker = await launch();
  let running = true;
  return {
    kind,
    bootstrap: current.bootstrap,
    port,
    logDir,
    workDir,
    pid: () => current.pid,
    async stop() {
      running = false;
      const code = await current.stop();
      if (code !== 0) throw new Error(`Sluice did not exit cleanly on SIGTERM (exit ${code}); output ends with:\n${current.stderr().slice(-4000)}`);
    },
    async kill() {
      running = false;
      await current.kill();
    },
    async restart() {
      if (running) throw new Error("restart() of a running broker: stop() or kill() it first");
      current = await launch();
      running = true;
    },
    output: () => `${current.stdout().slice(-24_000)}${current.stderr().slice(-8_000)}`,
    async close() {
      if (running) await current.kill();
      running = false;
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
