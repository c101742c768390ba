"""Celery tasks, and the wake-ups that enqueue them. Tasks get names, never model instances."""

import logging
import os
import threading
import time

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from projections import announcements, monitoring, versions, wakeups
from projections.rebuild import RebuildRefused, RebuildResult, rebuild
from projections.registry import lane, registry
from projections.runner import Outcome, catch_up, catch_up_projections
from projections.subscribers.notifications import send_pending_emails

logger = logging.getLogger(__name__)

# Another runner held the checkpoint: look again shortly, in case it finished
# its last read just before our events committed.
BUSY_RECHECK_SECONDS = 0.5


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=None,
)
def run_follower(name: str, recheck: bool = True) -> dict:
    """Catch one subscriber, or a projection partition and its lane in one pass (projections.runner), up to the head."""
    wakeups.clear(name)
    follower = registry()[name]
    # A partition's run takes the same partition of the other projections along in the same pass (those
    # another worker is moving come back BUSY), so N partitions spread over N worker processes; a
    # subscriber runs alone.
    result = catch_up_projections(lane(follower.partition))[name] if follower.replayable else catch_up(follower)
    if result.outcome is Outcome.BUSY and recheck:
        run_follower.apply_async(args=[name, False], queue=follower.queue, countdown=BUSY_RECHECK_SECONDS)
    return {
        "name": name,
        "outcome": result.outcome.value,
        "applied": result.applied,
        "position": result.position,
    }


@shared_task(acks_late=True)
def catch_up_everything() -> None:
    """The safety net, run by beat: wake every follower, in case a wake-up was lost, and upgrade changed ones."""
    for name in registry():
        wake(name, force=True)
    try:
        versions.start_upgrades(noticed_by="beat")
    except Exception:  # the wake-ups above are what matters most: never let this stop them
        logger.exception("could not check the projections' versions")


# A worker still running older code leaves an upgrade to the new workers of the deploy, looking again after this.
UPGRADE_DEFERRED_SECONDS = 5


@shared_task(acks_late=True)
def upgrade_projection(name: str, run_id: int, version: int) -> dict:
    """Rebuild `name` blue/green because `version` was deployed (queued by projections.versions)."""
    projection = registry()[name]
    if projection.version != version:  # an old worker, mid-deploy: it must not build the old version
        upgrade_projection.apply_async(
            args=[name, run_id, version], queue="rebuilds", countdown=UPGRADE_DEFERRED_SECONDS
        )
        return {"name": name, "version": version, "rebuilt": False, "deferred": True}
    run_id = monitoring.start_rebuild(run_id, name, requested_by="")
    if name not in versions.changed_projections():  # a repeated task: the upgrade is done
        monitoring.finish_rebuild(run_id, RebuildResult(name, 0, 0, 0.0), already=True)
        return {"name": name, "version": version, "rebuilt": False}
    try:
        result = rebuild(projection, progress=monitoring.progress_of(run_id))
    except RebuildRefused as refused:  # another rebuild holds it; it records the version when it swaps
        monitoring.fail_rebuild(run_id, refused)
        return {"name": name, "version": version, "rebuilt": False}
    except Exception as error:
        logger.exception("upgrade of %s to version %d failed", name, version)
        monitoring.fail_rebuild(run_id, error)
        raise
    monitoring.finish_rebuild(run_id, result)
    logger.info("upgraded %s to version %d, live at #%d", name, version, result.position)
    return {"name": name, "version": version, "rebuilt": True, "position": result.position}


