// SASL pieces without a network: SCRAM against RFC 7677's SCRAM-SHA-256 example (and a
// SCRAM-SHA-512 exchange computed the RFC's way), PLAIN as Kafka's PlainSaslServer answers it,
// the JAAS syntax of sasl.jaas.config, and what a connection may send before authenticating.

import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ConfigError, loadBrokerConfig } from "../../src/config/index.js";
import { parseJaasConfig, plainUsers } from "../../src/security/jaas.js";
import { bearerToken, OAuthTokenError } from "../../src/security/oauthbearer.js";
import { SaslAuthenticationError, type SaslListener, SaslSession, saslListeners } from "../../src/security/sasl.js";
import { credentialOf, ScramError, type ScramMechanism, ScramServer } from "../../src/security/scram.js";

describe("SCRAM", () => {
  it("answers RFC 7677's SCRAM-SHA-256 example exactly", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const salted = pbkdf2Sync("pencil", salt, 4096, 32, "sha256");
    const credential = credentialOf("SCRAM-SHA-256", salt, salted, 4096);
    const server = new ScramServer(
      "SCRAM-SHA-256",
      (user) => (user === "user" ? credential : undefined),
      () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    );
    const first = server.evaluate(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")).toString();
    expect(first).toBe("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    const final = server
      .evaluate(Buffer.from("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
      .toString();
    expect(final).toBe("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    expect(server.complete).toBe(true);
    expect(server.user).toBe("user");
  });

  /** A client's final message for `password`, computed as RFC 5802 says. */
  function clientFinal(mechanism: ScramMechanism, password: string, clientFirstBare: string, serverFirst: string): string {
    const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
    const fields = new Map(serverFirst.split(",").map((f) => [f[0], f.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(fields.get("s") as string, "base64"), Number(fields.get("i")), hash === "sha256" ? 32 : 64, hash);
    const clientKey = createHmac(hash, salted).update("Client Key").digest();
    const storedKey = createHash(hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${fields.get("r")}`;
    const signature = createHmac(hash, storedKey).update(`${clientFirstBare},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  function credentialFor(mechanism: ScramMechanism, password: string) {
    const salt = Buffer.from("0123456789abcdef");
    const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
    return credentialOf(mechanism, salt, pbkdf2Sync(password, salt, 4096, hash === "sha256" ? 32 : 64, hash), 4096);
  }

  it("SCRAM-SHA-512: the right password authenticates, a wrong one, an unknown user and a replayed final message do not", () => {
    const credential = credentialFor("SCRAM-SHA-512", "secret");
    const lookup = (user: string) => (user === "alice" ? credential : undefined);
    const good = new ScramServer("SCRAM-SHA-512", lookup);
    const serverFirst = good.evaluate(Buffer.from("n,,n=alice,r=abc123")).toString();
    const final = clientFinal("SCRAM-SHA-512", "secret", "n=alice,r=abc123", serverFirst);
    expect(good.evaluate(Buffer.from(final)).toString()).toMatch(/^v=/);

    const wrong = new ScramServer("SCRAM-SHA-512", lookup);
    const wrongFirst = wrong.evaluate(Buffer.from("n,,n=alice,r=abc123")).toString();
    expect(() => wrong.evaluate(Buffer.from(clientFinal("SCRAM-SHA-512", "guess", "n=alice,r=abc123", wrongFirst)))).toThrow(ScramError);

    const unknown = new ScramServer("SCRAM-SHA-512", lookup);
    const unknownFirst = unknown.evaluate(Buffer.from("n,,n=mallory,r=abc123")).toString();
    expect(unknownFirst).toMatch(/^r=abc123.+,s=.+,i=4096$/);
    expect(() => unknown.evaluate(Buffer.from(clientFinal("SCRAM-SHA-512", "secret", "n=mallory,r=abc123", unknownFirst)))).toThrow(ScramError);

    // The first exchange's final message, replayed in a new exchange: its nonce is not this one's.
    const replay = new ScramServer("SCRAM-SHA-512", lookup);
    replay.evaluate(Buffer.from("n,,n=alice,r=abc123"));
    expect(() => replay.evaluate(Buffer.from(final))).toThrow("Invalid client nonce in the final client message.");
  });

  it("refuses malformed messages and an authorization id that is not the user", () => {
    const lookup = () => credentialFor("SCRAM-SHA-256", "x");
    for (const bad of ["", "n,,", "p=tls-unique,,n=a,r=b", "n,,n=,r=abc", "n,,n=a=b,r=abc", "n,,r=abc"]) {
      expect(() => new ScramServer("SCRAM-SHA-256", lookup).evaluate(Buffer.from(bad)), bad).toThrow(ScramError);
    }
    expect(() => new ScramServer("SCRAM-SHA-256", lookup).evaluate(Buffer.from("n,a=bob,n=alice,r=abc"))).toThrow(ScramError);
    expect(new ScramServer("SCRAM-SHA-256", lookup).evaluate(Buffer.from("n,a=alice,n=alice,r=abc")).toString()).toMatch(/^r=abc/);
    const server = new ScramServer("SCRAM-SHA-256", lookup);
    server.evaluate(Buffer.from("n,,n=a,r=abc"));
    expect(() => server.evaluate(Buffer.from("c=biws,r=abc,p=AAAA"))).toThrow(ScramError);
  });
});

describe("sasl.jaas.config", () => {
  it("reads PlainLoginModule users, quoted and bare values, several modules", () => {
    const modules = parseJaasConfig(
      "k",
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="a\\"b" user_bob=bare;',
    );
    expect(modules).toHaveLength(1);
    expect(modules[0].flag).toBe("required");
    expect([...plainUsers(modules)]).toEqual([
      ["admin", "admin-secret"],
      ["alice", 'a"b'],
      ["bob", "bare"],
    ]);
    expect(parseJaasConfig("k", "A required; B optional x=1;").map((m) => m.loginModule)).toEqual(["A", "B"]);
  });

  it("refuses what Kafka refuses", () => {
    for (const bad of ["", "Module", "Module required", "Module sometimes;", 'Module required a="x;', "Module required a=;"]) {
      expect(() => parseJaasConfig("k", bad), bad).toThrow(ConfigError);
    }
  });
});

describe("a SASL connection", () => {
  const settings = { listener: "SASL_PLAINTEXT", mechanisms: ["PLAIN", "SCRAM-SHA-256"], plainUsers: new Map([["alice", "alice-secret"]]) };
  const noCredentials = { scramCredential: () => undefined };

  it("serves only ApiVersions and SaslHandshake first, then SaslAuthenticate, then everything", async () => {
    const session = new SaslSession(settings);
    expect(session.refusal(18, 0)).toBeNull();
    expect(session.refusal(17, 0)).toBeNull();
    expect(session.refusal(3, 0)).toBe("Unexpected Kafka request of type 3 during SASL handshake.");
    expect(session.handshake("PLAIN")).toBe(true);
    expect(session.refusal(36, 0)).toBeNull();
    expect(session.refusal(0, 0)).not.toBeNull();
    const answer = await session.authenticate(Buffer.from("\u0000alice\u0000alice-secret"), noCredentials, 0, 0);
    expect(answer.complete).toBe(true);
    expect(session.principal).toBe("User:alice");
    expect(session.refusal(0, 0)).toBeNull();
  });

  it("answers Kafka's PLAIN messages and fails the connection", async () => {
    const cases: [string, string][] = [
      ["\u0000alice\u0000wrong", "Authentication failed: Invalid username or password"],
      ["\u0000nobody\u0000x", "Authentication failed: Invalid username or password"],
      ["\u0000\u0000x", "Authentication failed: username not specified"],
      ["\u0000alice\u0000", "Authentication failed: password not specified"],
      ["bob\u0000alice\u0000alice-secret", "Authentication failed: Client requested an authorization id that is different from username"],
    ];
    for (const [bytes, message] of cases) {
      const session = new SaslSession(settings);
      session.handshake("PLAIN");
      await expect(session.authenticate(Buffer.from(bytes), noCredentials, 0, 0)).rejects.toThrow(new SaslAuthenticationError(message));
      expect(session.failed).toBe(true);
      expect(session.refusal(18, 0)).not.toBeNull();
    }
  });

  it("an unknown mechanism fails the handshake; KIP-368 sessions expire and re-authenticate as the same principal", async () => {
    const refused = new SaslSession(settings);
    expect(refused.handshake("SCRAM-SHA-512")).toBe(false);
    expect(refused.failed).toBe(true);

    const session = new SaslSession(settings);
    session.handshake("PLAIN");
    await session.authenticate(Buffer.from("\u0000alice\u0000alice-secret"), noCredentials, 1000, 5000);
    expect(session.expiresAtMs).toBe(6000);
    expect(session.refusal(0, 5999)).toBeNull();
    expect(session.refusal(0, 6000)).toBe("the SASL session expired without re-authentication");
    expect(session.refusal(17, 6000)).toBeNull();
    expect(session.handshake("PLAIN")).toBe(true);
    await session.authenticate(Buffer.from("\u0000alice\u0000alice-secret"), noCredentials, 1000, 6500);
    expect(session.expiresAtMs).toBe(7500);
  });
});

describe("OAUTHBEARER", () => {
  const unsigned = (claims: Record<string, unknown>) =>
    `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
  const message = (token: string, extensions = "") => Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001${extensions}\u0001`);
  const config = (values: Record<string, string>) =>
    loadBrokerConfig({
      defaults: {},
      overrides: Object.entries({
        "node.id": "1",
        "process.roles": "broker,controller",
        "controller.listener.names": "CONTROLLER",
        listeners: "OAUTH://127.0.0.1:0",
        "listener.security.protocol.map": "OAUTH:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.oauth.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        ...values,
      }).map(([k, v]) => `${k}=${v}`),
    }).config;

  it("reads the bearer token and extensions of the client's message and refuses malformed ones", () => {
    expect(bearerToken(message("abc.def.", "traceId=1\u0001"))).toEqual({ token: "abc.def.", authzid: null });
    expect(bearerToken(Buffer.from("n,a=alice,\u0001auth=Bearer t\u0001\u0001"))).toEqual({ token: "t", authzid: "alice" });
    for (const bad of ["", "n,,auth=Bearer t", "n,,\u0001auth=Basic t\u0001\u0001", "n,,\u0001host=x\u0001\u0001"]) {
      expect(() => bearerToken(Buffer.from(bad)), bad).toThrow(OAuthTokenError);
    }
  });

  it("unsecured tokens (Kafka's development validator): principal from sub, exp required and checked", async () => {
    const session = new SaslSession(saslListeners(config({})).get("OAUTH") as SaslListener);
    session.handshake("OAUTHBEARER");
    const nowMs = 1_800_000_000_000;
    const good = await session.authenticate(message(unsigned({ sub: "dev", exp: nowMs / 1000 + 60 })), { scramCredential: () => undefined }, 600_000, nowMs);
    expect(good.complete).toBe(true);
    expect(session.principal).toBe("User:dev");
    expect(session.expiresAtMs).toBe(nowMs + 60_000); // the token's expiry comes before connections.max.reauth.ms

    for (const claims of [{ sub: "dev" }, { sub: "dev", exp: nowMs / 1000 - 1 }, { exp: nowMs / 1000 + 60 }]) {
      const refused = new SaslSession(saslListeners(config({})).get("OAUTH") as SaslListener);
      refused.handshake("OAUTHBEARER");
      const challenge = await refused.authenticate(message(unsigned(claims)), { scramCredential: () => undefined }, 0, nowMs);
      expect(challenge).toEqual({ bytes: Buffer.from('{"status":"invalid_token"}'), complete: false });
      await expect(refused.authenticate(Buffer.from("\u0001"), { scramCredential: () => undefined }, 0, nowMs)).rejects.toThrow('{"status":"invalid_token"}');
    }
  });

  it("signed tokens against a JWKS file: signature, audience, issuer and expiry", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-jwks-"));
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    writeFileSync(join(directory, "jwks.json"), JSON.stringify({ keys: [jwk] }));
    const listener = saslListeners(
      config({
        "listener.name.oauth.oauthbearer.sasl.server.callback.handler.class":
          "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        "sasl.oauthbearer.jwks.endpoint.url": `file://${join(directory, "jwks.json")}`,
        "sasl.oauthbearer.expected.audience": "sluice",
        "sasl.oauthbearer.expected.issuer": "https://issuer.test",
      }),
    ).get("OAUTH") as SaslListener;
    const sign = (claims: Record<string, unknown>, key = privateKey) =>
      new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuedAt().setExpirationTime("1h").sign(key);
    const attempt = async (token: string) => {
      const session = new SaslSession(listener);
      session.handshake("OAUTHBEARER");
      const answer = await session.authenticate(message(token), { scramCredential: () => undefined }, 0, Date.now());
      return answer.complete ? session.principal : null;
    };
    expect(await attempt(await sign({ sub: "carol", aud: "sluice", iss: "https://issuer.test" }))).toBe("User:carol");
    expect(await attempt(await sign({ sub: "carol", aud: "other", iss: "https://issuer.test" }))).toBeNull();
    expect(await attempt(await sign({ sub: "carol", aud: "sluice", iss: "https://evil.test" }))).toBeNull();
    const stranger = await generateKeyPair("RS256");
    expect(await attempt(await sign({ sub: "carol", aud: "sluice", iss: "https://issuer.test" }, stranger.privateKey))).toBeNull();
    expect(await attempt(unsigned({ sub: "carol", aud: "sluice", iss: "https://issuer.test", exp: Date.now() / 1000 + 60 }))).toBeNull();
    rmSync(directory, { recursive: true, force: true });
  });
});
