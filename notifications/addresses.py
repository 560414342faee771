"""Email addresses as SMTP will see them.

Django's `EmailValidator` checks the syntax of what was typed, with Unicode
allowed in the domain; its SMTP backend then sends the domain IDNA-encoded
(`sanitize_address`, through Python's `encodings.idna`). The two disagree:
`a@。.com` passes the validator, but U+3002 is a dot to IDNA, which leaves an
empty label and the send fails; a label of 60 `ü` is 60 characters typed and
more than 63 octets encoded. An address that is accepted must be one the outbox
can send to, so it is checked here in the form SMTP gets: the domain encoded as
the backend encodes it, the local part plain ASCII (the relay is not guaranteed
to offer SMTPUTF8), the lengths of RFC 5321 on the encoded address, and a
domain a relay routes by name (no IP literal, no single label like localhost).
"""

import re

from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import validate_email

MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
MAX_DOMAIN = 253  # RFC 1035, written without the root's trailing dot
MAX_ADDRESS = 254  # RFC 5321 4.5.3.1.3: a path of 256 octets, less its angle brackets
IDNA_DOTS = re.compile("[\u002e\u3002\uff0e\uff61]")  # the four dots IDNA splits labels on (RFC 3490 3.1)
# RFC 5321 4.1.2: a sub-domain starts and ends with a letter or digit, with letters, digits and hyphens between.
SMTP_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")


def _refuse(reason: str):
    raise ValidationError(
        "This address cannot receive email: %(reason)s.", code="undeliverable", params={"reason": reason}
    )


def _encoded_domain(domain: str) -> str:
    """The domain as the SMTP backend sends it; refused, with the reason, if it cannot be encoded."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    for label in IDNA_DOTS.split(domain):
        if not label:
            _refuse("the domain has an empty part between two dots (。 ． ｡ are dots too)")
        try:
            label.encode("idna")
        except UnicodeError:
            encoded_length = len(label) if label.isascii() else 4 + len(label.encode("punycode"))  # xn--…
            if encoded_length > 63:
                _refuse("a part of the domain is longer than 63 characters once encoded")
            break
    _refuse("the domain is not a valid internationalised domain name")


def validate_deliverable_email(value: str) -> None:
    """Raise ValidationError unless the SMTP backend can send to `value` and a relay can accept it.

    Runs Django's `validate_email` first, so it can stand alone as a field's only validator.
    """
    validate_email(value)
    local, domain = value.rsplit("@", 1)
    if not local.isascii():
        _refuse("the part before the @ must be plain ASCII (letters without accents)")
    if any(not 32 <= ord(char) < 127 for char in local):
        _refuse("the part before the @ contains a control character")
    if len(local) > MAX_LOCAL_PART:
        _refuse(f"the part before the @ is longer than {MAX_LOCAL_PART} characters")
    if domain.startswith("["):
        _refuse("the domain must be a name, not an IP address")
    encoded = _encoded_domain(domain)
    if encoded.endswith("."):
        _refuse("the domain must not end with a dot")
    labels = encoded.split(".")
    if len(labels) < 2:
        _refuse("the domain needs a dot (a name such as example.com)")
    if not all(SMTP_LABEL.match(label) for label in labels):
        _refuse("a part of the domain starts or ends with a hyphen or holds a character other than a letter or digit")
    if labels[-1].isdigit():
        _refuse("the domain must end in a name, not a number")
    if len(encoded) > MAX_DOMAIN:
        _refuse(f"the domain is longer than {MAX_DOMAIN} characters once encoded")
    if len(local) + 1 + len(encoded) > MAX_ADDRESS:
        _refuse(f"the address is longer than {MAX_ADDRESS} characters once encoded")
    try:
        encoded.encode("ascii").decode("idna")  # an xn-- label must decode (xn--zz does not)
    except UnicodeError:
        _refuse("the domain is not a valid internationalised domain name")
    try:
        sanitize_address(value, "utf-8")  # what Django's SMTP backend runs on every recipient
    except (ValueError, IndexError):  # UnicodeError is a ValueError
        _refuse("it cannot be written as an SMTP address")


def canonical_email(value: str) -> str:
    """One spelling per mailbox: the domain as IDNA maps it, in Unicode.

    `a@Bücher.example`, `a@xn--bcher-kva.example` and `a@bücher。example` reach the
    same mailbox and all become `a@bücher.example`. The local part is left as typed.
    An address whose domain IDNA cannot map is returned unchanged (it is not deliverable).
    """
    local, at, domain = value.rpartition("@")
    if not at:
        return value
    try:
        return f"{local}@{domain.encode('idna').decode('idna')}"
    except UnicodeError:
        return value
