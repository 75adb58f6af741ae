"""A large message: accepted when it fits message.max.bytes, MSG_SIZE_TOO_LARGE when not.
usage: ck_large.py BOOTSTRAP TOPIC SIZE_BYTES
Prints the delivery error name (or null) and, when delivered, the size read back."""
import sys
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
from common import emit, ck_consume

bootstrap, topic, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
# lift the client-side limit so the broker is the one that decides
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'message.max.bytes': 10_000_000,
              'compression.codec': 'none', 'retries': 0})
res = {'error': None}


def on_delivery(err, msg):
    if err is not None:
        res['error'] = err.name()
    else:
        res['offset'] = msg.offset()


payload = bytes((i * 7) % 251 for i in range(size))
p.produce(topic, value=payload, key=b'big', partition=0, on_delivery=on_delivery)
p.flush(60)
if res['error'] is None:
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-' + topic,
                  'enable.auto.commit': False, 'fetch.message.max.bytes': 65536})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = []
    import time
    deadline = time.time() + 60
    while not got and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    c.close()
    res['readBack'] = len(got[0].value()) if got else None
    res['identical'] = bool(got) and got[0].value() == payload
emit(res)
