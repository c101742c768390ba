"""Query-side response caching: keys carry a generation per read-model family.

Invalidating a family is one increment of its generation (by the `cache`
subscriber), which makes every key built before it unreachable; old entries
simply expire. A cache outage never fails a request: it only costs a miss.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

FAMILIES = ("products", "orders", "customers", "sales")


def _generation_key(family: str) -> str:
    return f"queries:generation:{family}"


def generation(family: str) -> int:
    """Return the family's current generation (1 for a cold cache)."""
    return cache.get_or_set(_generation_key(family), 1, timeout=None)


def invalidate(families) -> None:
    """Make every cached response of `families` stale."""
    for family in families:
        try:
            cache.incr(_generation_key(family))
        except ValueError:  # never set, or evicted: any fresh value invalidates
            cache.add(_generation_key(family), 2, timeout=None)
