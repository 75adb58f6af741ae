"""confluent-kafka Producer: keyed records, no explicit partition, the given partitioner.
usage: ck_produce.py BOOTSTRAP TOPIC PARTITIONER KEY...
Prints the partition/offset librdkafka reports for every key."""
import sys
from confluent_kafka import Producer
from common import emit

bootstrap, topic, partitioner, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
p = Producer({'bootstrap.servers': bootstrap, 'partitioner': partitioner, 'acks': 'all'})
delivered, errors = [], []


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append({'key': msg.key().decode(), 'partition': msg.partition(), 'offset': msg.offset()})


for k in keys:
    p.produce(topic, value=('v-' + k).encode(), key=k.encode(), on_delivery=on_delivery)
    p.poll(0)
p.flush(30)
emit({'delivered': delivered, 'errors': errors})
