"""The audit trail: every recorded action with its actor, UTC time, address and object;
no forged entries; coordinators see their territory only; the database refuses changes."""

from __future__ import annotations

import html as html_lib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from lgnetforma.extensions import db
from lgnetforma.models import (
    AuditEvent,
    Certificate,
    Comune,
    CourseCompletion,
    Region,
    User,
    utcnow,
)
from lgnetforma.services.platform.audit import (
    MAX_OBJECT_ID,
    clean,
    clean_details,
    record,
    typed_email,
)
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.helpers import PASSWORD, csrf_token, login

COURSE = "/corsi/corso-prova"
ROMA, MILANO = "058091", "015146"
IP = "203.0.113.7"


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)
    return "corso-prova"


def _client(app, ip: str = IP):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _events(app, action: str | None = None) -> list[dict]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return [
            {
                "action": e.action,
                "actor_id": e.actor_id,
                "actor_role": e.actor_role,
                "ip": e.ip,
                "occurred_at": e.occurred_at,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "comune_id": e.comune_id,
                "region_id": e.region_id,
                "details": e.details,
            }
            for e in db.session.scalars(query)
        ]


def _one(app, action: str) -> dict:
    events = _events(app, action)
    assert len(events) == 1, (action, events, [e["action"] for e in _events(app)])
    return events[0]


def _recent(moment: datetime) -> bool:
    return (
        moment.tzinfo is not None
        and moment.utcoffset() == timedelta(0)
        and (utcnow() - timedelta(minutes=5) < moment <= utcnow())
    )


def _comune_id(app, istat: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Comune.id).filter_by(istat_code=istat))


def _assert_event(event: dict, *, actor: dict | None, object_type=None, object_id=None, ip=IP):
    assert _recent(event["occurred_at"]), event
    assert event["ip"] == ip, event
    assert event["actor_id"] == (actor["id"] if actor else None), event
    if actor:
        assert event["actor_role"] == actor["role"], event
    if object_type:
        assert event["object_type"] == object_type, event
    if object_id is not None:
        assert event["object_id"] == str(object_id), event


