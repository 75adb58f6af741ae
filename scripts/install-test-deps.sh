#!/usr/bin/env bash
# Installs the real Kafka clients the interop tests drive: kcat (librdkafka),
# confluent-kafka-python and kafka-python, from Debian packages — only those
# that are missing. Idempotent. Needs root (or sudo) for apt-get.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PKGS=(kcat python3-confluent-kafka python3-kafka)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for pkg in "${PKGS[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: kcat, python3-confluent-kafka, python3-kafka present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${missing[*]} and no apt-get; install them by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi

# Refresh the package lists only when apt does not know a package we need
# (a fresh container ships with empty lists).
need_update=0
for pkg in "${missing[@]}"; do
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then need_update=1; break; fi
done
if [ "$need_update" -eq 1 ]; then
  echo "install-test-deps: apt-get update"
  $SUDO apt-get update -qq
fi

echo "install-test-deps: installing ${missing[*]}"
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  # stale lists can point at files the mirror no longer has
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
