"""Reminders: who is selected, the mail, the 7-day throttle, the coordinator's territory."""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from lgnetforma.extensions import db
from lgnetforma.models import CourseCompletion, OutboundMail, Reminder, User, utcnow
from lgnetforma.services.catalogue.listing import course_by_slug
from lgnetforma.services.coordination import reminders
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning.enrolment import enrol
from lgnetforma.services.platform import mail
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token, run_worker_once

PAGE = "/coordinamento/promemoria"
ROMA, LATINA, MILANO = "058091", "059011", "015146"


@pytest.fixture
def courses(app, tmp_path):
    root = tmp_path / "courses"
    write_course(root, "corso-prova")
    write_course(root, "corso-due")
    import_courses(app, root)


def _enrol(app, user: dict, slug: str, *, days_ago: int, active_days_ago: int | None = None):
    with app.app_context():
        enrolment = enrol(db.session.get(User, user["id"]), course_by_slug(slug), current_cycle())
        enrolment.created_at = utcnow() - timedelta(days=days_ago)
        if active_days_ago is not None:
            enrolment.last_activity_at = utcnow() - timedelta(days=active_days_ago)
        db.session.commit()


def _complete(app, user: dict, slug: str) -> None:
    with app.app_context():
        course = course_by_slug(slug)
        db.session.add(
            CourseCompletion(
                user_id=user["id"],
                course_id=course.id,
                course_version_id=course.current_version_id,
                cycle_id=current_cycle().id,
                hours=4,
                module_versions=[],
            )
        )
        db.session.commit()


@pytest.fixture
def people(app, make_user, courses):
    """Operators in every situation, in Lazio and in Lombardia."""
    op = {
        "anna": make_user("operator", name="Anna Assente", comune=ROMA),
        "bruno": make_user("operator", name="Bruno Attivo", comune=ROMA),
        "carla": make_user("operator", name="Carla Completa", comune=ROMA),
        "dario": make_user("operator", name="Dario Milanese", comune=MILANO),
        "elena": make_user("operator", name="Elena Due Corsi", comune=LATINA),
        "fabio": make_user("operator", name="Fabio Nuovo", comune=ROMA),
        "gino": make_user("operator", name="Gino Disattivato", comune=ROMA),
    }
    _enrol(app, op["anna"], "corso-prova", days_ago=30)
    _enrol(app, op["bruno"], "corso-prova", days_ago=30, active_days_ago=2)
    _enrol(app, op["carla"], "corso-prova", days_ago=30)
    _complete(app, op["carla"], "corso-prova")
    _enrol(app, op["dario"], "corso-prova", days_ago=30)
    _enrol(app, op["elena"], "corso-prova", days_ago=30, active_days_ago=20)
    _enrol(app, op["elena"], "corso-due", days_ago=20)
    _enrol(app, op["fabio"], "corso-prova", days_ago=3)
    _enrol(app, op["gino"], "corso-prova", days_ago=30)
    with app.app_context():
        db.session.get(User, op["gino"]["id"]).is_active_account = False
        db.session.commit()
    return op


def _names(app, coordinator: dict, **kwargs) -> dict[str, list[str]]:
    with app.test_request_context():
        user = db.session.get(User, coordinator["id"])
        course = kwargs.pop("course", None)
        found = reminders.candidates(
            Scope.of(user),
            current_cycle(),
            course=course_by_slug(course) if course else None,
            **kwargs,
        )
        return {c.user.full_name: [p.course.slug for p in c.courses] for c in found}


def _send(client, *, course: str = "", days: int = 14):
    return client.post(
        PAGE,
        data={"csrf_token": csrf_token(client, PAGE), "course": course, "inactive_days": days},
        follow_redirects=True,
    )


def _reminders(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Reminder.id)))


