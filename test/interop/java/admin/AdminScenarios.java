import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionReplica;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Admin client, method by method, against one broker: args are the
 * bootstrap address and a prefix for the topic and group names. Each scenario
 * prints one JSON line: {"scenario", "ok": true, facts...} or
 * {"scenario", "ok": false, "error": exception class, "message"}.
 * The same program runs against the reference Kafka and Samsa; the facts are
 * those that do not depend on the broker (no ids, no sizes).
 */
public class AdminScenarios {
  interface Scenario {
    void run(Map<String, Object> out) throws Exception;
  }

  static final ObjectMapper JSON = new ObjectMapper();
  static Admin admin;
  static String bootstrap;
  static int nodeId;

  static void scenario(String name, Scenario s) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("scenario", name);
    try {
      s.run(out);
      out.put("ok", true);
    } catch (Throwable t) {
      Throwable c = t;
      while ((c instanceof ExecutionException || c instanceof org.apache.kafka.common.KafkaException && c.getClass() == org.apache.kafka.common.KafkaException.class)
          && c.getCause() != null) c = c.getCause();
      if (!(c instanceof org.apache.kafka.common.errors.ApiException)) c.printStackTrace();
      out.put("ok", false);
      out.put("error", c.getClass().getSimpleName());
      out.put("message", String.valueOf(c.getMessage()));
    }
    try {
      System.out.println(JSON.writeValueAsString(out));
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
    System.out.flush();
  }

  static Map<String, Object> entry(ConfigEntry e) {
    if (e == null) return null;
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("value", e.value());
    m.put("source", e.source().name());
    m.put("readOnly", e.isReadOnly());
    return m;
  }

  static Map<String, Object> configsOf(ConfigResource r, String... names) throws Exception {
    Config c = admin.describeConfigs(List.of(r)).all().get().get(r);
    Map<String, Object> m = new LinkedHashMap<>();
    for (String n : names) m.put(n, entry(c.get(n)));
    return m;
  }

  /** Describes `name` of `r` until its value is `value` (dynamic broker configs reach the broker asynchronously in KRaft). */
  static Map<String, Object> awaitConfig(ConfigResource r, String name, String value) throws Exception {
    long deadline = System.currentTimeMillis() + 15_000;
    for (;;) {
      ConfigEntry e = admin.describeConfigs(List.of(r)).all().get().get(r).get(name);
      if (Objects.equals(e == null ? null : e.value(), value) || System.currentTimeMillis() > deadline) return Map.of(name, entry(e));
      Thread.sleep(50);
    }
  }

  interface Condition {
    boolean holds() throws Exception;
  }

  /**
   * Waits up to 15 s for a change to be visible: Kafka answers an admin request once its controller
   * committed it, and the broker's metadata catches up a moment later.
   */
  static void await(Condition c) throws Exception {
    long deadline = System.currentTimeMillis() + 15_000;
    while (!c.holds() && System.currentTimeMillis() < deadline) Thread.sleep(50);
  }

  static boolean topicListed(String topic) throws Exception {
    return admin.listTopics().names().get().contains(topic);
  }

  static int partitionCount(String topic) throws Exception {
    return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
  }

