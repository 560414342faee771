"""What the search reads of each kind of row, as PostgreSQL full-text documents.

Each document is also the expression of a GIN index, created by
incidents/migrations/0008_search_indexes.py and postmortems/migrations/0006_search_indexes.py.
Those migrations spell the expressions out again (a lower app's migration cannot import
this app), and `search/tests/test_indexes.py` checks that both agree: a query whose
expression differs from the index's by as much as a cast cannot use the index, and reads
the whole table instead.
"""

from django.contrib.postgres.search import SearchVector

from incidents.models import Incident, StatusUpdate, TimelineEntry
from postmortems.models import PostMortem

# The text search configuration (stemming and stop words). Changing it needs new indexes.
CONFIG = "english"

INCIDENT = SearchVector("title", config=CONFIG, weight="A") + SearchVector(
    "description", "user_impact", "resolution_note", config=CONFIG, weight="B"
)
TIMELINE_ENTRY = SearchVector("text", config=CONFIG)
STATUS_UPDATE = SearchVector("body", config=CONFIG)
POSTMORTEM = SearchVector(*PostMortem.DELIVERABLE_FIELDS, config=CONFIG)

# index name: (model, document)
INDEXES = {
    "incident_search": (Incident, INCIDENT),
    "timelineentry_search": (TimelineEntry, TIMELINE_ENTRY),
    "statusupdate_search": (StatusUpdate, STATUS_UPDATE),
    "postmortem_search": (PostMortem, POSTMORTEM),
}
