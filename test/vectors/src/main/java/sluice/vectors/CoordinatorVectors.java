package sluice.vectors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecord;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecordSerde;
import org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde;
import org.apache.kafka.coordinator.share.ShareCoordinatorRecordSerde;
import org.apache.kafka.coordinator.transaction.TransactionCoordinatorRecordSerde;
import org.apache.kafka.server.common.ApiMessageAndVersion;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Vectors of Kafka 4.4.0's coordinator records (kafka-group-coordinator, kafka-transaction-coordinator,
 * kafka-share-coordinator), written to {@code out/coordinator/}:
 * <ul>
 *   <li>{@code records/<Name>.jsonl}: randomized messages of every key and value spec, every version, serialized by
 *       Kafka's generated {@code *Key} / {@code *Value} classes (same line format as {@code messages/});</li>
 *   <li>{@code serde.jsonl}: whole records (key + value, and tombstones) as Kafka's {@code *CoordinatorRecordSerde}
 *       writes them into {@code __consumer_offsets}, {@code __transaction_state}, {@code __share_group_state};</li>
 *   <li>{@code partitions.jsonl}: Kafka's coordinator partition of random group ids,
 *       {@code Utils.abs(id.hashCode()) % partitions}.</li>
 * </ul>
 */
final class CoordinatorVectors {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    record Topic(String dir, String topic, String pkg, CoordinatorRecordSerde serde) {}

    static final List<Topic> TOPICS = List.of(
        new Topic("group-coordinator", "__consumer_offsets", "org.apache.kafka.coordinator.group.generated.", new GroupCoordinatorRecordSerde()),
        new Topic("transaction-coordinator", "__transaction_state", "org.apache.kafka.coordinator.transaction.generated.", new TransactionCoordinatorRecordSerde()),
        new Topic("share-coordinator", "__share_group_state", "org.apache.kafka.coordinator.share.generated.", new ShareCoordinatorRecordSerde()));

    /** Returns a summary line. */
    static String write(Path specs, Path out, String kafka, int count) throws IOException {
        Path dir = out.resolve("coordinator");
        Path recordsDir = dir.resolve("records");
        Files.createDirectories(recordsDir);
        int specsDone = 0, pairs = 0, lines = 0, serdeLines = 0;
        List<ObjectNode> serde = new ArrayList<>();
        ObjectNode manifest = F.objectNode();
        for (Topic t : TOPICS) {
            Map<String, Spec> byName = new TreeMap<>();
            try (Stream<Path> s = Files.list(specs.resolve(Main.CURRENT_KAFKA).resolve(t.dir))) {
                for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                    if (!p.toString().endsWith(".json")) continue;
                    Spec spec = Spec.load(p);
                    byName.put(spec.name, spec);
                }
            }
            ObjectNode topicNode = manifest.putObject(t.topic);
            for (Spec key : byName.values()) {
                if (!key.type.equals("coordinator-key")) continue;
                String name = key.name.substring(0, key.name.length() - "Key".length());
                Spec value = byName.get(name + "Value");
                if (value == null || value.apiKey != key.apiKey) throw new IllegalStateException("no value spec for " + key.name);
                List<Message> keys = new ArrayList<>();
                TreeMap<Integer, List<Message>> values = new TreeMap<>();
                for (Spec s : List.of(key, value)) {
                    MessageVectors mv = new MessageVectors(s, kafka, t.pkg + s.name);
                    TreeMap<Integer, List<ObjectNode>> byVersion = new TreeMap<>();
                    for (int v : s.validVersions.list()) {
                        List<Message> msgs = new ArrayList<>();
                        byVersion.put(v, mv.generate(v, count, msgs));
                        if (s == key) keys.addAll(msgs);
                        else values.put(v, msgs);
                        pairs++;
                    }
                    lines += writeJsonl(recordsDir.resolve(s.name + ".jsonl"), byVersion);
                    specsDone++;
                }
                ObjectNode rt = topicNode.putObject(name);
                rt.put("recordType", key.apiKey);
                ArrayNode vs = rt.putArray("valueVersions");
                for (int v : values.keySet()) vs.add(v);

                // whole records through Kafka's serde: every value version, and a tombstone
                int k = 0;
                for (var e : values.entrySet()) {
                    for (int i = 0; i < 3; i++) {
                        ApiMessage km = (ApiMessage) keys.get((k++) % keys.size());
                        ApiMessage vm = (ApiMessage) e.getValue().get(i + 1);
                        serde.add(serdeLine(t, name, CoordinatorRecord.record(km, new ApiMessageAndVersion(vm, (short) (int) e.getKey()))));
                    }
                }
                serde.add(serdeLine(t, name, CoordinatorRecord.tombstone((ApiMessage) keys.get(1))));
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("serde.jsonl"), StandardCharsets.UTF_8)) {
            for (ObjectNode l : serde) { w.write(Main.MAPPER.writeValueAsString(l)); w.write('\n'); serdeLines++; }
        }
        int partitionLines = writePartitions(dir.resolve("partitions.jsonl"));
        Files.writeString(dir.resolve("manifest.json"), Main.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n");
        return String.format("%d coordinator record specs, %d (spec, version) pairs, %d messages, %d serde records, %d partition lines",
            specsDone, pairs, lines, serdeLines, partitionLines);
    }

