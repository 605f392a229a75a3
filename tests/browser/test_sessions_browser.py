"""Live sessions on a phone (360 px wide) in Chromium, audited with axe-core: the
organiser's attendance register and an operator's session page."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import LiveSession, SessionRegistration, User, utcnow
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.sessions import organise, registration, rules

PHONE = {"width": 360, "height": 740}


def _held_session(app, organiser: dict, operators: list[dict]) -> int:  # noqa: ANN001
    with app.app_context():
        start = datetime.now(rules.ROME).replace(tzinfo=None) + timedelta(days=2)
        session = organise.create_session(
            organise.SessionInput(
                title="Webinar sul monitoraggio",
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                link="https://meet.example.it/lgnet",
                capacity=10,
                region_code="12",
            ),
            db.session.get(User, organiser["id"]),
            current_cycle(),
        )
        for operator in operators:
            registration.register(session, db.session.get(User, operator["id"]))
        session.starts_at = utcnow() - timedelta(hours=3)
        session.ends_at = session.starts_at + timedelta(hours=2)
        db.session.commit()
        return session.id


def _widest_in_main(page) -> float:  # noqa: ANN001
    return page.evaluate(
        "Math.max(...[...document.querySelectorAll('main, main *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )


def test_register_page_on_a_phone(page, live_server, browser_login, make_user, app, axe):
    coordinator = make_user("coordinator", region="12")
    anna = make_user("operator", name="Anna Rossi")
    bruno = make_user("operator", name="Bruno Verdi")
    session_id = _held_session(app, coordinator, [anna, bruno])
    page.set_viewport_size(PHONE)
    browser_login(coordinator)
    page.goto(f"{live_server}/incontri/{session_id}/presenze")
    expect(page.get_by_role("heading", name="Presenze", level=1)).to_be_visible()
    # Nothing of the page's content is wider than the phone (the site header is not ours).
    assert _widest_in_main(page) <= PHONE["width"]
    axe(page)
    page.locator("label", has_text="Anna Rossi").click()  # the label is the tap target
    expect(page.get_by_label("Anna Rossi")).to_be_checked()
    page.get_by_role("button", name="Salva le presenze").click()
    expect(page.get_by_text("Presenze salvate (2 modificate).")).to_be_visible()
    axe(page)
    with app.app_context():
        credited = dict(
            db.session.execute(
                select(SessionRegistration.user_id, SessionRegistration.credited_hours).where(
                    SessionRegistration.session_id == session_id
                )
            ).all()
        )
    assert credited == {anna["id"]: 2.0, bruno["id"]: 0.0}

    # The operator's side, on the same phone: the session and the training record.
    page.context.clear_cookies()
    browser_login(anna)
    page.goto(f"{live_server}/incontri/{session_id}")
    expect(page.get_by_text("Sei iscritto a questo incontro.")).to_be_visible()
    axe(page)
    page.goto(f"{live_server}/formazione")
    expect(page.locator("#year-total")).to_have_text("2 ore su 40")
    assert _widest_in_main(page) <= PHONE["width"]
    axe(page)
    with app.app_context():
        assert db.session.get(LiveSession, session_id) is not None
