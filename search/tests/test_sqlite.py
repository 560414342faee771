"""The no-configuration mode (SQLite, no server): the migrations leave PostgreSQL's search
indexes out, and the search answers by substring, with passages, never with an error.

Run in a subprocess against a fresh SQLite file, since the suite's own database is PostgreSQL."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment

from incidents import services
from incidents.models import Incident, IncidentType, Service, Severity
from incidents.seeding import seed_runbook

setup_test_environment()
seed_runbook()
user = get_user_model().objects.create_user("rita", password="x", first_name="Rita")
user.groups.add(Group.objects.get(name="Responders"))
incident = services.incident_declare(
    actor=user, title="Payment gateway down", severity=Severity.objects.get(level=1),
    incident_type=IncidentType.objects.get(slug="other"), detection_source=Incident.DetectionSource.ALERT,
    description="", user_impact="", services=Service.objects.filter(slug="executor"),
)
services.timeline_add_note(incident=incident, actor=user, text="Restarted the <b>GATEWAY</b> pods.")
client = Client()
client.force_login(user)
out = {"vendor": connection.vendor}
with connection.cursor() as cursor:
    out["indexes"] = sorted(connection.introspection.get_constraints(cursor, "incidents_incident"))
for name, q in [("gateway", "gateway"), ("nul", "gate\\x00way"), ("operators", "- | !"), ("long", "x" * 10000)]:
    response = client.get("/search/", {"q": q})
    out[name] = [response.status_code, response.content.decode()]
response = client.get(incident.get_absolute_url())
out["incident"] = [response.status_code, response.content.decode()]
response = client.get("/incidents/", {"format": "csv"})
out["csv"] = [response.status_code, b"".join(response.streaming_content).decode()]
print(json.dumps(out))
"""


def test_sqlite_searches_by_substring_and_never_fails(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert out["vendor"] == "sqlite"
    assert not {"incident_search", "incident_title_trgm"} & set(out["indexes"])
    status, body = out["gateway"]
    assert status == 200 and "newest first" in body
    assert "Payment <mark>gateway</mark> down" in body
    assert "Restarted the &lt;b&gt;<mark>GATEWAY</mark>&lt;/b&gt; pods." in body
    assert out["nul"][0] == 400 and "Null characters are not allowed" in out["nul"][1]
    assert out["long"][0] == 400 and "at most 200 characters" in out["long"][1]
    assert out["operators"][0] == 200
    status, body = out["incident"]
    assert status == 200 and 'id="similar"' not in body
    status, text = out["csv"]
    assert status == 200 and text.count("\n") == 2 and "Payment gateway down" in text
