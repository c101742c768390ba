"""4. Rebuild: `manage.py rebuild_projections --all` over the 1,000,000-event history, as a subprocess.

Reported: wall-clock seconds, the log's events per second (1,000,000 over the seconds for all
four read models), each projection's own line, and the process's peak RSS (ru_maxrss from
wait4) with its RSS sampled twice a second, to show whether memory stays flat.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.context import Run
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section
from tests.processes import PROJECT

TITLE = "4. Rebuild"
PEAK_TARGET_MB = 300
SUMMARY = re.compile(r"^(\w+): (\d+) events in ([\d.]+)s \(([\d,]+) events/s\)", re.MULTILINE)


@dataclass
class Measured:
    seconds: float
    peak_mb: float  # ru_maxrss
    samples: list[tuple[float, float]]  # (seconds since start, RSS in MB), twice a second
    profile: list[str]
    output: str

    def rss_early_and_late(self) -> tuple[float, float]:
        """The highest RSS over the first quarter of the run, and over the last quarter."""
        quarter = max(1, len(self.samples) // 4)
        early = max((rss for _, rss in self.samples[:quarter]), default=float("nan"))
        late = max((rss for _, rss in self.samples[-quarter:]), default=float("nan"))
        return early, late


def run(run: Run) -> Section:
    preparing = time.monotonic()
    history = run.write_model()
    prepared = time.monotonic() - preparing
    command = [sys.executable, "manage.py", "rebuild_projections", "--all"]
    if run.args.rebuild_batch_size:
        command += ["--batch-size", str(run.args.rebuild_batch_size)]
    measured = measure(run, command)
    run.read_models_built = True
    return report(" ".join(command[2:]), history.events_written, prepared, measured)


def measure(run: Run, command: list[str]) -> Measured:
    """Run the rebuild as a subprocess, sampling its RSS and profiling it; fail if it fails."""
    log_path = run.log_dir / "rebuild.log"
    samples: list[tuple[float, float]] = []
    with log_path.open("w") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=PROJECT, env=run.env, stdout=log, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=_sample_rss, args=(process.pid, started, samples), daemon=True)
        sampler.start()
        spy = start_spy(process.pid, rate=10, idle=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.join(timeout=2)
        profile = spy_report(spy, stop=True)
    output = log_path.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"rebuild_projections exited {process.returncode}:\n{output[-3000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, samples, profile, output)


def report(shown: str, events: int, prepared: float, measured: Measured) -> Section:
    early, late = measured.rss_early_and_late()
    flat = late - early <= 0.1 * early + 10
    peak_mb = measured.peak_mb
    figures = [
        Figure("4", f"{shown}, {events:,} events", measured.seconds, "s"),
        Figure("4", "rebuild throughput (log events / wall time)", events / measured.seconds, "events/s"),
        Figure(
            "4",
            "rebuild peak RSS (ru_maxrss)",
            peak_mb,
            "MB",
            target=f"flat, < {PEAK_TARGET_MB} MB",
            met=peak_mb < PEAK_TARGET_MB and flat,
        ),
    ]
    details = [
        f"- Before it: {prepared:.0f} s generating the rest of the history and its write model (not measured).",
        f"- RSS, max over the first quarter of the run: {early:.0f} MB; over the last quarter: {late:.0f} MB "
        f"({'flat' if flat else 'growing'}); peak {peak_mb:.0f} MB.",
        f"- RSS over time (s: MB): {_timeline(measured.samples)}",
        "",
        "| projection | events | seconds | events/s |",
        "|---|---|---|---|",
        *[f"| {name} | {int(n):,} | {float(s):.1f} | {r} |" for name, n, s, r in SUMMARY.findall(measured.output)],
        "",
        "Profile of the rebuild process (py-spy, 10 samples/s, waiting included, the whole run):",
        "",
        *measured.profile,
    ]
    return Section(TITLE, figures=figures, details=details)


def _sample_rss(pid: int, started: float, samples: list[tuple[float, float]]) -> None:
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                samples.append((time.monotonic() - started, int(line.split()[1]) / 1024))
        if "State:\tZ" in text:
            return
        time.sleep(0.5)


def _timeline(samples: list[tuple[float, float]], points: int = 12) -> str:
    if not samples:
        return "none"
    step = max(1, len(samples) // points)
    chosen = [*samples[::step], samples[-1]] if samples[-1] not in samples[::step] else samples[::step]
    return ", ".join(f"{at:.0f}: {rss:.0f}" for at, rss in chosen)
