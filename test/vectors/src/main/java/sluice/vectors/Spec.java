package sluice.vectors;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** A parsed Kafka message spec (the JSON files under common/message/), only what the generator needs. */
final class Spec {
    static final ObjectMapper SPEC_MAPPER = JsonMapper.builder()
        .enable(JsonReadFeature.ALLOW_JAVA_COMMENTS) // `//` comments, ignored inside strings
        .build();

    static final Set<String> PRIMITIVES = Set.of(
        "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64",
        "string", "uuid", "bytes", "records");

    /** Inclusive version range; empty when lo > hi ("none"). */
    record Versions(int lo, int hi) {
        static final Versions NONE = new Versions(1, 0);

        static Versions parse(String s) {
            if (s == null) return NONE;
            s = s.trim();
            if (s.equals("none")) return NONE;
            if (s.endsWith("+")) return new Versions(Integer.parseInt(s.substring(0, s.length() - 1)), Short.MAX_VALUE);
            int dash = s.indexOf('-');
            if (dash > 0) return new Versions(Integer.parseInt(s.substring(0, dash)), Integer.parseInt(s.substring(dash + 1)));
            int v = Integer.parseInt(s);
            return new Versions(v, v);
        }

        boolean contains(int v) { return v >= lo && v <= hi; }

        List<Integer> list() {
            List<Integer> out = new ArrayList<>();
            for (int v = lo; v <= hi; v++) out.add(v);
            return out;
        }
    }

    static final class Field {
        String name;
        String jsonName;          // Kafka's camelCaseName(): first letter lower-cased
        String type;              // e.g. "int32", "[]int32", "[]Topic", "Topic"
        Versions versions;
        Versions nullableVersions;
        Versions taggedVersions;
        Integer tag;
        Struct struct;            // element / value struct when the type is a struct or an array of structs

        boolean isArray() { return type.startsWith("[]"); }
        String elementType() { return isArray() ? type.substring(2) : type; }
        boolean isStructLike() { return struct != null; }
    }

    static final class Struct {
        final String name;
        final List<Field> fields = new ArrayList<>();
        Struct(String name) { this.name = name; }

        /** Largest tag any field of this struct defines, -1 if none. */
        int maxTag() {
            int m = -1;
            for (Field f : fields) if (f.tag != null) m = Math.max(m, f.tag);
            return m;
        }
    }

    final String name;          // e.g. "ProduceRequest"
    final String type;          // request / response / header
    final int apiKey;           // -1 for headers
    final Versions validVersions;
    final Versions flexibleVersions;
    final List<String> listeners;
    final Struct root;
    /** Largest tag used anywhere in the message. */
    final int maxTagAnywhere;

    private Spec(JsonNode n) {
        this.name = n.get("name").asText();
        this.type = n.get("type").asText();
        this.apiKey = n.has("apiKey") ? n.get("apiKey").asInt() : -1;
        this.validVersions = Versions.parse(n.get("validVersions").asText());
        this.flexibleVersions = Versions.parse(n.path("flexibleVersions").asText("none"));
        this.listeners = new ArrayList<>();
        for (JsonNode l : n.path("listeners")) listeners.add(l.asText());
        Map<String, JsonNode> common = new HashMap<>();
        for (JsonNode c : n.path("commonStructs")) common.put(c.get("name").asText(), c);
        int[] maxTag = {-1};
        this.root = parseStruct(name, n.get("fields"), common, maxTag);
        this.maxTagAnywhere = maxTag[0];
    }

    private static Struct parseStruct(String name, JsonNode fields, Map<String, JsonNode> common, int[] maxTag) {
        Struct s = new Struct(name);
        for (JsonNode fn : fields == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : fields) {
            Field f = new Field();
            f.name = fn.get("name").asText();
            f.jsonName = f.name.substring(0, 1).toLowerCase(Locale.ROOT) + f.name.substring(1);
            f.type = fn.get("type").asText();
            f.nullableVersions = Versions.parse(fn.has("nullableVersions") ? fn.get("nullableVersions").asText() : null);
            f.taggedVersions = Versions.parse(fn.has("taggedVersions") ? fn.get("taggedVersions").asText() : null);
            // a tagged field may leave out "versions" (StreamsGroupMetadataValue): its tagged versions
            f.versions = fn.has("versions") ? Versions.parse(fn.get("versions").asText()) : f.taggedVersions;
            f.tag = fn.has("tag") ? fn.get("tag").asInt() : null;
            if (f.tag != null) maxTag[0] = Math.max(maxTag[0], f.tag);
            String et = f.elementType();
            if (!PRIMITIVES.contains(et)) {
                JsonNode sub = fn.get("fields");
                if (sub == null) {
                    JsonNode c = common.get(et);
                    if (c == null) throw new IllegalStateException("unknown struct type " + et + " in " + name);
                    sub = c.get("fields");
                }
                f.struct = parseStruct(et, sub, common, maxTag);
            }
            s.fields.add(f);
        }
        return s;
    }

    static Spec load(Path file) {
        try {
            return new Spec(SPEC_MAPPER.readTree(Files.readString(file)));
        } catch (IOException e) {
            throw new RuntimeException("cannot read spec " + file, e);
        }
    }

    boolean isFlexible(int version) { return flexibleVersions.contains(version); }
}
