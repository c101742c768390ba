"""The projection dashboard: every follower's position, lag, state and last error, the lag chart, and who sees what."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from commands.models import StoredEvent
from projections.models import LagSample, RebuildRun
from projections.registry import partitions_of, registry, replayable_projections
from tests.admin.helpers import fail, project
from tests.factories import CustomerFactory, ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

DASHBOARD = reverse("admin:dashboard")
STATUS = reverse("admin:dashboard_status")


@pytest.fixture
def behind():
    """Two products projected, then a third that nobody has projected yet: every follower is one event behind."""
    ProductFactory()
    ProductFactory()
    project()
    return ProductFactory()


def registration_of(product) -> int:
    """The position of the product's ProductRegistered event."""
    return StoredEvent.objects.get(stream_id=product.pk).position


def rows_by_name(response) -> dict:
    return {row.status.name: row for row in response.context["rows"]}


def test_the_dashboard_lists_every_follower_with_its_position_head_and_lag(viewer_client, behind):
    response = viewer_client.get(DASHBOARD)

    assert response.status_code == 200
    rows = rows_by_name(response)
    assert list(rows) == list(registry())
    head = rows["product_catalog"].status.head
    for row in rows.values():
        assert (row.status.position, row.status.lag_events, row.status.state) == (head - 1, 1, "live")
        assert row.status.lag_seconds >= 0
    page = response.content.decode()
    assert 'id="follower-product_catalog"' in page and 'id="follower-cache"' in page
    assert f'<strong id="head">{head}</strong>' in page


