"""End to end in a real browser: an operator signs in, rebuilds a projection, retries a failed one, reads the
sales charts and an order's history. Screenshots go to tests/artifacts/.

Runs headless chromium from Debian (.ci/install-browser installs it) through
Playwright; skipped, with the reason, where either is missing. The ORM is only
used before the browser starts and after it stops: Playwright's sync API runs
an event loop, in which Django refuses database calls.
"""

import math
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from commands.eventlog import head_position
from commands.models import OperatorAction
from core.admin import stream_url
from projections.models import Checkpoint, LagSample, RebuildRun
from projections.registry import registry
from queries.models import DailySales
from tests.admin.browser import ARTIFACTS, chromium_page, sync_api
from tests.admin.helpers import OPERATOR_PERMISSIONS, grant, project
from tests.factories import PASSWORD, CustomerFactory, ProductFactory, StaffFactory, place_order
from tests.projections.helpers import broken, cancel, pay, ship

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def shop():
    """A few orders in every state, a failed customer_history, a month of sales and an hour of lag samples."""
    kettle = ProductFactory(sku="KETTLE", name="Copper kettle", price=Decimal("40.00"), stock=100)
    mug = ProductFactory(sku="MUG", name="Blue mug", price=Decimal("8.50"), stock=100)
    teapot = ProductFactory(sku="TEAPOT", name="Stoneware teapot", price=Decimal("25.00"), stock=100)
    ada, bob = CustomerFactory(name="Ada Lovelace"), CustomerFactory(name="Bob Babbage")
    order = place_order(ada, {kettle: 1, mug: 2})
    pay(order)
    ship(order)
    cancel(place_order(bob, {teapot: 1}))
    place_order(bob, {mug: 4})
    # The next payment breaks customer_history (projections run as each command commits: Celery is eager).
    unpaid = place_order(ada, {teapot: 2})
    with broken("customer_history", "OrderPaid", at=head_position() + 1):
        pay(unpaid)
    project()

    today = timezone.localdate()
    DailySales.objects.bulk_create(
        DailySales(date=today - timedelta(days=day), orders_placed=2 + day % 5, revenue=Decimal(60 + 15 * (day % 7)))
        for day in range(1, 30)
    )
    now = timezone.now()
    LagSample.objects.bulk_create(
        LagSample(
            taken_at=now - timedelta(seconds=30 * step),
            name=name,
            position=0,
            lag_events=round((index + 1) * 3 * (1 + math.sin(step / 12 + index))),
            lag_seconds=(index + 1) * (1 + math.cos(step / 10)),
        )
        for step in range(120)
        for index, name in enumerate(registry())
    )
    operator = grant(StaffFactory(username="olivia"), *OPERATOR_PERMISSIONS)
    assert Checkpoint.objects.get(name="customer_history").state == "failed"
    return {"order": order, "operator": operator}


def sign_in(page, live_server, next_url: str) -> None:
    page.goto(live_server.url + reverse("admin:login") + "?next=" + next_url)
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_an_operator_rebuilds_a_projection_retries_another_and_reads_an_orders_history(live_server, shop):
    order_history = stream_url(shop["order"].pk)
    expect = sync_api.expect

    with chromium_page(1440, 900) as page:
        sign_in(page, live_server, reverse("admin:index"))
        page.click("#operations-module >> text=Projection dashboard")
        failed = page.locator("#follower-customer_history")
        expect(failed.locator(".badge")).to_have_text("failed")
        failed.locator("details.error summary").click()
        expect(failed.locator("details.error pre")).to_contain_text("RuntimeError: customer_history broke on purpose")
        expect(page.locator("#lag-events-chart svg polyline")).to_have_count(len(registry()))
        page.screenshot(path=ARTIFACTS / "admin-dashboard.png", full_page=True)

        page.click("#follower-order_summary input[value=Rebuild]")
        expect(page.locator(".messagelist")).to_contain_text("Rebuild of order_summary requested")
        # Eager Celery has finished it already; with a worker, the table's auto-refresh shows it finishing.
        expect(page.locator("#follower-order_summary .rebuild .badge")).to_have_text("done")
        page.click("#follower-customer_history >> text=Skip event")
        expect(page.locator("h1")).to_have_text(re.compile(r"Skip event #\d+ for customer_history\?"))
        expect(page.locator("pre.json")).to_contain_text('"amount": "50.00"')
        page.screenshot(path=ARTIFACTS / "admin-skip-confirmation.png", full_page=True)
        page.click("text=No, take me back")  # the operator fixes the cause instead, and retries
        page.click("#follower-customer_history input[value=Retry]")
        expect(page.locator(".messagelist")).to_contain_text("Retried customer_history: it is live again")
        expect(page.locator("#follower-customer_history .badge")).to_have_text("live")
        # The table refreshes itself from the JSON endpoint, without reloading the page.
        expect(page.locator("#followers")).to_have_attribute("data-refreshed", re.compile(r"^\d+$"))
        expect(page.locator("#follower-order_summary .rebuild .badge")).to_have_text("done")
        page.screenshot(path=ARTIFACTS / "admin-dashboard-after-rebuild.png", full_page=True)

        page.click(".ops-tabs >> text=Sales")
        expect(page.locator("#revenue-chart svg rect.bar")).to_have_count(30)
        expect(page.locator("#top-products-chart svg rect.bar")).to_have_count(3)
        page.screenshot(path=ARTIFACTS / "admin-sales.png", full_page=True)

        page.goto(live_server.url + reverse("admin:commands_product_changelist"))
        page.check("input[name=_selected_action] >> nth=0")
        page.check("input[name=_selected_action] >> nth=1")
        page.select_option("select[name=action]", "restock")
        page.click("button[name=index]")
        page.fill("#id_quantity", "5")
        page.screenshot(path=ARTIFACTS / "admin-restock.png", full_page=True)
        page.click("input[name=apply]")
        expect(page.locator(".messagelist li.success")).to_have_count(2)

        page.goto(live_server.url + reverse("admin:commands_order_changelist"))
        page.click(f"a[href='{order_history}']")
        timeline = page.locator(".timeline > li")
        expect(timeline).to_have_count(3)
        for index, event_type in enumerate(["OrderPlaced", "OrderPaid", "OrderShipped"]):
            expect(timeline.nth(index)).to_contain_text(event_type)
        expect(timeline.nth(0).locator("pre.json").first).to_contain_text('"customer_name": "Ada Lovelace"')
        page.screenshot(path=ARTIFACTS / "admin-order-history.png", full_page=True)

    # Back from the browser (its event loop closed), the database tells the same story.
    assert RebuildRun.objects.get().state == "done"
    assert Checkpoint.objects.get(name="customer_history").state == "live"
    assert sorted(OperatorAction.objects.values_list("actor_name", "action", "outcome")) == [
        ("olivia", "rebuild", "requested"),
        ("olivia", "restock_product", "done"),
        ("olivia", "restock_product", "done"),
        ("olivia", "retry", "done"),
    ]
