"""Caching of hot list responses (the catalog, daily sales) in Django's cache.

A key is built from the request (scheme, host, path, query), who may see
what (visibility), the family's generation (queries.cache, bumped by the
`cache` subscriber) and the read position the request was answered at. The
position is read before the data, so a cached body is never older than the
position it claims, and a request is only served an entry built at the very
position it has just read: one that waited for X-Min-Position therefore never
gets a body from before that position. A cache outage costs a miss, never a
failed request.
"""

import hashlib
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from rest_framework.response import Response

from queries import cache as generations
from queries.consistency import MIN_POSITION_PARAMETER

logger = logging.getLogger(__name__)

CACHE_STATUS_HEADER = "X-Cache"


def response_key(request, *, family: str, visibility: str, position: int) -> str | None:
    """Return the cache key of this request's response, or None if the cache is unreachable."""
    try:
        generation = generations.generation(family)
    except Exception:
        logger.warning("response cache skipped: the cache is unreachable", exc_info=True)
        return None
    # min_position only decides how long to wait; the position part of the key
    # already says which data the response holds.
    query = sorted((name, values) for name, values in request.query_params.lists() if name != MIN_POSITION_PARAMETER)
    url = f"{request.scheme}://{request.get_host()}{request.path}?{urlencode(query, doseq=True)}"
    digest = hashlib.sha256(url.encode()).hexdigest()
    return f"queries:response:{family}:g{generation}:p{position}:{visibility}:{digest}"


def _get(key: str):
    try:
        return cache.get(key)
    except Exception:
        logger.warning("response cache read failed", exc_info=True)
        return None


def _set(key: str, data) -> None:
    try:
        cache.set(key, data, timeout=settings.QUERY_CACHE_SECONDS)
    except Exception:
        logger.warning("response cache write failed", exc_info=True)


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
        data = _get(key) if key else None
        if data is not None:
            return Response(data, headers={CACHE_STATUS_HEADER: "hit"})
        response = super().list(request, *args, **kwargs)
        if key and response.status_code == 200:
            _set(key, response.data)
        response[CACHE_STATUS_HEADER] = "miss"
        return response
