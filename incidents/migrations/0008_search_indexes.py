"""GIN indexes for the full-text search (search/): one over each searched document, so
`document @@ query` is an index lookup, not a read of every incident, timeline entry or
status update.

The expressions are search.documents' own (that module cannot be imported from here:
`incidents` sits below `search`); search/tests/test_indexes.py checks that they agree.
PostgreSQL only: SQLite (the no-configuration mode) searches by scanning, which suits its
size. Built CONCURRENTLY, so a deploy does not block notes and updates while the index
over a million timeline entries is built.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CONFIG = "english"


def indexes():
    return {
        "incident": GinIndex(
            SearchVector("title", config=CONFIG, weight="A")
            + SearchVector("description", "user_impact", "resolution_note", config=CONFIG, weight="B"),
            name="incident_search",
        ),
        "timelineentry": GinIndex(SearchVector("text", config=CONFIG), name="timelineentry_search"),
        "statusupdate": GinIndex(SearchVector("body", config=CONFIG), name="statusupdate_search"),
    }


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in indexes().items():
        schema_editor.add_index(apps.get_model("incidents", model_name), index, concurrently=True)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in indexes().items():
        schema_editor.remove_index(apps.get_model("incidents", model_name), index, concurrently=True)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("incidents", "0007_history_page_indexes")]

    operations = [migrations.RunPython(create_search_indexes, drop_search_indexes, elidable=False)]
