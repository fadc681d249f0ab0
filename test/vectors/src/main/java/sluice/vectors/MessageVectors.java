package sluice.vectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;
import org.apache.kafka.common.protocol.types.RawTaggedField;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Makes the vectors of one message spec: random JSON for a version, turned into Kafka's generated
 * *Data object by its *DataJsonConverter, serialized by Kafka, read back, converted to JSON by Kafka.
 */
final class MessageVectors {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final Spec spec;
    private final String kafkaVersion;
    private final Class<?> dataClass;
    private final Constructor<?> readCtor;
    private final Method jsonRead;
    private final Method jsonWrite;
    private final boolean jsonWriteHasRecordsFlag;

    MessageVectors(Spec spec, String kafkaVersion) {
        this(spec, kafkaVersion, "org.apache.kafka.common.message." + spec.name + "Data");
    }

    /** {@code base}: the generated class (its JSON converter is {@code base + "JsonConverter"}). */
    MessageVectors(Spec spec, String kafkaVersion, String base) {
        this.spec = spec;
        this.kafkaVersion = kafkaVersion;
        try {
            this.dataClass = Class.forName(base);
            Class<?> conv = Class.forName(base + "JsonConverter");
            this.readCtor = dataClass.getConstructor(Readable.class, short.class);
            this.jsonRead = conv.getMethod("read", JsonNode.class, short.class);
            Method w3 = null;
            try {
                w3 = conv.getMethod("write", dataClass, short.class, boolean.class);
            } catch (NoSuchMethodException e) {
                // no records field: only write(data, version)
            }
            this.jsonWriteHasRecordsFlag = w3 != null;
            this.jsonWrite = w3 != null ? w3 : conv.getMethod("write", dataClass, short.class);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("kafka-clients " + kafkaVersion + " has no generated classes for " + spec.name, e);
        }
    }

    /** One JSONL line per message. */
    List<ObjectNode> generate(int version, int count) {
        return generate(version, count, null);
    }

    /** As {@link #generate(int, int)}; when {@code messages} is not null, Kafka's message objects are added to it. */
    List<ObjectNode> generate(int version, int count, List<Message> messages) {
        List<ObjectNode> lines = new ArrayList<>(count);
        Rand rnd = new Rand(Rand.seedOf(spec.name + "@" + version + "@" + kafkaVersion));
        for (int i = 0; i < count; i++) {
            try {
                lines.add(one(version, i, rnd, messages));
            } catch (Exception e) {
                throw new RuntimeException(spec.name + " v" + version + " #" + i + " (kafka " + kafkaVersion + "): " + e, e);
            }
        }
        return lines;
    }

    /** How one message is randomized. */
    private static final class Mode {
        boolean minimal;   // message #0: nulls, empty arrays/strings, tagged fields at default
        boolean maximal;   // message #1: no nulls, every tagged field set, non-empty arrays
        int largeBudget;   // how many "large" arrays (100-300 elements) may still be made
        int depthInLarge;  // > 0 while inside a large array: keep nested arrays tiny
    }

    private ObjectNode one(int version, int index, Rand rnd, List<Message> messages) throws Exception {
        Mode mode = new Mode();
        mode.minimal = index == 0;
        mode.maximal = index == 1;
        mode.largeBudget = (index % 8 == 7) ? 1 : 0;
        boolean flexible = spec.isFlexible(version);
        short v = (short) version;

        ObjectNode input = struct(spec.root, version, rnd, mode);
        Message msg = (Message) invoke(jsonRead, input, v);

        // unknown tagged fields (flexible versions only)
        List<Integer> topTags = new ArrayList<>();
        if (flexible) {
            if (!mode.minimal && (mode.maximal || rnd.chance(0.5))) {
                addUnknownTags(msg, spec.root.maxTag(), rnd, topTags);
            }
            if (!mode.minimal) nestedUnknownTags(spec.root, msg, version, rnd);
        }

        // serialize with Kafka's generated code
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = msg.size(cache, v);
        ByteBuffer buf = ByteBuffer.allocate(size);
        msg.write(new ByteBufferAccessor(buf), cache, v);
        if (buf.position() != size) throw new IllegalStateException("size() " + size + " != written " + buf.position());
        byte[] bytes = buf.array();

        // read back with Kafka and require the same object and the same bytes
        Message back = (Message) readCtor.newInstance(new ByteBufferAccessor(ByteBuffer.wrap(bytes)), v);
        if (!back.equals(msg)) throw new IllegalStateException("message read back differs from the original");
        ObjectSerializationCache cache2 = new ObjectSerializationCache();
        ByteBuffer buf2 = ByteBuffer.allocate(back.size(cache2, v));
        back.write(new ByteBufferAccessor(buf2), cache2, v);
        if (!java.util.Arrays.equals(buf2.array(), bytes)) throw new IllegalStateException("re-serialization differs");

        JsonNode out = jsonWriteHasRecordsFlag ? (JsonNode) invoke(jsonWrite, back, v, true) : (JsonNode) invoke(jsonWrite, back, v);
        fixJson(spec.root, (ObjectNode) out, input, version);

        if (messages != null) messages.add(back);
        ObjectNode line = F.objectNode();
        line.put("version", version);
        line.put("kafka", kafkaVersion);
        line.set("json", out);
        line.put("hex", hex(bytes));
        ArrayNode tags = line.putArray("unknownTags");
        for (int t : topTags) tags.add(t);
        return line;
    }

