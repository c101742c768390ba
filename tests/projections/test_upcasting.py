"""Old events are read through their upcasters everywhere; new code writes only the newest version.

tests/fixtures/event_log_v1.json is a log written before OrderPlaced v2 added
`currency`. Rebuilding the read models from it must give exactly what the same
history gives when written by today's code.
"""

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import pytest
from django.db import transaction

from commands import eventlog
from commands.events import (
    EVENT_TYPES,
    UPCASTERS,
    DomainEvent,
    OrderPlaced,
    decode_event,
    upcast_data,
)
from commands.models import StoredEvent
from core.routers import READ_PRIMARY
from projections.rebuild import rebuild
from projections.registry import replayable_projections
from queries.models import OrderSummary
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import read_models

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

V1_LOG = Path(__file__).parent.parent / "fixtures" / "event_log_v1.json"


def fixture_events() -> list[dict]:
    return json.loads(V1_LOG.read_text())["events"]


def store_as_written(events: list[dict]) -> None:
    """Put the fixture's events in the log exactly as they were stored (old versions and all)."""
    StoredEvent.objects.bulk_create(
        StoredEvent(**{**event, "recorded_at": datetime.fromisoformat(event["recorded_at"])}) for event in events
    )


def store_as_todays_code_writes(events: list[dict]) -> None:
    """Write the same history through append(), the log's only writer today, at the fixture's times."""
    for event in events:
        domain_event = decode_event(event["type"], event["data"], event["schema_version"])
        with transaction.atomic():
            eventlog.append(
                event["stream_id"], [domain_event], expected_version=event["version"] - 1, metadata=event["metadata"]
            )
        StoredEvent.objects.filter(stream_id=event["stream_id"], version=event["version"]).update(
            recorded_at=datetime.fromisoformat(event["recorded_at"])
        )


def rebuilt_read_models() -> dict[str, list[dict]]:
    for projection in replayable_projections().values():
        rebuild(projection)
    return read_models()


def forget_everything() -> None:
    StoredEvent.objects.all().delete()
    for projection in replayable_projections().values():
        projection.model.objects.using(READ_PRIMARY).all().delete()


def test_the_fixture_holds_order_placed_v1_without_a_currency():
    placed = [event for event in fixture_events() if event["type"] == "OrderPlaced"]

    assert placed and all(event["schema_version"] == 1 and "currency" not in event["data"] for event in placed)


def test_rebuilding_from_a_v1_log_gives_the_read_models_of_a_log_written_today():
    events = fixture_events()
    store_as_written(events)
    from_v1 = rebuilt_read_models()
    forget_everything()
    store_as_todays_code_writes(events)
    written_today = StoredEvent.objects.filter(type="OrderPlaced")
    assert {(e.schema_version, e.data["currency"]) for e in written_today} == {(2, "EUR")}

    assert rebuilt_read_models() == from_v1
    assert {row["currency"] for row in from_v1["order_summary"]} == {"EUR"}
    assert len(from_v1["order_summary"]) == 4


def test_v1_orders_read_as_in_the_shops_currency(settings):
    settings.SHOP_CURRENCY = "GBP"
    store_as_written(fixture_events())
    rebuild(replayable_projections()["order_summary"])

    assert set(OrderSummary.objects.using(READ_PRIMARY).values_list("currency", flat=True)) == {"GBP"}


def test_new_orders_are_written_as_order_placed_v2_with_the_shops_currency(settings, staff_user):
    settings.SHOP_CURRENCY = "CHF"
    order = place_order(CustomerFactory(), {ProductFactory(): 1})

    stored = StoredEvent.objects.get(stream_id=order.pk)
    assert (stored.schema_version, stored.data["currency"]) == (2, "CHF")


def test_every_event_is_written_at_its_class_schema_version():
    # The whole write path: whatever the domain records, append stores the newest version.
    from tests.projections.helpers import a_busy_day

    a_busy_day()

    stored = StoredEvent.objects.values_list("type", "schema_version").distinct()
    assert {(name, version) for name, version in stored} == {
        (name, EVENT_TYPES[name].schema_version) for name, _ in stored
    }
    assert ("OrderPlaced", 2) in set(stored)


def test_every_old_version_of_every_event_type_has_an_upcaster_to_the_next():
    for name, event_class in EVENT_TYPES.items():
        for version in range(1, event_class.schema_version):
            assert (name, version) in UPCASTERS, f"{name} v{version} cannot be read"


def test_the_admin_and_every_reader_see_the_upcast_data_and_the_stored_json_stays_as_it_was():
    stored = next(event for event in fixture_events() if event["type"] == "OrderPlaced")
    before = json.dumps(stored["data"], sort_keys=True)

    assert upcast_data("OrderPlaced", stored["data"], 1) == {**stored["data"], "currency": "EUR"}
    assert decode_event("OrderPlaced", stored["data"], 1).currency == "EUR"
    assert json.dumps(stored["data"], sort_keys=True) == before


@dataclasses.dataclass(frozen=True)
class ParcelWeighed(DomainEvent):
    """A made-up event at v3: grams (v2) were once kilograms (v1), and the unit was implied."""

    schema_version: ClassVar[int] = 3
    grams: int
    unit: str


def test_upcasters_chain_from_the_stored_version_to_the_newest_in_order(monkeypatch):
    monkeypatch.setitem(UPCASTERS, ("ParcelWeighed", 1), lambda data: {"grams": data["kilograms"] * 1000})
    monkeypatch.setitem(UPCASTERS, ("ParcelWeighed", 2), lambda data: {**data, "unit": "g"})

    assert ParcelWeighed.from_data({"kilograms": 2}, 1) == ParcelWeighed(grams=2000, unit="g")
    assert ParcelWeighed.from_data({"grams": 5}, 2) == ParcelWeighed(grams=5, unit="g")
    assert ParcelWeighed.from_data({"grams": 7, "unit": "oz"}, 3) == ParcelWeighed(grams=7, unit="oz")


def test_a_missing_upcaster_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(UPCASTERS, ("ParcelWeighed", 2), lambda data: {**data, "unit": "g"})

    with pytest.raises(ValueError, match="ParcelWeighed v1 has no upcaster to v2"):
        ParcelWeighed.from_data({"kilograms": 2}, 1)


def test_an_upcaster_for_a_version_the_class_has_not_reached_is_refused():
    from commands.events import upcaster

    with pytest.raises(ValueError, match="nothing to upcast to"):
        upcaster(OrderPlaced, from_version=2)(lambda data: data)