def test_candidates_are_enrolled_incomplete_and_inactive(app, make_user, people):
    lazio = make_user("coordinator", region="12")
    assert _names(app, lazio, inactive_days=14) == {
        "Anna Assente": ["corso-prova"],
        "Elena Due Corsi": ["corso-due", "corso-prova"],
    }
    assert _names(app, lazio, inactive_days=14, course="corso-due") == {
        "Elena Due Corsi": ["corso-due"]
    }
    assert set(_names(app, lazio, inactive_days=25)) == {"Anna Assente"}
    # Recent activity counts, never-started counts from the enrolment.
    assert set(_names(app, lazio, inactive_days=1)) == {
        "Anna Assente",
        "Bruno Attivo",
        "Elena Due Corsi",
        "Fabio Nuovo",
    }
    national = make_user("coordinator")
    assert "Dario Milanese" in _names(app, national, inactive_days=14)
    roma_only = make_user("coordinator", scope_comune=ROMA)
    assert set(_names(app, roma_only, inactive_days=14)) == {"Anna Assente"}


def test_candidates_take_one_query(app, make_user, people):
    lazio = make_user("coordinator", region="12")
    with app.test_request_context():
        user = db.session.get(User, lazio["id"])
        scope, cycle = Scope.of(user), current_cycle()
        statements: list[str] = []
        from sqlalchemy import event

        def count(*args):  # noqa: ANN002, ANN202
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = reminders.candidates(scope, cycle, inactive_days=1)
            for candidate in found:  # everything the page shows is loaded already
                _ = [(p.title, p.course.current_version.title) for p in candidate.courses]
                _ = (candidate.user.full_name, candidate.comune_name, candidate.last_reminded_at)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 1, statements


def test_page_lists_recipients_in_scope_and_previews_the_mail(app, client, login_as, people):
    login_as("coordinator", region="12")
    response = client.get(PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 operatori corrispondono alla ricerca: 2 riceveranno il promemoria, 0 saranno" in page
    assert "Anna Assente" in page and "Elena Due Corsi" in page
    assert "Dario Milanese" not in page and "Bruno Attivo" not in page
    assert "Tutti i corsi" in page
    assert 'value="14"' in page
    # The preview is the real mail of the first recipient.
    assert "Promemoria: i tuoi corsi LGNetforma da completare" in page
    assert "Gentile Anna Assente," in page
    assert "/corsi/corso-prova" in page
    assert "Metti in coda 2 promemoria" in page
    page = client.get(f"{PAGE}?course=corso-due&inactive_days=14").get_data(as_text=True)
    assert "1 operatori corrispondono" in page and "Anna Assente" not in page
    assert "/coordinamento/promemoria" in client.get("/coordinamento/").get_data(as_text=True)


def test_reminder_mail_arrives_is_logged_and_throttled(app, client, login_as, people, mailbox):
    coordinator = login_as("coordinator", region="12")
    page = _send(client).get_data(as_text=True)
    assert (
        "2 promemoria in coda: partiranno nei prossimi minuti. 0 saltati perché già avvisati negli ultimi 7 giorni"
        in page
    )
    anna, elena = people["anna"]["email"], people["elena"]["email"]
    assert sorted(str(m["To"]) for m in mailbox.messages) == sorted([anna, elena])
    body = mailbox.last_body(elena)
    assert "Gentile Elena Due Corsi," in body
    assert body.count("Corso di prova sull'accoglienza") == 2
    assert re.search(r"http://127.0.0.1:5000/corsi/corso-due\b", body)
    assert str(mailbox.to(elena)[0]["Subject"]) == (
        "Promemoria: i tuoi corsi LGNetforma da completare"
    )
    with app.app_context():
        logged = db.session.scalars(select(Reminder).order_by(Reminder.id)).all()
        assert {r.user_id for r in logged} == {people["anna"]["id"], people["elena"]["id"]}
        assert all(r.sent_by_id == coordinator["id"] and r.mail_id for r in logged)
        assert all(r.cycle_id == current_cycle().id for r in logged)
        assert {r.user_id: r.course_id for r in logged}[people["anna"]["id"]] == (
            course_by_slug("corso-prova").id
        )
        assert (
            db.session.scalar(
                select(func.count(OutboundMail.id)).where(OutboundMail.sent_at.is_not(None))
            )
            == 2
        )

    # Within 7 days: nobody is written to again, and the page says why.
    mailbox.clear()
    page = _send(client).get_data(as_text=True)
    assert (
        "0 promemoria in coda: partiranno nei prossimi minuti. 2 saltati perché già avvisati negli ultimi 7 giorni"
        in page
    )
    assert mailbox.messages == []
    assert _reminders(app) == 2
    page = client.get(PAGE).get_data(as_text=True)
    assert "0 riceveranno il promemoria, 2 saranno saltati" in page
    assert page.count("saltato: già avvisato il") == 2
    assert "Metti in coda 0 promemoria" not in page

    # Six days later: still too soon. Eight days later: written to again.
    with app.app_context():
        db.session.execute(update(Reminder).values(sent_at=utcnow() - timedelta(days=6)))
        db.session.commit()
    assert "0 promemoria in coda: partiranno nei prossimi minuti. 2 saltati" in _send(
        client
    ).get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(Reminder).values(sent_at=utcnow() - timedelta(days=7, minutes=1)))
        db.session.commit()
    page = _send(client).get_data(as_text=True)
    assert "2 promemoria in coda: partiranno nei prossimi minuti. 0 saltati" in page
    assert len(mailbox.messages) == 2
    assert _reminders(app) == 4


