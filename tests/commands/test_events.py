"""The event classes: frozen, JSON-safe, and decoded back into the same event from what the log stores."""

import dataclasses
import json
import uuid
from decimal import Decimal

import pytest

from commands.eventlog import RecordedEvent, read_stream
from commands.events import (
    EVENT_TYPES,
    CustomerRegistered,
    OrderCancelled,
    OrderedItem,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRegistered,
    ProductRestocked,
    decode_event,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(databases="__all__")

PRODUCT, CUSTOMER, ORDER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
LINES = (
    OrderedItem(product_id=PRODUCT, sku="TEA-001", product_name="Teapot", quantity=2, unit_price=Decimal("24.50")),
    OrderedItem(product_id=uuid.uuid4(), sku="MUG-1", product_name="Mug", quantity=1, unit_price=Decimal("3.00")),
)

EXAMPLES = [
    ProductRegistered(
        product_id=PRODUCT,
        sku="TEA-001",
        name="Teapot",
        description="Holds a litre.",
        category="kitchen",
        price=Decimal("24.50"),
        stock=12,
    ),
    ProductPriceChanged(product_id=PRODUCT, old_price=Decimal("24.50"), new_price=Decimal("19.99")),
    ProductRestocked(product_id=PRODUCT, quantity=5, stock=17),
    ProductDiscontinued(product_id=PRODUCT),
    CustomerRegistered(customer_id=CUSTOMER, user_id=7, name="Ada Lovelace", email="ada@example.com"),
    OrderPlaced(
        order_id=ORDER,
        customer_id=CUSTOMER,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        lines=LINES,
        total=Decimal("52.00"),
    ),
    OrderPaid(order_id=ORDER, customer_id=CUSTOMER, amount=Decimal("52.00")),
    OrderShipped(order_id=ORDER, customer_id=CUSTOMER),
    OrderCancelled(
        order_id=ORDER,
        customer_id=CUSTOMER,
        previous_status="paid",
        lines=LINES,
        total=Decimal("52.00"),
        reason="Changed my mind",
    ),
]


def stored(event) -> dict:
    """The event's data as it comes back from a JSON column."""
    return json.loads(json.dumps(event.to_data()))


def test_the_examples_cover_every_event_type():
    assert {type(event) for event in EXAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.type_name())
def test_every_event_round_trips_through_json(event):
    decoded = decode_event(event.type_name(), stored(event), event.schema_version)

    assert decoded == event
    assert type(decoded) is type(event)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.type_name())
def test_events_are_frozen(event):
    first_field = dataclasses.fields(event)[0].name

    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, first_field, uuid.uuid4())


def test_money_and_ids_are_stored_as_exact_strings():
    data = ProductPriceChanged(product_id=PRODUCT, old_price=Decimal("0.10"), new_price=Decimal("0.30")).to_data()

    assert data == {"product_id": str(PRODUCT), "old_price": "0.10", "new_price": "0.30"}


def test_an_event_type_is_stored_under_its_class_name():
    assert {name: cls.__name__ for name, cls in EVENT_TYPES.items()} == {name: name for name in EVENT_TYPES}


def test_a_newer_schema_version_than_the_code_knows_is_refused():
    event = EXAMPLES[0]

    with pytest.raises(ValueError, match="newer than this code"):
        decode_event(event.type_name(), stored(event), event.schema_version + 1)


def test_a_recorded_event_with_a_newer_schema_refuses_to_decode():
    event = ProductDiscontinued(product_id=PRODUCT)
    recorded = RecordedEvent(
        position=1,
        stream_id=PRODUCT,
        version=1,
        type=event.type_name(),
        data=event.to_data(),
        metadata={},
        recorded_at=None,
        schema_version=2,
    )

    with pytest.raises(ValueError, match="newer than this code"):
        recorded.event  # noqa: B018 - decoding is the behaviour under test


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="unknown event type 'OrderLost'"):
        decode_event("OrderLost", {"order_id": str(ORDER)})


def test_an_event_stored_before_a_defaulted_field_existed_decodes_with_the_default():
    data = stored(EXAMPLES[-1])
    del data["reason"]

    assert decode_event("OrderCancelled", data).reason == ""


def test_fields_this_code_does_not_know_are_ignored():
    data = {**stored(EXAMPLES[3]), "replaced_by": str(uuid.uuid4())}

    assert decode_event("ProductDiscontinued", data) == EXAMPLES[3]


def test_an_event_read_back_from_the_log_decodes_to_what_the_handler_recorded():
    product = ProductFactory(sku="TEA-001", price=Decimal("24.50"), stock=12)

    [recorded] = read_stream(product.pk)

    assert recorded.event == ProductRegistered(
        product_id=product.pk,
        sku="TEA-001",
        name=product.name,
        description=product.description,
        category=product.category,
        price=Decimal("24.50"),
        stock=12,
    )
