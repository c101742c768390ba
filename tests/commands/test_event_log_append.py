"""What `eventlog.append` records and returns, on PostgreSQL's one-statement path and SQLite's ORM path alike."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from commands import eventlog
from commands.errors import VersionConflict
from commands.events import ProductDiscontinued, ProductRestocked

pytestmark = pytest.mark.django_db(databases="__all__")


def _append(stream, events, expected_version, **options):
    with transaction.atomic():
        return eventlog.append(stream, events, expected_version=expected_version, metadata={"by": "test"}, **options)


def test_several_events_get_consecutive_versions_and_rising_positions_in_their_order():
    stream = uuid.uuid4()
    _append(stream, [ProductRestocked(product_id=stream, quantity=1, stock=1)], 0)
    events = [ProductRestocked(product_id=stream, quantity=n, stock=1 + n) for n in (2, 3, 4)]

    recorded = _append(stream, events, 1)

    assert [r.version for r in recorded] == [2, 3, 4]
    assert [r.event for r in recorded] == events
    assert [r.position for r in recorded] == sorted({r.position for r in recorded})
    assert len({r.recorded_at for r in recorded}) == 1  # one moment for one command's events
    assert eventlog.read_stream(stream)[1:] == recorded  # returned as stored


def test_a_given_time_is_recorded_as_given():
    stream, at = uuid.uuid4(), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    [recorded] = _append(stream, [ProductDiscontinued(product_id=stream)], 0, recorded_at=at)

    assert recorded.recorded_at == at
    assert eventlog.read_stream(stream)[0].recorded_at == at


def test_a_stream_not_at_the_expected_version_is_a_conflict_that_appends_nothing():
    stream = uuid.uuid4()
    _append(stream, [ProductRestocked(product_id=stream, quantity=1, stock=1)], 0)

    with pytest.raises(VersionConflict) as conflict:
        _append(stream, [ProductDiscontinued(product_id=stream)], 3)

    assert conflict.value.extra == {"current_version": 1}
    assert [r.version for r in eventlog.read_stream(stream)] == [1]


@pytest.mark.django_db(transaction=True, databases="__all__")  # no test transaction around it
def test_an_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the command's transaction"):
        eventlog.append(uuid.uuid4(), [ProductDiscontinued(product_id=uuid.uuid4())], expected_version=0, metadata={})


@pytest.mark.postgres
def test_postgresql_prepares_the_append_once_per_connection_and_runs_it_as_prepared():
    def prepared_appends() -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT parameter_types::text, generic_plans + custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE %s",
                ["%pg_advisory_xact_lock%"],
            )
            return cursor.fetchall()

    for _ in range(10):  # psycopg prepares a statement on its prepare_threshold-th run (5)
        stream = uuid.uuid4()
        _append(stream, [ProductRestocked(product_id=stream, quantity=1, stock=1)], 0)

    [(parameter_types, runs)] = prepared_appends()
    assert "uuid" in parameter_types  # bound by PostgreSQL, not formatted into the text by Django
    assert runs >= 5
