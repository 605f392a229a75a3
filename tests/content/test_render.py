"""Rendering: Markdown features, the TOC, media URLs and the sanitiser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from lgnetforma.content import (
    parse_course_meta,
    parse_module_text,
    render_inline,
    render_markdown,
    slugify,
)

FORBIDDEN_TAGS = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "form",
    "input",
    "svg",
    "math",
    "frame",
    "base",
    "link",
    "meta",
}
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def assert_safe(html: str) -> None:
    """No dangerous element, no event handler or style, no script-like URL."""
    for tag, attrs in elements(html):
        assert tag not in FORBIDDEN_TAGS, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in ("href", "src"):
                compact = "".join((value or "").split()).lower()
                assert not compact.startswith(BAD_SCHEMES), html
        if tag == "a":
            assert attrs.get("rel") == "noopener noreferrer", html
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src="https://x.example/a.png" onerror="alert(1)">',
    "<img src=https://x.example/a.png onerror=alert(1)//>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">clic</a>',
    '<a href="java&#x09;script:alert(1)">clic</a>',
    '<a href=" javascript:alert(1)">clic</a>',
    "<iframe src=https://evil.example></iframe>",
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    "<svg><script>alert(1)</script></svg>",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    '<a href="vbscript:msgbox(1)">v</a>',
    '<p style="background:url(javascript:alert(1))">s</p>',
    "<object data=x.swf></object><embed src=x.swf>",
    '<form action="https://evil.example"><input name=p><button>ok</button></form>',
    '<div onclick="alert(1)" onmouseover="alert(1)">d</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<base href="https://evil.example/"><link rel=stylesheet href=x><meta http-equiv=refresh>',
    "<details open ontoggle=alert(1)>x</details>",
    "<<script>script>alert(1)<</script>/script>",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_body_is_sanitised(payload):
    assert_safe(render_markdown(f"Testo\n\n{payload}\n\nAltro {payload} testo\n").html)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_inline_is_sanitised(payload):
    assert_safe(render_inline(f"Domanda {payload} fine"))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_quiz_text_options_and_feedback_are_sanitised(payload):
    text = (
        "---\ntitle: M\nduration: 5\n---\n"
        f"```quiz\n? Domanda {payload}\n- [x] giusta {payload}\n- [ ] {payload}\n"
        f"> commento {payload}\n```\n"
    )
    doc, problems = parse_module_text("01-m.md", text, media=())
    if doc is None:  # a script-like URL is rejected outright, on every line it is on
        assert {p.message.split(":")[0] for p in problems if p.severity == "error"} <= {
            "il collegamento usa un indirizzo non ammesso",
            "l'immagine usa un indirizzo non ammesso",
        }
        assert {p.line for p in problems if p.severity == "error"} == {6, 7, 8, 9}
        return
    question = doc.quiz.questions[0]
    for html in (
        question.text_html,
        question.feedback_html,
        *(option.text_html for option in question.options),
    ):
        assert_safe(html)
    assert question.text_md.startswith("Domanda ")  # the source is kept as written


def test_course_description_is_sanitised():
    # Script-like URLs make the validator reject the text (tested above).
    accepted = [p for p in XSS_PAYLOADS if "script:" not in p.lower() and "data:" not in p]
    front = "---\ntitle: C\ncycle: 2025-2026\nhours: 2\n---\n"
    text = front + "\n\n".join(accepted)
    meta, problems = parse_course_meta(text)
    # An element removed with its content and never closed (<math>… above) is refused,
    # since it would remove the rest of the text; the rest is only warned about.
    assert [p.line for p in problems if p.severity == "error"] == [
        p.line for p in problems if "non è mai chiuso" in p.message
    ]
    assert meta is None
    assert_safe(render_markdown("\n\n".join(accepted)).html)
    closed = [p for p in accepted if not p.startswith("<math>")]
    meta, problems = parse_course_meta(front + "\n\n".join(closed))
    assert meta is not None, problems
    assert_safe(meta.description_html)


@pytest.mark.parametrize(
    "payload",
    ["[a](javascript:alert(1))", "![a](data:image/png;base64,AAAA)", "<a href='vbscript:x'>v</a>"],
)
def test_script_like_urls_are_rejected_by_the_validator(payload):
    text = f"---\ntitle: M\nduration: 5\n---\nTesto\n\n{payload}\n"
    doc, problems = parse_module_text("01-m.md", text, media=())
    assert doc is None
    assert [(p.line, "non ammesso" in p.message) for p in problems if not p.code] == [(7, True)]


def test_attr_list_is_off():
    html = render_markdown("## Titolo {: onclick=alert(1) #x }\n\nTesto {: .cls }\n").html
    assert "onclick=" not in html.replace("{: onclick=alert(1) #x }", "")
    assert 'class="cls"' not in html


def test_safe_markup_survives():
    text = (
        "# Titolo\n\nTesto **forte** e *corsivo*, `codice`, [link](https://example.org "
        '"Esempio").\n\n'
        "| A | B |\n|:--|--:|\n| 1 | 2 |\n\n```python\nprint('<ciao>')\n```\n\n"
        "1. uno\n2. due\n\n> citazione\n\n---\n"
    )
    html = render_markdown(text).html
    assert '<h1 id="titolo">Titolo</h1>' in html
    assert "<strong>forte</strong>" in html
    assert '<a href="https://example.org" title="Esempio" rel="noopener noreferrer">' in html
    assert '<th align="left">A</th>' in html
    assert "style=" not in html
    assert "<code class=\"language-python\">print('&lt;ciao&gt;')" in html
    assert "<ol>" in html
    assert "<blockquote>" in html
    assert "<hr>" in html


def test_raw_safe_html_is_kept():
    html = render_markdown(
        '<abbr title="Fondo Asilo">FAMI</abbr> <img src="media/a.png" alt="A">'
    ).html
    assert '<abbr title="Fondo Asilo">FAMI</abbr>' in html
    assert 'alt="A"' in html


def test_code_class_is_filtered():
    html = render_markdown('<code class="language-py evil">x</code> <div class="x">y</div>').html
    assert 'class="language-py"' in html
    assert 'class="x"' not in html


def test_sane_lists():
    html = render_markdown("1. uno\n2. due\n\n* a\n* b\n").html
    assert html.count("<ol>") == 1
    assert html.count("<ul>") == 1


def test_all_links_get_rel():
    html = render_markdown("[a](https://a.example) <a href='/b' rel='opener'>b</a>").html
    assert html.count('rel="noopener noreferrer"') == 2
    assert "opener'" not in html


# --------------------------------------------------------------------------- TOC and anchors


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Perché monitorare", "perche-monitorare"),
        ("L'attività è più semplice", "l-attivita-e-piu-semplice"),
        ("Città & Comuni: così", "citta-comuni-cosi"),
        ("  Ünïcödé ", "unicode"),
        ("???", "sezione"),
    ],
)
def test_slugify_handles_italian_accents(heading, slug):
    assert slugify(heading) == slug


def test_toc_only_with_three_headings():
    two = render_markdown("# T\n\n## Uno\n\n### Due\n\n#### Non conta\n")
    assert (two.headings_count, two.toc_html) == (2, "")
    three = render_markdown("# T\n\n## Perché uno\n\n### Due\n\n## Tre\n")
    assert three.headings_count == 3
    assert 'href="#perche-uno"' in three.toc_html
    assert 'class="toc"' in three.toc_html
    assert '<h2 id="perche-uno">' in three.html


def test_duplicate_headings_get_unique_ids():
    html = render_markdown("## Esempio\n\n## Esempio\n").html
    assert 'id="esempio"' in html
    assert 'id="esempio_1"' in html


def test_no_permalinks_and_no_toc_marker():
    body = render_markdown("[TOC]\n\n## Uno\n\n## Due\n\n## Tre\n")
    assert "headerlink" not in body.html
    assert 'class="toc"' not in body.html


# --------------------------------------------------------------------------- media URLs


def test_media_urls_are_rewritten():
    text = (
        "![A](media/a.png) ![B](./media/b%20c.png) [doc](media/d.pdf#p=2) "
        '<img src="media/e.png" alt="E"> [ext](https://x.example/media/f.png) [rel](altro/media/g)'
    )
    html = render_markdown(text, media_prefix="/corsi/x/v3/media/").html
    assert 'src="/corsi/x/v3/media/a.png"' in html
    assert 'src="/corsi/x/v3/media/b%20c.png"' in html
    assert 'href="/corsi/x/v3/media/d.pdf#p=2"' in html
    assert 'src="/corsi/x/v3/media/e.png"' in html
    assert 'href="https://x.example/media/f.png"' in html
    assert 'href="altro/media/g"' in html


def test_default_media_prefix_keeps_urls():
    assert 'src="media/a.png"' in render_markdown("![A](media/a.png)").html


def test_inline_media_prefix():
    html = render_inline("![A](media/a.png)", media_prefix="/anteprima/")
    assert html == '<img alt="A" src="/anteprima/a.png">'


# --------------------------------------------------------------------------- inline


def test_render_inline_is_inline_only():
    assert render_inline("# non un titolo") == "# non un titolo"
    assert render_inline("1. non una lista") == "1. non una lista"
    assert render_inline("**forte** e `x < y`") == "<strong>forte</strong> e <code>x &lt; y</code>"
    assert render_inline("<p>para</p><h1>t</h1>") == "parat"
    assert render_inline("") == ""
    assert render_inline("a & b") == "a &amp; b"


def test_empty_document():
    body = render_markdown("   \n\n")
    assert (body.html, body.toc_html, body.headings_count) == ("", "", 0)
