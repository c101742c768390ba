"""Every command can be sent from its page in the browsable API.

Commands whose input an HTML form can express get DRF's form; PlaceOrder,
whose lines are a list, gets the raw-data form alone, filled with an order
that goes through as it stands.
"""

import html
import json
import re

import pytest

from commands.models import Order
from tests.commands.helpers import url
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

LIST_NOT_SUPPORTED = "not currently supported in HTML input"


def _page(client, path: str) -> str:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html"), response.status_code
    return response.content.decode()


def _html_form(page: str, path: str) -> bool:
    return f'<form action="{path}" method="POST" enctype="multipart/form-data"' in page


def _raw_body(page: str) -> str:
    textarea = re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea, "no raw-data form"
    return html.unescape(textarea[1])


def _command_paths(product, order) -> dict[str, str]:
    by_product = ("change-price", "restock-product", "discontinue-product")
    by_order = ("pay-order", "ship-order", "cancel-order")
    return {
        **{name: url(name) for name in ("register-product", "register-customer", "place-order")},
        **{name: url(name, product.pk) for name in by_product},
        **{name: url(name, order.pk) for name in by_order},
    }


def test_every_command_page_has_a_form_that_can_send_it(staff_client, placed_order, product):
    paths = _command_paths(product, placed_order)
    assert len(paths) == 9  # every command (tests/security/test_matrix.py counts the endpoints)
    for name, path in paths.items():
        page = _page(staff_client, path)
        assert LIST_NOT_SUPPORTED not in page, name
        assert _html_form(page, path) != (name == "place-order"), name
        assert _raw_body(page), name


def test_a_command_is_sent_from_its_html_form(staff_client, product):
    page = _page(staff_client, url("restock-product", product.pk))
    assert 'name="quantity"' in page and 'name="expected_version"' in page

    response = staff_client.post(url("restock-product", product.pk), {"quantity": "5", "expected_version": ""})

    assert response.status_code == 200, response.content
    product.refresh_from_db()
    assert product.stock == 15


def test_place_order_s_raw_form_holds_an_order_that_goes_through(customer_client, customer):
    ProductFactory(sku="A-SOLD-OUT", stock=0)
    in_stock = ProductFactory(sku="B-IN-STOCK", stock=3)
    body = _raw_body(_page(customer_client, url("place-order")))
    assert json.loads(body) == {"lines": [{"product_id": str(in_stock.pk), "quantity": 1}]}

    response = customer_client.post(url("place-order"), body, content_type="application/json")

    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.customer, [line.product_id for line in order.lines.all()]) == (customer, [in_stock.pk])


def test_with_nothing_to_order_the_raw_form_shows_the_fields(customer_client):
    body = _raw_body(_page(customer_client, url("place-order")))
    assert "lines" in json.loads(body)


def test_a_visitor_who_is_not_signed_in_gets_no_form(anonymous_client):
    page = _page(anonymous_client, url("place-order"))
    assert "_content" not in page
