"""End to end: commands over HTTP (scripts/serve) -> event log -> a real Celery worker -> read models and e-mail."""

from pathlib import Path

import pytest

from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog
from tests.drills.helpers import Shopper, assert_read_models_match_a_rebuild, wait_until_caught_up
from tests.factories import StaffFactory, UserFactory
from tests.processes import service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_commands_through_the_api_reach_every_read_model_and_send_each_email_once(services, tmp_path):
    mail_dir = tmp_path / "mail"
    _, redis_url = services.redis()
    environment = service_environment(
        redis_url, EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(mail_dir)
    )
    base_url = services.shop(environment)
    staff = Shopper(base_url, StaffFactory())
    alice, bob = Shopper(base_url, UserFactory()), Shopper(base_url, UserFactory())

    mug = staff.command(
        "products/register/", {"sku": "MUG", "name": "Mug", "category": "kitchen", "price": "8.00", "stock": 20}, 201
    )
    pan = staff.command(
        "products/register/", {"sku": "PAN", "name": "Pan", "category": "kitchen", "price": "30.00", "stock": 5}, 201
    )
    for shopper in (alice, bob):
        shopper.command("customers/register/", {}, 201)
    staff.command(f"products/{pan['id']}/change-price/", {"new_price": "25.00"})
    first = alice.command(
        "orders/place/",
        {"lines": [{"product_id": mug["id"], "quantity": 2}, {"product_id": pan["id"], "quantity": 1}]},
        201,
    )
    second = bob.command("orders/place/", {"lines": [{"product_id": mug["id"], "quantity": 1}]}, 201)
    third = alice.command("orders/place/", {"lines": [{"product_id": pan["id"], "quantity": 2}]}, 201)
    alice.command(f"orders/{first['id']}/pay/")
    staff.command(f"orders/{first['id']}/ship/")
    bob.command(f"orders/{second['id']}/pay/")
    bob.command(f"orders/{second['id']}/cancel/", {"reason": "changed my mind"})
    staff.command(f"products/{mug['id']}/restock/", {"quantity": 10})

    wait_until_caught_up()

    statuses = dict(OrderSummary.objects.using("read").values_list("order_id", "status"))
    assert {str(key): value for key, value in statuses.items()} == {
        first["id"]: "shipped",
        second["id"]: "cancelled",
        third["id"]: "placed",
    }
    catalog = {row.sku: row for row in ProductCatalog.objects.using("read").all()}
    assert (catalog["MUG"].stock_available, catalog["MUG"].units_sold) == (20 - 2 + 10, 2)
    assert (catalog["PAN"].stock_available, catalog["PAN"].units_sold, str(catalog["PAN"].price)) == (2, 3, "25.00")
    assert sorted(CustomerOrderHistory.objects.using("read").values_list("order_count", flat=True)) == [1, 2]
    sales = DailySales.objects.using("read").get()
    assert (sales.orders_placed, sales.orders_cancelled, str(sales.revenue_cancelled)) == (3, 1, "8.00")
    assert_read_models_match_a_rebuild()

    messages = [path.read_text() for path in Path(mail_dir).glob("*.log")] if mail_dir.exists() else []
    subjects = [line for message in messages for line in message.splitlines() if line.startswith("Subject:")]
    assert sum("is confirmed" in subject for subject in subjects) == 3
    assert sum("is on its way" in subject for subject in subjects) == 1
