import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client over SASL_PLAINTEXT with OAUTHBEARER: produces one record
 * and reads it back. args: bootstrap, topic, and either "token-file PATH"
 * (KIP-768's OAuthBearerLoginCallbackHandler reading a JWT from a file:
 * sasl.oauthbearer.token.endpoint.url=file://PATH; the JVM must allow the URL
 * with -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls) or "unsecured NAME"
 * (the login module's own unsigned token for principal NAME). Prints one JSON
 * line: {"ok", "values", "error", "message"}.
 */
public class OAuthClient {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    Properties common = new Properties();
    common.put("bootstrap.servers", bootstrap);
    common.put("security.protocol", "SASL_PLAINTEXT");
    common.put("sasl.mechanism", "OAUTHBEARER");
    if (args[2].equals("token-file")) {
      common.put(
          "sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;");
      common.put(
          "sasl.login.callback.handler.class",
          "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler");
      common.put("sasl.oauthbearer.token.endpoint.url", "file://" + args[3]);
    } else {
      common.put(
          "sasl.jaas.config",
          "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\""
              + args[3]
              + "\";");
    }
    Map<String, Object> out = new LinkedHashMap<>();
    List<String> values = new ArrayList<>();
    try {
      Properties pp = new Properties();
      pp.putAll(common);
      pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
      try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
        p.send(new ProducerRecord<>(topic, "k", "hello-oauth-java")).get();
      }
      Properties cp = new Properties();
      cp.putAll(common);
      cp.put(ConsumerConfig.GROUP_ID_CONFIG, "g-" + topic);
      cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
        c.subscribe(List.of(topic));
        long deadline = System.currentTimeMillis() + 30_000;
        while (values.isEmpty() && System.currentTimeMillis() < deadline)
          for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) values.add(r.value());
      }
      out.put("ok", values.equals(List.of("hello-oauth-java")));
    } catch (Throwable t) {
      Throwable c = t;
      while (c.getCause() != null && c.getCause() != c) c = c.getCause();
      out.put("ok", false);
      out.put("error", c.getClass().getSimpleName());
      out.put("message", String.valueOf(c.getMessage()));
    }
    out.put("values", values);
    System.out.println(new ObjectMapper().writeValueAsString(out));
    System.exit(0);
  }
}
