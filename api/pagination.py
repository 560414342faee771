"""The API's lists, paged by cursor with `portal.pagination` (the pages' keyset paging):
`?limit=` rows (50 by default, at most 200), then the `next` link (`?after=<cursor>`)
until it is null. A deep page costs what the first one costs.

Unlike the pages, which show the first page for a cursor they cannot read (a bookmark
never errs), the API answers 400: a client that loops on `next` must not be sent back
to the start without a word."""

from django.http import QueryDict
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

# The cursor reader is the pages' own, so the API accepts exactly the cursors it hands out.
from portal.pagination import AFTER, BEFORE, KeysetPage, decode_cursor, keyset_page

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
LIMIT = "limit"


def page_limit(params: QueryDict) -> int:
    raw = params.get(LIMIT, "")
    if raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT):
        raise ValidationError({LIMIT: [f"A whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def cursor_page(request, queryset, ordering: list[str], *, partitions=None) -> KeysetPage:
    """One page of `queryset` in `ordering` from the request's ?after= / ?before= cursor."""
    params = request.query_params
    limit = page_limit(params)
    for name in (AFTER, BEFORE):
        value = params.get(name, "")
        decoded = decode_cursor(queryset.model, ordering, value) if value else []
        if decoded is None or any(isinstance(v, str) and "\x00" in v for v in decoded):
            raise ValidationError({name: ["Not a cursor of this list in this order: start again without it."]})
    return keyset_page(queryset, ordering, params, per_page=limit, partitions=partitions)


def _link(request, **cursor) -> str:
    params = request.query_params.copy()
    for name in (AFTER, BEFORE):
        params.pop(name, None)
    params.update({name: value for name, value in cursor.items() if value})
    query = params.urlencode()
    return request.build_absolute_uri(request.path + (f"?{query}" if query else ""))


def paged_response(request, page: KeysetPage, results: list) -> Response:
    """{"results": [...], "next": link or null, "previous": link or null}."""
    following = _link(request, after=page.next_cursor) if page.has_next and page.next_cursor else None
    preceding = None
    if page.has_previous:
        # Past the end of a list that shrank, there is no cursor to go back by: the link is the first page.
        preceding = _link(request, before=page.previous_cursor)
    return Response({"results": results, "next": following, "previous": preceding})
