#!/usr/bin/env bash
# Installs the benchmark peers, load generators and ceiling tools (Debian),
# only those that are missing. Idempotent; needs root (or sudo) for apt-get.
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
)

missing=()
for pkg in "${!PKGS[@]}"; do
  command -v "${PKGS[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench-setup: all tools present"
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
echo "bench-setup: done"
