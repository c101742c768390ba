"""Blue/green on PostgreSQL: a rebuild's shadow table is swapped in by rename, with the indexes migrations made.

A new version deployed under load: tests/drills/test_new_projection_version.py.
"""

import pytest
from django.db import connections

from core.routers import READ_PRIMARY
from projections.rebuild import rebuild, verify
from projections.registry import replayable_projections
from tests.projections.helpers import a_busy_day, project_everything

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]


def _indexes(table: str) -> set[tuple[str, str]]:
    with connections[READ_PRIMARY].cursor() as cursor:
        cursor.execute(
            "SELECT indexname, split_part(indexdef, ' USING ', 2) FROM pg_indexes WHERE tablename = %s", [table]
        )
        return set(cursor.fetchall())


def test_a_rebuild_swaps_in_a_table_with_the_indexes_migrations_made():
    a_busy_day()
    project_everything()
    before = {name: _indexes(p.model._meta.db_table) for name, p in replayable_projections().items()}
    assert ("catalog_search", "gin (search_vector)") in before["product_catalog"]  # made by a RunPython

    for projection in replayable_projections().values():
        rebuild(projection)

    assert {name: _indexes(p.model._meta.db_table) for name, p in replayable_projections().items()} == before
    for projection in replayable_projections().values():
        assert verify(projection).total == 0
