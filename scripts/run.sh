#!/usr/bin/env bash
# The main job: `nexus serve` (dashboard, REST API, live events, MCP) on the default database.
# It prints the dashboard URL first. The demo below only runs on an install without the server.
set -euo pipefail
BIN="${VENV:-.venv}/bin"
if "$BIN/nexus" serve --help >/dev/null 2>&1; then
  exec "$BIN/nexus" serve
fi
"$BIN/nexus" store --agent demo --labels demo,quickstart \
  --content "Nexus Memory quick start: this memory was stored by make run"
"$BIN/nexus" search quick start
"$BIN/nexus" stats
