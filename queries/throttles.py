"""Request rate limits for the query API: per client IP when anonymous, per user when signed in.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] ("anon", "user"),
looked up on every request rather than frozen at import as DRF's own classes
do, so settings overrides apply. DRF makes a fresh throttle per request, so
the history they keep never leaks between requests. A cache outage lets
requests through: rate limiting must not take the catalog down with it.
"""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _CurrentRate:
    def get_rate(self):
        """The rate configured for this scope now, or None (unlimited) if there is none."""
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("throttling skipped: the cache is unreachable", exc_info=True)
            return True


class QueryAnonThrottle(_CurrentRate, AnonRateThrottle):
    pass


class QueryUserThrottle(_CurrentRate, UserRateThrottle):
    def get_cache_key(self, request, view):
        # Anonymous clients have their own throttle and rate (DRF's would count them twice).
        return super().get_cache_key(request, view) if request.user.is_authenticated else None
