// SSL and SASL_SSL listeners with Kafka's own settings and clients against the real broker:
// certificates made with openssl and keytool (a CA, the broker's certificate for localhost and
// 127.0.0.1, a client certificate), the broker's keystore as JKS on the SSL listener and as PEM
// on the SASL_SSL one, JKS truststores; the Java clients, kcat and kafkajs over TLS with server
// authentication and with client certificates (mTLS principals through ssl.principal.mapping.rules,
// enforced by an ACL), SCRAM-SHA-512 and PLAIN over SASL_SSL (Java and kafkajs), kafkajs with a
// client certificate, a client that does not trust the broker, a
// listener requiring client certificates refusing clients without one or with an untrusted one
// (PKCS12 keystore on the broker), and a connection stalled mid-handshake beside working ones.

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../helpers/cli.js";
import { freePort, produceWithJava, runJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

let dir: string;
let broker: SluiceBroker;
let sslPort: number;
let saslSslPort: number;
let mtlsPort: number;
let tools: ToolSession;
const PASSWORD = "store-secret";

function sh(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate (localhost, 127.0.0.1) and a client certificate, as PEM, PKCS12 and JKS. */
async function makeCertificates(): Promise<void> {
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sluice Test CA"]);
  const sign = async (name: string, subject: string, extensions: string) => {
    await writeFile(join(dir, `${name}.ext`), extensions);
    sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
    sh("openssl", [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
    // PKCS12 with 3DES (Java 17 and jks-js both read it), then JKS with keytool.
    const pbe = ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"];
    sh("openssl", [
      "pkcs12",
      "-export",
      "-in",
      `${name}.pem`,
      "-inkey",
      `${name}.key`,
      "-certfile",
      "ca.pem",
      "-name",
      name,
      "-out",
      `${name}.p12`,
      "-passout",
      `pass:${PASSWORD}`,
      ...pbe,
    ]);
    sh("keytool", [
      "-importkeystore",
      "-noprompt",
      "-srckeystore",
      `${name}.p12`,
      "-srcstoretype",
      "PKCS12",
      "-srcstorepass",
      PASSWORD,
      "-destkeystore",
      `${name}.jks`,
      "-deststoretype",
      "JKS",
      "-deststorepass",
      PASSWORD,
    ]);
  };
  await sign(
    "server",
    "/CN=localhost",
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await sign("client", "/O=Acme/OU=eng/CN=client", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  sh("keytool", ["-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.jks", "-storetype", "JKS", "-storepass", PASSWORD]);
  // A truststore with another CA only: the broker is not trusted.
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=Other CA"]);
  sh("keytool", [
    "-importcert",
    "-noprompt",
    "-alias",
    "other",
    "-file",
    "other.pem",
    "-keystore",
    "untrusted.jks",
    "-storetype",
    "JKS",
    "-storepass",
    PASSWORD,
  ]);
  // A client certificate from a CA the broker does not trust (the "Other CA" itself).
  sh("openssl", [
    "pkcs12",
    "-export",
    "-in",
    "other.pem",
    "-inkey",
    "other.key",
    "-name",
    "rogue",
    "-out",
    "rogue.p12",
    "-passout",
    `pass:${PASSWORD}`,
    "-keypbe",
    "PBE-SHA1-3DES",
    "-certpbe",
    "PBE-SHA1-3DES",
    "-macalg",
    "sha1",
  ]);
  await writeFile(join(dir, "server-bundle.pem"), `${await readFile(join(dir, "server.key"), "utf8")}${await readFile(join(dir, "server.pem"), "utf8")}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-tls-"));
  await makeCertificates();
  const plainPort = await freePort();
  sslPort = await freePort();
  saslSslPort = await freePort();
  mtlsPort = await freePort();
  broker = await startSluice({
    port: plainPort,
    overrides: {
      listeners: `PLAINTEXT://127.0.0.1:${plainPort},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort},MTLS://127.0.0.1:${mtlsPort}`,
      "advertised.listeners": `PLAINTEXT://127.0.0.1:${plainPort},SSL://localhost:${sslPort},SASL_SSL://localhost:${saslSslPort},MTLS://localhost:${mtlsPort}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL",
      "listener.name.mtls.ssl.keystore.type": "PKCS12",
      "listener.name.mtls.ssl.keystore.location": join(dir, "server.p12"),
      "listener.name.mtls.ssl.keystore.password": PASSWORD,
      "listener.name.mtls.ssl.truststore.location": join(dir, "trust.jks"),
      "listener.name.mtls.ssl.truststore.password": PASSWORD,
      "listener.name.mtls.ssl.client.auth": "required",
      "listener.name.ssl.ssl.keystore.type": "JKS",
      "listener.name.ssl.ssl.keystore.location": join(dir, "server.jks"),
      "listener.name.ssl.ssl.keystore.password": PASSWORD,
      "listener.name.ssl.ssl.key.password": PASSWORD,
      "listener.name.ssl.ssl.truststore.location": join(dir, "trust.jks"),
      "listener.name.ssl.ssl.truststore.password": PASSWORD,
      "listener.name.ssl.ssl.client.auth": "requested",
      "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
      "listener.name.sasl_ssl.ssl.keystore.location": join(dir, "server-bundle.pem"),
      "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
      "listener.name.sasl_ssl.plain.sasl.jaas.config":
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_plain="plain-secret";',
      "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=.*$/$1/L,DEFAULT",
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      // Resources without ACLs stay open (the admin tools below run anonymously on PLAINTEXT).
      "allow.everyone.if.no.acl.found": "true",
      "num.partitions": 1,
    },
  });
  tools = await ToolSession.start();
  const tool = async (main: string, args: string[]) => {
    const result = await tools.run(main, ["--bootstrap-server", broker.bootstrap, ...args]);
    if (result.code !== 0) throw new Error(`${main} ${args.join(" ")}: ${result.stderr}`);
  };
  await tool("org.apache.kafka.tools.ConfigCommand", [
    "--alter",
    "--add-config",
    "SCRAM-SHA-512=[password=scram-secret]",
    "--entity-type",
    "users",
    "--entity-name",
    "scram",
  ]);
  // Only the mTLS principal (the mapped CN) may use this topic.
  await tool("org.apache.kafka.tools.AclCommand", ["--add", "--allow-principal", "User:client", "--operation", "All", "--topic", "mtls-only"]);
}, 180_000);

afterAll(async () => {
  tools?.close();
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

const trust = () => ({ "ssl.truststore.location": join(dir, "trust.jks"), "ssl.truststore.password": PASSWORD, "ssl.truststore.type": "JKS" });
const clientCertificate = () => ({ "ssl.keystore.location": join(dir, "client.p12"), "ssl.keystore.password": PASSWORD, "ssl.keystore.type": "PKCS12" });

async function roundTrip(bootstrap: string, topic: string, properties: Record<string, string>) {
  const records = Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: `${topic}-${i}` }));
  await produceWithJava({ bootstrap, topic, records, compression: "lz4", acks: "all", properties });
  const args = ["--bootstrap", bootstrap, "--topic", topic, "--timeout-ms", "30000"];
  for (const [key, value] of Object.entries(properties)) args.push("--property", `${key}=${value}`);
  const consumed = await runJavaTool("sluice.kafka.Consume", args, { quickStart: true, heap: "128m", logLevel: "ERROR", timeoutMs: 60_000 });
  expect(consumed.code, consumed.stderr).toBe(0);
  expect(consumed.stdout.split("\n").filter((line) => line.startsWith('{"partition"'))).toHaveLength(records.length);
}

describe("TLS listeners with Kafka's clients", () => {
  it("the Java clients over SSL with server authentication (JKS keystore on the broker, JKS truststore on the client)", async () => {
    await roundTrip(`localhost:${sslPort}`, "tls-open", { "security.protocol": "SSL", ...trust() });
  }, 120_000);

  it("a client certificate maps to its principal (ssl.principal.mapping.rules) and an ACL admits it; without one the topic is refused", async () => {
    await roundTrip(`localhost:${sslPort}`, "mtls-only", { "security.protocol": "SSL", ...trust(), ...clientCertificate() });
    const anonymous = produceWithJava({
      bootstrap: `localhost:${sslPort}`,
      topic: "mtls-only",
      records: [{ key: "k", value: "v" }],
      compression: "none",
      properties: { "security.protocol": "SSL", ...trust(), "max.block.ms": 10_000 },
    });
    await expect(anonymous).rejects.toThrow(/TopicAuthorizationException|Not authorized to access topics: \[mtls-only\]/);
  }, 120_000);

  it("SCRAM-SHA-512 over SASL_SSL (PEM keystore on the broker)", async () => {
    await roundTrip(`localhost:${saslSslPort}`, "sasl-ssl", {
      "security.protocol": "SASL_SSL",
      ...trust(),
      "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required username="scram" password="scram-secret";',
    });
  }, 120_000);

  it("a client that does not trust the broker's certificate fails the handshake; the broker keeps serving others", async () => {
    const refused = produceWithJava({
      bootstrap: `localhost:${sslPort}`,
      topic: "tls-open",
      records: [{ key: "k", value: "v" }],
      compression: "none",
      properties: {
        "security.protocol": "SSL",
        "ssl.truststore.location": join(dir, "untrusted.jks"),
        "ssl.truststore.password": PASSWORD,
        "max.block.ms": 10_000,
      },
    });
    await expect(refused).rejects.toThrow(/SSL handshake failed|SSLHandshakeException|PKIX path building failed/);
    await roundTrip(`localhost:${sslPort}`, "tls-after", { "security.protocol": "SSL", ...trust() });
  }, 120_000);

  it("on a listener requiring client certificates, a Java client without one or with one from an untrusted CA fails the handshake; a good one is served", async () => {
    const keystores: Record<string, string>[] = [
      {},
      { "ssl.keystore.location": join(dir, "rogue.p12"), "ssl.keystore.password": PASSWORD, "ssl.keystore.type": "PKCS12" },
    ];
    for (const keystore of keystores) {
      const refused = produceWithJava({
        bootstrap: `localhost:${mtlsPort}`,
        topic: "tls-open",
        records: [{ key: "k", value: "v" }],
        compression: "none",
        properties: { "security.protocol": "SSL", ...trust(), ...keystore, "max.block.ms": 10_000 },
      });
      // TLS 1.3: the client learns of the refusal after its side of the handshake (SslAuthenticationException).
      await expect(refused).rejects.toThrow(/SslAuthenticationException|SSL handshake failed|SSLHandshakeException/);
    }
    await roundTrip(`localhost:${mtlsPort}`, "mtls-required", { "security.protocol": "SSL", ...trust(), ...clientCertificate() });
  }, 120_000);

  it("a connection that stalls mid-handshake does not hold up others, and is closed when the handshake time runs out", async () => {
    // Half a TLS ClientHello record, then nothing.
    const stalled = connect({ host: "127.0.0.1", port: sslPort });
    await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    const closed = new Promise<void>((resolve) => stalled.once("close", () => resolve()));
    stalled.on("error", () => {});
    await roundTrip(`localhost:${sslPort}`, "tls-beside-stall", { "security.protocol": "SSL", ...trust() });
    expect(stalled.destroyed).toBe(false);
    await closed; // the broker's 10 s handshake bound (vitest's timeout below is far longer)
  }, 120_000);

  it("kcat (librdkafka, OpenSSL) produces and consumes over SSL, with and without a client certificate", async () => {
    for (const [topic, extra] of [
      ["kcat-tls", []],
      ["mtls-only", ["-X", `ssl.certificate.location=${join(dir, "client.pem")}`, "-X", `ssl.key.location=${join(dir, "client.key")}`]],
    ] as const) {
      const auth = ["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${join(dir, "ca.pem")}`, ...extra];
      const produced = await run("kcat", ["-b", `localhost:${sslPort}`, ...auth, "-P", "-t", topic, "-K:"], "a:1\nb:2\n");
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await run("kcat", ["-b", `localhost:${sslPort}`, ...auth, "-C", "-t", topic, "-o", "-2", "-e", "-f", "%k=%s\n"]);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.trim().split("\n")).toEqual(["a=1", "b=2"]);
    }
  }, 120_000);

  it("PLAIN over SASL_SSL with the Java clients", async () => {
    await roundTrip(`localhost:${saslSslPort}`, "sasl-ssl-plain", {
      "security.protocol": "SASL_SSL",
      ...trust(),
      "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required username="plain" password="plain-secret";',
    });
  }, 120_000);

  it("kafkajs with a client certificate on the listener requiring one, and over SASL_SSL with PLAIN and SCRAM-SHA-512", async () => {
    const ca = [await readFile(join(dir, "ca.pem"), "utf8")];
    const mtls = { ca, cert: await readFile(join(dir, "client.pem"), "utf8"), key: await readFile(join(dir, "client.key"), "utf8") };
    const cases: [number, string, ConstructorParameters<typeof Kafka>[0]["ssl"], ConstructorParameters<typeof Kafka>[0]["sasl"]][] = [
      [mtlsPort, "kafkajs-mtls", mtls, undefined],
      [saslSslPort, "kafkajs-sasl-plain", { ca }, { mechanism: "plain", username: "plain", password: "plain-secret" }],
      [saslSslPort, "kafkajs-sasl-scram", { ca }, { mechanism: "scram-sha-512", username: "scram", password: "scram-secret" }],
    ];
    for (const [port, topic, ssl, sasl] of cases) {
      const kafka = new Kafka({ brokers: [`localhost:${port}`], clientId: topic, ssl, sasl, logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      const [sent] = await producer.send({ topic, messages: [{ value: `${topic}-value` }] });
      expect(sent.errorCode, topic).toBe(0);
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `${topic}-group` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const value = await new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? "") });
      });
      await consumer.disconnect();
      expect(value, topic).toBe(`${topic}-value`);
    }
  }, 120_000);

  it("kafkajs (Node's TLS) produces over SSL", async () => {
    const kafka = new Kafka({
      brokers: [`localhost:${sslPort}`],
      clientId: "tls-test",
      ssl: { ca: [await readFile(join(dir, "ca.pem"), "utf8")] },
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({ topic: "kafkajs-tls", messages: [{ value: "over tls" }] });
    expect(sent.errorCode).toBe(0);
    await producer.disconnect();
  }, 60_000);
});
