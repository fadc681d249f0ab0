// The broker's HTTP plane (DESIGN.md §2): one listener per `http.listeners` entry serving
// /metrics, /health, /ready, the admin REST API and the web console, with WebSockets for the
// live tail. Routes are plain functions from a request to a response, so the same routes run on
// either engine:
//
//   uWebSockets.js  (@trufflesuite/uws-js-unofficial, which republishes uWS's builds to npm):
//                   the default; an HTTP server in C++ that shares libuv with Node.
//   node:http + ws  when the uWS binary cannot load (another platform or Node ABI), or when
//                   SLUICE_HTTP_ENGINE=node asks for it.
//
// Limits: a request body over HTTP_BODY_MAX_BYTES is refused with 413 before it is buffered;
// a WebSocket peer whose unsent messages pass WS_BACKPRESSURE_MAX_BYTES is closed (one slow
// browser must not make the broker buffer a topic's tail for it).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { WebSocketServer, WebSocket as WsSocket } from "ws";

/** Largest request body an HTTP route accepts. */
export const HTTP_BODY_MAX_BYTES = 1024 * 1024;
/** Unsent bytes a WebSocket peer may have before it is closed. */
export const WS_BACKPRESSURE_MAX_BYTES = 4 * 1024 * 1024;
/** Largest message a WebSocket peer may send. */
const WS_MESSAGE_MAX_BYTES = 64 * 1024;

export interface HttpRequest {
  readonly method: string;
  /** The path without the query string, e.g. `/api/topics/orders`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Path parameters of the route pattern (`/api/topics/:name` → `{ name }`), URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Header names are lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export type RouteHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** One WebSocket connection as the routes see it. */
export interface WsPeer {
  /** Sends a text message; false when the peer was closed for being too slow, or is gone. */
  send(message: string): boolean;
  close(): void;
}

export interface WsRoute {
  /** Called when a peer connects; the returned object receives its messages and its close. */
  open(peer: WsPeer, request: HttpRequest): WsSession;
}

export interface WsSession {
  message?(text: string): void;
  close(): void;
}

interface CompiledRoute {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

/** Routes by method and path pattern; `:name` matches one path segment. */
export class Router {
  readonly #routes: CompiledRoute[] = [];
  readonly #websockets = new Map<string, WsRoute>();

  get(pattern: string, handler: RouteHandler): this {
    return this.#add("GET", pattern, handler);
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.#add("POST", pattern, handler);
  }

  put(pattern: string, handler: RouteHandler): this {
    return this.#add("PUT", pattern, handler);
  }

  delete(pattern: string, handler: RouteHandler): this {
    return this.#add("DELETE", pattern, handler);
  }

  /** A WebSocket endpoint at an exact path. */
  websocket(path: string, route: WsRoute): this {
    this.#websockets.set(path, route);
    return this;
  }

  websocketAt(path: string): WsRoute | undefined {
    return this.#websockets.get(path);
  }

  #add(method: string, pattern: string, handler: RouteHandler): this {
    this.#routes.push({ method, segments: pattern.split("/").slice(1), handler });
    return this;
  }

  /** The handler for a request and its path parameters; a 404 or 405 response when there is none. */
  match(method: string, path: string): { handler: RouteHandler; params: Record<string, string> } | HttpResponse {
    const segments = path.split("/").slice(1);
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments);
      if (params === null) continue;
      pathMatched = true;
      if (route.method === method || (method === "HEAD" && route.method === "GET")) return { handler: route.handler, params };
    }
    return pathMatched ? json(405, { error: `${method} is not allowed on ${path}` }) : json(404, { error: `no route for ${path}` });
  }

  /** Runs a request through its route; a route that throws answers 500 (and is logged). */
  async handle(request: Omit<HttpRequest, "params">, logger: Logger): Promise<HttpResponse> {
    const matched = this.match(request.method, request.path);
    if ("status" in matched) return matched;
    try {
      return await matched.handler({ ...request, params: matched.params });
    } catch (error) {
      if (error instanceof HttpError) return json(error.status, { error: error.message });
      logger.error({ err: error, method: request.method, path: request.path }, "HTTP route failed");
      return json(500, { error: "internal error" });
    }
  }
}

function matchSegments(pattern: readonly string[], path: readonly string[]): Record<string, string> | null {
  if (pattern.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i];
    const got = path[i];
    if (want.startsWith(":")) {
      if (got === "") return null;
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return null;
      }
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}

