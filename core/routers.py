"""Database routing: the read side on `read` and its replicas, everything else on `default`.

Query-side and projection models are written on the read primary `read` and
read from one replica, chosen once per request so that a request never mixes
two replicas that have replicated to different points. A replica that cannot
be reached is passed over (core.replicas): reads go to another replica, or to
`read` itself, until it answers again.
"""

import random
from contextvars import ContextVar

from core.replicas import reachable, replica_aliases

READ_SIDE_APPS = frozenset({"queries", "projections"})
READ_PRIMARY = "read"
WRITE_DATABASE = "default"


class _Pin:
    """The read database of one unit of work: chosen when it first reads, then kept.

    Choosing lazily spares a request that never reads the read side (a command,
    say) a connection to a replica.
    """

    def __init__(self, alias: str | None):
        self._alias = alias

    @property
    def alias(self) -> str:
        if self._alias is None:
            self._alias = choose_replica()
        return self._alias


_pinned_replica: ContextVar[_Pin | None] = ContextVar("pinned_replica", default=None)


def choose_replica() -> str:
    """Return a reachable replica for a new unit of work, or the read primary when none is."""
    replicas = replica_aliases()
    random.shuffle(replicas)
    return next((alias for alias in replicas if reachable(alias)), READ_PRIMARY)


def current_read_database() -> str:
    """Return the database that read-side reads use now: the pinned replica, or a fresh choice."""
    pin = _pinned_replica.get()
    return pin.alias if pin else choose_replica()


class pinned_replica:
    """Keep every read-side read inside the block on one replica (`alias`, or one chosen at the first read)."""

    def __init__(self, alias: str | None = None):
        self.alias = alias

    def __enter__(self) -> _Pin:
        pin = _Pin(self.alias)
        self._token = _pinned_replica.set(pin)
        return pin

    def __exit__(self, *exc_info) -> None:
        _pinned_replica.reset(self._token)


class PinReplicaMiddleware:
    """Choose the replica for a request once, and keep it for the whole request.

    A pin made before this middleware (by one that had to read early) is kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _pinned_replica.get() is not None:
            return self.get_response(request)
        with pinned_replica():
            return self.get_response(request)


class ReadWriteRouter:
    def _is_read_side(self, model) -> bool:
        return model._meta.app_label in READ_SIDE_APPS

    def db_for_read(self, model, **hints):
        return current_read_database() if self._is_read_side(model) else WRITE_DATABASE

    def db_for_write(self, model, **hints):
        return READ_PRIMARY if self._is_read_side(model) else WRITE_DATABASE

    def allow_relation(self, obj1, obj2, **hints):
        # Rows may only point at rows in the same database family.
        return self._is_read_side(obj1) == self._is_read_side(obj2)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label in READ_SIDE_APPS:
            return db == READ_PRIMARY
        return db == WRITE_DATABASE
