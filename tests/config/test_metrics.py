"""/metrics: Prometheus text, for staff or a bearer token, counting commands, events, batches and queries."""

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from commands.commands import RestockProduct
from commands.errors import InsufficientStock
from commands.handlers import dispatch
from commands.models import StoredEvent
from projections.registry import registry
from projections.runner import catch_up
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")


def _samples(response) -> dict[tuple, float]:
    """{(name, sorted labels): value} of every sample in the exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return _samples(response)


def test_metrics_are_not_public(client, customer_client):
    assert client.get("/metrics").status_code == 403
    assert customer_client.get("/metrics").status_code == 403


def test_a_scraper_with_the_token_may_read_them_and_one_without_may_not(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 403


def test_commands_are_counted_by_outcome_and_events_by_type(client):
    staff = StaffFactory()
    client.force_login(staff)
    key = ("shop_commands_total", (("command", "RestockProduct"), ("outcome", "recorded")))
    refused = ("shop_commands_total", (("command", "PlaceOrder"), ("outcome", "insufficient_stock")))
    appended = ("shop_events_appended_total", (("type", "ProductRestocked"),))
    before = _scrape(client)

    kettle = ProductFactory(stock=1)
    dispatch(RestockProduct(product_id=kettle.pk, quantity=2), staff)
    with pytest.raises(InsufficientStock):
        place_order(CustomerFactory(), {kettle: 5})

    after = _scrape(client)
    assert after[key] - before.get(key, 0) == 1
    assert after[refused] - before.get(refused, 0) == 1
    assert after[appended] - before.get(appended, 0) == 1


def test_each_follower_reports_its_position_and_lag(client):
    client.force_login(StaffFactory())
    ProductFactory()
    catch_up(registry()["product_catalog"])

    samples = _scrape(client)

    head = samples[("shop_event_log_head", ())]
    assert samples[("shop_projection_position", (("follower", "product_catalog"),))] == head
    assert samples[("shop_projection_lag_events", (("follower", "product_catalog"),))] == 0
    assert samples[("shop_projection_lag_events", (("follower", "order_summary"),))] == StoredEvent.objects.count()
    assert samples[("shop_projection_failed", (("follower", "daily_sales"),))] == 0
    assert samples[("shop_projection_batch_seconds_count", (("follower", "product_catalog"),))] >= 1


def test_query_endpoints_are_timed_by_url_name(client):
    client.force_login(StaffFactory())
    assert client.get("/api/queries/products/").status_code == 200

    samples = _scrape(client)

    timed = [labels for (name, labels), _ in samples.items() if name == "shop_query_seconds_count"]
    assert any(dict(labels)["status"] == "200" and "product" in dict(labels)["endpoint"] for labels in timed), timed


@override_settings(PROJECTION_PARTITIONS={"product_catalog": 2})
def test_each_partition_reports_its_own_position(client):
    client.force_login(StaffFactory())
    ProductFactory()
    catch_up(registry()["product_catalog.1of2"])

    samples = _scrape(client)

    head = samples[("shop_event_log_head", ())]
    assert samples[("shop_projection_position", (("follower", "product_catalog.1of2"),))] == head
    assert samples[("shop_projection_position", (("follower", "product_catalog.2of2"),))] == 0
    assert ("shop_projection_position", (("follower", "product_catalog"),)) not in samples
