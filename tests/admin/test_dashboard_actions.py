"""The dashboard's actions: rebuild, retry, skip. POST only, each with its own permission, each audited."""

import pytest
from django.test import Client
from django.urls import reverse

from commands.models import StoredEvent
from core.routers import READ_PRIMARY
from projections import monitoring
from projections.models import Checkpoint, RebuildRun, SkippedEvent
from projections.registry import replayable_projections
from queries.models import ProductCatalog
from tests.admin.helpers import audit_rows, fail, grant, messages_of, project
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")

REBUILD = reverse("admin:dashboard_rebuild")


def retry_url(name: str) -> str:
    return reverse("admin:dashboard_retry", args=[name])


def skip_url(name: str) -> str:
    return reverse("admin:dashboard_skip", args=[name])


def checkpoint(name: str) -> Checkpoint:
    return Checkpoint.objects.using(READ_PRIMARY).get(name=name)


@pytest.fixture
def catalog_failed():
    """product_catalog failed on the second product's registration; returns that event's position."""
    ProductFactory(sku="FIRST")
    second = ProductFactory(sku="SECOND")
    position = StoredEvent.objects.get(stream_id=second.pk).position
    fail("product_catalog", "ProductRegistered", at=position)
    return position


# --- Rebuild ---------------------------------------------------------------------


def test_a_rebuild_runs_and_records_its_progress_and_outcome(operator_client, operator):
    ProductFactory(sku="KEPT")
    project()
    ProductCatalog.objects.all().delete()  # drift that only a rebuild repairs

    response = operator_client.post(REBUILD, {"name": "product_catalog"})

    assert response.status_code == 302 and response["Location"] == reverse("admin:dashboard")
    assert list(ProductCatalog.objects.values_list("sku", flat=True)) == ["KEPT"]
    run = RebuildRun.objects.get()
    head = StoredEvent.objects.order_by("position").last().position
    assert (run.name, run.state, run.requested_by, run.position, run.percent) == (
        "product_catalog",
        "done",
        operator.username,
        head,
        100,
    )
    assert run.started_at and run.finished_at
    assert messages_of(response) == ["Rebuild of product_catalog requested: its progress shows in the table."]
    assert audit_rows() == [(operator.username, "rebuild", "projection product_catalog", "requested")]


def test_the_rebuild_task_records_progress_batch_by_batch(operator_client, settings, monkeypatch):
    for _ in range(3):
        ProductFactory()
    settings.REBUILD_BATCH_SIZE = 1
    seen: list[tuple[str, int]] = []
    recording = monitoring.progress_of

    def watched(run_id):
        record = recording(run_id)

        def progress(events_done, position, head):
            record(events_done, position, head)
            run = RebuildRun.objects.using(READ_PRIMARY).get(pk=run_id)
            seen.append((run.state, run.events_done))

        return progress

    monkeypatch.setattr(monitoring, "progress_of", watched)

    operator_client.post(REBUILD, {"name": "product_catalog"})

    events = StoredEvent.objects.count()
    assert seen == [("running", done) for done in range(1, events + 1)]


def test_rebuild_every_projection_at_once(operator_client):
    ProductFactory()
    project()

    operator_client.post(REBUILD, {"name": list(replayable_projections())})

    assert sorted(RebuildRun.objects.values_list("name", "state")) == sorted(
        (name, "done") for name in replayable_projections()
    )


def test_a_projection_that_cannot_be_rebuilt_fails_its_run_and_the_others_go_on(operator_client):
    ProductFactory()
    project()
    Checkpoint.objects.using(READ_PRIMARY).filter(name="order_summary").update(state="rebuilding")

    operator_client.post(REBUILD, {"name": ["order_summary", "product_catalog"]})

    runs = dict(RebuildRun.objects.values_list("name", "state"))
    assert runs == {"order_summary": "failed", "product_catalog": "done"}
    assert "already being rebuilt" in RebuildRun.objects.get(name="order_summary").error


def test_subscribers_are_never_rebuilt(operator_client, operator):
    response = operator_client.post(REBUILD, {"name": "notifications"})

    assert not RebuildRun.objects.exists()
    assert messages_of(response) == ["Only projections can be rebuilt, not notifications."]
    assert audit_rows() == [(operator.username, "rebuild", "projection notifications", "refused")]


def test_rebuilding_needs_the_rebuild_permission(viewer_client):
    response = viewer_client.post(REBUILD, {"name": "product_catalog"})

    assert response.status_code == 403
    assert not RebuildRun.objects.exists()
    assert audit_rows() == []


# --- Retry -----------------------------------------------------------------------


def test_retrying_a_failed_projection_sets_it_live_and_it_catches_up(operator_client, operator, catalog_failed):
    response = operator_client.post(retry_url("product_catalog"))

    assert response.status_code == 302
    catalog = checkpoint("product_catalog")
    assert (catalog.state, catalog.position) == ("live", StoredEvent.objects.order_by("position").last().position)
    assert messages_of(response) == [
        f"Retried product_catalog: it is live again and catches up from #{catalog_failed - 1}."
    ]
    assert audit_rows() == [(operator.username, "retry", "projection product_catalog", "done")]


