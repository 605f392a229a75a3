"""The gradebook in Chromium: dashboard → comune → operator → grant, with axe on every page."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, Module
from lgnetforma.services.learning import attempts, views
from lgnetforma.services.learning import enrolment as enrolment_service
from lgnetforma.services.people.accounts import create_user
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import import_courses, write_course

WRONG = {1: ["1"], 2: ["1"], 3: "2030"}


def _operator_who_used_up_both_attempts(app, tmp_path) -> None:  # noqa: ANN001
    import_courses(app, write_course(tmp_path / "c").parent)
    with app.app_context():
        cycle = current_cycle()
        course = db.session.scalar(select(Course).filter_by(slug="corso-prova"))
        for n, (name, istat, tries) in enumerate(
            (("Verdi Carla", "056059", 2), ("Rossi Anna", "058091", 0))
        ):
            user = create_user(
                email=f"op{n}@example.it",
                full_name=name,
                role="operator",
                password=None,
                comune=db.session.scalar(select(Comune).filter_by(istat_code=istat)),
            )
            enrolment = enrolment_service.enrol(user, course, cycle)
            for module in course.active_modules:
                views.record_view(user, module, module.current_version, cycle, enrolment)
            quiz = db.session.scalar(select(Module).filter_by(slug="questionario"))
            for _ in range(tries):
                attempts.submit_attempt(attempts.start_attempt(user, quiz, cycle), WRONG)
        db.session.commit()


def test_dashboard_comune_operator_grant(
    page, live_server, app, make_user, browser_login, axe, tmp_path
):
    _operator_who_used_up_both_attempts(app, tmp_path)
    browser_login(make_user("coordinator", region="12", name="Gialli Paola"))
    page.goto(f"{live_server}/coordinamento/monitoraggio")
    page.get_by_role("link", name="Viterbo").click()
    expect(page.get_by_text("Dettaglio della provincia di Viterbo")).to_be_visible()
    page.get_by_role("table", name="Iscrizioni e completamenti per comune").get_by_role(
        "link", name="Viterbo"
    ).click()
    expect(page.get_by_text("Dettaglio del comune di Viterbo")).to_be_visible()
    page.wait_for_function("document.querySelectorAll('canvas.report-chart').length === 2")
    axe(page)

    page.get_by_role("link", name="Vedi l'elenco degli operatori").click()
    expect(page.get_by_role("table", name="1 operatore")).to_be_visible()
    axe(page)
    page.get_by_label("Stato").select_option(label="Tentativi esauriti")
    page.get_by_role("button", name="Applica").click()
    expect(page.get_by_role("table", name="1 operatore")).to_be_visible()
    page.get_by_role("link", name="Verdi Carla").click()
    expect(page.get_by_role("heading", name="Verdi Carla")).to_be_visible()
    expect(page.get_by_text("tentativi esauriti").first).to_be_visible()
    axe(page)

    page.get_by_label("Tentativi in più").fill("1")
    page.get_by_label("Motivo").fill("Connessione caduta durante il tentativo")
    page.get_by_role("button", name="Concedi").click()
    expect(page.get_by_text("Concesso a Verdi Carla 1 tentativo in più.")).to_be_visible()
    table = page.get_by_role("table", name=re.compile("Tentativi concessi in questo ciclo"))
    expect(table).to_contain_text("Connessione caduta durante il tentativo")
    expect(table).to_contain_text("Gialli Paola")
    axe(page)
