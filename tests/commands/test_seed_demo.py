"""seed_demo: demo data made only through the command handlers, so the event log tells the same story."""

from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from commands.demo import DEMO_ADMIN_PASSWORD, DEMO_CUSTOMER_PASSWORD, DemoError, seed_demo
from commands.models import Customer, Order, OrderStatus, Product, StoredEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

SMALL = {"products": 12, "customers": 5, "orders": 30}


def _event_counts() -> Counter:
    return Counter(StoredEvent.objects.values_list("type", flat=True))


def _story(data) -> list:
    """What a run made, without its ids, SKUs or usernames: the part a seed decides."""
    products = Product.objects.in_bulk(data.product_ids)
    customers = Customer.objects.in_bulk(data.customer_ids)
    orders = Order.objects.prefetch_related("lines__product").select_related("customer").in_bulk(data.order_ids)
    return [
        [(products[i].name, products[i].category, products[i].price) for i in data.product_ids],
        [customers[i].name for i in data.customer_ids],
        [
            (
                orders[i].customer.name,
                orders[i].status,
                sorted((line.product.name, line.quantity) for line in orders[i].lines.all()),
            )
            for i in data.order_ids
        ],
    ]


def test_it_makes_the_products_customers_and_orders_asked_for():
    data = seed_demo(**SMALL, seed=3)

    assert Product.objects.count() == len(data.product_ids) == 12
    assert Customer.objects.count() == len(data.customer_ids) == 5
    assert Order.objects.count() == len(data.order_ids) == 30
    assert Product.objects.values("category").distinct().count() >= 4
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus)
    assert Counter(Order.objects.values_list("status", flat=True)) == data.order_statuses


def test_every_change_is_in_the_event_log():
    data = seed_demo(**SMALL, seed=3)

    events = _event_counts()
    statuses = data.order_statuses
    cancelled_after_paying = sum(
        1 for e in StoredEvent.objects.filter(type="OrderCancelled") if e.data["previous_status"] == "paid"
    )
    assert events["ProductRegistered"] == 12
    assert events["CustomerRegistered"] == 5
    assert events["OrderPlaced"] == 30
    assert events["OrderPaid"] == statuses["paid"] + statuses["shipped"] + cancelled_after_paying
    assert events["OrderShipped"] == statuses["shipped"]
    assert events["OrderCancelled"] == statuses["cancelled"]
    assert sum(events.values()) == data.commands
    correlation_ids = {e.metadata["correlation_id"] for e in StoredEvent.objects.all()}
    assert len(correlation_ids) == 1
    assert correlation_ids.pop().startswith("seed_demo:")


def test_stock_never_goes_negative_and_matches_the_event_log():
    seed_demo(products=4, customers=3, orders=60, seed=5)  # few products, so stock runs low

    replayed: Counter = Counter()
    for event in StoredEvent.objects.order_by("position"):
        data = event.data
        if event.type == "ProductRegistered":
            replayed[data["product_id"]] = data["stock"]
        elif event.type == "ProductRestocked":
            replayed[data["product_id"]] += data["quantity"]
        elif event.type in ("OrderPlaced", "OrderCancelled"):
            sign = -1 if event.type == "OrderPlaced" else 1
            for line in data["lines"]:
                replayed[line["product_id"]] += sign * line["quantity"]
        assert min(replayed.values()) >= 0, f"stock negative after event #{event.position}"
    assert _event_counts()["ProductRestocked"] > 0
    assert {str(p.pk): p.stock for p in Product.objects.all()} == dict(replayed)


def test_running_it_again_adds_more_and_the_same_seed_tells_the_same_story():
    first = seed_demo(**SMALL, seed=11)
    second = seed_demo(**SMALL, seed=11)

    assert Product.objects.count() == 24
    assert Customer.objects.count() == 10
    assert Order.objects.count() == 60
    assert _story(first) == _story(second)
    assert not set(first.customer_usernames) & set(second.customer_usernames)
    assert _event_counts()["ProductRegistered"] == 24


