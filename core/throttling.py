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


class SignInThrottle(CurrentRateMixin, SimpleRateThrottle):
    """Password guessing at the token endpoint: attempts per client IP, signed in or not."""

    scope = "sign_in"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ObtainTokenView(ObtainAuthToken):
    """POST a username and password, get the user's API token (created on first use)."""

    throttle_classes = [SignInThrottle]
