#!/bin/bash
# read-replica's entrypoint: on first start, clone read-primary with pg_basebackup -R (which writes
# primary_conninfo and standby.signal), then run PostgreSQL as a hot standby streaming from it.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    # The named volume starts out owned by root: hand it to postgres, then run as postgres.
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec gosu postgres "$BASH_SOURCE" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "read-replica: cloning ${PRIMARY_HOST} into ${PGDATA}"
    until pg_isready --host "$PRIMARY_HOST" --port "${PRIMARY_PORT:-5432}" --quiet; do
        sleep 1
    done
    PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
        --host "$PRIMARY_HOST" --port "${PRIMARY_PORT:-5432}" --username "$REPLICATION_USER" \
        --pgdata "$PGDATA" --slot "$REPLICATION_SLOT" \
        --wal-method stream --write-recovery-conf --checkpoint fast --progress
    chmod 700 "$PGDATA"
fi

exec postgres -c hot_standby=on -c hot_standby_feedback=on "$@"
