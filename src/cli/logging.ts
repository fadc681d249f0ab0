// The broker's log: JSON lines (pino) for machines — when stdout is not a terminal, or when
// asked with --log-format json / SLUICE_LOG_FORMAT=json — and human lines (pino-pretty:
// time, level, message, fields) on a terminal. pino-pretty runs as a synchronous stream on the
// JS thread rather than as a pino transport (a worker thread resolving its own module): a
// terminal's output is small, and the bundled CLI has no module paths for a worker to load.

import { type Logger, pino } from "pino";
import { PinoPretty } from "pino-pretty";
import type { BrokerStartInfo } from "../server/broker.js";

export type LogFormat = "json" | "pretty";

/** The format asked for (flag, then SLUICE_LOG_FORMAT), else pretty on a terminal and JSON otherwise. */
export function logFormatFor(flag: string | undefined, stream: { isTTY?: boolean } = process.stdout): LogFormat {
  const asked = flag ?? process.env.SLUICE_LOG_FORMAT;
  if (asked === "json" || asked === "pretty") return asked;
  if (asked !== undefined && asked !== "") throw new Error(`unknown log format ${JSON.stringify(asked)}: json or pretty`);
  return stream.isTTY === true ? "pretty" : "json";
}

export function createLogger(format: LogFormat, level = process.env.SLUICE_LOG_LEVEL ?? "info"): Logger {
  if (format === "json") return pino({ name: "sluice", level });
  const pretty = PinoPretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,name",
    singleLine: true,
  });
  return pino({ name: "sluice", level }, pretty);
}

/** What the start summary shows: what the broker found and bound, and the version. */
export type StartSummary = BrokerStartInfo & { readonly version: string };

/** The block `sluice start` prints on a terminal once the broker serves. */
export function formatStartSummary(summary: StartSummary): string {
  const rows: [string, string][] = [
    ["Kafka listeners", summary.listeners.map((l) => `${l.name}://${l.host}:${l.port}`).join(", ")],
    ["HTTP", summary.http.length > 0 ? `${summary.http.join(", ")}  (/metrics, /health, /ready, console at /)` : "off (http.listeners is empty)"],
    ["Log dir", summary.logDir],
    [
      "Partitions",
      summary.partitions === 0
        ? "none yet"
        : `${summary.partitions} opened${summary.cleanShutdown ? " after a clean shutdown" : `, ${summary.recoveredSegments} segment(s) recovered after an unclean shutdown`}`,
    ],
    ["Node", `id ${summary.nodeId}, cluster ${summary.clusterId}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  return `Sluice ${summary.version} is serving (started in ${summary.startupMs} ms)\n${lines.join("\n")}\n`;
}
