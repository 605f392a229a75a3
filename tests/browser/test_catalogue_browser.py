"""Catalogue, course and module pages in Chromium: accessibility and inert content."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories.courses import import_courses, write_course

XSS_COURSE = """---
title: Corso con contenuti ostili
summary: Prova di sicurezza.
cycle: 2025-2026
hours: 1
status: published
---

Descrizione <script>window.__xss = 1; alert(1)</script>.
"""

XSS_MODULE = """---
title: Modulo ostile
duration: 60
---

# Modulo ostile

<script>window.__xss = 1; alert('body')</script>
<img src="media/broken.png" alt="immagine" onerror="window.__xss = 1; alert('onerror')">
<a href="#sezione" onclick="window.__xss = 1">clicca qui</a>
<iframe src="javascript:alert('iframe')"></iframe>
<svg onload="window.__xss = 1"><circle r="5"></circle></svg>
<a href="#" onclick="window.__xss = 1">link con onclick</a>

```quiz
? Domanda <script>window.__xss = 1</script> <img src=media/broken.png alt="x" onerror="window.__xss=1">
- [x] Opzione <iframe src="javascript:alert(1)"></iframe>
- [ ] Altra <a href="#sezione" onmouseover="alert(1)">opzione</a>
> Spiegazione <script>window.__xss = 1; alert('feedback')</script> <img src=media/broken.png alt="y" onerror=alert(1)>
```
"""


# The validator refuses javascript: links outright, so no import can store them; the
# renderer must still make them inert, which this body checks once stored behind the
# validator's back.
JAVASCRIPT_LINKS = """
# Collegamenti ostili

[markdown](javascript:window.__xss=1;alert('md'))
<a href="javascript:window.__xss=1;alert('html')">html</a>
<a href="JaVaScRiPt:window.__xss=1">maiuscole</a>
<a href="data:text/html,<script>alert(1)</script>">data</a>
"""


def _store_rendered_body(app, slug: str, text: str) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from lgnetforma.content import render_markdown
    from lgnetforma.extensions import db
    from lgnetforma.models import Module

    with app.app_context():
        module = db.session.scalar(select(Module).where(Module.slug == slug))
        module.current_version.body_html = render_markdown(text).html
        db.session.commit()


# What could run inside <main>: scripts, frames, event handlers, script or data URLs.
ACTIVE_CONTENT = """() => {
  const main = document.querySelector("main");
  const all = [...main.querySelectorAll("*")];
  return {
    scripts: main.querySelectorAll("script").length,
    frames: main.querySelectorAll("iframe, object, embed, frame").length,
    handlers: all.filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
    urls: all.filter((e) => ["href", "src", "action", "formaction"].some(
      (name) => /^\\s*(javascript|data|vbscript):/i.test(e.getAttribute(name) || ""))).length,
  };
}"""


@pytest.fixture
def courses(app, tmp_path):
    root = tmp_path / "courses"
    write_course(root)
    hostile = root / "corso-ostile"
    hostile.mkdir()
    (hostile / "course.md").write_text(XSS_COURSE, encoding="utf-8")
    (hostile / "01-ostile.md").write_text(XSS_MODULE, encoding="utf-8")
    (hostile / "media").mkdir()
    (hostile / "media" / "broken.png").write_bytes(b"not an image: onerror fires")
    import_courses(app, root)


def test_catalogue_course_and_module_pages_are_accessible(
    page, live_server, courses, make_user, browser_login, axe
):
    page.goto(f"{live_server}/corsi")
    expect(page.get_by_role("heading", name="Catalogo dei corsi")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Corso di prova sull'accoglienza").click()
    expect(page.get_by_role("heading", name="Moduli")).to_be_visible()
    axe(page)
    browser_login(make_user("operator"))
    page.goto(f"{live_server}/corsi/corso-prova/questionario")
    expect(page.get_by_role("heading", name="Questionario", exact=True)).to_be_visible()
    expect(page.get_by_role("group", name="Domanda 1")).to_be_visible()  # fieldset + legend
    axe(page)


def test_hostile_content_stays_inert(
    page, live_server, app, courses, make_user, browser_login, allowed_console_errors
):
    allowed_console_errors.append("media/broken.png")  # the hostile image that fails to load
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(make_user("operator"))
    page.goto(f"{live_server}/corsi/corso-ostile")
    page.get_by_role("button", name="Iscriviti al corso").click()
    page.goto(f"{live_server}/corsi/corso-ostile/ostile")
    expect(page.get_by_role("heading", name="Modulo ostile")).to_be_visible()
    page.get_by_text("clicca qui").click()  # a same-page link that carried onclick
    page.get_by_text("link con onclick").click()
    page.get_by_role("link", name="Compila il questionario").click()
    page.get_by_role("group", name="Domanda 1").locator("label").first.click()
    page.get_by_role("button", name="Invia le risposte").click()
    expect(page.get_by_text("Superato", exact=True)).to_be_visible()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__xss") is None
    _store_rendered_body(app, "ostile", JAVASCRIPT_LINKS)
    for path in ("/corsi/corso-ostile", "/corsi/corso-ostile/ostile"):
        page.goto(f"{live_server}{path}")
        assert page.evaluate(ACTIVE_CONTENT) == {
            "scripts": 0,
            "frames": 0,
            "handlers": 0,
            "urls": 0,
        }
        for link in page.locator("main .module-body a, main .prose a").all():
            link.click()  # javascript: URLs are gone, so clicking runs nothing
        page.wait_for_timeout(200)
        assert page.evaluate("window.__xss") is None
    assert dialogs == []
