import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;

/**
 * Admin.electLeaders, once: args are the bootstrap address, the election type
 * (PREFERRED or UNCLEAN), a topic and its partitions. Prints one line per
 * partition: "topic-partition ok" or "topic-partition <exception class>", or
 * one line "request <exception class>" when the whole request failed.
 */
public class ElectLeaders {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    ElectionType type = ElectionType.valueOf(args[1]);
    Set<TopicPartition> partitions = new LinkedHashSet<>();
    for (int i = 3; i < args.length; i++) partitions.add(new TopicPartition(args[2], Integer.parseInt(args[i])));
    try (Admin admin = Admin.create(props)) {
      Map<TopicPartition, Optional<Throwable>> r;
      try {
        r = admin.electLeaders(type, partitions).partitions().get();
      } catch (ExecutionException e) {
        System.out.println("request " + e.getCause().getClass().getSimpleName());
        return;
      }
      for (TopicPartition tp : partitions) {
        Optional<Throwable> err = r.get(tp);
        System.out.println(tp + " " + (err == null ? "missing" : err.map(e -> e.getClass().getSimpleName()).orElse("ok")));
      }
    }
  }
}
