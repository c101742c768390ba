"""Request rate limits shared by the API: per client IP for sign-ins, and the base for the query API's."""

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class CurrentRateMixin:
    """For DRF throttles: the rate is looked up on every request (DRF freezes it at import, so
    settings overrides would not apply). A cache outage lets requests through (the backend
    ignores connection errors: no history, no limit) rather than taking the API down with it.
    DRF makes a throttle per request, so no history leaks."""

    def get_rate(self):
        """The rate configured for this scope now, or None (unlimited) if there is none."""
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class CountingWindowMixin:
    """For DRF's SimpleRateThrottle: count requests in fixed windows, one cache increment per request.

    DRF keeps every request's time in a list that each request reads and writes back
    whole: two round trips to the cache, and at 3,000/minute a list of 3,000 floats
    pickled both ways, on every query. A counter per window costs one increment (and an
    add for the window's first request). The price: a client may send up to twice its
    rate across the boundary of two windows.
    """

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        start = now - now % self.duration
        self.window_ends = start + self.duration
        key = f"{self.key}:{int(start)}"
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request (or a lost race to add it: count on)
            count = 1 if self.cache.add(key, 1, timeout=self.duration) else self.cache.incr(key)
        # None: the cache could not be reached (its backend ignores the error); let the request through.
        return count is None or count <= self.num_requests

    def wait(self):
        """Seconds until the window ends, when the client may send again."""
        return max(self.window_ends - self.timer(), 1)


class SignInThrottle(CountingWindowMixin, CurrentRateMixin, SimpleRateThrottle):
    """Password guessing at the token endpoint: attempts per client IP, signed in or not."""

    scope = "sign_in"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ObtainTokenView(ObtainAuthToken):
    """POST a username and password, get the user's API token (created on first use)."""

    throttle_classes = [SignInThrottle]
