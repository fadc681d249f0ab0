package sluice.vectors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Entry point. {@code Main legacy|current <specsDir> <outDir> <count>}.
 *
 * <ul>
 *   <li>{@code legacy} (kafka-clients 3.9.1 on the classpath): the versions that only the 3.9.0 specs list,
 *       to {@code out/.legacy/<Name>.jsonl}.</li>
 *   <li>{@code current} (kafka-clients 4.4.0): every version 4.4.0 lists, the headers, merges the legacy
 *       lines, and writes {@code manifest.json}, {@code errors.json}, {@code record-batches.jsonl}.</li>
 * </ul>
 */
public final class Main {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final String CURRENT_KAFKA = "4.4.0";
    static final String LEGACY_KAFKA = "3.9.1";

    /** One API: request/response specs of 4.4.0 and (where present) 3.9.0. */
    record Api(int apiKey, String name, Spec req, Spec resp, Spec oldReq, Spec oldResp,
               List<Integer> current, List<Integer> legacy) {
        List<Integer> all() {
            List<Integer> v = new ArrayList<>(legacy);
            v.addAll(current);
            v.sort(Comparator.naturalOrder());
            return v;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Main legacy|current <specsDir> <outDir> <count>");
            System.exit(2);
        }
        String mode = args[0];
        Path specs = Path.of(args[1]).toAbsolutePath().normalize();
        Path out = Path.of(args[2]).toAbsolutePath().normalize();
        int count = Integer.parseInt(args[3]);
        String kafka = kafkaClientsVersion();
        String want = mode.equals("legacy") ? LEGACY_KAFKA : CURRENT_KAFKA;
        if (!kafka.equals(want)) throw new IllegalStateException(mode + " run needs kafka-clients " + want + " but has " + kafka);
        if (!Files.isDirectory(specs.resolve(CURRENT_KAFKA).resolve("message")))
            throw new IllegalStateException("no Kafka specs at " + specs + " (expected " + CURRENT_KAFKA + "/message/ and 3.9.0/message/)");

        long t0 = System.nanoTime();
        List<Api> apis = plan(specs);
        Path legacyDir = out.resolve(".legacy");
        List<Item> items = items(specs, apis);
        if (mode.equals("legacy")) {
            Files.createDirectories(legacyDir);
            List<Task> tasks = new ArrayList<>();
            for (Item it : items) if (!it.legacy.isEmpty()) tasks.add(new Task(it.name, it.oldSpec, it.legacy));
            Map<String, TreeMap<Integer, List<ObjectNode>>> res = run(tasks, kafka, count);
            int n = 0;
            for (var e : res.entrySet()) n += writeJsonl(legacyDir.resolve(e.getKey() + ".jsonl"), e.getValue());
            System.out.printf("vectors: kafka-clients %s: %d messages of %d (message, version) pairs in %.1fs%n",
                kafka, n, tasks.stream().mapToInt(t -> t.versions.size()).sum(), (System.nanoTime() - t0) / 1e9);
            return;
        }

        // current
        Path msgDir = out.resolve("messages");
        Files.createDirectories(msgDir);
        try (Stream<Path> old = Files.list(msgDir)) {
            for (Path p : (Iterable<Path>) old::iterator) Files.delete(p);
        }
        List<Task> tasks = new ArrayList<>();
        for (Item it : items) tasks.add(new Task(it.name, it.spec, it.current));
        Map<String, TreeMap<Integer, List<ObjectNode>>> res = run(tasks, kafka, count);

        // merge the legacy run's lines
        for (Item it : items) {
            if (it.legacy.isEmpty()) continue;
            Path p = legacyDir.resolve(it.name + ".jsonl");
            if (!Files.exists(p)) throw new IllegalStateException("legacy output missing: " + p + " (run the legacy step first)");
            TreeMap<Integer, List<ObjectNode>> byVersion = res.get(it.name);
            for (String l : Files.readAllLines(p, StandardCharsets.UTF_8)) {
                if (l.isEmpty()) continue;
                ObjectNode line = (ObjectNode) MAPPER.readTree(l);
                int v = line.get("version").asInt();
                if (!it.legacy.contains(v)) throw new IllegalStateException(p + " has unexpected version " + v);
                byVersion.computeIfAbsent(v, k -> new ArrayList<>()).add(line);
            }
        }

        // check coverage, write messages and manifest
        ObjectNode manifest = F.objectNode();
        ArrayNode apisNode = manifest.putArray("apis");
        ObjectNode messages = manifest.putObject("messages");
        int total = 0, pairs = 0;
        for (Api a : apis) {
            ObjectNode an = apisNode.addObject();
            an.put("apiKey", a.apiKey);
            an.put("name", a.name);
            ArrayNode vs = an.putArray("versions");
            for (int v : a.all()) vs.add(v);
        }
        for (Item it : items) {
            TreeMap<Integer, List<ObjectNode>> byVersion = res.get(it.name);
            if (!new ArrayList<>(byVersion.keySet()).equals(it.all()))
                throw new IllegalStateException(it.name + ": versions " + byVersion.keySet() + " != expected " + it.all());
            ObjectNode counts = messages.putObject(it.name);
            for (var e : byVersion.entrySet()) {
                if (e.getValue().size() != count) throw new IllegalStateException(it.name + " v" + e.getKey() + ": " + e.getValue().size() + " messages");
                counts.put(Integer.toString(e.getKey()), e.getValue().size());
                pairs++;
            }
            total += writeJsonl(msgDir.resolve(it.name + ".jsonl"), byVersion);
        }
        Files.writeString(out.resolve("manifest.json"), MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n");
        Files.writeString(out.resolve("errors.json"), MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(ErrorTable.build()) + "\n");
        List<ObjectNode> batches = RecordBatchVectors.build(50);
        try (BufferedWriter w = Files.newBufferedWriter(out.resolve("record-batches.jsonl"), StandardCharsets.UTF_8)) {
            for (ObjectNode b : batches) { w.write(MAPPER.writeValueAsString(b)); w.write('\n'); }
        }
        deleteTree(legacyDir);
        String coordinator = CoordinatorVectors.write(specs, out, kafka, count);
        System.out.printf("vectors: %s%n", coordinator);
        System.out.printf("vectors: kafka-clients %s + %s: %d APIs, %d (message, version) pairs, %d messages, %d record-batch lines in %.1fs -> %s%n",
            kafka, LEGACY_KAFKA, apis.size(), pairs, total, batches.size(), (System.nanoTime() - t0) / 1e9, out);
    }

    record Task(String outName, Spec spec, List<Integer> versions) {}

    /** One output file: a message with the versions made by each kafka-clients jar. */
    record Item(String name, Spec spec, Spec oldSpec, List<Integer> current, List<Integer> legacy) {
        List<Integer> all() {
            List<Integer> v = new ArrayList<>(legacy);
            v.addAll(current);
            v.sort(Comparator.naturalOrder());
            return v;
        }
    }

    /** Requests and responses of the APIs, then the headers (same union-of-versions rule). */
    static List<Item> items(Path specs, List<Api> apis) {
        List<Item> items = new ArrayList<>();
        for (Api a : apis) {
            items.add(new Item(a.req.name, a.req, a.oldReq, a.current, a.legacy));
            items.add(new Item(a.resp.name, a.resp, a.oldResp, a.current, a.legacy));
        }
        for (String h : List.of("RequestHeader", "ResponseHeader")) {
            Spec s = Spec.load(specs.resolve(CURRENT_KAFKA).resolve("message").resolve(h + ".json"));
            Spec o = Spec.load(specs.resolve("3.9.0").resolve("message").resolve(h + ".json"));
            List<Integer> cur = s.validVersions.list();
            List<Integer> leg = new ArrayList<>();
            for (int v : o.validVersions.list()) if (!cur.contains(v)) leg.add(v);
            items.add(new Item(h, s, o, cur, leg));
        }
        return items;
    }

    /** Runs the tasks on all cores; result: output name -> version -> lines. */
    private static Map<String, TreeMap<Integer, List<ObjectNode>>> run(List<Task> tasks, String kafka, int count) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()));
        try {
            List<Future<TreeMap<Integer, List<ObjectNode>>>> fs = new ArrayList<>();
            for (Task t : tasks) {
                fs.add(pool.submit(() -> {
                    MessageVectors mv = new MessageVectors(t.spec, kafka);
                    TreeMap<Integer, List<ObjectNode>> m = new TreeMap<>();
                    for (int v : t.versions) {
                        if (!t.spec.validVersions.contains(v))
                            throw new IllegalStateException(t.spec.name + " spec does not list version " + v);
                        m.put(v, mv.generate(v, count));
                    }
                    return m;
                }));
            }
            Map<String, TreeMap<Integer, List<ObjectNode>>> res = new LinkedHashMap<>();
            for (int i = 0; i < tasks.size(); i++) res.put(tasks.get(i).outName, fs.get(i).get());
            return res;
        } finally {
            pool.shutdownNow();
        }
    }

    private static int writeJsonl(Path p, TreeMap<Integer, List<ObjectNode>> byVersion) throws IOException {
        int n = 0;
        try (BufferedWriter w = Files.newBufferedWriter(p, StandardCharsets.UTF_8)) {
            for (List<ObjectNode> lines : byVersion.values()) {
                for (ObjectNode l : lines) { w.write(MAPPER.writeValueAsString(l)); w.write('\n'); n++; }
            }
        }
        return n;
    }

    /**
     * The version of the kafka-clients jar on the classpath, from the resource its AppInfoParser reads
     * (that class moved to org.apache.kafka.common.utils.internals in 4.x; the resource did not).
     */
    static String kafkaClientsVersion() throws IOException {
        try (var in = Main.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in == null) throw new IllegalStateException("no kafka-clients jar on the classpath");
            java.util.Properties p = new java.util.Properties();
            p.load(in);
            return p.getProperty("version", "unknown").trim();
        }
    }

    /** The APIs served on the broker listener in 4.4.0, with their versions split by kafka-clients jar. */
    static List<Api> plan(Path specs) throws IOException {
        Path dirCurrent = specs.resolve(CURRENT_KAFKA).resolve("message");
        Path dir390 = specs.resolve("3.9.0").resolve("message");
        Map<Integer, Path> old = new TreeMap<>();
        for (Path p : list(dir390)) {
            if (!p.getFileName().toString().endsWith("Request.json")) continue;
            Spec s = Spec.load(p);
            if (s.type.equals("request")) old.put(s.apiKey, p);
        }
        List<Api> apis = new ArrayList<>();
        for (Path p : list(dirCurrent)) {
            String file = p.getFileName().toString();
            if (!file.endsWith("Request.json")) continue;
            Spec req = Spec.load(p);
            if (!req.type.equals("request") || !req.listeners.contains("broker")) continue;
            Spec resp = Spec.load(dirCurrent.resolve(file.replace("Request.json", "Response.json")));
            check(resp.apiKey == req.apiKey && resp.type.equals("response"), "response spec of " + req.name);
            check(resp.validVersions.equals(req.validVersions), "request/response versions of " + req.name);
            List<Integer> current = req.validVersions.list();
            List<Integer> legacy = new ArrayList<>();
            Spec oldReq = null, oldResp = null;
            Path op = old.get(req.apiKey);
            if (op != null) {
                oldReq = Spec.load(op);
                oldResp = Spec.load(op.resolveSibling(op.getFileName().toString().replace("Request.json", "Response.json")));
                check(oldResp.apiKey == req.apiKey, "3.9.0 response spec of " + req.name);
                for (int v : oldReq.validVersions.list()) if (!current.contains(v)) legacy.add(v);
                if (!legacy.isEmpty()) {
                    check(oldReq.name.equals(req.name) && oldResp.name.equals(resp.name),
                        "3.9.0 names differ for apiKey " + req.apiKey + ": " + oldReq.name);
                    check(oldReq.validVersions.equals(oldResp.validVersions), "3.9.0 request/response versions of " + req.name);
                }
            }
            apis.add(new Api(req.apiKey, req.name.substring(0, req.name.length() - "Request".length()),
                req, resp, oldReq, oldResp, current, legacy));
        }
        apis.sort(Comparator.comparingInt(Api::apiKey));
        return apis;
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("unexpected spec layout: " + what);
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try { Files.delete(x); } catch (IOException e) { throw new UncheckedIOException(e); }
            });
        }
    }
}
