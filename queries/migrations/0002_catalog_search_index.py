"""A GIN index for full-text search of the catalog, on PostgreSQL only (SQLite has no tsvector)."""

from django.db import migrations

INDEX = "catalog_search"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON queries_productcatalog USING gin (search_vector)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("queries", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
