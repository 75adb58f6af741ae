#!/usr/bin/env bash
# Builds the C load generator (librdkafka; latency producer and consumer, and
# the catch-up consumer, and the max-throughput producer: `latency produce|consume|catchup|produce-max`) into bench/loadgen/build/,
# only when a source is newer than the binary. Needs gcc and librdkafka-dev
# (scripts/bench-setup.sh installs them). Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build/latency"
srcs=("$here/latency.c" "$here/build.sh")
if [ -x "$out" ] && [ -z "$(find "${srcs[@]}" -newer "$out" 2>/dev/null)" ]; then
  echo "$out"
  exit 0
fi
if [ ! -e /usr/include/librdkafka/rdkafka.h ]; then
  echo "loadgen build: librdkafka-dev is missing (run scripts/bench-setup.sh)" >&2
  exit 1
fi
mkdir -p "$here/build"
gcc -std=c11 -O2 -Wall -Wextra -o "$out.tmp.$$" "$here/latency.c" -lrdkafka -lm
mv -f "$out.tmp.$$" "$out"
echo "$out"
