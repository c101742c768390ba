"""Partitioned projections: N followers share a read model by key, each with its own checkpoint and task."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from commands.eventlog import head_position
from commands.events import OrderPaid
from projections.base import Partition
from projections.models import Checkpoint
from projections.rebuild import verify
from projections.registry import checkpoint_names, lane, partitions_of, registry, replayable_projections
from projections.runner import Outcome, catch_up_projections
from projections.status import follower_statuses
from projections.tasks import run_follower
from queries.consistency import read_position
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import broken, checkpoint, orders_across_products, pay, read_models

pytestmark = pytest.mark.django_db(databases="__all__")

READ_MODELS = ("product_catalog", "order_summary", "customer_history", "daily_sales")


def split(count: int) -> dict[str, int]:
    """PROJECTION_PARTITIONS that splits every read model `count` ways."""
    return dict.fromkeys(READ_MODELS, count)


def rebuild_all() -> None:
    call_command("rebuild_projections", "--all", stdout=StringIO())


# --- Who owns what ---------------------------------------------------------------


def test_every_key_belongs_to_exactly_one_partition_and_always_the_same_one():
    keys = [uuid.uuid4() for _ in range(400)]
    for count in (1, 2, 4):
        owners = [[index for index in range(1, count + 1) if Partition(index, count).owns(key)] for key in keys]
        assert all(len(owner) == 1 for owner in owners)
        if count > 1:  # a fair spread: no partition left empty
            assert {owner[0] for owner in owners} == set(range(1, count + 1))
    # CRC-32 of the key's text: the same answer in every process, whatever PYTHONHASHSEED says.
    assert Partition(1, 2).owns(uuid.UUID(int=0)) is (0x2F7F72A1 % 2 == 0)


@override_settings(PROJECTION_PARTITIONS={"product_catalog": 2, "order_summary": 3})
def test_each_partition_is_a_follower_with_its_own_name():
    assert [name for name in registry() if registry()[name].replayable] == [
        "product_catalog.1of2",
        "product_catalog.2of2",
        "order_summary.1of3",
        "order_summary.2of3",
        "order_summary.3of3",
        "customer_history",
        "daily_sales",
    ]
    assert list(replayable_projections()) == list(READ_MODELS)
    assert checkpoint_names(["product_catalog", "notifications"]) == [
        "product_catalog.1of2",
        "product_catalog.2of2",
        "notifications",
    ]
    # A worker running partition 2 takes partition 2 of the others along; an unsplit projection rides lane 1.
    assert [part.name for part in lane(Partition(2, 3))] == ["product_catalog.2of2", "order_summary.2of3"]
    assert [part.name for part in lane(Partition(1, 1))] == [
        "product_catalog.1of2",
        "order_summary.1of3",
        "customer_history",
        "daily_sales",
    ]


@pytest.mark.parametrize(
    "partitions, complaint",
    [
        ({"orders": 2}, "names no projection: orders"),
        ({"product_catalog": 0}, "product_catalog takes 1 to 64 partitions, not 0"),
        ({"product_catalog": "two"}, "not 'two'"),
        ({"notifications": 2}, "names no projection: notifications"),
    ],
)
def test_a_partition_setting_that_makes_no_sense_is_refused_by_name(partitions, complaint):
    with override_settings(PROJECTION_PARTITIONS=partitions), pytest.raises(ImproperlyConfigured, match=complaint):
        registry()


@override_settings(PROJECTION_PARTITIONS={"product_catalog": "2"})
def test_the_environment_gives_counts_as_text():
    assert [part.name for part in partitions_of("product_catalog")] == ["product_catalog.1of2", "product_catalog.2of2"]


# --- The same read models, however they are split --------------------------------------


def test_read_models_built_with_one_two_and_four_partitions_are_identical_row_for_row():
    orders_across_products()
    catch_up_projections()
    whole = read_models()
    assert all(whole[name] for name in READ_MODELS)

    for count in (2, 4):
        with override_settings(PROJECTION_PARTITIONS=split(count)):
            rebuild_all()
            assert read_models() == whole, f"{count} partitions built other rows"
            # And live, partition by partition, from the log's start.
            Checkpoint.objects.using("read").all().delete()
            for projection in replayable_projections().values():
                projection.model.objects.using("read").all().delete()
            results = catch_up_projections()
            assert {result.outcome for result in results.values()} == {Outcome.CAUGHT_UP}
            assert read_models() == whole, f"{count} live partitions built other rows"
            assert {name: verify(projection).total for name, projection in replayable_projections().items()} == (
                dict.fromkeys(READ_MODELS, 0)
            )


def test_verification_compares_each_partition_at_its_own_checkpoint():
    with override_settings(PROJECTION_PARTITIONS=split(2)):
        orders_across_products()
        catch_up_projections()
        place_order(CustomerFactory(), {ProductFactory(stock=5): 1})
        # Only lane 2 moves on: partition 1 of each read model stays a command behind.
        catch_up_projections(lane(Partition(2, 2)))
        behind = {part.name: checkpoint(part.name).position for part in partitions_of("order_summary")}
        assert behind["order_summary.1of2"] < behind["order_summary.2of2"] == head_position()

        assert {name: verify(projection).total for name, projection in replayable_projections().items()} == (
            dict.fromkeys(READ_MODELS, 0)
        )


# --- Changing the count ------------------------------------------------------------------


def test_a_new_partition_count_waits_for_a_rebuild_then_replaces_the_old_checkpoints():
    orders_across_products()
    catch_up_projections()
    whole = read_models()
    head = head_position()

    with override_settings(PROJECTION_PARTITIONS={"product_catalog": 2}):
        results = catch_up_projections()
        # Starting at 0 over the rows the single partition built would count every sale twice.
        assert results["product_catalog.1of2"].outcome is Outcome.PAUSED
        assert checkpoint("product_catalog.2of2").state == Checkpoint.State.AWAITING_REBUILD
        assert "rebuild_projections product_catalog" in checkpoint("product_catalog.1of2").error
        assert read_models() == whole

        call_command("rebuild_projections", "product_catalog", stdout=StringIO())

        names = set(Checkpoint.objects.using("read").values_list("name", flat=True))
        assert {"product_catalog.1of2", "product_catalog.2of2"} <= names
        assert "product_catalog" not in names
        assert {checkpoint(name).state for name in ("product_catalog.1of2", "product_catalog.2of2")} == {"live"}
        assert {checkpoint(name).position for name in ("product_catalog.1of2", "product_catalog.2of2")} == {head}
        assert read_models() == whole


# --- Running apart ----------------------------------------------------------------------


@override_settings(PROJECTION_PARTITIONS=split(2))
def test_a_partitions_task_moves_its_lane_and_leaves_the_other_partitions_to_theirs():
    orders_across_products()

    run_follower("order_summary.2of2", recheck=False)

    head = head_position()
    moved = {name: checkpoint(name).position for name in registry() if registry()[name].replayable}
    assert moved == {f"{name}.2of2": head for name in READ_MODELS} | {f"{name}.1of2": 0 for name in READ_MODELS}


@override_settings(PROJECTION_PARTITIONS=split(2))
def test_a_read_model_is_as_far_as_its_slowest_partition():
    orders_across_products()
    catch_up_projections(lane(Partition(1, 2)))

    assert read_position(["order_summary"], using="read") == 0
    catch_up_projections(lane(Partition(2, 2)))
    assert read_position(["order_summary"], using="read") == head_position()


@override_settings(PROJECTION_PARTITIONS=split(2))
def test_a_failing_partition_stops_only_itself(settings):
    orders_across_products()
    order = place_order(CustomerFactory(), {ProductFactory(stock=5): 1})
    paid_at = pay(order).events[-1].position
    owner = next(part for part in partitions_of("order_summary") if part.partition.owns(order.pk))
    sibling = next(part for part in partitions_of("order_summary") if part is not owner)

    with broken("order_summary", OrderPaid.type_name(), at=paid_at):
        results = catch_up_projections()

    assert results[owner.name].outcome is Outcome.FAILED
    assert checkpoint(owner.name).failed_position == paid_at
    assert results[sibling.name].outcome is Outcome.CAUGHT_UP
    assert checkpoint(sibling.name).position == head_position()
    statuses = {status.name: status for status in follower_statuses()}
    assert statuses[owner.name].state == "failed"
    assert statuses[sibling.name].state == "live"

    out = StringIO()
    call_command("retry_projection", owner.name, stdout=out)
    catch_up_projections()
    assert checkpoint(owner.name).position == head_position()
    assert verify(replayable_projections()["order_summary"]).total == 0
