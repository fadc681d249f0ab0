// What every operator command shares: the -b/--bootstrap-server and --json options, a client
// opened for the action and closed after it, aligned tables for people and JSON for scripts, and
// one way to fail: `Error: NAME: message` on stderr (Kafka's error names), exit code 1, no stack.
// The client is imported when an action runs, so `sluice --help` and `sluice start` do not load it.

import type { Command } from "commander";
import type { KafkaClient } from "../../client/index.js";

export interface ConnectionFlags {
  bootstrapServer: string;
  json?: boolean;
}

export const defaultBootstrap = "localhost:9092";

/** Adds -b/--bootstrap-server and --json to a command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option("-b, --bootstrap-server <host:port>", "a broker to start from (comma-separated for several)", defaultBootstrap)
    .option("--json", "print JSON for scripts instead of tables");
}

/** The message a user sees for an error thrown by an action. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Wraps an action: errors print as `Error: …` on stderr and set exit code 1. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      process.stderr.write(`Error: ${describeError(error)}\n`);
      process.exitCode = 1;
    }
  };
}

/** Runs `work` with a client connected to `flags.bootstrapServer`, closing it afterwards. */
export async function withClient<T>(flags: ConnectionFlags, work: (client: KafkaClient) => Promise<T>): Promise<T> {
  const { KafkaClient } = await import("../../client/index.js");
  const client = await KafkaClient.connect({ bootstrap: flags.bootstrapServer, clientId: "sluice-cli" });
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** Left-aligned columns two spaces apart, a header row first. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers.map(String), ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return `${cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] as number))).join("  ")).join("\n")}\n`;
}

export function printTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): void {
  process.stdout.write(formatTable(headers, rows));
}

/** bigint as a JSON number while it is exact, as a string beyond 2^53. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonValue);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonValue, 2)}\n`);
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `key=value` pairs (repeatable --config / --set) into an object; the value may contain "=". */
export function parseAssignments(pairs: readonly string[], option: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`${option} takes key=value, got '${pair}'`);
    result[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return result;
}

/** A non-negative integer option, with the option named in the error. */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${option} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

/** A time as ISO 8601 (`2024-05-01T12:00:00Z`, `2024-05-01`) or milliseconds since the epoch. */
export function parseTime(text: string, option: string): bigint {
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`${option} takes an ISO 8601 time or epoch milliseconds, got '${text}'`);
  return BigInt(ms);
}

/** A separator option as typed in a shell: `\t`, `\n` and `\\` stand for a tab, a newline and a backslash. */
export function unescapeSeparator(text: string): string {
  return text.replace(/\\([tn\\])/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : "\\"));
}
