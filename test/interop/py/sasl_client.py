"""One SASL client session against a broker: produce one message to a topic and read it back.

usage: sasl_client.py CLIENT BOOTSTRAP MECHANISM USERNAME PASSWORD TOPIC
CLIENT is confluent (confluent-kafka-python / librdkafka) or kafka-python.
Prints one JSON document: {"ok": bool, "values": [...], "error": str|null}.
"""
import json
import sys
import time

client, bootstrap, mechanism, username, password, topic = sys.argv[1:7]
value = ('hello-' + mechanism).encode()
out = {'ok': False, 'values': [], 'error': None}

try:
    if client == 'confluent':
        from confluent_kafka import Consumer, Producer

        errors = []
        common = {
            'bootstrap.servers': bootstrap,
            'security.protocol': 'SASL_PLAINTEXT',
            'sasl.mechanisms': mechanism,
            'sasl.username': username,
            'sasl.password': password,
            'error_cb': lambda e: errors.append(str(e)),
        }
        p = Producer(dict(common))
        p.produce(topic, value)
        left = p.flush(20)
        if left or errors:
            raise RuntimeError('produce failed: ' + '; '.join(errors or ['timed out']))
        c = Consumer(dict(common, **{'group.id': 'g-' + topic, 'auto.offset.reset': 'earliest'}))
        c.subscribe([topic])
        deadline = time.time() + 30
        while time.time() < deadline and not out['values']:
            m = c.poll(1)
            if errors:
                raise RuntimeError('; '.join(errors))
            if m is not None and m.error() is None:
                out['values'].append(m.value().decode())
        c.close()
    else:
        from kafka import KafkaConsumer, KafkaProducer

        common = dict(
            bootstrap_servers=bootstrap,
            security_protocol='SASL_PLAINTEXT',
            sasl_mechanism=mechanism,
            sasl_plain_username=username,
            sasl_plain_password=password,
            api_version_auto_timeout_ms=20000,
        )
        p = KafkaProducer(**common)
        p.send(topic, value).get(timeout=30)
        p.close()
        c = KafkaConsumer(topic, auto_offset_reset='earliest', consumer_timeout_ms=20000, **common)
        for m in c:
            out['values'].append(m.value.decode())
            break
        c.close()
    out['ok'] = out['values'] == [value.decode()]
except Exception as e:  # noqa: BLE001 - the test asserts on the message
    out['error'] = '%s: %s' % (type(e).__name__, e)
print(json.dumps(out))
