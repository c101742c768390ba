"""`make worker`, docker-compose.yml and benchmark 5 start the same workers: projections on their own.

The benchmark measures the lag users get only if it runs the workers as they do.
"""

import itertools
import re
import shlex
from pathlib import Path

import yaml
from django.conf import settings

from bench.projection_lag import WORKERS as BENCHMARKED
from commands.tasks import run_command, sweep_accepted_commands
from config.celery import app
from projections.registry import registry
from projections.tasks import rebuild_in_background

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
MAKEFILE = (ROOT / "Makefile").read_text()


def queues_and_processes(command: list[str]) -> tuple[str, int]:
    """The -Q and -c options of a `celery worker` command line (-c defaults to the number of cores)."""
    options = dict(itertools.pairwise(command))
    return options["-Q"], int(options.get("-c", 0))


def make_worker_commands() -> list[list[str]]:
    return [shlex.split(line) for line in re.findall(r"^\w+_WORKER := (.*)$", MAKEFILE, flags=re.MULTILINE)]


def compose_worker_commands() -> list[list[str]]:
    return [service["command"] for service in COMPOSE.values() if "worker" in service.get("command", [])]


def followers_workers(commands: list[list[str]]) -> list[tuple[str, int]]:
    """The workers the lag benchmark must run as users do: all but the async commands' (it sends none)."""
    return sorted(worker for worker in map(queues_and_processes, commands) if worker[0] != "commands")


def test_make_compose_and_the_benchmark_run_the_same_workers():
    benchmarked = sorted((queues, processes) for _, queues, processes in BENCHMARKED)

    assert followers_workers(make_worker_commands()) == benchmarked
    assert followers_workers(compose_worker_commands()) == benchmarked
    assert sorted(map(queues_and_processes, make_worker_commands())) == sorted(
        map(queues_and_processes, compose_worker_commands())
    )


def test_the_projections_queue_has_a_worker_of_its_own_and_every_queue_a_worker():
    consumed = [set(queues_and_processes(command)[0].split(",")) for command in make_worker_commands()]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert {"projections"} in consumed
    assert set().union(*consumed) == {follower.queue for follower in registry().values()} | routed


def test_async_commands_have_a_worker_of_their_own():
    consumed = [queues_and_processes(command)[0] for command in make_worker_commands()]

    assert "commands" in consumed
    for task in (run_command, sweep_accepted_commands):
        assert app.amqp.router.route({}, task.name)["queue"].name == "commands"


def test_a_rebuild_never_runs_on_the_projections_worker():
    """A rebuild takes minutes, and the projections worker has one process: it would stall every read model."""
    route = app.amqp.router.route({}, rebuild_in_background.name)

    assert route["queue"].name == "rebuilds"
