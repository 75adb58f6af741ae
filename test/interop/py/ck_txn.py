"""confluent-kafka-python transactions (KIP-98) against the transaction coordinator.
usage: ck_txn.py BOOTSTRAP IN_TOPIC OUT_A OUT_B GROUP TXN_ID
Seeds IN_TOPIC with 10 records; a consumer in GROUP reads them; a transactional producer
(TXN_ID) writes 6 records to OUT_A and OUT_B (3 partitions each) with the consumer's
offsets (send_offsets_to_transaction) and commits; then writes 4 more and aborts. A
read_committed and a read_uncommitted consumer then read both output topics, and the
group's committed offsets are read back."""
import sys
import time
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic
from common import emit

bootstrap, in_topic, out_a, out_b, group, txn_id = sys.argv[1:7]

admin = AdminClient({'bootstrap.servers': bootstrap})
for t, n in ((in_topic, 1), (out_a, 3), (out_b, 3)):
    admin.create_topics([NewTopic(t, num_partitions=n, replication_factor=1)])[t].result(timeout=30)

seed = Producer({'bootstrap.servers': bootstrap})
for i in range(10):
    seed.produce(in_topic, key=b'in-%d' % i, value=b'in-%d' % i)
seed.flush(30)

consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'enable.auto.commit': False,
    'auto.offset.reset': 'earliest',
})
consumer.subscribe([in_topic])
consumed = []
deadline = time.time() + 60
while len(consumed) < 10 and time.time() < deadline:
    m = consumer.poll(0.5)
    if m is None or m.error():
        continue
    consumed.append(m)

p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txn_id, 'transaction.timeout.ms': 60000})
steps = []
p.init_transactions(60)
steps.append('init')
p.begin_transaction()
for i in range(6):
    p.produce(out_a if i % 2 == 0 else out_b, key=b'c-%d' % i, value=b'committed-%d' % i, partition=i % 3)
offsets = [TopicPartition(in_topic, 0, consumed[-1].offset() + 1)] if consumed else []
p.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 60)
steps.append('sent-offsets')
p.commit_transaction(60)
steps.append('committed')
p.begin_transaction()
for i in range(4):
    p.produce(out_a if i % 2 == 0 else out_b, key=b'a-%d' % i, value=b'aborted-%d' % i, partition=i % 3)
p.flush(30)
p.abort_transaction(60)
steps.append('aborted')
# a third transaction, committed: the read_committed consumer must get past the aborted one
p.begin_transaction()
p.produce(out_a, key=b'c-last', value=b'committed-last', partition=0)
p.commit_transaction(60)
steps.append('committed-again')


def read_all(isolation, want):
    c = Consumer({
        'bootstrap.servers': bootstrap,
        'group.id': 'reader-%s-%s' % (isolation, txn_id),
        'isolation.level': isolation,
        'enable.auto.commit': False,
    })
    c.assign([TopicPartition(t, part, OFFSET_BEGINNING) for t in (out_a, out_b) for part in range(3)])
    got = []
    deadline = time.time() + 30
    # read until `want` records came, then a little longer to catch any extra one
    settle = None
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
        if len(got) >= want:
            settle = settle or time.time() + 2
            if time.time() > settle:
                break
    c.close()
    return sorted(got)


committed_view = read_all('read_committed', 7)
uncommitted_view = read_all('read_uncommitted', 11)
offs = consumer.committed([TopicPartition(in_topic, 0)], timeout=30)
consumer.close()
emit({
    'steps': steps,
    'consumedInput': len(consumed),
    'readCommitted': committed_view,
    'readUncommitted': uncommitted_view,
    'groupOffset': offs[0].offset,
})
