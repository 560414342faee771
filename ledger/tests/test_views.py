"""The ledger's pages and buttons: who may do what, forms that keep what was typed, refusals that
change nothing, and the totals where the incident page, the dashboard and the post-mortem show them."""

from decimal import Decimal

import pytest
from django.urls import reverse

from ledger import services
from ledger.models import ImpactEntry

from .factories import add, confirmed

S = ImpactEntry.Status

ENTRY = {
    "kind": "orders",
    "quantity": "1,200",
    "amount": "12,500.00",
    "currency": "usd",
    "confirmation": "estimated",
    "note": "From the executor's logs",
}


def ledger_url(incident, name="incident", *args):
    return reverse(f"ledger:{name}", args=[incident.reference, *args])


@pytest.fixture
def rita(client, responder):
    client.force_login(responder)
    return client


def test_anonymous_visitors_go_to_the_login_page(client, incident, responder):
    entry = add(incident, responder, "10", request=True)
    for method, url in [
        ("get", ledger_url(incident)),
        ("get", ledger_url(incident, "history")),
        ("get", reverse("ledger:awaiting")),
        ("post", ledger_url(incident, "add")),
        ("post", ledger_url(incident, "confirm", entry.pk)),
        ("post", ledger_url(incident, "reverse", entry.pk)),
    ]:
        response = getattr(client, method)(url, ENTRY)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_a_viewer_sees_the_ledger_but_cannot_write(client, viewer, incident, responder):
    entry = add(incident, responder, "10", request=True)
    client.force_login(viewer)

    page = client.get(ledger_url(incident))
    assert page.status_code == 200
    assert b"USD 10.00" in page.content
    assert b"Add entry" not in page.content and b"Confirm entry" not in page.content
    for name, args, data in [
        ("add", [], ENTRY),
        ("request", [entry.pk], {}),
        ("confirm", [entry.pk], {}),
        ("reverse", [entry.pk], {"reason": "x"}),
    ]:
        assert client.post(ledger_url(incident, name, *args), data).status_code == 403, name
    assert client.get(reverse("ledger:awaiting")).status_code == 403
    entry.refresh_from_db()
    assert (ImpactEntry.objects.count(), entry.status) == (1, S.REQUESTED)


def test_an_entry_is_added_from_the_incident_page(rita, incident, responder):
    response = rita.post(ledger_url(incident, "add"), ENTRY)

    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url() + "#impact"
    entry = ImpactEntry.objects.get()
    assert (entry.kind, entry.quantity, entry.amount, entry.currency, entry.status, entry.entered_by) == (
        "orders",
        1200,
        Decimal("12500.00"),
        "USD",
        S.ESTIMATED,
        responder,
    )
    page = rita.get(response["Location"])
    assert f"Entry #{entry.pk} added: Orders, USD 12,500.00.".encode() in page.content


def test_from_the_ledger_page_the_form_returns_there(rita, incident):
    response = rita.post(ledger_url(incident, "add"), {**ENTRY, "back": "ledger", "confirmation": "requested"})

    entry = ImpactEntry.objects.get()
    assert response["Location"] == ledger_url(incident) + f"#entry-{entry.pk}"
    assert entry.status == S.REQUESTED


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "12,50"}, "never the decimal point"),
        ({"amount": "-5"}, "cannot be negative"),
        ({"amount": "1e400"}, "exponents"),
        ({"amount": "NaN"}, "is not a number"),
        ({"amount": "99999999999999999"}, "16 digits before the decimal point"),
        ({"amount": "1200.5", "currency": "JPY"}, "JPY has no decimals"),
        ({"amount": "1.005"}, "USD has 2 decimals"),
        ({"currency": "ABC"}, "ABC is not an ISO 4217 currency code"),
        ({"currency": "BTC"}, "BTC is not an ISO 4217 currency code"),
        ({"quantity": "2.5"}, "whole number"),
        ({"quantity": "10000000000000000"}, "goes up to 999,999,999,999,999"),
        ({"kind": "losses"}, "Select a valid choice"),
        ({"note": "a\x00b"}, "Null characters are not allowed"),
    ],
)
def test_a_refused_entry_shows_why_keeps_what_was_typed_and_writes_nothing(rita, incident, changes, message):
    data = {**ENTRY, **changes}

    response = rita.post(ledger_url(incident, "add"), data)

    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    for name in ("quantity", "amount"):  # as typed
        assert f'value="{data[name]}"' in content
    assert not ImpactEntry.objects.exists()


