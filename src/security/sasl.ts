// SASL on SASL_PLAINTEXT / SASL_SSL listeners, as Kafka's SaslServerAuthenticator:
//
//   1. ApiVersions (any number) and SaslHandshake (v0/v1) naming a mechanism; one the listener
//      does not enable is answered UNSUPPORTED_SASL_MECHANISM with the enabled list.
//   2. SaslAuthenticate rounds (v0-v2; KIP-152 framing) until the mechanism completes:
//        PLAIN          "authzid \0 user \0 password" against the PlainLoginModule users of
//                       listener.name.<listener>.plain.sasl.jaas.config (`user_<name>="…"`)
//        SCRAM-SHA-256/512  RFC 5802 (src/security/scram.ts) against the credentials
//                       AlterUserScramCredentials stored in the metadata store
//        OAUTHBEARER    a JWT (src/security/oauthbearer.ts): unsecured tokens for development, or
//                       signed ones checked against a JWKS file or URL
//      A failure is answered SASL_AUTHENTICATION_FAILED with Kafka's message, and the connection
//      is closed connections.failed.authentication.delay.ms later (Kafka delays it the same way).
//   3. Authenticated: the principal is User:<name>; every API is served. With
//      connections.max.reauth.ms > 0 (KIP-368) SaslAuthenticate v1+ tells the client its session
//      lifetime; after it, the client must re-authenticate (SaslHandshake + SaslAuthenticate again,
//      as the same principal) and any other request closes the connection.
// Before authentication nothing but ApiVersions and the SASL APIs reaches a handler: anything else
// closes the connection (Kafka's IllegalSaslStateException). After SaslHandshake v0 (clients before
// Kafka 1.0) the tokens come as bare size-prefixed frames without Kafka headers and are answered
// the same way (the dispatcher hands them to `authenticate`); a failure then just closes.

import type { BrokerConfig } from "../config/index.js";
import { ConfigError } from "../config/index.js";
import { parseJaasConfig, plainUsers } from "./jaas.js";
import { bearerToken, OAUTHBEARER, OAuthTokenError, type OAuthValidator, oauthValidator } from "./oauthbearer.js";
import { SCRAM_MECHANISMS, type ScramCredential, ScramError, type ScramMechanism, ScramServer } from "./scram.js";

export const API_VERSIONS = 18;
export const SASL_HANDSHAKE = 17;
export const SASL_AUTHENTICATE = 36;

/** The mechanisms Sluice serves. */
export const SERVED_MECHANISMS: readonly string[] = ["PLAIN", ...SCRAM_MECHANISMS, OAUTHBEARER];

/** Where SCRAM credentials live (the metadata store: etcd or the embedded one). */
export interface ScramCredentialLookup {
  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined;
}

/** One SASL listener's settings. */
export interface SaslListener {
  readonly listener: string;
  readonly mechanisms: readonly string[];
  /** PLAIN's users (user → password), when PLAIN is enabled. */
  readonly plainUsers: ReadonlyMap<string, string>;
  /** OAUTHBEARER's token validator, when OAUTHBEARER is enabled. */
  readonly oauth?: OAuthValidator | null;
}

/** sasl.enabled.mechanisms of `listener` (the listener-prefixed key first; Kafka's default GSSAPI). */
export function enabledMechanisms(config: BrokerConfig, listener: string): string[] {
  const text = config.text(`listener.name.${listener.toLowerCase()}.sasl.enabled.mechanisms`) ?? config.text("sasl.enabled.mechanisms") ?? "GSSAPI";
  return text
    .split(",")
    .map((m) => m.trim().toUpperCase())
    .filter((m) => m !== "");
}

