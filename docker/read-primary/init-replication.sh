#!/bin/bash
# Runs once, when read-primary's data directory is first initialised (docker-entrypoint-initdb.d):
# a replication role, a slot that keeps WAL until read-replica has streamed it, and the pg_hba entry
# that lets the role connect for replication (the image's "host all all" line does not cover it).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE "${REPLICATION_USER}" WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
SELECT pg_create_physical_replication_slot('${REPLICATION_SLOT}');
SQL

echo "host replication ${REPLICATION_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
