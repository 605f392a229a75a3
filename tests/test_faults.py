"""Faults: the database unreachable or failing mid-request (an Italian 503, nothing half
written), the mail server down (the work is saved, the mail waits in the outbox for
`lgnetforma worker --once`), an unexpected error (an Italian 500, never a stack trace)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from lgnetforma.extensions import db
from lgnetforma.models import AuditEvent, Enrolment, OutboundMail, Reminder, User, utcnow
from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nessuno"
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlalchemy", 'File "')


def _no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, leak


def test_an_unreachable_database_gives_an_italian_503(tmp_path):
    from lgnetforma import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": UNREACHABLE,
            "SECRET_KEY": "tests-only-secret-key",
            "RATELIMIT_ENABLED": False,
            "PAGES_DIR": str(tmp_path),
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    client = app.test_client()
    token = csrf_token(client, "/accesso")  # a page that needs no database
    login = {"email": "a@example.it", "password": "una password", "csrf_token": token}
    for path, method, data in (
        ("/", "GET", None),
        ("/corsi", "GET", None),
        ("/verifica/LGN-AAAA-BBBB-CCCC", "GET", None),
        ("/accesso", "POST", login),
    ):
        response = client.open(path, method=method, data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 503, path
        assert "Servizio momentaneamente non disponibile" in html, path
        assert "nessun dato è andato perso" in html and '<html lang="it">' in html
        _no_leak(html)
    response = client.get("/api/v1/courses", headers={"Authorization": "Bearer lgf_" + "x" * 43})
    assert response.status_code == 503 and response.is_json
    assert response.json["error"]["status"] == 503
    _no_leak(response.get_data(as_text=True))
    assert client.get("/healthz").status_code == 200  # the app itself still answers
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_database_failure_mid_request_writes_nothing(app, client, login_as, course):
    login_as("operator")
    token = csrf_token(client, "/corsi/corso-prova")
    audit_before = _count(app, AuditEvent)

    def connection_lost(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        # The enrolment is already written in the transaction; then the server goes away.
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            raise OperationalError(statement, parameters, Exception("server closed the connection"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", connection_lost)
    try:
        response = client.post("/corsi/corso-prova/iscrizione", data={"csrf_token": token})
    finally:
        event.remove(engine, "before_cursor_execute", connection_lost)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Servizio momentaneamente non disponibile" in html
    _no_leak(html)
    assert _count(app, Enrolment) == 0  # rolled back with the rest
    assert _count(app, AuditEvent) == audit_before
    # Once the database is back the same request works.
    response = client.post("/corsi/corso-prova/iscrizione", data={"csrf_token": token})
    assert response.status_code == 302 and _count(app, Enrolment) == 1


def test_smtp_down_the_reminder_is_saved_and_the_mail_retried(
    app, client, make_user, login_as, course, mailbox, smtp_server
):
    from lgnetforma.services.catalogue.listing import course_by_slug
    from lgnetforma.services.learning.enrolment import enrol
    from lgnetforma.services.platform.cycles import current_cycle

    operator = make_user("operator", comune="058091")
    with app.app_context():
        enrolment = enrol(
            db.session.get(User, operator["id"]), course_by_slug("corso-prova"), current_cycle()
        )
        enrolment.created_at = utcnow() - timedelta(days=30)
        db.session.commit()
    login_as("coordinator", region="12")
    app.config["SMTP_PORT"] = 1  # nothing listens there
    app.config["MAIL_RETRY_BASE_SECONDS"] = 0
    response = client.post(
        "/coordinamento/promemoria",
        data={
            "csrf_token": csrf_token(client, "/coordinamento/promemoria"),
            "course": "",
            "inactive_days": 14,
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 promemoria in coda" in html
    assert _count(app, Reminder) == 1
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "Consegnati: 0, da riprovare: 1, non consegnabili: 0" in result.output
    with app.app_context():
        mail = db.session.scalar(select(OutboundMail))
        assert mail.status == "queued" and mail.attempts == 1 and mail.last_error
    assert mailbox.received == []

    app.config["SMTP_PORT"] = smtp_server[1]
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "Consegnati: 1, da riprovare: 0, non consegnabili: 0" in result.output
    assert mailbox.received and mailbox.to(operator["email"])


def test_an_unexpected_error_shows_no_stack_trace(app_config):
    from lgnetforma import create_app

    app = create_app({**app_config, "SHOW_ERROR_PAGES_IN_TESTS": True})

    def explode() -> str:
        raise RuntimeError("dettaglio interno segreto")

    app.add_url_rule("/esplodi", "explode", explode)
    app.add_url_rule("/api/v1/esplodi", "api_explode", explode)
    client = app.test_client()
    response = client.get("/esplodi")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Errore del servizio" in html and "Riprova più tardi" in html
    _no_leak(html)
    assert "RuntimeError" not in html and "dettaglio interno segreto" not in html
    response = client.get("/api/v1/esplodi")
    assert response.status_code == 500 and response.is_json
    assert "segreto" not in response.get_data(as_text=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
