#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL server on 127.0.0.1:$PE_PG_PORT for the SQL-source tests
# and writes its connection URLs to $PE_PG_STATE/url (role pe_test, owns database pe_test) and
# $PE_PG_STATE/url_noread (role pe_noread: may connect, may not read pe_test's tables).
# Installs Debian's postgresql package only when no server binaries are present (root + apt).
# Never fails the suite: when no server can be had, it writes $PE_PG_STATE/skip_reason and the
# postgres tests skip with that reason. Idempotent; a second run against a live server takes ~0.1 s.
set -uo pipefail
PORT=${PE_PG_PORT:-54329}
STATE=${PE_PG_STATE:-$HOME/.cache/phoneprice_edge/pg}
DATA=${PE_PG_DATA:-/tmp/pe-pg-$PORT}   # outside $HOME: the postgres user cannot enter /root
URL="postgresql://pe_test:pe_test@127.0.0.1:$PORT/pe_test"
URL_NOREAD="postgresql://pe_noread:pe_noread@127.0.0.1:$PORT/pe_test"
log() { echo "[pg] $*" >&2; }
mkdir -p "$STATE"
skip() {
  log "postgres tests will skip: $*"
  echo "$*" > "$STATE/skip_reason"
  rm -f "$STATE/url" "$STATE/url_noread"
  exit 0
}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
BIN=$(bindir)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  [ -n "${PE_PG_NO_INSTALL:-}" ] && skip "no PostgreSQL server binaries (run scripts/test.d/20-postgres.sh as root to install)"
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || skip "no PostgreSQL server binaries and no root apt-get to install them"
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network to the Debian mirror?)"
  timeout 600 apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
    || skip "apt-get install postgresql failed"
  BIN=$(bindir)
  [ -n "$BIN" ] || skip "postgresql installed but no /usr/lib/postgresql/*/bin"
fi

# postgres refuses to run as root: run the server as the postgres user (or as ourselves)
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres \
    || skip "cannot create the postgres user"
  as_pg() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_pg() { "$@"; }
  OWNER=$(id -un)
fi
PSQL=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PORT" -U pe_admin -d postgres)

ready() { "$BIN/pg_isready" -q -h "$DATA" -p "$PORT" -t 2; }
url_works() { "$BIN/psql" -X -q -tA "$URL" -c 'select 1' >/dev/null 2>&1; }

if ready && [ -f "$STATE/url" ] && url_works; then
  rm -f "$STATE/skip_reason"
  exit 0   # already running and set up
fi

if ! ready; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA" && mkdir -p "$DATA" && chown "$OWNER" "$DATA" && chmod 700 "$DATA" \
      || skip "cannot create the data folder $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U pe_admin --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 || skip "initdb failed (see $STATE/initdb.log)"
  fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 30 \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1 \
    || skip "the server did not start on 127.0.0.1:$PORT (port taken? see $DATA/server.log)"
fi

"${PSQL[@]}" >/dev/null <<'SQL' || skip "cannot create the test roles (is port $PORT another server?)"
SELECT 'CREATE ROLE pe_test LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pe_test') \gexec
SELECT 'CREATE ROLE pe_noread LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pe_noread') \gexec
ALTER ROLE pe_test PASSWORD 'pe_test';
ALTER ROLE pe_noread PASSWORD 'pe_noread';
SELECT 'CREATE DATABASE pe_test OWNER pe_test' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'pe_test') \gexec
SQL
url_works || skip "the server runs but $URL does not answer"
echo "$URL" > "$STATE/url"
echo "$URL_NOREAD" > "$STATE/url_noread"
rm -f "$STATE/skip_reason"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT; URL in $STATE/url"
