"""Group admin views through confluent-kafka-python, for test/interop/groups-*.test.ts.

  groups_admin.py list BOOTSTRAP
      AdminClient.list_groups(): one JSON line
      {"groups": [{"id", "state", "protocol_type", "protocol",
                   "members": [{"id", "client_id", "assignment_hex"}]}]}
  groups_admin.py lag BOOTSTRAP GROUP TOPIC PARTITIONS
      Consumer.committed() (OffsetFetch, without joining the group) and
      get_watermark_offsets() per partition: one JSON line
      {"partitions": [{"p", "committed", "low", "high"}]}
  groups_admin.py describe BOOTSTRAP GROUP
      AdminClient.describe_consumer_groups() (librdkafka 2.10+ asks with
      ConsumerGroupDescribe, KIP-848, and falls back to DescribeGroups for
      classic groups): one JSON line
      {"group_id", "type", "state", "assignor", "error",
       "members": [{"id", "client_id", "assignment": ["topic:p", ..],
                    "target_assignment": ["topic:p", ..] or null}]}

Run with Debian's python (/usr/bin/python3); `describe` with a current
confluent-kafka (test/helpers/pyclient.ts).
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
elif mode == 'describe':
    group = sys.argv[3]
    admin = AdminClient({'bootstrap.servers': bootstrap})

    def tps(a):
        return None if a is None else sorted('%s:%d' % (tp.topic, tp.partition) for tp in a.topic_partitions)

    try:
        g = admin.describe_consumer_groups([group], request_timeout=15)[group].result()
    except Exception as e:  # the group's error (e.g. GROUP_ID_NOT_FOUND) comes as the future's exception
        print(json.dumps({'group_id': group, 'error': str(e)}), flush=True)
        raise SystemExit(0)
    print(json.dumps({
        'group_id': g.group_id,
        'type': g.type.name if g.type is not None else None,
        'state': g.state.name if g.state is not None else None,
        'assignor': g.partition_assignor,
        'error': None,
        'members': [
            {'id': m.member_id, 'client_id': m.client_id, 'assignment': tps(m.assignment), 'target_assignment': tps(m.target_assignment)}
            for m in g.members
        ],
    }), flush=True)
else:
    raise SystemExit('unknown mode ' + mode)
