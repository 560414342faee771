"""Passages as safe HTML: only the search's own markers become <mark>."""

from search.passages import START, STOP, excerpt, highlighted


def test_markers_become_marks_and_everything_else_is_escaped():
    text = f"<b>{START}gateway{STOP}</b> & {START}pods{STOP} \"quoted\" 'single'"
    assert highlighted(text) == (
        "&lt;b&gt;<mark>gateway</mark>&lt;/b&gt; &amp; <mark>pods</mark> &quot;quoted&quot; &#x27;single&#x27;"
    )


def test_a_marker_without_its_pair_is_dropped():
    assert highlighted(f"a{START}b {START}c{STOP} d{STOP}") == "ab <mark>c</mark> d"
    assert highlighted(f"{STOP}{START}") == ""
    assert highlighted(None) == ""


def test_marked_text_cannot_smuggle_markup():
    assert highlighted(f"{START}<script>{STOP}") == "<mark>&lt;script&gt;</mark>"


def test_the_excerpt_marks_the_first_occurrence_in_its_context():
    text = "x" * 200 + " The Gateway failed <again> " + "y" * 200
    passage = excerpt(text, "gateway")
    assert passage.startswith("…x") and passage.endswith("y…")
    assert "The <mark>Gateway</mark> failed &lt;again&gt; " in passage
    assert passage.count("<mark>") == 1


def test_the_excerpt_without_a_match_is_the_start_of_the_text():
    assert excerpt("short <text>", "absent") == "short &lt;text&gt;"
    assert excerpt("z" * 500, "absent") == "z" * 180 + "…"
    assert excerpt(None, "x") == ""


def test_the_excerpt_ignores_markers_in_the_stored_text():
    assert excerpt(f"{START}gate{STOP}way", "gateway") == "<mark>gateway</mark>"
