"""Loading the runbook into the database, idempotently: a row is saved only when
it differs from the runbook, so a second run writes nothing, history included."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from audit.actors import acting_as, system_user

from . import runbook_data as data
from .models import (
    ChecklistItem,
    CommunicationChannel,
    Contact,
    Incident,
    IncidentType,
    Role,
    RunbookStep,
    Service,
    Severity,
    UpdateTemplate,
)

GROUP_RESPONDERS = "Responders"
GROUP_VIEWERS = "Viewers"
GROUP_ADMINS = "Admins"

# The apps whose data the groups' permissions cover.
PORTAL_APPS = [
    "incidents",
    "alerts",
    "statuspage",
    "notifications",
    "postmortems",
    "people",
    "health",
    "api",
    "approvals",
    "ledger",
    "regulatory",
]
# Models whose rows responders create and change through the portal's pages.
RESPONDER_MODELS = ["incident", "roleassignment", "timelineentry", "statusupdate", "checklistitem", "approvalrequest"]
# Severities whose closing and post-mortem analysis need a second person's approval when first loaded.
FOUR_EYES_LEVELS = {1, 2}


def upsert(model, lookup: dict, values: dict, on_create: dict | None = None) -> tuple[object, str]:
    """Create or update one row; returns (row, "created" | "updated" | "unchanged").
    `on_create` holds values set only when the row is created (staff's to change afterwards)."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        return model.objects.create(**lookup, **values, **(on_create or {})), "created"
    changed = [
        name
        for name, value in values.items()
        if getattr(row, f"{name}_id" if _is_fk(model, name) else name) != _pk(value)
    ]
    if not changed:
        return row, "unchanged"
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row, "updated"


def _is_fk(model, name):
    return model._meta.get_field(name).is_relation


def _pk(value):
    return getattr(value, "pk", value)


def seed_runbook() -> dict[str, int]:
    """Load severities, incident types and their runbooks, roles, contacts,
    channels, services and the permission groups. Returns counts by outcome."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}

    def tally(outcome):
        counts[outcome] += 1

    with transaction.atomic(), acting_as(system_user(), "seed_runbook"):
        for values in data.SEVERITIES:
            values = dict(values)
            level = values.pop("level")
            # Four eyes, the post-mortem requirement and the stall period are staff's to set per severity in the
            # admin: a re-seed (every release) keeps their choice.
            on_create = {
                "four_eyes": level in FOUR_EYES_LEVELS,
                "postmortem_required": values.pop("postmortem_required"),
                "stall_after": values.pop("stall_after"),
            }
            tally(upsert(Severity, {"level": level}, values, on_create=on_create)[1])
        for position, spec in enumerate(data.INCIDENT_TYPES, start=1):
            incident_type, outcome = upsert(
                IncidentType,
                {"slug": spec["slug"]},
                {"name": spec["name"], "description": spec.get("description", ""), "position": position},
            )
            tally(outcome)
            for kind in RunbookStep.Kind.values:
                for step_position, text in enumerate(spec.get(kind, ()), start=1):
                    tally(
                        upsert(
                            RunbookStep,
                            {"incident_type": incident_type, "kind": kind, "position": step_position},
                            {"text": text},
                        )[1]
                    )
        # The general steps are staff's to edit in the admin once loaded: seeded only where there are none.
        if not RunbookStep.objects.filter(incident_type__isnull=True).exists():
            positions: dict[str, int] = {}
            for kind, text, performs in data.GENERAL_STEPS:
                positions[kind] = positions.get(kind, 0) + 1
                RunbookStep.objects.create(kind=kind, position=positions[kind], text=text, performed_by_portal=performs)
                tally("created")
        roles = {}
        for position, spec in enumerate(data.ROLES, start=1):
            role, outcome = upsert(
                Role,
                {"slug": spec["slug"]},
                {"name": spec["name"], "responsibilities": spec["responsibilities"], "position": position},
            )
            roles[role.slug] = role
            tally(outcome)
        for category, name, role_slug, phone, email, order in data.CONTACTS:
            tally(
                upsert(
                    Contact,
                    {"category": category, "name": name},
                    {"role": roles.get(role_slug), "phone": phone, "email": email, "escalation_order": order},
                )[1]
            )
        for position, (name, audience, kind, target, purpose) in enumerate(data.CHANNELS, start=1):
            tally(
                upsert(
                    CommunicationChannel,
                    {"name": name},
                    {"audience": audience, "kind": kind, "target": target, "purpose": purpose, "position": position},
                )[1]
            )
        for slug, name, description in data.SERVICES:
            # Owners are set by staff in the admin; the seed never overwrites them.
            tally(upsert(Service, {"slug": slug}, {"name": name, "description": description})[1])
        # Update templates are staff's to edit in the admin once loaded: a re-seed adds missing ones only.
        for audience, phase, body in data.UPDATE_TEMPLATES:
            tally(upsert(UpdateTemplate, {"audience": audience, "phase": phase}, {}, on_create={"body": body})[1])
        seed_groups()
    return counts


def _perms(app_models, actions):
    return Permission.objects.filter(
        content_type__app_label__in=PORTAL_APPS,
        content_type__model__in=app_models,
        codename__regex=rf"^({'|'.join(actions)})_",
    )


def seed_groups() -> None:
    """Responders work incidents, Viewers read, Admins use the admin site."""
    from django.apps import apps

    all_models = [m._meta.model_name for app in PORTAL_APPS for m in apps.get_app_config(app).get_models()]
    responder_models = RESPONDER_MODELS + [m._meta.model_name for m in apps.get_app_config("postmortems").get_models()]
    viewers, _ = Group.objects.get_or_create(name=GROUP_VIEWERS)
    viewers.permissions.set(_perms(all_models, ["view"]))
    responders, _ = Group.objects.get_or_create(name=GROUP_RESPONDERS)
    responders.permissions.set(
        list(_perms(all_models, ["view"]))
        + list(_perms(responder_models, ["add", "change"]))
        # Any responder may be the second person who approves another's close or analysis (approvals).
        + list(_perms(["approvalrequest"], ["approve"]))
        # Responders enter the financial impact, and any of them may be the second person who confirms
        # a figure someone else entered (ledger).
        + list(_perms(["impactentry"], ["add", "change", "confirm"]))
        # Responders flag incidents as reportable to regulators and record the reports sent (regulatory).
        + list(_perms(["reportclock", "reportableflag"], ["add", "change"]))
    )
    admins, _ = Group.objects.get_or_create(name=GROUP_ADMINS)
    # Admins also see and clear sign-in lockouts (django-axes).
    admins.permissions.set(Permission.objects.filter(content_type__app_label__in=[*PORTAL_APPS, "auth", "axes"]))


DEMO_INCIDENTS = [
    # title, severity level, type slug, services, detected minutes ago, actions
    ("Executor failing to land trades on mainnet", 1, "trade-execution-failure", ["executor", "rpc-gateway"], 12, []),
    (
        "Signal backlog growing after model deploy",
        2,
        "signal-processing-delay",
        ["signal-processing", "ml-models"],
        95,
        ["acknowledge", "investigate"],
    ),
    ("Risk service blocking correlated pairs", 3, "risk-control-block", ["risk"], 300, ["acknowledge", "mitigate"]),
    (
        "Repeated failed logins on the admin VPN",
        2,
        "security-incident",
        ["monitoring"],
        60 * 26,
        ["acknowledge", "investigate", "resolve"],
    ),
    ("Runbook link broken in on-call docs", 4, "other", [], 60 * 24 * 3, ["acknowledge", "resolve", "close"]),
]


def seed_demo(*, actor=None) -> int:
    """A handful of incidents in different phases, so a new portal looks alive.
    Skips any that already exist (by title). Returns how many were created."""
    from . import services as svc

    User = get_user_model()
    actor = actor or User.objects.filter(is_superuser=True, is_active=True).first() or system_user()
    created = 0
    for title, level, type_slug, service_slugs, minutes_ago, actions in DEMO_INCIDENTS:
        if Incident.objects.filter(title=title).exists():
            continue
        incident = svc.incident_declare(
            actor=actor,
            title=title,
            severity=Severity.objects.get(level=level),
            incident_type=IncidentType.objects.get(slug=type_slug),
            detection_source=Incident.DetectionSource.ALERT if level <= 2 else Incident.DetectionSource.USER_REPORT,
            description="Demo incident created by `seed_runbook --demo`.",
            user_impact="Demo: some traders see failed or delayed orders.",
            services=Service.objects.filter(slug__in=service_slugs),
            detected_at=timezone.now() - timedelta(minutes=minutes_ago),
            reason="seed_runbook --demo",
        )
        for action in actions:
            note = "Demo: verified on dashboards." if action in ("resolve", "reopen") else ""
            try:
                svc.incident_transition(incident=incident, action=action, actor=actor, note=note)
            except svc.TransitionNotAllowed:
                break  # e.g. closing is blocked until the post-mortem is done
        if actions and "resolve" not in actions:
            first = ChecklistItem.objects.filter(incident=incident).order_by("section", "position").first()
            svc.checklist_item_set_done(item=first, actor=actor, done=True)
        created += 1
    return created
