"""Produces one message at a time over SASL_PLAINTEXT/PLAIN for DURATION seconds (librdkafka re-authenticates, KIP-368).

usage: sasl_reauth_ck.py BOOTSTRAP USERNAME PASSWORD TOPIC DURATION_S
Prints {"sent": n, "errors": [...]}.
"""
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, username, password, topic, duration = sys.argv[1:6]
errors = []
p = Producer({
    'bootstrap.servers': bootstrap,
    'security.protocol': 'SASL_PLAINTEXT',
    'sasl.mechanisms': 'PLAIN',
    'sasl.username': username,
    'sasl.password': password,
    'error_cb': lambda e: errors.append(str(e)),
})
sent = 0
failed = []
end = time.time() + float(duration)
while time.time() < end:
    p.produce(topic, b'm%d' % sent, on_delivery=lambda err, msg: err and failed.append(str(err)))
    if p.flush(20) != 0:
        failed.append('flush timed out')
        break
    sent += 1
print(json.dumps({'sent': sent, 'errors': errors + failed}))
