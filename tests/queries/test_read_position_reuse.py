"""A web process reuses a read position for READ_POSITION_REUSE_SECONDS: never above the data, never below a minimum."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from queries import consistency
from tests.queries.helpers import catalog_rows, extend_log_to, read_database, set_checkpoint

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PRODUCTS = "/api/queries/products/"


@pytest.fixture
def reuse(settings):
    settings.READ_POSITION_REUSE_SECONDS = 60  # longer than any test: only what the test does moves it
    consistency._recent_positions.clear()
    yield
    consistency._recent_positions.clear()


@pytest.fixture
def a_catalog_at_5():
    catalog_rows(1)
    extend_log_to(9)
    set_checkpoint("product_catalog", 5)


def position(response) -> int:
    assert response.status_code == 200, response.content
    return int(response["X-Read-Position"])


def checkpoint_reads(client, url, **options) -> tuple[int, object]:
    """How many statements `GET url` ran on the checkpoints, and its response."""
    with CaptureQueriesContext(connections[read_database()]) as captured:
        response = client.get(url, **options)
    return sum("projections_checkpoint" in query["sql"] for query in captured), response


def test_within_the_window_a_read_answers_at_the_position_read_before_without_reading_it(
    reuse, a_catalog_at_5, anonymous_client
):
    assert position(anonymous_client.get(PRODUCTS)) == 5
    set_checkpoint("product_catalog", 7)  # the data moves on: 5 is still a lower bound of it

    reads, response = checkpoint_reads(anonymous_client, f"{PRODUCTS}?page_size=7")

    assert (reads, position(response)) == (0, 5)


def test_after_the_window_the_position_is_read_again(reuse, settings, a_catalog_at_5, anonymous_client):
    anonymous_client.get(PRODUCTS)
    set_checkpoint("product_catalog", 7)
    settings.READ_POSITION_REUSE_SECONDS = 0

    reads, response = checkpoint_reads(anonymous_client, f"{PRODUCTS}?page_size=7")

    assert (reads, position(response)) == (1, 7)


def test_a_minimum_above_the_reused_position_is_read_afresh_and_answered(reuse, a_catalog_at_5, anonymous_client):
    anonymous_client.get(PRODUCTS)
    set_checkpoint("product_catalog", 7)

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "7"})

    assert position(response) == 7
    assert position(anonymous_client.get(f"{PRODUCTS}?page_size=7")) == 7  # and the fresh one is reused after


def test_a_minimum_the_data_has_not_reached_is_still_refused(reuse, a_catalog_at_5, anonymous_client):
    anonymous_client.get(PRODUCTS)

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "8"})

    assert response.status_code == 503
    assert response["X-Read-Position"] == "5"


def test_each_database_and_set_of_projections_has_its_own(reuse, monkeypatch):
    reads = []

    def read_position(projections, *, using):
        reads.append((using, tuple(projections)))
        return len(reads)

    monkeypatch.setattr(consistency, "read_position", read_position)
    for _ in range(2):
        consistency.recent_read_position(("product_catalog",), using="read")
        consistency.recent_read_position(("product_catalog",), using="read_replica_1")
        consistency.recent_read_position(("order_summary", "customer_history"), using="read")

    assert reads == [
        ("read", ("product_catalog",)),
        ("read_replica_1", ("product_catalog",)),
        ("read", ("order_summary", "customer_history")),
    ]
