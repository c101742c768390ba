"""In a real browser: the live order page shows `paid` once the order is paid through the API, without a reload.

The shop is served for real (scripts/serve, a Celery worker, Redis): the page's
EventSource holds the stream open with the session cookie it signed in with.
"""

import re

import pytest

from tests.admin.browser import ARTIFACTS, chromium_page, sync_api
from tests.drills.helpers import Shopper
from tests.e2e.test_live_stream import a_customer, a_shop, order_one
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_the_live_order_page_shows_paid_without_a_reload(services):
    base_url, _, _, kettle = a_shop(services)
    alice: Shopper = a_customer(base_url)
    order = order_one(alice, kettle)
    expect = sync_api.expect

    with chromium_page(1000, 700) as page:
        loads = []
        page.on("load", lambda _: loads.append(page.url))

        page.goto(f"{base_url}/orders/{order['id']}/")
        page.fill("#id_username", alice.user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        expect(page).to_have_url(re.compile(rf"/orders/{order['id']}/$"))
        expect(page.locator("#status")).to_have_text("placed")
        expect(page.locator("#live")).to_contain_text("Live")
        loads_before = len(loads)

        alice.command(f"orders/{order['id']}/pay/")

        expect(page.locator("#status")).to_have_text("paid")
        assert len(loads) == loads_before  # no reload: the stream changed the page
        page.screenshot(path=ARTIFACTS / "live-order-page.png", full_page=True)
