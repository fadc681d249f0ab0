package sluice.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * One member of a consumer group, Kafka 4.4.0's KafkaConsumer with {@code subscribe()}, for the
 * group interop tests (test/interop/groups-java.test.ts). It prints one JSON line per event on
 * stdout, the same events as test/interop/python/groups.py:
 *
 * <pre>
 * {"event": "assign"|"revoke"|"lost", "partitions": [[topic, p], ...], "memberId", "generation"}
 * {"event": "record", "topic", "partition", "offset", "key", "value"}
 * {"event": "committed", "offsets": [[topic, p, offset], ...]}
 * {"event": "error", "error": "ExceptionClass: message"}
 * {"event": "closed"}
 * </pre>
 *
 * <pre>
 * java -cp ... sluice.kafka.GroupConsume --bootstrap HOST:PORT --group G
 *     (--topics a,b | --pattern JAVA_REGEX | --subscription-pattern RE2J_REGEX)
 *     [--commit sync|manual] [--property key=value]...
 * </pre>
 *
 * <p>{@code --pattern} is {@code subscribe(java.util.regex.Pattern)} (the client matches topic
 * names); {@code --subscription-pattern} is {@code subscribe(SubscriptionPattern)}, the broker-side
 * RE2/J regex of KIP-848 ({@code group.protocol=consumer} only). Commits: {@code sync} (the
 * default) commits the positions of every assigned partition synchronously after each poll that
 * returned records; {@code manual} only when told. A commit carries the leader epoch of the last
 * record received from the partition, as the consumer's own commitSync() does. Auto-commit is off unless a property turns it on.
 * Commands on stdin, one JSON object a line: {@code {"cmd": "commit"}} (commit the positions now),
 * {@code {"cmd": "stop"}} (close(): leave the group; exit 0). End of stdin is the same as stop.
 */
public final class GroupConsume {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String group = null;
    List<String> topics = null;
    String pattern = null;
    String subscriptionPattern = null;
    String commit = "sync";
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--group" -> group = value;
        case "--topics" -> topics = Arrays.asList(value.split(","));
        case "--pattern" -> pattern = value;
        case "--subscription-pattern" -> subscriptionPattern = value;
        case "--commit" -> commit = value;
        case "--property" -> {
          int equals = value == null ? -1 : value.indexOf('=');
          if (equals < 1) usage("--property needs key=value, got " + value);
          config.setProperty(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || group == null) usage("--bootstrap and --group are required");
    if ((topics == null ? 0 : 1) + (pattern == null ? 0 : 1) + (subscriptionPattern == null ? 0 : 1) != 1) {
      usage("one of --topics, --pattern, --subscription-pattern");
    }
    if (!commit.equals("sync") && !commit.equals("manual")) usage("--commit sync|manual");
    config.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ConsumerConfig.GROUP_ID_CONFIG, group);
    config.setProperty(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    config.setProperty(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    config.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    config.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");

    LinkedBlockingQueue<String> commands = new LinkedBlockingQueue<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config)) {
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                  for (String line; (line = in.readLine()) != null; ) {
                    if (line.isBlank()) continue;
                    JsonNode command = JSON.readTree(line);
                    commands.add(command.path("cmd").asText());
                    consumer.wakeup();
                  }
                } catch (Exception e) {
                  error(e);
                }
                commands.add("stop");
                consumer.wakeup();
              });
      reader.setDaemon(true);
      reader.start();

      ConsumerRebalanceListener listener =
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
              OUT.println(rebalance("assign", partitions, consumer));
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
              OUT.println(rebalance("revoke", partitions, consumer));
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
              OUT.println(rebalance("lost", partitions, consumer));
            }
          };
      if (topics != null) consumer.subscribe(topics, listener);
      else if (pattern != null) consumer.subscribe(Pattern.compile(pattern), listener);
      else consumer.subscribe(new SubscriptionPattern(subscriptionPattern), listener);

      boolean running = true;
      while (running) {
        for (String command; (command = commands.poll()) != null; ) {
          switch (command) {
            case "stop" -> running = false;
            case "commit" -> commit(consumer);
            default -> error(new IllegalArgumentException("unknown command " + command));
          }
        }
        if (!running) break;
        ConsumerRecords<byte[], byte[]> records;
        try {
          records = consumer.poll(Duration.ofMillis(100));
        } catch (WakeupException e) {
          continue;
        }
        for (ConsumerRecord<byte[], byte[]> record : records) {
          record.leaderEpoch().ifPresent(epoch -> LAST_EPOCH.put(new TopicPartition(record.topic(), record.partition()), epoch));
          OUT.println(record(record));
        }
        if (commit.equals("sync") && !records.isEmpty()) commit(consumer);
      }
    } catch (Exception e) {
      error(e);
      System.exit(1);
    }
    OUT.println("{\"event\":\"closed\"}");
    System.exit(0);
  }

  /** The leader epoch of the last record received from each partition: committed with the offset, as commitSync() does. */
  private static final Map<TopicPartition, Integer> LAST_EPOCH = new java.util.HashMap<>();

  private static void commit(KafkaConsumer<byte[], byte[]> consumer) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new TreeMap<>(Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition));
    for (TopicPartition tp : consumer.assignment()) {
      offsets.put(tp, new OffsetAndMetadata(consumer.position(tp), java.util.Optional.ofNullable(LAST_EPOCH.get(tp)), ""));
    }
    try {
      consumer.commitSync(offsets);
    } catch (WakeupException e) {
      // A command arrived during the commit: commit again, the wakeup is spent.
      consumer.commitSync(offsets);
    } catch (Exception e) {
      error(e);
      return;
    }
    ObjectNode json = JSON.createObjectNode();
    json.put("event", "committed");
    ArrayNode list = json.putArray("offsets");
    offsets.forEach((tp, offset) -> list.addArray().add(tp.topic()).add(tp.partition()).add(offset.offset()));
    OUT.println(json);
  }

  private static ObjectNode rebalance(String event, Collection<TopicPartition> partitions, KafkaConsumer<byte[], byte[]> consumer) {
    ObjectNode json = JSON.createObjectNode();
    json.put("event", event);
    List<TopicPartition> sorted = new ArrayList<>(partitions);
    sorted.sort(Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition));
    ArrayNode list = json.putArray("partitions");
    for (TopicPartition tp : sorted) list.addArray().add(tp.topic()).add(tp.partition());
    try {
      json.put("memberId", consumer.groupMetadata().memberId());
      json.put("generation", consumer.groupMetadata().generationId());
    } catch (Exception e) {
      json.putNull("memberId");
    }
    return json;
  }

  private static ObjectNode record(ConsumerRecord<byte[], byte[]> record) {
    ObjectNode json = JSON.createObjectNode();
    json.put("event", "record");
    json.put("topic", record.topic());
    json.put("partition", record.partition());
    json.put("offset", record.offset());
    json.put("key", record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8));
    json.put("value", record.value() == null ? null : new String(record.value(), StandardCharsets.UTF_8));
    return json;
  }

  private static void error(Exception e) {
    ObjectNode json = JSON.createObjectNode();
    json.put("event", "error");
    json.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
    OUT.println(json);
  }

  private static void usage(String problem) {
    System.err.println("sluice.kafka.GroupConsume: " + problem);
    System.err.println(
        "usage: GroupConsume --bootstrap HOST:PORT --group G (--topics a,b | --pattern REGEX |"
            + " --subscription-pattern RE2J) [--commit sync|manual] [--property k=v]...");
    System.exit(2);
  }
}
