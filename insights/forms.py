"""The period the Insights page reports on: the last 30, 90 or 365 days, or two dates.

Dates are days in the reader's time zone (people.middleware activates it): "from 1 March
to 31 March" is from the start of 1 March to the end of 31 March there. A period is at most
`MAX_DAYS` long, so every figure is bounded by an index range on `detected_at` however many
years of incidents the database holds; an end date after today means "up to now"."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import formats, timezone

from portal.display import moment_text
from portal.widgets import Select

# ?period= value: (days back from now, label). "custom" reads the two dates.
PRESETS = {
    "30": (30, "Last 30 days"),
    "90": (90, "Last 90 days"),
    "365": (365, "Last 365 days"),
}
DEFAULT_PERIOD = "30"
CUSTOM = "custom"
# The longest period: a year, leap day included.
MAX_DAYS = 366
# No incident predates the portal's data by this much; earlier dates are typing slips (0001-01-01).
EARLIEST_DAY = date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    """[start, end) as aware moments, and how the page names it."""

    start: datetime
    end: datetime
    label: str

    @property
    def text(self) -> str:
        return f"{moment_text(self.start)} to {moment_text(self.end)}"


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class DateInput(forms.DateInput):
    """A browser date picker; typing YYYY-MM-DD also works without one."""

    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[*((key, label) for key, (_, label) in PRESETS.items()), (CUSTOM, "Between two dates")],
        required=False,
        initial=DEFAULT_PERIOD,
        label="Period",
        widget=Select,
    )
    start = forms.DateField(required=False, label="From", widget=DateInput(), help_text="With “Between two dates”.")
    end = forms.DateField(required=False, label="To", widget=DateInput(), help_text="Empty means today.")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned  # a date that did not parse has its own message; nothing to add to it
        period = cleaned.get("period") or ""
        start, end = cleaned.get("start"), cleaned.get("end")
        if not period:
            # A bookmark with dates and no ?period= means the dates.
            period = CUSTOM if start or end else DEFAULT_PERIOD
        cleaned["period"] = period
        if period != CUSTOM:
            return cleaned
        today = timezone.localdate()
        if start is None:
            self.add_error("start", "Give the first day of the period.")
            return cleaned
        if start < EARLIEST_DAY:
            self.add_error("start", f"A start date before {EARLIEST_DAY.year} cannot be right.")
        elif start > today:
            self.add_error("start", "The start date is in the future.")
        if end is not None and end < start:
            self.add_error("end", "The end date is before the start date.")
        if self.errors:
            return cleaned
        # An end after today (9999-12-31 included) means "up to now": there is nothing later to count.
        last = min(end or today, today)
        if (last - start).days + 1 > MAX_DAYS:
            self.add_error(
                "end", f"A period can be at most {MAX_DAYS} days long; this one is {(last - start).days + 1}."
            )
        cleaned["last_day"] = last
        return cleaned

    def get_period(self, now=None) -> Period:
        """The period asked for (call after is_valid())."""
        now = now or timezone.now()
        period = self.cleaned_data["period"]
        if period in PRESETS:
            days, label = PRESETS[period]
            return Period(start=now - timedelta(days=days), end=now, label=label)
        start, last = self.cleaned_data["start"], self.cleaned_data["last_day"]
        end = min(_local_midnight(last + timedelta(days=1)), now)
        label = formats.date_format(start, "j M Y")
        if last != start:
            label += f" to {formats.date_format(last, 'j M Y')}"
        return Period(start=_local_midnight(start), end=end, label=label)
