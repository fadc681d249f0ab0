package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A member of a share group (KIP-932) with Kafka's own {@link KafkaShareConsumer}, for the interop
 * tests.
 *
 * <pre>
 * java -cp ... sluice.kafka.ShareConsume --bootstrap HOST:PORT --group G --topic T
 *     [--mode implicit|accept|release-first|release|reject|hold|renew] [--max N] [--idle-ms 3000]
 *     [--timeout-ms 60000] [--renew-wait-ms 0] [--property key=value]...
 * </pre>
 *
 * <p>Modes: {@code implicit} acknowledges by polling again (share.acknowledgement.mode=implicit);
 * {@code accept} accepts each record explicitly and commits synchronously; {@code release-first}
 * releases a record on its first delivery and accepts it on a later one; {@code reject} rejects
 * every record; {@code release} releases every record (until the delivery count limit archives it); {@code hold} polls once (what it got stays acquired) and halts the JVM without
 * closing — a crashed consumer (records whose value starts with \"probe\" do not count); {@code renew} renews each record's lock once (KIP-1222), waits
 * past the lock duration, then accepts. It prints one JSON line per record delivered — {@code
 * {"event":"record","partition","offset","key","value","deliveryCount"}} — and a last line {@code
 * {"event":"done","records":N}} once {@code --max} records were delivered or nothing came for
 * {@code --idle-ms}; an acknowledgement error prints {@code {"event":"ack-error",...}}.
 */
public final class ShareConsume {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String group = null;
    String topic = null;
    String mode = "implicit";
    long max = Long.MAX_VALUE;
    long idleMs = 3000;
    long timeoutMs = 60_000;
    long renewWaitMs = 0;
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--group" -> group = value;
        case "--topic" -> topic = value;
        case "--mode" -> mode = value;
        case "--max" -> max = Long.parseLong(value);
        case "--idle-ms" -> idleMs = Long.parseLong(value);
        case "--timeout-ms" -> timeoutMs = Long.parseLong(value);
        case "--renew-wait-ms" -> renewWaitMs = Long.parseLong(value);
        case "--property" -> {
          int eq = value.indexOf('=');
          config.put(value.substring(0, eq), value.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
      i++;
    }
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    boolean explicit = !mode.equals("implicit") && !mode.equals("hold");
    config.putIfAbsent("share.acknowledgement.mode", explicit ? "explicit" : "implicit");

    long delivered = 0;
    long deadline = System.currentTimeMillis() + timeoutMs;
    long lastRecordAt = System.currentTimeMillis();
    boolean started = false;
    KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(config);
    consumer.setAcknowledgementCommitCallback(
        (offsets, exception) -> {
          if (exception == null) return;
          ObjectNode line = JSON.createObjectNode();
          line.put("event", "ack-error");
          line.put("error", exception.getClass().getSimpleName() + ": " + exception.getMessage());
          line.put("offsets", offsets.toString());
          System.out.println(line);
          System.out.flush();
        });
    consumer.subscribe(List.of(topic));
    try {
      while (delivered < max && System.currentTimeMillis() < deadline) {
        ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) {
          if (started && System.currentTimeMillis() - lastRecordAt >= idleMs) break;
          continue;
        }
        started = true;
        lastRecordAt = System.currentTimeMillis();
        boolean renewed = false;
        for (ConsumerRecord<String, String> record : records) {
          ObjectNode line = JSON.createObjectNode();
          line.put("event", "record");
          line.put("partition", record.partition());
          line.put("offset", record.offset());
          line.put("key", record.key());
          line.put("value", record.value());
          line.put("deliveryCount", record.deliveryCount().map(Short::intValue).orElse(-1));
          System.out.println(line);
          delivered++;
          switch (mode) {
            case "accept" -> consumer.acknowledge(record, AcknowledgeType.ACCEPT);
            case "reject" -> consumer.acknowledge(record, AcknowledgeType.REJECT);
            case "release" -> consumer.acknowledge(record, AcknowledgeType.RELEASE);
            case "release-first" -> consumer.acknowledge(
                record, record.deliveryCount().orElse((short) 1) <= 1 ? AcknowledgeType.RELEASE : AcknowledgeType.ACCEPT);
            case "renew" -> {
              consumer.acknowledge(record, AcknowledgeType.RENEW);
              renewed = true;
            }
            default -> {}
          }
        }
        System.out.flush();
        // A held batch must hold real records: probe records (the tests' warm-up) are acknowledged by the next poll.
        if (mode.equals("hold") && records.count() > 0 && java.util.stream.StreamSupport.stream(records.spliterator(), false).anyMatch(r -> r.value() == null || !r.value().startsWith("probe"))) {
          System.out.println("{\"event\":\"done\",\"records\":" + delivered + "}");
          System.out.flush();
          Runtime.getRuntime().halt(0);
        }
        if (explicit) consumer.commitSync(Duration.ofSeconds(30));
        if (renewed) {
          // The renewed locks outlive the lock duration: then every record is accepted.
          if (renewWaitMs > 0) Thread.sleep(renewWaitMs);
          for (ConsumerRecord<String, String> record : records) consumer.acknowledge(record, AcknowledgeType.ACCEPT);
          consumer.commitSync(Duration.ofSeconds(30));
        }
      }
    } finally {
      if (!mode.equals("hold")) consumer.close(Duration.ofSeconds(30));
    }
    System.out.println("{\"event\":\"done\",\"records\":" + delivered + "}");
    System.out.flush();
  }
}
