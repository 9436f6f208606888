# shellcheck shell=bash
# Sourced by scripts/test.sh: the real agent CLIs for the end-to-end hook tests (issues 4, 12, 13).
#
# scripts/services/agent-clis.list names each pinned npm package. Each is installed once into a cache
# OUTSIDE the repository:
#   ${NEXUS_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nexus-memory/npm}/<package>@<version>/
# (`/` in a scoped name becomes `+`). A finished install leaves `.nexus-installed` naming what it holds;
# with that and the entry point in place nothing is downloaded: a second `make test` costs a few stats.
# Missing packages are installed in parallel (npm's download cache beside them is shared).
#
# For each tool it exports NEXUS_<TOOL>_CLI (the entry point), or NEXUS_<TOOL>_SKIP with the reason its
# test is skipped (no node/npm; npm install failed: the install.log named says why).
# tests/integrations/agent_cli.py finds the same paths without these variables (pytest run by hand).
# Nothing here talks to a model API: the tests point every CLI at a loopback mock.

_nexus_cli_dir() {  # the cache folder of one tool, named after its first (CLI) package
  local root="${NEXUS_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nexus-memory/npm}"
  echo "$root/${1//\//+}"
}

_nexus_cli_install() {  # dir packages... ; leaves .nexus-installed on success
  local dir=$1; shift
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{"name":"nexus-agent-cli-cache","private":true}\n' > "$dir/package.json"
  if (cd "$dir" && npm install "$@" --save-exact --no-fund --no-audit --loglevel=error \
        --cache "$(dirname "$dir")/.npm-download-cache" >"$dir/install.log" 2>&1); then
    printf '%s\n' "$@" > "$dir/.nexus-installed"
  fi
}

_nexus_cli_ready() {  # dir entry packages... : installed, the same packages, entry point present
  local dir=$1 entry=$2; shift 2
  [ -f "$dir/.nexus-installed" ] && [ "$(cat "$dir/.nexus-installed")" = "$(printf '%s\n' "$@")" ] \
    && [ -e "$dir/node_modules/$entry" ]
}

_nexus_agent_clis_setup() {
  local list tool pkgs entry dir var pid copilot_dir="" have_npm=1
  local -a pids=() specs=()
  list="$(dirname "${BASH_SOURCE[0]}")/agent-clis.list"
  while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    specs+=("$line")
  done < "$list"
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || have_npm=0
  for spec in "${specs[@]}"; do
    IFS='|' read -r tool pkgs entry <<<"$spec"
    dir=$(_nexus_cli_dir "${pkgs%% *}")
    # shellcheck disable=SC2086
    _nexus_cli_ready "$dir" "$entry" $pkgs && continue
    [ $have_npm -eq 1 ] || continue
    echo "agent-clis: installing $pkgs into $dir"
    rm -f "$dir/.nexus-installed"
    # shellcheck disable=SC2086
    _nexus_cli_install "$dir" $pkgs &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  for spec in "${specs[@]}"; do
    IFS='|' read -r tool pkgs entry <<<"$spec"
    dir=$(_nexus_cli_dir "${pkgs%% *}")
    var=$(echo "${tool//-/_}" | tr '[:lower:]' '[:upper:]')
    unset "NEXUS_${var}_SKIP" "NEXUS_${var}_CLI"
    # shellcheck disable=SC2086
    if _nexus_cli_ready "$dir" "$entry" $pkgs; then
      export "NEXUS_${var}_CLI=$dir/node_modules/$entry"
      [ "$tool" != copilot ] || copilot_dir=$dir
      [ ${#pids[@]} -eq 0 ] || echo "agent-clis: $tool ready ($pkgs)"
    elif [ $have_npm -eq 0 ]; then
      export "NEXUS_${var}_SKIP=node/npm not available: the $tool end-to-end test is skipped"
      echo "agent-clis: node/npm not available: $tool is skipped"
    else
      export "NEXUS_${var}_SKIP=npm install $pkgs failed (see $dir/install.log)"
      echo "agent-clis: npm install $pkgs failed (see $dir/install.log)"
    fi
  done
  # Copilot's binary unpacks its JavaScript on first start; do that once, beside the package.
  if [ -n "$copilot_dir" ] && ! compgen -G "$copilot_dir/runtime/pkg/*/*/.extraction-complete" >/dev/null; then
    COPILOT_CACHE_HOME="$copilot_dir/runtime" node "$NEXUS_COPILOT_CLI" --version >/dev/null 2>&1 || true
  fi
  echo "agent-clis: $(env | grep -c '^NEXUS_[A-Z_]*_CLI=') CLIs ready in $(dirname "$dir")"
}

_nexus_agent_clis_setup
