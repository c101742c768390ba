"""While the soak has the replica down, the primary keeps the WAL it will need, and stops keeping it after."""

import uuid

import psycopg
import pytest

from soak.faults import PRIMARY, wal_kept_for_the_replica

pytestmark = pytest.mark.postgres


def reserved_from(slot: str):
    with psycopg.connect(PRIMARY) as connection:
        row = connection.execute("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = %s", [slot]).fetchone()
    return row[0] if row else None


def test_wal_is_kept_while_the_replica_is_away_and_released_even_if_bringing_it_back_fails(settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (see README) to run it")
    slot = f"shop_test_{uuid.uuid4().hex[:12]}"

    with pytest.raises(RuntimeError), wal_kept_for_the_replica(slot):
        assert reserved_from(slot) is not None  # reserved at once, not when a standby connects
        raise RuntimeError("scripts/replica start failed")

    assert reserved_from(slot) is None
