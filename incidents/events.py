"""Domain events that cross from `incidents` to apps built on it.

`incident_resolved` is sent by the incidents service inside the transaction that
resolves an incident, so a receiver's writes (the post-mortem) commit with it or
not at all. Receivers are connected in their app's `AppConfig.ready()`.

`closure_checks` holds callables `check(incident) -> list[str]` that other apps
register to say why an incident cannot be closed yet.
"""

from django.dispatch import Signal

incident_resolved = Signal()  # sender=Incident, incident=..., actor=...

closure_checks: list = []
