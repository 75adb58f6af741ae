"""A consumer-group member driven by the interop tests (test/interop/groups-*.test.ts).

Run with Debian's python (/usr/bin/python3), which has confluent-kafka and
kafka-python, or (--client confluent) with the current confluent-kafka's
virtualenv python (test/helpers/pyclient.ts), which also speaks KIP-848
(--group-protocol consumer). It subscribes to one topic (or several: --topic repeated) in
one group and reports, as one JSON object per stdout line:

  {"ev": "owned", "partitions": [..], "tps": ["topic:p", ..]}
                                         the partitions it owns after every
                                         assign / revoke / lost callback
                                         (partitions: their numbers, of
                                         whichever topic; tps: topic:partition)
  {"ev": "rec", "t": T, "p": P, "o": O, "v": V} every record consumed
  {"ev": "commit", "t": T, "p": P, "o": O}  a synchronous commit succeeded
  {"ev": "join", "generation": G, "ok": B}  (confluent, --debug-cgrp) a JoinGroup
                                         response's generation (ok: no error), from
                                         librdkafka's cgrp debug log
  {"ev": "left"}                        (confluent, --debug-cgrp) the LeaveGroup
                                         response arrived, from the cgrp debug log
  {"ev": "version", "lib": "x.y.z"}     (confluent) the librdkafka version, first
  {"ev": "error", "msg": ...}           a client error
  {"ev": "closed"}                      after a clean close (close() returned)

Each record is committed synchronously (offset + 1) right after it is
consumed (a commit refused during a rebalance is retried while the partition
stays this member's), so the committed offsets track what was consumed. The process
closes the consumer cleanly (LeaveGroup for dynamic members) when it reads
"close" on stdin or stdin reaches EOF.

For diagnosis (confluent): SAMSA_TEST_RDKAFKA_DEBUG=cgrp,metadata,... sets
librdkafka's `debug`, and SAMSA_TEST_RDKAFKA_LOG_DIR=DIR writes its log lines
to DIR/<client-id>-<pid>.log.
"""
import argparse
import json
import logging
import os
import re
import sys
import threading

parser = argparse.ArgumentParser()
parser.add_argument('--client', choices=['confluent', 'kafka-python'], required=True)
parser.add_argument('--bootstrap', required=True)
parser.add_argument('--group', required=True)
parser.add_argument('--topic', action='append', required=True)
parser.add_argument('--strategy', default='range')
parser.add_argument('--instance-id', default=None)
parser.add_argument('--session-timeout-ms', type=int, default=6000)
parser.add_argument('--client-id', default=None)
parser.add_argument('--debug-cgrp', action='store_true')
# confluent: group.protocol (classic, or consumer for KIP-848 where librdkafka has it)
parser.add_argument('--group-protocol', default=None)
args = parser.parse_args()

out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()


stop = threading.Event()


def read_stdin():
    for line in sys.stdin:
        if line.strip() == 'close':
            break
    stop.set()


threading.Thread(target=read_stdin, daemon=True).start()

owned = set()


def report_owned():
    emit({'ev': 'owned', 'partitions': sorted(p for _, p in owned), 'tps': sorted('%s:%d' % tp for tp in owned)})


