"""HTTP load from wrk, a compiled generator, so that the client does not take the server's Python CPU.

wrk runs bench/lua/replay.lua, which replays a file of requests that `write_requests` writes
(method, path, token and body on each line) and prints its figures as one JSON line, which
`parse` reads. Contenders are measured in alternating rounds (`alternate`), so that a burst of
someone else's load on the shared machine falls on both alike. Without wrk the benchmarks that
need it fail at once, saying how to install it; nothing falls back to a Python client.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from bench.report import Figure

SCRIPT = Path(__file__).resolve().parent / "lua" / "replay.lua"
MARKER = "wrk-json: "
INSTALL = "apt-get install wrk"
# A request slower than this is counted as a timeout, not a latency (wrk's default is 2 s).
REQUEST_TIMEOUT_SECONDS = 30


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    """The path of wrk; raise WrkMissing, saying how to install it, if it is not on the PATH."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing(f"wrk, the HTTP load generator, is not installed: {INSTALL}")
    return found


@dataclass(frozen=True)
class Request:
    """One request for wrk to send: `token` goes in an Authorization header, `body` is JSON."""

    method: str
    path: str
    token: str = ""
    body: str = ""

    def line(self) -> str:
        """The request as one line of the file replay.lua reads: its four fields, tab-separated."""
        fields = (self.method, self.path, self.token, self.body)
        if not self.method or not self.path or any(character in "".join(fields) for character in "\t\r\n"):
            raise ValueError(f"cannot be one line of wrk's request file: {self!r}")
        return "\t".join(fields)


def write_requests(path: Path, requests: Iterable[Request]) -> Path:
    """Write `requests` where replay.lua will read them; return `path`."""
    lines = [request.line() for request in requests]
    if not lines:
        raise ValueError("wrk needs at least one request to replay")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Result:
    """What one wrk run measured: every answer counts in the latencies; `unexpected` ones were not 2xx."""

    requests: int
    seconds: float
    unexpected: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> int:
        return self.requests - self.unexpected

    @property
    def errors(self) -> int:
        return self.unexpected + self.socket_errors + self.timeouts

    @property
    def rate(self) -> float:
        """Answers in 2xx per second."""
        return self.ok / self.seconds if self.seconds else 0.0


def parse(output: str) -> Result:
    """The figures replay.lua's done() printed in wrk's output; ValueError if it printed none."""
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ValueError(f"no {MARKER.strip()} line in wrk's output:\n{output[-2000:]}")
    figures = json.loads(lines[-1].removeprefix(MARKER))
    figures["failures"] = tuple(figures["failures"])
    return Result(**figures)


def measure(url: str, requests: Path, *, seconds: int, connections: int, threads: int = 1) -> Result:
    """Replay the requests in file `requests` against `url` for `seconds` (whole) over `connections`."""
    command = [wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", f"{REQUEST_TIMEOUT_SECONDS}s", "-s", str(SCRIPT), url]
    finished = subprocess.run(
        command,
        env={**os.environ, "WRK_REQUESTS": str(requests)},
        capture_output=True,
        text=True,
        errors="replace",
        timeout=seconds + REQUEST_TIMEOUT_SECONDS + 30,
        check=False,
    )
    if finished.returncode:
        raise RuntimeError(f"wrk exited with {finished.returncode}:\n{finished.stderr[-2000:]}")
    try:
        return parse(finished.stdout)
    except ValueError as error:
        raise RuntimeError(f"{error}\n{finished.stderr[-2000:]}") from error


# The figures of a Result that rounds compare.
P50, P99, RATE = attrgetter("p50_ms"), attrgetter("p99_ms"), attrgetter("rate")


@dataclass
class Rounds:
    """Each contender's results, round by round: round i of one ran next to round i of the others."""

    results: dict[str, list[Result]] = field(default_factory=dict)

    def add(self, name: str, result: Result) -> None:
        self.results.setdefault(name, []).append(result)

    def rate(self, name: str) -> float:
        """2xx answers per second over all the contender's rounds."""
        results = self.results[name]
        return sum(result.ok for result in results) / sum(result.seconds for result in results)

    def median(self, name: str, figure: Callable[[Result], float]) -> float:
        """The median of a figure (p50_ms, say) over the contender's rounds."""
        return statistics.median(figure(result) for result in self.results[name])

    def ratio(self, ours: str, theirs: str, figure: Callable[[Result], float]) -> float:
        """The median of the rounds' ratios figure(ours) / figure(theirs): one spoilt round does not move it."""
        pairs = zip(self.results[ours], self.results[theirs], strict=True)
        ratios = [figure(a) / figure(b) for a, b in pairs if figure(b)]
        return statistics.median(ratios) if ratios else float("nan")  # nothing answered: no ratio, not a crash

    def ok(self, name: str) -> int:
        return sum(result.ok for result in self.results[name])

    def errors(self, name: str) -> int:
        """The contender's non-2xx answers, socket errors and timeouts."""
        return sum(result.errors for result in self.results[name])

    def failures(self, name: str) -> list[str]:
        """The first few non-2xx answers wrk kept (status and the start of the body)."""
        return [failure for result in self.results[name] for failure in result.failures][:3]

    def by_round(self, ours: str, theirs: str, figure: Callable[[Result], float] = RATE, digits: int = 0) -> str:
        """A figure of both, round by round: "159/163, 171/177" (requests/s, unless told)."""
        pairs = zip(self.results[ours], self.results[theirs], strict=True)
        return ", ".join(f"{figure(a):.{digits}f}/{figure(b):.{digits}f}" for a, b in pairs)

    def row(self, name: str, contender: str) -> str:
        """A Markdown table row: requests/s, 2xx, errors, p50 and p99 ms (medians over the rounds)."""
        p50, p99 = self.median(contender, P50), self.median(contender, P99)
        return (
            f"| {name} | {self.rate(contender):,.1f} | {self.ok(contender)} | {self.errors(contender)} "
            f"| {p50:.2f} | {p99:.2f} |"
        )


def alternate(
    url: str, contenders: dict[str, Path], *, rounds: int, seconds: int, connections: int, pause: float = 0.2
) -> Rounds:
    """Each contender's requests for `seconds`, one contender after the other, `rounds` times over."""
    measured = Rounds()
    for _ in range(rounds):
        for name, requests in contenders.items():
            measured.add(name, measure(url, requests, seconds=seconds, connections=connections))
            time.sleep(pause)
    return measured


def whole_seconds(seconds: float) -> int:
    """wrk's -d takes whole seconds: the whole ones of `seconds`, and at least one."""
    return max(1, int(seconds))


def throughput_figure(
    number: str, what: str, unit: str, rounds: Rounds, contenders: tuple[str, str], baseline: str, target: float
) -> Figure:
    """Requests/s of the first contender against the second: the ratio is the median of the rounds' ratios."""
    ours, theirs = contenders
    ratio = rounds.ratio(ours, theirs, RATE)
    value, baseline_value = rounds.rate(ours), rounds.rate(theirs)
    return Figure(number, what, value, unit, baseline, baseline_value, ratio, f">= {target}", ratio >= target)


def latency_figures(number: str, what: str, rounds: Rounds, contenders: tuple[str, str], baseline: str) -> list[Figure]:
    """p50 and p99 (medians over the rounds) of the first contender against the second; ratio baseline / ours."""
    ours, theirs = contenders
    return [
        Figure(
            number,
            f"{what}: {name}",
            rounds.median(ours, figure),
            "ms",
            baseline,
            rounds.median(theirs, figure),
            rounds.ratio(theirs, ours, figure),
        )
        for name, figure in (("p50", P50), ("p99", P99))
    ]
