"""Versioned projections: a changed Projection.version pauses the old rows and queues one blue/green rebuild."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from core.routers import READ_PRIMARY
from projections import tasks, versions
from projections.models import RebuildRun
from projections.rebuild import verify
from projections.runner import Outcome
from projections.sales import DailySalesProjection
from queries.models import DailySales
from tests.factories import ProductFactory, StaffFactory, place_order
from tests.projections.helpers import a_busy_day, checkpoint, project, project_everything, rows

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def sales_deployed_at_version_1(customer):
    """Daily sales built and live at version 1, then code with version 2 deployed."""
    a_busy_day()
    project_everything()
    assert checkpoint("daily_sales").version == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DailySalesProjection, "version", 2)
        yield


@pytest.fixture
def queued_upgrades(monkeypatch):
    """Upgrade tasks are recorded instead of being sent (eager Celery would run them at once)."""
    sent = []
    monkeypatch.setattr(tasks.upgrade_projection, "apply_async", lambda args, **options: sent.append(args))
    return sent


@pytest.fixture
def upgrades_run_here(monkeypatch):
    """Upgrade tasks run in this process as they are sent, as eager Celery runs them (Redis or not)."""
    monkeypatch.setattr(
        tasks.upgrade_projection, "apply_async", lambda args, **options: tasks.upgrade_projection.apply(args=args)
    )


def test_a_fresh_checkpoint_starts_at_the_version_of_the_code(monkeypatch, customer):
    monkeypatch.setattr(DailySalesProjection, "version", 3)
    place_order(customer, {ProductFactory(): 1})

    project("daily_sales")

    assert checkpoint("daily_sales").version == 3
    assert versions.changed_projections() == {}


def test_the_new_version_is_not_run_over_rows_the_old_one_built(sales_deployed_at_version_1, customer, queued_upgrades):
    built_by_version_1 = rows(DailySales)
    place_order(customer, {ProductFactory(): 1})

    result = project("daily_sales")

    assert result.outcome is Outcome.PAUSED
    assert rows(DailySales) == built_by_version_1
    assert project("product_catalog").outcome is Outcome.CAUGHT_UP  # the others go on


def test_noticing_a_changed_version_twice_queues_one_rebuild(sales_deployed_at_version_1, queued_upgrades):
    first = versions.start_upgrades(noticed_by="worker a")
    second = versions.start_upgrades(noticed_by="beat")

    assert [run.name for run in first] == ["daily_sales"] and second == []
    assert queued_upgrades == [["daily_sales", first[0].pk, 2]]
    run = RebuildRun.objects.using(READ_PRIMARY).get()
    assert (run.version, run.state, run.requested_by) == (2, "queued", "worker a: version 1 -> 2")


def test_an_upgrade_whose_task_was_lost_is_queued_again_after_its_lease(sales_deployed_at_version_1, queued_upgrades):
    (lost,) = versions.start_upgrades(noticed_by="worker a")
    RebuildRun.objects.using(READ_PRIMARY).filter(pk=lost.pk).update(
        requested_at=timezone.now() - versions.QUEUED_LEASE - timedelta(seconds=1)
    )

    (again,) = versions.start_upgrades(noticed_by="beat")

    assert again.pk != lost.pk
    assert RebuildRun.objects.using(READ_PRIMARY).get(pk=lost.pk).state == "failed"


def test_the_upgrade_rebuilds_the_read_model_and_records_the_version(
    sales_deployed_at_version_1, customer, upgrades_run_here
):
    place_order(customer, {ProductFactory(): 2})

    (run,) = versions.start_upgrades(noticed_by="beat")

    run.refresh_from_db()
    assert (run.state, run.percent, run.version) == ("done", 100, 2)
    live = checkpoint("daily_sales")
    assert (live.version, live.state) == (2, "live")
    assert verify(DailySalesProjection()).total == 0
    assert versions.start_upgrades(noticed_by="beat") == []


def test_migrating_the_read_database_upgrades_a_raised_version(sales_deployed_at_version_1, upgrades_run_here):
    call_command("migrate", database=READ_PRIMARY, verbosity=0)

    assert checkpoint("daily_sales").version == 2
    assert verify(DailySalesProjection()).total == 0


def test_a_repeated_upgrade_task_changes_nothing(sales_deployed_at_version_1, upgrades_run_here):
    (run,) = versions.start_upgrades(noticed_by="beat")
    rebuilt = rows(DailySales)

    outcome = tasks.upgrade_projection.apply(args=["daily_sales", run.pk, 2]).get()

    assert outcome == {"name": "daily_sales", "version": 2, "rebuilt": False}
    assert rows(DailySales) == rebuilt


def test_a_worker_running_another_version_leaves_the_upgrade_to_the_new_ones(
    sales_deployed_at_version_1, queued_upgrades
):
    (run,) = versions.start_upgrades(noticed_by="beat")
    built_by_version_1 = rows(DailySales)

    outcome = tasks.upgrade_projection.apply(args=["daily_sales", run.pk, 3]).get()

    assert outcome["deferred"] and queued_upgrades[-1] == ["daily_sales", run.pk, 3]
    assert rows(DailySales) == built_by_version_1
    assert RebuildRun.objects.using(READ_PRIMARY).get(pk=run.pk).state == "queued"


def test_projection_status_and_the_dashboard_show_the_upgrade(sales_deployed_at_version_1, queued_upgrades, client):
    versions.start_upgrades(noticed_by="beat")
    out = StringIO()

    call_command("projection_status", stdout=out)

    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("daily_sales")]
    assert "v1->v2" in line and "queued 0%" in line
    client.force_login(StaffFactory(is_superuser=True))
    followers = client.get(reverse("admin:dashboard_status")).json()["followers"]
    (sales,) = [follower for follower in followers if follower["name"] == "daily_sales"]
    assert (sales["version"], sales["code_version"], sales["rebuild"]["version"]) == (1, 2, 2)
