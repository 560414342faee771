"""A firm's worth of data, loaded in SQL: `populate(connection, scale)`.

At scale 1.0: 100,000 incidents over five years (about 1,600 open, the rest resolved or closed), a million
timeline entries (one incident holds 5,000 of them), 100,000 post-mortems with 300,000 milestones, 200,000
action items and 1,500,000 reminders, and about twelve million history rows, with the tables the pages read
around them (users and their groups, services, role assignments, checklists — every incident carries the
runbook's 41 general steps — status updates, alerts, the outbox, status-page subscribers and broadcasts).
Every row satisfies the models' constraints: the database checks the unique and check constraints as the
rows go in, and the foreign keys when they are put back on at the end of the load (see
drop_indexes_and_foreign_keys).

Each table is one `INSERT … SELECT … FROM generate_series()` (in chunks, for the progress line), so the
load runs at the database's speed. Values are drawn from a hash of the row number, not from random(): the
same scale gives the same data. Columns the loader does not name get the model field's default (or NULL),
so a field added with a default needs no change here; a required field without one stops the load with
its name.

It works on any database the connection points at (the bench's own, or a test database at a tiny scale)
and appends to what is there: ids continue after the highest present, and incident references continue
each year's `ReferenceCounter`, so declarations after the load carry on the numbering.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from alerts.models import Alert
from incidents.models import (
    ChecklistItem,
    Contact,
    Incident,
    IncidentType,
    ReferenceCounter,
    Role,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    TimelineEntry,
)
from incidents.seeding import GROUP_ADMINS, GROUP_RESPONDERS, GROUP_VIEWERS, PORTAL_APPS, seed_runbook
from notifications.models import OutboxMessage
from people.models import Profile
from postmortems.models import ActionItem, Milestone, PostMortem, Reminder
from statuspage.models import Broadcast, StatusSubscriber

YEARS = 5
CHUNK_ROWS = 250_000

# Staff do not grow with the number of incidents: the same people at every scale.
STAFF = 50
EXTRA_SERVICES = [
    ("payment-gateway", "Payment gateway"),
    ("api-gateway", "API gateway"),
    ("fix-gateway", "FIX gateway"),
    ("order-router", "Order router"),
    ("pricing-engine", "Pricing engine"),
    ("market-data", "Market data feed"),
    ("settlement", "Settlement"),
    ("custody", "Custody wallets"),
    ("kyc", "KYC checks"),
    ("auth", "Authentication"),
    ("web-app", "Web app"),
    ("mobile-api", "Mobile API"),
    ("reporting", "Reporting"),
    ("ledger", "Ledger"),
    ("notifications", "Notifications"),
    ("search", "Search"),
    ("cache", "Cache cluster"),
    ("object-storage", "Object storage"),
    ("dns", "DNS"),
    ("vpn", "VPN"),
    ("ci", "CI pipeline"),
    ("deploys", "Deploy tooling"),
    ("backtester", "Backtester"),
    ("feature-store", "Feature store"),
    ("oracle", "Price oracle"),
    ("bridge", "Bridge relayer"),
    ("indexer", "Chain indexer"),
    ("websocket-gateway", "WebSocket gateway"),
    ("admin-panel", "Admin panel"),
    ("billing", "Billing"),
    ("email-relay", "Email relay"),
    ("status-site", "Status site"),
]
FIRST_NAMES = ["Alice", "Bob", "Chidi", "Dana", "Emeka", "Fatima", "Gustav", "Hana", "Ines", "Jonas"]
LAST_NAMES = ["Nguyen", "Okafor", "Schmidt", "Tanaka", "Rossi"]
TIME_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Singapore", "Africa/Lagos"]

# Incident titles: "gateway" is in five of the 24 components, so a search for it matches about a fifth.
COMPONENTS = [
    "RPC gateway",
    "Payment gateway",
    "API gateway",
    "FIX gateway",
    "WebSocket gateway",
    "Executor",
    "Signal processor",
    "Risk service",
    "Order router",
    "Pricing engine",
    "Market data feed",
    "Settlement batch",
    "Custody wallet",
    "Ledger",
    "Message queue",
    "Primary database",
    "Read replica",
    "Cache cluster",
    "ML model server",
    "Price oracle",
    "Bridge relayer",
    "Chain indexer",
    "KYC provider",
    "Admin VPN",
]
PROBLEMS = [
    "{c} returning 5xx",
    "{c} latency above SLO",
    "Elevated error rate on {c}",
    "{c} unreachable from one region",
    "{c} dropping connections",
    "{c} stuck after deploy",
    "Backlog growing in {c}",
    "{c} rejecting valid requests",
    "Intermittent timeouts from {c}",
    "{c} out of disk",
    "Certificate expiry on {c}",
    "{c} memory leak",
    "Stale data served by {c}",
    "{c} failing health checks",
]


@dataclass(frozen=True)
class Counts:
    """How many rows of each kind a scale asks for."""

    incidents: int
    open: int
    recent: int
    timeline: int
    big_timeline: int
    action_items: int
    subscribers: int

    @classmethod
    def at(cls, scale: float) -> "Counts":
        def n(base, least=1):
            return max(least, round(base * scale))

        incidents = n(100_000, 20)
        recent = min(incidents, n(10_000, 10))
        return cls(
            incidents=incidents,
            # Open incidents are picked among the recent ones, 4 in every 25 (the next 5 are resolved).
            open=recent // 25 * 4 + min(recent % 25, 4),
            recent=recent,
            timeline=n(1_000_000, 200),
            big_timeline=n(5_000, 10),
            action_items=n(200_000, 40),
            subscribers=n(5_000, 20),
        )


def rnd(expr: str, salt: int) -> str:
    """SQL for a number in [0, 1) drawn from a hash of `expr`: the same every run."""
    return f"((hashint8(({expr})::bigint * 7919 + {salt}) & 2147483647)::float8 / 2147483648.0)"


# The SQL type of each array parameter (psycopg sends a list as an untyped literal).
ARRAY_TYPES = {"components": "text[]", "problems": "text[]", "zones": "text[]", "fixes": "text[]"}


def array(name: str) -> str:
    """SQL for the array parameter `name`, cast to its type (ids unless ARRAY_TYPES says otherwise)."""
    return f"%({name})s::{ARRAY_TYPES.get(name, 'bigint[]')}"


def pick(name: str, expr: str, salt: int) -> str:
    """SQL for one element of the array parameter `name`, chosen by a hash of `expr`."""
    return f"({array(name)})[1 + floor({rnd(expr, salt)} * cardinality({array(name)}))::int]"


def _table(model) -> str:
    return model._meta.db_table


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Loader:
    def __init__(self, connection, cursor, scale: float, progress):
        self.connection = connection
        self.cursor = cursor
        self.scale = scale
        self.counts = Counts.at(scale)
        self.progress = progress
        self.now = timezone.now().replace(microsecond=0)
        self.params: dict = {"now": self.now}
        self.first_id: dict[str, int] = {}  # table -> first id this load wrote
        self.rows: dict[str, int] = {}  # table -> rows this load wrote

    # --- plumbing ---------------------------------------------------------------------------------------

    def execute(self, sql: str, params: dict | None = None) -> int:
        self.cursor.execute(sql, {**self.params, **(params or {})})
        return self.cursor.rowcount

    def value(self, sql: str, params: dict | None = None):
        self.execute(sql, params)
        return self.cursor.fetchone()[0]

    def next_id(self, model) -> int:
        """The first id after the highest in `model`'s table; the load writes ids from here."""
        table = _table(model)
        first = self.value(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {_q(table)}")  # noqa: S608 - table from the model
        self.first_id.setdefault(table, first)
        return first

    def _columns(self, model, exprs: dict[str, str]) -> tuple[list[str], list[str], dict]:
        """Column names, SQL values and parameters for an INSERT into `model`'s table: `exprs` for the
        columns named there, the field's default or NULL for the others."""
        fields = model._meta.concrete_fields
        unknown = set(exprs) - {f.column for f in fields}
        if unknown:
            raise ImproperlyConfigured(f"{model.__name__} has no column {sorted(unknown)}")
        columns, values, params = [], [], {}
        for f in fields:
            if f.column in exprs:
                columns.append(f.column)
                values.append(exprs[f.column])
            elif f.primary_key and isinstance(f, models.AutoField | models.BigAutoField):
                continue  # the identity column numbers it
            elif f.has_default() or (f.empty_strings_allowed and not f.null):  # a text field: "" as Django saves
                key = f"default_{model._meta.db_table}_{f.column}"
                params[key] = f.get_db_prep_save(f.get_default(), self.connection)
                columns.append(f.column)
                values.append(f"%({key})s")
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                columns.append(f.column)
                values.append("%(now)s")
            elif not f.null:
                raise ImproperlyConfigured(
                    f"bench.load does not know how to fill {model.__name__}.{f.name} (required, no default)"
                )
        return columns, values, params

    def insert(self, model, exprs: dict[str, str], source: str, params: dict | None = None, *, total=None) -> int:
        """INSERT INTO `model` SELECT `exprs` `source`. When `total` is given, `source` holds `%(lo)s` and
        `%(hi)s` and is run in chunks of CHUNK_ROWS over 1..total, with a progress line."""
        columns, values, defaults = self._columns(model, exprs)
        table = _table(model)
        sql = (
            f"INSERT INTO {_q(table)} ({', '.join(_q(c) for c in columns)}) "  # noqa: S608 - names from the model
            f"SELECT {', '.join(values)} {source}"
        )
        params = {**defaults, **(params or {})}
        started = time.perf_counter()
        written = 0
        if total is None:
            written = self.execute(sql, {**params, "offset": 0})
        else:
            for lo in range(1, total + 1, CHUNK_ROWS):
                hi = min(total, lo + CHUNK_ROWS - 1)
                # `offset`: rows written by the earlier chunks, for ids numbered with row_number().
                written += self.execute(sql, {**params, "lo": lo, "hi": hi, "offset": written})
                if hi < total:
                    self.progress(f"  {table:<52} {written:>10,} rows {time.perf_counter() - started:7.1f} s …")
        self.rows[table] = self.rows.get(table, 0) + written
        self.progress(f"  {table:<52} {written:>10,} rows {time.perf_counter() - started:7.1f} s")
        return written

    def drop_indexes_and_foreign_keys(self) -> None:
        """Take the non-unique indexes and the foreign keys off the portal's tables for the load, and put
        them back after it (build_indexes_and_foreign_keys): one sort per index and one anti-join per
        foreign key instead of a B-tree insertion and a trigger per row, as pg_restore does it. Unique
        indexes and check constraints stay, so they check each row as it goes in; the foreign keys check
        every row when they are added back, and the load fails there if one is broken."""
        tables = [
            m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.app_label in PORTAL_APPS
        ]
        self.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
            WHERE c.relname = ANY(%(tables)s::text[]) AND NOT i.indisunique AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            """,
            {"tables": tables},
        )
        self.indexes = self.cursor.fetchall()
        self.execute(
            """
            SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
            FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%(tables)s::regclass[])
            """,
            {"tables": tables},
        )
        self.foreign_keys = self.cursor.fetchall()
        for table, name, _ in self.foreign_keys:
            self.cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in self.indexes:
            self.cursor.execute(f"DROP INDEX {name}")

    def build_indexes_and_foreign_keys(self) -> None:
        started = time.perf_counter()
        for _, definition in self.indexes:
            self.cursor.execute(definition)  # as the catalog wrote it: no parameters
        self.progress(
            f"  {f'(indexes: {len(self.indexes)} built)':<52} {'':>15} {time.perf_counter() - started:7.1f} s"
        )
        started = time.perf_counter()
        for table, name, definition in self.foreign_keys:
            self.cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        label = f"(foreign keys: {len(self.foreign_keys)} checked)"
        self.progress(f"  {label:<52} {'':>15} {time.perf_counter() - started:7.1f} s")

    # --- reference data -----------------------------------------------------------------------------------

    def reference_data(self):
        self.severity = dict(Severity.objects.values_list("level", "pk"))
        self.types = list(IncidentType.objects.order_by("position", "pk").values_list("pk", flat=True))
        self.role_ids = dict(Role.objects.values_list("slug", "pk"))
        self.contacts = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
        self.params.update(
            types=self.types,
            components=COMPONENTS,
            problems=PROBLEMS,
            contacts=self.contacts,
            system_user=get_user_model().objects.get(username=settings.PORTAL_SYSTEM_USERNAME).pk,
            meeting_within=settings.POSTMORTEM_MEETING_WITHIN,
            analysis_within=settings.POSTMORTEM_ANALYSIS_WITHIN,
            preventive_within=settings.POSTMORTEM_PREVENTIVE_WITHIN,
            meeting_lead=settings.POSTMORTEM_MEETING_REMINDER_LEAD,
            analysis_lead=settings.POSTMORTEM_ANALYSIS_REMINDER_LEAD,
            preventive_lead=settings.POSTMORTEM_PREVENTIVE_REMINDER_LEAD,
            action_lead=settings.POSTMORTEM_ACTION_ITEM_REMINDER_LEAD,
            grace=settings.POSTMORTEM_ESCALATION_GRACE,
        )

    def users(self):
        """Fifty staff: 35 responders (5 of them also admins, one a superuser), 10 viewers, 3 who left."""
        User = get_user_model()
        first = self.next_id(User)
        names = [(f, last) for last in LAST_NAMES for f in FIRST_NAMES][:STAFF]
        usernames = [f"{f}.{last}".lower() for f, last in names]
        if User.objects.filter(username__in=usernames).exists():  # a second load into one database
            usernames = [f"{name}.{first}" for name in usernames]
        self.insert(
            User,
            {
                "id": f"{first - 1} + g.i",
                "password": "'!' || md5(g.i::text || %(now)s::text)",  # unusable: nobody signs in as them
                "username": "(%(usernames)s::text[])[g.i]",
                "first_name": "(%(first)s::text[])[g.i]",
                "last_name": "(%(last)s::text[])[g.i]",
                "email": "(%(usernames)s::text[])[g.i] || '@example.com'",
                "is_staff": "g.i <= 5",
                "is_superuser": "g.i = 1",
                "is_active": "g.i <= 47",
                "date_joined": f"%(now)s - interval '6 years' * {rnd('g.i', 1)}",
            },
            "FROM generate_series(1, %(n)s) AS g(i)",
            {
                "n": STAFF,
                "usernames": usernames,
                "first": [f for f, _ in names],
                "last": [last for _, last in names],
            },
        )
        ids = list(range(first, first + STAFF))
        self.staff = ids[:47]  # the active ones do the work
        self.responders = ids[:35]
        self.params.update(staff=self.staff, responders=self.responders)
        groups = dict(Group.objects.values_list("name", "pk"))
        through = User.groups.through
        members = [(uid, groups[GROUP_RESPONDERS]) for uid in ids[:35]]
        members += [(uid, groups[GROUP_ADMINS]) for uid in ids[:5]]
        members += [(uid, groups[GROUP_VIEWERS]) for uid in ids[35:]]
        self.insert(
            through,
            {"user_id": "m.user_id", "group_id": "m.group_id"},
            "FROM unnest(%(u)s::int[], %(g)s::int[]) AS m(user_id, group_id)",
            {"u": [m[0] for m in members], "g": [m[1] for m in members]},
        )
        self.insert(
            Profile,
            {
                "id": f"{self.next_id(Profile) - 1} + %(offset)s + row_number() OVER (ORDER BY u.id)",
                "user_id": "u.id",
                "time_zone": pick("zones", "u.id", 2),
                "created_at": "u.date_joined",
                "updated_at": "u.date_joined",
            },
            f"FROM {_q(_table(User))} u WHERE u.id >= %(first)s",  # noqa: S608
            {"first": first, "zones": TIME_ZONES},
        )

    def services(self):
        existing = set(Service.objects.values_list("slug", flat=True))
        extra = [(slug, name) for slug, name in EXTRA_SERVICES if slug not in existing]
        first = self.next_id(Service)
        self.insert(
            Service,
            {
                "id": f"{first - 1} + s.n",
                "slug": "s.slug",
                "name": "s.name",
                "description": "'Owned by the platform team.'",
                "owner_id": pick("staff", "s.n", 3),
                "created_at": "%(now)s - interval '5 years'",
                "updated_at": "%(now)s - interval '5 years'",
            },
            "FROM unnest(%(slugs)s::text[], %(names)s::text[]) WITH ORDINALITY AS s(slug, name, n)",
            {"slugs": [s for s, _ in extra], "names": [n for _, n in extra]},
        )
        self.params["services"] = list(Service.objects.order_by("pk").values_list("pk", flat=True))

    # --- incidents ----------------------------------------------------------------------------------------

    def plan(self):
        """One row per incident with every time its story needs, so that the incident, its post-mortem,
        milestones, action items and reminders agree (a closed incident's milestones are all complete)."""
        c = self.counts
        first = self.next_id(Incident)
        offsets = {}
        for year, last in ReferenceCounter.objects.values_list("year", "last_number"):
            offsets[year] = last
        for reference in Incident.objects.values_list("reference", flat=True):
            _, year, number = (reference.split("-") + ["", "", ""])[:3]
            if year.isdigit() and number.isdigit():
                offsets[int(year)] = max(offsets.get(int(year), 0), int(number))
        self.params.update(
            first_incident=first,
            recent_incident=first + c.incidents - c.recent,
            n_incidents=c.incidents,
            recent=c.recent,
            span=timedelta(days=365.25 * YEARS) - timedelta(hours=2),
            years=list(offsets),
            offsets=list(offsets.values()),
            sev1=self.severity[1],
            sev2=self.severity[2],
            sev3=self.severity[3],
            sev4=self.severity[4],
        )
        started = time.perf_counter()
        self.execute("DROP TABLE IF EXISTS bench_plan")
        self.execute(
            f"""
            CREATE TEMP TABLE bench_plan AS
            WITH g AS (
                SELECT i, %(first_incident)s - 1 + i AS id,
                       %(now)s - %(span)s - interval '2 hours'
                           + %(span)s * ((i - 1 + 0.9 * {rnd("i", 1)}) / %(n_incidents)s) AS detected_at,
                       i > %(n_incidents)s - %(recent)s AS recent,
                       mod(i - (%(n_incidents)s - %(recent)s) - 1, 25) AS bucket,
                       {rnd("i", 2)} AS r_sev, {rnd("i", 4)} AS r_source
                FROM generate_series(1, %(n_incidents)s) AS s(i)
            ), a AS (
                SELECT g.*,
                       CASE WHEN recent AND bucket < 4 THEN
                           (ARRAY['detected', 'acknowledged', 'acknowledged', 'investigating', 'investigating',
                                  'investigating', 'investigating', 'mitigating', 'mitigating', 'mitigating'])
                           [1 + mod(i / 25, 10)]
                       WHEN recent AND bucket < 9 THEN 'resolved' ELSE 'closed' END AS planned,
                       CASE WHEN r_sev < 0.05 THEN 1 WHEN r_sev < 0.2 THEN 2 WHEN r_sev < 0.65 THEN 3 ELSE 4 END
                           AS level,
                       detected_at + interval '1 minute' * (1 + 14 * {rnd("i", 5)}) AS ack,
                       interval '1 minute' * (3 + 30 * {rnd("i", 6)}) AS to_inv,
                       interval '1 minute' * (10 + 80 * {rnd("i", 7)}) AS to_mit,
                       interval '1 minute' * (10 + 600 * power({rnd("i", 8)}, 2)) AS to_res
                FROM g
            ), b AS (
                SELECT a.*,
                       CASE WHEN planned <> 'detected' THEN LEAST(ack, %(now)s - interval '2 minutes') END
                           AS acknowledged_at,
                       CASE WHEN planned NOT IN ('detected', 'acknowledged')
                           THEN LEAST(ack + to_inv, %(now)s - interval '90 seconds') END AS investigating_at,
                       CASE WHEN planned = 'mitigating' OR (planned IN ('resolved', 'closed') AND {rnd("i", 9)} < 0.6)
                           THEN LEAST(ack + to_inv + to_mit, %(now)s - interval '75 seconds') END AS mitigating_at
                FROM a
            ), c AS (
                SELECT b.*,
                       CASE WHEN planned IN ('resolved', 'closed') THEN
                           LEAST(COALESCE(mitigating_at, investigating_at) + to_res, %(now)s - interval '1 minute')
                       END AS resolved_at
                FROM b
            ), d AS (
                SELECT c.*,
                       COALESCE(resolved_at, LEAST(detected_at + interval '1 hour', %(now)s)) AS clock,
                       resolved_at IS NULL AS awaiting
                FROM c
            ), e AS (
                SELECT d.*,
                       clock + %(meeting_within)s * (0.3 + 0.9 * {rnd("i", 11)}) AS meeting_done,
                       clock + %(analysis_within)s * (0.3 + 0.9 * {rnd("i", 12)}) AS analysis_done,
                       clock + %(preventive_within)s * (0.3 + 0.9 * {rnd("i", 13)}) AS preventive_done
                FROM d
            ), f AS (
                SELECT e.*,
                       GREATEST(meeting_done, analysis_done, preventive_done) + interval '1 hour' AS close_at,
                       extract(year FROM detected_at AT TIME ZONE 'UTC')::int AS year,
                       {pick("responders", "i", 30)} AS commander,
                       {pick("responders", "i + 1", 31)} AS other
                FROM e
            )
            SELECT f.i, f.id, f.detected_at, f.level, f.recent,
                   -- Numbered in each year after what the year's counter had given out already.
                   'INC-' || f.year || '-' || lpad((COALESCE(o.off, 0) + row_number() OVER year)::text,
                       greatest(4, length((COALESCE(o.off, 0) + row_number() OVER year)::text)), '0') AS reference,
                   CASE f.level WHEN 1 THEN %(sev1)s WHEN 2 THEN %(sev2)s WHEN 3 THEN %(sev3)s ELSE %(sev4)s END
                       AS severity_id,
                   {pick("types", "f.i", 3)} AS type_id,
                   CASE WHEN f.r_source < 0.55 THEN 'alert' WHEN f.r_source < 0.8 THEN 'user_report'
                        WHEN f.r_source < 0.95 THEN 'manual_check' ELSE 'maintenance' END AS source,
                   CASE WHEN f.planned = 'closed' AND f.close_at > %(now)s THEN 'resolved' ELSE f.planned END
                       AS status,
                   f.acknowledged_at, f.investigating_at, f.mitigating_at, f.resolved_at,
                   CASE WHEN f.planned = 'closed' AND f.close_at <= %(now)s THEN f.close_at END AS closed_at,
                   f.clock, f.awaiting,
                   -- A milestone is complete when the incident is closed, or (for one still resolved) when
                   -- its completion time has come, seven times in ten.
                   CASE WHEN f.planned = 'closed' AND f.close_at <= %(now)s THEN f.meeting_done
                        WHEN f.resolved_at IS NOT NULL AND f.meeting_done <= %(now)s AND {rnd("f.i", 21)} < 0.7
                        THEN f.meeting_done END AS meeting_done,
                   CASE WHEN f.planned = 'closed' AND f.close_at <= %(now)s THEN f.analysis_done
                        WHEN f.resolved_at IS NOT NULL AND f.analysis_done <= %(now)s AND {rnd("f.i", 22)} < 0.7
                        THEN f.analysis_done END AS analysis_done,
                   CASE WHEN f.planned = 'closed' AND f.close_at <= %(now)s THEN f.preventive_done END
                       AS preventive_done,
                   f.commander,
                   -- A second responder who is not the commander (the Technical Lead, a participant).
                   CASE WHEN f.other <> f.commander THEN f.other ELSE (%(responders)s::int[])[
                       1 + mod(array_position(%(responders)s::int[], f.commander), cardinality(%(responders)s::int[]))]
                   END AS second,
                   {rnd("f.i", 32)} < 0.03 AS no_owner
            FROM f LEFT JOIN unnest(%(years)s::int[], %(offsets)s::int[]) AS o(year, off) ON o.year = f.year
            WINDOW year AS (PARTITION BY f.year ORDER BY f.detected_at, f.i)
            """  # noqa: S608 - SQL of this module, values as parameters
        )
        self.execute(
            """
            CREATE UNIQUE INDEX ON bench_plan (i);
            CREATE UNIQUE INDEX ON bench_plan (id);
            ANALYZE bench_plan;
            """
        )
        self.progress(
            f"  {'(plan: one row per incident)':<52} {c.incidents:>10,} rows {time.perf_counter() - started:7.1f} s"
        )
        self.big = self.value(
            "SELECT i FROM bench_plan WHERE status = 'closed' AND recent ORDER BY level, i DESC LIMIT 1"
        ) or self.value("SELECT max(i) FROM bench_plan")
        self.params["big"] = self.big

    def incidents(self):
        self.insert(
            Incident,
            {
                "id": "p.id",
                "created_at": "p.detected_at + interval '2 minutes'",
                "updated_at": "COALESCE(p.closed_at, p.resolved_at, p.mitigating_at, p.investigating_at,"
                " p.acknowledged_at, p.detected_at + interval '2 minutes')",
                "reference": "p.reference",
                "title": f"replace({pick('problems', 'p.i', 40)}, '{{c}}', {pick('components', 'p.i', 41)})",
                "description": "'Seen on the dashboards at ' || to_char(p.detected_at, 'HH24:MI')"
                " || ' UTC; the on-call was paged and confirmed it from the logs.'",
                "severity_id": "p.severity_id",
                "incident_type_id": "p.type_id",
                "detection_source": "p.source",
                "user_impact": "CASE WHEN p.level <= 2 THEN 'Some traders see failed or delayed orders.'"
                " ELSE 'No customer impact seen.' END",
                "status": "p.status",
                "detected_at": "p.detected_at",
                "acknowledged_at": "p.acknowledged_at",
                "investigating_at": "p.investigating_at",
                "mitigating_at": "p.mitigating_at",
                "resolved_at": "p.resolved_at",
                "closed_at": "p.closed_at",
                # A quarter of the open incidents are late with their status update, as on a busy day.
                "next_update_due_at": "CASE WHEN p.resolved_at IS NULL AND sv.update_interval IS NOT NULL"
                f" THEN %(now)s + sv.update_interval * ({rnd('p.i', 42)} - 0.25) END",
                "declared_by_id": "p.commander",
                "initial_responder_id": "p.commander",
                "resolution_note": "CASE WHEN p.resolved_at IS NOT NULL"
                " THEN 'Error rate back to baseline for 30 minutes; verified on the dashboards.' ELSE '' END",
                "alert_group_key": "CASE WHEN p.source = 'alert' THEN '{}:{alertname=\"'"
                f" || replace({pick('components', 'p.i', 41)}, ' ', '') || '\"}}/' || p.id ELSE '' END",
            },
            f"FROM bench_plan p JOIN {_q(_table(Severity))} sv ON sv.id = p.severity_id"  # noqa: S608
            " WHERE p.i BETWEEN %(lo)s AND %(hi)s",
            total=self.counts.incidents,
        )
        through = Incident.services.through
        first = self.next_id(through)
        # One service for every incident, a second for half of them (never the same one twice).
        self.insert(
            through,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "incident_id": "p.id",
                "service_id": f"({array('services')})[1 + mod(floor({rnd('p.i', 43)}"
                f" * cardinality({array('services')}))::int + k - 1, cardinality({array('services')}))]",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 2) AS k"
            f" WHERE p.i BETWEEN %(lo)s AND %(hi)s AND (k = 1 OR {rnd('p.i', 44)} < 0.5)",
            total=self.counts.incidents,
        )
        self.reference_counters()

    def reference_counters(self):
        """Each year's counter at its highest number, so the next declaration continues from there."""
        first = self.next_id(ReferenceCounter)
        self.execute(
            f"""
            INSERT INTO {_q(_table(ReferenceCounter))} (id, year, last_number)
            SELECT {first} - 1 + row_number() OVER (ORDER BY y), y, max(n)
            FROM (SELECT split_part(reference, '-', 2)::int AS y, split_part(reference, '-', 3)::int AS n
                  FROM bench_plan) r
            GROUP BY y
            ON CONFLICT (year) DO UPDATE SET last_number = GREATEST(
                {_q(_table(ReferenceCounter))}.last_number, EXCLUDED.last_number)
            """  # noqa: S608
        )

    def roles(self):
        """The Incident Commander of every incident (one in six handed over from a first one), a Technical
        Lead for two in three, a Communications Lead for Sev1 and Sev2."""
        first = self.next_id(RoleAssignment)
        self.params.update(ic=self.role_ids[Role.INCIDENT_COMMANDER], tl=self.role_ids[Role.TECHNICAL_LEAD])
        self.params["cl"] = self.role_ids[Role.COMMUNICATIONS_LEAD]
        handover = f"{rnd('p.i', 50)} < 0.16"
        self.insert(
            RoleAssignment,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "incident_id": "p.id",
                "role_id": "CASE WHEN k <= 2 THEN %(ic)s WHEN k = 3 THEN %(tl)s ELSE %(cl)s END",
                "user_id": "CASE WHEN k = 1 THEN p.second WHEN k = 2 THEN p.commander WHEN k = 3 THEN p.second"
                f" ELSE {pick('responders', 'p.i', 51)} END",
                "assigned_by_id": "p.commander",
                "started_at": "CASE WHEN k = 2 AND "
                + handover
                + " THEN COALESCE(p.investigating_at, p.acknowledged_at,"
                " p.detected_at) + interval '20 minutes' ELSE COALESCE(p.acknowledged_at, p.detected_at) END",
                "ended_at": "CASE WHEN k = 1 THEN COALESCE(p.investigating_at, p.acknowledged_at, p.detected_at)"
                " + interval '20 minutes' END",
                "note": "CASE WHEN k = 1 THEN 'Handed over at the end of the shift.' ELSE '' END",
                "created_at": "COALESCE(p.acknowledged_at, p.detected_at)",
                "updated_at": "COALESCE(p.acknowledged_at, p.detected_at)",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 4) AS k WHERE p.i BETWEEN %(lo)s AND %(hi)s AND ("
            f"(k = 1 AND {handover}) OR k = 2 OR (k = 3 AND {rnd('p.i', 52)} < 0.67) OR (k = 4 AND p.level <= 2))",
            total=self.counts.incidents,
        )

    def timeline(self):
        """Entries spread at random over the incidents (about ten each), and the big incident's thousands."""
        c = self.counts
        first = self.next_id(TimelineEntry)
        spread = c.timeline - c.big_timeline
        kind = (
            f"CASE WHEN {rnd('g.j', 60)} < 0.4 THEN 'note' WHEN {rnd('g.j', 60)} < 0.85 THEN 'event'"
            f" WHEN {rnd('g.j', 60)} < 0.95 THEN 'alert' ELSE 'status_update' END"
        )
        exprs = {
            "id": f"{first - 1} + g.j",
            "incident_id": "p.id",
            "kind": kind,
            "occurred_at": "p.detected_at + (COALESCE(p.resolved_at, %(now)s) - p.detected_at) * " + rnd("g.j", 61),
            "text": f"CASE WHEN {rnd('g.j', 60)} < 0.4 THEN 'Checked ' || {pick('components', 'g.j', 62)}"
            " || ': error rate ' || (1 + floor(" + rnd("g.j", 63) + " * 40))::int || '%% and falling.'"
            " ELSE 'Status changed after the runbook step was done.' END",
            "author_id": pick("staff", "g.j", 64),
            "data": f"CASE WHEN {rnd('g.j', 60)} >= 0.85 AND {rnd('g.j', 60)} < 0.95 THEN jsonb_build_object("
            "'alert', md5(g.j::text), 'labels', jsonb_build_object('alertname', 'HighErrorRate', 'severity', 'page'))"
            " ELSE '{}'::jsonb END",
            "created_at": "p.detected_at + (COALESCE(p.resolved_at, %(now)s) - p.detected_at) * " + rnd("g.j", 61),
            "updated_at": "p.detected_at + (COALESCE(p.resolved_at, %(now)s) - p.detected_at) * " + rnd("g.j", 61),
        }
        self.insert(
            TimelineEntry,
            exprs,
            "FROM generate_series(%(lo)s, %(hi)s) AS g(j)"
            f" JOIN bench_plan p ON p.i = 1 + floor({rnd('g.j', 65)} * %(n_incidents)s)::int",
            total=spread,
        )
        self.insert(
            TimelineEntry,
            {**exprs, "id": f"{first - 1} + {spread} + g.j"},
            "FROM generate_series(1, %(n)s) AS g(j) JOIN bench_plan p ON p.i = %(big)s",
            {"n": c.big_timeline},
        )

    def checklists(self):
        """The runbook's initial response and the incident type's steps, as a declaration copies them;
        ticked as far as the incident got."""
        first = self.next_id(ChecklistItem)
        # The general steps (no type) first in each section, then the type's own after them, as declaring does.
        steps = (
            "SELECT r.kind AS section, r.position + CASE WHEN r.incident_type_id IS NULL THEN 0 ELSE"
            " (SELECT count(*) FROM incidents_runbookstep g WHERE g.incident_type_id IS NULL AND g.kind = r.kind)"
            " END AS position, r.text, r.incident_type_id AS type_id, r.performed_by_portal"
            " FROM incidents_runbookstep r"
        )
        done = (
            "CASE WHEN p.resolved_at IS NOT NULL AND (s.section = 'initial_response' OR "
            + rnd("p.i * 100 + s.position", 70)
            + " < 0.5) THEN COALESCE(p.acknowledged_at, p.detected_at) + interval '1 minute' * s.position"
            " WHEN p.resolved_at IS NULL AND s.section = 'initial_response' AND s.position <= 3 AND"
            " p.acknowledged_at IS NOT NULL THEN p.acknowledged_at END"
        )
        self.insert(
            ChecklistItem,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, s.section, s.position)",
                "incident_id": "p.id",
                "section": "s.section",
                "position": "s.position",
                "text": "s.text",
                "performed_by_portal": "s.performed_by_portal",
                "done_at": done,
                "done_by_id": f"CASE WHEN ({done}) IS NOT NULL THEN p.commander END",
                "created_at": "p.detected_at + interval '2 minutes'",
                "updated_at": f"COALESCE({done}, p.detected_at + interval '2 minutes')",
            },
            f"FROM bench_plan p JOIN ({steps}) s ON s.type_id IS NULL OR s.type_id = p.type_id"
            " WHERE p.i BETWEEN %(lo)s AND %(hi)s",
            total=self.counts.incidents,
        )

    def status_updates(self):
        """Two internal updates for every incident; two customer updates (on the status page, each with
        its broadcast) for Sev1 and one Sev2 in three; one to stakeholders for Sev1 and Sev2."""
        first = self.next_id(StatusUpdate)
        customers = f"(p.level = 1 OR (p.level = 2 AND {rnd('p.i', 80)} < 0.33))"
        audience = "CASE WHEN k <= 2 THEN 'internal' WHEN k <= 4 THEN 'customers' ELSE 'stakeholders' END"
        posted = "p.detected_at + (COALESCE(p.resolved_at, %(now)s) - p.detected_at) * (k::float8 / 6)"
        self.insert(
            StatusUpdate,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "incident_id": "p.id",
                "audience": audience,
                "body": "CASE WHEN k = 3 THEN 'We are investigating delays in order execution.'"
                " || chr(10) || 'Some orders may take longer to fill.'"
                " WHEN k = 4 THEN 'The issue is resolved and orders are filling normally.'"
                " ELSE 'Investigating: ' || p.reference || ' affects ' || "
                + pick("components", "p.i", 41)
                + " || '. Next update within the hour.' END",
                "author_id": "p.commander",
                "posted_at": posted,
                "created_at": posted,
                "updated_at": posted,
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 5) AS k WHERE p.i BETWEEN %(lo)s AND %(hi)s"
            f" AND (k <= 2 OR (k = 3 AND {customers}) OR (k = 4 AND {customers} AND p.resolved_at IS NOT NULL)"
            " OR (k = 5 AND p.level <= 2))",
            total=self.counts.incidents,
        )

    def alerts(self):
        """The alerts that opened the incidents detected by alert: one or two each."""
        first = self.next_id(Alert)
        starts = "p.detected_at - interval '1 minute' * k"
        self.insert(
            Alert,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "incident_id": "p.id",
                "group_key": "'{}:{alertname=\"HighErrorRate\"}/' || p.id",
                "fingerprint": "substr(md5(p.id::text || '/' || k), 1, 16)",
                "starts_at": starts,
                "ends_at": "p.resolved_at",
                "status": "CASE WHEN p.resolved_at IS NOT NULL THEN 'resolved' ELSE 'firing' END",
                "labels": "jsonb_build_object('alertname', 'HighErrorRate', 'severity', 'page', 'service', "
                + pick("components", "p.i", 41)
                + ")",
                "annotations": "jsonb_build_object('summary', 'Error rate above 5%% for 5 minutes')",
                "generator_url": "'https://prometheus.example.com/graph?g0.expr=errors'",
                "payload": "jsonb_build_object('status', 'firing', 'fingerprint', substr(md5(p.id::text || '/' || k),"
                " 1, 16), 'startsAt', to_char(p.detected_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                "resolved_payload": "CASE WHEN p.resolved_at IS NOT NULL THEN jsonb_build_object('status', 'resolved')"
                " END",
                "received_at": starts,
                "resolved_received_at": "p.resolved_at",
                "created_at": starts,
                "updated_at": "COALESCE(p.resolved_at, " + starts + ")",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 2) AS k WHERE p.i BETWEEN %(lo)s AND %(hi)s"
            f" AND p.source = 'alert' AND (k = 1 OR {rnd('p.i', 90)} < 0.3)"
            # Alertmanager sends a fraction of the alert-detected incidents' alerts here; the rest predate it.
            f" AND {rnd('p.i', 91)} < 0.6",
            total=self.counts.incidents,
        )

    # --- post-mortems ------------------------------------------------------------------------------------

    def postmortems(self):
        first = self.next_id(PostMortem)
        complete = "p.preventive_done IS NOT NULL"
        text = f"CASE WHEN {complete} OR p.analysis_done IS NOT NULL THEN "
        self.insert(
            PostMortem,
            {
                "id": f"{first - 1} + p.i",
                "incident_id": "p.id",
                "owner_id": "CASE WHEN p.no_owner THEN NULL ELSE p.commander END",
                "opened_by_id": "p.commander",
                "clock_started_at": "p.clock",
                "awaiting_resolution": "p.awaiting",
                "completed_at": f"CASE WHEN {complete} THEN GREATEST(p.meeting_done, p.analysis_done,"
                " p.preventive_done) END",
                "timeline_summary": "'- **' || to_char(p.detected_at, 'YYYY-MM-DD HH24:MI') || ' UTC** — Detected.'"
                " || chr(10) || '- Resolved after the failover.'",
                "impact_assessment": "'Orders delayed for some traders.'",
                "response_effectiveness": text + "'Paged within five minutes; the runbook held.' ELSE '' END",
                "primary_cause": text + "'A configuration change reached production untested.' ELSE '' END",
                "contributing_factors": text + "'No canary; alert thresholds too loose.' ELSE '' END",
                "system_vulnerabilities": text + "'A single region for the gateway.' ELSE '' END",
                "immediate_fixes": text + "'Rolled back.' ELSE '' END",
                "long_term_improvements": text + "'Canary every deploy.' ELSE '' END",
                "preventive_measures": text + "'A second region.' ELSE '' END",
                "created_at": "p.clock",
                "updated_at": f"CASE WHEN {complete} THEN GREATEST(p.meeting_done, p.analysis_done,"
                " p.preventive_done) ELSE p.clock END",
            },
            "FROM bench_plan p WHERE p.i BETWEEN %(lo)s AND %(hi)s",
            total=self.counts.incidents,
        )
        self.params["first_pm"] = first
        participants = PostMortem.participants.through
        first_p = self.next_id(participants)
        self.insert(
            participants,
            {
                "id": f"{first_p - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "postmortem_id": "%(first_pm)s - 1 + p.i",
                "user_id": "CASE WHEN k = 1 THEN p.commander ELSE p.second END",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 2) AS k WHERE p.i BETWEEN %(lo)s AND %(hi)s",
            total=self.counts.incidents,
        )
        contacts = PostMortem.contact_participants.through
        first_c = self.next_id(contacts)
        self.insert(
            contacts,
            {
                "id": f"{first_c - 1} + %(offset)s + row_number() OVER (ORDER BY p.i)",
                "postmortem_id": "%(first_pm)s - 1 + p.i",
                "contact_id": pick("contacts", "p.i", 100),
            },
            f"FROM bench_plan p WHERE p.i BETWEEN %(lo)s AND %(hi)s AND {rnd('p.i', 101)} < 0.1",
            total=self.counts.incidents,
        )

    def milestones(self):
        """Three per post-mortem, due from the clock; complete as the plan says."""
        first = self.next_id(Milestone)
        self.params["first_milestone"] = first
        done = "CASE k WHEN 1 THEN p.meeting_done WHEN 2 THEN p.analysis_done ELSE p.preventive_done END"
        due = (
            "p.clock + CASE k WHEN 1 THEN %(meeting_within)s WHEN 2 THEN %(analysis_within)s"
            " ELSE %(preventive_within)s END"
        )
        self.insert(
            Milestone,
            {
                "id": f"{first - 1} + (p.i - 1) * 3 + k",
                "postmortem_id": "%(first_pm)s - 1 + p.i",
                "kind": "(ARRAY['meeting', 'analysis', 'preventive'])[k]",
                "due_at": due,
                "completed_at": done,
                "completed_by_id": f"CASE WHEN ({done}) IS NOT NULL THEN p.commander END",
                "meeting_held_at": f"CASE WHEN k = 1 AND ({done}) IS NOT NULL THEN ({done}) - interval '1 hour' END",
                "notes": f"CASE WHEN ({done}) IS NOT NULL THEN 'Done; see the document.' ELSE '' END",
                "created_at": "p.clock",
                "updated_at": f"COALESCE({done}, p.clock)",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 3) AS k WHERE p.i BETWEEN %(lo)s AND %(hi)s",
            total=self.counts.incidents,
        )
        attendees = Milestone.attendees.through
        first_a = self.next_id(attendees)
        self.insert(
            attendees,
            {
                "id": f"{first_a - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "milestone_id": "%(first_milestone)s - 1 + (p.i - 1) * 3 + 1",
                "user_id": "CASE WHEN k = 1 THEN p.commander ELSE p.second END",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 2) AS k"
            " WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.meeting_done IS NOT NULL",
            total=self.counts.incidents,
        )

    def action_items(self):
        """Spread at random over the post-mortems (two each on average). Those of a complete post-mortem
        are done or deferred before its preventive measures were; the others open, some overdue."""
        c = self.counts
        first = self.next_id(ActionItem)
        closed = "p.preventive_done IS NOT NULL"
        deferred = f"{closed} AND {rnd('g.j', 111)} < 0.1"
        closed_at = f"p.clock + (p.preventive_done - p.clock) * (0.2 + 0.7 * {rnd('g.j', 112)})"
        self.insert(
            ActionItem,
            {
                "id": f"{first - 1} + g.j",
                "postmortem_id": "%(first_pm)s - 1 + p.i",
                "title": f"({pick('fixes', 'g.j', 113)}) || ' for ' || {pick('components', 'p.i', 41)}",
                "category": "(ARRAY['immediate_fix', 'long_term', 'preventive'])"
                f"[1 + floor({rnd('g.j', 114)} * 3)::int]",
                "description": "'See the analysis.'",
                "owner_id": pick("responders", "g.j", 115),
                "due_at": f"p.clock + interval '1 day' * (3 + 87 * {rnd('g.j', 116)})",
                "implementation_timeline": "''",
                "success_metric": "'No repeat in 90 days.'",
                "status": f"CASE WHEN {deferred} THEN 'deferred' WHEN {closed} THEN 'done'"
                f" WHEN {rnd('g.j', 117)} < 0.4 THEN 'in_progress' ELSE 'open' END",
                "deferred_reason": f"CASE WHEN {deferred} THEN 'Superseded by the platform migration.' ELSE '' END",
                "closed_at": f"CASE WHEN {closed} THEN {closed_at} END",
                "closed_by_id": f"CASE WHEN {closed} THEN p.commander END",
                "created_at": "p.clock + interval '1 hour'",
                "updated_at": f"CASE WHEN {closed} THEN {closed_at} ELSE p.clock + interval '1 hour' END",
            },
            "FROM generate_series(%(lo)s, %(hi)s) AS g(j)"
            f" JOIN bench_plan p ON p.i = 1 + floor({rnd('g.j', 110)} * %(n_incidents)s)::int",
            {
                "fixes": [
                    "Add an alert on error budget burn",
                    "Canary deploys",
                    "Second region",
                    "Retry with backoff",
                    "Runbook step",
                    "Load test",
                    "Rotate credentials",
                    "Dashboard panel",
                ]
            },
            total=c.action_items,
        )
        self.params["first_action_item"] = first

    def reminders(self):
        """Three per milestone and per action item (before, at and after the deadline). One the sweep has
        reached is queued (with its email in the outbox) or, if the work was done first, cancelled; one still
        ahead is pending."""
        started = time.perf_counter()
        self.execute("DROP TABLE IF EXISTS bench_reminder")
        self.execute(
            f"""
            CREATE TEMP TABLE bench_reminder AS
            SELECT r.*,
                   CASE WHEN done_at IS NOT NULL AND due > done_at THEN 'cancelled'
                        WHEN due <= %(now)s THEN 'queued' ELSE 'pending' END AS status,
                   CASE WHEN done_at IS NOT NULL AND due > done_at THEN done_at
                        WHEN due <= %(now)s THEN due + interval '30 seconds' END AS handled_at
            FROM (
                SELECT row_number() OVER (ORDER BY t.kind_of, t.target_id, k) AS n, t.*, k,
                       (ARRAY['before', 'overdue', 'escalation'])[k] AS kind,
                       CASE k WHEN 1 THEN t.due_at - t.lead WHEN 2 THEN t.due_at ELSE t.due_at + %(grace)s END AS due
                FROM (
                    SELECT 'm' AS kind_of, m.id AS target_id, m.due_at, m.completed_at AS done_at, m.created_at,
                           pm.owner_id, pm.incident_id,
                           CASE m.kind WHEN 'meeting' THEN %(meeting_lead)s WHEN 'analysis' THEN %(analysis_lead)s
                                ELSE %(preventive_lead)s END AS lead
                    FROM {_q(_table(Milestone))} m JOIN {_q(_table(PostMortem))} pm ON pm.id = m.postmortem_id
                    WHERE m.id >= %(first_milestone)s
                    UNION ALL
                    SELECT 'a', a.id, a.due_at, a.closed_at, a.created_at, a.owner_id, pm.incident_id,
                           %(action_lead)s
                    FROM {_q(_table(ActionItem))} a JOIN {_q(_table(PostMortem))} pm ON pm.id = a.postmortem_id
                    WHERE a.id >= %(first_action_item)s
                ) t CROSS JOIN generate_series(1, 3) AS k
            ) r;
            CREATE UNIQUE INDEX ON bench_reminder (n);
            ANALYZE bench_reminder;
            """  # noqa: S608
        )
        total = self.value("SELECT count(*) FROM bench_reminder")
        self.progress(
            f"  {'(plan: one row per reminder)':<52} {total:>10,} rows {time.perf_counter() - started:7.1f} s"
        )
        first_outbox = self.next_id(OutboxMessage)
        first = self.next_id(Reminder)
        self.params.update(first_outbox=first_outbox, first_reminder=first)
        sent = "r.handled_at + interval '10 seconds'"
        self.insert(
            OutboxMessage,
            {
                "id": "%(first_outbox)s - 1 + r.n",
                "key": "'postmortems:reminder:' || (%(first_reminder)s - 1 + r.n)",
                "channel": "'email'",
                "recipients": "jsonb_build_array('owner' || COALESCE(r.owner_id, 0) || '@example.com')",
                "subject": "CASE r.k WHEN 1 THEN 'Reminder: ' WHEN 2 THEN 'Overdue: ' ELSE 'Escalation: ' END"
                " || 'post-mortem deadline'",
                "body_text": "'A post-mortem deadline needs you. Open the post-mortem to see what is left.'",
                "body_html": "'<p>A post-mortem deadline needs you. Open the post-mortem to see what is left.</p>'",
                "status": "'sent'",
                "attempts": "1",
                "next_attempt_at": "r.handled_at",
                "sent_at": sent,
                "created_at": "r.handled_at",
                "updated_at": sent,
            },
            "FROM bench_reminder r WHERE r.n BETWEEN %(lo)s AND %(hi)s AND r.status = 'queued'",
            total=total,
        )
        self.insert(
            Reminder,
            {
                "id": "%(first_reminder)s - 1 + r.n",
                "milestone_id": "CASE WHEN r.kind_of = 'm' THEN r.target_id END",
                "action_item_id": "CASE WHEN r.kind_of = 'a' THEN r.target_id END",
                "kind": "r.kind",
                "due_at": "r.due",
                "status": "r.status",
                "handled_at": "r.handled_at",
                "recipients": "CASE WHEN r.status = 'queued' THEN"
                " jsonb_build_array('owner' || COALESCE(r.owner_id, 0) || '@example.com') ELSE '[]'::jsonb END",
                "note": "CASE WHEN r.status = 'cancelled' THEN 'Milestone completed' ELSE '' END",
                "outbox_message_id": "CASE WHEN r.status = 'queued' THEN %(first_outbox)s - 1 + r.n END",
                "created_at": "r.created_at",
                "updated_at": "COALESCE(r.handled_at, r.created_at)",
            },
            "FROM bench_reminder r WHERE r.n BETWEEN %(lo)s AND %(hi)s",
            total=total,
        )
        self.execute("DROP TABLE bench_reminder")

    def incident_notices(self):
        """The distribution-list emails of every declaration and resolution, all sent long ago."""
        first = self.next_id(OutboxMessage)
        when = "CASE WHEN k = 1 THEN p.detected_at + interval '2 minutes' ELSE p.resolved_at END"
        self.insert(
            OutboxMessage,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY p.i, k)",
                "key": "CASE WHEN k = 1 THEN 'incident-declared:' || p.id || ':email' ELSE 'incident-resolved:'"
                " || p.id || ':' || to_char(p.resolved_at, 'YYYYMMDD\"T\"HH24MISS.US') || ':email' END",
                "channel": "'email'",
                "recipients": "jsonb_build_array('sev' || p.level || '-oncall@example.com')",
                "subject": "p.reference || CASE WHEN k = 1 THEN ' declared' ELSE ' resolved' END",
                "body_text": "p.reference || ' has changed. Open the incident for the details.'",
                "body_html": "'<p>' || p.reference || ' has changed. Open the incident for the details.</p>'",
                "status": "'sent'",
                "attempts": "1",
                "next_attempt_at": when,
                "sent_at": f"{when} + interval '5 seconds'",
                "created_at": when,
                "updated_at": f"{when} + interval '5 seconds'",
            },
            "FROM bench_plan p CROSS JOIN generate_series(1, 2) AS k"
            " WHERE p.i BETWEEN %(lo)s AND %(hi)s AND (k = 1 OR p.resolved_at IS NOT NULL)",
            total=self.counts.incidents,
        )

    # --- the status page ----------------------------------------------------------------------------------

    def subscribers(self):
        """85 in 100 confirmed and receiving, 10 erased after unsubscribing, 5 never confirmed."""
        first = self.next_id(StatusSubscriber)
        erased = f"{rnd('g.i', 120)} < 0.10"
        unconfirmed = f"{rnd('g.i', 120)} >= 0.95"
        subscribed = f"%(now)s - interval '3 years' * {rnd('g.i', 121)}"
        self.insert(
            StatusSubscriber,
            {
                "id": f"{first - 1} + g.i",
                "email": f"CASE WHEN {erased} THEN NULL ELSE 'subscriber' || ({first - 1} + g.i) || '@example.net' END",
                "email_hash": f"CASE WHEN {erased} THEN encode(sha256(convert_to('erased' || ({first - 1} + g.i),"
                " 'UTF8')), 'hex') END",
                "subscribed_at": subscribed,
                "confirmed_at": f"CASE WHEN {unconfirmed} THEN NULL ELSE {subscribed} + interval '10 minutes' END",
                "unsubscribed_at": f"CASE WHEN {erased} THEN {subscribed} + interval '30 days' END",
                "created_at": subscribed,
                "updated_at": subscribed,
            },
            "FROM generate_series(1, %(n)s) AS g(i)",
            {"n": self.counts.subscribers},
        )

    def broadcasts(self):
        """Every customer update was sent to every subscriber."""
        first = self.next_id(Broadcast)
        receiving = self.value(
            f"SELECT count(*) FROM {_q(_table(StatusSubscriber))}"  # noqa: S608
            " WHERE confirmed_at IS NOT NULL AND unsubscribed_at IS NULL"
        )
        self.insert(
            Broadcast,
            {
                "id": f"{first - 1} + %(offset)s + row_number() OVER (ORDER BY u.id)",
                "status_update_id": "u.id",
                "last_subscriber_id": "%(last_subscriber)s",
                "queued": "%(receiving)s",
                "completed_at": "u.posted_at + interval '2 minutes'",
                "created_at": "u.posted_at",
                "updated_at": "u.posted_at + interval '2 minutes'",
            },
            f"FROM {_q(_table(StatusUpdate))} u WHERE u.audience = 'customers'"  # noqa: S608
            " AND u.id >= %(first_update)s",
            {
                "receiving": receiving,
                "last_subscriber": self.value(f"SELECT COALESCE(max(id), 0) FROM {_q(_table(StatusSubscriber))}"),  # noqa: S608
                "first_update": self.first_id.get(_table(StatusUpdate), 1),
            },
        )

    # --- history ------------------------------------------------------------------------------------------

    def history(self):
        """The audit trail of every row this load wrote: a creation row, then one per change the row went
        through (an incident's phases, a reminder handled, a milestone completed …), attributed and with
        a reason, as the services would have left it. Many-to-many history rows hang off the parent's
        creation row (the parent's later rows would repeat them; one copy keeps the total near 12 million)."""
        for model in apps.get_models():
            manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
            table = _table(model)
            if manager_name is None or table not in self.first_id:
                continue
            historical = getattr(model, manager_name).model
            for event in HISTORY.get(model, DEFAULT_HISTORY):
                self._history_event(model, historical, event)
        for field, m2m_history in HistoricalRecords.m2m_models.items():
            through = field.remote_field.through
            if _table(through) in self.first_id:
                self._history_m2m(field.model, through, m2m_history)

    def _history_event(self, model, historical, event):
        base = {f.column for f in model._meta.concrete_fields}
        date = event.date
        if event is DEFAULT_HISTORY[0] and "created_at" not in base:
            date = "%(now)s"  # a model without timestamps: its rows are dated at the load
        exprs = {}
        for f in historical._meta.concrete_fields:
            if f.column == "history_id":
                continue
            if f.column in event.overrides:
                exprs[f.column] = event.overrides[f.column]
            elif f.column == "updated_at" and "updated_at" in base:
                exprs[f.column] = date
            elif f.column in base:
                exprs[f.column] = f"t.{_q(f.column)}"
        exprs.update(
            history_date=date,
            history_type=f"'{event.type}'",
            history_change_reason=event.reason,
            history_user_id=event.user,
        )
        table = _table(model)
        first = self.first_id[table]
        last = self.value(f"SELECT COALESCE(max(id), 0) FROM {_q(table)}")  # noqa: S608
        where = f" AND ({event.where})" if event.where else ""
        self.insert(
            historical,
            exprs,
            f"FROM {_q(table)} t WHERE t.id BETWEEN {first - 1} + %(lo)s AND {first - 1} + %(hi)s{where}",
            total=max(0, last - first + 1),
        )

    def _history_m2m(self, parent, through, m2m_history):
        """One history row per many-to-many row, on the parent's creation row (or, for attendees, its
        completion: that is when they are recorded)."""
        parent_column = next(f.column for f in through._meta.concrete_fields if f.related_model is parent)
        historical = parent.history.model
        kind = "~" if parent is Milestone else "+"
        linked = {f.column for f in through._meta.concrete_fields}  # the rest (the audit chain's) take defaults
        exprs = {f.column: f"th.{_q(f.column)}" for f in m2m_history._meta.concrete_fields if f.column in linked}
        exprs["history_id"] = "h.history_id"
        first = self.first_id[_table(through)]
        last = self.value(f"SELECT COALESCE(max(id), 0) FROM {_q(_table(through))}")  # noqa: S608
        self.insert(
            m2m_history,
            exprs,
            f"FROM {_q(_table(through))} th JOIN {_q(_table(historical))} h"  # noqa: S608
            f" ON h.id = th.{_q(parent_column)} AND h.history_type = '{kind}'"
            f" WHERE th.id BETWEEN {first - 1} + %(lo)s AND {first - 1} + %(hi)s",
            total=max(0, last - first + 1),
        )

    def finish(self):
        """Sequences past the ids written, so the portal's own inserts continue after them."""
        for table in self.first_id:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence(%(t)s, 'id'), (SELECT max(id) FROM {_q(table)}))",  # noqa: S608
                {"t": _q(table)},
            )
        self.execute("DROP TABLE IF EXISTS bench_plan")


