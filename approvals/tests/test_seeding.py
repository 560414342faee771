"""Which severities need four eyes: Sev1 and Sev2 when the runbook is first loaded (and
on databases that existed before the switch, by its migration); after that, the
staff's choice in the admin, which a re-seed (every release) leaves alone."""

from importlib import import_module

from django.apps import apps

from incidents.models import Severity
from incidents.seeding import seed_runbook


def four_eyes_levels():
    return list(Severity.objects.filter(four_eyes=True).order_by("level").values_list("level", flat=True))


def test_a_first_seed_gives_sev1_and_sev2_four_eyes(runbook):
    Severity.objects.all().delete()  # no incident uses them in this test

    seed_runbook()

    assert four_eyes_levels() == [1, 2]


def test_a_reseed_keeps_the_staffs_choice_and_writes_nothing(runbook, portal_admin):
    sev2 = Severity.objects.get(level=2)
    sev2.four_eyes = False
    sev2.save()
    sev4 = Severity.objects.get(level=4)
    sev4.four_eyes = True
    sev4.save()
    history = Severity.history.count()

    counts = seed_runbook()

    assert four_eyes_levels() == [1, 4]
    assert counts["created"] == counts["updated"] == 0
    assert Severity.history.count() == history


def test_the_migration_switches_it_on_for_sev1_and_sev2(runbook):
    Severity.objects.update(four_eyes=False)  # as the new column starts
    migration = import_module("incidents.migrations.0010_severity_four_eyes")

    migration.four_eyes_for_sev1_and_sev2(apps, schema_editor=None)

    assert four_eyes_levels() == [1, 2]


def test_the_admin_shows_the_switch(client, portal_admin):
    client.force_login(portal_admin)
    sev1 = Severity.objects.get(level=1)

    changelist = client.get("/admin/incidents/severity/").content.decode()
    change = client.get(f"/admin/incidents/severity/{sev1.pk}/change/").content.decode()

    assert "Four eyes" in changelist
    assert 'name="four_eyes"' in change and "need a second person" in change
