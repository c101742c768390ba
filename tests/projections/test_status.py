"""projection_status: where every projection and subscriber stands, and how far behind it is."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from commands.eventlog import head_position
from projections.registry import registry
from projections.status import follower_statuses
from tests.factories import ProductFactory
from tests.projections.helpers import project, restock

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_follower_that_has_not_run_lags_by_the_whole_log(db):
    kettle = ProductFactory()
    restock(kettle, 3)

    statuses = {status.name: status for status in follower_statuses()}

    assert list(statuses) == list(registry())
    catalog = statuses["product_catalog"]
    assert (catalog.position, catalog.head, catalog.lag_events, catalog.state) == (0, head_position(), 2, "live")
    assert (catalog.kind, statuses["notifications"].kind) == ("projection", "subscriber")


def test_a_caught_up_follower_has_no_lag(db):
    ProductFactory()
    project("product_catalog")

    [catalog] = [status for status in follower_statuses() if status.name == "product_catalog"]

    assert (catalog.position, catalog.lag_events, catalog.lag_seconds) == (head_position(), 0, 0.0)


def test_the_command_lists_every_follower_with_its_lag(db):
    ProductFactory()
    project("product_catalog")
    out = StringIO()

    call_command("projection_status", stdout=out)

    lines = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[2:]}
    head = str(head_position())
    assert lines["product_catalog"][:5] == ["product_catalog", "projection", head, head, "0"]
    assert lines["notifications"][:5] == ["notifications", "subscriber", "0", head, "1"]


@override_settings(PROJECTION_PARTITIONS={"product_catalog": 2})
def test_the_command_lists_each_partition_of_a_split_projection(db):
    ProductFactory()
    project("product_catalog.2of2")
    out = StringIO()

    call_command("projection_status", stdout=out)

    lines = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[2:]}
    head = str(head_position())
    assert lines["product_catalog.1of2"][:5] == ["product_catalog.1of2", "projection", "0", head, "1"]
    assert lines["product_catalog.2of2"][:5] == ["product_catalog.2of2", "projection", head, head, "0"]
    assert "product_catalog" not in lines
