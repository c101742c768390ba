"""Tests on a real streaming replica: the replica has replayed the test's writes before the test reads.

With READ_REPLICA_URLS pointing at a real hot standby (`make replica`; CI does),
the router sends read-side reads to it, and it replays the primary's commits a
moment after they return. The product's answer to that race is X-Min-Position,
which tests/replica/ exercises with real lag. Every other test is about
something else, so before each query on a replica connection this waits until
the replica has replayed all the WAL the primary had flushed: the replica
behaves like a synchronous one (`synchronous_commit = remote_apply`) for this
test process only, and the cluster stays asynchronous for everyone else.

A replica setting that names the primary's own server (a mirror, as in most
local runs) is not a standby, and nothing waits.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import psycopg
from django.db import connections
from django.db.backends.signals import connection_created

from config.replicas import replica_aliases

REPLAY_TIMEOUT_SECONDS = 30
REPLAY_POLL_SECONDS = 0.002

_standby: dict[str, bool] = {}  # replica alias -> is it a real standby?
_lag_allowed = threading.Event()


@contextmanager
def replication_lag_allowed():
    """Read from the replicas as they are, lagging or stopped: for the tests of exactly that."""
    _lag_allowed.set()
    try:
        yield
    finally:
        _lag_allowed.clear()


def is_standby(alias: str) -> bool:
    """Whether replica `alias` is a real hot standby (not the read primary's own server)."""
    connection = connections[alias]
    connection.ensure_connection()
    return connection.vendor == "postgresql" and _is_standby_connection(connection)


def install() -> None:
    """Make every replica connection of this process, now and later, wait for replay before a query."""
    connection_created.connect(_on_connection_created, weak=False, dispatch_uid="tests.replication")


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql" or connection.alias not in replica_aliases():
        return
    if _replayed_first not in connection.execute_wrappers:
        connection.execute_wrappers.append(_replayed_first)


def _replayed_first(execute, sql, params, many, context):
    connection = context["connection"]
    if not _lag_allowed.is_set() and _is_standby_connection(connection):
        _wait_for_replay(connection.connection, _PRIMARY.flushed())
    return execute(sql, params, many, context)


def _is_standby_connection(connection) -> bool:
    if connection.alias not in _standby:
        _standby[connection.alias] = connection.connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    return _standby[connection.alias]


def _wait_for_replay(standby: psycopg.Connection, target: str) -> None:
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    while not standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the replica has not replayed up to {target} in {REPLAY_TIMEOUT_SECONDS}s: is it streaming? "
                "(scripts/replica status)"
            )
        time.sleep(REPLAY_POLL_SECONDS)


class _PrimaryWal:
    """How far the read primary has flushed its WAL: every commit that has returned lies before it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connection: psycopg.Connection | None = None

    def flushed(self) -> str:
        with self._lock:
            if self._connection is None or self._connection.closed:
                settings = connections["read"].settings_dict
                self._connection = psycopg.connect(
                    host=settings["HOST"] or "127.0.0.1",
                    port=settings["PORT"] or 5432,
                    user=settings["USER"],
                    password=settings["PASSWORD"],
                    dbname="postgres",
                    autocommit=True,
                )
            return str(self._connection.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0])


_PRIMARY = _PrimaryWal()
