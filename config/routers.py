"""Database routing: the read side on `read` and its replicas, everything else on `default`.

Query-side and projection models are written on the read primary `read` and
read from one replica, chosen once per request so that a request never mixes
two replicas that have replicated to different points.
"""

import random
from contextvars import ContextVar

from django.conf import settings

READ_SIDE_APPS = frozenset({"queries", "projections"})
READ_PRIMARY = "read"
WRITE_DATABASE = "default"

_pinned_replica: ContextVar[str | None] = ContextVar("pinned_replica", default=None)


def replica_aliases() -> list[str]:
    """Return the configured read replica aliases, in order."""
    return sorted(alias for alias in settings.DATABASES if alias.startswith("read_replica_"))


def choose_replica() -> str:
    """Return a replica alias for a new unit of work, or the read primary when there is none."""
    replicas = replica_aliases()
    return random.choice(replicas) if replicas else READ_PRIMARY


def current_read_database() -> str:
    """Return the database that read-side reads use now: the pinned replica, or a fresh choice."""
    return _pinned_replica.get() or choose_replica()


class pinned_replica:
    """Keep every read-side read inside the block on one replica."""

    def __init__(self, alias: str | None = None):
        self.alias = alias

    def __enter__(self) -> str:
        alias = self.alias or choose_replica()
        self._token = _pinned_replica.set(alias)
        return alias

    def __exit__(self, *exc_info) -> None:
        _pinned_replica.reset(self._token)


class PinReplicaMiddleware:
    """Choose the replica for a request once, and keep it for the whole request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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
