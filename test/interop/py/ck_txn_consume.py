"""confluent-kafka Consumer with assign() at an isolation level: reads partition 0 from the beginning
until the end of partition (librdkafka: the last stable offset under read_committed, else the high
watermark) and prints the values and offsets read.
usage: ck_txn_consume.py BOOTSTRAP TOPIC ISOLATION_LEVEL"""
import sys
import time
from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
from common import emit, b2s

bootstrap, topic, isolation = sys.argv[1], sys.argv[2], sys.argv[3]
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest',
              'isolation.level': isolation, 'enable.partition.eof': True})
c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
values, offsets, errors, eof = [], [], [], False
deadline = time.time() + 60
while not eof and time.time() < deadline:
    msg = c.poll(0.5)
    if msg is None:
        continue
    if msg.error():
        if msg.error().code() == KafkaError._PARTITION_EOF:
            eof = True
        else:
            errors.append(str(msg.error()))
        continue
    values.append(b2s(msg.value()))
    offsets.append(msg.offset())
c.close()
emit({'values': values, 'offsets': offsets, 'errors': errors, 'eof': eof})
