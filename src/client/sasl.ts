// SASL from the client side, as Kafka's SaslClientAuthenticator: after ApiVersions, SaslHandshake
// v1 names the mechanism, then SaslAuthenticate rounds carry its tokens (KIP-152 framing):
//   PLAIN          one round: "\0user\0password"
//   SCRAM-SHA-*    two rounds: client-first → server-first, client-final → server-final, whose
//                  signature is checked (src/security/scram.ts ScramClient)
// It runs over any connection that sends a request and returns the decoded answer, so the same
// exchange serves the JS client (connection.ts) and the replica fetchers' native links, whose
// socket stays on their Rust thread (src/replication/leader-link.ts).
//
// KIP-368: a broker with connections.max.reauth.ms answers with the session's lifetime; the
// client must authenticate again (or reconnect) before it ends. `reauthenticateAtMs` is when, as
// Kafka's client picks it: at 85-95% of the lifetime, so a cluster's connections do not all
// re-authenticate at once.

import type { SaslAuthenticateResponse } from "../protocol/generated/sasl-authenticate.js";
import type { SaslHandshakeResponse } from "../protocol/generated/sasl-handshake.js";
import { ScramClient, type ScramMechanism } from "../security/scram.js";
import { throwIfError } from "./errors.js";

const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

/** The mechanisms this client speaks. */
export const CLIENT_SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type ClientSaslMechanism = (typeof CLIENT_SASL_MECHANISMS)[number];

export interface SaslCredentials {
  readonly mechanism: ClientSaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** Sends one request at the version agreed with ApiVersions and resolves with the decoded answer. */
export type SaslRequest = <T>(apiKey: number, body: object) => Promise<T>;

/**
 * Authenticates (or re-authenticates) with `credentials`; resolves with when to authenticate
 * again (null: the session does not end). Rejects with the broker's error as a KafkaResponseError
 * (UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED with its message) or a ScramError when
 * the broker's SCRAM answer is wrong.
 */
export async function authenticate(request: SaslRequest, credentials: SaslCredentials, nowMs: () => number = Date.now): Promise<number | null> {
  const handshake = await request<SaslHandshakeResponse>(SASL_HANDSHAKE, { mechanism: credentials.mechanism });
  throwIfError(
    handshake.errorCode,
    handshake.errorCode === 0 ? null : `Unsupported SASL mechanism ${credentials.mechanism}: the broker enables ${handshake.mechanisms.join(", ") || "none"}`,
  );
  const round = async (bytes: Buffer) => {
    const answer = await request<SaslAuthenticateResponse>(SASL_AUTHENTICATE, { authBytes: bytes });
    throwIfError(answer.errorCode, answer.errorMessage);
    return answer;
  };
  let last: SaslAuthenticateResponse;
  if (credentials.mechanism === "PLAIN") {
    last = await round(Buffer.from(`\u0000${credentials.username}\u0000${credentials.password}`, "utf8"));
  } else {
    const scram = new ScramClient(credentials.mechanism as ScramMechanism, credentials.username, credentials.password);
    const serverFirst = await round(scram.first());
    last = await round(await scram.final(serverFirst.authBytes));
    scram.verify(last.authBytes);
  }
  const lifetimeMs = Number(last.sessionLifetimeMs ?? 0n);
  if (lifetimeMs <= 0) return null;
  return nowMs() + Math.floor(lifetimeMs * (0.85 + Math.random() * 0.1));
}
