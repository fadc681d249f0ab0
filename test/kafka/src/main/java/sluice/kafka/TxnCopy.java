package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A consume-transform-produce loop with Kafka 4.4.0's clients, exactly-once: a KafkaConsumer in a
 * group ({@code subscribe()}, {@code isolation.level=read_committed}, no auto-commit) reads
 * {@code --input}; every {@code --per-txn} records (fewer for the last) are copied to the same
 * partition of {@code --output} in one transaction of a transactional KafkaProducer, with the
 * consumed offsets ({@code sendOffsetsToTransaction(offsets, consumer.groupMetadata())}). Every
 * {@code --abort-every}-th transaction (0: none) is aborted on purpose instead of committed, after
 * which the consumer seeks back to where that transaction started, so the same input is copied again
 * in the next transaction. A copy's value is {@code <input value>@<transaction number>}, its key the
 * input key, so the copies of an aborted attempt differ from the committed ones. The copies are
 * flushed before the transaction ends, so those of an aborted one are in the log as well.
 *
 * <pre>
 * java -cp ... sluice.kafka.TxnCopy --bootstrap HOST:PORT --input T --output T --group G
 *     --transactional-id ID --count N [--per-txn 5] [--abort-every 3] [--timeout-ms 90000]
 *     [--property key=value]... (producer) [--consumer-property key=value]...
 * </pre>
 *
 * <p>It stops once N input records are committed. One JSON line per transaction on stdout,
 * {@code {"event": "committed"|"aborted", "txn": n, "records": [{"partition", "offset", "value",
 * "copy"}, ...], "offsets": [[partition, next offset], ...]}}, then {@code {"event": "done"}}; on
 * a failure {@code {"event": "error", "error": "..."}} and exit 1.
 */
public final class TxnCopy {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String input = null;
    String output = null;
    String group = null;
    String transactionalId = null;
    long count = -1;
    int perTxn = 5;
    int abortEvery = 3;
    long timeoutMs = 90_000;
    Properties producerConfig = new Properties();
    Properties consumerConfig = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--input" -> input = value;
        case "--output" -> output = value;
        case "--group" -> group = value;
        case "--transactional-id" -> transactionalId = value;
        case "--count" -> count = Long.parseLong(value);
        case "--per-txn" -> perTxn = Integer.parseInt(value);
        case "--abort-every" -> abortEvery = Integer.parseInt(value);
        case "--timeout-ms" -> timeoutMs = Long.parseLong(value);
        case "--property" -> put(producerConfig, value);
        case "--consumer-property" -> put(consumerConfig, value);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || input == null || output == null || group == null || transactionalId == null || count < 0) {
      throw new IllegalArgumentException("--bootstrap, --input, --output, --group, --transactional-id and --count are required");
    }
    producerConfig.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    producerConfig.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    producerConfig.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    producerConfig.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    consumerConfig.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    consumerConfig.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    consumerConfig.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    consumerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    consumerConfig.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    consumerConfig.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    consumerConfig.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());

    int exit = 0;
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig);
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
      producer.initTransactions();
      consumer.subscribe(List.of(input));
      List<ConsumerRecord<String, String>> pending = new ArrayList<>();
      long committed = 0;
      int txn = 0;
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (committed < count) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("only " + committed + " of " + count + " records copied in time");
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(100))) pending.add(record);
        while (!pending.isEmpty() && (pending.size() >= perTxn || committed + pending.size() >= count)) {
          List<ConsumerRecord<String, String>> chunk = new ArrayList<>(pending.subList(0, Math.min(perTxn, pending.size())));
          boolean abort = abortEvery > 0 && txn % abortEvery == abortEvery - 1;
          ObjectNode event = JSON.createObjectNode().put("event", abort ? "aborted" : "committed").put("txn", txn);
          ArrayNode records = event.putArray("records");
          Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
          producer.beginTransaction();
          for (ConsumerRecord<String, String> record : chunk) {
            String copy = record.value() + "@" + txn;
            producer.send(new ProducerRecord<>(output, record.partition(), record.key(), copy));
            records.addObject().put("partition", record.partition()).put("offset", record.offset()).put("value", record.value()).put("copy", copy);
            offsets.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
          }
          // Written before the transaction ends, so an aborted transaction's copies are in the log too
          // (abortTransaction() drops batches not sent yet).
          producer.flush();
          producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
          ArrayNode committedOffsets = event.putArray("offsets");
          offsets.forEach((tp, offset) -> committedOffsets.addArray().add(tp.partition()).add(offset.offset()));
          if (abort) {
            producer.abortTransaction();
            // Back to where this transaction started: its records, and everything read after them, again.
            Map<TopicPartition, Long> rewind = new HashMap<>();
            for (ConsumerRecord<String, String> record : pending) rewind.merge(new TopicPartition(record.topic(), record.partition()), record.offset(), Math::min);
            rewind.forEach(consumer::seek);
            pending.clear();
          } else {
            producer.commitTransaction();
            pending.subList(0, chunk.size()).clear();
            committed += chunk.size();
          }
          OUT.println(event);
          txn++;
        }
      }
      OUT.println(JSON.createObjectNode().put("event", "done"));
    } catch (Exception e) {
      OUT.println(JSON.createObjectNode().put("event", "error").put("error", e.getClass().getName() + ": " + e.getMessage()));
      exit = 1;
    }
    System.exit(exit);
  }

  private static void put(Properties config, String pair) {
    int equals = pair == null ? -1 : pair.indexOf('=');
    if (equals < 1) throw new IllegalArgumentException("a property needs key=value, got " + pair);
    config.put(pair.substring(0, equals), pair.substring(equals + 1));
  }
}
