package sluice.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import kafka.server.ConfigHelper;
import kafka.server.KafkaConfig;
import kafka.server.KafkaConfig$;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.message.DescribeConfigsRequestData.DescribeConfigsResource;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsResourceResult;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsResult;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsSynonym;
import org.apache.kafka.metadata.MetadataCache;
import org.apache.kafka.server.config.ConfigSynonym;
import org.apache.kafka.server.config.DynamicBrokerConfig;
import org.apache.kafka.server.config.ServerTopicConfigSynonyms;
import org.apache.kafka.storage.internals.log.LogConfig;

/**
 * Kafka 4.4.0's own answers about broker and topic configuration, for test/unit/config.test.ts:
 * the config definitions, value parsing and validation, DescribeConfigs output and topic-name
 * validation, all computed by Kafka's classes in-process (no broker is started).
 *
 * <pre>
 * java -cp ... sluice.kafka.ConfigReference &lt; request.json &gt; answer.json
 * </pre>
 *
 * <p>The request is one JSON object; every member is optional:
 *
 * <ul>
 *   <li>{@code "defs": true} → {@code "defs": {"broker": [...], "topic": [...]}}: every ConfigKey of
 *       KafkaConfig.configDef() and LogConfig.configKeys() (name, type, default as a string,
 *       hasDefault, validator class and toString, importance, documentation, internal), for the
 *       broker whether it is dynamically updatable and its synonyms, for topics the broker synonym
 *       and all synonyms with their converters.
 *   <li>{@code "parse": [{"scope": "broker"|"topic", "name": k, "value": v}, ...]} → {@code "parse":
 *       [{"value": parsed-as-string} | {"error": message}, ...]}: ConfigDef's parseType and the key's
 *       validator, as ConfigDef.parse applies them to each key.
 *   <li>{@code "describe": [{"server": {props}, "topicConfigs": {props}, "resourceType": 2|4,
 *       "resourceName": s, "keys": [..]|null, "includeSynonyms": b, "includeDocumentation": b},
 *       ...]} → {@code "describe": [{"errorCode", "errorMessage", "configs": [...]} | {"error":
 *       message}, ...]}: kafka.server.ConfigHelper.describeConfigs over KafkaConfig.fromProps(server)
 *       with a topic holding topicConfigs.
 *   <li>{@code "brokerConfigs": [{props}, ...]} → {@code "brokerConfigs": [null | message, ...]}:
 *       KafkaConfig.fromProps.
 *   <li>{@code "topicConfigs": [{props}, ...]} → {@code "topicConfigs": [null | message, ...]}:
 *       LogConfig.validate (names and values).
 *   <li>{@code "topicNames": [name, ...]} → {@code "topicNames": [null | message, ...]}:
 *       Topic.validate; and {@code "collisions": [[a, b], ...]} → booleans (Topic.hasCollision).
 *   <li>{@code "properties": [text, ...]} → {@code "properties": [{"map": {key: value}} | {"error":
 *       message}, ...]}: java.util.Properties.load of each text.
 * </ul>
 */
