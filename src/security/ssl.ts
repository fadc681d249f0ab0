// Kafka's ssl.* broker keys → the TLS settings the native listener takes (PEM text; TLS itself runs
// in the Rust reactor, docs/tls.md), per listener (`listener.name.<listener>.ssl.*` wins over
// `ssl.*`, as in Kafka):
//
//   ssl.keystore.type       JKS (Kafka's default), PKCS12 or PEM; stores are read (never written):
//                           JKS with jks-js (the key decrypted with ssl.key.password, else
//                           ssl.keystore.password), PKCS12 with node-forge (the key entry's chain:
//                           its certificate, then the store's other certificates, as Java's
//                           PKCS12 keystore gives it)
//   ssl.keystore.location   the store file; for PEM, a file with the key and the certificate chain
//   ssl.keystore.certificate.chain / ssl.keystore.key   PEM given inline (ssl.key.password for an
//                           encrypted key)
//   ssl.truststore.*        the same for the CA certificates that verify clients
//   ssl.client.auth         none | requested | required
//   ssl.enabled.protocols   TLSv1.2, TLSv1.3;  ssl.cipher.suites  IANA names rustls has
//
// Principals of SSL connections: User:<the client certificate's subject DN> through
// ssl.principal.mapping.rules (Kafka's SslPrincipalMapper: DEFAULT, RULE:pattern/replacement/[LU]),
// User:ANONYMOUS without a certificate. The store files are looked at every 10 s and the listener
// gets the new certificates when they changed (existing connections keep theirs).

import { createPrivateKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { toPem } from "jks-js";
import forge from "node-forge";
import type { BrokerConfig } from "../config/index.js";
import { ConfigError } from "../config/index.js";

/** The native listener's TLS settings (NetListenerTls). */
export interface TlsSettings {
  certificateChainPem: string;
  privateKeyPem: string;
  trustedCertificatesPem: string | null;
  clientAuth: string;
  protocols: string[] | null;
  cipherSuites: string[] | null;
}

/** Reads ssl.* for `listener` (prefixed keys first). */
export function sslValue(config: BrokerConfig, listener: string, key: string): string | null {
  const value = config.text(`listener.name.${listener.toLowerCase()}.${key}`) ?? config.text(key);
  return value === null || value.trim() === "" ? null : value;
}

function list(text: string | null): string[] | null {
  if (text === null) return null;
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return items.length === 0 ? null : items;
}

/** An unencrypted PKCS#8 PEM of `pem` (decrypted with `password` when it is encrypted). */
function plainKey(pem: string, password: string | null, key: string): string {
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase: password ?? undefined })
      .export({ format: "pem", type: "pkcs8" })
      .toString();
  } catch (error) {
    throw new ConfigError(key, `Invalid private key for ${key}: ${(error as Error).message}`);
  }
}

function readStore(location: string, key: string): Buffer {
  try {
    return readFileSync(location);
  } catch (error) {
    throw new ConfigError(key, `Failed to load SSL keystore ${location}: ${(error as Error).message}`);
  }
}

interface PemEntries {
  certificates: string[];
  keys: { key: string; chain: string }[];
}

/** A JKS or PKCS12 store's entries as PEM. */
function storeEntries(type: string, bytes: Buffer, password: string, keyPassword: string | null, key: string): PemEntries {
  let result: Record<string, { ca?: string; cert?: string; key?: string }>;
  try {
    if (type === "PKCS12") return pkcs12Entries(bytes, password);
    result = toPem(bytes, password, keyPassword ?? undefined);
  } catch (error) {
    throw new ConfigError(key, `Failed to load SSL ${type} store: ${(error as Error).message}`);
  }
  const entries: PemEntries = { certificates: [], keys: [] };
  for (const entry of Object.values(result)) {
    if (entry.key !== undefined && entry.cert !== undefined) entries.keys.push({ key: entry.key, chain: entry.cert });
    else if (entry.ca !== undefined) entries.certificates.push(entry.ca);
    else if (entry.cert !== undefined) entries.certificates.push(entry.cert);
  }
  return entries;
}

/**
 * A PKCS12 store's entries as PEM: each private key with its certificate (the certificate bag
 * with the key's localKeyId) followed by the store's certificates that belong to no key (the CA
 * chain openssl's -certfile adds); without keys, those certificates are trusted ones.
 */
