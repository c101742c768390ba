"""What the projection management commands share: resolving names, and the --batch-size option."""

import argparse

from django.core.management.base import CommandError

from projections.registry import registry, replayable_projections


def chosen_projections(names: list[str], *, everything: bool) -> list:
    """Return the projections named (all of them with --all), refusing unknown names and subscribers."""
    available = replayable_projections()
    if everything or not names:
        if not everything:
            raise CommandError(f"Name projections to work on, or pass --all. Known: {', '.join(available)}.")
        return list(available.values())
    unknown = [name for name in names if name not in available]
    if unknown:
        subscribers = [name for name in unknown if name in registry()]
        hint = (
            f" ({', '.join(subscribers)}: subscribers are never replayed, nor are process managers)"
            if subscribers
            else ""
        )
        raise CommandError(f"Unknown projection {', '.join(unknown)}{hint}. Known: {', '.join(available)}.")
    return [available[name] for name in names]


def positive_batch_size(text: str) -> int:
    """argparse type of --batch-size: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


BATCH_SIZE_HELP = "Events per batch (default: the PROJECTION_BATCH_SIZE setting, 500)."
REBUILD_BATCH_SIZE_HELP = "Events per batch (default: the REBUILD_BATCH_SIZE setting, 5000)."
