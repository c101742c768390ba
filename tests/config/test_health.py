import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from commands.eventlog import APPEND_LOCK_KEY
from commands.health import event_log_check
from commands.models import StoredEvent
from config.celery import app
from projections.models import Checkpoint
from projections.registry import registry
from projections.runner import catch_up, ensure_checkpoints
from tests.factories import ProductFactory, StaffFactory, UserFactory
from tests.processes import free_port

pytestmark = pytest.mark.django_db(databases="__all__")

METRICS_TOKEN = "readiness-probe-token"


@pytest.fixture
def client(settings):
    """A probe that may read every check's result: it sends the bearer METRICS_TOKEN, as a scraper does."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    return Client(headers={"Authorization": f"Bearer {METRICS_TOKEN}"})


def _fail_a_projection():
    ensure_checkpoints()
    Checkpoint.objects.using("read").filter(name="daily_sales").update(
        state="failed", failed_position=7, error="Traceback...\nValueError: boom"
    )


def _catch_everything_up():
    for follower in registry().values():
        catch_up(follower)


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_databases_answer_and_projections_keep_up(client):
    ProductFactory()
    _catch_everything_up()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) >= {"database:default", "database:read", "broker", "projection:order_summary"}


def test_a_failed_projection_makes_the_process_unready(client):
    _fail_a_projection()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["projection:daily_sales"] == "failed at #7: ValueError: boom"
    assert response.json()["checks"]["projection:order_summary"] == "ok"


def test_anonymous_callers_get_only_the_overall_status(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    anonymous = Client()
    assert anonymous.get("/readyz").json() == {"status": "ok"}
    _fail_a_projection()
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}  # not which projection, nor its error


def _probe(who: str) -> Client:
    if who == "metrics token":
        return Client(headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    if who == "another token":
        return Client(headers={"Authorization": "Bearer not-the-metrics-token"})
    probe = Client()
    probe.force_login(StaffFactory() if who == "staff session" else UserFactory())
    return probe


@pytest.mark.parametrize(
    ("who", "sees_details"),
    [("staff session", True), ("metrics token", True), ("non-staff session", False), ("another token", False)],
)
def test_the_details_go_to_staff_and_the_metrics_token_only(settings, who, sees_details):
    settings.METRICS_TOKEN = METRICS_TOKEN
    _fail_a_projection()
    response = _probe(who).get("/readyz")
    assert response.status_code == 503
    assert ("checks" in response.json()) is sees_details
    if sees_details:
        assert response.json()["checks"]["projection:daily_sales"] == "failed at #7: ValueError: boom"


def test_a_stalled_projection_is_unready_even_when_only_one_event_behind(client, settings):
    settings.READY_MAX_LAG_SECONDS = 30
    ProductFactory()
    _catch_everything_up()
    ProductFactory()  # one new event that nobody projects...
    StoredEvent.objects.filter(position=StoredEvent.objects.latest("position").position).update(
        recorded_at=timezone.now() - timedelta(seconds=45)  # ...for 45 seconds
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["projection:product_catalog"].startswith("stalled")


def test_an_unreachable_broker_makes_the_process_unready(client, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # What the check connects to (connection_for_write): broker_write_url, when set, before broker_url.
    monkeypatch.setattr(app.conf, "broker_write_url", f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("unreachable")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_transaction_holding_the_event_logs_positions_open_too_long_makes_the_process_unready(client, settings):
    # A limit of a second leaves the first check room on a loaded machine: it must run within it.
    settings.READY_MAX_LAG_SECONDS = 1
    write = connections["default"].settings_dict
    with psycopg.connect(
        host=write["HOST"] or "127.0.0.1", port=write["PORT"] or 5432, user=write["USER"], dbname=write["NAME"]
    ) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])  # what an append takes
        assert event_log_check() == {"event_log": "ok"}, "a brief hold is every append's"
        time.sleep(1.1)

        response = client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["checks"]["event_log"].startswith(
            f"stalled: a transaction (pid {holder.info.backend_pid}) has held unprojected positions open for"
        )
        holder.rollback()
    assert client.get("/readyz").json()["checks"]["event_log"] == "ok"
