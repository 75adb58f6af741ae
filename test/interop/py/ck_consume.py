"""confluent-kafka Consumer with assign(): reads COUNT records from the beginning of every partition.
usage: ck_consume.py BOOTSTRAP TOPIC PARTITIONS COUNT"""
import sys
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from common import emit, ck_consume

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
consumed, errors = ck_consume(c, count, 60)
c.close()
emit({'consumed': consumed, 'errors': errors})
