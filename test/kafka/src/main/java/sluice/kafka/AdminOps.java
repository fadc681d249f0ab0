package sluice.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Runs Admin (Kafka 4.4.0's AdminClient) operations read as JSON lines from stdin, one after the
 * other with one client, for the interop tests; prints one JSON line per operation: {@code {"op":
 * name, "result": ...}} or {@code {"op": name, "error": "ExceptionClass: message"}}. Per-item
 * results (a partition, a resource) carry their own {@code "error"} instead of a value.
 *
 * <pre>
 * java -cp ... sluice.kafka.AdminOps --bootstrap HOST:PORT [--property key=value]... &lt; ops.jsonl
 * </pre>
 *
 * <ul>
 *   <li>{@code {"op": "createTopics", "topics": [{"name", "partitions", "replicationFactor",
 *       "configs": {k: v}}]}} → {@code {name: null | error}}
 *   <li>{@code {"op": "deleteTopics", "topics": [names]}} → {@code {name: null | error}}
 *   <li>{@code {"op": "createPartitions", "topics": {name: totalCount}}} → {@code {name: null | error}}
 *   <li>{@code {"op": "listTopics"}} → sorted names
 *   <li>{@code {"op": "describeCluster"}} → {@code {"clusterId", "controller", "nodes": [{"id",
 *       "host", "port", "rack"}]}}
 *   <li>{@code {"op": "describeTopics", "topics": [names]}} → {@code {name: {"topicId", "internal",
 *       "partitions": [{"partition", "leader", "replicas", "isr"}]} | {"error"}}}
 *   <li>{@code {"op": "describeConfigs", "resources": [{"type": "topic"|"broker", "name", "keys":
 *       [..]?}], "synonyms": bool}} → {@code {"topic:name": {key: {"value", "source", "readOnly",
 *       "sensitive", "isDefault", "type", "synonyms": [[name, value, source]]}} | {"error"}}}
 *   <li>{@code {"op": "incrementalAlterConfigs", "resources": [{"type", "name", "ops": [["SET"|
 *       "DELETE"|"APPEND"|"SUBTRACT", key, value]]}]}} → {@code {"topic:name": null | error}}
 *   <li>{@code {"op": "deleteRecords", "partitions": [{"topic", "partition", "offset"}]}} → {@code
 *       [{"topic", "partition", "lowWatermark"} | {"topic", "partition", "error"}]}
 *   <li>{@code {"op": "listOffsets", "partitions": [{"topic", "partition", "spec": "earliest"|
 *       "latest"|"maxTimestamp"|"earliestLocal"|"latestTiered"|"timestamp", "timestamp"?}]}} →
 *       {@code [{"topic", "partition", "offset", "timestamp", "leaderEpoch"} | {..., "error"}]}
 * </ul>
 */
public final class AdminOps {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long TIMEOUT_S = 30;

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--property" -> {
          int equals = value == null ? -1 : value.indexOf('=');
          if (equals < 1) usage("--property needs key=value, got " + value);
          config.setProperty(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null) usage("--bootstrap is required");
    config.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);

    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try (Admin admin = Admin.create(config)) {
      for (String text = in.readLine(); text != null; text = in.readLine()) {
        if (text.isBlank()) continue;
        JsonNode request = JSON.readTree(text);
        String op = request.path("op").asText();
        ObjectNode line = JSON.createObjectNode();
        line.put("op", op);
        try {
          line.set("result", run(admin, op, request));
        } catch (Exception e) {
          line.put("error", describe(e));
        }
        out.println(line);
        out.flush();
      }
    }
    out.flush();
    System.exit(0);
  }

  private static JsonNode run(Admin admin, String op, JsonNode request) throws Exception {
    return switch (op) {
      case "createTopics" -> createTopics(admin, request);
      case "deleteTopics" -> {
        List<String> names = strings(request.get("topics"));
        yield perKey(admin.deleteTopics(names).topicNameValues());
      }
      case "createPartitions" -> {
        Map<String, NewPartitions> counts = new LinkedHashMap<>();
        request.get("topics").fields().forEachRemaining(e -> counts.put(e.getKey(), NewPartitions.increaseTo(e.getValue().asInt())));
        yield perKey(admin.createPartitions(counts).values());
      }
      case "listTopics" -> {
        ArrayNode names = JSON.createArrayNode();
        admin.listTopics().names().get(TIMEOUT_S, TimeUnit.SECONDS).stream().sorted().forEach(names::add);
        yield names;
      }
      case "describeCluster" -> describeCluster(admin);
      case "describeTopics" -> describeTopics(admin, request);
      case "describeConfigs" -> describeConfigs(admin, request);
      case "incrementalAlterConfigs" -> incrementalAlterConfigs(admin, request);
      case "deleteRecords" -> deleteRecords(admin, request);
      case "listOffsets" -> listOffsets(admin, request);
      default -> throw new IllegalArgumentException("unknown op " + op);
    };
  }

  private static JsonNode createTopics(Admin admin, JsonNode request) throws Exception {
    List<NewTopic> topics = new ArrayList<>();
    for (JsonNode topic : request.get("topics")) {
      Optional<Integer> partitions = topic.has("partitions") ? Optional.of(topic.get("partitions").asInt()) : Optional.empty();
      Optional<Short> replication =
          topic.has("replicationFactor") ? Optional.of((short) topic.get("replicationFactor").asInt()) : Optional.empty();
      NewTopic newTopic = new NewTopic(topic.get("name").asText(), partitions, replication);
      if (topic.has("configs")) {
        Map<String, String> configs = new HashMap<>();
        topic.get("configs").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
        newTopic.configs(configs);
      }
      topics.add(newTopic);
    }
    return perKey(admin.createTopics(topics).values());
  }

  private static JsonNode describeCluster(Admin admin) throws Exception {
    DescribeClusterResult cluster = admin.describeCluster();
    ObjectNode result = JSON.createObjectNode();
    result.put("clusterId", cluster.clusterId().get(TIMEOUT_S, TimeUnit.SECONDS));
    Node controller = cluster.controller().get(TIMEOUT_S, TimeUnit.SECONDS);
    if (controller == null) result.putNull("controller");
    else result.put("controller", controller.id());
    ArrayNode nodes = result.putArray("nodes");
    for (Node node : cluster.nodes().get(TIMEOUT_S, TimeUnit.SECONDS)) nodes.add(node(node));
    return result;
  }

  private static JsonNode describeTopics(Admin admin, JsonNode request) throws Exception {
    ObjectNode result = JSON.createObjectNode();
    Map<String, KafkaFuture<TopicDescription>> futures = admin.describeTopics(strings(request.get("topics"))).topicNameValues();
    for (Map.Entry<String, KafkaFuture<TopicDescription>> entry : futures.entrySet()) {
      try {
        TopicDescription description = entry.getValue().get(TIMEOUT_S, TimeUnit.SECONDS);
        ObjectNode topic = result.putObject(entry.getKey());
        topic.put("topicId", description.topicId().toString());
        topic.put("internal", description.isInternal());
        ArrayNode partitions = topic.putArray("partitions");
        for (TopicPartitionInfo info : description.partitions()) {
          ObjectNode partition = partitions.addObject();
          partition.put("partition", info.partition());
          partition.put("leader", info.leader() == null ? -1 : info.leader().id());
          ArrayNode replicas = partition.putArray("replicas");
          info.replicas().forEach(node -> replicas.add(node.id()));
          ArrayNode isr = partition.putArray("isr");
          info.isr().forEach(node -> isr.add(node.id()));
        }
      } catch (ExecutionException e) {
        result.putObject(entry.getKey()).put("error", describe(e));
      }
    }
    return result;
  }

  private static ConfigResource resource(JsonNode json) {
    ConfigResource.Type type =
        switch (json.get("type").asText()) {
          case "topic" -> ConfigResource.Type.TOPIC;
          case "broker" -> ConfigResource.Type.BROKER;
          case "broker-logger" -> ConfigResource.Type.BROKER_LOGGER;
          default -> throw new IllegalArgumentException("unknown resource type " + json.get("type"));
        };
    return new ConfigResource(type, json.get("name").asText());
  }

  private static String resourceKey(ConfigResource resource) {
    return resource.type().name().toLowerCase() + ":" + resource.name();
  }

  private static JsonNode describeConfigs(Admin admin, JsonNode request) throws Exception {
    Map<ConfigResource, List<String>> keys = new LinkedHashMap<>();
    for (JsonNode json : request.get("resources")) {
      keys.put(resource(json), json.has("keys") ? strings(json.get("keys")) : null);
    }
    DescribeConfigsOptions options = new DescribeConfigsOptions().includeSynonyms(request.path("synonyms").asBoolean(false));
    ObjectNode result = JSON.createObjectNode();
    Map<ConfigResource, KafkaFuture<Config>> futures = admin.describeConfigs(keys.keySet(), options).values();
    for (Map.Entry<ConfigResource, List<String>> resource : keys.entrySet()) {
      try {
        Config config = futures.get(resource.getKey()).get(TIMEOUT_S, TimeUnit.SECONDS);
        ObjectNode entries = result.putObject(resourceKey(resource.getKey()));
        List<ConfigEntry> sorted = new ArrayList<>(config.entries());
        sorted.sort((a, b) -> a.name().compareTo(b.name()));
        for (ConfigEntry entry : sorted) {
          if (resource.getValue() != null && !resource.getValue().contains(entry.name())) continue;
          ObjectNode json = entries.putObject(entry.name());
          json.put("value", entry.value());
          json.put("source", entry.source().name());
          json.put("readOnly", entry.isReadOnly());
          json.put("sensitive", entry.isSensitive());
          json.put("isDefault", entry.isDefault());
          json.put("type", entry.type().name());
          ArrayNode synonyms = json.putArray("synonyms");
          for (ConfigEntry.ConfigSynonym synonym : entry.synonyms()) {
            synonyms.addArray().add(synonym.name()).add(synonym.value()).add(synonym.source().name());
          }
        }
      } catch (ExecutionException e) {
        result.putObject(resourceKey(resource.getKey())).put("error", describe(e));
      }
    }
    return result;
  }

  private static JsonNode incrementalAlterConfigs(Admin admin, JsonNode request) throws Exception {
    Map<ConfigResource, Collection<AlterConfigOp>> alterations = new LinkedHashMap<>();
    for (JsonNode json : request.get("resources")) {
      List<AlterConfigOp> ops = new ArrayList<>();
      for (JsonNode op : json.get("ops")) {
        AlterConfigOp.OpType type = AlterConfigOp.OpType.valueOf(op.get(0).asText());
        String value = op.size() > 2 && !op.get(2).isNull() ? op.get(2).asText() : null;
        ops.add(new AlterConfigOp(new ConfigEntry(op.get(1).asText(), value), type));
      }
      alterations.put(resource(json), ops);
    }
    ObjectNode result = JSON.createObjectNode();
    Map<ConfigResource, KafkaFuture<Void>> futures = admin.incrementalAlterConfigs(alterations).values();
    for (ConfigResource resource : alterations.keySet()) {
      try {
        futures.get(resource).get(TIMEOUT_S, TimeUnit.SECONDS);
        result.putNull(resourceKey(resource));
      } catch (ExecutionException e) {
        result.put(resourceKey(resource), describe(e));
      }
    }
    return result;
  }

  private static JsonNode deleteRecords(Admin admin, JsonNode request) throws Exception {
    Map<TopicPartition, RecordsToDelete> deletions = new LinkedHashMap<>();
    for (JsonNode json : request.get("partitions")) {
      deletions.put(partition(json), RecordsToDelete.beforeOffset(json.get("offset").asLong()));
    }
    ArrayNode result = JSON.createArrayNode();
    var futures = admin.deleteRecords(deletions).lowWatermarks();
    for (TopicPartition tp : deletions.keySet()) {
      ObjectNode json = partitionNode(result, tp);
      try {
        json.put("lowWatermark", futures.get(tp).get(TIMEOUT_S, TimeUnit.SECONDS).lowWatermark());
      } catch (ExecutionException e) {
        json.put("error", describe(e));
      }
    }
    return result;
  }

  private static JsonNode listOffsets(Admin admin, JsonNode request) throws Exception {
    // One request per entry: the same partition may be asked with several specs.
    ArrayNode result = JSON.createArrayNode();
    for (JsonNode json : request.get("partitions")) {
      TopicPartition tp = partition(json);
      OffsetSpec spec =
          switch (json.get("spec").asText()) {
            case "earliest" -> OffsetSpec.earliest();
            case "latest" -> OffsetSpec.latest();
            case "maxTimestamp" -> OffsetSpec.maxTimestamp();
            case "earliestLocal" -> OffsetSpec.earliestLocal();
            case "latestTiered" -> OffsetSpec.latestTiered();
            case "timestamp" -> OffsetSpec.forTimestamp(json.get("timestamp").asLong());
            default -> throw new IllegalArgumentException("unknown spec " + json.get("spec"));
          };
      ObjectNode entry = partitionNode(result, tp);
      entry.put("spec", json.get("spec").asText());
      try {
        ListOffsetsResultInfo info = admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(TIMEOUT_S, TimeUnit.SECONDS);
        entry.put("offset", info.offset());
        entry.put("timestamp", info.timestamp());
        if (info.leaderEpoch().isPresent()) entry.put("leaderEpoch", info.leaderEpoch().get());
        else entry.putNull("leaderEpoch");
      } catch (ExecutionException e) {
        entry.put("error", describe(e));
      }
    }
    return result;
  }

  private static <T> JsonNode perKey(Map<String, KafkaFuture<T>> futures) throws Exception {
    ObjectNode result = JSON.createObjectNode();
    for (Map.Entry<String, KafkaFuture<T>> entry : futures.entrySet()) {
      try {
        entry.getValue().get(TIMEOUT_S, TimeUnit.SECONDS);
        result.putNull(entry.getKey());
      } catch (ExecutionException e) {
        result.put(entry.getKey(), describe(e));
      }
    }
    return result;
  }

  private static ObjectNode partitionNode(ArrayNode array, TopicPartition tp) {
    ObjectNode json = array.addObject();
    json.put("topic", tp.topic());
    json.put("partition", tp.partition());
    return json;
  }

  private static TopicPartition partition(JsonNode json) {
    return new TopicPartition(json.get("topic").asText(), json.get("partition").asInt());
  }

  private static ObjectNode node(Node node) {
    ObjectNode json = JSON.createObjectNode();
    json.put("id", node.id());
    json.put("host", node.host());
    json.put("port", node.port());
    if (node.rack() == null) json.putNull("rack");
    else json.put("rack", node.rack());
    return json;
  }

  private static List<String> strings(JsonNode array) {
    List<String> list = new ArrayList<>();
    for (JsonNode item : array) list.add(item.asText());
    return list;
  }

  private static String describe(Throwable error) {
    Throwable cause = error instanceof ExecutionException && error.getCause() != null ? error.getCause() : error;
    return cause.getClass().getSimpleName() + ": " + cause.getMessage();
  }

  private static void usage(String problem) {
    System.err.println("sluice.kafka.AdminOps: " + problem);
    System.err.println("usage: AdminOps --bootstrap HOST:PORT [--property k=v]... < ops.jsonl");
    System.exit(2);
  }
}
