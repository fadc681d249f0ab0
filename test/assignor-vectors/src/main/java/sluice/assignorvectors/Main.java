package sluice.assignorvectors;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.coordinator.group.api.assignor.ConsumerGroupPartitionAssignor;
import org.apache.kafka.coordinator.group.api.assignor.GroupAssignment;
import org.apache.kafka.coordinator.group.api.assignor.MemberAssignment;
import org.apache.kafka.coordinator.group.api.assignor.PartitionAssignorException;
import org.apache.kafka.coordinator.group.api.assignor.SubscribedTopicDescriber;
import org.apache.kafka.coordinator.group.api.assignor.SubscriptionType;
import org.apache.kafka.coordinator.group.assignor.RangeAssignor;
import org.apache.kafka.coordinator.group.assignor.UniformAssignor;
import org.apache.kafka.coordinator.group.modern.Assignment;
import org.apache.kafka.coordinator.group.modern.GroupSpecImpl;
import org.apache.kafka.coordinator.group.modern.MemberSubscriptionAndAssignmentImpl;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Runs Kafka 4.4.0's UniformAssignor and RangeAssignor on generated scenarios and writes
 * out/scenarios.jsonl: one line per scenario,
 * {"name","assignor","java","steps":[step,...]}, each step
 * {"topics":[[topicId,partitions],...],
 *  "members":[{"id","instanceId","rackId","subscribed":[topicId,...],
 *              "assignment":[[topicId,[partition,...]],...],"record":[[topicId,[partition,...]],...]|null},...],
 *  "subscriptionType":"HOMOGENEOUS"|"HETEROGENEOUS","memberIds":[...],
 *  "result":[[memberId,[[topicId,[partition,...]],...]],...] | "error":"<exception class>: <message>"}.
 * members: in the order they are put in the GroupSpec's HashMap (as TargetAssignmentBuilder puts
 * them); subscribed: the order of the member's subscription set; assignment: the current target
 * assignment in its Java iteration order; record: the record list it was replayed from after the
 * previous step (null when carried over unchanged); memberIds: GroupSpec.memberIds() order;
 * result: Kafka's GroupAssignment in its iteration order, in memberIds order (members it leaves
 * out are absent). After a step, a member whose assignment changed (or that is new) gets the
 * result back the way Kafka's coordinator replays a target-assignment record
 * (Assignment.fromRecord: Collectors.toMap, new HashSet<>(partitions)); the others keep theirs.
 */
public final class Main {
    private Main() { }

