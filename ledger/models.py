"""The financial impact ledger: what an incident cost, entry by entry, per currency.

An entry is written once and never edited: its figures stay as entered. What changes is its
standing: estimated → confirmation requested → confirmed, the last by a second person. A wrong
entry is taken back by a reversal, a new entry of the opposite amount that points at it (and,
if the right figure is known, a replacement entry), so every figure ever entered stays on the
ledger and the totals are the plain sum of its rows.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import TimeStamped, history
from incidents.models import Incident

from .currencies import MAX_MINOR_UNITS
from .money import AMOUNT_MAX_DIGITS, MAX_QUANTITY, money_text


# The choices, outside the model so that its Meta's constraints can name them (as ImpactEntry.Kind/.Status).
class ImpactKind(models.TextChoices):
    ORDERS = "orders", "Orders"
    TRADES = "trades", "Trades"
    POSITIONS = "positions", "Positions"
    FEES = "fees", "Fees"
    REFUNDS = "refunds", "Refunds"
    OTHER = "other", "Other"


class ImpactStatus(models.TextChoices):
    ESTIMATED = "estimated", "Estimated"
    REQUESTED = "requested", "Confirmation requested"
    CONFIRMED = "confirmed", "Confirmed"


class ImpactEntryQuerySet(models.QuerySet):
    def awaiting_confirmation(self):
        """Entries whose enterer asked for a second person's confirmation, not yet given, and not
        reversed meanwhile (served by the partial index `impactentry_requested`)."""
        return self.filter(status=ImpactEntry.Status.REQUESTED, reversal__isnull=True)


class ImpactEntry(TimeStamped):
    """One line of an incident's financial impact: what was affected, how many, how much in
    which currency, how sure the figure is, and who entered, asked to confirm and confirmed it.

    A reversal (`reverses` set) carries the negated amount of the entry it takes back; every
    other entry's amount is positive."""

    Kind = ImpactKind
    Status = ImpactStatus

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="impact_entries")
    kind = models.CharField(max_length=20, choices=ImpactKind.choices, help_text="What was affected.")
    quantity = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="How many orders, trades, positions… were affected, if known."
    )
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=MAX_MINOR_UNITS)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    status = models.CharField(max_length=20, choices=ImpactStatus.choices, default=ImpactStatus.ESTIMATED)
    note = models.TextField(blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
        help_text="The entry this one takes back (with the opposite amount).",
    )
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacement",
        help_text="The reversed entry whose figure this one corrects.",
    )

    objects = ImpactEntryQuerySet.as_manager()
    history = history()

    class Meta:
        ordering = ["-entered_at", "-id"]
        verbose_name = "impact entry"
        verbose_name_plural = "impact entries"
        permissions = [("confirm_impactentry", "Can confirm an impact entry someone else entered")]
        indexes = [
            # Totals per currency for one incident or a list of them, read from the index alone.
            models.Index(fields=["incident", "currency", "status"], include=["amount"], name="impactentry_totals"),
            # An incident's ledger, newest first, a page at a time.
            models.Index(fields=["incident", "entered_at", "id"], name="impactentry_incident_time"),
            # The entries awaiting a confirmation, oldest request first.
            models.Index(fields=["requested_at", "id"], condition=Q(status="requested"), name="impactentry_requested"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ImpactKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
                violation_error_message="Unknown kind of impact.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ImpactStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
                violation_error_message="Unknown status.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="%(app_label)s_%(class)s_currency_code",
                violation_error_message="A currency is a three-letter ISO 4217 code.",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True, amount__gt=0) | Q(reverses__isnull=False, amount__lt=0),
                name="%(app_label)s_%(class)s_amount_sign",
                violation_error_message="An entry's amount is positive; only a reversal's is negative.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__lte=MAX_QUANTITY),
                name="%(app_label)s_%(class)s_quantity_max",
                violation_error_message=f"The quantity goes up to {MAX_QUANTITY:,}.",
            ),
            models.CheckConstraint(
                condition=Q(status="estimated", requested_at__isnull=True)
                | (~Q(status="estimated") & Q(requested_at__isnull=False)),
                name="%(app_label)s_%(class)s_requested_when",
                violation_error_message="Only an entry whose confirmation was requested has a request time.",
            ),
            models.CheckConstraint(
                condition=Q(status="confirmed", confirmed_by__isnull=False, confirmed_at__isnull=False)
                | (~Q(status="confirmed") & Q(confirmed_by__isnull=True, confirmed_at__isnull=True)),
                name="%(app_label)s_%(class)s_confirmed_by_whom",
                violation_error_message="A confirmed entry records who confirmed it and when.",
            ),
            # The four-eyes rule, held by the database too.
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=F("entered_by")),
                name="%(app_label)s_%(class)s_second_person",
                violation_error_message="An entry is confirmed by someone other than the person who entered it.",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | Q(replaces__isnull=True),
                name="%(app_label)s_%(class)s_reversal_replaces_nothing",
                violation_error_message="A reversal does not replace an entry.",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.money}"

    def get_absolute_url(self):
        return reverse("ledger:incident", args=[self.incident.reference]) + f"#entry-{self.pk}"

    @property
    def money(self) -> str:
        """USD 12,500.00"""
        return money_text(self.amount, self.currency)

    @property
    def quantity_text(self) -> str:
        """1,200; empty when not given."""
        return "" if self.quantity is None else f"{self.quantity:,}"

    @property
    def reversed_by(self) -> "ImpactEntry | None":
        """The reversal that took this entry back, if any."""
        try:
            return self.reversal
        except ImpactEntry.DoesNotExist:
            return None

    @property
    def replaced_by(self) -> "ImpactEntry | None":
        """The entry that corrects this reversed one's figure, if any."""
        try:
            return self.replacement
        except ImpactEntry.DoesNotExist:
            return None

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED
