"""Every page of every role on a phone: 320, 360, 390 and 414 px wide, nothing scrolls
sideways, and the menu opens, shows its links and the account controls, and closes with the
keyboard. One page per role, resized between widths (the ``page`` fixture also fails the
test on any console error or CSP violation)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Certificate, Module
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.helpers import csrf_token, login

WIDTHS = (320, 360, 390, 414)
COURSE = "/corsi/corso-prova"
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
# After a resize, two frames: charts and other observers of the size redraw first.
OVERFLOW = """async () => {
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  wide: [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1
      && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1
      && !e.closest(".navbar-collapsable, .visually-hidden, .skiplinks"))
    .slice(0, 4).map((e) => e.tagName + "." + e.className + "#" + e.id),
  };
}"""


@pytest.fixture
def people(app, make_user, tmp_path, mailbox) -> dict[str, Any]:
    import_courses(app, write_course(tmp_path / "courses").parent)
    learner = make_user("operator", name="Maria Francesca Esposito Mastrangelo")
    client = app.test_client()
    login(client, learner)
    client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    client.get(f"{COURSE}/lettura")
    html = client.get(f"{COURSE}/questionario/questionario").get_data(as_text=True)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    client.post(f"/tentativi/{public_id}", data={**CORRECT, "csrf_token": csrf_token(client)})
    with app.app_context():
        code = db.session.scalar(select(Certificate.code))
        quiz_version = db.session.scalar(
            select(Module.current_version_id).where(Module.slug == "questionario")
        )
    return {
        "learner": learner,
        "attempt": public_id,
        "code": code,
        "quiz_version": quiz_version,
        "trainer": make_user("trainer", name="Giuseppe Trainer Lunghissimo"),
        "coordinator": make_user("coordinator", region="12"),
        "admin": make_user("admin", name="Amministratrice di Sistema"),
    }


def _routes(people: dict[str, Any]) -> dict[str, list[str]]:
    public = [
        "/",
        "/corsi",
        COURSE,
        "/accesso",
        "/registrazione",
        "/password/recupero",
        "/privacy",
        "/accessibilita",
        f"/verifica/{people['code']}",
        "/verifica/LGN-XXXX-YYYY-ZZZZ",
        "/corsi/inesistente",
    ]
    return {
        "public": public,
        "learner": [
            "/",
            "/corsi",
            COURSE,
            f"{COURSE}/lettura",
            f"{COURSE}/questionario",
            f"{COURSE}/questionario/questionario",
            f"/tentativi/{people['attempt']}",
            "/i-miei-corsi",
            "/incontri",
            "/formazione",
            "/profilo",
            "/corsi/inesistente",
        ],
        "trainer": [
            "/",
            "/editor/",
            "/editor/nuovo-corso",
            "/editor/corsi/corso-prova",
            "/editor/corsi/corso-prova/moduli/questionario",
            "/editor/analisi",
            f"/editor/analisi/{people['quiz_version']}",
            "/editor/tentativi",
            "/incontri",
            "/profilo",
        ],
        "coordinator": [
            "/",
            "/coordinamento/",
            "/coordinamento/monitoraggio",
            "/coordinamento/monitoraggio?regione=12",
            "/coordinamento/copertura",
            "/coordinamento/promemoria",
            "/coordinamento/iscrizioni-massive",
            "/coordinamento/registro",
            "/coordinamento/operatori",
            f"/coordinamento/operatori/{people['learner']['id']}",
            "/coordinamento/incontri",
            "/incontri",
            "/profilo",
            "/admin/utenti",
        ],
        "admin": [
            "/",
            "/admin/utenti",
            f"/admin/utenti/{people['learner']['id']}",
            "/admin/utenti/nuovo",
            "/admin/cicli",
            "/admin/cicli/nuovo",
            "/admin/registro",
            "/admin/posta",
            "/admin/attivita",
            "/coordinamento/",
            "/coordinamento/monitoraggio",
            "/coordinamento/copertura",
            "/editor/",
            "/profilo",
        ],
    }


def _fits(page: Any, url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        # Charts redraw at the new size on their own schedule: give them a moment (if the
        # page never fits, the measure below says what is too wide).
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(FITS, timeout=3000)
        measure = page.evaluate(OVERFLOW)
        assert measure["scroll"] <= measure["inner"], (url, width, measure)


def _menu_works(page: Any, logged_in: bool) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    toggler = page.get_by_role("button", name="Mostra o nascondi il menu")
    expect(toggler).to_have_attribute("aria-expanded", "false")
    toggler.focus()
    page.keyboard.press("Enter")
    expect(toggler).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("navigation", name="Menu principale")
    expect(menu.get_by_role("link", name="Home")).to_be_visible()
    expect(menu.get_by_role("link", name="Home")).to_be_focused()
    expect(menu.get_by_role("link", name="Catalogo corsi")).to_be_visible()
    if logged_in:
        expect(menu.get_by_role("button", name="Esci")).to_be_visible()
        expect(menu.get_by_role("link", name="Profilo")).to_be_visible()
    expect(menu.get_by_role("button", name="English")).to_be_visible()
    expect(page.locator("main")).to_have_js_property("inert", True)  # the page behind
    page.keyboard.press("Escape")
    expect(toggler).to_have_attribute("aria-expanded", "false")
    expect(toggler).to_be_focused()
    expect(menu.get_by_role("link", name="Home")).to_be_hidden()
    expect(page.locator("main")).to_have_js_property("inert", False)


def test_every_page_fits_a_phone(page, live_server, people, browser_login):
    routes = _routes(people)
    for path in routes["public"]:
        _fits(page, live_server + path)
    _menu_works(page, logged_in=False)
    for role in ("learner", "trainer", "coordinator", "admin"):
        page.context.clear_cookies()
        page.set_viewport_size({"width": 1280, "height": 800})
        browser_login(people[role])
        for path in routes[role]:
            _fits(page, live_server + path)
        page.goto(live_server + "/")
        _menu_works(page, logged_in=True)
    # Logout from the phone menu.
    page.get_by_role("button", name="Mostra o nascondi il menu").click()
    page.get_by_role("navigation", name="Menu principale").get_by_role(
        "button", name="Esci"
    ).click()
    expect(page.get_by_role("banner").get_by_role("link", name="Accedi")).to_be_visible()
