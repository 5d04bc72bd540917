#!/usr/bin/env bash
# The README's two commands: `scripts/run.sh demo` and `scripts/run.sh test`.
# Each first sets up the machine (scripts/setup.sh), then runs the task.
#   demo   create two partitions on the emulated arm64 board and show them
#   test   the whole test suite; ends with a line "N passed, M failed"
#   ci     fmt, lint and type checks, then the tests (what .ci/run calls)
set -euo pipefail
cd "$(dirname "$0")/.."
task="${1:-}"
case "$task" in
  demo | test | ci) ;;
  *)
    echo "usage: scripts/run.sh demo|test|ci" >&2
    exit 2
    ;;
esac
setup_start=$SECONDS
bash scripts/setup.sh
echo "run.sh: set-up took $((SECONDS - setup_start)) s" >&2
case "$task" in
  demo) exec deno task demo ;;
  test) exec bash scripts/test.sh ;;
  ci)
    if ! deno task check; then
      echo "fmt, lint or type check failed" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
    exec bash scripts/test.sh
    ;;
esac
