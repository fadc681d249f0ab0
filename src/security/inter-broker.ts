// How this broker reaches the other brokers (replica fetchers, transaction markers,
// AddPartitionsToTxn), as Kafka decides it:
//
//   listener   inter.broker.listener.name, else the listener named after
//              security.inter.broker.protocol (PLAINTEXT by default); setting both is an error.
//              With neither set and no PLAINTEXT listener, the first listener (Sluice's
//              behaviour before inter-broker security, which Kafka would refuse).
//   protocol   that listener's entry in listener.security.protocol.map
//   SSL        (SSL, SASL_SSL) the listener's own ssl.* settings, used as a client: its keystore
//              is the client certificate, its truststore verifies the other broker's certificate,
//              and ssl.endpoint.identification.algorithm (https by default; empty: no host
//              name check) says whether the certificate must name the host connected to
//   SASL       (SASL_PLAINTEXT, SASL_SSL) sasl.mechanism.inter.broker.protocol (PLAIN,
//              SCRAM-SHA-256 or SCRAM-SHA-512; Kafka's default GSSAPI is refused), which the
//              listener must enable, with the username and password options of
//              listener.name.<listener>.<mechanism>.sasl.jaas.config (the login module a Kafka
//              broker uses for both directions)
//
// Only a broker in a cluster needs it; a misconfiguration is a ConfigError at startup. The TLS
// settings are read again when a store file changed (certificate renewal), for new connections.

import { statSync } from "node:fs";
import type { ClientTls } from "../client/connection.js";
import { CLIENT_SASL_MECHANISMS, type ClientSaslMechanism, type SaslCredentials } from "../client/sasl.js";
import type { BrokerConfig } from "../config/index.js";
import { ConfigError } from "../config/index.js";
import { parseJaasConfig } from "./jaas.js";
import { enabledMechanisms } from "./sasl.js";
import { tlsFilesOf, tlsSettingsOf } from "./ssl.js";

export interface InterBrokerSecurity {
  /** The listener (upper case) whose endpoint the other brokers are reached at. */
  readonly listener: string;
  readonly securityProtocol: string;
  /** The TLS settings for a new connection (SSL, SASL_SSL), else null. */
  tls(): ClientTls | null;
  /** The broker's credentials (SASL_PLAINTEXT, SASL_SSL), else null. */
  readonly sasl: SaslCredentials | null;
}

/** The inter-broker listener and its security (see the file comment); throws ConfigError. */
export function interBrokerSecurity(config: BrokerConfig): InterBrokerSecurity {
  const listener = interBrokerListener(config);
  const protocol = listener.securityProtocol;
  let tls: () => ClientTls | null = () => null;
  if (protocol === "SSL" || protocol === "SASL_SSL") {
    const files = tlsFilesOf(config, listener.name);
    const stamp = () => files.map((file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1).join(",");
    let cached = { stamp: stamp(), tls: clientTlsOf(config, listener.name) };
    tls = () => {
      const now = stamp();
      if (now !== cached.stamp) cached = { stamp: now, tls: clientTlsOf(config, listener.name) };
      return cached.tls;
    };
  }
  const sasl = protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL" ? credentialsOf(config, listener.name) : null;
  return { listener: listener.name, securityProtocol: protocol, tls, sasl };
}

function interBrokerListener(config: BrokerConfig): { name: string; securityProtocol: string } {
  const named = config.isSet("inter.broker.listener.name") ? (config.text("inter.broker.listener.name") ?? "").trim().toUpperCase() : "";
  const protocolSet = config.isSet("security.inter.broker.protocol");
  if (named !== "" && protocolSet)
    throw new ConfigError("inter.broker.listener.name", "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.");
  const listeners = config.brokerListeners;
  const valid = listeners.map((l) => l.name).join(",");
  if (named !== "") {
    const listener = listeners.find((l) => l.name === named);
    if (listener === undefined)
      throw new ConfigError(
        "inter.broker.listener.name",
        `inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are ${valid}`,
      );
    return listener;
  }
  const protocol = (config.text("security.inter.broker.protocol") ?? "PLAINTEXT").trim().toUpperCase();
  const listener = listeners.find((l) => l.name === protocol) ?? (protocolSet ? undefined : listeners[0]);
  if (listener === undefined)
    throw new ConfigError(
      "security.inter.broker.protocol",
      `security.inter.broker.protocol ${protocol} needs a listener named ${protocol} (or set inter.broker.listener.name). The valid options based on currently configured listeners are ${valid}`,
    );
  return listener;
}

/** ssl.endpoint.identification.algorithm of `listener` ("" given explicitly disables it, so sslValue's "empty is unset" does not apply). */
function endpointIdentification(config: BrokerConfig, listener: string): string {
  const keys = [`listener.name.${listener.toLowerCase()}.ssl.endpoint.identification.algorithm`, "ssl.endpoint.identification.algorithm"];
  const key = keys.find((candidate) => config.isSet(candidate));
  const value = key === undefined ? "https" : (config.text(key) ?? "").trim();
  if (value !== "" && value.toLowerCase() !== "https")
    throw new ConfigError(key ?? keys[1], `Unsupported ssl.endpoint.identification.algorithm ${value} (https, or empty for none)`);
  return value;
}

function clientTlsOf(config: BrokerConfig, listener: string): ClientTls {
  const settings = tlsSettingsOf(config, listener);
  if (settings.trustedCertificatesPem === null)
    throw new ConfigError(
      "ssl.truststore.location",
      `The inter-broker listener ${listener} needs a truststore (ssl.truststore.location) to verify the other brokers' certificates`,
    );
  return {
    certificateChainPem: settings.certificateChainPem,
    privateKeyPem: settings.privateKeyPem,
    trustedCertificatesPem: settings.trustedCertificatesPem,
    verifyHostname: endpointIdentification(config, listener) !== "",
    protocols: settings.protocols ?? undefined,
    cipherSuites: settings.cipherSuites ?? undefined,
  };
}

function credentialsOf(config: BrokerConfig, listener: string): SaslCredentials {
  const key = "sasl.mechanism.inter.broker.protocol";
  const mechanism = (config.text(key) ?? "GSSAPI").trim().toUpperCase();
  if (!(CLIENT_SASL_MECHANISMS as readonly string[]).includes(mechanism))
    throw new ConfigError(key, `SASL mechanism ${mechanism} is not supported for inter-broker connections (supported: ${CLIENT_SASL_MECHANISMS.join(", ")})`);
  if (!enabledMechanisms(config, listener).includes(mechanism))
    throw new ConfigError(key, `${key} must be included in sasl.enabled.mechanisms when SASL is used for inter-broker communication`);
  const jaasKey = `listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`;
  const text = config.text(jaasKey);
  if (text === null) throw new ConfigError(jaasKey, `Inter-broker SASL/${mechanism} needs the broker's username and password in ${jaasKey}`);
  const modules = parseJaasConfig(jaasKey, text);
  const loginModule = mechanism === "PLAIN" ? "PlainLoginModule" : "ScramLoginModule";
  const module = modules.find((candidate) => candidate.loginModule.endsWith(loginModule)) ?? modules[0];
  const username = module.options.get("username");
  const password = module.options.get("password");
  if (username === undefined || password === undefined)
    throw new ConfigError(jaasKey, `${jaasKey} needs username and password options: the credentials this broker authenticates with to the others`);
  return { mechanism: mechanism as ClientSaslMechanism, username, password };
}
