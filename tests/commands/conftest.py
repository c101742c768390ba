from decimal import Decimal

import pytest

from commands.commands import DiscontinueProduct, PayOrder, ShipOrder
from commands.handlers import dispatch
from tests.factories import ProductFactory, place_order


@pytest.fixture
def product(db):
    """A product with 10 units in stock at 9.99."""
    return ProductFactory(price=Decimal("9.99"), stock=10)


@pytest.fixture
def discontinued_product(staff_user):
    product = ProductFactory(price=Decimal("5.00"), stock=10)
    dispatch(DiscontinueProduct(product_id=product.pk), staff_user)
    product.refresh_from_db()
    return product


@pytest.fixture
def placed_order(customer, product):
    """The customer's order for 3 of `product`, which leaves 7 in stock."""
    return place_order(customer, {product: 3})


@pytest.fixture
def paid_order(placed_order):
    dispatch(PayOrder(order_id=placed_order.pk), placed_order.customer.user)
    placed_order.refresh_from_db()
    return placed_order


@pytest.fixture
def shipped_order(paid_order, staff_user):
    dispatch(ShipOrder(order_id=paid_order.pk), staff_user)
    paid_order.refresh_from_db()
    return paid_order
