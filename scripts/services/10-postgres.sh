# shellcheck shell=bash
# Sourced by scripts/test.sh: a throwaway PostgreSQL 15 cluster with pgvector on loopback.
#
# * pgvector: Debian bookworm has no package, so build 0.8.0 from Debian trixie's source
#   package (reference/dependencies-here.md section 4). Skipped when already installed.
# * A fresh cluster in a temp dir, on a free port of 127.0.0.1 (several people run
#   `make test` at once; the machine's own cluster holds 5432), trust auth.
# * Exports NEXUS_TEST_DATABASE_URL; tests marked `postgres` use it (each test gets its
#   own database). Registers a cleanup that stops the server and removes the dir.
# Set NEXUS_TEST_DATABASE_URL yourself to reuse a running server and skip all of this.

_pg_setup() {
  local pgbin=/usr/lib/postgresql/15/bin
  local sudo_pg=(runuser -u postgres --)
  if [ -n "${NEXUS_TEST_DATABASE_URL:-}" ]; then
    echo "postgres: using NEXUS_TEST_DATABASE_URL from the environment"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || sudo_pg=(sudo -u postgres)

  # 1. PostgreSQL 15 and pgvector (fast path: the server, the control file and the library are in place)
  if [ ! -x "$pgbin/initdb" ] || [ ! -f /usr/share/postgresql/15/extension/vector.control ] \
      || [ ! -f /usr/lib/postgresql/15/lib/vector.so ]; then
    echo "postgres: building pgvector 0.8.0 from the Debian trixie source package"
    (
      set -e
      exec 9>/tmp/nexus-apt.lock
      flock 9
      # Re-check under the lock: another engineer may have just built it.
      if [ -x "$pgbin/initdb" ] && [ -f /usr/share/postgresql/15/extension/vector.control ] \
          && [ -f /usr/lib/postgresql/15/lib/vector.so ]; then
        exit 0
      fi
      local_uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
      if [ ! -f /etc/apt/sources.list.d/trixie-src.sources ]; then
        printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
          "$local_uri" > /etc/apt/sources.list.d/trixie-src.sources
        apt-get update -qq
      fi
      if ! dpkg -s postgresql-15 >/dev/null 2>&1 || ! dpkg -s postgresql-server-dev-15 >/dev/null 2>&1 \
          || ! dpkg -s dpkg-dev >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-server-dev-15 dpkg-dev >/dev/null
      fi
      work=$(mktemp -d)
      cd "$work"
      apt-get source -qq pgvector >/dev/null 2>&1 || { apt-get update -qq && apt-get source -qq pgvector >/dev/null; }
      cd pgvector-*/
      make -s PG_CONFIG="$pgbin/pg_config" -j2 >/dev/null
      make -s PG_CONFIG="$pgbin/pg_config" install >/dev/null
      cd / && rm -rf "$work"
    ) || { echo "postgres: installing PostgreSQL 15 / building pgvector failed"; return 1; }
  fi
  if [ ! -x "$pgbin/initdb" ]; then
    echo "postgres: PostgreSQL 15 is not installed ($pgbin/initdb missing)"
    return 1
  fi

  # 2. a free port on loopback (ask the kernel, then let pg_ctl fail loudly if we lost a race)
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  dir=$(mktemp -d /tmp/nexus-pg.XXXXXX)
  chown postgres:postgres "$dir" 2>/dev/null || true
  "${sudo_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { echo "postgres: initdb failed:"; cat "$dir/initdb.log"; return 1; }
  # Test settings: durability off (a throwaway cluster), enough connections for the multi-writer test.
  "${sudo_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { echo "postgres: start failed:"; cat "$dir/log"; return 1; }
  on_exit "${sudo_pg[*]} $pgbin/pg_ctl -D $dir/data stop -m fast >/dev/null 2>&1; rm -rf $dir"
  "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE EXTENSION IF NOT EXISTS vector" \
    || { echo "postgres: CREATE EXTENSION vector failed"; return 1; }
  # New databases made by the test fixture come from template1: give them the extension too.
  "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d template1 -c "CREATE EXTENSION IF NOT EXISTS vector" \
    || return 1
  export NEXUS_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "postgres: pgvector $("$pgbin/psql" -tA -h 127.0.0.1 -p "$port" -U postgres -c "SELECT extversion FROM pg_extension WHERE extname='vector'") on 127.0.0.1:$port ($dir)"
}

_pg_setup
