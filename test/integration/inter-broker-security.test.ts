// A broker's client side of inter-broker security against the real broker's SASL_SSL listener
// (client certificates required, PLAIN and SCRAM-SHA-512, connections.max.reauth.ms): the replica
// fetchers' native link (TLS in Rust, SASL tokens from JS) fetches and appends records over it and
// re-authenticates before its session ends; the JS client (node:tls) does the same exchange; wrong
// passwords, untrusted certificates, host names the certificate does not name and a missing client
// certificate are refused, each with its reason.

import { pbkdf2Sync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaClient } from "../../src/client/client.js";
import { BrokerConnection, type ClientTls } from "../../src/client/connection.js";
import { encodeBatch, loadCodecs } from "../../src/client/records.js";
import type { SaslCredentials } from "../../src/client/sasl.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { LogResources } from "../../src/native.js";
import { defaultFetchRequestFetchPartition } from "../../src/protocol/generated/fetch.js";
import { LeaderLink } from "../../src/replication/leader-link.js";
import { type BrokerCertificates, makeBrokerCertificates } from "../helpers/certificates.js";
import { freePort } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const REAUTH_MS = 2_000;
/** Metadata names topics by name here. */
const NO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA";
const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

let dir: string;
let certificates: BrokerCertificates;
let broker: SluiceBroker;
let securePort: number;
let client: KafkaClient;
let topicId: string;
const resources = new LogResources();

const plain: SaslCredentials = { mechanism: "PLAIN", username: "broker", password: "plain-secret" };
const scram: SaslCredentials = { mechanism: "SCRAM-SHA-512", username: "broker", password: "scram-secret" };

function tls(overrides: Partial<ClientTls> = {}): ClientTls {
  return {
    certificateChainPem: readFileSync(certificates.certificatePem, "utf8"),
    privateKeyPem: readFileSync(certificates.keyPem, "utf8"),
    trustedCertificatesPem: readFileSync(certificates.caPem, "utf8"),
    verifyHostname: true,
    ...overrides,
  };
}

function link(options: { host?: string; tls?: ClientTls; sasl?: SaslCredentials }): Promise<LeaderLink> {
  return LeaderLink.connect({
    name: "secure",
    host: options.host ?? "localhost",
    port: securePort,
    clientId: "inter-broker-security-test",
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    maxResponseBytes: 16 << 20,
    tls: options.tls ?? tls(),
    sasl: options.sasl ?? plain,
  });
}

function connection(options: { host?: string; tls?: ClientTls; sasl?: SaslCredentials }): Promise<BrokerConnection> {
  return BrokerConnection.connect({
    host: options.host ?? "localhost",
    port: securePort,
    clientId: "inter-broker-security-test",
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    tls: options.tls ?? tls(),
    sasl: options.sasl ?? plain,
  });
}

