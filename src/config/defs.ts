// Kafka's ConfigDef model: typed config keys with defaults and validators, values parsed from strings
// exactly as org.apache.kafka.common.config.ConfigDef parses them (trimming, Java's number syntax,
// comma lists), and Kafka's error messages ("Invalid value abc for configuration x: Not a number of
// type INT"). The key tables themselves are generated from Kafka (kafka-defs.ts).

/** DescribeConfigs' ConfigType: the configType field of each entry. */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

/** DescribeConfigs' ConfigSource: where the value of an entry or a synonym comes from. */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;

/** ConfigDef.Type */
export type KafkaType = "BOOLEAN" | "STRING" | "INT" | "SHORT" | "LONG" | "DOUBLE" | "LIST" | "CLASS" | "PASSWORD";
export type Importance = "HIGH" | "MEDIUM" | "LOW";

/**
 * One generated row of kafka-defs.ts: [name, type, default (undefined: required, null: none),
 * validator spec, importance, flags ("internal", "dynamic", comma-separated), one-sentence summary,
 * synonyms].
 */
export type KafkaKeyRow = readonly [
  name: string,
  type: KafkaType,
  defaultValue: string | null | undefined,
  validator: string | null,
  importance: Importance,
  flags: string,
  documentation: string,
  synonyms?: readonly string[],
];

/** A parsed config value: LONG values are numbers too (Long.MAX_VALUE rounds; `text` stays exact). */
export type ConfigValue = boolean | number | string | readonly string[] | null;

/** A value as Kafka parses it, and as Kafka prints it back (ConfigDef.convertToString). */
export interface ParsedValue {
  readonly value: ConfigValue;
  /** Kafka's string form of the parsed value (null for null); the real value for passwords. */
  readonly text: string | null;
}

/**
 * An invalid config name or value; `key` names the config. `error` is the Kafka error code name a
 * request handler answers with: INVALID_CONFIG, or INVALID_REQUEST (e.g. a key twice in one alter).
 */
export class ConfigError extends Error {
  readonly key: string;
  readonly error: "INVALID_CONFIG" | "INVALID_REQUEST";
  constructor(key: string, message: string, error: "INVALID_CONFIG" | "INVALID_REQUEST" = "INVALID_CONFIG") {
    super(message);
    this.name = "ConfigError";
    this.key = key;
    this.error = error;
  }
}

/** Kafka's ConfigException(name, value, message) text. */
export function invalidValue(name: string, value: unknown, message: string | null): ConfigError {
  return new ConfigError(name, `Invalid value ${javaToString(value)} for configuration ${name}${message === null ? "" : `: ${message}`}`);
}

export interface Validator {
  /** Kafka's toString of the validator: the "Valid Values" of its documentation. */
  readonly description: string;
  /** Throws a ConfigError naming `name` when `value` (already parsed) is not allowed. */
  validate(name: string, value: ConfigValue, type: KafkaType): void;
}

/** A config key: Kafka's definition plus what Sluice does with it. */
export interface ConfigKey {
  readonly name: string;
  readonly type: KafkaType;
  /** Kafka's default as its string form; null: no value by default; undefined: required. */
  readonly defaultValue: string | null | undefined;
  readonly validator: Validator | null;
  readonly importance: Importance;
  readonly documentation: string;
  /** Kafka hides internal configs from DescribeConfigs unless they are set. */
  readonly internal: boolean;
  /** Updatable without a restart in Kafka (DynamicBrokerConfig); DescribeConfigs' readOnly is the opposite. */
  readonly dynamic: boolean;
  /** Broker: the keys that set this one, in Kafka's order (e.g. log.retention.ms, .minutes, .hours). Topic: its broker synonyms. */
  readonly synonyms: readonly string[];
  /** True when Sluice acts on this config today; false: accepted, validated, described, but ignored. */
  readonly honoured: boolean;
  /** How Sluice honours it, when only partly or differently from Kafka. */
  readonly note?: string;
}

// ---------------------------------------------------------------------------------------------
// Java's text forms

/** String.trim(): strips chars <= U+0020 at both ends (not Unicode spaces). */
export function javaTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) <= 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) <= 0x20) end--;
  return text.slice(start, end);
}

