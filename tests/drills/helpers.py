"""What the drills check after a fault: every follower at the head, and read models equal to a rebuild."""

from commands.eventlog import head_position
from core.routers import READ_PRIMARY
from projections.base import registry, replayable_projections
from projections.models import Checkpoint
from projections.rebuild import verify
from tests.processes import wait_until


def positions() -> dict[str, int]:
    return dict(Checkpoint.objects.using(READ_PRIMARY).values_list("name", "position"))


def wait_until_caught_up(*, timeout: float = 90) -> int:
    """Wait until every projection and subscriber has applied the whole log; return the head."""
    head = head_position()
    wait_until(
        lambda: len(positions()) == len(registry()) and min(positions().values()) >= head,
        timeout=timeout,
        interval=0.2,
        what=f"every follower to reach #{head}",
    )
    return head


def assert_read_models_match_a_rebuild() -> None:
    for projection in replayable_projections().values():
        drift = verify(projection)
        assert drift.total == 0, drift.differences