def test_throttle_is_per_operator_across_courses(app, client, login_as, people, mailbox):
    login_as("coordinator", region="12")
    page = _send(client, course="corso-due").get_data(as_text=True)
    assert "1 promemoria in coda: partiranno nei prossimi minuti. 0 saltati" in page
    assert [str(m["To"]) for m in mailbox.messages] == [people["elena"]["email"]]
    page = _send(client, course="corso-prova").get_data(as_text=True)
    assert "1 promemoria in coda: partiranno nei prossimi minuti. 1 saltati" in page
    assert [str(m["To"]) for m in mailbox.messages][-1] == people["anna"]["email"]


def test_throttle_holds_for_another_coordinator_too(app, make_user, people, mailbox):
    first = make_user("coordinator", region="12")
    second = make_user("admin")
    with app.test_request_context():
        cycle = current_cycle()
        for coordinator in (first, second):
            actor = db.session.get(User, coordinator["id"])
            outcome = reminders.send_reminders(
                Scope.of(actor), cycle, inactive_days=14, actor=actor
            )
            if coordinator is first:
                assert (len(outcome.sent), len(outcome.skipped)) == (2, 0)
            else:  # national: Dario is new, the Lazio two were just reminded
                assert [c.user.id for c in outcome.sent] == [people["dario"]["id"]]
                assert len(outcome.skipped) == 2
    assert len(mailbox.messages) == 3


def test_lazio_coordinator_never_reaches_milano(app, client, login_as, people, mailbox):
    login_as("coordinator", region="12")
    page = client.get(f"{PAGE}?course=&inactive_days=0").get_data(as_text=True)
    assert "Dario Milanese" not in page
    _send(client, days=0)
    assert people["dario"]["email"] not in [str(m["To"]) for m in mailbox.messages]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(Reminder.id)).where(Reminder.user_id == people["dario"]["id"])
            )
            == 0
        )


def test_bad_filters_are_refused_and_send_nothing(app, client, login_as, people, mailbox):
    login_as("coordinator", region="12")
    response = client.get(f"{PAGE}?inactive_days=tanti")
    assert response.status_code == 400
    assert "Giorni di inattività" in response.get_data(as_text=True)
    response = client.post(
        PAGE, data={"csrf_token": csrf_token(client, PAGE), "course": "", "inactive_days": "-3"}
    )
    assert response.status_code == 400
    assert "tra 0 e 365" in response.get_data(as_text=True)
    response = client.post(
        PAGE, data={"csrf_token": csrf_token(client, PAGE), "course": "x", "inactive_days": "14"}
    )
    assert response.status_code == 400
    assert mailbox.messages == [] and _reminders(app) == 0


