"""Settings come from the environment: the embedded default with nothing set, production with it.

Each case builds the settings in a subprocess with a controlled environment,
so nothing leaks into (or from) the test process's own settings.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DEPLOY = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "shop.example.com",
}
PRODUCTION = {
    "DATABASE_URL": "postgres://shop:secret@write.db.example:5432/shop_write",
    "READ_DATABASE_URL": "postgres://shop:secret@read.db.example:5432/shop_read",
    "READ_REPLICA_URLS": (
        "postgres://shop:secret@replica1.db.example:5432/shop_read,"
        "postgres://shop:secret@replica2.db.example:5432/shop_read"
    ),
    "REDIS_URL": "redis://cache.example:6379/0",
}
PRINT_SETTINGS = """
import json
from django.conf import settings
names = ["DEBUG", "DATABASES", "CACHES", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "EMAIL_BACKEND"]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""


def run(args: list[str], **environment: str) -> subprocess.CompletedProcess:
    """Run python with `args` in the project directory, with only `environment` set (plus PATH)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.update(environment)
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def settings_with(**environment: str) -> dict:
    result = run(["-c", PRINT_SETTINGS], **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Production safety -------------------------------------------------------------


def test_with_debug_off_it_refuses_to_start_without_a_secret_key():
    result = run(["manage.py", "check"], DEBUG="False")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_a_production_configuration_passes_the_deploy_checks():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **DEPLOY)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_checks_really_run():
    # A weak key must fail the same command, or the test above proves nothing.
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **{**DEPLOY, "SECRET_KEY": "short"})

    assert result.returncode != 0
    assert "security.W009" in result.stderr


# --- Production services -------------------------------------------------------------


@pytest.fixture(scope="module")
def production():
    return settings_with(**PRODUCTION)


def test_production_databases_come_from_their_urls(production):
    databases = production["DATABASES"]
    assert sorted(databases) == ["default", "read", "read_replica_1", "read_replica_2"]
    assert {db["ENGINE"] for db in databases.values()} == {"django.db.backends.postgresql"}
    assert (databases["default"]["HOST"], databases["default"]["NAME"]) == ("write.db.example", "shop_write")
    assert (databases["read"]["HOST"], databases["read"]["NAME"]) == ("read.db.example", "shop_read")
    assert databases["read_replica_1"]["HOST"] == "replica1.db.example"
    assert databases["read_replica_2"]["HOST"] == "replica2.db.example"


def test_replicas_mirror_the_read_primary_in_tests(production):
    databases = production["DATABASES"]
    for alias in ["read_replica_1", "read_replica_2"]:
        assert databases[alias]["TEST"] == {"MIRROR": "read"}
    assert "MIRROR" not in databases["read"].get("TEST", {})


def test_redis_serves_the_cache_and_the_celery_broker(production):
    cache = production["CACHES"]["default"]
    assert cache["BACKEND"] == "django_redis.cache.RedisCache"
    assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    assert cache["LOCATION"] == PRODUCTION["REDIS_URL"]
    assert production["CELERY_BROKER_URL"] == PRODUCTION["REDIS_URL"]
    assert production["CELERY_TASK_ALWAYS_EAGER"] is False


def test_without_a_pool_size_each_thread_opens_its_own_connections(production):
    assert all("pool" not in db.get("OPTIONS", {}) for db in production["DATABASES"].values())


def test_a_pool_size_bounds_every_postgresql_alias_and_drops_persistent_connections():
    databases = settings_with(**PRODUCTION, CONN_MAX_AGE="60", DATABASE_POOL_SIZE="3")["DATABASES"]

    for alias in ["default", "read"]:
        assert databases[alias]["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
        assert databases[alias]["OPTIONS"]["pool"] == {
            "min_size": 1,
            "max_size": 3,
            "timeout": 2.0,
            "reconnect_timeout": 2.0,
        }
    # A replica's pooled connection is not waited for longer than a new connection to it would be.
    assert databases["read_replica_1"]["OPTIONS"]["pool"]["timeout"] == 2.0
    assert databases["read_replica_1"]["OPTIONS"]["connect_timeout"] == 2


def test_the_embedded_default_has_no_pool_to_take():
    databases = settings_with(DATABASE_POOL_SIZE="3")["DATABASES"]
    assert all("pool" not in db.get("OPTIONS", {}) for db in databases.values())


# --- Embedded default -----------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded():
    return settings_with()


def test_with_nothing_set_the_databases_are_sqlite_files_under_var(embedded):
    databases = embedded["DATABASES"]
    assert sorted(databases) == ["default", "read"]
    for alias, file_name in [("default", "write.sqlite3"), ("read", "read.sqlite3")]:
        assert databases[alias]["ENGINE"] == "django.db.backends.sqlite3"
        assert Path(databases[alias]["NAME"]) == BASE_DIR / "var" / file_name


def test_with_nothing_set_cache_celery_and_mail_stay_in_process(embedded):
    assert embedded["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert embedded["CELERY_TASK_ALWAYS_EAGER"] is True
    assert embedded["CELERY_BROKER_URL"] == "memory://"
    assert embedded["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert embedded["DEBUG"] is True


def test_a_hung_mail_server_gives_the_sender_back_well_within_its_claims_lease():
    from django.conf import settings

    assert 0 < settings.EMAIL_TIMEOUT < settings.EMAIL_SENDING_LEASE_SECONDS / 2
