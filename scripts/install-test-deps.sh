#!/usr/bin/env bash
# Installs the real Kafka clients the interop tests drive. Idempotent; needs
# root (or sudo) for apt-get.
#
#  - Debian packages, only those that are missing: kcat (librdkafka),
#    python3-confluent-kafka (1.7.0 on librdkafka 2.0.2 in bookworm) and
#    python3-kafka (kafka-python), used with Debian's /usr/bin/python3; and
#    python3-venv for the virtualenv below; iproute2 and iptables for the
#    fault tests (test/fault: network namespaces, packet drops).
#  - A virtualenv at .cache/py-current/ (git-ignored) made with Debian's
#    python3, holding confluent-kafka $CK_VERSION from PyPI: a current
#    librdkafka (bundled in the wheel) that speaks KIP-848. Skipped when the
#    virtualenv already has that version; a broken or older one is rebuilt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

PKGS=(kcat python3-confluent-kafka python3-kafka python3-venv iproute2 iptables)
# confluent-kafka-python on PyPI; test/helpers/pyclient.ts expects this version.
CK_VERSION=2.16.1
VENV=.cache/py-current
BASE_PY=/usr/bin/python3

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

install_debian_packages() {
  local missing=() pkg
  for pkg in "${PKGS[@]}"; do
    installed "$pkg" || missing+=("$pkg")
  done

  if [ ${#missing[@]} -eq 0 ]; then
    echo "install-test-deps: ${PKGS[*]} present"
    return 0
  fi

  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]} and no apt-get; install them by hand" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "install-test-deps: need root to install: ${missing[*]}" >&2
    return 1
  fi

  # Refresh the package lists only when apt does not know a package we need
  # (a fresh container ships with empty lists).
  local need_update=0
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
}

venv_has_version() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c 'import sys, confluent_kafka, importlib.metadata as m; sys.exit(m.version("confluent-kafka") != sys.argv[1])' "$CK_VERSION" 2>/dev/null
}

install_current_client() {
  if venv_has_version; then
    echo "install-test-deps: $VENV has confluent-kafka $CK_VERSION"
    return 0
  fi
  echo "install-test-deps: creating $VENV with confluent-kafka==$CK_VERSION"
  # an interrupted or older virtualenv is made again from scratch
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$BASE_PY" -m venv "$VENV"
  # only a prebuilt wheel: it bundles librdkafka, nothing is compiled
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "confluent-kafka==$CK_VERSION"
  if ! venv_has_version; then
    echo "install-test-deps: $VENV does not import confluent-kafka $CK_VERSION after installing it" >&2
    return 1
  fi
  "$VENV/bin/python" -c 'import confluent_kafka as c, importlib.metadata as m; print("install-test-deps: confluent-kafka %s, librdkafka %s" % (m.version("confluent-kafka"), c.libversion()[0]))'
}

install_debian_packages
install_current_client
