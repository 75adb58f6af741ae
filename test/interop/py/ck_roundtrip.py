"""confluent-kafka Producer -> Consumer(assign) round trip with one compression codec.
usage: ck_roundtrip.py BOOTSTRAP TOPIC CODEC IDEMPOTENCE(0|1) COUNT PARTITIONS
Produces COUNT records spread over PARTITIONS partitions (explicit partition), with keys,
headers, explicit timestamps and one null value per partition; then reads everything back.
The topic is created first with AdminClient."""
import sys
import time
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic
from common import emit, ck_consume

bootstrap, topic, codec = sys.argv[1], sys.argv[2], sys.argv[3]
idem, count, partitions = sys.argv[4] == '1', int(sys.argv[5]), int(sys.argv[6])

admin = AdminClient({'bootstrap.servers': bootstrap})  # keep a reference: a collected client cancels its futures
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=30)

p = Producer({
    'bootstrap.servers': bootstrap,
    'compression.codec': codec,
    'enable.idempotence': idem,
    'acks': 'all',
    'linger.ms': 5,
    'batch.num.messages': 50,
})
delivered, errors = [], []


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append({'partition': msg.partition(), 'offset': msg.offset(), 'key': msg.key().decode()})


base_ts = int(time.time() * 1000) - 60_000
produced = []
for i in range(count):
    part = i % partitions
    key = 'key-%d' % i
    value = None if i < partitions else ('value-%d-' % i) + ('x' * (i % 50))
    ts = base_ts + i
    headers = [('h1', ('hv-%d' % i).encode()), ('h2', b'')]
    p.produce(topic, value=None if value is None else value.encode(), key=key.encode(),
              partition=part, timestamp=ts, headers=headers, on_delivery=on_delivery)
    produced.append({'partition': part, 'key': key, 'value': value, 'timestamp': ts,
                     'headers': [['h1', 'hv-%d' % i], ['h2', '']]})
    p.poll(0)
remaining = p.flush(30)

c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
consumed, cerrors = ck_consume(c, count, 60)
c.close()
emit({'produced': produced, 'delivered': delivered, 'produceErrors': errors, 'unflushed': remaining,
      'consumed': consumed, 'consumeErrors': cerrors})
