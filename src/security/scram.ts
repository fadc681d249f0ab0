// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's ScramSaslServer serves them.
//
// Credentials are what Kafka keeps (ScramCredential): a salt, the iteration count, StoredKey =
// H(HMAC(SaltedPassword, "Client Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"); the
// password itself is never stored. AlterUserScramCredentials brings the salted password (the
// client computes Hi()), from which `credentialOf` derives the two keys.
//
// The exchange, one object per authentication:
//   client-first  "n,[a=authzid],n=<user>,r=<client nonce>[,extensions]"
//   server-first  "r=<client nonce><server nonce>,s=<salt b64>,i=<iterations>"
//   client-final  "c=<b64 of the GS2 header>,r=<the combined nonce>,p=<proof b64>"
//   server-final  "v=<server signature b64>"
// Every failure — unknown user, wrong proof, a nonce that is not this exchange's (a replayed
// client-final), a malformed message — is a ScramError; the SASL layer answers all of them with
// Kafka's one message, so a client cannot tell an unknown user from a wrong password.
//
// ScramClient is the other side, for this broker's own connections to the others (inter-broker
// SASL, src/client/sasl.ts): it also checks the server's signature, so a broker that does not
// hold the credential cannot pass for one that does.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ["SCRAM-SHA-256", "SCRAM-SHA-512"];

/** Kafka's ScramMechanism type codes (DescribeUserScramCredentials / AlterUserScramCredentials). */
export const SCRAM_MECHANISM_CODES: Readonly<Record<ScramMechanism, number>> = { "SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2 };

export function scramMechanismOfCode(code: number): ScramMechanism | null {
  return code === 1 ? "SCRAM-SHA-256" : code === 2 ? "SCRAM-SHA-512" : null;
}

/** Kafka's bounds on iterations (ScramMechanism.minIterations, and the 16384 cap of AlterUserScramCredentials). */
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 16384;

export interface ScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

function hashName(mechanism: ScramMechanism): "sha256" | "sha512" {
  return mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
}

function hmac(mechanism: ScramMechanism, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(hashName(mechanism), key).update(text).digest();
}

/** The stored credential for a salted password (what AlterUserScramCredentials sends). */
export function credentialOf(mechanism: ScramMechanism, salt: Buffer, saltedPassword: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(mechanism, saltedPassword, "Client Key");
  return {
    salt,
    iterations,
    storedKey: createHash(hashName(mechanism)).update(clientKey).digest(),
    serverKey: hmac(mechanism, saltedPassword, "Server Key"),
  };
}

export class ScramError extends Error {}

/** RFC 5802's saslname: "=2C" is ",", "=3D" is "="; any other "=" is malformed. */
function decodeSaslName(text: string): string {
  if (/=(?!2C|3D)/.test(text)) throw new ScramError("invalid username encoding");
  return text.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(",")) {
    const at = part.indexOf("=");
    if (at !== 1) throw new ScramError(`malformed SCRAM attribute '${part}'`);
    map.set(part[0], part.slice(2));
  }
  return map;
}

