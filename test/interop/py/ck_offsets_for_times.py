"""offsets_for_times (ListOffsets by timestamp).
usage: ck_offsets_for_times.py BOOTSTRAP TOPIC"""
import sys
import time
from confluent_kafka import Producer, Consumer, TopicPartition
from common import emit

bootstrap, topic = sys.argv[1], sys.argv[2]
base = int(time.time() * 1000) - 100_000
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 0})
for i in range(5):
    p.produce(topic, value=('v%d' % i).encode(), partition=0, timestamp=base + i * 1000)
    p.flush(30)  # one batch per record
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic, 'enable.auto.commit': False})
queries = {'before': base - 5000, 'exact2': base + 2000, 'between2and3': base + 2500, 'after': base + 100_000}
out = {}
for name, ts in queries.items():
    r = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
    out[name] = r[0].offset
lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
out['low'] = lo
out['high'] = hi
c.close()
emit(out)
