"""X-Min-Position waits in the event loop: refused at once when hopeless, woken by announcements.

The waiting itself is covered through the API in test_read_your_writes.py;
these cover what only the waiting middleware does.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import OperationalError

from commands.eventlog import head_position
from config.api import DATABASE_RETRY_AFTER_SECONDS
from core.routers import READ_PRIMARY
from projections import announcements
from queries import waiting
from tests.queries.helpers import extend_log_to, set_checkpoint

pytestmark = pytest.mark.django_db(databases="__all__")

PRODUCTS = "/api/queries/products/"


async def must_not_wait(seconds, *waiting_for):
    pytest.fail("it should not wait")


def test_a_position_beyond_the_head_of_the_log_is_refused_at_once(anonymous_client, monkeypatch):
    extend_log_to(3)
    head = head_position()  # 3 unless earlier tests' positions were kept (PostgreSQL sequences are)
    monkeypatch.setattr(waiting, "pause", must_not_wait)

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": str(head + 1)})

    assert response.status_code == 400
    assert response.json() == {"code": "unknown_position", "detail": response.json()["detail"]}
    assert f"({head})" in response.json()["detail"]
    assert response["X-Read-Position"] == "0"


def test_the_head_itself_is_waited_for(anonymous_client, settings):
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = 0
    extend_log_to(3)

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "3"})

    assert response.status_code == 503  # not unknown: it is coming


def test_a_client_at_its_limit_of_waits_is_refused_at_once(anonymous_client, settings, monkeypatch):
    settings.QUERY_WAITS_PER_CLIENT = 0
    extend_log_to(1)
    monkeypatch.setattr(waiting, "pause", must_not_wait)

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "1"})

    assert (response.status_code, response.json()["code"]) == (429, "too_many_waits")
    assert (response["Retry-After"], response["X-Read-Position"]) == ("1", "0")


def test_waits_are_counted_per_client_until_they_end(settings):
    settings.QUERY_WAITS_PER_CLIENT = 1

    with (
        waiting._client_wait("10.0.0.1") as first,
        waiting._client_wait("10.0.0.1") as second,
        waiting._client_wait("10.0.0.2") as another_client,
    ):
        assert (first, second, another_client) == (True, False, True)
    with waiting._client_wait("10.0.0.1") as after_the_first_ended:
        assert after_the_first_ended


def test_a_malformed_minimum_is_left_to_the_view_to_refuse(anonymous_client):
    response = anonymous_client.get(PRODUCTS, {"min_position": "soon"})

    assert (response.status_code, list(response.json()["errors"])) == (400, ["min_position"])


def test_commands_and_other_pages_are_never_held(staff_client, monkeypatch):
    monkeypatch.setattr(waiting, "pause", must_not_wait)

    assert staff_client.get("/healthz", headers={"X-Min-Position": "99"}).status_code == 200


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_an_announcement_wakes_a_waiter_long_before_its_fallback_read(settings, monkeypatch):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL (see README) to run it")
    monkeypatch.setattr(waiting, "FALLBACK_SECONDS", 60)  # a pass cannot come from the fallback read

    async def wait_while_a_projector_commits():
        waiter = asyncio.create_task(waiting.wait_for_position(("product_catalog",), 7, using=READ_PRIMARY, timeout=30))
        await asyncio.sleep(0.2)  # the waiter has read position 0 and listens
        await sync_to_async(set_checkpoint)("product_catalog", 7)
        await sync_to_async(announcements.announce)("product_catalog", 7)
        return await asyncio.wait_for(waiter, timeout=10)

    assert async_to_sync(wait_while_a_projector_commits)() == 7


def test_an_announcement_is_parsed_back_to_name_and_position():
    assert announcements.parse(b"order_summary 42") == ("order_summary", 42)
    assert announcements.parse("garbage") is None


def _fails_with(message):
    def fail(*args, **kwargs):
        raise OperationalError(message)

    return fail


def test_a_read_database_that_fails_while_a_request_waits_is_a_503_not_a_500(anonymous_client, monkeypatch):
    """Found by the soak: a replica shut down while a request read its position answered 500."""
    extend_log_to(1)
    monkeypatch.setattr(waiting, "read_position", _fails_with("terminating connection due to administrator command"))

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "1"})

    assert (response.status_code, response.json()["code"]) == (503, "read_database_unavailable")
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)


def test_a_write_database_that_refuses_the_head_read_is_a_503_not_a_500(anonymous_client, monkeypatch):
    """Found by the soak: PostgreSQL out of connections ("too many clients") while reading the head answered 500."""
    extend_log_to(1)
    set_checkpoint("product_catalog", 0)
    monkeypatch.setattr(waiting, "head_position", _fails_with("sorry, too many clients already"))

    response = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "1"})

    assert (response.status_code, response.json()["code"]) == (503, "write_database_unavailable")
    assert (response["Retry-After"], response["X-Read-Position"]) == (str(DATABASE_RETRY_AFTER_SECONDS), "0")
