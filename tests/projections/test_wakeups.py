"""Wake-ups: each commit wakes every follower, but a burst enqueues at most one pending run per follower.

A broken broker or cache never fails a command that has committed: the
wake-up is logged and beat's safety net catches up later.
"""

import threading
import uuid
from collections import Counter

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown
from redis import Redis
from redis.client import Pipeline

from commands.eventlog import RecordedEvent
from commands.models import StoredEvent
from commands.signals import events_recorded
from projections import announcements, wakeups
from projections.registry import registry
from projections.tasks import catch_up_everything, run_follower
from tests.factories import ProductFactory
from tests.processes import free_port, wait_until
from tests.projections.helpers import restock

pytestmark = pytest.mark.django_db(databases="__all__")

EVERY_FOLLOWER_ONCE = Counter(list(registry()))


def events_committed(times: int) -> None:
    """What the event log does after each of `times` commits."""
    for _ in range(times):
        events_recorded.send(sender=RecordedEvent, events=[])


def recorded_at(position: int) -> RecordedEvent:
    """An event as the log hands it to the receivers of a commit: only its position matters here."""
    return RecordedEvent(position, uuid.uuid4(), 1, "ProductRestocked", {}, {}, timezone.now())


def runs_started() -> None:
    """Clear every pending key, as every follower's run does when it starts."""
    for name in registry():
        wakeups.clear(name)


def test_a_burst_of_a_thousand_commits_enqueues_one_run_per_follower(enqueued):
    events_committed(1000)

    assert Counter(enqueued) == EVERY_FOLLOWER_ONCE


def test_once_a_run_starts_the_next_commit_enqueues_it_again(enqueued):
    events_committed(10)

    run_follower("order_summary")  # the worker picks up the task: it clears the pending key first
    events_committed(10)

    assert Counter(enqueued) == EVERY_FOLLOWER_ONCE + Counter(["order_summary"])


def test_the_safety_net_wakes_every_follower_even_with_runs_pending(enqueued):
    events_committed(1)

    catch_up_everything()

    assert Counter(enqueued) == EVERY_FOLLOWER_ONCE + EVERY_FOLLOWER_ONCE


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_burst_of_real_commands_enqueues_at_most_one_run_per_follower(enqueued):
    kettle = ProductFactory(stock=10)
    runs_started()
    enqueued.clear()

    for _ in range(50):
        restock(kettle, 1)

    assert Counter(enqueued) == EVERY_FOLLOWER_ONCE


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_commit_announces_the_logs_new_head_to_the_live_streams(monkeypatch, enqueued):
    kettle = ProductFactory(stock=10)
    announced = []
    monkeypatch.setattr(announcements, "announce", lambda name, position: announced.append((name, position)))

    recorded = restock(kettle, 1)

    assert announced == [(announcements.LOG, recorded.position)]


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_broken_broker_never_fails_a_command(monkeypatch, caplog):
    kettle = ProductFactory(stock=10)
    runs_started()

    def broker_down(*args, **kwargs):
        raise BrokerDown("[Errno 111] Connection refused")

    monkeypatch.setattr(run_follower, "apply_async", broker_down)
    recorded = restock(kettle, 5)

    assert StoredEvent.objects.filter(position=recorded.position, type="ProductRestocked").exists()
    assert "could not wake product_catalog; the safety net will catch it up" in caplog.text
    # The failed wake-ups left no run pending, so the next commit tries the broker again.
    assert all(wakeups.claim(name) for name in registry())


