package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One member of a KIP-848 consumer group ({@code group.protocol=consumer}): Kafka's own
 * KafkaConsumer subscribing to topics, committing synchronously after each batch it processed,
 * printing what happens to it as JSON lines, until told to stop. For the interop tests of the
 * consumer group protocol (test/interop/consumer-group-protocol.test.ts).
 *
 * <pre>
 * java -cp ... sluice.kafka.ConsumerProtocolGroup --bootstrap HOST:PORT --group G --topic T[,T2]
 *     [--property key=value]...
 * </pre>
 *
 * <p>Lines on stdout: {@code {"event":"assigned"|"revoked"|"lost","partitions":["t-0",...],
 * "memberId":...,"epoch":...}} from the rebalance listener, {@code {"event":"record","topic",
 * "partition","offset","key","value"}} for each record consumed, {@code {"event":"committed",
 * "count":n}} after each synchronous commit, {@code {"event":"closed"}} at the end. The line
 * {@code stop} on stdin (or its end) makes the member close the consumer, which leaves the group
 * (member epoch -1); {@code exit} halts the JVM without closing, as a crash would.
 */
public final class ConsumerProtocolGroup {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String group = null;
    String topics = null;
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--group" -> group = value;
        case "--topic" -> topics = value;
        case "--property" -> {
          int equals = value == null ? -1 : value.indexOf('=');
          if (equals < 1) usage("--property needs key=value, got " + value);
          config.setProperty(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || group == null || topics == null) usage("--bootstrap, --group and --topic are required");
    config.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ConsumerConfig.GROUP_ID_CONFIG, group);
    config.putIfAbsent(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    config.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    config.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.setProperty(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.setProperty(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());

    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    AtomicBoolean stopping = new AtomicBoolean(false);
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config)) {
      Thread stdin = new Thread(() -> {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
          String line;
          while ((line = reader.readLine()) != null) {
            if (line.trim().equals("exit")) Runtime.getRuntime().halt(3);
            if (line.trim().equals("stop")) break;
          }
        } catch (Exception ignored) {
          // The end of stdin stops the member too.
        }
        stopping.set(true);
        consumer.wakeup();
      }, "stdin");
      stdin.setDaemon(true);
      stdin.start();

      consumer.subscribe(List.of(topics.split(",")), new ConsumerRebalanceListener() {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
          print(out, consumer, "revoked", partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
          print(out, consumer, "assigned", partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
          print(out, consumer, "lost", partitions);
        }
      });
      while (!stopping.get()) {
        ConsumerRecords<String, String> records;
        try {
          records = consumer.poll(Duration.ofMillis(100));
        } catch (WakeupException e) {
          break;
        }
        for (ConsumerRecord<String, String> record : records) {
          ObjectNode line = JSON.createObjectNode();
          line.put("event", "record");
          line.put("topic", record.topic());
          line.put("partition", record.partition());
          line.put("offset", record.offset());
          line.put("key", record.key());
          line.put("value", record.value());
          out.println(JSON.writeValueAsString(line));
        }
        if (!records.isEmpty()) {
          try {
            consumer.commitSync();
            ObjectNode line = JSON.createObjectNode();
            line.put("event", "committed");
            line.put("count", records.count());
            out.println(JSON.writeValueAsString(line));
          } catch (WakeupException e) {
            break;
          } catch (Exception e) {
            ObjectNode line = JSON.createObjectNode();
            line.put("event", "commit-failed");
            line.put("error", e.toString());
            out.println(JSON.writeValueAsString(line));
          }
        }
      }
    }
    out.println("{\"event\":\"closed\"}");
    out.flush();
  }

  private static void print(PrintStream out, KafkaConsumer<String, String> consumer, String event, Collection<TopicPartition> partitions) {
    ObjectNode line = JSON.createObjectNode();
    line.put("event", event);
    ArrayNode list = line.putArray("partitions");
    partitions.stream().map(TopicPartition::toString).sorted().forEach(list::add);
    try {
      line.put("memberId", consumer.groupMetadata().memberId());
      line.put("epoch", consumer.groupMetadata().generationId());
    } catch (Exception ignored) {
      // groupMetadata() is unavailable while the consumer closes.
    }
    try {
      out.println(JSON.writeValueAsString(line));
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  private static void usage(String problem) {
    System.err.println(problem);
    System.err.println("usage: ConsumerProtocolGroup --bootstrap HOST:PORT --group G --topic T[,T2] [--property key=value]...");
    System.exit(2);
  }
}
