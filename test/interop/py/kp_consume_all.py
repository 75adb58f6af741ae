"""kafka-python: read one partition from the beginning up to its end offset.
usage: kp_consume_all.py BOOTSTRAP TOPIC PARTITION
Prints {"end": <end offset>, "records": [{"offset", "value"}...], "error": null | "<exception>"}."""
import sys
import time
from kafka import KafkaConsumer, TopicPartition
from common import emit, b2s

bootstrap, topic, partition = sys.argv[1], sys.argv[2], int(sys.argv[3])
tp = TopicPartition(topic, partition)
cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
cons.assign([tp])
cons.seek_to_beginning(tp)
end = cons.end_offsets([tp])[tp]
records, error = [], None
deadline = time.time() + 60
try:
    while cons.position(tp) < end and time.time() < deadline:
        for msgs in cons.poll(timeout_ms=500).values():
            records.extend({'offset': m.offset, 'value': b2s(m.value)} for m in msgs)
except Exception as e:  # a poisoned partition makes kafka-python raise here
    error = '%s: %s' % (type(e).__name__, e)
cons.close()
emit({'end': end, 'records': records, 'error': error})