/** The SASL settings of every SASL_* listener of `config`; throws ConfigError as Kafka refuses to start. */
export function saslListeners(config: BrokerConfig): Map<string, SaslListener> {
  const listeners = new Map<string, SaslListener>();
  for (const listener of config.brokerListeners) {
    if (!listener.securityProtocol.startsWith("SASL_")) continue;
    const prefix = `listener.name.${listener.name.toLowerCase()}.`;
    const mechanisms = enabledMechanisms(config, listener.name);
    for (const mechanism of mechanisms) {
      if (!SERVED_MECHANISMS.includes(mechanism)) {
        throw new ConfigError(
          "sasl.enabled.mechanisms",
          `SASL mechanism ${mechanism} of listener ${listener.name} is not served by Sluice (served: ${SERVED_MECHANISMS.join(", ")}); set sasl.enabled.mechanisms`,
        );
      }
    }
    let users = new Map<string, string>();
    if (mechanisms.includes("PLAIN")) {
      const key = `${prefix}plain.sasl.jaas.config`;
      const text = config.text(key);
      if (text === null)
        throw new ConfigError(
          key,
          `Could not find a 'KafkaServer' or '${listener.name.toLowerCase()}.KafkaServer' entry in the JAAS configuration (set ${key})`,
        );
      users = plainUsers(parseJaasConfig(key, text));
    }
    let oauth: OAuthValidator | null = null;
    if (mechanisms.includes(OAUTHBEARER)) {
      const key = `${prefix}oauthbearer.sasl.jaas.config`;
      const text = config.text(key);
      if (text === null)
        throw new ConfigError(
          key,
          `Could not find a 'KafkaServer' or '${listener.name.toLowerCase()}.KafkaServer' entry in the JAAS configuration (set ${key})`,
        );
      oauth = oauthValidator(config, listener.name, parseJaasConfig(key, text));
    }
    listeners.set(listener.name, { listener: listener.name, mechanisms, plainUsers: users, oauth });
  }
  return listeners;
}

/** A SASL failure: Kafka's message for the client. */
export class SaslAuthenticationError extends Error {}

type Exchange =
  | { readonly mechanism: "PLAIN" }
  | { readonly mechanism: ScramMechanism; readonly server: ScramServer }
  | { readonly mechanism: "OAUTHBEARER"; readonly error: string };

/** One connection's SASL state. */
export class SaslSession {
  readonly settings: SaslListener;
  #state: "handshake" | "authenticate" | "authenticated" | "failed" = "handshake";
  #exchange: Exchange | null = null;
  /** User:<name> once authenticated. */
  principal: string | null = null;
  /** When the session ends (KIP-368), or null when it does not. */
  expiresAtMs: number | null = null;
  #reauthenticating = false;
  /** The mechanism SaslHandshake chose. */
  #pendingMechanism = "";
  /** SaslHandshake v0: tokens come without Kafka headers. */
  #rawTokens = false;
  /** Why the last token was refused (for the broker's log; the client gets Kafka's message). */
  #failureDetail: string | null = null;

  get failureDetail(): string | null {
    return this.#failureDetail;
  }

  constructor(settings: SaslListener) {
    this.settings = settings;
  }

  get authenticated(): boolean {
    return this.#state === "authenticated";
  }

  get failed(): boolean {
    return this.#state === "failed";
  }

  /** Why `apiKey` may not be served now, or null when it may. */
  refusal(apiKey: number, nowMs: number): string | null {
    switch (this.#state) {
      case "authenticated":
        if (this.expiresAtMs !== null && nowMs >= this.expiresAtMs && apiKey !== SASL_HANDSHAKE) return "the SASL session expired without re-authentication";
        return null;
      case "handshake":
        return apiKey === API_VERSIONS || apiKey === SASL_HANDSHAKE ? null : `Unexpected Kafka request of type ${apiKey} during SASL handshake.`;
      case "authenticate":
        return apiKey === SASL_AUTHENTICATE ? null : `Unexpected Kafka request of type ${apiKey} during SASL authentication.`;
      case "failed":
        return "SASL authentication failed";
    }
  }

  /** The next frame is a bare SASL token (after SaslHandshake v0), not a Kafka request. */
  get expectsRawToken(): boolean {
    return this.#state === "authenticate" && this.#rawTokens;
  }

  /** SaslHandshake (of `version`): starts an exchange with `mechanism`; false when the listener does not enable it. */
  handshake(mechanism: string, version = 1): boolean {
    if (!this.settings.mechanisms.includes(mechanism)) {
      this.#state = "failed";
      return false;
    }
    this.#reauthenticating = this.#state === "authenticated";
    this.#exchange = null;
    this.#state = "authenticate";
    this.#pendingMechanism = mechanism;
    this.#rawTokens = version === 0;
    return true;
  }

