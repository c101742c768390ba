"""What the command API tests share: post a command, check the answer, read what it appended."""

import uuid

from django.urls import reverse
from rest_framework.test import APIClient

from commands.eventlog import RecordedEvent, head_position, read_events


def signed_in(user) -> APIClient:
    """A client authenticated as `user`, for users the role fixtures do not cover."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(name: str, *args) -> str:
    """The path of the command endpoint `name` (see commands/api/urls.py)."""
    return reverse(f"commands:{name}", args=args)


def post(client, path: str, body=None, *, headers: dict[str, str] | None = None):
    """POST `body` as JSON, the way API clients send commands."""
    return client.post(path, {} if body is None else body, format="json", headers=headers)


def assert_accepted(response, aggregate_id, *, version: int, status: int = 200) -> int:
    """Check a command's success answer and return its position."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body == {"id": str(aggregate_id), "version": version, "position": body["position"]}
    assert response["X-Event-Position"] == str(body["position"])
    return body["position"]


def assert_refused(response, status: int, code: str) -> dict:
    """Check an error answer's status and code; return its body for further checks."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


class EventLogWatch:
    """Remembers the head of the log, to tell exactly which events came after."""

    def __init__(self):
        self.head = head_position()

    def new_events(self) -> list[RecordedEvent]:
        return read_events(self.head, limit=1000)

    def assert_nothing_appended(self) -> None:
        assert self.new_events() == []


def assert_metadata(event: RecordedEvent, *, command: str, actor, correlation_id: str | None = None) -> None:
    """Check who caused `event` and through which command; the correlation id defaults to the command id."""
    metadata = event.metadata
    command_id = metadata["command_id"]
    assert uuid.UUID(command_id)
    assert metadata == {
        "command": command,
        "command_id": command_id,
        "correlation_id": correlation_id or command_id,
        "actor": {"id": actor.pk, "username": actor.get_username()},
    }
