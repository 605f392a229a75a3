"""The trainers' editor through HTTP, on SQLite and PostgreSQL.

Create a course, add, edit, reorder and retire modules, keep drafts with errors, preview
safely, publish and unpublish, and what operators see meanwhile.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import Course, CourseVersion, MediaFile, Module, ModuleVersion
from lgnetforma.services.catalogue.courses import content_hash
from tests.helpers import csrf_token, login

CYCLE = "2025-2026"

QUIZ_WITHOUT_CORRECT = """\
---
title: Chi coordina la rete
duration: 3
---

# Chi coordina la rete

La rete LGNet è coordinata dal Ministero dell'Interno.

```quiz pass=50%
? Chi coordina la rete?
- [ ] ANCI
- [ ] Cittalia
```

## Fonti e aggiornamento

- Decreto del Ministero dell'Interno, 2025.
"""
MISSING_CORRECT_LINE = 11
QUIZ_FIXED = QUIZ_WITHOUT_CORRECT.replace("- [ ] Cittalia", "- [x] Il Ministero dell'Interno")

XSS_MODULE = """\
---
title: Prova di sicurezza
duration: 10
---

# Prova <script>alert(1)</script>

<img src="x.png" onerror="alert(2)" alt="immagine">
<iframe src="https://example.org"></iframe>
[clicca](javascript:alert(3)) e <a href="data:text/html,<script>alert(4)</script>">qui</a>
<div onclick="alert(5)" style="color:red">div</div>

