// SaslHandshake (key 17, v0-1) and SaslAuthenticate (key 36, v0-2): the SASL exchange of a
// connection on a SASL_* listener (src/security/sasl.ts holds its state). On other listeners both
// are answered ILLEGAL_SASL_STATE, as Kafka's KafkaApis does once a connection is authenticated.
// A failed handshake (a mechanism the listener does not enable) or authentication is answered with
// Kafka's error and message, and the connection is closed connections.failed.authentication.delay.ms
// later (the answer is written first).

import { ErrorCode } from "../../protocol/errors.js";
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from "../../protocol/generated/sasl-authenticate.js";
import type { SaslHandshakeRequest, SaslHandshakeResponse } from "../../protocol/generated/sasl-handshake.js";
import { SaslAuthenticationError, type SaslSession } from "../../security/sasl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";

const EMPTY = Buffer.alloc(0);

function failedAuthenticationDelayMs(context: RequestContext): number {
  return Math.max(0, Number(context.config.get("connection.failed.authentication.delay.ms") ?? 100));
}

export const saslHandshake = defineHandler<SaslHandshakeRequest, SaslHandshakeResponse>(17, { min: 0, max: 1 }, (context, request) => {
  const session = context.connection.sasl;
  if (session === null) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
  const mechanisms = [...session.settings.mechanisms];
  if (!session.handshake(request.mechanism, context.apiVersion)) {
    context.connections.closeAfter(context.connection, failedAuthenticationDelayMs(context), `unsupported SASL mechanism ${request.mechanism}`);
    return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
  }
  return { errorCode: ErrorCode.NONE, mechanisms };
});

/** The bare token exchange after SaslHandshake v0: the answer's frame (size-prefixed bytes), or null when it failed. */
export async function rawSaslToken(
  context: Pick<RequestContext, "config" | "credentials" | "logger">,
  session: SaslSession,
  token: Buffer,
  nowMs: number,
): Promise<Buffer | null> {
  const reauthMs = Math.max(0, Number(context.config.get("connections.max.reauth.ms") ?? 0));
  try {
    const answer = await session.authenticate(token, context.credentials, reauthMs, nowMs);
    const frame = Buffer.alloc(4 + answer.bytes.length);
    frame.writeInt32BE(answer.bytes.length, 0);
    answer.bytes.copy(frame, 4);
    return frame;
  } catch (error) {
    if (!(error instanceof SaslAuthenticationError)) throw error;
    context.logger.info({ reason: error.message }, "failed SASL authentication (SaslHandshake v0)");
    return null;
  }
}

export const saslAuthenticate = defineHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>(36, { min: 0, max: 2 }, async (context, request) => {
  const session = context.connection.sasl;
  if (session === null) {
    return {
      errorCode: ErrorCode.ILLEGAL_SASL_STATE,
      errorMessage: "SaslAuthenticate request received after successful authentication",
      authBytes: EMPTY,
      sessionLifetimeMs: 0n,
    };
  }
  const reauthMs = Math.max(0, Number(context.config.get("connections.max.reauth.ms") ?? 0));
  try {
    // The request's bytes are a view of the network's buffer: copied before any await.
    const answer = await session.authenticate(Buffer.from(request.authBytes), context.credentials, reauthMs, context.receivedAtMs);
    if (!answer.complete && session.failureDetail !== null)
      context.logger.info({ connection: `${context.connection}`, detail: session.failureDetail }, "OAUTHBEARER token refused");
    if (answer.complete) context.logger.debug({ connection: `${context.connection}`, principal: session.principal }, "SASL authenticated");
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      authBytes: answer.bytes,
      sessionLifetimeMs:
        answer.complete && context.apiVersion >= 1 && session.expiresAtMs !== null ? BigInt(Math.max(0, session.expiresAtMs - context.receivedAtMs)) : 0n,
    };
  } catch (error) {
    if (!(error instanceof SaslAuthenticationError)) throw error;
    const detail = error.cause instanceof Error ? error.cause.message : (session.failureDetail ?? undefined);
    context.logger.info({ connection: `${context.connection}`, reason: error.message, detail }, "failed SASL authentication");
    context.connections.closeAfter(context.connection, failedAuthenticationDelayMs(context), "failed authentication");
    return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: error.message, authBytes: EMPTY, sessionLifetimeMs: 0n };
  }
});