def test_retrying_a_live_projection_is_refused(operator_client, operator):
    project()

    response = operator_client.post(retry_url("daily_sales"))

    assert messages_of(response) == ["daily_sales is live, not failed: nothing to retry."]
    assert audit_rows() == [(operator.username, "retry", "projection daily_sales", "refused")]


def test_retrying_needs_the_retry_permission(viewer_client, catalog_failed):
    assert viewer_client.post(retry_url("product_catalog")).status_code == 403
    assert checkpoint("product_catalog").state == "failed"


# --- Skip ------------------------------------------------------------------------


def test_skipping_first_shows_the_event_and_the_error_and_asks_to_confirm(operator_client, catalog_failed):
    response = operator_client.get(skip_url("product_catalog"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Skip event #{catalog_failed} for product_catalog?" in page
    assert "ProductRegistered" in page and "&quot;sku&quot;: &quot;SECOND&quot;" in page
    assert "RuntimeError: product_catalog broke on purpose" in page
    assert f'<input type="hidden" name="position" value="{catalog_failed}">' in page
    assert 'method="post"' in page
    assert checkpoint("product_catalog").state == "failed"  # looking changes nothing
    assert audit_rows() == []


def test_confirming_skips_the_event_and_sets_the_projection_live(operator_client, operator, catalog_failed):
    response = operator_client.post(skip_url("product_catalog"), {"position": str(catalog_failed)})

    assert response.status_code == 302
    skipped = SkippedEvent.objects.get()
    assert (skipped.position, skipped.event_type, skipped.skipped_by) == (
        catalog_failed,
        "ProductRegistered",
        operator.username,
    )
    assert checkpoint("product_catalog").state == "live"
    assert list(ProductCatalog.objects.values_list("sku", flat=True)) == ["FIRST"]
    assert messages_of(response) == [f"Skipped event #{catalog_failed} for product_catalog: it is live again."]
    assert audit_rows() == [(operator.username, "skip_event", "projection product_catalog", "done")]


def test_skipping_another_event_than_the_failed_one_is_refused(operator_client, catalog_failed):
    response = operator_client.post(skip_url("product_catalog"), {"position": str(catalog_failed - 1)})

    assert not SkippedEvent.objects.exists()
    assert checkpoint("product_catalog").state == "failed"
    assert "did not fail on event" in messages_of(response)[0]


def test_skipping_without_saying_which_event_is_refused(operator_client, catalog_failed):
    response = operator_client.post(skip_url("product_catalog"), {})

    assert messages_of(response) == ["Say which event to skip."]
    assert checkpoint("product_catalog").state == "failed"


def test_there_is_nothing_to_skip_on_a_live_projection(operator_client):
    project()

    response = operator_client.get(skip_url("daily_sales"))

    assert response.status_code == 302
    assert messages_of(response) == ["daily_sales has not failed on an event: there is nothing to skip."]


def test_skipping_needs_the_skip_permission(viewer_client, catalog_failed):
    assert viewer_client.get(skip_url("product_catalog")).status_code == 403
    assert viewer_client.post(skip_url("product_catalog"), {"position": str(catalog_failed)}).status_code == 403
    assert not SkippedEvent.objects.exists()


# --- Every action ---------------------------------------------------------------


@pytest.mark.parametrize("url", [REBUILD, retry_url("product_catalog")])
def test_a_get_on_an_action_url_does_nothing(operator_client, catalog_failed, url):
    response = operator_client.get(url, {"name": "product_catalog"})

    assert response.status_code == 405
    assert not RebuildRun.objects.exists()
    assert checkpoint("product_catalog").state == "failed"
    assert audit_rows() == []


@pytest.mark.parametrize("url", [retry_url("nope"), skip_url("nope")])
def test_an_unknown_follower_is_not_found(operator_client, url):
    assert operator_client.post(url, {"position": "1"}).status_code == 404


@pytest.mark.parametrize(
    "url", [REBUILD, retry_url("product_catalog"), skip_url("product_catalog")], ids=["rebuild", "retry", "skip"]
)
def test_an_action_without_the_csrf_token_is_refused(operator, catalog_failed, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(url, {"name": "product_catalog", "position": str(catalog_failed)})

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert checkpoint("product_catalog").state == "failed"
    assert not RebuildRun.objects.exists()


def test_each_permission_allows_only_its_own_action(signed_in, catalog_failed):
    retrier = signed_in(grant(StaffFactory(), "projections.view_checkpoint", "projections.retry_projection"))

    assert retrier.post(REBUILD, {"name": "product_catalog"}).status_code == 403
    assert retrier.get(skip_url("product_catalog")).status_code == 403
    assert retrier.post(retry_url("product_catalog")).status_code == 302
    assert checkpoint("product_catalog").state == "live"
