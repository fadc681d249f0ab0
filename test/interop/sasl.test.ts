// SASL_PLAINTEXT with Kafka's own clients and tools against the real broker: a PLAINTEXT listener
// and a SASL_PLAINTEXT one (PLAIN users from its JAAS config, SCRAM credentials made with
// kafka-configs.sh), then the Java producer and consumer, kcat and kafkajs authenticating with
// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; wrong passwords refused with Kafka's messages; and, at
// the protocol level, nothing served before authentication, UNSUPPORTED_SASL_MECHANISM, and
// KIP-368 session lifetimes (Java clients re-authenticate on their own meanwhile).

import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { Kafka, logLevel, type SASLOptions } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.js";
import { run } from "../helpers/cli.js";
import { TestClient } from "../helpers/client.js";
import { freePort, produceWithJava, runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const kcatInstalled = spawnSync("kcat", ["-V"], { encoding: "utf8" }).status === 0;
const REAUTH_MS = 4000;

let broker: SluiceBroker;
let saslPort: number;
let unsecuredPort: number;
let jwtPort: number;
let tools: ToolSession;
let oauthDir: string;
/** A signed JWT (RS256, sub "carol", aud "sluice") the JWT listener's JWKS file verifies; its path. */
let signedToken: string;
let signedTokenFile: string;

const jaas = (user: string, password: string, module = "org.apache.kafka.common.security.plain.PlainLoginModule") =>
  `${module} required username="${user}" password="${password}";`;
const SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule";

beforeAll(async () => {
  const plainPort = await freePort();
  saslPort = await freePort();
  unsecuredPort = await freePort();
  jwtPort = await freePort();
  oauthDir = await mkdtemp(join(tmpdir(), "sluice-oauth-"));
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  await writeFile(join(oauthDir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" }] }));
  signedToken = await new SignJWT({ sub: "carol", aud: "sluice", scope: "kafka" })
    .setProtectedHeader({ alg: "RS256", kid: "test-key" })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
  signedTokenFile = join(oauthDir, "token.jwt");
  await writeFile(signedTokenFile, signedToken);
  const oauthModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
  broker = await startSluice({
    port: plainPort,
    overrides: {
      listeners: `PLAINTEXT://127.0.0.1:${plainPort},SASL_PLAINTEXT://127.0.0.1:${saslPort},UNSECURED://127.0.0.1:${unsecuredPort},JWT://127.0.0.1:${jwtPort}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,UNSECURED:SASL_PLAINTEXT,JWT:SASL_PLAINTEXT",
      "listener.name.unsecured.sasl.enabled.mechanisms": "OAUTHBEARER",
      "listener.name.unsecured.oauthbearer.sasl.jaas.config": oauthModule,
      "listener.name.jwt.sasl.enabled.mechanisms": "OAUTHBEARER",
      "listener.name.jwt.oauthbearer.sasl.jaas.config": oauthModule,
      "listener.name.jwt.oauthbearer.sasl.server.callback.handler.class": "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
      "sasl.oauthbearer.jwks.endpoint.url": `file://${join(oauthDir, "jwks.json")}`,
      "sasl.oauthbearer.expected.audience": "sluice",
      "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
      "listener.name.sasl_plaintext.plain.sasl.jaas.config":
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";',
      "connections.max.reauth.ms": REAUTH_MS,
      "num.partitions": 1,
    },
  });
  tools = await ToolSession.start();
  const add = await tools.run("org.apache.kafka.tools.ConfigCommand", [
    "--bootstrap-server",
    broker.bootstrap,
    "--alter",
    "--add-config",
    "SCRAM-SHA-512=[iterations=8192,password=scram-secret],SCRAM-SHA-256=[password=scram-secret]",
    "--entity-type",
    "users",
    "--entity-name",
    "scram",
  ]);
  expect(add.code, add.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  tools?.close();
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (oauthDir) await rm(oauthDir, { recursive: true, force: true });
});

const saslBootstrap = () => `127.0.0.1:${saslPort}`;

describe("SASL_PLAINTEXT against Kafka's clients", () => {
  it("DescribeUserScramCredentials lists the credentials kafka-configs.sh made (iterations, never secrets)", async () => {
    const client = await TestClient.connect(broker.port);
    const described = await client.request<{ results: { user: string; errorCode: number; credentialInfos: { mechanism: number; iterations: number }[] }[] }>(
      50,
      0,
      { users: [{ name: "scram" }, { name: "nobody" }] },
    );
    client.close();
    expect(described.results).toEqual([
      {
        user: "scram",
        errorCode: 0,
        errorMessage: null,
        credentialInfos: [
          { mechanism: 1, iterations: 4096 },
          { mechanism: 2, iterations: 8192 },
        ],
      },
      {
        user: "nobody",
        errorCode: ErrorCode.RESOURCE_NOT_FOUND,
        errorMessage: "Attempt to describe a user credential that does not exist: nobody",
        credentialInfos: [],
      },
    ]);
  });

  it("the Java producer and consumer authenticate with PLAIN and SCRAM-SHA-512 and read back what they wrote", async () => {
    for (const [mechanism, config] of [
      ["PLAIN", jaas("alice", "alice-secret")],
      ["SCRAM-SHA-512", jaas("scram", "scram-secret", SCRAM_MODULE)],
    ] as const) {
      const topic = `java-${mechanism.toLowerCase()}`;
      const properties = { "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism, "sasl.jaas.config": config };
      const records = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `${mechanism}-${i}` }));
      await produceWithJava({ bootstrap: saslBootstrap(), topic, records, compression: "none", acks: "all", properties });
      const args = ["--bootstrap", saslBootstrap(), "--topic", topic, "--timeout-ms", "30000"];
      for (const [key, value] of Object.entries(properties)) args.push("--property", `${key}=${value}`);
      const consumed = await runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
      expect(consumed.code, consumed.stderr).toBe(0);
      const values = consumed.stdout
        .split("\n")
        .filter((line) => line.startsWith('{"partition"'))
        .map((line) => JSON.parse(line).value);
      expect(values).toEqual(records.map((r) => r.value));
    }
  }, 180_000);

  it("the Java producer with a wrong password fails with Kafka's message", async () => {
    for (const [mechanism, config, message] of [
      ["PLAIN", jaas("alice", "nope"), "Authentication failed: Invalid username or password"],
      [
        "SCRAM-SHA-512",
        jaas("scram", "nope", SCRAM_MODULE),
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
      ],
    ] as const) {
      const properties = { "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism, "sasl.jaas.config": config, "max.block.ms": 10_000 };
      const attempt = produceWithJava({ bootstrap: saslBootstrap(), topic: "refused", records: [{ key: "k", value: "v" }], compression: "none", properties });
      await expect(attempt).rejects.toThrow(message);
    }
  }, 120_000);

  it.skipIf(!kcatInstalled && !process.env.CI)(
    "kcat (librdkafka) produces and consumes with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, and is refused a wrong password",
    async () => {
      for (const [mechanism, user, password] of [
        ["PLAIN", "alice", "alice-secret"],
        ["SCRAM-SHA-256", "scram", "scram-secret"],
      ] as const) {
        const auth = [
          "-X",
          "security.protocol=SASL_PLAINTEXT",
          "-X",
          `sasl.mechanisms=${mechanism}`,
          "-X",
          `sasl.username=${user}`,
          "-X",
          `sasl.password=${password}`,
        ];
        const topic = `kcat-${mechanism.toLowerCase()}`;
        const produced = await run("kcat", ["-b", saslBootstrap(), ...auth, "-P", "-t", topic, "-K:"], "a:1\nb:2\nc:3\n");
        expect(produced.code, produced.stderr).toBe(0);
        const consumed = await run("kcat", ["-b", saslBootstrap(), ...auth, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\n"]);
        expect(consumed.code, consumed.stderr).toBe(0);
        expect(consumed.stdout.trim().split("\n")).toEqual(["a=1", "b=2", "c=3"]);
      }
      const refused = await run(
        "kcat",
        [
          "-b",
          saslBootstrap(),
          "-X",
          "security.protocol=SASL_PLAINTEXT",
          "-X",
          "sasl.mechanisms=PLAIN",
          "-X",
          "sasl.username=alice",
          "-X",
          "sasl.password=nope",
          "-L",
          "-m",
          "5",
        ],
        "",
        30_000,
      );
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("Authentication failed: Invalid username or password");
    },
    120_000,
  );

  it("kafkajs produces and consumes with PLAIN and SCRAM-SHA-512, and is refused a wrong password", async () => {
    const client = (sasl: SASLOptions) =>
      new Kafka({ brokers: [saslBootstrap()], clientId: "sasl-test", sasl, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    for (const sasl of [
      { mechanism: "plain", username: "alice", password: "alice-secret" },
      { mechanism: "scram-sha-512", username: "scram", password: "scram-secret" },
    ] as SASLOptions[]) {
      const kafka = client(sasl);
      const topic = `kafkajs-${sasl.mechanism}`;
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { key: "k1", value: "v1" },
          { key: "k2", value: "v2" },
        ],
      });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `g-${sasl.mechanism}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("kafkajs consumer timed out")), 30_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              seen.push(String(message.value));
              if (seen.length === 2) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      expect(seen).toEqual(["v1", "v2"]);
    }
    const wrong = client({ mechanism: "scram-sha-512", username: "scram", password: "nope" }).admin();
    await expect(wrong.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed|invalid credentials/);
  }, 120_000);
});

describe("SASL/OAUTHBEARER", () => {
  const javaRoundTrip = async (port: number, topic: string, properties: Record<string, string>, jvmArgs: string[] = []) => {
    const bootstrap = `127.0.0.1:${port}`;
    const records = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `${topic}-${i}` }));
    await produceWithJava({ bootstrap, topic, records, compression: "none", acks: "all", properties, jvmArgs });
    const args = ["--bootstrap", bootstrap, "--topic", topic, "--timeout-ms", "30000"];
    for (const [key, value] of Object.entries(properties)) args.push("--property", `${key}=${value}`);
    const consumed = await runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000, jvmArgs });
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split("\n").filter((line) => line.startsWith('{"partition"'))).toHaveLength(records.length);
  };

  it("the Java clients with an unsecured token (Kafka's development login) on the unsecured listener", async () => {
    await javaRoundTrip(unsecuredPort, "oauth-unsecured", {
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanism": "OAUTHBEARER",
      "sasl.jaas.config": 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="dev";',
    });
  }, 120_000);

  it("the Java clients with a signed JWT (read from a file, KIP-768) on the JWKS-checked listener; an unsecured token is refused there", async () => {
    await javaRoundTrip(
      jwtPort,
      "oauth-signed",
      {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.login.callback.handler.class": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        "sasl.oauthbearer.token.endpoint.url": `file://${signedTokenFile}`,
        "sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
      },
      [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=file://${signedTokenFile}`],
    );
    const refused = produceWithJava({
      bootstrap: `127.0.0.1:${jwtPort}`,
      topic: "oauth-refused",
      records: [{ key: "k", value: "v" }],
      compression: "none",
      properties: {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.jaas.config": 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="dev";',
        "max.block.ms": 10_000,
      },
    });
    await expect(refused).rejects.toThrow('{"status":"invalid_token"}');
  }, 120_000);

  it("kafkajs with a token provider, and kcat with librdkafka's unsecured token", async () => {
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${jwtPort}`],
      clientId: "oauth-test",
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: "oauthbearer", oauthBearerProvider: async () => ({ value: signedToken }) },
    });
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({ topic: "oauth-kafkajs", messages: [{ value: "v" }] });
    expect(sent.errorCode).toBe(0);
    await producer.disconnect();
    if (!kcatInstalled && !process.env.CI) return;
    const listed = await run("kcat", [
      "-b",
      `127.0.0.1:${unsecuredPort}`,
      "-X",
      "security.protocol=SASL_PLAINTEXT",
      "-X",
      "sasl.mechanisms=OAUTHBEARER",
      "-X",
      "enable.sasl.oauthbearer.unsecure.jwt=true",
      "-X",
      "sasl.oauthbearer.config=principal=dev",
      "-L",
      "-t",
      "oauth-kafkajs",
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('topic "oauth-kafkajs" with 1 partitions');
  }, 120_000);
});

describe("SASL at the protocol level", () => {
  const connect = () => TestClient.connect(saslPort);
  const plain = (user: string, password: string) => Buffer.from(`\u0000${user}\u0000${password}`);

  it("serves ApiVersions (with the SASL APIs) before authentication and closes the connection on anything else", async () => {
    const client = await connect();
    const versions = await client.request<{ apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[] }>(18, 3, {
      clientSoftwareName: "t",
      clientSoftwareVersion: "1",
    });
    expect(versions.apiKeys.find((k) => k.apiKey === 17)).toMatchObject({ maxVersion: 1 });
    expect(versions.apiKeys.find((k) => k.apiKey === 36)).toMatchObject({ minVersion: 0, maxVersion: 2 });
    client.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    await client.closed();
  });

  it("answers an unknown mechanism with UNSUPPORTED_SASL_MECHANISM and the enabled ones, then closes", async () => {
    const client = await connect();
    const answer = await client.request<{ errorCode: number; mechanisms: string[] }>(17, 1, { mechanism: "GSSAPI" });
    expect(answer.errorCode).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
    expect(answer.mechanisms).toEqual(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    await client.closed();
  });

  it("a failed PLAIN authentication is answered SASL_AUTHENTICATION_FAILED and closed; a good one gets its session lifetime (KIP-368)", async () => {
    const bad = await connect();
    await bad.request(17, 1, { mechanism: "PLAIN" });
    const refused = await bad.request<{ errorCode: number; errorMessage: string }>(36, 2, { authBytes: plain("alice", "nope") });
    expect(refused).toMatchObject({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: "Authentication failed: Invalid username or password" });
    await bad.closed();

    const good = await connect();
    await good.request(17, 1, { mechanism: "PLAIN" });
    const accepted = await good.request<{ errorCode: number; sessionLifetimeMs: bigint }>(36, 2, { authBytes: plain("alice", "alice-secret") });
    expect(accepted).toMatchObject({ errorCode: 0, sessionLifetimeMs: BigInt(REAUTH_MS) });
    const metadata = await good.request<{ brokers: { port: number }[] }>(3, 12, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    // Brokers are listed on the listener the request came on.
    expect(metadata.brokers.map((b) => b.port)).toEqual([saslPort]);
    // Re-authentication on the same connection, then served again.
    await good.request(17, 1, { mechanism: "PLAIN" });
    expect((await good.request<{ errorCode: number }>(36, 2, { authBytes: plain("alice", "alice-secret") })).errorCode).toBe(0);
    // A different principal may not take the connection over.
    await good.request(17, 1, { mechanism: "PLAIN" });
    const takeover = await good.request<{ errorCode: number; errorMessage: string }>(36, 2, { authBytes: plain("admin", "admin-secret") });
    expect(takeover.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(takeover.errorMessage).toContain("Cannot change principals during re-authentication");
    await good.closed();
  });

  it("after the session lifetime without re-authentication, the next request closes the connection", async () => {
    const client = await connect();
    await client.request(17, 1, { mechanism: "PLAIN" });
    await client.request(36, 2, { authBytes: plain("alice", "alice-secret") });
    await new Promise((resolve) => setTimeout(resolve, REAUTH_MS + 200));
    client.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    await client.closed();
  }, 20_000);

  it("the PLAINTEXT listener answers the SASL APIs with ILLEGAL_SASL_STATE", async () => {
    const client = await TestClient.connect(broker.port);
    expect((await client.request<{ errorCode: number }>(17, 1, { mechanism: "PLAIN" })).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    client.close();
  });
});