```quiz
? <img src=x onerror=alert(6)> Domanda [link](javascript:alert(7))
- [x] <b onmouseover=alert(8)>Sì</b>
- [ ] No
```
"""


# --------------------------------------------------------------------------- helpers


def _in_app(app, fn):  # noqa: ANN001, ANN202
    with app.app_context():
        return fn()


def _course(slug: str) -> Course:
    return db.session.scalar(select(Course).where(Course.slug == slug))


def _count(model, **filters) -> int:  # noqa: ANN001
    query = select(func.count()).select_from(model)
    for name, value in filters.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


def _module(slug: str, module_slug: str) -> Module:
    return db.session.scalar(
        select(Module).join(Course).where(Course.slug == slug, Module.slug == module_slug)
    )


def _post(client, url: str, data: dict | None = None, **kwargs):  # noqa: ANN001, ANN202
    data = {"csrf_token": csrf_token(client, "/editor/"), **(data or {})}
    return client.post(url, data=data, **kwargs)


def _new_course(client, slug: str = "lavoro-di-rete", **fields):  # noqa: ANN001, ANN202
    data = {
        "slug": slug,
        "title": "Il lavoro di rete",
        "summary": "Servizi sociali, sanitari e terzo settore.",
        "hours": "1,5",
        "area": "Servizi per l'integrazione",
        "cycle": CYCLE,
        **fields,
    }
    return _post(client, "/editor/nuovo-corso", data)


def _add_module(client, slug: str, module_slug: str, title: str):  # noqa: ANN001, ANN202
    return _post(
        client,
        f"/editor/corsi/{slug}/moduli",
        {"module-slug": module_slug, "module-title": title},
    )


def _save_module(client, slug: str, module_slug: str, source: str):  # noqa: ANN001, ANN202
    return _post(
        client,
        f"/editor/corsi/{slug}/moduli/{module_slug}",
        {"source": source, "action": "save"},
    )


def _textarea(page: str) -> str:
    match = re.search(r'<textarea[^>]*id="editor-source"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no editor textarea"
    return html.unescape(match.group(1)).removeprefix("\r\n").removeprefix("\n")


def _publish(client, slug: str, published: bool):  # noqa: ANN001, ANN202
    return _post(
        client, f"/editor/corsi/{slug}/pubblicazione", {"published": "1" if published else "0"}
    )


@pytest.fixture
def trainer(client, login_as):  # noqa: ANN001, ANN201
    return login_as("trainer")


@pytest.fixture
def operator_client(app, make_user):  # noqa: ANN001, ANN201
    client = app.test_client()
    login(client, make_user("operator"))
    return client


@pytest.fixture
def course_with_module(client, trainer):  # noqa: ANN001, ANN201
    assert _new_course(client).status_code == 302
    assert _add_module(client, "lavoro-di-rete", "chi-coordina", "Chi coordina").status_code == 302
    return "lavoro-di-rete", "chi-coordina"


# --------------------------------------------------------------------------- courses


def test_create_course(app, client, trainer):
    page = client.get("/editor/")
    assert page.status_code == 200
    assert "Nessun corso" in page.get_data(as_text=True)
    assert client.get("/editor/nuovo-corso").status_code == 200

    response = _new_course(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/editor/corsi/lavoro-di-rete")

    def check() -> None:
        course = _course("lavoro-di-rete")
        assert course is not None and course.is_published is False
        assert course.cycle.code == CYCLE
        version = course.current_version
        assert (version.number, version.status, version.title) == (1, "draft", "Il lavoro di rete")
        assert version.hours == 1.5
        assert version.area == "Servizi per l'integrazione"
        assert version.created_by_id == trainer["id"]
        assert version.source.startswith("---\ntitle: Il lavoro di rete\n")
        assert _count(CourseVersion) == 1

    _in_app(app, check)
    listing = client.get("/editor/").get_data(as_text=True)
    assert "Il lavoro di rete" in listing and "Bozza" in listing
    edit = client.get("/editor/corsi/lavoro-di-rete").get_data(as_text=True)
    assert "Pubblica il corso" in edit
    assert _textarea(edit).startswith("---\ntitle: Il lavoro di rete")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "Lavoro di Rete"}, "Slug non valido"),
        ({"slug": "lavoro--rete"}, "Slug non valido"),
        ({"slug": "à-rete"}, "Slug non valido"),
        ({"slug": ""}, "Questo campo è obbligatorio"),
        ({"hours": "sei"}, "Indica le ore certificate"),
        ({"hours": "0"}, "Indica le ore certificate"),
        ({"title": "  "}, "Questo campo è obbligatorio"),
    ],
)
def test_new_course_refusals(app, client, trainer, fields, message):
    response = _new_course(client, **fields)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _in_app(app, lambda: _count(Course)) == 0


def test_duplicate_course_slug_is_refused(app, client, trainer):
    assert _new_course(client).status_code == 302
    response = _new_course(client, title="Un altro corso")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Esiste già un corso con lo slug «lavoro-di-rete»" in page
    assert 'id="slug"' in page and 'aria-invalid="true"' in page
    assert _in_app(app, lambda: (_count(Course), _count(CourseVersion))) == (1, 1)


def test_course_source_with_errors_is_kept_as_draft(app, client, trainer):
    _new_course(client)
    url = "/editor/corsi/lavoro-di-rete"
    original = _textarea(client.get(url).get_data(as_text=True))
    broken = original.replace("hours: 1.5\n", "hours: molte\n")
    response = _post(client, url, {"source": broken, "action": "save"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Riga 5: il campo &#39;hours&#39; deve essere un numero positivo" in page
    assert _textarea(page) == broken
    assert _in_app(
        app, lambda: (_count(CourseVersion), _course("lavoro-di-rete").draft_source)
    ) == (
        1,
        broken,
    )
    # Reloading shows the draft again, with its errors.
    again = client.get(url).get_data(as_text=True)
    assert _textarea(again) == broken and "Riga 5:" in again

    fixed = broken.replace("hours: molte", "hours: 8")
    assert _post(client, url, {"source": fixed, "action": "save"}).status_code == 302

    def check() -> None:
        course = _course("lavoro-di-rete")
        assert course.draft_source is None
        assert (course.current_version.number, course.current_version.hours) == (2, 8)

    _in_app(app, check)
    # The same text again, with a browser's CRLF line ends: no new version.
    crlf = fixed.replace("\n", "\r\n")
    assert _post(client, url, {"source": crlf, "action": "save"}).status_code == 302
    _in_app(app, check)


def test_course_preview_button_does_not_save(app, client, trainer):
    _new_course(client)
    url = "/editor/corsi/lavoro-di-rete"
    source = _textarea(client.get(url).get_data(as_text=True)) + "\n## Novità\n"
    response = _post(client, url, {"source": source, "action": "preview"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<h4 id="novita">Novità</h4>' in page  # under the h2 "Anteprima"
    assert _textarea(page) == source
    assert _in_app(
        app, lambda: (_count(CourseVersion), _course("lavoro-di-rete").draft_source)
    ) == (
        1,
        None,
    )


# --------------------------------------------------------------------------- modules


def test_add_module_and_refusals(app, client, trainer):
    _new_course(client)
    response = _add_module(client, "lavoro-di-rete", "chi-coordina", "Chi coordina")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/editor/corsi/lavoro-di-rete/moduli/chi-coordina")
    for slug, message in [
        ("chi-coordina", "ha già un modulo con lo slug"),
        ("Chi Coordina", "Slug non valido"),
        ("media", "è riservato"),
    ]:
        refused = _add_module(client, "lavoro-di-rete", slug, "Altro")
        assert refused.status_code == 200
        assert message in refused.get_data(as_text=True)

    def check() -> None:
        module = _module("lavoro-di-rete", "chi-coordina")
        assert module.position == 1
        assert module.current_version.number == 1
        assert module.current_version.title == "Chi coordina"
        assert _count(Module) == 1 and _count(ModuleVersion) == 1

    _in_app(app, check)
    page = client.get("/editor/corsi/lavoro-di-rete/moduli/chi-coordina").get_data(as_text=True)
    assert _textarea(page).startswith("---\ntitle: Chi coordina\nduration: 30\n---\n")
    assert '<h3 id="chi-coordina">Chi coordina</h3>' in page  # the preview, under its h2


def test_module_with_errors_keeps_the_draft_and_creates_no_version(app, client, course_with_module):
    slug, module_slug = course_with_module
    url = f"/editor/corsi/{slug}/moduli/{module_slug}"
    response = _save_module(client, slug, module_slug, QUIZ_WITHOUT_CORRECT)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"Riga {MISSING_CORRECT_LINE}: la domanda non ha alcuna opzione corretta" in page
    assert 'href="#editor-source"' in page and 'id="error-summary"' in page
    assert "conservato come bozza" in page
    assert _textarea(page) == QUIZ_WITHOUT_CORRECT

    def state() -> tuple[int, str | None]:
        module = _module(slug, module_slug)
        return _count(ModuleVersion, module_id=module.id), module.draft_source

    assert _in_app(app, state) == (1, QUIZ_WITHOUT_CORRECT)
    assert "1 bozza non salvata" in client.get("/editor/").get_data(as_text=True)
    # The draft survives a reload, with its errors.
    again = client.get(url).get_data(as_text=True)
    assert _textarea(again) == QUIZ_WITHOUT_CORRECT
    assert f"Riga {MISSING_CORRECT_LINE}: la domanda non ha alcuna opzione corretta" in again

    # Fixed: exactly one new version, the draft is gone. Browsers send CRLF line ends;
    # the version keeps LF ones, like the files in courses/.
    fixed = _save_module(client, slug, module_slug, QUIZ_FIXED.replace("\n", "\r\n"))
    assert fixed.status_code == 302
    assert _in_app(app, state) == (2, None)

    def check_version() -> None:
        version = _module(slug, module_slug).current_version
        assert version.number == 2
        assert version.source == QUIZ_FIXED
        assert version.content_hash == content_hash(QUIZ_FIXED)
        assert version.quiz["pass_mark"] == 0.5
        assert [o["correct"] for o in version.quiz["questions"][0]["options"]] == [False, True]
        assert "```quiz" not in version.body_html and "ANCI" not in version.body_html

    _in_app(app, check_version)

    # Unchanged text creates nothing, also with the CRLF line ends browsers send.
    assert _save_module(client, slug, module_slug, QUIZ_FIXED).status_code == 302
    crlf = QUIZ_FIXED.replace("\n", "\r\n")
    assert _save_module(client, slug, module_slug, crlf).status_code == 302
    assert _in_app(app, state) == (2, None)
    assert _in_app(app, lambda: _module(slug, module_slug).current_version.source) == QUIZ_FIXED


def test_discard_module_draft(app, client, course_with_module):
    slug, module_slug = course_with_module
    _save_module(client, slug, module_slug, QUIZ_WITHOUT_CORRECT)
    response = _post(client, f"/editor/corsi/{slug}/moduli/{module_slug}/bozza/scarta")
    assert response.status_code == 302
    assert _in_app(app, lambda: _module(slug, module_slug).draft_source) is None
    page = client.get(f"/editor/corsi/{slug}/moduli/{module_slug}").get_data(as_text=True)
    assert _textarea(page).startswith("---\ntitle: Chi coordina\n")


def test_reorder_modules(app, client, course_with_module, operator_client):
    slug, _ = course_with_module
    _add_module(client, slug, "secondo", "Secondo")
    _add_module(client, slug, "terzo", "Terzo")

    def order() -> list[str]:
        course = _course(slug)
        return [m.slug for m in sorted(course.active_modules, key=lambda m: m.position)]

    assert _in_app(app, order) == ["chi-coordina", "secondo", "terzo"]
    move = f"/editor/corsi/{slug}/moduli/terzo/sposta"
    assert _post(client, move, {"direction": "up"}).status_code == 302
    assert _in_app(app, order) == ["chi-coordina", "terzo", "secondo"]
    assert _post(client, move, {"direction": "up"}).status_code == 302
    assert _in_app(app, order) == ["terzo", "chi-coordina", "secondo"]
    # Already first: nothing changes.
    assert _post(client, move, {"direction": "up"}).status_code == 302
    assert _in_app(app, order) == ["terzo", "chi-coordina", "secondo"]
    assert _post(client, f"/editor/corsi/{slug}/moduli/chi-coordina/sposta", {"direction": "down"})
    assert _in_app(app, order) == ["terzo", "secondo", "chi-coordina"]
    bad = _post(client, move, {"direction": "sideways"})
    assert bad.status_code == 302
    assert _in_app(app, order) == ["terzo", "secondo", "chi-coordina"]

    # Operators see the new order once the course is published.
    assert _publish(client, slug, True).status_code == 302
    page = operator_client.get(f"/corsi/{slug}").get_data(as_text=True)
    assert page.index("Terzo") < page.index("Secondo") < page.index("Chi coordina")


def test_retire_hides_the_module_but_keeps_its_versions(
    app, client, course_with_module, operator_client
):
    slug, module_slug = course_with_module
    _save_module(client, slug, module_slug, QUIZ_FIXED)
    _add_module(client, slug, "secondo", "Secondo modulo")
    _publish(client, slug, True)
    assert "Chi coordina la rete" in operator_client.get(f"/corsi/{slug}").get_data(as_text=True)

    retire = _post(client, f"/editor/corsi/{slug}/moduli/{module_slug}/ritira")
    assert retire.status_code == 302
    course_page = operator_client.get(f"/corsi/{slug}").get_data(as_text=True)
    assert "Chi coordina la rete" not in course_page and "Secondo modulo" in course_page
    assert operator_client.get(f"/corsi/{slug}/{module_slug}").status_code == 404

    def state() -> tuple[bool, int]:
        module = _module(slug, module_slug)
        return module.retired_at is not None, _count(ModuleVersion, module_id=module.id)

    assert _in_app(app, state) == (True, 2)
    editor_page = client.get(f"/editor/corsi/{slug}").get_data(as_text=True)
    assert "Ritirato" in editor_page and "Ripristina" in editor_page
    assert "(1 ritirato)" in client.get("/editor/").get_data(as_text=True)

    # The last active module of a published course cannot go.
    refused = _post(client, f"/editor/corsi/{slug}/moduli/secondo/ritira", follow_redirects=True)
    assert "deve avere almeno un modulo" in refused.get_data(as_text=True)
    assert _in_app(app, lambda: _module(slug, "secondo").retired_at) is None

    assert _post(client, f"/editor/corsi/{slug}/moduli/{module_slug}/ripristina").status_code == 302
    assert _in_app(app, state) == (False, 2)
    module_page = operator_client.get(f"/corsi/{slug}/{module_slug}")
    assert module_page.status_code == 200
    assert "coordinata dal Ministero" in module_page.get_data(as_text=True)


# --------------------------------------------------------------------------- publishing


def test_publish_and_unpublish_toggle_what_operators_see(
    app, client, course_with_module, operator_client
):
    slug, module_slug = course_with_module
    _save_module(client, slug, module_slug, QUIZ_FIXED)

    def operator_sees() -> tuple[bool, int, int]:
        catalogue = operator_client.get("/corsi").get_data(as_text=True)
        return (
            "Il lavoro di rete" in catalogue,
            operator_client.get(f"/corsi/{slug}").status_code,
            operator_client.get(f"/corsi/{slug}/{module_slug}").status_code,
        )

    assert operator_sees() == (False, 404, 404)
    anonymous = app.test_client()
    assert anonymous.get(f"/corsi/{slug}").status_code == 404

    response = _publish(client, slug, True)
    assert response.status_code == 302
    assert operator_sees() == (True, 200, 200)
    assert "coordinata dal Ministero" in operator_client.get(
        f"/corsi/{slug}/{module_slug}"
    ).get_data(as_text=True)

    def course_state() -> tuple[bool, int, str]:
        course = _course(slug)
        version = course.current_version
        return course.is_published, version.number, version.status

    assert _in_app(app, course_state) == (True, 2, "published")
    source = _in_app(app, lambda: _course(slug).current_version.source)
    assert "status: published\n" in source and "status: draft" not in source

    assert _publish(client, slug, False).status_code == 302
    assert operator_sees() == (False, 404, 404)
    assert _in_app(app, course_state) == (False, 3, "draft")


def test_an_empty_course_cannot_be_published(app, client, trainer):
    _new_course(client)
    response = _publish(client, "lavoro-di-rete", True)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "il corso non ha moduli" in page
    assert _in_app(app, lambda: _course("lavoro-di-rete").is_published) is False


def test_module_drafts_are_invisible_to_operators(app, client, course_with_module, operator_client):
    slug, module_slug = course_with_module
    _save_module(client, slug, module_slug, QUIZ_FIXED)
    _publish(client, slug, True)
    _save_module(client, slug, module_slug, QUIZ_FIXED.replace("La rete LGNet", "BOZZA SEGRETA"))
    _save_module(client, slug, module_slug, QUIZ_WITHOUT_CORRECT + "\nALTRA BOZZA\n")
    page = operator_client.get(f"/corsi/{slug}/{module_slug}").get_data(as_text=True)
    assert "BOZZA SEGRETA" in page  # saved: the new version
    assert "ALTRA BOZZA" not in page  # the draft with errors: never shown


# --------------------------------------------------------------------------- preview


def _preview(client, slug: str, payload: dict, *, token: str | None = None):  # noqa: ANN001, ANN202
    headers = {"X-CSRFToken": token or csrf_token(client, "/editor/")}
    return client.post(f"/editor/corsi/{slug}/anteprima", json=payload, headers=headers)


def test_preview_is_sanitised_and_locates_problems(client, course_with_module):
    slug, module_slug = course_with_module
    response = _preview(client, slug, {"source": XSS_MODULE, "module": module_slug})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    rendered = data["html"].lower()
    for dangerous in (
        "<script",
        "onerror",
        "onclick",
        "onmouseover",
        "javascript:",
        "<iframe",
        "data:text",
        "style=",
    ):
        assert dangerous not in rendered, dangerous
    assert "immagine" in data["html"]  # the harmless parts stay
    problems = {(p["line"], p["severity"]) for p in data["problems"]}
    assert (10, "error") in problems  # the javascript: link
    assert (14, "error") in problems  # the javascript: link in the quiz question
    for problem in data["problems"]:
        assert problem["label"] == f"Riga {problem['line']}: {problem['message']}" or (
            problem["severity"] == "warning"
        )
    assert "errori" in data["status"] or "errore" in data["status"]


def test_preview_refuses_text_over_the_limit_unread(client, course_with_module):
    slug, module_slug = course_with_module
    source = "---\ntitle: T\nduration: 5\n---\n" + "<a " * 70_000
    data = _preview(client, slug, {"source": source, "module": module_slug}).get_json()
    assert (re.sub(r"<[^>]*>", "", data["html"]).strip(), data["toc_html"]) == ("", "")
    assert [(p["line"], p["severity"]) for p in data["problems"]] == [(1, "error")]
    assert "troppo lungo" in data["problems"][0]["message"]


def test_preview_shows_the_quiz_and_problem_lines(client, course_with_module):
    slug, module_slug = course_with_module
    broken = _preview(client, slug, {"source": QUIZ_WITHOUT_CORRECT, "module": module_slug})
    data = broken.get_json()
    assert {
        "line": MISSING_CORRECT_LINE,
        "message": "la domanda non ha alcuna opzione corretta",
        "severity": "error",
        "code": "",
        "label": f"Riga {MISSING_CORRECT_LINE}: la domanda non ha alcuna opzione corretta",
    } in data["problems"]
    assert "coordinata dal Ministero" in data["html"]  # rendered despite the error

    fixed = _preview(client, slug, {"source": QUIZ_FIXED, "module": module_slug}).get_json()
    assert fixed["problems"] == []
    assert "nessun problema" in fixed["status"]
    assert "Chi coordina la rete?" in fixed["html"] and "(corretta)" in fixed["html"]


def test_preview_of_course_md_and_form_encoding(client, course_with_module):
    slug, _ = course_with_module
    token = csrf_token(client, "/editor/")
    source = "---\ntitle: Corso\ncycle: 2030-2031\nhours: 2\n---\n\n**Descrizione**\n"
    response = client.post(
        f"/editor/corsi/{slug}/anteprima", data={"source": source, "csrf_token": token}
    )
    data = response.get_json()
    assert "<strong>Descrizione</strong>" in data["html"]
    assert [(p["line"], p["message"]) for p in data["problems"] if not p["code"]] == [
        (3, "il ciclo formativo 2030-2031 non esiste nella piattaforma")
    ]
    # The review checks reach the editor: no review date, and the module durations
    # (one new module of 30 minutes) are not the 2 hours of the course.
    review = {(p["line"], p["severity"], p["code"]) for p in data["problems"] if p["code"]}
    assert review == {(1, "warning", "W9"), (4, "warning", "D2")}
    assert data["toc_html"] == ""


def test_preview_links_media_to_the_course(app, client, course_with_module):
    slug, module_slug = course_with_module

    def add_media() -> None:
        db.session.add(
            MediaFile(
                course_id=_course(slug).id,
                path="media/rete.png",
                content=b"\x89PNG",
                content_hash="x",
                content_type="image/png",
            )
        )
        db.session.commit()

    _in_app(app, add_media)
    source = QUIZ_FIXED + "\n![La rete dei servizi](media/rete.png)\n"
    data = _preview(client, slug, {"source": source, "module": module_slug}).get_json()
    assert data["problems"] == []
    assert f'src="/corsi/{slug}/media/rete.png"' in data["html"]
    assert _save_module(client, slug, module_slug, source).status_code == 302
    body = _in_app(app, lambda: _module(slug, module_slug).current_version.body_html)
    assert 'src="media/rete.png"' in body  # stored relative to the module's own page
    missing = source.replace("rete.png", "altro.png")
    data = _preview(client, slug, {"source": missing, "module": module_slug}).get_json()
    assert [p["message"] for p in data["problems"]] == [
        "l'immagine punta a un file che non esiste: 'media/altro.png'"
    ]


def test_preview_requires_csrf_and_valid_input(client, course_with_module):
    slug, module_slug = course_with_module
    url = f"/editor/corsi/{slug}/anteprima"
    assert client.post(url, json={"source": "x", "module": module_slug}).status_code == 400
    bad_token = client.post(url, json={"source": "x"}, headers={"X-CSRFToken": "not-a-token"})
    assert bad_token.status_code == 400
    assert _preview(client, slug, {"module": module_slug}).status_code == 400
    assert _preview(client, slug, {"source": ["x"]}).status_code == 400
    assert _preview(client, slug, {"source": "x", "module": "nessuno"}).status_code == 404
    assert _preview(client, "nessun-corso", {"source": "x"}).status_code == 404


def test_editor_is_for_trainers_and_admins_only(app, client, course_with_module, make_user):
    slug, module_slug = course_with_module
    urls = ["/editor/", f"/editor/corsi/{slug}", f"/editor/corsi/{slug}/moduli/{module_slug}"]
    operator = app.test_client()
    login(operator, make_user("operator"))
    anonymous = app.test_client()
    for url in urls:
        assert operator.get(url).status_code == 403
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accesso" in response.headers["Location"]
    token = csrf_token(operator)
    refused = operator.post(
        f"/editor/corsi/{slug}/anteprima", json={"source": "x"}, headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 403
    admin = app.test_client()
    login(admin, make_user("admin"))
    assert admin.get(f"/editor/corsi/{slug}/moduli/{module_slug}").status_code == 200


def test_preview_headings_sit_below_the_page_heading(client, course_with_module):
    """Issue 13: the preview is under the page's h2 "Anteprima", so the module's # and ##
    become h3 and h4 (their ids, which the table of contents links to, stay)."""
    slug, module_slug = course_with_module
    source = "---\ntitle: Titoli\nduration: 10\n---\n\n# Primo\n\n## Secondo\n\n###### Sesto\n"
    html = _preview(client, slug, {"source": source, "module": module_slug}).get_json()["html"]
    assert re.search(r"<h3[^>]*>Primo</h3>", html) and re.search(r"<h4[^>]*>Secondo</h4>", html)
    assert re.search(r"<h6[^>]*>Sesto</h6>", html)
    assert "<h1" not in html and "<h2" not in html
