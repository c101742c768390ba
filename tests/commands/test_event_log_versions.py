"""Two appends to one stream at the same version: the second is a VersionConflict, however they interleave.

The append lock and the stream's version are read in one statement, whose
snapshot is taken before it waits for the lock (commands.eventlog). Here the
second appender starts that statement while the first holds the lock, so it
reads the version from before the first commits; the unique (stream_id,
version) constraint then refuses its insert, and it must still come out as a
VersionConflict, not an IntegrityError (which a handler could mistake for a
duplicate SKU).
"""

import threading
import uuid

import pytest
from django.db import connections, transaction

from commands import eventlog
from commands.errors import VersionConflict
from commands.events import ProductDiscontinued

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def _waiting_for_the_append_lock() -> bool:
    with connections["read"].cursor() as cursor:  # another connection: the test's own is not in the race
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def test_an_append_that_waited_for_the_lock_behind_the_same_version_is_a_version_conflict():
    stream = uuid.uuid4()
    first_appended, second_done = threading.Event(), threading.Event()
    outcome = {}

    def second() -> None:
        first_appended.wait(10)
        try:
            with transaction.atomic():
                eventlog.append(stream, [ProductDiscontinued(product_id=stream)], expected_version=0, metadata={})
        except Exception as error:
            outcome["error"] = error
        finally:
            connections.close_all()
            second_done.set()

    racer = threading.Thread(target=second)
    racer.start()
    with transaction.atomic():
        eventlog.append(stream, [ProductDiscontinued(product_id=stream)], expected_version=0, metadata={})
        first_appended.set()
        for _ in range(200):  # the second is now blocked on the lock, its snapshot taken
            if _waiting_for_the_append_lock():
                break
            second_done.wait(0.05)
        assert _waiting_for_the_append_lock()
    racer.join(10)

    assert isinstance(outcome.get("error"), VersionConflict), outcome
    assert outcome["error"].extra == {"current_version": 1}
    assert [event.version for event in eventlog.read_stream(stream)] == [1]
