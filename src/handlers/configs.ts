// DescribeConfigs (key 32), AlterConfigs (key 33) and IncrementalAlterConfigs (key 44) for
// topics and this broker, with Kafka's sources, synonyms and errors.
//
// Topic configs are overrides kept in the cluster metadata (persisted before the answer).
// Broker configs are static (server.properties and --override): they can be described, and
// altering them is INVALID_CONFIG, as Kafka answers for a config that is not dynamic.
// Broker loggers (BROKER_LOGGER) are described (the root logger and its level), not altered.

import { DYNAMIC_BROKER_KEYS, validateDynamicBrokerConfigs } from "../cluster/broker-configs.js";
import type { TopicMetadata } from "../cluster/metadata-cache.js";
import { applyGroupIncrementalAlter, describeGroupConfigs, validateGroupConfigs } from "../config/group-config.js";
import {
  applyIncrementalAlter,
  ConfigError,
  ConfigSource,
  type DescribedConfig,
  describeBrokerConfigs,
  describeTopicConfigs,
  validateTopicConfigs,
  validateTopicName,
} from "../config/index.js";
import { ErrorCode } from "../protocol/errors.js";
import type { AlterConfigsRequest, AlterConfigsResponse } from "../protocol/generated/alter-configs.js";
import type { DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResponseDescribeConfigsResult } from "../protocol/generated/describe-configs.js";
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from "../protocol/generated/incremental-alter-configs.js";
import { AclOperation, ResourceType as AclResource, CLUSTER_NAME } from "../security/acl.js";
import type { RequestContext } from "../server/context.js";
import { defineHandler } from "../server/registry.js";

/** ConfigResource.Type codes. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, GROUP: 32 } as const;

/**
 * Authorization of a config resource (Kafka's AuthHelper for configs): `operation` on the topic,
 * or on the cluster for a broker or broker logger; the error code when refused, else null.
 */
function configDenied(context: RequestContext, resourceType: number, name: string, operation: number): number | null {
  if (resourceType === ResourceType.TOPIC) return context.authorized(operation, AclResource.TOPIC, name) ? null : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (resourceType === ResourceType.GROUP) return context.authorized(operation, AclResource.GROUP, name) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED;
  if (resourceType === ResourceType.BROKER || resourceType === ResourceType.BROKER_LOGGER)
    return context.authorized(operation, AclResource.CLUSTER, CLUSTER_NAME) ? null : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  return null;
}

interface Outcome {
  errorCode: number;
  errorMessage: string | null;
}

const ok: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };

function fail(errorCode: number, errorMessage: string): Outcome {
  return { errorCode, errorMessage };
}

