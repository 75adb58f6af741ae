"""Fault-test workload clients (confluent-kafka-python, librdkafka).

  workload.py produce BOOTSTRAP TOPIC PARTITIONS TAG RATE
      An idempotent producer (acks=all): record n goes to partition n % PARTITIONS
      with the value TAG-n, about RATE records a second, until stdin closes;
      then it flushes and exits. One line per outcome, as it happens:
        A <partition> <offset> <value> <ms> <sent ms>   acknowledged (and when it was handed to the client)
        E <value> <error> <ms>                 failed (not acknowledged)
        X <error> <ms>                         a fatal error (the producer cannot go on)
        W <error> <ms>                         a transient error librdkafka retries (a refused connection)
        D <sent>                               done (after the flush)
  workload.py consume BOOTSTRAP TOPIC PARTITIONS
      Reads every partition from the beginning until stdin closes:
        R <partition> <offset> <value>
        X / W <error> <ms>                     a fatal / a transient error event
  workload.py read BOOTSTRAP TOPIC PARTITIONS
      Reads every partition from the beginning up to its high watermark, then
      prints `H <partition> <high watermark>` for each and exits.
"""

import os
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING

out_lock = threading.Lock()


def emit(line):
    with out_lock:
        sys.stdout.write(line + "\n")


def now_ms():
    return int(time.time() * 1000)


def stdin_closed_event():
    ev = threading.Event()

    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        ev.set()

    threading.Thread(target=watch, daemon=True).start()
    return ev


def produce(bootstrap, topic, partitions, tag, rate):
    stop = stdin_closed_event()

    def on_error(err):
        # librdkafka reports connection failures here too and retries them itself:
        # only a fatal error stops the idempotent producer
        kind = "X" if err.fatal() else "W"
        emit("%s %s %d" % (kind, str(err).replace(" ", "_"), now_ms()))

    conf = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 300000,
        "request.timeout.ms": 10000,
        "retry.backoff.ms": 100,
        "socket.connection.setup.timeout.ms": 3000,
        "topic.metadata.refresh.interval.ms": 2000,
        "error_cb": on_error,
    }
    if os.environ.get("SAMSA_FAULT_CLIENT_DEBUG"):
        conf["debug"] = os.environ["SAMSA_FAULT_CLIENT_DEBUG"]
    p = Producer(conf)

    def on_delivery(err, msg):
        value = msg.value().decode()
        if err is not None:
            sent_at.pop(value, None)
            emit("E %s %s %d" % (value, str(err).replace(" ", "_"), now_ms()))
        else:
            emit("A %d %d %s %d %d" % (msg.partition(), msg.offset(), value, now_ms(), sent_at.pop(value, 0)))

    sent_at = {}
    try:
        sent = produce_until(p, stop, topic, partitions, tag, rate, on_delivery, sent_at)
    except KafkaException as e:
        # a fatal error (librdkafka gave up on the idempotent producer): reported, not a crash
        emit("X %s %d" % (str(e).replace(" ", "_"), now_ms()))
        sys.stdout.flush()
        return
    remaining = p.flush(240)
    emit("D %d %d" % (sent, remaining))
    sys.stdout.flush()


def produce_until(p, stop, topic, partitions, tag, rate, on_delivery, sent_at):
    """Produces until stdin closes; returns how many records it handed to the client."""
    n = 0
    interval = 1.0 / rate
    next_at = time.time()
    while not stop.is_set():
        value = "%s-%d" % (tag, n)
        try:
            sent_at[value] = now_ms()
            p.produce(topic, value=value.encode(), partition=n % partitions, on_delivery=on_delivery)
            n += 1
        except BufferError:
            p.poll(0.1)
            continue
        next_at += interval
        delay = next_at - time.time()
        p.poll(max(0.0, delay))
        if delay < -1.0:
            next_at = time.time()
        sys.stdout.flush()
    return n


def consumer(bootstrap):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fault-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "socket.connection.setup.timeout.ms": 3000,
            "topic.metadata.refresh.interval.ms": 2000,
        }
    )


def consume(bootstrap, topic, partitions):
    stop = stdin_closed_event()
    c = consumer(bootstrap)
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
    while not stop.is_set():
        for msg in c.consume(500, 0.2):
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    kind = "X" if msg.error().fatal() else "W"
                    emit("%s %s %d" % (kind, str(msg.error()).replace(" ", "_"), now_ms()))
                continue
            emit("R %d %d %s" % (msg.partition(), msg.offset(), msg.value().decode()))
        sys.stdout.flush()
    c.close()


def read(bootstrap, topic, partitions):
    c = consumer(bootstrap)
    hw = {}
    for i in range(partitions):
        deadline = time.time() + 60
        while True:
            try:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, i), timeout=10)
                hw[i] = hi
                break
            except Exception as e:
                if time.time() > deadline:
                    raise
                emit("W watermarks_%d_%s %d" % (i, str(e).replace(" ", "_"), now_ms()))
                time.sleep(0.5)
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions) if hw[i] > 0])
    pos = {i: 0 for i in range(partitions)}
    deadline = time.time() + 180
    while any(pos[i] < hw[i] for i in range(partitions)):
        if time.time() > deadline:
            emit("X read_timeout %d" % now_ms())
            break
        for msg in c.consume(1000, 0.5):
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    kind = "X" if msg.error().fatal() else "W"
                    emit("%s %s %d" % (kind, str(msg.error()).replace(" ", "_"), now_ms()))
                continue
            if msg.offset() < hw[msg.partition()]:
                emit("R %d %d %s" % (msg.partition(), msg.offset(), msg.value().decode()))
            pos[msg.partition()] = msg.offset() + 1
    for i in range(partitions):
        emit("H %d %d" % (i, hw[i]))
    sys.stdout.flush()
    c.close()


def main():
    mode = sys.argv[1]
    if mode == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
    elif mode == "consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "read":
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
