"""kafka-python: KafkaAdminClient create/delete, KafkaProducer, KafkaConsumer with assign + seek.
usage: kp_roundtrip.py BOOTSTRAP TOPIC COMPRESSION(none|gzip) COUNT"""
import sys
import time
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from common import emit, b2s

bootstrap, topic, compression, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
res = {}
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='kp-admin')
res['apiVersion'] = list(admin.config['api_version'])
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
try:
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    res['duplicate'] = None
except TopicAlreadyExistsError as e:
    res['duplicate'] = 'TopicAlreadyExistsError'

prod = KafkaProducer(bootstrap_servers=bootstrap, acks='all',
                     compression_type=None if compression == 'none' else compression)
res['producerApiVersion'] = list(prod.config['api_version'])
base_ts = int(time.time() * 1000) - 30_000
futures = []
for i in range(count):
    futures.append(prod.send(topic, key=('k%d' % i).encode(), value=('v%d' % i).encode(),
                             partition=i % 2, headers=[('n', str(i).encode())], timestamp_ms=base_ts + i))
meta = [f.get(timeout=30) for f in futures]
prod.close()
res['sent'] = [{'partition': m.partition, 'offset': m.offset} for m in meta]

cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                     consumer_timeout_ms=2000)
tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
cons.assign(tps)
cons.seek_to_beginning(*tps)
records = []
deadline = time.time() + 30
while len(records) < count and time.time() < deadline:
    polled = cons.poll(timeout_ms=500)
    for tp, msgs in polled.items():
        for m in msgs:
            records.append({'partition': m.partition, 'offset': m.offset, 'key': b2s(m.key), 'value': b2s(m.value),
                            'headers': [[k, b2s(v)] for k, v in m.headers], 'timestamp': m.timestamp})
# seek to a specific offset and re-read one record
cons.seek(TopicPartition(topic, 1), 2)
again = []
deadline = time.time() + 15
while not again and time.time() < deadline:
    for tp, msgs in cons.poll(timeout_ms=500).items():
        again.extend({'partition': m.partition, 'offset': m.offset, 'value': b2s(m.value)} for m in msgs)
res['end'] = {str(tp.partition): off for tp, off in cons.end_offsets(tps).items()}
cons.close()
res['records'] = records
res['afterSeek'] = again[:1]
res['baseTs'] = base_ts

admin.delete_topics([topic])
gone = False
for _ in range(50):
    if topic not in admin.list_topics():
        gone = True
        break
    time.sleep(0.2)
res['goneAfterDelete'] = gone
admin.close()
emit(res)
