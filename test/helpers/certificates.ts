// Test certificates for brokers that talk TLS to each other, made with openssl and keytool: a CA,
// a broker certificate for localhost (serverAuth and clientAuth: a broker is also a client of the
// other brokers) as PEM (key + chain bundle) and JKS, the CA as PEM and as a JKS truststore, and
// another CA that vouches for nothing here (a truststore that does not trust the brokers).

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface BrokerCertificates {
  dir: string;
  /** The password of every store and key. */
  password: string;
  /** The CA (PEM). */
  caPem: string;
  /** The broker's key and certificate chain in one PEM file (ssl.keystore.type=PEM). */
  bundlePem: string;
  /** The broker's certificate (PEM), and its unencrypted key (PEM). */
  certificatePem: string;
  keyPem: string;
  /** The same as JKS (ssl.keystore.type=JKS). */
  keystoreJks: string;
  /** The CA as a JKS truststore. */
  truststoreJks: string;
  /** Another CA (PEM), which signed nothing here. */
  otherCaPem: string;
}

/** Makes the certificates in `dir` (see the file comment); needs openssl and keytool on the PATH. */
export function makeBrokerCertificates(dir: string, password = "store-secret"): BrokerCertificates {
  const sh = (command: string, args: string[]) => execFileSync(command, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ca = (name: string, subject: string) =>
    sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", subject]);
  ca("ca", "/CN=Sluice Inter-Broker Test CA");
  ca("other-ca", "/CN=Another CA");
  writeFileSync(
    join(dir, "broker.ext"),
    "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=broker"]);
  sh("openssl", [
    "x509",
    "-req",
    "-in",
    "broker.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "broker.pem",
    "-days",
    "2",
    "-extfile",
    "broker.ext",
  ]);
  writeFileSync(join(dir, "broker-bundle.pem"), `${readFileSync(join(dir, "broker.key"), "utf8")}${readFileSync(join(dir, "broker.pem"), "utf8")}`);
  // PKCS12 with 3DES (Java and jks-js both read it), then JKS with keytool.
  const pbe = ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"];
  sh("openssl", [
    "pkcs12",
    "-export",
    "-in",
    "broker.pem",
    "-inkey",
    "broker.key",
    "-certfile",
    "ca.pem",
    "-name",
    "broker",
    "-out",
    "broker.p12",
    "-passout",
    `pass:${password}`,
    ...pbe,
  ]);
  const jks = ["-deststoretype", "JKS", "-deststorepass", password];
  sh("keytool", [
    "-importkeystore",
    "-noprompt",
    "-srckeystore",
    "broker.p12",
    "-srcstoretype",
    "PKCS12",
    "-srcstorepass",
    password,
    "-destkeystore",
    "broker.jks",
    ...jks,
  ]);
  sh("keytool", ["-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.jks", "-storetype", "JKS", "-storepass", password]);
  const path = (name: string) => join(dir, name);
  return {
    dir,
    password,
    caPem: path("ca.pem"),
    bundlePem: path("broker-bundle.pem"),
    certificatePem: path("broker.pem"),
    keyPem: path("broker.key"),
    keystoreJks: path("broker.jks"),
    truststoreJks: path("trust.jks"),
    otherCaPem: path("other-ca.pem"),
  };
}