def _complete_course(client) -> str:
    """Enrol, read, pass the quiz; returns the attempt's public id."""
    client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    client.get(f"{COURSE}/lettura")
    client.get(f"{COURSE}/questionario")
    html = client.get(f"{COURSE}/questionario/questionario").get_data(as_text=True)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    response = client.post(
        f"/tentativi/{public_id}", data={**CORRECT, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303
    return public_id


# --- what is recorded ------------------------------------------------------------------


def test_login_failed_login_and_logout(app, make_user):
    user = make_user("operator", comune=ROMA)
    client = _client(app)
    token = csrf_token(client)
    client.post(
        "/accesso",
        data={"email": " Operator1@Example.IT ", "password": "sbagliata!!", "csrf_token": token},
    )
    client.post(
        "/accesso",
        data={"email": "nessuno@example.it", "password": "sbagliata!!", "csrf_token": token},
    )
    login(client, user)
    client.post("/esci", data={"csrf_token": csrf_token(client)})

    failed = _events(app, "login.failed")
    assert len(failed) == 2
    for event in failed:
        _assert_event(event, actor=None)
        assert "sbagliata" not in str(event)  # never the password
    known, unknown = failed
    assert known["details"] == {"email": "operator1@example.it"}  # normalised
    assert (known["object_type"], known["object_id"]) == ("user", str(user["id"]))
    assert known["comune_id"] == _comune_id(app, ROMA)
    assert unknown["details"] == {"email": "nessuno@example.it"}
    assert unknown["object_id"] is None
    _assert_event(_one(app, "login"), actor=user, object_type="user", object_id=user["id"])
    _assert_event(_one(app, "logout"), actor=user, object_type="user", object_id=user["id"])


def test_a_typed_email_is_normalised_and_truncated(app):
    client = _client(app)
    long_email = "A" * 60 + "@" + ".".join(["b" * 60] * 3) + ".it"  # 246 characters, valid
    client.post(
        "/accesso",
        data={"email": long_email, "password": "sbagliata!!", "csrf_token": csrf_token(client)},
    )
    typed = _one(app, "login.failed")["details"]["email"]
    assert typed == long_email.lower()[:100]
    assert typed_email(" Mario.Rossi@Example.IT\r\n") == "mario.rossi@example.it"


def test_admin_role_scope_change_and_deactivation(app, make_user):
    admin = make_user("admin")
    coordinator = make_user("coordinator", region="12")
    operator = make_user("operator", comune=ROMA)
    client = _client(app)
    login(client, admin)
    path = f"/admin/utenti/{coordinator['id']}"
    client.post(
        path,
        data={
            "full_name": "Coordinatrice",
            "role": "coordinator",
            "active": "y",
            "scope_region": "03",
            "scope_comune": "",
            "csrf_token": csrf_token(client, path),
        },
    )
    path = f"/admin/utenti/{operator['id']}"
    client.post(
        path,
        data={
            "full_name": "Operator 3",
            "role": "operator",
            "scope_region": "",
            "scope_comune": "",
            "csrf_token": csrf_token(client, path),
        },
    )
    updated = _one(app, "user.updated")
    _assert_event(updated, actor=admin, object_type="user", object_id=coordinator["id"])
    assert updated["details"]["scope_region"] == ["12", "03"]
    assert updated["details"]["full_name"] == ["Coordinator 2", "Coordinatrice"]
    deactivated = _one(app, "user.deactivated")
    _assert_event(deactivated, actor=admin, object_type="user", object_id=operator["id"])
    assert deactivated["comune_id"] == _comune_id(app, ROMA)

    new_path = "/admin/utenti/nuovo"
    client.post(
        new_path,
        data={
            "full_name": "Nuova Formatrice",
            "email": "formatrice@example.it",
            "role": "trainer",
            "scope_region": "",
            "scope_comune": "",
            "csrf_token": csrf_token(client, new_path),
        },
    )
    created = _one(app, "user.created")
    _assert_event(created, actor=admin, object_type="user")
    assert created["details"]["role"] == "trainer"


def test_learning_enrolment_attempt_completion_and_certificate(app, make_user, course):
    operator = make_user("operator", comune=ROMA)
    client = _client(app)
    login(client, operator)
    public_id = _complete_course(client)
    roma = _comune_id(app, ROMA)

    enrolment = _one(app, "enrolment.created")
    _assert_event(enrolment, actor=operator, object_type="enrolment")
    assert enrolment["comune_id"] == roma and enrolment["details"]["course"] == course
    attempt = _one(app, "attempt.submitted")
    _assert_event(attempt, actor=operator, object_type="quiz_attempt", object_id=public_id)
    assert attempt["details"]["passed"] is True
    with app.app_context():
        completion_id = db.session.scalar(select(CourseCompletion.id))
        code = db.session.scalar(select(Certificate.code))
    done = _one(app, "course.completed")
    _assert_event(done, actor=operator, object_type="course_completion", object_id=completion_id)
    assert done["comune_id"] == roma
    _assert_event(_one(app, "certificate.issued"), actor=operator, object_id=code)

    response = client.get(f"/attestati/{completion_id}.pdf")
    assert response.status_code == 200
    downloaded = _one(app, "certificate.downloaded")
    _assert_event(downloaded, actor=operator, object_type="certificate", object_id=code)
    assert downloaded["comune_id"] == roma
    assert len(_events(app, "certificate.issued")) == 1  # not again on download


def test_coordination_enrolment_exports_bulk_and_reminders(app, make_user, course, mailbox):
    operator = make_user("operator", comune=ROMA)
    coordinator = make_user("coordinator", region="12")
    client = _client(app)
    login(client, coordinator)
    with app.app_context():
        lazio = db.session.scalar(select(Region.id).filter_by(code="12"))

    client.post(
        "/coordinamento/iscrizioni",
        data={
            "email": operator["email"],
            "course": course,
            "csrf_token": csrf_token(client, "/coordinamento/"),
        },
    )
    enrolment = _one(app, "enrolment.created")
    _assert_event(enrolment, actor=coordinator, object_type="enrolment")
    assert enrolment["details"]["operator"] == operator["id"]

    assert client.get("/coordinamento/esporta/operatori.csv").status_code == 200
    assert client.get("/coordinamento/attestati.zip").status_code == 200
    exports = _events(app, "export")
    assert [e["details"]["table"] for e in exports] == ["operatori", "attestati"]
    for event in exports:
        _assert_event(event, actor=coordinator)
        assert event["region_id"] == lazio

    upload = "/coordinamento/iscrizioni-massive"
    page = client.post(
        upload,
        data={
            "csrf_token": csrf_token(client, upload),
            "file": (
                io.BytesIO(
                    f"nome;email;comune;corsi\nLuca Neri;luca@example.it;{ROMA};{course}\n".encode()
                ),
                "iscrizioni.csv",
            ),
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    hidden = dict(re.findall(r'<input[^>]*name="(csv_text|filename)"[^>]*value="([^"]*)"', page))
    client.post(
        f"{upload}/conferma",
        data={
            "csrf_token": csrf_token(client, upload),
            "csv_text": html_lib.unescape(hidden["csv_text"]),
            "filename": hidden["filename"],
        },
    )
    bulk = _one(app, "bulk_enrolment.confirmed")
    _assert_event(bulk, actor=coordinator, object_type="bulk_upload")
    assert bulk["details"]["enrolments_created"] == 1 and bulk["region_id"] == lazio

    client.post(
        "/coordinamento/promemoria",
        data={
            "csrf_token": csrf_token(client, "/coordinamento/promemoria"),
            "course": "",
            "inactive_days": 0,
        },
    )
    reminders = _one(app, "reminders.sent")
    _assert_event(reminders, actor=coordinator)
    assert reminders["region_id"] == lazio and "sent" in reminders["details"]


def test_personal_data_export_and_account_deletion(app, make_user):
    operator = make_user("operator", comune=ROMA)
    client = _client(app)
    login(client, operator)
    assert client.get("/profilo/dati.json").status_code == 200
    _assert_event(
        _one(app, "personal_data.exported"),
        actor=operator,
        object_type="user",
        object_id=operator["id"],
    )
    client.post(
        "/profilo/elimina",
        data={
            "delete-password": PASSWORD,
            "delete-confirm": "y",
            "csrf_token": csrf_token(client, "/profilo"),
        },
    )
    deleted = _one(app, "account.deleted")
    _assert_event(deleted, actor=operator, object_type="user", object_id=operator["id"])
    assert deleted["comune_id"] == _comune_id(app, ROMA)


def test_cycle_closing_on_the_web_and_backup_on_the_command_line(app, make_user, tmp_path):
    admin = make_user("admin")
    client = _client(app)
    login(client, admin)
    client.post(
        "/admin/cicli/2025-2026/chiudi",
        data={"chiudi-2025-2026-confirm": "y", "csrf_token": csrf_token(client, "/admin/cicli")},
    )
    _assert_event(
        _one(app, "cycle.closed"), actor=admin, object_type="cycle", object_id="2025-2026"
    )

    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "copia.zip")])
    assert result.exit_code == 0, result.output
    _assert_event(_one(app, "backup.created"), actor=None, ip=None)


# --- no forged entries -----------------------------------------------------------------

HOSTILE = "Mario\r\n2026-01-01 00:00:00 | login | admin@example.it\u2028<b>x</b>\x00\x1b[31m\u202e"


def test_clean_removes_every_control_character_and_caps_lengths():
    cleaned = clean(HOSTILE, 500)
    assert not any(ch in cleaned for ch in "\r\n\x00\x1b\u2028\u202e")
    assert cleaned.startswith("Mario  2026-01-01")
    assert len(clean("x" * 1000, 64)) == 64
    nested = clean_details({"a\nb": ["x\ry"] * 80, "n": 1, "t": True, "none": None})
    assert nested == {"a b": ["x y"] * 50, "n": 1, "t": True, "none": None}
    with_id = clean("1" * 100, MAX_OBJECT_ID)
    assert with_id == "1" * 64


def test_control_characters_in_names_and_emails_cannot_forge_entries(app, make_user):
    admin = make_user("admin")
    victim = make_user("operator", comune=ROMA)
    with app.app_context():
        user = db.session.get(User, victim["id"])
        user.full_name = HOSTILE.replace("\x00", "")  # PostgreSQL stores no NUL at all
        db.session.commit()
    client = _client(app)
    # A typed email full of control characters, at a failed login (the form refuses it
    # as an email, so it is recorded through the service as a view would).
    with app.test_request_context():
        actor = db.session.get(User, victim["id"])
        record(
            "login.failed",
            actor=None,
            ip="10.0.0.1\r\n10.0.0.2",
            object_type="user\nadmin",
            object_id="1\n2",
            details={"email": "x@y.it\r\nlogin | admin", HOSTILE: HOSTILE},
        )
        record("login", actor=actor, ip=IP, details={"name": actor.full_name})
        db.session.commit()
    for event in _events(app):
        for value in (event["ip"], event["object_type"], event["object_id"], str(event["details"])):
            assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029\u202e]", value or ""), event
    login(client, admin)
    page = client.get("/admin/registro?action=login.failed").get_data(as_text=True)
    assert page.count('class="audit-event"') == 1
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    page = client.get("/admin/registro?action=login").get_data(as_text=True)
    # The admin's own login and the forged one: two rows, the name escaped.
    assert page.count('class="audit-event"') == 2
    assert "<b>x</b>" not in page


