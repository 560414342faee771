"""What every model of the portal is built on: timestamps and an audit trail
whose rows name who made each change and why (see `audit.actors`), chained so
that a row changed, inserted or deleted behind the portal's back is found (see
`audit.chain` and `manage.py verify_audit`)."""

from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history import register
from simple_history.models import HistoricalRecords

from .actors import get_history_user


class ChainedHistory(models.Model):
    """The base of every history table (and of its many-to-many tables): the row's place in the audit
    chain and its hash. Both are written by the database when the transaction that wrote the row
    commits (see `audit.chain`), never by the portal's code; a row without them was written with the
    chain switched off."""

    audit_seq = models.BigIntegerField(
        null=True, blank=True, unique=True, editable=False, help_text="The row's place in the audit chain."
    )
    audit_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="HMAC-SHA256 over the previous row's hash, this row's place, table and content.",
    )

    class Meta:
        abstract = True


class ChainedHistoricalRecords(HistoricalRecords):
    """simple-history's records with the chain's columns on the history table and its many-to-many tables.

    `unchained_fields` names fields kept in history but left out of the chain's hashes: values the portal
    erases from history on purpose (an unsubscribed address), which would otherwise read as tampering."""

    def __init__(self, *, unchained_fields=(), **kwargs):
        kwargs.setdefault("bases", [ChainedHistory])
        kwargs.setdefault("m2m_bases", [ChainedHistory])
        super().__init__(**kwargs)
        self.unchained_fields = tuple(unchained_fields)

    def create_history_model(self, model, inherited):
        history_model = super().create_history_model(model, inherited)
        history_model.audit_unchained = tuple(model._meta.get_field(name).column for name in self.unchained_fields)
        return history_model


def history(*, unchained_fields=(), **kwargs):
    """Every model's audit trail, attributed through `audit.actors` and chained (see `ChainedHistory`).
    The change reason is text of any length: it carries what the person typed (a severity change's
    reason, a resolution's verification note), not just a label."""
    return ChainedHistoricalRecords(
        get_user=get_history_user,
        history_change_reason_field=models.TextField(null=True),
        unchained_fields=unchained_fields,
        **kwargs,
    )


class TimeStamped(models.Model):
    """When a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ChainHead(models.Model):
    """The end of the audit chain: the place and hash of the last history row sealed. One row (id 1),
    written only by the database's sealing function; every commit that wrote history takes its lock
    last, just before it ends.

    No history of its own: it changes with every history row, and the chain it heads is its record."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "audit chain head"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="%(app_label)s_%(class)s_single_row",
                violation_error_message="The audit chain has one head.",
            )
        ]

    def __str__(self):
        return f"Audit chain at {self.seq}"


class ChainTable(models.Model):
    """A history table as the chain knows it: the name hashed into its rows, and which columns each
    row's hash covers (columns come and go with migrations; a row is verified on the columns it was
    sealed with). Written by the database's sealing function only.

    No history: it is the chain's own bookkeeping, and a wrong entry makes rows fail verification,
    never pass it (see `audit.verify`)."""

    relid = models.BigIntegerField(db_index=True, help_text="PostgreSQL's oid of the table (kept across renames).")
    table_name = models.CharField(max_length=200, unique=True)
    label = models.CharField(max_length=200, help_text="The name hashed into its rows: its name when first sealed.")
    active = models.JSONField(default=list, help_text="The columns the last sealed row's hash covered, sorted.")
    columns = models.JSONField(
        default=dict, help_text="Column -> the ranges of places it is hashed in: [[from, until or null], …]."
    )

    class Meta:
        verbose_name = "audit chain table"

    def __str__(self):
        return self.table_name


class ChainFlush(models.Model):
    """A row per committing transaction that wrote history, for the instant it is deleted again: its
    deferred trigger seals the transaction's history rows after every other check of the commit (see
    `audit.chain`). Always empty between transactions. No history: it holds nothing."""

    id = models.BigAutoField(primary_key=True)

    class Meta:
        verbose_name = "audit chain flush"

    def __str__(self):
        return f"Flush {self.pk}"


class ChainCheckpoint(models.Model):
    """The chain's head as it was at a moment (recorded daily by `audit.tasks.record_checkpoint`, and
    logged): a chain later found shorter than a checkpoint, or with another hash at its place, was cut
    or rewritten.

    No simple-history on purpose: a checkpoint's history row would be chained itself and move the head
    past the checkpoint the moment it is written, and what makes a checkpoint worth having is its copy
    outside the database (the log line), not a row next to the chain it vouches for."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "audit chain checkpoint"
        ordering = ["-seq"]

    def __str__(self):
        return f"Audit chain at {self.seq} ({self.recorded_at:%Y-%m-%d %H:%M})"


class GroupHistoricalRecords(ChainedHistoricalRecords):
    """Groups' history, their permissions included from either side of the relation: a change made from
    the permission's side (`permission.group_set.add`) reaches simple-history with the permission as the
    instance, so each group added or removed is recorded instead."""

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        if action in ("post_add", "post_remove") and pk_set:
            for group in Group._base_manager.filter(pk__in=pk_set):
                super().m2m_changed(group, action, attr, pk_set, False, **kwargs)


# Groups: which permissions each group grants, changed by whom (membership is on the users' history).
register(
    Group,
    app="audit",
    records_class=GroupHistoricalRecords,
    get_user=get_history_user,
    history_change_reason_field=models.TextField(null=True),
    m2m_fields=["permissions"],
)