@dataclass(frozen=True)
class Event:
    """One history row per row of the table (that matches `where`): its type, when, why and by whom, and
    the columns that differ from the row as it is now."""

    type: str
    date: str
    reason: str
    user: str = "%(system_user)s"
    where: str = ""
    overrides: dict | None = None

    def __post_init__(self):
        object.__setattr__(self, "overrides", self.overrides or {})


def _staff(expr: str, salt: int) -> str:
    return pick("staff", expr, salt)


DEFAULT_HISTORY = [Event("+", "t.created_at", "'bench load'", _staff("t.id", 200))]
_NOT_YET = {"acknowledged_at": "NULL", "investigating_at": "NULL", "mitigating_at": "NULL", "resolved_at": "NULL"}
HISTORY = {
    Incident: [
        Event(
            "+",
            "t.created_at",
            "'Incident declared'",
            "t.declared_by_id",
            overrides={**_NOT_YET, "closed_at": "NULL", "status": "'detected'", "resolution_note": "''"},
        ),
        Event(
            "~",
            "t.acknowledged_at",
            "'Incident: acknowledge'",
            "t.declared_by_id",
            "t.acknowledged_at IS NOT NULL",
            {
                **_NOT_YET,
                "acknowledged_at": "t.acknowledged_at",
                "closed_at": "NULL",
                "status": "'acknowledged'",
                "resolution_note": "''",
            },
        ),
        Event(
            "~",
            "t.investigating_at",
            "'Incident: investigate'",
            "t.declared_by_id",
            "t.investigating_at IS NOT NULL",
            {
                "mitigating_at": "NULL",
                "resolved_at": "NULL",
                "closed_at": "NULL",
                "status": "'investigating'",
                "resolution_note": "''",
            },
        ),
        Event(
            "~",
            "t.mitigating_at",
            "'Incident: mitigate'",
            "t.declared_by_id",
            "t.mitigating_at IS NOT NULL",
            {"resolved_at": "NULL", "closed_at": "NULL", "status": "'mitigating'", "resolution_note": "''"},
        ),
        Event(
            "~",
            "t.resolved_at",
            "'Incident: resolve: ' || t.resolution_note",
            "t.declared_by_id",
            "t.resolved_at IS NOT NULL",
            {"closed_at": "NULL", "status": "'resolved'", "next_update_due_at": "NULL"},
        ),
        Event("~", "t.closed_at", "'Incident: close'", "t.declared_by_id", "t.closed_at IS NOT NULL"),
    ],
    ChecklistItem: [
        Event(
            "+",
            "t.created_at",
            "'Incident declared'",
            _staff("t.incident_id", 201),
            overrides={"done_at": "NULL", "done_by_id": "NULL"},
        ),
        Event(
            "~",
            "t.done_at",
            "'Checklist item ticked'",
            "t.done_by_id",
            "t.done_at IS NOT NULL AND t.incident_id >= %(recent_incident)s",
        ),
    ],
    RoleAssignment: [
        Event("+", "t.started_at", "'Role assigned'", "t.assigned_by_id", overrides={"ended_at": "NULL"}),
        Event("~", "t.ended_at", "'Role handed over'", "t.assigned_by_id", "t.ended_at IS NOT NULL"),
    ],
    TimelineEntry: [Event("+", "t.created_at", "'Note added'", "t.author_id")],
    StatusUpdate: [Event("+", "t.posted_at", "'Status update posted'", "t.author_id")],
    PostMortem: [
        Event(
            "+",
            "t.created_at",
            "'Post-mortem opened on resolution'",
            "t.opened_by_id",
            overrides={
                "completed_at": "NULL",
                **{
                    name: "''"
                    for name in PostMortem.DELIVERABLE_FIELDS
                    if name not in ("timeline_summary", "impact_assessment")
                },
            },
        ),
        Event("~", "t.completed_at", "'Post-mortem milestone completed'", "t.owner_id", "t.completed_at IS NOT NULL"),
    ],
    Milestone: [
        Event(
            "+",
            "t.created_at",
            "'Post-mortem opened on resolution'",
            overrides={"completed_at": "NULL", "completed_by_id": "NULL", "meeting_held_at": "NULL", "notes": "''"},
        ),
        Event(
            "~",
            "t.completed_at",
            "'Post-mortem milestone completed'",
            "t.completed_by_id",
            "t.completed_at IS NOT NULL",
        ),
    ],
    ActionItem: [
        Event(
            "+",
            "t.created_at",
            "'Action item added'",
            "t.owner_id",
            overrides={"status": "'open'", "closed_at": "NULL", "closed_by_id": "NULL", "deferred_reason": "''"},
        ),
        Event("~", "t.closed_at", "'Action item ' || t.status", "t.closed_by_id", "t.closed_at IS NOT NULL"),
    ],
    Reminder: [
        Event(
            "+",
            "t.created_at",
            "'Post-mortem opened on resolution'",
            overrides={
                "status": "'pending'",
                "handled_at": "NULL",
                "recipients": "'[]'::jsonb",
                "note": "''",
                "outbox_message_id": "NULL",
            },
        ),
        Event("~", "t.handled_at", "'Deadline sweep'", where="t.status = 'queued'"),
    ],
    # Only the creation: the "being sent" and "sent" rows of 600,000 emails would make history mostly outbox.
    OutboxMessage: [Event("+", "t.created_at", "'Outbox delivery'")],
    Alert: [Event("+", "t.created_at", "'Alertmanager webhook'")],
    Broadcast: [Event("+", "t.created_at", "'Status update posted'")],
    StatusSubscriber: [Event("+", "t.created_at", "'Subscribed on the status page'", "NULL")],
    ReferenceCounter: [Event("+", "%(now)s", "'Incident declared'")],
}


