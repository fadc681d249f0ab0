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
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * A Kafka Streams 4.4.0 KStream–KTable join with an aggregation, one application instance per
 * process, for test/interop/ecosystem-streams-join.test.ts:
 *
 * <ul>
 *   <li>{@code --customers}: a table (key = customer id, value = the customer's name), materialized
 *       as the store {@code customers} (changelog topic {@code ID-customers-changelog});
 *   <li>{@code --orders}: a stream (key = order id, value = {@code customer,amount}), re-keyed by
 *       customer ({@code selectKey}: the repartition topic {@code ID-orders-by-customer-repartition}),
 *       joined with the table ({@code name,orderId,amount}), then aggregated per customer
 *       ({@code groupByKey().aggregate}: the store {@code totals}, changelog topic
 *       {@code ID-totals-changelog}) into {@code count,total,lastOrderId,name};
 *   <li>every new aggregate goes to {@code --output} (key = customer id).
 * </ul>
 *
 * <pre>
 * java -cp ... sluice.kafka.OrderJoin --bootstrap HOST:PORT --application-id ID --customers T --orders T
 *     --output T --state-dir DIR [--property key=value]...
 * </pre>
 *
 * <p>{@code --property} sets any Streams config, {@code group.protocol} among them (classic by
 * default); {@code commit.interval.ms=500} and {@code statestore.cache.max.bytes=0} (every update is
 * sent on) unless overridden. One JSON line per event on stdout, as sluice.kafka.WordCount:
 *
 * <pre>
 * {"event": "started", "topology": "...", "groupProtocol": "...", "processingGuarantee": "..."}
 * {"event": "state", "from": "REBALANCING", "to": "RUNNING"}
 * {"event": "tasks", "active": ["0_0", "1_0", ...], "standby": [...]}   (each time it is RUNNING)
 * {"event": "restored", "store": "totals", "topic": "...", "partition": 0, "records": 12}
 * {"event": "error", "error": "ExceptionClass: message"}                 (then it shuts down)
 * {"event": "closed", "clean": true|false}
 * </pre>
 *
 * <p>Commands on stdin, as WordCount: {@code {"cmd": "stop"}} closes the instance and leaves the group.
 */
public final class OrderJoin {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  private static boolean closedEmitted;

  private static synchronized void emit(ObjectNode event) {
    if (closedEmitted) return;
    closedEmitted = event.path("event").asText().equals("closed");
    OUT.println(event.toString());
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String applicationId = null;
    String customers = null;
    String orders = null;
    String output = null;
    String stateDir = null;
    Properties config = new Properties();
    config.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "500");
    config.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--application-id" -> applicationId = value;
        case "--customers" -> customers = value;
        case "--orders" -> orders = value;
        case "--output" -> output = value;
        case "--state-dir" -> stateDir = value;
        case "--property" -> {
          int eq = value.indexOf('=');
          config.put(value.substring(0, eq), value.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || applicationId == null || customers == null || orders == null || output == null || stateDir == null) {
      throw new IllegalArgumentException("--bootstrap, --application-id, --customers, --orders, --output and --state-dir are required");
    }
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    config.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
    config.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());

    StreamsBuilder builder = new StreamsBuilder();
    KTable<String, String> names = builder.table(customers, Consumed.with(Serdes.String(), Serdes.String()), Materialized.as("customers"));
    builder.stream(orders, Consumed.with(Serdes.String(), Serdes.String()))
        // order id -> "customer,amount" becomes customer -> "orderId,amount": a new key, so the join repartitions
        .map((orderId, order) -> {
          int comma = order.indexOf(',');
          return KeyValue.pair(order.substring(0, comma), orderId + "," + order.substring(comma + 1));
        }, Named.as("by-customer"))
        .join(names, (order, name) -> name + "," + order, Joined.<String, String, String>with(Serdes.String(), Serdes.String(), Serdes.String()).withName("orders-by-customer"))
        .groupByKey(Grouped.with("per-customer", Serdes.String(), Serdes.String()))
        .aggregate(
            () -> "0,0,,",
            (customer, joined, aggregate) -> {
              String[] order = joined.split(",", -1); // name, orderId, amount
              String[] sum = aggregate.split(",", -1); // count, total, lastOrderId, name
              long count = Long.parseLong(sum[0]) + 1;
              long total = Long.parseLong(sum[1]) + Long.parseLong(order[2]);
              return count + "," + total + "," + order[1] + "," + order[0];
            },
            Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("totals")
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.String()))
        .toStream()
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    Topology topology = builder.build(config);
    StreamsConfig streamsConfig = new StreamsConfig(config);

    KafkaStreams streams = new KafkaStreams(topology, config);
    streams.setStateListener((to, from) -> {
      emit(JSON.createObjectNode().put("event", "state").put("from", from.name()).put("to", to.name()));
      if (to == KafkaStreams.State.RUNNING) emitTasks(streams);
    });
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition partition, String store, long startingOffset, long endingOffset) {}

      @Override
      public void onBatchRestored(TopicPartition partition, String store, long batchEndOffset, long numRestored) {}

      @Override
      public void onRestoreEnd(TopicPartition partition, String store, long totalRestored) {
        emit(JSON.createObjectNode()
            .put("event", "restored")
            .put("store", store)
            .put("topic", partition.topic())
            .put("partition", partition.partition())
            .put("records", totalRestored));
      }
    });
    streams.setUncaughtExceptionHandler(error -> {
      emit(JSON.createObjectNode().put("event", "error").put("error", error.getClass().getName() + ": " + error.getMessage()));
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    emit(JSON.createObjectNode()
        .put("event", "started")
        .put("topology", topology.describe().toString())
        .put("groupProtocol", streamsConfig.getString(StreamsConfig.GROUP_PROTOCOL_CONFIG))
        .put("processingGuarantee", streamsConfig.getString(StreamsConfig.PROCESSING_GUARANTEE_CONFIG)));
    streams.start();

    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.isBlank()) continue;
        JsonNode command = JSON.readTree(line);
        if (command.path("cmd").asText().equals("stop")) break;
      }
    }
    CloseOptions close = CloseOptions.timeout(Duration.ofSeconds(30)).withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP);
    boolean clean = streams.close(close);
    emit(JSON.createObjectNode().put("event", "closed").put("clean", clean).put("state", streams.state().name()));
    System.exit(clean ? 0 : 1);
  }

  private static void emitTasks(KafkaStreams streams) {
    TreeSet<String> active = new TreeSet<>();
    TreeSet<String> standby = new TreeSet<>();
    for (ThreadMetadata thread : streams.metadataForLocalThreads()) {
      thread.activeTasks().forEach(task -> active.add(task.taskId().toString()));
      thread.standbyTasks().forEach(task -> standby.add(task.taskId().toString()));
    }
    ObjectNode event = JSON.createObjectNode().put("event", "tasks");
    ArrayNode activeArray = event.putArray("active");
    active.forEach(activeArray::add);
    ArrayNode standbyArray = event.putArray("standby");
    standby.forEach(standbyArray::add);
    emit(event);
  }
}
