import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Producer and consumer scenarios of the Java client (kafka-clients), run one
 * after the other in one JVM against the broker at args[0]. Topic and group
 * names start with args[1]. Each scenario prints one JSON line:
 * {"scenario": name, ...its results} or {"scenario": name, "error": class, "message": ...}.
 * Results hold only what must be the same on any Kafka-compatible broker
 * (records, offsets, assignment sizes, error classes), never ids or times.
 * args[2..] optionally names the scenarios to run (default: all).
 */
public class ClientScenarios {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration POLL = Duration.ofMillis(100);
  static final long DEADLINE_MS = 60_000;
  static String bootstrap;
  static String prefix;
  static Admin admin;

  public static void main(String[] args) throws Exception {
    bootstrap = args[0];
    prefix = args[1];
    Set<String> only = new HashSet<>(Arrays.asList(args).subList(2, args.length));
    Properties ap = new Properties();
    ap.put("bootstrap.servers", bootstrap);
    admin = Admin.create(ap);
    Map<String, Callable<Map<String, Object>>> scenarios = new LinkedHashMap<>();
    scenarios.put("producer-defaults", ClientScenarios::producerDefaults);
    for (String type : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
      scenarios.put("compression-" + type, () -> compression(type));
    }
    scenarios.put("auto-create", ClientScenarios::autoCreate);
    scenarios.put("read-committed", ClientScenarios::readCommitted);
    scenarios.put("headers", ClientScenarios::headers);
    scenarios.put("large-records", ClientScenarios::largeRecords);
    scenarios.put("seek", ClientScenarios::seek);
    scenarios.put("offsets-for-times", ClientScenarios::offsetsForTimes);
    scenarios.put("log-start", ClientScenarios::logStart);
    scenarios.put("log-append-time", ClientScenarios::logAppendTime);
    scenarios.put("commit-unknown-topic", ClientScenarios::commitUnknownTopic);
    scenarios.put("classic-commit", ClientScenarios::classicCommit);
    scenarios.put("classic-rebalance-commit", ClientScenarios::classicRebalanceCommit);
    scenarios.put("cooperative-sticky", ClientScenarios::cooperativeSticky);
    scenarios.put("static-membership", ClientScenarios::staticMembership);
    scenarios.put("kip848", ClientScenarios::kip848);
    scenarios.put("kip848-range-regex", ClientScenarios::kip848RangeRegex);
    scenarios.put("kip848-static", ClientScenarios::kip848Static);
    scenarios.put("transactions", ClientScenarios::transactions);
    scenarios.put("transaction-offsets", ClientScenarios::transactionOffsets);
    for (Map.Entry<String, Callable<Map<String, Object>>> e : scenarios.entrySet()) {
      if (!only.isEmpty() && !only.contains(e.getKey())) continue;
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("scenario", e.getKey());
      long start = System.nanoTime();
      try {
        out.putAll(e.getValue().call());
      } catch (Throwable t) {
        out.put("error", t.getClass().getName());
        out.put("message", String.valueOf(t.getMessage()));
        t.printStackTrace();
      }
      System.err.printf("scenario %s took %d ms%n", e.getKey(), (System.nanoTime() - start) / 1_000_000);
      System.out.println(JSON.writeValueAsString(out));
      System.out.flush();
    }
    admin.close();
  }

  // ---------------------------------------------------------------- helpers

  static String topic(String name, int partitions, Map<String, String> configs) throws Exception {
    String t = prefix + "-" + name;
    admin.createTopics(List.of(new NewTopic(t, partitions, (short) 1).configs(configs))).all().get();
    return t;
  }

  static String topic(String name, int partitions) throws Exception {
    return topic(name, partitions, Map.of());
  }

  static KafkaProducer<byte[], byte[]> producer(Map<String, Object> extra) {
    Map<String, Object> p = new HashMap<>();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.putAll(extra);
    return new KafkaProducer<>(p);
  }

  static KafkaConsumer<byte[], byte[]> consumer(Map<String, Object> extra) {
    Map<String, Object> p = new HashMap<>();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("auto.offset.reset", "earliest");
    p.put("enable.auto.commit", "false");
    p.putAll(extra);
    return new KafkaConsumer<>(p);
  }

