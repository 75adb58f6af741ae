/*
 * Load generator for the benchmark harness, on librdkafka: the fixed-rate
 * latency producer and consumer, and the catch-up consumer.
 *
 *   latency produce '<json config>'     (or key=value ... instead of the JSON)
 *   latency consume '<json config>'
 *   latency catchup '<json config>'
 *   latency produce-max '<json config>'
 *
 * produce and consume: the same contract as
 * bench/harness/samsa-latency-client.ts, so the harness can run either:
 *
 *  - config: one flat JSON object: host, port, topic, partitions, size,
 *    acks (1 or -1), rate, warmupSec, seconds, lingerMs, maxInFlight,
 *    fetchMaxWaitMs, outFile; optional here: batchSize, tickUs; any key with
 *    a dot in it, and `debug`, is passed to librdkafka as a configuration
 *    property.
 *  - both print "ready\n" once connected, then read the start time (one
 *    line: CLOCK_MONOTONIC microseconds, the clock Node's process.hrtime
 *    reads) on stdin, and at the end print one JSON line of figures.
 *  - producer: message i is intended at start + i*1e6/rate; it has no key,
 *    so librdkafka's default partitioner places it (sticky for keyless
 *    messages: one partition at a time, switching every
 *    sticky.partitioning.linger.ms, as kcat's max-produce run and Kafka's
 *    Java producer do); with "partitioner": "roundrobin" it goes to
 *    partition i % partitions instead. Its value is `size` bytes whose first 16 are
 *    the intended time as 16 ASCII decimal digits (µs), the rest 'x'. The
 *    pacer wakes every tickUs (clock_nanosleep, absolute) and hands every
 *    message now due to librdkafka, which batches them for linger.ms.
 *    Stamps are the intended times, so a late sender shows as latency.
 *  - consumer: assigned to every partition at its end offset taken before
 *    'ready'; latency = time the message reaches the application - stamp,
 *    for stamps from start + warmup on; written to outFile as little-endian
 *    float64 µs. It waits for one message at a time (up to 100 ms) and then
 *    takes everything already queued in one call (rd_kafka_consume_batch_queue
 *    with no wait, up to 4096), all with the time of that call: a batch adds
 *    no wait, and costs librdkafka about half the CPU of one poll a message,
 *    which matters when the consumer has fallen behind and must catch up.
 *
 * catchup: the harness's max-throughput consume phase. Config keys host,
 * port, topic, partitions, expected (messages in all; 0 = whatever lies
 * between the watermarks), timeoutSec (default 300), fetchMaxWaitMs, batch
 * (messages per rd_kafka_consume_batch_queue call, default 10000; 0 =
 * rd_kafka_consumer_poll, one message a call, which took about twice the CPU
 * per message here), slice and slices (this process reads part `slice` of
 * `slices` of every partition's offsets, so that several processes share one
 * partition's backlog, or with at least as many partitions as slices, whole
 * partitions, balanced by backlog; default 0 of 1), tail (1: start at the
 * high watermarks, print "ready", read the start line, and read what is
 * produced from then on: until `expected` messages, or without it until
 * idleMs (default 2000) pass without a message (counted from the start
 * line if none came); seconds are then from the
 * start time to the last message), and
 * librdkafka properties as above.
 * Reads every partition's low and
 * high watermarks, assigns every partition at its low watermark (no group
 * join), and consumes until every partition has delivered the offsets
 * below its high watermark or `expected` messages came, counting messages
 * and value bytes (the payload is not read). Prints no "ready", only one
 * JSON line at the end: messages, bytes, seconds (from the assign to the
 * last message), cpu (getrusage, all threads, over the same span) and
 * cpuTotal (the whole process so far). Exits non-zero on any consumer error
 * (a message's, or librdkafka's error callback), or when fewer than
 * `expected` messages came within timeoutSec.
 *
 * produce-max: the harness's max-throughput produce phase. Config keys host,
 * port, topic, partitions, size, acks, messages (how many in all), lingerMs
 * (default 5) and batchSize (default 1000000), as kcat's run had them, and
 * librdkafka properties as above; no compression, the queue bounded only by
 * queue.buffering.max.kbytes (2 GB). Prints "ready" once the topic's
 * metadata came back, reads the start line (CLOCK_MONOTONIC µs, as above;
 * it starts then, or at once when that time has passed), and hands
 * `messages` keyless values of `size` bytes to librdkafka as fast as it
 * takes them, every one pointing at the same preallocated buffer (not
 * copied), to RD_KAFKA_PARTITION_UA (the sticky partitioner, as kcat), or
 * partition 0 when partitions is 1; on a full queue it serves delivery
 * reports and retries; then rd_kafka_flush. One JSON line: messages
 * (delivered), errors, seconds (start time to the last delivery report), cpu
 * (getrusage, all threads, over the same span). Exits non-zero on any
 * delivery error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* ---------------------------------------------------------------- config */

#define MAX_EXTRA 32

