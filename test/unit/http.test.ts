// The HTTP plane's pieces on their own: both engines (uWebSockets.js and the node:http fallback)
// serving the same router — routes with parameters, 404/405, a body over the limit refused with
// 413, HEAD, a WebSocket round trip — plus the latency histogram behind TotalTimeMs percentiles,
// http.listeners parsing and the start summary and log format choice.

import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { formatStartSummary, logFormatFor } from "../../src/cli/logging.js";
import { parseHttpListeners } from "../../src/config/broker.js";
import { ConfigError, loadBrokerConfig } from "../../src/config/index.js";
import { HTTP_BODY_MAX_BYTES, type HttpListener, json, listenHttp, Router } from "../../src/http/server.js";
import { LatencyHistogram } from "../../src/server/metrics.js";

const logger = pino({ level: "silent" });

function testRouter(): Router {
  const router = new Router();
  router.get("/things/:name", (request) => json(200, { name: request.params.name, q: request.query.get("q") }));
  router.post("/things", (request) => json(201, { received: request.body.length, type: request.headers["content-type"] }));
  router.get("/boom", () => {
    throw new Error("route failed");
  });
  router.websocket("/ws/echo", {
    open(peer, request) {
      peer.send(`hello ${request.query.get("who")}`);
      return { message: (text) => peer.send(`echo ${text}`), close() {} };
    },
  });
  return router;
}

describe.each(["uWebSockets.js", "node:http"] as const)("the HTTP server on %s", (engine) => {
  let listener: HttpListener | undefined;

  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  async function start(): Promise<string> {
    listener = await listenHttp({ host: "127.0.0.1", port: 0, router: testRouter(), logger, engine: engine === "node:http" ? "node" : "auto" });
    expect(listener.engine).toBe(engine);
    return `http://127.0.0.1:${listener.port}`;
  }

  it("routes by method and path parameters, with 404 and 405 for the rest", async () => {
    const base = await start();
    const thing = await fetch(`${base}/things/a%20b?q=1`);
    expect(thing.status).toBe(200);
    expect(thing.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await thing.json()).toEqual({ name: "a b", q: "1" });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/things/x`, { method: "DELETE" })).status).toBe(405);
    const head = await fetch(`${base}/things/x`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const failed = await fetch(`${base}/boom`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: "internal error" });
  });

  it("reads bodies up to the limit and refuses bigger ones with 413", async () => {
    const base = await start();
    const ok = await fetch(`${base}/things`, { method: "POST", body: "x".repeat(1000), headers: { "content-type": "text/plain" } });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ received: 1000, type: "text/plain" });
    const big = await fetch(`${base}/things`, { method: "POST", body: Buffer.alloc(HTTP_BODY_MAX_BYTES + 1) });
    expect(big.status).toBe(413);
  });

  it("serves WebSockets at their path", async () => {
    const base = await start();
    const socket = new WebSocket(`${base.replace("http", "ws")}/ws/echo?who=test`);
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on("message", (data) => {
        messages.push(String(data));
        if (messages.length === 1) socket.send("ping");
        if (messages.length === 2) resolve();
      });
      socket.on("error", reject);
    });
    socket.close();
    expect(messages).toEqual(["hello test", "echo ping"]);
  });
});

describe("LatencyHistogram", () => {
  it("is exact below 128 ms and within 1/16 above", () => {
    for (const ms of [0, 1, 5, 127]) expect(LatencyHistogram.lowerBound(LatencyHistogram.bucketOf(ms))).toBe(ms);
    for (const ms of [128, 200, 1000, 12_345, 600_000]) {
      const low = LatencyHistogram.lowerBound(LatencyHistogram.bucketOf(ms));
      expect(low).toBeLessThanOrEqual(ms);
      expect(ms - low).toBeLessThanOrEqual(ms / 16);
    }
  });

  it("gives percentiles of the recent window and forgets older values", () => {
    const histogram = new LatencyHistogram(60_000, 0);
    for (let ms = 1; ms <= 100; ms++) histogram.record(ms, 1_000);
    expect(histogram.quantile(0.5, 1_000)).toBe(50);
    expect(histogram.quantile(0.99, 1_000)).toBe(99);
    expect(histogram.quantile(0.999, 1_000)).toBe(100);
    // Half a window later the values are in the older half, still counted.
    expect(histogram.quantile(0.5, 31_000)).toBe(50);
    // A whole window after that they are gone.
    histogram.record(7, 95_000);
    expect(histogram.quantile(0.5, 95_000)).toBe(7);
    expect(histogram.count).toBe(101);
  });
});

describe("http.listeners", () => {
  it("defaults to http://localhost:9644 and parses lists, IPv6 and empty", () => {
    expect(loadBrokerConfig().config.httpListeners).toEqual([{ host: "localhost", port: 9644 }]);
    expect(parseHttpListeners("http://0.0.0.0:1, http://[::1]:2")).toEqual([
      { host: "0.0.0.0", port: 1 },
      { host: "::1", port: 2 },
    ]);
    expect(parseHttpListeners("")).toEqual([]);
    expect(loadBrokerConfig({ overrides: ["http.listeners="] }).config.httpListeners).toEqual([]);
    expect(() => parseHttpListeners("https://x:1")).toThrow(ConfigError);
    expect(() => parseHttpListeners("http://x:99999")).toThrow(ConfigError);
  });

  it("is not warned about as an unknown key", () => {
    expect(loadBrokerConfig({ overrides: ["http.listeners=http://127.0.0.1:0"] }).warnings).toEqual([]);
  });
});

describe("the start summary and log format", () => {
  it("picks pretty on a terminal and JSON otherwise, unless asked", () => {
    expect(logFormatFor(undefined, { isTTY: true })).toBe(process.env.SLUICE_LOG_FORMAT ?? "pretty");
    expect(logFormatFor("json", { isTTY: true })).toBe("json");
    expect(logFormatFor("pretty", { isTTY: false })).toBe("pretty");
    expect(() => logFormatFor("xml")).toThrow(/json or pretty/);
  });

  it("lists listeners, HTTP, the log dir and recovery", () => {
    const text = formatStartSummary({
      version: "1.2.3",
      nodeId: 1,
      clusterId: "abc",
      listeners: [{ name: "PLAINTEXT", host: "localhost", port: 9092 }],
      http: ["http://localhost:9644"],
      logDir: "/data",
      partitions: 12,
      cleanShutdown: false,
      recoveredSegments: 3,
      startupMs: 160,
    });
    expect(text).toContain("Sluice 1.2.3 is serving (started in 160 ms)");
    expect(text).toMatch(/Kafka listeners +PLAINTEXT:\/\/localhost:9092/);
    expect(text).toMatch(/HTTP +http:\/\/localhost:9644/);
    expect(text).toMatch(/Partitions +12 opened, 3 segment\(s\) recovered after an unclean shutdown/);
  });
});