def test_the_enterer_confirming_is_refused_with_the_reason_and_nothing_changes(rita, incident, responder):
    entry = add(incident, responder, "500", request=True)

    response = rita.post(ledger_url(incident, "confirm", entry.pk))

    assert response.status_code == 400
    assert "a second person must confirm it" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.status, entry.confirmed_by, entry.history.count()) == (S.REQUESTED, None, 1)


def test_a_second_person_confirms_from_the_page(client, incident, responder, other_responder):
    entry = add(incident, responder, "500", request=True)
    client.force_login(other_responder)

    page = client.get(incident.get_absolute_url())
    assert f'aria-label="Confirm entry #{entry.pk}"'.encode() in page.content
    response = client.post(ledger_url(incident, "confirm", entry.pk))

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.confirmed_by) == (S.CONFIRMED, other_responder)
    page = client.get(incident.get_absolute_url())
    assert b"Confirmed by Tom Tech" in page.content


def test_the_enterer_is_told_their_entry_waits_for_someone_else(rita, incident, responder):
    entry = add(incident, responder, "500", request=True)

    page = rita.get(incident.get_absolute_url()).content.decode()

    assert f'aria-label="Confirm entry #{entry.pk}"' not in page
    assert "Awaiting a second person's confirmation" in page


def test_an_estimate_is_put_up_for_confirmation(rita, incident, responder):
    entry = add(incident, responder, "500")

    response = rita.post(ledger_url(incident, "request", entry.pk))

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.requested_by) == (S.REQUESTED, responder)


def test_a_refused_reversal_keeps_what_was_typed(rita, incident, responder):
    entry = add(incident, responder, "500")

    response = rita.post(ledger_url(incident, "reverse", entry.pk), {"reason": "", "corrected_amount": "450.505"})

    assert response.status_code == 400
    content = response.content.decode()
    assert "This field is required." in content
    assert "USD has 2 decimals" in content
    assert 'value="450.505"' in content
    assert ImpactEntry.objects.count() == 1


def test_reversing_twice_is_refused_with_the_reason(rita, incident, responder):
    entry = add(incident, responder, "500")
    services.impact_entry_reverse(entry=entry, actor=responder, reason="Duplicate")

    response = rita.post(ledger_url(incident, "reverse", entry.pk), {"reason": "Again"})

    assert response.status_code == 400
    assert "already reversed by" in response.content.decode()
    assert ImpactEntry.objects.count() == 2


def test_a_correction_from_the_page(rita, incident, responder, other_responder):
    entry = confirmed(incident, responder, other_responder, "500")

    response = rita.post(
        ledger_url(incident, "reverse", entry.pk), {"reason": "Counted twice", "corrected_amount": "450.50"}
    )

    assert response.status_code == 302
    reversal, replacement = entry.reversal, entry.replacement
    assert (reversal.amount, reversal.status, replacement.amount, replacement.status) == (
        Decimal("-500"),
        S.REQUESTED,
        Decimal("450.50"),
        S.REQUESTED,
    )
    page = rita.get(ledger_url(incident)).content.decode()
    assert f'Reversed by <a href="#entry-{reversal.pk}">#{reversal.pk}</a> (awaiting confirmation)' in page
    assert f'Corrected by <a href="#entry-{replacement.pk}">#{replacement.pk}</a>' in page


def test_the_incident_page_shows_the_totals_per_currency(client, viewer, incident, responder, other_responder):
    add(incident, responder, "12500", "USD")
    confirmed(incident, responder, other_responder, "800", "EUR")
    client.force_login(viewer)

    page = client.get(incident.get_absolute_url()).content.decode()

    assert 'id="impact"' in page
    assert '<tr data-currency="EUR">' in page and '<tr data-currency="USD">' in page
    assert "≈ USD 12,500.00" in page
    assert "EUR 800.00" in page
    assert "Add an impact entry" not in page  # a viewer reads