/** Kafka's ScramFormatter.secureRandomString(): a random 130-bit number in base 36 (0-9a-z). */
function kafkaNonce(): string {
  const bytes = randomBytes(17);
  bytes[0] &= 0x03; // 130 bits
  return BigInt(`0x${bytes.toString("hex")}`).toString(36);
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/** One SCRAM authentication on the server side. */
export class ScramServer {
  readonly mechanism: ScramMechanism;
  readonly #lookup: (user: string) => ScramCredential | undefined;
  #state: "first" | "final" | "done" = "first";
  #user = "";
  #credential: ScramCredential | undefined;
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";

  readonly #serverNonce: () => string;

  /** `serverNonce` makes the server's part of the nonce (Kafka's form by default; tests pass RFC vectors). */
  constructor(mechanism: ScramMechanism, lookup: (user: string) => ScramCredential | undefined, serverNonce = kafkaNonce) {
    this.mechanism = mechanism;
    this.#lookup = lookup;
    this.#serverNonce = serverNonce;
  }

  /** The authenticated user, once `evaluate` completed. */
  get user(): string {
    return this.#user;
  }

  get complete(): boolean {
    return this.#state === "done";
  }

  /** The next server message for a client message; throws ScramError on any failure. */
  evaluate(message: Buffer): Buffer {
    const text = message.toString("utf8");
    if (this.#state === "first") return Buffer.from(this.#first(text), "utf8");
    if (this.#state === "final") return Buffer.from(this.#final(text), "utf8");
    throw new ScramError("SCRAM exchange already complete");
  }

  #first(text: string): string {
    // gs2-header: "n," or "y," (no channel binding), then an optional "a=authzid", then ",".
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
    if (match === null) throw new ScramError("invalid client-first message");
    this.#gs2Header = `${match[1]},${match[2] ?? ""},`;
    this.#clientFirstBare = match[3];
    const fields = match[3].split(",");
    const user = fields[0]?.startsWith("n=") ? decodeSaslName(fields[0].slice(2)) : null;
    const clientNonce = fields[1]?.startsWith("r=") ? fields[1].slice(2) : null;
    if (user === null || user === "" || clientNonce === null || !PRINTABLE_NONCE.test(clientNonce)) throw new ScramError("invalid client-first message");
    const authzid = match[2]?.slice(2);
    if (authzid !== undefined && authzid !== "" && decodeSaslName(authzid) !== user) throw new ScramError("authorization id differs from the user name");
    this.#user = user;
    this.#credential = this.#lookup(user);
    // An unknown user gets a first message like any other (a random salt) and fails at the proof.
    const salt = this.#credential?.salt ?? randomBytes(16);
    const iterations = this.#credential?.iterations ?? SCRAM_MIN_ITERATIONS;
    this.#nonce = clientNonce + this.#serverNonce();
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString("base64")},i=${iterations}`;
    this.#state = "final";
    return this.#serverFirst;
  }

  #final(text: string): string {
    const proofAt = text.lastIndexOf(",p=");
    if (proofAt < 0) throw new ScramError("invalid client-final message");
    const withoutProof = text.slice(0, proofAt);
    const fields = attributes(text);
    if (fields.get("c") !== Buffer.from(this.#gs2Header, "utf8").toString("base64")) throw new ScramError("invalid channel binding");
    // Kafka checks that the nonce ends with this exchange's (ScramSaslServer), not equality:
    // librdkafka 2.0 sends the client nonce twice, and Kafka accepts it.
    if (!(fields.get("r") ?? "").endsWith(this.#nonce)) throw new ScramError("Invalid client nonce in the final client message.");
    const proof = Buffer.from(fields.get("p") ?? "", "base64");
    const credential = this.#credential;
    if (credential === undefined) throw new ScramError("unknown user");
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw new ScramError("invalid proof");
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const computed = createHash(hashName(this.mechanism)).update(clientKey).digest();
    if (!timingSafeEqual(computed, credential.storedKey)) throw new ScramError("invalid proof");
    this.#state = "done";
    return `v=${hmac(this.mechanism, credential.serverKey, authMessage).toString("base64")}`;
  }
}

/** RFC 5802's saslname of a user name: "," is "=2C", "=" is "=3D". */
function encodeSaslName(name: string): string {
  return name.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

/** One SCRAM authentication on the client side: first() → the server's first → final(…) → the server's final → verify(…). */
export class ScramClient {
  readonly mechanism: ScramMechanism;
  readonly #user: string;
  readonly #password: string;
  readonly #clientNonce: string;
  #clientFirstBare = "";
  #expectedServerSignature: Buffer | null = null;

  /** `clientNonce` for tests (RFC vectors); Kafka's form by default. */
  constructor(mechanism: ScramMechanism, user: string, password: string, clientNonce = kafkaNonce()) {
    this.mechanism = mechanism;
    this.#user = user;
    this.#password = password;
    this.#clientNonce = clientNonce;
  }

  /** client-first: "n,,n=<user>,r=<nonce>". */
  first(): Buffer {
    this.#clientFirstBare = `n=${encodeSaslName(this.#user)},r=${this.#clientNonce}`;
    return Buffer.from(`n,,${this.#clientFirstBare}`, "utf8");
  }

  /** client-final for the server's first message; Hi() runs off the JS thread (libuv's pool). */
  async final(serverFirstBytes: Buffer): Promise<Buffer> {
    const serverFirst = serverFirstBytes.toString("utf8");
    const fields = attributes(serverFirst);
    const nonce = fields.get("r") ?? "";
    const salt = Buffer.from(fields.get("s") ?? "", "base64");
    const iterations = Number(fields.get("i"));
    if (!nonce.startsWith(this.#clientNonce) || nonce.length === this.#clientNonce.length)
      throw new ScramError("Invalid server nonce: does not start with client nonce");
    if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS)
      throw new ScramError(`Requested iterations ${fields.get("i")} is less than the minimum ${SCRAM_MIN_ITERATIONS} for ${this.mechanism}`);
    const hash = hashName(this.mechanism);
    const salted = await pbkdf2Async(Buffer.from(this.#password, "utf8"), salt, iterations, hash === "sha256" ? 32 : 64, hash);
    const clientKey = hmac(this.mechanism, salted, "Client Key");
    const storedKey = createHash(hash).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from("n,,", "utf8").toString("base64")},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.mechanism, storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ clientSignature[i];
    this.#expectedServerSignature = hmac(this.mechanism, hmac(this.mechanism, salted, "Server Key"), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`, "utf8");
  }

  /** Checks the server's final message: its signature proves it holds this user's credential. */
  verify(serverFinalBytes: Buffer): void {
    const fields = attributes(serverFinalBytes.toString("utf8"));
    const error = fields.get("e");
    if (error !== undefined) throw new ScramError(`Sasl authentication using ${this.mechanism} failed with error: ${error}`);
    const signature = Buffer.from(fields.get("v") ?? "", "base64");
    const expected = this.#expectedServerSignature;
    if (expected === null || signature.length !== expected.length || !timingSafeEqual(signature, expected))
      throw new ScramError("Invalid server signature in server final message");
  }
}
