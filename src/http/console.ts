// The web console: a static page (src/http/console/: index.html, app.js, style.css — plain
// hand-written JS and CSS, no framework, nothing fetched from elsewhere, so it works offline)
// served by the HTTP plane at / and /console/*. It talks to the admin REST API (admin.ts) and
// the live WebSockets (live.ts).
//
// `npm run build:ts` copies the assets to dist/http/console/ (scripts/bundle.mjs). They are found
// relative to this module: `../http/console/` is dist/http/console/ from dist/http/console.js and
// from the bundle dist/cli/sluice.mjs alike, and src/http/console/ when the sources run under tsx.
// Files are read once, on first request. The page is served with a Content-Security-Policy that
// allows only its own scripts, styles and connections (no inline code).

import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { type HttpResponse, json, type Router } from "./server.js";

/** The assets served, by name. Nothing else under /console/ is. */
export const CONSOLE_ASSETS = ["index.html", "app.js", "style.css", "favicon.svg"] as const;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

export const CONSOLE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const assetsDirectory = fileURLToPath(new URL("../http/console/", import.meta.url));

export function registerConsole(router: Router): void {
  const cache = new Map<string, HttpResponse>();
  const serve = (name: string): HttpResponse => {
    let response = cache.get(name);
    if (response !== undefined) return response;
    let body: Buffer;
    try {
      body = readFileSync(`${assetsDirectory}${name}`);
    } catch {
      return json(503, { error: `console asset ${name} is missing from ${assetsDirectory}: run \`npm run build:ts\`` });
    }
    response = {
      status: 200,
      headers: {
        "content-type": CONTENT_TYPES[extname(name)] ?? "application/octet-stream",
        "content-security-policy": CONSOLE_CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
      },
      body,
    };
    cache.set(name, response);
    return response;
  };
  router.get("/", () => serve("index.html"));
  router.get("/console/:file", (request) => {
    const name = request.params.file;
    return (CONSOLE_ASSETS as readonly string[]).includes(name) ? serve(name) : json(404, { error: `no console file ${name}` });
  });
}
