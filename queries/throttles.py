"""Request rate limits for the query API: per client IP when anonymous, per user when signed in.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] ("anon", "user"),
looked up on every request rather than frozen at import as DRF's own classes
do, so settings overrides apply. Each counts its requests in fixed windows,
one cache increment per request (core.throttling.CountingWindowMixin). A cache outage lets
requests through: rate limiting must not take the catalog down with it.
"""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core.throttling import CountingWindowMixin, CurrentRateMixin


class QueryAnonThrottle(CountingWindowMixin, CurrentRateMixin, AnonRateThrottle):
    pass


class QueryUserThrottle(CountingWindowMixin, CurrentRateMixin, UserRateThrottle):
    def get_cache_key(self, request, view):
        # Anonymous clients have their own throttle and rate (DRF's would count them twice).
        return super().get_cache_key(request, view) if request.user.is_authenticated else None
