"""Producer throughput with confluent-kafka-python (librdkafka), for bench/transactions.bench.ts.
usage: ck_txn_throughput.py BOOTSTRAP TOPIC PARTITIONS VALUE_BYTES MODE@RECORDS...
MODE is 'idempotent' (enable.idempotence, one flush at the end) or 'txn:N' (transactions of N
records each, committed one after the other); RECORDS records are produced in that mode, after a
warm-up. Records go round-robin over the partitions.
Prints one JSON line per mode: records, seconds, records/s, transactions."""
import json
import sys
import time
from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
partitions, value_bytes = int(sys.argv[3]), int(sys.argv[4])
value = b'x' * value_bytes
base = {'bootstrap.servers': bootstrap, 'linger.ms': 5, 'acks': 'all', 'enable.idempotence': True}


def produce_loop(p, n, start):
    for i in range(start, start + n):
        while True:
            try:
                p.produce(topic, value=value, partition=i % partitions)
                break
            except BufferError:
                p.poll(0.01)


for run, arg in enumerate(sys.argv[5:]):
    mode, records = arg.split('@')[0], int(arg.split('@')[1])
    if mode == 'idempotent':
        p = Producer(base)
        produce_loop(p, 1000, 0)  # warm-up: connections, producer id, metadata
        p.flush(60)
        t0 = time.perf_counter()
        produce_loop(p, records, 0)
        if p.flush(300) != 0:
            raise SystemExit('records left unsent')
        txns = 0
    else:
        size = int(mode.split(':')[1])
        p = Producer(dict(base, **{'transactional.id': 'bench-%d-%d' % (run, time.time_ns()),
                                   'transaction.timeout.ms': 60000}))
        p.init_transactions(60)
        p.begin_transaction()
        produce_loop(p, min(size, 1000), 0)  # warm-up transaction
        p.commit_transaction(60)
        t0 = time.perf_counter()
        txns = 0
        done = 0
        while done < records:
            n = min(size, records - done)
            p.begin_transaction()
            produce_loop(p, n, done)
            p.commit_transaction(120)
            done += n
            txns += 1
    secs = time.perf_counter() - t0
    sys.stdout.write(json.dumps({'mode': mode, 'records': records, 'seconds': secs,
                                 'recordsPerSec': records / secs, 'transactions': txns}) + '\n')
    sys.stdout.flush()
