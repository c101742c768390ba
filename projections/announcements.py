"""Checkpoint announcements: after a follower's batch commits, say how far it has come.

Web processes holding requests that wait for a read position (X-Min-Position)
listen to this channel instead of polling the checkpoint table. An announcement
is a hint, never the truth: the waiter re-reads the checkpoint from the database
it will answer from, and falls back to reading it now and then if
announcements are lost (Redis down or restarted), so losing one only delays.

The log itself is announced too, as LOG, after commands commit (projections.tasks
wakes the followers then): the live stream folds its changes from the log, so it
reads a change as soon as it is committed instead of after a projection has applied it.
"""

from __future__ import annotations

import logging

from projections import wakeups

logger = logging.getLogger(__name__)

CHANNEL = "projections:checkpoints"
# The name the log's head is announced under (no follower's).
LOG = "log"


def announce(name: str, position: int) -> None:
    """Publish that follower `name` has committed up to `position` (nothing without Redis)."""
    redis = wakeups.redis_connection()
    if redis is None:  # the embedded default's local cache: no other process to tell
        return
    try:
        redis.publish(CHANNEL, f"{name} {position}")
    except Exception:  # after commit: an announcement lost costs a waiter its fallback read, nothing more
        logger.warning("could not announce %s at #%d", name, position, exc_info=True)


def parse(message: bytes | str) -> tuple[str, int] | None:
    """The (name, position) of an announcement, or None if it is not one."""
    text = message.decode() if isinstance(message, bytes) else message
    name, _, position = text.partition(" ")
    return (name, int(position)) if name and position.isdecimal() else None
