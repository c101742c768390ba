"""The database router: the read side on `read` and its replicas, everything else on `default`."""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections, router
from django.http import HttpResponse
from django.test import RequestFactory

from commands.models import Order, Product, StoredEvent
from core.routers import (
    PinReplicaMiddleware,
    ReadWriteRouter,
    current_read_database,
    pinned_replica,
    replica_aliases,
)

REPLICAS = ["read_replica_1", "read_replica_2"]
READ_SIDE_APPS = ["queries", "projections"]
WRITE_SIDE_APPS = ["commands", "auth", "contenttypes", "sessions", "admin", "authtoken"]
EVERY_DATABASE = ["default", "read", *REPLICAS]
# Enough draws that a router that never changes its choice would show it (chance 2 ** -99).
DRAWS = 100


def read_side(app_label: str):
    """A stand-in for a query-side or projection model (those apps have no models yet)."""
    return SimpleNamespace(_meta=SimpleNamespace(app_label=app_label, model_name="readmodel"))


@pytest.fixture
def no_replicas(monkeypatch):
    monkeypatch.setattr("core.routers.replica_aliases", lambda: [])


@pytest.fixture
def two_replicas(monkeypatch):
    """Two replicas that answer (whether a replica answers: tests/config/test_replicas.py)."""
    monkeypatch.setattr("core.routers.replica_aliases", lambda: list(REPLICAS))
    monkeypatch.setattr("core.routers.reachable", lambda alias: True)


@pytest.fixture
def read_write_router():
    return ReadWriteRouter()


def test_it_is_the_installed_router():
    assert settings.DATABASE_ROUTERS == ["core.routers.ReadWriteRouter"]


def test_replica_aliases_lists_the_read_replicas_in_order(monkeypatch):
    databases = {alias: {} for alias in ["default", "read_replica_2", "read", "read_replica_1"]}
    monkeypatch.setattr("core.replicas.settings", SimpleNamespace(DATABASES=databases))
    assert replica_aliases() == REPLICAS


# --- Reads and writes ---------------------------------------------------------


@pytest.mark.parametrize("app_label", READ_SIDE_APPS)
def test_read_side_models_are_written_on_the_read_primary(read_write_router, two_replicas, app_label):
    assert read_write_router.db_for_write(read_side(app_label)) == "read"


@pytest.mark.parametrize("app_label", READ_SIDE_APPS)
def test_read_side_models_are_read_from_the_read_primary_without_replicas(read_write_router, no_replicas, app_label):
    assert read_write_router.db_for_read(read_side(app_label)) == "read"


@pytest.mark.parametrize("app_label", READ_SIDE_APPS)
def test_read_side_models_are_read_from_a_replica_chosen_afresh_outside_a_request(
    read_write_router, two_replicas, app_label
):
    chosen = {read_write_router.db_for_read(read_side(app_label)) for _ in range(DRAWS)}
    assert chosen == set(REPLICAS)


@pytest.mark.parametrize("model", [Product, Order, StoredEvent, User, Permission, ContentType])
def test_every_other_model_reads_and_writes_default(read_write_router, two_replicas, model):
    with pinned_replica("read_replica_2"):
        assert read_write_router.db_for_read(model) == "default"
        assert read_write_router.db_for_write(model) == "default"


def test_django_routes_querysets_through_it(two_replicas):
    assert router.db_for_write(Product) == "default"
    assert Product.objects.all().db == "default"
    assert User.objects.all().db == "default"
    assert router.db_for_write(read_side("queries")) == "read"
    assert router.db_for_read(read_side("projections")) in REPLICAS


# --- Migrations -----------------------------------------------------------------


@pytest.mark.parametrize("database", EVERY_DATABASE)
@pytest.mark.parametrize("app_label", READ_SIDE_APPS)
def test_read_side_apps_migrate_only_on_the_read_primary(read_write_router, database, app_label):
    assert read_write_router.allow_migrate(database, app_label) is (database == "read")
    assert router.allow_migrate(database, app_label, model_name="readmodel") is (database == "read")


@pytest.mark.parametrize("database", EVERY_DATABASE)
@pytest.mark.parametrize("app_label", WRITE_SIDE_APPS)
def test_every_other_app_migrates_only_on_default(read_write_router, database, app_label):
    assert read_write_router.allow_migrate(database, app_label) is (database == "default")


@pytest.mark.django_db(databases=["default", "read"])
def test_migrating_puts_write_tables_on_default_and_none_of_them_on_read():
    call_command("migrate", database="read", interactive=False, verbosity=0)  # again: a no-op on `read`

    read_tables = set(connections["read"].introspection.table_names())
    default_tables = set(connections["default"].introspection.table_names())
    write_side = {"commands_product", "commands_storedevent", "auth_user", "django_content_type"}
    assert write_side <= default_tables
    assert not write_side & read_tables
    read_side_tables = ("queries_", "projections_")
    assert all(t == "django_migrations" or t.startswith(read_side_tables) for t in read_tables), read_tables
    assert not any(table.startswith(read_side_tables) for table in default_tables)


