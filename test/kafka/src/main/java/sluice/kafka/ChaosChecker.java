package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The chaos test's checker (test/chaos/): producers and a consumer of Kafka 4.4.0's Java client
 * running against a cluster while faults are injected, then a verdict on what the brokers kept.
 *
 * <pre>
 * java -cp ... sluice.kafka.ChaosChecker --bootstrap HOST:PORT[,...] --topic T --partitions N --out DIR
 *     [--producers 2] [--txn-producers 1] [--rate 200] [--txn-size 10] [--abort-every 3]
 *     [--seed 1] [--run-id ID] [--final-timeout-s 120] [--property key=value]...
 * </pre>
 *
 * <p>Idempotent producers (enable.idempotence=true, acks=all) each send {@code --rate} records a
 * second, record i to partition i % N, the value naming the producer instance and the sequence:
 * {@code i1g0-42} (producer 1, generation 0 — a new generation after a producer had to be
 * recreated — sequence 42). Transactional producers send transactions of {@code --txn-size}
 * records; about one in {@code --abort-every} is aborted on purpose; values look like
 * {@code t1g0-x7-70-c} (transaction x7 of that instance, sequence 70, meant to commit; "-a": meant
 * to abort). A read_committed consumer reads all partitions from the beginning the whole time.
 *
 * <p>stdin: {@code healed} (a fault was just healed: the consumer's recovery is measured from now),
 * {@code stop} or end of input (stop producing, then check). stdout: one JSON object a line,
 * {@code {"event":"ready"}} at the first acknowledgement, {@code {"event":"progress",...}} every 5 s,
 * {@code {"event":"verdict",...}} at the end (the exit code is 0 when it is ok, 1 when not).
 * --out gets produced.jsonl (every acknowledgement, failure and transaction outcome),
 * consumed.jsonl (what the running consumer read) and final-read.jsonl (the read after stopping).
 *
 * <p>The verdict, from a fresh read_committed read of everything after producing stopped: every
 * acknowledged record (and every record of a committed transaction) read exactly once, at the offset
 * it was acknowledged at; records of each producer instance in sequence order within a partition;
 * nothing of an aborted transaction read, a transaction whose commit had no answer read whole or
 * not at all; no value read twice or never sent; what the running consumer read is what the final
 * read found at the same offsets; and how long the consumer took to progress after each heal.
 */
public final class ChaosChecker {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
  private static final long START_NANOS = System.nanoTime();
  private static final int EXAMPLES_MAX = 10;
  /** The consumer's recovery after a heal must stay under this (the chaos test's limit). */
  private static final long RECOVERY_MS_MAX = 30_000;

  // Options
  private String bootstrap;
  private String topic;
  private int partitions = 6;
  private int idempotentProducers = 2;
  private int transactionalProducers = 1;
  private int ratePerProducer = 200;
  private int transactionSize = 10;
  private int abortEvery = 3;
  private long seed = 1;
  private String runId = Long.toString(System.currentTimeMillis(), 36);
  private long finalTimeoutMs = 120_000;
  private Path outDir;
  private final Properties clientProperties = new Properties();

  // State shared by the threads
  private volatile boolean stopping;
  private final Map<String, Sent> sent = new ConcurrentHashMap<>();
  private final Map<String, Transaction> transactions = new ConcurrentHashMap<>();
  private final AtomicLong producedCount = new AtomicLong();
  private final AtomicLong ackedCount = new AtomicLong();
  private final AtomicLong failedCount = new AtomicLong();
  private final AtomicLong producerRecreations = new AtomicLong();
  private final List<Long> healTimesMs = new CopyOnWriteArrayList<>();
  private final List<Read> continuousReads = new ArrayList<>();
  /** Times (ms since start) of the consumer's polls that returned records. */
  private final List<Long> progressTimesMs = new ArrayList<>();
  private volatile Map<TopicPartition, Long> consumerTargets;
  private volatile boolean consumerCaughtUp;
  private volatile boolean consumerDone;
  private volatile boolean ready;
  private volatile long producingStoppedAtMs = -1;
  private JsonLog producedLog;
  private JsonLog consumedLog;

  private static final int PENDING = 0;
  private static final int ACKED = 1;
  private static final int FAILED = 2;

  private static final class Sent {
    final String value;
    final String instance;
    final long sequence;
    final int partition;
    final Transaction transaction;
    volatile int state = PENDING;
    volatile long offset = -1;

    Sent(String value, String instance, long sequence, int partition, Transaction transaction) {
      this.value = value;
      this.instance = instance;
      this.sequence = sequence;
      this.partition = partition;
      this.transaction = transaction;
    }
  }

  private static final class Transaction {
    final String id;
    final boolean meantToCommit;
    final List<Sent> records = new ArrayList<>();
    /** open, committing, committed, aborted, unknown (a commit was asked for and got no answer). */
    volatile String outcome = "open";
    volatile boolean sendFailed;

    Transaction(String id, boolean meantToCommit) {
      this.id = id;
      this.meantToCommit = meantToCommit;
    }
  }

  private record Read(int partition, long offset, String value, long timeMs) {}

  /** A JSON-lines file written by several threads. */
  private static final class JsonLog implements AutoCloseable {
    private final BufferedWriter writer;

    JsonLog(Path path) throws IOException {
      writer = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
    }

    synchronized void write(ObjectNode line) {
      try {
        writer.write(line.toString());
        writer.newLine();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    }

    @Override
    public synchronized void close() throws IOException {
      writer.close();
    }
  }

  public static void main(String[] args) throws Exception {
    ChaosChecker checker = new ChaosChecker();
    checker.parse(args);
    System.exit(checker.run() ? 0 : 1);
  }

  private static long nowMs() {
    return (System.nanoTime() - START_NANOS) / 1_000_000;
  }

  private void parse(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      if (value == null) usage(args[i] + " needs a value");
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = value;
        case "--topic" -> topic = value;
        case "--partitions" -> partitions = Integer.parseInt(value);
        case "--producers" -> idempotentProducers = Integer.parseInt(value);
        case "--txn-producers" -> transactionalProducers = Integer.parseInt(value);
        case "--rate" -> ratePerProducer = Integer.parseInt(value);
        case "--txn-size" -> transactionSize = Integer.parseInt(value);
        case "--abort-every" -> abortEvery = Integer.parseInt(value);
        case "--seed" -> seed = Long.parseLong(value);
        case "--run-id" -> runId = value;
        case "--final-timeout-s" -> finalTimeoutMs = Long.parseLong(value) * 1000;
        case "--out" -> outDir = Path.of(value);
        case "--property" -> {
          int equals = value.indexOf('=');
          if (equals < 1) usage("--property needs key=value, got " + value);
          clientProperties.setProperty(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (bootstrap == null || topic == null || outDir == null) usage("--bootstrap, --topic and --out are required");
    if (partitions < 1 || ratePerProducer < 1 || transactionSize < 1 || abortEvery < 1) usage("counts must be positive");
  }

  private static void usage(String problem) {
    System.err.println("sluice.kafka.ChaosChecker: " + problem);
    System.err.println(
        "usage: ChaosChecker --bootstrap HOST:PORT --topic T --partitions N --out DIR [--producers N]"
            + " [--txn-producers N] [--rate N] [--txn-size N] [--abort-every N] [--seed N] [--run-id ID]"
            + " [--final-timeout-s S] [--property k=v]...");
    System.exit(2);
  }

  private static void event(String name, ObjectNode fields) {
    ObjectNode line = JSON.createObjectNode();
    line.put("event", name);
    line.put("t", nowMs());
    if (fields != null) line.setAll(fields);
    OUT.println(line);
  }

  private boolean run() throws Exception {
    Files.createDirectories(outDir);
    producedLog = new JsonLog(outDir.resolve("produced.jsonl"));
    consumedLog = new JsonLog(outDir.resolve("consumed.jsonl"));

    List<Thread> producers = new ArrayList<>();
    for (int k = 1; k <= idempotentProducers; k++) {
      int index = k;
      producers.add(new Thread(() -> runIdempotentProducer(index), "idempotent-" + k));
    }
    for (int k = 1; k <= transactionalProducers; k++) {
      int index = k;
      producers.add(new Thread(() -> runTransactionalProducer(index), "transactional-" + k));
    }
    Thread consumer = new Thread(this::runConsumer, "consumer");
    producers.forEach(Thread::start);
    consumer.start();
    Thread progress = new Thread(this::reportProgress, "progress");
    progress.setDaemon(true);
    progress.start();

    // Commands until "stop" or the end of stdin.
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String command = line.trim();
      if (command.equals("stop")) break;
      if (command.equals("healed")) healTimesMs.add(nowMs());
    }

    stopping = true;
    long stopAsked = nowMs();
    for (Thread producer : producers) producer.join();
    producingStoppedAtMs = nowMs();
    event("producers-stopped", fields("ms", producingStoppedAtMs - stopAsked));

    long deadline = nowMs() + finalTimeoutMs;
    Map<TopicPartition, Long> ends = settledEndOffsets(deadline);
    consumerTargets = ends;
    consumer.join(Math.max(1, deadline - nowMs()));
    consumerDone = true;
    consumer.join();
    List<Read> finalReads = readEverything(ends, deadline);
    producedLog.close();
    consumedLog.close();
    try (JsonLog finalLog = new JsonLog(outDir.resolve("final-read.jsonl"))) {
      for (Read read : finalReads) finalLog.write(readLine(read));
    }
    ObjectNode verdict = verdict(finalReads, ends);
    event("verdict", verdict);
    return verdict.get("ok").asBoolean();
  }

  private static ObjectNode fields(String name, long value) {
    ObjectNode node = JSON.createObjectNode();
    node.put(name, value);
    return node;
  }

  private void reportProgress() {
    for (;;) {
      LockSupport.parkNanos(5_000_000_000L);
      ObjectNode line = JSON.createObjectNode();
      line.put("produced", producedCount.get());
      line.put("acked", ackedCount.get());
      line.put("failed", failedCount.get());
      synchronized (continuousReads) {
        line.put("read", continuousReads.size());
      }
      event("progress", line);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Producers

  private Properties producerConfig() {
    Properties config = new Properties();
    config.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    config.setProperty(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    config.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    config.setProperty(ProducerConfig.ACKS_CONFIG, "all");
    config.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
    // Faults last seconds: give up on a request (not on the record) well before Kafka's 30 s.
    config.setProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    config.setProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
    config.setProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
    config.setProperty(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    config.putAll(clientProperties);
    return config;
  }

  /** Waits until the next send is due at `rate` a second; never bursts to catch up after a stall. */
  private static final class Pace {
    private final long intervalNanos;
    private long next = System.nanoTime();

    Pace(int ratePerSecond) {
      intervalNanos = 1_000_000_000L / ratePerSecond;
    }

    void await() {
      long now = System.nanoTime();
      if (next - now > 0) LockSupport.parkNanos(next - now);
      else if (now - next > intervalNanos) next = now;
      next += intervalNanos;
    }
  }

  private Sent newRecord(String value, String instance, long sequence, Transaction transaction) {
    Sent record = new Sent(value, instance, sequence, (int) (sequence % partitions), transaction);
    sent.put(value, record);
    producedCount.incrementAndGet();
    return record;
  }

  private void completed(Sent record, RecordMetadata metadata, Exception error) {
    ObjectNode line = JSON.createObjectNode();
    line.put("t", nowMs());
    line.put("value", record.value);
    if (error == null) {
      record.offset = metadata.offset();
      record.state = ACKED;
      ackedCount.incrementAndGet();
      line.put("ack", true);
      line.put("partition", metadata.partition());
      line.put("offset", metadata.offset());
      if (!ready) {
        ready = true;
        event("ready", null);
      }
    } else {
      record.state = FAILED;
      failedCount.incrementAndGet();
      if (record.transaction != null) record.transaction.sendFailed = true;
      line.put("ack", false);
      line.put("partition", record.partition);
      line.put("error", error.toString());
    }
    producedLog.write(line);
  }

  private void send(KafkaProducer<String, String> producer, Sent record) {
    producer.send(
        new ProducerRecord<>(topic, record.partition, record.value, record.value),
        (metadata, error) -> completed(record, metadata, error));
  }

  /** An exception after which the producer object is of no more use: a new one is made. */
  private static boolean isFatal(Exception error) {
    return error instanceof ProducerFencedException
        || error instanceof OutOfOrderSequenceException
        || error instanceof AuthorizationException
        || error instanceof IllegalStateException
        || !(error instanceof ApiException);
  }

  private void runIdempotentProducer(int index) {
    Pace pace = new Pace(ratePerProducer);
    int generation = 0;
    String instance = "i" + index + "g" + generation;
    KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig());
    for (long sequence = 0; !stopping; sequence++) {
      pace.await();
      Sent record = newRecord(instance + "-" + sequence, instance, sequence, null);
      try {
        send(producer, record);
      } catch (Exception error) {
        completed(record, null, error);
        if (isFatal(error)) {
          producer.close(Duration.ZERO);
          producerRecreations.incrementAndGet();
          instance = "i" + index + "g" + ++generation;
          producer = new KafkaProducer<>(producerConfig());
        }
      }
    }
    // close() waits for what is in flight (acks or failures: every callback runs) up to the timeout.
    producer.close(Duration.ofMillis(finalTimeoutMs / 2));
  }

  private void runTransactionalProducer(int index) {
    Random random = new Random(seed * 1_000_003L + index);
    Pace pace = new Pace(ratePerProducer);
    int generation = -1;
    String instance = null;
    KafkaProducer<String, String> producer = null;
    long sequence = 0;
    for (long number = 0; !stopping; number++) {
      if (producer == null) {
        Properties config = producerConfig();
        config.setProperty(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "chaos-" + runId + "-t" + index);
        config.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "20000");
        producer = new KafkaProducer<>(config);
        try {
          producer.initTransactions();
        } catch (Exception error) {
          logNote("initTransactions of t" + index + " failed: " + error);
          producer.close(Duration.ZERO);
          producer = null;
          LockSupport.parkNanos(1_000_000_000L);
          continue;
        }
        instance = "t" + index + "g" + ++generation;
        if (generation > 0) producerRecreations.incrementAndGet();
      }
      boolean commit = random.nextInt(abortEvery) != 0;
      Transaction transaction = new Transaction(instance + "-x" + number, commit);
      transactions.put(transaction.id, transaction);
      try {
        producer.beginTransaction();
        for (int i = 0; i < transactionSize; i++) {
          pace.await();
          Sent record = newRecord(transaction.id + "-" + sequence + (commit ? "-c" : "-a"), instance, sequence, transaction);
          sequence++;
          transaction.records.add(record);
          send(producer, record);
        }
        producer.flush();
        if (commit && !transaction.sendFailed) {
          transaction.outcome = "committing";
          commitWithRetries(producer, transaction);
        } else {
          producer.abortTransaction();
          transaction.outcome = "aborted";
        }
      } catch (Exception error) {
        logNote("transaction " + transaction.id + " failed: " + error);
        boolean replace = isFatal(error);
        if (transaction.outcome.equals("committing")) {
          transaction.outcome = "unknown";
          replace = true;
        } else {
          // Never asked to commit: it can only end aborted (by us, or by the next initTransactions).
          transaction.outcome = "aborted";
          if (!replace) {
            try {
              producer.abortTransaction();
            } catch (Exception abortError) {
              replace = true;
            }
          }
        }
        if (replace) {
          // A producer in doubt is replaced: initTransactions of the next one settles what is open.
          producer.close(Duration.ZERO);
          producer = null;
        }
      }
      logTransaction(transaction);
    }
    if (producer != null) producer.close(Duration.ofMillis(finalTimeoutMs / 2));
  }

  /** commitTransaction again after a timeout, as Kafka's producer allows; "unknown" when it never answers. */
  private void commitWithRetries(KafkaProducer<String, String> producer, Transaction transaction) {
    for (int attempt = 1; ; attempt++) {
      try {
        producer.commitTransaction();
        transaction.outcome = "committed";
        return;
      } catch (TimeoutException timeout) {
        if (attempt == 3) throw timeout;
      }
    }
  }

  private void logTransaction(Transaction transaction) {
    ObjectNode line = JSON.createObjectNode();
    line.put("t", nowMs());
    line.put("transaction", transaction.id);
    line.put("meantToCommit", transaction.meantToCommit);
    line.put("outcome", transaction.outcome);
    line.put("records", transaction.records.size());
    producedLog.write(line);
  }

  private void logNote(String note) {
    ObjectNode line = JSON.createObjectNode();
    line.put("t", nowMs());
    line.put("note", note);
    producedLog.write(line);
  }

  // ---------------------------------------------------------------------------------------------
  // Consumers

  private Properties consumerConfig() {
    Properties config = new Properties();
    config.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.setProperty(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.setProperty(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    config.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.setProperty(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    config.setProperty(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
    config.setProperty(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    // Producer-only keys given with --property would only be warned about.
    for (String key : clientProperties.stringPropertyNames()) {
      if (ConsumerConfig.configNames().contains(key)) config.setProperty(key, clientProperties.getProperty(key));
    }
    return config;
  }

  private List<TopicPartition> topicPartitions() {
    List<TopicPartition> all = new ArrayList<>();
    for (int p = 0; p < partitions; p++) all.add(new TopicPartition(topic, p));
    return all;
  }

  private static ObjectNode readLine(Read read) {
    ObjectNode line = JSON.createObjectNode();
    line.put("t", read.timeMs());
    line.put("partition", read.partition());
    line.put("offset", read.offset());
    line.put("value", read.value());
    return line;
  }

  private static boolean reached(KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> targets) {
    for (Map.Entry<TopicPartition, Long> target : targets.entrySet()) {
      if (consumer.position(target.getKey(), Duration.ofSeconds(10)) < target.getValue()) return false;
    }
    return true;
  }

  private void runConsumer() {
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig())) {
      consumer.assign(topicPartitions());
      consumer.seekToBeginning(topicPartitions());
      while (!consumerDone) {
        try {
          ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
          long now = nowMs();
          if (!records.isEmpty()) {
            synchronized (continuousReads) {
              progressTimesMs.add(now);
              for (ConsumerRecord<String, String> record : records) {
                Read read = new Read(record.partition(), record.offset(), record.value(), now);
                continuousReads.add(read);
                consumedLog.write(readLine(read));
              }
            }
          }
          Map<TopicPartition, Long> targets = consumerTargets;
          if (targets != null && reached(consumer, targets)) {
            consumerCaughtUp = true;
            return;
          }
        } catch (KafkaException error) {
          // Timeouts looking up positions or leaders while a broker is away: keep polling.
          LockSupport.parkNanos(200_000_000L);
        }
      }
    }
  }

  /**
   * The read_committed end offsets (last stable offsets) once they equal the high watermarks:
   * a transaction still open when producing stopped is settled by its coordinator (commit
   * completion, or abort after transaction.timeout.ms) before the consumers are checked.
   */
  private Map<TopicPartition, Long> settledEndOffsets(long deadline) {
    Properties uncommitted = consumerConfig();
    uncommitted.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
    Map<TopicPartition, Long> stable = null;
    Map<TopicPartition, Long> highWatermarks = null;
    try (KafkaConsumer<String, String> committedReader = new KafkaConsumer<>(consumerConfig());
        KafkaConsumer<String, String> uncommittedReader = new KafkaConsumer<>(uncommitted)) {
      while (nowMs() < deadline) {
        try {
          stable = committedReader.endOffsets(topicPartitions(), Duration.ofSeconds(10));
          highWatermarks = uncommittedReader.endOffsets(topicPartitions(), Duration.ofSeconds(10));
          if (stable.equals(highWatermarks)) return stable;
        } catch (KafkaException error) {
          logNote("end offsets: " + error);
        }
        LockSupport.parkNanos(500_000_000L);
      }
    }
    if (stable == null) throw new IllegalStateException("no end offsets within the final timeout");
    for (Map.Entry<TopicPartition, Long> end : stable.entrySet()) {
      Long highWatermark = highWatermarks == null ? null : highWatermarks.get(end.getKey());
      if (highWatermark != null && highWatermark > end.getValue()) {
        unstable.add(end.getKey().partition() + ": last stable offset " + end.getValue() + " < high watermark " + highWatermark);
      }
    }
    return stable;
  }

  private List<Read> readEverything(Map<TopicPartition, Long> ends, long deadline) {
    List<Read> reads = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig())) {
      consumer.assign(topicPartitions());
      consumer.seekToBeginning(topicPartitions());
      while (nowMs() < deadline) {
        try {
          for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
            reads.add(new Read(record.partition(), record.offset(), record.value(), nowMs()));
          }
          if (reached(consumer, ends)) return reads;
        } catch (KafkaException error) {
          LockSupport.parkNanos(200_000_000L);
        }
      }
    }
    finalReadIncomplete = true;
    return reads;
  }

  private volatile boolean finalReadIncomplete;
  /** Partitions whose last stable offset stayed below the high watermark (a transaction never settled). */
  private final Problems unstable = new Problems("unsettledTransactionsAtEnd");

  // ---------------------------------------------------------------------------------------------
  // The verdict

  /** A named list of problems: a count and the first few examples. */
  private static final class Problems {
    final String name;
    long count;
    final ArrayNode examples = JSON.createArrayNode();

    Problems(String name) {
      this.name = name;
    }

    void add(String example) {
      if (count++ < EXAMPLES_MAX) examples.add(example);
    }
  }

  private ObjectNode verdict(List<Read> reads, Map<TopicPartition, Long> ends) {
    Problems lost = new Problems("lost");
    Problems wrongOffset = new Problems("wrongOffset");
    Problems duplicated = new Problems("duplicated");
    Problems neverSent = new Problems("neverSent");
    Problems outOfOrder = new Problems("outOfOrder");
    Problems abortedRead = new Problems("abortedRead");
    Problems partialTransaction = new Problems("partialTransaction");
    Problems continuousMismatch = new Problems("continuousMismatch");
    Problems offsetsNotIncreasing = new Problems("offsetsNotIncreasing");

    Map<String, Read> byValue = new HashMap<>();
    Map<Long, Read> byPosition = new HashMap<>();
    long[] lastOffset = new long[partitions];
    java.util.Arrays.fill(lastOffset, -1);
    for (Read read : reads) {
      Read earlier = byValue.putIfAbsent(read.value(), read);
      if (earlier != null) duplicated.add(read.value() + " at " + where(earlier) + " and " + where(read));
      byPosition.put(position(read.partition(), read.offset()), read);
      if (!sent.containsKey(read.value())) neverSent.add(read.value() + " at " + where(read));
      if (read.offset() <= lastOffset[read.partition()]) offsetsNotIncreasing.add(where(read));
      lastOffset[read.partition()] = read.offset();
    }

    long acknowledged = 0;
    long failed = 0;
    long pending = 0;
    for (Sent record : sent.values()) {
      if (record.state == ACKED) acknowledged++;
      else if (record.state == FAILED) failed++;
      else pending++;
      Transaction transaction = record.transaction;
      boolean mustBeRead = transaction == null ? record.state == ACKED : transaction.outcome.equals("committed");
      Read read = byValue.get(record.value);
      if (mustBeRead && read == null) lost.add(record.value + (record.state == ACKED ? " acknowledged at " + record.partition + "@" + record.offset : ""));
      if (read != null && record.state == ACKED && (read.partition() != record.partition || read.offset() != record.offset)) {
        wrongOffset.add(record.value + " acknowledged at " + record.partition + "@" + record.offset + ", read at " + where(read));
      }
    }

    long committed = 0;
    long aborted = 0;
    long unknown = 0;
    for (Transaction transaction : transactions.values()) {
      long readCount = transaction.records.stream().filter(record -> byValue.containsKey(record.value)).count();
      switch (transaction.outcome) {
        case "committed" -> committed++;
        case "aborted" -> {
          aborted++;
          if (readCount > 0) abortedRead.add(transaction.id + ": " + readCount + " of " + transaction.records.size() + " records read");
        }
        default -> unknown++;
      }
      if (readCount > 0 && readCount < transaction.records.size()) {
        partialTransaction.add(transaction.id + " (" + transaction.outcome + "): " + readCount + " of " + transaction.records.size() + " read");
      }
    }

    // Per producer instance and partition, sequences increase with the offset.
    Map<String, Long> lastSequence = new HashMap<>();
    for (Read read : reads) {
      Sent record = sent.get(read.value());
      if (record == null) continue;
      String key = record.instance + "@" + read.partition();
      Long previous = lastSequence.put(key, record.sequence);
      if (previous != null && previous >= record.sequence) outOfOrder.add(record.value + " at " + where(read) + " after sequence " + previous);
    }

    List<Read> running;
    synchronized (continuousReads) {
      running = new ArrayList<>(continuousReads);
    }
    for (Read read : running) {
      Read found = byPosition.get(position(read.partition(), read.offset()));
      if (found == null || !found.value().equals(read.value())) {
        continuousMismatch.add(read.value() + " read at " + where(read) + " while producing; the final read has " + (found == null ? "nothing" : found.value()) + " there");
      }
    }

    ObjectNode verdict = JSON.createObjectNode();
    ObjectNode counts = verdict.putObject("counts");
    counts.put("produced", producedCount.get());
    counts.put("acknowledged", acknowledged);
    counts.put("failed", failed);
    counts.put("pendingAtEnd", pending);
    counts.put("read", reads.size());
    counts.put("readWhileProducing", running.size());
    counts.put("transactionsCommitted", committed);
    counts.put("transactionsAborted", aborted);
    counts.put("transactionsUnknown", unknown);
    counts.put("producerRecreations", producerRecreations.get());
    ObjectNode endOffsets = verdict.putObject("endOffsets");
    for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) endOffsets.put(Integer.toString(end.getKey().partition()), end.getValue());

    long recoveryMax = recoveries(verdict.putArray("recoveriesAfterHealMs"));
    verdict.put("maxRecoveryAfterHealMs", recoveryMax);
    verdict.put("longestConsumerGapMs", longestGap());
    verdict.put("consumerCaughtUp", consumerCaughtUp);
    verdict.put("finalReadComplete", !finalReadIncomplete);

    ObjectNode problems = verdict.putObject("problems");
    boolean ok = consumerCaughtUp && !finalReadIncomplete && recoveryMax < RECOVERY_MS_MAX;
    for (Problems list :
        List.of(lost, wrongOffset, duplicated, neverSent, outOfOrder, abortedRead, partialTransaction, continuousMismatch, offsetsNotIncreasing, unstable)) {
      ObjectNode entry = problems.putObject(list.name);
      entry.put("count", list.count);
      entry.set("examples", list.examples);
      ok &= list.count == 0;
    }
    verdict.put("ok", ok);
    return verdict;
  }

  private static String where(Read read) {
    return read.partition() + "@" + read.offset();
  }

  private static long position(int partition, long offset) {
    return ((long) partition << 48) | offset;
  }

  /** For each heal: ms until the consumer next read something (until producing stopped if never). */
  private long recoveries(ArrayNode out) {
    List<Long> progress;
    synchronized (continuousReads) {
      progress = new ArrayList<>(progressTimesMs);
    }
    long max = 0;
    for (long healed : healTimesMs) {
      long next = progress.stream().filter(t -> t >= healed).findFirst().orElse(Math.max(healed, producingStoppedAtMs));
      out.add(next - healed);
      max = Math.max(max, next - healed);
    }
    return max;
  }

  /** The longest time without the consumer reading anything while records were being produced. */
  private long longestGap() {
    List<Long> progress;
    synchronized (continuousReads) {
      progress = new ArrayList<>(progressTimesMs);
    }
    long longest = 0;
    for (int i = 1; i < progress.size(); i++) {
      if (progress.get(i - 1) > producingStoppedAtMs) break;
      longest = Math.max(longest, progress.get(i) - progress.get(i - 1));
    }
    return longest;
  }
}
