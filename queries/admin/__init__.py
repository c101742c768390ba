"""The read side in the admin: the read models, read-only (the sales charts page is in queries.admin.sales).

The querysets are the models' own, so the router reads them from the replica
the request is pinned to (core.routers.PinReplicaMiddleware), as the query
API does. Never call .using() here: it would pin the admin to `read`.
"""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import ReadOnlyAdmin, UUIDSearchMixin, stream_link
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog


@admin.display(description="History")
def event_history(row) -> str:
    return stream_link(row.pk, "Event history")


@admin.register(ProductCatalog)
class ProductCatalogAdmin(UUIDSearchMixin, ReadOnlyAdmin):
    list_display = [
        "sku",
        "name",
        "category",
        "price",
        "stock_available",
        "units_sold",
        "status",
        "updated_at",
        event_history,
    ]
    list_filter = ["status", "category"]
    search_fields = ["sku", "name"]
    search_help_text = "SKU, name or product id."
    date_hierarchy = "updated_at"
    exclude = ["search_vector"]
    readonly_fields = [event_history]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("search_vector")


@admin.register(OrderSummary)
class OrderSummaryAdmin(UUIDSearchMixin, ReadOnlyAdmin):
    list_display = ["order_id", "customer_name", "status", "item_count", "total", "placed_at", event_history]
    list_filter = ["status", "placed_at"]
    search_fields = ["customer_name", "customer_email"]
    search_help_text = "Customer name or e-mail, or an order id."
    date_hierarchy = "placed_at"
    exclude = ["lines"]
    readonly_fields = ["order_lines", "customer_history", event_history]

    @admin.display(description="lines")
    def order_lines(self, order):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ([line.get(key, "") for key in ("sku", "product_name", "quantity", "unit_price")] for line in order.lines),
        )
        header = mark_safe("<tr><th>SKU</th><th>Product</th><th>Quantity</th><th>Unit price</th></tr>")
        return format_html("<table><thead>{}</thead><tbody>{}</tbody></table>", header, rows)

    @admin.display(description="Customer's history")
    def customer_history(self, order):
        return stream_link(order.customer_id, "Customer's event history")


@admin.register(CustomerOrderHistory)
class CustomerOrderHistoryAdmin(UUIDSearchMixin, ReadOnlyAdmin):
    list_display = ["name", "email", "order_count", "lifetime_value", "last_order_at", event_history]
    list_filter = ["last_order_at"]
    search_fields = ["name", "email"]
    search_help_text = "Name, e-mail or customer id."
    date_hierarchy = "last_order_at"
    readonly_fields = [event_history]


@admin.register(DailySales)
class DailySalesAdmin(ReadOnlyAdmin):
    list_display = ["date", "orders_placed", "items_sold", "revenue", "orders_cancelled", "revenue_cancelled"]
    date_hierarchy = "date"