struct config {
  char host[256];
  int port;
  char topic[256];
  int partitions;
  int size;
  int acks;
  double rate;
  int64_t startUs;
  double warmupSec;
  double seconds;
  double lingerMs;
  int batchSize;
  int maxInFlight;
  int fetchMaxWaitMs;
  int tickUs;
  int roundRobin;
  int64_t expected;
  int64_t messages;
  double timeoutSec;
  int batch;
  int slice, slices;
  int tail; /* catchup: start at the high watermarks and read what is produced from now on */
  int idleMs; /* catchup with tail and no expected count: stop this long after the last message */
  char outFile[4096];
  int nextra;
  char extraKey[MAX_EXTRA][128];
  char extraVal[MAX_EXTRA][256];
};

static struct config cfg = {
    .host = "127.0.0.1",
    .port = 9092,
    .topic = "lat",
    .partitions = 1,
    .size = 1024,
    .acks = 1,
    .rate = 1000,
    .warmupSec = 1,
    .seconds = 2,
    .lingerMs = -1, /* the role's default: 1 ms for produce, 5 for produce-max */
    .batchSize = 1000000,
    .maxInFlight = 0,
    .fetchMaxWaitMs = 100,
    .tickUs = 500,
    .timeoutSec = 300,
    .batch = 10000,
};

static void die(const char *fmt, const char *a) {
  fprintf(stderr, "latency: ");
  fprintf(stderr, fmt, a);
  fputc('\n', stderr);
  exit(2);
}

static void copy_str(char *dst, size_t cap, const char *src) {
  if (strlen(src) >= cap) die("value too long: %s", src);
  strcpy(dst, src);
}

/* One key of the config; val is the string's text or a number's token. */
static void set_key(const char *key, const char *val) {
  if (!strcmp(key, "host")) copy_str(cfg.host, sizeof cfg.host, val);
  else if (!strcmp(key, "port")) cfg.port = atoi(val);
  else if (!strcmp(key, "topic")) copy_str(cfg.topic, sizeof cfg.topic, val);
  else if (!strcmp(key, "partitions")) cfg.partitions = atoi(val);
  else if (!strcmp(key, "size")) cfg.size = atoi(val);
  else if (!strcmp(key, "acks")) cfg.acks = (!strcmp(val, "all") || atoi(val) == -1) ? -1 : atoi(val);
  else if (!strcmp(key, "rate")) cfg.rate = strtod(val, NULL);
  else if (!strcmp(key, "startUs")) cfg.startUs = strtoll(val, NULL, 10);
  else if (!strcmp(key, "warmupSec")) cfg.warmupSec = strtod(val, NULL);
  else if (!strcmp(key, "seconds")) cfg.seconds = strtod(val, NULL);
  else if (!strcmp(key, "lingerMs")) cfg.lingerMs = strtod(val, NULL);
  else if (!strcmp(key, "batchSize")) cfg.batchSize = atoi(val);
  else if (!strcmp(key, "maxInFlight")) cfg.maxInFlight = atoi(val);
  else if (!strcmp(key, "fetchMaxWaitMs")) cfg.fetchMaxWaitMs = atoi(val);
  else if (!strcmp(key, "partitioner")) {
    if (!strcmp(val, "roundrobin")) cfg.roundRobin = 1;
    else if (!strcmp(val, "sticky")) cfg.roundRobin = 0;
    else die("partitioner must be sticky or roundrobin, not %s", val);
  }
  else if (!strcmp(key, "tickUs")) cfg.tickUs = atoi(val);
  else if (!strcmp(key, "expected")) cfg.expected = strtoll(val, NULL, 10);
  else if (!strcmp(key, "messages")) cfg.messages = strtoll(val, NULL, 10);
  else if (!strcmp(key, "timeoutSec")) cfg.timeoutSec = strtod(val, NULL);
  else if (!strcmp(key, "batch")) cfg.batch = atoi(val);
  else if (!strcmp(key, "slice")) cfg.slice = atoi(val);
  else if (!strcmp(key, "slices")) cfg.slices = atoi(val);
  else if (!strcmp(key, "tail")) cfg.tail = atoi(val);
  else if (!strcmp(key, "idleMs")) cfg.idleMs = atoi(val);
  else if (!strcmp(key, "outFile")) copy_str(cfg.outFile, sizeof cfg.outFile, val);
  else if (strchr(key, '.') || !strcmp(key, "debug")) {
    if (cfg.nextra == MAX_EXTRA) die("too many librdkafka properties at %s", key);
    copy_str(cfg.extraKey[cfg.nextra], sizeof cfg.extraKey[0], key);
    copy_str(cfg.extraVal[cfg.nextra], sizeof cfg.extraVal[0], val);
    cfg.nextra++;
  }
  /* other keys (e.g. the Node client's) are ignored */
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Reads a JSON string at p (on its opening quote) into out; returns the position after it. */
static const char *parse_string(const char *p, char *out, size_t cap) {
  size_t n = 0;
  if (*p != '"') die("expected a string at: %.40s", p);
  p++;
  while (*p && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      c = *p++;
      switch (c) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned v = 0;
          for (int k = 0; k < 4; k++) {
            char h = *p++;
            v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
          }
          c = v < 128 ? (char)v : '?';
          break;
        }
        case '\0': die("unterminated string%s", ""); break;
        default: break; /* \" \\ \/ */
      }
    }
    if (n + 1 >= cap) die("string too long at: %.40s", p);
    out[n++] = c;
  }
  if (*p != '"') die("unterminated string%s", "");
  out[n] = 0;
  return p + 1;
}

