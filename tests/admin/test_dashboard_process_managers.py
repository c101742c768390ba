"""Process managers on the projection dashboard: a row each, retry and skip when failed, never a rebuild."""

import pytest
from django.urls import reverse

from commands.models import StoredEvent
from projections.process_managers.payment_timeout import PaymentTimeout
from tests.admin.helpers import project
from tests.factories import CustomerFactory, ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

DASHBOARD = reverse("admin:dashboard")


def test_each_process_manager_has_a_row_with_retry_and_skip_when_failed_but_no_rebuild(operator_client, monkeypatch):
    order = place_order(CustomerFactory(), {ProductFactory(stock=10): 1})
    placed_at = StoredEvent.objects.get(stream_id=order.pk).position

    handle = PaymentTimeout.handle

    def broken(self, batch):
        if any(recorded.position == placed_at for recorded in batch):
            raise RuntimeError("payment_timeout broke on purpose")
        return handle(self, batch)

    monkeypatch.setattr(PaymentTimeout, "handle", broken)
    project()

    page = operator_client.get(DASHBOARD).content.decode()

    row = page.split('id="follower-payment_timeout"', 1)[1].split("</tr>", 1)[0]
    assert "process_manager &middot; queue notifications" in row
    assert '<span class="badge failed">failed</span>' in row
    assert 'value="Rebuild"' not in row
    assert reverse("admin:dashboard_retry", args=["payment_timeout"]) in row
    assert reverse("admin:dashboard_skip", args=["payment_timeout"]) in row
    low_stock = page.split('id="follower-low_stock"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge live">live</span>' in low_stock
    confirmation = operator_client.get(reverse("admin:dashboard_skip", args=["payment_timeout"])).content.decode()
    assert f"Skip event #{placed_at} for payment_timeout?" in confirmation
    assert "deadline or command) will never happen for this event" in confirmation
