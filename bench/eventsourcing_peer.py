"""The Python peer of benchmarks 2 and 3: eventsourcing 9.x saving events and catching up a projection.

Benchmark 2 times `PeerSaver`: the peer's Application saving one new aggregate's one event per call
(carrying the same order data as the shop's event), one transaction each, into its PostgreSQL event
store (which serialises its inserts with a table lock).

eventsourcing (the `bench` extra, never the app's) stores `events` events in its own tables of the
benchmark's write database, then its ProjectionRunner follows them from the start with a
projection that does the least a projection can: record its tracking position, in memory
(the library's POPO recorder). A view on PostgreSQL commits once per event in this library,
which on the shared box ran at under 100 events/s: the in-memory view is the peer at its
fastest, reading the same PostgreSQL event store. Its events/s is what benchmark 3 compares the shop's
runner with, over the same number of events, in the same run.
"""

from __future__ import annotations

import time
from functools import singledispatchmethod
from urllib.parse import urlsplit

import psycopg

EVENTS_PER_TALLY = 10  # one Opened and nine Counted: streams of a few events, like an order's
TALLIES_PER_SAVE = 500


class PeerSaver:
    """Saves one event per call through eventsourcing's Application on the benchmark's write database."""

    def __init__(self, database_url: str, contents: dict):
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate

        class Basket(Aggregate):
            def __init__(self, contents: dict):
                self.contents = contents

        class PeerBaskets(Application):
            pass

        _drop_tables(database_url, "peerbaskets_events")
        self._basket = Basket
        self._contents = contents
        self._application = PeerBaskets(_environment(database_url))

    def __call__(self) -> int:
        self._application.save(self._basket(self._contents))  # a new aggregate: its one Created event
        return 1

    def close(self) -> None:
        self._application.close()


def measure(database_url: str, events: int) -> tuple[int, float]:
    """Store `events` events, then time the ProjectionRunner catching up; return (events, seconds)."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
    from eventsourcing.popo import POPOTrackingRecorder
    from eventsourcing.projection import Projection, ProjectionRunner

    class Tally(Aggregate):
        @event("Opened")
        def __init__(self):
            self.count = 0

        @event("Counted")
        def count_one(self):
            self.count += 1

    class PeerShop(Application):
        pass

    class CountingView(POPOTrackingRecorder):
        """Keeps nothing but its position: the trivial materialised view."""

    class EveryEvent(Projection[CountingView]):
        name = "peer_every_event"

        @singledispatchmethod
        def process_event(self, domain_event, tracking):
            self.view.insert_tracking(tracking)

    env = _environment(database_url)
    _drop_tables(database_url, "peershop_events")
    shop = PeerShop(env)
    written = 0
    while written < events:
        tallies = []
        for _ in range(min(TALLIES_PER_SAVE, (events - written) // EVENTS_PER_TALLY or 1)):
            tally = Tally()
            for _ in range(EVENTS_PER_TALLY - 1):
                tally.count_one()
            tallies.append(tally)
        shop.save(*tallies)
        written += len(tallies) * EVENTS_PER_TALLY
    head = shop.recorder.max_notification_id()
    shop.close()
    started = time.monotonic()
    with ProjectionRunner(
        application_class=PeerShop, projection_class=EveryEvent, view_class=CountingView, env=env
    ) as runner:
        runner.wait(head, timeout=3600)
        seconds = time.monotonic() - started
    return head, seconds


def _drop_tables(database_url: str, *tables: str) -> None:
    """Drop what a kept database's earlier run left."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        for table in tables:
            connection.execute(f"DROP TABLE IF EXISTS {table}")


def _environment(database_url: str) -> dict[str, str]:
    url = urlsplit(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "CREATE_TABLE": "y",
        "PEER_EVERY_EVENT_PERSISTENCE_MODULE": "eventsourcing.popo",  # the view, named after the projection
    }
