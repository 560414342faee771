"""The subscribe form accepts only addresses SMTP can send to, in the one spelling they are stored in."""

import pytest
from django.core.mail.message import sanitize_address
from hypothesis import given
from hypothesis import strategies as st

from notifications.addresses import validate_deliverable_email
from notifications.tests.test_addresses import ADDRESSES
from statuspage.forms import SubscribeForm
from statuspage.services import normalise_email


@pytest.mark.parametrize("typed", ["a@。.com", "a@" + "ü" * 60 + ".com", "a@x。。example.com"])
def test_an_address_smtp_cannot_send_to_is_refused_with_the_reason(typed):
    form = SubscribeForm(data={"email": typed})

    assert not form.is_valid()
    [error] = form.errors["email"]
    assert error.startswith("This address cannot receive email: ")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Fan@Example.COM ", "fan@example.com"),
        ("Fan@Mail.Bücher.Example", "fan@mail.bücher.example"),
        ("fan@mail.xn--bcher-kva.example", "fan@mail.bücher.example"),  # the same mailbox, the same spelling
        ("fan@mail。bücher.example", "fan@mail.bücher.example"),
    ],
)
def test_an_accepted_address_is_cleaned_to_its_one_spelling(typed, stored):
    form = SubscribeForm(data={"email": typed})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == stored


@pytest.mark.fuzz
@given(st.one_of(ADDRESSES, st.text()))
def test_every_address_the_form_accepts_can_be_sent_to(typed):
    form = SubscribeForm(data={"email": typed})
    if not form.is_valid():
        assert form.errors["email"]
        return

    address = form.cleaned_data["email"]
    local, domain = address.rsplit("@", 1)
    encoded = domain.encode("idna").decode("ascii")
    assert all(1 <= len(label) <= 63 for label in encoded.split(".")) and len(encoded) <= 253
    assert local.isascii() and len(address) <= 254
    sanitize_address(address, "utf-8")  # what the SMTP backend runs; raises if it cannot
    validate_deliverable_email(address)
    assert normalise_email(address) == address  # one spelling: an erased address's hash finds it again