/** Double.toString: "1.0", "0.5", "1.0E10", "1.0E-4", "NaN", "Infinity". */
export function javaDoubleToString(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "Infinity";
  if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const text = String(value);
    return text.includes(".") ? text : `${text}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split("e");
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${exponent.replace("+", "")}`;
}

function javaToString(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(javaToString).join(", ")}]`;
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// Parsing (ConfigDef.parseType)

const integerPattern = /^[+-]?\d+$/;
const integerBounds = {
  SHORT: [-(2n ** 15n), 2n ** 15n - 1n],
  INT: [-(2n ** 31n), 2n ** 31n - 1n],
  LONG: [-(2n ** 63n), 2n ** 63n - 1n],
} as const;
const decimalDouble = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?$/;
const hexDouble = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)[fFdD]?$/;
const commaWithWhitespace = /\s*,\s*/;
// A Java class name: dotted identifiers, $ for nested classes.
const className = /^[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u;

/** Double.parseDouble on a trimmed string, or null when Java would throw. */
export function parseJavaDouble(text: string): number | null {
  const trimmed = javaTrim(text);
  const signless = trimmed.replace(/^[+-]/, "");
  if (signless === "NaN") return Number.NaN;
  if (signless === "Infinity") return trimmed.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (decimalDouble.test(trimmed)) return Number(trimmed.replace(/[fFdD]$/, ""));
  const hex = hexDouble.exec(trimmed);
  if (hex && (hex[2] !== "" || (hex[3] ?? "") !== "")) {
    const digits = `${hex[2]}${hex[3] ?? ""}`;
    const mantissa = digits === "" ? 0 : Number.parseInt(digits, 16);
    const value = mantissa * 2 ** (Number(hex[4]) - 4 * (hex[3] ?? "").length);
    return hex[1] === "-" ? -value : value;
  }
  return null;
}

/** ConfigDef.parseType for a string value, then convertToString of the result. Throws ConfigError. */
export function parseType(name: string, raw: string, type: KafkaType): ParsedValue {
  const trimmed = javaTrim(raw);
  switch (type) {
    case "BOOLEAN": {
      const lower = trimmed.toLowerCase();
      if (lower === "true" || lower === "false") return { value: lower === "true", text: lower };
      throw invalidValue(name, raw, "Expected value to be either true or false");
    }
    case "STRING":
    case "PASSWORD":
      return { value: trimmed, text: trimmed };
    case "SHORT":
    case "INT":
    case "LONG": {
      if (integerPattern.test(trimmed)) {
        const big = BigInt(trimmed);
        const [min, max] = integerBounds[type];
        if (big >= min && big <= max) return { value: Number(big), text: big.toString() };
      }
      throw invalidValue(name, raw, `Not a number of type ${type}`);
    }
    case "DOUBLE": {
      const value = parseJavaDouble(trimmed);
      if (value === null) throw invalidValue(name, raw, "Not a number of type DOUBLE");
      return { value, text: javaDoubleToString(value) };
    }
    case "LIST": {
      const items = trimmed === "" ? [] : trimmed.split(commaWithWhitespace);
      return { value: items, text: items.join(",") };
    }
    case "CLASS":
      // Kafka loads the class; Sluice runs no Java, so it checks the name's form only.
      if (className.test(trimmed)) return { value: trimmed, text: trimmed };
      throw invalidValue(name, raw, `Class ${trimmed} could not be found.`);
  }
}

/** Parses and validates a value for `key` (ConfigDef.parseValue). Throws ConfigError. */
export function parseValue(key: Pick<ConfigKey, "name" | "type" | "validator">, raw: string): ParsedValue {
  const parsed = parseType(key.name, raw, key.type);
  key.validator?.validate(key.name, parsed.value, key.type);
  return parsed;
}

/** The parsed default of a key (null when it has none). */
export function parseDefault(key: ConfigKey): ParsedValue {
  if (key.defaultValue === null || key.defaultValue === undefined) return { value: null, text: null };
  return parseType(key.name, key.defaultValue, key.type);
}

// ---------------------------------------------------------------------------------------------
// Validators

function numberText(value: ConfigValue, type: KafkaType): string {
  return type === "DOUBLE" ? javaDoubleToString(value as number) : String(value);
}

/** ConfigDef.Range: min and/or max, inclusive (bounds as Kafka prints them). */
export function range(min: string | null, max: string | null): Validator {
  const minValue = min === null ? null : Number(min);
  const maxValue = max === null ? null : Number(max);
  return {
    description: min === null ? (max === null ? "[...]" : `[...,${max}]`) : max === null ? `[${min},...]` : `[${min},...,${max}]`,
    validate(name, value, type) {
      if (value === null) throw invalidValue(name, null, "Value must be non-null");
      const n = value as number;
      if (minValue !== null && n < minValue) throw invalidValue(name, numberText(n, type), `Value must be at least ${min}`);
      if (maxValue !== null && n > maxValue) throw invalidValue(name, numberText(n, type), `Value must be no more than ${max}`);
    },
  };
}

/** ConfigDef.ValidString (caseSensitive) or CaseInsensitiveValidString. */
export function oneOf(allowed: readonly string[], caseInsensitive = false): Validator {
  const upper = new Set(allowed.map((s) => s.toUpperCase()));
  return {
    description: `${caseInsensitive ? "(case insensitive) " : ""}[${allowed.join(", ")}]`,
    validate(name, value) {
      const s = value as string | null;
      const ok = s !== null && (caseInsensitive ? upper.has(s.toUpperCase()) : allowed.includes(s));
      if (!ok) throw invalidValue(name, s, `String must be one of${caseInsensitive ? " (case insensitive)" : ""}: ${allowed.join(", ")}`);
    },
  };
}

/**
 * ConfigDef.ValidList as of Kafka 4.4 (KIP-1161): null and an empty list pass only where the key
 * allows them, no value twice, no empty value, and every value one of `allowed` (any value when
 * `allowed` is empty).
 */
export function listOf(allowed: readonly string[], options: { emptyAllowed: boolean; nullAllowed: boolean }): Validator {
  const description = allowed.length === 0 ? "" : `[${allowed.join(", ")}]`;
  return {
    description,
    validate(name, value) {
      if (value === null) {
        if (options.nullAllowed) return;
        throw new ConfigError(name, `Configuration '${name}' values must not be null.`);
      }
      const items = value as readonly string[];
      if (!options.emptyAllowed && items.length === 0) {
        throw new ConfigError(
          name,
          `Configuration '${name}' must not be empty. Valid values include: ${allowed.length === 0 ? "any non-empty value" : description}`,
        );
      }
      if (new Set(items).size !== items.length) throw new ConfigError(name, `Configuration '${name}' values must not be duplicated.`);
      for (const item of items) {
        if (item === "") throw new ConfigError(name, `Configuration '${name}' values must not be empty.`);
        if (allowed.length > 0 && !allowed.includes(item)) throw invalidValue(name, item, `String must be one of: ${allowed.join(", ")}`);
      }
    },
  };
}

export const nonEmptyString: Validator = {
  description: "non-empty string",
  validate(name, value) {
    if (value === null) throw invalidValue(name, null, "String must be non-null");
    if (javaTrim(value as string) === "") throw invalidValue(name, value, "String must be non-empty");
  },
};

export const nonNull: Validator = {
  description: "non-null string",
  validate(name, value) {
    if (value === null) throw invalidValue(name, null, "Entry must be non null");
  },
};

/** compression.gzip.level: 1..9 or -1 (Deflater.DEFAULT_COMPRESSION). */
export const gzipLevel: Validator = {
  description: "[1,...,9] or -1",
  validate(name, value) {
    const n = value as number;
    if (n !== -1 && (n < 1 || n > 9)) throw invalidValue(name, n, "Value must be between 1 and 9 or equal to -1");
  },
};

/** ThrottledReplicaListValidator: "*" or partitionId:brokerId pairs. */
export const throttledReplicas: Validator = {
  description: "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
  validate(name, value) {
    const items = (value as readonly string[] | null) ?? [];
    const ok = (items.length === 1 && javaTrim(items[0]) === "*") || items.every((item) => /^\s*\d+\s*:\s*\d+\s*$/.test(item));
    if (!ok) {
      throw invalidValue(
        name,
        items,
        `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`,
      );
    }
  },
};

/** Utils.getHost/getPort: [scheme://]host:port, host possibly an [IPv6] literal or empty; null when malformed. */
export function splitHostPort(address: string): { host: string; port: number } | null {
  const match = /^(?:[0-9a-zA-Z\-%._]*:\/\/)?\[?([0-9a-zA-Z\-%._:]*)]?:([0-9]+)$/.exec(address);
  if (!match || Number(match[2]) > 2 ** 31 - 1) return null;
  return { host: match[1], port: Number(match[2]) };
}

/** QuorumConfig.ControllerQuorumVotersValidator: id@host:port entries. */
export const quorumVoters: Validator = {
  description: "non-empty list",
  validate(name, value) {
    for (const entry of (value as readonly string[] | null) ?? []) {
      const at = entry.indexOf("@");
      const hostPort = at < 0 ? null : splitHostPort(entry.slice(at + 1));
      if (at < 0 || hostPort === null) {
        throw new ConfigError(name, `Invalid configuration value for ${name}. Each entry should be in the form \`{id}@{host}:{port}\`.`);
      }
      const id = entry.slice(0, at);
      if (!/^[+-]?\d+$/.test(id) || Math.abs(Number(id)) > 2 ** 31 - 1) throw new ConfigError(name, `Failed to parse voter ID as an integer from ${id}`);
    }
  },
};

