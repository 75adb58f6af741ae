"""OFFSET_OUT_OF_RANGE handling: a consumer assigned to an offset past the end resets
per auto.offset.reset (earliest -> first record, latest -> only records produced later).
usage: ck_offset_reset.py BOOTSTRAP TOPIC"""
import sys
import time
from confluent_kafka import Producer, Consumer, TopicPartition
from common import emit, ck_consume

bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all'})
for i in range(5):
    p.produce(topic, value=('v%d' % i).encode(), partition=0)
p.flush(30)

result = {}
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-e-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition(topic, 0, 1000)])
got, errs = ck_consume(c, 5, 30)
c.close()
result['earliest'] = [r['offset'] for r in got]
result['earliestValues'] = [r['value'] for r in got]

c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-l-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'latest'})
c.assign([TopicPartition(topic, 0, 1000)])
# let the reset to the log end happen before producing the new record
early, _ = ck_consume(c, 1, 3)
result['latestBeforeProduce'] = [r['offset'] for r in early]
p.produce(topic, value=b'after', partition=0)
p.flush(30)
got, errs2 = ck_consume(c, 1, 30)
c.close()
result['latest'] = [r['offset'] for r in got]
result['latestValues'] = [r['value'] for r in got]

# 'error' policy surfaces the out-of-range condition to the application
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-x-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'error'})
c.assign([TopicPartition(topic, 0, 1000)])
err = None
deadline = time.time() + 15
while err is None and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and m.error():
        err = m.error().name()
c.close()
result['errorPolicy'] = err
emit(result)
