"""The live stream served for real: scripts/serve (ASGI), Celery workers announcing checkpoints, Redis, PostgreSQL.

Each test reads the stream over HTTP as a client would. Where a test must show
that an announcement (not the periodic re-read) delivered a change, the
heartbeat, which is also the re-read's period, is set far beyond the read's timeout.
"""

import pytest

from commands.eventlog import head_position
from tests.drills.helpers import Shopper
from tests.factories import StaffFactory, UserFactory
from tests.processes import service_environment, wait_until
from tests.queries.sse import Listening

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

NO_REREAD = {"STREAM_HEARTBEAT_SECONDS": "300"}  # only announcements can deliver within the tests' timeouts
QUICK_HEARTBEAT = {"STREAM_HEARTBEAT_SECONDS": "0.5"}


def a_shop(services, **overrides):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **overrides)
    base_url = services.shop(environment)
    staff = Shopper(base_url, StaffFactory())
    kettle = register_a_kettle(staff)
    return base_url, environment, staff, kettle


def register_a_kettle(staff: Shopper) -> dict:
    return staff.command(
        "products/register/",
        {"sku": "KETTLE", "name": "Kettle", "category": "kitchen", "price": "20.00", "stock": 50},
        201,
    )


def a_customer(base_url) -> Shopper:
    shopper = Shopper(base_url, UserFactory())
    shopper.command("customers/register/", {}, 201)
    return shopper


def order_one(shopper: Shopper, product: dict) -> dict:
    return shopper.command("orders/place/", {"lines": [{"product_id": product["id"], "quantity": 1}]}, 201)


def stream_url(base_url: str, topics: str) -> str:
    return f"{base_url}/api/queries/stream/?topics={topics}"


def order_events(parser) -> list[tuple[str, str, int]]:
    return [(event.data["id"], event.data["status"], event.id) for event in parser.events if event.topic == "order"]


def order_summary_positions(parser) -> set[int]:
    return {event.data["position"] for event in parser.events if event.data["name"] == "order_summary"}


def test_a_customer_hears_their_order_paid_and_another_customer_never_does(services):
    base_url, _, staff, kettle = a_shop(services, **NO_REREAD)
    alice, bob = a_customer(base_url), a_customer(base_url)
    order = order_one(alice, kettle)

    alices = Listening(
        stream_url(base_url, "order"),
        headers=alice.headers,
        until=lambda parser: any(event.data["status"] == "paid" for event in parser.events),
    )
    # Bob hears the catalog too: a price change after the payment shows his stream has read past it.
    bobs = Listening(
        stream_url(base_url, "order,product"),
        headers=bob.headers,
        until=lambda parser: any(event.topic == "product" for event in parser.events),
    )
    # Staff (the projection dashboard) hear each follower's status as they connect, and again as it moves:
    # until order_summary has projected the payment (its position is known once the payment is made).
    payment = {}
    statuses = Listening(
        stream_url(base_url, "projection"),
        headers=staff.headers,
        until=lambda parser: bool(payment) and max(order_summary_positions(parser), default=0) >= payment["position"],
    )
    paid = alice.command(f"orders/{order['id']}/pay/")
    payment.update(paid)
    staff.command(f"products/{kettle['id']}/change-price/", {"new_price": "22.00"})

    assert order_events(alices.result()) == [(order["id"], "paid", paid["position"])]
    heard_by_staff = statuses.result()
    assert {event.data["name"] for event in heard_by_staff.events} >= {"order_summary", "product_catalog"}
    assert len(order_summary_positions(heard_by_staff)) >= 2
    assert max(order_summary_positions(heard_by_staff)) >= paid["position"]
    heard_by_bob = bobs.result().events
    assert [event.topic for event in heard_by_bob] == ["product"]
    assert heard_by_bob[0].id > paid["position"]


def test_a_change_reaches_its_stream_on_its_commit_with_no_follower_running(services):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **NO_REREAD)
    base_url = services.web(environment)  # no worker: no projection applies the change, none announces it
    staff = Shopper(base_url, StaffFactory())
    alice = a_customer(base_url)
    order = order_one(alice, register_a_kettle(staff))

    alices = Listening(stream_url(base_url, "order"), headers=alice.headers, until=lambda parser: bool(parser.events))
    paid = alice.command(f"orders/{order['id']}/pay/")

    assert order_events(alices.result()) == [(order["id"], "paid", paid["position"])]


def test_resuming_at_a_last_event_id_delivers_exactly_the_missed_changes_in_order_even_from_a_new_web_process(
    services,
):
    base_url, environment, staff, kettle = a_shop(services, **QUICK_HEARTBEAT)
    alice = a_customer(base_url)
    first, second = order_one(alice, kettle), order_one(alice, kettle)
    first_paid = Listening(
        stream_url(base_url, "order"), headers=alice.headers, until=lambda parser: bool(parser.events)
    )
    paid = alice.command(f"orders/{first['id']}/pay/")
    assert order_events(first_paid.result()) == [(first["id"], "paid", paid["position"])]

    # While alice is away: three changes to her orders, and one to someone else's.
    shipped = staff.command(f"orders/{first['id']}/ship/")
    second_paid = alice.command(f"orders/{second['id']}/pay/")
    order_one(a_customer(base_url), kettle)
    third = order_one(alice, kettle)
    head = head_position()

    _, fresh_web = services.web_server(environment)  # a web process that never saw her: the log is the cursor
    resumed = Listening(
        stream_url(fresh_web, "order"),
        headers={**alice.headers, "Last-Event-ID": str(paid["position"])},
        until=lambda parser: parser.last_id is not None and parser.last_id >= head,
    ).result()

    assert order_events(resumed) == [
        (first["id"], "shipped", shipped["position"]),
        (second["id"], "paid", second_paid["position"]),
        (third["id"], "placed", third["position"]),
    ]


def test_a_redis_restart_between_two_changes_loses_neither(services):
    redis, redis_url = services.redis()
    environment = service_environment(redis_url, **NO_REREAD)
    base_url = services.shop(environment)
    staff = Shopper(base_url, StaffFactory())
    kettle = register_a_kettle(staff)
    alice = a_customer(base_url)
    order = order_one(alice, kettle)

    statuses = Listening(
        stream_url(base_url, "order"),
        headers=alice.headers,
        until=lambda parser: [event.data["status"] for event in parser.events] == ["paid", "shipped"],
        timeout=60,
    )
    paid = alice.command(f"orders/{order['id']}/pay/")
    wait_until(lambda: statuses.parser.events, timeout=30, what="the payment to be heard")
    redis.stop()
    services.redis(port=int(redis_url.split(":")[-1].split("/")[0]))
    shipped = staff.command(f"orders/{order['id']}/ship/")

    assert order_events(statuses.result(timeout=90)) == [
        (order["id"], "paid", paid["position"]),
        (order["id"], "shipped", shipped["position"]),
    ]
