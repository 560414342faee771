"""Small display helpers for the portal's templates."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from portal.display import duration_text, moment_text, person_name

register = template.Library()


@register.filter
def duration(value) -> str:
    """A timedelta as portal.display shows it ("45 min", "2 h 05 min", "3 d 4 h")."""
    return duration_text(value)


@register.filter
def elapsed(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago `since` was, as a duration."""
    if since is None:
        return ""
    return duration((now or timezone.now()) - since)


@register.filter
def until(moment: datetime | None, now: datetime | None = None) -> timedelta | None:
    if moment is None:
        return None
    return moment - (now or timezone.now())


@register.filter
def when(value: datetime | None, style: str = "date") -> str:
    """A moment as the staff pages show it, naming its zone: `{{ incident.detected_at|when }}`,
    `{{ entry.occurred_at|when:"short" }}` (see portal.display.moment_text)."""
    return moment_text(value, style)


@register.filter
def person(user) -> str:
    return person_name(user)


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for sort and page links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


class _WithContextNode(template.Node):
    def __init__(self, expression, nodelist):
        self.expression = expression
        self.nodelist = nodelist

    def render(self, context):
        values = self.expression.resolve(context) or {}
        with context.push(**values):
            return self.nodelist.render(context)


@register.tag
def with_context(parser, token):
    """`{% with_context some_dict %}...{% endwith_context %}`: the dict's keys become
    variables inside the block. Panels use it so that their template sees the
    keys its context function returned, by name."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("with_context takes one argument: a dict")
    nodelist = parser.parse(("endwith_context",))
    parser.delete_first_token()
    return _WithContextNode(parser.compile_filter(bits[1]), nodelist)
