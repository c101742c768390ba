"""End to end on PostgreSQL: beat and a real worker cancel an unpaid order, leave a paid one alone, and warn the
catalog managers once about the stock the orders took below the threshold."""

from pathlib import Path

import pytest

from commands.models import StoredEvent
from projections.process_managers.models import IssuedCommand
from queries.models import OrderSummary, ProductCatalog
from tests.drills.helpers import wait_until_caught_up
from tests.e2e.test_api_through_worker import Shopper
from tests.factories import CatalogManagerFactory, StaffFactory, UserFactory
from tests.processes import service_environment, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def subjects(mail_dir: Path) -> list[str]:
    messages = [path.read_text() for path in mail_dir.glob("*.log")] if mail_dir.exists() else []
    return [line for message in messages for line in message.splitlines() if line.startswith("Subject:")]


def test_beat_cancels_the_unpaid_order_once_and_the_low_stock_alert_goes_out_once(services, tmp_path):
    mail_dir = tmp_path / "mail"
    _, redis_url = services.redis()
    environment = service_environment(
        redis_url,
        ORDER_PAYMENT_TIMEOUT_SECONDS="2",
        LOW_STOCK_THRESHOLD="5",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
    )
    base_url = services.web(environment)
    services.worker(environment)
    services.beat(environment)
    CatalogManagerFactory()
    staff = Shopper(base_url, StaffFactory())
    alice, bob = Shopper(base_url, UserFactory()), Shopper(base_url, UserFactory())
    mug = staff.command(
        "products/register/", {"sku": "MUG", "name": "Mug", "category": "kitchen", "price": "8.00", "stock": 10}, 201
    )
    for shopper in (alice, bob):
        shopper.command("customers/register/", {}, 201)
    unpaid = alice.command("orders/place/", {"lines": [{"product_id": mug["id"], "quantity": 3}]}, 201)
    paid = bob.command("orders/place/", {"lines": [{"product_id": mug["id"], "quantity": 3}]}, 201)  # 4 left
    bob.command(f"orders/{paid['id']}/pay/")

    def cancelled() -> bool:
        return OrderSummary.objects.using("read").filter(pk=unpaid["id"], status="cancelled").exists()

    wait_until(cancelled, timeout=90, interval=0.5, what="the unpaid order to be cancelled by beat")
    wait_until_caught_up()
    wait_until(lambda: len(subjects(mail_dir)) >= 4, timeout=30, interval=0.5, what="the e-mails")

    summaries = {str(row.pk): row for row in OrderSummary.objects.using("read").all()}
    assert (summaries[unpaid["id"]].status, summaries[unpaid["id"]].cancellation_reason) == (
        "cancelled",
        "payment_timeout",
    )
    assert summaries[paid["id"]].status == "paid"
    assert ProductCatalog.objects.using("read").get(pk=mug["id"]).stock_available == 7
    assert StoredEvent.objects.filter(type="OrderCancelled").count() == 1
    assert (
        IssuedCommand.objects.get().trigger_position
        == StoredEvent.objects.get(stream_id=unpaid["id"], type="OrderPlaced").position
    )
    sent = subjects(mail_dir)
    assert sum("is confirmed" in subject for subject in sent) == 2
    assert sum("is cancelled" in subject for subject in sent) == 1
    assert sum("Low stock: MUG" in subject for subject in sent) == 1
