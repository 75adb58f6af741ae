"""Helpers shared by the interop scripts. Each script prints one JSON document
as its last line of stdout; the Node test (test/interop/python.test.ts) asserts on it."""
import json
import sys
import time


def b2s(b):
    if b is None:
        return None
    if isinstance(b, (bytes, bytearray)):
        return b.decode('utf-8', 'replace')
    return b


def emit(doc):
    sys.stdout.write(json.dumps(doc) + '\n')
    sys.stdout.flush()


def ck_record(msg):
    """A confluent_kafka Message as a JSON-able dict."""
    ts_type, ts = msg.timestamp()
    headers = msg.headers() or []
    return {
        'partition': msg.partition(),
        'offset': msg.offset(),
        'key': b2s(msg.key()),
        'value': b2s(msg.value()),
        'valueLen': None if msg.value() is None else len(msg.value()),
        'headers': [[k, b2s(v)] for k, v in headers],
        'timestamp': ts,
        'timestampType': ts_type,
    }


def ck_consume(consumer, want, timeout_s=30.0):
    """Polls a confluent_kafka Consumer until `want` records arrived or the time is up."""
    out, errors = [], []
    deadline = time.time() + timeout_s
    while len(out) < want and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            errors.append(str(msg.error()))
            continue
        out.append(ck_record(msg))
    return out, errors
