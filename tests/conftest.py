import os
import socket

import pytest
from django.core.cache import cache
from django.db import connections
from django_redis.cache import RedisCache
from rest_framework.test import APIClient

from tests import replication
from tests.factories import CatalogManagerFactory, CustomerFactory, StaffFactory, UserFactory


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on SQLite, with the reason; in CI (REQUIRE_POSTGRES=1) fail instead."""
    on_postgres = connections["default"].vendor == "postgresql"
    if on_postgres:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL and READ_DATABASE_URL (see README) to run it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _replicas_replay_before_reads():
    """On a real streaming replica, a test reads what it has just written (see tests/replication.py)."""
    replication.install()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache (Redis keeps entries between tests, even between runs)."""
    cache.clear()


@pytest.fixture
def unreachable_cache():
    """A cache configured as production's (django-redis, connection errors ignored) on a port where no Redis listens."""
    with socket.socket() as probe:  # a free port: nothing listens there once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"IGNORE_EXCEPTIONS": True}})


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def catalog_manager(db):
    return CatalogManagerFactory()


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def other_customer(db):
    return CustomerFactory()


@pytest.fixture
def plain_user(db):
    """A signed-in user who has not registered as a customer."""
    return UserFactory()


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def staff_client(staff_user):
    return _client_for(staff_user)


@pytest.fixture
def catalog_manager_client(catalog_manager):
    return _client_for(catalog_manager)


@pytest.fixture
def customer_client(customer):
    return _client_for(customer.user)


@pytest.fixture
def other_customer_client(other_customer):
    return _client_for(other_customer.user)


@pytest.fixture
def plain_user_client(plain_user):
    return _client_for(plain_user)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
