// SASL/OAUTHBEARER (RFC 7628, KIP-255, KIP-768) on the broker, as Kafka's OAuthBearerSaslServer:
//
//   client  "n,[a=authzid],\x01auth=Bearer <JWT>\x01[key=value\x01...]\x01"
//   server  "" on success; on a bad token the JSON error {"status":"invalid_token"} as a challenge,
//           the client answers "\x01", and the exchange fails with that JSON as the message.
//
// Two validators, chosen as Kafka chooses them by
// listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class:
//   unset (Kafka's OAuthBearerUnsecuredValidatorCallbackHandler, for development): an unsigned
//       token (alg "none") with the principal claim (unsecuredValidatorPrincipalClaimName, "sub")
//       and an expiry ("exp") not past beyond unsecuredValidatorAllowableClockSkewMs; a required
//       scope (unsecuredValidatorRequiredScope) must be in its "scope" claim. Options come from the
//       listener's OAUTHBEARER JAAS config.
//   org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler: a signed JWT
//       checked against the keys of sasl.oauthbearer.jwks.endpoint.url (a file:// JWKS read again
//       every sasl.oauthbearer.jwks.endpoint.refresh.ms, or an https:// endpoint fetched by jose),
//       sasl.oauthbearer.expected.audience / expected.issuer, sasl.oauthbearer.clock.skew.seconds;
//       the principal is sasl.oauthbearer.sub.claim.name ("sub").
// JWT handling is the `jose` library's (signature algorithms, JWKS selection, time claims).

import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from "jose";
import type { BrokerConfig } from "../config/index.js";
import { ConfigError } from "../config/index.js";
import type { JaasModule } from "./jaas.js";

export const OAUTHBEARER = "OAUTHBEARER";
const SECURED_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler";
const SECURED_HANDLER_OLD = "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler";

/** A validated token: the principal's name and when the token expires (ms since the epoch). */
export interface OAuthToken {
  readonly principal: string;
  readonly expiresAtMs: number | null;
}

export class OAuthTokenError extends Error {}

export interface OAuthValidator {
  validate(token: string, nowMs: number): Promise<OAuthToken>;
}

/** The bearer token of a client's first OAUTHBEARER message; throws OAuthTokenError when malformed. */
export function bearerToken(message: Buffer): { token: string; authzid: string | null } {
  const text = message.toString("utf8");
  const invalid = () => new OAuthTokenError("Invalid OAUTHBEARER client first message");
  const SEPARATOR = "\u0001";
  // gs2 header "n," or "y,", an optional "a=<authzid>", ","; then key=value pairs each ended by
  // \x01, and a final \x01.
  const headerEnd = text.indexOf(",", 2);
  if ((text[0] !== "n" && text[0] !== "y") || text[1] !== "," || headerEnd < 0) throw invalid();
  const authzidPart = text.slice(2, headerEnd);
  if (authzidPart !== "" && !authzidPart.startsWith("a=")) throw invalid();
  const body = text.slice(headerEnd + 1);
  if (!body.startsWith(SEPARATOR) || !body.endsWith(SEPARATOR + SEPARATOR) || body.length < 3) throw invalid();
  let token: string | null = null;
  for (const pair of body.slice(1, -2).split(SEPARATOR)) {
    const at = pair.indexOf("=");
    if (at <= 0) throw invalid();
    if (pair.slice(0, at) !== "auth") continue;
    const bearer = /^Bearer +(\S+)$/i.exec(pair.slice(at + 1));
    if (bearer === null) throw invalid();
    token = bearer[1];
  }
  if (token === null) throw invalid();
  const authzid = authzidPart.slice(2);
  return { token, authzid: authzid === "" ? null : authzid };
}

