#!/usr/bin/env bash
# Start the machine's PostgreSQL and print a catalog URL for the PostgreSQL catalog tests.
#   scripts/ci-postgres.sh             prints nothing when no server is installed (the tests then skip)
#   scripts/ci-postgres.sh --install   installs the server first when it is missing (Debian/Ubuntu, as root,
#                                      what .ci/run does), and fails loudly instead of printing nothing
# Only the URL goes to stdout; what apt-get and the server say goes to stderr.
set -uo pipefail
required=false
[ "${1:-}" = "--install" ] && required=true

fail() {
  if $required; then echo "ci-postgres: $*" >&2; exit 1; fi
  exit 0
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 && $required; then
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed and installing it needs root"
  command -v apt-get >/dev/null 2>&1 || fail "PostgreSQL is not installed and there is no apt-get to install it"
  echo "ci-postgres: installing PostgreSQL with apt-get" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2 \
    || fail "apt-get could not install postgresql"
fi
command -v pg_ctlcluster >/dev/null 2>&1 || fail "PostgreSQL is not installed (pg_ctlcluster not found)"
version="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
[ -n "$version" ] || fail "no server version under /usr/lib/postgresql"
# The package creates the `main` cluster unless createcluster.conf says otherwise; make sure it is there.
pg_lsclusters -h 2>/dev/null | grep -q "^$version main " || pg_createcluster "$version" main >&2 \
  || fail "cannot create the $version/main cluster"
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true  # already running is fine
for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
pg_isready -q -h 127.0.0.1 || fail "the server did not start (see /var/log/postgresql/postgresql-$version-main.log)"
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
as_postgres "psql -qtAc \"select 1 from pg_roles where rolname='lmspec'\" | grep -q 1 || psql -qc \"create user lmspec with password 'lmspec' createdb\"" >&2 \
  || fail "cannot create the lmspec user"
as_postgres "psql -qtAc \"select 1 from pg_database where datname='lmspec_test'\" | grep -q 1 || createdb -O lmspec lmspec_test" >&2 \
  || fail "cannot create the lmspec_test database"
echo "postgresql+psycopg://lmspec:lmspec@127.0.0.1:5432/lmspec_test"
