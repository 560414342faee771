"""Domain events: how `incidents` tells the apps built on it what happened, and
asks them what they need, without importing them.

Each is sent inside the service transaction that caused it, so a receiver's
writes commit with the change or not at all. Receivers are connected in their
app's `AppConfig.ready()`.

- `incident_declared(sender=Incident, incident, actor)`: an incident was declared (regulatory starts
  the report clocks of the obligations that apply to it).
- `incident_severity_changed(sender=Incident, incident, actor, old)`: its severity changed (`old`, the
  Severity before; regulatory starts the clocks of obligations that apply now).
- `incident_resolved(sender=Incident, incident, actor)`: an incident was resolved
  (postmortems opens its post-mortem).
- `status_update_posted(sender=StatusUpdate, update, actor)`: a status update was
  posted (statuspage sends customer updates to its subscribers).
- `incident_closing(sender=Incident, incident)`: asked before an incident closes;
  each receiver returns a list of reasons it cannot close yet (empty: no objection).
"""

from django.dispatch import Signal

incident_declared = Signal()
incident_severity_changed = Signal()
incident_resolved = Signal()
status_update_posted = Signal()
incident_closing = Signal()
