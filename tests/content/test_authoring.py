"""Writing the format: generated sources parse cleanly; status edits touch one line only."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lgnetforma.content import (
    field_line,
    new_course_source,
    new_module_source,
    parse_course_files,
    parse_course_meta,
    parse_module_text,
    preview_course_text,
    preview_module_text,
    set_course_status,
)
from tests.content import syntax

COURSE_MD = """\
---
title: Il monitoraggio come buona pratica
summary: Strumenti e indicatori.
cycle: 2025-2026          # the training cycle
hours: 6
status: published   # visible in the catalogue
area: Gestione dei progetti
---

Per chi coordina un progetto.
"""

PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
AWKWARD_TITLES = [
    "Perché monitorare: l'indice",
    "# non un commento",
    "yes",
    "123",
    "- un elenco?",
    "«Virgolette» e \"doppi apici\" e 'apici'",
    "title: dentro il titolo",
    "[collegamento](javascript:alert(1)) <script>alert(1)</script>",
    "Una riga\nspezzata",
    "Un titolo molto lungo " * 20,
]


def test_new_course_source_parses_with_no_problems():
    source = new_course_source(
        title="Il lavoro di rete",
        summary="Servizi sociali, sanitari e terzo settore.",
        cycle="2025-2026",
        hours=6,
        area="Servizi per l'integrazione",
    )
    meta, problems = parse_course_meta(source, media=())
    assert syntax(problems) == ()
    assert meta is not None
    assert meta.title == "Il lavoro di rete"
    assert meta.summary == "Servizi sociali, sanitari e terzo settore."
    assert meta.cycle == "2025-2026"
    assert meta.hours == 6
    assert meta.area == "Servizi per l'integrazione"
    assert meta.status == "draft"
    assert meta.description_html.startswith("<p>")
    assert source.startswith("---\ntitle: Il lavoro di rete\n")


def test_new_course_source_optional_fields_and_status():
    source = new_course_source(
        title="Corso", summary="", cycle="2025-2026", hours=1.5, status="published"
    )
    meta, problems = parse_course_meta(source)
    assert syntax(problems) == ()
    assert meta.hours == 1.5
    assert meta.area is None
    assert meta.summary == ""
    assert meta.status == "published"
    assert "summary" not in source and "area" not in source
    assert "hours: 6\n" in new_course_source(title="C", summary="", cycle="2025-2026", hours=6.0)
    with pytest.raises(ValueError):
        new_course_source(title="C", summary="", cycle="2025-2026", hours=1, status="bozza")


@pytest.mark.parametrize("title", AWKWARD_TITLES)
def test_awkward_titles_round_trip(title):
    expected = " ".join(title.split())
    course = new_course_source(title=title, summary=title, cycle="2025-2026", hours=2, area=title)
    meta, problems = parse_course_meta(course, media=())
    assert syntax(problems) == ()
    assert (meta.title, meta.summary, meta.area) == (expected, expected, expected)

    module = new_module_source(title=title, duration=45)
    doc, problems = parse_module_text("01-modulo.md", module, media=())
    assert syntax(problems) == ()
    assert doc.title == expected
    assert doc.duration == 45
    assert _heading_text(doc.body_html) == expected
    assert "<script" not in doc.body_html and "href" not in doc.body_html


def _heading_text(body_html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", body_html, re.S)
    assert match, body_html
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


@given(title=st.text(PRINTABLE, min_size=1, max_size=80).filter(lambda t: t.split()))
def test_any_module_title_is_its_own_heading(title):
    doc, problems = parse_module_text("01-modulo.md", new_module_source(title=title), media=())
    assert [p for p in problems if p.severity == "error"] == []
    assert doc.title == " ".join(title.split())
    assert _heading_text(doc.body_html) == doc.title


def test_new_module_source_parses_with_no_problems():
    source = new_module_source(title="Indicatori di risultato")
    doc, problems = parse_module_text("03-indicatori.md", source, media=())
    assert syntax(problems) == ()
    assert doc.title == "Indicatori di risultato"
    assert doc.duration == 30
    assert doc.quiz is None
    assert '<h1 id="indicatori-di-risultato">Indicatori di risultato</h1>' in doc.body_html


def test_generated_sources_make_a_valid_course():
    result = parse_course_files(
        "nuovo-corso",
        new_course_source(title="Nuovo corso", summary="", cycle="2025-2026", hours=0.75),
        {
            "01-primo.md": new_module_source(title="Primo"),
            "02-secondo.md": new_module_source(title="Secondo", duration=15),
        },
        (),
    )
    assert syntax(result.problems) == ()
    assert [m.slug for m in result.course.modules] == ["primo", "secondo"]


@given(
    title=st.text(min_size=1, max_size=80).filter(lambda t: t.split()),
    hours=st.integers(min_value=1, max_value=200),
)
def test_any_title_round_trips(title, hours):
    source = new_course_source(title=title, summary="", cycle="2025-2026", hours=hours)
    meta, problems = parse_course_meta(source)
    assert [p for p in problems if p.severity == "error"] == []
    assert meta.title == " ".join(title.split())


@pytest.mark.parametrize("status", ["draft", "published"])
def test_set_course_status_rewrites_only_the_status_line(status):
    changed = set_course_status(COURSE_MD, status)
    before, after = COURSE_MD.splitlines(keepends=True), changed.splitlines(keepends=True)
    assert len(before) == len(after)
    differing = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert differing == ([5] if status == "draft" else [])
    assert after[5] == f"status: {status}   # visible in the catalogue\n"
    meta, problems = parse_course_meta(changed)
    assert syntax(problems) == ()
    assert meta.status == status
    assert set_course_status(changed, "published") == COURSE_MD


def test_set_course_status_adds_the_line_when_absent():
    source = COURSE_MD.replace("status: published   # visible in the catalogue\n", "")
    changed = set_course_status(source, "draft")
    assert changed == source.replace("area: Gestione", "area: Gestione").replace(
        "area: Gestione dei progetti\n---", "area: Gestione dei progetti\nstatus: draft\n---"
    )
    assert parse_course_meta(changed)[0].status == "draft"


def test_set_course_status_keeps_crlf_bom_and_trailing_text():
    source = "\ufeff---\r\ntitle: Corso\r\ncycle: 2025-2026\r\nhours: 2\r\n---\r\nTesto"
    changed = set_course_status(source, "draft")
    assert changed == (
        "\ufeff---\r\ntitle: Corso\r\ncycle: 2025-2026\r\nhours: 2\r\nstatus: draft\r\n---\r\nTesto"
    )
    assert set_course_status(changed, "published") == changed.replace("draft", "published")
    assert parse_course_meta(changed)[0].status == "draft"


def test_set_course_status_handles_quoted_and_block_values():
    quoted = COURSE_MD.replace("status: published   #", 'status: "published"   #')
    assert set_course_status(quoted, "draft") == COURSE_MD.replace(
        "status: published   #", "status: draft   #"
    )
    block = COURSE_MD.replace(
        "status: published   # visible in the catalogue\n", "status:\n  published\n"
    )
    changed = set_course_status(block, "draft")
    assert "status: draft\narea:" in changed
    assert syntax(parse_course_meta(changed)[1]) == ()


def test_set_course_status_refuses_bad_input():
    with pytest.raises(ValueError):
        set_course_status(COURSE_MD, "archived")
    with pytest.raises(ValueError):
        set_course_status("# no front matter\n", "draft")
    with pytest.raises(ValueError):
        set_course_status("---\ntitle: never closed\n", "draft")


def test_set_course_status_ignores_nested_keys_and_the_body():
    source = (
        COURSE_MD.replace("area: Gestione dei progetti\n", "area:\n  status: x\n").replace(
            "status: published   # visible in the catalogue\n", ""
        )
        + "status: published\n"
    )
    changed = set_course_status(source, "draft")
    assert changed.count("status: draft") == 1
    assert changed.endswith("status: published\n")
    assert "  status: x\n" in changed


def test_field_line():
    assert field_line(COURSE_MD, "title") == 2
    assert field_line(COURSE_MD, "cycle") == 4
    assert field_line(COURSE_MD, "status") == 6
    assert field_line(COURSE_MD, "pass") is None
    assert field_line("no front matter", "title") is None


# --------------------------------------------------------------------------- previews

QUIZ_MODULE = """\
---
title: Chi coordina
duration: 20
---