def test_the_dashboard_shows_each_open_incidents_totals(client, viewer, incident, responder, other_responder):
    add(incident, responder, "12500", "USD")
    confirmed(incident, responder, other_responder, "800", "EUR")
    client.force_login(viewer)

    page = client.get("/").content.decode()

    assert '<span class="badge badge-impact" title="Financial impact, per currency">' in page
    assert "EUR 800.00 confirmed · ≈ USD 12,500.00 est." in page


def test_the_dashboard_lists_entries_awaiting_your_confirmation(client, incident, responder, other_responder):
    entry = add(incident, responder, "42", request=True)
    own = add(incident, other_responder, "7", request=True)
    client.force_login(other_responder)

    page = client.get("/").content.decode()

    assert "Impact entries awaiting your confirmation" in page
    assert f'data-entry="{entry.pk}"' in page
    assert f'data-entry="{own.pk}"' not in page
    listing = client.get(reverse("ledger:awaiting")).content.decode()
    assert f'data-entry="{entry.pk}"' in listing and f'data-entry="{own.pk}"' not in listing


def test_a_viewer_gets_no_awaiting_panel(client, viewer, incident, responder):
    add(incident, responder, "42", request=True)
    client.force_login(viewer)

    assert b"awaiting your confirmation" not in client.get("/").content


def test_the_post_mortem_impact_section_shows_the_totals(rita, incident, responder, other_responder):
    # Opened on its page: the ledger sits below postmortems and does not import it.
    assert rita.post(reverse("postmortems:open", args=[incident.reference])).status_code == 302
    confirmed(incident, responder, other_responder, "1200", "JPY")
    add(incident, responder, "99.99", "GBP")

    for url in [reverse(f"postmortems:{page}", args=[incident.reference]) for page in ("detail", "print")]:
        page = rita.get(url).content.decode()
        assert "Financial impact, from the ledger" in page, url
        assert "JPY 1,200" in page and "≈ GBP 99.99" in page, url


def test_the_ledger_history_names_who_and_why(rita, incident, responder, other_responder):
    entry = add(incident, responder, "500", request=True)
    services.impact_entry_confirm(entry=entry, actor=other_responder)

    page = rita.get(ledger_url(incident, "history")).content.decode()

    assert "Impact entry confirmed" in page and "Tom Tech" in page and "Impact entry added" in page


def test_the_admin_lists_entries_read_only_and_confirms_through_the_service(client, portal_admin, incident, responder):
    entry = add(incident, responder, "500", request=True)
    own = add(incident, portal_admin, "5", request=True)
    client.force_login(portal_admin)

    assert client.get("/admin/ledger/impactentry/").status_code == 200
    assert client.get("/admin/ledger/impactentry/add/").status_code == 403
    change = client.post(f"/admin/ledger/impactentry/{entry.pk}/change/", {"amount": "1"})
    assert change.status_code == 403
    response = client.post(
        "/admin/ledger/impactentry/",
        {"action": "confirm_selected", "_selected_action": [entry.pk, own.pk]},
        follow=True,
    )

    entry.refresh_from_db()
    own.refresh_from_db()
    assert (entry.status, entry.confirmed_by, entry.amount) == (S.CONFIRMED, portal_admin, Decimal("500"))
    assert own.status == S.REQUESTED  # entered by the admin: a second person must confirm it
    assert "a second person must confirm it" in response.content.decode()


def test_responders_and_admins_may_confirm_viewers_may_not(responder, viewer, portal_admin):
    assert responder.has_perm("ledger.confirm_impactentry")
    assert responder.has_perm("ledger.add_impactentry")
    assert portal_admin.has_perm("ledger.confirm_impactentry")
    assert viewer.has_perm("ledger.view_impactentry")
    assert not viewer.has_perm("ledger.confirm_impactentry")
    assert not viewer.has_perm("ledger.add_impactentry")
