"""More than fifty XSS payloads in every place a user or an author can write: module body,
question, option and feedback text, course title and description, people's names, comune
names, the audit trail and a bulk-enrolment file. Every page that shows them is opened in
Chromium: no dialog opens, ``window.__xss`` stays unset, and neither <main> nor the rest of
the document holds a script, a frame, an event handler or a script URL of the attacker's.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    AuditEvent,
    Certificate,
    Comune,
    Course,
    Enrolment,
    Module,
    Region,
    User,
)
from lgnetforma.services.platform.text import has_control_characters
from tests.browser.test_catalogue_browser import ACTIVE_CONTENT
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.factories.xss import XSS_CORPUS
from tests.helpers import csrf_token, login

ROMA = "058091"
COURSE = "/corsi/corso-prova"
INERT = {"scripts": 0, "frames": 0, "handlers": 0, "urls": 0}

# Outside <main> the page has its own scripts, all from our origin: none inline, and no
# handler or script URL anywhere.
WHOLE_DOCUMENT = """() => {
  const all = [...document.querySelectorAll("*")];
  return {
    inline_scripts: [...document.scripts].filter(
      (s) => !s.src || !s.src.startsWith(location.origin + "/static/")).length,
    handlers: all.filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
    urls: all.filter((e) => ["href", "src", "action", "formaction", "xlink:href"].some(
      (name) => /^\\s*(javascript|vbscript):/i.test(e.getAttribute(name) || ""))).length,
    frames: document.querySelectorAll("iframe, object, embed, frame").length,
  };
}"""
CLEAN_DOCUMENT = {"inline_scripts": 0, "handlers": 0, "urls": 0, "frames": 0}


def test_the_corpus_is_large_enough():
    assert len(XSS_CORPUS) >= 50
    assert len(set(XSS_CORPUS)) == len(XSS_CORPUS)


def _payload(n: int, limit: int = 200) -> str:
    return XSS_CORPUS[n % len(XSS_CORPUS)][:limit]


def _store_hostile_content(app: Any) -> None:
    """Hostile text rendered by the real renderer and stored behind the validator's back
    (the validator refuses some of it outright, e.g. javascript: links)."""
    from lgnetforma.content import render_markdown
    from lgnetforma.content.render import render_inline

    body = "\n\n".join(f"Paragrafo {n}: {p}" for n, p in enumerate(XSS_CORPUS))
    with app.app_context():
        course = db.session.scalar(select(Course).filter_by(slug="corso-prova"))
        version = course.current_version
        version.title = "Corso " + _payload(0, 200)
        version.summary = _payload(1, 500)
        version.description_html = render_markdown(body).html
        for module in db.session.scalars(select(Module).filter_by(course_id=course.id)):
            current = module.current_version
            current.title = "Modulo " + _payload(module.position + 2, 200)
            current.body_html = render_markdown(body).html
            if current.quiz:
                quiz = dict(current.quiz)
                questions = []
                for q_index, question in enumerate(quiz["questions"]):
                    base = 10 + q_index * 7
                    question = dict(question)
                    question["text_html"] = render_inline(_payload(base))
                    question["feedback_html"] = render_inline(_payload(base + 1))
                    question["options"] = [
                        {**option, "text_html": render_inline(_payload(base + 2 + o_index))}
                        for o_index, option in enumerate(question["options"])
                    ]
                    questions.append(question)
                quiz["questions"] = questions
                current.quiz = quiz
        db.session.commit()


def _rename_comuni(app: Any) -> list[str]:
    """The largest comuni of Lazio, Roma first, get hostile names."""
    with app.app_context():
        lazio = db.session.scalars(
            select(Comune)
            .join(Region, Region.id == Comune.region_id)
            .where(Region.code == "12")
            .order_by(Comune.population.desc())
            .limit(12)
        ).all()
        names = []
        for n, comune in enumerate(lazio):
            comune.name = _payload(n * 5 + 3, 100)
            names.append(comune.name)
        db.session.commit()
        return names


def _operator_named(app, make_user, name: str, n: int) -> dict[str, Any]:  # noqa: ANN001
    """An operator with a hostile name. Names with hidden characters are refused at every
    entry point now (services/platform/text.py); rows stored before that rule stay, and
    every page must still show them inert, so they are written as such a row."""
    if name == name.strip() and not has_control_characters(name):
        return make_user("operator", comune=ROMA, name=name)
    with app.app_context():
        roma = db.session.scalar(select(Comune).filter_by(istat_code=ROMA))
        user = User(
            email=f"ostile{n}@example.it",
            full_name=name,
            role="operator",
            comune=roma,
            is_confirmed=True,
        )
        db.session.add(user)
        db.session.commit()
        return {"id": user.id, "email": user.email, "name": name}


@pytest.fixture
def hostile(app, make_user, tmp_path, mailbox) -> dict[str, Any]:
    import_courses(app, write_course(tmp_path / "courses").parent)
    _store_hostile_content(app)
    comuni = _rename_comuni(app)
    admin = make_user("admin", name=_payload(0))
    referent = make_user("coordinator", scope_comune=ROMA, name=_payload(14))
    learner = make_user("operator", comune=ROMA, name=_payload(15))
    # One operator per payload (the admin's list shows the first 50), all in Roma.
    others = [_operator_named(app, make_user, p[:200], n) for n, p in enumerate(XSS_CORPUS)]
    learner_client = app.test_client()
    login(learner_client, learner)
    learner_client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(learner_client)})
    with app.app_context():
        from datetime import timedelta

        from lgnetforma.models import utcnow
        from lgnetforma.services.catalogue.listing import course_by_slug
        from lgnetforma.services.learning.enrolment import enrol
        from lgnetforma.services.platform.audit import record
        from lgnetforma.services.platform.cycles import current_cycle

        course = course_by_slug("corso-prova")
        for other in others[:20]:  # enrolled a month ago, never started: reminders
            enrolment = enrol(db.session.get(User, other["id"]), course, current_cycle())
            enrolment.created_at = utcnow() - timedelta(days=30)
        for n, payload in enumerate(XSS_CORPUS):
            record(
                "login.failed",
                actor=None,
                ip=payload[:45],
                object_type=payload,
                object_id=payload,
                comune_id=db.session.scalar(select(Comune.id).filter_by(istat_code=ROMA)),
                details={"email": payload, payload[:50]: [payload, {"n": n}]},
            )
        db.session.commit()
    return {
        "admin": admin,
        "referent": referent,
        "learner": learner,
        "learner_client": learner_client,
        "comuni": comuni,
    }


def _check(page: Any, url: str, dialogs: list[str]) -> str:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # onerror, onload, autofocus, animations: give them a chance
    where = page.url
    assert dialogs == [], (where, dialogs)
    assert page.evaluate("window.__xss") is None, where
    assert page.evaluate(ACTIVE_CONTENT) == INERT, where
    assert page.evaluate(WHOLE_DOCUMENT) == CLEAN_DOCUMENT, where
    return page.content()


def _logout(page: Any) -> None:
    page.context.clear_cookies()


def test_hostile_text_stays_inert_on_every_page(
    page, live_server, app, hostile, browser_login, allowed_console_errors
):
    # Hostile images and links point at addresses that do not exist: their 404s are expected
    # (what must not happen is a dialog, window.__xss, or active content; checked below).
    allowed_console_errors.append("the server responded with a status of 404")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = live_server

    # Anyone: catalogue and course page.
    for path in ("/", "/corsi", COURSE):
        html = _check(page, base + path, dialogs)
    assert "&lt;script&gt;" in html  # the title, escaped

    # The learner (a hostile name, in a hostile comune) reads, answers and sees the result.
    browser_login(hostile["learner"])
    for path in ("/", "/corsi", COURSE, f"{COURSE}/lettura", "/i-miei-corsi", "/profilo"):
        _check(page, base + path, dialogs)
    html = _check(page, f"{base}{COURSE}/questionario", dialogs)
    html = _check(page, f"{base}{COURSE}/questionario/questionario", dialogs)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    client = hostile["learner_client"]
    client.get(f"{COURSE}/lettura")
    response = client.post(
        f"/tentativi/{public_id}", data={**CORRECT, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303
    _check(page, f"{base}/tentativi/{public_id}", dialogs)
    _check(page, f"{base}/i-miei-corsi", dialogs)
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        assert certificate.holder_name == _payload(15)  # the hostile name, stored as is
        assert certificate.comune_name == hostile["comuni"][0]
        code = certificate.code
    _logout(page)

    # Anyone: the public verification page of that certificate.
    html = _check(page, f"{base}/verifica/{code}", dialogs)
    assert "&lt;" in html  # the names are there, escaped

    # The admin: lists, account pages, the audit trail, the coordinators' pages.
    browser_login(hostile["admin"])
    _check(page, f"{base}/admin/utenti", dialogs)
    _check(page, f"{base}/admin/utenti?page=2", dialogs)
    html = _check(page, f"{base}/admin/utenti?q=7*7", dialogs)
    assert "{{7*7}}" in html and "${7*7}" in html  # shown as typed, never evaluated
    assert "49" not in page.inner_text("main table")
    with app.app_context():
        ids = [
            u.id
            for u in db.session.scalars(select(User).order_by(User.id))
            if u.full_name in XSS_CORPUS
        ][:8]
        quiz_version = db.session.scalar(
            select(Module).where(Module.slug == "questionario")
        ).current_version_id
    for user_id in ids:
        _check(page, f"{base}/admin/utenti/{user_id}", dialogs)
    html = _check(page, f"{base}/coordinamento/copertura?regione=12", dialogs)
    assert sum(html.count(name.replace("<", "&lt;")) for name in hostile["comuni"][1:]) > 0
    for path in (
        "/admin/registro",
        "/admin/registro?action=login.failed&page=2",
        "/admin/cicli",
        "/coordinamento/",
        "/coordinamento/monitoraggio",
        "/coordinamento/monitoraggio?regione=12",
        "/coordinamento/monitoraggio?provincia=058",
        "/coordinamento/copertura?regione=12",
        "/coordinamento/copertura?provincia=058&ordine=name",
        "/coordinamento/promemoria",
        "/coordinamento/registro",
        f"/editor/analisi/{quiz_version}",
        "/editor/analisi",
        "/editor/",
    ):
        _check(page, base + path, dialogs)

    # A bulk-enrolment file full of hostile names: the preview shows them all.
    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";")
    writer.writerow(["nome", "email", "comune", "corsi"])
    for n, payload in enumerate(XSS_CORPUS[:40]):
        writer.writerow([payload, f"nuovo{n}@example.it", ROMA, "corso-prova"])
    writer.writerow(["Riga con email sbagliata", "<script>window.__xss=1</script>", ROMA, "x"])
    page.goto(f"{base}/coordinamento/iscrizioni-massive")
    page.get_by_label("File CSV").set_input_files(
        {
            "name": "<img src=x onerror=alert(1)>.csv",
            "mimeType": "text/csv",
            "buffer": rows.getvalue().encode(),
        }
    )
    page.get_by_role("button", name="Controlla il file").click()
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page.content()
    assert dialogs == [] and page.evaluate("window.__xss") is None
    assert page.evaluate(ACTIVE_CONTENT) == INERT
    assert page.evaluate(WHOLE_DOCUMENT) == CLEAN_DOCUMENT
    _logout(page)

    # The referent of the hostile-named Roma: home, dashboard, audit trail.
    browser_login(hostile["referent"])
    for path in (
        "/coordinamento/",
        "/coordinamento/monitoraggio",
        "/coordinamento/copertura",
        "/coordinamento/promemoria",
        "/coordinamento/registro",
    ):
        _check(page, base + path, dialogs)
    assert dialogs == []
    with app.app_context():
        # Nothing was done on anyone's behalf: no enrolment beyond the test's own, and the
        # bulk file was only previewed.
        assert db.session.scalar(select(func.count(Enrolment.id))) == 21
        confirmed = select(func.count(AuditEvent.id)).filter_by(action="bulk_enrolment.confirmed")
        assert db.session.scalar(confirmed) == 0
