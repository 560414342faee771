"""The Insights page's charts: SVG drawn on the server by pygal, put inline in the page.

The page's Content-Security-Policy allows no inline script and no inline style, and the
portal loads nothing from elsewhere. pygal writes a <script> (its configuration, even
with `js=[]`), a <style> and a `style=` attribute into every chart; all three are taken
out here (`_for_the_page`), and the charts are styled by the portal's own stylesheet
(the Insights block of static/css/portal.css, by the classes pygal writes and the
`chart-<name>` class set here). Without JavaScript there are no pygal tooltips: each bar
and point gets an SVG <title> instead, which browsers show on hover. The figures are
also in a table beside every chart.
"""

import re
from datetime import timedelta
from math import floor

import pygal
from django.utils import formats
from django.utils.safestring import SafeString, mark_safe
from pygal.etree import etree
from pygal.style import Style

from portal.display import duration_text

# Font sizes pygal lays the chart out with; the stylesheet draws the text at the same sizes.
STYLE = Style(
    font_family="inherit",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
    no_data_font_size=20,
)
WIDTH, HEIGHT = 720, 360
# At most this many week labels under the x axis (the others are left out, not squeezed in).
MAX_X_LABELS = 14
SERIE_INDEX = re.compile(r"\bserie-(\d+)\b")


def _for_the_page(name: str, label: str, series: list[str]):
    """A pygal `xml_filter`: what the CSP would refuse goes, the chart is named for the page
    and for screen readers, and each value gets a <title> (a tooltip without script)."""

    def strip(root):
        for parent in list(root.iter()):
            for child in list(parent):
                # Comments (pygal's banner with the date) have a function as their tag.
                if callable(child.tag) or child.tag in ("style", "script"):
                    parent.remove(child)
        for element in root.iter():
            element.attrib.pop("style", None)
            if element.get("id", "").startswith("activate-serie"):  # ids for pygal's script, repeated per chart
                del element.attrib["id"]
        for group in root.iter("g"):
            match = SERIE_INDEX.search(group.get("class", ""))
            if not match or "series" not in group.get("class", "").split():
                continue
            serie = series[int(match.group(1))] if int(match.group(1)) < len(series) else ""
            for point in group.iter("g"):
                descs = {(d.get("class") or "").split()[0]: d.text or "" for d in point.findall("desc")}
                for desc in point.findall("desc"):
                    point.remove(desc)
                if "value" in descs:
                    title = etree.Element("title")
                    title.text = ", ".join(filter(None, [serie, descs.get("x_label"), descs["value"]]))
                    point.insert(0, title)
        root.set("id", f"chart-{name}")
        root.set("class", f"{root.get('class', '')} chart-{name}".strip())
        root.set("role", "img")
        root.set("aria-label", label)
        return root

    return strip


class _Chart:
    """A pygal chart that remembers the names of the series added, for their <title>s."""

    def __init__(self, chart, series: list[str]):
        self.chart = chart
        self.series = series

    def add(self, title: str, values, **config):
        self.series.append(title)
        self.chart.add(title, values, **config)

    def render(self) -> SafeString:
        # pygal builds the SVG with ElementTree, which escapes every text and attribute it writes
        # (severity names, labels); nothing else goes in.
        return mark_safe(self.chart.render())  # noqa: S308


def _chart(kind, *, name: str, label: str, **config) -> _Chart:
    series = []
    chart = kind(
        js=[],
        disable_xml_declaration=True,
        width=WIDTH,
        height=HEIGHT,
        style=STYLE,
        legend_at_bottom=True,
        truncate_legend=-1,
        no_data_text="No incidents in this period",
        **config,
    )
    chart.add_xml_filter(_for_the_page(name, label, series))
    return _Chart(chart, series)


def _week_labels(weeks) -> dict:
    labels = [formats.date_format(week.start, "j M") for week in weeks]
    config = {"x_labels": labels, "x_label_rotation": 40 if len(labels) > 8 else 0}
    if len(labels) > MAX_X_LABELS:
        config.update(show_minor_x_labels=False, x_labels_major_every=-(-len(labels) // MAX_X_LABELS))
    return config


def _count_labels(highest: int) -> list[int]:
    """Whole numbers up the count axis, about six of them (pygal's own steps go in fractions)."""
    step = max(1, -(-highest // 6))
    return list(range(0, max(highest, 1) + step, step))


def severity_chart(weeks, severities) -> SafeString:
    """Incidents per week, stacked by severity (most severe at the bottom)."""
    codes = [severity.code for severity in severities]
    highest = max((week.total for week in weeks), default=0)
    chart = _chart(
        pygal.StackedBar,
        name="severity",
        label="Chart: incidents per week by severity. The table beside it has the figures.",
        title="Incidents per week by severity",
        y_title="Incidents",
        # Not on an empty chart: pygal places labels with what it sets up for the series.
        **({"y_labels": _count_labels(highest)} if highest else {}),
        **_week_labels(weeks),
    )
    if highest:
        for index, code in enumerate(codes):
            chart.add(code, [week.by_severity[index] for week in weeks])
    return chart.render()


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def trend_chart(weeks) -> SafeString:
    """Mean time to acknowledge (minutes, left axis) and to resolve (hours, right axis) per week."""
    series = ["Mean time to acknowledge (min)", "Mean time to resolve (h)"]
    chart = _chart(
        pygal.Line,
        name="trend",
        label="Chart: mean time to acknowledge and to resolve, per week. The table beside it has the figures.",
        title="Mean time to acknowledge and to resolve, per week",
        allow_interruptions=True,
        include_x_axis=True,
        **_week_labels(weeks),
    )
    ack = [_minutes(week.ack_mean) for week in weeks]
    resolve = [_hours(week.res_mean) for week in weeks]
    has_ack, has_resolve = any(v is not None for v in ack), any(v is not None for v in resolve)
    if has_ack:
        chart.add(series[0], ack, formatter=lambda v: duration_text(timedelta(minutes=v)))
    if has_resolve:
        # On its own axis beside the other line (pygal fails on a secondary axis with nothing on the first).
        chart.add(series[1], resolve, secondary=has_ack, formatter=lambda v: duration_text(timedelta(hours=v)))
    return chart.render()


def rates_chart(targets) -> SafeString:
    """The share of incidents, gaps and milestones that met their target, in per cent."""
    measured = [target for target in targets if target.share is not None]
    chart = _chart(
        pygal.HorizontalBar,
        name="rates",
        label="Chart: share on time for each target. The table beside it has the figures.",
        title="On time (%)",
        show_legend=False,
        range=(0, 100),
        print_values=True,
        print_values_position="top",
        # pygal draws the first label at the bottom: reversed, they read top down as in the table.
        x_labels=[target.label for target in reversed(targets)],
        truncate_label=-1,
    )
    if measured:
        chart.add(
            "On time",
            # Rounded down as the table shows it (insights.selectors.share_text).
            [None if t.share is None else floor(t.share * 1000) / 10 for t in reversed(targets)],
            formatter=lambda v: f"{v:g} %",
        )
    return chart.render()