/** The topic a resource names, or why it cannot be used. */
function topicOf(context: RequestContext, name: string): TopicMetadata | Outcome {
  const problem = validateTopicName(name);
  if (problem !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
  return context.metadata.topic(name) ?? fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
}

/** Checks that a BROKER resource names this broker ("" is the cluster-wide default). */
function brokerResource(context: RequestContext, name: string): Outcome | null {
  if (name === "") return null;
  if (!/^-?\d+$/.test(name)) return fail(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
  if (Number(name) !== context.nodeId)
    return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${context.nodeId} or empty string, but received ${name}`);
  return null;
}

/**
 * A BROKER resource's description with its dynamic configs: the broker's own
 * (DYNAMIC_BROKER_CONFIG) over the cluster default's (DYNAMIC_DEFAULT_BROKER_CONFIG) over the
 * static ones; the default resource ("") lists the cluster defaults alone.
 */
function withDynamicConfigs(context: RequestContext, resource: string, described: DescribedConfig[], keys: readonly string[] | null): DescribedConfig[] {
  const own = resource === "" ? {} : context.brokerConfigs.brokerConfigs(resource);
  const defaults = context.brokerConfigs.brokerConfigs("");
  const entry = (name: string, value: string, source: number): DescribedConfig => ({
    name,
    value,
    readOnly: false,
    isDefault: false,
    configSource: source,
    isSensitive: false,
    synonyms: [],
    configType: 5,
    documentation: null,
  });
  const result = described.map((config) => {
    const value = own[config.name] ?? defaults[config.name];
    if (value === undefined) return config;
    return {
      ...entry(config.name, value, own[config.name] !== undefined ? ConfigSource.DYNAMIC_BROKER_CONFIG : ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
      configType: config.configType,
    };
  });
  const listed = new Set(result.map((config) => config.name));
  for (const [name, value] of Object.entries(resource === "" ? defaults : own)) {
    if (!listed.has(name) && (keys === null || keys.includes(name)))
      result.push(entry(name, value, resource === "" ? ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG : ConfigSource.DYNAMIC_BROKER_CONFIG));
  }
  return result;
}

/** Log4j's name for each pino level: the broker's loggers as Kafka's Log4jController lists them. */
const LOG4J_LEVELS: Readonly<Record<string, string>> = {
  fatal: "FATAL",
  error: "ERROR",
  warn: "WARN",
  info: "INFO",
  debug: "DEBUG",
  trace: "TRACE",
  silent: "OFF",
};

/**
 * A BROKER_LOGGER resource (kafka-configs.sh --entity-type broker-loggers): this broker's loggers
 * and their levels — Sluice has one, "root" — as Kafka's ConfigHelper describes them
 * (DYNAMIC_BROKER_LOGGER_CONFIG); the resource must name this broker.
 */
function describeBrokerLoggers(context: RequestContext, name: string, keys: readonly string[] | null): Outcome | DescribedConfig[] {
  if (name === "") return fail(ErrorCode.INVALID_REQUEST, "Broker id must not be empty");
  if (!/^-?\d+$/.test(name)) return fail(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
  if (Number(name) !== context.nodeId) return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${context.nodeId} but received ${name}`);
  const loggers: Record<string, string> = { root: LOG4J_LEVELS[context.logger.level] ?? context.logger.level.toUpperCase() };
  return Object.entries(loggers)
    .filter(([logger]) => keys === null || keys.includes(logger))
    .map(([logger, level]) => ({
      name: logger,
      value: level,
      readOnly: false,
      isDefault: false,
      configSource: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
      isSensitive: false,
      synonyms: [],
      configType: 0,
      documentation: null,
    }));
}

function configErrorOutcome(error: unknown): Outcome {
  if (error instanceof ConfigError) return fail(error.error === "INVALID_REQUEST" ? ErrorCode.INVALID_REQUEST : ErrorCode.INVALID_CONFIG, error.message);
  throw error;
}

/** Resources named twice in one alter request are refused (Kafka: INVALID_REQUEST). */
function duplicates(resources: readonly { resourceType: number; resourceName: string }[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const resource of resources) {
    const key = `${resource.resourceType}:${resource.resourceName}`;
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return twice;
}

export const describeConfigs = defineHandler<DescribeConfigsRequest, DescribeConfigsResponse>(32, { min: 0, max: 4 }, (context, request) => {
  const { config } = context;
  const opts = {
    includeSynonyms: context.apiVersion >= 1 && request.includeSynonyms,
    includeDocumentation: context.apiVersion >= 3 && request.includeDocumentation,
  };
  // isDefault exists only in v0 (configSource replaced it).
  const forVersion = (configs: DescribedConfig[]) => (context.apiVersion === 0 ? configs : configs.map((config) => ({ ...config, isDefault: false })));
  const results = request.resources.map((resource): DescribeConfigsResponseDescribeConfigsResult => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    const denied = configDenied(context, resource.resourceType, resource.resourceName, AclOperation.DESCRIBE_CONFIGS);
    if (denied !== null) return { ...base, errorCode: denied, errorMessage: null, configs: [] };
    try {
      if (resource.resourceType === ResourceType.TOPIC) {
        const topic = topicOf(context, resource.resourceName);
        if ("errorCode" in topic) return { ...base, ...topic, configs: [] };
        return { ...base, ...ok, configs: forVersion(describeTopicConfigs(topic.overrides, config, resource.configurationKeys, opts)) };
      }
      if (resource.resourceType === ResourceType.BROKER) {
        const problem = brokerResource(context, resource.resourceName);
        if (problem !== null) return { ...base, ...problem, configs: [] };
        const configs = withDynamicConfigs(
          context,
          resource.resourceName,
          resource.resourceName === "" ? [] : describeBrokerConfigs(config, resource.configurationKeys, opts),
          resource.configurationKeys,
        );
        return { ...base, ...ok, configs: forVersion(configs) };
      }
      if (resource.resourceType === ResourceType.GROUP) {
        if (resource.resourceName === "") return { ...base, ...fail(ErrorCode.INVALID_REQUEST, "Group name must not be empty"), configs: [] };
        const overrides = context.groupConfigs.groupConfig(resource.resourceName);
        // Kafka answers a described group with an empty (not null) message.
        return {
          ...base,
          errorCode: ErrorCode.NONE,
          errorMessage: "",
          configs: forVersion(describeGroupConfigs(overrides, config, resource.configurationKeys, opts)),
        };
      }
      if (resource.resourceType === ResourceType.BROKER_LOGGER) {
        const loggers = describeBrokerLoggers(context, resource.resourceName, resource.configurationKeys);
        if (!Array.isArray(loggers)) return { ...base, ...loggers, configs: [] };
        return { ...base, ...ok, configs: forVersion(loggers) };
      }
      return { ...base, ...fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resource.resourceType}`), configs: [] };
    } catch (error) {
      context.logger.error({ err: error, resource: base }, "describe configs failed");
      return { ...base, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null, configs: [] };
    }
  });
  return { throttleTimeMs: 0, results };
});

/** Checks and (unless validateOnly) stores a GROUP resource's new configs (Kafka's GroupConfig rules). */
async function alterGroup(
  context: RequestContext,
  name: string,
  compute: (current: Record<string, string>) => Record<string, string>,
  validateOnly: boolean,
): Promise<Outcome> {
  if (name === "") return fail(ErrorCode.INVALID_REQUEST, "Default group resources are not allowed.");
  let next: Record<string, string>;
  try {
    next = compute({ ...context.groupConfigs.groupConfig(name) });
    validateGroupConfigs(next, context.config);
  } catch (error) {
    return configErrorOutcome(error);
  }
  if (!validateOnly) await context.groupConfigs.setGroupConfig(name, next);
  return ok;
}

/** Checks and (unless validateOnly) stores new overrides for a topic resource. */
async function alterTopic(
  context: RequestContext,
  name: string,
  compute: (current: Record<string, string>) => Record<string, string>,
  validateOnly: boolean,
): Promise<Outcome> {
  const topic = topicOf(context, name);
  if ("errorCode" in topic) return topic;
  let next: Record<string, string>;
  try {
    next = compute({ ...topic.overrides });
  } catch (error) {
    return configErrorOutcome(error);
  }
  if (!validateOnly) await context.topics.setConfigs(name, next);
  return ok;
}

/**
 * Alters a BROKER resource's dynamic configs (src/cluster/broker-configs.ts: the replication
 * throttles); any other key is INVALID_CONFIG, Sluice's other broker configs being static.
 */
async function brokerAlter(
  context: RequestContext,
  name: string,
  compute: (current: Record<string, string>) => Record<string, string>,
  keys: readonly string[],
  validateOnly: boolean,
): Promise<Outcome> {
  const problem = brokerResource(context, name);
  if (problem !== null) return problem;
  const fixed = keys.filter((key) => !DYNAMIC_BROKER_KEYS.has(key));
  if (fixed.length > 0)
    return fail(ErrorCode.INVALID_CONFIG, `Cannot update these configs dynamically: ${JSON.stringify([...fixed].sort())}; Sluice's broker configs are static`);
  let next: Record<string, string>;
  try {
    next = compute({ ...context.brokerConfigs.brokerConfigs(name) });
    validateDynamicBrokerConfigs(next);
  } catch (error) {
    return configErrorOutcome(error);
  }
  if (!validateOnly) await context.brokerConfigs.setBrokerConfigs(name, next);
  return ok;
}

export const alterConfigs = defineHandler<AlterConfigsRequest, AlterConfigsResponse>(33, { min: 0, max: 2 }, async (context, request) => {
  const twice = duplicates(request.resources);
  const responses = [];
  for (const resource of request.resources) {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    let outcome: Outcome;
    const denied = configDenied(context, resource.resourceType, resource.resourceName, AclOperation.ALTER_CONFIGS);
    if (twice.has(`${resource.resourceType}:${resource.resourceName}`)) {
      outcome = fail(ErrorCode.INVALID_REQUEST, "Duplicate resource.");
    } else if (denied !== null) {
      outcome = { errorCode: denied, errorMessage: null };
    } else if (resource.resourceType === ResourceType.TOPIC) {
      outcome = await alterTopic(
        context,
        resource.resourceName,
        () => {
          const next: Record<string, string> = {};
          for (const config of resource.configs) {
            if (config.value === null) throw new ConfigError(config.name, `Null value not supported for topic configs: ${config.name}`, "INVALID_REQUEST");
            next[config.name] = config.value;
          }
          validateTopicConfigs(next, context.config);
          return next;
        },
        request.validateOnly,
      );
    } else if (resource.resourceType === ResourceType.GROUP) {
      // AlterConfigs replaces the group's whole set.
      outcome = await alterGroup(
        context,
        resource.resourceName,
        () => Object.fromEntries(resource.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value]]))),
        request.validateOnly,
      );
    } else if (resource.resourceType === ResourceType.BROKER) {
      // AlterConfigs replaces the resource's whole dynamic set.
      outcome = await brokerAlter(
        context,
        resource.resourceName,
        () => Object.fromEntries(resource.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value]]))),
        resource.configs.map((c) => c.name),
        request.validateOnly,
      );
    } else {
      outcome = fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resource.resourceType}`);
    }
    responses.push({ ...base, ...outcome });
  }
  return { throttleTimeMs: 0, responses };
});

export const incrementalAlterConfigs = defineHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(
  44,
  { min: 0, max: 1 },
  async (context, request) => {
    const twice = duplicates(request.resources);
    const responses = [];
    for (const resource of request.resources) {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      let outcome: Outcome;
      const denied = configDenied(context, resource.resourceType, resource.resourceName, AclOperation.ALTER_CONFIGS);
      if (twice.has(`${resource.resourceType}:${resource.resourceName}`)) {
        outcome = fail(ErrorCode.INVALID_REQUEST, "Duplicate resource.");
      } else if (denied !== null) {
        outcome = { errorCode: denied, errorMessage: null };
      } else if (resource.resourceType === ResourceType.TOPIC) {
        const ops = resource.configs.map((config) => ({ name: config.name, op: config.configOperation, value: config.value }));
        outcome = await alterTopic(context, resource.resourceName, (current) => applyIncrementalAlter(current, ops, context.config), request.validateOnly);
      } else if (resource.resourceType === ResourceType.GROUP) {
        const ops = resource.configs.map((config) => ({ name: config.name, op: config.configOperation, value: config.value }));
        outcome = await alterGroup(context, resource.resourceName, (current) => applyGroupIncrementalAlter(current, ops), request.validateOnly);
      } else if (resource.resourceType === ResourceType.BROKER) {
        outcome = await brokerAlter(
          context,
          resource.resourceName,
          (current) => {
            for (const config of resource.configs) {
              if (config.configOperation === 1) delete current[config.name];
              else if (config.configOperation === 0 && config.value !== null) current[config.name] = config.value;
              else throw new ConfigError(config.name, `Config ${config.name} is not a list: APPEND and SUBTRACT do not apply`);
            }
            return current;
          },
          resource.configs.map((c) => c.name),
          request.validateOnly,
        );
      } else {
        outcome = fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resource.resourceType}`);
      }
      responses.push({ ...base, ...outcome });
    }
    return { throttleTimeMs: 0, responses };
  },
);
