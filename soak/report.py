"""The run's report: soak/results/<date>.md, the figures, the faults, the 503 windows and every violation."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from soak.checks import ACKNOWLEDGED, command_outcomes, unavailable_windows
from soak.history import Exchange, Fault


@dataclass
class Outcome:
    """Everything a run found, for the report and the exit status."""

    seconds: float  # of load
    exchanges: list[Exchange]
    faults: list[Fault]
    final_catch_up: float | None
    violations: dict[str, list[str]]  # check name -> violations
    notes: list[str] = field(default_factory=list)
    stream_messages: int = 0  # received by the live stream's reader
    emails_sent: int = 0  # messages the mail backend wrote, resends included
    resends_collapsed: int = 0  # copies of a Message-ID already sent: the receiver sees them as one e-mail

    @property
    def clean(self) -> bool:
        return not any(self.violations.values())


def render(outcome: Outcome, *, title: str, settings: dict[str, str], grace: float) -> str:
    exchanges = outcome.exchanges
    commands = [e for e in exchanges if e.op[0].isupper()]
    reads = [e for e in exchanges if e.path.startswith("/api/queries/") and not e.op.startswith("stream_")]
    stream_opened = [e for e in exchanges if e.op == "stream_connect"]
    stream_answers = Counter(e.status for e in stream_opened)
    stream_drops = sum(e.op == "stream_dropped" for e in exchanges)
    outcomes = Counter(command_outcomes(exchanges).values())
    statuses = Counter(e.status for e in exchanges)
    lines = [
        f"# {title}",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in settings.items()),
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---|",
        f"| load | {outcome.seconds:.0f} s |",
        f"| commands acknowledged | {outcomes[ACKNOWLEDGED]:,} ({outcomes[ACKNOWLEDGED] / outcome.seconds:.1f}/s) |",
        f"| commands refused (4xx: business rules, mostly stock) | {outcomes['refused']:,} |",
        f"| commands with no known outcome (every try unanswered or 503) | {outcomes['unknown']:,} |",
        f"| command requests (retries included) | {len(commands):,} ({len(commands) / outcome.seconds:.1f}/s) |",
        f"| reads answered 200 | {sum(e.status == 200 for e in reads):,} "
        f"({sum(e.status == 200 for e in reads) / outcome.seconds:.1f}/s) |",
        f"| reads with X-Min-Position (own writes) | {sum(e.min_position is not None for e in reads):,} |",
        f"| requests in all | {len(exchanges):,} |",
        f"| live stream messages received (one customer's orders) | {outcome.stream_messages:,} |",
        f"| live stream reconnections (open streams dropped: {stream_drops:,}) | {max(len(stream_opened) - 1, 0):,} "
        "(answers: " + ", ".join(f"{s or 'none'}: {n:,}" for s, n in sorted(stream_answers.items())) + ") |",
        f"| e-mails sent (messages written, resends included) | {outcome.emails_sent:,} |",
        f"| e-mail resends collapsed (a copy of a Message-ID already sent, after a sender died) "
        f"| {outcome.resends_collapsed:,} |",
        "| answers by status | " + ", ".join(f"{s or 'none'}: {n:,}" for s, n in sorted(statuses.items())) + " |",
        "| followers at the head after the load stopped | "
        + (f"{outcome.final_catch_up:.1f} s |" if outcome.final_catch_up is not None else "not within the limit |"),
        "",
        "## Faults",
        "",
        "Times are seconds since the load started. Heal: from the fault to the process ready again (or the",
        "connection or lock given back). Catch-up: from the heal to every follower at the head of the log as",
        "it stood at the heal.",
        "",
        "| # | at | fault | heal | catch-up | what was done |",
        "|---|---|---|---|---|---|",
    ]
    for number, fault in enumerate(outcome.faults, 1):
        heal = f"{fault.heal_seconds:.1f} s" if fault.heal_seconds is not None else "never"
        catch_up = f"{fault.catch_up_seconds:.1f} s" if fault.catch_up_seconds is not None else "not within 20 s"
        lines.append(f"| {number} | {fault.started:.1f} | {fault.kind} | {heal} | {catch_up} | {fault.detail} |")
    lines += [
        "",
        "## 503s and unanswered requests",
        "",
        f"Spans of time with 503s or requests that got no answer, and the faults they fall in (up to {grace:.0f} s",
        "after the heal).",
        "",
        "| from | to | requests | during |",
        "|---|---|---|---|",
    ]
    for start, end, count in unavailable_windows(exchanges):
        during = [f.kind for f in outcome.faults if f.started <= end and start <= (f.healed or float("inf")) + grace]
        lines.append(f"| {start:.1f} | {end:.1f} | {count} | {', '.join(during) or '-'} |")
    lines += ["", "## Checks", ""]
    for name, violations in outcome.violations.items():
        lines.append(f"- {name}: " + ("clean" if not violations else f"**{len(violations)} violation(s)**"))
        lines += [f"  - {violation}" for violation in violations[:20]]
        if len(violations) > 20:
            lines.append(f"  - ... and {len(violations) - 20} more")
    if outcome.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in outcome.notes)]
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def write(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
