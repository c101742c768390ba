"""Following the event log never skips an event, even when appenders commit out of position order.

PostgreSQL hands out positions when rows are inserted, not when transactions
commit, so without the append lock (commands.eventlog._lock_and_read_version) a
reader can see position 11 committed while 10 is still open, move past it,
and never see 10. This test provokes exactly that: many concurrent appenders,
some of which hold their transaction open after appending or roll it back,
and a reader that follows the log the way a projector does.
"""

import random
import threading
import time
import uuid
from itertools import pairwise

import pytest
from django.db import connection, transaction

from commands import eventlog
from commands.events import ProductDiscontinued
from commands.models import StoredEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

WRITERS = 8
APPENDS_PER_WRITER = 250  # 2,000 appends in all
# Holding a transaction open after its append is what lets later positions
# commit first; rolling back leaves holes a reader must step over.
HOLD_RATE = 0.08
HOLD_SECONDS = (0.010, 0.040)
ROLLBACK_RATE = 0.05
READ_BATCH = 100


class Abandon(Exception):
    """Raised inside a writer's transaction to roll it back on purpose."""


class Appenders:
    """Writer threads appending one event per transaction to a new stream each time."""

    def __init__(self, start: threading.Barrier):
        self.start = start
        self.committed: list[int] = []
        self.rolled_back: list[tuple[int, uuid.UUID]] = []
        self.held = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        try:
            connection.ensure_connection()
            self.start.wait(timeout=30)
            for _ in range(APPENDS_PER_WRITER):
                self._append_once(rng, seed)
        except BaseException as error:
            self.errors.append(error)
        finally:
            connection.close()

    def _append_once(self, rng: random.Random, seed: int) -> None:
        fate = rng.random()
        hold = rng.uniform(*HOLD_SECONDS) if fate < HOLD_RATE else 0
        roll_back = fate >= 1 - ROLLBACK_RATE
        try:
            with transaction.atomic():
                [recorded] = eventlog.append(
                    uuid.uuid4(),
                    [ProductDiscontinued(product_id=uuid.uuid4())],
                    expected_version=0,
                    metadata={"writer": seed},
                )
                time.sleep(hold)  # the position is drawn; the commit (or rollback) comes later
                if roll_back:
                    raise Abandon
        except Abandon:
            with self._lock:
                self.rolled_back.append((recorded.position, recorded.stream_id))
            return
        with self._lock:
            self.committed.append(recorded.position)
            self.held += hold > 0


class Follower:
    """Follows the log with read_events(last_position, READ_BATCH), as a projector does."""

    def __init__(self, start: threading.Barrier, writers_done: threading.Event):
        self.start = start
        self.writers_done = writers_done
        self.seen: list[int] = []
        self.batches = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            connection.ensure_connection()
            self.start.wait(timeout=30)
            last_position = 0
            while True:
                # Read the flag before reading the log: an empty read that began
                # after every writer finished means the log is drained.
                drained_if_empty = self.writers_done.is_set()
                batch = eventlog.read_events(last_position, READ_BATCH)
                if batch:
                    self.batches += 1
                    self.seen.extend(event.position for event in batch)
                    last_position = batch[-1].position
                elif drained_if_empty:
                    return
        except BaseException as error:
            self.errors.append(error)
        finally:
            connection.close()


def test_a_follower_sees_every_committed_event_once_in_order_while_appenders_race():
    start = threading.Barrier(WRITERS + 1)
    writers_done = threading.Event()
    appenders = Appenders(start)
    follower = Follower(start, writers_done)
    writers = [threading.Thread(target=appenders.run, args=(seed,)) for seed in range(WRITERS)]
    reader = threading.Thread(target=follower.run)

    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    writers_done.set()
    reader.join(timeout=60)

    assert not any(thread.is_alive() for thread in [*writers, reader]), "a thread is stuck"
    assert appenders.errors == [] and follower.errors == []
    # The provocation really happened.
    assert len(appenders.committed) + len(appenders.rolled_back) == WRITERS * APPENDS_PER_WRITER
    assert appenders.rolled_back and appenders.held
    assert follower.batches > 10, "the follower did not read while the appenders were writing"

    stored = set(StoredEvent.objects.values_list("position", flat=True))
    assert stored == set(appenders.committed)
    missed = sorted(stored - set(follower.seen))
    assert not missed, (
        f"the follower missed {len(missed)} of {len(stored)} committed events (first positions missed: {missed[:10]})"
    )
    assert all(a < b for a, b in pairwise(follower.seen)), "positions went backwards"
    assert len(follower.seen) == len(stored), "an event was seen twice"
    rolled_back_positions = {position for position, _ in appenders.rolled_back}
    assert not rolled_back_positions & set(follower.seen)
    rolled_back_streams = [stream_id for _, stream_id in appenders.rolled_back]
    assert not StoredEvent.objects.filter(stream_id__in=rolled_back_streams).exists()
