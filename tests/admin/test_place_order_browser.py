"""End to end in a real browser: a customer comes in at /, signs in, finds PlaceOrder from the API root and
places an order from its page in the browsable API. A screenshot goes to tests/artifacts/.

The ORM is only used before the browser starts and after it stops: Playwright's
sync API runs an event loop, in which Django refuses database calls.
"""

import re

import pytest

from commands.models import Order
from tests.admin.browser import ARTIFACTS, chromium_page, sync_api
from tests.factories import CustomerFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def test_a_customer_places_an_order_from_the_browsable_api(live_server):
    customer = CustomerFactory()
    username = customer.user.username
    kettle = ProductFactory(sku="KETTLE", name="Copper kettle", stock=5)
    expect = sync_api.expect

    with chromium_page(1280, 900) as page:
        page.goto(live_server.url + "/")
        page.screenshot(path=ARTIFACTS / "landing.png", full_page=True)
        page.click("text=sign in")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        expect(page).to_have_url(re.compile(r"/api/$"))
        page.screenshot(path=ARTIFACTS / "api-root.png", full_page=True)
        page.click("a:has-text('/api/commands/orders/place/')")
        expect(page.locator(".breadcrumb li").first).to_have_text("Shopfront API")
        raw_body = page.locator("#id__content")
        expect(raw_body).to_have_value(re.compile(str(kettle.pk)))
        page.screenshot(path=ARTIFACTS / "api-place-order-form.png", full_page=True)

        page.click("#post-generic-content-form button:has-text('POST')")
        expect(page.locator(".response-info")).to_contain_text("HTTP 201 Created")
        page.screenshot(path=ARTIFACTS / "api-place-order-placed.png", full_page=True)

    order = Order.objects.get()
    assert order.customer == customer
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [(kettle.pk, 1)]
