"""Where the time goes: py-spy samples of other processes, cProfile of this one, boiled down to top entries.

py-spy (a dev dependency) samples a running process from outside, without pausing it
(--nonblocking), so a worker or a rebuild can be profiled while it is being measured at
the cost of a few per cent of one core. Without py-spy the profiles are skipped, never the
benchmark.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

TOP = 12


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start_spy(
    pid: int, seconds: float = 3600, *, rate: int = 50, subprocesses: bool = False, idle: bool = False
) -> subprocess.Popen | None:
    """Start sampling `pid` (and its children) for `seconds` at most; collect the result with `spy_report`.

    `idle` also samples threads that are waiting (on the database, say): right for a process that
    only works, wrong for a server whose waiting is for work to arrive.
    """
    binary = py_spy()
    if binary is None:
        return None
    output = tempfile.NamedTemporaryFile(prefix="py-spy-", suffix=".txt", delete=False)  # noqa: SIM115
    output.close()
    command = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate)]
    command += ["--format", "raw", "--output", output.name, "--nonblocking"]
    if subprocesses:
        command.append("--subprocesses")
    if idle:
        command.append("--idle")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process.output_path = output.name
    return process


def spy_report(process: subprocess.Popen | None, *, stop: bool = False, timeout: float = 60) -> list[str]:
    """Wait for a sampler from `start_spy` (or `stop` it now) and return its top entries as Markdown lines."""
    if process is None:
        return ["(no profile: py-spy is not installed)"]
    if stop and process.poll() is None:
        process.send_signal(signal.SIGINT)  # py-spy writes what it has sampled so far, and exits
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    path = Path(process.output_path)
    stacks = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return folded_top(stacks)


def folded_top(lines: list[str], top: int = TOP) -> list[str]:
    """Top functions by own and by inclusive samples, from folded stacks ("a;b;c 12" per line)."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        if not frames:
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return ["(no samples)"]
    result = [f"{total} samples. Own time (the function itself):", "", "```"]
    result += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    result += ["```", "", "Inclusive time (the function and what it calls), application frames:", "", "```"]
    shown = [(frame, n) for frame, n in inclusive.most_common() if _interesting(frame)][:top]
    result += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in shown]
    result.append("```")
    return result


def _interesting(frame: str) -> bool:
    return any(part in frame for part in ("commands/", "projections/", "queries/", "config/", "bench/"))


def cprofile_top(function: Callable[[], object], top: int = TOP) -> tuple[object, list[str]]:
    """Run `function` under cProfile; return its result and the top entries by own and cumulative time."""
    profile = cProfile.Profile()
    result = profile.runcall(function)
    lines = []
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).strip_dirs().sort_stats(order).print_stats(top)
        body = buffer.getvalue().strip().splitlines()
        start = next((i for i, line in enumerate(body) if line.lstrip().startswith("ncalls")), 0)
        lines += [f"By {order}:", "", "```", *body[start:], "```", ""]
    return result, lines