    public static void main(String[] args) throws IOException {
        Path outDir = Path.of(args.length > 0 ? args[0] : "out");
        Files.createDirectories(outDir);
        Path tmp = outDir.resolve("scenarios.jsonl.tmp");
        int scenarios = 0;
        int steps = 0;
        int errors = 0;
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            for (Scenario s : scenarios()) {
                w.write(s.json());
                w.write('\n');
                scenarios++;
                steps += s.stepCount;
                errors += s.errorCount;
            }
        }
        Files.move(tmp, outDir.resolve("scenarios.jsonl"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("assignor-vectors: " + scenarios + " scenarios, " + steps + " steps (" + errors + " with an exception)");
    }

    // ---------------------------------------------------------------------------------------
    // Scenarios

    static List<Scenario> scenarios() {
        List<Scenario> out = new ArrayList<>();
        for (String assignor : List.of("uniform", "range")) {
            out.add(edgeEmpty(assignor));
            out.add(edgeZeroPartitions(assignor));
            out.add(edgeMissingTopic(assignor));
            out.add(edgeMoreMembersThanPartitions(assignor));
            out.add(growAndShrink(assignor));
            out.add(staticMembers(assignor));
            out.add(homogeneousToHeterogeneous(assignor));
            out.add(stridedStart(assignor, 16, 9));
            out.add(stridedStart(assignor, 32, 10));
            for (int i = 0; i < 40; i++) out.add(random(assignor, i, false));
            for (int i = 0; i < 8; i++) out.add(random(assignor, 1000 + i, true));
            for (int i = 0; i < 10; i++) out.add(randomMedium(assignor, 2000 + i));
            out.add(treeBins(assignor, 32, 32));
            out.add(treeBins(assignor, 64, 40));
            out.add(treeBins(assignor, 128, 24));
        }
        out.add(largeHomogeneous("uniform"));
        out.add(largeHeterogeneous("uniform"));
        out.add(largeHomogeneous("range"));
        out.add(largeHeterogeneous("range"));
        return out;
    }

    static Scenario edgeEmpty(String assignor) {
        Scenario s = new Scenario("empty-" + assignor, assignor, 1);
        Uuid t = s.topic(6);
        s.step(); // no members
        s.join("m1", null, null, List.of());
        s.join("m2", null, null, List.of());
        s.step(); // members without subscriptions
        s.subscribe("m1", List.of(t));
        s.step(); // heterogeneous: one subscribed
        s.subscribe("m2", List.of(t));
        s.step();
        s.subscribe("m1", List.of());
        s.subscribe("m2", List.of());
        s.step(); // everything revoked
        s.leave("m1");
        s.leave("m2");
        s.step();
        return s;
    }

    static Scenario edgeZeroPartitions(String assignor) {
        Scenario s = new Scenario("zero-partitions-" + assignor, assignor, 2);
        Uuid empty = s.topic(0);
        Uuid t = s.topic(5);
        s.join("a", null, null, List.of(empty));
        s.join("b", null, null, List.of(empty));
        s.step();
        s.subscribe("a", List.of(empty, t));
        s.subscribe("b", List.of(t, empty));
        s.step();
        s.subscribe("a", List.of(empty));
        s.step();
        s.setPartitions(empty, 3);
        s.step();
        return s;
    }

    static Scenario edgeMissingTopic(String assignor) {
        Scenario s = new Scenario("missing-topic-" + assignor, assignor, 3);
        Uuid t = s.topic(4);
        Uuid gone = s.topic(4);
        s.join("a", null, null, List.of(t, gone));
        s.join("b", null, null, List.of(t, gone));
        s.step();
        s.deleteTopic(gone);
        s.step(); // homogeneous: unknown topic
        s.subscribe("b", List.of(t));
        s.step(); // heterogeneous: unknown topic
        s.subscribe("a", List.of(t));
        s.step(); // recovers
        return s;
    }

    static Scenario edgeMoreMembersThanPartitions(String assignor) {
        Scenario s = new Scenario("more-members-than-partitions-" + assignor, assignor, 4);
        Uuid t1 = s.topic(3);
        Uuid t2 = s.topic(2);
        for (int i = 0; i < 7; i++) s.join("member-" + i, null, null, List.of(t1, t2));
        s.step();
        s.leave("member-0");
        s.leave("member-4");
        s.step();
        s.subscribe("member-1", List.of(t1));
        s.step();
        return s;
    }

    static Scenario growAndShrink(String assignor) {
        Scenario s = new Scenario("grow-and-shrink-" + assignor, assignor, 5);
        Uuid t1 = s.topic(12);
        Uuid t2 = s.topic(7);
        Uuid t3 = s.topic(30);
        List<Uuid> all = List.of(t1, t2, t3);
        s.join("m1", null, null, all);
        s.step();
        for (int i = 2; i <= 6; i++) {
            s.join("m" + i, null, null, all);
            s.step();
        }
        s.setPartitions(t2, 20);
        s.step();
        for (int i = 1; i <= 5; i++) {
            s.leave("m" + i);
            s.step();
        }
        return s;
    }

    static Scenario staticMembers(String assignor) {
        Scenario s = new Scenario("static-members-" + assignor, assignor, 6);
        Uuid t1 = s.topic(10);
        Uuid t2 = s.topic(10);
        List<Uuid> all = List.of(t1, t2);
        String[] instances = {"instance-c", "instance-a", "instance-b", "instance-\u00e9", "instance-\ud83d\ude00"};
        for (int i = 0; i < instances.length; i++) s.join(s.memberId(), instances[i], "rack-" + (i % 2), all);
        s.join("dynamic-z", null, null, all);
        s.join("dynamic-a", null, null, all);
        s.step();
        // rolling restart: every static member comes back with a new member id
        for (String instance : instances) {
            String old = s.memberWithInstance(instance);
            s.leave(old);
            s.join(s.memberId(), instance, null, all);
            s.step();
        }
        return s;
    }

    static Scenario homogeneousToHeterogeneous(String assignor) {
        Scenario s = new Scenario("homogeneous-to-heterogeneous-" + assignor, assignor, 7);
        Uuid t1 = s.topic(8);
        Uuid t2 = s.topic(16);
        Uuid t3 = s.topic(5);
        for (int i = 0; i < 5; i++) s.join("c" + i, null, null, List.of(t1, t2, t3));
        s.step();
        s.subscribe("c0", List.of(t1));
        s.subscribe("c3", List.of(t2, t3));
        s.step();
        s.subscribe("c1", List.of(t3));
        s.step();
        for (int i = 0; i < 5; i++) s.subscribe("c" + i, List.of(t3, t2));
        s.step();
        return s;
    }

    /** Members start from record-built assignments holding every `stride`-th partition (many keys per HashSet bucket). */
    static Scenario stridedStart(String assignor, int stride, int perMember) {
        Scenario s = new Scenario("strided-" + stride + "-" + assignor, assignor, 8 + stride);
        Uuid t = s.topic(stride * perMember * 2);
        Uuid u = s.topic(40);
        for (int m = 0; m < 3; m++) {
            String id = "s" + m;
            s.join(id, null, null, List.of(t, u));
            List<Integer> parts = new ArrayList<>();
            for (int i = 0; i < perMember; i++) parts.add(m + i * stride);
            Collections.reverse(parts);
            s.inject(id, List.of(Map.entry(t, parts)));
        }
        s.step();
        s.join("s3", null, null, List.of(t, u));
        s.step();
        s.subscribe("s0", List.of(t));
        s.step();
        return s;
    }

    /**
     * Heterogeneous groups of 32+ members on a big topic: the round-robin hand-out gives each member
     * every n-th partition, so its HashSet holds 8+ partitions per bucket and Java makes tree bins.
     * Then homogeneous (revocation walks those sets), members leave, subscriptions split again
     * (balancing removes from tree bins), the topic grows.
     */
    static Scenario treeBins(String assignor, int members, int partitionsPerMember) {
        Scenario s = new Scenario("tree-bins-" + members + "-" + assignor, assignor, 50 + members);
        Uuid big = s.topic(members * partitionsPerMember);
        Uuid small = s.topic(3);
        for (int i = 0; i < members; i++) s.join("tb" + i, null, null, i == 0 ? List.of(big, small) : List.of(big));
        s.step();
        for (int i = 0; i < members; i++) s.subscribe("tb" + i, List.of(big));
        s.join("tb-new", null, null, List.of(big));
        s.step();
        s.leave("tb3");
        s.leave("tb7");
        for (int i = 8; i < members; i += 3) s.subscribe("tb" + i, List.of(small, big));
        s.subscribe("tb9", List.of(small));
        s.step();
        s.setPartitions(big, members * partitionsPerMember + members / 2 + 5);
        s.step();
        for (int i = 8; i < members; i++) s.subscribe("tb" + i, List.of(big));
        s.subscribe("tb-new", List.of(big));
        s.step();
        return s;
    }

    /** A random walk of membership, subscription and metadata changes. */
    static Scenario random(String assignor, int seed, boolean injectStart) {
        Random rnd = new Random(seed * 7919L + assignor.hashCode());
        Scenario s = new Scenario("random-" + (injectStart ? "injected-" : "") + seed + "-" + assignor, assignor, seed);
        int topicCount = 1 + rnd.nextInt(6);
        List<Uuid> topics = new ArrayList<>();
        for (int i = 0; i < topicCount; i++) topics.add(s.topic(rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(rnd.nextBoolean() ? 12 : 60)));
        boolean homogeneous = rnd.nextBoolean();
        List<Uuid> common = randomSubset(rnd, topics, 1);
        int initial = 1 + rnd.nextInt(12);
        for (int i = 0; i < initial; i++) {
            s.join(s.memberId(), rnd.nextInt(3) == 0 ? "i" + rnd.nextInt(20) + "-" + i : null, null,
                homogeneous ? common : randomSubset(rnd, topics, 0));
        }
        if (injectStart) {
            // an arbitrary earlier target assignment, as if replayed from records: every partition
            // of every topic to a random member (or nobody), in a random order
            List<String> ids = new ArrayList<>(s.members.keySet());
            Map<String, Map<Uuid, List<Integer>>> lists = new LinkedHashMap<>();
            for (Uuid t : topics) {
                for (int p = 0; p < s.topics.get(t); p++) {
                    if (rnd.nextInt(5) == 0) continue;
                    String owner = ids.get(rnd.nextInt(ids.size()));
                    lists.computeIfAbsent(owner, k -> new LinkedHashMap<>()).computeIfAbsent(t, k -> new ArrayList<>()).add(p);
                }
            }
            lists.forEach((owner, byTopic) -> {
                List<Map.Entry<Uuid, List<Integer>>> record = new ArrayList<>();
                byTopic.forEach((t, parts) -> {
                    Collections.shuffle(parts, rnd);
                    record.add(Map.entry(t, parts));
                });
                Collections.shuffle(record, rnd);
                s.inject(owner, record);
            });
        }
        s.step();
        int steps = 5 + rnd.nextInt(6);
        for (int step = 0; step < steps; step++) {
            int ops = 1 + rnd.nextInt(3);
            for (int op = 0; op < ops; op++) {
                int kind = rnd.nextInt(10);
                List<String> ids = new ArrayList<>(s.members.keySet());
                if (kind <= 2 || ids.isEmpty()) {
                    s.join(s.memberId(), rnd.nextInt(3) == 0 ? "i" + rnd.nextInt(20) + "-" + step : null, null,
                        homogeneous ? common : randomSubset(rnd, topics, 0));
                } else if (kind <= 4) {
                    s.leave(ids.get(rnd.nextInt(ids.size())));
                } else if (kind <= 6) {
                    if (homogeneous) {
                        common = randomSubset(rnd, topics, 1);
                        for (String id : ids) s.subscribe(id, shuffled(rnd, common));
                    } else {
                        s.subscribe(ids.get(rnd.nextInt(ids.size())), randomSubset(rnd, topics, 0));
                    }
                } else if (kind == 7) {
                    Uuid t = topics.get(rnd.nextInt(topics.size()));
                    s.setPartitions(t, s.topics.get(t) + 1 + rnd.nextInt(10));
                } else if (kind == 8) {
                    homogeneous = !homogeneous;
                    if (homogeneous) {
                        common = randomSubset(rnd, topics, 1);
                        for (String id : ids) s.subscribe(id, shuffled(rnd, common));
                    } else {
                        for (String id : ids) if (rnd.nextBoolean()) s.subscribe(id, randomSubset(rnd, topics, 0));
                    }
                } else {
                    Uuid t = s.topic(1 + rnd.nextInt(30));
                    topics.add(t);
                }
            }
            s.step();
        }
        return s;
    }

    /**
     * Tens to hundreds of members over overlapping topic subsets, starting from an arbitrary
     * assignment: many balancing passes, members excluded from the most loaded range.
     */
    static Scenario randomMedium(String assignor, int seed) {
        Random rnd = new Random(seed * 31L + assignor.hashCode());
        Scenario s = new Scenario("random-medium-" + seed + "-" + assignor, assignor, seed);
        List<Uuid> topics = new ArrayList<>();
        int topicCount = 5 + rnd.nextInt(20);
        for (int i = 0; i < topicCount; i++) topics.add(s.topic(1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300)));
        int memberCount = 20 + rnd.nextInt(130);
        // a few subscription "shapes" shared by many members, plus some one-offs
        List<List<Uuid>> shapes = new ArrayList<>();
        for (int i = 0; i < 1 + rnd.nextInt(5); i++) shapes.add(randomSubset(rnd, topics, 1));
        for (int i = 0; i < memberCount; i++) {
            s.join(s.memberId(), rnd.nextInt(4) == 0 ? "static-" + i : null, null,
                rnd.nextInt(6) == 0 ? randomSubset(rnd, topics, 1) : shuffled(rnd, shapes.get(rnd.nextInt(shapes.size()))));
        }
        List<String> ids = new ArrayList<>(s.members.keySet());
        for (Uuid t : topics) {
            List<String> subscribers = new ArrayList<>();
            for (String id : ids) if (s.members.get(id).subscribed.contains(t) || rnd.nextInt(10) == 0) subscribers.add(id);
            if (subscribers.isEmpty()) continue;
            Map<String, List<Integer>> lists = new LinkedHashMap<>();
            for (int p = 0; p < s.topics.get(t); p++) {
                if (rnd.nextInt(4) == 0) continue;
                // skewed: a few members own most
                String owner = subscribers.get(Math.min(subscribers.size() - 1, (int) Math.abs(rnd.nextGaussian() * subscribers.size() / 4)));
                lists.computeIfAbsent(owner, k -> new ArrayList<>()).add(p);
            }
            lists.forEach((owner, parts) -> {
                Member m = s.members.get(owner);
                List<Map.Entry<Uuid, List<Integer>>> record = new ArrayList<>(m.record == null ? List.of() : m.record);
                Collections.shuffle(parts, rnd);
                record.add(Map.entry(t, parts));
                s.inject(owner, record);
            });
        }
        s.step();
        for (int step = 0; step < 4; step++) {
            ids = new ArrayList<>(s.members.keySet());
            for (int i = 0; i < 1 + rnd.nextInt(10); i++) {
                switch (rnd.nextInt(4)) {
                    case 0 -> s.join(s.memberId(), null, null, shuffled(rnd, shapes.get(rnd.nextInt(shapes.size()))));
                    case 1 -> {
                        if (ids.size() > 1) s.leave(ids.remove(rnd.nextInt(ids.size())));
                    }
                    case 2 -> s.subscribe(ids.get(rnd.nextInt(ids.size())), randomSubset(rnd, topics, 1));
                    default -> {
                        Uuid t = topics.get(rnd.nextInt(topics.size()));
                        s.setPartitions(t, s.topics.get(t) + rnd.nextInt(50));
                    }
                }
            }
            s.step();
        }
        return s;
    }