function pkcs12Entries(bytes: Buffer, password: string): PemEntries {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer(bytes.toString("binary"))), password);
  const { oids } = forge.pki;
  const bagsOf = (bagType: string) => p12.getBags({ bagType })[bagType] ?? [];
  const keyBags = [...bagsOf(oids.pkcs8ShroudedKeyBag), ...bagsOf(oids.keyBag)];
  const certBags = bagsOf(oids.certBag).filter((bag) => bag.cert !== undefined);
  const idOf = (bag: forge.pkcs12.Bag) => forge.util.bytesToHex((bag.attributes.localKeyId?.[0] as string | undefined) ?? "");
  const pemOf = (bag: forge.pkcs12.Bag) => forge.pki.certificateToPem(bag.cert as forge.pki.Certificate).replace(/\r\n/g, "\n");
  const keyIds = new Set(keyBags.map(idOf).filter((id) => id !== ""));
  const loose = certBags.filter((bag) => !keyIds.has(idOf(bag))).map(pemOf);
  const keys = keyBags
    .filter((bag) => bag.key !== undefined)
    .map((bag) => {
      const own = certBags.filter((cert) => idOf(cert) !== "" && idOf(cert) === idOf(bag)).map(pemOf);
      const leaf = own.length > 0 ? own : loose.slice(0, 1);
      const rest = loose.filter((pem) => !leaf.includes(pem));
      return { key: forge.pki.privateKeyToPem(bag.key as forge.pki.PrivateKey).replace(/\r\n/g, "\n"), chain: [...leaf, ...rest].join("\n") };
    });
  return { certificates: keys.length === 0 ? loose : [], keys };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): { type: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((match) => ({ type: match[1], pem: match[0] }));
}

/** The keystore: the server's certificate chain and unencrypted key. */
function keystore(config: BrokerConfig, listener: string): { chain: string; key: string } {
  const type = (sslValue(config, listener, "ssl.keystore.type") ?? "JKS").toUpperCase();
  const keyPassword = sslValue(config, listener, "ssl.key.password");
  const storePassword = sslValue(config, listener, "ssl.keystore.password");
  if (type === "PEM") {
    const inlineChain = sslValue(config, listener, "ssl.keystore.certificate.chain");
    const inlineKey = sslValue(config, listener, "ssl.keystore.key");
    let blocks: { type: string; pem: string }[];
    if (inlineChain !== null && inlineKey !== null) blocks = [...pemBlocks(inlineKey), ...pemBlocks(inlineChain)];
    else {
      const location = sslValue(config, listener, "ssl.keystore.location");
      if (location === null) throw new ConfigError("ssl.keystore.location", `SSL listener ${listener} needs a keystore (ssl.keystore.location)`);
      blocks = pemBlocks(readStore(location, "ssl.keystore.location").toString("utf8"));
    }
    const keyBlock = blocks.find((block) => block.type.endsWith("PRIVATE KEY"));
    const certificates = blocks.filter((block) => block.type === "CERTIFICATE").map((block) => block.pem);
    if (keyBlock === undefined || certificates.length === 0)
      throw new ConfigError("ssl.keystore.location", `The PEM keystore of listener ${listener} needs a private key and a certificate chain`);
    return { chain: certificates.join("\n"), key: plainKey(keyBlock.pem, keyPassword, "ssl.key.password") };
  }
  if (type !== "JKS" && type !== "PKCS12") throw new ConfigError("ssl.keystore.type", `Unsupported keystore type ${type} (JKS, PKCS12, PEM)`);
  const location = sslValue(config, listener, "ssl.keystore.location");
  if (location === null) throw new ConfigError("ssl.keystore.location", `SSL listener ${listener} needs a keystore (ssl.keystore.location)`);
  const entries = storeEntries(type, readStore(location, "ssl.keystore.location"), storePassword ?? "", keyPassword, "ssl.keystore.location");
  const entry = entries.keys[0];
  if (entry === undefined) throw new ConfigError("ssl.keystore.location", `The keystore ${location} holds no private key entry`);
  return { chain: entry.chain, key: plainKey(entry.key, null, "ssl.key.password") };
}

