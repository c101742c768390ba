"""The Celery application; tasks live in projections.tasks and commands.tasks (the `commands` queue)."""

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shopfront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_broken_or_old_connections(sender=None, **kwargs) -> None:
    """Around each task, close the database connections that broke or outlived CONN_MAX_AGE.

    What Django does around each request: a worker keeps its connections between
    tasks (CELERY_DB_REUSE_MAX), and a connection killed under it is replaced on
    the next task instead of failing every task after it (with CONN_HEALTH_CHECKS,
    the first query of a task checks it). Eager tasks run inside their caller's
    request or test, whose connections are not ours to close.
    """
    from django.db import close_old_connections

    if not getattr(sender.request, "is_eager", False):
        close_old_connections()


@app.on_after_configure.connect
def schedule_the_command_sweep(sender, **kwargs) -> None:
    """Beat enqueues accepted commands that no task ran (the broker lost it, or it was never sent)."""
    from django.conf import settings

    sender.add_periodic_task(
        settings.COMMAND_SWEEP_SECONDS,
        sender.signature("commands.tasks.sweep_accepted_commands"),
        name="sweep-commands",
    )


@signals.worker_ready.connect
def upgrade_changed_projections(sender=None, **kwargs) -> None:
    """A worker that starts with new code queues the blue/green rebuild of each projection whose version changed.

    Every worker of a deploy notices; the checkpoint's row lock lets one queue it
    (projections.versions). Beat's safety net notices too, should this miss.
    """
    from django.db import connections

    from projections.versions import start_upgrades

    try:
        start_upgrades(noticed_by=f"worker {sender.hostname if sender else '?'}")
    except Exception:
        logging.getLogger(__name__).exception("could not check the projections' versions at start-up")
    finally:
        connections.close_all()  # the pool's processes keep their own