def run_confluent():
    from confluent_kafka import Consumer, KafkaException, TopicPartition, libversion

    emit({'ev': 'version', 'lib': libversion()[0]})
    gen_re = re.compile(r'JoinGroup response: GenerationId (-?\d+)')

    class CgrpLog(logging.Handler):
        def emit(self, record):
            text = record.getMessage()
            if 'LeaveGroup response received' in text:
                emit({'ev': 'left'})
            m = gen_re.search(text)
            if m:
                # error answers (e.g. MEMBER_ID_REQUIRED) carry generation -1 and an error text
                emit({'ev': 'join', 'generation': int(m.group(1)), 'ok': text.rstrip().endswith('(no error)')})

    conf = {
        'bootstrap.servers': args.bootstrap,
        'group.id': args.group,
        'enable.auto.commit': False,
        'auto.offset.reset': 'earliest',
        'partition.assignment.strategy': args.strategy,
        'session.timeout.ms': args.session_timeout_ms,
        'heartbeat.interval.ms': 500,
        'max.poll.interval.ms': 20000,
        'topic.metadata.refresh.interval.ms': 2000,
        'error_cb': lambda err: emit({'ev': 'error', 'msg': str(err)}),
    }
    if args.client_id:
        conf['client.id'] = args.client_id
    if args.instance_id:
        conf['group.instance.id'] = args.instance_id
    if args.group_protocol:
        conf['group.protocol'] = args.group_protocol
        if args.group_protocol == 'consumer':
            # KIP-848: the broker assigns; these are classic-protocol settings.
            for k in ('partition.assignment.strategy', 'session.timeout.ms', 'heartbeat.interval.ms'):
                del conf[k]
    extra = {}
    debug = [c for c in os.environ.get('SAMSA_TEST_RDKAFKA_DEBUG', '').split(',') if c]
    log_dir = os.environ.get('SAMSA_TEST_RDKAFKA_LOG_DIR')
    if args.debug_cgrp and 'cgrp' not in debug:
        debug.append('cgrp')
    if debug or log_dir:
        if debug:
            conf['debug'] = ','.join(debug)
        log = logging.getLogger('rdkafka-' + (args.client_id or args.group))
        log.setLevel(logging.DEBUG)
        log.propagate = False
        if args.debug_cgrp:
            log.addHandler(CgrpLog())
        if log_dir:
            fh = logging.FileHandler(os.path.join(log_dir, '%s-%d.log' % (args.client_id or args.group, os.getpid())))
            fh.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
            log.addHandler(fh)
        extra['logger'] = log
    consumer = Consumer(conf, **extra)
    cooperative = args.strategy == 'cooperative-sticky' or args.group_protocol == 'consumer'

    def on_assign(c, parts):
        # Eager: the full new assignment. Cooperative: only what is added.
        if not cooperative:
            owned.clear()
        owned.update((tp.topic, tp.partition) for tp in parts)
        report_owned()

    # Commits refused by a rebalance (e.g. REBALANCE_IN_PROGRESS) of partitions this member still owns,
    # retried as an application would: (topic, partition) -> offset.
    pending = {}

    def on_revoke(c, parts):
        for tp in parts:
            owned.discard((tp.topic, tp.partition))
            pending.pop((tp.topic, tp.partition), None)
        report_owned()

    def on_lost(c, parts):
        for tp in parts:
            owned.discard((tp.topic, tp.partition))
            pending.pop((tp.topic, tp.partition), None)
        report_owned()

    def commit(t, p, o):
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o)], asynchronous=False)
            pending.pop((t, p), None)
            emit({'ev': 'commit', 't': t, 'p': p, 'o': o})
        except KafkaException as e:
            # A commit racing a rebalance may fail: retried while the partition stays ours; a partition
            # that moves is consumed again by its next owner from the last committed offset.
            if pending.get((t, p)) != o:
                emit({'ev': 'error', 'msg': 'commit: ' + str(e)})
            pending[(t, p)] = o

    consumer.subscribe(args.topic, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    while not stop.is_set():
        msg = consumer.poll(0.2)
        for (t, p), o in list(pending.items()):
            if (t, p) in owned:
                commit(t, p, o)
        if msg is None:
            continue
        if msg.error():
            emit({'ev': 'error', 'msg': str(msg.error())})
            continue
        t, p, o = msg.topic(), msg.partition(), msg.offset()
        emit({'ev': 'rec', 't': t, 'p': p, 'o': o, 'v': msg.value().decode() if msg.value() is not None else None})
        commit(t, p, o + 1)
    consumer.close()
    emit({'ev': 'closed'})


def run_kafka_python():
    from kafka import KafkaConsumer, TopicPartition, ConsumerRebalanceListener
    from kafka.structs import OffsetAndMetadata
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.errors import KafkaError

    assignors = {'range': RangePartitionAssignor, 'roundrobin': RoundRobinPartitionAssignor}
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.client_id or 'groups-kafka-python',
        enable_auto_commit=False,
        auto_offset_reset='earliest',
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=500,
        max_poll_interval_ms=20000,
        metadata_max_age_ms=2000,
        partition_assignment_strategy=[assignors[args.strategy]],
    )

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            for tp in revoked:
                owned.discard((tp.topic, tp.partition))
            report_owned()

        def on_partitions_assigned(self, assigned):
            owned.clear()
            owned.update((tp.topic, tp.partition) for tp in assigned)
            report_owned()

    consumer.subscribe(args.topic, listener=Listener())
    while not stop.is_set():
        batches = consumer.poll(timeout_ms=200)
        for tp, records in batches.items():
            for r in records:
                emit({'ev': 'rec', 't': r.topic, 'p': r.partition, 'o': r.offset, 'v': r.value.decode() if r.value is not None else None})
                try:
                    consumer.commit({TopicPartition(r.topic, r.partition): OffsetAndMetadata(r.offset + 1, None)})
                    emit({'ev': 'commit', 't': r.topic, 'p': r.partition, 'o': r.offset + 1})
                except KafkaError as e:
                    emit({'ev': 'error', 'msg': 'commit: ' + repr(e)})
    consumer.close()
    emit({'ev': 'closed'})


if args.client == 'confluent':
    run_confluent()
else:
    run_kafka_python()