  static byte[] b(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  static String s(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  /** Sends the records, waits for every acknowledgement, returns [partition, offset] of each. */
  static List<List<Object>> sendAll(KafkaProducer<byte[], byte[]> p, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
    List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
    for (ProducerRecord<byte[], byte[]> r : records) fs.add(p.send(r));
    p.flush();
    List<List<Object>> out = new ArrayList<>();
    for (java.util.concurrent.Future<RecordMetadata> f : fs) {
      RecordMetadata m = f.get();
      out.add(List.of(m.partition(), m.offset()));
    }
    return out;
  }

  /** Reads every partition of `topic` from the beginning until `expected` records came (or the deadline). */
  static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int expected, Map<String, Object> extra) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(extra)) {
      List<TopicPartition> tps = new ArrayList<>();
      c.partitionsFor(topic).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
      c.assign(tps);
      c.seekToBeginning(tps);
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      while (out.size() < expected && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) out.add(r);
      }
    }
    out.sort((x, y) -> x.partition() != y.partition() ? Integer.compare(x.partition(), y.partition()) : Long.compare(x.offset(), y.offset()));
    return out;
  }

  static List<Object> headerList(Iterable<Header> hs) {
    List<Object> out = new ArrayList<>();
    for (Header h : hs) out.add(Arrays.asList(h.key(), s(h.value())));
    return out;
  }

  static List<Integer> partitionsOf(Collection<TopicPartition> tps) {
    List<Integer> out = new ArrayList<>();
    for (TopicPartition tp : tps) out.add(tp.partition());
    out.sort(null);
    return out;
  }

  interface Cond {
    boolean ok() throws Exception;
  }

  /** Polls the consumers in turn until `cond` holds; throws if it does not within the deadline. */
  @SafeVarargs
  static void pollUntil(String what, Cond cond, KafkaConsumer<byte[], byte[]>... cs) throws Exception {
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    while (!cond.ok()) {
      if (System.currentTimeMillis() > deadline) throw new IllegalStateException("timed out waiting for " + what);
      for (KafkaConsumer<byte[], byte[]> c : cs) c.poll(POLL);
    }
  }

  static Map<String, Object> committed(KafkaConsumer<byte[], byte[]> c, String topic, int partitions) {
    Set<TopicPartition> tps = new HashSet<>();
    for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
    Map<String, Object> out = new TreeMap<>();
    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : c.committed(tps).entrySet()) {
      out.put(String.valueOf(e.getKey().partition()), e.getValue() == null ? null : List.of(e.getValue().offset(), e.getValue().metadata()));
    }
    return out;
  }

  // ---------------------------------------------------------------- producer

  /** The producer as configured by default (idempotent, acks=all): keyed records land by murmur2 and read back in order. */
  static Map<String, Object> producerDefaults() throws Exception {
    String t = topic("defaults", 3);
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 30; i++) rs.add(new ProducerRecord<>(t, b("k" + i), b("v" + i)));
    List<List<Object>> acks;
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      acks = sendAll(p, rs);
    }
    List<Object> read = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : readAll(t, 30, Map.of())) read.add(List.of(r.partition(), r.offset(), s(r.key()), s(r.value())));
    return Map.of("acks", acks, "read", read);
  }

  /** A send to a topic nobody created: the producer's Metadata request creates it (auto.create.topics.enable, num.partitions=1). */
  static Map<String, Object> autoCreate() throws Exception {
    String t = prefix + "-auto";
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      out.put("acks", sendAll(p, List.of(new ProducerRecord<>(t, b("k"), b("v")))));
      out.put("partitions", p.partitionsFor(t).size());
    }
    out.put("read", readAll(t, 1, Map.of()).size());
    return out;
  }

  /** A read_committed consumer of what producer-defaults wrote (no transactions): everything, and end offsets at the high watermark. */
  static Map<String, Object> readCommitted() throws Exception {
    String t = prefix + "-defaults";
    Map<String, Object> out = new LinkedHashMap<>();
    Map<String, Object> props = Map.of("isolation.level", "read_committed");
    out.put("read", readAll(t, 30, props).size());
    try (KafkaConsumer<byte[], byte[]> c = consumer(props)) {
      Map<String, Long> ends = new TreeMap<>();
      for (Map.Entry<TopicPartition, Long> e : c.endOffsets(List.of(new TopicPartition(t, 0), new TopicPartition(t, 1), new TopicPartition(t, 2))).entrySet()) {
        ends.put(String.valueOf(e.getKey().partition()), e.getValue());
      }
      out.put("endOffsets", ends);
    }
    return out;
  }

  /** One compression type: 500 records in batches, read back intact. */
  static Map<String, Object> compression(String type) throws Exception {
    String t = topic("compression-" + type, 1);
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 500; i++) rs.add(new ProducerRecord<>(t, b("key-" + i), b(("value " + i + " ").repeat(20))));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of("compression.type", type, "linger.ms", "50"))) {
      sendAll(p, rs);
    }
    List<ConsumerRecord<byte[], byte[]>> read = readAll(t, 500, Map.of());
    int intact = 0;
    for (int i = 0; i < read.size(); i++) {
      ConsumerRecord<byte[], byte[]> r = read.get(i);
      if (r.offset() == i && ("key-" + i).equals(s(r.key())) && ("value " + i + " ").repeat(20).equals(s(r.value()))) intact++;
    }
    return Map.of("read", read.size(), "intact", intact);
  }

  /** Headers (repeated keys, null and empty values, non-ASCII), a record without headers, a tombstone with a null key. */
  static Map<String, Object> headers() throws Exception {
    String t = topic("headers", 1);
    RecordHeaders hs = new RecordHeaders();
    hs.add("a", b("1"));
    hs.add("a", b("2"));
    hs.add("b", null);
    hs.add("", b(""));
    hs.add("ünï", b("välue"));
    List<ProducerRecord<byte[], byte[]>> rs = List.of(
        new ProducerRecord<>(t, null, b("k1"), b("with headers"), hs),
        new ProducerRecord<>(t, b("k2"), b("no headers")),
        new ProducerRecord<>(t, null, null));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      sendAll(p, rs);
    }
    List<Object> read = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : readAll(t, 3, Map.of())) read.add(Arrays.asList(r.offset(), s(r.key()), s(r.value()), headerList(r.headers())));
    return Map.of("read", read);
  }

  /**
   * A 1,000,000-byte record is stored and fetched by a consumer whose fetch
   * limits are smaller (KIP-74); one over the topic's max.message.bytes is
   * refused by the broker; one over max.request.size by the client.
   */
  static Map<String, Object> largeRecords() throws Exception {
    String t = topic("large", 1);
    String small = topic("large-small", 1, Map.of("max.message.bytes", "100000"));
    byte[] big = new byte[1_000_000];
    for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31);
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      out.put("bigAck", sendAll(p, List.of(new ProducerRecord<>(t, b("big"), big))));
      out.put("overTopicLimit", errorOf(() -> p.send(new ProducerRecord<>(small, new byte[200_000])).get()));
      out.put("overRequestLimit", errorOf(() -> p.send(new ProducerRecord<>(t, new byte[2_000_000])).get()));
      out.put("smallTopicStillTakes", sendAll(p, List.of(new ProducerRecord<>(small, new byte[50_000]))));
    }
    List<ConsumerRecord<byte[], byte[]>> read = readAll(t, 1, Map.of("max.partition.fetch.bytes", "65536", "fetch.max.bytes", "65536"));
    out.put("readCount", read.size());
    out.put("readIntact", read.size() == 1 && Arrays.equals(read.get(0).value(), big));
    return out;
  }

  interface Action {
    void run() throws Exception;
  }

  /** The class of the exception (or of its cause, for a future's ExecutionException) `a` throws, or null. */
  static String errorOf(Action a) {
    try {
      a.run();
      return null;
    } catch (java.util.concurrent.ExecutionException e) {
      return e.getCause().getClass().getName();
    } catch (Exception e) {
      return e.getClass().getName();
    }
  }

  // ---------------------------------------------------------------- consumer

  /** seek, seekToEnd, seekToBeginning, and a seek past the end with auto.offset.reset earliest and none. */
  static Map<String, Object> seek() throws Exception {
    String t = topic("seek", 1);
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 10; i++) rs.add(new ProducerRecord<>(t, b("v" + i)));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      sendAll(p, rs);
    }
    TopicPartition tp = new TopicPartition(t, 0);
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
      c.assign(List.of(tp));
      c.seek(tp, 5);
      List<Object> got = new ArrayList<>();
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      while (got.size() < 5 && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) got.add(List.of(r.offset(), s(r.value())));
      }
      out.put("fromFive", got);
      c.seekToEnd(List.of(tp));
      out.put("positionAtEnd", c.position(tp));
      c.seekToBeginning(List.of(tp));
      out.put("positionAtBeginning", c.position(tp));
      c.seek(tp, 100);
      ConsumerRecords<byte[], byte[]> rsAfterReset = ConsumerRecords.empty();
      deadline = System.currentTimeMillis() + DEADLINE_MS;
      while (rsAfterReset.isEmpty() && System.currentTimeMillis() < deadline) rsAfterReset = c.poll(POLL);
      out.put("pastEndResetTo", rsAfterReset.iterator().next().offset());
    }
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("auto.offset.reset", "none"))) {
      c.assign(List.of(tp));
      c.seek(tp, 100);
      out.put("pastEndWithResetNone", errorOf(() -> {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (System.currentTimeMillis() < deadline) c.poll(POLL);
      }));
    }
    return out;
  }

  /** offsetsForTimes between, at, after the records' timestamps; beginning and end offsets. */
  static Map<String, Object> offsetsForTimes() throws Exception {
    String t = topic("times", 1);
    long base = 1_700_000_000_000L;
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 5; i++) rs.add(new ProducerRecord<>(t, 0, base + i * 1000L, null, b("v" + i)));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      sendAll(p, rs);
    }
    TopicPartition tp = new TopicPartition(t, 0);
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
      for (long at : new long[] {0, base, base + 2500, base + 4000, base + 10_000}) {
        OffsetAndTimestamp o = c.offsetsForTimes(Map.of(tp, at)).get(tp);
        out.put("at+" + (at == 0 ? "zero" : String.valueOf(at - base)), o == null ? null : List.of(o.offset(), o.timestamp() - base));
      }
      out.put("beginning", c.beginningOffsets(List.of(tp)).get(tp));
      out.put("end", c.endOffsets(List.of(tp)).get(tp));
    }
    return out;
  }

  /** After Admin.deleteRecords: beginningOffsets, seekToBeginning, and a fetch below the log start (reset earliest, or none). */
  static Map<String, Object> logStart() throws Exception {
    String t = topic("log-start", 1);
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 10; i++) rs.add(new ProducerRecord<>(t, b("v" + i)));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      sendAll(p, rs);
    }
    TopicPartition tp = new TopicPartition(t, 0);
    admin.deleteRecords(Map.of(tp, org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(4))).all().get();
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
      c.assign(List.of(tp));
      out.put("beginning", c.beginningOffsets(List.of(tp)).get(tp));
      OffsetAndTimestamp o = c.offsetsForTimes(Map.of(tp, 0L)).get(tp);
      out.put("offsetForTimeZero", o == null ? null : o.offset());
      c.seekToBeginning(List.of(tp));
      out.put("positionAtBeginning", c.position(tp));
      c.seek(tp, 2);
      ConsumerRecords<byte[], byte[]> got = ConsumerRecords.empty();
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      while (got.isEmpty() && System.currentTimeMillis() < deadline) got = c.poll(POLL);
      out.put("belowStartResetTo", got.iterator().next().offset());
    }
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("auto.offset.reset", "none"))) {
      c.assign(List.of(tp));
      c.seek(tp, 2);
      out.put("belowStartWithResetNone", errorOf(() -> {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (System.currentTimeMillis() < deadline) c.poll(POLL);
      }));
    }
    return out;
  }

  /** A topic with message.timestamp.type=LogAppendTime: the broker's time in the acknowledgement and on every record. */
  static Map<String, Object> logAppendTime() throws Exception {
    String t = topic("log-append-time", 1, Map.of("message.timestamp.type", "LogAppendTime"));
    long created = 1_700_000_000_000L;
    long before = System.currentTimeMillis();
    RecordMetadata ack;
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      ack = p.send(new ProducerRecord<>(t, 0, created, null, b("v"))).get();
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("ackTimestampIsBrokerTime", ack.timestamp() >= before - 60_000 && ack.timestamp() != created);
    List<ConsumerRecord<byte[], byte[]>> read = readAll(t, 1, Map.of());
    out.put("timestampType", read.get(0).timestampType().toString());
    out.put("recordTimestampIsAckTimestamp", read.get(0).timestamp() == ack.timestamp());
    return out;
  }

  /** commitSync of an offset of a topic that does not exist, by a consumer with a group and no subscription. */
  static Map<String, Object> commitUnknownTopic() throws Exception {
    String group = prefix + "-commit-unknown";
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("group.id", group, "default.api.timeout.ms", "3000"))) {
      TopicPartition tp = new TopicPartition(prefix + "-no-such-topic", 0);
      out.put("commit", errorOf(() -> c.commitSync(Map.of(tp, new OffsetAndMetadata(3)))));
      out.put("committed", errorOf(() -> c.committed(Set.of(tp))));
    }
    return out;
  }

  /** A classic-protocol group member: subscribe, read all, commitSync, commitAsync with metadata, committed(). */
  static Map<String, Object> classicCommit() throws Exception {
    String t = topic("classic", 3);
    List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
    for (int i = 0; i < 30; i++) rs.add(new ProducerRecord<>(t, b("k" + i), b("v" + i)));
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
      sendAll(p, rs);
    }
    String group = prefix + "-classic";
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("group.id", group, "group.protocol", "classic"))) {
      c.subscribe(List.of(t));
      List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      while (got.size() < 30 && System.currentTimeMillis() < deadline) c.poll(POLL).forEach(got::add);
      out.put("read", got.size());
      out.put("assignment", partitionsOf(c.assignment()));
      c.commitSync();
      out.put("afterCommitSync", committed(c, t, 3));
      AtomicReference<String> asyncResult = new AtomicReference<>();
      c.commitAsync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(5, "async")), (offsets, e) -> asyncResult.set(e == null ? "ok" : e.getClass().getName()));
      c.commitSync(Map.of(new TopicPartition(t, 1), new OffsetAndMetadata(7, "sync")));
      out.put("asyncCallback", asyncResult.get());
      out.put("afterExplicitCommits", committed(c, t, 3));
    }
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("group.id", group, "group.protocol", "classic"))) {
      c.subscribe(List.of(t));
      List<Object> got = new ArrayList<>();
      Map<String, Long> firstOffsets = new TreeMap<>();
      long deadline = System.currentTimeMillis() + DEADLINE_MS;
      Map<TopicPartition, Long> ends = c.endOffsets(List.of(new TopicPartition(t, 0), new TopicPartition(t, 1), new TopicPartition(t, 2)));
      long remaining = ends.get(new TopicPartition(t, 0)) - 5 + ends.get(new TopicPartition(t, 1)) - 7;
      while (got.size() < remaining && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
          got.add(List.of(r.partition(), r.offset()));
          firstOffsets.putIfAbsent(String.valueOf(r.partition()), r.offset());
        }
      }
      // the resumed member starts at the committed offsets: 5 and 7 of partitions 0 and 1, the end of 2
      out.put("resumedRead", got.size());
      out.put("resumedFirstOffsets", firstOffsets);
    }
    return out;
  }

  /**
   * A commit while the group prepares a rebalance (a second member is joining
   * and the first has not rejoined yet): accepted, since the member's
   * generation is still the current one; after the rebalance the members
   * share the partitions (range) and commits succeed.
   */
  static Map<String, Object> classicRebalanceCommit() throws Exception {
    String t = topic("rebalance-commit", 3);
    String group = prefix + "-rebalance-commit";
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "classic", "heartbeat.interval.ms", "500");
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props); KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
      c1.subscribe(List.of(t));
      pollUntil("c1 assignment", () -> c1.assignment().size() == 3, c1);
      c2.subscribe(List.of(t));
      pollUntil("the group to prepare a rebalance", () -> admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState().toString().equals("PreparingRebalance"), c2);
      out.put("stateWhileJoining", "PreparingRebalance");
      out.put("commitDuringRebalance", errorOf(() -> c1.commitSync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(1)))));
      out.put("committedDuringRebalance", committed(c1, t, 1));
      pollUntil("both members to own partitions", () -> c1.assignment().size() + c2.assignment().size() == 3 && !c1.assignment().isEmpty() && !c2.assignment().isEmpty(), c1, c2);
      List<Integer> sizes = new ArrayList<>(List.of(c1.assignment().size(), c2.assignment().size()));
      sizes.sort(null);
      out.put("sizes", sizes);
      TopicPartition owned = c1.assignment().iterator().next();
      out.put("commitAfterRebalance", errorOf(() -> c1.commitSync(Map.of(owned, new OffsetAndMetadata(0)))));
      out.put("state", admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState().toString());
    }
    return out;
  }

  /** Two members with the cooperative-sticky assignor: the second joins and takes over only what moves, then leaves. */
  static Map<String, Object> cooperativeSticky() throws Exception {
    String t = topic("coop", 4);
    String group = prefix + "-coop";
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "classic",
        "partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor", "heartbeat.interval.ms", "500");
    Map<String, Object> out = new LinkedHashMap<>();
    List<Object> revoked1 = new ArrayList<>();
    List<Object> lost1 = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props)) {
      c1.subscribe(List.of(t), new ConsumerRebalanceListener() {
        public void onPartitionsRevoked(Collection<TopicPartition> ps) {
          if (!ps.isEmpty()) revoked1.add(partitionsOf(ps));
        }

        public void onPartitionsAssigned(Collection<TopicPartition> ps) {}

        public void onPartitionsLost(Collection<TopicPartition> ps) {
          lost1.add(partitionsOf(ps));
        }
      });
      pollUntil("c1 to own all partitions", () -> c1.assignment().size() == 4, c1);
      List<Integer> initial = partitionsOf(c1.assignment());
      out.put("c1Alone", initial);
      try (KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
        c2.subscribe(List.of(t));
        pollUntil("c2 to own partitions", () -> c2.assignment().size() == 2 && c1.assignment().size() == 2, c1, c2);
        Set<Integer> union = new TreeSet<>(partitionsOf(c1.assignment()));
        union.addAll(partitionsOf(c2.assignment()));
        out.put("sizes", List.of(c1.assignment().size(), c2.assignment().size()));
        out.put("union", new ArrayList<>(union));
        out.put("c1RevokedCount", revoked1.stream().mapToInt(x -> ((List<?>) x).size()).sum());
      }
      pollUntil("c1 to own all partitions again", () -> c1.assignment().size() == 4, c1);
      out.put("c1AfterC2Left", partitionsOf(c1.assignment()));
      out.put("c1Lost", lost1);
    }
    return out;
  }

  /**
   * KIP-345: a static member (group.instance.id) that closes and comes back
   * with the same id gets its partitions again in the same generation; a
   * second live member with the same id fences the first.
   */
  static Map<String, Object> staticMembership() throws Exception {
    String t = topic("static", 2);
    String group = prefix + "-static";
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "classic", "group.instance.id", "instance-1",
        "session.timeout.ms", "30000", "heartbeat.interval.ms", "500");
    Map<String, Object> out = new LinkedHashMap<>();
    int gen1;
    String member1;
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props)) {
      c1.subscribe(List.of(t));
      pollUntil("c1 assignment", () -> c1.assignment().size() == 2, c1);
      gen1 = c1.groupMetadata().generationId();
      member1 = c1.groupMetadata().memberId();
      out.put("assignment", partitionsOf(c1.assignment()));
      out.put("groupInstanceId", c1.groupMetadata().groupInstanceId().orElse(null));
    }
    ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    List<Object> membersAfterClose = new ArrayList<>();
    for (MemberDescription m : d.members()) membersAfterClose.add(m.groupInstanceId().orElse(null));
    out.put("membersAfterClose", membersAfterClose);
    try (KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
      c2.subscribe(List.of(t));
      pollUntil("c2 assignment", () -> c2.assignment().size() == 2, c2);
      out.put("rejoinSameGeneration", c2.groupMetadata().generationId() == gen1);
      out.put("rejoinNewMemberId", !c2.groupMetadata().memberId().equals(member1));
      out.put("rejoinAssignment", partitionsOf(c2.assignment()));
      try (KafkaConsumer<byte[], byte[]> c3 = consumer(props)) {
        c3.subscribe(List.of(t));
        AtomicReference<String> fenced = new AtomicReference<>();
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (fenced.get() == null && System.currentTimeMillis() < deadline) {
          c3.poll(POLL);
          fenced.set(errorOf(() -> c2.poll(POLL)));
        }
        out.put("duplicateInstanceFencesOld", fenced.get());
        pollUntil("c3 assignment", () -> c3.assignment().size() == 2, c3);
        out.put("newcomerAssignment", partitionsOf(c3.assignment()));
      }
    }
    return out;
  }

  /** KIP-848 (group.protocol=consumer): the broker assigns; a second member takes a share; commits; the group as Admin describes it. */
  static Map<String, Object> kip848() throws Exception {
    String t = topic("kip848", 3);
    String group = prefix + "-kip848";
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "consumer");
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props)) {
      c1.subscribe(List.of(t));
      pollUntil("c1 to own all partitions", () -> c1.assignment().size() == 3, c1);
      try (KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
        c2.subscribe(List.of(t));
        pollUntil("c2 to own a share", () -> c2.assignment().size() > 0 && c1.assignment().size() + c2.assignment().size() == 3, c1, c2);
        List<Integer> sizes = new ArrayList<>(List.of(c1.assignment().size(), c2.assignment().size()));
        sizes.sort(null);
        out.put("sizes", sizes);
        Set<Integer> union = new TreeSet<>(partitionsOf(c1.assignment()));
        union.addAll(partitionsOf(c2.assignment()));
        out.put("union", new ArrayList<>(union));
        List<ProducerRecord<byte[], byte[]>> rs = new ArrayList<>();
        for (int i = 0; i < 30; i++) rs.add(new ProducerRecord<>(t, b("k" + i), b("v" + i)));
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
          sendAll(p, rs);
        }
        Map<String, Integer> byOwner = new TreeMap<>();
        Set<String> seen = new HashSet<>();
        int dup = 0;
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (seen.size() < 30 && System.currentTimeMillis() < deadline) {
          for (KafkaConsumer<byte[], byte[]> c : List.of(c1, c2)) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
              if (!seen.add(r.partition() + "/" + r.offset())) dup++;
              if (!c.assignment().contains(new TopicPartition(t, r.partition()))) byOwner.merge("notOwner", 1, Integer::sum);
            }
          }
        }
        out.put("consumed", seen.size());
        out.put("duplicates", dup);
        out.put("fromNonOwners", byOwner.getOrDefault("notOwner", 0));
        c1.commitSync();
        c2.commitSync();
        Map<String, Object> committed = committed(c1, t, 3);
        long sum = 0;
        for (Object v : committed.values()) sum += v == null ? 0 : (Long) ((List<?>) v).get(0);
        out.put("committedSum", sum);
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        out.put("type", d.type().toString());
        out.put("state", d.groupState().toString());
        out.put("members", d.members().size());
      }
      pollUntil("c1 to own all partitions again", () -> c1.assignment().size() == 3, c1);
      out.put("c1AfterC2Left", partitionsOf(c1.assignment()));
    }
    return out;
  }

  /**
   * KIP-848 with group.remote.assignor=range and a pattern subscription (the
   * broker resolves the regex): two members share the matching topics; a
   * matching topic created later is assigned too.
   */
  static Map<String, Object> kip848RangeRegex() throws Exception {
    String group = prefix + "-kip848-rx";
    String t1 = topic("rx-a", 2);
    String t2 = topic("rx-b", 2);
    topic("other", 2);
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "consumer", "group.remote.assignor", "range");
    // a SubscriptionPattern (RE2J syntax) goes to the broker, which resolves it (a java.util.regex.Pattern the client resolves itself)
    org.apache.kafka.clients.consumer.SubscriptionPattern pattern = new org.apache.kafka.clients.consumer.SubscriptionPattern(prefix + "-rx-.*");
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props); KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
      c1.subscribe(pattern);
      pollUntil("c1 to own both matching topics", () -> c1.assignment().size() == 4, c1);
      out.put("c1Alone", names(c1.assignment()));
      c2.subscribe(pattern);
      pollUntil("c2 to own a share", () -> c1.assignment().size() == 2 && c2.assignment().size() == 2, c1, c2);
      // range: each member gets the same partition index of every topic
      out.put("rangeShares", List.of(names(c1.assignment()), names(c2.assignment())).stream().map(Object::toString).sorted().toList());
      topic("rx-c", 2);
      pollUntil("the new matching topic to be assigned", () -> c1.assignment().size() + c2.assignment().size() == 6, c1, c2);
      Set<String> all = new TreeSet<>(names(c1.assignment()));
      all.addAll(names(c2.assignment()));
      out.put("afterNewTopic", new ArrayList<>(all));
    }
    return out;
  }

  /** Partitions as "<topic without the prefix>:<partition>", sorted. */
  static List<String> names(Collection<TopicPartition> tps) {
    List<String> out = new ArrayList<>();
    for (TopicPartition tp : tps) out.add(tp.topic().substring(prefix.length() + 1) + ":" + tp.partition());
    out.sort(null);
    return out;
  }

  /**
   * KIP-848 static membership: a static member that closes and comes back
   * with its group.instance.id gets its partitions again; a second member
   * with the id of a live one is refused (UnreleasedInstanceIdException).
   */
  static Map<String, Object> kip848Static() throws Exception {
    String t = topic("kip848-static", 2);
    String group = prefix + "-kip848-static";
    Map<String, Object> props = Map.of("group.id", group, "group.protocol", "consumer", "group.instance.id", "s-1");
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaConsumer<byte[], byte[]> c1 = consumer(props)) {
      c1.subscribe(List.of(t));
      pollUntil("c1 assignment", () -> c1.assignment().size() == 2, c1);
      out.put("assignment", partitionsOf(c1.assignment()));
    }
    ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    List<Object> instances = new ArrayList<>();
    for (MemberDescription m : d.members()) instances.add(m.groupInstanceId().orElse(null));
    out.put("membersAfterClose", instances);
    try (KafkaConsumer<byte[], byte[]> c2 = consumer(props)) {
      c2.subscribe(List.of(t));
      pollUntil("c2 assignment", () -> c2.assignment().size() == 2, c2);
      out.put("rejoinAssignment", partitionsOf(c2.assignment()));
      try (KafkaConsumer<byte[], byte[]> c3 = consumer(props)) {
        c3.subscribe(List.of(t));
        AtomicReference<String> refused = new AtomicReference<>();
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (refused.get() == null && System.currentTimeMillis() < deadline) {
          refused.set(errorOf(() -> c3.poll(POLL)));
          c2.poll(POLL);
        }
        out.put("duplicateInstance", refused.get());
        out.put("liveMemberKeeps", partitionsOf(c2.assignment()));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- transactions

  /** A transactional producer: initTransactions, a committed transaction, read_committed reads it. */
  static Map<String, Object> transactions() throws Exception {
    String t = topic("txn", 1);
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of("transactional.id", prefix + "-txn", "max.block.ms", "5000"))) {
      try {
        p.initTransactions();
        out.put("initTransactions", null);
      } catch (Exception e) {
        out.put("initTransactions", e.getClass().getName());
        out.put("initTransactionsMessage", e.getMessage());
        return out;
      }
      p.beginTransaction();
      for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>(t, b("t" + i)));
      p.commitTransaction();
      List<Object> read = new ArrayList<>();
      for (ConsumerRecord<byte[], byte[]> r : readAll(t, 3, Map.of("isolation.level", "read_committed"))) read.add(List.of(r.offset(), s(r.value())));
      out.put("readCommitted", read);
      // a second producer with the same transactional.id fences this one
      try (KafkaProducer<byte[], byte[]> p2 = producer(Map.of("transactional.id", prefix + "-txn", "max.block.ms", "30000"))) {
        p2.initTransactions();
        try {
          p.beginTransaction();
          p.send(new ProducerRecord<>(t, b("fenced"))).get();
          p.commitTransaction();
          out.put("fenced", null);
        } catch (Exception e) {
          Throwable c = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
          out.put("fenced", c.getClass().getName());
        }
      }
    }
    return out;
  }

  /**
   * Consume-transform-produce offsets: sendOffsetsToTransaction in a committed
   * transaction (with transactions v2 a TxnOffsetCommit v5, no AddOffsetsToTxn),
   * in an aborted one, and alone in a transaction with no records; the group's
   * committed offsets and a read_committed consumer of the output after each.
   */
  static Map<String, Object> transactionOffsets() throws Exception {
    String in = topic("txo-in", 1);
    String outTopic = topic("txo-out", 1);
    String group = prefix + "-txo";
    TopicPartition tp = new TopicPartition(in, 0);
    Map<String, Object> out = new LinkedHashMap<>();
    try (KafkaProducer<byte[], byte[]> p = producer(Map.of("transactional.id", prefix + "-txo", "max.block.ms", "30000"))) {
      p.initTransactions();
      ConsumerGroupMetadata gm = new ConsumerGroupMetadata(group);
      p.beginTransaction();
      p.send(new ProducerRecord<>(outTopic, b("committed")));
      p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(2, "first")), gm);
      p.commitTransaction();
      out.put("afterCommit", groupOffsets(group, tp, 2));
      p.beginTransaction();
      // acknowledged before the abort (an unsent record would be dropped by abortTransaction, leaving no batch)
      p.send(new ProducerRecord<>(outTopic, b("aborted"))).get();
      p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(4, "second")), gm);
      p.abortTransaction();
      out.put("afterAbort", groupOffsets(group, tp, 2));
      p.beginTransaction();
      p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(3, "third")), gm);
      p.commitTransaction();
      out.put("afterOffsetsOnly", groupOffsets(group, tp, 3));
    }
    // a read_committed member of the group resumes at the committed offset
    try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of("group.id", group, "isolation.level", "read_committed"))) {
      c.assign(List.of(tp));
      out.put("position", c.position(tp));
    }
    List<Object> read = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : readAll(outTopic, 1, Map.of("isolation.level", "read_committed"))) read.add(List.of(r.offset(), s(r.value())));
    out.put("readCommitted", read);
    return out;
  }

  /**
   * The group's committed offset and metadata of `tp` (Admin listConsumerGroupOffsets), null when none, once it
   * is `expected` (the transaction's markers are written after commitTransaction returns) or at the deadline.
   */
  static Object groupOffsets(String group, TopicPartition tp, long expected) throws Exception {
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    for (;;) {
      OffsetAndMetadata m = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
      if ((m != null && m.offset() == expected) || System.currentTimeMillis() > deadline) {
        return m == null ? null : List.of(m.offset(), m.metadata());
      }
      Thread.sleep(50);
    }
  }
}