    private static Object invoke(Method m, Object... args) throws Exception {
        try {
            return m.invoke(null, args);
        } catch (InvocationTargetException e) {
            throw (e.getCause() instanceof Exception) ? (Exception) e.getCause() : e;
        }
    }

    // ---------------------------------------------------------------- random JSON input

    private ObjectNode struct(Spec.Struct s, int version, Rand rnd, Mode mode) {
        ObjectNode o = F.objectNode();
        for (Spec.Field f : s.fields) {
            if (!f.versions.contains(version)) continue;
            boolean tagged = f.taggedVersions.contains(version);
            if (tagged && !mode.maximal && (mode.minimal || rnd.chance(0.4))) continue; // left at its default
            if (f.nullableVersions.contains(version) && !mode.maximal && (mode.minimal || rnd.chance(0.15))) {
                o.set(f.jsonName, NullNode.instance);
                continue;
            }
            o.set(f.jsonName, f.isArray() ? array(f, version, rnd, mode) : scalar(f, f.type, version, rnd, mode));
        }
        return o;
    }

    private ArrayNode array(Spec.Field f, int version, Rand rnd, Mode mode) {
        ArrayNode a = F.arrayNode();
        int n;
        boolean large = false;
        if (mode.minimal) {
            n = 0;
        } else if (mode.depthInLarge > 0) {
            n = rnd.between(0, 1);
        } else if (mode.largeBudget > 0 && rnd.chance(0.5)) {
            mode.largeBudget--;
            large = true;
            n = rnd.between(130, 260); // past the 1-byte varint / compact-array length range
        } else {
            int c = rnd.between(0, 99);
            n = c < (mode.maximal ? 0 : 20) ? 0 : c < 90 ? rnd.between(1, 3) : rnd.between(4, 8);
        }
        if (large) mode.depthInLarge++;
        for (int i = 0; i < n; i++) a.add(scalar(f, f.elementType(), version, rnd, mode));
        if (large) mode.depthInLarge--;
        return a;
    }

    private JsonNode scalar(Spec.Field f, String type, int version, Rand rnd, Mode mode) {
        if (f.struct != null) return struct(f.struct, version, rnd, mode);
        boolean min = mode.minimal;
        switch (type) {
            case "bool": return BooleanNode.valueOf(!min && rnd.bool());
            case "int8": return IntNode.valueOf(min ? 0 : rnd.int8());
            case "int16": return IntNode.valueOf(min ? 0 : rnd.int16());
            case "uint16": return IntNode.valueOf(min ? 0 : rnd.uint16());
            case "int32": return IntNode.valueOf(min ? 0 : rnd.int32());
            case "uint32": return LongNode.valueOf(min ? 0 : rnd.uint32());
            case "int64": return LongNode.valueOf(min ? 0 : rnd.int64());
            case "float64": return DoubleNode.valueOf(min ? 0.0 : rnd.float64());
            case "string": return TextNode.valueOf(min ? "" : rnd.string(mode.depthInLarge > 0 ? 8 : -1));
            case "uuid": {
                if (min || rnd.chance(0.1)) return TextNode.valueOf(Uuid.ZERO_UUID.toString());
                return TextNode.valueOf(new Uuid(rnd.nextLong(), rnd.nextLong()).toString());
            }
            case "bytes": return new BinaryNode(min ? new byte[0] : rnd.bytes(mode.depthInLarge > 0 ? 8 : rnd.length()));
            case "records": return new BinaryNode(min ? new byte[0] : rnd.bytes(mode.depthInLarge > 0 ? 8 : rnd.chance(0.1) ? 400 : 80));
            default: throw new IllegalStateException("unknown type " + type + " of " + f.name);
        }
    }