/* A flat JSON object of strings, numbers, true/false/null. */
static void parse_json(const char *s) {
  char key[256], val[4096];
  const char *p = skip_ws(s);
  if (*p != '{') die("config is not a JSON object: %.40s", p);
  p = skip_ws(p + 1);
  if (*p == '}') return;
  for (;;) {
    p = parse_string(skip_ws(p), key, sizeof key);
    p = skip_ws(p);
    if (*p != ':') die("expected ':' at: %.40s", p);
    p = skip_ws(p + 1);
    if (*p == '"') {
      p = parse_string(p, val, sizeof val);
    } else {
      size_t n = 0;
      while (*p && *p != ',' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
        if (*p == '{' || *p == '[') die("nested values are not supported: %.40s", p);
        if (n + 1 >= sizeof val) die("value too long at: %.40s", p);
        val[n++] = *p++;
      }
      val[n] = 0;
    }
    set_key(key, val);
    p = skip_ws(p);
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == '}') return;
    die("expected ',' or '}' at: %.40s", p);
  }
}

/* ------------------------------------------------------------------ util */

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t us) {
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* User + system CPU seconds of this process, all threads (librdkafka's too). */
static double cpu_sec(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void put_stamp(char *p, int64_t v) {
  for (int k = 15; k >= 0; k--) {
    p[k] = (char)('0' + v % 10);
    v /= 10;
  }
}

static int64_t read_stamp(const char *p) {
  int64_t v = 0;
  for (int k = 0; k < 16; k++) {
    unsigned c = (unsigned)(p[k] - '0');
    if (c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/* A growable array of doubles. */
struct vec {
  double *v;
  size_t n, cap;
};

static void vec_push(struct vec *a, double x) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 4096;
    a->v = realloc(a->v, a->cap * sizeof(double));
    if (!a->v) die("out of memory%s", "");
  }
  a->v[a->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts in place; the same rank as the Node client: floor(q/100 * n). */
static double pct(struct vec *a, double q, int sorted) {
  if (!a->n) return 0;
  if (!sorted) qsort(a->v, a->n, sizeof(double), cmp_double);
  size_t i = (size_t)floor(q / 100 * (double)a->n);
  return a->v[i < a->n ? i : a->n - 1];
}

/* Waits for the harness: prints ready, reads the start time. */
static void ready_and_start(void) {
  char line[64];
  fputs("ready\n", stdout);
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) die("stdin closed before the start time came%s", "");
  cfg.startUs = strtoll(line, NULL, 10);
  if (cfg.startUs <= 0) die("bad start time: %s", line);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "latency: %s=%s: %s\n", k, v, err);
    exit(2);
  }
}

static rd_kafka_conf_t *base_conf(void) {
  char buf[300];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  snprintf(buf, sizeof buf, "%s:%d", cfg.host, cfg.port);
  conf_set(conf, "bootstrap.servers", buf);
  conf_set(conf, "socket.nagle.disable", "true");
  /*
   * No statistics: building librdkafka's stats JSON every second stalled
   * delivery for 5-20 ms here (p99 at 52k msgs/s on 16 partitions went from
   * 13-16 to 8 ms without it). Requests are counted by an interceptor instead.
   */
  conf_set(conf, "statistics.interval.ms", "0");
  return conf;
}

static void apply_extra(rd_kafka_conf_t *conf) {
  for (int k = 0; k < cfg.nextra; k++) conf_set(conf, cfg.extraKey[k], cfg.extraVal[k]);
}

/* Requests of one API key (Produce 0, Fetch 1) sent, counted by an on_request_sent interceptor. */
static int counted_api_key = -1;
static atomic_llong requests_sent;

static rd_kafka_resp_err_t on_request_sent(rd_kafka_t *rk, int sockfd, const char *brokername, int32_t brokerid, int16_t ApiKey,
                                           int16_t ApiVersion, int32_t CorrId, size_t size, void *ic_opaque) {
  (void)rk, (void)sockfd, (void)brokername, (void)brokerid, (void)ApiVersion, (void)CorrId, (void)size, (void)ic_opaque;
  if (ApiKey == counted_api_key) atomic_fetch_add(&requests_sent, 1);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *ic_opaque, char *errstr, size_t errstr_size) {
  (void)conf, (void)ic_opaque, (void)errstr, (void)errstr_size;
  return rd_kafka_interceptor_add_on_request_sent(rk, "samsa-bench", on_request_sent, NULL);
}

/* Count the requests of `api_key` this client sends. */
static void count_requests(rd_kafka_conf_t *conf, int api_key) {
  counted_api_key = api_key;
  if (rd_kafka_conf_interceptor_add_on_new(conf, "samsa-bench", on_new, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR)
    die("cannot add the request-counting interceptor%s", "");
}

static int64_t client_errors; /* error_cb calls: the catch-up consumer fails on any */

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  client_errors++;
  fprintf(stderr, "latency: librdkafka: %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    fprintf(stderr, "latency: fatal: %s\n", buf);
    exit(1);
  }
}

/* ------------------------------------------------------------- producer */

static int64_t *handoff_us; /* per message: when it was handed to librdkafka */
static unsigned char *slot_busy;
static int64_t nslots;
static int64_t delivered, delivery_errors;
static char first_error[512];
static struct vec acks_us;

static int64_t last_dr_us; /* when the last delivery report was served */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk, (void)opaque;
  uint64_t o = (uint64_t)(uintptr_t)m->_private;
  int64_t i = (int64_t)(o >> 1);
  if (o & 1) slot_busy[i % nslots] = 0;
  last_dr_us = mono_us();
  if (m->err) {
    if (!delivery_errors++)
      snprintf(first_error, sizeof first_error, "%s (partition %" PRId32 ")", rd_kafka_err2str(m->err), m->partition);
    return;
  }
  delivered++;
  if (handoff_us) vec_push(&acks_us, (double)(last_dr_us - handoff_us[i]));
}

/*
 * The producer both producing roles share: the workload's acks, linger.ms and
 * batch.size, no compression, the queue limited only by its byte size, then
 * `props` (name, value pairs, NULL-terminated) and the config's own librdkafka
 * properties. Returns once the topic's metadata (and its partitions' leaders)
 * came back: connected.
 */
static rd_kafka_t *new_producer(rd_kafka_topic_t **rkt, const char *const *props) {
  char errstr[512], buf[64];
  rd_kafka_conf_t *conf = base_conf();
  conf_set(conf, "acks", cfg.acks == -1 ? "all" : cfg.acks == 0 ? "0" : "1");
  snprintf(buf, sizeof buf, "%g", cfg.lingerMs);
  conf_set(conf, "linger.ms", buf);
  snprintf(buf, sizeof buf, "%d", cfg.batchSize);
  conf_set(conf, "batch.size", buf);
  conf_set(conf, "compression.codec", "none");
  conf_set(conf, "queue.buffering.max.messages", "0"); /* no limit on count; the byte limit below applies */
  conf_set(conf, "queue.buffering.max.kbytes", "2097151");
  conf_set(conf, "message.max.bytes", "2000000");
  if (cfg.maxInFlight > 0) {
    snprintf(buf, sizeof buf, "%d", cfg.maxInFlight);
    conf_set(conf, "max.in.flight.requests.per.connection", buf);
  }
  for (; props[0]; props += 2) conf_set(conf, props[0], props[1]);
  apply_extra(conf);
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  count_requests(conf, 0);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) die("rd_kafka_new: %s", errstr);
  *rkt = rd_kafka_topic_new(rk, cfg.topic, NULL);

  const struct rd_kafka_metadata *md;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, *rkt, &md, 30000);
  if (err) die("metadata: %s", rd_kafka_err2str(err));
  if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < cfg.partitions)
    die("topic %s is missing or has too few partitions", cfg.topic);
  rd_kafka_metadata_destroy(md);
  return rk;
}