def test_page_without_recipients_still_previews_the_mail(app, client, login_as, courses):
    login_as("coordinator", region="12")
    page = client.get(PAGE).get_data(as_text=True)
    assert "0 operatori corrispondono alla ricerca" in page
    assert "Gentile Nome Cognome," in page
    assert "Metti in coda" not in page.split("Anteprima del messaggio")[0].split("Destinatari")[1]


def test_reminders_are_queued_then_go_over_one_connection_and_a_refused_address_fails(
    app, make_user, people, mailbox
):
    """The request queues; the worker sends over one connection; a 550 for one address
    fails that message at once, with the server's answer, and no other."""
    admin = make_user("admin")
    connections = []
    real_connection = mail._open_smtp
    real_send = smtplib.SMTP.send_message

    def counting_connection():  # noqa: ANN202
        connections.append(1)
        return real_connection()

    def refusing_send(self, message, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if message["To"] == people["anna"]["email"]:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"5.1.1 no such user")})
        return real_send(self, message, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mail, "_open_smtp", counting_connection)
        patch.setattr(smtplib.SMTP, "send_message", refusing_send)
        with app.test_request_context():
            actor = db.session.get(User, admin["id"])
            outcome = reminders.send_reminders(
                Scope.of(actor), current_cycle(), inactive_days=14, actor=actor
            )
        assert connections == [], "the request talked to the mail server"
        assert len(outcome.sent) == 3
        done = run_worker_once(app)
    assert connections == [1]
    assert (done.sent, done.failed, done.retried) == (2, 1, 0)
    assert people["anna"]["email"] not in [str(m["To"]) for m in mailbox.messages]
    with app.app_context():
        refused = db.session.scalar(
            select(OutboundMail).where(OutboundMail.recipient == people["anna"]["email"])
        )
        assert refused.status == "failed" and refused.attempts == 1
        assert refused.last_error == "SMTPRecipientsRefused: 550 5.1.1 no such user"


def test_the_sender_edits_subject_and_message_and_previews_them(
    app, client, login_as, people, mailbox
):
    login_as("coordinator", region="12")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'name="subject"' in page and 'name="message"' in page
    query = "subject=Corsi+in+scadenza&message=Il+ciclo+chiude+a+fine+mese.&inactive_days=14"
    page = client.get(f"{PAGE}?{query}").get_data(as_text=True)
    preview = page.split("Anteprima del messaggio")[1]
    assert "Corsi in scadenza" in preview and "Il ciclo chiude a fine mese." in preview
    assert "ti ricordiamo che sei iscritto" not in preview
    assert 'name="subject" value="Corsi in scadenza"' in page  # carried to the POST
    response = client.post(
        PAGE,
        data={
            "csrf_token": csrf_token(client, PAGE),
            "course": "",
            "inactive_days": "14",
            "subject": "Corsi in scadenza\r\nBcc: x@evil.example",
            "message": "Il ciclo chiude a fine mese.",
        },
    )
    assert response.status_code == 302
    sent = mailbox.to(people["anna"]["email"])
    assert str(sent[0]["Subject"]) == "Corsi in scadenza Bcc: x@evil.example"  # one line
    assert sent[0]["Bcc"] is None
    body = sent[0].get_content()
    assert "Il ciclo chiude a fine mese." in body and "Gentile Anna Assente," in body
    assert "/corsi/corso-prova" in body


def test_reminders_are_written_in_the_recipients_language(app, make_user, people, mailbox):
    admin = make_user("admin")
    with app.app_context():
        db.session.get(User, people["anna"]["id"]).locale = "en"
        db.session.commit()
    with app.test_request_context():
        actor = db.session.get(User, admin["id"])
        reminders.send_reminders(Scope.of(actor), current_cycle(), inactive_days=14, actor=actor)
    anna = mailbox.to(people["anna"]["email"])[0]
    elena = mailbox.to(people["elena"]["email"])[0]
    assert anna["Content-Language"] == "en" and "Dear Anna Assente," in anna.get_content()
    assert elena["Content-Language"] == "it" and "Gentile Elena" in elena.get_content()
