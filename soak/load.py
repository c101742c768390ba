"""The load: customers register, place, pay and cancel; staff restock, reprice, discontinue and ship; readers read.

A few threads, each with its own seeded random generator and HTTP session, each pausing
between steps so that the load leaves the 2-core machine to the server it measures. A
command goes one of three ways, chosen at random: synchronous; synchronous with an
Idempotency-Key, retried with the same key while the answer is a 503, a 429 or none at
all; or asynchronous (`Prefer: respond-async`), polled at its status resource. After each
acknowledged write, the writer reads what it wrote, sending the write's position as
X-Min-Position and saying which values that read may show (Exchange.expect).

One more actor, soak.stream_reader.StreamReader, reads a customer's orders from the live
stream (server-sent events), resuming with Last-Event-ID after every drop.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import requests

from soak.history import Exchange, History

THINK_SECONDS = (0.1, 0.4)
REQUEST_TIMEOUT = 30.0
RETRIES = 5
# An async command still accepted after this long is left to the end of the run (the sweep re-runs it in 30-40 s).
ASYNC_POLL_SECONDS = 10.0
INITIAL_PRODUCTS = 16
INITIAL_STOCK = 200
LIST_FIELDS = ("id", "stock_available", "units_sold", "price", "status")


@dataclass
class Answer:
    """What a command came to: acknowledged (with its result), refused, or unknown."""

    outcome: str  # acknowledged, refused, unknown, pending (async, still accepted)
    result: dict = field(default_factory=dict)  # id, version, position
    code: str = ""


class Client:
    """One actor's HTTP session: every request it sends goes into the history with its answer."""

    def __init__(self, base_url: str, token: str, history: History, clock: Callable[[], float], name: str):
        self.base_url, self.history, self.clock, self.name = base_url, history, clock, name
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.pending_async: list[tuple[str, str]] = []  # (command id, correlation id) still accepted

    def send(self, op: str, method: str, path: str, body: dict | None = None, headers=None, **record) -> Exchange:
        at = self.clock()
        try:
            response = self.session.request(
                method, self.base_url + path, json=body, headers=headers or {}, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException as error:
            exchange = Exchange(at, self.clock() - at, self.name, op, method, path, 0, error=type(error).__name__)
        else:
            exchange = Exchange(
                at,
                self.clock() - at,
                self.name,
                op,
                method,
                path,
                response.status_code,
                read_position=_integer(response.headers.get("X-Read-Position")),
                event_position=_integer(response.headers.get("X-Event-Position")),
                body=_trimmed(response),
            )
        for name, value in record.items():
            setattr(exchange, name, value)
        self.history.record(exchange)
        return exchange

    def command(self, op: str, path: str, body: dict, mode: str) -> Answer:
        """Send command `op` the way `mode` says (sync, retried, async) and return what it came to."""
        correlation_id = uuid.uuid4().hex
        headers = {"X-Correlation-ID": correlation_id}
        key = ""
        if mode in ("retried", "async"):
            key = headers["Idempotency-Key"] = f"soak-{uuid.uuid4().hex}"
        if mode == "async":
            headers["Prefer"] = "respond-async"
        tries = 1 + (RETRIES if key else 0)
        for attempt in range(1, tries + 1):
            exchange = self.send(
                op,
                "POST",
                f"/api/commands/{path}",
                body,
                headers,
                correlation_id=correlation_id,
                idempotency_key=key,
                is_async=mode == "async",
                attempt=attempt,
            )
            if exchange.status not in (0, 429, 503) or attempt == tries:
                break
            time.sleep(min(0.5 * attempt, 2.0))
        if exchange.status == 202:
            return self._await(exchange.body["command_id"], correlation_id)
        if exchange.status in (200, 201):
            return Answer("acknowledged", exchange.body)
        if 400 <= exchange.status < 500 and exchange.status != 429:
            return Answer("refused", code=exchange.body.get("code", "") if isinstance(exchange.body, dict) else "")
        return Answer("unknown")

    def _await(self, command_id: str, correlation_id: str, seconds: float = ASYNC_POLL_SECONDS) -> Answer:
        deadline = self.clock() + seconds
        while True:
            answer = self.status(command_id, correlation_id)
            if answer.outcome != "pending" or self.clock() > deadline:
                break
            time.sleep(0.3)
        if answer.outcome == "pending":
            self.pending_async.append((command_id, correlation_id))
        return answer

    def status(self, command_id: str, correlation_id: str) -> Answer:
        exchange = self.send(
            "command_status", "GET", f"/api/commands/status/{command_id}/", correlation_id=correlation_id
        )
        state = exchange.body.get("status") if exchange.status == 200 and isinstance(exchange.body, dict) else None
        if state == "succeeded":
            return Answer("acknowledged", exchange.body.get("result") or {})
        if state == "refused":
            return Answer("refused", code=(exchange.body.get("error") or {}).get("code", ""))
        return Answer("pending" if state in (None, "accepted") else "unknown")

    def finish_pending(self, seconds: float) -> None:
        """Poll every async command still accepted until it finishes, for up to `seconds` in all."""
        deadline = self.clock() + seconds
        pending, self.pending_async = self.pending_async, []
        for command_id, correlation_id in pending:
            while self.status(command_id, correlation_id).outcome == "pending" and self.clock() < deadline:
                time.sleep(1.0)

    def read(self, op: str, path: str, *, min_position: int | None = None, expect=None) -> Exchange:
        headers = {"X-Min-Position": str(min_position)} if min_position is not None else {}
        path = f"/api/queries/{path}"
        return self.send(op, "GET", path, None, headers, min_position=min_position, expect=expect or {})


def _integer(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _trimmed(response: requests.Response):
    """The answer's body; a list's rows cut down to the fields the checks read, to keep the history small."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        body = {**body, "results": [{k: row.get(k) for k in LIST_FIELDS} for row in body["results"]]}
    return body


class Catalog:
    """The products the staff made, shared by every actor: those still active, and the paid orders waiting to ship."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active: list[str] = []
        self.paid_orders: list[str] = []

    def pick(self, rng: random.Random, count: int) -> list[str]:
        with self.lock:
            return rng.sample(self.active, min(count, len(self.active)))


class Actor:
    """One thread of the load: `step()` again and again, pausing between steps, until the run stops it."""

    def __init__(self, client: Client, rng: random.Random, catalog: Catalog):
        self.client, self.rng, self.catalog = client, rng, catalog

    def mode(self) -> str:
        return self.rng.choices(["sync", "retried", "async"], weights=[45, 30, 25])[0]

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
            stop.wait(self.rng.uniform(*THINK_SECONDS))

    def step(self) -> None:
        raise NotImplementedError

    def browse(self) -> None:
        page = self.rng.randint(1, 2)
        self.client.read("browse_products", f"products/?page_size=10&page={page}")


class Staff(Actor):
    """Registers the products, then restocks, reprices, discontinues now and then, and ships what was paid."""

    def register_product(self, mode: str = "retried") -> None:
        sku = f"SOAK-{uuid.uuid4().hex[:10].upper()}"
        price = Decimal(self.rng.randint(200, 9000)) / 100
        body = {"sku": sku, "name": f"Soak product {sku[-4:]}", "category": "soak", "price": str(price)}
        answer = self.client.command("RegisterProduct", "products/register/", {**body, "stock": INITIAL_STOCK}, mode)
        if answer.outcome == "acknowledged":
            with self.catalog.lock:
                self.catalog.active.append(answer.result["id"])

    def stock_the_shop(self) -> None:
        while len(self.catalog.active) < INITIAL_PRODUCTS:
            self.register_product()

    def step(self) -> None:
        actions = ["ship", "restock", "reprice", "discontinue", "register", "browse"]
        action = self.rng.choices(actions, [35, 25, 20, 3, 7, 10])[0]
        if action == "ship" and self.catalog.paid_orders:
            with self.catalog.lock:
                order = self.catalog.paid_orders.pop(0)
            answer = self.client.command("ShipOrder", f"orders/{order}/ship/", {}, self.mode())
            self._read_own("read_order", f"orders/{order}/", answer, {"status": ["shipped"]})
        elif action == "restock" and self.catalog.active:
            (product,) = self.catalog.pick(self.rng, 1)
            body = {"quantity": self.rng.randint(20, 60)}
            answer = self.client.command("RestockProduct", f"products/{product}/restock/", body, self.mode())
            self._read_own("read_product", f"products/{product}/", answer, {})
        elif action == "reprice" and self.catalog.active:
            (product,) = self.catalog.pick(self.rng, 1)
            price = Decimal(self.rng.randint(200, 9000)) / 100
            body = {"new_price": str(price)}
            answer = self.client.command("ChangePrice", f"products/{product}/change-price/", body, self.mode())
            # Only this actor reprices, one command at a time: its read must show the price it set.
            self._read_own("read_product", f"products/{product}/", answer, {"price": [str(price)]})
        elif action == "discontinue" and len(self.catalog.active) > INITIAL_PRODUCTS // 2:
            with self.catalog.lock:
                product = self.catalog.active.pop(self.rng.randrange(len(self.catalog.active)))
            answer = self.client.command("DiscontinueProduct", f"products/{product}/discontinue/", {}, self.mode())
            self._read_own("read_product", f"products/{product}/", answer, {"status": ["discontinued"]})
        elif action == "register":
            self.register_product(self.mode())
        else:
            self.browse()

    def _read_own(self, op: str, path: str, answer: Answer, expect: dict) -> None:
        if answer.outcome == "acknowledged" and answer.result.get("position"):
            self.client.read(op, path, min_position=answer.result["position"], expect=expect)


class Customer(Actor):
    """Registers, then places orders, pays some, cancels some, and reads its own orders."""

    def __init__(self, client: Client, rng: random.Random, catalog: Catalog, username: str):
        super().__init__(client, rng, catalog)
        self.username = username
        self.customer_id: str | None = None
        self.registration_key = f"soak-register-{uuid.uuid4().hex}"
        self.orders: dict[str, str] = {}  # order id -> the status we last made it

    def step(self) -> None:
        if self.customer_id is None:
            return self.register()
        placed = [order for order, status in self.orders.items() if status == "placed"]
        open_orders = [order for order, status in self.orders.items() if status in ("placed", "paid")]
        action = self.rng.choices(["place", "pay", "cancel", "read", "browse"], [35, 30, 10, 10, 15])[0]
        if action == "pay" and placed:
            order = self.rng.choice(placed)
            answer = self.client.command("PayOrder", f"orders/{order}/pay/", {}, self.mode())
            self._learn(order, answer, "paid", {"status": ["paid", "shipped"]})
            if answer.outcome == "acknowledged":
                with self.catalog.lock:
                    self.catalog.paid_orders.append(order)
        elif action == "cancel" and open_orders:
            order = self.rng.choice(open_orders)
            answer = self.client.command("CancelOrder", f"orders/{order}/cancel/", {"reason": "soak"}, self.mode())
            self._learn(order, answer, "cancelled", {"status": ["cancelled"]})
        elif action == "read" and self.orders:
            self.client.read("read_order", f"orders/{self.rng.choice(list(self.orders))}/")
        elif action in ("place", "pay", "cancel", "read"):
            self.place()
        else:
            self.browse()

    def register(self) -> None:
        body = {"name": f"Soak {self.username}", "email": f"{self.username}@example.com"}
        correlation_headers = {"Idempotency-Key": self.registration_key}
        exchange = self.client.send(
            "RegisterCustomer",
            "POST",
            "/api/commands/customers/register/",
            body,
            {**correlation_headers, "X-Correlation-ID": self.registration_key},
            correlation_id=self.registration_key,
            idempotency_key=self.registration_key,
        )
        if exchange.status == 201:
            self.customer_id = exchange.body["id"]
            self.client.read(
                "read_customer",
                f"customers/{self.customer_id}/",
                min_position=exchange.body["position"],
                expect={"name": [body["name"]]},
            )

    def place(self) -> None:
        products = self.catalog.pick(self.rng, self.rng.randint(1, 3))
        if not products:
            return
        lines = [{"product_id": product, "quantity": self.rng.randint(1, 3)} for product in products]
        answer = self.client.command("PlaceOrder", "orders/place/", {"lines": lines}, self.mode())
        if answer.outcome == "acknowledged":
            self._learn(answer.result["id"], answer, "placed", {"status": ["placed"]})

    def _learn(self, order: str, answer: Answer, status: str, expect: dict) -> None:
        if answer.outcome == "acknowledged":
            self.orders[order] = status
            if answer.result.get("position"):
                position = answer.result["position"]
                self.client.read("read_order", f"orders/{order}/", min_position=position, expect=expect)
        elif answer.outcome == "refused" and answer.code == "illegal_status_change":
            self.orders.pop(order, None)  # shipped (or cancelled) meanwhile: leave it be