# --- who sees what ---------------------------------------------------------------------


def _seed_territories(app) -> dict[str, int]:
    with app.app_context():
        ids = {
            "roma": db.session.scalar(select(Comune.id).filter_by(istat_code=ROMA)),
            "milano": db.session.scalar(select(Comune.id).filter_by(istat_code=MILANO)),
            "latina": db.session.scalar(select(Comune.id).filter_by(istat_code="059011")),
            "lazio": db.session.scalar(select(Region.id).filter_by(code="12")),
            "lombardia": db.session.scalar(select(Region.id).filter_by(code="03")),
        }
        record("login", actor=None, ip=IP, object_id="roma", comune_id=ids["roma"])
        record("login", actor=None, ip=IP, object_id="latina", comune_id=ids["latina"])
        record("login", actor=None, ip=IP, object_id="milano", comune_id=ids["milano"])
        record("export", actor=None, ip=IP, object_id="lazio", region_id=ids["lazio"])
        record("export", actor=None, ip=IP, object_id="lombardia", region_id=ids["lombardia"])
        record("user.created", actor=None, ip=IP, object_id="nessuno")
        db.session.commit()
        return ids


def _visible(app, user: dict) -> set[str]:
    from lgnetforma.services.coordination.scope import Scope
    from lgnetforma.services.platform.audit import AuditSearch, search_query

    with app.app_context():
        actor = db.session.get(User, user["id"])
        rows = db.session.execute(search_query(AuditSearch(), Scope.of(actor))).all()
        return {event.object_id for event, _ in rows if event.object_id}


