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
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka 4.4.0's transactional KafkaProducer driven step by step, for the transaction interop tests
 * (test/interop/transactions-*.test.ts): several named producers in one JVM, so a test decides the
 * exact order of initTransactions, sends, commits and aborts (zombie fencing, abandoned transactions,
 * transactions left open across a broker crash). Commands on stdin, one JSON object a line; each is
 * answered by one JSON line on stdout, {@code {"ok": true, ...}} or {@code {"ok": false, "error":
 * "ExceptionClass: message", "causes": ["ExceptionClass", ...]}} (the exception and its causes):
 *
 * <pre>
 * {"cmd": "producer", "name": "a", "properties": {"transactional.id": "t1", ...}}  new KafkaProducer (String serdes)
 * {"cmd": "init", "name": "a"}                      initTransactions()
 * {"cmd": "begin", "name": "a"}                     beginTransaction()
 * {"cmd": "send", "name": "a", "topic": "t", "partition": 0, "values": ["v1", ...]}
 *                                                   send() each (key = value), flush(), wait for each
 *                                                   -> {"ok": true, "offsets": [[partition, offset], ...]}
 * {"cmd": "sendOffsets", "name": "a", "group": "g", "offsets": [["topic", partition, offset], ...]}
 *                                                   sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(g))
 * {"cmd": "commit", "name": "a"}  /  {"cmd": "abort", "name": "a"}
 * {"cmd": "close", "name": "a"}                     close(0): no abort of an open transaction is awaited
 * {"cmd": "offsets", "topic": "t"}                  end offsets under both isolation levels:
 *                                                   -> {"ok": true, "committed": {"0": LSO, ...}, "uncommitted": {"0": HW, ...}}
 * {"cmd": "halt"}                                   Runtime.halt(0): every producer abandoned as is
 * </pre>
 *
 * <pre>
 * java -cp ... sluice.kafka.TxnClient --bootstrap HOST:PORT
 * </pre>
 *
 * <p>Producers get {@code bootstrap.servers}, String serializers and whatever "properties" add
 * ({@code transactional.id} at least). End of stdin closes every producer and exits 0.
 */
public final class TxnClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--bootstrap") && i + 1 < args.length) bootstrap = args[++i];
      else throw new IllegalArgumentException("usage: TxnClient --bootstrap HOST:PORT");
    }
    if (bootstrap == null) throw new IllegalArgumentException("usage: TxnClient --bootstrap HOST:PORT");
    final String servers = bootstrap;

    Map<String, KafkaProducer<String, String>> producers = new HashMap<>();
    Map<String, KafkaConsumer<String, String>> offsetReaders = new HashMap<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.isBlank()) continue;
        JsonNode command = JSON.readTree(line);
        String cmd = command.path("cmd").asText();
        String name = command.path("name").asText("");
        ObjectNode answer = JSON.createObjectNode().put("ok", true);
        try {
          switch (cmd) {
            case "producer" -> {
              Properties config = new Properties();
              config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
              config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
              config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
              for (Iterator<Map.Entry<String, JsonNode>> it = command.path("properties").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                config.put(entry.getKey(), entry.getValue().asText());
              }
              producers.put(name, new KafkaProducer<>(config));
            }
            case "init" -> producer(producers, name).initTransactions();
            case "begin" -> producer(producers, name).beginTransaction();
            case "send" -> {
              KafkaProducer<String, String> producer = producer(producers, name);
              String topic = command.path("topic").asText();
              Integer partition = command.has("partition") ? command.get("partition").asInt() : null;
              List<Future<RecordMetadata>> sent = new ArrayList<>();
              for (JsonNode value : command.path("values")) {
                sent.add(producer.send(new ProducerRecord<>(topic, partition, value.asText(), value.asText())));
              }
              producer.flush();
              ArrayNode offsets = answer.putArray("offsets");
              for (Future<RecordMetadata> future : sent) {
                try {
                  RecordMetadata metadata = future.get();
                  offsets.addArray().add(metadata.partition()).add(metadata.offset());
                } catch (ExecutionException e) {
                  throw e.getCause() instanceof Exception cause ? cause : e;
                }
              }
            }
            case "sendOffsets" -> {
              Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
              for (JsonNode entry : command.path("offsets")) {
                offsets.put(new TopicPartition(entry.get(0).asText(), entry.get(1).asInt()), new OffsetAndMetadata(entry.get(2).asLong()));
              }
              producer(producers, name).sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(command.path("group").asText()));
            }
            case "commit" -> producer(producers, name).commitTransaction();
            case "abort" -> producer(producers, name).abortTransaction();
            case "close" -> {
              KafkaProducer<String, String> producer = producers.remove(name);
              if (producer != null) producer.close(Duration.ZERO);
            }
            case "offsets" -> {
              String topic = command.path("topic").asText();
              for (String isolation : List.of("read_committed", "read_uncommitted")) {
                KafkaConsumer<String, String> consumer = offsetReaders.computeIfAbsent(isolation, level -> consumer(servers, level));
                List<TopicPartition> partitions = new ArrayList<>();
                for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                  partitions.add(new TopicPartition(topic, info.partition()));
                }
                ObjectNode ends = answer.putObject(isolation.equals("read_committed") ? "committed" : "uncommitted");
                consumer.endOffsets(partitions, Duration.ofSeconds(30)).entrySet().stream()
                    .sorted(Map.Entry.comparingByKey((a, b) -> Integer.compare(a.partition(), b.partition())))
                    .forEach(entry -> ends.put(String.valueOf(entry.getKey().partition()), entry.getValue()));
              }
            }
            case "halt" -> {
              OUT.println(answer);
              OUT.flush();
              Runtime.getRuntime().halt(0);
            }
            default -> throw new IllegalArgumentException("unknown command " + cmd);
          }
        } catch (Exception e) {
          answer = JSON.createObjectNode().put("ok", false).put("error", e.getClass().getName() + ": " + e.getMessage());
          ArrayNode causes = answer.putArray("causes");
          for (Throwable cause = e; cause != null && causes.size() < 10; cause = cause.getCause()) causes.add(cause.getClass().getName());
        }
        OUT.println(answer);
      }
    }
    for (KafkaProducer<String, String> producer : producers.values()) producer.close(Duration.ofSeconds(5));
    for (KafkaConsumer<String, String> consumer : offsetReaders.values()) consumer.close();
    System.exit(0);
  }

  private static KafkaProducer<String, String> producer(Map<String, KafkaProducer<String, String>> producers, String name) {
    KafkaProducer<String, String> producer = producers.get(name);
    if (producer == null) throw new IllegalArgumentException("no producer named " + name);
    return producer;
  }

  private static KafkaConsumer<String, String> consumer(String bootstrap, String isolation) {
    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    return new KafkaConsumer<>(config);
  }
}
