"""The search's read queries: full-text search over incidents, timeline entries,
status updates and post-mortems, and the incident page's similar incidents.

On PostgreSQL each kind costs two queries, whatever the table sizes: the ids and ranks
(ts_rank) of the rows whose document matches (a GIN index lookup, `search.documents`),
at most `CANDIDATES` of them; then the best `PER_KIND` of those by id, with the passages
ts_headline marks. Ranking re-reads the text of each candidate, so the cap on candidates
is what bounds a search for a word that is everywhere. One query before them reads the
search's parse and sets a statement timeout: a search with nothing to look for (only
stop words or operators, or only excluded words, which would match every row) is
answered without searching.

Elsewhere (SQLite, the no-configuration mode) each kind is a case-insensitive substring
match, newest first, with the passage cut around the first occurrence.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from operator import or_

from django.contrib.postgres.lookups import TrigramSimilar
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, TrigramSimilarity
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import NullIf, Upper
from django.urls import reverse
from django.utils.safestring import SafeString

from incidents.models import Incident, StatusUpdate, TimelineEntry
from postmortems.models import PostMortem

from . import documents
from .passages import START, STOP, entities, excerpt, headline_html, highlighted

# The best this many of each kind are shown.
PER_KIND = 50
# Matching rows ranked per kind: a word found in more rows than this is ranked within the first found.
CANDIDATES = 1000
# Longest one of a search's queries may run; past it, the kinds not yet searched are left out
# and the page says so (a phrase of common words that seldom stand together is the slow case).
TIMEOUT_MS = 3000
# ts_headline's passage: up to two fragments of about 15–35 words.
HEADLINE = {"max_words": 35, "min_words": 15, "max_fragments": 2, "fragment_delimiter": " … "}
QUERY_CANCELED = "57014"


@dataclass
class Hit:
    """One result: what it is, where it links, and its passage (safe HTML, matches in <mark>)."""

    kind: str
    url: str
    reference: str
    title: SafeString
    passage: SafeString
    label: str = ""
    moment: datetime | None = None


@dataclass
class Group:
    kind: str
    label: str
    hits: list[Hit] = field(default_factory=list)
    more: bool = False  # more matches than shown


@dataclass
class Results:
    query: str
    groups: list[Group] = field(default_factory=list)
    notice: str = ""  # why nothing (or not everything) was searched
    ranked: bool = True  # False on the substring fallback

    @property
    def count(self) -> int:
        return sum(len(group.hits) for group in self.groups)


def _joined(*names: str):
    """The non-empty ones of the text fields `names`, joined for a passage."""
    return Func(
        Value(" · "), *(NullIf(name, Value("")) for name in names), function="CONCAT_WS", output_field=TextField()
    )


@dataclass(frozen=True)
class Kind:
    """What is searched of one model, and how a row becomes a `Hit`."""

    key: str
    label: str
    permission: str
    model: type
    document: object
    text_fields: tuple[str, ...]  # the fallback's substring match, and the passage's text
    columns: tuple[str, ...]  # what a hit shows, besides the text
    related: tuple[str, ...] = ("incident",)

    def queryset(self):
        rows = self.model.objects.select_related(*self.related) if self.related else self.model.objects.all()
        return rows.only(*self.columns, *self.text_fields)

    def passage_text(self):
        """The text ts_headline cuts the passage from (see passages.entities)."""
        return entities(F(self.text_fields[0]) if len(self.text_fields) == 1 else _joined(*self.text_fields))


INCIDENT_TEXT = ("description", "user_impact", "resolution_note")

KINDS = [
    Kind(
        "incident",
        "Incidents",
        "incidents.view_incident",
        Incident,
        documents.INCIDENT,
        INCIDENT_TEXT,
        ("id", "reference", "title", "status", "detected_at"),
        related=(),
    ),
    Kind(
        "timeline",
        "Timeline entries",
        "incidents.view_timelineentry",
        TimelineEntry,
        documents.TIMELINE_ENTRY,
        ("text",),
        ("id", "kind", "occurred_at", "incident__reference", "incident__title"),
    ),
    Kind(
        "update",
        "Status updates",
        "incidents.view_statusupdate",
        StatusUpdate,
        documents.STATUS_UPDATE,
        ("body",),
        ("id", "audience", "posted_at", "incident__reference", "incident__title"),
    ),
    Kind(
        "postmortem",
        "Post-mortems",
        "postmortems.view_postmortem",
        PostMortem,
        documents.POSTMORTEM,
        tuple(PostMortem.DELIVERABLE_FIELDS),
        ("id", "completed_at", "incident__reference", "incident__title"),
    ),
]


def full_text_available() -> bool:
    """PostgreSQL's full-text and trigram search; elsewhere (SQLite) the substring fallback."""
    return connection.vendor == "postgresql"


def kinds_for(user) -> list[Kind]:
    return [kind for kind in KINDS if user.has_perm(kind.permission)]


def search(text: str, kinds: list[Kind]) -> Results:
    """The best matches of `text` of each kind in `kinds`, in a constant number of queries."""
    if full_text_available():
        return _search_postgres(text, kinds)
    return _search_substring(text, kinds)


def _search_postgres(text: str, kinds: list[Kind]) -> Results:
    results = Results(text)
    query = SearchQuery(text, config=documents.CONFIG, search_type="websearch")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true),"
                " querytree(websearch_to_tsquery(%s::regconfig, %s))",
                [str(TIMEOUT_MS), documents.CONFIG, text],
            )
            before, _, tree = cursor.fetchone()
            _search_groups(results, tree, kinds, query)
            # The timeout is the search's alone: a caller's transaction (a test's, or work committed after
            # the page) goes on with its own. A cancelled search rolls back to the savepoint, which undoes it.
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
        results.notice = (
            f"The search took longer than {TIMEOUT_MS // 1000} s and was stopped"
            f"{'; the results below are those found before then' if results.groups else ''}. "
            "Add a word to narrow it, or take common words out of quotes."
        )
    return results


