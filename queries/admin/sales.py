"""The sales charts page of the operator dashboard: revenue and orders per day, the best sellers.

Served inside the admin site (config.admin), behind its staff login; reading needs
the daily sales view permission, the best sellers the catalog's.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.safestring import mark_safe

from core import charts
from core.admin import require_permission
from queries.models import DailySales, ProductCatalog

VIEW_SALES = "queries.view_dailysales"
VIEW_CATALOG = "queries.view_productcatalog"

SALES_WINDOWS = (30, 90)  # days
TOP_PRODUCTS = 10


def urls(site) -> list:
    """The sales page's URL, to serve inside the admin site (named admin:dashboard_sales)."""
    return [path("dashboard/sales/", site.admin_view(sales_page), name="dashboard_sales")]


def sales_page(request):
    require_permission(request, VIEW_SALES)
    days = next((window for window in SALES_WINDOWS if request.GET.get("days") == str(window)), SALES_WINDOWS[0])
    today = timezone.localdate()
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    sales = {row.date: row for row in DailySales.objects.filter(date__gte=dates[0], date__lte=today)}
    revenue = [(f"{day:%b %d}", float(sales[day].revenue) if day in sales else 0.0) for day in dates]
    orders = [(f"{day:%b %d}", sales[day].orders_placed if day in sales else 0) for day in dates]
    context = {
        **admin.site.each_context(request),
        "title": "Sales",
        "tab": "sales",
        "days": days,
        "windows": SALES_WINDOWS,
        "total_revenue": sum((row.revenue for row in sales.values()), Decimal(0)),
        "total_orders": sum(row.orders_placed for row in sales.values()),
        "revenue_chart": mark_safe(  # the charts escape every text they draw
            charts.bar_chart(revenue, value_format=_money, label=f"Revenue per day, last {days} days")
        ),
        "orders_chart": mark_safe(
            charts.bar_chart(orders, value_format=_count, min_step=1, label=f"Orders per day, last {days} days")
        ),
        "can_view_catalog": request.user.has_perm(VIEW_CATALOG),
    }
    if context["can_view_catalog"]:
        best = (
            ProductCatalog.objects.filter(units_sold__gt=0)
            .order_by("-units_sold", "name")
            .only("sku", "name", "units_sold")[:TOP_PRODUCTS]
        )
        points = [(f"{product.sku} {product.name}", product.units_sold) for product in best]
        context["top_products_chart"] = mark_safe(
            charts.hbar_chart(points, value_format=_count, label=f"Top {TOP_PRODUCTS} products by units sold")
        )
    return TemplateResponse(request, "admin/dashboard/sales.html", context)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _count(value: float) -> str:
    return f"{value:,.0f}"
