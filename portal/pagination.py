"""Keyset ("cursor") pagination: a page is the rows after (or before) the last
row of the page the reader came from, so page 3,000 costs what page 1 costs.

A list is ordered by one or more columns ending in a unique one (the id); every
column must be NOT NULL. The cursor in the link (`?after=` or `?before=`) holds
that row's values, so the database starts an index scan there instead of
counting its way through OFFSET rows. There is no "page N of M": counting every
matching row is the whole-table work this avoids.

A cursor that does not decode (hand-edited, from an older order) is ignored and
the first page is shown: a bookmark never answers with an error.
"""

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import IntegerField, Q, Value

AFTER, BEFORE = "after", "before"


def _encode(values: list) -> str:
    """The cursor of a row: its ordering values as JSON (moments and numbers as text), base64url."""
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(model, ordering: list[str], token: str) -> list | None:
    """The values a cursor holds, as the ordering's columns hold them (each column's own
    `to_python` reads them back), or None if it does not fit: not base64 JSON, the
    wrong number of values, text where a moment is due, a moment without its zone, text
    holding a NUL (PostgreSQL refuses it) or a number no database column can hold."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None
    if not isinstance(values, list) or len(values) != len(ordering):
        return None
    typed = []
    for term, value in zip(ordering, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        if (isinstance(value, str) and "\x00" in value) or (isinstance(value, int) and not -(2**63) <= value < 2**63):
            return None
        *relations, name = _field(term)[0].split("__")
        owner = model
        for part in relations:
            owner = owner._meta.get_field(part).related_model
        try:
            value = owner._meta.get_field(name).to_python(value)
        except (ValidationError, ValueError, TypeError, ArithmeticError):
            return None
        if value is None or (isinstance(value, datetime) and value.tzinfo is None):
            return None
        typed.append(value)
    return typed


def _field(term: str) -> tuple[str, bool]:
    """("detected_at", True) for "-detected_at"."""
    return term.lstrip("-"), term.startswith("-")


def _value(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def _beyond(ordering: list[str], values: list, forward: bool) -> Q:
    """Rows strictly beyond `values` in `ordering` (or before them, going back).

    Written as `a <= x AND (a < x OR (a = x AND id < y))`: the leading range
    lets the database seek the index straight to the cursor; the OR alone
    would be a filter applied while scanning from the start.
    """
    keys = [_field(term) for term in ordering]

    def lookup(descending):
        return "lt" if descending == forward else "gt"

    exact = Q()
    either = Q()
    for (name, descending), value in zip(keys, values, strict=True):
        either |= exact & Q(**{f"{name}__{lookup(descending)}": value})
        exact &= Q(**{name: value})
    name, descending = keys[0]
    seek = Q(**{f"{name}__{lookup(descending)}e": values[0]})
    return seek & either


@dataclass
class KeysetPage:
    object_list: list
    has_next: bool = False
    has_previous: bool = False
    next_cursor: str = ""
    previous_cursor: str = ""
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def _reversed(ordering: list[str]) -> list[str]:
    return [term[1:] if term.startswith("-") else f"-{term}" for term in ordering]


def _fetch(queryset, ordering, cursor, forward, limit, partitions):
    """Up to `limit` rows beyond `cursor` in `ordering` (or in reverse order, going back).

    With `partitions` ([(value, Q)] in the order of `ordering[0]`, a column of
    another table such as a severity's level), each partition is read on its
    own, in index order, and the reads are joined by one `UNION ALL` query:
    a join ordered by the other table's column would sort the whole table.
    """
    order = ordering if forward else _reversed(ordering)
    if partitions is None:
        if cursor is not None:
            queryset = queryset.filter(_beyond(ordering, cursor, forward))
        return list(queryset.order_by(*order)[:limit])
    if not forward:
        partitions = partitions[::-1]
    if cursor is not None:
        onward = (lambda v: v >= cursor[0]) if ordering[0].startswith("-") != forward else (lambda v: v <= cursor[0])
        partitions = [(value, condition) for value, condition in partitions if onward(value)]
    parts = []
    for position, (value, condition) in enumerate(partitions):
        part = queryset.filter(condition).annotate(_partition=Value(position, output_field=IntegerField()))
        if cursor is not None and value == cursor[0]:
            part = part.filter(_beyond(ordering[1:], cursor[1:], forward))
        parts.append(part.order_by(*order[1:])[:limit])
    if len(parts) < 2:
        return list(parts[0]) if parts else []
    return list(parts[0].union(*parts[1:], all=True).order_by("_partition", *order[1:])[:limit])


def keyset_page(queryset, ordering: list[str], params, *, per_page: int, partitions=None) -> KeysetPage:
    """One page of `queryset` in `ordering`, from the `after`/`before` cursor in `params`.

    Runs one query for the rows (plus the queryset's own prefetches), or one per
    partition it reaches: it fetches one row more than the page to learn
    whether another page follows.
    """
    after = decode_cursor(queryset.model, ordering, params.get(AFTER) or "")
    before = None if after else decode_cursor(queryset.model, ordering, params.get(BEFORE) or "")
    if before is not None:
        rows = _fetch(queryset, ordering, before, False, per_page + 1, partitions)
        more_before = len(rows) > per_page
        rows = rows[:per_page][::-1]
        page = KeysetPage(rows, has_previous=more_before, has_next=True)
    else:
        rows = _fetch(queryset, ordering, after, True, per_page + 1, partitions)
        page = KeysetPage(rows[:per_page], has_next=len(rows) > per_page, has_previous=after is not None)
    if page.object_list:
        first = [_value(page.object_list[0], _field(term)[0]) for term in ordering]
        last = [_value(page.object_list[-1], _field(term)[0]) for term in ordering]
        page.previous_cursor = _encode(first) if page.has_previous else ""
        page.next_cursor = _encode(last) if page.has_next else ""
    elif before is not None or after is not None:
        # Past the end (the rows it pointed at are gone): offer the way back to the start.
        page.has_previous = True
    return page


class CappedCountPaginator(Paginator):
    """The admin's paginator, counting at most `CAP` matches: an exact count of a
    table of millions reads all of it on every changelist. Past the cap the
    changelist offers the first pages and says "10,000+"; filters and search
    narrow the rest."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP].count()  # the order is of no use to a count