  /**
   * One SaslAuthenticate round: the server's bytes for the client's, and whether the exchange is
   * complete. Throws SaslAuthenticationError (the session is failed) with Kafka's message.
   */
  async authenticate(bytes: Buffer, credentials: ScramCredentialLookup, reauthMs: number, nowMs: number): Promise<{ bytes: Buffer; complete: boolean }> {
    if (this.#state !== "authenticate") throw new SaslAuthenticationError("Unexpected SaslAuthenticate request");
    const mechanism = this.#pendingMechanism;
    try {
      let answer: Buffer;
      let user: string | null = null;
      let credentialExpiresAtMs: number | null = null;
      if (mechanism === "PLAIN") {
        user = this.#plain(bytes);
        answer = Buffer.alloc(0);
      } else if (mechanism === OAUTHBEARER) {
        const failed = this.#exchange?.mechanism === OAUTHBEARER ? this.#exchange.error : null;
        // After our error challenge the client answers \x01, and the exchange fails with that error.
        if (failed !== null) throw new SaslAuthenticationError(failed);
        const validator = this.settings.oauth;
        if (validator == null) throw new SaslAuthenticationError("OAUTHBEARER is not configured");
        try {
          const { token, authzid } = bearerToken(bytes);
          const validated = await validator.validate(token, nowMs);
          if (authzid !== null && authzid !== validated.principal)
            throw new SaslAuthenticationError("Authentication failed: Client requested an authorization id that is different from username");
          user = validated.principal;
          credentialExpiresAtMs = validated.expiresAtMs;
          answer = Buffer.alloc(0);
        } catch (error) {
          if (!(error instanceof OAuthTokenError)) throw error;
          const challenge = JSON.stringify({ status: "invalid_token" });
          this.#exchange = { mechanism: OAUTHBEARER, error: challenge };
          this.#failureDetail = error.message;
          return { bytes: Buffer.from(challenge, "utf8"), complete: false };
        }
      } else {
        let exchange = this.#exchange;
        if (exchange === null || exchange.mechanism === "PLAIN" || exchange.mechanism === OAUTHBEARER) {
          const scram = mechanism as ScramMechanism;
          exchange = { mechanism: scram, server: new ScramServer(scram, (name) => credentials.scramCredential(name, scram)) };
          this.#exchange = exchange;
        }
        answer = exchange.server.evaluate(bytes);
        if (exchange.server.complete) user = exchange.server.user;
      }
      if (user === null) return { bytes: answer, complete: false };
      const principal = `User:${user}`;
      if (this.#reauthenticating && this.principal !== null && this.principal !== principal) {
        throw new SaslAuthenticationError(`Cannot change principals during re-authentication from ${this.principal}: ${principal}`);
      }
      this.principal = principal;
      this.expiresAtMs = reauthMs > 0 ? Math.min(nowMs + reauthMs, credentialExpiresAtMs ?? Number.POSITIVE_INFINITY) : null;
      this.#state = "authenticated";
      this.#exchange = null;
      return { bytes: answer, complete: true };
    } catch (error) {
      this.#state = "failed";
      if (error instanceof SaslAuthenticationError) throw error;
      if (error instanceof ScramError)
        throw new SaslAuthenticationError(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`, {
          cause: error,
        });
      throw error;
    }
  }

  /** PLAIN (RFC 4616) as Kafka's PlainSaslServer: the user, or SaslAuthenticationError. */
  #plain(bytes: Buffer): string {
    const text = bytes.toString("utf8");
    const parts = text.split("\u0000");
    if (parts.length !== 3) throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}`);
    const [authzid, user, password] = parts;
    if (user === "") throw new SaslAuthenticationError("Authentication failed: username not specified");
    if (password === "") throw new SaslAuthenticationError("Authentication failed: password not specified");
    const expected = this.settings.plainUsers.get(user);
    if (expected === undefined || !equalStrings(expected, password)) throw new SaslAuthenticationError("Authentication failed: Invalid username or password");
    if (authzid !== "" && authzid !== user)
      throw new SaslAuthenticationError("Authentication failed: Client requested an authorization id that is different from username");
    return user;
  }
}

/** Compares without stopping at the first difference. */
function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
