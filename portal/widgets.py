"""Form widgets that render in Python what Django renders through templates.

Django renders a `<select>` with one template per option: on the incident list
the filter form's 60-odd options cost more than the page's rows. This widget
writes the same HTML (the same attributes, escaped the same way) in one pass.
"""

from django import forms
from django.utils.html import format_html, format_html_join


def _attrs(attrs: dict):
    """Attributes as django/forms/widgets/attrs.html writes them: in order, True bare, False left out."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class Select(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, group, _ in widget["optgroups"]:
            options = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((option["value"], _attrs(option["attrs"]), option["label"]) for option in group),
            )
            groups.append(
                format_html('<optgroup label="{}">{}</optgroup>', group_name, options) if group_name else options
            )
        options = format_html_join("", "{}", ((group,) for group in groups))
        return format_html('<select name="{}"{}>{}</select>', widget["name"], _attrs(widget["attrs"]), options)
