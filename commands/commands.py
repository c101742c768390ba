"""The commands: what a caller asks the shop to do, in the imperative, as frozen dataclasses.

A command checks its own shape when it is built (positive prices and
quantities, no empty order), so every caller, the API, the admin or
seed_demo, gets the same rules. Business rules that need the database live in
the handlers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from commands.errors import InvalidCommand

MAX_ORDER_LINES = 100
MAX_QUANTITY = 10_000
MAX_STOCK = 10 * MAX_QUANTITY  # what a product may be registered with
MAX_PRICE = Decimal("9999999999.99")
MAX_SKU_LENGTH = 64
MAX_CATEGORY_LENGTH = 100
MAX_REASON_LENGTH = 500
# What Customer.name and Customer.email hold. The API defaults the name to the
# user's full name, which can be longer, so the command checks, not the database.
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True, kw_only=True)
class Command:
    command_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # Ties together the commands and events of one user action; defaults to command_id.
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        errors = self.errors()
        if errors:
            raise InvalidCommand(errors)

    @property
    def correlation(self) -> str:
        """The correlation id its events and log lines carry."""
        return self.correlation_id or str(self.command_id)

    def errors(self) -> dict[str, list[str]]:
        """Return field errors, empty when the command is well formed."""
        return {}


def _price_errors(name: str, price: Decimal) -> dict[str, list[str]]:
    if not isinstance(price, Decimal) or not price.is_finite():
        return {name: ["Must be a decimal number."]}
    if price <= 0:
        return {name: ["Must be greater than zero."]}
    if price > MAX_PRICE or price.as_tuple().exponent < -2:
        return {name: ["Must have at most 10 digits before and 2 after the decimal point."]}
    return {}


def _text_errors(name: str, value: str, max_length: int) -> dict[str, list[str]]:
    if not value.strip():
        return {name: ["Must not be blank."]}
    if len(value) > max_length:
        return {name: [f"Must be at most {max_length} characters."]}
    return {}


def _quantity_errors(name: str, quantity: int) -> dict[str, list[str]]:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= MAX_QUANTITY:
        return {name: [f"Must be a whole number from 1 to {MAX_QUANTITY}."]}
    return {}


# --- Catalog ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegisterProduct(Command):
    sku: str
    name: str
    price: Decimal
    category: str
    description: str = ""
    stock: int = 0

    def errors(self):
        errors = _price_errors("price", self.price)
        errors.update(_text_errors("sku", self.sku, MAX_SKU_LENGTH))
        errors.update(_text_errors("name", self.name, MAX_NAME_LENGTH))
        errors.update(_text_errors("category", self.category, MAX_CATEGORY_LENGTH))
        if not isinstance(self.stock, int) or not 0 <= self.stock <= MAX_STOCK:
            errors["stock"] = [f"Must be a whole number from 0 to {MAX_STOCK}."]
        return errors


@dataclass(frozen=True, kw_only=True)
class ChangePrice(Command):
    product_id: uuid.UUID
    new_price: Decimal
    expected_version: int | None = None

    def errors(self):
        return _price_errors("new_price", self.new_price)


@dataclass(frozen=True, kw_only=True)
class RestockProduct(Command):
    product_id: uuid.UUID
    quantity: int
    expected_version: int | None = None

    def errors(self):
        return _quantity_errors("quantity", self.quantity)


@dataclass(frozen=True, kw_only=True)
class DiscontinueProduct(Command):
    product_id: uuid.UUID
    expected_version: int | None = None


# --- Customers --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegisterCustomer(Command):
    user_id: int
    name: str
    email: str

    def errors(self):
        errors = _text_errors("name", self.name, MAX_NAME_LENGTH)
        if "@" not in self.email:
            errors["email"] = ["Must be an e-mail address."]
        elif len(self.email) > MAX_EMAIL_LENGTH:
            errors["email"] = [f"Must be at most {MAX_EMAIL_LENGTH} characters."]
        return errors


# --- Orders -----------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineRequest:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class PlaceOrder(Command):
    customer_id: uuid.UUID | None  # None: the actor's own customer
    lines: tuple[OrderLineRequest, ...]

    def errors(self):
        if not self.lines:
            return {"lines": ["An order needs at least one line."]}
        if len(self.lines) > MAX_ORDER_LINES:
            return {"lines": [f"An order has at most {MAX_ORDER_LINES} lines."]}
        products = [line.product_id for line in self.lines]
        if len(set(products)) != len(products):
            return {"lines": ["Each product may appear on one line only."]}
        errors: dict[str, list[str]] = {}
        for line in self.lines:
            errors.update(_quantity_errors("lines", line.quantity))
        return errors


@dataclass(frozen=True, kw_only=True)
class PayOrder(Command):
    order_id: uuid.UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class ShipOrder(Command):
    order_id: uuid.UUID
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    order_id: uuid.UUID
    reason: str = ""
    expected_version: int | None = None

    def errors(self):
        if len(self.reason) > MAX_REASON_LENGTH:
            return {"reason": [f"Must be at most {MAX_REASON_LENGTH} characters."]}
        return {}
