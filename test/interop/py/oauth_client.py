"""One OAUTHBEARER client session against a broker: produce one message to a topic and read it back.

usage: oauth_client.py CLIENT BOOTSTRAP TOPIC
CLIENT is confluent (confluent-kafka-python / librdkafka, the token given by oauth_cb) or
kafka-python (sasl_oauth_token_provider). The token comes from the environment (OAUTH_TOKEN)
so that it is not on a command line; its expiry (seconds since the epoch) from OAUTH_TOKEN_EXP.
Prints one JSON document: {"ok": bool, "values": [...], "error": str|null, "tokenCalls": int}.
"""
import json
import os
import sys
import time

client, bootstrap, topic = sys.argv[1:4]
token = os.environ['OAUTH_TOKEN']
token_exp = float(os.environ.get('OAUTH_TOKEN_EXP', str(time.time() + 3600)))
value = ('hello-oauth-' + client).encode()
out = {'ok': False, 'values': [], 'error': None, 'tokenCalls': 0}


def oauth_cb(_config):
    out['tokenCalls'] += 1
    return token, token_exp


try:
    if client == 'confluent':
        from confluent_kafka import Consumer, Producer

        errors = []
        common = {
            'bootstrap.servers': bootstrap,
            'security.protocol': 'SASL_PLAINTEXT',
            'sasl.mechanisms': 'OAUTHBEARER',
            'oauth_cb': oauth_cb,
            'error_cb': lambda e: errors.append(str(e)),
        }
        p = Producer(dict(common))
        p.produce(topic, value)
        deadline = time.time() + 20
        left = 1
        while time.time() < deadline and left and not errors:
            left = p.flush(0.2)
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
        from kafka.oauth.abstract import AbstractTokenProvider

        class Provider(AbstractTokenProvider):
            def token(self):
                out['tokenCalls'] += 1
                return token

        common = dict(
            bootstrap_servers=bootstrap,
            security_protocol='SASL_PLAINTEXT',
            sasl_mechanism='OAUTHBEARER',
            sasl_oauth_token_provider=Provider(),
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