    private static ObjectNode serdeLine(Topic t, String name, CoordinatorRecord rec) {
        byte[] key = t.serde.serializeKey(rec);
        byte[] value = t.serde.serializeValue(rec);
        // Kafka reads it back to the same record
        CoordinatorRecord back = t.serde.deserialize(ByteBuffer.wrap(key), value == null ? null : ByteBuffer.wrap(value));
        if (!back.equals(rec)) throw new IllegalStateException(name + ": serde round trip differs");
        ObjectNode l = F.objectNode();
        l.put("topic", t.topic);
        l.put("name", name);
        l.put("key", MessageVectors.hex(key));
        if (value == null) l.putNull("value");
        else l.put("value", MessageVectors.hex(value));
        l.put("valueVersion", rec.value() == null ? -1 : rec.value().version());
        return l;
    }

    /** Group ids and their coordinator partitions for a few partition counts. */
    private static int writePartitions(Path p) throws IOException {
        int[] counts = {1, 3, 7, 50, 64, 1000};
        Rand rnd = new Rand(Rand.seedOf("coordinator-partitions"));
        List<String> ids = new ArrayList<>(List.of("", "group", "polygenelubricants", "GydZG_", "DESIGNING WORKHOUSES", "\ud83d\ude00", "\u00e9t\u00e9"));
        for (int i = 0; i < 4000; i++) {
            String s = rnd.string();
            // sometimes a lone surrogate too (valid for Java strings)
            if (i % 97 == 0) s = s + (char) (0xd800 + rnd.between(0, 0x7ff));
            ids.add(s);
        }
        int n = 0;
        try (BufferedWriter w = Files.newBufferedWriter(p, StandardCharsets.UTF_8)) {
            for (String id : ids) {
                ObjectNode l = F.objectNode();
                // the id as UTF-16 code units (some hold a lone surrogate, which UTF-8 JSON cannot carry)
                ArrayNode units = l.putArray("units");
                for (int i = 0; i < id.length(); i++) units.add((int) id.charAt(i));
                l.put("hashCode", id.hashCode());
                ObjectNode parts = l.putObject("partitions");
                for (int c : counts) parts.put(Integer.toString(c), Utils.abs(id.hashCode()) % c);
                w.write(Main.MAPPER.writeValueAsString(l));
                w.write('\n');
                n++;
            }
        }
        return n;
    }

    private static int writeJsonl(Path p, TreeMap<Integer, List<ObjectNode>> byVersion) throws IOException {
        int n = 0;
        try (BufferedWriter w = Files.newBufferedWriter(p, StandardCharsets.UTF_8)) {
            for (List<ObjectNode> ls : byVersion.values()) {
                for (ObjectNode l : ls) { w.write(Main.MAPPER.writeValueAsString(l)); w.write('\n'); n++; }
            }
        }
        return n;
    }
}
