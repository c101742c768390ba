"""The command handlers: one function per command, each one transaction on `default`.

A handler loads and locks the aggregate, enforces the rules (including who may
do what), saves the new state and appends the events last, so the write-model
change and its events commit together or not at all. Callers go through
`dispatch(command, actor)`; HANDLERS at the bottom is the whole write side.

Every handler takes the time its command happens at from dispatch: None, for
everything the API and the admin send, means now; only seed_demo passes a past
time, to give the demo a history. The events' `recorded_at` and the aggregate's
own timestamps (`placed_at`, `created_at`) use it; nothing rewrites them later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from commands import eventlog
from commands.commands import (
    CancelOrder,
    ChangePrice,
    Command,
    DiscontinueProduct,
    PayOrder,
    PlaceOrder,
    RegisterCustomer,
    RegisterProduct,
    RestockProduct,
    ShipOrder,
)
from commands.domain.orders import MAX_TOTAL
from commands.errors import (
    CustomerAlreadyRegistered,
    CustomerNotFound,
    DomainError,
    DuplicateSku,
    Forbidden,
    NotACustomer,
    OrderNotFound,
    OrderTooLarge,
    PriceUnchanged,
    ProductNotFound,
    VersionConflict,
)
from commands.eventlog import RecordedEvent
from commands.events import (
    CustomerRegistered,
    DomainEvent,
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
from commands.models import Customer, Order, OrderLine, OrderStatus, Product
from core import metrics
from core.routers import WRITE_DATABASE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    """What a handler returns: the aggregate's new version and its last event's position."""

    aggregate_id: uuid.UUID
    version: int
    position: int
    events: list[RecordedEvent]


def dispatch(command: Command, actor: AbstractBaseUser, *, at: datetime | None = None) -> Recorded:
    """Run `command` on behalf of `actor` through its handler, as happening `at` (None: now)."""
    name = type(command).__name__
    context = {"correlation_id": command.correlation, "command_id": str(command.command_id)}
    try:
        with metrics.COMMAND_SECONDS.labels(name).time():
            recorded = HANDLERS[type(command)](command, actor, at)
    except DomainError as refused:
        metrics.COMMANDS.labels(name, refused.code).inc()
        logger.info("%s refused (%s): %s", name, refused.code, refused.message, extra=context)
        raise
    metrics.COMMANDS.labels(name, "recorded").inc()
    for event in recorded.events:
        metrics.EVENTS_APPENDED.labels(event.type).inc()
    logger.info(
        "%s recorded %d event(s), the last at #%d",
        name,
        len(recorded.events),
        recorded.position,
        extra=context,
    )
    return recorded


# --- Catalog ----------------------------------------------------------------


def register_product(command: RegisterProduct, actor, at: datetime | None) -> Recorded:
    _require_catalog_manager(actor)
    with transaction.atomic(using=WRITE_DATABASE):
        if Product.objects.filter(sku=command.sku).exists():
            raise DuplicateSku(f"A product with SKU {command.sku} already exists.")
        product = Product(
            sku=command.sku,
            name=command.name,
            description=command.description,
            category=command.category,
            price=command.price,
            stock=command.stock,
            created_at=at or timezone.now(),
        )
        event = ProductRegistered(
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            description=product.description,
            category=product.category,
            price=product.price,
            stock=product.stock,
        )
        try:
            return _record(product, [event], command, actor, at)
        except IntegrityError:  # a concurrent registration of the same SKU won
            raise DuplicateSku(f"A product with SKU {command.sku} already exists.") from None


def change_price(command: ChangePrice, actor, at: datetime | None) -> Recorded:
    _require_catalog_manager(actor)
    with transaction.atomic(using=WRITE_DATABASE):
        product = _locked_product(command.product_id, command.expected_version)
        old_price = product.price
        if old_price == command.new_price:
            raise PriceUnchanged(f"The price of {product.sku} is already {old_price}.")
        product.change_price(command.new_price)
        event = ProductPriceChanged(product_id=product.id, old_price=old_price, new_price=product.price)
        return _record(product, [event], command, actor, at, changed=("price",))


def restock_product(command: RestockProduct, actor, at: datetime | None) -> Recorded:
    _require_catalog_manager(actor)
    with transaction.atomic(using=WRITE_DATABASE):
        product = _locked_product(command.product_id, command.expected_version)
        product.restock(command.quantity)
        event = ProductRestocked(product_id=product.id, quantity=command.quantity, stock=product.stock)
        return _record(product, [event], command, actor, at, changed=("stock",))


def discontinue_product(command: DiscontinueProduct, actor, at: datetime | None) -> Recorded:
    _require_catalog_manager(actor)
    with transaction.atomic(using=WRITE_DATABASE):
        product = _locked_product(command.product_id, command.expected_version)
        product.discontinue()
        event = ProductDiscontinued(product_id=product.id)
        return _record(product, [event], command, actor, at, changed=("discontinued",))


# --- Customers --------------------------------------------------------------


def register_customer(command: RegisterCustomer, actor, at: datetime | None) -> Recorded:
    if command.user_id != actor.pk and not actor.is_staff:
        raise Forbidden("Users register themselves as customers.")
    with transaction.atomic(using=WRITE_DATABASE):
        if Customer.objects.filter(user_id=command.user_id).exists():
            raise CustomerAlreadyRegistered("This user is already a registered customer.")
        customer = Customer(
            user_id=command.user_id, name=command.name, email=command.email, created_at=at or timezone.now()
        )
        event = CustomerRegistered(
            customer_id=customer.id, user_id=command.user_id, name=customer.name, email=customer.email
        )
        try:
            return _record(customer, [event], command, actor, at)
        except IntegrityError:  # a concurrent registration of the same user won
            raise CustomerAlreadyRegistered("This user is already a registered customer.") from None


# --- Orders -----------------------------------------------------------------


def place_order(command: PlaceOrder, actor, at: datetime | None) -> Recorded:
    with transaction.atomic(using=WRITE_DATABASE):
        customer = _ordering_customer(command.customer_id, actor)
        quantities = {line.product_id: line.quantity for line in command.lines}
        products = {product.pk: product for product in _locked_products(quantities)}
        for product_id, quantity in quantities.items():
            products[product_id].reserve(quantity)
        _save_stock(products.values())
        items = tuple(
            OrderedItem(
                product_id=product_id,
                sku=products[product_id].sku,
                product_name=products[product_id].name,
                quantity=quantity,
                unit_price=products[product_id].price,
            )
            for product_id, quantity in quantities.items()
        )
        # Inserted at its first version at once: the lines need the row, and saving it again
        # for its version (as _record does for an aggregate that exists) would cost an UPDATE.
        order = Order(
            customer=customer,
            total=sum((i.quantity * i.unit_price for i in items), Decimal(0)),
            placed_at=at or timezone.now(),
            version=1,
        )
        # Quantities and prices are each in range, but their product may not be:
        # refuse here rather than let PostgreSQL's numeric overflow become a 500.
        if order.total > MAX_TOTAL:
            raise OrderTooLarge(f"An order's total may not exceed {MAX_TOTAL}.", extra={"total": str(order.total)})
        order.save()
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product_id=i.product_id, quantity=i.quantity, unit_price=i.unit_price) for i in items
        )
        event = OrderPlaced(
            order_id=order.id,
            customer_id=customer.id,
            customer_name=customer.name,
            customer_email=customer.email,
            lines=items,
            total=order.total,
            currency=settings.SHOP_CURRENCY,
        )
        return _append(order, [event], 0, command, actor, at)


def pay_order(command: PayOrder, actor, at: datetime | None) -> Recorded:
    with transaction.atomic(using=WRITE_DATABASE):
        order = _locked_order(command.order_id, command.expected_version, actor)
        order.move_to(OrderStatus.PAID)
        event = OrderPaid(order_id=order.id, customer_id=order.customer_id, amount=order.total)
        return _record(order, [event], command, actor, at, changed=("status",))


def ship_order(command: ShipOrder, actor, at: datetime | None) -> Recorded:
    if not actor.is_staff:
        raise Forbidden("Only staff ship orders.")
    with transaction.atomic(using=WRITE_DATABASE):
        order = _locked_order(command.order_id, command.expected_version, actor)
        order.move_to(OrderStatus.SHIPPED)
        event = OrderShipped(order_id=order.id, customer_id=order.customer_id)
        return _record(order, [event], command, actor, at, changed=("status",))


def cancel_order(command: CancelOrder, actor, at: datetime | None) -> Recorded:
    with transaction.atomic(using=WRITE_DATABASE):
        order = _locked_order(command.order_id, command.expected_version, actor)
        previous_status = order.move_to(OrderStatus.CANCELLED)
        lines = list(order.lines.order_by("pk"))  # the order they were placed in
        products = {product.pk: product for product in _locked_products(line.product_id for line in lines)}
        for line in lines:
            products[line.product_id].release(line.quantity)
        _save_stock(products.values())
        event = OrderCancelled(
            order_id=order.id,
            customer_id=order.customer_id,
            previous_status=previous_status,
            lines=tuple(
                OrderedItem(
                    product_id=line.product_id,
                    sku=products[line.product_id].sku,
                    product_name=products[line.product_id].name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for line in lines
            ),
            total=order.total,
            reason=command.reason,
        )
        return _record(order, [event], command, actor, at, changed=("status",))


# --- Shared steps -----------------------------------------------------------


def _record(
    aggregate,
    events: Sequence[DomainEvent],
    command: Command,
    actor,
    at: datetime | None,
    *,
    changed: Sequence[str] = (),
) -> Recorded:
    """Save the aggregate at its new version and append its events, recorded `at` (None: now).

    A new aggregate is inserted whole; an existing one writes only the fields the
    command `changed`, and its version. The append comes last because it holds the
    event log's lock until commit.
    """
    expected_version = aggregate.version
    aggregate.version += len(events)
    aggregate.save(update_fields=None if aggregate._state.adding else [*changed, "version"])
    return _append(aggregate, events, expected_version, command, actor, at)


def _append(
    aggregate, events: Sequence[DomainEvent], expected_version: int, command: Command, actor, at: datetime | None
) -> Recorded:
    """Append the events of an aggregate already saved at its new version; the transaction's last step."""
    recorded = eventlog.append(
        aggregate.pk, events, expected_version=expected_version, metadata=_metadata(command, actor), recorded_at=at
    )
    return Recorded(aggregate.pk, aggregate.version, recorded[-1].position, recorded)