# Chi coordina

Testo ![Il ciclo](media/ciclo.png) <script>alert(1)</script>

```quiz
? Chi coordina la rete?
- [ ] ANCI
- [x] Il Ministero
```
"""


def test_preview_of_a_valid_module():
    preview = preview_module_text(
        "01-chi-coordina.md", QUIZ_MODULE, media=("media/ciclo.png",), media_prefix="/m/"
    )
    assert preview.errors == ()
    # The <script> of the body is removed, and the author is told where.
    assert [(p.line, p.severity) for p in syntax(preview.problems)] == [(8, "warning")]
    assert "<script> sarà rimosso" in syntax(preview.problems)[0].message
    assert preview.document is not None and preview.document.slug == "chi-coordina"
    assert preview.quiz is not None and len(preview.quiz.questions) == 1
    assert 'src="/m/ciclo.png"' in preview.html
    assert "<script" not in preview.html and "Il Ministero" not in preview.html


def test_preview_renders_a_module_with_errors():
    broken = QUIZ_MODULE.replace("- [x] Il Ministero", "- [ ] Il Ministero")
    preview = preview_module_text("01-chi-coordina.md", broken, media=("media/ciclo.png",))
    assert [(p.line, p.message) for p in preview.errors] == [
        (11, "la domanda non ha alcuna opzione corretta")
    ]
    assert preview.document is None and preview.quiz is None
    assert '<h1 id="chi-coordina">Chi coordina</h1>' in preview.html
    assert 'src="media/ciclo.png"' in preview.html and "<script" not in preview.html

    no_title = QUIZ_MODULE.replace("title: Chi coordina\n", "")
    preview = preview_module_text("01-chi-coordina.md", no_title, media=("media/ciclo.png",))
    assert [p.line for p in preview.errors] == [1]
    assert preview.quiz is not None  # the quiz itself is fine: the author sees it
    assert "Chi coordina</h1>" in preview.html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Solo testo, niente front matter.\n", "<p>Solo testo, niente front matter.</p>"),
        ("---\ntitle: mai chiuso\n\nTesto\n", ""),
        ("", ""),
        ("---\n: [\n---\nTesto *vivo*\n", "<p>Testo <em>vivo</em></p>"),
    ],
)
def test_preview_never_raises_and_shows_what_it_can(text, expected):
    preview = preview_module_text("01-modulo.md", text, media=())
    assert preview.errors
    assert preview.html == expected
    course = preview_course_text(text)
    assert course.errors and course.html == expected


def test_preview_of_course_md():
    source = new_course_source(title="Corso", summary="", cycle="2025-2026", hours=2)
    xss = '\n<img src="https://example.org/x.png" alt="x" onerror="alert(1)">\n'
    preview = preview_course_text(source + xss, media=())
    assert preview.document is not None and preview.document.title == "Corso"
    assert "onerror" not in preview.html and 'src="https://example.org/x.png"' in preview.html
    broken = preview_course_text(source.replace("hours: 2", "hours: due"))
    assert [p.line for p in broken.errors] == [4]
    assert broken.document is None
    assert "Descrivi a chi si rivolge il corso" in broken.html
