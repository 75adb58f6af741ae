"""Group admin views through confluent-kafka-python, for test/interop/groups-*.test.ts.

  groups_admin.py list BOOTSTRAP
      AdminClient.list_groups(): one JSON line
      {"groups": [{"id", "state", "protocol_type", "protocol",
                   "members": [{"id", "client_id", "assignment_hex"}]}]}
  groups_admin.py lag BOOTSTRAP GROUP TOPIC PARTITIONS
      Consumer.committed() (OffsetFetch, without joining the group) and
      get_watermark_offsets() per partition: one JSON line
      {"partitions": [{"p", "committed", "low", "high"}]}

Run with Debian's python (/usr/bin/python3).
"""
import json
import sys

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

mode, bootstrap = sys.argv[1], sys.argv[2]

if mode == 'list':
    admin = AdminClient({'bootstrap.servers': bootstrap})
    groups = admin.list_groups(timeout=15)
    print(json.dumps({'groups': [
        {
            'id': g.id,
            'state': g.state,
            'protocol_type': g.protocol_type,
            'protocol': g.protocol,
            'error': str(g.error) if g.error else None,
            'members': [
                {'id': m.id, 'client_id': m.client_id, 'assignment_hex': bytes(m.assignment or b'').hex()}
                for m in g.members
            ],
        }
        for g in groups
    ]}), flush=True)
elif mode == 'lag':
    group, topic, partitions = sys.argv[3], sys.argv[4], int(sys.argv[5])
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False})
    committed = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
    rows = []
    for tp in committed:
        low, high = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=15)
        rows.append({'p': tp.partition, 'committed': tp.offset, 'low': low, 'high': high})
    c.close()
    print(json.dumps({'partitions': rows}), flush=True)
else:
    raise SystemExit('unknown mode ' + mode)
