"""Recovery: the read side comes back from the event log alone.

Two disasters: the read database is lost entirely (dropped, recreated,
migrated, rebuilt); and the write database is restored from a pg_dump into a
new database, from which a new read database is built. Either way
verify_projections comes out clean and the queries answer as before. The
procedure is the README's ("Recovering the read side").
"""

import os
import subprocess
import sys

import psycopg
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from rest_framework.test import APIClient

from core.routers import READ_PRIMARY
from projections.models import Checkpoint
from projections.registry import replayable_projections
from tests.drills.helpers import assert_read_models_match_a_rebuild
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order
from tests.processes import PROJECT, database_url
from tests.projections.helpers import a_busy_day, cancel, pay, project_everything, ship

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]

QUERIES = [
    "/api/queries/products/?ordering=sku",
    "/api/queries/orders/?page_size=100",
    "/api/queries/customers/",
    "/api/queries/sales/daily/",
]


def _a_shop_with_history() -> None:
    a_busy_day()
    products = [ProductFactory(stock=500) for _ in range(4)]
    customers = [CustomerFactory() for _ in range(5)]
    for number in range(40):
        order = place_order(customers[number % 5], {products[number % 4]: 1 + number % 3})
        if number % 3 == 0:
            pay(order)
        if number % 6 == 0:
            ship(order)
        elif number % 7 == 0:
            cancel(order)
    project_everything()


def _answers(client: APIClient) -> dict[str, object]:
    cache.clear()  # the answers must come from the read models, not from responses cached before
    answers = {}
    for url in QUERIES:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        answers[url] = response.json()
    return answers


def _manage(*arguments: str, env: dict[str, str]) -> str:
    finished = subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert finished.returncode == 0, f"manage.py {' '.join(arguments)}:\n{finished.stdout}\n{finished.stderr}"
    return finished.stdout


def _postgres(*command: str) -> None:
    settings = connections["default"].settings_dict
    where = ["-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432), "-U", settings["USER"]]
    subprocess.run([command[0], *where, *command[1:]], check=True, capture_output=True)


def _read_models(url: str) -> dict[str, list[tuple]]:
    """Every read-model row in the read database at `url`, by table, in key order."""
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as connection:
        tables = {}
        for projection in replayable_projections().values():
            table, key = projection.model._meta.db_table, projection.model._meta.pk.column
            tables[table] = connection.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
        return tables


def test_a_lost_read_database_is_recreated_and_rebuilt_from_the_log():
    _a_shop_with_history()
    client = APIClient()
    client.force_authenticate(StaffFactory(is_superuser=True))
    before = _answers(client)
    emails_sent_up_to = Checkpoint.objects.using(READ_PRIMARY).get(name="notifications").position
    read = connections[READ_PRIMARY].settings_dict["NAME"]

    for connection in connections.all():
        connection.close()
    _postgres("dropdb", "--force", read)
    _postgres("createdb", read)
    call_command("migrate", database=READ_PRIMARY, verbosity=0)
    call_command("rebuild_projections", all=True, subscribers_from_head=True, verbosity=0)

    assert_read_models_match_a_rebuild()
    call_command("verify_projections", verbosity=0)  # raises CommandError on any drift
    assert _answers(client) == before
    # The e-mails of the shop's history are not sent again: the notifier starts at the head.
    assert Checkpoint.objects.using(READ_PRIMARY).get(name="notifications").position >= emails_sent_up_to


@pytest.fixture
def restored_databases():
    """Names for the restored write database and its new read database, dropped afterwards."""
    write = connections["default"].settings_dict["NAME"] + "_restored"
    read = connections[READ_PRIMARY].settings_dict["NAME"] + "_restored"
    for name in (write, read):
        _postgres("dropdb", "--if-exists", "--force", name)
    yield write, read
    for name in (write, read):
        _postgres("dropdb", "--if-exists", "--force", name)


def test_a_write_database_restored_from_a_dump_rebuilds_the_read_side(tmp_path, restored_databases):
    _a_shop_with_history()
    original = _read_models(database_url(READ_PRIMARY))
    write, read = restored_databases
    dump = tmp_path / "write.dump"
    settings = connections["default"].settings_dict

    _postgres("pg_dump", "--format=custom", f"--file={dump}", settings["NAME"])
    _postgres("createdb", write)
    _postgres("pg_restore", "--no-owner", f"--dbname={write}", str(dump))
    _postgres("createdb", read)
    base = database_url("default").rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{write}",
        "READ_DATABASE_URL": f"{base}/{read}",
        "READ_REPLICA_URLS": "",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    _manage("migrate", "--database=read", "-v", "0", env=env)
    _manage("rebuild_projections", "--all", "--subscribers-from-head", env=env)
    verified = _manage("verify_projections", env=env)

    assert verified.count("rows match a rebuild") == len(replayable_projections())
    assert _read_models(f"{base}/{read}") == original
