"""The low-stock alert: catalog managers get one e-mail each time a product's stock falls below the threshold."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail

from core.routers import READ_PRIMARY
from projections.models import Checkpoint, OutgoingEmail, StockLevel
from tests.factories import (
    CatalogManagerFactory,
    CustomerFactory,
    ProductFactory,
    StaffFactory,
    UserFactory,
    place_order,
)
from tests.projections.helpers import cancel, restock
from tests.projections.helpers import project as follow

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _threshold_of_five(settings):
    settings.LOW_STOCK_THRESHOLD = 5


@pytest.fixture
def manager(db):
    return CatalogManagerFactory()


@pytest.fixture
def kettle(db):
    return ProductFactory(sku="KETTLE", name="Copper Kettle", stock=10)


def alerts() -> list:
    return [email for email in mail.outbox if email.subject.startswith("Low stock")]


def test_a_fall_below_the_threshold_sends_one_email_however_many_orders_follow(manager, customer, kettle):
    place_order(customer, {kettle: 3})  # 7 left
    place_order(customer, {kettle: 3})  # 4 left: below
    place_order(customer, {kettle: 2})  # 2 left: still below

    follow("low_stock")

    [alert] = alerts()
    assert alert.to == [manager.email]
    assert alert.subject == "Low stock: KETTLE"
    assert "KETTLE Copper Kettle: 4 left" in alert.body
    assert StockLevel.objects.using(READ_PRIMARY).get(pk=kettle.pk).stock == 2


def test_each_order_followed_on_its_own_still_sends_one_email(manager, customer, kettle):
    for _ in range(4):
        place_order(customer, {kettle: 2})
        follow("low_stock")

    assert len(alerts()) == 1


def test_a_restock_back_to_the_threshold_rearms_the_alert(manager, customer, kettle):
    place_order(customer, {kettle: 6})  # 4 left: first alert
    restock(kettle, 1)  # 5 left: at the threshold again
    place_order(customer, {kettle: 1})  # 4 left: second alert

    follow("low_stock")

    assert len(alerts()) == 2


def test_a_restock_that_stays_below_does_not_rearm_it(manager, customer, kettle):
    place_order(customer, {kettle: 8})  # 2 left
    restock(kettle, 1)  # 3 left
    place_order(customer, {kettle: 1})  # 2 left

    follow("low_stock")

    assert len(alerts()) == 1


def test_a_cancellation_that_puts_the_stock_back_rearms_it(manager, customer, kettle):
    order = place_order(customer, {kettle: 6})  # 4 left
    cancel(order)  # 10 left
    place_order(customer, {kettle: 7})  # 3 left

    follow("low_stock")

    assert len(alerts()) == 2


def test_every_catalog_manager_gets_it_and_nobody_else(manager, customer, kettle):
    by_group = UserFactory()
    group = Group.objects.create(name="Catalog")
    group.permissions.add(Permission.objects.get(codename="manage_catalog"))
    by_group.groups.add(group)
    StaffFactory()
    UserFactory(is_superuser=True)
    CatalogManagerFactory(is_active=False)

    place_order(customer, {kettle: 6})
    follow("low_stock")

    assert sorted(alert.to[0] for alert in alerts()) == sorted([manager.email, by_group.email])


def test_one_order_that_takes_two_products_below_sends_one_email_naming_both(manager, customer, kettle):
    mugs = ProductFactory(sku="MUGS", stock=6)

    place_order(customer, {kettle: 6, mugs: 2})
    follow("low_stock")

    [alert] = alerts()
    assert alert.subject == "Low stock: KETTLE, MUGS"


def test_following_the_log_again_sends_nothing_twice(manager, customer, kettle):
    place_order(customer, {kettle: 6})
    follow("low_stock")
    Checkpoint.objects.using(READ_PRIMARY).filter(name="low_stock").update(position=0)

    follow("low_stock")

    assert len(alerts()) == 1
    assert OutgoingEmail.objects.using(READ_PRIMARY).filter(kind__startswith="low_stock").count() == 1


def test_a_product_registered_with_little_stock_is_not_a_fall(manager, customer):
    scarce = ProductFactory(stock=3)

    place_order(CustomerFactory(), {scarce: 1})
    follow("low_stock")

    assert alerts() == []
