#!/usr/bin/env bash
# Runs the test suite and ends with one line "N passed, M failed" (Deno's own
# summary reads "ok | N passed | M failed"). Exit code: Deno test's.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
deno task test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
if [[ -z "$summary" ]]; then
  passed=0
  failed=1
  echo "scripts/test.sh: deno test printed no summary" >&2
fi
# Tests that skipped (a tool or fixture missing) printed their reason above; count them here.
ignored=$(sed -E -n 's/.*\| ([0-9]+) ignored.*/\1/p' <<<"$summary")
if [[ -n "$ignored" && "$ignored" != "0" ]]; then
  echo "scripts/test.sh: ${ignored} tests skipped (not counted as passed); their reasons are above" >&2
fi
echo "scripts/test.sh: the tests took $((SECONDS - start)) s" >&2
echo "${passed} passed, ${failed} failed"
exit "$status"