def populate(connection, scale: float, *, history: bool = True, progress=print) -> dict:
    """Fill the database behind `connection` (the default one) at `scale` (1.0: a firm's five years) and
    ANALYZE it. Runs in one transaction, which it leaves to the caller when one is open (a test's)."""
    if connection.alias != DEFAULT_DB_ALIAS:
        raise ValueError("populate() fills the default database (the runbook is seeded through the ORM).")
    if connection.vendor != "postgresql":
        raise ValueError("populate() writes PostgreSQL SQL.")
    started = time.perf_counter()
    seed_runbook()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a bad row fails at its statement, not at commit
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")  # index builds sort in memory
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # The generated expressions look expensive to the planner, which would spend seconds compiling them.
        cursor.execute("SET LOCAL jit = off")
        loader = _Loader(connection, cursor, scale, progress)
        loader.drop_indexes_and_foreign_keys()
        loader.reference_data()
        loader.users()
        loader.services()
        loader.plan()
        loader.incidents()
        loader.roles()
        loader.timeline()
        loader.checklists()
        loader.status_updates()
        loader.alerts()
        loader.postmortems()
        loader.milestones()
        loader.action_items()
        loader.reminders()
        loader.incident_notices()
        loader.subscribers()
        loader.broadcasts()
        if history:
            # The history rows go in with the audit chain's trigger off (a replica's mode; the foreign keys
            # are off for the load anyway): sealing millions of rows one at a time under the chain's lock
            # would outlast the rest of the load. They stay outside the chain, so `verify_audit` reports a
            # bench database as unchained (`seal_unchained_history` takes them in). Needs a superuser.
            cursor.execute("SET LOCAL session_replication_role = replica")
            loader.history()
            cursor.execute("SET LOCAL session_replication_role = origin")
        loader.finish()
        loader.build_indexes_and_foreign_keys()
        analyze_started = time.perf_counter()
        cursor.execute("ANALYZE")
        progress(f"  {'ANALYZE':<52} {'':>15} {time.perf_counter() - analyze_started:7.1f} s")
    history_rows = sum(n for table, n in loader.rows.items() if "_historical" in table)
    return {
        "scale": scale,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": dict(sorted(loader.rows.items())),
        "history_rows": history_rows,
        "big_incident": Incident.objects.get(pk=loader.params["first_incident"] - 1 + loader.big).reference,
    }
