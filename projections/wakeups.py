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
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

# Long enough to coalesce a burst; short enough that a lost task is retried soon.
PENDING_TTL_SECONDS = 30


def _pending_key(name: str) -> str:
    return f"projections:pending:{name}"


def claim(name: str) -> bool:
    """Return True if no run of `name` was pending, and mark one pending."""
    return claim_all([name]) == [name]


def claim_all(names: Iterable[str]) -> list[str]:
    """Return those of `names` that had no run pending, each marked pending now.

    A commit wakes every follower, so on Redis the claims go in one round trip
    rather than one each. If Redis cannot be reached there is nothing to
    coalesce with, and every follower is claimed: a run too many is cheap, a
    run too few leaves events waiting for the safety net.
    """
    names = list(names)
    try:
        claimed = _mark_pending([_pending_key(name) for name in names])
    except Exception:
        logger.warning("could not reach the cache to coalesce wake-ups of %s", ", ".join(names), exc_info=True)
        return names
    return [name for name, added in zip(names, claimed, strict=True) if added]


def _mark_pending(keys: list[str]) -> list[bool]:
    """SET NX each key with the pending TTL; True where the key was not set yet.

    On Redis this asks the server directly, not through the cache API: the
    cache is configured to ignore outages (a miss costs nothing there), but a
    wake-up must know that its claim failed.
    """
    redis = redis_connection()
    if redis is None:
        return [cache.add(key, 1, timeout=PENDING_TTL_SECONDS) for key in keys]
    pipeline = redis.pipeline(transaction=False)
    for key in keys:
        pipeline.set(key, 1, nx=True, ex=PENDING_TTL_SECONDS)
    return [bool(added) for added in pipeline.execute()]


def redis_connection():
    """The cache's Redis connection (django-redis), or None on the embedded default's local-memory cache."""
    try:
        return get_redis_connection("default")
    except NotImplementedError:
        return None


def clear(name: str) -> None:
    """Forget the pending run of `name` (called as the run starts)."""
    clear_all([name])


def clear_all(names: Iterable[str]) -> None:
    """Forget the pending runs of `names` (wake-ups that could not be enqueued)."""
    keys = [_pending_key(name) for name in names]
    try:
        redis = redis_connection()
        if redis is None:
            cache.delete_many(keys)
        else:
            redis.delete(*keys)
    except Exception:
        logger.warning("could not clear the wake-up keys %s", ", ".join(keys), exc_info=True)
