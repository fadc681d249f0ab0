package sluice.kafka.connect;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * A Kafka Connect source connector for the interop tests (test/interop/streams-connect.test.ts), in
 * the spirit of Kafka's FileStreamSource (connect-file, which Maven Central has only up to 4.3):
 * one task tails the UTF-8 text file {@code file} and sends each complete line ({@code \n}-ended)
 * as a String value, without key, to {@code topic}. Its source offset is {@code {"line": N}} (lines
 * sent so far) under the source partition {@code {"file": path}}, so a restarted task goes on after
 * the last line whose offset the worker flushed.
 */
public final class LineFileSourceConnector extends SourceConnector {
  static final ConfigDef CONFIG = new ConfigDef()
      .define("file", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the text file to read")
      .define("topic", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the topic to send the lines to");

  private Map<String, String> settings;

  @Override
  public String version() {
    return "1.0";
  }

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props); // a missing setting fails here, not in the task
    settings = Map.copyOf(props);
  }

  @Override
  public Class<? extends Task> taskClass() {
    return LineTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    return List.of(settings);
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  /** The one task: polls the file every 100 ms for new complete lines. */
  public static final class LineTask extends SourceTask {
    private Path file;
    private String topic;
    private Map<String, String> sourcePartition;
    private long linesSent;

    @Override
    public String version() {
      return "1.0";
    }

    @Override
    public void start(Map<String, String> props) {
      file = Path.of(props.get("file"));
      topic = props.get("topic");
      sourcePartition = Map.of("file", file.toString());
      Map<String, Object> offset = context.offsetStorageReader().offset(sourcePartition);
      linesSent = offset == null ? 0 : ((Number) offset.get("line")).longValue();
    }

    @Override
    public List<SourceRecord> poll() throws InterruptedException {
      String text;
      try {
        text = Files.readString(file, StandardCharsets.UTF_8);
      } catch (NoSuchFileException missing) {
        text = "";
      } catch (IOException error) {
        throw new ConnectException("cannot read " + file, error);
      }
      List<SourceRecord> records = new ArrayList<>();
      long line = 0;
      for (int start = 0, end = text.indexOf('\n'); end >= 0; start = end + 1, end = text.indexOf('\n', start)) {
        if (++line <= linesSent) continue;
        records.add(new SourceRecord(sourcePartition, Map.of("line", line), topic, null, null, null, Schema.STRING_SCHEMA, text.substring(start, end)));
      }
      if (records.isEmpty()) {
        Thread.sleep(100);
        return null;
      }
      linesSent = line;
      return records;
    }

    @Override
    public void stop() {}
  }
}