def test_a_failed_follower_shows_its_last_error_and_a_collapsed_traceback(viewer_client):
    ProductFactory()
    failing = ProductFactory()
    event = registration_of(failing)
    fail("product_catalog", "ProductRegistered", at=event)

    page = viewer_client.get(DASHBOARD).content.decode()

    row = page.split('id="follower-product_catalog"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge failed">failed</span>' in row
    assert '<details class="error" data-key="error-product_catalog">' in row
    assert f"event #{event}: RuntimeError: product_catalog broke on purpose</summary>" in row
    assert "<pre>Traceback (most recent call last):" in row


def test_operators_see_a_rebuild_button_per_projection_and_retry_and_skip_on_a_failure(operator_client):
    ProductFactory()
    failing = ProductFactory()
    fail("product_catalog", "ProductRegistered", at=registration_of(failing))

    page = operator_client.get(DASHBOARD).content.decode()

    assert page.count('<input type="submit" value="Rebuild"') == len(replayable_projections())
    assert 'value="Rebuild every projection"' in page
    assert reverse("admin:dashboard_retry", args=["product_catalog"]) in page
    assert reverse("admin:dashboard_skip", args=["product_catalog"]) in page
    assert reverse("admin:dashboard_retry", args=["daily_sales"]) not in page  # live: nothing to retry


def test_staff_with_only_the_view_permission_see_the_dashboard_read_only(viewer_client):
    ProductFactory()
    failing = ProductFactory()
    fail("product_catalog", "ProductRegistered", at=registration_of(failing))

    response = viewer_client.get(DASHBOARD)

    page = response.content.decode()
    assert response.status_code == 200
    assert "failed" in page
    assert reverse("admin:dashboard_rebuild") not in page
    assert reverse("admin:dashboard_retry", args=["product_catalog"]) not in page
    assert reverse("admin:dashboard_skip", args=["product_catalog"]) not in page


@pytest.mark.parametrize("url", [DASHBOARD, STATUS])
def test_staff_without_the_view_permission_are_refused(bare_staff_client, url):
    assert bare_staff_client.get(url).status_code == 403


def test_the_status_endpoint_gives_the_tables_data_and_rows(viewer_client, behind):
    response = viewer_client.get(STATUS)

    assert response.status_code == 200
    data = response.json()
    assert [follower["name"] for follower in data["followers"]] == list(registry())
    catalog = data["followers"][0]
    assert (catalog["state"], catalog["lag_events"], catalog["rebuild"]) == ("live", 1, None)
    assert catalog["head"] == data["head"] == catalog["position"] + 1
    assert 'id="follower-product_catalog"' in data["html"]
    assert "<html" not in data["html"]


def test_the_dashboard_refreshes_its_table_from_the_status_endpoint_as_the_stream_says(viewer_client):
    page = viewer_client.get(DASHBOARD).content.decode()

    assert f'data-refresh-url="{STATUS}"' in page
    assert 'data-stream-url="/api/queries/stream/?topics=projection"' in page
    assert 'addEventListener("projection"' in page
    assert "<script>" in page and "fetch(table.dataset.refreshUrl" in page
    assert "://" not in page.split("<script>", 1)[1].split("</script>", 1)[0]  # nothing fetched from elsewhere


def test_a_rebuilds_progress_shows_in_its_row(viewer_client):
    RebuildRun.objects.create(
        name="order_summary", requested_by="alice", state="running", events_done=50, position=50, head=200
    )

    response = viewer_client.get(DASHBOARD)

    row = rows_by_name(response)["order_summary"]
    assert (row.run.state, row.run.percent) == ("running", 25)
    page = response.content.decode()
    assert '<progress max="100" value="25"' in page
    assert "50 events to #50" in page
    assert viewer_client.get(STATUS).json()["followers"][1]["rebuild"]["percent"] == 25


def test_the_lag_chart_draws_the_samples_of_the_last_hour(viewer_client):
    now = timezone.now()
    for minutes_ago, lag in ((50, 4), (20, 9), (5, 0)):
        LagSample.objects.create(
            taken_at=now - timedelta(minutes=minutes_ago), name="daily_sales", position=1, lag_events=lag, lag_seconds=1
        )
    LagSample.objects.create(
        taken_at=now - timedelta(hours=3), name="cache", position=1, lag_events=500, lag_seconds=60
    )

    response = viewer_client.get(DASHBOARD)

    chart = str(response.context["lag_events_chart"])
    assert chart.startswith("<svg")
    assert chart.count("<polyline") == 1
    assert "daily_sales" in chart and "cache" not in chart  # the old sample is outside the hour
    assert "<polyline" in str(response.context["lag_seconds_chart"])


def test_without_samples_the_lag_chart_says_so(viewer_client):
    assert "No samples yet" in viewer_client.get(DASHBOARD).content.decode()


def test_the_admin_index_links_to_the_dashboard_for_those_who_may_see_it(viewer_client, bare_staff_client):
    index = reverse("admin:index")

    assert DASHBOARD in viewer_client.get(index).content.decode()
    assert reverse("admin:dashboard_sales") in viewer_client.get(index).content.decode()
    assert DASHBOARD not in bare_staff_client.get(index).content.decode()


def test_the_checkpoint_list_links_to_the_dashboard(viewer_client):
    page = viewer_client.get(reverse("admin:projections_checkpoint_changelist")).content.decode()

    assert f'href="{DASHBOARD}"' in page


@override_settings(PROJECTION_PARTITIONS={"order_summary": 2})
def test_a_partitioned_projection_shows_a_row_and_its_own_retry_per_partition_and_one_rebuild(operator_client):
    order = place_order(CustomerFactory(), {ProductFactory(): 1})
    placed = StoredEvent.objects.get(stream_id=order.pk).position
    owner = next(part.name for part in partitions_of("order_summary") if part.partition.owns(order.pk))
    fail("order_summary", "OrderPlaced", at=placed)  # only the partition that owns the order applies it

    page = operator_client.get(DASHBOARD).content.decode()

    assert 'id="follower-order_summary.1of2"' in page and 'id="follower-order_summary.2of2"' in page
    assert 'id="follower-order_summary"' not in page
    assert page.count('<input type="submit" value="Rebuild"') == len(replayable_projections())
    assert '<input type="hidden" name="name" value="order_summary">' in page  # the whole read model
    assert "partition 2 of 2" in page
    assert [
        reverse("admin:dashboard_retry", args=[name]) in page for name in registry() if "1of2" in name or "2of2" in name
    ] == [name == owner for name in registry() if "1of2" in name or "2of2" in name]