beforeAll(async () => {
  await loadCodecs();
  dir = await mkdtemp(join(tmpdir(), "sluice-ibsec-"));
  certificates = makeBrokerCertificates(dir);
  const plainPort = await freePort();
  securePort = await freePort();
  broker = await startSluice({
    port: plainPort,
    overrides: {
      listeners: `PLAINTEXT://127.0.0.1:${plainPort},BROKER://127.0.0.1:${securePort}`,
      "advertised.listeners": `PLAINTEXT://127.0.0.1:${plainPort},BROKER://localhost:${securePort}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,BROKER:SASL_SSL",
      "listener.name.broker.ssl.keystore.type": "PEM",
      "listener.name.broker.ssl.keystore.location": certificates.bundlePem,
      "listener.name.broker.ssl.truststore.type": "PEM",
      "listener.name.broker.ssl.truststore.location": certificates.caPem,
      "listener.name.broker.ssl.client.auth": "required",
      "listener.name.broker.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
      "listener.name.broker.plain.sasl.jaas.config":
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="plain-secret" user_broker="plain-secret";',
      "connections.max.reauth.ms": REAUTH_MS,
    },
  });
  client = await KafkaClient.connect({ bootstrap: broker.bootstrap });
  await client.createTopics([{ name: "secure", partitions: 1 }]);
  for (let round = 0; round < 3; round++) {
    const records = Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`secure-${round}-${i}`) }));
    await client.produce([{ topic: "secure", partition: 0, records: encodeBatch(records, round === 1 ? "lz4" : "none") }]);
  }
  topicId = (await client.metadata(["secure"])).topics[0].topicId;
  // The broker's SCRAM credential, as kafka-configs --alter --add-config 'SCRAM-SHA-512=[...]' makes it.
  const admin = await BrokerConnection.connect({ host: "127.0.0.1", port: plainPort, clientId: "admin", connectTimeoutMs: 5_000, requestTimeoutMs: 10_000 });
  const salt = randomBytes(16);
  const altered = await admin.request<{ results: { errorCode: number }[] }>(51, {
    deletions: [],
    upsertions: [{ name: "broker", mechanism: 2, iterations: 4096, salt, saltedPassword: pbkdf2Sync("scram-secret", salt, 4096, 64, "sha512") }],
  });
  admin.close();
  expect(altered.results[0]?.errorCode).toBe(0);
}, 60_000);

afterAll(async () => {
  client?.close();
  await broker?.stop();
  if (broker) await rm(broker.workDir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the replica link over SASL_SSL", () => {
  it("fetches and appends records over TLS with a client certificate after SASL/PLAIN, and after SCRAM-SHA-512", async () => {
    for (const sasl of [plain, scram]) {
      const secure = await link({ sasl });
      const log = await PartitionLog.open(join(dir, `follower-${sasl.mechanism}`), { topic: "secure", partition: 0, resources });
      const replica = { topic: "secure", topicId, index: 0, log };
      const body = (_version: number) => ({
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          { topic: "secure", topicId, partitions: [{ ...defaultFetchRequestFetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
        ],
        forgottenTopicsData: [],
        rackId: "",
      });
      const result = await secure.fetch(body, [replica], 0);
      expect(result.errorCode).toBe(0);
      expect(result.partitions[0]?.appendedBytes).toBeGreaterThan(0);
      expect(log.logEndOffset).toBe(30n);
      secure.close();
      await log.close();
    }
  });

  it(`re-authenticates on the same connection before the session ends (connections.max.reauth.ms=${REAUTH_MS})`, async () => {
    const secure = await link({ sasl: scram });
    // Past two session lifetimes: without re-authentication the broker would close the connection
    // at the first request after the first one ended.
    for (let round = 0; round < 3; round++) {
      await sleep(REAUTH_MS * 0.75);
      const answer = await secure.request<{ topics: { name: string; errorCode: number }[] }>(3, { topics: [{ name: "secure", topicId: NO_TOPIC_ID }] });
      expect(answer.topics[0]?.errorCode).toBe(0);
    }
    secure.close();
  });

  it("is refused: a wrong password, an untrusted certificate, a host name the certificate does not name, no client certificate", async () => {
    await expect(link({ sasl: { ...plain, password: "wrong" } })).rejects.toThrow(
      "SASL_AUTHENTICATION_FAILED: Authentication failed: Invalid username or password",
    );
    await expect(link({ sasl: { ...scram, password: "wrong" } })).rejects.toThrow(/SASL_AUTHENTICATION_FAILED/);
    await expect(link({ tls: tls({ trustedCertificatesPem: readFileSync(certificates.otherCaPem, "utf8") }) })).rejects.toThrow(
      /TLS handshake failed: .*UnknownIssuer/,
    );
    // The certificate names localhost only.
    await expect(link({ host: "127.0.0.1" })).rejects.toThrow(/TLS handshake failed: invalid peer certificate: certificate not valid for name "127.0.0.1"/);
    const lenient = await link({ host: "127.0.0.1", tls: tls({ verifyHostname: false }) });
    lenient.close();
    // TLS 1.3: the server refuses after the client's side of the handshake; the client reads its
    // alert, or, when it was already writing its first request, finds the socket closed under it.
    await expect(link({ tls: tls({ certificateChainPem: undefined, privateKeyPem: undefined }) })).rejects.toThrow(
      /received fatal alert: CertificateRequired|Broken pipe|Connection reset by peer/,
    );
  });
});

describe("the JS inter-broker client over SASL_SSL", () => {
  it("authenticates with PLAIN and SCRAM-SHA-512 over node:tls, and says when the session is due for re-authentication", async () => {
    for (const sasl of [plain, scram]) {
      const secure = await connection({ sasl });
      const answer = await secure.request<{ topics: { errorCode: number }[] }>(3, { topics: [{ name: "secure", topicId: NO_TOPIC_ID }] });
      expect(answer.topics[0]?.errorCode).toBe(0);
      expect(secure.reauthenticationDue(Date.now())).toBe(false);
      expect(secure.reauthenticationDue(Date.now() + REAUTH_MS)).toBe(true);
      secure.close();
    }
  });

  it("is refused: a wrong password, an untrusted certificate, a host name the certificate does not name", async () => {
    await expect(connection({ sasl: { ...scram, password: "wrong" } })).rejects.toThrow(/SASL_AUTHENTICATION_FAILED/);
    await expect(connection({ tls: tls({ trustedCertificatesPem: readFileSync(certificates.otherCaPem, "utf8") }) })).rejects.toThrow(/could not connect/);
    await expect(connection({ host: "127.0.0.1" })).rejects.toThrow(/IP: 127.0.0.1 is not in the cert's list/);
    const lenient = await connection({ host: "127.0.0.1", tls: tls({ verifyHostname: false }) });
    lenient.close();
  });
});
