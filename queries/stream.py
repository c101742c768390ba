"""Live read models over server-sent events: who may hear which topic, and how a change looks on the wire.

A message is `event: <topic>`, `id: <log position>`, `data: <the detail JSON>`.
For `order` and `product` the data is the resource's detail after the event at
that position, computed from the event log (projections.live), so the same
`id` is a cursor into the log: a client that reconnects with it (Last-Event-ID)
resumes exactly where it stopped. A `projection` message carries a follower's
status (the detail of /api/queries/projections/<name>/). A status is not in the
log, so it has no `id` and leaves the client's Last-Event-ID alone; a stream
that (re)connects first receives every status as it is now.

One event can change several rows a client hears (an order placed for three
products: three `product` messages). They go out one after the other, and only
the last carries the event's `id` (`sent`): a client cut off between them still
holds the id before that event, so it resumes there and receives all of that
event's messages again, rather than resuming at the event and losing the rest.
A message received twice is the same row twice; a stream that resumes sends
nothing before its position.

The fan-out to a process's streams is queries.fanout; the view is queries.stream_view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rest_framework.renderers import JSONRenderer

from projections.live import Change
from projections.status import FollowerStatus
from queries.permissions import may_see_order
from queries.serializers import OrderSerializer, ProductSerializer, ProjectionStatusDetailSerializer

ORDER, PRODUCT, PROJECTION = "order", "product", "projection"
TOPICS = (ORDER, PRODUCT, PROJECTION)

# How long a browser's EventSource waits before reconnecting (the SSE `retry:` field), in milliseconds.
RECONNECT_MILLISECONDS = 1000


def topics_for(user) -> tuple[str, ...]:
    """Every topic `user` may hear: the catalog for all, orders for customers (their own), statuses for staff."""
    if user.is_staff:
        return TOPICS
    if user.is_authenticated:
        return (ORDER, PRODUCT)
    return (PRODUCT,)


class TopicsRefused(Exception):
    """The `topics` asked for are unknown (400), or not for this user (401 anonymous, 403 otherwise)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def requested_topics(value: str | None, user) -> frozenset[str]:
    """The topics of `?topics=a,b` for `user`, or all they may hear if none are given."""
    allowed = topics_for(user)
    if value is None or not value.strip():
        return frozenset(allowed)
    asked = {topic.strip() for topic in value.split(",") if topic.strip()}
    if unknown := sorted(asked - set(TOPICS)):
        raise TopicsRefused(
            400, "unknown_topic", f"Unknown topics: {', '.join(unknown)}; the topics are {', '.join(TOPICS)}."
        )
    if refused := sorted(asked - set(allowed)):
        if not user.is_authenticated:
            raise TopicsRefused(401, "not_authenticated", f"Sign in to hear {', '.join(refused)}.")
        raise TopicsRefused(403, "permission_denied", f"Only staff may hear {', '.join(refused)}.")
    return frozenset(asked)


@dataclass(frozen=True)
class Message:
    """One message, rendered once per web process and sent as is to every stream that may hear it."""

    topic: str
    position: int | None  # the event's, for a row; None for a status, which is not in the log
    customer_id: uuid.UUID | None  # whose order it is; None on every other topic
    wire: bytes
    wire_without_id: bytes = b""  # a row's, sent when another message of its event follows (see `sent`)


@dataclass(frozen=True)
class Listener:
    """Who is at the other end of a stream: what they asked to hear, and whose orders they may see."""

    topics: frozenset[str]
    staff: bool = False
    customer_id: uuid.UUID | None = None

    def hears(self, message: Message) -> bool:
        if message.topic not in self.topics:
            return False
        return message.topic != ORDER or may_see_order(
            staff=self.staff, customer_id=self.customer_id, order_customer_id=message.customer_id
        )


DETAIL_SERIALIZERS = {ORDER: OrderSerializer, PRODUCT: ProductSerializer}


def change_messages(changes: list[Change]) -> list[Message]:
    """The messages for changed order and product rows, in the order of `changes`."""
    details = {}
    for topic, serializer in DETAIL_SERIALIZERS.items():
        # One serializer per topic and batch: a ModelSerializer builds its fields anew for each instance.
        of_topic = [change for change in changes if change.topic == topic]
        data = serializer([change.row for change in of_topic], many=True).data if of_topic else []
        details.update(zip(map(id, of_topic), data, strict=True))
    messages = []
    for change in changes:
        data = JSONRenderer().render(details[id(change)])
        customer_id = change.row.customer_id if change.topic == ORDER else None
        with_id, without_id = _wire(change.topic, change.position, data), _wire(change.topic, None, data)
        messages.append(Message(change.topic, change.position, customer_id, with_id, without_id))
    return messages


def sent(messages: list[Message]) -> bytes:
    """What a client is sent for `messages` (those it hears, in log order): each event's `id` on its last only."""
    parts = []
    for message, following in zip(messages, [*messages[1:], None], strict=True):
        more_of_its_event = message.position is not None and following and following.position == message.position
        parts.append(message.wire_without_id if more_of_its_event else message.wire)
    return b"".join(parts)


def status_message(status: FollowerStatus) -> Message:
    """The message for a follower's status."""
    return Message(PROJECTION, None, None, wire(PROJECTION, None, ProjectionStatusDetailSerializer(status).data))


def wire(topic: str, position: int | None, data) -> bytes:
    """A server-sent event: the topic, the log position as its id (if it has one), the data as one line of JSON."""
    return _wire(topic, position, JSONRenderer().render(data))


def _wire(topic: str, position: int | None, rendered: bytes) -> bytes:
    field = b"" if position is None else b"id: %d\n" % position
    return b"event: %s\n%sdata: %s\n\n" % (topic.encode(), field, rendered)


def opening(position: int) -> bytes:
    """A stream's first lines: how soon to reconnect, and where it starts in the log.

    An `id` with no data dispatches no event but becomes the browser's
    Last-Event-ID: a client that hears nothing before it reconnects resumes
    from where it started, not from the head at that later time.
    """
    return b"retry: %d\nid: %d\n\n" % (RECONNECT_MILLISECONDS, position)


def heartbeat(position: int) -> bytes:
    """A comment that keeps proxies from closing an idle stream, and moves its id past what it has read."""
    return b": heartbeat\nid: %d\n\n" % position
