import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * Kafka Streams scenarios against one broker, one JSON line per result on stdout.
 *
 *   StreamsScenarios BOOTSTRAP PREFIX BASE_MS at_least_once   word count, stream-table join, windowed sums; restart
 *   StreamsScenarios BOOTSTRAP PREFIX BASE_MS exactly_once_v2 word count under EOS v2 (what Streams gets)
 *
 * Topics are PREFIX-*, the application id PREFIX-app; BASE_MS (a multiple of
 * 10 s) is the event time the readings' timestamps are offsets from. The
 * program computes the expected output itself only to know when to stop
 * waiting; the test asserts what it prints.
 */
public final class StreamsScenarios {
  static final ObjectMapper JSON = new ObjectMapper();
  static final long WINDOW_MS = 10_000;
  static final long DEADLINE_MS = 90_000;
  static final long EOS_WAIT_MS = 30_000;

  final String bootstrap;
  final String prefix;
  final long base;
  final String appId;
  final String words, users, clicks, readings, wordsOut, joinOut, windowOut;

  StreamsScenarios(String bootstrap, String prefix, long base) {
    this.bootstrap = bootstrap;
    this.prefix = prefix;
    this.base = base;
    this.appId = prefix + "-app";
    words = prefix + "-words";
    users = prefix + "-users";
    clicks = prefix + "-clicks";
    readings = prefix + "-readings";
    wordsOut = prefix + "-word-counts";
    joinOut = prefix + "-enriched-clicks";
    windowOut = prefix + "-window-sums";
  }

  public static void main(String[] args) throws Exception {
    StreamsScenarios s = new StreamsScenarios(args[0], args[1], Long.parseLong(args[2]));
    int rc = 0;
    try {
      if (args[3].equals("at_least_once")) s.atLeastOnce();
      else if (args[3].equals("exactly_once_v2")) s.exactlyOnceV2();
      else throw new IllegalArgumentException("unknown scenario " + args[3]);
    } catch (Throwable t) {
      emit(Map.of("scenario", args[3], "fatal", chain(t)));
      rc = 1;
    }
    System.out.flush();
    System.exit(rc);
  }

  static void emit(Object o) throws IOException {
    System.out.println(JSON.writeValueAsString(o));
    System.out.flush();
  }

