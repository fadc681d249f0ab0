// The client's two error classes. A broker's answer carrying a non-zero error code becomes a
// KafkaResponseError named as Kafka names it (TOPIC_ALREADY_EXISTS, NOT_COORDINATOR, …), with the
// broker's own message when it sent one, else Kafka's default one; that is what the operator CLI
// prints (`TOPIC_ALREADY_EXISTS: Topic 'x' already exists.`). Everything the client itself detects
// (a refused connection, a timeout, a broker without the API) is a ClientError with a stable code.

import { errorByCode } from "../protocol/errors.js";

export class KafkaResponseError extends Error {
  override readonly name = "KafkaResponseError";
  /** Kafka's numeric code, as on the wire. */
  readonly errorCode: number;
  /** Kafka's name (`Errors` enum); UNKNOWN_ERROR_<code> for a code this table does not know. */
  readonly errorName: string;
  /** Kafka's own verdict: the error's exception extends RetriableException. */
  readonly retriable: boolean;
  /** The broker's message, or Kafka's default message for the code. */
  readonly detail: string;

  constructor(errorCode: number, detail?: string | null) {
    const info = errorByCode(errorCode);
    const errorName = info?.name ?? `UNKNOWN_ERROR_${errorCode}`;
    const text = detail !== undefined && detail !== null && detail !== "" ? detail : (info?.message ?? "an error code this client does not know");
    super(`${errorName}: ${text}`);
    this.errorCode = errorCode;
    this.errorName = errorName;
    this.retriable = info?.retriable ?? false;
    this.detail = text;
  }
}

export type ClientErrorCode =
  /** No connection could be made to any bootstrap server or to a broker. */
  | "CONNECTION_FAILED"
  /** The connection closed with requests in flight. */
  | "CONNECTION_CLOSED"
  /** No answer within the request timeout. */
  | "REQUEST_TIMED_OUT"
  /** The broker does not serve any version of an API this client knows. */
  | "UNSUPPORTED_API"
  /** Metadata names no leader, no coordinator or no such broker. */
  | "NO_ROUTE"
  /** A caller's argument that cannot be sent (a bad partition, offset or config). */
  | "INVALID_ARGUMENT";

export class ClientError extends Error {
  override readonly name = "ClientError";
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Throws a KafkaResponseError for a non-zero code. */
export function throwIfError(errorCode: number, detail?: string | null): void {
  if (errorCode !== 0) throw new KafkaResponseError(errorCode, detail);
}

/** Whether retrying the same request later may succeed: Kafka's retriable errors and the client's transient ones. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof KafkaResponseError) return error.retriable;
  if (error instanceof ClientError) return error.code === "CONNECTION_CLOSED" || error.code === "CONNECTION_FAILED";
  return false;
}
