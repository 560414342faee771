"""Fixtures of the status page's tests: subscribers made the way visitors make them."""

import pytest

from statuspage import services
from statuspage.models import StatusSubscriber

FAN = "fan@example.com"


@pytest.fixture
def fan(runbook) -> StatusSubscriber:
    """A subscriber who asked through the form and followed the confirmation link."""
    subscriber = services.subscriber_subscribe(email=FAN)
    return services.subscriber_confirm(subscriber=subscriber)
