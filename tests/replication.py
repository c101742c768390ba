"""Tests on a real streaming replica: the replica has replayed the test's writes before the test reads.

With READ_REPLICA_URLS pointing at a real hot standby (`make replica`; CI does),
the router sends read-side reads to it, and it replays the primary's commits a
moment after they return. The product's answer to that race is X-Min-Position,
which tests/replica/ exercises with real lag. Every other test is about
something else, so before each query on a replica connection this waits until
the replica has replayed all the WAL the primary had written: the replica
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

from core.replicas import replica_aliases

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
        wait_for_replay(connection.connection)
    return execute(sql, params, many, context)


def _is_standby_connection(connection) -> bool:
    if connection.alias not in _standby:
        _standby[connection.alias] = connection.connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    return _standby[connection.alias]


def wait_for_replay(standby: psycopg.Connection) -> None:
    """Wait until `standby` has replayed every WAL record the primary has written so far.

    The primary's insert position is the end of a whole record, and every commit
    that has returned lies before it. Records after the last commit (a test's
    open transaction, say) may sit unflushed in the primary's buffers, where the
    standby cannot get them: if the standby is not there at once, a tiny commit
    on the primary flushes them.
    """
    target = _PRIMARY.call("SELECT pg_current_wal_insert_lsn()")
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    flushed = False
    while not standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
        if not flushed:
            # A commit flushes the WAL at once only if its transaction wrote some: this one writes a message.
            _PRIMARY.call("SELECT pg_logical_emit_message(true, 'tests.replication', 'replay up to here')")
            flushed = True
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the replica has not replayed up to {target} in {REPLAY_TIMEOUT_SECONDS}s: is it streaming? "
                "(scripts/replica status)"
            )
        time.sleep(REPLAY_POLL_SECONDS)


class _Primary:
    """One autocommit connection to the read primary's server, shared by the test process's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connection: psycopg.Connection | None = None

    def call(self, query: str) -> str:
        with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(**server_of("read"), autocommit=True)
            return str(self._connection.execute(query).fetchone()[0])


_PRIMARY = _Primary()


def server_of(alias: str) -> dict:
    """Connection parameters for the server of database `alias`: its `postgres` database."""
    settings = connections[alias].settings_dict
    return {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "dbname": "postgres",
    }
