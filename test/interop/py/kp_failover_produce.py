"""kafka-python producer for test/interop/kafka-python-failover.test.ts: creates
TOPIC (replication factor 3, min.insync.replicas=2) with KafkaAdminClient, then
sends continuously (acks=all, retries, one request in flight per connection)
to partitions 0..PARTITIONS-1 in turn, values "p<partition>-<n>", until it
reads "stop" on stdin; then flushes and closes. One JSON object a stdout line:

  {"ev": "created"}
  {"ev": "ack", "p": P, "o": O, "v": V, "t": MS}   an acknowledged record
  {"ev": "error", "v": V, "msg": ...}               a send that failed (reached the application)
  {"ev": "produced", "sent": N}                     after the flush, before close

usage: kp_failover_produce.py BOOTSTRAP TOPIC PARTITIONS INTERVAL_MS"""
import sys
import threading
import time
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from common import emit

bootstrap, topic, partitions, interval_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out_lock = threading.Lock()


def out(doc):
    with out_lock:
        emit(doc)


admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='kp-failover-admin')
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=3,
                              topic_configs={'min.insync.replicas': '2'})])
admin.close()
out({'ev': 'created'})

stop = threading.Event()


def read_stdin():
    for line in sys.stdin:
        if line.strip() == 'stop':
            break
    stop.set()


threading.Thread(target=read_stdin, daemon=True).start()

# kafka-python 2.0 has no idempotent producer: retries with one request in flight keep the order,
# but a retry of a write whose acknowledgement was lost with the leader is stored twice.
producer = KafkaProducer(bootstrap_servers=bootstrap, client_id='kp-failover', acks='all',
                         retries=1_000_000, retry_backoff_ms=200, max_in_flight_requests_per_connection=1,
                         metadata_max_age_ms=2_000, linger_ms=5)
nxt = [0] * partitions
sent = 0


def on_ack(v):
    return lambda md: out({'ev': 'ack', 'p': md.partition, 'o': md.offset, 'v': v, 't': int(time.time() * 1000)})


def on_error(v):
    return lambda e: out({'ev': 'error', 'v': v, 'msg': repr(e)})


while not stop.is_set():
    p = sent % partitions
    v = 'p%d-%d' % (p, nxt[p])
    nxt[p] += 1
    sent += 1
    try:
        f = producer.send(topic, value=v.encode(), partition=p)
        f.add_callback(on_ack(v))
        f.add_errback(on_error(v))
    except Exception as e:
        out({'ev': 'error', 'v': v, 'msg': repr(e)})
    stop.wait(interval_ms / 1000)
producer.flush()
out({'ev': 'produced', 'sent': sent})
producer.close()
