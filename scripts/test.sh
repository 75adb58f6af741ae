#!/usr/bin/env bash
# `npm test`: type check, lint and format check, unit tests, then interop
# tests in which real Kafka clients (kafkajs, kcat, confluent-kafka-python,
# kafka-python) talk to a broker each test file starts itself. Runs every
# stage, exits non-zero if any stage failed.
#
#   npm test                          # everything
#   bash scripts/test.sh FILE...      # only these test files (still type checks and lints)
#   SAMSA_TEST_SKIP_DEPS=1 ...        # don't try to apt-get the client tools
set -uo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "== npm install"
  npm install --no-audit --no-fund || exit 1
fi

if [ "${SAMSA_TEST_SKIP_DEPS:-0}" != "1" ]; then
  echo "== test client tools"
  bash scripts/install-test-deps.sh || { echo "could not install the interop clients" >&2; exit 1; }
fi

echo "== native addon (zero-copy fetch)"
node scripts/build-native.mjs

failed=()

# the compiled package (bin/samsa.mjs, and so the child brokers of the interop
# tests, run dist/ when it is fresh); rebuilt only when src/ changed
echo "== build (dist/: tsc -p tsconfig.build.json)"
node scripts/build.mjs || failed+=("build")

echo "== typecheck (tsc -p .)"
npx tsc -p . || failed+=("typecheck")

# biome.jsonc: lint findings (warnings included) and unformatted files fail the run
echo "== lint (biome lint, biome format)"
npx biome lint --error-on-warnings . || failed+=("lint")
npx biome format . || failed+=("format")

# Node 20's --test takes no globs: list the files ourselves.
NODE_TEST=(node --import tsx --test --test-reporter=spec)

if [ $# -gt 0 ]; then
  echo "== selected tests"
  "${NODE_TEST[@]}" --test-concurrency=1 --test-timeout=300000 "$@" || failed+=("selected tests")
else
  mapfile -t unit < <(find test/unit -name '*.test.ts' 2>/dev/null | sort)
  mapfile -t interop < <(find test/interop -name '*.test.ts' 2>/dev/null | sort)

  if [ ${#unit[@]} -gt 0 ]; then
    echo "== unit tests (${#unit[@]} files)"
    "${NODE_TEST[@]}" --test-timeout=120000 "${unit[@]}" || failed+=("unit tests")
  fi

  if [ ${#interop[@]} -gt 0 ]; then
    # each file starts a broker (and spawns client processes): two at a time
    echo "== interop tests (${#interop[@]} files)"
    "${NODE_TEST[@]}" --test-concurrency=2 --test-timeout=300000 "${interop[@]}" || failed+=("interop tests")
  fi
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "== all passed"
