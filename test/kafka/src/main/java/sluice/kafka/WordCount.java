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
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Kafka Streams 4.4.0's word count, one application instance per process, for
 * test/interop/streams-connect.test.ts: lines (String values) from {@code --input} are split into
 * lower-case words, re-keyed by word ({@code groupBy}: a repartition topic), counted ({@code count}:
 * a key-value store with a changelog topic), and every new count goes to {@code --output} as
 * key = word, value = the count in decimal (String serdes throughout).
 *
 * <pre>
 * java -cp ... sluice.kafka.WordCount --bootstrap HOST:PORT --application-id ID --input T --output T
 *     --state-dir DIR [--property key=value]...
 * </pre>
 *
 * <p>Streams defaults apply (processing.guarantee=at_least_once, group.protocol=classic) except
 * {@code commit.interval.ms=500} and {@code statestore.cache.max.bytes=0} (every update is sent on,
 * nothing waits in the cache), which {@code --property} may override. One JSON line per event on
 * stdout:
 *
 * <pre>
 * {"event": "started", "topology": "...", "groupProtocol": "...", "processingGuarantee": "..."}
 * {"event": "state", "from": "REBALANCING", "to": "RUNNING"}
 * {"event": "tasks", "active": ["0_0", "1_0", ...], "standby": [...]}   (each time it is RUNNING)
 * {"event": "error", "error": "ExceptionClass: message"}                 (then it shuts down)
 * {"event": "closed", "clean": true|false}
 * </pre>
 *
 * <p>Commands on stdin, one JSON object a line (as sluice.kafka.GroupConsume): {@code {"cmd": "stop"}}
 * closes the instance and leaves the group ({@code CloseOptions} LEAVE_GROUP: the others take its
 * tasks at once instead of after the session timeout); {@code {"cmd": "stop", "leave": false}} closes
 * it without leaving, as Streams does by default. End of stdin is {@code {"cmd": "stop"}}. Exit code 0
 * after a clean close.
 */
public final class WordCount {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  private static boolean closedEmitted;

  /** Prints an event; none after "closed" (the listener may report NOT_RUNNING after close() returned). */
  private static synchronized void emit(ObjectNode event) {
    if (closedEmitted) return;
    closedEmitted = event.path("event").asText().equals("closed");
    OUT.println(event.toString());
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    String applicationId = null;
    String input = null;
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
        case "--input" -> input = value;
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
    if (bootstrap == null || applicationId == null || input == null || output == null || stateDir == null) {
      throw new IllegalArgumentException("--bootstrap, --application-id, --input, --output and --state-dir are required");
    }
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    config.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
    config.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
        .filter((key, word) -> !word.isEmpty())
        .groupBy((key, word) -> word, Grouped.with("words", Serdes.String(), Serdes.String()))
        .count(Materialized.as("counts"))
        .toStream()
        .mapValues(count -> Long.toString(count))
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    Topology topology = builder.build(config);
    TopologyDescription description = topology.describe();
    StreamsConfig streamsConfig = new StreamsConfig(config);

    KafkaStreams streams = new KafkaStreams(topology, config);
    streams.setStateListener((to, from) -> {
      ObjectNode event = JSON.createObjectNode().put("event", "state").put("from", from.name()).put("to", to.name());
      emit(event);
      if (to == KafkaStreams.State.RUNNING) emitTasks(streams);
    });
    streams.setUncaughtExceptionHandler(error -> {
      emit(JSON.createObjectNode().put("event", "error").put("error", error.getClass().getName() + ": " + error.getMessage()));
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    emit(JSON.createObjectNode()
        .put("event", "started")
        .put("topology", description.toString())
        .put("groupProtocol", streamsConfig.getString(StreamsConfig.GROUP_PROTOCOL_CONFIG))
        .put("processingGuarantee", streamsConfig.getString(StreamsConfig.PROCESSING_GUARANTEE_CONFIG)));
    streams.start();

    boolean leave = true;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.isBlank()) continue;
        JsonNode command = JSON.readTree(line);
        if (command.path("cmd").asText().equals("stop")) {
          leave = command.path("leave").asBoolean(true);
          break;
        }
      }
    }
    CloseOptions close = CloseOptions.timeout(Duration.ofSeconds(30))
        .withGroupMembershipOperation(leave ? CloseOptions.GroupMembershipOperation.LEAVE_GROUP : CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP);
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
