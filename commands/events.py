"""The shop's domain events: what happened, in the past tense, as frozen dataclasses.

Events are stored as JSON with their class name and schema version; decoding
first upcasts old JSON to the newest version (see "Upcasting" below), then
turns it into the dataclass using its type hints. Never change the meaning of a
field in place: add a field with a default, or add a version.

Upcasting: adding the next version of an event
----------------------------------------------
Stored events are never rewritten. When an event's shape changes:

1. Change the dataclass to the new shape and raise its `schema_version`
   (OrderPlaced went from 1 to 2 when it gained `currency`).
2. Write an upcaster from the previous version: a function that takes the
   stored JSON of version N and returns the JSON of version N + 1, and register
   it with `@upcaster(EventClass, from_version=N)`. Never edit an existing
   upcaster: events of version N - 1 go through it and then through yours.
3. Put a few events of the old shape in tests/fixtures/event_log_v1.json (or a
   fixture of its own) and check that rebuilding from it gives the read models
   a log written by today's code gives (tests/projections/test_upcasting.py).

Every read of the log decodes through `decode_event` (RecordedEvent.event):
projections, rebuilds, past states and the admin all see the newest shape.
`append` always writes the class's `schema_version`, so new code never writes
an old version.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, get_args, get_origin
from uuid import UUID

from django.conf import settings


@dataclass(frozen=True)
class DomainEvent:
    schema_version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def to_data(self) -> dict[str, Any]:
        """Return the event's fields as JSON-safe values."""
        return {field.name: _encode(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_data(cls, data: dict[str, Any], schema_version: int = 1) -> DomainEvent:
        """Rebuild the event from stored JSON written with `schema_version`, upcast to the newest version."""
        return _decoder(cls)(upcast(cls, data, schema_version))


# --- Upcasting --------------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event type name, the version it reads) -> the function returning the next version's JSON.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_class: type[DomainEvent], *, from_version: int):
    """Register the decorated function as the upcaster of `event_class`'s JSON from `from_version` to the next."""

    def register(function: Upcaster) -> Upcaster:
        key = (event_class.type_name(), from_version)
        if key in UPCASTERS:
            raise ValueError(f"{event_class.__name__} v{from_version} already has an upcaster")
        if from_version >= event_class.schema_version:
            raise ValueError(f"{event_class.__name__} is at v{event_class.schema_version}: nothing to upcast to")
        UPCASTERS[key] = function
        return function

    return register


def upcast(event_class: type[DomainEvent], data: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """Return stored JSON of `schema_version` as JSON of `event_class`'s newest version, one step at a time."""
    if schema_version > event_class.schema_version:
        raise ValueError(
            f"{event_class.__name__} v{schema_version} is newer than this code (v{event_class.schema_version})"
        )
    if schema_version < 1:
        raise ValueError(f"{event_class.__name__} v{schema_version} is not a schema version")
    for version in range(schema_version, event_class.schema_version):
        try:
            step = UPCASTERS[(event_class.type_name(), version)]
        except KeyError:
            raise ValueError(f"{event_class.__name__} v{version} has no upcaster to v{version + 1}") from None
        data = step(dict(data))  # a copy: the stored JSON (a RecordedEvent's data) stays as it was
    return data


def _encode(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decoder(hint: Any) -> Callable[[Any], Any]:
    """Return the function that turns stored JSON into a value of type `hint` (None stays None)."""
    decode = _compiled_decoder(hint)
    return lambda value: None if value is None else decode(value)


@functools.cache
def _compiled_decoder(hint: Any) -> Callable[[Any], Any]:
    # Built once per type and reused: working out what a type hint means on every value of
    # every event cost more than the rest of reading the log together.
    origin = get_origin(hint)
    if origin is tuple:
        item = _decoder(get_args(hint)[0])
        return lambda value: tuple(item(each) for each in value)
    if origin in (typing.Union, types.UnionType):
        return _decoder(next(arg for arg in get_args(hint) if arg is not type(None)))
    if hint in (UUID, Decimal):
        return hint
    if hint is datetime:
        return datetime.fromisoformat
    if dataclasses.is_dataclass(hint):
        fields = {name: _decoder(field_hint) for name, field_hint in typing.get_type_hints(hint).items()}
        if isinstance(hint, type) and issubclass(hint, DomainEvent):
            # Events ignore fields they do not know (written by newer code, or since removed).
            return lambda data: hint(**{name: fields[name](v) for name, v in data.items() if name in fields})
        return lambda data: hint(**{name: fields[name](v) for name, v in data.items()})
    return _unchanged


def _unchanged(value: Any) -> Any:
    return value


# --- Catalog ----------------------------------------------------------------


@dataclass(frozen=True)
class ProductRegistered(DomainEvent):
    product_id: UUID
    sku: str
    name: str
    description: str
    category: str
    price: Decimal
    stock: int


@dataclass(frozen=True)
class ProductPriceChanged(DomainEvent):
    product_id: UUID
    old_price: Decimal
    new_price: Decimal


@dataclass(frozen=True)
class ProductRestocked(DomainEvent):
    product_id: UUID
    quantity: int
    stock: int  # stock available after the restock


@dataclass(frozen=True)
class ProductDiscontinued(DomainEvent):
    product_id: UUID


# --- Customers --------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRegistered(DomainEvent):
    customer_id: UUID
    user_id: int
    name: str
    email: str


# --- Orders -----------------------------------------------------------------


@dataclass(frozen=True)
class OrderedItem:
    product_id: UUID
    sku: str
    product_name: str
    quantity: int
    unit_price: Decimal  # the price when the order was placed


@dataclass(frozen=True)
class OrderPlaced(DomainEvent):
    schema_version: ClassVar[int] = 2  # v2 added `currency`

    order_id: UUID
    customer_id: UUID
    # The customer's name and e-mail as they were when ordering, so that read
    # models of orders need no lookup into another projection.
    customer_name: str
    customer_email: str
    lines: tuple[OrderedItem, ...]
    total: Decimal
    # ISO 4217 code of `total` and the lines' prices; the shop sells in one currency, its SHOP_CURRENCY.
    currency: str = dataclasses.field(default_factory=lambda: settings.SHOP_CURRENCY)


@upcaster(OrderPlaced, from_version=1)
def _order_placed_gains_currency(data: dict[str, Any]) -> dict[str, Any]:
    # Before v2 the shop sold in one currency only, its SHOP_CURRENCY.
    return {**data, "currency": settings.SHOP_CURRENCY}


@dataclass(frozen=True)
class OrderPaid(DomainEvent):
    order_id: UUID
    customer_id: UUID
    amount: Decimal


@dataclass(frozen=True)
class OrderShipped(DomainEvent):
    order_id: UUID
    customer_id: UUID


@dataclass(frozen=True)
class OrderCancelled(DomainEvent):
    order_id: UUID
    customer_id: UUID
    previous_status: str  # "placed" or "paid": tells projections whether money was taken
    lines: tuple[OrderedItem, ...]  # the stock released back to the catalog
    total: Decimal
    reason: str = ""


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type_name(): cls
    for cls in (
        ProductRegistered,
        ProductPriceChanged,
        ProductRestocked,
        ProductDiscontinued,
        CustomerRegistered,
        OrderPlaced,
        OrderPaid,
        OrderShipped,
        OrderCancelled,
    )
}


def event_class(type_name: str) -> type[DomainEvent]:
    """Return the event class stored under `type_name`."""
    try:
        return EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None


def decode_event(type_name: str, data: dict[str, Any], schema_version: int = 1) -> DomainEvent:
    """Return the typed event, at its newest version, for a stored `type_name` and its JSON `data`."""
    return event_class(type_name).from_data(data, schema_version)


def upcast_data(type_name: str, data: dict[str, Any], schema_version: int = 1) -> dict[str, Any]:
    """Return stored JSON as the JSON of the newest version of its event type (for showing it)."""
    return upcast(event_class(type_name), data, schema_version)
