// The HTTP plane: listens on every `http.listeners` address as soon as the broker starts (so
// /health answers while the logs recover), and serves the broker's routes once it is up:
//
//   GET /health   200 while the process runs (liveness)
//   GET /ready    200 once the logs are recovered, the network serves and the coordinators have
//                 loaded their partitions; 503 before (readiness), and again while shutting down
//   GET /metrics  Prometheus text (prometheus.ts)
//   /api/*        the admin REST API (admin.ts)
//   /ws/tail, /ws/throughput  live views over WebSocket (live.ts)
//   /, /console/* the web console (console.ts)

import type { Logger } from "pino";
import type { HttpListenerAddress } from "../config/index.js";
import type { LogCleanerStats } from "../log/log-cleaner.js";
import type { BrokerServices } from "../server/context.js";
import type { Network } from "../server/network.js";
import { registerAdminRoutes } from "./admin.js";
import { registerConsole } from "./console.js";
import { ConsumerLag } from "./lag.js";
import { registerLiveRoutes, ThroughputSampler } from "./live.js";
import { PrometheusExporter } from "./prometheus.js";
import { type HttpListener, json, listenHttp, Router } from "./server.js";

/** What the broker's routes read: its services and its network. */
export interface HttpSources {
  readonly services: BrokerServices;
  readonly network: Network;
  readonly lag: ConsumerLag;
}

type Phase = "starting" | "ready" | "stopping";

export class HttpPlane {
  #phase: Phase = "starting";
  #whyNotReady = "the broker is starting: logs are being recovered";
  #throughput: ThroughputSampler | null = null;

  private constructor(
    readonly router: Router,
    readonly listeners: readonly HttpListener[],
    private readonly logger: Logger,
  ) {}

  /** Listens on `addresses` with /health and /ready; the rest comes with `serve`. */
  static async start(addresses: readonly HttpListenerAddress[], logger: Logger): Promise<HttpPlane> {
    const router = new Router();
    const listeners: HttpListener[] = [];
    try {
      for (const address of addresses) listeners.push(await listenHttp({ host: address.host, port: address.port, router, logger }));
    } catch (error) {
      await Promise.all(listeners.map((listener) => listener.close()));
      throw error;
    }
    const plane = new HttpPlane(router, listeners, logger);
    router.get("/health", () => json(200, { status: "UP" }));
    router.get("/ready", () => (plane.#phase === "ready" ? json(200, { status: "READY" }) : json(503, { status: "NOT_READY", reason: plane.#whyNotReady })));
    return plane;
  }

  /** The http:// addresses listened on (with real ports). */
  get addresses(): string[] {
    return this.listeners.map((listener) => `http://${listener.host.includes(":") ? `[${listener.host}]` : listener.host}:${listener.port}`);
  }

  /** Adds the broker's routes; the plane turns ready once `ready` resolves. */
  serve(services: BrokerServices, network: Network, ready: Promise<void>, cleaner: LogCleanerStats | null = null): HttpSources {
    const lag = new ConsumerLag(services.groups, services.partitions);
    const sources: HttpSources = { services, network, lag };
    const listenerName = services.config.brokerListeners[0]?.name ?? "PLAINTEXT";
    const exporter = new PrometheusExporter({
      services,
      network: { stats: () => network.stats(), threads: services.config.numNetworkThreads, listener: listenerName },
      lag,
      cleaner,
    });
    this.router.get("/metrics", async () => ({
      status: 200,
      headers: { "content-type": exporter.contentType },
      body: await exporter.render(),
    }));
    this.#throughput = new ThroughputSampler(services.metrics);
    registerAdminRoutes(this.router, { services, lag, throughput: this.#throughput });
    registerLiveRoutes(this.router, services, this.#throughput);
    registerConsole(this.router);
    this.#whyNotReady = "the coordinators are loading their partitions";
    ready.then(
      () => {
        if (this.#phase === "starting") this.#phase = "ready";
      },
      (error: unknown) => {
        this.#whyNotReady = `coordinator load failed: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
    return sources;
  }

  /** /ready answers 503 from now on (the broker is stopping). */
  stopping(): void {
    this.#phase = "stopping";
    this.#whyNotReady = "the broker is shutting down";
  }

  async close(): Promise<void> {
    this.stopping();
    this.#throughput?.stop();
    await Promise.all(this.listeners.map((listener) => listener.close()));
    this.logger.debug("HTTP listeners closed");
  }
}
