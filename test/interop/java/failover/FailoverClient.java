import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client through broker failures (test/interop/java-failover.test.ts):
 * an idempotent producer (acks=all, default retries) sending continuously to
 * every partition of a topic, a group member reading and committing
 * (commitSync) after each poll, and an Admin answering the test's commands
 * from stdin. Everything is reported as JSON lines on stdout:
 *
 *   {"type":"ack","p":0,"o":12,"v":"p0-12","t":1700000000000}   a record the producer had acknowledged
 *   {"type":"rec","p":0,"o":12,"v":"p0-12"}                      a record the consumer returned
 *   {"type":"commit","offsets":{"0":13}}                         a commitSync that returned
 *   {"type":"error","where":"...","error":"..."}                 an exception that reached the application
 *
 * Commands (one a line): create, start GROUP, describe [TOPIC], coordinator [GROUP],
 * elect-preferred, restart-consumer, stop-producer, close. Args: bootstrap topic partitions sendIntervalMs
 */
public class FailoverClient {
  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static String err(String where, Throwable e) {
    return "{\"type\":\"error\",\"where\":" + q(where) + ",\"error\":" + q(e.getClass().getName() + ": " + e.getMessage()) + "}";
  }

  static String ids(Collection<Node> nodes) {
    return nodes.stream().map(n -> String.valueOf(n.id())).collect(Collectors.joining(",", "[", "]"));
  }

  static String bootstrap;
  static String topic;
  static volatile String group;
  static int partitions;
  static long sendIntervalMs;
  static final AtomicBoolean producing = new AtomicBoolean(true);
  static final AtomicBoolean consuming = new AtomicBoolean(true);
  static volatile KafkaConsumer<String, String> consumer;
  static Thread consumerThread;

