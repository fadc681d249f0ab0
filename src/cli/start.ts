// `sluice start`: loads server.properties (optional) and --override key=value pairs with
// Kafka's key names, starts the broker, and stops it cleanly on SIGTERM or SIGINT: stop
// accepting, answer in-flight requests, flush, write the clean-shutdown marker. A second
// signal while stopping exits at once (the next start then recovers the logs).

import { pino } from "pino";
import { ConfigError, loadBrokerConfig } from "../config/index.js";

export interface StartOptions {
  readonly config?: string;
  readonly override: readonly string[];
}

export async function start(options: StartOptions): Promise<void> {
  const logger = pino({ name: "sluice", level: process.env.SLUICE_LOG_LEVEL ?? "info" });
  let loaded: ReturnType<typeof loadBrokerConfig>;
  try {
    loaded = loadBrokerConfig({ file: options.config, overrides: [...options.override] });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sluice: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  for (const warning of loaded.warnings) logger.warn(warning);
  const { Broker } = await import("../server/broker.js");
  let broker: Awaited<ReturnType<typeof Broker.start>>;
  try {
    broker = await Broker.start(loaded.config, logger);
  } catch (error) {
    logger.fatal({ err: error }, "the broker could not start");
    process.exitCode = 1;
    return;
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal while stopping: exiting now");
      process.exit(1);
    }
    broker.shutdown(`received ${signal}`).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
