"""A GIN index over the post-mortem's deliverables for the full-text search (search/).

The expression is search.documents.POSTMORTEM (not importable from here: `postmortems`
sits below `search`); search/tests/test_indexes.py checks that the two agree.
PostgreSQL only, built CONCURRENTLY (see incidents' 0008_search_indexes).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CONFIG = "english"
DELIVERABLES = [
    "timeline_summary",
    "impact_assessment",
    "response_effectiveness",
    "primary_cause",
    "contributing_factors",
    "system_vulnerabilities",
    "immediate_fixes",
    "long_term_improvements",
    "preventive_measures",
]


def index():
    return GinIndex(SearchVector(*DELIVERABLES, config=CONFIG), name="postmortem_search")


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("postmortems", "PostMortem"), index(), concurrently=True)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("postmortems", "PostMortem"), index(), concurrently=True)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("postmortems", "0005_list_indexes")]

    operations = [migrations.RunPython(create_search_index, drop_search_index, elidable=False)]
