#!/usr/bin/env bash
# The reference Apache Kafka, on demand: resolved from Maven Central (the
# version pinned in scripts/kafka-ref/pom.xml) into .cache/kafka-ref/lib, run
# as a KRaft single node (broker + controller) on loopback.
#
#   scripts/kafka-ref.sh resolve           # jars into .cache/kafka-ref/lib (once)
#   scripts/kafka-ref.sh classpath         # prints the classpath (resolves first)
#   scripts/kafka-ref.sh start [DIR]       # formats DIR (default .cache/kafka-ref/run) and starts;
#                                          # prints "bootstrap=127.0.0.1:PORT pid=PID" once it answers
#   scripts/kafka-ref.sh stop [DIR]        # stops the broker started in DIR by its process id
#
# Environment: KAFKA_REF_PORT (client port, default 19092; 0 picks a free
# one), KAFKA_REF_HEAP (default 768m), KAFKA_REF_START_TIMEOUT (seconds, 90),
# KAFKA_REF_PROPS (extra server.properties lines, newline-separated).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/kafka-ref"
lib="$cache/lib"
pom="$root/scripts/kafka-ref/pom.xml"

die() { echo "kafka-ref: $*" >&2; exit 1; }

resolve() {
  local stamp="$lib/.resolved" want
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  # test files running side by side may all ask at once: one resolves, the others wait for it
  mkdir -p "$cache"
  exec 9>"$cache/.resolve.lock"
  flock 9
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then flock -u 9; return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is not installed"
  rm -rf "$lib.tmp"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$lib.tmp" >&2 ||
    die "could not resolve Apache Kafka from Maven Central (see the Maven output above)"
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  echo "$want" >"$lib/.resolved"
  flock -u 9
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local dir="${1:-$cache/run}"
  resolve
  command -v java >/dev/null || die "java is not installed"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "a broker started in $dir is already running (pid $(cat "$dir/pid")); stop it first"
  fi
  rm -rf "$dir"
  mkdir -p "$dir/data"
  local port="${KAFKA_REF_PORT:-19092}"
  [ "$port" = 0 ] && port="$(free_port)"
  local cport
  cport="$(free_port)"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
${KAFKA_REF_PROPS:-}
EOF
  local cp="$lib/*"
  local heap="${KAFKA_REF_HEAP:-768m}"
  local cluster_id
  cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
    die "formatting $dir failed: $(tail -3 "$dir/format.log")"
  nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:ActiveProcessorCount=2 \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$dir/server.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/pid"
  echo "$port" >"$dir/port"
  local deadline=$((SECONDS + ${KAFKA_REF_START_TIMEOUT:-90}))
  until answers "$port"; do
    kill -0 "$pid" 2>/dev/null || die "the broker exited while starting: $(tail -5 "$dir/server.log")"
    [ $SECONDS -lt $deadline ] || { kill "$pid" 2>/dev/null; die "the broker did not answer on port $port in time"; }
    sleep 0.2
  done
  echo "bootstrap=127.0.0.1:$port pid=$pid"
}

stop() {
  local dir="${1:-$cache/run}"
  [ -f "$dir/pid" ] || { echo "kafka-ref: nothing started in $dir" >&2; return 0; }
  local pid
  pid="$(cat "$dir/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  resolve) resolve ;;
  classpath) resolve; echo "$lib/*" ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) die "usage: kafka-ref.sh resolve|classpath|start [DIR]|stop [DIR]" ;;
esac