    static Scenario largeHomogeneous(String assignor) {
        Random rnd = new Random(42);
        Scenario s = new Scenario("large-homogeneous-" + assignor, assignor, 42);
        List<Uuid> topics = new ArrayList<>();
        for (int i = 0; i < 5; i++) topics.add(s.topic(1000));
        for (int i = 0; i < 1000; i++) s.join(s.memberId(), null, null, topics);
        s.step();
        List<String> ids = new ArrayList<>(s.members.keySet());
        for (int i = 0; i < 10; i++) s.leave(ids.get(rnd.nextInt(ids.size())));
        s.step();
        for (int i = 0; i < 20; i++) s.join(s.memberId(), null, null, topics);
        s.step();
        s.setPartitions(topics.get(2), 1500);
        s.step();
        return s;
    }

    static Scenario largeHeterogeneous(String assignor) {
        Random rnd = new Random(43);
        Scenario s = new Scenario("large-heterogeneous-" + assignor, assignor, 43);
        List<Uuid> topics = new ArrayList<>();
        for (int i = 0; i < 30; i++) topics.add(s.topic(50 + rnd.nextInt(350)));
        for (int i = 0; i < 300; i++) s.join(s.memberId(), null, null, randomSubset(rnd, topics, 3).subList(0, 3));
        s.step();
        List<String> ids = new ArrayList<>(s.members.keySet());
        for (int i = 0; i < 20; i++) s.subscribe(ids.get(rnd.nextInt(ids.size())), randomSubset(rnd, topics, 1));
        s.step();
        for (int i = 0; i < 15; i++) s.leave(ids.get(i * 7));
        for (int i = 0; i < 10; i++) s.join(s.memberId(), null, null, randomSubset(rnd, topics, 2));
        s.step();
        return s;
    }

