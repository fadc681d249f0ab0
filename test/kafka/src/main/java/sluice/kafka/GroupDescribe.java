package sluice.kafka;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;

/**
 * Describes consumer groups with Kafka 4.4.0's Admin ({@code describeConsumerGroups}, which uses
 * ConsumerGroupDescribe for KIP-848 groups and DescribeGroups for classic ones) and prints one JSON
 * object, the same shape as {@code groups.py describe}:
 *
 * <pre>
 * {group: {"state", "type", "assignor", "simple", "groupEpoch", "targetAssignmentEpoch",
 *          "members": [{"memberId", "clientId", "groupInstanceId", "assignment": [[topic, p]]}]}
 *         | {"error": "ExceptionClass: message"}}
 * java -cp ... sluice.kafka.GroupDescribe --bootstrap HOST:PORT --groups a,b
 * java -cp ... sluice.kafka.GroupDescribe --bootstrap HOST:PORT --stdin
 * </pre>
 *
 * <p>With {@code --stdin} it keeps one Admin client and answers each line of stdin (group ids,
 * comma-separated) with one such JSON line, until the end of stdin: a test that describes groups
 * often does not start a JVM each time.
 *
 * <p>State and type are the enum names (STABLE, EMPTY, ...; CLASSIC, CONSUMER); epochs are null when
 * the broker gives none (classic groups). Members are sorted by member id.
 */
public final class GroupDescribe {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    List<String> groups = null;
    boolean stdin = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = args[++i];
        case "--groups" -> groups = Arrays.asList(args[++i].split(","));
        case "--stdin" -> stdin = true;
        default -> {
          System.err.println("usage: GroupDescribe --bootstrap HOST:PORT (--groups a,b | --stdin)");
          System.exit(2);
        }
      }
    }
    Properties config = new Properties();
    config.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (Admin admin = Admin.create(config)) {
      if (!stdin) {
        out.println(describe(admin, groups));
        return;
      }
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null; ) {
        if (!line.isBlank()) out.println(describe(admin, Arrays.asList(line.trim().split(","))));
      }
    }
  }

  private static ObjectNode describe(Admin admin, List<String> groups) {
    ObjectNode out = JSON.createObjectNode();
    {
      Map<String, KafkaFuture<ConsumerGroupDescription>> futures = admin.describeConsumerGroups(groups).describedGroups();
      for (String group : groups) {
        ObjectNode json = out.putObject(group);
        ConsumerGroupDescription description;
        try {
          description = futures.get(group).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
          Throwable cause = e.getCause() == null ? e : e.getCause();
          json.put("error", cause.getClass().getSimpleName() + ": " + cause.getMessage());
          continue;
        }
        json.put("state", description.groupState().name());
        json.put("type", description.type().name());
        json.put("assignor", description.partitionAssignor());
        json.put("simple", description.isSimpleConsumerGroup());
        if (description.groupEpoch().isPresent()) json.put("groupEpoch", description.groupEpoch().get());
        else json.putNull("groupEpoch");
        if (description.targetAssignmentEpoch().isPresent()) json.put("targetAssignmentEpoch", description.targetAssignmentEpoch().get());
        else json.putNull("targetAssignmentEpoch");
        List<MemberDescription> members = new ArrayList<>(description.members());
        members.sort(Comparator.comparing(MemberDescription::consumerId));
        ArrayNode list = json.putArray("members");
        for (MemberDescription member : members) {
          ObjectNode m = list.addObject();
          m.put("memberId", member.consumerId());
          m.put("clientId", member.clientId());
          m.put("groupInstanceId", member.groupInstanceId().orElse(null));
          List<TopicPartition> partitions = new ArrayList<>(member.assignment().topicPartitions());
          partitions.sort(Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition));
          ArrayNode assignment = m.putArray("assignment");
          for (TopicPartition tp : partitions) assignment.addArray().add(tp.topic()).add(tp.partition());
        }
      }
    }
    return out;
  }
}
