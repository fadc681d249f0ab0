// What `sluice start` prints: with --log-format pretty (what a terminal gets) human-readable log
// lines and one summary block naming the listeners, the HTTP address, the log dir and the
// partitions; with JSON (what a pipe gets) one JSON object per line, the start line carrying the
// same facts. Against the real broker binary.
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

describe("sluice start's output", () => {
  let broker: SluiceBroker | undefined;

  afterEach(async () => {
    if (!broker) return;
    expect(await broker.stop()).toBe(0);
    await rm(broker.workDir, { recursive: true, force: true });
    broker = undefined;
  });

  it("prints readable lines and a start summary with --log-format pretty", async () => {
    broker = await startSluice({ env: { SLUICE_LOG_FORMAT: "pretty" } });
    for (let i = 0; i < 100 && !broker.stdout().includes("is serving"); i++) await sleep(20);
    const out = broker.stdout();
    expect(out).toMatch(/^Sluice \d+\.\d+\.\d+\S* is serving \(started in \d+ ms\)$/m);
    expect(out).toContain(`PLAINTEXT://127.0.0.1:${broker.port}`);
    expect(out).toMatch(/HTTP +http:\/\/127\.0\.0\.1:\d+ +\(\/metrics/);
    expect(out).toContain(`Log dir          ${broker.logDir}`);
    expect(out).toMatch(/Partitions +none yet/);
    // Log lines are "[HH:MM:SS.mmm] INFO: message {fields}", not JSON.
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: log directory open/m);
    expect(out.split("\n").filter((line) => line.startsWith("{"))).toEqual([]);
  });

  it("writes JSON lines when not on a terminal, the start line with the summary's facts", async () => {
    broker = await startSluice();
    const url = await broker.httpUrl();
    const lines = broker
      .stdout()
      .split("\n")
      .filter((line) => line !== "");
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const started = parsed.find((entry) => entry.msg === "Sluice broker started");
    expect(started).toMatchObject({
      listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: broker.port }],
      http: [url],
      logDir: broker.logDir,
      partitions: 0,
      nodeId: 1,
    });
  });
});
