"""Whether a replica can serve: one that does not answer is left out for a while, then tried again."""

import logging

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from core import replicas

REPLICA = "read_replica_1"


class FakeReplicaConnection:
    """Stands in for connections[alias]: answers or not, and counts the attempts to reach it."""

    def __init__(self):
        self.up = True
        self.attempts = 0

    def close_if_health_check_failed(self):
        pass

    def ensure_connection(self):
        self.attempts += 1
        if not self.up:
            raise OperationalError('connection to server at "127.0.0.1", port 5433 failed: Connection refused')


@pytest.fixture
def replica(monkeypatch, settings):
    settings.READ_REPLICA_RETRY_SECONDS = 5
    connection = FakeReplicaConnection()
    monkeypatch.setattr(replicas, "connections", {REPLICA: connection})
    monkeypatch.setattr(replicas, "_left_out_until", {})
    return connection


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(replicas.time, "monotonic", lambda: now[0])
    return now


def test_a_replica_that_answers_is_reachable(replica):
    assert replicas.reachable(REPLICA)
    assert replica.attempts == 1


def test_a_replica_that_does_not_answer_is_left_out_until_the_retry_interval_passes(replica, clock):
    replica.up = False
    assert not replicas.reachable(REPLICA)

    clock[0] += 4.9
    assert not replicas.reachable(REPLICA)
    assert replica.attempts == 1, "tried again within the retry interval"

    clock[0] += 0.2
    assert not replicas.reachable(REPLICA)
    assert replica.attempts == 2


def test_a_replica_that_returns_is_used_again_after_the_interval(replica, clock, caplog):
    replica.up = False
    replicas.reachable(REPLICA)
    replica.up = True
    clock[0] += 5.1
    with caplog.at_level(logging.INFO, logger="core.replicas"):
        assert replicas.reachable(REPLICA)
    assert "answers again" in caplog.text


def test_an_outage_is_logged_once_and_counted_at_every_try(replica, clock, caplog):
    counted = _unreachable_count()
    replica.up = False
    with caplog.at_level(logging.WARNING, logger="core.replicas"):
        for _ in range(3):
            replicas.reachable(REPLICA)
            clock[0] += 6
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "read_replica_1 cannot be reached (connection to server" in warnings[0].getMessage()
    assert _unreachable_count() == counted + 3


def test_only_database_errors_count_as_unreachable(replica, monkeypatch):
    def broken_code():
        raise RuntimeError("a bug, not an outage")

    monkeypatch.setattr(replica, "ensure_connection", broken_code)
    with pytest.raises(RuntimeError):
        replicas.reachable(REPLICA)


def _unreachable_count() -> float:
    return REGISTRY.get_sample_value("shop_read_replica_unreachable_total", {"replica": REPLICA}) or 0.0
