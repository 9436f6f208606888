#!/usr/bin/env bash
# `make bench-backends`: start the throwaway PostgreSQL the tests use, run bench/backends.py, stop it.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
cleanup() { for ((i=${#CLEANUPS[@]}-1; i>=0; i--)); do eval "${CLEANUPS[$i]}" || true; done; }
trap cleanup EXIT
# shellcheck disable=SC1091
source scripts/services/10-postgres.sh || exit 1
"$BIN/python" -m bench.backends "$@"
