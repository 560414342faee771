from django import template

from postmortems.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    """Render staff Markdown as sanitised HTML."""
    return render_markdown(text)


@register.filter
def overdue_at(obj, now):
    return obj.is_overdue(now)
