"""`manage.py check` (and so migrate and runserver) fails on an API_RATE the throttle could not read,
instead of every API request failing with a 500."""

from django.core import checks


@checks.register()
def api_rate_check(app_configs, **kwargs):
    from rest_framework.settings import api_settings

    from .throttles import TokenRateThrottle, parse_rate

    rate = api_settings.DEFAULT_THROTTLE_RATES.get(TokenRateThrottle.scope)
    try:
        parse_rate(rate)
    except ValueError as exc:
        return [checks.Error(f"API_RATE: {exc}", id="api.E001")]
    return []