    // ---------------------------------------------------------------- unknown tagged fields

    private static void addUnknownTags(Message m, int maxTag, Rand rnd, List<Integer> tags) {
        int n = rnd.between(1, 3);
        int tag = maxTag + 1 + rnd.between(0, 3);
        for (int i = 0; i < n; i++) {
            byte[] data = rnd.chance(0.1) ? rnd.bytes(300) : rnd.bytes(12);
            m.unknownTaggedFields().add(new RawTaggedField(tag, data));
            tags.add(tag);
            // next tag: close by, or far (multi-byte varint tags)
            int c = rnd.between(0, 9);
            tag += c < 6 ? rnd.between(1, 5) : c < 9 ? rnd.between(100, 400) : rnd.between(16_000, 100_000);
        }
    }

    /** Adds unknown tagged fields to some nested structs present in this version. */
    private void nestedUnknownTags(Spec.Struct s, Object obj, int version, Rand rnd) throws Exception {
        for (Spec.Field f : s.fields) {
            if (f.struct == null || !f.versions.contains(version)) continue;
            Object val = obj.getClass().getMethod(f.jsonName).invoke(obj);
            if (val == null) continue;
            if (f.isArray()) {
                for (Object el : (Iterable<?>) val) {
                    if (rnd.chance(0.15)) addUnknownTags((Message) el, f.struct.maxTag(), rnd, new ArrayList<>());
                    nestedUnknownTags(f.struct, el, version, rnd);
                }
            } else {
                if (rnd.chance(0.3)) addUnknownTags((Message) val, f.struct.maxTag(), rnd, new ArrayList<>());
                nestedUnknownTags(f.struct, val, version, rnd);
            }
        }
    }

    // ---------------------------------------------------------------- output JSON fix-ups

    /**
     * Walks Kafka's JSON with the spec: int64 values become decimal strings, and records fields (which
     * Kafka's converter writes as "" with serializeRecords=true) get the base64 of their actual bytes.
     * Also checks that Kafka's JSON has exactly the fields the spec says for this version.
     */
    private void fixJson(Spec.Struct s, ObjectNode out, JsonNode in, int version) {
        Set<String> expected = new HashSet<>();
        for (Spec.Field f : s.fields) {
            if (!f.versions.contains(version)) continue;
            expected.add(f.jsonName);
            JsonNode o = out.get(f.jsonName);
            if (o == null) {
                // Kafka's converter leaves out tagged fields that hold their default value
                if (f.taggedVersions.contains(version)) continue;
                throw new IllegalStateException("Kafka's JSON lacks " + s.name + "." + f.jsonName);
            }
            JsonNode i = in == null ? null : in.get(f.jsonName);
            if (o.isNull()) continue;
            if (f.struct != null) {
                if (f.isArray()) {
                    for (int k = 0; k < o.size(); k++) fixJson(f.struct, (ObjectNode) o.get(k), i == null ? null : i.get(k), version);
                } else {
                    fixJson(f.struct, (ObjectNode) o, i, version);
                }
            } else if (f.type.equals("int64")) {
                out.set(f.jsonName, TextNode.valueOf(Long.toString(o.longValue())));
            } else if (f.type.equals("[]int64")) {
                ArrayNode a = (ArrayNode) o;
                for (int k = 0; k < a.size(); k++) a.set(k, TextNode.valueOf(Long.toString(a.get(k).longValue())));
            } else if (f.type.equals("records")) {
                if (i == null || !i.isBinary()) throw new IllegalStateException("no input bytes for records field " + f.name);
                out.set(f.jsonName, i);
            }
        }
        Iterator<String> names = out.fieldNames();
        while (names.hasNext()) {
            String n = names.next();
            if (!expected.contains(n)) throw new IllegalStateException("Kafka's JSON has unexpected field " + s.name + "." + n);
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    static String hex(byte[] b) {
        char[] c = new char[b.length * 2];
        for (int i = 0; i < b.length; i++) {
            c[2 * i] = HEX[(b[i] >> 4) & 15];
            c[2 * i + 1] = HEX[b[i] & 15];
        }
        return new String(c);
    }
}
