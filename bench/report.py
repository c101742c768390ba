"""Figures, the table printed at the end of a run, and the Markdown file written to bench/results/."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One line of the table: a measurement, its baseline from the same run, and the target if there is one."""

    benchmark: str
    measure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        baseline = f"{self.baseline}: {_number(self.baseline_value)}" if self.baseline_value is not None else ""
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        value = f"{_number(self.value)} {self.unit}"
        return [self.benchmark, self.measure, value, baseline, ratio, self.target, verdict]


@dataclass
class Section:
    """What one benchmark reports: its figures, plus details and notes for the results file."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


HEADERS = ["#", "measure", "figure", "baseline (same run)", "ratio", "target", ""]


def table(sections: list[Section]) -> list[list[str]]:
    return [figure.cells() for section in sections for figure in section.figures]


def plain_table(sections: list[Section]) -> str:
    rows = [HEADERS, *table(sections)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(sections: list[Section]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table(sections)]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        memory_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        memory = f"{memory_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown"
    try:
        postgres = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        postgres = "unknown"
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "postgres client": postgres,
        "kernel": platform.release(),
    }


def write_markdown(sections: list[Section], *, started: datetime, seconds: float, context: dict[str, str]) -> Path:
    """Write bench/results/<date>.md (a later run on the same day replaces it) and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started.astimezone(UTC):%Y-%m-%d}.md"
    info = {**machine(), **context}
    lines = [
        f"# Benchmarks, {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "Every baseline was measured in the same run, on the same machine, so the ratios hold even",
        "though absolute figures move with whatever else the machine is doing.",
        "",
        f"Run took {seconds / 60:.1f} minutes.",
        "",
        *[f"- {name}: {value}" for name, value in info.items()],
        "",
        "## Results",
        "",
        markdown_table(sections),
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", "", f"Took {section.seconds:.0f} s.", ""]
        if section.error:
            lines += ["**Failed:**", "", "```", section.error.strip(), "```", ""]
        lines += section.details
        lines.append("")
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text("\n".join(lines))
    temporary.replace(path)
    return path
