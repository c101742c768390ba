"""Coalescing wake-ups: at most one pending run per follower.

A wake-up enqueues a run only if it can claim the follower's pending key (a
short-lived cache key, Redis in production). The run clears the key as it
starts, before it reads the log, so an event committed after that point
enqueues a fresh run, and an event committed before it is read by the run
about to start: no event waits for the safety net, and a burst of 1,000
commands costs a handful of runs, not 1,000.
"""

import logging

from django.core.cache import cache

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


def clear(name: str) -> None:
    """Forget the pending run of `name` (called as the run starts)."""
    try:
        cache.delete(_pending_key(name))
    except Exception:
        logger.warning("could not clear the wake-up key of %s", name, exc_info=True)
