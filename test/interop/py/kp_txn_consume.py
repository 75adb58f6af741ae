"""kafka-python (2.0.2 knows no isolation level: it reads uncommitted): reads partition 0 from the beginning
until a record with the value LAST arrives (or 60 s pass) and prints the values and offsets read.
usage: kp_txn_consume.py BOOTSTRAP TOPIC LAST"""
import sys
import time
from kafka import KafkaConsumer, TopicPartition
from common import emit, b2s

bootstrap, topic, last = sys.argv[1], sys.argv[2], sys.argv[3]
tp = TopicPartition(topic, 0)
cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
cons.assign([tp])
cons.seek_to_beginning(tp)
values, offsets, error, done = [], [], None, False
deadline = time.time() + 60
try:
    while not done and time.time() < deadline:
        for msgs in cons.poll(timeout_ms=500).values():
            for m in msgs:
                values.append(b2s(m.value))
                offsets.append(m.offset)
                done = done or b2s(m.value) == last
except Exception as e:
    error = '%s: %s' % (type(e).__name__, e)
cons.close()
emit({'values': values, 'offsets': offsets, 'error': error})
