// Broker and topic configuration with Kafka 4.4's names, types, defaults and validation.
export {
  BrokerConfig,
  brokerConfigKeys,
  type DescribedConfig,
  type DescribedSynonym,
  type DescribeOptions,
  describeBrokerConfigs,
  embeddedBrokerDefaults,
  type HttpListenerAddress,
  type Listener,
  type LoadBrokerConfigOptions,
  loadBrokerConfig,
} from "./broker.js";
export {
  ConfigError,
  type ConfigKey,
  ConfigSource,
  ConfigType,
  type ConfigValue,
  type KafkaType,
  parseType,
  parseValue,
} from "./defs.js";
export { configurationReference } from "./docs.js";
export { parseProperties } from "./properties.js";
export {
  AlterConfigOp,
  applyIncrementalAlter,
  describeTopicConfigs,
  effectiveTopicConfig,
  type IncrementalAlterOp,
  type TopicConfig,
  toLogConfig,
  toProduceSettings,
  toProduceValidationConfig,
  topicConfigDefs,
  topicConfigKeys,
  validateTopicConfigs,
} from "./topic.js";
export {
  isInternalTopic,
  topicCollisionMessage,
  topicCollisionWarning,
  topicNameCollides,
  topicNameHasCollisionChars,
  topicNameLengthMax,
  validateTopicName,
} from "./topic-name.js";
