"""The live order page /orders/<id>/: its customer sees it, as the detail shows the order; others get a 404."""

from decimal import Decimal

import pytest
from django.test import Client

from commands.eventlog import head_position
from tests.factories import ProductFactory, StaffFactory, place_order
from tests.projections.helpers import pay

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def order(customer):
    order = place_order(customer, {ProductFactory(price=Decimal("20.00"), stock=10): 2})
    pay(order)
    return order


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_its_customer_sees_the_order_and_the_stream_it_listens_to(customer, order):
    response = signed_in(customer.user).get(f"/orders/{order.pk}/")

    assert response.status_code == 200
    assert response.context["order"]["status"] == "paid"
    assert response.context["position"] == head_position()
    stream = f"/api/queries/stream/?topics=order&amp;last_event_id={head_position()}"
    assert stream in response.content.decode()


def test_staff_see_any_order(order):
    assert signed_in(StaffFactory()).get(f"/orders/{order.pk}/").status_code == 200


def test_another_customer_gets_a_404(other_customer, order):
    assert signed_in(other_customer.user).get(f"/orders/{order.pk}/").status_code == 404


def test_an_unknown_order_is_a_404(customer):
    assert signed_in(customer.user).get("/orders/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_visitor_is_sent_to_sign_in_first(order):
    response = Client().get(f"/orders/{order.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/api/auth/login/?next=")
