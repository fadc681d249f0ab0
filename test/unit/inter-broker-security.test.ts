// Inter-broker security without a network: the SCRAM client against RFC 7677's example and against
// Sluice's own SCRAM server, the client's SASL exchange (src/client/sasl.ts) against the broker's
// SaslSession, and how the inter-broker listener and its TLS / SASL settings are read from Kafka's
// keys (src/security/inter-broker.ts).

import { pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KafkaResponseError } from "../../src/client/errors.js";
import { authenticate, type SaslCredentials, type SaslRequest } from "../../src/client/sasl.js";
import { ConfigError, loadBrokerConfig } from "../../src/config/index.js";
import { interBrokerSecurity } from "../../src/security/inter-broker.js";
import { SaslAuthenticationError, SaslSession } from "../../src/security/sasl.js";
import { credentialOf, ScramClient, ScramError, type ScramMechanism, ScramServer } from "../../src/security/scram.js";

function credentialFor(mechanism: ScramMechanism, password: string) {
  const salt = Buffer.from("0123456789abcdef");
  const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
  return credentialOf(mechanism, salt, pbkdf2Sync(password, salt, 4096, hash === "sha256" ? 32 : 64, hash), 4096);
}

describe("the SCRAM client", () => {
  it("sends RFC 7677's SCRAM-SHA-256 example messages exactly and checks the server's signature", async () => {
    const client = new ScramClient("SCRAM-SHA-256", "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    expect(client.first().toString()).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const final = await client.final(Buffer.from("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
    expect(final.toString()).toBe("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    expect(() => client.verify(Buffer.from("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))).not.toThrow();
    expect(() => client.verify(Buffer.from("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))).toThrow(ScramError);
    expect(() => client.verify(Buffer.from("e=invalid-proof"))).toThrow("invalid-proof");
  });

  it("authenticates to Sluice's SCRAM-SHA-512 server; a wrong password is refused by the server", async () => {
    const credential = credentialFor("SCRAM-SHA-512", "secret");
    for (const [password, accepted] of [
      ["secret", true],
      ["wrong", false],
    ] as const) {
      const server = new ScramServer("SCRAM-SHA-512", (user) => (user === "broker" ? credential : undefined));
      const client = new ScramClient("SCRAM-SHA-512", "broker", password);
      const serverFirst = server.evaluate(client.first());
      const clientFinal = await client.final(serverFirst);
      if (!accepted) {
        expect(() => server.evaluate(clientFinal)).toThrow(ScramError);
        continue;
      }
      client.verify(server.evaluate(clientFinal));
      expect(server.user).toBe("broker");
    }
  });

  it("refuses a server nonce that is not its own plus more, and fewer than 4096 iterations", async () => {
    const client = new ScramClient("SCRAM-SHA-256", "user", "pencil", "abc");
    client.first();
    await expect(client.final(Buffer.from("r=xyz123,s=AAAA,i=4096"))).rejects.toThrow(ScramError);
    await expect(client.final(Buffer.from("r=abc,s=AAAA,i=4096"))).rejects.toThrow(ScramError);
    await expect(client.final(Buffer.from("r=abc123,s=AAAA,i=1000"))).rejects.toThrow("less than the minimum 4096");
  });
});

/** The broker's side of SaslHandshake and SaslAuthenticate over one SaslSession, as requests. */
function brokerSession(reauthMs: number, nowMs: () => number): { request: SaslRequest; session: SaslSession } {
  const credential = credentialFor("SCRAM-SHA-512", "scram-secret");
  const session = new SaslSession({ listener: "BROKER", mechanisms: ["PLAIN", "SCRAM-SHA-512"], plainUsers: new Map([["broker", "plain-secret"]]) });
  const lookup = {
    scramCredential: (user: string, mechanism: ScramMechanism) => (user === "broker" && mechanism === "SCRAM-SHA-512" ? credential : undefined),
  };
  const request = async (apiKey: number, body: object): Promise<never> => {
    if (apiKey === 17) {
      const ok = session.handshake((body as { mechanism: string }).mechanism);
      return { errorCode: ok ? 0 : 33, mechanisms: session.settings.mechanisms } as never;
    }
    try {
      const answer = await session.authenticate((body as { authBytes: Buffer }).authBytes, lookup, reauthMs, nowMs());
      return { errorCode: 0, errorMessage: null, authBytes: answer.bytes, sessionLifetimeMs: BigInt(answer.complete ? reauthMs : 0) } as never;
    } catch (error) {
      if (!(error instanceof SaslAuthenticationError)) throw error;
      return { errorCode: 58, errorMessage: error.message, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n } as never;
    }
  };
  return { request: request as SaslRequest, session };
}

describe("the client's SASL exchange against the broker's SaslSession", () => {
  const now = () => 10_000;

  it("PLAIN and SCRAM-SHA-512 authenticate as the broker's user; without a session lifetime there is no re-authentication", async () => {
    for (const credentials of [
      { mechanism: "PLAIN", username: "broker", password: "plain-secret" },
      { mechanism: "SCRAM-SHA-512", username: "broker", password: "scram-secret" },
    ] satisfies SaslCredentials[]) {
      const { request, session } = brokerSession(0, now);
      expect(await authenticate(request, credentials, now)).toBeNull();
      expect(session.principal).toBe("User:broker");
    }
  });

  it("a session lifetime (KIP-368) brings re-authentication at 85-95% of it, which the broker accepts as the same principal", async () => {
    const { request, session } = brokerSession(100_000, now);
    const credentials: SaslCredentials = { mechanism: "SCRAM-SHA-512", username: "broker", password: "scram-secret" };
    const due = (await authenticate(request, credentials, now)) as number;
    expect(due).toBeGreaterThanOrEqual(10_000 + 85_000);
    expect(due).toBeLessThanOrEqual(10_000 + 95_000);
    expect(await authenticate(request, credentials, now)).not.toBeNull();
    expect(session.authenticated).toBe(true);
  });

  it("a wrong password is the broker's SASL_AUTHENTICATION_FAILED; a mechanism it does not enable is UNSUPPORTED_SASL_MECHANISM", async () => {
    const wrong = authenticate(brokerSession(0, now).request, { mechanism: "PLAIN", username: "broker", password: "nope" }, now);
    await expect(wrong).rejects.toThrow(new KafkaResponseError(58, "Authentication failed: Invalid username or password"));
    const scram = authenticate(brokerSession(0, now).request, { mechanism: "SCRAM-SHA-512", username: "broker", password: "nope" }, now);
    await expect(scram).rejects.toThrow(/SASL_AUTHENTICATION_FAILED/);
    const unsupported = authenticate(brokerSession(0, now).request, { mechanism: "SCRAM-SHA-256", username: "broker", password: "x" }, now);
    await expect(unsupported).rejects.toThrow(/UNSUPPORTED_SASL_MECHANISM: Unsupported SASL mechanism SCRAM-SHA-256: the broker enables PLAIN, SCRAM-SHA-512/);
  });
});

describe("the inter-broker listener and its security", () => {
  const base = ["node.id=1", "log.dirs=/tmp/unused", "metadata.store=etcd://127.0.0.1:2379"];
  const config = (...overrides: string[]) => loadBrokerConfig({ overrides: [...base, ...overrides] }).config;
  const brokerListener = [
    "listeners=PLAINTEXT://:9092,BROKER://:9093",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,BROKER:SASL_PLAINTEXT",
    "listener.name.broker.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
  ];
  const plainJaas =
    'listener.name.broker.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="b-secret" user_broker="b-secret";';

  it("is the PLAINTEXT listener by default, else the one inter.broker.listener.name names; not both keys", () => {
    const plain = interBrokerSecurity(config(...brokerListener));
    expect([plain.listener, plain.securityProtocol, plain.tls(), plain.sasl]).toEqual(["PLAINTEXT", "PLAINTEXT", null, null]);
    const named = interBrokerSecurity(config(...brokerListener, "inter.broker.listener.name=broker", "sasl.mechanism.inter.broker.protocol=PLAIN", plainJaas));
    expect([named.listener, named.securityProtocol]).toEqual(["BROKER", "SASL_PLAINTEXT"]);
    expect(named.sasl).toEqual({ mechanism: "PLAIN", username: "broker", password: "b-secret" });
    expect(() => interBrokerSecurity(config(...brokerListener, "inter.broker.listener.name=BROKER", "security.inter.broker.protocol=PLAINTEXT"))).toThrow(
      "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.",
    );
    expect(() => interBrokerSecurity(config(...brokerListener, "inter.broker.listener.name=OTHER"))).toThrow(/must be a listener name defined/);
    expect(() => interBrokerSecurity(config(...brokerListener, "security.inter.broker.protocol=SSL"))).toThrow(/needs a listener named SSL/);
  });

  it("SASL: GSSAPI (Kafka's default) and mechanisms the listener does not enable are refused; credentials come from the mechanism's JAAS entry", () => {
    const sasl = [...brokerListener, "inter.broker.listener.name=BROKER"];
    const error = (...more: string[]) => {
      try {
        interBrokerSecurity(config(...sasl, ...more));
      } catch (caught) {
        expect(caught).toBeInstanceOf(ConfigError);
        return (caught as Error).message;
      }
      throw new Error("accepted");
    };
    expect(error()).toBe("SASL mechanism GSSAPI is not supported for inter-broker connections (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
    expect(error("sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256")).toBe(
      "sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms when SASL is used for inter-broker communication",
    );
    expect(error("sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512")).toMatch(
      /needs the broker's username and password in listener.name.broker.scram-sha-512/,
    );
    expect(
      error(
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=broker;",
      ),
    ).toMatch(/needs username and password options/);
    const scram = interBrokerSecurity(
      config(
        ...sasl,
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        'listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="s-secret";',
      ),
    );
    expect(scram.sasl).toEqual({ mechanism: "SCRAM-SHA-512", username: "broker", password: "s-secret" });
  });

  it("SSL needs a truststore; ssl.endpoint.identification.algorithm is https unless set empty", () => {
    const ssl = [
      "listeners=PLAINTEXT://:9092,BROKER://:9093",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,BROKER:SSL",
      "inter.broker.listener.name=BROKER",
      "listener.name.broker.ssl.keystore.type=PEM",
      `listener.name.broker.ssl.keystore.certificate.chain=${testCertificate}`,
      `listener.name.broker.ssl.keystore.key=${testKey}`,
    ];
    expect(() => interBrokerSecurity(config(...ssl))).toThrow(/needs a truststore/);
    const trusted = [...ssl, "listener.name.broker.ssl.truststore.type=PEM", `listener.name.broker.ssl.truststore.certificates=${testCertificate}`];
    const verifying = interBrokerSecurity(config(...trusted)).tls();
    expect(verifying?.verifyHostname).toBe(true);
    expect(verifying?.certificateChainPem).toContain("BEGIN CERTIFICATE");
    expect(verifying?.privateKeyPem).toContain("BEGIN PRIVATE KEY");
    expect(interBrokerSecurity(config(...trusted, "listener.name.broker.ssl.endpoint.identification.algorithm=")).tls()?.verifyHostname).toBe(false);
    expect(interBrokerSecurity(config(...trusted, "ssl.endpoint.identification.algorithm=")).tls()?.verifyHostname).toBe(false);
    expect(() => interBrokerSecurity(config(...trusted, "ssl.endpoint.identification.algorithm=ldaps"))).toThrow(/Unsupported/);
  });
});

// A self-signed EC certificate and its key (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost).
const testCertificate = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUCIVQU7d3VOeUNP68H12omhrxJqcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNTE4NTYyM1oYDzIxMjYxMTEx
MTg1NjIzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARzD1CfiZTmwwbJRz74rzW+0oojK3T6pmF41q6+fi30Mr6pO7fMbPiG
hyL+Bo+bZgbL9up+v0DDoT0iaHVdvF7Vo1MwUTAdBgNVHQ4EFgQUjSHn8ehROA5k
jI6v50rrqvJpHQAwHwYDVR0jBBgwFoAUjSHn8ehROA5kjI6v50rrqvJpHQAwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAb9Ec1WM1yztV7ztxujJ+n
tK8AsWIGC9Qo40dJU7fJ/QIhANdib/aUTrWvKiNqgXbY1iwrPrQ/ydRNjmnIZ3Al
MYa3
-----END CERTIFICATE-----`;
const testKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKZWNjwXx4fD7MUCV
FN3yzOeLsGIQ5AQqT+YqQsYkk7GhRANCAARzD1CfiZTmwwbJRz74rzW+0oojK3T6
pmF41q6+fi30Mr6pO7fMbPiGhyL+Bo+bZgbL9up+v0DDoT0iaHVdvF7V
-----END PRIVATE KEY-----`;
