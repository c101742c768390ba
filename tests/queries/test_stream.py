"""The live stream in-process (SQLite or PostgreSQL): topics, who hears what, the wire, resume from a position.

Over HTTP with real workers and Redis: tests/e2e/test_live_stream.py.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import AsyncClient

from commands.eventlog import head_position
from queries import fanout, listening
from queries.stream import Listener, TopicsRefused, heartbeat, opening, requested_topics, sent, topics_for, wire
from tests.factories import ProductFactory, StaffFactory, place_order
from tests.projections.helpers import pay
from tests.queries.sse import Parser, collect, cut_off

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

STREAM = "/api/queries/stream/"


@pytest.fixture(autouse=True)
def _quick_rereads(settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.2  # without Redis the hub re-reads the log at each heartbeat


@pytest.fixture
def kettle(db):
    return ProductFactory(price=Decimal("20.00"), stock=10)


def customer_listener(customer, *topics) -> Listener:
    return Listener(frozenset(topics or ("order", "product")), customer_id=customer.pk)


# --- Topics -------------------------------------------------------------------------


def test_each_kind_of_user_may_hear_its_own_topics(customer):
    assert topics_for(AnonymousUser()) == ("product",)
    assert topics_for(customer.user) == ("order", "product")
    assert topics_for(StaffFactory()) == ("order", "product", "projection")


def test_the_topics_parameter_narrows_them(customer):
    assert requested_topics("order", customer.user) == {"order"}
    assert requested_topics(" product , order ", customer.user) == {"order", "product"}
    assert requested_topics(None, customer.user) == {"order", "product"}


@pytest.mark.parametrize(
    ("who", "topics", "status"),
    [("anonymous", "orders", 400), ("anonymous", "order", 401), ("customer", "projection", 403)],
)
def test_topics_out_of_reach_are_refused(customer, who, topics, status):
    user = AnonymousUser() if who == "anonymous" else customer.user
    with pytest.raises(TopicsRefused) as refusal:
        requested_topics(topics, user)
    assert refusal.value.status == status


def test_a_customer_hears_their_own_orders_and_the_catalog_only(customer, other_customer):
    listener = customer_listener(customer)
    mine, theirs, product = (
        fanout.Message("order", 1, customer.pk, b""),
        fanout.Message("order", 2, other_customer.pk, b""),
        fanout.Message("product", 3, None, b""),
    )
    assert [listener.hears(message) for message in (mine, theirs, product)] == [True, False, True]
    assert Listener(frozenset({"order"}), staff=True).hears(theirs)
    assert not Listener(frozenset({"product"}), customer_id=customer.pk).hears(mine)


# --- The wire -----------------------------------------------------------------------


def test_a_message_is_topic_id_and_one_line_of_json():
    assert (
        wire("order", 42, {"id": "x", "total": "1.00"}) == b'event: order\nid: 42\ndata: {"id":"x","total":"1.00"}\n\n'
    )


def test_the_opening_and_the_heartbeat_move_the_id_without_dispatching_an_event():
    parser = Parser()
    parser.feed(opening(7) + heartbeat(9))
    assert (parser.events, parser.last_id, parser.comments) == ([], 9, 1)


def test_of_an_events_messages_only_the_last_carries_its_id():
    def message(topic, position, data):
        return fanout.Message(topic, position, None, wire(topic, position, data), wire(topic, None, data))

    parser = Parser()
    parser.feed(opening(6) + sent([message("order", 7, {}), message("product", 7, {}), message("product", 8, {})]))

    # As EventSource dispatches them: a message without an id carries the last one before it.
    assert [(event.topic, event.id) for event in parser.events] == [("order", 6), ("product", 7), ("product", 8)]


# --- Through the view: refusals and headers -----------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?topics=everything", 400, "unknown_topic"),
        ("?topics=projection", 401, "not_authenticated"),
        ("?last_event_id=abc", 400, "invalid_last_event_id"),
        ("?last_event_id=-1", 400, "invalid_last_event_id"),
        ("?last_event_id=999999", 400, "unknown_position"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_code(anonymous_client, query, status, code):
    response = anonymous_client.get(STREAM + query)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_wrong_token_is_refused(anonymous_client):
    response = anonymous_client.get(STREAM, headers={"Authorization": "Token nonsense"})
    assert response.status_code == 401


def test_the_stream_is_unbuffered_event_stream_with_the_log_position_first():
    async def open_stream():
        response = await AsyncClient().get(STREAM)
        first = await anext(response.streaming_content)
        await response.streaming_content.aclose()
        return response, first

    from asgiref.sync import async_to_sync

    response, first = async_to_sync(open_stream)()
    assert response["Content-Type"] == "text/event-stream"
    assert (response["Cache-Control"], response["X-Accel-Buffering"]) == ("no-cache", "no")
    assert first == opening(head_position())


# --- Resume and live changes ----------------------------------------------------------


def test_resuming_delivers_every_change_after_the_position_in_order(customer, kettle):
    before = head_position()
    order = place_order(customer, {kettle: 2})
    pay(order)

    heard = collect(
        fanout.stream(customer_listener(customer), before), until=lambda parser: len(parser.events) >= 3
    ).events

    assert [(event.topic, event.data["id"]) for event in heard] == [
        ("order", str(order.pk)),
        ("product", str(kettle.pk)),
        ("order", str(order.pk)),
    ]
    assert [event.data.get("status") for event in heard] == ["placed", "active", "paid"]
    assert heard[1].data["stock_available"] == 8
    assert [event.id for event in heard] == sorted(event.id for event in heard)


def test_a_client_cut_off_between_an_events_messages_resumes_before_that_event_and_loses_none(customer):
    products = ProductFactory.create_batch(3, stock=10)
    before = head_position()
    place_order(customer, dict.fromkeys(products, 1))  # one event, a message for each of its three products
    placed = head_position()
    catalog = Listener(frozenset({"product"}))
    whole = collect(fanout.stream(catalog, before), until=lambda parser: len(parser.events) == 3)

    dropped = cut_off(whole.received, after=1)
    resumed = collect(
        fanout.stream(catalog, dropped.last_id),
        until=lambda parser: parser.last_id is not None and parser.last_id >= placed,
    )

    assert {event.data["id"] for event in dropped.events + resumed.events} == {str(product.pk) for product in products}
    assert [event.data for event in resumed.events] == [event.data for event in whole.events]  # the event again, whole


def test_a_change_after_connecting_arrives_live_as_the_detail_shows_it(customer, kettle, customer_client):
    order = place_order(customer, {kettle: 1})

    heard = collect(
        fanout.stream(customer_listener(customer, "order"), None),
        meanwhile=lambda: pay(order),
        until=lambda parser: parser.events,
    ).events

    assert [event.data["status"] for event in heard] == ["paid"]
    assert heard[0].id == head_position()
    from tests.queries.helpers import project

    project()
    assert customer_client.get(f"/api/queries/orders/{order.pk}/").json() == heard[0].data


def test_another_customers_order_is_never_heard(customer, other_customer, kettle):
    order = place_order(customer, {kettle: 1})
    paid = []

    def pay_the_order():
        pay(order)
        paid.append(head_position())

    parser = collect(
        fanout.stream(customer_listener(other_customer, "order"), None),
        meanwhile=pay_the_order,
        until=lambda parser: parser.last_id == paid[0],  # the stream has read past the payment (a heartbeat says)
    )

    assert parser.events == []


def test_closing_the_last_stream_frees_the_hub_and_the_subscription(customer, kettle):
    collect(fanout.stream(customer_listener(customer), None), until=lambda parser: True)

    assert (fanout.hubs(), listening.subscriptions()) == (0, 0)


def test_a_server_without_asgi_refuses_the_stream_rather_than_hold_a_thread(anonymous_client):
    response = anonymous_client.get(STREAM)
    assert (response.status_code, response.json()["code"]) == (503, "stream_needs_asgi")


def test_a_status_is_sent_wherever_the_stream_stands_and_a_row_change_only_once():
    stream = fanout.Stream(Listener(frozenset({"projection", "order"}), staff=True), position=9)

    assert stream.sends(fanout.Message("projection", None, None, b""))  # statuses are not in the log
    assert not stream.sends(fanout.Message("order", 9, None, b""))  # already sent by the catch-up
    assert stream.sends(fanout.Message("order", 10, None, b""))


def test_a_status_has_no_id_so_it_leaves_the_clients_position_alone():
    parser = Parser()
    parser.feed(opening(7) + wire("projection", None, {"name": "order_summary"}))
    assert (parser.last_id, parser.events[0].data) == (7, {"name": "order_summary"})