/** The validator of a listener's OAUTHBEARER (see the file comment). */
export function oauthValidator(config: BrokerConfig, listener: string, jaas: readonly JaasModule[]): OAuthValidator {
  const prefix = `listener.name.${listener.toLowerCase()}.`;
  const get = (key: string) => config.text(`${prefix}oauthbearer.${key}`) ?? config.text(`${prefix}${key}`) ?? config.text(key);
  const handler = get("sasl.server.callback.handler.class");
  const options = new Map(jaas.flatMap((module) => [...module.options]));
  if (handler === null) {
    return new UnsecuredValidator(
      options.get("unsecuredValidatorPrincipalClaimName") ?? "sub",
      options.get("unsecuredValidatorScopeClaimName") ?? "scope",
      (options.get("unsecuredValidatorRequiredScope") ?? "").split(/[\s,]+/).filter((s) => s !== ""),
      Number(options.get("unsecuredValidatorAllowableClockSkewMs") ?? 0),
    );
  }
  if (handler !== SECURED_HANDLER && handler !== SECURED_HANDLER_OLD) {
    throw new ConfigError(
      `${prefix}oauthbearer.sasl.server.callback.handler.class`,
      `Sluice validates OAUTHBEARER tokens with ${SECURED_HANDLER} only (got ${handler})`,
    );
  }
  const url = get("sasl.oauthbearer.jwks.endpoint.url");
  if (url === null) throw new ConfigError("sasl.oauthbearer.jwks.endpoint.url", "OAUTHBEARER token validation needs sasl.oauthbearer.jwks.endpoint.url");
  const audience = (get("sasl.oauthbearer.expected.audience") ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  return new JwksValidator({
    url,
    refreshMs: Number(get("sasl.oauthbearer.jwks.endpoint.refresh.ms") ?? 3_600_000),
    audience: audience.length > 0 ? audience : undefined,
    issuer: get("sasl.oauthbearer.expected.issuer") ?? undefined,
    clockSkewSeconds: Number(get("sasl.oauthbearer.clock.skew.seconds") ?? 30),
    subClaim: get("sasl.oauthbearer.sub.claim.name") ?? "sub",
  });
}

function expiryOf(payload: JWTPayload): number | null {
  return typeof payload.exp === "number" ? payload.exp * 1000 : null;
}

class UnsecuredValidator implements OAuthValidator {
  constructor(
    readonly principalClaim: string,
    readonly scopeClaim: string,
    readonly requiredScope: readonly string[],
    readonly clockSkewMs: number,
  ) {}

  async validate(token: string, nowMs: number): Promise<OAuthToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      throw new OAuthTokenError("malformed token");
    }
    if (header.alg !== "none") throw new OAuthTokenError(`unsecured tokens only (alg "none"), got alg ${String(header.alg)}`);
    const principal = payload[this.principalClaim];
    if (typeof principal !== "string" || principal === "") throw new OAuthTokenError(`no principal claim ${this.principalClaim}`);
    const expiresAtMs = expiryOf(payload);
    if (expiresAtMs === null) throw new OAuthTokenError("no exp claim");
    if (nowMs > expiresAtMs + this.clockSkewMs) throw new OAuthTokenError("token expired");
    const scope = payload[this.scopeClaim];
    const scopes = Array.isArray(scope) ? scope.map(String) : typeof scope === "string" ? scope.split(" ") : [];
    for (const required of this.requiredScope) if (!scopes.includes(required)) throw new OAuthTokenError(`missing scope ${required}`);
    return { principal, expiresAtMs };
  }
}

interface JwksOptions {
  url: string;
  refreshMs: number;
  audience: string[] | undefined;
  issuer: string | undefined;
  clockSkewSeconds: number;
  subClaim: string;
}

class JwksValidator implements OAuthValidator {
  readonly #options: JwksOptions;
  readonly #remote: ReturnType<typeof createRemoteJWKSet> | null;
  #local: { keys: ReturnType<typeof createLocalJWKSet>; readAtMs: number; mtimeMs: number } | null = null;

  constructor(options: JwksOptions) {
    this.#options = options;
    this.#remote = options.url.startsWith("file:") ? null : createRemoteJWKSet(new URL(options.url), { cacheMaxAge: options.refreshMs });
    if (this.#remote === null) this.#localKeys(Date.now()); // a missing or bad file fails at start
  }

  /** The file's key set, read again after refreshMs or when the file changed. */
  #localKeys(nowMs: number): ReturnType<typeof createLocalJWKSet> {
    const path = fileURLToPath(this.#options.url);
    const current = this.#local;
    if (current !== null && nowMs - current.readAtMs < this.#options.refreshMs) {
      const mtimeMs = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (mtimeMs === current.mtimeMs) return current.keys;
    }
    try {
      const keys = createLocalJWKSet(JSON.parse(readFileSync(path, "utf8")));
      this.#local = { keys, readAtMs: nowMs, mtimeMs: statSync(path).mtimeMs };
      return keys;
    } catch (error) {
      if (current !== null) return current.keys;
      throw new ConfigError("sasl.oauthbearer.jwks.endpoint.url", `cannot read the JWKS at ${this.#options.url}: ${(error as Error).message}`);
    }
  }

  async validate(token: string, nowMs: number): Promise<OAuthToken> {
    const options = this.#options;
    let payload: JWTPayload;
    try {
      const keys = this.#remote ?? this.#localKeys(nowMs);
      ({ payload } = await jwtVerify(token, keys, {
        audience: options.audience,
        issuer: options.issuer,
        clockTolerance: options.clockSkewSeconds,
        currentDate: new Date(nowMs),
        requiredClaims: ["exp", options.subClaim],
      }));
    } catch (error) {
      throw new OAuthTokenError((error as Error).message);
    }
    const principal = payload[options.subClaim];
    if (typeof principal !== "string" || principal === "") throw new OAuthTokenError(`no principal claim ${options.subClaim}`);
    return { principal, expiresAtMs: expiryOf(payload) };
  }
}
