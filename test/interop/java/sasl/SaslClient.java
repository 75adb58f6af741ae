import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client over SASL_PLAINTEXT: produces one record at a time for
 * DURATION_MS (re-authenticating when the broker gives a session lifetime,
 * KIP-368), then reads them back. Prints one JSON line:
 * {"sent": n, "consumed": n, "error": null | "ExceptionClass: message"}.
 *
 * usage: SaslClient BOOTSTRAP MECHANISM USERNAME PASSWORD TOPIC DURATION_MS
 */
public class SaslClient {
  public static void main(String[] args) {
    String bootstrap = args[0], mechanism = args[1], user = args[2], password = args[3], topic = args[4];
    long durationMs = Long.parseLong(args[5]);
    String module = mechanism.equals("PLAIN")
        ? "org.apache.kafka.common.security.plain.PlainLoginModule"
        : "org.apache.kafka.common.security.scram.ScramLoginModule";
    Properties common = new Properties();
    common.put("bootstrap.servers", bootstrap);
    common.put("security.protocol", "SASL_PLAINTEXT");
    common.put("sasl.mechanism", mechanism);
    common.put("sasl.jaas.config",
        module + " required username=\"" + user + "\" password=\"" + password + "\";");
    common.put("max.block.ms", "20000");
    int sent = 0;
    int consumed = 0;
    String error = null;
    try {
      Properties p = new Properties();
      p.putAll(common);
      p.put("key.serializer", StringSerializer.class.getName());
      p.put("value.serializer", StringSerializer.class.getName());
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
        long end = System.currentTimeMillis() + durationMs;
        do {
          producer.send(new ProducerRecord<>(topic, "m" + sent)).get();
          sent++;
        } while (System.currentTimeMillis() < end);
      }
      Properties c = new Properties();
      c.putAll(common);
      c.put("group.id", "g-" + topic);
      c.put("auto.offset.reset", "earliest");
      c.put("key.deserializer", StringDeserializer.class.getName());
      c.put("value.deserializer", StringDeserializer.class.getName());
      try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
        consumer.subscribe(List.of(topic));
        long deadline = System.currentTimeMillis() + 30000;
        while (consumed < sent && System.currentTimeMillis() < deadline) {
          for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) consumed++;
        }
      }
    } catch (Exception e) {
      Throwable t = e.getCause() != null && e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
      error = t.getClass().getSimpleName() + ": " + t.getMessage();
    }
    System.out.println("{\"sent\": " + sent + ", \"consumed\": " + consumed + ", \"error\": "
        + (error == null ? "null" : "\"" + error.replace("\\", "\\\\").replace("\"", "'") + "\"") + "}");
  }
}
