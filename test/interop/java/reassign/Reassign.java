import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;

/**
 * Partition reassignment with the Admin client, for test/interop/reassignment.test.ts.
 *
 *   Reassign <bootstrap> reassign <topic> <partition> <id,id,...>
 *     refused requests first (cancel with none in progress, an unknown broker,
 *     an unknown topic), then the reassignment, and listPartitionReassignments
 *     until it is no longer listed (deadline 180 s);
 *   Reassign <bootstrap> logdirs <topic> <partition> <id,id,...>
 *     describeLogDirs of those brokers: the partition's size on each (-1: not hosted).
 *
 * One JSON line per step: {"step", "ok": true, facts...} or {"step", "ok": false, "error": exception class}.
 */
public class Reassign {
  interface Step {
    void run(Map<String, Object> out) throws Exception;
  }

  static final ObjectMapper JSON = new ObjectMapper();

  static void step(String name, Step s) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("step", name);
    try {
      s.run(out);
      out.put("ok", true);
    } catch (ExecutionException e) {
      out.put("ok", false);
      out.put("error", e.getCause().getClass().getSimpleName());
      out.put("message", String.valueOf(e.getCause().getMessage()));
    }
    System.out.println(JSON.writeValueAsString(out));
  }

  static List<Integer> ids(String s) {
    List<Integer> out = new ArrayList<>();
    for (String x : s.split(",")) out.add(Integer.parseInt(x));
    return out;
  }

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "120000");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "60000");
    String mode = args[1];
    TopicPartition tp = new TopicPartition(args[2], Integer.parseInt(args[3]));
    List<Integer> replicas = ids(args[4]);
    try (Admin admin = Admin.create(props)) {
      if (mode.equals("reassign")) {
        step("cancelNone", out ->
            admin.alterPartitionReassignments(Map.of(tp, Optional.empty())).all().get());
        step("unknownBroker", out ->
            admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(replicas.get(0), 999))))).all().get());
        step("unknownTopic", out ->
            admin.alterPartitionReassignments(Map.of(new TopicPartition(tp.topic() + "-none", 0), Optional.of(new NewPartitionReassignment(replicas)))).all().get());
        step("reassign", out ->
            admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(replicas)))).all().get());
        step("wait", out -> {
          long deadline = System.currentTimeMillis() + 180_000;
          int polls = 0;
          boolean listed = true;
          while (listed && System.currentTimeMillis() < deadline) {
            Map<TopicPartition, PartitionReassignment> m = admin.listPartitionReassignments(Set.of(tp)).reassignments().get();
            listed = m.containsKey(tp);
            if (listed && !out.containsKey("adding")) {
              out.put("replicas", m.get(tp).replicas());
              out.put("adding", m.get(tp).addingReplicas());
              out.put("removing", m.get(tp).removingReplicas());
            }
            polls++;
            if (listed) Thread.sleep(200);
          }
          out.put("completed", !listed);
          out.put("polls", polls);
        });
        step("listAll", out -> out.put("reassignments", admin.listPartitionReassignments().reassignments().get().size()));
      } else {
        step("logdirs", out -> {
          Map<Integer, Map<String, LogDirDescription>> all = admin.describeLogDirs(replicas).allDescriptions().get();
          Map<String, Long> sizes = new TreeMap<>();
          for (int id : replicas) {
            long size = -1;
            for (LogDirDescription d : all.get(id).values()) {
              ReplicaInfo r = d.replicaInfos().get(tp);
              if (r != null) size = r.size();
            }
            sizes.put(String.valueOf(id), size);
          }
          out.put("sizes", sizes);
        });
      }
    }
  }
}
