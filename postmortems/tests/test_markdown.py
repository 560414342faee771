from postmortems.markdown import render_markdown


def test_script_tags_and_event_handlers_are_stripped():
    html = render_markdown('# Cause\n\n<script>alert(1)</script>\n\n<a href="#" onclick="steal()">x</a> **bold**')

    assert "<script" not in html and "alert(1)" not in html
    assert "onclick" not in html
    assert "<h1>Cause</h1>" in html and "<strong>bold</strong>" in html


def test_javascript_links_lose_their_href_and_links_get_rel():
    html = render_markdown("[a](javascript:alert(1)) [b](https://example.com)")

    assert "javascript:" not in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">b</a>' in html


def test_tables_and_lists_survive():
    html = render_markdown("- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |")

    assert "<li>one</li>" in html and "<td>1</td>" in html
