// librdkafka (through confluent-kafka, whose wheel bundles a current librdkafka, unlike Debian's
// kcat) and kafka-python over Sluice's secured listeners (issue 16 §5), through
// test/interop/python/secure.py: SSL with server authentication, mutual TLS (the client
// certificate's principal, mapped by ssl.principal.mapping.rules, is the only one an ACL lets at
// its topic), SASL_SSL with PLAIN and SCRAM-SHA-512, SASL_PLAINTEXT with OAUTHBEARER (librdkafka's
// unsecured JWT), and a wrong SCRAM password refused. The clients run in the project's Python venv
// (scripts/python-venv.mjs); skipped without one except under CI.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrokerCertificates, makeBrokerCertificates } from "../helpers/certificates.js";
import { run } from "../helpers/cli.js";
import { freePort } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";
import { ToolSession } from "../helpers/tool-session.js";

const script = fileURLToPath(new URL("./python/secure.py", import.meta.url));
const { ensurePythonVenv } = (await import(new URL("../../scripts/python-venv.mjs", import.meta.url).href)) as {
  ensurePythonVenv(options?: { log?: (line: string) => void }): string;
};
let python = "";
let problem: string | null = null;
try {
  python = ensurePythonVenv({ log: (line) => console.warn(line) });
} catch (error) {
  problem = `no Python test environment: ${(error as Error).message}`;
}
if (problem !== null && process.env.CI) throw new Error(problem);

interface RoundTrip {
  produced?: number;
  values?: string[];
  error?: string;
}

describe.skipIf(problem !== null && !process.env.CI)("confluent-kafka (librdkafka) and kafka-python over SSL and SASL", () => {
  let dir: string;
  let certificates: BrokerCertificates;
  let broker: SluiceBroker;
  const ports = { ssl: 0, saslSsl: 0, oauth: 0 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-py-security-"));
    certificates = makeBrokerCertificates(dir);
    const plain = await freePort();
    ports.ssl = await freePort();
    ports.saslSsl = await freePort();
    ports.oauth = await freePort();
    broker = await startSluice({
      port: plain,
      overrides: {
        listeners: `PLAINTEXT://127.0.0.1:${plain},SSL://127.0.0.1:${ports.ssl},SASL_SSL://127.0.0.1:${ports.saslSsl},OAUTH://127.0.0.1:${ports.oauth}`,
        "advertised.listeners": `PLAINTEXT://127.0.0.1:${plain},SSL://localhost:${ports.ssl},SASL_SSL://localhost:${ports.saslSsl},OAUTH://127.0.0.1:${ports.oauth}`,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,OAUTH:SASL_PLAINTEXT",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": certificates.bundlePem,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": certificates.caPem,
        "listener.name.ssl.ssl.client.auth": "requested",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
        "listener.name.sasl_ssl.plain.sasl.jaas.config":
          'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_alice="alice-secret";',
        "listener.name.oauth.sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.oauth.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true",
        "num.partitions": 1,
      },
    });
    const tools = await ToolSession.start();
    try {
      for (const args of [
        [
          "org.apache.kafka.tools.ConfigCommand",
          "--alter",
          "--add-config",
          "SCRAM-SHA-512=[iterations=4096,password=bob-secret]",
          "--entity-type",
          "users",
          "--entity-name",
          "bob",
        ],
        ["org.apache.kafka.tools.AclCommand", "--add", "--allow-principal", "User:broker", "--operation", "All", "--topic", "py-mtls"],
      ]) {
        const [main, ...rest] = args;
        const result = await tools.run(main, ["--bootstrap-server", broker.bootstrap, ...rest]);
        if (result.code !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`);
      }
    } finally {
      tools.close();
    }
  }, 180_000);

  afterAll(async () => {
    if (broker) {
      await broker.stop();
      await rm(broker.workDir, { recursive: true, force: true });
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const roundTrip = async (client: "confluent" | "kafka-python", port: number, topic: string, config: Record<string, unknown>): Promise<RoundTrip> => {
    const result = await run(python, [script], JSON.stringify({ client, bootstrap: `localhost:${port}`, topic, count: 10, config }));
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout.trim().split("\n").at(-1) as string) as RoundTrip;
  };
  const expectAll = (answer: RoundTrip, topic: string) => {
    expect(answer.error, JSON.stringify(answer)).toBeUndefined();
    expect(answer.produced).toBe(10);
    expect(answer.values).toEqual(Array.from({ length: 10 }, (_, i) => `${topic}-${i}`));
  };

  const ssl = () => ({ "security.protocol": "SSL", "ssl.ca.location": certificates.caPem });
  const clientCertificate = () => ({ "ssl.certificate.location": certificates.certificatePem, "ssl.key.location": certificates.keyPem });

  it("confluent-kafka over SSL with server authentication, and with a client certificate whose principal an ACL admits", async () => {
    expectAll(await roundTrip("confluent", ports.ssl, "py-ssl", ssl()), "py-ssl");
    expectAll(await roundTrip("confluent", ports.ssl, "py-mtls", { ...ssl(), ...clientCertificate() }), "py-mtls");
    const anonymous = await roundTrip("confluent", ports.ssl, "py-mtls", ssl());
    expect(anonymous.error).toMatch(/TOPIC_AUTHORIZATION_FAILED|Topic authorization failed|not authorized/i);
  }, 120_000);

  it("confluent-kafka over SASL_SSL with PLAIN and SCRAM-SHA-512; a wrong password is refused", async () => {
    const sasl = (mechanism: string, username: string, password: string) => ({
      ...ssl(),
      "security.protocol": "SASL_SSL",
      "sasl.mechanisms": mechanism,
      "sasl.username": username,
      "sasl.password": password,
    });
    expectAll(await roundTrip("confluent", ports.saslSsl, "py-plain", sasl("PLAIN", "alice", "alice-secret")), "py-plain");
    expectAll(await roundTrip("confluent", ports.saslSsl, "py-scram", sasl("SCRAM-SHA-512", "bob", "bob-secret")), "py-scram");
    const refused = await roundTrip("confluent", ports.saslSsl, "py-refused", sasl("SCRAM-SHA-512", "bob", "wrong"));
    expect(refused.error).toMatch(/Authentication failed|SASL authentication error/i);
  }, 120_000);

  it("confluent-kafka over SASL_PLAINTEXT with OAUTHBEARER (librdkafka's unsecured JWT)", async () => {
    const config = {
      "security.protocol": "SASL_PLAINTEXT",
      "sasl.mechanisms": "OAUTHBEARER",
      "enable.sasl.oauthbearer.unsecure.jwt": true,
      "sasl.oauthbearer.config": "principal=carol",
    };
    expectAll(await roundTrip("confluent", ports.oauth, "py-oauth", config), "py-oauth");
  }, 120_000);

  it("kafka-python over SSL and over SASL_SSL with SCRAM-SHA-512", async () => {
    const ssl = { security_protocol: "SSL", ssl_cafile: certificates.caPem };
    expectAll(await roundTrip("kafka-python", ports.ssl, "kp-ssl", ssl), "kp-ssl");
    const scram = { ...ssl, security_protocol: "SASL_SSL", sasl_mechanism: "SCRAM-SHA-512", sasl_plain_username: "bob", sasl_plain_password: "bob-secret" };
    expectAll(await roundTrip("kafka-python", ports.saslSsl, "kp-scram", scram), "kp-scram");
  }, 120_000);
});