/** The truststore's CA certificates as PEM, or null when none is configured. */
function truststore(config: BrokerConfig, listener: string): string | null {
  const type = (sslValue(config, listener, "ssl.truststore.type") ?? "JKS").toUpperCase();
  const inline = sslValue(config, listener, "ssl.truststore.certificates");
  if (type === "PEM" && inline !== null) return inline;
  const location = sslValue(config, listener, "ssl.truststore.location");
  if (location === null) return null;
  const bytes = readStore(location, "ssl.truststore.location");
  if (type === "PEM") return bytes.toString("utf8");
  if (type !== "JKS" && type !== "PKCS12") throw new ConfigError("ssl.truststore.type", `Unsupported truststore type ${type} (JKS, PKCS12, PEM)`);
  const entries = storeEntries(type, bytes, sslValue(config, listener, "ssl.truststore.password") ?? "", null, "ssl.truststore.location");
  const certificates = [...entries.certificates, ...entries.keys.map((entry) => entry.chain)];
  return certificates.length === 0 ? null : certificates.join("\n");
}

/** The TLS settings of an SSL or SASL_SSL listener. */
export function tlsSettingsOf(config: BrokerConfig, listener: string): TlsSettings {
  const { chain, key } = keystore(config, listener);
  const clientAuth = (sslValue(config, listener, "ssl.client.auth") ?? "none").toLowerCase();
  if (!["none", "requested", "required"].includes(clientAuth))
    throw new ConfigError("ssl.client.auth", `Invalid value ${clientAuth} for configuration ssl.client.auth: String must be one of: required, requested, none`);
  return {
    certificateChainPem: chain,
    privateKeyPem: key,
    trustedCertificatesPem: truststore(config, listener),
    clientAuth,
    protocols: list(sslValue(config, listener, "ssl.enabled.protocols")),
    cipherSuites: list(sslValue(config, listener, "ssl.cipher.suites")),
  };
}

/** The files a listener's TLS settings come from (to notice certificate renewals). */
export function tlsFilesOf(config: BrokerConfig, listener: string): string[] {
  return ["ssl.keystore.location", "ssl.truststore.location"].map((key) => sslValue(config, listener, key)).filter((path): path is string => path !== null);
}

/** Calls `reload` with new settings when one of the listener's store files changed (polled every `intervalMs`). */
export function watchTlsFiles(
  config: BrokerConfig,
  listener: string,
  reload: (settings: TlsSettings) => void,
  onError: (error: unknown) => void,
  intervalMs = 10_000,
): () => void {
  const files = tlsFilesOf(config, listener);
  if (files.length === 0) return () => {};
  const stamp = () => files.map((file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1).join(",");
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      reload(tlsSettingsOf(config, listener));
    } catch (error) {
      onError(error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------------
// ssl.principal.mapping.rules (Kafka's SslPrincipalMapper)

interface Rule {
  readonly isDefault: boolean;
  readonly pattern: RegExp | null;
  readonly replacement: string;
  readonly toLowerCase: boolean;
  readonly toUpperCase: boolean;
}

const RULE_SPLITTER = /\s*(DEFAULT|RULE:((\\.|[^\\/])*)\/((\\.|[^\\/])*)\/([LU]?).*?|(.*?))\s*([,\n]\s*|$)/gy;

/** Parses ssl.principal.mapping.rules; throws ConfigError as Kafka does for a bad rule. */
export function principalMapper(text: string | null): (subject: string) => string {
  const rules: Rule[] = [];
  const source = (text ?? "DEFAULT").trim() === "" ? "DEFAULT" : (text ?? "DEFAULT").trim();
  RULE_SPLITTER.lastIndex = 0;
  while (RULE_SPLITTER.lastIndex < source.length) {
    const start = RULE_SPLITTER.lastIndex;
    const match = RULE_SPLITTER.exec(source);
    if (match === null || RULE_SPLITTER.lastIndex === start) break;
    if (match[7] !== undefined && match[7] !== "") {
      throw new ConfigError("ssl.principal.mapping.rules", `Invalid rule: ${match[7]}`);
    }
    if (match[1] === "DEFAULT") rules.push({ isDefault: true, pattern: null, replacement: "", toLowerCase: false, toUpperCase: false });
    else if (match[2] !== undefined) {
      rules.push({
        isDefault: false,
        pattern: new RegExp(`^(?:${match[2]})$`),
        replacement: match[4] ?? "",
        toLowerCase: match[6] === "L",
        toUpperCase: match[6] === "U",
      });
    }
  }
  return (subject: string) => {
    for (const rule of rules) {
      if (rule.isDefault) return subject;
      const pattern = rule.pattern as RegExp;
      if (!pattern.test(subject)) continue;
      let name = subject.replace(pattern, rule.replacement);
      if (rule.toLowerCase) name = name.toLowerCase();
      if (rule.toUpperCase) name = name.toUpperCase();
      return name;
    }
    throw new Error(`No rules apply to ${subject}, rules ${source}`);
  };
}
