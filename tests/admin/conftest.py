"""Fixtures for the admin tests: operators with chosen permissions, signed in to the admin with a session."""

import pytest
from django.core.cache import cache
from django.test import Client

from core import routers
from tests.admin.helpers import OPERATOR_PERMISSIONS, VIEWER_PERMISSIONS, grant
from tests.factories import StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """No wake-ups or cached responses left over from another test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _one_read_database_and_tasks_in_process(monkeypatch, settings):
    """Run the admin's stories the same way on every backend.

    The pages read through the request's replica; in tests a replica is a second
    connection to the read database, which cannot see what a test's transaction
    wrote there, so reads stay on `read` (routing itself is tested in
    tests/config/test_router.py). Tasks the dashboard enqueues (a rebuild) run
    in-process, as on the embedded default; real workers are the drills' business.
    """
    monkeypatch.setattr(routers, "replica_aliases", lambda: [])
    # Celery reads its settings from Django's on every use: never set them on the
    # Celery app itself, where a value would outlive the test.
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def signed_in():
    """signed_in(user) -> a test client with `user`'s admin session."""

    def sign_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def operator(db):
    """A staff member with every operator permission (not a superuser)."""
    return grant(StaffFactory(), *OPERATOR_PERMISSIONS)


@pytest.fixture
def viewer(db):
    """A staff member who may look at everything the operators see, and change nothing."""
    return grant(StaffFactory(), *VIEWER_PERMISSIONS)


@pytest.fixture
def operator_client(operator, signed_in):
    return signed_in(operator)


@pytest.fixture
def viewer_client(viewer, signed_in):
    return signed_in(viewer)


@pytest.fixture
def bare_staff_client(db, signed_in):
    """Staff without any permission."""
    return signed_in(StaffFactory())


@pytest.fixture
def non_staff_client(db, signed_in):
    return signed_in(UserFactory())
