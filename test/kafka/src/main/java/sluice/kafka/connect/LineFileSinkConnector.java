package sluice.kafka.connect;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.sink.SinkConnector;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;

/**
 * A Kafka Connect sink connector for the interop tests (test/interop/streams-connect.test.ts), in the
 * spirit of Kafka's FileStreamSink (connect-file, which Maven Central has only up to 4.3): one task
 * appends the value of every record of its {@code topics} to the text file {@code file}, one line
 * each, written before put() returns (so before the worker commits the consumer offsets).
 */
public final class LineFileSinkConnector extends SinkConnector {
  static final ConfigDef CONFIG = new ConfigDef()
      .define("file", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the text file to append to");

  private Map<String, String> settings;

  @Override
  public String version() {
    return "1.0";
  }

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props);
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

  /** The one task. */
  public static final class LineTask extends SinkTask {
    private Path file;

    @Override
    public String version() {
      return "1.0";
    }

    @Override
    public void start(Map<String, String> props) {
      file = Path.of(props.get("file"));
    }

    @Override
    public void put(Collection<SinkRecord> records) {
      if (records.isEmpty()) return;
      StringBuilder lines = new StringBuilder();
      for (SinkRecord record : records) lines.append(record.value()).append('\n');
      try {
        Files.writeString(file, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      } catch (IOException error) {
        throw new ConnectException("cannot append to " + file, error);
      }
    }

    @Override
    public void stop() {}
  }
}
