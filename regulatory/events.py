"""Domain events of regulatory reporting, for the apps built on it (postmortems keeps the reminder
rows of every deadline, report clocks' too). Sent inside the service transaction that caused them,
so a receiver's writes commit with the clock or not at all.

- `report_clock_started(sender=ReportClock, clock)`: a clock started (its reminders are armed).
- `report_clock_submitted(sender=ReportClock, clock)`: its report was recorded as submitted
  (its pending reminders are cancelled).
"""

from django.dispatch import Signal

report_clock_started = Signal()
report_clock_submitted = Signal()
