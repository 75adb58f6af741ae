"""A consume-transform-produce stage with confluent-kafka-python, exactly-once (KIP-98/KIP-447).
usage: ck_eos_loop.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TXN_ID SEED [HOLD_AT_TXN]
Consumes IN_TOPIC (read_committed) in GROUP (static member, so that a restarted process takes
its predecessor's place without waiting for a session timeout), and for each batch, in one
transaction: produces value 'out:' + input value to the same partition of OUT_TOPIC, sends the
consumer's positions with send_offsets_to_transaction, commits. Batch sizes come from SEED.
Prints one line per step ('begin N', 'produced N', 'offsets N', 'committed N' with N the count
of transactions this process began) so that a test can SIGKILL it at chosen points. With
HOLD_AT_TXN, transaction HOLD_AT_TXN is flushed to the broker, 'holding N' is printed and the
process blocks on stdin: the test kills it mid-transaction. Exits 0 with 'done' once its
positions reached the input's high watermarks."""
import random
import sys
from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, in_topic, out_topic, group, txn_id, seed = sys.argv[1:7]
hold_at = int(sys.argv[7]) if len(sys.argv) > 7 else -1
rng = random.Random(int(seed))


def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'group.instance.id': txn_id + '-member',
    'session.timeout.ms': 10000,
    'enable.auto.commit': False,
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
})
producer = Producer({
    'bootstrap.servers': bootstrap,
    'transactional.id': txn_id,
    'transaction.timeout.ms': 60000,
    'linger.ms': 5,
})
producer.init_transactions(60)
say('init')
consumer.subscribe([in_topic])

count = 0
while True:
    msgs = [m for m in consumer.consume(num_messages=rng.randint(1, 25), timeout=0.5) if not m.error()]
    assignment = consumer.assignment()
    if not msgs:
        if len(assignment) == 0:
            continue
        positions = consumer.position(assignment)
        done = True
        for tp in positions:
            _, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            if tp.offset < high:
                done = False
        if done:
            say('done')
            break
        continue
    count += 1
    producer.begin_transaction()
    say('begin %d' % count)
    for m in msgs:
        producer.produce(out_topic, key=m.key(), value=b'out:' + m.value(), partition=m.partition())
    producer.flush(60)
    say('produced %d' % count)
    if count == hold_at:
        say('holding %d' % count)
        sys.stdin.read()
    # a partition not fetched yet has no position (negative): nothing to commit for it
    offsets = [tp for tp in consumer.position(assignment) if tp.offset >= 0]
    producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 60)
    say('offsets %d' % count)
    producer.commit_transaction(60)
    say('committed %d' % count)

consumer.close()
