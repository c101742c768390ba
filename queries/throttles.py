"""Request rate limits for the query API: per client IP when anonymous, per user when signed in.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] ("anon", "user"),
looked up on every request rather than frozen at import as DRF's own classes
do, so settings overrides apply. DRF makes a fresh throttle per request, so
the history they keep never leaks between requests. A cache outage lets
requests through: rate limiting must not take the catalog down with it.
"""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core.throttling import CurrentRateMixin


class QueryAnonThrottle(CurrentRateMixin, AnonRateThrottle):
    pass


class QueryUserThrottle(CurrentRateMixin, UserRateThrottle):
    def get_cache_key(self, request, view):
        # Anonymous clients have their own throttle and rate (DRF's would count them twice).
        return super().get_cache_key(request, view) if request.user.is_authenticated else None
