#!/usr/bin/env bash
# Start the machine's PostgreSQL cluster (as root, pg_ctlcluster runs it as the postgres user),
# wait until it accepts connections, create a throwaway test role and database, and print the
# SQLAlchemy URL for KETAMINE_CDS_TEST_POSTGRES_URL.
set -euo pipefail
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
if [ "$status" != online ]; then
    pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" >&2
psql_as_postgres() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p "$port" "$@"; }
# Idempotent, so a second run beside a running suite disturbs nothing; tests make their own
# throwaway databases through this role.
exists() { [ "$(psql_as_postgres -tAc "$1")" = 1 ]; }
exists "SELECT 1 FROM pg_roles WHERE rolname = 'ketamine_cds_test'" \
    || psql_as_postgres -c "CREATE ROLE ketamine_cds_test LOGIN PASSWORD 'ketamine_cds_test' CREATEDB" >&2
exists "SELECT 1 FROM pg_database WHERE datname = 'ketamine_cds_test'" \
    || psql_as_postgres -c "CREATE DATABASE ketamine_cds_test OWNER ketamine_cds_test" >&2
echo "postgresql+psycopg://ketamine_cds_test:ketamine_cds_test@127.0.0.1:${port}/ketamine_cds_test"
