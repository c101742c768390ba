"""Versioned projections: a deployed Projection.version that differs from the recorded one starts a rebuild.

Whoever notices first (a worker starting, beat's safety net, `migrate` on
the read database: a deploy migrates first) queues ONE
blue/green rebuild on the rebuilds queue; never the web process. Noticers
serialise on the checkpoint's row lock, and the RebuildRun they leave behind
(with the version it builds) tells the next noticer that the rebuild is on its
way. Until the swap the live projection stays paused (projections.rebuild says
why), and the run's progress shows on the dashboard and in projection_status.

The schema of a new version: the read model's table stays owned by Django
migrations, applied to the live table when the new code is deployed. A new
version's migration must therefore be one the old rows can live with (an
added column nullable or with a default: expand, then rebuild). The shadow
table copies the live table's migrated schema, new column included, so the
swap leaves exactly what migrations made; Django's migration state never
knows the shadow exists.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.routers import READ_PRIMARY
from projections import monitoring
from projections.models import Checkpoint, RebuildRun
from projections.registry import partitions_of, replayable_projections

logger = logging.getLogger(__name__)

# A queued upgrade that no worker has started within this long (its task was lost with a broker)
# is queued again; a repeated task finds the version deployed, or the rebuild busy, and does nothing.
QUEUED_LEASE = timedelta(minutes=10)
# A failed upgrade is tried again after this long (each try replays the whole log).
RETRY_FAILED_AFTER = timedelta(minutes=10)


def changed_projections() -> dict[str, tuple[int, int]]:
    """The projections whose live rows an older version built: name -> (recorded version, code's version).

    Only upgrades: an old worker still running mid-deploy must not rebuild the
    old version over the new one. Rolling the code back pauses the projection
    (the runner never applies one version to another's rows) until an operator
    runs rebuild_projections.
    """
    projections = replayable_projections()
    partitions = {part.name: part.projection_name for name in projections for part in partitions_of(name)}
    recorded = Checkpoint.objects.using(READ_PRIMARY).filter(name__in=partitions).values_list("name", "version")
    changed = {}
    for checkpoint_name, version in recorded:
        name = partitions[checkpoint_name]
        if version != projections[name].version:
            changed[name] = (version, projections[name].version)
    return changed


def start_upgrades(*, noticed_by: str) -> list[RebuildRun]:
    """Queue a blue/green rebuild of each changed projection that has none on its way; return the runs queued."""
    from projections.tasks import upgrade_projection  # tasks imports this module

    queued = []
    for name, (deployed, wanted) in changed_projections().items():
        run = _claim(name, wanted, requested_by=f"{noticed_by}: version {deployed} -> {wanted}")
        if run is None:
            continue
        try:
            upgrade_projection.apply_async(args=[name, run.pk, wanted], queue="rebuilds", retry=False)
        except Exception as error:  # the broker is down: the next noticer claims it again
            monitoring.fail_rebuild(run.pk, error)
            logger.exception("could not queue the upgrade of %s to version %d", name, wanted)
            continue
        logger.info("queued the upgrade of %s from version %d to %d (run #%d)", name, deployed, wanted, run.pk)
        queued.append(run)
    return queued


def upgrade_after_migrate(sender, using: str, **kwargs) -> None:
    """post_migrate receiver: a deploy migrates the read database first, so `migrate` notices a raised version.

    With eager Celery (the embedded default, with no worker or beat to notice)
    the rebuild runs right there, in the migrate command; never in the web process.
    """
    if using != READ_PRIMARY or sender.name != "projections":
        return
    try:
        start_upgrades(noticed_by="migrate")
    except Exception:  # a migration that succeeded must not fail here: the workers notice too
        logger.exception("could not check the projections' versions after migrating")


def _claim(name: str, version: int, *, requested_by: str) -> RebuildRun | None:
    """Record the upgrade of `name` to `version`, unless one is on its way; under the checkpoint's row lock."""
    now = timezone.now()
    with transaction.atomic(using=READ_PRIMARY):
        checkpoints = (
            Checkpoint.objects.using(READ_PRIMARY)
            .select_for_update()
            .filter(name__in=[part.name for part in partitions_of(name)])
            .order_by("name")
        )
        if all(checkpoint.version == version for checkpoint in checkpoints) or any(
            checkpoint.state == Checkpoint.State.REBUILDING for checkpoint in checkpoints
        ):
            return None
        latest = RebuildRun.objects.using(READ_PRIMARY).filter(name=name, version=version).first()
        if latest is not None and _on_its_way(latest, now):
            return None
        if latest is not None and latest.state in (RebuildRun.State.QUEUED, RebuildRun.State.RUNNING):
            latest.state, latest.error, latest.finished_at = RebuildRun.State.FAILED, "abandoned", now
            latest.save(update_fields=["state", "error", "finished_at"])
        return RebuildRun.objects.using(READ_PRIMARY).create(name=name, version=version, requested_by=requested_by)


def _on_its_way(run: RebuildRun, now) -> bool:
    if run.state == RebuildRun.State.FAILED:
        return run.finished_at is not None and now - run.finished_at < RETRY_FAILED_AFTER
    if run.state == RebuildRun.State.RUNNING:
        return True  # between its start and its pause, or restored after a failure it reports itself
    return run.state == RebuildRun.State.QUEUED and now - run.requested_at < QUEUED_LEASE