/** QuorumConfig.ControllerQuorumBootstrapServersValidator: host:port entries. */
export const quorumBootstrapServers: Validator = {
  description: "non-empty list",
  validate(name, value) {
    for (const entry of (value as readonly string[] | null) ?? []) {
      if (splitHostPort(entry) === null) {
        throw new ConfigError(name, `Failed to parse host name from ${entry} for the configuration ${name}. Each entry should be in the form "{host}:{port}"`);
      }
    }
  },
};

/** The validator a kafka-defs.ts spec names. */
export function validatorFromSpec(spec: string | null): Validator | null {
  if (spec === null) return null;
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "range": {
      const [min, max] = rest.split(":");
      return range(min === "" ? null : min, max === "" ? null : max);
    }
    case "in":
      return oneOf(rest.split(","));
    case "in-ci":
      return oneOf(rest.split(","), true);
    case "list": {
      const [flags, values] = [rest.slice(0, rest.indexOf(":")), rest.slice(rest.indexOf(":") + 1)];
      return listOf(values === "" ? [] : values.split(","), { emptyAllowed: flags.includes("e"), nullAllowed: flags.includes("n") });
    }
    case "non-empty":
      return nonEmptyString;
    case "non-null":
      return nonNull;
    case "gzip-level":
      return gzipLevel;
    case "throttled-replicas":
      return throttledReplicas;
    case "quorum-voters":
      return quorumVoters;
    case "quorum-bootstrap-servers":
      return quorumBootstrapServers;
    default:
      throw new Error(`unknown validator spec ${spec}`);
  }
}

/** ConfigKeys from generated rows, with Sluice's honoured set and notes. */
export function keysFromRows(rows: readonly KafkaKeyRow[], honoured: ReadonlyMap<string, string | null>, selfSynonym: boolean): Map<string, ConfigKey> {
  const keys = new Map<string, ConfigKey>();
  for (const [name, type, defaultValue, validator, importance, flags, documentation, synonyms] of rows) {
    const note = honoured.get(name);
    keys.set(name, {
      name,
      type,
      defaultValue,
      validator: validatorFromSpec(validator),
      importance,
      documentation,
      internal: flags.split(",").includes("internal"),
      dynamic: flags.split(",").includes("dynamic"),
      synonyms: synonyms ?? (selfSynonym ? [name] : []),
      honoured: note !== undefined,
      ...(note ? { note } : {}),
    });
  }
  return keys;
}

/** DescribeConfigs' configType for a Kafka type. */
export function configTypeId(type: KafkaType | undefined): number {
  return type === undefined ? ConfigType.UNKNOWN : ConfigType[type];
}
