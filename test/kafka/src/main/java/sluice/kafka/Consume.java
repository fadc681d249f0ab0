package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads partitions with Kafka's own KafkaConsumer through {@code assign()}, without a group (no
 * group.id, no commits), for the interop tests: the way a standalone application reads a log.
 *
 * <pre>
 * java -cp ... sluice.kafka.Consume --bootstrap HOST:PORT --topic T [--partitions 0,2]
 *     [--from beginning|end|OFFSET] [--property key=value]... [--timeout-ms 30000]
 * </pre>
 *
 * <p>Without {@code --partitions}, every partition {@code partitionsFor} lists. {@code --from}
 * beginning (the default) is {@code seekToBeginning}, a number is {@code seek} in every partition.
 * It polls until each partition's position reaches the end offset {@code endOffsets} gave at the
 * start, then prints one JSON line per record, in the order polled: {@code {"partition", "offset",
 * "timestamp", "timestampType", "leaderEpoch", "key", "value", "headers": [[name, value], ...]}}.
 * Keys, values and header values are UTF-8 strings, or {@code {"base64": ...}} when they are not
 * valid UTF-8, or null. A last line {@code {"end": {"0": offset, ...}, "beginning": {...}}} gives
 * the end and beginning offsets seen at the start. Exit code 1 if the end is not reached within the
 * timeout.
 */
public final class Consume {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String topic = null;
    List<Integer> partitions = null;
    String from = "beginning";
    long timeoutMs = 30_000;
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--topic" -> topic = value;
        case "--partitions" -> {
          partitions = new ArrayList<>();
          for (String p : value.split(",")) partitions.add(Integer.valueOf(p.trim()));
        }
        case "--from" -> from = value;
        case "--timeout-ms" -> timeoutMs = Long.parseLong(value);
        case "--property" -> {
          int equals = value == null ? -1 : value.indexOf('=');
          if (equals < 1) usage("--property needs key=value, got " + value);
          config.setProperty(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || topic == null) usage("--bootstrap and --topic are required");
    config.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    config.setProperty(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    config.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");

    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    boolean complete;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config)) {
      List<TopicPartition> assigned = new ArrayList<>();
      if (partitions == null) {
        for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
          assigned.add(new TopicPartition(topic, info.partition()));
        }
        assigned.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
      } else {
        for (int p : partitions) assigned.add(new TopicPartition(topic, p));
      }
      consumer.assign(assigned);
      Map<TopicPartition, Long> end = consumer.endOffsets(assigned, Duration.ofMillis(timeoutMs));
      Map<TopicPartition, Long> beginning = consumer.beginningOffsets(assigned, Duration.ofMillis(timeoutMs));
      switch (from) {
        case "beginning" -> consumer.seekToBeginning(assigned);
        case "end" -> consumer.seekToEnd(assigned);
        default -> {
          long offset = Long.parseLong(from);
          for (TopicPartition tp : assigned) consumer.seek(tp, offset);
        }
      }
      long deadline = System.currentTimeMillis() + timeoutMs;
      Map<TopicPartition, Long> remaining = new HashMap<>(end);
      remaining.entrySet().removeIf(entry -> consumer.position(entry.getKey()) >= entry.getValue());
      while (!remaining.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          out.println(line(record));
        }
        remaining.entrySet().removeIf(entry -> consumer.position(entry.getKey()) >= entry.getValue());
      }
      complete = remaining.isEmpty();
      ObjectNode last = JSON.createObjectNode();
      ObjectNode endNode = last.putObject("end");
      ObjectNode beginningNode = last.putObject("beginning");
      for (TopicPartition tp : assigned) {
        endNode.put(String.valueOf(tp.partition()), end.get(tp));
        beginningNode.put(String.valueOf(tp.partition()), beginning.get(tp));
      }
      out.println(last);
    }
    out.flush();
    if (!complete) System.err.println("sluice.kafka.Consume: the end offsets were not reached in time");
    System.exit(complete ? 0 : 1);
  }

  private static ObjectNode line(ConsumerRecord<byte[], byte[]> record) {
    ObjectNode json = JSON.createObjectNode();
    json.put("partition", record.partition());
    json.put("offset", record.offset());
    json.put("timestamp", record.timestamp());
    json.put("timestampType", record.timestampType().name);
    if (record.leaderEpoch().isPresent()) json.put("leaderEpoch", record.leaderEpoch().get());
    else json.putNull("leaderEpoch");
    json.set("key", data(record.key()));
    json.set("value", data(record.value()));
    ArrayNode headers = json.putArray("headers");
    for (Header header : record.headers()) {
      ArrayNode pair = headers.addArray();
      pair.add(header.key());
      pair.add(data(header.value()));
    }
    return json;
  }

  private static com.fasterxml.jackson.databind.JsonNode data(byte[] bytes) {
    if (bytes == null) return JSON.nullNode();
    try {
      return JSON.getNodeFactory()
          .textNode(
              StandardCharsets.UTF_8
                  .newDecoder()
                  .decode(java.nio.ByteBuffer.wrap(bytes))
                  .toString());
    } catch (java.nio.charset.CharacterCodingException e) {
      ObjectNode node = JSON.createObjectNode();
      node.put("base64", Base64.getEncoder().encodeToString(bytes));
      return node;
    }
  }

  private static void usage(String problem) {
    System.err.println("sluice.kafka.Consume: " + problem);
    System.err.println(
        "usage: Consume --bootstrap HOST:PORT --topic T [--partitions 0,1] [--from beginning|end|N]"
            + " [--property k=v]... [--timeout-ms N]");
    System.exit(2);
  }
}
