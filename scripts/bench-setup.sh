#!/usr/bin/env bash
# Installs the benchmark peers, load generators and ceiling tools (Debian),
# only those that are missing, then builds the C latency load generator
# (bench/loadgen, on librdkafka). Idempotent; needs root (or sudo) for apt-get.
# Only for benchmarks: `npm test` needs none of this.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# package -> a command it provides
declare -A PKGS=(
  [nats-server]=nats-server
  [redis-server]=redis-server
  [redis-tools]=redis-benchmark
  [iperf3]=iperf3
  [fio]=fio
  [kcat]=kcat
  [gcc]=gcc
)
# package -> a file it provides (build dependencies of bench/loadgen)
declare -A DEVPKGS=(
  [librdkafka-dev]=/usr/include/librdkafka/rdkafka.h
  [libc6-dev]=/usr/include/stdio.h
)

missing=()
for pkg in "${!PKGS[@]}"; do
  command -v "${PKGS[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
for pkg in "${!DEVPKGS[@]}"; do
  [ -e "${DEVPKGS[$pkg]}" ] || missing+=("$pkg")
done

build_loadgen() {
  bash "$(dirname "$0")/../bench/loadgen/build.sh"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench-setup: all tools present"
  build_loadgen
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bench-setup: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "bench-setup: installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

# Debian starts the packaged services; the harness runs its own instances on
# other ports, so the system ones are stopped to keep them off the CPU.
for svc in redis-server nats-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
# iperf3's package may ask to start a daemon; make sure none is left running.
pgrep -x iperf3 >/dev/null 2>&1 && echo "bench-setup: note: an iperf3 process is running" || true
build_loadgen
echo "bench-setup: done"
