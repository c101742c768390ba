"""Caching of hot list responses (the catalog, daily sales) in Django's cache.

A key is built from the request (scheme, host, path, query), who may see
what (visibility), the family's generation and the read position the request
was answered at. Invalidating a family is one increment of its generation (by
the `cache` subscriber, and after a rebuild), which makes every key built
before it unreachable; old entries simply expire. The
position is read before the data, so a cached body is never older than the
position it claims, and a request is only served an entry built at the very
position it has just read: one that waited for X-Min-Position therefore never
gets a body from before that position. A cache outage costs a miss, never a
failed request: the cache backend ignores connection errors (settings.CACHES).
"""

import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from rest_framework.response import Response

from queries.consistency import MIN_POSITION_PARAMETER

CACHE_STATUS_HEADER = "X-Cache"
FAMILIES = ("products", "orders", "customers", "sales")


def _generation_key(family: str) -> str:
    return f"queries:generation:{family}"


def generation(family: str) -> int:
    """Return the family's current generation (1 for a cold, or unreachable, cache)."""
    return cache.get_or_set(_generation_key(family), 1, timeout=None)


def invalidate(families) -> None:
    """Make every cached response of `families` stale."""
    for family in families:
        try:
            cache.incr(_generation_key(family))
        except ValueError:  # never set, or evicted: any fresh value invalidates
            cache.add(_generation_key(family), 2, timeout=None)


def response_key(request, *, family: str, visibility: str, position: int) -> str:
    """Return the cache key of this request's response."""
    # min_position only decides how long to wait; the position part of the key
    # already says which data the response holds.
    query = sorted((name, values) for name, values in request.query_params.lists() if name != MIN_POSITION_PARAMETER)
    url = f"{request.scheme}://{request.get_host()}{request.path}?{urlencode(query, doseq=True)}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    return f"queries:response:{family}:g{generation(family)}:p{position}:{visibility}:{digest}"


class CachedListMixin:
    """Serve `list` from the cache; the view names its `cache_family` and has read `read_position`."""

    cache_family: str

    def cache_visibility(self, request) -> str:
        """Who the response is for: responses for one visibility are never served to another."""
        user = request.user
        if user.is_staff:
            return "staff"
        return f"user{user.pk}" if user.is_authenticated else "anonymous"

    def list(self, request, *args, **kwargs):
        key = response_key(
            request,
            family=self.cache_family,
            visibility=self.cache_visibility(request),
            position=self.read_position,
        )
        data = cache.get(key)
        if data is not None:
            return Response(data, headers={CACHE_STATUS_HEADER: "hit"})
        response = super().list(request, *args, **kwargs)
        if response.status_code == 200:
            cache.set(key, response.data, timeout=settings.QUERY_CACHE_SECONDS)
        response[CACHE_STATUS_HEADER] = "miss"
        return response
