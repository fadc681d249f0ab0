// Runs the `sluice` command (node bin/sluice, the built CLI) and other command-line tools (kcat) as
// child processes, collecting their exit code and output: for the operator CLI's tests.
import { type ChildProcess, spawn } from "node:child_process";
import { sluiceBin } from "./sluice.js";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A record as `kcat -J` prints it (and `sluice consume --json`). */
export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  broker: number;
  headers?: (string | null)[];
  key: string | null;
  payload: string | null;
}

/** Runs a command with `input` on stdin; rejects if it runs longer than `timeoutMs`. */
export function run(command: string, args: readonly string[], input = "", timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not finish within ${timeoutMs} ms:\n${Buffer.concat(stderr).toString()}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
    });
  });
}

/** `node bin/sluice <args> -b <bootstrap>`. */
export function sluice(bootstrap: string, args: readonly string[], input = ""): Promise<Run> {
  return run(process.execPath, [sluiceBin, ...args, "-b", bootstrap], input);
}

/** Like `sluice`, but throws with the output unless it exits 0; resolves with stdout. */
export async function sluiceOk(bootstrap: string, args: readonly string[], input = ""): Promise<string> {
  const result = await sluice(bootstrap, args, input);
  if (result.code !== 0) throw new Error(`sluice ${args.join(" ")} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Splits a table's lines into cells (columns are two or more spaces apart). */
export function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.trim().split(/ {2,}/));
}

/** JSON lines (consume --format json, kcat -J) into objects. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** `sluice consume -f` as a live member of `group`; `exited` resolves with its exit code. */
export function groupMember(topic: string, group: string, bootstrap: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [sluiceBin, "consume", "-t", topic, "-g", group, "-f", "-b", bootstrap], { stdio: "ignore" });
  return { child, exited: new Promise((resolve) => child.on("close", resolve)) };
}

/** Polls `group describe --json` (through `cli`) until `group` is in `state`; returns the last state seen. */
export async function waitForGroupState(cli: (args: string[]) => Promise<Run>, group: string, state: string, attempts = 100): Promise<string> {
  let seen = "";
  for (let attempt = 0; attempt < attempts && seen !== state; attempt++) {
    const described = await cli(["group", "describe", group, "--json"]);
    if (described.code === 0) seen = JSON.parse(described.stdout)[0].state;
    if (seen !== state) await new Promise((wake) => setTimeout(wake, 200));
  }
  return seen;
}
