"""Readable audit trails, for any model with simple-history: simple-history's rows turned into "who changed what,
from what to what, and why", with related objects named rather than numbered."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import formats

from portal.display import duration_text, moment_text, person_name

# Bookkeeping columns that say nothing a reader needs.
SKIPPED_FIELDS = {"id", "created_at", "updated_at"}


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
    sort_key: tuple = ()

    @property
    def user_name(self) -> str:
        return "Unknown" if self.user is None else person_name(self.user)


class _Resolver:
    """Names for foreign-key values, fetched in one query per related model."""

    def __init__(self, model, records):
        self.names: dict[tuple, str] = {}
        wanted: dict[type, set] = {}
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


def readable_history(model, records, *, label=None, subject=None, hidden_on_create=()) -> list[HistoryEntry]:
    """Entries for `records` (historical rows of `model`), oldest first.

    `label(record, resolver)` names the object; by default its string form.
    `hidden_on_create` names fields not worth listing when a row is created (the
    parent a child row belongs to, on the parent's own history page).
    """
    records = sorted(records, key=lambda r: (r.history_date, r.history_id))
    resolver = _Resolver(model, records)
    m2m = [f for f in model._meta.many_to_many if hasattr(model.history.model, f.name)] if records else []
    m2m_ids: dict[str, dict[int, list]] = {}  # field -> history_id -> related ids
    m2m_names = {}
    for f in m2m:
        through = getattr(records[0], f.name).model  # simple-history's per-field m2m history table
        rows = through.objects.filter(history_id__in=[r.history_id for r in records])
        m2m_ids[f.name] = {}
        for history_id, related_id in rows.values_list("history_id", f"{f.m2m_reverse_field_name()}_id"):
            m2m_ids[f.name].setdefault(history_id, []).append(related_id)
        ids = {i for values in m2m_ids[f.name].values() for i in values}
        m2m_names[f.name] = {pk: str(obj) for pk, obj in f.related_model._base_manager.in_bulk(list(ids)).items()}
    subject = subject or str(model._meta.verbose_name).capitalize()
    previous: dict = {}
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
                sort_key=(record.history_date, record.history_id),
            )
        )
    return entries


def newest_first(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    return sorted(entries, key=lambda e: e.sort_key, reverse=True)


def object_history(obj: models.Model) -> list[HistoryEntry]:
    """One object's own changes, newest first."""
    model = type(obj)
    records = model.history.filter(id=obj.pk).select_related("history_user")
    return newest_first(readable_history(model, records, label=lambda r, _: str(obj)))