/* Hands one message to librdkafka; while its queue is full, serves delivery reports and retries. */
static void produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, int flags, char *p, size_t len, void *opaque) {
  while (rd_kafka_produce(rkt, partition, flags, p, len, NULL, 0, opaque) == -1) {
    rd_kafka_resp_err_t e = rd_kafka_last_error();
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
    rd_kafka_poll(rk, 1);
  }
}

/* Exit code after the flush: 1 (with the reason on stderr) when it timed out or any delivery failed. Destroys the producer. */
static int finish_producer(rd_kafka_t *rk, rd_kafka_topic_t *rkt, rd_kafka_resp_err_t ferr) {
  int rc = 0;
  if (ferr) {
    fprintf(stderr, "latency: flush: %s (%d messages not delivered)\n", rd_kafka_err2str(ferr), rd_kafka_outq_len(rk));
    rc = 1;
  }
  if (delivery_errors) {
    fprintf(stderr, "latency: %" PRId64 " delivery errors, first: %s\n", delivery_errors, first_error);
    rc = 1;
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return rc;
}

static int produce_main(void) {
  static const char *const props[] = {NULL};
  rd_kafka_topic_t *rkt;
  rd_kafka_t *rk = new_producer(&rkt, props);

  const int64_t total = (int64_t)floor(cfg.rate * (cfg.warmupSec + cfg.seconds));
  const double interval = 1e6 / cfg.rate;
  const int size = cfg.size;
  /* values live in a ring of preallocated slots (no copy); a slot still awaiting its delivery report is not reused: that message is copied */
  nslots = (64LL << 20) / (size > 0 ? size : 1);
  if (nslots < 1024) nslots = 1024;
  if (nslots > total) nslots = total > 0 ? total : 1;
  char *ring = malloc((size_t)nslots * (size_t)size + 16);
  char *scratch = malloc((size_t)size + 16);
  slot_busy = calloc((size_t)nslots, 1);
  handoff_us = malloc((size_t)(total > 0 ? total : 1) * sizeof(int64_t));
  if (!ring || !scratch || !slot_busy || !handoff_us) die("out of memory%s", "");
  memset(ring, 'x', (size_t)nslots * (size_t)size);
  memset(scratch, 'x', (size_t)size);
  struct vec lags = {0};
  int64_t copied = 0, wakes = 0;

  ready_and_start();
  const int64_t t0 = cfg.startUs;
  sleep_until_us(t0);
  const double cpu0 = cpu_sec();
  int64_t i = 0;
  while (i < total) {
    int64_t now = mono_us();
    int64_t due = now < t0 ? 0 : (int64_t)floor((double)(now - t0) / interval) + 1;
    if (due > total) due = total;
    wakes++;
    if (due > i) vec_push(&lags, (double)(now - (int64_t)floor((double)t0 + (double)i * interval)));
    for (; i < due; i++) {
      const int64_t slot = i % nslots;
      uint64_t opaque = (uint64_t)i << 1;
      char *p;
      int flags;
      if (!slot_busy[slot]) {
        slot_busy[slot] = 1;
        p = ring + slot * size;
        flags = 0;
        opaque |= 1;
      } else {
        p = scratch;
        flags = RD_KAFKA_MSG_F_COPY;
        copied++;
      }
      if (size >= 16) put_stamp(p, (int64_t)floor((double)t0 + (double)i * interval));
      handoff_us[i] = now;
      const int32_t partition = cfg.roundRobin ? (int32_t)(i % cfg.partitions) : RD_KAFKA_PARTITION_UA;
      produce_one(rk, rkt, partition, flags, p, (size_t)size, (void *)(uintptr_t)opaque);
    }
    rd_kafka_poll(rk, 0);
    if (i >= total) break;
    /* next wake: one tick from now, or the next message's time if later */
    int64_t next = (int64_t)floor((double)t0 + (double)i * interval);
    int64_t tick = now + cfg.tickUs;
    sleep_until_us(next > tick ? next : tick);
  }
  rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
  const int64_t tEnd = mono_us();
  const double cpu = cpu_sec() - cpu0;

  /* percentiles first: pct() sorts on the first call, and printf's arguments have no evaluation order */
  const double lag50 = pct(&lags, 50, 0), lag99 = pct(&lags, 99, 1);
  const double ack50 = pct(&acks_us, 50, 0), ack99 = pct(&acks_us, 99, 1), ack999 = pct(&acks_us, 99.9, 1);
  printf("{\"sent\":%" PRId64 ",\"delivered\":%" PRId64 ",\"errors\":%" PRId64 ",\"requests\":%" PRId64
         ",\"maxInFlight\":%d,\"cpu\":%.4f,\"wall\":%.4f,\"sendLagP50Us\":%.0f,\"sendLagP99Us\":%.0f,\"ackP50Us\":%.0f,"
         "\"ackP99Us\":%.0f,\"ackP999Us\":%.0f,\"wakes\":%" PRId64 ",\"copied\":%" PRId64 ",\"lingerMs\":%g,\"batchSize\":%d,"
         "\"tickUs\":%d,\"librdkafka\":\"%s\"}\n",
         i, delivered, delivery_errors, (int64_t)atomic_load(&requests_sent), cfg.maxInFlight, cpu, (double)(tEnd - t0) / 1e6, lag50, lag99,
         ack50, ack99, ack999, wakes, copied, cfg.lingerMs,
         cfg.batchSize, cfg.tickUs, rd_kafka_version_str());
  fflush(stdout);
  return finish_producer(rk, rkt, ferr);
}

/* ------------------------------------------------------ max produce */

static int produce_max_main(void) {
  /* no statistics: no request count is reported, and the run should not wait for one */
  static const char *const props[] = {"statistics.interval.ms", "0", NULL};
  if (cfg.messages < 0) die("bad messages%s", "");
  rd_kafka_topic_t *rkt;
  rd_kafka_t *rk = new_producer(&rkt, props);
  /* every message points at this one buffer (flags 0: neither copied nor freed by librdkafka); it lives until the end */
  const size_t size = (size_t)cfg.size;
  char *value = malloc(size + 1);
  if (!value) die("out of memory%s", "");
  memset(value, 'x', size);
  const int32_t partition = cfg.partitions == 1 ? 0 : RD_KAFKA_PARTITION_UA;

  ready_and_start();
  sleep_until_us(cfg.startUs);
  const double cpu0 = cpu_sec();
  for (int64_t i = 0; i < cfg.messages; i++) {
    produce_one(rk, rkt, partition, 0, value, size, NULL);
    if ((i & 1023) == 1023) rd_kafka_poll(rk, 0);
  }
  rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 300000);
  const double cpu = cpu_sec() - cpu0;
  const int64_t tLast = last_dr_us > cfg.startUs ? last_dr_us : cfg.startUs;
  printf("{\"messages\":%" PRId64 ",\"errors\":%" PRId64 ",\"seconds\":%.4f,\"cpu\":%.4f,\"lingerMs\":%g,\"batchSize\":%d,\"librdkafka\":\"%s\"}\n",
         delivered, delivery_errors, (double)(tLast - cfg.startUs) / 1e6, cpu, cfg.lingerMs, cfg.batchSize, rd_kafka_version_str());
  fflush(stdout);
  int rc = finish_producer(rk, rkt, ferr);
  free(value);
  return rc;
}

