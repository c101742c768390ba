"""Coalescing wake-ups: at most one pending run per follower.

A wake-up enqueues a run only if it can claim the follower's pending key (a
short-lived cache key, Redis in production). The run clears the key as it
starts, before it reads the log, so an event committed after that point
enqueues a fresh run, and an event committed before it is read by the run
about to start: no event waits for the safety net, and a burst of 1,000
commands costs a handful of runs, not 1,000.
"""

import logging
from collections.abc import Iterable

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCacheClient

logger = logging.getLogger(__name__)

# Long enough to coalesce a burst; short enough that a lost task is retried soon.
PENDING_TTL_SECONDS = 30


def _pending_key(name: str) -> str:
    return f"projections:pending:{name}"


def claim(name: str) -> bool:
    """Return True if no run of `name` was pending, and mark one pending.

    Without a cache there is nothing to coalesce with: every wake-up claims.
    """
    try:
        return cache.add(_pending_key(name), 1, timeout=PENDING_TTL_SECONDS)
    except Exception:
        logger.warning("could not reach the cache to coalesce wake-ups of %s", name, exc_info=True)
        return True


def claim_all(names: Iterable[str]) -> list[str]:
    """Return those of `names` that had no run pending, each marked pending now; `claim` for many at once.

    A commit wakes every follower, so on Redis the claims go in one round trip
    rather than one each. Without a reachable cache every follower is claimed.
    """
    names = list(names)
    try:
        claimed = _add_all([_pending_key(name) for name in names])
    except Exception:
        logger.warning("could not reach the cache to coalesce wake-ups of %s", ", ".join(names), exc_info=True)
        return names
    return [name for name, added in zip(names, claimed, strict=True) if added]


def _add_all(keys: list[str]) -> list[bool]:
    """`cache.add(key, 1)` for each key: on Redis, one pipeline of SET NX (Django's cache has no add_many)."""
    redis = _redis_client()
    if redis is None:
        return [cache.add(key, 1, timeout=PENDING_TTL_SECONDS) for key in keys]
    pipeline = redis.pipeline(transaction=False)
    for key in keys:
        pipeline.set(cache.make_and_validate_key(key), 1, nx=True, ex=PENDING_TTL_SECONDS)
    return [bool(added) for added in pipeline.execute()]


def _redis_client():
    """The client of Django's Redis cache backend (the server that takes writes), or None on any other cache."""
    backend_client = getattr(cache, "_cache", None)  # `cache` is a proxy: ask the backend behind it
    return backend_client.get_client(write=True) if isinstance(backend_client, RedisCacheClient) else None


def clear(name: str) -> None:
    """Forget the pending run of `name` (called as the run starts)."""
    clear_all([name])


def clear_all(names: Iterable[str]) -> None:
    """Forget the pending runs of `names` (wake-ups that could not be enqueued)."""
    names = list(names)
    try:
        cache.delete_many([_pending_key(name) for name in names])
    except Exception:
        logger.warning("could not clear the wake-up keys of %s", ", ".join(names), exc_info=True)
