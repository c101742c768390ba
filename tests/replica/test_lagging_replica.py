"""Read-your-own-writes on a replica that lags: X-Min-Position waits for the replica's own replicated checkpoint.

Replay on the replica is paused (pg_wal_replay_pause), so the read primary has a
change the replica does not: exactly what a slow replica looks like to a client.
"""

import threading
from decimal import Decimal

import pytest

from projections.models import Checkpoint
from queries.models import ProductCatalog
from tests.factories import ProductFactory

pytestmark = [pytest.mark.exclusive, pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

# Long next to the pause below, so a pass cannot come from the wait running out first.
LONG_WAIT_SECONDS = 15
RESUME_AFTER_SECONDS = 0.5


@pytest.fixture
def repriced_behind_the_replica(settings, streaming_replica, replication_lag, catalog_manager_client):
    """A product at 5.00, repriced to 7.00 while the replica's replay is paused; returns it and the event's position."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    product = ProductFactory(price=Decimal("5.00"))
    streaming_replica.wait_until_replayed()
    streaming_replica.pause_replay()
    response = catalog_manager_client.post(
        f"/api/commands/products/{product.pk}/change-price/", {"new_price": "7.00"}, format="json"
    )
    assert response.status_code == 200, response.content
    position = int(response["X-Event-Position"])
    # Projected on the read primary, in the same transaction as its checkpoint...
    assert ProductCatalog.objects.using("read").get(pk=product.pk).price == Decimal("7.00")
    assert Checkpoint.objects.using("read").get(name="product_catalog").position >= position
    return product, position


def _detail(client, product, **headers):
    return client.get(f"/api/queries/products/{product.pk}/", headers=headers)


def test_without_a_minimum_a_read_answers_at_once_from_the_lagging_replica(
    repriced_behind_the_replica, anonymous_client
):
    product, position = repriced_behind_the_replica

    response = _detail(anonymous_client, product)

    assert response.status_code == 200
    assert response.json()["price"] == "5.00"  # ...but not yet on the replica the request read
    assert int(response["X-Read-Position"]) < position  # and the response says how far its data reaches


def test_x_min_position_waits_until_the_replica_itself_has_replayed_the_change(
    repriced_behind_the_replica, settings, streaming_replica, anonymous_client
):
    product, position = repriced_behind_the_replica
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = LONG_WAIT_SECONDS
    threading.Timer(RESUME_AFTER_SECONDS, streaming_replica.resume_replay).start()

    response = _detail(anonymous_client, product, **{"X-Min-Position": str(position)})

    assert response.status_code == 200, response.content
    assert response.json()["price"] == "7.00"
    assert int(response["X-Read-Position"]) >= position


def test_x_min_position_answers_503_while_the_replica_stays_behind(
    repriced_behind_the_replica, settings, anonymous_client
):
    product, position = repriced_behind_the_replica
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = 0.3

    response = _detail(anonymous_client, product, **{"X-Min-Position": str(position)})

    assert response.status_code == 503
    assert response.json()["code"] == "projection_behind"
    assert response["Retry-After"] == "1"
    assert int(response["X-Read-Position"]) < position
