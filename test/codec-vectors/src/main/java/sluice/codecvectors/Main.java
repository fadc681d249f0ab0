package sluice.codecvectors;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.record.TimestampType;

/**
 * Compression cross-check with Kafka's own record code.
 *
 * <pre>
 *   Main generate OUT_DIR   batches built by MemoryRecordsBuilder in every codec, one JSON
 *                           object a line in OUT_DIR/kafka-batches.jsonl:
 *                           {"name", "codec", "hex", "records": [...]}
 *   Main read FILE          FILE holds one hex record batch a line; prints one JSON line per
 *                           input line: {"codec", "records": [...]} as Kafka decodes it, or
 *                           {"error": "..."}
 * </pre>
 *
 * A record is {"offset", "timestamp", "key", "value", "headers": [{"key", "value"}]}: bytes
 * as lowercase hex strings (null stays null), header keys as the hex of their UTF-8.
 */
public final class Main {
    private static final HexFormat HEX = HexFormat.of();
    private static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("generate")) {
            generate(Path.of(args[1]));
        } else if (args.length == 2 && args[0].equals("read")) {
            read(Path.of(args[1]));
        } else {
            System.err.println("usage: Main generate OUT_DIR | Main read FILE");
            System.exit(2);
        }
    }

    /** Records of a shape: keys, nulls, headers, a record large enough to span codec blocks. */
    private static List<SimpleRecord> sample(String shape) {
        List<SimpleRecord> records = new ArrayList<>();
        switch (shape) {
            case "mixed" -> {
                records.add(new SimpleRecord(BASE_TIMESTAMP, bytes("key-0"), bytes("value-0"),
                    new Header[] {new RecordHeader("trace", bytes("abc")), new RecordHeader("null", null)}));
                records.add(new SimpleRecord(BASE_TIMESTAMP + 5, (byte[]) null, bytes("no key")));
                records.add(new SimpleRecord(BASE_TIMESTAMP - 3, bytes("key-2"), (byte[]) null,
                    new Header[] {new RecordHeader("ünïcödé", bytes(""))}));
                records.add(new SimpleRecord(BASE_TIMESTAMP + 1, bytes(""), bytes("")));
            }
            case "many" -> {
                for (int index = 0; index < 300; index++) {
                    String value = ("record " + index + " of a batch that spans several codec blocks; ").repeat(12);
                    records.add(new SimpleRecord(BASE_TIMESTAMP + index, bytes("key-" + index), bytes(value)));
                }
            }
            case "one-null" -> records.add(new SimpleRecord(BASE_TIMESTAMP, (byte[]) null, (byte[]) null,
                new Header[] {new RecordHeader("h", null)}));
            default -> throw new IllegalArgumentException(shape);
        }
        return records;
    }

    private static void generate(Path outDir) throws Exception {
        Files.createDirectories(outDir);
        StringBuilder lines = new StringBuilder();
        for (CompressionType type : CompressionType.values()) {
            for (String shape : List.of("mixed", "many", "one-null")) {
                boolean idempotent = shape.equals("many");
                ByteBuffer buffer = ByteBuffer.allocate(4 << 20);
                MemoryRecordsBuilder builder = MemoryRecords.builder(buffer, RecordBatch.CURRENT_MAGIC_VALUE,
                    Compression.of(type).build(), TimestampType.CREATE_TIME, 0L, RecordBatch.NO_TIMESTAMP,
                    idempotent ? 4242L : RecordBatch.NO_PRODUCER_ID,
                    idempotent ? (short) 3 : RecordBatch.NO_PRODUCER_EPOCH,
                    idempotent ? 17 : RecordBatch.NO_SEQUENCE, false, RecordBatch.NO_PARTITION_LEADER_EPOCH);
                for (SimpleRecord record : sample(shape)) {
                    builder.append(record);
                }
                MemoryRecords records = builder.build();
                byte[] batch = new byte[records.sizeInBytes()];
                records.buffer().duplicate().get(batch);
                MutableRecordBatch only = records.batches().iterator().next();
                lines.append("{\"name\":\"").append(type.name).append('-').append(shape)
                    .append("\",\"codec\":\"").append(type.name)
                    .append("\",\"hex\":\"").append(HEX.formatHex(batch))
                    .append("\",\"records\":").append(recordsJson(only)).append("}\n");
            }
        }
        Files.writeString(outDir.resolve("kafka-batches.jsonl"), lines.toString());
    }

    private static void read(Path file) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String line : Files.readAllLines(file)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                MemoryRecords records = MemoryRecords.readableRecords(ByteBuffer.wrap(HEX.parseHex(line.trim())));
                StringBuilder batches = new StringBuilder();
                int count = 0;
                for (MutableRecordBatch batch : records.batches()) {
                    batch.ensureValid();
                    if (count++ > 0) {
                        batches.append(',');
                    }
                    batches.append("{\"codec\":\"").append(batch.compressionType().name)
                        .append("\",\"records\":").append(recordsJson(batch)).append('}');
                }
                out.append("{\"batches\":[").append(batches).append("]}\n");
            } catch (RuntimeException error) {
                out.append("{\"error\":\"").append(String.valueOf(error).replace("\\", "\\\\").replace("\"", "'"))
                    .append("\"}\n");
            }
        }
        System.out.print(out);
    }

    private static String recordsJson(RecordBatch batch) {
        StringBuilder json = new StringBuilder("[");
        for (Record record : batch) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append("{\"offset\":").append(record.offset())
                .append(",\"timestamp\":").append(record.timestamp())
                .append(",\"key\":").append(hex(record.hasKey() ? record.key() : null))
                .append(",\"value\":").append(hex(record.hasValue() ? record.value() : null))
                .append(",\"headers\":[");
            Header[] headers = record.headers();
            for (int index = 0; index < headers.length; index++) {
                if (index > 0) {
                    json.append(',');
                }
                json.append("{\"key\":\"").append(HEX.formatHex(headers[index].key().getBytes(StandardCharsets.UTF_8)))
                    .append("\",\"value\":")
                    .append(headers[index].value() == null ? "null" : "\"" + HEX.formatHex(headers[index].value()) + "\"")
                    .append('}');
            }
            json.append("]}");
        }
        return json.append(']').toString();
    }

    private static String hex(ByteBuffer buffer) {
        if (buffer == null) {
            return "null";
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return "\"" + HEX.formatHex(bytes) + "\"";
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