/* ------------------------------------------------------------- consumer */

/*
 * A consumer of the settings both consumers share: partitions are assigned,
 * not subscribed (group.id is required by the API, no group is joined);
 * nothing is committed. `props` (name, value pairs, NULL-terminated) come
 * next, then the config's own librdkafka properties.
 */
static rd_kafka_t *new_consumer(const char *group, const char *const *props) {
  char errstr[512], buf[64];
  rd_kafka_conf_t *conf = base_conf();
  conf_set(conf, "group.id", group);
  conf_set(conf, "enable.auto.commit", "false");
  conf_set(conf, "enable.auto.offset.store", "false");
  conf_set(conf, "enable.partition.eof", "false");
  snprintf(buf, sizeof buf, "%d", cfg.fetchMaxWaitMs);
  conf_set(conf, "fetch.wait.max.ms", buf);
  conf_set(conf, "fetch.min.bytes", "1");
  for (; props[0]; props += 2) conf_set(conf, props[0], props[1]);
  apply_extra(conf);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  count_requests(conf, 1);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) die("rd_kafka_new: %s", errstr);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

/* Low and high watermarks of every partition (one ListOffsets round trip each). */
static void watermarks(rd_kafka_t *rk, int64_t *lo, int64_t *hi) {
  for (int p = 0; p < cfg.partitions; p++) {
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, cfg.topic, p, &lo[p], &hi[p], 30000);
    if (err) die("watermarks: %s", rd_kafka_err2str(err));
  }
}