def _metadata(command: Command, actor) -> dict:
    return {
        "command": type(command).__name__,
        "command_id": str(command.command_id),
        "correlation_id": command.correlation,
        "actor": {"id": actor.pk, "username": actor.get_username()},
    }


def _require_catalog_manager(actor) -> None:
    if not (actor.is_staff or actor.has_perm("commands.manage_catalog")):
        raise Forbidden("Only staff and catalog managers change the catalog.")


def _check_version(aggregate, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != aggregate.version:
        raise VersionConflict(
            f"Expected version {expected_version}, but it is at version {aggregate.version}.",
            extra={"current_version": aggregate.version},
        )


def _locked_product(product_id: uuid.UUID, expected_version: int | None) -> Product:
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(f"No product {product_id}.")
    _check_version(product, expected_version)
    return product


def _locked_products(product_ids) -> list[Product]:
    """Lock the products in primary-key order, so two orders never lock them in opposite orders."""
    wanted = set(product_ids)
    products = list(Product.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    missing = wanted - {product.pk for product in products}
    if missing:
        raise ProductNotFound(
            f"No product {sorted(map(str, missing))[0]}.", extra={"missing": sorted(map(str, missing))}
        )
    return products


def _save_stock(products: Iterable[Product]) -> None:
    """Write the locked products' new stock in one statement.

    bulk_update would build a CASE branch per product through the ORM, a tenth of
    PlaceOrder's time; on PostgreSQL one UPDATE joins the rows to two arrays instead.
    """
    products = list(products)
    connection = connections[WRITE_DATABASE]
    if connection.vendor != "postgresql":
        Product.objects.bulk_update(products, ["stock"])
        return
    table = connection.ops.quote_name(Product._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET stock = new.stock FROM unnest(%s::uuid[], %s::integer[]) AS new (id, stock) "
            f"WHERE {table}.id = new.id",
            [[product.pk for product in products], [product.stock for product in products]],
        )


def _locked_order(order_id: uuid.UUID, expected_version: int | None, actor) -> Order:
    order = Order.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=order_id).first()
    # Another customer's order is reported as missing, so ids cannot be probed.
    if order is None or not (actor.is_staff or order.customer.user_id == actor.pk):
        raise OrderNotFound(f"No order {order_id}.")
    _check_version(order, expected_version)
    return order


def _ordering_customer(customer_id: uuid.UUID | None, actor) -> Customer:
    own = Customer.objects.filter(user_id=actor.pk).first()
    if customer_id is None or (own is not None and own.pk == customer_id):
        if own is None:
            raise NotACustomer("Register as a customer before placing an order.")
        return own
    if not actor.is_staff:
        raise Forbidden("Customers place orders for themselves only.")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    return customer


HANDLERS: dict[type[Command], Callable[[Command, AbstractBaseUser, datetime | None], Recorded]] = {
    RegisterProduct: register_product,
    ChangePrice: change_price,
    RestockProduct: restock_product,
    DiscontinueProduct: discontinue_product,
    RegisterCustomer: register_customer,
    PlaceOrder: place_order,
    PayOrder: pay_order,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
}
