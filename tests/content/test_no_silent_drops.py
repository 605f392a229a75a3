"""The validator never silently drops content, and says where (issue 11, item 10).

What an author writes either reaches the reader or is reported at its line: a code block
that swallows the quiz, an element removed with everything after it, raw HTML that the
sanitiser removes; and a forbidden link is reported on its own line, whatever raw HTML
or entities come before it.
"""

from __future__ import annotations

from lgnetforma.content import parse_module_text
from lgnetforma.content.render import raw_html_notes
from tests.content import syntax

FRONT = "---\ntitle: Modulo\nduration: 5\n---\n"  # lines 1-4; the body starts on line 5


def problems(body: str) -> list[tuple[int, str, str]]:
    doc, found = parse_module_text("01-modulo.md", FRONT + body, media=())
    return [(p.line, p.severity, p.message) for p in syntax(found)]


def errors(body: str) -> list[tuple[int, str]]:
    return [(line, message) for line, severity, message in problems(body) if severity == "error"]


def test_code_fence_left_open_before_the_quiz_is_an_error_at_its_line():
    body = (
        "# Modulo\n"  # 5
        "\n"
        "```python\n"  # 7: never closed: the quiz's closing line would close it
        "print('ciao')\n"
        "\n"
        "```quiz\n"  # 10
        "? Chi coordina la rete?\n"
        "- [x] Il Ministero dell'Interno\n"
        "- [ ] ANCI\n"
        "```\n"
    )
    found = errors(body)
    assert [line for line, _ in found] == [7]
    assert "blocco di codice non chiuso" in found[0][1] and "riga 10" in found[0][1]
    doc, _ = parse_module_text("01-modulo.md", FRONT + body, media=())
    assert doc is None  # never stored with its answers shown as code


def test_a_quiz_shown_inside_a_longer_fence_is_fine():
    body = "````markdown\n```quiz\n? Domanda\n- [x] a\n- [ ] b\n```\n````\n"
    assert errors(body) == []


def test_unclosed_style_is_an_error_at_its_line():
    body = "# Modulo\n\nTesto.\n\n<style>\np { color: red }\n\nIl resto del modulo.\n"
    assert errors(body) == [
        (
            9,
            "l'elemento <style> aperto qui non è mai chiuso: tutto il testo che segue "
            "sarebbe rimosso; chiudilo con </style>",
        )
    ]
    closed = body.replace("p { color: red }\n", "p { color: red }\n</style>\n")
    assert errors(closed) == []


def test_forbidden_link_after_script_and_iframe_is_reported_on_its_line():
    body = (
        "# Modulo\n"  # 5
        "\n"
        "<script>\n"  # 7
        "var u = 'javascript:alert(1)';\n"
        "</script>\n"
        '<iframe src="javascript:alert(1)"></iframe>\n'  # 10
        "\n"
        "[clicca qui](javascript:alert(1))\n"  # 12
    )
    assert [line for line, _ in errors(body)] == [12]
    warnings = [(line, m) for line, s, m in problems(body) if s == "warning"]
    assert [line for line, _ in warnings] == [7, 10]
    assert all("sarà rimosso" in message for _, message in warnings)


def test_entity_encoded_url_is_reported_on_its_line():
    body = (
        "# Modulo\n\n"
        + "Testo.\n\n" * 8
        + 'Testo.\n<a href="&#106;avascript:alert(1)">clicca</a>\n'
    )
    assert body.count("\n") == 20  # the link is on file line 24
    found = errors(body)
    assert [line for line, _ in found] == [24]
    assert "non ammesso" in found[0][1]


def test_raw_html_the_sanitiser_removes_is_a_warning_at_its_line():
    body = (
        "# Modulo\n"  # 5
        "\n"
        '<span style="color:red" onclick="x()">rosso</span>\n'  # 7
        "<marquee>scorre</marquee>\n"  # 8
        "<!-- nota per chi scrive -->\n"  # 9
        "`<script>` in codice e \\<b> scritto sono testo.\n"  # 10
        "<abbr title='Fondo asilo'>FAMI</abbr> e <https://example.org> restano.\n"  # 11
    )
    found = problems(body)
    assert [(line, severity) for line, severity, _ in found] == [
        (7, "warning"),
        (7, "warning"),
        (8, "warning"),
        (9, "warning"),
    ]
    messages = [message for _, _, message in found]
    assert "'style'" in messages[0] and "'onclick'" in messages[1]
    assert "<marquee>" in messages[2] and "commento" in messages[3]
    assert all("sarà rimosso" in message for message in messages)


def test_raw_html_notes_ignore_text_inside_removed_elements():
    lines = [(1, "<script>"), (2, "if (a <b> c) { x = '<span onclick=1>' }"), (3, "</script>")]
    notes = raw_html_notes(lines)
    assert [(n.line, n.severity) for n in notes] == [(1, "warning")]