/** A route's refusal with an HTTP status (400 bad input, 404 unknown entity, 409 conflict…). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(value) };
}

export function text(status: number, body: string, contentType = "text/plain; charset=utf-8"): HttpResponse {
  return { status, headers: { "content-type": contentType }, body };
}

/** A running HTTP listener. */
export interface HttpListener {
  readonly engine: "uWebSockets.js" | "node:http";
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpListenOptions {
  readonly host: string;
  /** 0 picks a free port (the listener's `port` tells which). */
  readonly port: number;
  readonly router: Router;
  readonly logger: Logger;
  /** "node" forces node:http; default: uWebSockets.js when it loads (SLUICE_HTTP_ENGINE=node forces node:http too). */
  readonly engine?: "auto" | "node";
}

// ---------------------------------------------------------------------------------------------
// Engine choice

// The subset of uWebSockets.js used here (its own typings describe a global-less module).
interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(socket: unknown): void;
  us_socket_local_port(socket: unknown): number;
}
interface UwsApp {
  any(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  ws(pattern: string, behavior: Record<string, unknown>): UwsApp;
  listen(host: string, port: number, callback: (socket: unknown) => void): UwsApp;
  close?(): void;
}
interface UwsRequest {
  getMethod(): string;
  getUrl(): string;
  getQuery(): string | undefined;
  forEach(callback: (key: string, value: string) => void): void;
  getHeader(name: string): string;
}
interface UwsResponse {
  onAborted(handler: () => void): UwsResponse;
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): UwsResponse;
  cork(callback: () => void): UwsResponse;
  writeStatus(status: string): UwsResponse;
  writeHeader(key: string, value: string): UwsResponse;
  end(body?: string | Uint8Array, closeConnection?: boolean): UwsResponse;
  upgrade(userData: unknown, key: string, protocol: string, extensions: string, context: unknown): void;
}
interface UwsSocket {
  send(message: string, isBinary?: boolean): number;
  getBufferedAmount(): number;
  end(code?: number, message?: string): void;
  getUserData(): { session?: WsSession; request?: HttpRequest; closed?: boolean };
}

let uwsModule: UwsModule | null | undefined;

/**
 * The uWebSockets.js binary for this platform and Node ABI, or null. It is loaded directly (not
 * through the package's index, which prints a warning and swaps in its own emulation when the
 * binary does not fit: we fall back to node:http ourselves).
 */
