"""Only addresses the SMTP backend can send to, and a relay can accept, pass `validate_deliverable_email`."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from hypothesis import given
from hypothesis import strategies as st

from notifications.addresses import canonical_email, validate_deliverable_email

DOTS = [".", "。", "．", "｡"]


def reason(address: str) -> str:
    with pytest.raises(ValidationError) as refused:
        validate_deliverable_email(address)
    return " ".join(refused.value.messages)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("a@。.com", "empty part between two dots"),  # U+3002 is a dot to IDNA
        ("a@x．．example.com", "empty part between two dots"),
        ("a@" + "ü" * 60 + ".com", "longer than 63 characters once encoded"),  # 60 typed, 67 encoded
        ("a@example.com。", "must not end with a dot"),
        ("a@xn--zz.example", "not a valid internationalised domain name"),  # punycode that does not decode
        ("a@\u200b.com", "not a valid internationalised domain name"),  # a label IDNA maps to nothing
        ("a@－x.com", "starts or ends with a hyphen"),  # a full-width hyphen is a hyphen once mapped
        ("a@ex！ample.com", "character other than a letter or digit"),
        ("a@1.2.3.４５", "must end in a name"),
        ("a@localhost", "needs a dot"),
        ("a@[10.0.0.1]", "not an IP address"),
        ('"a\x01b"@example.com', "control character"),
        ("a" * 65 + "@example.com", "longer than 64 characters"),
        ("a@" + ".".join(["ü" * 45] * 5) + ".com", "domain is longer than 253 characters once encoded"),  # 233 typed
    ],
)
def test_addresses_smtp_cannot_send_to_are_refused_with_the_reason(address, why):
    message = reason(address)

    assert message.startswith("This address cannot receive email: ")
    assert why in message


def test_what_django_refuses_as_syntax_is_refused_with_its_own_message():
    assert reason("not an address") == "Enter a valid email address."
    assert reason("Fan <fan@example.com>") == "Enter a valid email address."


def test_an_address_that_fits_typed_but_not_encoded_is_refused():
    domain = ".".join(["bücher" * 8] * 4) + ".example"  # 203 characters typed, 231 encoded
    address = "a" * 40 + "@" + domain
    assert len(address) <= 254

    assert "longer than 254 characters once encoded" in reason(address)


@pytest.mark.parametrize(
    ("address", "sent_as"),
    [
        ("fan@example.com", "fan@example.com"),
        ("fan@bücher.example", "fan@xn--bcher-kva.example"),
        ("fan@xn--bcher-kva.example", "fan@xn--bcher-kva.example"),
        ("fan@mail。bücher.example", "fan@mail.xn--bcher-kva.example"),
        ("first.last+status@sub.example.co.uk", "first.last+status@sub.example.co.uk"),
        ('"odd\\"quote"@example.com', '"odd\\"quote"@example.com'),
    ],
)
def test_deliverable_addresses_pass_and_are_sent_as_smtp_encodes_them(address, sent_as):
    validate_deliverable_email(address)

    assert sanitize_address(address, "utf-8") == sent_as


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("fan@Bücher.example", "fan@bücher.example"),
        ("fan@xn--bcher-kva.example", "fan@bücher.example"),
        ("fan@mail。bücher．example", "fan@mail.bücher.example"),
        ("fan@ex\u200bample.com", "fan@example.com"),
        ("Fan@example.com", "Fan@example.com"),  # the local part is the mailbox's own business
        ("fan@。.com", "fan@。.com"),  # not deliverable: left as it is
        ("no at sign", "no at sign"),
    ],
)
def test_canonical_email_writes_one_mailbox_one_way(address, canonical):
    assert canonical_email(address) == canonical


LABEL = st.one_of(
    st.from_regex(r"\A[a-z0-9-]{0,70}\Z"),
    st.text(st.characters(categories=["Ll", "Lu", "Lo", "Nd"]), min_size=1, max_size=70),  # mostly IDNA-valid
    st.text(min_size=0, max_size=70),
    st.sampled_from(["ü" * 60, "xn--zz", "xn--bcher-kva", "bücher", "ＥＸＡＭＰＬＥ", "\u200b", "－x", "１２", "com"]),
)
UNICODE_DOMAIN = st.tuples(st.lists(LABEL, min_size=1, max_size=6), st.lists(st.sampled_from(DOTS), min_size=6)).map(
    lambda parts: "".join(label + dot for label, dot in zip(parts[0], parts[1], strict=False))[:-1]
)
DOMAIN = st.one_of(
    UNICODE_DOMAIN,
    st.builds(lambda domain, tld: f"{domain}.{tld}", UNICODE_DOMAIN, st.sampled_from(["com", "example", "рф", "中国"])),
)
ATOM = st.from_regex(r"\A[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,70}\Z")
LOCAL = st.one_of(ATOM, st.text(min_size=1, max_size=70))


def idn_address(local: str, labels: list[str], dots: list[str], tld: str) -> str:
    return local + "@" + "".join(label + dot for label, dot in zip(labels, dots, strict=False)) + tld


IDN_EMAILS = st.builds(  # plausible internationalised addresses, so that many pass
    idn_address,
    ATOM,
    st.lists(st.text(st.characters(categories=["Ll", "Lo"]), min_size=1, max_size=40), min_size=1, max_size=4),
    st.lists(st.sampled_from(DOTS), min_size=4, max_size=4),
    st.sampled_from(["com", "example", "рф", "中国"]),
)
ADDRESSES = st.one_of(
    st.emails(),
    IDN_EMAILS,
    st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN),
    st.text(max_size=300),
)


def assert_smtp_can_send_to(address: str) -> None:
    local, domain = address.rsplit("@", 1)
    encoded = domain.encode("idna").decode("ascii")
    labels = encoded.split(".")
    assert local.isascii() and len(local) <= 64
    assert all(1 <= len(label) <= 63 for label in labels)
    assert len(encoded) <= 253 and len(local) + 1 + len(encoded) <= 254
    assert sanitize_address(address, "utf-8") == f"{local}@{encoded}" or re.match(r'\A".*"@', address)


@pytest.mark.fuzz
@given(ADDRESSES)
def test_every_address_that_passes_can_be_sent_to(address):
    try:
        validate_deliverable_email(address)
    except ValidationError:
        return
    assert_smtp_can_send_to(address)
    assert_smtp_can_send_to(canonical_email(address))
