"""Consumes TOPIC from the beginning for SECONDS (from the first record), or
until MAX_BYTES were read, and prints the bytes received per 100 ms bucket.

usage: ck_quota_consume.py BOOTSTRAP TOPIC CLIENT_ID SECONDS [MAX_BYTES]
"""
import sys
import time

from confluent_kafka import Consumer

from common import emit

bs, topic, client_id, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
max_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else float('inf')
total = 0
last = None
c = Consumer({
    'bootstrap.servers': bs,
    'client.id': client_id,
    'group.id': 'quota-' + client_id,
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': False,
    # small fetches, so that one response is a small part of a second's quota
    'max.partition.fetch.bytes': 65536,
})
c.subscribe([topic])
first = None
buckets = {}
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    m = c.poll(0.1)
    now = time.monotonic()
    if first is not None and now - first >= seconds:
        break
    if m is None or m.error():
        continue
    if first is None:
        first = now
        deadline = now + seconds + 1
    k = int((now - first) * 10)
    buckets[k] = buckets.get(k, 0) + len(m.value())
    total += len(m.value())
    last = now
    if total >= max_bytes:
        break
c.close()
n = max(buckets) + 1 if buckets else 0
emit({
    'buckets': [buckets.get(i, 0) for i in range(n)],
    'total': total,
    'elapsed': (last - first) if first is not None else 0,
})
