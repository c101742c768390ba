"""`python -m bench`: run the benchmarks, print a table of figures and ratios, write bench/results/<date>.md.

It creates its own databases (bench_write, bench_read: dropped at the end unless --keep)
and a private redis-server, and runs the benchmarks in the order their data allows:
1, 2, 7 and 8 on a small shop, then 3, 4, 6, 9 and 5 on the generated history.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import report, wrk
from bench.environment import Databases, environment
from tests.processes import Services

# (number, module) in the order they run; the table is sorted by number.
ORDER = [
    ("1", "bench.command_throughput"),
    ("2", "bench.append_cost"),
    ("7", "bench.async_commands"),
    ("8", "bench.live_stream"),
    ("3", "bench.projection_throughput"),
    ("4", "bench.rebuild_all"),
    ("6", "bench.query_latency"),
    ("9", "bench.http_reads"),
    ("5", "bench.projection_lag"),
]
# The benchmarks whose load comes from wrk (bench/wrk.py).
NEEDS_WRK = {"1", "9"}
# The benchmarks that only need the whole history with the read models at its head, so can run on a kept one.
REUSABLE = {"5", "6", "9"}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help="Comma-separated benchmark numbers to run, e.g. 1,3 (default: all).")
    parser.add_argument("--quick", action="store_true", help="Tiny sizes and durations: a smoke test, not figures.")
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards (for poking at them).")
    parser.add_argument("--database-prefix", default="bench", help="Databases are <prefix>_write, <prefix>_read.")
    parser.add_argument(
        "--web-workers", type=int, default=2, help="Web server processes (scripts/serve's WEB_CONCURRENCY)."
    )
    parser.add_argument(
        "--rebuild-batch-size",
        type=int,
        default=5_000,
        help="--batch-size for rebuild_projections (benchmark 4); 0 for the command's default (500). "
        "A rebuild writes scratch tables nobody reads, so an operator rebuilding a big log passes a large one.",
    )
    parser.add_argument(
        "--no-results-file",
        action="store_true",
        help="Print only, details and profiles included; do not write bench/results/.",
    )
    parser.add_argument(
        "--reuse-history",
        action="store_true",
        help="Benchmarks 5, 6 and 9 only: reuse the history a run with --keep left in the same databases instead of "
        "generating it again (saves several minutes when iterating); implies --keep.",
    )
    args = parser.parse_args(argv)
    if args.reuse_history and not _chosen(args) <= REUSABLE:
        parser.error(f"--reuse-history only works with --only {','.join(sorted(REUSABLE))}: the others reset the data")
    return args


def _chosen(args: argparse.Namespace) -> set[str]:
    return {number.strip() for number in args.only.split(",") if number.strip()} or {n for n, _ in ORDER}


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if missing := _missing_wrk(args):
        print(f"python -m bench: {missing}", file=sys.stderr)
        return 2
    started_at, started = datetime.now(UTC), time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    services = Services(log_dir)
    databases = Databases(args.database_prefix)
    sections: list[report.Section] = []
    run = None
    load_before = _load_average()
    try:
        run = _set_up(args, databases, services, log_dir)
        for number, module_name in ORDER:
            if number in _chosen(args):
                sections.append(_run_one(module_name, run, started))
                if not args.no_results_file:  # so that an interrupted run still leaves what it measured
                    context = {**_context(args, run, load_before), "status": "incomplete: still running"}
                    _write_results(sections, started_at, started, context)
    finally:
        services.stop_all()
        if not (args.keep or args.reuse_history):
            databases.drop()
    _report(sections, started, log_dir)
    if not args.no_results_file:
        print(f"results: {_write_results(sections, started_at, started, _context(args, run, load_before))}")
    return 1 if any(section.error for section in sections) else 0


def _missing_wrk(args: argparse.Namespace) -> str:
    """Why the chosen benchmarks cannot run without wrk, if they need it and it is not installed; else ""."""
    needing = sorted(_chosen(args) & NEEDS_WRK)
    if not needing:
        return ""
    try:
        wrk.wrk_binary()
    except wrk.WrkMissing as missing:
        return f"{missing} (benchmarks {', '.join(needing)} load the web server with it)"
    return ""


def _set_up(args: argparse.Namespace, databases: Databases, services: Services, log_dir: Path):
    """A private Redis, the databases (fresh, or kept with --reuse-history), Django, and the run's shared state."""
    _redis, redis_url = services.redis()
    env = environment(databases, redis_url)
    os.environ.update(env)
    if args.reuse_history:
        databases.require_existing()
    else:
        databases.create()
    _setup_django()

    from bench.context import Run, Sizes

    sizes = Sizes.quick() if args.quick else Sizes()
    run = Run(args, sizes, databases, services, env, log_dir, redis_url)
    if args.reuse_history:
        run.reuse_history()
    return run


def _run_one(module_name: str, run, started: float) -> report.Section:
    """Run one benchmark and print its figures; a benchmark that fails is reported, and the others still run."""
    module = __import__(module_name, fromlist=["run"])
    print(f"[{_elapsed(started)}] {module.TITLE} ...", flush=True)
    began = time.monotonic()
    try:
        section = module.run(run)
    except Exception:
        section = report.Section(module.TITLE, error=traceback.format_exc())
        print(section.error, file=sys.stderr, flush=True)
    section.seconds = time.monotonic() - began
    for figure in section.figures:
        print("    " + "  ".join(cell for cell in figure.cells()[1:] if cell), flush=True)
    if run.args.no_results_file:  # the details would otherwise be lost
        print("\n".join(section.details), flush=True)
    return section


def _report(sections: list[report.Section], started: float, log_dir: Path) -> None:
    sections.sort(key=lambda section: section.title)
    print()
    print(report.plain_table(sections))
    print(f"\n{len(sections)} benchmarks in {(time.monotonic() - started) / 60:.1f} min; logs in {log_dir}")


def _write_results(
    sections: list[report.Section], started_at: datetime, started: float, context: dict[str, str]
) -> Path:
    ordered = sorted(sections, key=lambda s: s.title)
    return report.write_markdown(ordered, started=started_at, seconds=time.monotonic() - started, context=context)


def _context(args: argparse.Namespace, run, load_before: str) -> dict[str, str]:
    return {
        "load average (1, 5, 15 min) before / now": f"{load_before} / {_load_average()}",
        "sizes": ", ".join(f"{name}={value}" for name, value in vars(run.sizes).items()) if run else "",
        "data": "; ".join(run.notes) if run else "",
        "web server": f"scripts/serve: gunicorn + {args.web_workers} uvicorn workers (ASGI)",
        "rebuild --batch-size": str(args.rebuild_batch_size or "the command's default"),
    }


def _setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("migrate", database="read", verbosity=0)


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
