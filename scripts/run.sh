#!/usr/bin/env bash
# The main job. Until `nexus serve` exists this runs a short demo.
set -euo pipefail
BIN="${VENV:-.venv}/bin"
if "$BIN/nexus" serve --help >/dev/null 2>&1; then
  exec "$BIN/nexus" serve
fi
"$BIN/nexus" store --agent demo --labels demo,quickstart \
  --content "Nexus Memory quick start: this memory was stored by make run"
"$BIN/nexus" search quick start
"$BIN/nexus" stats