  public static void main(String[] args) throws Exception {
    bootstrap = args[0];
    String p = args[1];
    String t1 = p + "-t1", t2 = p + "-validate-only", t3 = p + "-t3", g1 = p + "-g1", g2 = p + "-g2", g3 = p + "-g3";
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "40000");
    admin = Admin.create(props);
    try {
      run(t1, t2, t3, g1, g2, g3);
    } finally {
      admin.close(Duration.ofSeconds(10));
    }
  }

  static void run(String t1, String t2, String t3, String g1, String g2, String g3) throws Exception {
    scenario("describeCluster", out -> {
      DescribeClusterResult r = admin.describeCluster();
      Collection<Node> nodes = r.nodes().get();
      Node controller = r.controller().get();
      nodeId = nodes.iterator().next().id();
      out.put("nodes", nodes.size());
      out.put("clusterIdPresent", r.clusterId().get() != null && !r.clusterId().get().isEmpty());
      out.put("controllerIsTheNode", controller != null && controller.id() == nodeId);
    });

    scenario("createTopics", out -> {
      NewTopic nt = new NewTopic(t1, 3, (short) 1).configs(Map.of("retention.ms", "123456", "cleanup.policy", "delete"));
      CreateTopicsResult r = admin.createTopics(List.of(nt));
      r.all().get();
      out.put("numPartitions", r.numPartitions(t1).get());
      out.put("replicationFactor", r.replicationFactor(t1).get());
      Config c = r.config(t1).get();
      out.put("retention.ms", entry(c.get("retention.ms")));
    });

    scenario("createTopics.defaults", out -> {
      CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(t3, Optional.empty(), Optional.empty())));
      r.all().get();
      out.put("numPartitions", r.numPartitions(t3).get());
      out.put("replicationFactor", r.replicationFactor(t3).get());
    });

    await(() -> topicListed(t1) && topicListed(t3));

    scenario("createTopics.validateOnly", out -> {
      CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(t2, 2, (short) 1).configs(Map.of("retention.ms", "5000"))),
          new CreateTopicsOptions().validateOnly(true));
      r.all().get();
      out.put("numPartitions", r.numPartitions(t2).get());
      out.put("retention.ms", entry(r.config(t2).get().get("retention.ms")));
      out.put("segment.bytes", entry(r.config(t2).get().get("segment.bytes")));
      out.put("createdAfterwards", admin.listTopics().names().get().contains(t2));
    });

    scenario("createTopics.replicationFactorAboveBrokers", out ->
        admin.createTopics(List.of(new NewTopic(p(t1) + "-rf3", 1, (short) 3))).all().get());

    scenario("createTopics.exists", out -> admin.createTopics(List.of(new NewTopic(t1, 1, (short) 1))).all().get());

    scenario("createTopics.invalidConfig", out ->
        admin.createTopics(List.of(new NewTopic(p(t1) + "-badcfg", 1, (short) 1).configs(Map.of("retention.ms", "not-a-number")))).all().get());

    scenario("createTopics.invalidName", out -> admin.createTopics(List.of(new NewTopic("bad name!", 1, (short) 1))).all().get());

    scenario("listTopics", out -> {
      Set<String> names = admin.listTopics().names().get();
      out.put("containsT1", names.contains(t1));
      out.put("containsValidateOnly", names.contains(t2));
      out.put("internalListed", admin.listTopics(new ListTopicsOptions().listInternal(false)).names().get().contains("__consumer_offsets"));
    });

    scenario("describeTopics", out -> {
      TopicDescription d = admin.describeTopics(List.of(t1)).allTopicNames().get().get(t1);
      out.put("partitions", d.partitions().size());
      out.put("internal", d.isInternal());
      out.put("topicIdPresent", d.topicId() != null && !d.topicId().equals(org.apache.kafka.common.Uuid.ZERO_UUID));
      boolean single = true;
      for (TopicPartitionInfo pi : d.partitions())
        single &= pi.leader() != null && pi.leader().id() == nodeId && pi.replicas().size() == 1 && pi.isr().size() == 1;
      out.put("leaderAndSingleReplica", single);
      TopicDescription byId = admin.describeTopics(TopicCollection.ofTopicIds(List.of(d.topicId()))).allTopicIds().get().get(d.topicId());
      out.put("byIdNameMatches", t1.equals(byId.name()));
    });

    scenario("describeTopics.unknown", out -> admin.describeTopics(List.of(p(t1) + "-nope")).allTopicNames().get());

    scenario("describeTopics.unknownId", out ->
        admin.describeTopics(TopicCollection.ofTopicIds(List.of(org.apache.kafka.common.Uuid.randomUuid()))).allTopicIds().get());

    scenario("createPartitions", out -> {
      admin.createPartitions(Map.of(t1, NewPartitions.increaseTo(5))).all().get();
      await(() -> partitionCount(t1) == 5);
      out.put("partitionsAfter", partitionCount(t1));
    });

    scenario("createPartitions.validateOnly", out -> {
      admin.createPartitions(Map.of(t1, NewPartitions.increaseTo(7)), new CreatePartitionsOptions().validateOnly(true)).all().get();
      out.put("partitionsAfter", partitionCount(t1));
    });

    scenario("createPartitions.decrease", out -> admin.createPartitions(Map.of(t1, NewPartitions.increaseTo(2))).all().get());

    scenario("createPartitions.unknownTopic", out -> admin.createPartitions(Map.of(p(t1) + "-nope", NewPartitions.increaseTo(2))).all().get());

    ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, t1);
    scenario("describeConfigs.topic", out -> out.putAll(configsOf(topicRes, "retention.ms", "cleanup.policy", "segment.bytes", "min.insync.replicas")));

    scenario("describeConfigs.topic.synonyms", out -> {
      Config c = admin.describeConfigs(List.of(topicRes), new DescribeConfigsOptions().includeSynonyms(true)).all().get().get(topicRes);
      for (String n : List.of("retention.ms", "segment.bytes")) {
        List<String> syn = new ArrayList<>();
        for (ConfigEntry.ConfigSynonym cs : c.get(n).synonyms()) syn.add(cs.name() + "=" + cs.value() + ":" + cs.source());
        out.put(n, syn);
      }
    });

    scenario("describeConfigs.unknownTopic", out -> admin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, p(t1) + "-nope"))).all().get());

    scenario("describeConfigs.broker", out -> {
      ConfigResource b = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(nodeId));
      out.putAll(configsOf(b, "log.retention.hours", "log.segment.bytes", "auto.create.topics.enable", "message.max.bytes"));
      Config c = admin.describeConfigs(List.of(b)).all().get().get(b);
      out.put("logDirsReadOnly", c.get("log.dirs") == null ? null : c.get("log.dirs").isReadOnly());
    });

    scenario("incrementalAlterConfigs.topic", out -> {
      admin.incrementalAlterConfigs(Map.of(topicRes, List.of(
          new AlterConfigOp(new ConfigEntry("retention.ms", "200000"), AlterConfigOp.OpType.SET),
          new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all().get();
      awaitConfig(topicRes, "cleanup.policy", "delete,compact");
      awaitConfig(topicRes, "retention.ms", "200000");
      out.putAll(configsOf(topicRes, "retention.ms", "cleanup.policy"));
      admin.incrementalAlterConfigs(Map.of(topicRes, List.of(
          new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE),
          new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.SUBTRACT)))).all().get();
      awaitConfig(topicRes, "cleanup.policy", "delete");
      awaitConfig(topicRes, "retention.ms", "604800000");
      out.put("after", configsOf(topicRes, "retention.ms", "cleanup.policy"));
    });

    scenario("incrementalAlterConfigs.topic.validateOnly", out -> {
      admin.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "300000"), AlterConfigOp.OpType.SET))),
          new AlterConfigsOptions().validateOnly(true)).all().get();
      out.putAll(configsOf(topicRes, "retention.ms"));
    });

    scenario("incrementalAlterConfigs.topic.unknownConfig", out ->
        admin.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get());

    scenario("incrementalAlterConfigs.topic.invalidValue", out ->
        admin.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "abc"), AlterConfigOp.OpType.SET)))).all().get());

    ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(nodeId));
    ConfigResource clusterRes = new ConfigResource(ConfigResource.Type.BROKER, "");
    scenario("incrementalAlterConfigs.broker.dynamic", out -> {
      admin.incrementalAlterConfigs(Map.of(brokerRes, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
      out.putAll(awaitConfig(brokerRes, "log.retention.ms", "7200000"));
      admin.incrementalAlterConfigs(Map.of(brokerRes, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all().get();
      out.put("after", awaitConfig(brokerRes, "log.retention.ms", null));
    });

    scenario("incrementalAlterConfigs.clusterDefault.dynamic", out -> {
      admin.incrementalAlterConfigs(Map.of(clusterRes, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "3600000"), AlterConfigOp.OpType.SET)))).all().get();
      out.putAll(awaitConfig(brokerRes, "log.retention.ms", "3600000"));
      admin.incrementalAlterConfigs(Map.of(clusterRes, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all().get();
      out.put("after", awaitConfig(brokerRes, "log.retention.ms", null));
    });

    scenario("incrementalAlterConfigs.broker.readOnly", out ->
        admin.incrementalAlterConfigs(Map.of(brokerRes, List.of(new AlterConfigOp(new ConfigEntry("log.dirs", "/tmp/elsewhere"), AlterConfigOp.OpType.SET)))).all().get());

    scenario("produce", out -> {
      Properties pp = new Properties();
      pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      try (KafkaProducer<String, String> prod = new KafkaProducer<>(pp)) {
        for (int i = 0; i < 10; i++) prod.send(new ProducerRecord<>(t1, 0, 1_000_000L + i, "k" + i, "v" + i)).get();
      }
      out.put("records", 10);
    });

    TopicPartition tp0 = new TopicPartition(t1, 0);
    scenario("listOffsets", out -> {
      out.put("earliest", admin.listOffsets(Map.of(tp0, OffsetSpec.earliest())).partitionResult(tp0).get().offset());
      out.put("latest", admin.listOffsets(Map.of(tp0, OffsetSpec.latest())).partitionResult(tp0).get().offset());
      out.put("maxTimestamp", admin.listOffsets(Map.of(tp0, OffsetSpec.maxTimestamp())).partitionResult(tp0).get().offset());
      out.put("forTimestamp", admin.listOffsets(Map.of(tp0, OffsetSpec.forTimestamp(1_000_004L))).partitionResult(tp0).get().offset());
      out.put("afterLastTimestamp", admin.listOffsets(Map.of(tp0, OffsetSpec.forTimestamp(2_000_000L))).partitionResult(tp0).get().offset());
    });

    scenario("listOffsets.moreSpecs", out -> {
      ListOffsetsOptions rc = new ListOffsetsOptions(org.apache.kafka.common.IsolationLevel.READ_COMMITTED);
      out.put("latestReadCommitted", admin.listOffsets(Map.of(tp0, OffsetSpec.latest()), rc).partitionResult(tp0).get().offset());
      out.put("earliestLocal", admin.listOffsets(Map.of(tp0, OffsetSpec.earliestLocal())).partitionResult(tp0).get().offset());
      out.put("latestTiered", admin.listOffsets(Map.of(tp0, OffsetSpec.latestTiered())).partitionResult(tp0).get().offset());
    });

    scenario("deleteRecords", out -> {
      out.put("lowWatermark", admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp0).get().lowWatermark());
      out.put("earliestAfter", admin.listOffsets(Map.of(tp0, OffsetSpec.earliest())).partitionResult(tp0).get().offset());
      out.put("toHighWatermark", admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp0).get().lowWatermark());
    });

    scenario("deleteRecords.beyondHighWatermark", out -> admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(100))).all().get());

    // a classic group with a live static member
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, g1);
    cp.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "member-a");
    cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp);
    try {
      scenario("consumer.joinAndCommit", out -> {
        consumer.subscribe(List.of(t1));
        long deadline = System.currentTimeMillis() + 60_000;
        while (consumer.assignment().isEmpty() && System.currentTimeMillis() < deadline) consumer.poll(Duration.ofMillis(200));
        out.put("assigned", consumer.assignment().size());
        consumer.commitSync(Map.of(tp0, new OffsetAndMetadata(7, "meta")));
      });

      scenario("listConsumerGroups", out -> {
        Collection<ConsumerGroupListing> all = admin.listConsumerGroups().all().get();
        out.put("containsG1", all.stream().anyMatch(l -> l.groupId().equals(g1)));
        Optional<ConsumerGroupListing> l = all.stream().filter(x -> x.groupId().equals(g1)).findFirst();
        out.put("state", l.flatMap(ConsumerGroupListing::groupState).map(Object::toString).orElse(null));
        out.put("type", l.flatMap(ConsumerGroupListing::type).map(Object::toString).orElse(null));
      });

      scenario("listGroups", out -> {
        Collection<GroupListing> all = admin.listGroups().all().get();
        Optional<GroupListing> l = all.stream().filter(x -> x.groupId().equals(g1)).findFirst();
        out.put("containsG1", l.isPresent());
        out.put("type", l.flatMap(GroupListing::type).map(Object::toString).orElse(null));
        out.put("protocol", l.map(GroupListing::protocol).orElse(null));
      });

      scenario("describeConsumerGroups", out -> {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g1)).describedGroups().get(g1).get();
        out.put("state", d.groupState().toString());
        out.put("type", d.type().toString());
        out.put("partitionAssignor", d.partitionAssignor());
        out.put("members", d.members().size());
        out.put("instanceId", d.members().isEmpty() ? null : d.members().iterator().next().groupInstanceId().orElse(null));
        out.put("assignedPartitions", d.members().isEmpty() ? 0 : d.members().iterator().next().assignment().topicPartitions().size());
        out.put("coordinatorIsTheNode", d.coordinator() != null && d.coordinator().id() == nodeId);
      });

      scenario("describeConsumerGroups.unknown", out -> {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g1 + "-nope")).describedGroups().get(g1 + "-nope").get();
        out.put("state", d.groupState().toString());
        out.put("members", d.members().size());
      });

      scenario("listConsumerGroupOffsets", out -> {
        Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(g1).partitionsToOffsetAndMetadata().get();
        out.put("partitions", m.size());
        out.put("offset", m.get(tp0).offset());
        out.put("metadata", m.get(tp0).metadata());
      });

      scenario("alterConsumerGroupOffsets.activeGroup", out ->
          admin.alterConsumerGroupOffsets(g1, Map.of(tp0, new OffsetAndMetadata(2))).all().get());

      scenario("deleteConsumerGroups.nonEmpty", out -> admin.deleteConsumerGroups(List.of(g1)).all().get());

      scenario("deleteConsumerGroupOffsets.subscribedTopic", out -> admin.deleteConsumerGroupOffsets(g1, Set.of(tp0)).all().get());

      scenario("removeMembersFromConsumerGroup", out -> {
        admin.removeMembersFromConsumerGroup(g1, new RemoveMembersFromConsumerGroupOptions(List.of(new MemberToRemove("member-a")))).all().get();
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g1)).describedGroups().get(g1).get();
        out.put("stateAfter", d.groupState().toString());
        out.put("membersAfter", d.members().size());
      });

      scenario("removeMembersFromConsumerGroup.unknownMember", out ->
          admin.removeMembersFromConsumerGroup(g1, new RemoveMembersFromConsumerGroupOptions(List.of(new MemberToRemove("member-zz")))).all().get());
    } finally {
      consumer.close(Duration.ofSeconds(5));
    }

    // a KIP-848 (group.protocol=consumer) group with one member
    Properties cp2 = new Properties();
    cp2.putAll(cp);
    cp2.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
    cp2.put(ConsumerConfig.GROUP_ID_CONFIG, g3);
    cp2.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    KafkaConsumer<String, String> consumer2 = new KafkaConsumer<>(cp2);
    try {
      scenario("consumerProtocol.join", out -> {
        consumer2.subscribe(List.of(t1));
        long deadline = System.currentTimeMillis() + 60_000;
        while (consumer2.assignment().size() < 5 && System.currentTimeMillis() < deadline) consumer2.poll(Duration.ofMillis(200));
        out.put("assigned", consumer2.assignment().size());
      });

      scenario("consumerProtocol.listGroups", out -> {
        Optional<GroupListing> l = admin.listGroups().all().get().stream().filter(x -> x.groupId().equals(g3)).findFirst();
        out.put("type", l.flatMap(GroupListing::type).map(Object::toString).orElse(null));
        out.put("protocol", l.map(GroupListing::protocol).orElse(null));
        out.put("state", l.flatMap(GroupListing::groupState).map(Object::toString).orElse(null));
      });

      scenario("consumerProtocol.describeConsumerGroups", out -> {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g3)).describedGroups().get(g3).get();
        out.put("state", d.groupState().toString());
        out.put("type", d.type().toString());
        out.put("partitionAssignor", d.partitionAssignor());
        out.put("members", d.members().size());
        out.put("assignedPartitions", d.members().isEmpty() ? 0 : d.members().iterator().next().assignment().topicPartitions().size());
        out.put("groupEpochPresent", d.groupEpoch().isPresent());
      });

      scenario("consumerProtocol.deleteConsumerGroups.nonEmpty", out -> admin.deleteConsumerGroups(List.of(g3)).all().get());
    } finally {
      consumer2.close(Duration.ofSeconds(5));
    }

    scenario("alterConsumerGroupOffsets", out -> {
      admin.alterConsumerGroupOffsets(g2, Map.of(tp0, new OffsetAndMetadata(5), new TopicPartition(t1, 1), new OffsetAndMetadata(0))).all().get();
      Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(g2).partitionsToOffsetAndMetadata().get();
      out.put("partitions", m.size());
      out.put("offset", m.get(tp0).offset());
      ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g2)).describedGroups().get(g2).get();
      out.put("state", d.groupState().toString());
    });

    scenario("deleteConsumerGroupOffsets", out -> {
      admin.deleteConsumerGroupOffsets(g2, Set.of(tp0)).all().get();
      Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(g2).partitionsToOffsetAndMetadata().get();
      out.put("partitionsAfter", m.size());
    });

    scenario("deleteConsumerGroups", out -> {
      admin.deleteConsumerGroups(List.of(g1, g2, g3)).all().get();
      out.put("listedAfter", admin.listConsumerGroups().all().get().stream().anyMatch(l -> l.groupId().equals(g1) || l.groupId().equals(g2) || l.groupId().equals(g3)));
    });

    scenario("deleteConsumerGroups.unknown", out -> admin.deleteConsumerGroups(List.of(g1 + "-nope")).all().get());

    scenario("describeLogDirs", out -> {
      Map<String, LogDirDescription> dirs = admin.describeLogDirs(List.of(nodeId)).allDescriptions().get().get(nodeId);
      out.put("dirs", dirs.size());
      LogDirDescription d = dirs.values().iterator().next();
      out.put("error", d.error() == null ? null : d.error().getClass().getSimpleName());
      out.put("hasT1p0", d.replicaInfos().containsKey(tp0));
      out.put("t1p0SizePositive", d.replicaInfos().containsKey(tp0) && d.replicaInfos().get(tp0).size() > 0);
      out.put("totalBytesPresent", d.totalBytes().isPresent());
      out.put("usableBytesPresent", d.usableBytes().isPresent());
    });

    scenario("describeReplicaLogDirs", out -> {
      TopicPartitionReplica r = new TopicPartitionReplica(t1, 0, nodeId);
      DescribeReplicaLogDirsResult.ReplicaLogDirInfo info = admin.describeReplicaLogDirs(List.of(r)).all().get().get(r);
      out.put("currentDirPresent", info.getCurrentReplicaLogDir() != null);
      out.put("futureDir", info.getFutureReplicaLogDir());
    });

    scenario("describeCluster.authorizedOperations", out -> {
      Set<AclOperation> ops = admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true)).authorizedOperations().get();
      out.put("operations", ops == null ? null : new TreeSet<>(ops.stream().map(Object::toString).toList()));
    });

    scenario("listConfigResources", out -> {
      Collection<ConfigResource> rs = admin.listConfigResources().all().get();
      out.put("brokers", rs.stream().filter(r -> r.type() == ConfigResource.Type.BROKER).count());
    });

    scenario("describeFeatures", out -> {
      FeatureMetadata f = admin.describeFeatures().featureMetadata().get();
      out.put("finalized", new TreeSet<>(f.finalizedFeatures().keySet()));
      out.put("supported", new TreeSet<>(f.supportedFeatures().keySet()));
    });

    scenario("electLeaders", out -> {
      Map<TopicPartition, Optional<Throwable>> r = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp0)).partitions().get();
      out.put("partitionError", r.get(tp0).map(e -> e.getClass().getSimpleName()).orElse(null));
    });

    scenario("describeProducers", out -> {
      DescribeProducersResult.PartitionProducerState s = admin.describeProducers(List.of(tp0)).partitionResult(tp0).get();
      out.put("producers", s.activeProducers().size());
    });

    scenario("listTransactions", out -> out.put("transactions", admin.listTransactions().all().get().size()));

    scenario("describeTransactions", out -> admin.describeTransactions(List.of(p(t1) + "-txn"), new DescribeTransactionsOptions().timeoutMs(5000)).all().get());

    scenario("describeAcls", out ->
        out.put("acls", admin.describeAcls(AclBindingFilter.ANY).values().get().size()));

    scenario("createAcls", out -> admin.createAcls(List.of(new AclBinding(
        new ResourcePattern(ResourceType.TOPIC, t1, PatternType.LITERAL),
        new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)))).all().get());

    scenario("deleteAcls", out -> admin.deleteAcls(List.of(AclBindingFilter.ANY)).all().get());

    scenario("describeUserScramCredentials", out ->
        out.put("users", admin.describeUserScramCredentials().all().get().size()));

    scenario("describeClientQuotas", out ->
        out.put("entities", admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get().size()));

    scenario("describeMetadataQuorum", out -> {
      QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get();
      out.put("voters", q.voters().size());
      out.put("leaderIsTheNode", q.leaderId() == nodeId);
    });

    scenario("listPartitionReassignments", out ->
        out.put("reassignments", admin.listPartitionReassignments().reassignments().get().size()));

    scenario("deleteTopics", out -> {
      admin.deleteTopics(List.of(t1, t3)).all().get();
      long deadline = System.currentTimeMillis() + 30_000;
      boolean gone = false;
      while (!gone && System.currentTimeMillis() < deadline) {
        gone = !admin.listTopics().names().get().contains(t1);
        if (!gone) Thread.sleep(100);
      }
      out.put("goneFromListing", gone);
    });

    scenario("deleteTopics.byId", out -> {
      org.apache.kafka.common.Uuid id = admin.createTopics(List.of(new NewTopic(p(t1) + "-byid", 1, (short) 1))).topicId(p(t1) + "-byid").get();
      await(() -> topicListed(p(t1) + "-byid"));
      admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all().get();
      await(() -> !topicListed(p(t1) + "-byid"));
      out.put("listedAfter", admin.listTopics().names().get().contains(p(t1) + "-byid"));
    });

    scenario("deleteTopics.unknownId", out ->
        admin.deleteTopics(TopicCollection.ofTopicIds(List.of(org.apache.kafka.common.Uuid.randomUuid()))).all().get());

    scenario("deleteTopics.unknown", out -> admin.deleteTopics(List.of(p(t1) + "-nope")).all().get());
  }

  static String p(String t1) {
    return t1.substring(0, t1.length() - 3);
  }
}