  public static void main(String[] args) throws Exception {
    bootstrap = args[0];
    topic = args[1];
    partitions = Integer.parseInt(args[2]);
    sendIntervalMs = Long.parseLong(args[3]);
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
    Thread producerThread = new Thread(FailoverClient::produce, "producer");
    consumerThread = new Thread(FailoverClient::consume, "consumer");
    try (Admin admin = Admin.create(ap)) {
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        String cmd = line.trim();
        String[] words = cmd.split(" ");
        try {
          switch (words[0]) {
            case "create":
              admin
                  .createTopics(List.of(new NewTopic(topic, partitions, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                  .all()
                  .get(60, TimeUnit.SECONDS);
              emit("{\"type\":\"created\"}");
              break;
            case "start":
              group = words[1];
              producerThread.start();
              consumerThread.start();
              emit("{\"type\":\"started\"}");
              break;
            case "describe": {
              String name = words.length > 1 ? words[1] : topic;
              DescribeClusterResult c = admin.describeCluster();
              Collection<Node> nodes = c.nodes().get(15, TimeUnit.SECONDS);
              Node controller = c.controller().get(15, TimeUnit.SECONDS);
              TopicDescription d = admin.describeTopics(List.of(name)).allTopicNames().get(15, TimeUnit.SECONDS).get(name);
              List<String> ps = new ArrayList<>();
              for (TopicPartitionInfo p : d.partitions()) {
                ps.add(
                    "{\"p\":" + p.partition() + ",\"leader\":" + (p.leader() == null ? -1 : p.leader().id())
                        + ",\"replicas\":" + ids(p.replicas()) + ",\"isr\":" + ids(p.isr()) + "}");
              }
              emit(
                  "{\"type\":\"describe\",\"t\":" + System.currentTimeMillis() + ",\"nodes\":" + ids(nodes)
                      + ",\"controller\":" + (controller == null ? -1 : controller.id()) + ",\"partitions\":["
                      + String.join(",", ps) + "]}");
              break;
            }
            case "coordinator": {
              String id = words.length > 1 ? words[1] : group;
              ConsumerGroupDescription g =
                  admin.describeConsumerGroups(List.of(id)).all().get(15, TimeUnit.SECONDS).get(id);
              emit(
                  "{\"type\":\"coordinator\",\"id\":" + (g.coordinator() == null ? -1 : g.coordinator().id())
                      + ",\"state\":" + q(String.valueOf(g.groupState())) + ",\"members\":" + g.members().size() + "}");
              break;
            }
            case "elect-preferred": {
              // ELECTION_NOT_NEEDED for a partition its preferred replica leads already is success here
              Set<TopicPartition> parts = new HashSet<>();
              for (int p = 0; p < partitions; p++) parts.add(new TopicPartition(topic, p));
              Map<TopicPartition, Optional<Throwable>> r =
                  admin.electLeaders(ElectionType.PREFERRED, parts).partitions().get(30, TimeUnit.SECONDS);
              List<String> failed = new ArrayList<>();
              for (Map.Entry<TopicPartition, Optional<Throwable>> e : r.entrySet()) {
                Throwable t = e.getValue().orElse(null);
                if (t != null && !(t instanceof ElectionNotNeededException))
                  failed.add(q(e.getKey().partition() + ": " + t.getClass().getName() + ": " + t.getMessage()));
              }
              emit("{\"type\":\"elected\",\"failed\":[" + String.join(",", failed) + "]}");
              break;
            }
            case "restart-consumer": {
              // a new member of the group: it resumes at the committed offsets
              consuming.set(false);
              KafkaConsumer<String, String> old = consumer;
              if (old != null) old.wakeup();
              consumerThread.join();
              consuming.set(true);
              consumerThread = new Thread(FailoverClient::consume, "consumer");
              consumerThread.start();
              emit("{\"type\":\"consumer-restarted\"}");
              break;
            }
            case "stop-producer":
              producing.set(false);
              producerThread.join();
              emit("{\"type\":\"producer-closed\"}");
              break;
            case "close":
              consuming.set(false);
              KafkaConsumer<String, String> cons = consumer;
              if (cons != null) cons.wakeup();
              consumerThread.join();
              emit("{\"type\":\"closed\"}");
              return;
            default:
              emit("{\"type\":\"admin-error\",\"cmd\":" + q(cmd) + ",\"error\":\"unknown command\"}");
          }
        } catch (Exception e) {
          // an Admin call failing while the cluster recovers: the test asks again
          emit("{\"type\":\"admin-error\",\"cmd\":" + q(cmd) + ",\"error\":" + q(e.getClass().getName() + ": " + e.getMessage()) + "}");
        }
      }
    }
  }

  static void produce() {
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    long[] next = new long[partitions];
    long sent = 0;
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      while (producing.get()) {
        int p = (int) (sent % partitions);
        String v = "p" + p + "-" + next[p]++;
        sent++;
        try {
          producer.send(
              new ProducerRecord<>(topic, p, null, v),
              (md, e) -> {
                if (e != null) emit(err("producer callback " + v, e));
                else
                  emit(
                      "{\"type\":\"ack\",\"p\":" + md.partition() + ",\"o\":" + md.offset() + ",\"v\":" + q(v) + ",\"t\":"
                          + System.currentTimeMillis() + "}");
              });
        } catch (Exception e) {
          emit(err("producer send " + v, e));
        }
        Thread.sleep(sendIntervalMs);
      }
      producer.flush();
      emit("{\"type\":\"produced\",\"sent\":" + sent + "}");
    } catch (Exception e) {
      emit(err("producer", e));
    }
  }

  static void consume() {
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
      consumer = c;
      c.subscribe(
          List.of(topic),
          new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> parts) {
              emit("{\"type\":\"revoked\",\"n\":" + parts.size() + "}");
            }

            public void onPartitionsAssigned(Collection<TopicPartition> parts) {
              emit("{\"type\":\"assigned\",\"n\":" + parts.size() + "}");
            }
          });
      while (consuming.get()) {
        try {
          ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(200));
          Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
          for (ConsumerRecord<String, String> r : records) {
            emit("{\"type\":\"rec\",\"p\":" + r.partition() + ",\"o\":" + r.offset() + ",\"v\":" + q(r.value()) + "}");
            offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
          }
          if (offsets.isEmpty()) continue;
          c.commitSync(offsets);
          emit(
              "{\"type\":\"commit\",\"offsets\":{"
                  + offsets.entrySet().stream()
                      .map(e -> "\"" + e.getKey().partition() + "\":" + e.getValue().offset())
                      .collect(Collectors.joining(","))
                  + "}}");
        } catch (WakeupException e) {
          if (consuming.get()) emit(err("consumer wakeup", e));
        } catch (Exception e) {
          emit(err("consumer", e));
        }
      }
    } catch (Exception e) {
      emit(err("consumer close", e));
    }
  }
}