class CacheDown:
    def add(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to the cache")

    delete = delete_many = add


@pytest.fixture
def cache_down(monkeypatch):
    """What wake-ups coalesce with, refusing every call: Redis, or the embedded default's local cache."""
    if wakeups.redis_connection() is None:
        monkeypatch.setattr(wakeups, "cache", CacheDown())
    else:
        # A port nothing listens on: calls fail as they would on a stopped Redis.
        stopped_redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
        monkeypatch.setattr(wakeups, "redis_connection", lambda: stopped_redis)


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_broken_cache_never_fails_a_command_and_still_wakes_every_follower(cache_down, caplog, enqueued):
    kettle = ProductFactory(stock=10)

    recorded = restock(kettle, 5)
    events_committed(2)

    assert StoredEvent.objects.filter(position=recorded.position, type="ProductRestocked").exists()
    # Nothing to coalesce with: every commit wakes every follower.
    assert Counter(enqueued) >= Counter({name: 2 for name in registry()})
    assert "could not reach the cache to coalesce wake-ups of product_catalog" in caplog.text


def test_claiming_every_follower_claims_each_one_once_until_its_run_starts():
    assert wakeups.claim_all(registry()) == list(registry())
    assert wakeups.claim_all(registry()) == []

    wakeups.clear("order_summary")

    assert wakeups.claim_all(registry()) == ["order_summary"]


def test_a_commit_claims_every_pending_key_in_one_round_trip_to_redis(monkeypatch):
    if wakeups.redis_connection() is None:
        pytest.skip("needs Redis: set REDIS_URL (see README) to run it")
    round_trips = []
    execute = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **kw: round_trips.append(len(self)) or execute(self))
    monkeypatch.setattr(wakeups.cache, "add", lambda *args, **kwargs: pytest.fail("claimed one key at a time"))

    events_committed(1)

    assert round_trips == [len(registry())]


def test_an_unreachable_cache_claims_every_follower(cache_down, caplog, enqueued):
    events_committed(2)

    assert Counter(enqueued) == Counter({name: 2 for name in registry()})
    assert "could not reach the cache to coalesce wake-ups" in caplog.text


# --- In the background (WAKE_UPS_IN_BACKGROUND, as scripts/serve runs the web processes) ---------


@pytest.fixture
def wake_ups_in_background(settings):
    settings.WAKE_UPS_IN_BACKGROUND = True


def wait_for(condition) -> None:
    wait_until(condition, timeout=30, what="the waker thread")


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_command_does_not_wait_for_its_wake_ups_which_still_follow(settings, monkeypatch, enqueued):
    kettle = ProductFactory(stock=10)  # woken inline: no claim of the waker's is left to race the setup below
    settings.WAKE_UPS_IN_BACKGROUND = True
    runs_started()
    enqueued.clear()
    cache_answers = threading.Event()
    claim_all = wakeups.claim_all

    def slow_cache(names):
        cache_answers.wait(30)
        return claim_all(names)

    monkeypatch.setattr(wakeups, "claim_all", slow_cache)

    recorded = restock(kettle, 5)  # answered while the cache has not yet answered the waker

    assert StoredEvent.objects.filter(position=recorded.position).exists()
    assert enqueued == []
    cache_answers.set()
    wait_for(lambda: Counter(enqueued) == EVERY_FOLLOWER_ONCE)


def test_in_the_background_a_burst_of_commits_still_enqueues_one_run_per_follower(wake_ups_in_background, enqueued):
    events_committed(1000)

    wait_for(lambda: Counter(enqueued) == EVERY_FOLLOWER_ONCE)
    run_follower("order_summary")
    events_committed(1)
    wait_for(lambda: Counter(enqueued) == EVERY_FOLLOWER_ONCE + Counter(["order_summary"]))


def test_in_the_background_a_burst_of_commits_announces_the_newest_head(wake_ups_in_background, monkeypatch):
    announced = []
    monkeypatch.setattr(announcements, "announce", lambda name, position: announced.append((name, position)))

    for position in range(1, 101):
        events_recorded.send(sender=RecordedEvent, events=[recorded_at(position)])

    wait_for(lambda: announced and announced[-1] == (announcements.LOG, 100))
    assert [position for _name, position in announced] == sorted(position for _name, position in announced)


def test_the_waker_survives_a_broken_cache_and_wakes_on_the_next_commit(
    wake_ups_in_background, monkeypatch, enqueued, caplog
):
    monkeypatch.setattr(wakeups, "claim_all", lambda names: 1 / 0)
    events_committed(1)
    wait_for(lambda: "could not wake the followers" in caplog.text)

    monkeypatch.undo()
    monkeypatch.setattr(run_follower, "apply_async", lambda args=None, **options: enqueued.append(args[0]))
    events_committed(1)
    wait_for(lambda: Counter(enqueued) == EVERY_FOLLOWER_ONCE)
