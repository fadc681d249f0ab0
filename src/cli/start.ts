// `sluice start`: loads server.properties (optional) and --override key=value pairs with
// Kafka's key names, starts the broker, and stops it cleanly on SIGTERM or SIGINT: stop
// accepting, answer in-flight requests, flush, write the clean-shutdown marker. A second
// signal while stopping exits at once (the next start then recovers the logs).
//
// On a terminal the log is human-readable, log recovery shows a progress bar and the broker
// prints one summary block once it serves; otherwise (or with --log-format json) every line,
// the summary included ("Sluice broker started"), is a JSON object.

import { ConfigError, loadBrokerConfig } from "../config/index.js";
import { createLogger, formatStartSummary, type LogFormat, logFormatFor } from "./logging.js";
import { packageVersion } from "./program.js";
import { startProgress } from "./progress.js";

export interface StartOptions {
  readonly config?: string;
  readonly override: readonly string[];
  readonly logFormat?: string;
}

export async function start(options: StartOptions): Promise<void> {
  let format: LogFormat;
  try {
    format = logFormatFor(options.logFormat);
  } catch (error) {
    process.stderr.write(`sluice: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(format);
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
  // Recovery of many partitions can take a while: show how far it is, on a terminal only.
  const recovery = await startProgress({ unit: "partitions opened", enabled: format === "pretty" });
  let opened = 0;
  // Progress can be reported after Broker.start settles (native.ts): ignore it once the bar is gone.
  let recovering = true;
  let broker: Awaited<ReturnType<typeof Broker.start>>;
  try {
    broker = await Broker.start(loaded.config, logger, {
      logStarted: format === "json",
      onOpenProgress: (progress) => {
        if (!recovering) return;
        recovery.setTotal(progress.partitionsTotal);
        recovery.increment(progress.partitionsDone - opened);
        opened = progress.partitionsDone;
      },
    });
  } catch (error) {
    recovering = false;
    recovery.stop();
    logger.fatal({ err: error }, "the broker could not start");
    process.exitCode = 1;
    return;
  }
  recovering = false;
  recovery.stop();
  if (format === "pretty") process.stdout.write(formatStartSummary({ version: packageVersion, ...broker.startInfo }));
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