/* Assigns every partition at offsets[p]. */
/* Assign every partition at offsets[p], except those with a negative offset (not this process's). */
static void assign_all(rd_kafka_t *rk, const int64_t *offsets) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(cfg.partitions);
  for (int p = 0; p < cfg.partitions; p++)
    if (offsets[p] >= 0) rd_kafka_topic_partition_list_add(parts, cfg.topic, p)->offset = offsets[p];
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
  if (err) die("assign: %s", rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(parts);
}

/* An array of n int64 (zeroed). */
static int64_t *int64s(size_t n) {
  int64_t *a = calloc(n ? n : 1, sizeof(int64_t));
  if (!a) die("out of memory%s", "");
  return a;
}

static int consume_main(void) {
  static const char *const props[] = {"max.partition.fetch.bytes", "8388608", NULL};
  rd_kafka_t *rk = new_consumer("samsa-bench-latency", props);

  /* the end offsets, taken now, before anything is sent */
  int64_t *lo = int64s((size_t)cfg.partitions), *hi = int64s((size_t)cfg.partitions);
  watermarks(rk, lo, hi);
  assign_all(rk, hi);

  const int64_t total = (int64_t)floor(cfg.rate * (cfg.warmupSec + cfg.seconds));
  struct vec lat = {0};
  int64_t received = 0, consumeErrors = 0;

  /* let the assignment take effect (leader lookup, first Fetch out) before saying ready */
  for (int k = 0; k < 3; k++) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (m) {
      if (!m->err) received++;
      rd_kafka_message_destroy(m);
    }
  }
  ready_and_start();
  const int64_t recordFrom = cfg.startUs + (int64_t)(cfg.warmupSec * 1e6);
  const int64_t endUs = cfg.startUs + (int64_t)((cfg.warmupSec + cfg.seconds) * 1e6);
  int64_t lastRecv = mono_us();
  double cpu0 = -1;
  rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
  enum { DRAIN = 4096 };
  static rd_kafka_message_t *ms[DRAIN];
  while (received < total) {
    /* one message, waiting up to 100 ms; then what is already queued, without waiting
       (with a timeout, consume_batch_queue would wait for the batch to fill) */
    ssize_t n = rd_kafka_consume_batch_queue(q, 100, ms, 1);
    if (n == 1) {
      ssize_t more = rd_kafka_consume_batch_queue(q, 0, ms + 1, DRAIN - 1);
      if (more > 0) n += more;
    }
    if (n < 0) die("consume_batch_queue: %s", rd_kafka_err2str(rd_kafka_last_error()));
    const int64_t now = mono_us();
    if (cpu0 < 0 && now >= cfg.startUs) cpu0 = cpu_sec();
    for (ssize_t k = 0; k < n; k++) {
      rd_kafka_message_t *m = ms[k];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !consumeErrors++)
          fprintf(stderr, "latency: consume: %s\n", rd_kafka_message_errstr(m));
      } else {
        received++;
        lastRecv = now;
        if (m->len >= 16) {
          int64_t st = read_stamp((const char *)m->payload);
          if (st >= recordFrom) vec_push(&lat, (double)(now - st));
        }
      }
      rd_kafka_message_destroy(m);
    }
    if (now > endUs + 20000000 || (now > endUs && now - lastRecv > 3000000)) break;
  }
  rd_kafka_queue_destroy(q);
  const double cpu = cpu0 < 0 ? 0 : cpu_sec() - cpu0;
  const double wall = (double)(lastRecv - cfg.startUs) / 1e6;
  if (cfg.outFile[0]) {
    FILE *f = fopen(cfg.outFile, "wb");
    if (!f || fwrite(lat.v, sizeof(double), lat.n, f) != lat.n || fclose(f)) die("cannot write %s", cfg.outFile);
  }
  printf("{\"received\":%" PRId64 ",\"recorded\":%zu,\"fetches\":%" PRId64 ",\"errors\":%" PRId64
         ",\"cpu\":%.4f,\"wall\":%.4f,\"librdkafka\":\"%s\"}\n",
         received, lat.n, (int64_t)atomic_load(&requests_sent), consumeErrors, cpu, wall, rd_kafka_version_str());
  fflush(stdout);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

