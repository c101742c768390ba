"""Resolving the projection names a management command was given."""

from django.core.management.base import CommandError

from projections.base import registry, replayable_projections


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
        hint = f" ({', '.join(subscribers)}: subscribers are never replayed)" if subscribers else ""
        raise CommandError(f"Unknown projection {', '.join(unknown)}{hint}. Known: {', '.join(available)}.")
    return [available[name] for name in names]
