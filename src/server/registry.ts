// The handler registry: one handler per API, each stating the versions it serves.
//
// ApiVersions is built from this table (an API is advertised only when a handler serves it,
// with exactly the versions the handler serves), and the dispatcher checks every request's
// version against it before decoding the body.

import { type ApiDescriptor, apiByKey } from "../protocol/generated/index.js";
import type { RequestContext } from "./context.js";

/** What a handler returns when the request gets no response at all (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol("no response");

export type HandlerResult<Res> = Res | typeof NO_RESPONSE;

export interface Handler<Req = unknown, Res = unknown> {
  /** The API this handler serves. */
  readonly api: ApiDescriptor;
  /** Lowest and highest version served (a sub-range of what the codec knows). */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Answers one request; may complete later (long polls, disk work) and out of order. */
  handle(context: RequestContext, request: Req): HandlerResult<Res> | Promise<HandlerResult<Res>>;
  /**
   * Kafka's answer to this request when it fails as a whole with `errorCode` (an unexpected
   * failure becomes UNKNOWN_SERVER_ERROR): every partition or resource gets the error. Without
   * it the connection is closed.
   */
  errorResponse?(context: RequestContext, request: Req, errorCode: number): Res;
}

/** Declares a handler for the API with `apiKey`, typed by the caller. */
export function defineHandler<Req, Res>(
  apiKey: number,
  versions: { min: number; max: number },
  handle: Handler<Req, Res>["handle"],
  errorResponse?: Handler<Req, Res>["errorResponse"],
): Handler<Req, Res> {
  const api = apiByKey[apiKey];
  if (api === undefined) throw new Error(`no API with key ${apiKey} in the codec`);
  if (versions.min < api.minVersion || versions.max > api.maxVersion || versions.min > versions.max) {
    throw new Error(`${api.name} versions ${versions.min}-${versions.max} are outside the codec's ${api.minVersion}-${api.maxVersion}`);
  }
  return { api, minVersion: versions.min, maxVersion: versions.max, handle, errorResponse };
}

export class HandlerRegistry {
  readonly #byKey = new Map<number, Handler>();

  register(handler: Handler<never, unknown>): this {
    if (this.#byKey.has(handler.api.apiKey)) throw new Error(`${handler.api.name} has two handlers`);
    this.#byKey.set(handler.api.apiKey, handler as unknown as Handler);
    return this;
  }

  get(apiKey: number): Handler | undefined {
    return this.#byKey.get(apiKey);
  }

  /** Served APIs by key, for ApiVersions. */
  served(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.#byKey.values()]
      .map((handler) => ({ apiKey: handler.api.apiKey, minVersion: handler.minVersion, maxVersion: handler.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }
}