/* ------------------------------------------------------------- catch-up */

/*
 * Which of `slices` processes reads each partition: largest backlog first, each
 * to the process with the fewest messages so far (every process computes the
 * same answer from the same watermarks). Sticky partitioning leaves backlogs
 * uneven, and p % slices gave one process up to twice the other's share.
 */
static int *balance(const int64_t *lo, const int64_t *hi, size_t np, int slices) {
  int *owner = calloc(np, sizeof(int));
  int64_t *load = int64s((size_t)slices);
  char *done = calloc(np, 1);
  if (!owner || !done) die("out of memory%s", "");
  for (size_t k = 0; k < np; k++) {
    size_t best = np;
    for (size_t p = 0; p < np; p++)
      if (!done[p] && (best == np || hi[p] - lo[p] > hi[best] - lo[best])) best = p;
    int to = 0;
    for (int j = 1; j < slices; j++)
      if (load[j] < load[to]) to = j;
    owner[best] = to;
    load[to] += hi[best] - lo[best] + 1; /* + 1: empty partitions (tailing) go round-robin */
    done[best] = 1;
  }
  free(load);
  free(done);
  return owner;
}

static int catchup_main(void) {
  /*
   * Room to queue everything fetched (queued.min.messages is per partition),
   * so fetching never waits for the application. Fetches of up to 4 MB in
   * all (measured faster here than 16/64 MB: 1 partition of 100 B messages,
   * ~200 against ~150 MB/s, as the buffers stay small), and of up to 4 MB a
   * partition: with zero-copy fetch the broker's cost is per request more than
   * per byte, and 4 MB beat librdkafka's 1 MB default on every workload
   * (1 KiB on 1 and 16 partitions: +10-20%, broker CPU -40%).
   */
  static const char *const props[] = {
      "statistics.interval.ms", "0",
      "max.partition.fetch.bytes", "4194304",
      "fetch.max.bytes", "4194304",
      "queued.min.messages", "10000000",
      "queued.max.messages.kbytes", "1048576",
      NULL,
  };
  rd_kafka_t *rk = new_consumer("samsa-bench-catchup", props);
  const size_t np = (size_t)cfg.partitions;
  int64_t *lo = int64s(np), *hi = int64s(np), *next = int64s(np);
  watermarks(rk, lo, hi);
  const int slices = cfg.slices > 1 ? cfg.slices : 1;
  if (cfg.slice < 0 || cfg.slice >= slices) die("slice must be in [0, slices)%s", "");
  /*
   * Several processes: with at least one partition each, process k reads the
   * whole partitions (as a consumer group would split them; balanced by
   * message count, see balance()); otherwise each reads its share of every partition's offsets. Whole
   * partitions waste nothing: with offset ranges, librdkafka prefetches past
   * a range's end into the next process's range (on 16 partitions the broker
   * sent 24% more bytes than were consumed).
   */
  const int byPartition = slices > 1 && np >= (size_t)slices;
  int64_t *assignAt = int64s(np);
  int *owner = byPartition ? balance(lo, hi, np, slices) : NULL;
  for (size_t p = 0; p < np; p++) {
    assignAt[p] = lo[p];
    if (byPartition) {
      if (owner[p] != cfg.slice) assignAt[p] = -1, hi[p] = lo[p];
    } else if (slices > 1) {
      /* this process's share of [lo, hi): offsets below the next slice's start */
      const int64_t span = hi[p] - lo[p];
      const int64_t a = lo[p] + span * cfg.slice / slices, b = lo[p] + span * (cfg.slice + 1) / slices;
      assignAt[p] = lo[p] = a;
      hi[p] = b;
    }
  }
  if (cfg.tail) {
    /* from the end on, without an upper bound: what the producer sends from now */
    for (size_t p = 0; p < np; p++) {
      if (assignAt[p] >= 0) assignAt[p] = lo[p] = hi[p];
      hi[p] = assignAt[p] >= 0 ? INT64_MAX : lo[p];
    }
  }
  int64_t available = 0;
  int pending = 0; /* partitions not yet read up to their high watermark */
  for (size_t p = 0; p < np; p++) {
    next[p] = lo[p];
    available += hi[p] - lo[p];
    if (hi[p] > lo[p]) pending++;
  }
  const int64_t target = cfg.expected > 0 ? cfg.expected : cfg.tail ? INT64_MAX : available;
  if (!cfg.tail && available < target)
    fprintf(stderr, "latency: catchup: %" PRId64 " messages between the watermarks, %" PRId64 " expected\n", available, target);

  const int batch = cfg.batch > 0 ? cfg.batch : 1;
  rd_kafka_message_t **ms = malloc((size_t)batch * sizeof *ms);
  if (!ms) die("out of memory%s", "");
  int64_t msgs = 0, bytes = 0, errors = 0;
  const int64_t t0 = mono_us();
  const int64_t deadline = t0 + (int64_t)(cfg.timeoutSec * 1e6);
  const double cpu0 = cpu_sec();
  /*
   * At the low watermarks as offsets, not RD_KAFKA_OFFSET_BEGINNING (the same
   * place): with BEGINNING, librdkafka 2.0.2 looks the offset up first, and
   * when that runs before the partition has its leader it waits for its
   * 500 ms retry timer.
   */
  assign_all(rk, assignAt);
  rd_kafka_queue_t *q = cfg.batch > 0 ? rd_kafka_queue_get_consumer(rk) : NULL;
  int64_t t0Run = t0;
  if (cfg.tail) {
    ready_and_start(); /* the producer starts at the same time */
    t0Run = cfg.startUs;
  }
  const int64_t idleUs = (int64_t)(cfg.idleMs > 0 ? cfg.idleMs : 2000) * 1000;
  int64_t tLast = t0Run;
  while (pending > 0 && msgs < target && !errors && !client_errors) {
    ssize_t n;
    if (q) {
      n = rd_kafka_consume_batch_queue(q, 10, ms, (size_t)batch);
      if (n < 0) die("consume_batch_queue: %s", rd_kafka_err2str(rd_kafka_last_error()));
    } else {
      ms[0] = rd_kafka_consumer_poll(rk, 10);
      n = ms[0] != NULL;
    }
    for (ssize_t k = 0; k < n; k++) {
      const rd_kafka_message_t *m = ms[k];
      const int32_t p = m->partition;
      if (m->err) {
        if (!errors++) fprintf(stderr, "latency: catchup: %s [%" PRId32 "]: %s\n", rd_kafka_err2name(m->err), p, rd_kafka_message_errstr(m));
      } else if (msgs < target && p >= 0 && p < cfg.partitions && m->offset >= next[p] && m->offset < hi[p]) {
        /* only offsets below the high watermark taken before, each once, and no more than expected */
        msgs++;
        bytes += (int64_t)m->len;
        next[p] = m->offset + 1;
        if (next[p] == hi[p]) pending--;
      }
      rd_kafka_message_destroy(ms[k]);
    }
    const int64_t now = mono_us();
    if (n > 0) tLast = now;
    /* tLast starts at the start time: a process whose partitions got nothing stops too */
    if (cfg.tail && cfg.expected <= 0 && now - tLast > idleUs) break;
    if (now > deadline) {
      fprintf(stderr, "latency: catchup: timed out after %g s\n", cfg.timeoutSec);
      break;
    }
  }
  const double cpu = cpu_sec() - cpu0;
  printf("{\"messages\":%" PRId64 ",\"bytes\":%" PRId64 ",\"seconds\":%.4f,\"cpu\":%.4f,\"cpuTotal\":%.4f,\"expected\":%" PRId64
         ",\"available\":%" PRId64 ",\"errors\":%" PRId64 ",\"batch\":%d,\"librdkafka\":\"%s\"}\n",
         msgs, bytes, (double)(tLast - t0Run) / 1e6, cpu, cpu_sec(), target, available, errors + client_errors, cfg.batch,
         rd_kafka_version_str());
  fflush(stdout);
  int rc = 0;
  if (errors || client_errors) rc = 1;
  if (msgs < target && !(cfg.tail && cfg.expected <= 0)) {
    fprintf(stderr, "latency: catchup: %" PRId64 " of %" PRId64 " messages\n", msgs, target);
    rc = 1;
  }
  if (q) rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}

