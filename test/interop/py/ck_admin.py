"""confluent-kafka AdminClient: create, describe (metadata + configs), delete a topic.
usage: ck_admin.py BOOTSTRAP TOPIC PARTITIONS"""
import sys
import time
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
from confluent_kafka import KafkaException
from common import emit

bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({'bootstrap.servers': bootstrap})
result = {}

fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                   config={'retention.ms': '3600000', 'cleanup.policy': 'delete'})],
                         operation_timeout=10)
fs[topic].result(timeout=30)
result['created'] = True

# creating it again must fail with TOPIC_ALREADY_EXISTS
fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
try:
    fs[topic].result(timeout=30)
    result['duplicateError'] = None
except KafkaException as e:
    result['duplicateError'] = e.args[0].name()

md = admin.list_topics(topic=topic, timeout=10)
t = md.topics[topic]
result['metadataError'] = None if t.error is None else t.error.name()
result['partitions'] = sorted(p.id for p in t.partitions.values())
result['leaders'] = sorted(set(p.leader for p in t.partitions.values()))
result['brokers'] = [{'id': b.id, 'host': b.host, 'port': b.port} for b in md.brokers.values()]
result['clusterId'] = md.cluster_id
result['controllerId'] = md.controller_id

res = ConfigResource(ConfigResource.Type.TOPIC, topic)
cfgs = admin.describe_configs([res])[res].result(timeout=30)
result['configs'] = {k: v.value for k, v in cfgs.items() if k in ('retention.ms', 'cleanup.policy', 'max.message.bytes')}

fs = admin.delete_topics([topic], operation_timeout=10)
fs[topic].result(timeout=30)
result['deleted'] = True

# the topic disappears from metadata
gone = False
for _ in range(50):
    md = admin.list_topics(timeout=10)
    if topic not in md.topics:
        gone = True
        break
    time.sleep(0.2)
result['goneAfterDelete'] = gone
emit(result)
