"""The shop's domain events: what happened, in the past tense, as frozen dataclasses.

Events are stored as JSON with their class name and schema version; decoding
turns the JSON back into the dataclass using its type hints. Never change the
meaning of a field in place: add a field with a default, or bump
`schema_version` and teach `from_data` to read the old shape.
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
        """Rebuild the event from stored JSON written with `schema_version`."""
        if schema_version > cls.schema_version:
            raise ValueError(f"{cls.__name__} v{schema_version} is newer than this code (v{cls.schema_version})")
        return _decoder(cls)(data)


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
    order_id: UUID
    customer_id: UUID
    # The customer's name and e-mail as they were when ordering, so that read
    # models of orders need no lookup into another projection.
    customer_name: str
    customer_email: str
    lines: tuple[OrderedItem, ...]
    total: Decimal


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


def decode_event(type_name: str, data: dict[str, Any], schema_version: int = 1) -> DomainEvent:
    """Return the typed event for a stored `type_name` and its JSON `data`."""
    try:
        cls = EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
    return cls.from_data(data, schema_version)