int main(int argc, char **argv) {
  static const char *const roles[] = {"produce", "consume", "catchup", "produce-max"};
  static int (*const mains[])(void) = {produce_main, consume_main, catchup_main, produce_max_main};
  int role = -1;
  for (int k = 0; argc >= 2 && k < 4; k++)
    if (!strcmp(argv[1], roles[k])) role = k;
  if (role < 0) {
    fprintf(stderr, "usage: %s produce|consume|catchup|produce-max '<json config>' | key=value ...\n", argv[0]);
    return 2;
  }
  for (int a = 2; a < argc; a++) {
    const char *s = skip_ws(argv[a]);
    if (*s == '{') {
      parse_json(s);
    } else {
      const char *eq = strchr(s, '=');
      if (!eq || eq == s || (size_t)(eq - s) >= 256) die("expected key=value: %s", s);
      char key[256];
      memcpy(key, s, (size_t)(eq - s));
      key[eq - s] = 0;
      set_key(key, eq + 1);
    }
  }
  if (cfg.rate <= 0 || cfg.partitions < 1 || cfg.size < 0) die("bad rate, partitions or size%s", "");
  if (cfg.tickUs < 50) cfg.tickUs = 50;
  if (cfg.lingerMs < 0) cfg.lingerMs = mains[role] == produce_max_main ? 5 : 1;
  return mains[role]();
}