# Transactional: SQLite's schema editor, even only collecting SQL, refuses to run inside atomic().
@pytest.mark.django_db(transaction=True, databases=["default", "read"])
@pytest.mark.parametrize(("app_label", "migration"), [("commands", "0001"), ("auth", "0001")])
def test_a_fresh_read_database_would_get_no_write_side_table(app_label, migration, capsys):
    call_command("sqlmigrate", app_label, migration, database="read")
    on_read = capsys.readouterr().out
    call_command("sqlmigrate", app_label, migration, database="default")
    on_default = capsys.readouterr().out

    assert "CREATE TABLE" in on_default
    assert "CREATE TABLE" not in on_read


# --- Relations --------------------------------------------------------------------


def test_relations_within_a_family_are_allowed(read_write_router):
    assert read_write_router.allow_relation(Product(), User())
    assert read_write_router.allow_relation(read_side("queries"), read_side("projections"))


@pytest.mark.parametrize("app_label", READ_SIDE_APPS)
def test_relations_across_the_two_families_are_refused(read_write_router, app_label):
    assert not read_write_router.allow_relation(Product(), read_side(app_label))
    assert not read_write_router.allow_relation(read_side(app_label), User())


# --- One replica per unit of work -------------------------------------------------


def test_pinned_replica_keeps_one_replica_for_the_whole_block(read_write_router, two_replicas):
    model = read_side("queries")
    pins = set()
    for _ in range(DRAWS):
        with pinned_replica() as pin:
            assert {read_write_router.db_for_read(model) for _ in range(20)} == {pin.alias}
            pins.add(pin.alias)
    assert pins == set(REPLICAS), "every block got the same replica: the choice is not per block"


def test_pinned_replica_can_name_the_replica_and_restores_the_outer_pin(two_replicas):
    with pinned_replica("read_replica_1"):
        with pinned_replica("read_replica_2") as inner:
            assert inner.alias == current_read_database() == "read_replica_2"
        assert current_read_database() == "read_replica_1"


def test_pinned_replica_is_the_read_primary_without_replicas(no_replicas):
    with pinned_replica() as pin:
        assert pin.alias == current_read_database() == "read"


def test_a_replica_that_does_not_answer_is_passed_over(read_write_router, two_replicas, monkeypatch):
    monkeypatch.setattr("core.routers.reachable", lambda alias: alias == "read_replica_2")
    model = read_side("queries")
    assert {read_write_router.db_for_read(model) for _ in range(DRAWS)} == {"read_replica_2"}


def test_with_no_replica_answering_reads_go_to_the_read_primary(read_write_router, two_replicas, monkeypatch):
    monkeypatch.setattr("core.routers.reachable", lambda alias: False)
    with pinned_replica() as pin:
        assert read_write_router.db_for_read(read_side("queries")) == pin.alias == "read"


def test_a_pinned_unit_of_work_connects_to_a_replica_only_when_it_reads_the_read_side(
    read_write_router, two_replicas, monkeypatch
):
    asked = []
    monkeypatch.setattr("core.routers.reachable", lambda alias: asked.append(alias) or True)
    with pinned_replica():
        read_write_router.db_for_read(Product)  # a command reads the write side only
        assert asked == []
        read_write_router.db_for_read(read_side("queries"))
        read_write_router.db_for_read(read_side("projections"))
    assert len(asked) == 1, "the replica is chosen once per unit of work"


def test_the_pin_is_dropped_when_the_block_fails(monkeypatch):
    monkeypatch.setattr("core.routers.replica_aliases", lambda: [])
    with pytest.raises(RuntimeError), pinned_replica("read_replica_2"):
        raise RuntimeError("the request failed")
    assert current_read_database() == "read"


def test_the_middleware_is_installed():
    assert "core.routers.PinReplicaMiddleware" in settings.MIDDLEWARE


def test_the_middleware_pins_one_replica_for_a_whole_request(read_write_router, two_replicas):
    model = read_side("queries")
    per_request = []

    def view(request):
        per_request.append({read_write_router.db_for_read(model) for _ in range(20)})
        return HttpResponse("ok")

    middleware = PinReplicaMiddleware(view)
    for _ in range(DRAWS):
        assert middleware(RequestFactory().get("/api/queries/products/")).status_code == 200

    assert all(len(used) == 1 for used in per_request), "a request read from two replicas"
    assert set().union(*per_request) == set(REPLICAS), "every request got the same replica"
    assert {current_read_database() for _ in range(DRAWS)} == set(REPLICAS), "the pin outlived its request"
