"""The sales page: revenue and orders per day over 30 or 90 days, and the best sellers, drawn as inline SVG."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from queries.models import DailySales, ProductCatalog
from tests.admin.helpers import grant
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")

SALES = reverse("admin:dashboard_sales")


@pytest.fixture
def sales():
    today = timezone.localdate()
    DailySales.objects.bulk_create(
        [
            DailySales(date=today, orders_placed=3, revenue=Decimal("120.50")),
            DailySales(date=today - timedelta(days=2), orders_placed=1, revenue=Decimal("10.00")),
            DailySales(date=today - timedelta(days=40), orders_placed=7, revenue=Decimal("700.00")),
        ]
    )
    return today


def catalog(count: int) -> None:
    ProductCatalog.objects.bulk_create(
        ProductCatalog(
            product_id=uuid.uuid4(),
            sku=f"P{n:02d}",
            name=f"Product {n:02d}",
            category="books",
            price=Decimal("1.00"),
            units_sold=n,
            updated_at=timezone.now(),
        )
        for n in range(count)
    )


def tooltips(svg: str) -> list[str]:
    """Each bar's tooltip, in order."""
    return re.findall(r'class="bar"[^>]*><title>([^<]*)</title>', svg)


def test_the_last_30_days_have_a_bar_per_day_with_the_days_revenue(viewer_client, sales):
    response = viewer_client.get(SALES)

    assert response.status_code == 200
    revenue = tooltips(str(response.context["revenue_chart"]))
    orders = tooltips(str(response.context["orders_chart"]))
    assert len(revenue) == len(orders) == 30
    assert revenue[-1] == f"{sales:%b %d}: 120.50"
    assert revenue[-3] == f"{sales - timedelta(days=2):%b %d}: 10.00"
    assert revenue[-2].endswith(": 0.00")  # a day without sales
    assert orders[-1] == f"{sales:%b %d}: 3"
    assert (response.context["total_revenue"], response.context["total_orders"]) == (130.5, 4)


def test_the_last_90_days_include_older_sales(viewer_client, sales):
    response = viewer_client.get(SALES, {"days": "90"})

    revenue = tooltips(str(response.context["revenue_chart"]))
    assert len(revenue) == 90
    assert f"{sales - timedelta(days=40):%b %d}: 700.00" in revenue
    assert response.context["total_orders"] == 11


def test_another_window_falls_back_to_30_days(viewer_client, sales):
    assert viewer_client.get(SALES, {"days": "7"}).context["days"] == 30
    assert viewer_client.get(SALES, {"days": "x"}).context["days"] == 30


def test_the_top_10_products_by_units_sold(viewer_client):
    catalog(12)  # units sold 0..11: P00 has sold nothing

    chart = str(viewer_client.get(SALES).context["top_products_chart"])

    assert tooltips(chart) == [f"P{n:02d} Product {n:02d}: {n}" for n in range(11, 1, -1)]


def test_the_charts_are_inline_svg_with_nothing_fetched_from_elsewhere(viewer_client, sales):
    page = viewer_client.get(SALES).content.decode()

    assert page.count('<div class="chart"') == page.count('role="img"') == 3
    assert "<script" not in page.split('<div id="content-main">', 1)[1]
    assert "cdn" not in page.lower()


def test_the_sales_page_needs_the_daily_sales_view_permission(bare_staff_client, non_staff_client):
    assert bare_staff_client.get(SALES).status_code == 403
    assert non_staff_client.get(SALES).status_code == 302


def test_the_best_sellers_need_the_catalog_view_permission(signed_in, sales):
    client = signed_in(grant(StaffFactory(), "queries.view_dailysales"))

    response = client.get(SALES)

    assert response.status_code == 200
    assert "top_products_chart" not in response.context
    assert response.content.decode().count('role="img"') == 2
