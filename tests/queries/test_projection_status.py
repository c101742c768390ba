"""/api/queries/projections/: where each projection and subscriber stands, for staff."""

import pytest

from projections.models import Checkpoint
from projections.registry import registry
from tests.factories import ProductFactory
from tests.queries.helpers import project, set_checkpoint

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/projections/"


def test_staff_see_every_projection_and_subscriber(staff_client):
    ProductFactory()
    project()

    response = staff_client.get(URL)

    assert response.status_code == 200
    rows = response.json()
    assert [row["name"] for row in rows] == list(registry())
    kinds = {row["name"]: row["kind"] for row in rows}
    assert kinds["product_catalog"] == "projection"
    assert kinds["cache"] == "subscriber"
    head = rows[0]["head"]
    assert head > 0
    assert all(
        (row["position"], row["lag_events"], row["lag_seconds"], row["state"]) == (head, 0, 0.0, "live") for row in rows
    )


def test_it_shows_lag_and_a_failure(staff_client, held_projections):
    ProductFactory()
    ProductFactory()
    project()
    ProductFactory()  # not projected: one event behind
    Checkpoint.objects.filter(name="daily_sales").update(
        state="failed", failed_position=2, error="Traceback (most recent call last):\n...\nValueError: boom\n"
    )

    rows = {row["name"]: row for row in staff_client.get(URL).json()}

    assert rows["product_catalog"]["lag_events"] == 1
    assert rows["product_catalog"]["lag_seconds"] >= 0
    failed = rows["daily_sales"]
    assert (failed["state"], failed["failed_position"], failed["last_error"]) == ("failed", 2, "ValueError: boom")
    detail = staff_client.get(f"{URL}daily_sales/").json()
    assert detail["error"].startswith("Traceback")


def test_one_follower_by_name(staff_client):
    set_checkpoint("order_summary", 0)
    response = staff_client.get(f"{URL}order_summary/")
    assert response.status_code == 200
    assert response.json()["name"] == "order_summary"
    assert response.json()["kind"] == "projection"


def test_an_unknown_name_is_not_found(staff_client):
    response = staff_client.get(f"{URL}no_such_projection/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_list_reads_at_the_lowest_position_and_a_detail_at_its_own(staff_client):
    positions = {name: position for position, name in enumerate(registry(), start=5)}
    for name, position in positions.items():
        set_checkpoint(name, position)
    assert staff_client.get(URL)["X-Read-Position"] == "5"
    assert staff_client.get(f"{URL}cache/")["X-Read-Position"] == str(positions["cache"])


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_it_is_for_staff_only(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}cache/").status_code == 403


def test_anonymous_visitors_must_sign_in(anonymous_client):
    assert anonymous_client.get(URL).status_code == 401
