"""Readable audit trails, for any model with simple-history: simple-history's rows turned into "who changed what,
from what to what, and why", with related objects named rather than numbered.

A history page shows the newest changes a page at a time (`history_page`): however long the history grows, a page
reads a bounded number of rows in a fixed number of queries."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import formats

from portal.display import duration_text, moment_text, person_name
from portal.pagination import AFTER, BEFORE, KeysetPage

# Bookkeeping columns that say nothing a reader needs.
SKIPPED_FIELDS = {"id", "created_at", "updated_at"}

# History rows a page reads: enough to read on, few enough that an incident with
# thousands of notes renders as fast as one with ten.
PER_PAGE = 50


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: datetime
    user: object
    reason: str
    action: str  # "created", "changed", "deleted"
    subject: str  # what kind of object, e.g. "Role assignment"
    label: str  # which one
    changes: list[FieldChange] = field(default_factory=list)
    sort_key: tuple = ()  # (history_date, rank, history_id): the page's order (see `history_page`)

    @property
    def user_name(self) -> str:
        return "Unknown" if self.user is None else person_name(self.user)


class _Resolver:
    """Names for foreign-key values, fetched in one query per related model for
    all of `rows` ([(model, its historical records)]: every model on a page)."""

    def __init__(self, rows):
        self.names: dict[tuple, str] = {}
        wanted: dict[type, set] = {}
        for model, records in rows:
            for f in _fields(model):
                if f.is_relation:
                    ids = {getattr(r, f.attname) for r in records} - {None}
                    wanted.setdefault(f.related_model, set()).update(ids)
        for related, ids in wanted.items():
            if not ids:
                continue
            for pk, obj in related._base_manager.in_bulk(list(ids)).items():
                label = person_name(obj) if related is get_user_model() else str(obj)
                self.names[(related, pk)] = label

    def name(self, related, pk) -> str:
        return self.names.get((related, pk), f"#{pk} (deleted)")


def _fields(model):
    return [f for f in model._meta.concrete_fields if f.name not in SKIPPED_FIELDS and not f.primary_key]


def _display(f, value, resolver) -> str:
    if value is None or value == "":
        return "—"
    if f.is_relation:
        return resolver.name(f.related_model, value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return moment_text(value)
    if isinstance(value, date):
        return formats.date_format(value, "j M Y")
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True) if value else "—"
    return str(value)


def _label(f) -> str:
    return str(f.verbose_name)[:1].upper() + str(f.verbose_name)[1:]


def readable_history(
    model, records, *, previous, resolver, rank, label=None, subject=None, hidden_on_create=()
) -> list[HistoryEntry]:
    """Entries for `records` (historical rows of `model`), oldest first.

    `previous` maps an object's id to its version just before its oldest row in
    `records` (see `_predecessors`): a change is shown against that version even
    when it is older than the rows shown. `resolver` names related objects (one
    for a whole page); `rank` orders these rows after other models' rows recorded
    at the same instant (see `history_page`).
    `label(record, resolver)` names the object; by default its string form.
    `hidden_on_create` names fields not worth listing when a row is created (the
    parent a child row belongs to, on the parent's own history page).
    """
    records = sorted(records, key=_row_order)
    previous = dict(previous)
    m2m = [f for f in model._meta.many_to_many if hasattr(model.history.model, f.name)] if records else []
    m2m_ids: dict[str, dict[int, list]] = {}  # field -> history_id -> related ids
    m2m_names = {}
    for f in m2m:
        through = getattr(records[0], f.name).model  # simple-history's per-field m2m history table
        versions = [r.history_id for r in [*records, *previous.values()]]
        rows = through.objects.filter(history_id__in=versions)
        m2m_ids[f.name] = {}
        for history_id, related_id in rows.values_list("history_id", f"{f.m2m_reverse_field_name()}_id"):
            m2m_ids[f.name].setdefault(history_id, []).append(related_id)
        ids = {i for values in m2m_ids[f.name].values() for i in values}
        m2m_names[f.name] = {pk: str(obj) for pk, obj in f.related_model._base_manager.in_bulk(list(ids)).items()}
    subject = subject or str(model._meta.verbose_name).capitalize()
    entries = []
    for record in records:
        before = previous.get(record.id)
        changes = []
        for f in _fields(model):
            new = getattr(record, f.attname)
            if record.history_type == "+":
                if new not in (None, "", {}, []) and f.name not in hidden_on_create:
                    changes.append(FieldChange(_label(f), "", _display(f, new, resolver)))
            elif before is not None and getattr(before, f.attname) != new:
                old = _display(f, getattr(before, f.attname), resolver)
                changes.append(FieldChange(_label(f), old, _display(f, new, resolver)))
        for f in m2m:
            now_ids = sorted(m2m_ids[f.name].get(record.history_id, []))
            old_ids = sorted(m2m_ids[f.name].get(before.history_id, [])) if before else []
            if now_ids != old_ids:
                names = m2m_names[f.name]
                changes.append(
                    FieldChange(
                        _label(f),
                        ", ".join(names.get(i, f"#{i}") for i in old_ids) or "—",
                        ", ".join(names.get(i, f"#{i}") for i in now_ids) or "—",
                    )
                )
        previous[record.id] = record
        action = {"+": "created", "~": "changed", "-": "deleted"}[record.history_type]
        if action == "changed" and not changes:
            continue  # a save that changed nothing a person would notice
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user=record.history_user,
                reason=record.history_change_reason or "",
                action=action,
                subject=subject,
                label=label(record, resolver) if label else str(record.instance),
                changes=changes,
                sort_key=_key(record, rank),
            )
        )
    return entries


def _row_order(record) -> tuple:
    return (record.history_date, record.history_id)


def _key(record, rank: int) -> tuple:
    return (record.history_date, rank, record.history_id)


def _predecessors(model, records) -> dict:
    """Each object's version just before its oldest row among `records`, when that row is a change or a
    deletion (its diff needs it): one query, however far back that version lies."""
    oldest: dict = {}
    for record in sorted(records, key=_row_order):
        oldest.setdefault(record.id, record)
    wanted = [r.history_id for r in oldest.values() if r.history_type != "+"]
    if not wanted:
        return {}
    when, history_id = OuterRef("history_date"), OuterRef("history_id")
    version_before = (
        model.history.filter(
            Q(history_date__lt=when) | Q(history_date=when, history_id__lt=history_id),
            id=OuterRef("id"),
            history_date__lte=when,  # lets the index seek to the row, as in portal.pagination
        )
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    ids = model.history.filter(history_id__in=wanted).values(before=Subquery(version_before))
    return {r.id: r for r in model.history.filter(history_id__in=ids).order_by()}


@dataclass(frozen=True)
class HistorySource:
    """One stream of rows on a history page: historical rows of `model` (`records`, a
    queryset of `model.history`) and how to show them (see `readable_history`).

    With `summarize`, the stream is read whole and shown as the one entry that
    `summarize` makes of its entries, at the place of its oldest row: for a batch
    whose size does not grow with the history (the checklist a runbook creates).
    """

    model: type[models.Model]
    records: models.QuerySet
    label: Callable | None = None
    subject: str | None = None
    hidden_on_create: tuple = ()
    summarize: Callable[[list[HistoryEntry]], HistoryEntry] | None = None


def _cursor_text(key: tuple) -> str:
    when, rank, history_id = key
    return f"{when.isoformat()}~{rank}~{history_id}"


def _cursor(token: str, sources: int) -> tuple | None:
    """(history_date, rank, history_id) from a link, or None for one that does not
    parse (hand-edited, from an older page): the newest page then, never an error."""
    try:
        when, rank, history_id = token.split("~")
        key = (datetime.fromisoformat(when), int(rank), int(history_id))
    except ValueError:
        return None
    if key[0].tzinfo is None or not 0 <= key[1] < sources or not 0 < key[2] < 2**63:
        return None
    return key


def _beyond(cursor: tuple, rank: int, newer: bool) -> Q:
    """A source's rows past `cursor` in the page order (history_date, rank, history_id):
    the older ones, or the newer ones going back. The range on history_date leads,
    so that the index on (filter, history_date) seeks straight to the cursor."""
    when, cursor_rank, history_id = cursor
    op = "gt" if newer else "lt"
    if rank == cursor_rank:
        seek = Q(**{f"history_date__{op}e": when})
        return seek & (Q(**{f"history_date__{op}": when}) | Q(history_date=when, **{f"history_id__{op}": history_id}))
    # At the cursor's very instant, another source's rows fall on the side their rank puts them.
    return Q(**{f"history_date__{op}{'e' if (rank > cursor_rank) == newer else ''}": when})


def history_page(sources: list[HistorySource], params, *, per_page: int = PER_PAGE) -> KeysetPage:
    """One page of the merged history of `sources`, newest first, from the `after`
    (older) or `before` (newer) cursor in `params`.

    The cursor is (history_date, rank of the source, history_id), so that rows of
    different tables recorded at one instant keep one order. Each source reads at
    most `per_page + 1` rows past the cursor (one query, on an index of its filter
    and history_date) and the merge keeps the newest `per_page`; each row shown is
    compared with its object's previous version, fetched in one query per source
    when that version is older than the page. A summarized source costs one query.
    """
    after = _cursor(params.get(AFTER) or "", len(sources))
    before = None if after else _cursor(params.get(BEFORE) or "", len(sources))
    cursor = after or before
    newer = before is not None
    order = ["history_date", "history_id"] if newer else ["-history_date", "-history_id"]
    rows = []  # (key, rank, record); a summarized source stands as its oldest row
    batches = {}
    for rank, source in enumerate(sources):
        records = source.records.select_related("history_user")
        if source.summarize:
            batch = sorted(records.order_by(), key=_row_order)
            key = _key(batch[0], rank) if batch else None
            if key and (cursor is None or (key != cursor and (key > cursor) == newer)):
                batches[rank] = batch
                rows.append((key, rank, None))
            continue
        if cursor:
            records = records.filter(_beyond(cursor, rank, newer))
        rows += [(_key(r, rank), rank, r) for r in records.order_by(*order)[: per_page + 1]]
    rows.sort(key=lambda row: row[0], reverse=not newer)
    more = len(rows) > per_page
    rows = rows[:per_page]
    if newer:
        rows.reverse()
        page = KeysetPage([], has_previous=more, has_next=True)
    else:
        page = KeysetPage([], has_next=more, has_previous=cursor is not None)
    if rows:
        page.previous_cursor = _cursor_text(rows[0][0]) if page.has_previous else ""
        page.next_cursor = _cursor_text(rows[-1][0]) if page.has_next else ""
    elif cursor:
        page.has_previous, page.has_next = True, False  # past the end: offer the way back to the newest
    page.object_list = _entries(sources, rows, batches)
    return page


def _entries(sources: list[HistorySource], rows: list, batches: dict) -> list[HistoryEntry]:
    """The page's rows as entries, newest first; related objects named in one query per related model."""
    shown: dict[int, list] = {}
    for _, rank, record in rows:
        shown.setdefault(rank, []).append(record)
    for rank in batches.keys() & shown.keys():
        shown[rank] = batches[rank]
    previous = {
        rank: _predecessors(sources[rank].model, records)
        for rank, records in shown.items()
        if not sources[rank].summarize
    }
    resolver = _Resolver(
        [(sources[rank].model, [*records, *previous.get(rank, {}).values()]) for rank, records in shown.items()]
    )
    entries = []
    for rank, records in shown.items():
        source = sources[rank]
        made = readable_history(
            source.model,
            records,
            label=source.label,
            subject=source.subject,
            hidden_on_create=source.hidden_on_create,
            previous=previous.get(rank, {}),
            rank=rank,
            resolver=resolver,
        )
        if source.summarize:
            made = [source.summarize(made)] if made else []
        entries += made
    return sorted(entries, key=lambda e: e.sort_key, reverse=True)


def object_history_page(obj: models.Model, params, *, per_page: int = PER_PAGE) -> KeysetPage:
    """One page of one object's own changes, newest first."""
    model = type(obj)
    source = HistorySource(model, model.history.filter(id=obj.pk), label=lambda r, _: str(obj))
    return history_page([source], params, per_page=per_page)
