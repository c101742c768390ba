"""What the query API tests share: run the projections, make read-model rows, read responses."""

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connections, transaction

from commands import eventlog
from commands.eventlog import head_position
from commands.events import ProductDiscontinued
from core.routers import READ_PRIMARY, WRITE_DATABASE, choose_replica
from projections.catalog import catalog_search_vector
from projections.models import Checkpoint
from projections.registry import registry
from projections.runner import catch_up
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog

# A fixed "now" for rows made directly, so orderings are known in advance.
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
_sequence = itertools.count(1)


def project() -> None:
    """Apply every event in the log to every read model and subscriber (what the Celery workers do)."""
    for follower in registry().values():
        catch_up(follower)


def read_database() -> str:
    """The database query requests read from: the replica when one is configured (one at most in tests)."""
    return choose_replica()


def set_checkpoint(name: str, position: int) -> None:
    Checkpoint.objects.update_or_create(name=name, defaults={"position": position})


def extend_log_to(position: int) -> None:
    """Append events until the log's head reaches `position`: a client may only wait for a logged position.

    The events discontinue products nobody has, so no read model changes unless a test projects them.
    """
    while head_position() < position:
        with transaction.atomic(using=WRITE_DATABASE):
            eventlog.append(
                uuid.uuid4(), [ProductDiscontinued(product_id=uuid.uuid4())], expected_version=0, metadata={}
            )


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[str]:
    return [row["id"] for row in results(response)]


def catalog_rows(count: int, **fields) -> list[ProductCatalog]:
    """`count` catalog rows made directly on `read` (the projection's own tests cover how they are made)."""
    rows = []
    for _ in range(count):
        n = next(_sequence)
        values = {
            "product_id": uuid.uuid4(),
            "sku": f"Q-{n:06d}",
            "name": f"Product {n:06d}",
            "description": "",
            "category": "books",
            "price": Decimal("10.00"),
            "stock_available": 5,
            "units_sold": 0,
            "status": ProductCatalog.Status.ACTIVE,
            "updated_at": T0,
            **fields,
        }
        rows.append(ProductCatalog(**values))
    rows = ProductCatalog.objects.bulk_create(rows)
    if connections[READ_PRIMARY].vendor == "postgresql":  # as the catalog projection does
        ProductCatalog.objects.filter(pk__in=[row.pk for row in rows]).update(search_vector=catalog_search_vector())
    return rows


def order_rows(count: int, *, customer_id: uuid.UUID | None = None, **fields) -> list[OrderSummary]:
    """`count` order summaries made directly on `read`, each placed a minute after the previous one."""
    rows = []
    for _ in range(count):
        n = next(_sequence)
        values = {
            "order_id": uuid.uuid4(),
            "customer_id": customer_id or uuid.uuid4(),
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
            "status": "placed",
            "item_count": 1,
            "total": Decimal("10.00"),
            "currency": "EUR",
            "lines": [
                {
                    "product_id": str(uuid.uuid4()),
                    "sku": "SKU-1",
                    "product_name": "A thing",
                    "quantity": 1,
                    "unit_price": "10.00",
                }
            ],
            "placed_at": T0 + timedelta(minutes=n),
            **fields,
        }
        rows.append(OrderSummary(**values))
    return OrderSummary.objects.bulk_create(rows)


def customer_rows(count: int, **fields) -> list[CustomerOrderHistory]:
    rows = []
    for _ in range(count):
        n = next(_sequence)
        values = {
            "customer_id": uuid.uuid4(),
            "name": f"Customer {n:06d}",
            "email": f"customer{n}@example.com",
            "order_count": 0,
            "lifetime_value": Decimal("0.00"),
            **fields,
        }
        rows.append(CustomerOrderHistory(**values))
    return CustomerOrderHistory.objects.bulk_create(rows)


def sales_rows(count: int, *, start: date = date(2030, 1, 1), **fields) -> list[DailySales]:
    rows = [
        DailySales(date=start + timedelta(days=day), orders_placed=day, revenue=Decimal(day), **fields)
        for day in range(count)
    ]
    return DailySales.objects.bulk_create(rows)