def test_a_different_seed_tells_another_story():
    first = seed_demo(**SMALL, seed=1)
    second = seed_demo(**SMALL, seed=2)

    assert _story(first) != _story(second)
    assert len(second.order_ids) == len(first.order_ids)


def test_the_demo_admin_is_made_once_and_customers_share_one_password():
    data = seed_demo(products=2, customers=2, orders=0, seed=1)
    again = seed_demo(products=2, customers=2, orders=0, seed=1)

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert data.admin.created and not again.admin.created
    assert again.admin.password == DEMO_ADMIN_PASSWORD
    assert admin.check_password(DEMO_ADMIN_PASSWORD)
    for customer in Customer.objects.select_related("user"):
        assert customer.user.check_password(DEMO_CUSTOMER_PASSWORD)


def test_an_existing_admin_keeps_its_own_password():
    UserFactory(username="admin", is_staff=True)

    data = seed_demo(products=1, customers=0, orders=0, seed=1)

    assert not data.admin.created
    assert data.admin.password is None


def test_an_existing_admin_who_is_not_staff_is_refused():
    UserFactory(username="admin")

    with pytest.raises(DemoError, match="not staff"):
        seed_demo(products=1, customers=0, orders=0)
    assert not get_user_model().objects.get(username="admin").is_staff


def test_orders_alone_use_the_existing_products_and_customers():
    seed_demo(products=5, customers=3, orders=0, seed=1)

    data = seed_demo(products=0, customers=0, orders=8, seed=1)

    assert len(data.order_ids) == 8
    assert Order.objects.count() == 8
    assert Customer.objects.count() == 3


def test_orders_without_any_customer_are_refused():
    with pytest.raises(DemoError, match="need products and customers"):
        seed_demo(products=3, customers=0, orders=1)


# --- The management command ---------------------------------------------------


def test_the_command_draws_progress_and_says_how_to_sign_in(settings):
    settings.DEBUG = True
    out = StringIO()

    call_command("seed_demo", "--products=6", "--customers=4", "--orders=12", "--seed=7", stdout=out)

    output = out.getvalue()
    assert "\r[" + "#" * 30 + "] 12/12 orders\n" in output
    assert "] 6/6 products" in output and "] 4/4 customers" in output
    assert "Made 6 products, 4 customers and 12 orders" in output
    assert "--seed 7" in output
    assert "http://127.0.0.1:8000/admin/" in output
    assert f"admin / {DEMO_ADMIN_PASSWORD}" in output
    assert DEMO_CUSTOMER_PASSWORD in output
    assert "http://127.0.0.1:8000/api/" in output
    assert Order.objects.count() == 12


def test_the_command_is_quiet_at_verbosity_zero(settings):
    settings.DEBUG = True
    out = StringIO()

    call_command("seed_demo", "--products=2", "--customers=1", "--orders=1", verbosity=0, stdout=out)

    assert "\r[" not in out.getvalue()


def test_if_empty_seeds_an_empty_catalog_only(settings):
    settings.DEBUG = True
    call_command("seed_demo", "--products=3", "--customers=1", "--orders=2", "--if-empty", stdout=StringIO())
    out = StringIO()

    call_command("seed_demo", "--products=3", "--customers=1", "--orders=2", "--if-empty", stdout=out)

    assert "already has 3 products" in out.getvalue()
    assert Product.objects.count() == 3


def test_the_command_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", "--products=1", stdout=StringIO())
    assert not Product.objects.exists()

    call_command("seed_demo", "--products=1", "--customers=0", "--orders=0", "--force", stdout=StringIO())
    assert Product.objects.count() == 1


def test_the_command_refuses_negative_counts(settings):
    settings.DEBUG = True

    with pytest.raises(CommandError, match="must be 0 or more"):
        call_command("seed_demo", "--orders=-1", stdout=StringIO())
