"""A worker keeps its database connections between tasks, yet replaces one that was killed under it."""

from types import SimpleNamespace

import pytest
from django.db import OperationalError, connections

from config.celery import app, close_broken_or_old_connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

A_WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))
AN_EAGER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=True))


def task_finished() -> None:
    close_broken_or_old_connections(sender=A_WORKER_TASK)


def kill_the_connection(alias: str) -> None:
    """Terminate the server side of `alias`'s connection, as a restarted database or a cut network would."""
    connection = connections[alias]
    pid = connection.connection.info.backend_pid
    with connection.get_new_connection(connection.get_connection_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def read(monkeypatch):
    """The `read` connection of a worker process: kept for a minute, as deployed."""
    read = connections["read"]
    monkeypatch.setitem(read.settings_dict, "CONN_MAX_AGE", 60)
    read.close()
    read.ensure_connection()
    return read


def test_celery_keeps_connections_between_tasks():
    assert app.conf.get("CELERY_DB_REUSE_MAX")


def test_a_connection_kept_between_tasks_is_reused(read):
    kept = read.connection

    task_finished()

    assert read.connection is kept


def test_a_connection_killed_under_a_task_is_replaced_by_the_next_one(read):
    kill_the_connection("read")
    with pytest.raises(OperationalError), read.cursor() as cursor:
        cursor.execute("SELECT 1")

    task_finished()

    with read.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_older_than_conn_max_age_is_closed_after_a_task(read):
    read.close_at = 0  # outlived CONN_MAX_AGE

    task_finished()

    assert read.connection is None


def test_eager_tasks_leave_their_callers_connections_alone(read):
    kept = read.connection
    read.close_at = 0

    close_broken_or_old_connections(sender=AN_EAGER_TASK)

    assert read.connection is kept
