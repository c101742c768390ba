"""The query API limits request rates: per client IP when anonymous, per user when signed in."""

import pytest

from queries import throttles
from tests.queries.helpers import catalog_rows

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/products/"


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rates


def test_an_anonymous_client_over_its_rate_is_told_to_wait(anonymous_client, rates):
    rates(anon="2/minute", user="100/minute")
    catalog_rows(1)
    assert [anonymous_client.get(URL).status_code for _ in range(2)] == [200, 200]

    refused = anonymous_client.get(URL)

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60


def test_anonymous_clients_are_told_apart_by_address_not_by_what_they_claim(anonymous_client, rates):
    rates(anon="1/minute", user="100/minute")
    assert anonymous_client.get(URL, REMOTE_ADDR="192.0.2.1").status_code == 200
    assert anonymous_client.get(URL, REMOTE_ADDR="192.0.2.2").status_code == 200
    spoofed = anonymous_client.get(URL, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert spoofed.status_code == 429


def test_each_signed_in_user_has_their_own_allowance(customer_client, other_customer_client, rates):
    rates(anon="100/minute", user="1/minute")
    assert customer_client.get("/api/queries/orders/").status_code == 200
    assert customer_client.get("/api/queries/customers/").status_code == 429
    assert other_customer_client.get("/api/queries/orders/").status_code == 200


def test_staff_endpoints_are_throttled_too(staff_client, rates):
    rates(anon="100/minute", user="1/minute")
    assert staff_client.get("/api/queries/projections/").status_code == 200
    assert staff_client.get("/api/queries/sales/daily/").status_code == 429


def test_without_a_rate_there_is_no_limit(anonymous_client, rates):
    rates()
    assert {anonymous_client.get(URL).status_code for _ in range(5)} == {200}


def test_a_cache_outage_lets_requests_through(anonymous_client, rates, monkeypatch, unreachable_cache):
    rates(anon="1/minute", user="1/minute")
    monkeypatch.setattr(throttles.QueryAnonThrottle, "cache", unreachable_cache)
    assert {anonymous_client.get(URL).status_code for _ in range(3)} == {200}


class CountingCache:
    """The real cache, counting the calls the throttle makes to it."""

    def __init__(self, cache):
        self.cache, self.calls = cache, []

    def __getattr__(self, name):
        method = getattr(self.cache, name)
        return lambda *args, **kwargs: self.calls.append(name) or method(*args, **kwargs)


def test_after_its_window_opens_a_request_costs_the_throttle_one_increment(anonymous_client, rates, monkeypatch):
    rates(anon="100/day", user="100/day")  # a day's window: the requests below do not straddle two
    counting = CountingCache(throttles.QueryAnonThrottle.cache)
    monkeypatch.setattr(throttles.QueryAnonThrottle, "cache", counting)
    anonymous_client.get(URL)  # may open a new window: an increment that fails, then an add
    counting.calls.clear()

    for _ in range(3):
        assert anonymous_client.get(URL).status_code == 200

    assert counting.calls == ["incr"] * 3  # no history list read and written back whole
