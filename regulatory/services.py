"""Every write of regulatory reporting goes through here: one function per action, keyword-only
arguments, an actor, one transaction, history attributed (`audit.actors.acting_as`), and a line on
the incident's timeline. A refusal raises ValidationError with the reason and changes nothing.

Clocks start when an obligation comes to apply to an incident: at its declaration, when its
severity changes, when a responder flags it as reportable, and (for obligations counted from the
resolution) when it is resolved. Each start sends `events.report_clock_started` inside the same
transaction, and each submission `events.report_clock_submitted`: postmortems arms and cancels the
clock's reminder rows (one per kind, sent once by the deadline sweep).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.actors import acting_as
from incidents.models import Incident
from incidents.services import timeline_record
from portal.display import person_name

from . import events
from .models import ReportableFlag, ReportClock, ReportObligation

CLOCK_FROM = ReportObligation.ClockFrom
REFERENCE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 50_000
REASON_MAX_LENGTH = 1000
FILE_NAME_MAX_LENGTH = 100
# A submission time may be a little ahead of the server's clock (the reporter's watch), not more.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _text(value, *, what: str, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationError(f"The {what} cannot contain null characters.")
    if len(value) > max_length:
        raise ValidationError(f"The {what} is at most {max_length:,} characters; this one has {len(value):,}.")
    if required and not value:
        raise ValidationError(f"A {what} is required.")
    return value


# Which obligations apply -------------------------------------------------------------------------------------------


def applicable_obligations(incident: Incident):
    """The active obligations that apply to `incident` now, as one query: every criterion an
    obligation names holds (its severities, its types, the reportable flag)."""
    flagged = ReportableFlag.objects.filter(incident_id=incident.pk, is_set=True)
    return (
        ReportObligation.objects.filter(is_active=True)
        .filter(Q(severities__isnull=True) | Q(severities=incident.severity_id))
        .filter(Q(incident_types__isnull=True) | Q(incident_types=incident.incident_type_id))
        .filter(Q(when_flagged=False) | Q(Exists(flagged)))
        .exclude(Exists(ReportClock.objects.filter(incident_id=incident.pk, obligation=OuterRef("pk"))))
        .distinct()
        .order_by("pk")
    )


def clock_start_time(obligation: ReportObligation, incident: Incident, applied_at: datetime) -> datetime | None:
    """The moment `obligation`'s deadline is counted from for `incident`, or None while that moment
    has not come (an obligation counted from the resolution, for an incident not resolved)."""
    if obligation.clock_from == CLOCK_FROM.DECLARED:
        return incident.detected_at
    if obligation.clock_from == CLOCK_FROM.RESOLVED:
        return incident.resolved_at
    return applied_at


def clocks_start(*, incident: Incident, actor, applied_at: datetime | None = None) -> list[ReportClock]:
    """Start a clock for every obligation that applies to `incident` and has none yet. Called inside
    the transaction of whatever made the obligations apply (the incident's row is locked by it)."""
    applied_at = applied_at or timezone.now()
    started = []
    for obligation in applicable_obligations(incident):
        start = clock_start_time(obligation, incident, applied_at)
        if start is None:
            continue
        clock = ReportClock.objects.create(
            incident=incident, obligation=obligation, started_at=start, due_at=start + obligation.due_after
        )
        clock.obligation = obligation
        started.append(clock)
        timeline_record(
            incident=incident,
            actor=actor,
            text=f"Regulatory report clock started: {obligation.name} to {obligation.addressee}, "
            f"due {timezone.localtime(clock.due_at):%Y-%m-%d %H:%M %Z}.",
            data={"report_clock": clock.pk},
        )
        events.report_clock_started.send(sender=ReportClock, clock=clock)
    return started


def _start_in_transaction(incident: Incident, actor, reason: str) -> None:
    with acting_as(actor, reason):
        clocks_start(incident=incident, actor=actor)


def start_on_declare(sender, *, incident: Incident, actor, **kwargs) -> None:
    """incidents.events.incident_declared: the obligations that apply from the start."""
    _start_in_transaction(incident, actor, "Regulatory report clock started at declaration")


def start_on_severity_change(sender, *, incident: Incident, actor, **kwargs) -> None:
    """incidents.events.incident_severity_changed: obligations of the new severity."""
    _start_in_transaction(incident, actor, "Regulatory report clock started on a severity change")


def start_on_resolve(sender, *, incident: Incident, actor, **kwargs) -> None:
    """incidents.events.incident_resolved: obligations counted from the resolution."""
    _start_in_transaction(incident, actor, "Regulatory report clock started at resolution")


# The reportable flag -----------------------------------------------------------------------------------------------


def reportable_flag_set(*, incident: Incident, actor, reportable: bool, reason: str) -> ReportableFlag:
    """Flag the incident as reportable to regulators (or clear the flag), with the reason. Setting it
    starts the clocks of the obligations that apply only to flagged incidents; clearing it stops none
    (a report already owed stays owed)."""
    reason = _text(reason, what="reason", max_length=REASON_MAX_LENGTH, required=True)
    with transaction.atomic(), acting_as(actor, f"Reportable flag {'set' if reportable else 'cleared'}: {reason}"):
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        flag = ReportableFlag.objects.filter(incident=incident).first()
        current = flag is not None and flag.is_set
        if current == reportable:
            state = "already flagged as reportable" if reportable else "not flagged as reportable"
            raise ValidationError(f"The incident is {state}. Nothing was changed.")
        now = timezone.now()
        if flag is None:
            flag = ReportableFlag(incident=incident)
        flag.is_set, flag.reason, flag.set_by, flag.set_at = reportable, reason, actor, now
        flag.save()
        what = "flagged the incident as reportable to regulators" if reportable else "cleared the reportable flag"
        timeline_record(incident=incident, actor=actor, text=f"{person_name(actor)} {what}: {reason}")
        if reportable:
            clocks_start(incident=incident, actor=actor, applied_at=now)
    return flag


# Submission ---------------------------------------------------------------------------------------------------------


def _checked_file(upload):
    if not upload:
        return None
    limit = settings.REGULATORY_MAX_FILE_SIZE
    if upload.size is None or upload.size > limit:
        raise ValidationError(f"The file is at most {limit:,} bytes; this one has {upload.size or 0:,}.")
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    name = (upload.name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "\x00" in name or not name.strip(". "):
        raise ValidationError("The file needs a name.")
    if len(name) > FILE_NAME_MAX_LENGTH:
        raise ValidationError(f"The file's name is at most {FILE_NAME_MAX_LENGTH} characters.")
    return upload


def report_submit(
    *,
    clock: ReportClock,
    actor,
    submitted_at: datetime,
    regulator_reference: str,
    text: str = "",
    file=None,
) -> ReportClock:
    """Record that the report was sent to the regulator: when, the reference the regulator gave,
    and the text or file sent (at least one). Recorded once; the clock's reminders stop."""
    regulator_reference = _text(
        regulator_reference, what="regulator's reference", max_length=REFERENCE_MAX_LENGTH, required=True
    )
    text = _text(text, what="report text", max_length=TEXT_MAX_LENGTH)
    file = _checked_file(file)
    if not text and file is None:
        raise ValidationError("Give the text of the report or the file sent (or both).")
    if not isinstance(submitted_at, datetime) or timezone.is_naive(submitted_at):
        raise ValidationError("Give the date and time the report was submitted.")
    now = timezone.now()
    if submitted_at > now + FUTURE_TOLERANCE:
        raise ValidationError("The submission time is in the future.")
    with transaction.atomic(), acting_as(actor, "Regulatory report submitted"):
        clock = ReportClock.objects.select_for_update().select_related("incident", "obligation").get(pk=clock.pk)
        if clock.submitted_at is not None:
            raise ValidationError(
                f"This report was already recorded as submitted by {person_name(clock.submitted_by)}. "
                "Nothing was changed."
            )
        # Times are typed to the minute: the minute of the detection itself is not "before" it.
        if submitted_at < clock.incident.detected_at.replace(second=0, microsecond=0):
            raise ValidationError("The submission time is before the incident was detected.")
        clock.submitted_at, clock.submitted_by, clock.recorded_at = submitted_at, actor, now
        clock.regulator_reference, clock.text = regulator_reference, text
        if file is not None:
            clock.file.save(file.name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], file, save=False)
        try:
            clock.save()
            on_time = "on time" if clock.met_on_time else "late"
            timeline_record(
                incident=clock.incident,
                actor=actor,
                text=f"{person_name(actor)} recorded the regulatory report “{clock.obligation.name}” as submitted "
                f"to {clock.obligation.addressee} ({on_time}), regulator's reference {regulator_reference}.",
                data={"report_clock": clock.pk},
            )
            events.report_clock_submitted.send(sender=ReportClock, clock=clock)
        except Exception:
            if file is not None:  # the row is rolled back: leave no file behind it
                clock.file.delete(save=False)
            raise
    return clock