@shared_task
def rebuild_in_background(
    names: list[str], requested_by: str = "", run_ids: dict[str, int] | None = None
) -> dict[str, int]:
    """Rebuild the named projections (for the operator dashboard), recording each one's progress.

    `run_ids` names the RebuildRun the dashboard queued for each projection. A
    projection that cannot be rebuilt is marked failed in its run, with the
    error, and the others still go ahead.
    """
    positions = {}
    for name in names:
        run_id = monitoring.start_rebuild((run_ids or {}).get(name), name, requested_by=requested_by)
        try:
            result = rebuild(registry()[name], progress=monitoring.progress_of(run_id))
        except Exception as error:
            logger.exception("rebuild of %s for %s failed", name, requested_by or "an operator")
            monitoring.fail_rebuild(run_id, error)
            continue
        monitoring.finish_rebuild(run_id, result)
        positions[name] = result.position
    logger.info("rebuilt %s for %s", ", ".join(positions) or "nothing", requested_by or "an operator")
    return positions


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Send the e-mails owed that no live sender holds (run by beat); return how many were sent.

    The notifier sends after each commit; this catches what that missed: a message
    whose sender died mid-send (once its lease lapses), or one whose wake-up was lost.
    """
    return send_pending_emails()


@shared_task(ignore_result=True)
def sample_lag() -> int:
    """Record every follower's lag for the dashboard's chart (run by beat), and prune old samples."""
    return monitoring.sample_lag()


def wake(name: str, *, force: bool = False) -> bool:
    """Enqueue a run of follower `name`, unless one is already pending (or `force`).

    Return False if the broker could not be reached.
    """
    if not (wakeups.claim(name) or force):
        return True
    return _enqueue([name])


def wake_all(events=(), **signal_kwargs) -> None:
    """Receiver of commands.signals.events_recorded: announce the log's head, wake every follower with no run pending.

    Every commit lands here, so the pending keys are claimed in one round trip to the cache.
    With WAKE_UPS_IN_BACKGROUND (set by scripts/serve) the commit only nudges this process's
    waker thread, and the command's response does not wait for the cache and the broker.
    """
    head = max((recorded.position for recorded in events), default=0)
    if settings.WAKE_UPS_IN_BACKGROUND:
        _waker.nudge(head)
    else:
        _wake_every_follower(head)


def _wake_every_follower(head: int) -> None:
    if head:
        # First: the live streams read the log itself, and need no follower to have run.
        announcements.announce(announcements.LOG, head)
    _enqueue(wakeups.claim_all(registry()))


# Short beside a projection's lag (tens of milliseconds), long beside a commit (a millisecond).
WAKE_UP_GATHER_SECONDS = 0.002


class _Waker:
    """This process's one thread that announces the log's head and wakes the followers after commits, off the
    requests' path.

    A commit sets the nudge after it is visible; the thread clears the nudge before it
    claims, so every commit is followed by at least one claim that starts after it, as
    when the request claimed for itself, and the commits of a burst share one claim. It
    lets WAKE_UP_GATHER_SECONDS of commits gather first: a claim is a Redis round trip
    the thread makes holding the interpreter's lock for a good part of it, and at a
    thousand commits a second one claim per commit took a fifth of the committers' time.
    A nudge still pending when the process exits is lost: beat's safety net wakes every
    follower within PROJECTION_SAFETY_NET_SECONDS, as after a broker outage.
    """

    def __init__(self):
        self._nudged = threading.Event()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._head = 0  # the newest position committed since the last claim
        self._head_lock = threading.Lock()

    def nudge(self, head: int = 0) -> None:
        with self._head_lock:
            self._head = max(self._head, head)
        self._nudged.set()
        # Started lazily, and again in a forked child (threads do not survive a fork).
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            with self._starting:
                if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                    self._nudged = threading.Event()
                    self._nudged.set()
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="projection-waker", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._nudged.wait()
            time.sleep(WAKE_UP_GATHER_SECONDS)
            self._nudged.clear()
            with self._head_lock:
                head, self._head = self._head, 0
            try:
                _wake_every_follower(head)
            except Exception:  # never let the thread die: the next commit must still wake the followers
                logger.exception("could not wake the followers; the safety net will catch them up")


_waker = _Waker()


def _enqueue(names: list[str]) -> bool:
    """Enqueue a run of each claimed follower in `names`; return False if the broker could not be reached.

    The broker or cache being down must never fail a command that has already
    committed, so failures are logged; beat's safety net catches up once the
    broker is back. After one failure the rest are not tried (each try costs a
    connection timeout, and the command's response is waiting), and their
    claims are dropped so that the next commit tries again.
    """
    for index, name in enumerate(names):
        try:
            run_follower.apply_async(args=[name], queue=registry()[name].queue, retry=False)
        except Exception:
            logger.exception("could not wake %s; the safety net will catch it up", name)
            wakeups.clear_all(names[index:])
            return False
    return True
