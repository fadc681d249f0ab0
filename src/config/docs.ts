// docs/configuration.md, rendered from the key tables (test/unit/config.test.ts keeps the file current).
import { brokerConfigKeys, embeddedBrokerDefaults, sluiceBrokerKeys } from "./broker.js";
import type { ConfigKey } from "./defs.js";
import { topicConfigDefs } from "./topic.js";

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");
const code = (text: string) => (text === "" ? '`""`' : `\`${text.replaceAll("`", "'")}\``);

function defaultText(key: ConfigKey): string {
  if (key.defaultValue === undefined) return "required";
  if (key.defaultValue === null) return "null";
  return code(key.defaultValue);
}

function sluice(key: ConfigKey): string {
  if (!key.honoured) return "no";
  return key.note ? `yes: ${key.note}` : "yes";
}

function row(key: ConfigKey, extra: string[]): string {
  const flags = [key.internal ? "internal" : null, key.type === "PASSWORD" ? "sensitive" : null].filter(Boolean).join(", ");
  const name = flags ? `${code(key.name)} (${flags})` : code(key.name);
  const valid = key.validator ? code(key.validator.description) : "";
  return `| ${[name, key.type, defaultText(key), ...extra, valid, sluice(key), key.documentation].map(cell).join(" | ")} |`;
}

/** The Markdown of docs/configuration.md. */
export function configurationReference(): string {
  const broker = [...brokerConfigKeys.values()];
  const honouredBroker = broker.filter((key) => key.honoured).length;
  const honouredTopic = topicConfigDefs.filter((key) => key.honoured).length;
  return [
    "# Configuration",
    "",
    "<!-- Generated from src/config (configurationReference()); `UPDATE_DOCS=1 npx vitest run test/unit/config.test.ts` rewrites it. -->",
    "",
    "Sluice reads Apache Kafka 4.4's broker configuration: the same `server.properties` keys, types,",
    "defaults and validation, and the same topic configs. Every Kafka key is accepted and validated,",
    "and DescribeConfigs lists them as Kafka does; the **Sluice** column says which ones change what",
    "Sluice does today. The tables are generated from Kafka 4.4.0's own definitions",
    "(`scripts/kafka-config-defs.mjs`), and `test/unit/config.test.ts` checks names, types, defaults,",
    "validation messages and DescribeConfigs output against Kafka's classes.",
    "",
    "## Loading",
    "",
    "```",
    "sluice start [--config server.properties] [--override key=value]...",
    "```",
    "",
    "- `--config FILE`: a Java `.properties` file (`key=value`, `key: value` or `key value`; `#` and",
    "  `!` comments; a trailing `\\` continues a line; `\\uXXXX` escapes). Read as UTF-8 (Kafka reads",
    "  ISO-8859-1, which differs only outside ASCII).",
    "- `--override key=value`: applied after the file, in order; later ones win.",
    "- Without `--config`, Sluice starts from this built-in configuration: a single node on",
    "  localhost:9092 keeping its data in `./data` (Kafka's defaults would listen on every interface",
    "  and keep data in `/tmp/kafka-logs`; `node.id` and `process.roles` have no Kafka default):",
    "",
    "```properties",
    ...Object.entries(embeddedBrokerDefaults).map(([key, value]) => `${key}=${value}`),
    "```",
    "",
    "- An invalid value stops the broker with Kafka's message, naming the key and what is allowed,",
    "  e.g. `Invalid value abc for configuration num.network.threads: Not a number of type INT` or",
    "  `Invalid value x for configuration log.cleanup.policy: String must be one of: compact, delete`.",
    "- An unknown key is reported as a warning and ignored, as are Kafka keys Sluice does not act on",
    "  yet (one warning listing them).",
    "- `listeners`: `NAME://host:port` entries; an empty host binds every interface (0.0.0.0), an IPv6",
    "  host goes in brackets. `advertised.listeners` defaults to the listeners (minus",
    "  `controller.listener.names`), an empty host advertised as the machine's host name.",
    "- DescribeConfigs on a broker reports every value as a static (`STATIC_BROKER_CONFIG`) or default",
    "  (`DEFAULT_CONFIG`) one, passwords and unknown keys hidden (null). Broker configs cannot be",
    "  altered at run time yet; `readOnly` is reported as Kafka reports it (false for the keys Kafka",
    "  can update dynamically).",
    "",
    "Topic names follow Kafka: 1 to 249 characters of ASCII letters, digits, `.`, `_` and `-`, not",
    "`.` or `..`; two names that differ only in `.` versus `_` collide.",
    "",
    `## Topic configs (${topicConfigDefs.length}; ${honouredTopic} used by Sluice)`,
    "",
    "Set with CreateTopics, AlterConfigs or IncrementalAlterConfigs (APPEND and SUBTRACT only for",
    "LIST configs); a topic without an override takes the broker's value of the first synonym set,",
    "then Kafka's default (`*.hours` and `*.minutes` synonyms are converted to milliseconds).",
    "",
    "| Key | Type | Default | Broker synonyms | Valid values | Sluice | Description |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...topicConfigDefs.map((key) => row(key, [key.synonyms.map(code).join(", ")])),
    "",
    "## Sluice's own broker keys",
    "",
    "Keys no Kafka broker has: set like the others (`server.properties`, `--override`), never",
    "warned about as unknown, and not listed by DescribeConfigs (Kafka's tools see Kafka's keys only).",
    "",
    "| Key | Default | Description |",
    "| --- | --- | --- |",
    ...[...sluiceBrokerKeys].map(([name, key]) => `| ${[code(name), code(key.defaultValue), key.documentation].map(cell).join(" | ")} |`),
    "",
    `## Broker configs (${broker.length}; ${honouredBroker} used by Sluice)`,
    "",
    "| Key | Type | Default | Valid values | Sluice | Description |",
    "| --- | --- | --- | --- | --- | --- |",
    ...broker.map((key) => row(key, [])),
    "",
  ].join("\n");
}