    static List<Uuid> randomSubset(Random rnd, List<Uuid> topics, int min) {
        List<Uuid> out = new ArrayList<>();
        for (Uuid t : topics) if (rnd.nextBoolean()) out.add(t);
        List<Uuid> rest = new ArrayList<>(topics);
        rest.removeAll(out);
        Collections.shuffle(rest, rnd);
        while (out.size() < Math.min(min, topics.size())) out.add(rest.remove(rest.size() - 1));
        Collections.shuffle(out, rnd);
        return out;
    }

    static List<Uuid> shuffled(Random rnd, List<Uuid> topics) {
        List<Uuid> out = new ArrayList<>(topics);
        Collections.shuffle(out, rnd);
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // The group as Kafka's coordinator would hold it between assignments

    static final class Member {
        final String id;
        final String instanceId;
        final String rackId;
        List<Uuid> subscribed;
        Assignment assignment = Assignment.EMPTY;
        boolean isNew = true;
        List<Map.Entry<Uuid, List<Integer>>> record;

        Member(String id, String instanceId, String rackId, List<Uuid> subscribed) {
            this.id = id;
            this.instanceId = instanceId;
            this.rackId = rackId;
            this.subscribed = List.copyOf(subscribed);
        }
    }

    static final class Scenario {
        final String name;
        final String assignorName;
        final ConsumerGroupPartitionAssignor assignor;
        final Random rnd;
        final LinkedHashMap<Uuid, Integer> topics = new LinkedHashMap<>();
        final LinkedHashMap<String, Member> members = new LinkedHashMap<>();
        final StringBuilder steps = new StringBuilder();
        int stepCount;
        int errorCount;
        int nextMember;

        Scenario(String name, String assignorName, long seed) {
            this.name = name;
            this.assignorName = assignorName;
            this.assignor = assignorName.equals("uniform") ? new UniformAssignor() : new RangeAssignor();
            this.rnd = new Random(seed);
        }

        Uuid topic(int partitions) {
            Uuid id = new Uuid(rnd.nextLong(), rnd.nextLong());
            topics.put(id, partitions);
            return id;
        }

        void setPartitions(Uuid topic, int partitions) {
            topics.put(topic, partitions);
        }

        void deleteTopic(Uuid topic) {
            topics.remove(topic);
        }

        /** Member ids of the kinds clients use: Uuid strings, classic-style names, some non-ASCII. */
        String memberId() {
            String id;
            do {
                int k = nextMember++;
                switch (rnd.nextInt(6)) {
                    case 0 -> id = "consumer-" + k + "-" + new Uuid(rnd.nextLong(), rnd.nextLong());
                    case 1 -> id = "m" + k;
                    case 2 -> id = "m\u00e9-" + k + (rnd.nextBoolean() ? "\ud83d\ude00" : "");
                    default -> id = new Uuid(rnd.nextLong(), rnd.nextLong()).toString();
                }
            } while (members.containsKey(id));
            return id;
        }

        String memberWithInstance(String instanceId) {
            for (Member m : members.values()) if (instanceId.equals(m.instanceId)) return m.id;
            throw new IllegalStateException("no member with instance id " + instanceId);
        }

        void join(String id, String instanceId, String rackId, List<Uuid> subscribed) {
            if (members.containsKey(id)) throw new IllegalStateException("duplicate member " + id);
            members.put(id, new Member(id, instanceId, rackId, subscribed));
        }

        void leave(String id) {
            members.remove(id);
        }

        void subscribe(String id, List<Uuid> subscribed) {
            members.get(id).subscribed = List.copyOf(subscribed);
        }

        /** Sets a member's current assignment as if replayed from a record listing these partitions. */
        void inject(String id, List<Map.Entry<Uuid, List<Integer>>> record) {
            Member m = members.get(id);
            m.record = record;
            m.assignment = fromRecord(record);
            m.isNew = false;
        }

        /** Runs the assignor on the group as it is, writes the step, feeds the result back. */
        void step() {
            // The GroupSpec as TargetAssignmentBuilder.build() makes it: a HashMap filled in member order.
            HashMap<String, MemberSubscriptionAndAssignmentImpl> specs = new HashMap<>();
            Map<Uuid, Map<Integer, String>> inverted = new HashMap<>();
            for (Member m : members.values()) {
                specs.put(m.id, new MemberSubscriptionAndAssignmentImpl(
                    Optional.ofNullable(m.rackId),
                    Optional.ofNullable(m.instanceId),
                    Collections.unmodifiableSet(new LinkedHashSet<>(m.subscribed)),
                    m.assignment));
                m.assignment.partitions().forEach((t, parts) -> {
                    for (int p : parts) inverted.computeIfAbsent(t, k -> new HashMap<>()).put(p, m.id);
                });
            }
            SubscriptionType type = SubscriptionType.HOMOGENEOUS;
            Set<Uuid> first = null;
            for (Member m : members.values()) {
                Set<Uuid> subs = new HashSet<>(m.subscribed);
                if (first == null) first = subs;
                else if (!first.equals(subs)) type = SubscriptionType.HETEROGENEOUS;
            }
            GroupSpecImpl spec = new GroupSpecImpl(Collections.unmodifiableMap(specs), type, inverted);
            Map<Uuid, Integer> metadata = new HashMap<>(topics);
            SubscribedTopicDescriber describer = new SubscribedTopicDescriber() {
                @Override
                public int numPartitions(Uuid topicId) {
                    return metadata.getOrDefault(topicId, -1);
                }

                @Override
                public Set<String> racksForPartition(Uuid topicId, int partition) {
                    return Set.of();
                }
            };

            GroupAssignment result = null;
            String error = null;
            try {
                result = assignor.assign(spec, describer);
            } catch (PartitionAssignorException e) {
                error = e.getClass().getSimpleName() + ": " + e.getMessage();
                errorCount++;
            }

            StringBuilder j = new StringBuilder();
            j.append("{\"topics\":");
            array(j, topics.entrySet(), (b, e) -> b.append('[').append(str(e.getKey().toString())).append(',').append(e.getValue()).append(']'));
            j.append(",\"members\":");
            array(j, members.values(), (b, m) -> {
                b.append("{\"id\":").append(str(m.id))
                    .append(",\"instanceId\":").append(m.instanceId == null ? "null" : str(m.instanceId))
                    .append(",\"rackId\":").append(m.rackId == null ? "null" : str(m.rackId))
                    .append(",\"subscribed\":");
                array(b, m.subscribed, (bb, t) -> bb.append(str(t.toString())));
                b.append(",\"assignment\":");
                partitions(b, m.assignment.partitions());
                b.append(",\"record\":");
                if (m.record == null) b.append("null");
                else array(b, m.record, (bb, e) -> {
                    bb.append('[').append(str(e.getKey().toString())).append(',');
                    array(bb, e.getValue(), (bbb, p) -> bbb.append(p));
                    bb.append(']');
                });
                b.append('}');
            });
            j.append(",\"subscriptionType\":").append(str(type.name()));
            j.append(",\"memberIds\":");
            array(j, spec.memberIds(), (b, id) -> b.append(str(id)));
            if (error != null) {
                j.append(",\"error\":").append(str(error));
            } else {
                j.append(",\"result\":");
                List<String> present = new ArrayList<>();
                for (String id : spec.memberIds()) if (result.members().containsKey(id)) present.add(id);
                if (present.size() != result.members().size()) throw new IllegalStateException("result has unknown members");
                final GroupAssignment r = result;
                array(j, present, (b, id) -> {
                    b.append('[').append(str(id)).append(',');
                    partitions(b, r.members().get(id).partitions());
                    b.append(']');
                });
            }
            j.append('}');
            if (stepCount > 0) steps.append(',');
            steps.append(j);
            stepCount++;

            for (Member m : members.values()) m.record = null;
            if (result == null) return;
            // Feed back: a member with a new (or first) target assignment gets it as replayed from its record.
            for (Member m : members.values()) {
                MemberAssignment ma = result.members().get(m.id);
                Map<Uuid, Set<Integer>> parts = ma == null ? Map.of() : ma.partitions();
                Assignment next = new Assignment(parts);
                if (!m.isNew && next.equals(m.assignment)) continue;
                List<Map.Entry<Uuid, List<Integer>>> record = new ArrayList<>();
                parts.forEach((t, ps) -> record.add(new AbstractMap.SimpleImmutableEntry<>(t, new ArrayList<>(ps))));
                m.record = record;
                m.assignment = fromRecord(record);
                m.isNew = false;
            }
        }

        String json() {
            return "{\"name\":" + str(name) + ",\"assignor\":" + str(assignorName)
                + ",\"java\":" + str(System.getProperty("java.specification.version"))
                + ",\"steps\":[" + steps + "]}";
        }
    }

    /** Assignment.fromRecord: Collectors.toMap over the record's topics, new HashSet<>(partitions) each. */
    static Assignment fromRecord(List<Map.Entry<Uuid, List<Integer>>> record) {
        return new Assignment(record.stream().collect(Collectors.toMap(Map.Entry::getKey, e -> new HashSet<>(e.getValue()))));
    }

    // ---------------------------------------------------------------------------------------
    // JSON

    interface Writer2<T> {
        void write(StringBuilder b, T value);
    }

    static <T> void array(StringBuilder b, Iterable<T> items, Writer2<T> w) {
        b.append('[');
        boolean first = true;
        for (T item : items) {
            if (!first) b.append(',');
            first = false;
            w.write(b, item);
        }
        b.append(']');
    }

    static void partitions(StringBuilder b, Map<Uuid, Set<Integer>> partitions) {
        array(b, partitions.entrySet(), (bb, e) -> {
            bb.append('[').append(str(e.getKey().toString())).append(',');
            array(bb, e.getValue(), (bbb, p) -> bbb.append(p));
            bb.append(']');
        });
    }

    static String str(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
