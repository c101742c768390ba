"""A realistic shop history, written straight into the write database with COPY.

Going through the handlers takes milliseconds an event; a million events would take
hours. So this module plays the shop's life in memory: products registered, repriced,
restocked and discontinued, customers registering, orders placed, paid, shipped or
cancelled, with consistent ids, stream versions, lines, prices, stock and timestamps,
and writes the events (encoded by the event classes' own `to_data()`, exactly as
commands.eventlog.append stores them) plus the write model that matches them (users,
customers, products, orders, order lines). It is deterministic for a given seed.

`History.append_events(n)` continues the same history, so the first 200,000 events can be
projected before the next 800,000 are written. `History.write_model()` then writes the
write-model rows for everything generated so far.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from commands.events import (
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
)

START = datetime(2025, 1, 1, tzinfo=UTC)

CATEGORIES = [
    "kitchen", "garden", "books", "toys", "tools", "music", "outdoor", "office", "bath", "lighting",
    "bedding", "pets", "sports", "travel", "audio", "cameras", "games", "crafts", "storage", "coffee",
]  # fmt: skip
ADJECTIVES = [
    "red", "blue", "green", "classic", "compact", "deluxe", "ergonomic", "foldable", "heavy", "light",
    "modern", "organic", "portable", "quiet", "rustic", "smart", "sturdy", "vintage", "wireless", "wooden",
    "bamboo", "ceramic", "copper", "cotton", "glass", "leather", "linen", "marble", "steel", "woolen",
]  # fmt: skip
NOUNS = [
    "kettle", "lamp", "chair", "table", "blanket", "backpack", "bottle", "brush", "candle", "clock",
    "cushion", "drill", "guitar", "hammock", "headphones", "jacket", "journal", "knife", "mug", "notebook",
    "pan", "pillow", "planter", "puzzle", "radio", "rug", "scarf", "speaker", "teapot", "tent",
    "towel", "tray", "umbrella", "vase", "wallet", "watch", "blender", "grinder", "shelf", "stool",
]  # fmt: skip
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam"]
LAST_NAMES = ["Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski"]

# Orders wait in these queues to be paid, then shipped; their length sets how soon that happens.
QUEUE_LENGTH = 300
CATALOG_MANAGER = "catalog-manager"


@dataclass
class _Product:
    id: uuid.UUID
    sku: str
    name: str
    description: str
    category: str
    price: Decimal
    stock: int
    registered_at: datetime
    version: int = 1
    discontinued: bool = False


@dataclass
class _Customer:
    id: uuid.UUID
    user_id: int
    username: str
    name: str
    email: str
    registered_at: datetime


@dataclass
class _Order:
    id: uuid.UUID
    customer: _Customer
    items: tuple[OrderedItem, ...]
    total: Decimal
    placed_at: datetime
    status: str = "placed"
    version: int = 1


def _copy_text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _line(*values) -> str:
    return "\t".join(_copy_text(value) for value in values) + "\n"


class History:
    """The shop's life, one event at a time; see the module docstring."""

    def __init__(
        self,
        write_url: str,
        *,
        seed: int = 1,
        products: int = 2_000,
        customers: int = 20_000,
        total_events: int = 1_000_000,
        days: int = 400,
    ):
        self.write_url = write_url
        self.random = random.Random(seed)
        self.product_target, self.customer_target = products, customers
        self.step = timedelta(days=days) / total_events  # time between two events
        self.clock = START
        self.events_written = 0
        self.products: list[_Product] = []
        self.product_by_id: dict[uuid.UUID, _Product] = {}
        self.active: list[_Product] = []
        self.customers: list[_Customer] = []
        self.placed: deque[_Order] = deque()
        self.paid: deque[_Order] = deque()
        self.counts: dict[str, int] = {}
        # Orders that will not change again, waiting on disk for write_model().
        self._finished_orders = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed when the history is)
        self._finished_lines = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.manager_id = customers + 1

    # --- Writing ------------------------------------------------------------------------

    def append_events(self, count: int, *, progress=None) -> float:
        """Generate the next `count` events and COPY them into the event log; return the seconds it took."""
        started = time.monotonic()
        columns = "stream_id, version, type, schema_version, data, metadata, recorded_at"
        with (
            psycopg.connect(self.write_url) as connection,
            connection.cursor() as cursor,
            cursor.copy(f"COPY commands_storedevent ({columns}) FROM STDIN") as copy,
        ):
            chunk: list[str] = []
            for done in range(1, count + 1):
                chunk.append(self._next_event())
                if len(chunk) == 5_000:
                    copy.write("".join(chunk))
                    chunk.clear()
                    if progress and done % 100_000 == 0:
                        progress(done)
            copy.write("".join(chunk))
        self.events_written += count
        return time.monotonic() - started

    def write_model(self) -> float:
        """Write users, customers, products, orders and lines as the events left them; return the seconds."""
        started = time.monotonic()
        for order in (*self.placed, *self.paid):
            self._finish(order)
        with psycopg.connect(self.write_url) as connection, connection.cursor() as cursor:
            self._copy(cursor, "auth_user", "id, password, is_superuser, username, first_name, last_name, email, "
                       "is_staff, is_active, date_joined", self._user_rows())  # fmt: skip
            self._copy(cursor, "commands_customer", "id, name, email, version, created_at, user_id", (
                _line(c.id, c.name, c.email, 1, c.registered_at, c.user_id) for c in self.customers
            ))  # fmt: skip
            self._copy(cursor, "commands_product", "id, sku, name, description, category, price, stock, "
                       "discontinued, version, created_at", (
                _line(p.id, p.sku, p.name, p.description, p.category, p.price, p.stock, p.discontinued,
                      p.version, p.registered_at)
                for p in self.products
            ))  # fmt: skip
            for table, columns, spool in (
                ("commands_order", "id, status, total, version, placed_at, customer_id", self._finished_orders),
                ("commands_orderline", "quantity, unit_price, order_id, product_id", self._finished_lines),
            ):
                spool.seek(0)
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    while block := spool.read(1 << 20):
                        copy.write(block)
            cursor.execute("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), %s)", [self.manager_id])
        # What autovacuum would have done by the time anyone queried: statistics everywhere, and the
        # visibility map on the tables the write-model baselines of benchmark 6 read.
        with psycopg.connect(self.write_url, autocommit=True) as connection:
            for table in ("commands_order", "commands_orderline", "commands_product", "commands_customer"):
                connection.execute(f"VACUUM ANALYZE {table}")
            connection.execute("ANALYZE")
        return time.monotonic() - started

    def _copy(self, cursor, table: str, columns: str, rows) -> None:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write(row)

    def _user_rows(self):
        for c in self.customers:
            first, last = c.name.split(" ", 1)
            yield _line(c.user_id, "!", False, c.username, first, last, c.email, False, True, c.registered_at)
        yield _line(self.manager_id, "!", False, CATALOG_MANAGER, "", "", "", True, True, START)

    # --- The shop's life ----------------------------------------------------------------

    def _next_event(self) -> str:
        self.clock += self.step
        roll = self.random.random()
        if len(self.products) < self.product_target:
            return self._register_product()
        if len(self.customers) < 500:
            return self._register_customer()
        if roll < 0.004:
            return self._change_price()
        if roll < 0.007:
            return self._restock()
        if roll < 0.0072 and len(self.active) > self.product_target // 2:
            return self._discontinue()
        if roll < 0.03 and len(self.customers) < self.customer_target:
            return self._register_customer()
        if len(self.placed) > QUEUE_LENGTH:
            return self._pay_or_cancel()
        if len(self.paid) > QUEUE_LENGTH:
            return self._ship_or_cancel()
        return self._place_order()

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def _row(self, stream_id, version: int, event, command: str, actor_id: int, actor_name: str) -> str:
        command_id = str(self._uuid())
        metadata = {
            "command": command,
            "command_id": command_id,
            "correlation_id": command_id,
            "actor": {"id": actor_id, "username": actor_name},
        }
        name = event.type_name()
        self.counts[name] = self.counts.get(name, 0) + 1
        # COPY's text format reads a backslash as an escape, and JSON escapes with backslashes;
        # JSON holds no raw tab or newline, so doubling the backslashes is all it needs.
        data = json.dumps(event.to_data()).replace("\\", "\\\\")
        meta = json.dumps(metadata).replace("\\", "\\\\")
        return f"{stream_id}\t{version}\t{name}\t{event.schema_version}\t{data}\t{meta}\t{self.clock.isoformat()}\n"

    def _as_manager(self, product: _Product, event, command: str) -> str:
        return self._row(product.id, product.version, event, command, self.manager_id, CATALOG_MANAGER)

    def _register_product(self) -> str:
        number = len(self.products) + 1
        pick = self.random.choice
        adjective, noun, category = pick(ADJECTIVES), pick(NOUNS), pick(CATEGORIES)
        product = _Product(
            id=self._uuid(),
            sku=f"SKU-{number:06d}",
            name=f"{adjective.title()} {noun} {number}",
            description=f"A {pick(ADJECTIVES)} {noun} for {category} lovers, {pick(ADJECTIVES)} and "
            f"{pick(ADJECTIVES)}.",
            category=category,
            price=Decimal(self.random.randrange(199, 49_999)) / 100,
            stock=1_000_000,
            registered_at=self.clock,
        )
        self.products.append(product)
        self.product_by_id[product.id] = product
        self.active.append(product)
        event = ProductRegistered(
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            description=product.description,
            category=product.category,
            price=product.price,
            stock=product.stock,
        )
        return self._as_manager(product, event, "RegisterProduct")

    def _change_price(self) -> str:
        product = self.random.choice(self.active)
        old = product.price
        product.price = max(Decimal("0.99"), (old * Decimal(self.random.uniform(0.8, 1.2))).quantize(Decimal("0.01")))
        if product.price == old:
            product.price += Decimal("0.01")
        product.version += 1
        event = ProductPriceChanged(product_id=product.id, old_price=old, new_price=product.price)
        return self._as_manager(product, event, "ChangePrice")

    def _restock(self) -> str:
        product = self.random.choice(self.active)
        quantity = self.random.randrange(100, 1_000)
        product.stock += quantity
        product.version += 1
        return self._as_manager(
            product, ProductRestocked(product_id=product.id, quantity=quantity, stock=product.stock), "RestockProduct"
        )

    def _discontinue(self) -> str:
        product = self.active.pop(self.random.randrange(len(self.active)))
        product.discontinued = True
        product.version += 1
        return self._as_manager(product, ProductDiscontinued(product_id=product.id), "DiscontinueProduct")

    def _register_customer(self) -> str:
        number = len(self.customers) + 1
        name = f"{self.random.choice(FIRST_NAMES)} {self.random.choice(LAST_NAMES)}"
        customer = _Customer(
            id=self._uuid(),
            user_id=number,
            username=f"customer{number}",
            name=name,
            email=f"customer{number}@example.com",
            registered_at=self.clock,
        )
        self.customers.append(customer)
        event = CustomerRegistered(customer_id=customer.id, user_id=number, name=name, email=customer.email)
        return self._row(customer.id, 1, event, "RegisterCustomer", number, customer.username)

    def _place_order(self) -> str:
        customer = self.random.choice(self.customers)
        chosen = self.random.sample(self.active, self.random.choice((1, 2, 3, 3, 3, 4, 5)))
        items = []
        for product in chosen:
            quantity = self.random.choice((1, 1, 1, 2, 2, 3))
            product.stock -= quantity
            items.append(OrderedItem(product.id, product.sku, product.name, quantity, product.price))
        items = tuple(items)
        order = _Order(
            id=self._uuid(),
            customer=customer,
            items=items,
            total=sum((item.quantity * item.unit_price for item in items), Decimal(0)),
            placed_at=self.clock,
        )
        self.placed.append(order)
        event = OrderPlaced(
            order_id=order.id,
            customer_id=customer.id,
            customer_name=customer.name,
            customer_email=customer.email,
            lines=items,
            total=order.total,
        )
        return self._row(order.id, 1, event, "PlaceOrder", customer.user_id, customer.username)

    def _pay_or_cancel(self) -> str:
        order = self.placed.popleft()
        order.version += 1
        if self.random.random() < 0.1:
            return self._cancel(order, "placed")
        order.status = "paid"
        self.paid.append(order)
        event = OrderPaid(order_id=order.id, customer_id=order.customer.id, amount=order.total)
        return self._row(order.id, order.version, event, "PayOrder", order.customer.user_id, order.customer.username)

    def _ship_or_cancel(self) -> str:
        order = self.paid.popleft()
        order.version += 1
        if self.random.random() < 0.05:
            return self._cancel(order, "paid")
        order.status = "shipped"
        self._finish(order)
        event = OrderShipped(order_id=order.id, customer_id=order.customer.id)
        return self._row(order.id, order.version, event, "ShipOrder", self.manager_id, CATALOG_MANAGER)

    def _cancel(self, order: _Order, previous_status: str) -> str:
        order.status = "cancelled"
        for item in order.items:
            self.product_by_id[item.product_id].stock += item.quantity
        self._finish(order)
        event = OrderCancelled(
            order_id=order.id,
            customer_id=order.customer.id,
            previous_status=previous_status,
            lines=order.items,
            total=order.total,
            reason="changed my mind",
        )
        customer = order.customer
        return self._row(order.id, order.version, event, "CancelOrder", customer.user_id, customer.username)

    def _finish(self, order: _Order) -> None:
        self._finished_orders.write(
            _line(order.id, order.status, order.total, order.version, order.placed_at, order.customer.id)
        )
        self._finished_lines.write(
            "".join(_line(item.quantity, item.unit_price, order.id, item.product_id) for item in order.items)
        )
