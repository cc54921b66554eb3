#!/usr/bin/env bash
# Start the machine's PostgreSQL (when installed) and print a catalog URL for the PostgreSQL catalog test.
# Prints nothing when no PostgreSQL server is installed; the test then reports itself skipped.
set -uo pipefail
command -v pg_ctlcluster >/dev/null 2>&1 || exit 0
version="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
[ -n "$version" ] || exit 0
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
as_postgres "psql -qtAc \"select 1 from pg_roles where rolname='lmspec'\" | grep -q 1 || psql -qc \"create user lmspec with password 'lmspec' createdb\"" >/dev/null 2>&1 || exit 0
as_postgres "psql -qtAc \"select 1 from pg_database where datname='lmspec_test'\" | grep -q 1 || createdb -O lmspec lmspec_test" >/dev/null 2>&1 || exit 0
echo "postgresql+psycopg://lmspec:lmspec@127.0.0.1:5432/lmspec_test"
