"""The pytest fixtures of the tests that start real processes (tests/processes.py): imported by their conftests.

Not in tests/conftest.py: the password hasher below is slow on purpose, and only the
tests whose users log in to a service process should pay for it.
"""

import os

import pytest

from tests.processes import Services


@pytest.fixture(autouse=True)
def _passwords_the_services_can_check(settings):
    # The service processes use the real hashers; users made here must be able to log in there.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture
def services(tmp_path, request):
    """Real Celery workers, beat, the web server and Redis for one test; their logs are printed if it fails."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis and real Celery workers: set REDIS_URL (and DATABASE_URL) to run it")
    started = Services(tmp_path)
    yield started
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(started.logs())
    started.stop_all()
