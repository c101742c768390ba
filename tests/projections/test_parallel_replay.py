"""A rebuild's bulk replayed by several processes, each writing its partition of the shadow rows (PostgreSQL)."""

from io import StringIO

import pytest
from django.core.management import call_command

from commands.events import OrderPaid
from commands.models import StoredEvent
from projections.models import Checkpoint
from projections.parallel_replay import ReplayFailed
from projections.rebuild import rebuild_together, verify
from projections.registry import replayable_projections
from tests.projections.helpers import broken, orders_across_products, project_everything, read_models

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]


@pytest.mark.parametrize("processes", [2, 3])
def test_a_rebuild_in_several_processes_builds_the_same_read_models(settings, processes):
    orders_across_products()
    project_everything()
    live = read_models()
    settings.REBUILD_PROCESSES = processes
    out = StringIO()

    call_command("rebuild_projections", "--all", stdout=out)

    assert read_models() == live
    assert {name: verify(projection).total for name, projection in replayable_projections().items()} == (
        dict.fromkeys(replayable_projections(), 0)
    )
    assert "live at #" in out.getvalue()


def test_a_replay_process_that_fails_fails_the_rebuild_and_leaves_the_live_tables_alone(settings):
    orders_across_products()
    project_everything()
    live = read_models()
    settings.REBUILD_PROCESSES = 2
    a_payment = StoredEvent.objects.filter(type=OrderPaid.type_name()).values_list("position", flat=True).first()

    with broken("order_summary", OrderPaid.type_name(), at=a_payment), pytest.raises(ReplayFailed):
        rebuild_together(list(replayable_projections().values()))

    assert read_models() == live
    states = dict(Checkpoint.objects.using("read").values_list("name", "state"))
    assert {states[name] for name in replayable_projections()} == {"live"}
