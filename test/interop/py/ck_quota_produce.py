"""Produces as fast as the broker lets it for SECONDS, then prints the bytes
acknowledged per 100 ms bucket (from the first acknowledgement) and the
largest throttle time the client was told (librdkafka's throttle_cb stats).

Runs SECONDS from the first acknowledgement, or until MAX_BYTES were sent.

usage: ck_quota_produce.py BOOTSTRAP TOPIC CLIENT_ID SECONDS MESSAGE_BYTES [MAX_BYTES]
With SASL_USERNAME and SASL_PASSWORD in the environment: SASL_PLAINTEXT, PLAIN.
"""
import json
import os
import sys
import time

from confluent_kafka import Producer

from common import emit

bs, topic, client_id, seconds, size = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
max_bytes = int(sys.argv[6]) if len(sys.argv) > 6 else float('inf')
throttles = []


def on_stats(s):
    d = json.loads(s)
    for b in d.get('brokers', {}).values():
        t = b.get('throttle', {}).get('max', 0)
        if t:
            throttles.append(t)


sasl = {}
if os.environ.get('SASL_USERNAME'):
    sasl = {
        'security.protocol': 'SASL_PLAINTEXT',
        'sasl.mechanisms': 'PLAIN',
        'sasl.username': os.environ['SASL_USERNAME'],
        'sasl.password': os.environ['SASL_PASSWORD'],
    }
p = Producer({
    **sasl,
    'bootstrap.servers': bs,
    'client.id': client_id,
    'linger.ms': 5,
    'acks': 1,
    # small requests, and a small local queue: the loop below blocks instead of buffering what the broker holds back
    'batch.size': 16384,
    'queue.buffering.max.kbytes': 64,
    'statistics.interval.ms': 500,
    'stats_cb': on_stats,
})
first = [None]
last = [None]
buckets = {}


def on_delivery(err, msg):
    if err is not None:
        return
    now = time.monotonic()
    if first[0] is None:
        first[0] = now
    last[0] = now
    k = int((now - first[0]) * 10)
    buckets[k] = buckets.get(k, 0) + len(msg.value())


payload = b'q' * size
sent = 0
# SECONDS from the first acknowledgement (at most a minute in all)
give_up = time.monotonic() + 60
while sent < max_bytes and time.monotonic() < give_up and (first[0] is None or time.monotonic() - first[0] < seconds):
    try:
        p.produce(topic, payload, callback=on_delivery)
    except BufferError:
        p.poll(0.01)
        continue
    sent += size
    p.poll(0)
if sent < max_bytes:
    p.purge()
p.flush(30)
n = max(buckets) + 1 if buckets else 0
emit({
    'buckets': [buckets.get(i, 0) for i in range(n)],
    'total': sum(buckets.values()),
    'elapsed': (last[0] - first[0]) if first[0] is not None else 0,
    'maxThrottleMs': max(throttles) if throttles else 0,
})