function loadUws(logger: Logger): UwsModule | null {
  if (uwsModule !== undefined) return uwsModule;
  uwsModule = null;
  try {
    const require = createRequire(import.meta.url);
    const packageJson = require.resolve("@trufflesuite/uws-js-unofficial/package.json");
    const binary = `${packageJson.slice(0, -"package.json".length)}binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    uwsModule = require(binary) as UwsModule;
  } catch (error) {
    logger.info({ reason: error instanceof Error ? error.message.split("\n")[0] : String(error) }, "uWebSockets.js cannot load here: HTTP on node:http");
  }
  return uwsModule;
}

/** Starts an HTTP listener on uWebSockets.js, or on node:http when uWS cannot load. */
export function listenHttp(options: HttpListenOptions): Promise<HttpListener> {
  const uws = options.engine === "node" || process.env.SLUICE_HTTP_ENGINE === "node" ? null : loadUws(options.logger);
  return uws === null ? listenNode(options) : listenUws(uws, options);
}

// ---------------------------------------------------------------------------------------------
// uWebSockets.js

const STATUS_TEXT: Record<number, string> = {
  200: "200 OK",
  201: "201 Created",
  204: "204 No Content",
  400: "400 Bad Request",
  404: "404 Not Found",
  405: "405 Method Not Allowed",
  409: "409 Conflict",
  413: "413 Payload Too Large",
  500: "500 Internal Server Error",
  503: "503 Service Unavailable",
};

function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

function listenUws(uws: UwsModule, options: HttpListenOptions): Promise<HttpListener> {
  const { router, logger } = options;
  const app = uws.App();

  app.ws("/*", {
    maxPayloadLength: WS_MESSAGE_MAX_BYTES,
    maxBackpressure: WS_BACKPRESSURE_MAX_BYTES,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res: UwsResponse, req: UwsRequest, context: unknown) => {
      const path = req.getUrl();
      const request = requestOf("GET", path, req.getQuery() ?? "", uwsHeaders(req), Buffer.alloc(0));
      if (router.websocketAt(path) === undefined) {
        res.writeStatus(statusLine(404)).end("no WebSocket here");
        return;
      }
      res.upgrade({ request }, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context);
    },
    open: (ws: UwsSocket) => {
      const data = ws.getUserData();
      const request = data.request as HttpRequest;
      const peer: WsPeer = {
        send: (message) => {
          if (data.closed === true) return false;
          // 2 = dropped: over maxBackpressure, and closeOnBackpressureLimit closes the socket.
          return ws.send(message, false) !== 2;
        },
        close: () => {
          if (data.closed !== true) ws.end(1000);
        },
      };
      data.session = router.websocketAt(request.path)?.open(peer, request);
    },
    message: (ws: UwsSocket, message: ArrayBuffer) => {
      ws.getUserData().session?.message?.(Buffer.from(message).toString("utf8"));
    },
    close: (ws: UwsSocket) => {
      const data = ws.getUserData();
      data.closed = true;
      data.session?.close();
    },
  });

  app.any("/*", (res, req) => {
    // uWS request objects live only until this callback returns: copy what is needed first.
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? "";
    const headers = uwsHeaders(req);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const respond = (response: HttpResponse) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(response.status));
        for (const [key, value] of Object.entries(response.headers ?? {})) res.writeHeader(key, value);
        res.end(method === "HEAD" ? undefined : response.body);
      });
    };
    const run = (body: Buffer) => {
      router.handle(requestOf(method, path, query, headers, body), logger).then(respond, (error: unknown) => {
        logger.error({ err: error }, "HTTP request failed");
        respond(json(500, { error: "internal error" }));
      });
    };
    if (method === "GET" || method === "HEAD" || method === "DELETE") {
      run(Buffer.alloc(0));
      return;
    }
    const declared = Number(headers["content-length"] ?? "0");
    if (declared > HTTP_BODY_MAX_BYTES) {
      respond(json(413, { error: `request body over ${HTTP_BODY_MAX_BYTES} bytes` }));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    res.onData((chunk, isLast) => {
      if (refused) return;
      received += chunk.byteLength;
      if (received > HTTP_BODY_MAX_BYTES) {
        refused = true;
        respond(json(413, { error: `request body over ${HTTP_BODY_MAX_BYTES} bytes` }));
        return;
      }
      // The chunk's memory is reused by uWS after this call: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) run(Buffer.concat(chunks));
    });
  });

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (!socket) {
        reject(new Error(`cannot listen for HTTP on ${options.host}:${options.port}`));
        return;
      }
      resolve({
        engine: "uWebSockets.js",
        host: options.host,
        port: uws.us_socket_local_port(socket),
        close: async () => {
          uws.us_listen_socket_close(socket);
          // Closes the open connections and WebSockets too (uWS ≥ 20.30).
          app.close?.();
        },
      });
    });
  });
}

function uwsHeaders(req: UwsRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  req.forEach((key, value) => {
    headers[key] = value;
  });
  return headers;
}

function requestOf(
  method: string,
  path: string,
  query: string,
  headers: Record<string, string>,
  body: Buffer,
): Omit<HttpRequest, "params"> & {
  params: Record<string, string>;
} {
  return { method, path, query: new URLSearchParams(query), headers, body, params: {} };
}

// ---------------------------------------------------------------------------------------------
// node:http + ws

async function listenNode(options: HttpListenOptions): Promise<HttpListener> {
  const { router, logger } = options;
  const { WebSocketServer } = await import("ws");
  const websockets: WebSocketServer = new WebSocketServer({ noServer: true, maxPayload: WS_MESSAGE_MAX_BYTES });
  const server: Server = createServer((req, res) => {
    serveNode(router, logger, req, res);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = router.websocketAt(url.pathname);
    if (route === undefined) {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    const request = requestOf("GET", url.pathname, url.search.slice(1), nodeHeaders(req), Buffer.alloc(0));
    websockets.handleUpgrade(req, socket, head, (ws: WsSocket) => {
      let closed = false;
      const peer: WsPeer = {
        send: (message) => {
          if (closed) return false;
          if (ws.bufferedAmount > WS_BACKPRESSURE_MAX_BYTES) {
            ws.terminate();
            return false;
          }
          ws.send(message);
          return true;
        },
        close: () => ws.close(1000),
      };
      const session = route.open(peer, request);
      ws.on("message", (data) => session.message?.(Buffer.isBuffer(data) ? data.toString("utf8") : String(data)));
      ws.on("close", () => {
        closed = true;
        session.close();
      });
      ws.on("error", () => {});
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    engine: "node:http",
    host: options.host,
    port: typeof address === "object" && address !== null ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of websockets.clients) client.terminate();
        websockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function nodeHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(", ") : value;
  return headers;
}

function serveNode(router: Router, logger: Logger, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = (req.method ?? "GET").toUpperCase();
  const respond = (response: HttpResponse) => {
    res.writeHead(response.status, response.headers);
    res.end(method === "HEAD" ? undefined : response.body);
  };
  const chunks: Buffer[] = [];
  let received = 0;
  let refused = false;
  req.on("data", (chunk: Buffer) => {
    if (refused) return;
    received += chunk.length;
    if (received > HTTP_BODY_MAX_BYTES) {
      refused = true;
      res.setHeader("connection", "close");
      respond(json(413, { error: `request body over ${HTTP_BODY_MAX_BYTES} bytes` }));
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (refused) return;
    router.handle(requestOf(method, url.pathname, url.search.slice(1), nodeHeaders(req), Buffer.concat(chunks)), logger).then(respond, (error: unknown) => {
      logger.error({ err: error }, "HTTP request failed");
      respond(json(500, { error: "internal error" }));
    });
  });
}
