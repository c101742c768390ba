"""The bulk of a rebuild in several processes, each replaying the log into the shadows for its partition of rows.

A rebuild is bound by the interpreter (reading, decoding and folding events),
not by PostgreSQL, once the shadow tables are loaded without their plain indexes
(projections.tables.create_shadow). So REBUILD_PROCESSES forked processes each
replay the whole log up to one position, every projection restricted to
partition i of N (projections.base.Partition): they write disjoint rows of the
same shadow tables, each in its own transactions, and never wait for each other.
The parent gathers their progress and, once all have finished, carries on with
the rebuild's closing transaction as a single process does. Any child failing
fails the rebuild, which leaves the live tables untouched.

The children are plain os.fork() children reporting over a pipe, not
multiprocessing's: a rebuild also runs inside a Celery pool process, which
multiprocessing refuses to give children (it is daemonic). PostgreSQL only:
SQLite has one writer at a time, so there a rebuild replays in its own process.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, models

from projections.base import Partition, Projection

if TYPE_CHECKING:
    from projections.rebuild import Progress

logger = logging.getLogger(__name__)


class ReplayFailed(Exception):
    """A replay process failed: the shadow tables are incomplete."""


@dataclass
class _Lane:
    pid: int
    reports: int  # the read end of the pipe the child writes "<events> <position>" lines to
    events: int = 0
    position: int = 0


def replay_in_processes(
    targets: list[tuple[Projection, type[models.Model]]],
    *,
    upto: int,
    processes: int,
    batch_size: int,
    progress: Progress | None = None,
) -> int:
    """Replay the events up to `upto` into each (projection, shadow) in `processes` processes; return their number."""
    connections.close_all()  # a connection must not cross a fork: each child opens its own
    lanes: list[_Lane] = []
    followed = False
    try:
        for index in range(1, processes + 1):
            lanes.append(_fork(targets, Partition(index, processes), upto, batch_size))
        _follow(lanes, upto, progress)
        followed = True
    finally:
        failed = _reap(lanes, stop=not followed)
    if failed:
        raise ReplayFailed(f"{len(failed)} of {processes} replay processes failed ({', '.join(failed)}); see the log")
    return min(lane.events for lane in lanes)


def _fork(targets, partition: Partition, upto: int, batch_size: int) -> _Lane:
    reports, report_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: replay, then leave without running the parent's exit handlers
        os.close(reports)
        status = 1
        try:
            _replay_lane(targets, partition, upto, batch_size, report_end)
            status = 0
        except BaseException:
            logger.exception("replay of partition %d of %d failed", partition.index, partition.count)
        finally:
            os._exit(status)
    os.close(report_end)
    return _Lane(pid, reports)


def _replay_lane(targets, partition: Partition, upto: int, batch_size: int, report_end: int) -> None:
    from projections.rebuild import replay_together  # rebuild imports this module

    def report(events: int, position: int, head: int) -> None:
        os.write(report_end, f"{events} {position}\n".encode())  # a short write to a pipe is atomic

    try:
        replay_together(
            [(projection.partitioned(partition), shadow) for projection, shadow in targets],
            after=0,
            batch_size=batch_size,
            upto=upto,
            progress=report,
        )
    finally:
        connections.close_all()


def _follow(lanes: list[_Lane], upto: int, progress: Progress | None) -> None:
    """Read the children's reports until every pipe closes, passing the slowest lane's progress on."""
    with selectors.DefaultSelector() as selector:
        for lane in lanes:
            selector.register(lane.reports, selectors.EVENT_READ, lane)
        pending = {lane.reports: b"" for lane in lanes}
        while selector.get_map():
            for key, _ in selector.select():
                lane = key.data
                chunk = os.read(lane.reports, 4096)
                if not chunk:  # the child has exited
                    selector.unregister(lane.reports)
                    continue
                *lines, pending[lane.reports] = (pending[lane.reports] + chunk).split(b"\n")
                for line in lines:
                    lane.events, lane.position = map(int, line.split())
                if progress:
                    slowest = min(lanes, key=lambda each: each.position)
                    progress(slowest.events, slowest.position, upto)


def _reap(lanes: list[_Lane], *, stop: bool) -> list[str]:
    """Wait for every child (stopping them first if the parent gave up on them); describe those that failed."""
    failed = []
    for lane in lanes:
        os.close(lane.reports)
        if stop:
            os.kill(lane.pid, signal.SIGTERM)
        _, status = os.waitpid(lane.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            failed.append(f"pid {lane.pid} exited {code}")
    return failed
