#!/usr/bin/env bash
# Start what the tests need, run lint, types and the whole suite, stop what we started.
# Each file in scripts/services/*.sh is sourced in name order; it may start a service,
# export variables for the tests, and register a cleanup with `on_exit "command"`.
set -uo pipefail
cd "$(dirname "$0")/.."
export VENV="${VENV:-.venv}"
BIN="$VENV/bin"
export PATH="$PWD/$BIN:$PATH"

CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
cleanup() { for ((i=${#CLEANUPS[@]}-1; i>=0; i--)); do eval "${CLEANUPS[$i]}" || true; done; }
trap cleanup EXIT

for svc in scripts/services/*.sh; do
  [ -e "$svc" ] || continue
  echo "== service: $svc"
  # shellcheck disable=SC1090
  source "$svc" || { echo "service script $svc failed"; exit 1; }
done

echo "== ruff"
"$BIN/ruff" check src tests $(ls -d bench 2>/dev/null) || exit 1
echo "== mypy"
"$BIN/mypy" || exit 1
echo "== pytest"
"$BIN/pytest" -q ${PYTEST_ARGS:-}
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit $rc
