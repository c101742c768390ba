"""ProductCatalog: what the shop sells, with its price, the stock still available and units sold."""

from django.contrib.postgres.search import SearchVector
from django.db import connections

from commands.events import (
    OrderCancelled,
    OrderPlaced,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRegistered,
    ProductRestocked,
)
from core.routers import READ_PRIMARY
from projections.base import Projection, handles
from queries.models import ProductCatalog


def catalog_search_vector() -> SearchVector:
    """What full-text search looks at (PostgreSQL only): name and SKU first, then category, then description."""
    return (
        SearchVector("name", weight="A", config="english")
        + SearchVector("sku", weight="A", config="simple")
        + SearchVector("category", weight="B", config="english")
        + SearchVector("description", weight="C", config="english")
    )


def _the_product(event, recorded):
    return [event.product_id]


def _ordered_products(event, recorded):
    return [line.product_id for line in event.lines]


class ProductCatalogProjection(Projection):
    name = "product_catalog"
    model = ProductCatalog
    cache_family = "products"
    # Set by its own UPDATE in apply(), from columns that only change on registration.
    unprojected_fields = frozenset({"search_vector"})

    @handles(ProductRegistered, rows=_the_product)
    def registered(self, rows, event: ProductRegistered, recorded):
        row = rows[event.product_id]
        row.sku, row.name, row.description = event.sku, event.name, event.description
        row.category, row.price = event.category, event.price
        row.stock_available, row.units_sold = event.stock, 0
        row.status, row.updated_at = ProductCatalog.Status.ACTIVE, recorded.recorded_at

    @handles(ProductPriceChanged, rows=_the_product)
    def repriced(self, rows, event: ProductPriceChanged, recorded):
        row = rows[event.product_id]
        row.price, row.updated_at = event.new_price, recorded.recorded_at

    @handles(ProductRestocked, rows=_the_product)
    def restocked(self, rows, event: ProductRestocked, recorded):
        row = rows[event.product_id]
        row.stock_available += event.quantity
        row.updated_at = recorded.recorded_at

    @handles(ProductDiscontinued, rows=_the_product)
    def discontinued(self, rows, event: ProductDiscontinued, recorded):
        row = rows[event.product_id]
        row.status, row.updated_at = ProductCatalog.Status.DISCONTINUED, recorded.recorded_at

    @handles(OrderPlaced, rows=_ordered_products)
    def ordered(self, rows, event: OrderPlaced, recorded):
        for line in event.lines:
            row = rows[line.product_id]
            row.stock_available -= line.quantity
            row.units_sold += line.quantity
            row.updated_at = recorded.recorded_at

    @handles(OrderCancelled, rows=_ordered_products)
    def released(self, rows, event: OrderCancelled, recorded):
        for line in event.lines:
            row = rows[line.product_id]
            row.stock_available += line.quantity
            row.units_sold -= line.quantity
            row.updated_at = recorded.recorded_at

    def apply(self, batch, model):
        super().apply(batch, model)
        registered = [
            r.event.product_id
            for r in batch
            if r.type == ProductRegistered.type_name() and self.partition.owns(r.event.product_id)
        ]
        if registered and connections[READ_PRIMARY].vendor == "postgresql":
            # Name, SKU, category and description only change on registration, so only
            # new products need their search vector computed.
            model._default_manager.db_manager(READ_PRIMARY).filter(pk__in=registered).update(
                search_vector=catalog_search_vector()
            )
