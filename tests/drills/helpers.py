"""What the drills and the end-to-end tests share: a client of the served shop, and the checks after a fault.

The checks: every follower at the head, and read models equal to a rebuild.
"""

from __future__ import annotations

import requests

from commands.eventlog import head_position
from core.routers import READ_PRIMARY
from projections.models import Checkpoint
from projections.rebuild import verify
from projections.registry import registry, replayable_projections
from tests.factories import PASSWORD
from tests.processes import wait_until

# /readyz names the failing check only to staff or the bearer of METRICS_TOKEN: the drills' probes are.
METRICS_TOKEN = "drill-probe-token"
PROBE_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


class Shopper:
    """A client of a served shop, signed in with a token as a factory-made `user`."""

    def __init__(self, base_url: str, user):
        self.base_url = base_url
        self.user = user
        response = requests.post(f"{base_url}/api/auth/token/", json={"username": user.username, "password": PASSWORD})
        response.raise_for_status()
        self.headers = {"Authorization": f"Token {response.json()['token']}"}

    def send(self, path: str, body: dict | None = None) -> requests.Response:
        """POST the command at /api/commands/`path`."""
        return requests.post(f"{self.base_url}/api/commands/{path}", json=body or {}, headers=self.headers, timeout=30)

    def command(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        """Send a command that must answer `expect`; return its body."""
        response = self.send(path, body)
        assert response.status_code == expect, response.text
        return response.json()

    def place_order(self, product) -> requests.Response:
        """Order one of `product`."""
        return self.send("orders/place/", {"lines": [{"product_id": str(product.pk), "quantity": 1}]})

    def query(self, path: str) -> requests.Response:
        """GET /api/queries/`path`."""
        return requests.get(f"{self.base_url}/api/queries/{path}", headers=self.headers, timeout=10)


def positions() -> dict[str, int]:
    return dict(Checkpoint.objects.using(READ_PRIMARY).values_list("name", "position"))


def wait_until_caught_up(*, timeout: float = 90) -> int:
    """Wait until every projection and subscriber has applied the whole log; return the head."""
    head = head_position()
    try:
        wait_until(
            lambda: len(positions()) == len(registry()) and min(positions().values()) >= head,
            timeout=timeout,
            interval=0.2,
        )
    except TimeoutError:
        reached = positions()
        behind = {name: reached.get(name) for name in registry() if reached.get(name, -1) < head}
        raise TimeoutError(f"after {timeout}s these followers are still behind #{head}: {behind}") from None
    return head


def assert_read_models_match_a_rebuild() -> None:
    for projection in replayable_projections().values():
        drift = verify(projection)
        assert drift.total == 0, drift.differences