  static String chain(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (sb.length() > 0) sb.append(" <- ");
      sb.append(c.getClass().getName()).append(": ").append(c.getMessage());
    }
    return sb.toString();
  }

  // ---- input -------------------------------------------------------------

  static final List<String> LINES_1 = List.of("the quick brown fox", "jumps over the lazy dog", "The dog barks", "a fox a dog");
  static final List<String> LINES_2 = List.of("the fox returns", "dog days");
  /** user -> region (the table), all written before any click. */
  static final List<String[]> USERS = List.of(new String[] {"alice", "eu"}, new String[] {"bob", "us"}, new String[] {"carol", "apac"});
  /** "user:page", keyed by nothing: the topology re-keys them by user (a repartition). */
  static final List<String> CLICKS_1 = List.of("alice:home", "bob:cart", "dave:home", "alice:cart");
  static final List<String> CLICKS_2 = List.of("carol:home", "bob:checkout");
  /** sensor, event time offset from BASE_MS, amount. */
  static final List<Object[]> READINGS_1 = List.of(
      new Object[] {"s1", 0L, 5L}, new Object[] {"s1", 3_000L, 7L}, new Object[] {"s2", 9_999L, 1L},
      new Object[] {"s1", 10_000L, 2L}, new Object[] {"s2", 12_000L, 4L}, new Object[] {"s1", 25_000L, 10L});
  /** Into windows that already have state before the restart, and a new one. */
  static final List<Object[]> READINGS_2 = List.of(
      new Object[] {"s1", 4_000L, 100L}, new Object[] {"s2", 19_999L, 6L}, new Object[] {"s2", 30_000L, 3L});

  void createTopics() throws Exception {
    try (Admin admin = admin()) {
      List<NewTopic> topics = new ArrayList<>();
      for (String t : List.of(words, users, clicks, readings)) topics.add(new NewTopic(t, 2, (short) 1));
      for (String t : List.of(wordsOut, joinOut, windowOut)) topics.add(new NewTopic(t, 1, (short) 1));
      admin.createTopics(topics).all().get();
    }
  }

  void produce(List<String> lines, List<String[]> userRows, List<String> clickRows, List<Object[]> readingRows) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    long now = System.currentTimeMillis();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      // The table first, stamped before every click, so every click finds it.
      for (String[] u : userRows) producer.send(new ProducerRecord<>(users, null, base - 60_000, u[0], u[1])).get();
      int i = 0;
      for (String l : lines) producer.send(new ProducerRecord<>(words, null, now, "line-" + (i++), l));
      i = 0;
      for (String c : clickRows) producer.send(new ProducerRecord<>(clicks, null, base + (i++), null, c));
      for (Object[] r : readingRows) producer.send(new ProducerRecord<>(readings, null, base + (Long) r[1], (String) r[0], Long.toString((Long) r[2])));
      producer.flush();
    }
  }

  // ---- topology ----------------------------------------------------------

  org.apache.kafka.streams.Topology topology() {
    StreamsBuilder b = new StreamsBuilder();
    // Word count: re-keyed by word (repartition topic), counted in a
    // key-value store (changelog topic).
    b.stream(words, Consumed.with(Serdes.String(), Serdes.String()))
        .flatMapValues(v -> Arrays.asList(v.toLowerCase().split("\\s+")))
        .groupBy((k, w) -> w, Grouped.with("by-word", Serdes.String(), Serdes.String()))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("word-counts"))
        .toStream()
        .mapValues(v -> Long.toString(v))
        .to(wordsOut, Produced.with(Serdes.String(), Serdes.String()));
    // Stream-table join: clicks re-keyed by user, joined with the users table.
    KTable<String, String> userTable = b.table(users, Consumed.with(Serdes.String(), Serdes.String()),
        Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("users"));
    b.stream(clicks, Consumed.with(Serdes.String(), Serdes.String()))
        .selectKey((k, v) -> v.substring(0, v.indexOf(':')))
        .join(userTable, (click, region) -> region + "/" + click.substring(click.indexOf(':') + 1),
            Joined.with(Serdes.String(), Serdes.String(), Serdes.String(), "clicks-by-user"))
        .to(joinOut, Produced.with(Serdes.String(), Serdes.String()));
    // Windowed aggregation: sums per sensor over 10 s tumbling windows of event time.
    b.stream(readings, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(WINDOW_MS), Duration.ofMinutes(30)))
        .aggregate(() -> 0L, (k, v, sum) -> sum + Long.parseLong(v),
            Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("window-sums").withValueSerde(Serdes.Long()))
        .toStream()
        .map((wk, v) -> KeyValue.pair(wk.key() + "@" + (wk.window().start() - base), Long.toString(v)))
        .to(windowOut, Produced.with(Serdes.String(), Serdes.String()));
    return b.build();
  }

  Properties streamsProps(String guarantee, Path stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
    // Purge consumed repartition records (DeleteRecords) at every commit.
    p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, "0");
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    return p;
  }

  /** A running KafkaStreams with the uncaught error and the restored record counts recorded. */
  static final class Run {
    final KafkaStreams streams;
    final AtomicReference<Throwable> error = new AtomicReference<>();
    final Map<String, Long> restored = new ConcurrentHashMap<>();

    Run(org.apache.kafka.streams.Topology t, Properties p) {
      streams = new KafkaStreams(t, p);
      streams.setUncaughtExceptionHandler(e -> {
        error.compareAndSet(null, e);
        return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      streams.setGlobalStateRestoreListener(new StateRestoreListener() {
        public void onRestoreStart(TopicPartition tp, String store, long start, long end) {}
        public void onBatchRestored(TopicPartition tp, String store, long end, long n) {
          restored.merge(store, n, Long::sum);
        }
        public void onRestoreEnd(TopicPartition tp, String store, long total) {}
      });
      streams.start();
    }

    /** Closes and leaves the group, so that a restarted app is not held up until the old member's session times out. */
    void close() {
      close(Duration.ofSeconds(60));
    }

    /** As close(), waiting at most `timeout`; true if the app shut down in time. */
    boolean close(Duration timeout) {
      return streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(timeout));
    }
  }

  // ---- output ------------------------------------------------------------

  /** What the output topics hold: the latest count per word, every join result, the latest sum per window. */
  static final class Output {
    final Map<String, String> counts = new TreeMap<>();
    final List<String> joins = new ArrayList<>();
    final Map<String, String> windows = new TreeMap<>();

    Map<String, Object> json() {
      List<String> sorted = new ArrayList<>(joins);
      Collections.sort(sorted);
      return Map.of("counts", counts, "joins", sorted, "windows", windows);
    }
  }

  static Output expected(List<List<String>> lines, List<List<String>> clickRows, List<List<Object[]>> readingRows) {
    Output o = new Output();
    Map<String, Long> c = new TreeMap<>();
    for (List<String> ls : lines) for (String l : ls) for (String w : l.toLowerCase().split("\\s+")) c.merge(w, 1L, Long::sum);
    c.forEach((k, v) -> o.counts.put(k, Long.toString(v)));
    Map<String, String> region = new TreeMap<>();
    for (String[] u : USERS) region.put(u[0], u[1]);
    for (List<String> cs : clickRows) for (String cl : cs) {
      String[] uv = cl.split(":");
      if (region.containsKey(uv[0])) o.joins.add(uv[0] + "=" + region.get(uv[0]) + "/" + uv[1]);
    }
    Map<String, Long> w = new TreeMap<>();
    for (List<Object[]> rs : readingRows) for (Object[] r : rs) {
      long start = ((Long) r[1] / WINDOW_MS) * WINDOW_MS;
      w.merge(r[0] + "@" + start, (Long) r[2], Long::sum);
    }
    w.forEach((k, v) -> o.windows.put(k, Long.toString(v)));
    return o;
  }

  KafkaConsumer<String, String> outputConsumer(String isolation) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    KafkaConsumer<String, String> c = new KafkaConsumer<>(p);
    List<TopicPartition> tps = List.of(new TopicPartition(wordsOut, 0), new TopicPartition(joinOut, 0), new TopicPartition(windowOut, 0));
    c.assign(tps);
    c.seekToBeginning(tps);
    return c;
  }

  /**
   * Reads the output topics until they hold `want` (or the deadline passes,
   * or the Streams app fails); returns what they hold.
   */
  Output await(KafkaConsumer<String, String> c, Output seen, Output want, Run run, long waitMs) {
    long deadline = System.currentTimeMillis() + waitMs;
    while (System.currentTimeMillis() < deadline && run.error.get() == null) {
      for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
        if (r.topic().equals(wordsOut)) seen.counts.put(r.key(), r.value());
        else if (r.topic().equals(joinOut)) seen.joins.add(r.key() + "=" + r.value());
        else seen.windows.put(r.key(), r.value());
      }
      if (seen.json().equals(want.json())) break;
    }
    return seen;
  }

  /** The application's internal topics (repartition, changelog) with their partition counts and explicitly set configs. */
  Map<String, Object> internalTopics() throws Exception {
    try (Admin admin = admin()) {
      Set<String> names = new TreeSet<>();
      for (String n : admin.listTopics().names().get()) if (n.startsWith(appId + "-")) names.add(n);
      Map<String, TopicDescription> desc = admin.describeTopics(names).allTopicNames().get();
      List<ConfigResource> res = names.stream().map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).collect(Collectors.toList());
      Map<ConfigResource, Config> configs = admin.describeConfigs(res).all().get();
      Map<String, Object> out = new TreeMap<>();
      for (String n : names) {
        Map<String, String> set = new TreeMap<>();
        for (ConfigEntry e : configs.get(new ConfigResource(ConfigResource.Type.TOPIC, n)).entries()) {
          if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) set.put(e.name(), e.value());
        }
        out.put(n.substring(appId.length() + 1), Map.of("partitions", desc.get(n).partitions().size(), "configs", set));
      }
      return out;
    }
  }

  /**
   * The log start offsets of the repartition topics, summed over partitions,
   * once they reach their end offsets (Streams deletes the records it has
   * consumed and committed), or at the deadline.
   */
  Map<String, Long> repartitionPurged(Run run) throws Exception {
    List<String> topics = List.of(appId + "-by-word-repartition", appId + "-clicks-by-user-repartition");
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (String t : topics) for (var pi : c.partitionsFor(t)) tps.add(new TopicPartition(t, pi.partition()));
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      Map<String, Long> start = new TreeMap<>();
      for (;;) {
        Map<TopicPartition, Long> begin = c.beginningOffsets(tps);
        Map<TopicPartition, Long> end = c.endOffsets(tps);
        start.clear();
        begin.forEach((tp, o) -> start.merge(tp.topic().substring(appId.length() + 1), o, Long::sum));
        if (begin.equals(end) || System.currentTimeMillis() > deadline || run.error.get() != null) return start;
        Thread.sleep(100);
      }
    }
  }

  /** The application's consumer group as the Admin client describes it while the app runs. */
  Map<String, Object> group() throws Exception {
    try (Admin admin = admin()) {
      var g = admin.describeConsumerGroups(List.of(appId)).all().get().get(appId);
      return Map.of("assignor", g.partitionAssignor(), "state", g.groupState().toString(), "members", g.members().size(),
          "type", g.type().toString());
    }
  }

  /** The group's committed offsets summed per input topic. */
  Map<String, Long> committed() throws Exception {
    try (Admin admin = admin()) {
      Map<String, Long> out = new TreeMap<>();
      admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get().forEach((tp, om) -> {
        if (tp.topic().startsWith(prefix + "-") && !tp.topic().startsWith(appId + "-")) out.merge(tp.topic().substring(prefix.length() + 1), om.offset(), Long::sum);
      });
      return out;
    }
  }

  Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return Admin.create(p);
  }

  static Path tempDir() throws IOException {
    return Files.createTempDirectory("samsa-streams-");
  }

  /** Removes a state directory; a Streams thread still shutting down may write into it, so this tries a few times. */
  static void deleteTree(Path p) throws IOException, InterruptedException {
    for (int attempt = 0; ; attempt++) {
      if (!Files.exists(p)) return;
      try (var s = Files.walk(p)) {
        for (Path f : s.sorted(Collections.reverseOrder()).collect(Collectors.toList())) Files.deleteIfExists(f);
        return;
      } catch (IOException | java.io.UncheckedIOException e) {
        if (attempt == 20) throw e;
        Thread.sleep(250);
      }
    }
  }

  // ---- scenarios ---------------------------------------------------------

  void atLeastOnce() throws Exception {
    createTopics();
    produce(LINES_1, USERS, CLICKS_1, READINGS_1);
    Output want1 = expected(List.of(LINES_1), List.of(CLICKS_1), List.of(READINGS_1));
    Path state1 = tempDir();
    Output seen = new Output();
    try (KafkaConsumer<String, String> c = outputConsumer("read_uncommitted")) {
      long t0 = System.currentTimeMillis();
      Run run = new Run(topology(), streamsProps(StreamsConfig.AT_LEAST_ONCE, state1));
      await(c, seen, want1, run, DEADLINE_MS);
      Map<String, Object> r = new TreeMap<>(seen.json());
      r.put("phase", "first-run");
      r.put("error", run.error.get() == null ? null : chain(run.error.get()));
      r.put("outputMs", System.currentTimeMillis() - t0);
      r.put("internalTopics", internalTopics());
      r.put("group", group());
      r.put("repartitionStart", repartitionPurged(run));
      long t1 = System.currentTimeMillis();
      run.close();
      r.put("closeMs", System.currentTimeMillis() - t1);
      r.put("stateAfterClose", run.streams.state().toString());
      r.put("committed", committed());
      emit(r);
      deleteTree(state1);

      // The restart: a fresh state directory, so the stores come back from
      // their changelogs; the input resumes from the committed offsets.
      produce(LINES_2, List.of(), CLICKS_2, READINGS_2);
      Output want2 = expected(List.of(LINES_1, LINES_2), List.of(CLICKS_1, CLICKS_2), List.of(READINGS_1, READINGS_2));
      Path state2 = tempDir();
      long t2 = System.currentTimeMillis();
      Run run2 = new Run(topology(), streamsProps(StreamsConfig.AT_LEAST_ONCE, state2));
      await(c, seen, want2, run2, DEADLINE_MS);
      Map<String, Object> r2 = new TreeMap<>(seen.json());
      r2.put("phase", "restart");
      r2.put("error", run2.error.get() == null ? null : chain(run2.error.get()));
      r2.put("outputMs", System.currentTimeMillis() - t2);
      r2.put("restored", new TreeMap<>(run2.restored));
      run2.close();
      emit(r2);
      deleteTree(state2);
    }
  }

  /** What KafkaProducer.initTransactions() (the call Streams' EOS v2 producer makes first) gets: "ok" or the error chain. */
  String initTransactionsProbe() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, appId + "-probe");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      producer.initTransactions();
      return "ok";
    } catch (Exception e) {
      return chain(e);
    }
  }

  void exactlyOnceV2() throws Exception {
    createTopics();
    produce(LINES_1, List.of(), List.of(), List.of());
    Output want = expected(List.of(LINES_1), List.of(), List.of());
    Path state = tempDir();
    Properties p = streamsProps(StreamsConfig.EXACTLY_ONCE_V2, state);
    // Streams retries initTransactions() every max.block.ms for as long as it
    // times out, without surfacing an error: the scenario waits EOS_WAIT_MS
    // for the output, and probes what the transactional producer gets.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_BLOCK_MS_CONFIG), "5000");
    try (KafkaConsumer<String, String> c = outputConsumer("read_committed")) {
      Run run = new Run(topology(), p);
      var probe = java.util.concurrent.CompletableFuture.supplyAsync(this::initTransactionsProbe);
      Output seen = await(c, new Output(), want, run, EOS_WAIT_MS);
      Map<String, Object> r = new TreeMap<>(seen.json());
      r.put("phase", "exactly_once_v2");
      r.put("error", run.error.get() == null ? null : chain(run.error.get()));
      r.put("stateWhileWaiting", run.streams.state().toString());
      r.put("initTransactions", probe.get());
      // A thread stuck in initTransactions() takes long to close; main()'s
      // System.exit ends whatever is still running after 5 s.
      r.put("closedInTime", run.close(Duration.ofSeconds(5)));
      emit(r);
    }
    deleteTree(state);
  }
}