public final class ConfigReference {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    JsonNode request = JSON.readTree(new String(System.in.readAllBytes(), StandardCharsets.UTF_8));
    ObjectNode answer = JSON.createObjectNode();
    if (request.path("defs").asBoolean(false)) answer.set("defs", defs());
    if (request.has("parse")) {
      ArrayNode out = answer.putArray("parse");
      for (JsonNode item : request.get("parse")) out.add(parse(item));
    }
    if (request.has("describe")) {
      ArrayNode out = answer.putArray("describe");
      for (JsonNode item : request.get("describe")) out.add(describe(item));
    }
    if (request.has("brokerConfigs")) {
      ArrayNode out = answer.putArray("brokerConfigs");
      for (JsonNode item : request.get("brokerConfigs")) {
        try {
          KafkaConfig$.MODULE$.fromProps(properties(item));
          out.addNull();
        } catch (Exception e) {
          out.add(e.getMessage());
        }
      }
    }
    if (request.has("topicConfigs")) {
      ArrayNode out = answer.putArray("topicConfigs");
      for (JsonNode item : request.get("topicConfigs")) {
        try {
          LogConfig.validate(stringMap(properties(item)));
          out.addNull();
        } catch (Exception e) {
          out.add(e.getMessage());
        }
      }
    }
    if (request.has("topicNames")) {
      ArrayNode out = answer.putArray("topicNames");
      for (JsonNode item : request.get("topicNames")) {
        try {
          Topic.validate(item.asText());
          out.addNull();
        } catch (Exception e) {
          out.add(e.getMessage());
        }
      }
    }
    if (request.has("properties")) {
      ArrayNode out = answer.putArray("properties");
      for (JsonNode item : request.get("properties")) {
        ObjectNode result = out.addObject();
        try {
          Properties properties = new Properties();
          properties.load(new java.io.StringReader(item.asText()));
          ObjectNode map = result.putObject("map");
          for (String name : new java.util.TreeSet<>(properties.stringPropertyNames())) {
            map.put(name, properties.getProperty(name));
          }
        } catch (Exception e) {
          result.put("error", e.getMessage());
        }
      }
    }
    if (request.has("collisions")) {
      ArrayNode out = answer.putArray("collisions");
      for (JsonNode pair : request.get("collisions")) out.add(Topic.hasCollision(pair.get(0).asText(), pair.get(1).asText()));
    }
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    stdout.println(JSON.writeValueAsString(answer));
  }

  private static Properties properties(JsonNode object) {
    Properties properties = new Properties();
    if (object == null || object.isNull()) return properties;
    for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      properties.setProperty(entry.getKey(), entry.getValue().asText());
    }
    return properties;
  }

  private static Map<String, String> stringMap(Properties properties) {
    Map<String, String> map = new TreeMap<>();
    for (String name : properties.stringPropertyNames()) map.put(name, properties.getProperty(name));
    return map;
  }

  private static Object field(Object owner, String name) {
    try {
      java.lang.reflect.Field field = owner.getClass().getDeclaredField(name);
      field.setAccessible(true);
      return field.get(owner);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("no field " + name + " in " + owner.getClass().getName(), e);
    }
  }

  private static ObjectNode key(ConfigDef.ConfigKey key) {
    ObjectNode out = JSON.createObjectNode();
    out.put("name", key.name);
    out.put("type", key.type.name());
    out.put("hasDefault", key.hasDefault());
    if (key.hasDefault()) out.put("default", key.defaultValue == null ? null : ConfigDef.convertToString(key.defaultValue, key.type));
    out.put("validatorClass", key.validator == null ? null : key.validator.getClass().getName());
    out.put("validator", key.validator == null ? null : key.validator.toString());
    if (key.validator instanceof ConfigDef.ValidList list) {
      // Kafka 4.x (KIP-1161): whether an empty list or null passes is in the validator's fields,
      // not in its toString(), which is empty when any value is allowed.
      out.put("listEmptyAllowed", (Boolean) field(list, "isEmptyAllowed"));
      out.put("listNullAllowed", (Boolean) field(list, "isNullAllowed"));
      ArrayNode valid = out.putArray("listValidStrings");
      Object validString = field(list, "validString");
      for (Object value : (List<?>) field(validString, "validStrings")) valid.add((String) value);
    }
    out.put("importance", key.importance.name());
    out.put("documentation", key.documentation);
    out.put("internal", key.internalConfig);
    return out;
  }

  private static ObjectNode defs() {
    ObjectNode out = JSON.createObjectNode();
    ArrayNode broker = out.putArray("broker");
    java.util.Set<String> dynamic = DynamicBrokerConfig.ALL_DYNAMIC_CONFIGS;
    for (ConfigDef.ConfigKey configKey : new TreeMap<>(KafkaConfig$.MODULE$.configDef().configKeys()).values()) {
      ObjectNode node = key(configKey);
      node.put("dynamic", dynamic.contains(configKey.name));
      ArrayNode synonyms = node.putArray("synonyms");
      for (String name : DynamicBrokerConfig.brokerConfigSynonyms(configKey.name, true)) synonyms.add(name);
      broker.add(node);
    }
    ArrayNode topic = out.putArray("topic");
    for (ConfigDef.ConfigKey configKey : new TreeMap<>(LogConfig.configKeys()).values()) {
      ObjectNode node = key(configKey);
      node.put("serverSynonym", ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS.get(configKey.name));
      ArrayNode all = node.putArray("allSynonyms");
      List<ConfigSynonym> synonyms = ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS.get(configKey.name);
      if (synonyms != null) {
        for (ConfigSynonym synonym : synonyms) {
          ObjectNode s = all.addObject();
          s.put("name", synonym.name());
          // The converters are lambdas: report what they make of a sample value.
          s.put("converts60", synonym.converter().apply("60"));
        }
      }
      topic.add(node);
    }
    return out;
  }

  private static ObjectNode parse(JsonNode item) {
    String scope = item.get("scope").asText();
    String name = item.get("name").asText();
    String value = item.get("value").asText();
    Map<String, ConfigDef.ConfigKey> keys = scope.equals("topic") ? LogConfig.configKeys() : KafkaConfig$.MODULE$.configDef().configKeys();
    ObjectNode out = JSON.createObjectNode();
    ConfigDef.ConfigKey key = keys.get(name);
    if (key == null) {
      out.put("error", "unknown key " + name);
      return out;
    }
    try {
      Object parsed = ConfigDef.parseType(name, value, key.type);
      if (key.validator != null) key.validator.ensureValid(name, parsed);
      out.put("value", ConfigDef.convertToString(parsed, key.type));
    } catch (Exception e) {
      out.put("error", e.getMessage());
    }
    return out;
  }

  private static JsonNode describe(JsonNode item) {
    try {
      KafkaConfig config = KafkaConfig$.MODULE$.fromProps(properties(item.get("server")));
      Properties topicConfigs = properties(item.get("topicConfigs"));
      MetadataCache cache = (MetadataCache) Proxy.newProxyInstance(
          ConfigReference.class.getClassLoader(),
          new Class<?>[] {MetadataCache.class},
          (proxy, method, methodArgs) -> switch (method.getName()) {
            case "contains" -> true;
            case "topicConfig", "config" -> topicConfigs;
            case "toString" -> "MetadataCache";
            case "hashCode" -> 0;
            case "equals" -> proxy == methodArgs[0];
            default -> method.getReturnType() == Optional.class ? Optional.empty() : null;
          });
      ConfigHelper helper = new ConfigHelper(cache, config, cache);
      DescribeConfigsResource resource = new DescribeConfigsResource()
          .setResourceType((byte) item.path("resourceType").asInt(ConfigResource.Type.TOPIC.id()))
          .setResourceName(item.path("resourceName").asText("t"));
      JsonNode keys = item.get("keys");
      if (keys == null || keys.isNull()) {
        resource.setConfigurationKeys(null);
      } else {
        List<String> names = new ArrayList<>();
        for (JsonNode k : keys) names.add(k.asText());
        resource.setConfigurationKeys(names);
      }
      scala.collection.immutable.List<DescribeConfigsResource> resources =
          scala.jdk.javaapi.CollectionConverters.asScala(List.of(resource)).toList();
      DescribeConfigsResult result = helper
          .describeConfigs(resources, item.path("includeSynonyms").asBoolean(false), item.path("includeDocumentation").asBoolean(false))
          .head();
      ObjectNode out = JSON.createObjectNode();
      out.put("errorCode", result.errorCode());
      out.put("errorMessage", result.errorMessage());
      ArrayNode configs = out.putArray("configs");
      for (DescribeConfigsResourceResult entry : result.configs()) {
        ObjectNode c = configs.addObject();
        c.put("name", entry.name());
        c.put("value", entry.value());
        c.put("readOnly", entry.readOnly());
        c.put("configSource", entry.configSource());
        c.put("isSensitive", entry.isSensitive());
        c.put("configType", entry.configType());
        c.put("documentation", entry.documentation());
        ArrayNode synonyms = c.putArray("synonyms");
        for (DescribeConfigsSynonym synonym : entry.synonyms()) {
          synonyms.addObject().put("name", synonym.name()).put("value", synonym.value()).put("source", synonym.source());
        }
      }
      return out;
    } catch (Exception e) {
      ObjectNode out = JSON.createObjectNode();
      out.put("error", e.toString());
      return out;
    }
  }
}
