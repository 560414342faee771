import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from postmortems.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    """Render staff Markdown as sanitised HTML."""
    return render_markdown(text)


@register.filter
def overdue_at(obj, now):
    return obj.is_overdue(now)


_WEB_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


@register.filter
def evidence(text):
    """Evidence as the pages show it: the text escaped, and its http(s) addresses as links that open
    nothing else (a javascript: or data: address stays text). Trailing punctuation stays outside a link."""
    parts, last = [], 0
    for match in _WEB_LINK.finditer(text or ""):
        url = match.group(0).rstrip(".,;:!?)]")
        end = match.start() + len(url)
        parts.append(escape(text[last : match.start()]))
        parts.append(format_html('<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', url, url))
        last = end
    parts.append(escape((text or "")[last:]))
    return mark_safe("".join(str(part) for part in parts))  # noqa: S308 (every part escaped above)


@register.filter
def verification_overdue_at(item, now):
    return item.verification_overdue(now)
