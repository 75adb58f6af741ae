"""confluent-kafka Consumer in a rack (client.rack, KIP-392) reading partitions from the beginning, in two phases.
usage: ck_rack_consume.py BOOTSTRAP TOPIC PARTITIONS RACK COUNT1 COUNT2
Reads COUNT1 records and prints {"phase": 1, ...}; then waits for a line on stdin, reads COUNT2 more
records and prints {"phase": 2, ...}."""
import sys
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from common import emit, ck_consume

bootstrap, topic, partitions, rack = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
count1, count2 = int(sys.argv[5]), int(sys.argv[6])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic, 'client.rack': rack,
              'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
consumed, errors = ck_consume(c, count1, 90)
emit({'phase': 1, 'consumed': consumed, 'errors': errors})
sys.stdin.readline()
consumed, errors = ck_consume(c, count2, 90)
c.close()
emit({'phase': 2, 'consumed': consumed, 'errors': errors})
