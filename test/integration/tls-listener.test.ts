// An SSL listener of the native network server (Network over NetServer), with certificates made
// by the openssl CLI and Node's tls.connect as the Kafka client: a real ApiVersions v3 request
// over TLS with client auth, the client certificate's subject in onOpen, a refused handshake,
// settings refused with the listener's name, and reloadTls (certificate reload). The broker is
// not involved: a minimal handler answers ApiVersions.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponseFrame } from "../../src/protocol/frame.js";
import type { ApiVersionsResponse } from "../../src/protocol/generated/api-versions.js";
import { apiByKey } from "../../src/protocol/generated/index.js";
import type { Part } from "../../src/protocol/writer.js";
import {
  CloseReason,
  type NetListenerTls,
  Network,
  type NetworkHandler,
  type NetworkOptions,
  type PeerSecurity,
  type ResponsePart,
} from "../../src/server/network.js";

const API_VERSIONS = apiByKey[18];
if (API_VERSIONS === undefined) throw new Error("ApiVersions is not generated");

const dir = mkdtempSync(join(tmpdir(), "sluice-tls-listener-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function read(name: string): string {
  return readFileSync(join(dir, name), "utf8");
}

/** A key and a certificate signed by the test CA, with `subject` and one extension. */
function issue(name: string, subject: string, extension: string): void {
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  // An extension makes an X.509 v3 certificate: webpki (rustls) refuses v1 ones.
  writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`,
  );
}

interface Certificates {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  /** A second server identity, self-signed, its key in PKCS#1 ("BEGIN RSA PRIVATE KEY"). */
  other: { cert: string; key: string };
  /** A third, EC, its key in SEC1 ("BEGIN EC PRIVATE KEY"). */
  ec: { cert: string; key: string };
}

let certificates: Certificates;

beforeAll(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Sluice test CA");
  issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  issue("client", "/C=US/O=Acme, Inc./OU=eng/CN=client", "extendedKeyUsage=clientAuth");
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "other.key",
    "-out",
    "other.crt",
    "-days",
    "2",
    "-subj",
    "/CN=other",
    "-addext",
    "subjectAltName=DNS:localhost",
  );
  openssl("pkey", "-in", "other.key", "-traditional", "-out", "other.rsa.key");
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ec.key",
    "-out",
    "ec.crt",
    "-days",
    "2",
    "-subj",
    "/CN=ec",
    "-addext",
    "subjectAltName=DNS:localhost",
  );
  openssl("ec", "-in", "ec.key", "-out", "ec.sec1.key");
  certificates = {
    ca: read("ca.crt"),
    server: { cert: read("server.crt"), key: read("server.key") },
    client: { cert: read("client.crt"), key: read("client.key") },
    other: { cert: read("other.crt"), key: read("other.rsa.key") },
    ec: { cert: read("ec.crt"), key: read("ec.sec1.key") },
  };
  expect(certificates.other.key).toContain("BEGIN RSA PRIVATE KEY");
  expect(certificates.ec.key).toContain("BEGIN EC PRIVATE KEY");
});

function serverTls(overrides: Partial<NetListenerTls> = {}): NetListenerTls {
  return {
    certificateChainPem: certificates.server.cert,
    privateKeyPem: certificates.server.key,
    trustedCertificatesPem: certificates.ca,
    clientAuth: "required",
    ...overrides,
  };
}

function options(tls: NetListenerTls): NetworkOptions {
  return {
    listeners: [
      { name: "PLAINTEXT", host: "127.0.0.1", port: 0 },
      { name: "SSL", host: "127.0.0.1", port: 0, tls },
    ],
    numNetworkThreads: 2,
    socketRequestMaxBytes: 100 * 1024 * 1024,
    socketSendBufferBytes: -1,
    socketReceiveBufferBytes: -1,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
    connectionsMaxIdleMs: 600_000,
  };
}

/** Answers ApiVersions v3 with a one-entry list, and records what the network reports. */
class ApiVersionsHandler implements NetworkHandler {
  readonly opened: { listener: string; peer: PeerSecurity }[] = [];
  readonly failures: { listener: string; message: string }[] = [];
  network: Network | undefined;
  #waiters: (() => void)[] = [];

  onOpen(_connection: number, listener: string, _ip: string, _port: number, peer: PeerSecurity): void {
    this.opened.push({ listener, peer });
    this.#notify();
  }

  onFrame(connection: number, seq: number, frame: Buffer): void {
    const { header } = decodeRequest(frame);
    const body: ApiVersionsResponse = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    const parts: Part[] = encodeResponseFrame(API_VERSIONS as NonNullable<typeof API_VERSIONS>, header.requestApiVersion, header.correlationId, body);
    this.network?.respond(connection, seq, parts as unknown as ResponsePart[]);
  }

  onClose(_connection: number, _reason: CloseReason): void {}

  onTlsHandshakeFailed(listener: string, _ip: string, _port: number, message: string): void {
    this.failures.push({ listener, message });
    this.#notify();
  }

  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

const networks: Network[] = [];
const sockets: TLSSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(networks.splice(0).map((network) => network.shutdown(1000)));
});

function start(tls: NetListenerTls): { network: Network; handler: ApiVersionsHandler; port: number } {
  const handler = new ApiVersionsHandler();
  const network = new Network(options(tls), handler);
  handler.network = network;
  networks.push(network);
  const port = network.boundListeners()[1]?.port as number;
  return { network, handler, port };
}

/** A TLS client; resolves once the handshake is done (on the client's side). */
function tlsClient(port: number, identity?: { cert: string; key: string }, ca = certificates.ca): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca, ...identity }, () => resolve(socket));
    sockets.push(socket);
    socket.once("error", reject);
  });
}

/** Sends an ApiVersions v3 request frame and returns the response frame's payload. */
function apiVersions(socket: TLSSocket, correlationId: number): Promise<Buffer> {
  const api = API_VERSIONS as NonNullable<typeof API_VERSIONS>;
  const request = encodeRequest(
    api,
    3,
    { correlationId, clientId: "tls-test", unknownTaggedFields: undefined },
    { clientSoftwareName: "tls-test", clientSoftwareVersion: "1.0", clusterId: null, nodeId: 0 },
  );
  const size = Buffer.alloc(4);
  size.writeInt32BE(request.length);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        socket.off("data", onData);
        resolve(received.subarray(4, 4 + received.readInt32BE(0)));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed before the response")));
    socket.write(Buffer.concat([size, request]));
  });
}

/** Resolves with the error or close that ends a client the server refuses. */
function refused(port: number, identity?: { cert: string; key: string }, ca = certificates.ca): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca, ...identity });
    sockets.push(socket);
    socket.on("secureConnect", () => socket.write(Buffer.from([0, 0, 0, 0]))); // TLS 1.3: the refusal comes after
    socket.once("error", (error) => resolve(error.message));
    socket.once("close", () => resolve("closed"));
  });
}

describe("an SSL listener", () => {
  it("answers an ApiVersions v3 request over TLS with client auth required and reports the client's subject", async () => {
    const { network, handler, port } = start(serverTls());
    const socket = await tlsClient(port, certificates.client);
    const response = await apiVersions(socket, 42);
    const { header, body } = decodeResponse(API_VERSIONS as NonNullable<typeof API_VERSIONS>, 3, response);
    expect(header.correlationId).toBe(42);
    expect((body as ApiVersionsResponse).errorCode).toBe(0);
    expect((body as ApiVersionsResponse).apiKeys).toEqual([expect.objectContaining({ apiKey: 18, maxVersion: 4 })]);
    expect(handler.opened).toEqual([{ listener: "SSL", peer: { tls: true, subject: "CN=client,OU=eng,O=Acme\\, Inc.,C=US" } }]);
    // A second request on the same connection.
    const again = decodeResponse(API_VERSIONS as NonNullable<typeof API_VERSIONS>, 3, await apiVersions(socket, 43));
    expect(again.header.correlationId).toBe(43);
    expect(network.stats().tlsHandshakeFailuresTotal).toBe(0);
  });

  it("refuses a client without a certificate when client auth is required, and serves the others", async () => {
    const { network, handler, port } = start(serverTls());
    const good = await tlsClient(port, certificates.client);
    const outcome = await refused(port);
    expect(outcome).not.toBe("");
    await handler.until(() => handler.failures.length === 1);
    expect(handler.failures[0]).toEqual({ listener: "SSL", message: "peer sent no certificates" });
    const stats = network.stats();
    expect(stats.tlsHandshakeFailuresTotal).toBe(1);
    expect(stats.connectionsClosedTotal[CloseReason.TLS_HANDSHAKE_FAILED]).toBe(1);
    expect(decodeResponse(API_VERSIONS as NonNullable<typeof API_VERSIONS>, 3, await apiVersions(good, 7)).header.correlationId).toBe(7);
    expect(handler.opened).toHaveLength(1);
  });

  it("refuses invalid settings with an error naming the listener", () => {
    const attempts: [Partial<NetListenerTls>, RegExp][] = [
      [{ certificateChainPem: "not a certificate" }, /^listener SSL: TLS settings refused: the certificate chain PEM holds no certificate/],
      [{ privateKeyPem: certificates.client.key }, /^listener SSL: .*cannot be used/],
      [{ trustedCertificatesPem: null }, /^listener SSL: .*client auth required needs trusted certificates/],
      [{ clientAuth: "sometimes" }, /^listener SSL: .*client auth "sometimes" is not one of none, requested, required/],
      [{ protocols: ["TLSv1.2", "TLSv1.1"] }, /^listener SSL: .*protocols TLSv1\.1 are not supported/],
      [{ cipherSuites: ["TLS_RSA_WITH_RC4_128_MD5"] }, /^listener SSL: .*none of the cipher suites TLS_RSA_WITH_RC4_128_MD5 is supported/],
    ];
    for (const [overrides, message] of attempts) {
      expect(() => new Network(options(serverTls(overrides)), new ApiVersionsHandler())).toThrow(message);
    }
  });

  it("reloadTls serves a new certificate to new connections while open ones go on", async () => {
    const { network, port } = start(serverTls({ clientAuth: "none" }));
    const before = await tlsClient(port);
    expect(before.getPeerCertificate().subject.CN).toBe("localhost");

    network.reloadTls("SSL", { certificateChainPem: certificates.other.cert, privateKeyPem: certificates.other.key, clientAuth: "none" });
    const after = await tlsClient(port, undefined, certificates.other.cert);
    expect(after.getPeerCertificate().subject.CN).toBe("other");
    // Node checks the server's certificate after the handshake and just closes: for the server
    // that is an ordinary connection closed by its peer.
    expect(await refused(port)).toMatch(/self-signed|self signed|unable to verify/i);
    // The connection made before the reload still works with its session.
    expect(decodeResponse(API_VERSIONS as NonNullable<typeof API_VERSIONS>, 3, await apiVersions(before, 1)).header.correlationId).toBe(1);

    // Invalid settings throw and change nothing; an EC key in SEC1 form is accepted.
    expect(() =>
      network.reloadTls("SSL", { certificateChainPem: certificates.other.cert, privateKeyPem: certificates.server.key, clientAuth: "none" }),
    ).toThrow(/^listener SSL: /);
    expect(() => network.reloadTls("PLAINTEXT", serverTls())).toThrow(/not an SSL listener/);
    const still = await tlsClient(port, undefined, certificates.other.cert);
    expect(still.getPeerCertificate().subject.CN).toBe("other");
    network.reloadTls("SSL", { certificateChainPem: certificates.ec.cert, privateKeyPem: certificates.ec.key, clientAuth: "none" });
    const ec = await tlsClient(port, undefined, certificates.ec.cert);
    expect(ec.getPeerCertificate().subject.CN).toBe("ec");
  });
});
