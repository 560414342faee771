"""portal.widgets.Select writes the HTML Django's template-rendered Select writes,
escaping included, for any labels, values, groups and selection."""

import re

from django import forms
from hypothesis import given
from hypothesis import strategies as st

from portal.widgets import Select

text = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=12)


def normalised(html: str) -> str:
    """Django's templates put newlines and indentation between tags; the markup is the same."""
    return re.sub(r">\s+<", "><", html.strip())


@given(
    choices=st.lists(st.tuples(text, text), max_size=6),
    groups=st.lists(st.tuples(text, st.lists(st.tuples(text, text), min_size=1, max_size=3)), max_size=2),
    pick=st.integers(min_value=0, max_value=8),
    required=st.booleans(),
    attrs=st.dictionaries(st.sampled_from(["class", "id", "disabled", "data-x"]), st.one_of(st.booleans(), text)),
)
def test_renders_what_djangos_select_renders(choices, groups, pick, required, attrs):
    all_choices = choices + groups
    flat = [value for value, _ in choices] + [value for _, options in groups for value, _ in options]
    selected = flat[pick] if pick < len(flat) else None
    ours, theirs = Select(attrs=dict(attrs), choices=all_choices), forms.Select(attrs=dict(attrs), choices=all_choices)
    ours.is_required = theirs.is_required = required
    assert normalised(ours.render("field", selected)) == normalised(theirs.render("field", selected))


def test_labels_and_values_are_escaped():
    html = Select(choices=[('"><script>', "<b>&amp;</b>")]).render("x", None)
    assert "<script>" not in html and "<b>" not in html
    assert 'value="&quot;&gt;&lt;script&gt;"' in html and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html