def _search_groups(results: Results, tree: str, kinds: list[Kind], query: SearchQuery) -> None:
    if tree == "":
        results.notice = (
            "Nothing to search for: the search has only common words (such as “the” or “and”), "
            "operators or punctuation. Try a more specific word."
        )
        return
    if tree == "T":
        results.notice = (
            "Add a word to look for: excluded words (-word) on their own, or OR-ed with one, "
            "would match nearly everything."
        )
        return
    for kind in kinds:
        results.groups.append(_ranked_group(kind, query))


def _ranked_group(kind: Kind, query: SearchQuery) -> Group:
    """Two queries: the ids and ranks of up to CANDIDATES matching rows (an index lookup, and the
    text of those rows only), then the best PER_KIND of them by id, with their passages."""
    matching = kind.model.objects.annotate(document=kind.document).filter(document=query).order_by()
    ranked = list(matching.annotate(rank=SearchRank(kind.document, query)).values_list("pk", "rank")[:CANDIDATES])
    best = sorted(ranked, key=lambda row: (-row[1], -row[0]))[: PER_KIND + 1]
    if not best:
        return Group(kind.key, kind.label)
    headline = {"config": documents.CONFIG, "start_sel": START, "stop_sel": STOP}
    rows = kind.queryset().filter(pk__in=[pk for pk, _ in best])
    rows = rows.annotate(passage=SearchHeadline(kind.passage_text(), query, **headline, **HEADLINE))
    if kind.model is Incident:
        rows = rows.annotate(title_passage=SearchHeadline(entities(F("title")), query, **headline, highlight_all=True))
    by_pk = {row.pk: row for row in rows.order_by()}
    return _group(
        kind, [by_pk[pk] for pk, _ in best if pk in by_pk], lambda row, attr: headline_html(getattr(row, attr))
    )


def _search_substring(text: str, kinds: list[Kind]) -> Results:
    results = Results(text, ranked=False)
    for kind in kinds:
        matches = reduce(or_, [Q(**{f"{name}__icontains": text}) for name in kind.text_fields])
        if kind.model is Incident:
            matches |= Q(title__icontains=text)
        rows = list(kind.queryset().filter(matches).order_by("-pk")[: PER_KIND + 1])
        for row in rows:
            row.passage = " · ".join(value for name in kind.text_fields if (value := getattr(row, name)))
            if kind.model is Incident:
                row.title_passage = row.title
        results.groups.append(_group(kind, rows, lambda row, attr: excerpt(getattr(row, attr), text)))
    return results


def _group(kind: Kind, rows: list, mark) -> Group:
    group = Group(kind.key, kind.label, more=len(rows) > PER_KIND)
    for row in rows[:PER_KIND]:
        group.hits.append(_hit(kind, row, mark))
    return group


def _hit(kind: Kind, row, mark) -> Hit:
    passage = mark(row, "passage")
    if kind.model is Incident:
        return Hit(
            kind.key,
            row.get_absolute_url(),
            row.reference,
            mark(row, "title_passage"),
            passage,
            row.get_status_display(),
            row.detected_at,
        )
    incident = row.incident
    detail = reverse("incidents:detail", args=[incident.reference])
    if kind.model is TimelineEntry:
        url, label, moment = f"{detail}#timeline", row.get_kind_display(), row.occurred_at
    elif kind.model is StatusUpdate:
        url, label, moment = f"{detail}#updates", f"{row.get_audience_display()} update", row.posted_at
    else:
        url = reverse("postmortems:detail", args=[incident.reference])
        label, moment = ("Complete" if row.completed_at else "In progress"), row.completed_at
    return Hit(kind.key, url, incident.reference, highlighted(incident.title), passage, label, moment)


# --- Similar incidents ------------------------------------------------------------------------------

SIMILAR_SHOWN = 5
# Incidents with a similar title that are considered, at most (the first found by the trigram index).
SIMILAR_CANDIDATES = 200


def similar_incidents(incident: Incident, *, with_root_causes: bool) -> list[Incident]:
    """At most five other incidents of the same type or sharing a service with `incident`, whose
    titles are similar to its title (pg_trgm's `%`: similarity of at least 0.3, through the trigram
    index incident_title_trgm), most similar first, each with its post-mortem's primary cause as
    `root_cause` (None without a post-mortem). One query; PostgreSQL only (`full_text_available`)."""
    title = Upper(Value(incident.title))
    shares_service = Exists(
        Incident.services.through.objects.filter(
            incident_id=OuterRef("pk"), service_id__in=[service.pk for service in incident.services.all()]
        )
    )
    candidates = (
        Incident.objects.filter(TrigramSimilar(Upper("title"), title))
        .filter(Q(incident_type_id=incident.incident_type_id) | shares_service)
        .exclude(pk=incident.pk)
        .order_by()
        .values("pk")[:SIMILAR_CANDIDATES]
    )
    rows = (
        Incident.objects.filter(pk__in=candidates)
        .select_related("severity")
        .only("id", "reference", "title", "status", "detected_at", "severity__level", "severity__name")
        .annotate(similarity=TrigramSimilarity(Upper("title"), title))
    )
    if with_root_causes:
        causes = PostMortem.objects.filter(incident_id=OuterRef("pk")).order_by().values("primary_cause")[:1]
        rows = rows.annotate(root_cause=Subquery(causes))
    return list(rows.order_by("-similarity", "-detected_at", "-id")[:SIMILAR_SHOWN])
