"""confluent-kafka Consumer with assign(): reads every partition from the beginning until COUNT
records arrived, with large fetches; prints per-partition counts and a SHA-256 over
"partition offset value" lines in arrival order per partition (values are not echoed).
usage: ck_digest.py BOOTSTRAP TOPIC PARTITIONS COUNT"""
import hashlib
import sys
import time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from common import emit

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest',
              'max.partition.fetch.bytes': 4 * 1024 * 1024, 'fetch.max.bytes': 16 * 1024 * 1024})
c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
digests = [hashlib.sha256() for _ in range(partitions)]
counts = [0] * partitions
errors = []
got = 0
deadline = time.time() + 90
while got < count and time.time() < deadline:
    for msg in c.consume(10000, 0.5):
        if msg.error():
            errors.append(str(msg.error()))
            continue
        p = msg.partition()
        digests[p].update(b'%d %d ' % (p, msg.offset()) + msg.value() + b'\n')
        counts[p] += 1
        got += 1
c.close()
emit({'counts': counts, 'digests': [d.hexdigest() for d in digests], 'errors': errors})
