// Kafka's command-line tools run one after the other in one JVM (test/kafka's sluice.kafka.ToolRunner:
// their main(), with Kafka's Exit calls caught), so a test that runs many short commands does not
// start a JVM for each. Used by test/interop/consumer-groups-command.test.ts and
// transactions-tools.test.ts.
import type { ChildProcess } from "node:child_process";
import { spawnJavaTool } from "./kafka.js";

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** sluice.kafka.ToolRunner: Kafka tools' main() run one after the other in one JVM. */
export class ToolSession {
  private output = "";
  private readonly waiting: { resolve: (result: ToolResult) => void; reject: (error: Error) => void }[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.stdin!.on("error", () => {});
    child.stdout!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (let end = this.output.indexOf("\n"); end >= 0; end = this.output.indexOf("\n")) {
        const line = this.output.slice(0, end);
        this.output = this.output.slice(end + 1);
        if (line.startsWith("{")) this.waiting.shift()?.resolve(JSON.parse(line) as ToolResult);
      }
    });
    child.on("close", (code) => {
      this.exited = true;
      for (const waiting of this.waiting.splice(0)) waiting.reject(new Error(`sluice.kafka.ToolRunner exited (${code})`));
    });
  }

  static async start(): Promise<ToolSession> {
    return new ToolSession(await spawnJavaTool("sluice.kafka.ToolRunner", [], { quickStart: true, heap: "256m", logLevel: "ERROR" }));
  }

  /** Runs one tool; rejects (and ends the session) if it has not finished within `timeoutMs`. */
  run(main: string, args: string[], timeoutMs = 90_000): Promise<ToolResult> {
    const result = this.chain.then(
      () =>
        new Promise<ToolResult>((resolve, reject) => {
          if (this.exited) return reject(new Error("sluice.kafka.ToolRunner is not running"));
          const timer = setTimeout(() => {
            this.child.kill("SIGKILL");
            reject(new Error(`${main} ${args.join(" ")} did not finish within ${timeoutMs} ms`));
          }, timeoutMs);
          this.waiting.push({
            resolve: (answer) => {
              clearTimeout(timer);
              resolve(answer);
            },
            reject: (error) => {
              clearTimeout(timer);
              reject(error);
            },
          });
          this.child.stdin!.write(`${JSON.stringify({ main, args })}\n`);
        }),
    );
    this.chain = result.catch(() => {});
    return result;
  }

  close(): void {
    this.child.stdin!.end();
  }
}
