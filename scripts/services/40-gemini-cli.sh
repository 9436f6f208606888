# shellcheck shell=bash
# Sourced by scripts/test.sh: the real Gemini CLI for the end-to-end hook test (issue 4).
#
# Installs @google/gemini-cli@0.61.0 with npm into .cache/gemini-cli inside the repository
# (fast path: already there), and exports NEXUS_GEMINI_CLI_JS, the CLI's bundled entry point.
# Without npm nothing is installed, NEXUS_GEMINI_CLI_SKIP says why, and the test is skipped
# with that reason. The CLI then runs offline (--fake-responses); nothing here needs a model API.

_gemini_setup() {
  local version=0.61.0
  local dir="$PWD/.cache/gemini-cli"
  local js="$dir/node_modules/@google/gemini-cli/bundle/gemini.js"
  if [ -n "${NEXUS_GEMINI_CLI_JS:-}" ] && [ -f "$NEXUS_GEMINI_CLI_JS" ]; then
    echo "gemini-cli: using NEXUS_GEMINI_CLI_JS from the environment"
    return 0
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export NEXUS_GEMINI_CLI_SKIP="node/npm not available: the Gemini CLI end-to-end test is skipped"
    echo "gemini-cli: $NEXUS_GEMINI_CLI_SKIP"
    return 0
  fi
  if [ -f "$js" ] && grep -q "\"version\": \"$version\"" "$dir/node_modules/@google/gemini-cli/package.json" 2>/dev/null; then
    echo "gemini-cli: $version already in $dir"
  else
    echo "gemini-cli: installing @google/gemini-cli@$version into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || printf '{"name":"nexus-gemini-cli-cache","private":true}\n' > "$dir/package.json"
    if ! (cd "$dir" && npm install "@google/gemini-cli@$version" --no-fund --no-audit --loglevel=error \
            --cache "$dir/.npm-cache" >"$dir/install.log" 2>&1); then
      export NEXUS_GEMINI_CLI_SKIP="npm install @google/gemini-cli@$version failed (see $dir/install.log)"
      echo "gemini-cli: $NEXUS_GEMINI_CLI_SKIP"
      return 0
    fi
  fi
  export NEXUS_GEMINI_CLI_JS="$js"
}

_gemini_setup
