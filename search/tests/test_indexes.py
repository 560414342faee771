"""The GIN indexes the migrations create are over exactly the documents the search queries:
an expression that differs by as much as a cast cannot use the index."""

import pytest
from django.contrib.postgres.indexes import GinIndex
from django.db import connection

from search import documents

pytestmark = pytest.mark.django_db


def index_definition(name: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("name", sorted(documents.INDEXES))
def test_each_migrated_index_is_over_the_searched_document(name):
    model, document = documents.INDEXES[name]
    with connection.schema_editor() as editor:
        editor.add_index(model, GinIndex(document, name="search_test_probe"))  # rolled back with the test

    assert index_definition(name) == index_definition("search_test_probe").replace("search_test_probe", name)
