"""Matching passages as safe HTML: everything the staff wrote is escaped, and only the
search's own highlight markers become <mark> elements."""

import html
import re

from django.db.models import Value
from django.db.models.functions import Replace
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# What PostgreSQL's ts_headline puts around a matching word (StartSel, StopSel): control
# characters, which nobody types, so they cannot be confused with the text's own.
START = "\x02"
STOP = "\x03"
_MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")  # escape() leaves control characters as they are
_STRAY = re.compile(f"[{START}{STOP}]")

# The SQLite fallback's passage: this many characters either side of the first match.
CONTEXT_CHARS = 90


def highlighted(text: str | None) -> SafeString:
    """`text` with START…STOP runs as <mark>…</mark>, all else escaped. A marker without
    its pair (one that was in the stored text) is dropped, so the HTML is always well formed."""
    escaped = escape(text or "")
    return mark_safe(_STRAY.sub("", _MARKED.sub(r"<mark>\1</mark>", escaped)))  # noqa: S308 - escaped above


def entities(expression):
    """`expression` (text) with & < > as entities, for ts_headline: its parser takes anything
    like <b> for a markup tag and leaves it out of the passage, so a note's "<pod-1>" would vanish."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        expression = Replace(expression, Value(char), Value(entity))
    return expression


def headline_html(headline: str | None) -> SafeString:
    """A ts_headline of `entities(text)` as safe HTML: the text as it was, escaped, matches marked."""
    return highlighted(html.unescape(headline or ""))


def excerpt(text: str | None, needle: str) -> SafeString:
    """The passage around the first case-insensitive occurrence of `needle` in `text`, the
    occurrence marked (the SQLite fallback's ts_headline); the start of `text` if it has none."""
    text = _STRAY.sub("", text or "")
    match = re.search(re.escape(needle), text, re.IGNORECASE) if needle else None
    if match is None:
        passage = text[: 2 * CONTEXT_CHARS]
        return highlighted(passage + ("…" if len(text) > len(passage) else ""))
    start, stop = max(match.start() - CONTEXT_CHARS, 0), min(match.end() + CONTEXT_CHARS, len(text))
    return highlighted(
        ("…" if start else "")
        + text[start : match.start()]
        + START
        + match.group()
        + STOP
        + text[match.end() : stop]
        + ("…" if stop < len(text) else "")
    )