def test_coordinators_see_only_their_scope(app, make_user):
    _seed_territories(app)
    lazio = make_user("coordinator", region="12")
    lombardia = make_user("coordinator", region="03")
    roma = make_user("coordinator", scope_comune=ROMA)
    national = make_user("coordinator")
    assert _visible(app, lazio) == {"roma", "latina", "lazio"}
    assert _visible(app, lombardia) == {"milano", "lombardia"}
    assert _visible(app, roma) == {"roma"}
    assert _visible(app, national) == {"roma", "latina", "milano", "lazio", "lombardia"}

    client = _client(app)
    login(client, roma)
    page = client.get("/coordinamento/registro").get_data(as_text=True)
    assert page.count('class="audit-event"') == 1 and "Roma" in page
    assert "Milano" not in page and "Latina" not in page
    assert IP not in page  # coordinators see no addresses...
    assert 'name="actor"' not in page  # ...and cannot search by the actors' emails
    client = _client(app)
    login(client, lazio)
    page = client.get("/coordinamento/registro").get_data(as_text=True)
    assert page.count('class="audit-event"') == 3


def test_admin_page_searches_and_paginates_newest_first(app, make_user):
    admin = make_user("admin")
    other = make_user("trainer", email="formatore.cercato@example.it")
    with app.app_context():
        actor = db.session.get(User, other["id"])
        old = record("export", actor=actor, ip=IP, object_type="table", object_id="vecchio")
        old.occurred_at = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
        for n in range(60):
            record("attempt.submitted", actor=None, ip=IP, object_type="quiz_attempt", object_id=n)
        db.session.commit()
    client = _client(app)
    login(client, admin)

    def rows(query: str) -> int:
        response = client.get(f"/admin/registro?{query}")
        assert response.status_code == 200, query
        return response.get_data(as_text=True).count('class="audit-event"')

    assert rows("action=export") == 1
    assert rows("actor=cercato") == 1
    assert rows("actor=CERCATO%40example") == 1
    assert rows("since=2026-01-10&until=2026-01-10") == 1
    assert rows("since=2026-01-11&until=2026-01-11") == 0
    assert rows("object_type=quiz_attempt&object_id=7") == 1
    assert rows("action=attempt.submitted") == 50  # one page
    assert rows("action=attempt.submitted&page=2") == 10
    first = client.get("/admin/registro?action=attempt.submitted").get_data(as_text=True)
    assert first.index("quiz_attempt 59") < first.index("quiz_attempt 58")
    response = client.get("/admin/registro?since=ieri")
    assert response.status_code == 400
    assert "Il modulo contiene errori" in response.get_data(as_text=True)


# --- append-only -----------------------------------------------------------------------


def test_the_trail_cannot_be_changed_or_deleted(app):
    with app.app_context():
        record("login", actor=None, ip=IP)
        db.session.commit()
        for statement in (
            "UPDATE audit_event SET action = 'logout'",
            "DELETE FROM audit_event",
        ):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        event = db.session.scalar(select(AuditEvent))
        event.ip = "10.9.9.9"
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(func.count(AuditEvent.id))) == 1
        assert db.session.scalar(select(AuditEvent.ip)) == IP
