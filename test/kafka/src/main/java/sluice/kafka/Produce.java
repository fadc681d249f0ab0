package sluice.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Produces records read from stdin with Kafka's own KafkaProducer, for test/helpers/kafka.ts
 * (produceWithJava).
 *
 * <pre>
 * java -cp ... sluice.kafka.Produce --bootstrap HOST:PORT --topic T [--partition N]
 *     [--property key=value]...   &lt; records.jsonl
 * </pre>
 *
 * <p>One JSON object per stdin line: {@code {"key": string|null, "value": string|null,
 * "headers": [[name, string|null], ...], "timestamp": ms|null, "partition": n|null}}. Strings are
 * sent as UTF-8; {@code keyBase64} / {@code valueBase64} (and a header value {@code {"base64": ...}})
 * carry raw bytes instead. All records are sent before any is awaited, so they batch as a real
 * application's would; then stdout gets one line per record, in input order:
 * {@code {"partition":0,"offset":41,"timestamp":1700000000000}}. A failed send is printed as
 * {@code {"error":"..."}} and the exit code is 1.
 */
public final class Produce {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String topic = null;
    Integer partition = null;
    Properties config = new Properties();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--topic" -> topic = value;
        case "--partition" -> partition = Integer.valueOf(value);
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
    config.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    config.setProperty(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (!line.isBlank()) records.add(record(JSON.readTree(line), topic, partition));
    }

    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    boolean failed = false;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
      List<Future<RecordMetadata>> sent = new ArrayList<>(records.size());
      for (ProducerRecord<byte[], byte[]> record : records) sent.add(producer.send(record));
      producer.flush();
      for (Future<RecordMetadata> future : sent) {
        ObjectNode line = JSON.createObjectNode();
        try {
          RecordMetadata metadata = future.get();
          line.put("partition", metadata.partition());
          line.put("offset", metadata.offset());
          line.put("timestamp", metadata.timestamp());
        } catch (ExecutionException e) {
          failed = true;
          line.put("error", String.valueOf(e.getCause()));
        }
        out.println(line);
      }
    }
    out.flush();
    System.exit(failed ? 1 : 0);
  }

  private static ProducerRecord<byte[], byte[]> record(JsonNode json, String topic, Integer partition) {
    JsonNode partitionNode = json.get("partition");
    if (partitionNode != null && !partitionNode.isNull()) partition = partitionNode.asInt();
    JsonNode timestampNode = json.get("timestamp");
    Long timestamp = timestampNode == null || timestampNode.isNull() ? null : timestampNode.asLong();
    ProducerRecord<byte[], byte[]> record =
        new ProducerRecord<>(topic, partition, timestamp, bytes(json, "key"), bytes(json, "value"));
    JsonNode headers = json.get("headers");
    if (headers != null) {
      for (JsonNode header : headers) {
        record.headers().add(new RecordHeader(header.get(0).asText(), headerValue(header.get(1))));
      }
    }
    return record;
  }

  private static byte[] bytes(JsonNode json, String field) {
    JsonNode base64 = json.get(field + "Base64");
    if (base64 != null && !base64.isNull()) return Base64.getDecoder().decode(base64.asText());
    JsonNode text = json.get(field);
    return text == null || text.isNull() ? null : text.asText().getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] headerValue(JsonNode value) {
    if (value == null || value.isNull()) return null;
    if (value.isObject()) return Base64.getDecoder().decode(value.get("base64").asText());
    return value.asText().getBytes(StandardCharsets.UTF_8);
  }

  private static void usage(String problem) {
    System.err.println("sluice.kafka.Produce: " + problem);
    System.err.println(
        "usage: Produce --bootstrap HOST:PORT --topic T [--partition N] [--property k=v]... < records.jsonl");
    System.exit(2);
  }
}
